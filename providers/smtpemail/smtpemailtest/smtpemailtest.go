// Package smtpemailtest runs a real SMTP server (github.com/emersion/go-smtp) inside a test:
// plain, STARTTLS or implicit TLS with a certificate generated for 127.0.0.1, optional
// PLAIN and LOGIN authentication, programmable refusals, and every accepted message kept
// for the test to read.
//
//	srv := smtpemailtest.Start(t, smtpemailtest.Options{TLS: smtpemailtest.StartTLS})
//	sender, _ := smtpemail.New(smtpemail.Options{Host: srv.Host, Port: srv.Port, TLSConfig: srv.ClientTLS()})
//	...
//	msgs := srv.WaitFor(t, 1)
//
// The server is stricter than go-smtp alone: it refuses, with 501, a MAIL FROM or RCPT TO
// whose path is not in angle brackets, as real relays do, and keeps each message's
// envelope as the client wrote it (Message.Envelope).
//
// It can also play a slow or broken relay after the data: Options.ReplyDelay holds the
// reply to the final ".", and Options.Data may return ErrNoReply (never answer) or
// ErrHangUp (close the connection instead of answering). Received counts every message
// whose data arrived, whatever the answer, to catch a message delivered twice, and
// ReceivedFor counts them by envelope recipient, to catch a recipient sent a message twice
// when it goes out in one transaction per recipient.
package smtpemailtest

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"maps"
	"math/big"
	"net"
	"net/mail"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// TLSMode is how the server protects connections.
type TLSMode string

// TLS modes.
const (
	NoTLS       TLSMode = ""
	StartTLS    TLSMode = "starttls" // offers STARTTLS on a plain connection
	ImplicitTLS TLSMode = "tls"      // speaks TLS from the first byte
)

// Options configures the server.
type Options struct {
	TLS TLSMode
	// Username and Password, when set, require authentication (PLAIN or LOGIN) before MAIL.
	Username, Password string
	// Rcpt, when set, may refuse a recipient: return an *smtp.SMTPError (for example
	// &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}).
	Rcpt func(to string) error
	// Data, when set, may refuse a message after reading it: return an *smtp.SMTPError,
	// or ErrNoReply or ErrHangUp to leave the client without an answer. It runs on the
	// connection's goroutine and may block.
	Data func(m Message) error
	// ReplyDelay holds the reply to each message's final "." (an acceptance, or a refusal
	// from Data) for that long: a relay slow to answer. The message counts as Received at
	// once, and among Messages only once accepted. Default: no delay.
	ReplyDelay time.Duration
}

// ErrNoReply, returned by Options.Data, makes the server never answer the final "." of
// that message: it holds the connection open without a word until the test ends (the
// client's own timeout is under test).
var ErrNoReply = errors.New("smtpemailtest: no reply")

// ErrHangUp, returned by Options.Data, makes the server close the connection instead of
// answering the final "." of that message: a relay that crashed or dropped the link after
// the data.
var ErrHangUp = errors.New("smtpemailtest: hang up")

// Message is one accepted message.
type Message struct {
	From string
	To   []string
	Data []byte
	// User is the authenticated user ("" when none); TLS tells whether the session was
	// encrypted.
	User string
	TLS  bool
	// Envelope is the MAIL FROM and RCPT TO command lines as the client wrote them,
	// parameters included: "MAIL FROM:<a@example.com> BODY=8BITMIME", "RCPT TO:<b@example.com>".
	Envelope []string
	// MessageID is the Message-ID header without its angle brackets ("" when none).
	MessageID string
}

// Server is a running SMTP server, stopped when the test ends.
type Server struct {
	Host string
	Port int

	opts    Options
	srv     *smtp.Server
	roots   *x509.CertPool
	certPEM []byte

	mu       sync.Mutex
	msgs     []Message
	received map[string]int // by Message-ID
	byRcpt   map[rcptKey]int
	conns    int
	notify   chan struct{}
	stopped  chan struct{} // closed when the test ends
}

