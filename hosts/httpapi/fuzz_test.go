package httpapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/sendoka"
	"github.com/sendoka/sendoka/storage/bunstore/bunstoretest"
)

// fuzzBody posts arbitrary bytes as a JSON body and checks the answer is never a 500 and
// always either a send response or the error envelope.
func fuzzBody(f *testing.F, path string, seeds ...string) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	// Postgres when it is configured: it refuses more (NUL characters, for one) than SQLite.
	ds := bunstoretest.Dialects(f)
	b := setup(f, bunstoretest.Open(f, ds[len(ds)-1]), setupConfig{opts: Options{MaxBodyBytes: 1 << 20}})
	f.Fuzz(func(t *testing.T, body []byte) {
		r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(string(body)))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Authorization", "Bearer "+b.test)
		rec := httptest.NewRecorder()
		b.handler.ServeHTTP(rec, r)

		if rec.Code >= 500 {
			t.Fatalf("status %d for %q: %s", rec.Code, body, rec.Body.Bytes())
		}
		id := rec.Header().Get("X-Request-Id")
		if !requestIDPattern.MatchString(id) {
			t.Fatalf("X-Request-Id %q", id)
		}
		if rec.Code == http.StatusOK {
			var sent SendResponse
			if err := json.Unmarshal(rec.Body.Bytes(), &sent); err != nil || !strings.HasPrefix(sent.ID, "msg_") {
				t.Fatalf("200 without a message id: %s", rec.Body.Bytes())
			}
			return
		}
		requireEnvelope(t, rec.Body.Bytes())
		var env ErrorResponse
		if err := json.Unmarshal(rec.Body.Bytes(), &env); err != nil {
			t.Fatal(err)
		}
		if env.Error.RequestID != id {
			t.Fatalf("request_id %q != X-Request-Id %q", env.Error.RequestID, id)
		}
		if want, _ := ErrorStatus(sendoka.Code(env.Error.Code)); want != rec.Code {
			t.Fatalf("code %s with status %d", env.Error.Code, rec.Code)
		}
	})
}

func FuzzEmailBody(f *testing.F) {
	fuzzBody(f, "/api/v1/emails",
		`{"from":"you@sandbox.sendoka.com","to":["user@example.com"],"subject":"Hello","html":"<p>x</p>"}`,
		`{"from":"A <you@sandbox.sendoka.com>","to":["a@example.com"],"cc":["b@example.com"],"subject":"s","text":"t","tags":["x"],"metadata":{"n":1,"b":true}}`,
		`{"to":[1],"metadata":{"x":{"y":[]}},"bogus":null}`,
		`{"from":"","to":[],"subject":"\r\n"}`,
		`[`, `null`, `"x"`, ``)
}

func FuzzSMSBody(f *testing.F) {
	fuzzBody(f, "/api/v1/sms",
		`{"from":"+15551234567","to":"+15559876543","body":"Your code is 1234"}`,
		`{"from":"Acme","to":"+447700900123","body":"héllo","tags":["otp"],"metadata":{"k":"v"}}`,
		`{"to":"+1","body":""}`,
		`{"to":["+15559876543"],"body":1}`,
		`{`, `{}`, `0`)
}

// FuzzParseIdempotencyKey: a key the header parser accepts is 1 to 255 printable ASCII
// characters; a key sent bare, or as an RFC 8941 string (quoted, with \" and \\ escaped),
// comes out as it went in.
func FuzzParseIdempotencyKey(f *testing.F) {
	for _, s := range []string{"welcome:user_12345:signup", `"quoted \"key\""`, `"unterminated`, `"bad \x"`, "",
		" padded\t", "\x00", "caf\u00e9", "a\r\nX-Injected: 1", strings.Repeat("k", 256), `""`, `"\\"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		key, err := parseIdempotencyKey([]string{header})
		if err == nil {
			require.NoError(t, sendoka.ValidateIdempotencyKey(key))
		} else {
			require.Equal(t, sendoka.CodeValidation, sendoka.ErrorCode(err))
		}
		if sendoka.ValidateIdempotencyKey(header) != nil {
			return
		}
		if !strings.HasPrefix(header, `"`) && strings.Trim(header, " \t") == header {
			got, err := parseIdempotencyKey([]string{header})
			require.NoError(t, err)
			require.Equal(t, header, got)
		}
		quoted := `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(header) + `"`
		got, err := parseIdempotencyKey([]string{quoted})
		require.NoError(t, err, quoted)
		require.Equal(t, header, got)
		_, err = parseIdempotencyKey([]string{header, header})
		require.Error(t, err, "two headers")
	})
}

// FuzzBearerToken: a token taken from an Authorization header is what follows "Bearer "
// (any case), trimmed, and never empty.
func FuzzBearerToken(f *testing.F) {
	for _, s := range []string{"Bearer sok_live_abc", "bearer  x ", "Basic dXNlcjpwdw==", "Bearer", "Bearer ", "Bearer\tx",
		"Token x", " Bearer a b ", "Bearer\x00x", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		token, ok := bearerToken(header)
		if !ok {
			require.Empty(t, token)
			return
		}
		if strings.TrimSpace(header) == "" {
			require.Empty(t, token)
			return
		}
		require.NotEmpty(t, token)
		require.Equal(t, strings.TrimSpace(token), token)
		scheme, rest, _ := strings.Cut(strings.TrimSpace(header), " ")
		require.True(t, strings.EqualFold(scheme, "Bearer"))
		require.Equal(t, strings.TrimSpace(rest), token)
	})
}

// FuzzParseIP: an entry of X-Forwarded-For (or a peer address) that parses is a valid
// address in its plain form (IPv4 unmapped), with or without a port.
func FuzzParseIP(f *testing.F) {
	for _, s := range []string{"203.0.113.9", " 203.0.113.9:443 ", "[2001:db8::1]:8080", "::ffff:10.0.0.1", "[::1]", "fe80::1%eth0",
		"unknown", "10.0.0.1, 10.0.0.2", "1.2.3.4:99999", "0x7f.1", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ip, ok := parseIP(s)
		if !ok {
			require.False(t, ip.IsValid())
			return
		}
		require.True(t, ip.IsValid())
		require.False(t, ip.Is4In6(), "%s from %q", ip, s)
		again, ok := parseIP(ip.String())
		require.True(t, ok)
		require.Equal(t, ip, again)
	})
}
