package smtpin_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/hosts/smtpin"
	"github.com/sendoka/sendoka/providers/smtpemail"
	"github.com/sendoka/sendoka/providers/smtpemail/smtpemailtest"
	"github.com/sendoka/sendoka/sendoka"
	"github.com/sendoka/sendoka/sendoka/sendokatest"
	"github.com/sendoka/sendoka/storage/bunstore"
	"github.com/sendoka/sendoka/storage/bunstore/bunstoretest"
)

const (
	bounceDomain  = "bounce.example.com"
	inboundDomain = "in.example.com"
)

type bundle struct {
	env  *sendokatest.Env
	addr string
}

type setupOptions struct {
	dbURL    string
	tls      *tls.Config
	maxBytes int64
	// email, when set, takes live email (an SMTP relay) in place of the fake.
	email sendoka.EmailSender
}

func setup(t *testing.T, o setupOptions) *bundle {
	t.Helper()
	env := sendokatest.New(t, &sendokatest.Options{
		DatabaseURL: o.dbURL, VerifiedDomains: []string{"example.com"},
		Inbound:  sendoka.InboundConfig{BounceDomain: bounceDomain, Domains: []string{inboundDomain}},
		Tracking: sendoka.TrackingConfig{BaseURL: "https://mail.example.com"},
		Webhooks: sendoka.WebhookConfig{AllowInsecure: true, RetryDelays: []time.Duration{50 * time.Millisecond}},
		Email:    o.email,
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := smtpin.New(env.Client, smtpin.Options{Hostname: "mx.example.com", TLSConfig: o.tls, MaxMessageBytes: o.maxBytes})
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	t.Cleanup(func() {
		require.NoError(t, srv.Close())
		<-done
	})
	return &bundle{env: env, addr: l.Addr().String()}
}

// eachDB runs fn on SQLite, and on Postgres when SENDOKA_TEST_DATABASE_URL is set.
func eachDB(t *testing.T, fn func(t *testing.T, dbURL string)) {
	for _, d := range bunstoretest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			dbURL := ""
			if d == bunstore.DialectPostgres {
				dbURL = bunstoretest.DSN(t, d)
			}
			fn(t, dbURL)
		})
	}
}

// deliver sends raw through the listener with a real SMTP client, in plain text as MTAs
// do when STARTTLS is not offered.
func (b *bundle) deliver(from string, to []string, raw string) error {
	c, err := smtp.Dial(b.addr)
	if err != nil {
		return err
	}
	defer c.Close()
	return c.SendMail(from, to, strings.NewReader(strings.ReplaceAll(raw, "\n", "\r\n")))
}

// send sends a live email from example.com to to, waits for it to reach the provider, and
// returns it with the return path it went out with.
func (b *bundle) send(t *testing.T, to ...string) (*sendoka.Message, string) {
	t.Helper()
	before := len(b.env.Fake.Sent())
	m, err := b.env.Client.SendEmail(context.Background(), b.env.Live, &sendoka.EmailRequest{
		From: "hello@example.com", To: to, Subject: "Welcome", Text: "Hi"})
	require.NoError(t, err)
	sent := b.env.WaitSent(t, before+1)
	var rp string
	for _, s := range sent {
		if s.Email != nil && s.Email.MessageID == m.ID {
			rp = s.Email.ReturnPath
		}
	}
	require.True(t, strings.HasPrefix(rp, "bounces+") && strings.HasSuffix(rp, "@"+bounceDomain), rp)
	require.LessOrEqual(t, len(rp[:strings.IndexByte(rp, '@')]), 64, "RFC 5321's local-part limit")
	b.env.WaitStatus(t, sendoka.ChannelEmail, m.ID, sendoka.StatusSent)
	return m, rp
}

func (b *bundle) message(t *testing.T, id string) *sendoka.Message {
	t.Helper()
	m, err := b.env.Client.GetMessage(context.Background(), b.env.Live, sendoka.ChannelEmail, id)
	require.NoError(t, err)
	return m
}

