// Package smtpin is Sendoka's inbound SMTP listener: the MX of the bounce domain and of the
// inbound domains. It takes three kinds of mail, and nothing else:
//
//   - Reports about mail Sendoka sent, to a VERP return path (bounces+<token>@<bounce
//     domain>, sendoka.Client.ReturnPath) or to fbl@, abuse@ or postmaster@ the bounce
//     domain: DSNs, free-text bounces and ARF complaints, read by package bounce and applied
//     with sendoka.Client.HandleDeliveryReport to the message and the recipient the VERP
//     token names (each recipient of a message with several had a return path of its own),
//     whatever address the report itself names: a hard bounce makes the recipient bounced
//     and suppresses its address; a complaint suppresses it.
//   - Mail to unsubscribe+<token>@<bounce domain>, the mailto of a broadcast's
//     List-Unsubscribe: the contact is unsubscribed (sendoka.Client.UnsubscribeByMail).
//   - Mail to an inbound route's address: stored as an inbound email of the route's
//     namespace, with an email.received webhook event (sendoka.Client.ReceiveInboundEmail).
//
// It is never an open relay: it offers no authentication, and RCPT TO is refused for every
// address it does not take itself, with 554 5.7.1 for a domain that is not one of its
// domains and 550 5.1.1 for an unknown address of one. STARTTLS is offered when
// Options.TLSConfig is set; messages are bounded by Options.MaxMessageBytes (SIZE) and
// connections by read and write timeouts and their number (Options.MaxConnections).
package smtpin

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"github.com/emersion/go-smtp"
	"golang.org/x/net/netutil"

	"github.com/sendoka/sendoka/bounce"
	"github.com/sendoka/sendoka/sendoka"
)

// Options configures a Server. Every zero field has the default it names.
type Options struct {
	// Addr is where ListenAndServe listens, for example ":25" or "127.0.0.1:2525".
	Addr string
	// Hostname is the name in the greeting and EHLO reply. Default: os.Hostname().
	Hostname string
	// TLSConfig, when set, offers STARTTLS with its certificate. Default: no TLS.
	TLSConfig *tls.Config
	// MaxMessageBytes bounds a message (advertised as SIZE). Default: the Client's
	// InboundConfig().MaxMessageBytes (25 MiB).
	MaxMessageBytes int64
	// MaxRecipients bounds the RCPT TO of one message. Default: 50.
	MaxRecipients int
	// MaxConnections bounds the connections served at once; more wait in the listen
	// backlog. Default: 100.
	MaxConnections int
	// ReadTimeout and WriteTimeout bound each read and write of a connection. Default: 60s.
	ReadTimeout  time.Duration
	WriteTimeout time.Duration
	// HandleTimeout bounds the work a message's recipients take (parsing and storing).
	// Default: 30s.
	HandleTimeout time.Duration
	// Logger receives what the listener did with each message. Default: quiet.
	Logger *slog.Logger
}

// Server is the listener.
type Server struct {
	c    *sendoka.Client
	opts Options
	log  *slog.Logger
	smtp *smtp.Server
}

// reportLocals are the local parts of the bounce domain that take complaints and reports
// not sent to a VERP address (feedback loops are registered with one fixed address).
var reportLocals = map[string]bool{"fbl": true, "abuse": true, "postmaster": true}

// New returns a Server for c.
func New(c *sendoka.Client, opts Options) *Server {
	if opts.Hostname == "" {
		opts.Hostname, _ = os.Hostname()
		if opts.Hostname == "" {
			opts.Hostname = "localhost"
		}
	}
	if opts.MaxMessageBytes <= 0 {
		opts.MaxMessageBytes = c.InboundConfig().MaxMessageBytes
	}
	if opts.MaxRecipients <= 0 {
		opts.MaxRecipients = 50
	}
	if opts.MaxConnections <= 0 {
		opts.MaxConnections = 100
	}
	if opts.ReadTimeout <= 0 {
		opts.ReadTimeout = 60 * time.Second
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = 60 * time.Second
	}
	if opts.HandleTimeout <= 0 {
		opts.HandleTimeout = 30 * time.Second
	}
	s := &Server{c: c, opts: opts, log: opts.Logger}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	srv := smtp.NewServer(smtp.BackendFunc(func(conn *smtp.Conn) (smtp.Session, error) {
		return &session{s: s}, nil
	}))
	srv.Addr = opts.Addr
	srv.Domain = opts.Hostname
	srv.TLSConfig = opts.TLSConfig
	srv.MaxMessageBytes = opts.MaxMessageBytes
	srv.MaxRecipients = opts.MaxRecipients
	srv.ReadTimeout = opts.ReadTimeout
	srv.WriteTimeout = opts.WriteTimeout
	srv.ErrorLog = errorLog{s.log}
	s.smtp = srv
	return s
}

