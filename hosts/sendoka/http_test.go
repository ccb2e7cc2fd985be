package main

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/sendoka"
)

// closeBound is how long a server with the short limits below may keep a connection that
// never completes its request.
const closeBound = 5 * time.Second

// slowClient is a raw TCP connection that writes what the test says, as slowly as it says.
type slowClient struct {
	net.Conn
	r *bufio.Reader
}

func dialSlow(t *testing.T, addr string) *slowClient {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return &slowClient{Conn: c, r: bufio.NewReader(c)}
}

func (c *slowClient) send(t *testing.T, s string) {
	t.Helper()
	require.NoError(t, c.SetWriteDeadline(time.Now().Add(closeBound)))
	_, err := io.WriteString(c, s)
	require.NoError(t, err)
}

// trickle writes s one byte every 20 ms, in the background, until the server hangs up or
// the test ends.
func (c *slowClient) trickle(t *testing.T, s string) {
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) })
	go func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
				if _, err := c.Write([]byte{s[i%len(s)]}); err != nil {
					return
				}
			}
		}
	}()
}

func (c *slowClient) response(t *testing.T) *http.Response {
	t.Helper()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(closeBound)))
	res, err := http.ReadResponse(c.r, nil)
	require.NoError(t, err)
	_, err = io.Copy(io.Discard, res.Body)
	require.NoError(t, err)
	return res
}

// requireClosed reads until the server closes the connection and fails if it is still open
// after closeBound.
func (c *slowClient) requireClosed(t *testing.T) {
	t.Helper()
	start := time.Now()
	require.NoError(t, c.SetReadDeadline(start.Add(closeBound)))
	_, err := io.Copy(io.Discard, c.r)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the connection is still open after %s", closeBound)
	}
}

// TestHTTPServerLimits: the binary's http.Server settings alone (behind a handler that never
// reads the body, unlike the API's) cut slow headers, slow bodies and idle connections, and
// refuse oversized headers.
func TestHTTPServerLimits(t *testing.T) {
	t.Parallel()
	limits := httpConfig{readHeaderTimeout: 200 * time.Millisecond, readTimeout: 400 * time.Millisecond,
		writeTimeout: 2 * time.Second, idleTimeout: 300 * time.Millisecond, maxHeaderBytes: 4 << 10}
	ts := httptest.NewUnstartedServer(nil)
	ts.Config = limits.server(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}))
	ts.Start()
	t.Cleanup(ts.Close)
	addr := ts.Listener.Addr().String()

	t.Run("slow headers", func(t *testing.T) {
		t.Parallel()
		c := dialSlow(t, addr)
		c.send(t, "GET /healthz HTTP/1.1\r\nHost: sendoka.test\r\n")
		c.trickle(t, "X-Slow: abcdefghij\r\n")
		c.requireClosed(t)
	})
	t.Run("slow body nobody reads", func(t *testing.T) {
		t.Parallel()
		c := dialSlow(t, addr)
		c.send(t, "POST /healthz HTTP/1.1\r\nHost: sendoka.test\r\nContent-Length: 1000\r\n\r\n")
		c.trickle(t, "x")
		c.requireClosed(t)
	})
	t.Run("idle", func(t *testing.T) {
		t.Parallel()
		c := dialSlow(t, addr)
		c.send(t, "GET /healthz HTTP/1.1\r\nHost: sendoka.test\r\n\r\n")
		res := c.response(t)
		require.Equal(t, http.StatusOK, res.StatusCode)
		require.False(t, res.Close)
		c.requireClosed(t)
	})
	t.Run("headers too large", func(t *testing.T) {
		t.Parallel()
		c := dialSlow(t, addr)
		// net/http allows 4 KiB of slack over MaxHeaderBytes.
		c.send(t, "GET /healthz HTTP/1.1\r\nHost: sendoka.test\r\nAuthorization: Bearer "+strings.Repeat("a", 16<<10)+"\r\n\r\n")
		require.Equal(t, http.StatusRequestHeaderFieldsTooLarge, c.response(t).StatusCode)
	})
}

// TestServeCutsSlowClients: `sendoka serve` with short limits (flags) closes connections
// whose headers or body never finish, /healthz included, and answers oversized headers 431.
func TestServeCutsSlowClients(t *testing.T) {
	t.Parallel()
	srv := startServe(t, "-data-dir", t.TempDir(), "-read-header-timeout", "200ms", "-read-timeout", "500ms",
		"-body-read-timeout", "200ms", "-write-timeout", "5s", "-idle-timeout", "300ms", "-max-header-bytes", "8192")
	addr := strings.TrimPrefix(srv.base, "http://")

	for _, path := range []string{"/healthz", "/readyz", "/nope", "/api/v1/emails"} {
		c := dialSlow(t, addr)
		c.send(t, "POST "+path+" HTTP/1.1\r\nHost: sendoka.test\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n")
		c.trickle(t, "x")
		c.requireClosed(t)
	}
	c := dialSlow(t, addr)
	c.send(t, "GET /healthz HTTP/1.1\r\n")
	c.trickle(t, "X-Slow: abcdefghij\r\n")
	c.requireClosed(t)

	c = dialSlow(t, addr)
	c.send(t, "GET /healthz HTTP/1.1\r\nHost: sendoka.test\r\nX-Big: "+strings.Repeat("a", 16<<10)+"\r\n\r\n")
	require.Equal(t, http.StatusRequestHeaderFieldsTooLarge, c.response(t).StatusCode)
}