// event returns the message's event of typ. The listener answers the final "." only once
// the report is applied, so it is there as soon as deliver returns.
func (b *bundle) event(t *testing.T, id string, typ sendoka.EventType) sendoka.Event {
	t.Helper()
	for _, ev := range b.message(t, id).Events {
		if ev.Type == typ {
			return ev
		}
	}
	require.Failf(t, "no event", "message %s has no %s event", id, typ)
	return sendoka.Event{}
}

// selfSigned returns a certificate for mx.example.com and a client config that trusts it.
func selfSigned(t *testing.T) (*tls.Config, *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mx.example.com"},
		DNSNames: []string{"mx.example.com"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	leaf, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}}},
		&tls.Config{RootCAs: pool, ServerName: "mx.example.com"}
}

func dsn(rcpt, action, status, diag string) string {
	return fmt.Sprintf(`From: MAILER-DAEMON@mx.example.org (Mail Delivery System)
To: someone
Subject: Undelivered Mail Returned to Sender
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B"

--B
Content-Type: text/plain

Your message could not be delivered.

--B
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.org

Final-Recipient: rfc822; %s
Action: %s
Status: %s
Remote-MTA: dns; mx2.example.org
Diagnostic-Code: smtp; %s

--B--
`, rcpt, action, status, diag)
}

// TestBounce: a DSN that comes back to the VERP return path of a message (and does not
// quote the message) makes it bounced with the DSN's diagnostic, and suppresses the address.
func TestBounce(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, dbURL string) {
		b := setup(t, setupOptions{dbURL: dbURL})
		ctx := context.Background()
		m, rp := b.send(t, "ada@example.org")
		require.NoError(t, b.deliver("", []string{rp}, dsn("ada@example.org", "failed", "5.1.1", "550 5.1.1 <ada@example.org>: User unknown")))

		got := b.env.WaitStatus(t, sendoka.ChannelEmail, m.ID, sendoka.StatusBounced)
		require.NotNil(t, got.Diagnostic)
		require.Equal(t, "5.1.1", got.Diagnostic.EnhancedStatus)
		require.Equal(t, "550", got.Diagnostic.SMTPStatus)
		require.Equal(t, "mx2.example.org", got.Diagnostic.RemoteMTA)
		require.Equal(t, "Permanent", got.Diagnostic.BounceType)
		require.Equal(t, "user_unknown", got.Diagnostic.BounceSubType)
		require.Contains(t, got.Diagnostic.Message, "User unknown")
		ev := b.event(t, m.ID, sendoka.EventBounced)
		require.Equal(t, "ada@example.org", ev.Recipient)
		require.Equal(t, "dsn", ev.Data["report"])

		s, err := b.env.Client.GetSuppression(ctx, b.env.Live, sendoka.ChannelEmail, "ada@example.org")
		require.NoError(t, err)
		require.Equal(t, sendoka.SuppressionBounce, s.Reason)
		require.Equal(t, m.ID, s.MessageID)

		// The same DSN again (the sender retried): nothing more happens.
		require.NoError(t, b.deliver("", []string{rp}, dsn("ada@example.org", "failed", "5.1.1", "550 5.1.1 <ada@example.org>: User unknown")))
		n := 0
		for _, ev := range b.message(t, m.ID).Events {
			if ev.Type == sendoka.EventBounced {
				n++
			}
		}
		require.Equal(t, 1, n)
	})
}

