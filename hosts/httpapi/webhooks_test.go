package httpapi

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/sendoka"
	"github.com/sendoka/sendoka/storage/bunstore"
	"github.com/sendoka/sendoka/storage/bunstore/bunstoretest"
)

// captured is one request a test receiver got.
type captured struct {
	body   []byte
	header http.Header
}

// receiver is an HTTP server that records every request and answers 200.
func receiver(t *testing.T) (*httptest.Server, chan captured) {
	t.Helper()
	got := make(chan captured, 100)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- captured{body: body, header: r.Header.Clone()}
		_, _ = w.Write([]byte("thanks"))
	}))
	t.Cleanup(srv.Close)
	return srv, got
}

// next returns the next request of type event the receiver got, with a deadline.
func next(t *testing.T, got chan captured, event string) captured {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case c := <-got:
			if c.header.Get(sendoka.HeaderWebhookEvent) == event {
				return c
			}
		case <-deadline:
			t.Fatalf("no %s delivery within 30s", event)
		}
	}
}

// nodeVerify runs the verifier of mode (docs, every, std) under Node over a delivery, and
// reports whether it accepted it.
func nodeVerify(t *testing.T, dir, mode string, c captured, secret string) (bool, string) {
	t.Helper()
	headers := map[string]string{}
	for _, h := range []string{sendoka.HeaderWebhookSignature, sendoka.HeaderStandardID, sendoka.HeaderStandardTimestamp, sendoka.HeaderStandardSignature} {
		headers[strings.ToLower(h)] = c.header.Get(h)
	}
	in, err := json.Marshal(map[string]any{"mode": mode, "body": string(c.body), "headers": headers, "secret": secret})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, needNode(t, "node"), filepath.Join(dir, "verify.js"))
	cmd.Stdin = strings.NewReader(string(in))
	out, err := cmd.CombinedOutput()
	return err == nil && strings.TrimSpace(string(out)) == "ok", string(out)
}

// TestWebhookVerifiers: real deliveries of the server, received over HTTP, pass verifiers
// we did not write: the docs' Node snippet verbatim, the README's every-v1= version, and
// the standardwebhooks package; and our own VerifyWebhook. A wrong secret fails each. After
// a rotation, the docs' snippet accepts with the old secret (its signature comes first),
// the others with either.
func TestWebhookVerifiers(t *testing.T) {
	t.Parallel()
	dir := filepath.Join("testdata", "webhook-verify")
	npmInstall(t, dir, "tsc")
	b := setup(t, sqlite(t), setupConfig{workers: true, webhooks: sendoka.WebhookConfig{AllowInsecure: true}})
	srv, got := receiver(t)

	var ep WebhookEndpoint
	b.do(t, req{method: http.MethodPost, path: "/api/v1/webhooks", key: b.live, body: map[string]any{
		"url": srv.URL + "/hooks", "events": []string{"message.sent"}, "description": "verifiers",
	}}).decode(t, http.StatusOK, &ep)
	require.True(t, strings.HasPrefix(ep.Secret, "whsec_"), ep.Secret)
	var shown WebhookEndpoint
	b.do(t, req{method: http.MethodGet, path: "/api/v1/webhooks/" + ep.ID, key: b.live}).decode(t, http.StatusOK, &shown)
	require.Empty(t, shown.Secret, "the secret is shown once")

	body := quickstart()
	body["tags"] = []string{"welcome"}
	body["metadata"] = map[string]any{"user_id": "u_42"}
	id := b.send(t, "/api/v1/emails", b.live, body)
	c := next(t, got, "message.sent")

	var env struct {
		Event string         `json:"event"`
		Data  map[string]any `json:"data"`
		Time  string         `json:"timestamp"`
	}
	require.NoError(t, json.Unmarshal(c.body, &env))
	require.Equal(t, "message.sent", env.Event)
	require.Equal(t, id, env.Data["message_id"])
	require.Equal(t, "email", env.Data["channel"])
	require.Equal(t, "sent", env.Data["status"])
	require.Equal(t, []any{"user@example.com"}, env.Data["to"])
	require.Equal(t, []any{"welcome"}, env.Data["tags"])
	require.Equal(t, map[string]any{"user_id": "u_42"}, env.Data["metadata"])
	_, err := time.Parse("2006-01-02T15:04:05.000Z", env.Time)
	require.NoError(t, err, env.Time)
	require.True(t, strings.HasPrefix(c.header.Get(sendoka.HeaderWebhookDeliveryID), "whd_"))
	require.Equal(t, c.header.Get(sendoka.HeaderWebhookDeliveryID), c.header.Get(sendoka.HeaderStandardID))

	for _, mode := range []string{"docs", "every", "std"} {
		ok, out := nodeVerify(t, dir, mode, c, ep.Secret)
		require.True(t, ok, "%s verifier: %s", mode, out)
		ok, _ = nodeVerify(t, dir, mode, c, "whsec_"+strings.Repeat("A", 43)+"=")
		require.False(t, ok, "%s verifier accepts a wrong secret", mode)
	}
	require.NoError(t, sendoka.VerifyWebhook(c.body, c.header.Get(sendoka.HeaderWebhookSignature), ep.Secret, 0))

	// Rotation: both secrets sign for a day, the old one first.
	var rotated WebhookEndpoint
	b.do(t, req{method: http.MethodPost, path: "/api/v1/webhooks/" + ep.ID + "/rotate-secret", key: b.live}).decode(t, http.StatusOK, &rotated)
	require.NotEqual(t, ep.Secret, rotated.Secret)
	require.NotNil(t, rotated.PreviousSecretExpiresAt)
	var test WebhookDelivery
	b.do(t, req{method: http.MethodPost, path: "/api/v1/webhooks/" + ep.ID + "/test", key: b.live}).decode(t, http.StatusOK, &test)
	c = next(t, got, "webhook.test")
	require.Equal(t, test.ID, c.header.Get(sendoka.HeaderWebhookDeliveryID))
	sig := c.header.Get(sendoka.HeaderWebhookSignature)
	require.Equal(t, 2, strings.Count(sig, "v1="), sig)
	require.Equal(t, 2, strings.Count(c.header.Get(sendoka.HeaderStandardSignature), "v1,"))

	ok, out := nodeVerify(t, dir, "docs", c, ep.Secret)
	require.True(t, ok, "the docs' snippet reads the first v1=, the old secret's: %s", out)
	for _, mode := range []string{"every", "std"} {
		for _, secret := range []string{ep.Secret, rotated.Secret} {
			ok, out := nodeVerify(t, dir, mode, c, secret)
			require.True(t, ok, "%s verifier during the overlap: %s", mode, out)
		}
	}
	require.NoError(t, sendoka.VerifyWebhook(c.body, sig, ep.Secret, 0))
	require.NoError(t, sendoka.VerifyWebhook(c.body, sig, rotated.Secret, 0))
	require.ErrorIs(t, sendoka.VerifyWebhook(c.body, sig, "whsec_other", 0), sendoka.ErrWebhookSignature)
	require.ErrorIs(t, sendoka.VerifyWebhook(append(c.body, ' '), sig, rotated.Secret, 0), sendoka.ErrWebhookSignature)

	// The delivery log shows both, succeeded, with the answer.
	require.Eventually(t, func() bool {
		var log WebhookDeliveryList
		b.do(t, req{method: http.MethodGet, path: "/api/v1/webhooks/" + ep.ID + "/deliveries", key: b.live}).decode(t, http.StatusOK, &log)
		return len(log.Data) == 2 && log.Data[0].Status == "succeeded" && log.Data[1].Status == "succeeded"
	}, 30*time.Second, 20*time.Millisecond)
	var log WebhookDeliveryList
	b.do(t, req{method: http.MethodGet, path: "/api/v1/webhooks/" + ep.ID + "/deliveries?limit=1", key: b.live}).decode(t, http.StatusOK, &log)
	require.Len(t, log.Data, 1)
	require.True(t, log.HasMore)
	require.Equal(t, "webhook.test", log.Data[0].Event)
	require.Equal(t, 1, log.Data[0].AttemptCount)
	require.Equal(t, 200, *log.Data[0].Attempts[0].StatusCode)
	require.Equal(t, "thanks", *log.Data[0].Attempts[0].Response)
}

