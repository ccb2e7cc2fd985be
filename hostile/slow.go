package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// probe is an attack on the server rather than on one operation: clients that are slow
// or send too much, where what matters is that the server lets go in time.
type probe struct {
	name string
	run  func(t *target) []string // violations
}

// probes are run at once, each on connections of its own.
func probes(t *target) []probe {
	margin := 2 * time.Second
	closedBy := func(limit time.Duration) time.Duration { return limit + margin }
	return []probe{
		{"slow headers (a byte at a time)", func(t *target) []string {
			return concurrently(8, func() []string {
				return slowHeaders(t, t.readHeaderTimeout/4, closedBy(t.readHeaderTimeout))
			})
		}},
		{"idle connection (nothing sent)", func(t *target) []string {
			return concurrently(8, func() []string { return idle(t.addr, closedBy(t.readHeaderTimeout)) })
		}},
		{"idle keep-alive connection", func(t *target) []string {
			return keepAliveIdle(t.addr, closedBy(max(t.idleTimeout, t.readHeaderTimeout)))
		}},
		{"slow body (a byte at a time)", func(t *target) []string {
			return concurrently(4, func() []string {
				return slowBody(t, "/api/v1/emails", t.bodyReadTimeout/4, closedBy(t.bodyReadTimeout))
			})
		}},
		{"body shorter than Content-Length", func(t *target) []string {
			return concurrently(4, func() []string { return shortBody(t, "/api/v1/templates", closedBy(t.bodyReadTimeout)) })
		}},
		{"slow body on a route that reads none", func(t *target) []string {
			return slowBody(t, "/healthz", t.bodyReadTimeout/4, closedBy(min(t.bodyReadTimeout, time.Second)))
		}},
		{"oversized header block", func(t *target) []string {
			return oversizedHeaders(t.addr, closedBy(t.readHeaderTimeout))
		}},
		{"pipelined requests", func(t *target) []string { return pipelined(t) }},
		{"served while attacked", func(t *target) []string {
			// While the slow clients above hold their connections, an ordinary request is
			// still answered: before the server lets go of them, not only after.
			<-t.slowStarted
			start := time.Now()
			res := send(t.addr, &request{method: http.MethodGet, target: "/healthz"}, closedBy(t.readHeaderTimeout))
			if res.err != nil || res.status != http.StatusOK {
				return []string{fmt.Sprintf("GET /healthz during the slow attacks: %d %v", res.status, res.err)}
			}
			if d := time.Since(start); d > t.readHeaderTimeout {
				return []string{fmt.Sprintf("GET /healthz took %s during the slow attacks", d)}
			}
			return nil
		}},
	}
}

func concurrently(n int, fn func() []string) []string {
	var mu sync.Mutex
	var out []string
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			v := fn()
			mu.Lock()
			out = append(out, v...)
			mu.Unlock()
		})
	}
	wg.Wait()
	return dedupe(out)
}

func dedupe(v []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range v {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// waitClosed reads from conn until the server closes it, and reports how long that took,
// or an error if it did not within limit. Whatever the server writes first is returned.
func waitClosed(conn net.Conn, start time.Time, limit time.Duration) (string, time.Duration, error) {
	_ = conn.SetReadDeadline(start.Add(limit))
	b, err := io.ReadAll(conn)
	took := time.Since(start)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return string(b), took, fmt.Errorf("still open after %s", limit)
	}
	return string(b), took, nil
}

func slowHeaders(t *target, every, limit time.Duration) []string {
	conn, err := net.Dial("tcp", t.addr)
	if err != nil {
		return []string{err.Error()}
	}
	defer conn.Close()
	start := time.Now()
	head := "GET /api/v1/org HTTP/1.1\r\nHost: x\r\nX-Slow: "
	if _, err := conn.Write([]byte(head)); err != nil {
		return []string{err.Error()}
	}
	t.startedSlow()
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		t := time.NewTicker(every)
		defer t.Stop()
		for time.Since(start) < limit+time.Second {
			<-t.C
			if _, err := conn.Write([]byte("a")); err != nil {
				return // the server hung up
			}
		}
	}()
	answer, took, err := waitClosed(conn, start, limit)
	<-closed
	if err != nil {
		return []string{"headers sent a byte at a time: " + err.Error()}
	}
	if strings.Contains(answer, "200 OK") {
		return []string{fmt.Sprintf("headers never finished, yet answered after %s: %q", took.Round(time.Millisecond), clip(answer, 60))}
	}
	return nil
}

func idle(addr string, limit time.Duration) []string {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return []string{err.Error()}
	}
	defer conn.Close()
	if _, _, err := waitClosed(conn, time.Now(), limit); err != nil {
		return []string{"a connection that sends nothing: " + err.Error()}
	}
	return nil
}

