package main

import (
	"bytes"
	"io"
	"net"
	"net/mail"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
)

// smtpRecorder is the SMTP relay the servers under test send to: it counts every message
// it receives by Sendoka's message id (the left part of the Message-ID header, which
// Sendoka keeps across retries) and by envelope recipient, at the moment the final "."
// arrives: from then on a real relay has the message, whatever happens to its reply. It
// can delay that reply (a slow relay) and go down and come back on the same port.
type smtpRecorder struct {
	addr string
	host string
	port int

	// replyDelay, when set, is how long the reply to the final "." of message id waits.
	replyDelay func(id string) time.Duration

	mu      sync.Mutex
	srv     *smtp.Server
	down    chan struct{}  // closed by stop: delayed replies give up
	byID    map[string]int // "": messages without a Message-ID the suite can read
	byRcpt  map[string]int
	holding map[string]int // messages received whose reply is still delayed
	total   int
}

// startSMTPRecorder starts a recorder on a free port of 127.0.0.1; cl stops it.
func startSMTPRecorder(e *env, replyDelay func(id string) time.Duration) (*smtpRecorder, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &smtpRecorder{addr: ln.Addr().String(), replyDelay: replyDelay, byID: map[string]int{}, byRcpt: map[string]int{}, holding: map[string]int{}}
	r.host, r.port = "127.0.0.1", ln.Addr().(*net.TCPAddr).Port
	r.serve(ln)
	e.cl.add(r.stop)
	return r, nil
}

// env is the server settings that send live mail to this recorder.
func (r *smtpRecorder) env() []string {
	return []string{
		"SENDOKA_EMAIL_PROVIDER=smtp",
		"SENDOKA_SMTP_HOST=" + r.host,
		"SENDOKA_SMTP_PORT=" + itoa(r.port),
		"SENDOKA_SMTP_SECURITY=none",
	}
}

func (r *smtpRecorder) serve(ln net.Listener) {
	srv := smtp.NewServer(recorderBackend{r})
	srv.Domain = "recorder.chaos.test"
	srv.AllowInsecureAuth = true
	srv.MaxMessageBytes = 32 << 20
	srv.ReadTimeout = 15 * time.Minute // a slow relay's clients wait; they do not talk
	srv.WriteTimeout = time.Minute
	srv.ErrorLog = quietLog{}
	r.mu.Lock()
	r.srv = srv
	r.down = make(chan struct{})
	r.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
}

// stop takes the relay down: the port refuses connections and open connections are cut,
// replies still delayed included.
func (r *smtpRecorder) stop() {
	r.mu.Lock()
	srv, down := r.srv, r.down
	r.srv = nil
	r.mu.Unlock()
	if srv == nil {
		return
	}
	close(down)
	_ = srv.Close()
}

// restart brings a stopped relay back on its port.
func (r *smtpRecorder) restart() error {
	// The port was ours a moment ago; a closing socket may hold it briefly: poll for it, up to
	// a deadline.
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(5 * time.Second)
	for {
		ln, err := net.Listen("tcp", r.addr)
		if err == nil {
			r.serve(ln)
			return nil
		}
		select {
		case <-deadline:
			return err
		case <-tick.C:
		}
	}
}

// counts returns a copy of the receipts by message id.
func (r *smtpRecorder) counts() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]int, len(r.byID))
	for k, v := range r.byID {
		out[k] = v
	}
	return out
}

// rcptCounts returns a copy of the receipts by envelope recipient.
func (r *smtpRecorder) rcptCounts() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]int, len(r.byRcpt))
	for k, v := range r.byRcpt {
		out[k] = v
	}
	return out
}

// held returns the messages received whose delayed reply has not gone out yet: the
// relay has them, the sender does not know it.
func (r *smtpRecorder) held() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var ids []string
	for id := range r.holding {
		ids = append(ids, id)
	}
	return ids
}

// received returns how many messages arrived in all.
func (r *smtpRecorder) received() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.total
}

func (r *smtpRecorder) record(raw []byte, rcpts []string) (id string) {
	id = sendokaID(raw)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.total++
	r.byID[id]++ // an unreadable one under "", which no stored message matches
	for _, to := range rcpts {
		r.byRcpt[strings.ToLower(to)]++
	}
	return id
}

// sendokaID is the Sendoka message id in a message's Message-ID header (<msg_…@domain>).
func sendokaID(raw []byte) string {
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return ""
	}
	v := strings.Trim(strings.TrimSpace(m.Header.Get("Message-ID")), "<>")
	id, _, ok := strings.Cut(v, "@")
	if !ok {
		return ""
	}
	return id
}

type recorderBackend struct{ r *smtpRecorder }

func (b recorderBackend) NewSession(*smtp.Conn) (smtp.Session, error) {
	return &recorderSession{r: b.r}, nil
}

type recorderSession struct {
	r     *smtpRecorder
	rcpts []string
}

func (s *recorderSession) Mail(string, *smtp.MailOptions) error { return nil }

func (s *recorderSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.rcpts = append(s.rcpts, to)
	return nil
}

func (s *recorderSession) Data(body io.Reader) error {
	raw, err := io.ReadAll(body)
	if err != nil {
		return err // the final "." never came: the message is not ours
	}
	id := s.r.record(raw, s.rcpts)
	if s.r.replyDelay == nil {
		return nil
	}
	d := s.r.replyDelay(id)
	if d <= 0 {
		return nil
	}
	s.r.mu.Lock()
	down := s.r.down
	s.r.holding[id]++
	s.r.mu.Unlock()
	defer func() {
		s.r.mu.Lock()
		if s.r.holding[id]--; s.r.holding[id] <= 0 {
			delete(s.r.holding, id)
		}
		s.r.mu.Unlock()
	}()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-down:
	}
	return nil
}

func (s *recorderSession) Reset()        { s.rcpts = nil }
func (s *recorderSession) Logout() error { return nil }

// quietLog drops go-smtp's complaints about connections the suite cut on purpose.
type quietLog struct{}

func (quietLog) Printf(string, ...any) {}
func (quietLog) Println(...any)        {}
