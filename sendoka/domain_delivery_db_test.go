package sendoka_test

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"
	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/providers/memsend"
	"github.com/sendoka/sendoka/providers/sesemail"
	"github.com/sendoka/sendoka/providers/sesemail/sesemailtest"
	"github.com/sendoka/sendoka/providers/smtpemail"
	"github.com/sendoka/sendoka/providers/smtpemail/smtpemailtest"
	"github.com/sendoka/sendoka/sendoka"
	"github.com/sendoka/sendoka/storage/bunstore"
	"github.com/sendoka/sendoka/storage/bunstore/bunstoretest"
)

// start runs the queue's workers until the test ends.
func (b *domBundle) start(t *testing.T) {
	t.Helper()
	require.NoError(t, b.queue.Start(context.Background(), b.client))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), dbWait)
		defer cancel()
		require.NoError(t, b.queue.Stop(ctx))
	})
}

// TestDomainDKIMOverSMTP: live mail from a verified domain leaves the SMTP provider signed
// with the domain's key, and the signature verifies against the record the API told the
// user to publish; what is not live mail from such a domain is not signed.
func TestDomainDKIMOverSMTP(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		srv := smtpemailtest.Start(t, smtpemailtest.Options{})
		relay, err := smtpemail.New(smtpemail.Options{Host: srv.Host, Port: srv.Port, Security: smtpemail.NoTLS})
		require.NoError(t, err)
		t.Cleanup(func() { _ = relay.Close() })
		sandbox := memsend.New()
		b := newDomBundle(t, db, func(cfg *sendoka.Config) {
			cfg.Email, cfg.SandboxEmail = relay, sandbox
			cfg.VerifiedDomains = []string{"boot.example"}
		})
		b.start(t)
		ctx := context.Background()
		d := b.verified(t, b.root, "acme.example")
		b.clock.add(time.Second) // past the delivery's cache of the namespace, whatever it holds

		send := func(p *sendoka.Principal, from, subject string) string {
			t.Helper()
			m, err := b.client.SendEmail(ctx, p, &sendoka.EmailRequest{From: from, To: []string{"ada@example.com"},
				Subject: subject, Text: "Hello Ada", HTML: "<p>Hello Ada</p>", Headers: map[string]string{"List-Unsubscribe": "<https://acme.example/u>"}})
			require.NoError(t, err)
			return m.ID
		}
		received := func(id string) []byte {
			t.Helper()
			var data []byte
			pollUntil(t, func() bool {
				for _, m := range srv.Messages() {
					if strings.HasPrefix(m.MessageID, id+"@") {
						data = m.Data
						return true
					}
				}
				return false
			}, "message %s never reached the SMTP server", id)
			return data
		}
		// The zone a receiver would query: what the test published from the API's records.
		lookup := func(name string) ([]string, error) { return b.dns.LookupTXT(ctx, name) }
		verify := func(raw []byte) []*dkim.Verification {
			t.Helper()
			vs, err := dkim.VerifyWithOptions(bytes.NewReader(raw), &dkim.VerifyOptions{LookupTXT: lookup})
			require.NoError(t, err)
			return vs
		}

		raw := received(send(b.root, `"Acme" <hello@acme.example>`, "Signed"))
		vs := verify(raw)
		require.Len(t, vs, 1)
		require.NoError(t, vs[0].Err)
		require.Equal(t, "acme.example", vs[0].Domain)
		require.Contains(t, vs[0].HeaderKeys, "List-Unsubscribe")
		require.Contains(t, string(raw[:bytes.Index(raw, []byte("\r\n\r\n"))]), "s="+d.DKIMSelector)

		body := bytes.Index(raw, []byte("\r\n\r\n"))
		tampered := append(append([]byte{}, raw[:body]...), bytes.Replace(raw[body:], []byte("Hello Ada"), []byte("Hello Eve"), 1)...)
		require.ErrorContains(t, verify(tampered)[0].Err, "body hash did not verify")

		// A test key's mail, from the same domain, goes to the sandbox, unsigned.
		id := send(b.principal(sendoka.ModeTest, ""), "hello@acme.example", "Test")
		require.NoError(t, sandbox.WaitFor(ctx, 1))
		require.Nil(t, sandbox.Sent()[0].Email.DKIM)
		require.Equal(t, id, sandbox.Sent()[0].MessageID())

		// A bootstrapped domain is verified, but its DKIM record was never seen: unsigned
		// until a check finds it, signed after.
		require.Empty(t, verify(received(send(b.root, "hello@boot.example", "Boot"))), "no signature")
		boot := b.domainNamed(t, "boot.example")
		b.dns.Publish(boot)
		_, err = b.client.VerifyDomain(ctx, b.root, boot.ID)
		require.NoError(t, err)
		vs = verify(received(send(b.root, "hello@boot.example", "Boot, signed")))
		require.Len(t, vs, 1)
		require.NoError(t, vs[0].Err)
	})
}

