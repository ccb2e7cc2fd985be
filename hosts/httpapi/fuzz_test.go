package httpapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

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
