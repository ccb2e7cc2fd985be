// Package smtpemail sends email through any SMTP relay (Postfix, Mailgun, SendGrid, SES's
// SMTP interface, Microsoft 365, ...).
//
// go-mail (github.com/wneessen/go-mail) makes the connections: the TCP or implicit-TLS
// dial, EHLO, STARTTLS, and PLAIN or LOGIN authentication. The message itself is built by
// providers/mimemail and sent as it is with MAIL FROM:<sender>, RCPT TO:<recipient> and
// DATA, so SMTP and SES carry the very same bytes. Connections are pooled: a send takes an
// idle connection (checked with RSET) or dials a new one, up to MaxConns at once. The
// Sender reports MaxConns as its sendoka.ConcurrencyLimiter limit, so the core hands over
// no more messages at once than there are connections.
//
// # DKIM
//
// A relay passes a message on as it is, so when the core hands over a key
// (sendoka.OutboundEmail.DKIM: live mail from a verified domain whose key Sendoka holds),
// the Sender signs the built message with it (mimemail.SignDKIM) before DATA. A key that
// cannot sign fails the message (Permanent, "dkim_signing").
//
// # Return path
//
// The envelope sender (MAIL FROM) is the From address, or sendoka.OutboundEmail.ReturnPath
// when the core sets one: a VERP address, bounces+<token>@<bounce domain>, whose bounces the
// inbound listener (hosts/smtpin) matches to the message. The From header is unchanged.
//
// # One transaction per recipient
//
// The Sender is a sendoka.PerRecipientSender. When the core sets
// sendoka.OutboundEmail.Envelopes (a VERP bounce domain is configured and the message has
// several recipients), the message goes out in one transaction per envelope, in order, on
// the pooled connection it took: the same bytes each time (one build, one DKIM signature),
// with MAIL FROM the envelope's own return path, whose token names its recipient, and one
// RCPT TO. A bounce then comes back to an address that says which recipient it is about.
// Each recipient's answer is reported in sendoka.SendResult.Recipients, classified as
// below:
//
//   - A refusal of one recipient (a 4xx or 5xx reply to MAIL FROM, RCPT TO, DATA or the
//     final ".") is that recipient's answer; the next recipient goes on the same
//     connection (after RSET; on a new one when the relay dropped it).
//   - A failure that leaves no connection in step with the relay (a network failure, a
//     timeout), throttling, an unknown outcome or an ended context stops the send there:
//     the envelopes not tried are left out of Recipients, and SendEmail returns the error
//     it stopped with. The core sends to them on its next attempt, and never again to a
//     recipient that was taken, refused with a 5xx or left unknown.
//
// Each transaction has the phase bounds below. Without Envelopes, or with one, a message
// goes out in one transaction to all its recipients.
//
// # Timeouts
//
// Each phase of a send has its own bound, counted from the start of that phase, never
// from the call: waiting for a connection costs a send none of its time.
//
//   - Options.DialTimeout (15s): a connection ready for the message: an RSET on a pooled
//     one, or connecting, TLS, the greeting, EHLO, STARTTLS and login.
//   - Options.CommandTimeout (30s): the reply to each MAIL FROM, RCPT TO and DATA.
//   - Options.DataTimeout (3m): writing the message, up to the final ".".
//   - Options.FinalReplyTimeout (10m): the relay's reply to the final ".".
//
// The caller's context still stops a send at once. Sender.MaxSendDuration is the sum of
// the bounds: a context that lasts at least that long never cuts a send short.
//
// # Errors
//
// Errors are classified for the core. A relay takes a message only when it answers the
// final "." with a 2xx reply, so what a failure means depends on when it happens:
//
//   - A reply, at any step: 4xx is Transient (Throttled when it says so: rate limits,
//     "too many"), 5xx Permanent with the server's code and text as the diagnostic.
//   - A network failure, a timeout or an ended context before the final "." is written
//     is Transient: the relay has nothing to deliver, and the message can go again.
//   - No reply to the final "." (FinalReplyTimeout ran out, the connection dropped, the
//     context ended) is sendoka.Unknown, code "outcome_unknown": the relay may have taken
//     the message and be delivering it, so the core records the outcome as unknown and
//     does not send it again.
//
// A refused login is Transient too, with the code "auth_failed": it is a configuration
// problem, not the message's, and failing every queued message for it would lose mail the
// fixed credentials could send.
//
// In one transaction, recipients are all or nothing: when the server refuses one RCPT TO,
// the message is not sent to the others either (RSET), and the refusal decides the outcome.
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
	// MaxConns bounds the connections open at once; it is the Sender's MaxConcurrency, so
	// the core never has a send wait for one. Default: 4.
	MaxConns int
	// IdleTimeout closes a pooled connection unused for that long, before servers drop it
	// themselves. Default: 30s.
	IdleTimeout time.Duration
	// DialTimeout bounds getting a connection ready for a message: checking a pooled one
	// with RSET (at most 5s each) or, when none answers, connecting, TLS, the greeting,
	// EHLO, STARTTLS and login. Default: 15s.
	DialTimeout time.Duration
	// CommandTimeout bounds the wait for the reply to each MAIL FROM, RCPT TO (one per
	// recipient), DATA and RSET. RFC 5321 §4.5.3.2 lets a relay take minutes; a submission
	// relay answers in milliseconds, and a relay takes nothing before the final ".", so a
	// timeout here only sends the message again later. Default: 30s.
	CommandTimeout time.Duration
	// DataTimeout bounds writing the message, from the 354 reply to DATA through the final
	// ".". A message cut off is incomplete, so the relay cannot take it, and the send is
	// retried. Default: 3m, RFC 5321 §4.5.3.2.5's bound on each block written, here on the
	// whole message: Sendoka's largest messages (near 15 MB) fit down to 85 KB/s.
	DataTimeout time.Duration
	// FinalReplyTimeout bounds the wait for the reply to the final ".", which says whether
	// the relay took the message; relays may scan a message before they answer. When it
	// runs out the send fails as sendoka.Unknown: the relay may have the message, and the
	// core does not send it again. Default: 10m, RFC 5321 §4.5.3.2.6, which warns that a
	// spurious timeout here typically delivers several copies.
	FinalReplyTimeout time.Duration
	// SendTimeout is ignored. It bounded a message's whole exchange, the wait for the reply
	// to the final "." included, so it cut off slow relays that had taken the message, and
	// the retry delivered it twice.
	//
	// Deprecated: CommandTimeout, DataTimeout and FinalReplyTimeout bound each phase;
	// Sender.MaxSendDuration is their sum.
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
	_ sendoka.EmailSender        = (*Sender)(nil)
	_ sendoka.Namer              = (*Sender)(nil)
	_ sendoka.ConcurrencyLimiter = (*Sender)(nil)
	_ io.Closer                  = (*Sender)(nil)
)

