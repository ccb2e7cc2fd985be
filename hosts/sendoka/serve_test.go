package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/storage/bunstore/bunstoretest"
)

// syncBuffer is a bytes.Buffer safe to read while the server writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// running is a `sendoka serve` started in-process.
type running struct {
	base   string
	stdout *syncBuffer
	stderr *syncBuffer
	stop   func() error // ends the serve context (as SIGTERM does) and returns run's error
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().String()
}

// startServe runs `sendoka serve` with args and waits until /readyz answers 200.
func startServe(t *testing.T, args ...string) *running {
	t.Helper()
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{base: "http://" + addr, stdout: &syncBuffer{}, stderr: &syncBuffer{}}
	errc := make(chan error, 1)
	go func() {
		errc <- run(ctx, append([]string{"serve", "-addr", addr, "-log-level", "warn"}, args...), r.stdout, r.stderr)
	}()
	var once sync.Once
	var runErr error
	r.stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case runErr = <-errc:
			case <-time.After(30 * time.Second):
				runErr = fmt.Errorf("serve did not stop within 30s")
			}
		})
		return runErr
	}
	t.Cleanup(func() { r.stop() })
	waitReady(t, r.base, func() {
		select {
		case err := <-errc:
			t.Fatalf("serve exited early: %v\n%s", err, r.stdout.String())
		default:
		}
	})
	return r
}

// waitReady polls base's /readyz until it answers 200; alive fails the test if the server
// has exited.
func waitReady(t *testing.T, base string, alive func()) {
	t.Helper()
	pollUntil(t, 30*time.Second, func() bool {
		alive()
		res, err := http.Get(base + "/readyz")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK
	}, "server at %s not ready", base)
}

// pollUntil checks cond on a 10 ms ticker until it holds, and fails the test at the deadline.
func pollUntil(t *testing.T, timeout time.Duration, cond func() bool, format string, args ...any) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline.C:
			t.Fatalf(format, args...)
		}
	}
}

func (r *running) do(t *testing.T, method, path, key string, body any) (int, map[string]any) {
	t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(t, err)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, err := http.NewRequest(method, r.base+path, rd)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	var out map[string]any
	require.NoError(t, json.NewDecoder(res.Body).Decode(&out))
	return res.StatusCode, out
}

func testKey(suffix string) string { return "sok_test_" + strings.Repeat("k", 24) + suffix }
func liveKey(suffix string) string { return "sok_live_" + strings.Repeat("k", 24) + suffix }

// TestServeQuickstart is the README's quickstart against the binary: bootstrap keys, send,
// delivered, then a graceful stop — on SQLite and, when configured, Postgres.
func TestServeQuickstart(t *testing.T) {
	for _, d := range bunstoretest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			args := []string{"-data-dir", t.TempDir(), "-bootstrap-keys", testKey("q1") + "," + liveKey("q1")}
			if d == "postgres" {
				args = append(args, "-database-url", bunstoretest.DSN(t, d))
			}
			srv := startServe(t, args...)
			require.NotContains(t, srv.stdout.String(), "shown once", "bootstrap keys are not printed")

			code, sent := srv.do(t, http.MethodPost, "/api/v1/emails", testKey("q1"), map[string]any{
				"from": "you@sandbox.sendoka.com", "to": []string{"user@example.com"},
				"subject": "Hello from Sendoka", "html": "<p>It works.</p>",
			})
			require.Equal(t, http.StatusOK, code, sent)
			id := sent["id"].(string)
			require.True(t, strings.HasPrefix(id, "msg_"))
			require.Contains(t, []any{"queued", "sent"}, sent["status"])

			got := waitStatus(t, srv, testKey("q1"), id, "delivered")
			require.Equal(t, "sandbox", got["provider"])
			code, _ = srv.do(t, http.MethodGet, "/api/v1/emails/"+id, "sok_test_"+strings.Repeat("x", 24), nil)
			require.Equal(t, http.StatusUnauthorized, code)
			require.NoError(t, srv.stop(), "SIGTERM-style stop is graceful")
		})
	}
}

