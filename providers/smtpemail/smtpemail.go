// Package smtpemail sends email through any SMTP relay (Postfix, Mailgun, SendGrid, SES's
// SMTP interface, Microsoft 365, ...).
//
// go-mail (github.com/wneessen/go-mail) makes the connections: the TCP or implicit-TLS
// dial, EHLO, STARTTLS, and PLAIN or LOGIN authentication. The message itself is built by
// providers/mimemail and sent as it is with MAIL FROM, RCPT TO and DATA, so SMTP and SES
// carry the very same bytes. Connections are pooled: a send takes an idle connection
// (checked with RSET) or dials a new one, up to MaxConns at once.
//
// Errors are classified for the core: a 4xx reply is Transient (Throttled when it says so:
// rate limits, "too many"), a 5xx reply Permanent with the server's code and text as the
// diagnostic, a network failure or timeout Transient. A refused login is Transient too,
// with the code "auth_failed": it is a configuration problem, not the message's, and
// failing every queued message for it would lose mail the fixed credentials could send.
//
// Recipients are all or nothing: when the server refuses one RCPT TO, the message is not
// sent to the others either (RSET), and the refusal decides the outcome.
package smtpemail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"time"

	mail "github.com/wneessen/go-mail"
	"github.com/wneessen/go-mail/smtp"

	"github.com/sendoka/sendoka/providers/mimemail"
	"github.com/sendoka/sendoka/sendoka"
)

// Security is how the connection is protected.
type Security string

// Connection security modes.
const (
	// StartTLS connects in plain text and upgrades with STARTTLS; a server that does not
	// offer it is refused. The default, on port 587.
	StartTLS Security = "starttls"
	// ImplicitTLS speaks TLS from the first byte ("SMTPS"), on port 465.
	ImplicitTLS Security = "tls"
	// NoTLS sends everything in plain text, on port 25. Only for a relay on a trusted
	// network (localhost, a sidecar).
	NoTLS Security = "none"
)

// Auth is an SMTP authentication mechanism.
type Auth string

// Authentication mechanisms.
const (
	AuthPlain Auth = "plain"
	AuthLogin Auth = "login"
)

// Options configures a Sender. Host is required; every other field has a default.
type Options struct {
	// Host is the relay's host name (also the name its TLS certificate must carry).
	Host string
	// Port defaults to 587 for StartTLS, 465 for ImplicitTLS and 25 for NoTLS.
	Port int
	// Security defaults to StartTLS.
	Security Security
	// Username and Password, when Username is set, log in with Auth (default AuthPlain).
	// With NoTLS the password crosses the network in the clear: the Sender allows it, since
	// choosing NoTLS says the network is trusted.
	Username string
	Password string
	Auth     Auth
	// TLSConfig verifies the server. Default: the system roots, ServerName = Host.
	TLSConfig *tls.Config
	// HELO is the name given in EHLO. Default: this machine's host name.
	HELO string
	// MaxConns bounds the connections open at once (sends wait for one). Default: 4.
	MaxConns int
	// IdleTimeout closes a pooled connection unused for that long, before servers drop it
	// themselves. Default: 30s.
	IdleTimeout time.Duration
	// DialTimeout bounds connecting, TLS, EHLO and login. Default: 15s.
	DialTimeout time.Duration
	// SendTimeout bounds the MAIL/RCPT/DATA exchange of one message. Default: 2m.
	SendTimeout time.Duration
	// Name is the provider name recorded on messages. Default: "smtp".
	Name string
	// Logger receives connection problems. Default: quiet.
	Logger *slog.Logger
}

// Sender is an sendoka.EmailSender over SMTP. It is safe for concurrent use.
type Sender struct {
	opts   Options
	client *mail.Client
	log    *slog.Logger

	sem    chan struct{} // one token per open connection
	mu     sync.Mutex
	idle   []*conn // most recently used last
	closed bool
}

var (
	_ sendoka.EmailSender = (*Sender)(nil)
	_ sendoka.Namer       = (*Sender)(nil)
	_ io.Closer           = (*Sender)(nil)
)

type conn struct {
	c        *smtp.Client
	nc       net.Conn
	lastUsed time.Time
}

