package smtpemail_test

import (
	"bytes"
	"context"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/providers/mimemail"
	"github.com/sendoka/sendoka/providers/smtpemail"
	"github.com/sendoka/sendoka/providers/smtpemail/smtpemailtest"
	"github.com/sendoka/sendoka/sendoka"
)

func email(id string) *sendoka.OutboundEmail {
	return &sendoka.OutboundEmail{
		MessageID: id, From: `"Acme" <hello@acme.test>`, To: []string{`"Ada" <ada@example.com>`},
		Cc: []string{"cc@example.com"}, Bcc: []string{"secret@example.com"},
		Subject: "Grüße", Text: "Hello", HTML: "<p>Hello</p>",
		Attachments: []sendoka.Attachment{{Filename: "a.txt", ContentType: "text/plain", Content: []byte("attached")}},
	}
}

func newSender(t *testing.T, opts smtpemail.Options) *smtpemail.Sender {
	t.Helper()
	s, err := smtpemail.New(opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func ctx(t *testing.T) context.Context {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestSecurityModes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		server   smtpemailtest.Options
		security smtpemail.Security
		auth     smtpemail.Auth
		wantTLS  bool
	}{
		{"starttls plain auth", smtpemailtest.Options{TLS: smtpemailtest.StartTLS, Username: "u", Password: "p w"}, smtpemail.StartTLS, smtpemail.AuthPlain, true},
		{"starttls login auth", smtpemailtest.Options{TLS: smtpemailtest.StartTLS, Username: "u", Password: "p w"}, smtpemail.StartTLS, smtpemail.AuthLogin, true},
		{"implicit tls", smtpemailtest.Options{TLS: smtpemailtest.ImplicitTLS, Username: "u", Password: "p w"}, smtpemail.ImplicitTLS, smtpemail.AuthPlain, true},
		{"no tls, no auth", smtpemailtest.Options{}, smtpemail.NoTLS, "", false},
		{"no tls with auth", smtpemailtest.Options{Username: "u", Password: "p w"}, smtpemail.NoTLS, smtpemail.AuthLogin, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := smtpemailtest.Start(t, tc.server)
			s := newSender(t, smtpemail.Options{
				Host: srv.Host, Port: srv.Port, Security: tc.security, TLSConfig: srv.ClientTLS(),
				Username: tc.server.Username, Password: tc.server.Password, Auth: tc.auth,
			})
			m := email("msg_01JSECURITY")
			res, err := s.SendEmail(ctx(t), m)
			require.NoError(t, err)
			require.Equal(t, "msg_01JSECURITY@acme.test", res.ProviderMessageID)

			got := srv.WaitFor(t, 1)[0]
			require.Equal(t, tc.wantTLS, got.TLS)
			require.Equal(t, tc.server.Username, got.User)
			require.Equal(t, "hello@acme.test", got.From)
			require.Equal(t, []string{"ada@example.com", "cc@example.com", "secret@example.com"}, got.To, "bcc in the envelope")
			require.Equal(t, []string{
				"MAIL FROM:<hello@acme.test> BODY=8BITMIME",
				"RCPT TO:<ada@example.com>", "RCPT TO:<cc@example.com>", "RCPT TO:<secret@example.com>",
			}, got.Envelope, "RFC 5321 paths, in angle brackets")
			msg, err := mail.ReadMessage(bytes.NewReader(got.Data))
			require.NoError(t, err)
			require.Equal(t, "<msg_01JSECURITY@acme.test>", msg.Header.Get("Message-Id"))
			require.Empty(t, msg.Header.Get("Bcc"))
			require.NotContains(t, string(got.Data), "secret@example.com", "bcc never in the message")
			// The server received exactly what mimemail builds (bar Date and boundaries).
			want, err := mimemail.Build(m, nil)
			require.NoError(t, err)
			require.Equal(t, len(want), len(got.Data))
		})
	}
}

func TestTLSRequired(t *testing.T) {
	t.Parallel()
	// A server without STARTTLS: the default security refuses to send in the clear.
	srv := smtpemailtest.Start(t, smtpemailtest.Options{})
	s := newSender(t, smtpemail.Options{Host: srv.Host, Port: srv.Port})
	_, err := s.SendEmail(ctx(t), email("msg_1"))
	requireKind(t, sendoka.Transient, err)
	require.Empty(t, srv.Messages())

	// A certificate the client does not trust.
	tlsSrv := smtpemailtest.Start(t, smtpemailtest.Options{TLS: smtpemailtest.StartTLS})
	s = newSender(t, smtpemail.Options{Host: tlsSrv.Host, Port: tlsSrv.Port})
	_, err = s.SendEmail(ctx(t), email("msg_2"))
	requireKind(t, sendoka.Transient, err)
	require.Empty(t, tlsSrv.Messages())
}