// TestWebhookURLRules: https only; plain http and loopback only in insecure mode; hostile
// hosts refused with the documented VALIDATION_ERROR envelope.
func TestWebhookURLRules(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := setup(t, db, setupConfig{})
		create := func(url string) *response {
			return b.do(t, req{method: http.MethodPost, path: "/api/v1/webhooks", key: b.live, body: map[string]any{"url": url}})
		}
		for _, bad := range []string{
			"http://hooks.example.com/x", "ftp://hooks.example.com", "hooks.example.com", "https://", "https://user:pw@hooks.example.com",
			"https://127.0.0.1/x", "https://[::1]/x", "https://10.0.0.1/x", "https://169.254.169.254/latest", "https://100.64.0.1/",
			"https://[::ffff:127.0.0.1]/", "https://localhost/x", "https://2130706433/", "https://0x7f000001/", "https://[fd00::1]/",
		} {
			e := create(bad).requireError(t, http.StatusUnprocessableEntity, sendoka.CodeValidation)
			require.Equal(t, []any{"url"}, e.Errors[0].Path, bad)
		}
		var ep WebhookEndpoint
		create("https://hooks.example.com/x").decode(t, http.StatusOK, &ep)
		b.do(t, req{method: http.MethodPatch, path: "/api/v1/webhooks/" + ep.ID, key: b.live, body: map[string]any{"url": "http://hooks.example.com"}}).
			requireError(t, http.StatusUnprocessableEntity, sendoka.CodeValidation)
		b.do(t, req{method: http.MethodPost, path: "/api/v1/webhooks", key: b.live, body: map[string]any{
			"url": "https://hooks.example.com/y", "events": []string{"message.nope"},
		}}).requireError(t, http.StatusUnprocessableEntity, sendoka.CodeValidation)
		b.do(t, req{method: http.MethodPost, path: "/api/v1/webhooks/" + ep.ID + "/replay", key: b.live}).
			requireError(t, http.StatusUnprocessableEntity, sendoka.CodeValidation)

		insecure := setup(t, sqlite(t), setupConfig{webhooks: sendoka.WebhookConfig{AllowInsecure: true}})
		for _, ok := range []string{"http://127.0.0.1:9/x", "http://localhost:9/x", "http://[::1]:9/"} {
			insecure.do(t, req{method: http.MethodPost, path: "/api/v1/webhooks", key: insecure.live, body: map[string]any{"url": ok}}).
				decode(t, http.StatusOK, &ep)
		}
		insecure.do(t, req{method: http.MethodPost, path: "/api/v1/webhooks", key: insecure.live, body: map[string]any{"url": "http://hooks.example.com"}}).
			requireError(t, http.StatusUnprocessableEntity, sendoka.CodeValidation)
		insecure.do(t, req{method: http.MethodPost, path: "/api/v1/webhooks", key: insecure.live, body: map[string]any{"url": "http://10.1.2.3/"}}).
			requireError(t, http.StatusUnprocessableEntity, sendoka.CodeValidation)
	})
}