// connSlot carries the dialed net.Conn out of go-mail's dial, so that a connection whose
// EHLO, STARTTLS or login fails can be closed (go-mail leaves it open), and so that the
// caller's context can interrupt the greeting and login, which go-mail bounds only by its
// own timeout.
type connSlot struct {
	ctx  context.Context
	nc   net.Conn
	stop func() bool
}

type connSlotKey struct{}

// New returns a Sender for opts.
func New(opts Options) (*Sender, error) {
	if opts.Host == "" {
		return nil, errors.New("smtpemail: Options.Host is required")
	}
	if opts.Security == "" {
		opts.Security = StartTLS
	}
	if opts.Port == 0 {
		switch opts.Security {
		case ImplicitTLS:
			opts.Port = 465
		case NoTLS:
			opts.Port = 25
		default:
			opts.Port = 587
		}
	}
	if opts.Username != "" && opts.Auth == "" {
		opts.Auth = AuthPlain
	}
	if opts.MaxConns <= 0 {
		opts.MaxConns = 4
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = 30 * time.Second
	}
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = 15 * time.Second
	}
	if opts.SendTimeout <= 0 {
		opts.SendTimeout = 2 * time.Minute
	}
	if opts.Name == "" {
		opts.Name = "smtp"
	}
	tlsConfig := &tls.Config{ServerName: opts.Host, MinVersion: tls.VersionTLS12}
	if opts.TLSConfig != nil {
		tlsConfig = opts.TLSConfig.Clone()
		if tlsConfig.ServerName == "" {
			tlsConfig.ServerName = opts.Host
		}
	}
	s := &Sender{opts: opts, log: opts.Logger, sem: make(chan struct{}, opts.MaxConns)}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}

	dialer := &net.Dialer{}
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		var nc net.Conn
		var err error
		if opts.Security == ImplicitTLS {
			nc, err = (&tls.Dialer{NetDialer: dialer, Config: tlsConfig}).DialContext(ctx, network, addr)
		} else {
			nc, err = dialer.DialContext(ctx, network, addr)
		}
		if slot, ok := ctx.Value(connSlotKey{}).(*connSlot); ok && err == nil {
			slot.nc = nc
			slot.stop = context.AfterFunc(slot.ctx, func() { _ = nc.SetDeadline(time.Unix(1, 0)) })
		}
		return nc, err
	}
	mopts := []mail.Option{
		mail.WithPort(opts.Port), mail.WithTimeout(opts.DialTimeout),
		mail.WithTLSConfig(tlsConfig), mail.WithDialContextFunc(dial),
	}
	if opts.HELO != "" {
		mopts = append(mopts, mail.WithHELO(opts.HELO))
	}
	switch opts.Security {
	case ImplicitTLS:
		// The dial above already speaks TLS: go-mail must neither wrap it nor STARTTLS.
		mopts = append(mopts, mail.WithSSL(), mail.WithTLSPolicy(mail.NoTLS))
	case StartTLS:
		mopts = append(mopts, mail.WithTLSPolicy(mail.TLSMandatory))
	case NoTLS:
		mopts = append(mopts, mail.WithTLSPolicy(mail.NoTLS))
	default:
		return nil, fmt.Errorf("smtpemail: unknown Security %q (starttls, tls or none)", opts.Security)
	}
	if opts.Username != "" {
		var mech mail.SMTPAuthType
		switch {
		case opts.Auth == AuthPlain && opts.Security == NoTLS:
			mech = mail.SMTPAuthPlainNoEnc
		case opts.Auth == AuthPlain:
			mech = mail.SMTPAuthPlain
		case opts.Auth == AuthLogin && opts.Security == NoTLS:
			mech = mail.SMTPAuthLoginNoEnc
		case opts.Auth == AuthLogin:
			mech = mail.SMTPAuthLogin
		default:
			return nil, fmt.Errorf("smtpemail: unknown Auth %q (plain or login)", opts.Auth)
		}
		mopts = append(mopts, mail.WithSMTPAuth(mech), mail.WithUsername(opts.Username), mail.WithPassword(opts.Password))
	}
	client, err := mail.NewClient(opts.Host, mopts...)
	if err != nil {
		return nil, fmt.Errorf("smtpemail: %w", err)
	}
	s.client = client
	return s, nil
}

// Name returns the provider name recorded on messages.
func (s *Sender) Name() string { return s.opts.Name }

