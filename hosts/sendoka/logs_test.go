package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestJSONLogs: with SENDOKA_LOG_FORMAT=json every line on stderr is JSON; each request is one
// INFO line with its method, route pattern, status, latency, request id, org and key prefix;
// the provider hand-off is one INFO line with the message id; and no line holds the
// recipient's address, the key, or SQL (which needs -log-sql).
func TestJSONLogs(t *testing.T) {
	t.Parallel()
	key := testKey("lg")
	srv := startServe(t, "-data-dir", t.TempDir(), "-bootstrap-keys", key, "-log-format", "json", "-log-level", "info",
		"-allow-insecure-webhooks")
	hooked := make(chan struct{}, 16)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hooked <- struct{}{}
		w.WriteHeader(http.StatusOK)
	}))
	defer receiver.Close()
	code, hook := srv.do(t, http.MethodPost, "/api/v1/webhooks", key, map[string]any{"url": receiver.URL, "events": []string{"message.delivered"}})
	require.Equal(t, http.StatusOK, code, hook)
	const to = "very.private.person@example.com"
	code, sent := srv.do(t, http.MethodPost, "/api/v1/emails", key, map[string]any{
		"from": "you@sandbox.sendoka.com", "to": []string{to}, "subject": "Hi", "text": "Hello",
	})
	require.Equal(t, http.StatusOK, code, sent)
	id := sent["id"].(string)
	waitStatus(t, srv, key, id, "delivered")
	select {
	case <-hooked:
	case <-time.After(20 * time.Second):
		t.Fatal("no webhook delivery")
	}
	pollUntil(t, 10*time.Second, func() bool { return strings.Contains(srv.stderr.String(), `"msg":"webhook attempt"`) }, "no webhook attempt line")
	code, _ = srv.do(t, http.MethodGet, "/api/v1/emails/msg_nope", key, nil)
	require.Equal(t, http.StatusNotFound, code)
	require.NoError(t, srv.stop())

	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(srv.stderr.String()), "\n") {
		var rec map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &rec), "every line is JSON: %q", l)
		lines = append(lines, rec)
		require.NotContains(t, l, to, "no recipient address in the log")
		require.NotContains(t, l, key, "no key in the log")
		require.NotContains(t, l, "INSERT INTO", "no SQL without -log-sql")
	}
	find := func(match func(map[string]any) bool) map[string]any {
		for _, rec := range lines {
			if match(rec) {
				return rec
			}
		}
		return nil
	}
	post := find(func(r map[string]any) bool { return r["msg"] == "request" && r["route"] == "POST /api/v1/emails" })
	require.NotNil(t, post, "the send's request line:\n%s", srv.stderr.String())
	require.Equal(t, "INFO", post["level"])
	require.Equal(t, "POST", post["method"])
	require.EqualValues(t, 200, post["status"])
	require.Contains(t, post, "latency_ms")
	require.True(t, strings.HasPrefix(post["request_id"].(string), "req_"), post)
	require.True(t, strings.HasPrefix(post["org_id"].(string), "org_"), post)
	require.Equal(t, key[:len("sok_test_")+4], post["key_prefix"])
	require.NotContains(t, post, "path", "the path can hold an address: the route pattern stands for it")

	miss := find(func(r map[string]any) bool {
		return r["msg"] == "request" && r["route"] == "GET /api/v1/emails/{id}" && r["status"] == 404.0
	})
	require.NotNil(t, miss, "a 404 is logged too, by its route pattern")

	attempt := find(func(r map[string]any) bool { return r["msg"] == "webhook attempt" })
	require.NotNil(t, attempt)
	require.Equal(t, "INFO", attempt["level"])
	require.True(t, strings.HasPrefix(attempt["delivery_id"].(string), "whd_"), attempt)
	require.Equal(t, "success", attempt["outcome"])
	require.EqualValues(t, 200, attempt["status_code"])

	handoff := find(func(r map[string]any) bool { return r["msg"] == "handed off" && r["message_id"] == id })
	require.NotNil(t, handoff, "the provider hand-off is logged with the message id")
	require.Equal(t, "INFO", handoff["level"])
	require.Equal(t, "sandbox", handoff["provider"])
}

// TestLogSQL: statements are logged only when asked for.
func TestLogSQL(t *testing.T) {
	t.Parallel()
	srv := startServe(t, "-data-dir", t.TempDir(), "-log-format", "json", "-log-level", "debug", "-log-sql")
	require.NoError(t, srv.stop())
	require.Contains(t, srv.stderr.String(), `"msg":"query"`, "-log-sql logs statements at debug")
}
