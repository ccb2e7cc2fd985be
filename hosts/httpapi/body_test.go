package httpapi

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/sendoka"
)

// closeBound is how long the server may keep a connection whose body never comes. The
// bodies below are read with BodyReadTimeout = bodyTimeout; without limitBody httptest's
// server (no timeouts at all) would keep them open for as long as the client sends.
const (
	bodyTimeout = 200 * time.Millisecond
	closeBound  = 5 * time.Second
)

// rawConn is a client connection to the bundle's server that writes bytes as the test says.
type rawConn struct {
	net.Conn
	r *bufio.Reader
}

func dialRaw(t *testing.T, b *bundle) *rawConn {
	t.Helper()
	c, err := net.Dial("tcp", b.server.Listener.Addr().String())
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return &rawConn{Conn: c, r: bufio.NewReader(c)}
}

func (c *rawConn) send(t *testing.T, s string) {
	t.Helper()
	require.NoError(t, c.SetWriteDeadline(time.Now().Add(closeBound)))
	_, err := io.WriteString(c, s)
	require.NoError(t, err)
}

// trickle writes one byte every 20 ms until the server hangs up or the test ends.
func (c *rawConn) trickle(t *testing.T) {
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) })
	go func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if _, err := c.Write([]byte("x")); err != nil {
					return
				}
			}
		}
	}()
}

// response reads the next response.
func (c *rawConn) response(t *testing.T) (*http.Response, []byte) {
	t.Helper()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(closeBound)))
	res, err := http.ReadResponse(c.r, nil)
	require.NoError(t, err)
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res, body
}

// requireClosed reads until the server closes the connection (end of stream or a reset) and
// fails if it is still open after closeBound.
func (c *rawConn) requireClosed(t *testing.T) {
	t.Helper()
	start := time.Now()
	require.NoError(t, c.SetReadDeadline(start.Add(closeBound)))
	_, err := io.Copy(io.Discard, c.r)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the connection is still open after %s", closeBound)
	}
	require.Less(t, time.Since(start), closeBound)
}

// head is a request head announcing a body of n bytes.
func head(method, path, key string, n int) string {
	h := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: sendoka.test\r\nContent-Type: application/json\r\nContent-Length: %d\r\n", method, path, n)
	if key != "" {
		h += "Authorization: Bearer " + key + "\r\n"
	}
	return h + "\r\n"
}

// unreadRoutes are requests whose body no handler reads, and the one operation whose body
// never arrives in time (408).
func unreadRoutes(b *bundle) []struct {
	name, method, path, key string
	status                  int
	code                    sendoka.Code
} {
	return []struct {
		name, method, path, key string
		status                  int
		code                    sendoka.Code
	}{
		{"healthz", http.MethodGet, "/healthz", "", 200, ""},
		{"readyz POST", http.MethodPost, "/readyz", "", 405, CodeMethodNotAllowed},
		{"readyz GET", http.MethodGet, "/readyz", "", 200, ""},
		{"unknown route", http.MethodPost, "/nope", "", 404, sendoka.CodeNotFound},
		{"wrong method", http.MethodDelete, "/healthz", "", 405, CodeMethodNotAllowed},
		{"refused before the body", http.MethodPost, "/api/v1/emails", "", 401, sendoka.CodeUnauthorized},
		{"operation without a body", http.MethodGet, "/api/v1/emails", b.live, 200, ""},
		{"body never arrives", http.MethodPost, "/api/v1/emails", b.live, 408, CodeRequestTimeout},
	}
}

// TestTrickledBodyIsCut: a client sending its body a byte at a time cannot hold a connection,
// whatever the route, even behind a server without any timeout (httptest's).
func TestTrickledBodyIsCut(t *testing.T) {
	t.Parallel()
	b := setup(t, sqlite(t), setupConfig{opts: Options{BodyReadTimeout: bodyTimeout}})
	for _, tc := range unreadRoutes(b) {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := dialRaw(t, b)
			c.send(t, head(tc.method, tc.path, tc.key, 1000))
			c.trickle(t)
			c.requireClosed(t)
		})
	}
}

// TestStalledBodyIsAnswered: a body that stops arriving gets its route's answer, in the
// envelope when it is an error, and then the connection is closed.
func TestStalledBodyIsAnswered(t *testing.T) {
	t.Parallel()
	b := setup(t, sqlite(t), setupConfig{opts: Options{BodyReadTimeout: bodyTimeout}})
	for _, tc := range unreadRoutes(b) {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := dialRaw(t, b)
			c.send(t, head(tc.method, tc.path, tc.key, 1000)+`{"from":`)
			res, body := c.response(t)
			require.Equal(t, tc.status, res.StatusCode, "%s", body)
			require.True(t, res.Close, "Connection: close")
			if tc.code != "" {
				r := &response{status: res.StatusCode, header: res.Header, body: body}
				r.requireError(t, tc.status, tc.code)
			}
			c.requireClosed(t)
		})
	}
}

