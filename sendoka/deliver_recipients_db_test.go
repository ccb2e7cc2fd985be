package sendoka_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/providers/memsend"
	"github.com/sendoka/sendoka/providers/smtpemail"
	"github.com/sendoka/sendoka/providers/smtpemail/smtpemailtest"
	"github.com/sendoka/sendoka/sendoka"
	"github.com/sendoka/sendoka/storage/bunstore"
	"github.com/sendoka/sendoka/storage/bunstore/bunstoretest"
)

// The three recipients of every message of these tests: to, cc and bcc.
var perRcpt = []string{"ada@example.org", "bob@example.org", "cyd@example.org"}

// rcptBundle is a Client whose live email goes to a real SMTP relay (smtpemail on an
// smtpemailtest server), with deliveries run by the test itself.
type rcptBundle struct {
	*domBundle
	relay *smtpemailtest.Server
}

// newRcptBundle starts the relay with opts; bounceDomain "" leaves VERP off.
func newRcptBundle(t *testing.T, db *bunstore.DB, bounceDomain string, opts smtpemailtest.Options) *rcptBundle {
	t.Helper()
	srv := smtpemailtest.Start(t, opts)
	relay, err := smtpemail.New(smtpemail.Options{Host: srv.Host, Port: srv.Port, Security: smtpemail.NoTLS})
	require.NoError(t, err)
	t.Cleanup(func() { _ = relay.Close() })
	b := newDomBundle(t, db, func(cfg *sendoka.Config) {
		cfg.Email = relay
		cfg.VerifiedDomains = []string{"acme.example"}
		cfg.Inbound = sendoka.InboundConfig{BounceDomain: bounceDomain}
	})
	return &rcptBundle{domBundle: b, relay: srv}
}

// send accepts a live email to perRcpt (to, cc, bcc) and returns its id.
func (b *rcptBundle) send(t *testing.T) string {
	t.Helper()
	m, err := b.client.SendEmail(context.Background(), b.root, &sendoka.EmailRequest{From: "Acme <hello@acme.example>",
		To: perRcpt[:1], Cc: perRcpt[1:2], Bcc: perRcpt[2:], Subject: "Hello", Text: "Hello all"})
	require.NoError(t, err)
	return m.ID
}

// deliver runs one delivery attempt of id, as the queue's job would.
func (b *rcptBundle) deliver(id string, final bool) error {
	return b.client.Deliver(context.Background(), id, sendoka.DeliverOptions{FinalAttempt: final})
}

func (b *rcptBundle) get(t *testing.T, id string) *sendoka.Message {
	t.Helper()
	m, err := b.client.GetMessage(context.Background(), b.root, sendoka.ChannelEmail, id)
	require.NoError(t, err)
	return m
}

// receipts is how many times the relay read the message's data for each of perRcpt.
func (b *rcptBundle) receipts(id string) []int {
	out := make([]int, len(perRcpt))
	for i, r := range perRcpt {
		out[i] = b.relay.ReceivedFor(id+"@acme.example", r)
	}
	return out
}

// results lists an attempt's recipients as "address result".
func results(a sendoka.DeliveryAttempt) []string {
	var out []string
	for _, r := range a.Recipients {
		out = append(out, r.Address+" "+string(r.Result))
	}
	return out
}

// recipientEvents returns m's events of typ, by recipient.
func recipientEvents(m *sendoka.Message, typ sendoka.EventType) map[string]sendoka.Event {
	out := map[string]sendoka.Event{}
	for _, ev := range m.Events {
		if ev.Type == typ {
			out[ev.Recipient] = ev
		}
	}
	return out
}

// onceFor refuses the first transaction to rcpt with err, and lets every other one through.
func onceFor(rcpt string, err error) func(string) error {
	var mu sync.Mutex
	done := false
	return func(to string) error {
		mu.Lock()
		defer mu.Unlock()
		if to != rcpt || done {
			return nil
		}
		done = true
		return err
	}
}