// TestBounceOfOneOfSeveral: over a real SMTP relay, a message with three recipients (to, cc,
// bcc) goes out in three transactions, each with its own VERP return path. A DSN sent back
// to the second one's, about an address that is none of the message's (the forwarded one
// that failed), is the second recipient's bounce: exactly that address is suppressed, and
// the message waits for the others' outcomes.
func TestBounceOfOneOfSeveral(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, dbURL string) {
		relay := smtpemailtest.Start(t, smtpemailtest.Options{})
		sender, err := smtpemail.New(smtpemail.Options{Host: relay.Host, Port: relay.Port, Security: smtpemail.NoTLS})
		require.NoError(t, err)
		t.Cleanup(func() { _ = sender.Close() })
		b := setup(t, setupOptions{dbURL: dbURL, email: sender})
		ctx := context.Background()
		rcpts := []string{"ada@example.org", "bob@example.org", "cyd@example.org"}
		m, err := b.env.Client.SendEmail(ctx, b.env.Live, &sendoka.EmailRequest{From: "hello@example.com",
			To: rcpts[:1], Cc: rcpts[1:2], Bcc: rcpts[2:], Subject: "Welcome", Text: "Hi"})
		require.NoError(t, err)
		got := relay.WaitFor(t, 3)
		b.env.WaitStatus(t, sendoka.ChannelEmail, m.ID, sendoka.StatusSent)
		require.Len(t, got, 3)
		paths := map[string]string{} // recipient -> return path
		for _, g := range got {
			require.Len(t, g.To, 1)
			require.True(t, strings.HasPrefix(g.From, "bounces+") && strings.HasSuffix(g.From, "@"+bounceDomain), g.From)
			paths[g.To[0]] = g.From
		}
		require.Len(t, paths, 3)
		require.NotEqual(t, paths[rcpts[0]], paths[rcpts[1]])
		require.NotEqual(t, paths[rcpts[1]], paths[rcpts[2]])

		report := dsn("b.smith@mailhost.example.net", "failed", "5.1.1", "550 5.1.1 User unknown")
		require.NotContains(t, report, "bob")
		require.NoError(t, b.deliver("", []string{paths[rcpts[1]]}, report))

		ev := b.event(t, m.ID, sendoka.EventBounced)
		require.Equal(t, rcpts[1], ev.Recipient)
		require.Equal(t, "b.smith@mailhost.example.net", ev.Data["reported_recipient"])
		got2 := b.message(t, m.ID)
		require.Equal(t, sendoka.StatusSent, got2.Status, "ada and cyd have no outcome yet")
		require.Len(t, got2.Recipients, 1)
		require.Equal(t, rcpts[1], got2.Recipients[0].Address)
		require.Equal(t, sendoka.RecipientBounced, got2.Recipients[0].Status)
		s, err := b.env.Client.GetSuppression(ctx, b.env.Live, sendoka.ChannelEmail, rcpts[1])
		require.NoError(t, err)
		require.Equal(t, sendoka.SuppressionBounce, s.Reason)
		for _, other := range []string{rcpts[0], rcpts[2], "b.smith@mailhost.example.net"} {
			_, err := b.env.Client.GetSuppression(ctx, b.env.Live, sendoka.ChannelEmail, other)
			require.Equal(t, sendoka.CodeNotFound, sendoka.ErrorCode(err), other)
		}
	})
}

// TestSoftBounceAndDelay: a 4.x.x failure and a delay are events only: the message stays
// sent and nothing is suppressed.
func TestSoftBounceAndDelay(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, dbURL string) {
		b := setup(t, setupOptions{dbURL: dbURL})
		m, rp := b.send(t, "full@example.org")
		require.NoError(t, b.deliver("", []string{rp}, dsn("full@example.org", "delayed", "4.4.1", "connection timed out")))
		b.event(t, m.ID, sendoka.EventDelayed)
		require.NoError(t, b.deliver("", []string{rp}, dsn("full@example.org", "failed", "4.2.2", "452 4.2.2 Mailbox full")))
		ev := b.event(t, m.ID, sendoka.EventSoftBounced)
		require.Equal(t, "4.2.2", ev.Diagnostic.EnhancedStatus)
		require.Equal(t, sendoka.StatusSent, b.message(t, m.ID).Status)
		_, err := b.env.Client.GetSuppression(context.Background(), b.env.Live, sendoka.ChannelEmail, "full@example.org")
		require.Equal(t, sendoka.CodeNotFound, sendoka.ErrorCode(err))
	})
}

func arf(messageID string) string {
	return `From: fbl@isp.example.net
To: fbl@` + bounceDomain + `
Subject: Complaint
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="F"

--F
Content-Type: text/plain

An abuse report.

--F
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: ISP-FBL/1.0
Version: 1

--F
Content-Type: text/rfc822-headers

From: hello@example.com
To: redacted@isp.example.net
Message-ID: <` + messageID + `@example.com>
Subject: Welcome

--F--
`
}