// TestServePrintsKeysOnce: the first start of an empty database prints a live and a test key;
// the next start prints none.
func TestServePrintsKeysOnce(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	first := startServe(t, "-data-dir", dir)
	out := first.stdout.String()
	require.NoError(t, first.stop())
	require.Contains(t, out, "shown once")
	var keys []string
	for _, f := range strings.Fields(out) {
		if strings.HasPrefix(f, "sok_live_") || strings.HasPrefix(f, "sok_test_") {
			keys = append(keys, f)
		}
	}
	require.Len(t, keys, 2, "a live key and a test key: %s", out)
	require.True(t, strings.HasPrefix(keys[0], "sok_live_"))
	require.True(t, strings.HasPrefix(keys[1], "sok_test_"))
	require.Contains(t, out, "export SENDOKA_API_KEY="+keys[1])

	second := startServe(t, "-data-dir", dir)
	code, _ := second.do(t, http.MethodGet, "/api/v1/emails", keys[1], nil)
	require.Equal(t, http.StatusOK, code, "the printed key works after a restart")
	require.NoError(t, second.stop())
	require.NotContains(t, second.stdout.String(), "sok_")
}

// TestKeysCommands drives `sendoka keys create|list|revoke`, `migrate` and `version`.
func TestKeysCommands(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx := context.Background()
	// call runs a command; the global flags go after the command words (one or two of them,
	// "keys revoke") and before the rest, since flags stop at the first positional argument.
	call := func(args ...string) (string, error) {
		n := 1
		if args[0] == "keys" {
			n = 2
		}
		full := append(append(append([]string{}, args[:n]...), "-data-dir", dir, "-log-level", "error"), args[n:]...)
		var out, errOut bytes.Buffer
		err := run(ctx, full, &out, &errOut)
		return out.String(), err
	}
	out, err := call("migrate")
	require.NoError(t, err)
	require.Contains(t, out, "migrations applied")

	out, err = call("keys", "create", "-mode", "test", "-name", "ci", "-scopes", "emails:send")
	require.NoError(t, err)
	fields := strings.Fields(out)
	require.GreaterOrEqual(t, len(fields), 2, out)
	keyID, plain := fields[len(fields)-4], fields[len(fields)-3]
	require.True(t, strings.HasPrefix(keyID, "key_"), out)
	require.True(t, strings.HasPrefix(plain, "sok_test_"), out)

	out, err = call("keys", "list")
	require.NoError(t, err)
	require.Contains(t, out, keyID)
	require.Contains(t, out, plain[:len("sok_test_")+4], "the visible prefix is listed")
	require.NotContains(t, out, plain, "the plaintext is never listed")
	require.Regexp(t, keyID+`.*emails:send.*never.*active`, out, "listed with when it was last used")

	_, err = call("keys", "create", "-mode", "test", "-scopes", "emails:fly")
	require.ErrorContains(t, err, "unknown scope")

	// Limits given on the command line are stored and listed.
	out, err = call("keys", "create", "-mode", "live", "-name", "office", "-scopes", "emails:send,templates:read",
		"-allowed-cidrs", "10.0.0.0/8", "-allowed-domains", "dom_sandbox", "-expires-in", "48h")
	require.NoError(t, err)
	limitedID := strings.Fields(out)[len(strings.Fields(out))-4]
	out, err = call("keys", "list")
	require.NoError(t, err)
	require.Regexp(t, limitedID+`.*emails:send,templates:read\s+-\s+10\.0\.0\.0/8\s+dom_sandbox\s+\S+\s+20\d\d-`, out, "scopes, no tenant, CIDRs, domains, an expiry")
	_, err = call("keys", "create", "-mode", "live", "-allowed-domains", "dom_01NOSUCHDOMAIN")
	require.ErrorContains(t, err, "no such sending domain")

	// An org that does not exist gets no key, and the error names it.
	for _, mode := range []string{"live", "test"} {
		out, err = call("keys", "create", "-mode", mode, "-org", "org_01NOSUCHORG")
		require.ErrorContains(t, err, `org "org_01NOSUCHORG" not found`)
		require.NotContains(t, out, "sok_", "no key is printed")
	}
	out, err = call("keys", "list", "-org", "org_01NOSUCHORG")
	require.NoError(t, err)
	require.NotContains(t, out, "key_", "and none was stored")

	out, err = call("keys", "revoke", keyID)
	require.NoError(t, err)
	require.Contains(t, out, "revoked")
	out, err = call("keys", "list")
	require.NoError(t, err)
	require.Regexp(t, keyID+`.*revoked`, out)
	_, err = call("keys", "revoke", "key_unknown")
	require.ErrorContains(t, err, "not found")

	var vout bytes.Buffer
	require.NoError(t, run(ctx, []string{"version"}, &vout, &vout))
	require.True(t, strings.HasPrefix(vout.String(), "sendoka "))
	require.ErrorContains(t, run(ctx, []string{"frobnicate"}, &vout, &vout), "unknown command")
}