type errorLog struct{ log *slog.Logger }

func (e errorLog) Printf(format string, v ...any) { e.log.Warn("smtpin: " + fmt.Sprintf(format, v...)) }
func (e errorLog) Println(v ...any)               { e.log.Warn("smtpin: " + fmt.Sprint(v...)) }

// Serve accepts connections on l, at most Options.MaxConnections at once, until Close or
// Shutdown.
func (s *Server) Serve(l net.Listener) error {
	return s.smtp.Serve(netutil.LimitListener(l, s.opts.MaxConnections))
}

// ListenAndServe listens on Options.Addr and serves.
func (s *Server) ListenAndServe() error {
	l, err := net.Listen("tcp", s.opts.Addr)
	if err != nil {
		return err
	}
	return s.Serve(l)
}

// Close stops the listener and drops open connections.
func (s *Server) Close() error { return s.smtp.Close() }

// Shutdown stops the listener and waits for open connections to end, until ctx does.
func (s *Server) Shutdown(ctx context.Context) error { return s.smtp.Shutdown(ctx) }

// targetKind is what the listener does with mail for one recipient.
type targetKind int

const (
	toReport      targetKind = iota // a DSN, bounce or complaint (VERP or a report address)
	toUnsubscribe                   // a mailto unsubscribe
	toRoute                         // an inbound route
)

type target struct {
	kind  targetKind
	addr  string
	route *sendoka.InboundRoute
}

type session struct {
	s       *Server
	from    string
	targets []target
}

func (ss *session) Reset()        { ss.from, ss.targets = "", nil }
func (ss *session) Logout() error { return nil }

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	ss.from, ss.targets = from, nil
	return nil
}

var (
	errRelay = &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "Relay access denied"}
	errNoBox = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such recipient here"}
	errAgain = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Temporary failure, try again later"}
)

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	ctx, cancel := context.WithTimeout(context.Background(), ss.s.opts.HandleTimeout)
	defer cancel()
	t, err := ss.s.target(ctx, to)
	if err != nil {
		var se *smtp.SMTPError
		if !errors.As(err, &se) {
			ss.s.log.Warn("smtpin: recipient check failed", "rcpt", to, "err", err)
			return errAgain
		}
		ss.s.log.Info("smtpin: recipient refused", "rcpt", to, "from", ss.from, "code", se.Code)
		return err
	}
	ss.targets = append(ss.targets, *t)
	return nil
}

// target says what mail to address is for, or refuses it.
func (s *Server) target(ctx context.Context, address string) (*target, error) {
	at := strings.LastIndexByte(address, '@')
	if at <= 0 || at == len(address)-1 {
		return nil, &smtp.SMTPError{Code: 501, EnhancedCode: smtp.EnhancedCode{5, 1, 3}, Message: "Bad recipient address syntax"}
	}
	local, domain := address[:at], strings.ToLower(strings.TrimSuffix(address[at+1:], "."))
	lower := strings.ToLower(local)
	if bd := s.c.InboundConfig().BounceDomain; bd != "" && domain == bd {
		switch {
		case strings.HasPrefix(lower, sendoka.VERPPrefix):
			ok, err := s.c.CheckVERPAddress(ctx, lower+"@"+domain)
			if err != nil {
				return nil, err
			}
			if ok {
				return &target{kind: toReport, addr: lower + "@" + domain}, nil
			}
			return nil, errNoBox
		case strings.HasPrefix(lower, sendoka.UnsubscribeMailPrefix):
			// The token is case-sensitive: the address is kept as written.
			return &target{kind: toUnsubscribe, addr: local + "@" + domain}, nil
		case reportLocals[lower]:
			return &target{kind: toReport, addr: lower + "@" + domain}, nil
		}
	}
	route, err := s.c.InboundRouteFor(ctx, lower+"@"+domain)
	if err == nil {
		return &target{kind: toRoute, addr: lower + "@" + domain, route: route}, nil
	}
	if sendoka.ErrorCode(err) != sendoka.CodeNotFound {
		return nil, err
	}
	ours, err := s.c.AcceptsInboundDomain(ctx, domain)
	if err != nil {
		return nil, err
	}
	if !ours {
		return nil, errRelay
	}
	return nil, errNoBox
}