// TestComplaint: an ARF report to the feedback address, whose recipient is redacted, is
// matched by the quoted Message-ID: message.complained, and the address is suppressed.
func TestComplaint(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, dbURL string) {
		b := setup(t, setupOptions{dbURL: dbURL})
		m, _ := b.send(t, "grumpy@example.org")
		require.NoError(t, b.deliver("", []string{"fbl@" + bounceDomain}, arf(m.ID)))
		ev := b.event(t, m.ID, sendoka.EventComplained)
		require.Equal(t, "grumpy@example.org", ev.Recipient, "the redacted address falls back to the message's recipient")
		require.Equal(t, "abuse", ev.Data["feedback_type"])
		s, err := b.env.Client.GetSuppression(context.Background(), b.env.Live, sendoka.ChannelEmail, "grumpy@example.org")
		require.NoError(t, err)
		require.Equal(t, sendoka.SuppressionComplaint, s.Reason)
		require.Equal(t, sendoka.StatusSent, b.message(t, m.ID).Status, "a complaint changes no status")
	})
}

// TestReplyToRoute: a reply to a route's address is stored as an inbound email with its
// parts and attachments, and its email.received webhook reaches the endpoint.
func TestReplyToRoute(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, dbURL string) {
		b := setup(t, setupOptions{dbURL: dbURL})
		ctx := context.Background()
		hooks := make(chan []byte, 4)
		hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			hooks <- body
		}))
		t.Cleanup(hs.Close)
		_, err := b.env.Client.CreateWebhookEndpoint(ctx, b.env.Live, &sendoka.WebhookEndpointRequest{URL: hs.URL, Events: []sendoka.EventType{sendoka.EventEmailReceived}})
		require.NoError(t, err)
		route, err := b.env.Client.CreateInboundRoute(ctx, b.env.Live, &sendoka.InboundRouteRequest{Match: "support@" + inboundDomain})
		require.NoError(t, err)

		reply := `From: Ada <ada@example.org>
To: support@` + inboundDomain + `
Subject: =?UTF-8?Q?Re:_caf=C3=A9?=
Message-ID: <reply-1@example.org>
In-Reply-To: <msg_01ABC@example.com>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="M"

--M
Content-Type: multipart/alternative; boundary="A"

--A
Content-Type: text/plain; charset=iso-8859-1
Content-Transfer-Encoding: quoted-printable

Merci, le caf=E9 est arriv=E9.
--A
Content-Type: text/html; charset=utf-8

<p>Merci</p>
--A--
--M
Content-Type: application/pdf; name="invoice.pdf"
Content-Disposition: attachment; filename="invoice.pdf"
Content-Transfer-Encoding: base64

JVBERi0xLjQK
--M--
`
		require.NoError(t, b.deliver("ada@example.org", []string{"Support@" + inboundDomain}, reply))

		var body []byte
		select {
		case body = <-hooks:
		case <-time.After(10 * time.Second):
			t.Fatal("no email.received webhook")
		}
		var hook struct {
			Event string         `json:"event"`
			Data  map[string]any `json:"data"`
		}
		require.NoError(t, json.Unmarshal(body, &hook))
		require.Equal(t, "email.received", hook.Event)
		require.Equal(t, route.ID, hook.Data["route_id"])
		require.Equal(t, "Re: café", hook.Data["subject"])
		id := hook.Data["inbound_email_id"].(string)

		e, err := b.env.Client.GetInboundEmail(ctx, b.env.Live, id)
		require.NoError(t, err)
		require.Equal(t, "Merci, le café est arrivé.", strings.TrimSpace(e.Text))
		require.Equal(t, "<p>Merci</p>", strings.TrimSpace(e.HTML))
		require.Equal(t, "ada@example.org", e.MailFrom)
		require.Equal(t, "support@"+inboundDomain, e.RcptTo)
		require.Equal(t, "<msg_01ABC@example.com>", e.InReplyTo)
		require.Len(t, e.Attachments, 1)
		require.Equal(t, "invoice.pdf", e.Attachments[0].Filename)
		a, err := b.env.Client.GetInboundAttachment(ctx, b.env.Live, id, 0)
		require.NoError(t, err)
		require.Equal(t, "%PDF-1.4\n", string(a.Content))
		list, err := b.env.Client.ListInboundEmails(ctx, b.env.Live, sendoka.ListParams{})
		require.NoError(t, err)
		require.Len(t, list.Emails, 1)
		require.Empty(t, list.Emails[0].Text, "listings carry no bodies")

		// The same message delivered again (a sender retrying after a 451) is stored once.
		require.NoError(t, b.deliver("ada@example.org", []string{"Support@" + inboundDomain}, reply))
		list, err = b.env.Client.ListInboundEmails(ctx, b.env.Live, sendoka.ListParams{})
		require.NoError(t, err)
		require.Len(t, list.Emails, 1)
	})
}