func TestParseProxies(t *testing.T) {
	t.Parallel()
	got, err := parseProxies("10.0.0.1, 192.168.7.9/16, fd00::/8, ::ffff:10.0.0.2")
	require.NoError(t, err)
	require.Equal(t, []netip.Prefix{
		netip.MustParsePrefix("10.0.0.1/32"), netip.MustParsePrefix("192.168.0.0/16"),
		netip.MustParsePrefix("fd00::/8"), netip.MustParsePrefix("10.0.0.2/32"),
	}, got)
	got, err = parseProxies("")
	require.NoError(t, err)
	require.Empty(t, got)
	for _, bad := range []string{"proxy.local", "10.0.0.0/33", "10.0.0.1:80"} {
		_, err := parseProxies(bad)
		require.Error(t, err, bad)
	}
}

func TestParsePlansAndWarmup(t *testing.T) {
	t.Parallel()
	plans, err := parsePlans(`[{"name":"enterprise","burst_per_minute":100000000},{"name":"startup","burst_per_minute":120,"monthly_emails":20000}]`)
	require.NoError(t, err)
	byName := map[string]sendoka.Plan{}
	for _, p := range plans {
		byName[p.Name] = p
	}
	require.EqualValues(t, 100000000, byName["enterprise"].BurstPerMinute, "a default plan replaced")
	require.EqualValues(t, 60, byName["free"].BurstPerMinute, "the others kept")
	require.EqualValues(t, 20000, byName["startup"].MonthlyEmails, "a new plan added")
	file := filepath.Join(t.TempDir(), "plans.json")
	require.NoError(t, os.WriteFile(file, []byte(`[{"name":"free","burst_per_minute":5}]`), 0o600))
	plans, err = parsePlans("@" + file)
	require.NoError(t, err)
	require.EqualValues(t, 5, plans[0].BurstPerMinute)
	for _, bad := range []string{`{"name":"x"}`, `[{"name":"x","burst":1}]`, "@/nonexistent/plans.json"} {
		_, err := parsePlans(bad)
		require.Error(t, err, bad)
	}
	none, err := parsePlans("")
	require.NoError(t, err)
	require.Nil(t, none, "the core's defaults")

	w, err := parseWarmup("10, 20")
	require.NoError(t, err)
	require.Equal(t, []int64{10, 20}, w.Schedule)
	w, err = parseWarmup("off")
	require.NoError(t, err)
	require.True(t, w.Off)
	for _, bad := range []string{"0", "ten", "5,-1"} {
		_, err := parseWarmup(bad)
		require.Error(t, err, bad)
	}
}

func TestParseOptOutHints(t *testing.T) {
	t.Parallel()
	h, err := parseOptOutHints(`{"US":"Reply STOP to opt out.","*":"STOP to end"}`)
	require.NoError(t, err)
	require.Equal(t, sendoka.SMSOptOutHints{"US": "Reply STOP to opt out.", "*": "STOP to end"}, h)
	file := filepath.Join(t.TempDir(), "hints.json")
	require.NoError(t, os.WriteFile(file, []byte(`{"FR":"STOP au 36180"}`), 0o600))
	h, err = parseOptOutHints("@" + file)
	require.NoError(t, err)
	require.Equal(t, "STOP au 36180", h["FR"])
	for _, bad := range []string{`["US"]`, `{"US":1}`, "@/nonexistent/hints.json"} {
		_, err := parseOptOutHints(bad)
		require.Error(t, err, bad)
	}
	none, err := parseOptOutHints(" ")
	require.NoError(t, err)
	require.Nil(t, none)
}

func TestParseMemoryLimit(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]int64{"150MiB": 150 << 20, "1GiB": 1 << 30, "512MB": 512e6, "off": 0, "67108864": 64 << 20, " 64 MiB ": 64 << 20} {
		got, err := parseMemoryLimit(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	for _, bad := range []string{"", "lots", "-5MiB", "1MiB", "10TB", "99999999999999999GiB"} {
		_, err := parseMemoryLimit(bad)
		require.Error(t, err, bad)
	}
	n, err := parseMemoryLimit(defaultMemoryLimit)
	require.NoError(t, err)
	require.Equal(t, int64(150<<20), n)
}