// TestPerRecipientVERP: with a bounce domain, a message with three recipients goes out in
// three transactions of the same message, each with a return path of its own whose token
// names its recipient: a report to the second one's return path that names no recipient
// (or another) suppresses exactly the second. Without a bounce domain it goes in one.
func TestPerRecipientVERP(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		// No bounce domain: one transaction, every recipient, the sender's return path.
		plain := newRcptBundle(t, db, "", smtpemailtest.Options{})
		id := plain.send(t)
		require.NoError(t, plain.deliver(id, false))
		one := plain.relay.WaitFor(t, 1)
		require.Len(t, one, 1)
		require.Equal(t, perRcpt, one[0].To)
		require.Equal(t, "hello@acme.example", one[0].From)
		require.Empty(t, plain.get(t, id).DeliveryAttempts[0].Recipients)

		b := newRcptBundle(t, db, "bounce.acme.example", smtpemailtest.Options{})
		ctx := context.Background()
		id = b.send(t)
		require.NoError(t, b.deliver(id, false))

		got := b.relay.WaitFor(t, 3)
		require.Len(t, got, 3)
		paths := map[string]bool{}
		for i, g := range got {
			require.Equal(t, []string{perRcpt[i]}, g.To, "one recipient per transaction, in order")
			require.True(t, strings.HasPrefix(g.From, "bounces+") && strings.HasSuffix(g.From, "@bounce.acme.example"), g.From)
			paths[g.From] = true
			require.Equal(t, got[0].Data, g.Data, "the same message each time")
		}
		require.Len(t, paths, 3, "a return path per recipient")
		require.Equal(t, []int{1, 1, 1}, b.receipts(id))
		require.Contains(t, string(got[0].Data), "Cc: bob@example.org")
		require.NotContains(t, string(got[0].Data), "cyd@example.org", "bcc stays out of the message")

		m := b.get(t, id)
		require.Equal(t, sendoka.StatusSent, m.Status)
		require.Equal(t, id+"@acme.example", m.ProviderMessageID)
		require.Len(t, m.DeliveryAttempts, 1)
		require.Equal(t, sendoka.AttemptSent, m.DeliveryAttempts[0].Result)
		require.Equal(t, []string{"ada@example.org sent", "bob@example.org sent", "cyd@example.org sent"}, results(m.DeliveryAttempts[0]))

		// A report to bob's return path: it names no recipient, then one that is not his.
		for i, named := range []string{"", "ada@example.org"} {
			res, err := b.client.HandleDeliveryReport(ctx, &sendoka.DeliveryReport{ID: "verp-" + named, ReturnPath: got[1].From, Format: "dsn",
				Recipients: []sendoka.ReportRecipient{{Address: named, Kind: sendoka.ReportHardBounce, Status: "5.1.1", Reason: "user_unknown"}}})
			require.NoError(t, err)
			require.Equal(t, sendoka.ReportResult{MessageID: id, Applied: 1}, res, i)
		}
		m = b.get(t, id)
		require.Equal(t, sendoka.StatusSent, m.Status, "ada and cyd have no outcome yet")
		require.Len(t, m.Recipients, 1)
		require.Equal(t, "bob@example.org", m.Recipients[0].Address)
		require.Equal(t, sendoka.RecipientBounced, m.Recipients[0].Status)
		_, err := b.client.GetSuppression(ctx, b.root, sendoka.ChannelEmail, "bob@example.org")
		require.NoError(t, err)
		for _, other := range []string{"ada@example.org", "cyd@example.org"} {
			_, err := b.client.GetSuppression(ctx, b.root, sendoka.ChannelEmail, other)
			require.Equal(t, sendoka.CodeNotFound, sendoka.ErrorCode(err), other)
		}

	})
}

