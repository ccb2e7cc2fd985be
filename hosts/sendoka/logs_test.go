package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestJSONLogs: with SENDOKA_LOG_FORMAT=json every line on stderr is JSON; each request is one
// INFO line with its method, route pattern, status, latency, request id, org and key prefix;
// the provider hand-off is one INFO line with the message id; and no line holds the
// recipient's address, the key, or SQL (which needs -log-sql).
func TestJSONLogs(t *testing.T) {
	t.Parallel()
	key := testKey("lg")
	srv := startServe(t, "-data-dir", t.TempDir(), "-bootstrap-keys", key, "-log-format", "json", "-log-level", "info")
	const to = "very.private.person@example.com"
	code, sent := srv.do(t, http.MethodPost, "/api/v1/emails", key, map[string]any{
		"from": "you@sandbox.sendoka.com", "to": []string{to}, "subject": "Hi", "text": "Hello",
	})
	require.Equal(t, http.StatusOK, code, sent)
	id := sent["id"].(string)
	waitStatus(t, srv, key, id, "delivered")
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