// TestUnreadBodyKeepsConnection: a body that has arrived is drained, up to 64 KiB, and the
// connection carries the next request; a larger unread body closes it.
func TestUnreadBodyKeepsConnection(t *testing.T) {
	t.Parallel()
	b := setup(t, sqlite(t), setupConfig{opts: Options{BodyReadTimeout: bodyTimeout}})
	for _, n := range []int{1, 1000, maxDrainBytes} {
		c := dialRaw(t, b)
		c.send(t, head(http.MethodGet, "/healthz", "", n)+strings.Repeat("x", n))
		res, body := c.response(t)
		require.Equal(t, http.StatusOK, res.StatusCode, "%s", body)
		require.False(t, res.Close, "a drained body keeps the connection (%d bytes)", n)
		c.send(t, "GET /readyz HTTP/1.1\r\nHost: sendoka.test\r\n\r\n")
		res, body = c.response(t)
		require.Equal(t, http.StatusOK, res.StatusCode)
		var ready map[string]string
		require.NoError(t, json.Unmarshal(body, &ready))
		require.Equal(t, "ready", ready["status"])
	}

	// A body an operation reads keeps the connection too.
	c := dialRaw(t, b)
	raw, err := json.Marshal(quickstart())
	require.NoError(t, err)
	c.send(t, head(http.MethodPost, "/api/v1/emails", b.live, len(raw))+string(raw))
	res, body := c.response(t)
	require.Equal(t, http.StatusOK, res.StatusCode, "%s", body)
	require.False(t, res.Close)

	// Past what is drained, and past what net/http reads itself, the connection is closed.
	c = dialRaw(t, b)
	c.send(t, head(http.MethodGet, "/healthz", "", 512<<10)+strings.Repeat("x", 300<<10))
	res, _ = c.response(t)
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.True(t, res.Close)
	c.requireClosed(t)
}

// TestConnectionAfterRefusedBody: a body refused part-read (413) leaves the connection fit
// for the next request, whose context is not cancelled by a deadline set for the last one.
func TestConnectionAfterRefusedBody(t *testing.T) {
	t.Parallel()
	b := setup(t, sqlite(t), setupConfig{opts: Options{BodyReadTimeout: bodyTimeout, MaxBodyBytes: 1 << 10}})
	c := dialRaw(t, b)
	// The harm, when there was one, depended on a race with net/http's own end of request;
	// a hundred rounds lose it reliably.
	for range 100 {
		c.send(t, head(http.MethodPost, "/api/v1/emails", b.live, 3<<10)+`{"subject":"`+strings.Repeat("x", 3<<10-14)+`"}`)
		res, body := c.response(t)
		(&response{status: res.StatusCode, header: res.Header, body: body}).requireError(t, http.StatusRequestEntityTooLarge, CodeRequestTooLarge)
		require.False(t, res.Close, "net/http read the rest of the body: the connection stays")

		c.send(t, "GET /api/v1/emails/msg_01HN8Z6Q4V3K2J1M0N9P8Q7R6S HTTP/1.1\r\nHost: sendoka.test\r\nAuthorization: Bearer "+b.live+"\r\n\r\n")
		res, body = c.response(t)
		(&response{status: res.StatusCode, header: res.Header, body: body}).requireError(t, http.StatusNotFound, sendoka.CodeNotFound)
	}
}

// TestExpectContinueNotInvited: a body the client holds back until "100 Continue" is not
// invited by a route that does not want it (net/http sends no 100 once the answer has begun):
// the answer comes first, then the connection closes.
func TestExpectContinueNotInvited(t *testing.T) {
	t.Parallel()
	b := setup(t, sqlite(t), setupConfig{opts: Options{BodyReadTimeout: bodyTimeout}})
	for _, path := range []string{"/healthz", "/nope"} {
		c := dialRaw(t, b)
		c.send(t, "POST "+path+" HTTP/1.1\r\nHost: sendoka.test\r\nExpect: 100-continue\r\nContent-Length: 1000\r\n\r\n")
		res, _ := c.response(t)
		require.NotEqual(t, http.StatusContinue, res.StatusCode, path)
		require.True(t, res.Close, path)
		c.requireClosed(t)
	}
	// An operation that reads its body still gets it.
	raw, err := json.Marshal(quickstart())
	require.NoError(t, err)
	c := dialRaw(t, b)
	c.send(t, "POST /api/v1/emails HTTP/1.1\r\nHost: sendoka.test\r\nExpect: 100-continue\r\nContent-Type: application/json\r\n"+
		"Authorization: Bearer "+b.live+"\r\n"+fmt.Sprintf("Content-Length: %d\r\n\r\n", len(raw)))
	res, _ := c.response(t)
	require.Equal(t, http.StatusContinue, res.StatusCode)
	c.send(t, string(raw))
	res, body := c.response(t)
	require.Equal(t, http.StatusOK, res.StatusCode, "%s", body)
}