// Start starts a server on 127.0.0.1 and a free port.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	s := &Server{
		Host: "127.0.0.1", opts: opts, received: map[string]int{}, byRcpt: map[rcptKey]int{},
		notify: make(chan struct{}, 1), stopped: make(chan struct{}),
	}
	cert, roots := selfSigned(t)
	s.roots = roots
	s.certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]})
	srv := smtp.NewServer(backend{s})
	srv.Domain = "mx.test"
	// go-smtp sees every connection as plain (the wireConn does TLS under it); the session
	// offers and allows AUTH only when encrypted, or with NoTLS.
	srv.AllowInsecureAuth = true
	srv.ReadTimeout = 30 * time.Second
	srv.WriteTimeout = 30 * time.Second
	srv.MaxMessageBytes = 64 << 20
	srv.MaxRecipients = 100
	tlsConfig := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("smtpemailtest: listen: %v", err)
	}
	ln := &wireListener{Listener: tcp, s: s}
	switch opts.TLS {
	case StartTLS:
		// go-smtp offers STARTTLS in EHLO; the wireConn carries it out.
		srv.TLSConfig = tlsConfig
		ln.startTLS = tlsConfig
	case ImplicitTLS:
		ln.implicitTLS = tlsConfig
	}
	s.srv = srv
	s.Port = tcp.Addr().(*net.TCPAddr).Port
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		close(s.stopped)
		_ = srv.Close()
	})
	return s
}

// Addr returns "host:port".
func (s *Server) Addr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) }

// ClientTLS returns a client TLS configuration that trusts the server's certificate.
func (s *Server) ClientTLS() *tls.Config {
	return &tls.Config{RootCAs: s.roots, ServerName: s.Host, MinVersion: tls.VersionTLS12}
}

// CertPEM returns the server's certificate in PEM, for a client given a CA file.
func (s *Server) CertPEM() []byte { return s.certPEM }

// Messages returns the messages accepted so far.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// Connections counts the connections clients opened.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns
}

// Received counts the messages with this Message-ID (with or without its angle brackets)
// whose data the server read in full, whatever it answered: accepted, refused, answered
// late, never answered or hung up on. More than one means the message was handed over
// more than once.
func (s *Server) Received(messageID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.received[strings.Trim(strings.TrimSpace(messageID), "<>")]
}

// rcptKey is a Message-ID (without angle brackets) and an envelope recipient (lower case).
type rcptKey struct{ messageID, rcpt string }

// ReceivedFor counts the messages with this Message-ID whose data the server read in full
// with rcpt among their envelope recipients (RCPT TO), whatever it answered, as Received
// does. More than one means rcpt was handed the message more than once.
func (s *Server) ReceivedFor(messageID, rcpt string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.byRcpt[rcptKey{strings.Trim(strings.TrimSpace(messageID), "<>"), strings.ToLower(rcpt)}]
}

// Receipts returns Received for every Message-ID seen (without angle brackets).
func (s *Server) Receipts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.received)
}

// wireListener counts connections and puts a wireConn on each.
type wireListener struct {
	net.Listener
	s           *Server
	startTLS    *tls.Config
	implicitTLS *tls.Config
}

func (l *wireListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.s.mu.Lock()
	l.s.conns++
	l.s.mu.Unlock()
	if l.implicitTLS != nil {
		return newWireConn(tls.Server(c, l.implicitTLS), true, nil), nil
	}
	return newWireConn(c, false, l.startTLS), nil
}

// WaitFor waits (up to 20 s) until n messages were accepted and returns them.
func (s *Server) WaitFor(t testing.TB, n int) []Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		if msgs := s.Messages(); len(msgs) >= n {
			return msgs
		}
		select {
		case <-s.notify:
		case <-ctx.Done():
			t.Fatalf("smtpemailtest: %d messages arrived, want %d", len(s.Messages()), n)
		}
	}
}

type backend struct{ s *Server }

func (b backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	w, ok := c.Conn().(*wireConn)
	if !ok {
		return nil, errors.New("smtpemailtest: connection not accepted by the wire listener")
	}
	return &session{s: b.s, wire: w}, nil
}

type session struct {
	s        *Server
	wire     *wireConn
	user     string
	from     string
	to       []string
	envelope []string
}

var _ smtp.AuthSession = (*session)(nil)

// authAllowed: with TLS, only once the session is encrypted (RFC 4954 §4, for PLAIN and
// LOGIN).
func (ss *session) authAllowed() bool {
	return ss.s.opts.TLS == NoTLS || ss.wire.isTLS()
}