// domainNamed finds an org-level domain by name.
func (b *domBundle) domainNamed(t *testing.T, name string) *sendoka.Domain {
	t.Helper()
	l, err := b.client.ListDomains(context.Background(), b.root, sendoka.ListParams{Limit: 100})
	require.NoError(t, err)
	for _, d := range l.Domains {
		if d.Name == name {
			return d
		}
	}
	t.Fatalf("no domain %s", name)
	return nil
}

// TestDomainSES: with SES as the live provider, adding a domain creates the SES identity and
// shows SES's DKIM CNAMEs instead of a key of Sendoka's; the domain verifies against those;
// its mail is handed to SES unsigned (SES signs it).
func TestDomainSES(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		srv := sesemailtest.Start(t)
		ses := sesemail.New(srv.Client(), sesemail.Options{})
		b := newDomBundle(t, db, func(cfg *sendoka.Config) {
			cfg.Email = ses
			cfg.Domains = sendoka.DomainConfig{MXHost: "feedback-smtp.eu-west-1.amazonses.com"}
		})
		b.start(t)
		ctx := context.Background()

		d := b.create(t, b.root, "acme.example")
		require.Equal(t, "ses", d.Provider)
		require.Empty(t, d.DKIMPrivateKey)
		require.Empty(t, d.DKIMSelector)
		tokens := sesemailtest.Tokens("acme.example")
		require.Len(t, d.Records, 6)
		for i, tok := range tokens {
			require.Equal(t, sendoka.DNSRecord{Purpose: sendoka.RecordDKIM, Type: "CNAME", Name: tok + "._domainkey.acme.example",
				Value: tok + ".dkim.amazonses.com", Required: true, Status: sendoka.RecordPending}, d.Records[i])
		}
		require.Equal(t, "feedback-smtp.eu-west-1.amazonses.com", d.Records[4].Value)
		require.Equal(t, "bounces.acme.example", srv.Identities()["acme.example"].MailFromDomain)

		// One CNAME missing, one pointing elsewhere: pending, and which is said.
		b.dns.Publish(d)
		b.dns.SetCNAME(d.Records[1].Name, "")
		b.dns.SetCNAME(d.Records[2].Name, "elsewhere.example")
		got, err := b.client.VerifyDomain(ctx, b.root, d.ID)
		require.NoError(t, err)
		require.Equal(t, sendoka.DomainPending, got.Status)
		require.Equal(t, sendoka.RecordVerified, got.Records[0].Status)
		require.Equal(t, sendoka.RecordMissing, got.Records[1].Status)
		require.Equal(t, sendoka.RecordMismatch, got.Records[2].Status)
		require.Contains(t, got.Records[2].Problem, "points to elsewhere.example, not "+tokens[2]+".dkim.amazonses.com")
		b.dns.Publish(d)
		got, err = b.client.VerifyDomain(ctx, b.root, d.ID)
		require.NoError(t, err)
		require.Equal(t, sendoka.DomainVerified, got.Status, "%+v", got.Records)

		// Live mail goes to SES without a signature of ours.
		_, err = b.client.SendEmail(ctx, b.root, &sendoka.EmailRequest{From: "hello@acme.example", To: []string{"ada@example.com"}, Subject: "Hi", Text: "Hello"})
		require.NoError(t, err)
		pollUntil(t, func() bool { return len(srv.Requests()) == 1 }, "SES never got the message")
		require.NotContains(t, string(srv.Requests()[0].Raw), "DKIM-Signature")

		// SES refuses a name: 422 on name, nothing stored. SES down: unavailable, nothing stored.
		srv.FailIdentityWith(func(c sesemailtest.IdentityCall) *sesemailtest.Failure {
			if c.Name == "refused.example" {
				return &sesemailtest.Failure{Status: http.StatusBadRequest, Type: "BadRequestException", Message: "Domain refused.example is on a deny list"}
			}
			return &sesemailtest.Failure{Status: http.StatusServiceUnavailable, Type: "ServiceUnavailable", Message: "try later"}
		})
		_, err = b.client.CreateDomain(ctx, b.root, &sendoka.DomainRequest{Name: "refused.example"})
		e := requireCode(t, sendoka.CodeValidation, err)
		require.Contains(t, e.Fields[0].Message, "deny list")
		require.Equal(t, [][]any{{"name"}}, paths(err))
		_, err = b.client.CreateDomain(ctx, b.root, &sendoka.DomainRequest{Name: "down.example"})
		requireCode(t, sendoka.CodeUnavailable, err)
		l, err := b.client.ListDomains(ctx, b.root, sendoka.ListParams{})
		require.NoError(t, err)
		require.Len(t, l.Domains, 2, "acme.example and the sandbox domain")
	})
}