func requireKind(t *testing.T, kind sendoka.ProviderErrorKind, err error) *sendoka.ProviderError {
	t.Helper()
	require.Error(t, err)
	pe, ok := err.(*sendoka.ProviderError)
	require.True(t, ok, "%T %v", err, err)
	require.Equal(t, kind, pe.Kind, "%v", err)
	require.Equal(t, "smtp", pe.Provider)
	return pe
}

func TestErrorClassification(t *testing.T) {
	t.Parallel()
	refuse := func(code int, enh smtp.EnhancedCode, msg string) func(string) error {
		return func(to string) error {
			if strings.HasPrefix(to, "bad") {
				return &smtp.SMTPError{Code: code, EnhancedCode: enh, Message: msg}
			}
			return nil
		}
	}
	cases := []struct {
		name     string
		server   smtpemailtest.Options
		password string
		kind     sendoka.ProviderErrorKind
		code     string
		message  string
	}{
		{"5xx recipient fails", smtpemailtest.Options{Rcpt: refuse(550, smtp.EnhancedCode{5, 1, 1}, "No such user")},
			"", sendoka.Permanent, "550 5.1.1", "RCPT TO <bad@example.com>: No such user"},
		{"4xx recipient retries", smtpemailtest.Options{Rcpt: refuse(451, smtp.EnhancedCode{4, 3, 0}, "Mailbox busy")},
			"", sendoka.Transient, "451 4.3.0", "Mailbox busy"},
		{"4xx rate limit is throttling", smtpemailtest.Options{Rcpt: refuse(450, smtp.EnhancedCode{4, 7, 0}, "Rate limit exceeded, slow down")},
			"", sendoka.Throttled, "450 4.7.0", "Rate limit"},
		{"5xx content fails", smtpemailtest.Options{Data: func(smtpemailtest.Message) error {
			return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "Message rejected as spam"}
		}}, "", sendoka.Permanent, "554 5.7.1", "end of DATA: Message rejected as spam"},
		{"4xx content retries", smtpemailtest.Options{Data: func(smtpemailtest.Message) error {
			return &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 3, 1}, Message: "Insufficient system storage"}
		}}, "", sendoka.Transient, "452 4.3.1", "Insufficient system storage"},
		{"auth failure retries", smtpemailtest.Options{TLS: smtpemailtest.StartTLS, Username: "u", Password: "right"},
			"wrong", sendoka.Transient, "auth_failed", "535"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := smtpemailtest.Start(t, tc.server)
			opts := smtpemail.Options{Host: srv.Host, Port: srv.Port, Security: smtpemail.NoTLS}
			if tc.server.TLS == smtpemailtest.StartTLS {
				opts.Security, opts.TLSConfig = smtpemail.StartTLS, srv.ClientTLS()
			}
			if tc.server.Username != "" {
				opts.Username, opts.Password = tc.server.Username, tc.password
			}
			s := newSender(t, opts)
			m := email("msg_1")
			m.To = append(m.To, "bad@example.com")
			_, err := s.SendEmail(ctx(t), m)
			pe := requireKind(t, tc.kind, err)
			require.Equal(t, tc.code, pe.Code)
			require.Contains(t, pe.Message, tc.message)
			require.Empty(t, srv.Messages(), "nothing delivered: recipients are all or nothing")

			if tc.server.Username != "" {
				return
			}
			// The connection survives a refusal: the next message goes out on it.
			ok := email("msg_2")
			_, err = s.SendEmail(ctx(t), ok)
			if tc.server.Data != nil {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Len(t, srv.WaitFor(t, 1), 1)
			require.Equal(t, 1, srv.Connections(), "the refused exchange was reset, not the connection")
		})
	}
}