// keepAliveIdle makes one request on a kept-alive connection, then sends nothing more.
func keepAliveIdle(addr string, limit time.Duration) []string {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return []string{err.Error()}
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
		return []string{err.Error()}
	}
	br := bufio.NewReader(conn)
	_ = conn.SetReadDeadline(time.Now().Add(limit))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return []string{"keep-alive request: " + err.Error()}
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	start := time.Now()
	_ = conn.SetReadDeadline(start.Add(limit))
	if _, err := br.ReadByte(); err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return []string{fmt.Sprintf("an idle kept-alive connection is still open after %s", limit)}
		}
	}
	return nil
}

// slowBody sends a request's body a byte at a time: the API must answer 408, or close.
func slowBody(t *target, path string, every, limit time.Duration) []string {
	conn, err := net.Dial("tcp", t.addr)
	if err != nil {
		return []string{err.Error()}
	}
	defer conn.Close()
	body := `{"from":"a@sandbox.sendoka.com","to":["b@example.com"],"subject":"slow","text":"` + strings.Repeat("x", 200) + `"}`
	method := http.MethodPost
	if path == "/healthz" {
		method = http.MethodGet
	}
	head := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n",
		method, path, t.live, len(body))
	start := time.Now()
	if _, err := conn.Write([]byte(head)); err != nil {
		return []string{err.Error()}
	}
	go func() {
		tick := time.NewTicker(every)
		defer tick.Stop()
		for i := 0; i < len(body) && time.Since(start) < limit+time.Second; i++ {
			<-tick.C
			if _, err := conn.Write([]byte{body[i]}); err != nil {
				return
			}
		}
	}()
	return judgeCutShort(conn, start, limit, path, "body sent a byte at a time")
}

// shortBody declares more body than it sends, then waits.
func shortBody(t *target, path string, limit time.Duration) []string {
	conn, err := net.Dial("tcp", t.addr)
	if err != nil {
		return []string{err.Error()}
	}
	defer conn.Close()
	start := time.Now()
	req := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n{\"slug\":",
		path, t.live)
	if _, err := conn.Write([]byte(req)); err != nil {
		return []string{err.Error()}
	}
	return judgeCutShort(conn, start, limit, path, "a body shorter than its Content-Length")
}

// judgeCutShort checks what a server did with a body that did not come in time: closed the
// connection, or answered 408 REQUEST_TIMEOUT (or, for a route that reads no body, its
// ordinary answer) in the envelope.
func judgeCutShort(conn net.Conn, start time.Time, limit time.Duration, path, what string) []string {
	answer, took, err := waitClosed(conn, start, limit)
	if err != nil {
		return []string{what + ": " + err.Error()}
	}
	if answer == "" {
		return nil // closed without an answer: fine, the client was too slow
	}
	resp, rerr := http.ReadResponse(bufio.NewReader(strings.NewReader(answer)), nil)
	if rerr != nil {
		return []string{fmt.Sprintf("%s: unreadable answer %q", what, clip(answer, 80))}
	}
	b, _ := io.ReadAll(resp.Body)
	switch {
	case path == "/healthz" && resp.StatusCode == http.StatusOK:
	case resp.StatusCode == http.StatusRequestTimeout && strings.Contains(string(b), `"REQUEST_TIMEOUT"`):
	default:
		return []string{fmt.Sprintf("%s: answered %d after %s: %q", what, resp.StatusCode, took.Round(time.Millisecond), clip(string(b), 100))}
	}
	return nil
}

func oversizedHeaders(addr string, limit time.Duration) []string {
	big := &request{method: http.MethodGet, target: "/api/v1/org", httpLevel: true, expect: http.StatusRequestHeaderFieldsTooLarge,
		header: []headerField{{"X-Huge", strings.Repeat("h", 2<<20)}}}
	res := send(addr, big, limit)
	if res.err != nil {
		// A server may stop reading and close before the client has written it all.
		if strings.Contains(res.err.Error(), "reset") {
			return nil
		}
		return []string{"a 2 MiB header: " + res.err.Error()}
	}
	if res.status != http.StatusRequestHeaderFieldsTooLarge {
		return []string{fmt.Sprintf("a 2 MiB header: status %d, want 431", res.status)}
	}
	return nil
}

// pipelined sends two requests in one write: both must be answered, in order.
func pipelined(t *target) []string {
	conn, err := net.Dial("tcp", t.addr)
	if err != nil {
		return []string{err.Error()}
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	two := "GET /api/v1/emails/%2e%2e HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + t.live + "\r\n\r\n" +
		"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
	if _, err := conn.Write([]byte(two)); err != nil {
		return []string{err.Error()}
	}
	br := bufio.NewReader(conn)
	var statuses []int
	for range 2 {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			return []string{fmt.Sprintf("pipelined: answer %d: %v", len(statuses)+1, err)}
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		statuses = append(statuses, resp.StatusCode)
	}
	if statuses[1] != http.StatusOK || statuses[0] < 400 || statuses[0] >= 500 {
		return []string{fmt.Sprintf("pipelined: statuses %v, want a 4xx then 200", statuses)}
	}
	return nil
}