func (ss *session) AuthMechanisms() []string {
	if ss.s.opts.Username == "" || !ss.authAllowed() {
		return nil
	}
	return []string{sasl.Plain, sasl.Login}
}

func (ss *session) Auth(mech string) (sasl.Server, error) {
	if !ss.authAllowed() {
		return nil, &smtp.SMTPError{Code: 523, EnhancedCode: smtp.EnhancedCode{5, 7, 10}, Message: "TLS is required"}
	}
	check := func(user, pass string) error {
		if user != ss.s.opts.Username || pass != ss.s.opts.Password {
			return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "Authentication credentials invalid"}
		}
		ss.user = user
		return nil
	}
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(_, user, pass string) error { return check(user, pass) }), nil
	case sasl.Login:
		return &loginServer{check: check}, nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

// Mail and Rcpt run on the connection's goroutine right after go-smtp parsed the line the
// wireConn saw last (it hands lines over one at a time), so wire.mail is this command.
func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if err := checkPath(ss.wire.mail, "MAIL FROM:"); err != nil {
		return err
	}
	if ss.s.opts.Username != "" && ss.user == "" {
		return smtp.ErrAuthRequired
	}
	ss.from = from
	ss.envelope = []string{ss.wire.mail}
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if err := checkPath(ss.wire.rcpt, "RCPT TO:"); err != nil {
		return err
	}
	if ss.s.opts.Rcpt != nil {
		if err := ss.s.opts.Rcpt(to); err != nil {
			return err
		}
	}
	ss.to = append(ss.to, to)
	ss.envelope = append(ss.envelope, ss.wire.rcpt)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m := Message{
		From: ss.from, To: ss.to, Data: data, User: ss.user, TLS: ss.wire.isTLS(),
		Envelope: ss.envelope, MessageID: messageID(data),
	}
	ss.s.mu.Lock()
	if m.MessageID != "" {
		ss.s.received[m.MessageID]++
		for _, to := range m.To {
			ss.s.byRcpt[rcptKey{m.MessageID, strings.ToLower(to)}]++
		}
	}
	ss.s.mu.Unlock()
	ss.s.signal()

	if ss.s.opts.Data != nil {
		err = ss.s.opts.Data(m)
	}
	switch {
	case errors.Is(err, ErrHangUp):
		_ = ss.wire.Close()
		return err
	case errors.Is(err, ErrNoReply):
		<-ss.s.stopped
		return err
	}
	if d := ss.s.opts.ReplyDelay; d > 0 {
		timer := time.NewTimer(d)
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-ss.s.stopped:
			return errors.New("smtpemailtest: stopped")
		}
	}
	if err != nil {
		return err
	}
	ss.s.mu.Lock()
	ss.s.msgs = append(ss.s.msgs, m)
	ss.s.mu.Unlock()
	ss.s.signal()
	return nil
}

func (s *Server) signal() {
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

// messageID returns the Message-ID of raw without angle brackets, or "".
func messageID(raw []byte) string {
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return ""
	}
	return strings.Trim(strings.TrimSpace(msg.Header.Get("Message-Id")), "<>")
}

func (ss *session) Reset() { ss.from, ss.to, ss.envelope = "", nil, nil }

func (ss *session) Logout() error { return nil }

// loginServer is the server side of AUTH LOGIN (go-sasl only has the client).
type loginServer struct {
	check func(user, pass string) error
	step  int
	user  string
}

func (l *loginServer) Next(response []byte) ([]byte, bool, error) {
	switch l.step {
	case 0:
		l.step++
		if len(response) > 0 { // initial response: the user name
			l.user = string(response)
			l.step++
			return []byte("Password:"), false, nil
		}
		return []byte("Username:"), false, nil
	case 1:
		l.user = string(response)
		l.step++
		return []byte("Password:"), false, nil
	case 2:
		l.step++
		return nil, true, l.check(l.user, string(response))
	}
	return nil, false, errors.New("unexpected LOGIN step")
}

// selfSigned makes a certificate for 127.0.0.1 and localhost, and a pool that trusts it.
func selfSigned(t testing.TB) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("smtpemailtest: key: %v", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "smtpemailtest"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:    []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("smtpemailtest: certificate: %v", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("smtpemailtest: certificate: %v", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}