type conn struct {
	c        *smtp.Client
	nc       net.Conn
	lastUsed time.Time
}

// connSlot carries the dialed net.Conn out of go-mail's dial, so that a connection whose
// EHLO, STARTTLS or login fails can be closed (go-mail leaves it open), and so that ctx
// (the caller's, bounded by DialTimeout from the start of take) can interrupt the greeting
// and login, which go-mail bounds only by its own timeout from the end of the dial.
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
	if opts.CommandTimeout <= 0 {
		opts.CommandTimeout = 30 * time.Second
	}
	if opts.DataTimeout <= 0 {
		opts.DataTimeout = 3 * time.Minute
	}
	if opts.FinalReplyTimeout <= 0 {
		opts.FinalReplyTimeout = 10 * time.Minute
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

// MaxConcurrency returns MaxConns: the core holds at most that many messages mid-hand-off,
// so a send never waits for a connection.
func (s *Sender) MaxConcurrency() int { return s.opts.MaxConns }

// MaxSendDuration returns the longest SendEmail may take, once a connection slot is free,
// for a message with the most recipients the core sends (sendoka.MaxEmailRecipientsTotal):
// the sum of every phase's bound, DialTimeout + (recipients + 3) × CommandTimeout (MAIL
// FROM, each RCPT TO, DATA and an RSET after a refusal) + DataTimeout + FinalReplyTimeout.
// 39m45s with the defaults.
//
// A host gives each send a context at least this long, plus a margin. Only the last phase
// needs it: a context that ends before the data is written fails the send as Transient and
// it goes again, but one that ends while the reply to the final "." is awaited makes the
// outcome Unknown where waiting would have told.
//
// A message sent recipient by recipient (sendoka.OutboundEmail.Envelopes) takes one
// transaction per recipient, each within the same bounds, so in the worst case longer than
// this. A relay that slow is cut off by the context: the recipients not tried by then go on
// the core's next attempt, and the one whose reply was awaited, if any, is Unknown.
func (s *Sender) MaxSendDuration() time.Duration {
	commands := time.Duration(sendoka.MaxEmailRecipientsTotal + 3)
	return s.opts.DialTimeout + commands*s.opts.CommandTimeout + s.opts.DataTimeout + s.opts.FinalReplyTimeout
}

// SendsPerRecipient reports true: the Sender sends one transaction per envelope when
// given sendoka.OutboundEmail.Envelopes (see the package doc).
func (s *Sender) SendsPerRecipient() bool { return true }

// SendEmail sends m through the relay: in one transaction, or in one per envelope when
// m.Envelopes is set.
func (s *Sender) SendEmail(ctx context.Context, m *sendoka.OutboundEmail) (sendoka.SendResult, error) {
	if err := ctx.Err(); err != nil {
		return sendoka.SendResult{}, s.transient("canceled", err)
	}
	raw, err := mimemail.Build(m, nil)
	if err != nil {
		return sendoka.SendResult{}, s.permanent("invalid_message", err)
	}
	if m.DKIM != nil {
		// The relay passes the message on as it is: the signature is ours to add.
		if raw, err = mimemail.SignDKIM(raw, m.DKIM); err != nil {
			return sendoka.SendResult{}, s.permanent("dkim_signing", err)
		}
	}
	from, rcpts, err := mimemail.Envelope(m)
	if err != nil {
		return sendoka.SendResult{}, s.permanent("invalid_message", err)
	}
	if m.ReturnPath != "" {
		// A VERP return path: bounces come back to the inbound listener, which matches them
		// to the message by its token.
		from = m.ReturnPath
	}
	// Not contended when the core honours MaxConcurrency; it keeps MaxConns true for other
	// callers. No phase's clock runs while it waits.
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return sendoka.SendResult{}, s.transient("canceled", ctx.Err())
	}
	defer func() { <-s.sem }()
	if len(m.Envelopes) > 0 {
		return s.sendEach(ctx, m, from, raw)
	}

	c, err := s.take(ctx)
	if err != nil {
		return sendoka.SendResult{}, err
	}
	reusable, err := s.send(ctx, c, from, rcpts, raw)
	if reusable {
		s.put(c)
	} else {
		s.discard(c, false)
	}
	if err != nil {
		return sendoka.SendResult{}, err
	}
	return sendoka.SendResult{ProviderMessageID: mimemail.MessageID(m)}, nil
}

