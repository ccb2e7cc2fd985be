package httpapi

import (
	"io"
	"net/http"
	"time"
)

// Unread request bodies. Before it answers, net/http reads what a handler left of the
// request body (up to 256 KiB), so that the connection can carry the next request, and it
// reads with whatever read deadline the connection has. Without one, a client that sends a
// body a byte at a time to a route that never reads it (/healthz, an unknown route, a 405,
// a request refused before its body is read) holds a connection and a goroutine for as long
// as it likes, whatever the http.Server's settings, since the app that mounts the handler
// chooses those.
const (
	// maxDrainBytes is how much of a body left unread is read and thrown away after the
	// answer, to keep the connection; a longer one closes the connection instead.
	maxDrainBytes = 64 << 10
	// maxDrainTime bounds that read (or Options.BodyReadTimeout when it is shorter).
	maxDrainTime = time.Second
)

// longAgo is a read deadline that has passed: a read fails at once.
var longAgo = time.Unix(1, 0)

// limitBody bounds the time spent on the body of every request that has one. Until the
// handler reads the body, the connection's read deadline is timeout from now (Huma sets its
// own, of the same length, when an operation starts reading). Once the body is read to its
// end the deadline is cleared: net/http then reads the connection in the background to
// notice a client that hangs up, and a deadline passing there would cancel the context of
// the connection (the request's, and that of every later request on it) while the handler
// still works. After the handler, what is left of an unread body is drained, at most
// maxDrainBytes within maxDrainTime; a body longer or slower than that gets a deadline in
// the past, so net/http gives up on it at once and closes the connection after the answer.
//
// Deadlines need the server's ResponseWriter (through Unwrap); behind a writer without one,
// an httptest.ResponseRecorder say, nothing is bounded here and the handler runs as is.
func limitBody(next http.Handler, timeout time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody {
			next.ServeHTTP(w, r)
			return
		}
		rc := http.NewResponseController(w)
		if rc.SetReadDeadline(time.Now().Add(timeout)) != nil {
			next.ServeHTTP(w, r)
			return
		}
		body := &trackedBody{ReadCloser: r.Body, rc: rc}
		// A copy of the request carries it: net/http looks at its own request's body (is it
		// closed, how much is left) to decide whether the connection can be reused.
		r = r.WithContext(r.Context())
		r.Body = body
		next.ServeHTTP(w, r)
		switch {
		case body.eof:
			return
		case body.closed:
			// net/http's Close read what it would of the body (under the deadline): it knows
			// whether the connection can be reused. If that reached the end, its background
			// read has begun, and a deadline passing there would cancel the context of the
			// connection, and of every later request on it.
			_ = rc.SetReadDeadline(time.Time{})
			return
		}
		_ = rc.SetReadDeadline(time.Now().Add(min(timeout, maxDrainTime)))
		_, _ = io.CopyN(io.Discard, body, maxDrainBytes+1) // +1: reach the end of a body of exactly maxDrainBytes
		if !body.eof {
			_ = rc.SetReadDeadline(longAgo)
		}
	})
}

// trackedBody notices when a request body has been read to its end, or closed.
type trackedBody struct {
	io.ReadCloser
	rc     *http.ResponseController
	eof    bool
	closed bool
}

func (b *trackedBody) Close() error {
	b.closed = true
	return b.ReadCloser.Close()
}

func (b *trackedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF && !b.eof {
		b.eof = true
		_ = b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}