// TestNeverAnOpenRelay: mail for any domain that is not the listener's is refused at RCPT
// TO, and so is an unknown address or a forged VERP address of its own domains.
func TestNeverAnOpenRelay(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOptions{})
	msg := "From: spammer@example.net\nTo: victim@example.net\nSubject: relay me\n\nHi\n"
	for rcpt, code := range map[string]int{
		"victim@gmail.com":                              554, // relaying
		"victim@example.com.evil.net":                   554,
		"nobody@" + inboundDomain:                       550, // our domain, no route
		"bounces+aaaaaaaaaaaaaaaaaaaaa@" + bounceDomain: 550, // a VERP address we did not sign
		"anything@" + bounceDomain:                      550,
	} {
		err := b.deliver("spammer@example.net", []string{rcpt}, msg)
		var se *smtp.SMTPError
		require.True(t, errors.As(err, &se), "%s: %v", rcpt, err)
		require.Equal(t, code, se.Code, rcpt)
	}
	// Through a real client session, with AUTH not offered at all.
	c, err := smtp.Dial(b.addr)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.Hello("client.example.net"))
	ok, _ := c.Extension("AUTH")
	require.False(t, ok, "no authentication: nobody may relay")
	require.NoError(t, c.Mail("spammer@example.net", nil))
	err = c.Rcpt("victim@gmail.com", nil)
	require.Error(t, err)
	require.Contains(t, err.Error(), "Relay access denied")
}

// TestSTARTTLSAndSize: STARTTLS with the configured certificate, and the size limit.
func TestSTARTTLSAndSize(t *testing.T) {
	t.Parallel()
	serverTLS, clientTLS := selfSigned(t)
	b := setup(t, setupOptions{tls: serverTLS, maxBytes: 2048})
	ctx := context.Background()
	_, err := b.env.Client.CreateInboundRoute(ctx, b.env.Live, &sendoka.InboundRouteRequest{Match: "*@" + inboundDomain})
	require.NoError(t, err)

	plain, err := smtp.Dial(b.addr)
	require.NoError(t, err)
	require.NoError(t, plain.Hello("client.example.net"))
	ok, _ := plain.Extension("STARTTLS")
	require.True(t, ok, "STARTTLS is offered")
	size, ok := plain.MaxMessageSize()
	require.True(t, ok)
	require.Equal(t, 2048, size, "SIZE is advertised")
	require.NoError(t, plain.Close())

	c, err := smtp.DialStartTLS(b.addr, clientTLS)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.Mail("ada@example.org", nil))
	state, ok := c.TLSConnectionState()
	require.True(t, ok)
	require.True(t, state.HandshakeComplete, "the session runs over TLS, with the configured certificate")
	require.Equal(t, "mx.example.com", state.PeerCertificates[0].Subject.CommonName)
	require.NoError(t, c.Rcpt("anyone@"+inboundDomain, nil))
	w, err := c.Data()
	require.NoError(t, err)
	_, _ = io.WriteString(w, "Subject: big\r\n\r\n"+strings.Repeat(strings.Repeat("x", 70)+"\r\n", 60))
	err = w.Close()
	var se *smtp.SMTPError
	require.True(t, errors.As(err, &se), "%v", err)
	require.Equal(t, 552, se.Code)
}