// sendEach sends raw once per envelope of m, in order, each with the envelope's return path
// (from when it has none) and its one recipient, on one pooled connection (a new one when a
// refusal left it unusable). It stops at the first failure it cannot get past (goOn).
func (s *Sender) sendEach(ctx context.Context, m *sendoka.OutboundEmail, from string, raw []byte) (sendoka.SendResult, error) {
	res := sendoka.SendResult{Recipients: make([]sendoka.RecipientResult, 0, len(m.Envelopes))}
	var c *conn
	defer func() {
		if c != nil {
			s.put(c)
		}
	}()
	for _, env := range m.Envelopes {
		if c == nil {
			var err error
			if c, err = s.take(ctx); err != nil {
				return res, err
			}
		}
		returnPath := from
		if env.ReturnPath != "" {
			returnPath = env.ReturnPath
		}
		reusable, err := s.send(ctx, c, returnPath, []string{env.Recipient}, raw)
		if !reusable {
			s.discard(c, false)
			c = nil
		}
		res.ProviderMessageID = mimemail.MessageID(m)
		res.Recipients = append(res.Recipients, sendoka.RecipientResult{Recipient: env.Recipient, Err: err})
		if err != nil && !goOn(err) {
			return res, err
		}
	}
	return res, nil
}

// goOn reports whether a send recipient by recipient carries on after err, one recipient's
// failure: yes after the relay's refusal (a reply, 4xx or 5xx, that is not throttling), no
// after a failure that says nothing of the recipient (the connection, the context) or that
// the next recipient would meet too (throttling), nor after an unknown outcome.
func goOn(err error) bool {
	var pe *sendoka.ProviderError
	var tp *textproto.Error
	return errors.As(err, &pe) && (pe.Kind == sendoka.Permanent || pe.Kind == sendoka.Transient) && errors.As(err, &tp)
}