func TestInvalidMessageIsPermanent(t *testing.T) {
	t.Parallel()
	srv := smtpemailtest.Start(t, smtpemailtest.Options{})
	s := newSender(t, smtpemail.Options{Host: srv.Host, Port: srv.Port, Security: smtpemail.NoTLS})
	m := email("msg_1")
	m.Subject = "a\r\nBcc: x@evil.test"
	pe := requireKind(t, sendoka.Permanent, func() error { _, err := s.SendEmail(ctx(t), m); return err }())
	require.Equal(t, "invalid_message", pe.Code)
	require.Zero(t, srv.Connections(), "refused before connecting")
}

func TestPooling(t *testing.T) {
	t.Parallel()
	srv := smtpemailtest.Start(t, smtpemailtest.Options{TLS: smtpemailtest.StartTLS, Username: "u", Password: "p"})
	s := newSender(t, smtpemail.Options{Host: srv.Host, Port: srv.Port, TLSConfig: srv.ClientTLS(),
		Username: "u", Password: "p", MaxConns: 2})
	for range 5 {
		_, err := s.SendEmail(ctx(t), email("msg_seq"))
		require.NoError(t, err)
	}
	require.Equal(t, 1, srv.Connections(), "sequential sends reuse one connection")

	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Go(func() {
			_, err := s.SendEmail(ctx(t), email("msg_par"))
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Len(t, srv.WaitFor(t, 25), 25)
	require.LessOrEqual(t, srv.Connections(), 2, "never more than MaxConns connections")

	// After Close, idle connections are gone and sends are refused as transient.
	require.NoError(t, s.Close())
	_, err := s.SendEmail(ctx(t), email("msg_closed"))
	requireKind(t, sendoka.Transient, err)
}

func TestIdleConnectionDropped(t *testing.T) {
	t.Parallel()
	srv := smtpemailtest.Start(t, smtpemailtest.Options{})
	s := newSender(t, smtpemail.Options{Host: srv.Host, Port: srv.Port, Security: smtpemail.NoTLS, IdleTimeout: time.Nanosecond})
	for range 3 {
		_, err := s.SendEmail(ctx(t), email("msg_idle"))
		require.NoError(t, err)
	}
	require.Equal(t, 3, srv.Connections(), "a connection idle past IdleTimeout is not reused")
}

func TestTimeouts(t *testing.T) {
	t.Parallel()
	// A server that accepts connections and never says a word.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	port := ln.Addr().(*net.TCPAddr).Port
	s := newSender(t, smtpemail.Options{Host: "127.0.0.1", Port: port, Security: smtpemail.NoTLS, DialTimeout: 200 * time.Millisecond})
	start := time.Now()
	_, err = s.SendEmail(ctx(t), email("msg_1"))
	requireKind(t, sendoka.Transient, err)
	require.Less(t, time.Since(start), 10*time.Second, "the dial timeout bounds a silent server")

	// The caller's context bounds it too.
	s = newSender(t, smtpemail.Options{Host: "127.0.0.1", Port: port, Security: smtpemail.NoTLS})
	c, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start = time.Now()
	_, err = s.SendEmail(c, email("msg_2"))
	requireKind(t, sendoka.Transient, err)
	require.Less(t, time.Since(start), 10*time.Second)

	// Nothing listening: connection refused is transient.
	require.NoError(t, ln.Close())
	_, err = s.SendEmail(ctx(t), email("msg_3"))
	requireKind(t, sendoka.Transient, err)
}

// TestReturnPath: a message with a ReturnPath (a VERP address) goes out with it as MAIL
// FROM, so bounces come back to the inbound listener; From is unchanged.
func TestReturnPath(t *testing.T) {
	t.Parallel()
	srv := smtpemailtest.Start(t, smtpemailtest.Options{})
	s := newSender(t, smtpemail.Options{Host: srv.Host, Port: srv.Port, Security: smtpemail.NoTLS})
	m := email("msg_01JVERP")
	m.ReturnPath = "bounces+abc123@bounce.acme.test"
	_, err := s.SendEmail(ctx(t), m)
	require.NoError(t, err)
	got := srv.WaitFor(t, 1)[0]
	require.Equal(t, "bounces+abc123@bounce.acme.test", got.From)
	require.Contains(t, string(got.Data), "From: "+m.From)

	plain := email("msg_01JPLAIN")
	_, err = s.SendEmail(ctx(t), plain)
	require.NoError(t, err)
	require.NotContains(t, srv.WaitFor(t, 2)[1].From, "bounces+", "without one, the sender's address")
}