func (ss *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err // too large (552), or the connection failed
	}
	ctx, cancel := context.WithTimeout(context.Background(), ss.s.opts.HandleTimeout)
	defer cancel()
	var failed error
	for _, t := range ss.targets {
		if err := ss.s.handle(ctx, ss.from, t, raw); err != nil {
			ss.s.log.Warn("smtpin: message not handled", "rcpt", t.addr, "from", ss.from, "err", err)
			failed = err
		}
	}
	if failed != nil {
		// Retried later by the sender: reports and inbound emails are applied once (a
		// hash of the message), so a retry applies only what failed.
		return errAgain
	}
	return nil
}

// handle does what mail for t calls for. Mail that cannot be used (a report about no
// message of ours, an unsubscribe address with a bad token) is taken and dropped, so the
// sender does not retry it; only a failure to store returns an error.
func (s *Server) handle(ctx context.Context, from string, t target, raw []byte) error {
	switch t.kind {
	case toUnsubscribe:
		target, err := s.c.UnsubscribeByMail(ctx, t.addr)
		switch {
		case sendoka.ErrorCode(err) == sendoka.CodeNotFound:
			s.log.Info("smtpin: unsubscribe address not valid", "rcpt", t.addr)
			return nil
		case err != nil:
			return err
		}
		s.log.Info("smtpin: unsubscribed by mail", "audience", target.AudienceName)
		return nil
	case toRoute:
		m, err := ParseMessage(raw, from, t.addr)
		if err != nil {
			s.log.Info("smtpin: unreadable message dropped", "rcpt", t.addr, "err", err)
			return nil
		}
		sum := sha256.Sum256(append(raw[:len(raw):len(raw)], t.addr...))
		m.ReceiptID = hex.EncodeToString(sum[:16])
		e, err := s.c.ReceiveInboundEmail(ctx, t.route, m)
		if err != nil {
			return err
		}
		if e == nil {
			s.log.Info("smtpin: inbound email received before, dropped", "route", t.route.ID)
			return nil
		}
		s.log.Info("smtpin: inbound email stored", "id", e.ID, "route", t.route.ID)
		return nil
	}
	return s.report(ctx, from, t, raw)
}

func (s *Server) report(ctx context.Context, from string, t target, raw []byte) error {
	rep, err := bounce.Parse(raw, &bounce.Options{NullSender: from == ""})
	if err != nil || rep.Format == bounce.FormatAutoReply {
		s.log.Info("smtpin: not a delivery report, dropped", "rcpt", t.addr, "err", err)
		return nil
	}
	sum := sha256.Sum256(raw)
	dr := &sendoka.DeliveryReport{ID: "smtpin:" + hex.EncodeToString(sum[:16]), OriginalMessageID: rep.OriginalMessageID,
		Format: string(rep.Format), ReportingMTA: rep.ReportingMTA, FeedbackType: rep.FeedbackType}
	if strings.HasPrefix(t.addr, sendoka.VERPPrefix) {
		dr.ReturnPath = t.addr
	} else if strings.HasPrefix(rep.OriginalMailFrom, sendoka.VERPPrefix) {
		// A feedback loop's report names the return path of the message it is about.
		dr.ReturnPath = rep.OriginalMailFrom
	}
	for _, rc := range rep.Recipients {
		dr.Recipients = append(dr.Recipients, sendoka.ReportRecipient{
			Address: rc.Address, Kind: reportKind(rc.Kind), Action: rc.Action, Status: rc.Status, SMTPCode: rc.SMTPCode,
			Diagnostic: rc.Diagnostic, RemoteMTA: rc.RemoteMTA, Reason: rc.Reason,
		})
	}
	res, err := s.c.HandleDeliveryReport(ctx, dr)
	switch {
	case sendoka.ErrorCode(err) == sendoka.CodeNotFound:
		s.log.Info("smtpin: report about no known message, dropped", "rcpt", t.addr, "format", rep.Format)
		return nil
	case err != nil:
		return err
	}
	s.log.Info("smtpin: report applied", "message", res.MessageID, "format", rep.Format, "recipients", res.Applied, "duplicate", res.Duplicate)
	return nil
}

func reportKind(k bounce.Kind) sendoka.ReportKind {
	switch k {
	case bounce.Hard:
		return sendoka.ReportHardBounce
	case bounce.Delayed:
		return sendoka.ReportDelayed
	case bounce.Delivered:
		return sendoka.ReportDelivered
	case bounce.Complaint:
		return sendoka.ReportComplaint
	}
	return sendoka.ReportSoftBounce
}