// send runs one MAIL/RCPT/DATA exchange, each phase under its own deadline. It reports
// whether the connection may be reused: after a reply the server gave (and an RSET it
// accepted), yes; after a network error, no.
func (s *Sender) send(ctx context.Context, c *conn, from string, rcpts []string, raw []byte) (bool, error) {
	// An ended context interrupts a blocked read or write at once.
	stop := context.AfterFunc(ctx, func() { _ = c.nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	// within starts a phase of at most d. The context is checked after the deadline is
	// set: a context that ended before would have its interruption undone.
	within := func(d time.Duration) error {
		if err := c.nc.SetDeadline(time.Now().Add(d)); err != nil {
			return err
		}
		return ctx.Err()
	}
	// fail classifies a failure before the final "." is written: the relay has nothing.
	fail := func(err error, what string, limit time.Duration) (bool, error) {
		if ctx.Err() != nil {
			return false, s.transient("canceled", ctx.Err())
		}
		var tp *textproto.Error
		if !errors.As(err, &tp) {
			return false, s.network(err, what, limit)
		}
		reusable := within(s.opts.CommandTimeout) == nil && c.c.Reset() == nil
		return reusable, s.reply(tp, what)
	}

	cmd := s.opts.CommandTimeout
	// go-mail writes "MAIL FROM:%s" and "RCPT TO:%s" with what it is given (adding
	// BODY=8BITMIME and SMTPUTF8 after it when the server offers them): the angle brackets
	// RFC 5321 requires are ours to add.
	if err := within(cmd); err != nil {
		return fail(err, "MAIL FROM", cmd)
	}
	if err := c.c.Mail(path(from)); err != nil {
		return fail(err, "MAIL FROM", cmd)
	}
	for _, r := range rcpts {
		if err := within(cmd); err != nil {
			return fail(err, "RCPT TO <"+r+">", cmd)
		}
		if err := c.c.Rcpt(path(r)); err != nil {
			return fail(err, "RCPT TO <"+r+">", cmd)
		}
	}
	// DATA goes through the textproto connection under go-mail's client (its documented
	// extension point), not Client.Data: go-mail's writer sends the final "." and reads
	// the reply in one call, and the two need different deadlines and different verdicts.
	text := c.c.Text
	if err := within(cmd); err != nil {
		return fail(err, "DATA", cmd)
	}
	if err := dataCommand(text); err != nil {
		return fail(err, "DATA", cmd)
	}
	if err := within(s.opts.DataTimeout); err != nil {
		return fail(err, "message data", s.opts.DataTimeout)
	}
	w := text.DotWriter()
	_, err := w.Write(raw)
	if cerr := w.Close(); err == nil {
		err = cerr // the final ".", flushed
	}
	if err != nil {
		// A write that failed did not hand all its bytes over: the relay never saw the
		// final "." and cannot take an incomplete message.
		return fail(err, "message data", s.opts.DataTimeout)
	}

	// The relay has the whole message; only its reply says whether it took it. From here
	// on, no reply is not a failure to retry: the outcome is unknown.
	if err := within(s.opts.FinalReplyTimeout); err != nil {
		return false, s.unknown(ctx, err)
	}
	if _, _, err := text.ReadResponse(2); err != nil {
		var tp *textproto.Error
		if errors.As(err, &tp) && tp.Code >= 400 {
			reusable := within(cmd) == nil && c.c.Reset() == nil
			return reusable, s.reply(tp, "end of DATA")
		}
		return false, s.unknown(ctx, err)
	}
	c.lastUsed = time.Now()
	return true, nil
}

// dataCommand sends DATA and reads its 354, keeping textproto's request and response
// sequence in step even when the write fails (go-mail's next command waits on it).
func dataCommand(text *textproto.Conn) error {
	id, err := text.Cmd("DATA")
	text.StartResponse(id)
	defer text.EndResponse(id)
	if err != nil {
		return err
	}
	_, _, err = text.ReadResponse(354)
	return err
}

// path returns addr as an RFC 5321 path (§4.1.2): "<addr>", and "<>" for the null
// reverse-path.
func path(addr string) string { return "<" + addr + ">" }

// take returns a live pooled connection, or dials one, within DialTimeout.
func (s *Sender) take(ctx context.Context) (*conn, error) {
	readyCtx, cancel := context.WithTimeout(ctx, s.opts.DialTimeout)
	defer cancel()
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
			return s.dial(ctx, readyCtx)
		}
		if time.Since(c.lastUsed) > s.opts.IdleTimeout {
			go s.discard(c, true)
			continue
		}
		// RSET proves the server still talks to us; a dropped connection fails fast here
		// instead of in the middle of a message. A silent one gets 5 seconds, not all of
		// DialTimeout.
		deadline := time.Now().Add(min(s.opts.CommandTimeout, 5*time.Second))
		if d, _ := readyCtx.Deadline(); d.Before(deadline) {
			deadline = d
		}
		_ = c.nc.SetDeadline(deadline)
		stop := context.AfterFunc(readyCtx, func() { _ = c.nc.SetDeadline(time.Unix(1, 0)) })
		err := readyCtx.Err()
		if err == nil {
			err = c.c.Reset()
		}
		stop()
		if err != nil {
			s.discard(c, false)
			if ctx.Err() != nil {
				return nil, s.transient("canceled", ctx.Err())
			}
			if readyCtx.Err() != nil {
				return nil, s.transient("connect_failed", fmt.Errorf("no connection ready within %s", s.opts.DialTimeout))
			}
			continue
		}
		return c, nil
	}
}