// SendEmail sends m through the relay.
func (s *Sender) SendEmail(ctx context.Context, m *sendoka.OutboundEmail) (sendoka.SendResult, error) {
	if err := ctx.Err(); err != nil {
		return sendoka.SendResult{}, s.transient("canceled", err)
	}
	raw, err := mimemail.Build(m, nil)
	if err != nil {
		return sendoka.SendResult{}, s.permanent("invalid_message", err)
	}
	from, rcpts, err := mimemail.Envelope(m)
	if err != nil {
		return sendoka.SendResult{}, s.permanent("invalid_message", err)
	}
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return sendoka.SendResult{}, s.transient("canceled", ctx.Err())
	}
	defer func() { <-s.sem }()

	c, err := s.take(ctx)
	if err != nil {
		return sendoka.SendResult{}, err
	}
	reusable, err := s.send(ctx, c, from, rcpts, raw)
	if reusable {
		s.put(c)
	} else {
		s.discard(c)
	}
	if err != nil {
		return sendoka.SendResult{}, err
	}
	return sendoka.SendResult{ProviderMessageID: mimemail.MessageID(m)}, nil
}

// send runs one MAIL/RCPT/DATA exchange. It reports whether the connection may be reused:
// after a reply the server gave (and an RSET it accepted), yes; after a network error, no.
func (s *Sender) send(ctx context.Context, c *conn, from string, rcpts []string, raw []byte) (bool, error) {
	deadline := time.Now().Add(s.opts.SendTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if err := c.nc.SetDeadline(deadline); err != nil {
		return false, s.transient("network", err)
	}
	// A canceled context interrupts a blocked read or write at once.
	stop := context.AfterFunc(ctx, func() { _ = c.nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	fail := func(err error, what string) (bool, error) {
		if ctx.Err() != nil {
			return false, s.transient("canceled", ctx.Err())
		}
		var tp *textproto.Error
		if !errors.As(err, &tp) {
			return false, s.transient("network", fmt.Errorf("%s: %w", what, err))
		}
		reusable := c.c.Reset() == nil
		return reusable, s.reply(tp, what)
	}
	// go-mail writes "MAIL FROM:%s" and "RCPT TO:%s" with what it is given (adding
	// BODY=8BITMIME and SMTPUTF8 after it when the server offers them): the angle brackets
	// RFC 5321 requires are ours to add.
	if err := c.c.Mail(path(from)); err != nil {
		return fail(err, "MAIL FROM")
	}
	for _, r := range rcpts {
		if err := c.c.Rcpt(path(r)); err != nil {
			return fail(err, "RCPT TO <"+r+">")
		}
	}
	w, err := c.c.Data()
	if err != nil {
		return fail(err, "DATA")
	}
	if _, err := w.Write(raw); err != nil {
		_ = w.Close()
		return fail(err, "DATA")
	}
	if err := w.Close(); err != nil {
		return fail(err, "end of DATA")
	}
	c.lastUsed = time.Now()
	return true, nil
}

// path returns addr as an RFC 5321 path (§4.1.2): "<addr>", and "<>" for the null
// reverse-path.
func path(addr string) string { return "<" + addr + ">" }

// take returns a live pooled connection, or dials one.
func (s *Sender) take(ctx context.Context) (*conn, error) {
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return nil, s.transient("closed", errors.New("smtpemail: sender is closed"))
		}
		var c *conn
		if n := len(s.idle); n > 0 {
			c, s.idle = s.idle[n-1], s.idle[:n-1]
		}
		s.mu.Unlock()
		if c == nil {
			return s.dial(ctx)
		}
		if time.Since(c.lastUsed) > s.opts.IdleTimeout {
			s.discard(c)
			continue
		}
		// RSET proves the server still talks to us; a dropped connection fails fast here
		// instead of in the middle of a message.
		_ = c.nc.SetDeadline(time.Now().Add(min(s.opts.DialTimeout, 5*time.Second)))
		if err := c.c.Reset(); err != nil {
			s.discard(c)
			continue
		}
		return c, nil
	}
}

func (s *Sender) dial(ctx context.Context) (*conn, error) {
	slot := &connSlot{ctx: ctx}
	sc, err := s.client.DialToSMTPClientWithContext(context.WithValue(ctx, connSlotKey{}, slot))
	if slot.stop != nil {
		slot.stop()
	}
	if err != nil {
		if slot.nc != nil {
			_ = slot.nc.Close()
		}
		if ctx.Err() != nil {
			return nil, s.transient("canceled", ctx.Err())
		}
		var tp *textproto.Error
		if authFailed(err) {
			s.log.ErrorContext(ctx, "smtp login refused; check the username and password", "host", s.opts.Host, "error", err)
			pe := s.transient("auth_failed", err)
			if errors.As(err, &tp) {
				pe.Message = "login refused: " + strconv.Itoa(tp.Code) + " " + tp.Msg
			}
			return nil, pe
		}
		if errors.As(err, &tp) {
			return nil, s.reply(tp, "connect")
		}
		s.log.WarnContext(ctx, "smtp connect failed", "host", s.opts.Host, "port", s.opts.Port, "error", err)
		return nil, s.transient("connect_failed", err)
	}
	return &conn{c: sc, nc: slot.nc, lastUsed: time.Now()}, nil
}

func (s *Sender) put(c *conn) {
	s.mu.Lock()
	if !s.closed {
		s.idle = append(s.idle, c)
		c = nil
	}
	s.mu.Unlock()
	if c != nil {
		s.discard(c)
	}
}

func (s *Sender) discard(c *conn) {
	_ = c.nc.SetDeadline(time.Now().Add(time.Second))
	_ = c.c.Quit()
	_ = c.c.Close()
	if c.nc != nil {
		_ = c.nc.Close()
	}
}

// Close closes the idle connections; sends in flight finish on theirs, which are then closed.
func (s *Sender) Close() error {
	s.mu.Lock()
	idle := s.idle
	s.idle, s.closed = nil, true
	s.mu.Unlock()
	for _, c := range idle {
		s.discard(c)
	}
	return nil
}

// authFailed recognises go-mail's login failures: a refused AUTH, or no mechanism in common.
func authFailed(err error) bool {
	return strings.Contains(err.Error(), "SMTP AUTH") || errors.Is(err, mail.ErrPlainAuthNotSupported) ||
		errors.Is(err, mail.ErrLoginAuthNotSupported)
}

// reply classifies an SMTP reply: 4xx retry (throttled when it says so), 5xx fail.
func (s *Sender) reply(tp *textproto.Error, what string) *sendoka.ProviderError {
	code := strconv.Itoa(tp.Code)
	msg := tp.Msg
	if enh, rest, ok := strings.Cut(msg, " "); ok && isEnhancedCode(enh) {
		code += " " + enh
		msg = rest
	}
	pe := &sendoka.ProviderError{Provider: s.opts.Name, Code: code, Message: what + ": " + msg, Err: tp}
	switch {
	case tp.Code >= 500:
		pe.Kind = sendoka.Permanent
	case tp.Code >= 400 && throttling(tp):
		pe.Kind = sendoka.Throttled
	default:
		pe.Kind = sendoka.Transient
	}
	return pe
}

// throttling recognises the 4xx replies relays use for rate limits.
func throttling(tp *textproto.Error) bool {
	msg := strings.ToLower(tp.Msg)
	for _, w := range []string{"rate", "too many", "throttl", "slow down", "limit exceeded"} {
		if strings.Contains(msg, w) {
			return true
		}
	}
	return false
}

// isEnhancedCode recognises an RFC 3463 status code such as 5.1.1.
func isEnhancedCode(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) != 3 || (parts[0] != "2" && parts[0] != "4" && parts[0] != "5") {
		return false
	}
	for _, p := range parts[1:] {
		if _, err := strconv.Atoi(p); err != nil || len(p) == 0 || len(p) > 3 {
			return false
		}
	}
	return true
}

func (s *Sender) permanent(code string, err error) *sendoka.ProviderError {
	return &sendoka.ProviderError{Kind: sendoka.Permanent, Provider: s.opts.Name, Code: code, Message: err.Error(), Err: err}
}

func (s *Sender) transient(code string, err error) *sendoka.ProviderError {
	return &sendoka.ProviderError{Kind: sendoka.Transient, Provider: s.opts.Name, Code: code, Message: err.Error(), Err: err}
}