// TestUnsubscribeByMail: a broadcast email's List-Unsubscribe carries, besides the https
// link, a mailto at the bounce domain; mail to it unsubscribes the contact.
func TestUnsubscribeByMail(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, dbURL string) {
		b := setup(t, setupOptions{dbURL: dbURL})
		ctx := context.Background()
		_, err := b.env.Client.CreateTemplate(ctx, b.env.Live, &sendoka.TemplateRequest{Slug: "news", Channel: sendoka.ChannelEmail,
			Subject: "News", Text: "Hello {{first_name}}"})
		require.NoError(t, err)
		a, err := b.env.Client.CreateAudience(ctx, b.env.Live, &sendoka.AudienceRequest{Name: "news"})
		require.NoError(t, err)
		_, err = b.env.Client.UpsertContacts(ctx, b.env.Live, a.ID, []sendoka.ContactInput{{Email: "reader@example.org", FirstName: "Ada"}})
		require.NoError(t, err)
		_, err = b.env.Client.SendToAudience(ctx, b.env.Live, a.ID, &sendoka.AudienceSendRequest{From: "news@example.com",
			Channel: sendoka.ChannelEmail, Template: "news"})
		require.NoError(t, err)
		sent := b.env.WaitSent(t, 1)
		lu := sent[0].Email.Headers["List-Unsubscribe"]
		require.True(t, strings.HasPrefix(lu, "<https://mail.example.com/u/"), lu)
		at := strings.Index(lu, "<mailto:")
		require.Positive(t, at, lu)
		mailto := strings.TrimSuffix(lu[at+len("<mailto:"):], ">")
		require.True(t, strings.HasPrefix(mailto, "unsubscribe+") && strings.HasSuffix(mailto, "@"+bounceDomain), mailto)

		// A forged token is taken and dropped; the real one unsubscribes.
		require.NoError(t, b.deliver("reader@example.org", []string{"unsubscribe+forged@" + bounceDomain}, "Subject: unsubscribe\n\n\n"))
		no := false
		list, err := b.env.Client.ListContacts(ctx, b.env.Live, a.ID, sendoka.ContactListParams{Subscribed: &no})
		require.NoError(t, err)
		require.Empty(t, list.Contacts)
		require.NoError(t, b.deliver("reader@example.org", []string{mailto}, "Subject: unsubscribe\n\n\n"))
		list, err = b.env.Client.ListContacts(ctx, b.env.Live, a.ID, sendoka.ContactListParams{Subscribed: &no})
		require.NoError(t, err)
		require.Len(t, list.Contacts, 1)
		require.Equal(t, "reader@example.org", list.Contacts[0].Email)
	})
}

// TestMaxConnections: past Options.MaxConnections a connection waits for its greeting until
// another one ends.
func TestMaxConnections(t *testing.T) {
	t.Parallel()
	env := sendokatest.New(t, &sendokatest.Options{Inbound: sendoka.InboundConfig{BounceDomain: bounceDomain}})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := smtpin.New(env.Client, smtpin.Options{Hostname: "mx.example.com", MaxConnections: 1})
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })

	greeting := func(c net.Conn, within time.Duration) (string, error) {
		require.NoError(t, c.SetReadDeadline(time.Now().Add(within)))
		buf := make([]byte, 512)
		n, err := c.Read(buf)
		return string(buf[:n]), err
	}
	first, err := net.Dial("tcp", l.Addr().String())
	require.NoError(t, err)
	g, err := greeting(first, 5*time.Second)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(g, "220 mx.example.com"), g)

	second, err := net.Dial("tcp", l.Addr().String())
	require.NoError(t, err)
	defer second.Close()
	_, err = greeting(second, 300*time.Millisecond)
	var ne net.Error
	require.True(t, errors.As(err, &ne) && ne.Timeout(), "no greeting while the first holds the only slot: %v", err)

	require.NoError(t, first.Close())
	g, err = greeting(second, 5*time.Second)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(g, "220 "), g)
}