// dial connects within readyCtx (ctx bounded by DialTimeout).
func (s *Sender) dial(ctx, readyCtx context.Context) (*conn, error) {
	slot := &connSlot{ctx: readyCtx}
	sc, err := s.client.DialToSMTPClientWithContext(context.WithValue(readyCtx, connSlotKey{}, slot))
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
		pe := s.transient("connect_failed", err)
		if readyCtx.Err() != nil {
			pe.Message = fmt.Sprintf("no connection ready within %s: %v", s.opts.DialTimeout, err)
		}
		return nil, pe
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
		go s.discard(c, true) // the send is over: its caller does not wait for the QUIT
	}
}

// discard closes c. polite: the connection is in step with the server, so say QUIT first
// (within a second); after a network error the stream is in an unknown state, and QUIT
// could only wait.
func (s *Sender) discard(c *conn, polite bool) {
	if polite {
		_ = c.nc.SetDeadline(time.Now().Add(time.Second))
		_ = c.c.Quit()
	}
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
		s.discard(c, true)
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

// network classifies a failure of the connection during what, before the final "." is
// written: Transient, "timeout" when limit ran out.
func (s *Sender) network(err error, what string, limit time.Duration) *sendoka.ProviderError {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		pe := s.transient("timeout", err)
		pe.Message = fmt.Sprintf("%s: no progress within %s", what, limit)
		return pe
	}
	return s.transient("network", fmt.Errorf("%s: %w", what, err))
}

// unknown classifies the lack of a reply to the final ".": the relay had the whole message
// and may have taken it.
func (s *Sender) unknown(ctx context.Context, err error) *sendoka.ProviderError {
	var msg string
	var ne net.Error
	switch {
	case ctx.Err() != nil:
		err = ctx.Err()
		msg = fmt.Sprintf("stopped waiting for the reply to the end of DATA (%v); the relay may have accepted the message", err)
	case errors.As(err, &ne) && ne.Timeout():
		msg = fmt.Sprintf("no reply to the end of DATA within %s; the relay may have accepted the message", s.opts.FinalReplyTimeout)
	default:
		msg = fmt.Sprintf("connection lost waiting for the reply to the end of DATA (%v); the relay may have accepted the message", err)
	}
	s.log.WarnContext(ctx, "smtp outcome unknown: no reply to the end of DATA", "host", s.opts.Host, "error", msg)
	return &sendoka.ProviderError{Kind: sendoka.Unknown, Provider: s.opts.Name, Code: "outcome_unknown", Message: msg, Err: err}
}

func (s *Sender) transient(code string, err error) *sendoka.ProviderError {
	return &sendoka.ProviderError{Kind: sendoka.Transient, Provider: s.opts.Name, Code: code, Message: err.Error(), Err: err}
}