// TestPerRecipientPartialFailure: the relay refuses the third recipient for now; the retry
// sends to it alone, so each recipient is handed the message exactly once.
func TestPerRecipientPartialFailure(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := newRcptBundle(t, db, "bounce.acme.example", smtpemailtest.Options{
			Rcpt: onceFor("cyd@example.org", &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Try again later"})})
		id := b.send(t)
		err := b.deliver(id, false)
		require.Equal(t, sendoka.CodeProviderTransient, sendoka.ErrorCode(err), "%v", err)
		m := b.get(t, id)
		require.Equal(t, sendoka.StatusQueued, m.Status)
		require.NotNil(t, m.NextRetryAt)
		require.Len(t, m.DeliveryAttempts, 1)
		require.Equal(t, sendoka.AttemptTransient, m.DeliveryAttempts[0].Result)
		require.Equal(t, []string{"ada@example.org sent", "bob@example.org sent", "cyd@example.org transient"}, results(m.DeliveryAttempts[0]))
		require.Equal(t, "451 4.3.0", m.DeliveryAttempts[0].Recipients[2].Diagnostic.Code)
		require.Equal(t, []int{1, 1, 0}, b.receipts(id))

		require.NoError(t, b.deliver(id, false))
		require.Equal(t, []int{1, 1, 1}, b.receipts(id), "the retry went to cyd alone")
		got := b.relay.WaitFor(t, 3)
		require.Len(t, got, 3)
		m = b.get(t, id)
		require.Equal(t, sendoka.StatusSent, m.Status)
		require.Len(t, m.DeliveryAttempts, 2)
		require.Equal(t, []string{"cyd@example.org sent"}, results(m.DeliveryAttempts[1]))
		require.Equal(t, 2, m.Attempts)

		// The message is sent: another run of its job sends nothing.
		require.NoError(t, b.deliver(id, false))
		require.Equal(t, []int{1, 1, 1}, b.receipts(id))
	})
}

// TestPerRecipientUnknown: the relay hangs up instead of answering the final "." of bob's
// transaction: bob's outcome is unknown and he is never sent the message again; cyd, not
// tried, goes on the next attempt; the message is sent, with an outcome_unknown event for
// bob.
func TestPerRecipientUnknown(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		var mu sync.Mutex
		hungUp := false
		b := newRcptBundle(t, db, "bounce.acme.example", smtpemailtest.Options{Data: func(m smtpemailtest.Message) error {
			mu.Lock()
			defer mu.Unlock()
			if slices.Contains(m.To, "bob@example.org") && !hungUp {
				hungUp = true
				return smtpemailtest.ErrHangUp
			}
			return nil
		}})
		id := b.send(t)
		err := b.deliver(id, false)
		require.Equal(t, sendoka.CodeProviderTransient, sendoka.ErrorCode(err), "%v", err)
		m := b.get(t, id)
		require.Equal(t, sendoka.StatusQueued, m.Status)
		require.Equal(t, []string{"ada@example.org sent", "bob@example.org unknown", "cyd@example.org skipped"}, results(m.DeliveryAttempts[0]))
		require.Equal(t, "outcome_unknown", m.DeliveryAttempts[0].Recipients[1].Diagnostic.Code)
		require.Equal(t, "not_tried", m.DeliveryAttempts[0].Recipients[2].Diagnostic.Code)
		require.Equal(t, []int{1, 1, 0}, b.receipts(id))

		require.NoError(t, b.deliver(id, false))
		require.Equal(t, []int{1, 1, 1}, b.receipts(id), "bob is never sent it again")
		m = b.get(t, id)
		require.Equal(t, sendoka.StatusSent, m.Status)
		require.Empty(t, m.Outcome, "the message reached the relay for ada and cyd")
		require.Equal(t, []string{"cyd@example.org sent"}, results(m.DeliveryAttempts[1]))
		unknown := recipientEvents(m, sendoka.EventOutcomeUnknown)
		require.Len(t, unknown, 1)
		require.Contains(t, unknown, "bob@example.org")
		require.Equal(t, "outcome_unknown", unknown["bob@example.org"].Diagnostic.Code)

		require.NoError(t, b.deliver(id, true))
		require.Equal(t, []int{1, 1, 1}, b.receipts(id))
	})
}

// TestPerRecipientRefusals: a recipient refused for good does not stop the others, and
// fails alone (a failed recipient, a message.failed event naming it, no suppression, as a
// refused message of one recipient gets); the message fails when every recipient is
// refused, is sent with an unknown outcome when none was taken and one is unknown, and the
// last attempt gives up on a recipient still refused for now.
func TestPerRecipientRefusals(t *testing.T) {
	t.Parallel()
	refuse := func(rcpts ...string) func(string) error {
		return func(to string) error {
			if slices.Contains(rcpts, to) {
				return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user"}
			}
			return nil
		}
	}
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		ctx := context.Background()
		t.Run("one refused", func(t *testing.T) {
			b := newRcptBundle(t, db, "bounce.acme.example", smtpemailtest.Options{Rcpt: refuse("bob@example.org")})
			id := b.send(t)
			require.NoError(t, b.deliver(id, false))
			require.Equal(t, []int{1, 0, 1}, b.receipts(id))
			m := b.get(t, id)
			require.Equal(t, sendoka.StatusSent, m.Status)
			require.Equal(t, sendoka.AttemptPermanent, m.DeliveryAttempts[0].Result)
			require.Equal(t, []string{"ada@example.org sent", "bob@example.org permanent", "cyd@example.org sent"}, results(m.DeliveryAttempts[0]))
			require.Len(t, m.Recipients, 1)
			require.Equal(t, sendoka.RecipientFailed, m.Recipients[0].Status)
			require.Equal(t, "550 5.1.1", m.Recipients[0].Diagnostic.Code)
			failed := recipientEvents(m, sendoka.EventFailed)
			require.Len(t, failed, 1)
			require.Empty(t, failed["bob@example.org"].Status, "the message itself is sent")
			_, err := b.client.GetSuppression(ctx, b.root, sendoka.ChannelEmail, "bob@example.org")
			require.Equal(t, sendoka.CodeNotFound, sendoka.ErrorCode(err))
		})
		t.Run("all refused", func(t *testing.T) {
			b := newRcptBundle(t, db, "bounce.acme.example", smtpemailtest.Options{Rcpt: refuse(perRcpt...)})
			id := b.send(t)
			require.NoError(t, b.deliver(id, false))
			m := b.get(t, id)
			require.Equal(t, sendoka.StatusFailed, m.Status)
			require.Equal(t, "550 5.1.1", m.Diagnostic.Code)
			require.Equal(t, []string{"ada@example.org permanent", "bob@example.org permanent", "cyd@example.org permanent"}, results(m.DeliveryAttempts[0]))
			failed := recipientEvents(m, sendoka.EventFailed)
			require.Len(t, failed, 1, "one message.failed, for the message")
			require.Contains(t, failed, "")
		})
		t.Run("refused and unknown", func(t *testing.T) {
			b := newRcptBundle(t, db, "bounce.acme.example", smtpemailtest.Options{Rcpt: refuse("ada@example.org"),
				Data: func(m smtpemailtest.Message) error { return smtpemailtest.ErrHangUp }})
			id := b.send(t)
			require.Error(t, b.deliver(id, false), "cyd was not tried")
			require.NoError(t, b.deliver(id, false), "the relay hangs up on cyd too: every recipient is settled")
			m := b.get(t, id)
			require.Equal(t, sendoka.StatusSent, m.Status)
			require.Equal(t, sendoka.OutcomeUnknown, m.Outcome)
			require.Equal(t, []int{0, 1, 1}, b.receipts(id))
			require.Equal(t, []string{"cyd@example.org unknown"}, results(m.DeliveryAttempts[1]))
			require.Len(t, m.Recipients, 1)
			require.Equal(t, "ada@example.org", m.Recipients[0].Address)
			require.Equal(t, sendoka.RecipientFailed, m.Recipients[0].Status)
		})
		t.Run("last attempt", func(t *testing.T) {
			b := newRcptBundle(t, db, "bounce.acme.example", smtpemailtest.Options{Rcpt: func(to string) error {
				if to == "cyd@example.org" {
					return &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 2, 2}, Message: "Mailbox full"}
				}
				return nil
			}})
			id := b.send(t)
			require.Error(t, b.deliver(id, false))
			require.NoError(t, b.deliver(id, true))
			require.Equal(t, []int{1, 1, 0}, b.receipts(id))
			m := b.get(t, id)
			require.Equal(t, sendoka.StatusSent, m.Status)
			require.Equal(t, sendoka.AttemptTransient, m.DeliveryAttempts[1].Result)
			require.Len(t, m.Recipients, 1)
			require.Equal(t, "cyd@example.org", m.Recipients[0].Address)
			require.Equal(t, sendoka.RecipientFailed, m.Recipients[0].Status)
			require.Equal(t, "transient", recipientEvents(m, sendoka.EventFailed)["cyd@example.org"].Data["attempt_result"])
		})
	})
}

// TestPerRecipientNoFailoverToOneHandOff: once some recipients have the message, it never
// goes to a provider that would send it to every recipient again: the relay refuses the
// last recipient twice, and the second time the backup provider (which cannot send
// recipient by recipient) is skipped rather than handed the message.
func TestPerRecipientNoFailoverToOneHandOff(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		srv := smtpemailtest.Start(t, smtpemailtest.Options{Rcpt: func(to string) error {
			if to == "cyd@example.org" {
				return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Try again later"}
			}
			return nil
		}})
		relay, err := smtpemail.New(smtpemail.Options{Host: srv.Host, Port: srv.Port, Security: smtpemail.NoTLS})
		require.NoError(t, err)
		t.Cleanup(func() { _ = relay.Close() })
		backup := memsend.New()
		b := &rcptBundle{relay: srv, domBundle: newDomBundle(t, db, func(cfg *sendoka.Config) {
			cfg.Email = nil
			cfg.EmailProviders = []sendoka.EmailProvider{{Name: "smtp", Sender: relay}, {Name: "backup", Sender: backup}}
			cfg.VerifiedDomains = []string{"acme.example"}
			cfg.Inbound = sendoka.InboundConfig{BounceDomain: "bounce.acme.example"}
		})}
		id := b.send(t)
		require.Error(t, b.deliver(id, false), "cyd refused for now; ada and bob have it: no failover")
		require.Error(t, b.deliver(id, false), "cyd refused again; the backup is skipped")
		require.Empty(t, backup.Sent(), "the backup never got the message")
		require.Equal(t, []int{1, 1, 0}, b.receipts(id))
		m := b.get(t, id)
		require.Equal(t, sendoka.StatusQueued, m.Status)
		require.Len(t, m.DeliveryAttempts, 3)
		require.Equal(t, []string{"ada@example.org sent", "bob@example.org sent", "cyd@example.org transient"}, results(m.DeliveryAttempts[0]))
		require.True(t, m.DeliveryAttempts[1].FailedOver)
		require.Equal(t, "smtp", m.DeliveryAttempts[1].Provider)
		last := m.DeliveryAttempts[2]
		require.Equal(t, "backup", last.Provider)
		require.Equal(t, sendoka.AttemptSkipped, last.Result)
		require.Equal(t, "sent_per_recipient", last.Diagnostic.Code)
		require.Equal(t, []string{"cyd@example.org skipped"}, results(last))
	})
}
