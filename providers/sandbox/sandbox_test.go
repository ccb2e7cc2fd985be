package sandbox_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/providers/providertest"
	"github.com/sendoka/sendoka/providers/sandbox"
	"github.com/sendoka/sendoka/sendoka"
)

// The sandbox has no peer to inspect or break: the suite checks what it returns.
var features = providertest.Features{Dedupes: true, SimulatesOutcomes: true, ReportsName: true}

func TestEmailConformance(t *testing.T) {
	t.Parallel()
	providertest.RunEmail(t, providertest.EmailHarness{
		Features: features,
		New: func(t *testing.T) *providertest.EmailSetup {
			return &providertest.EmailSetup{Sender: sandbox.New(sandbox.Options{})}
		},
	})
}

func TestSMSConformance(t *testing.T) {
	t.Parallel()
	providertest.RunSMS(t, providertest.SMSHarness{
		Features: features,
		New: func(t *testing.T) *providertest.SMSSetup {
			return &providertest.SMSSetup{Sender: sandbox.New(sandbox.Options{})}
		},
	})
}

type bundle struct {
	sender *sandbox.Sender
	now    time.Time
}

func setup(t *testing.T, opts sandbox.Options) *bundle {
	t.Helper()
	b := &bundle{now: time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC)}
	opts.Clock = sendoka.ClockFunc(func() time.Time { return b.now })
	b.sender = sandbox.New(opts)
	return b
}

// outcome is an event reduced to what the tables below specify.
type outcome struct {
	Type       sendoka.ProviderEventType
	Code, Diag string
}

func outcomes(evs []sendoka.ProviderEvent) []outcome {
	out := make([]outcome, len(evs))
	for i, ev := range evs {
		out[i].Type = ev.Type
		if ev.Diagnostic != nil {
			out[i].Code, out[i].Diag = ev.Diagnostic.Code, ev.Diagnostic.Message
		}
	}
	return out
}

var (
	delivered  = []outcome{{Type: sendoka.ProviderDelivered}}
	complained = []outcome{{Type: sendoka.ProviderDelivered}, {Type: sendoka.ProviderComplaint, Code: "complaint", Diag: "the recipient marked the message as spam"}}
	suppressed = []outcome{{Type: sendoka.ProviderBounced, Code: "suppressed", Diag: "address is on the suppression list"}}
)

func TestEmailMagicRecipients(t *testing.T) {
	t.Parallel()
	cases := []struct {
		to   string
		want []outcome
	}{
		{"delivered@sandbox.sendoka.com", delivered},
		{"bounced@sandbox.sendoka.com", []outcome{{Type: sendoka.ProviderBounced, Code: "550 5.1.1", Diag: "mailbox does not exist"}}},
		{"complained@sandbox.sendoka.com", complained},
		{"suppressed@sandbox.sendoka.com", suppressed},
		{"success@simulator.amazonses.com", delivered},
		{"bounce@simulator.amazonses.com", []outcome{{Type: sendoka.ProviderBounced, Code: "550 5.1.1", Diag: "smtp; 550 5.1.1 user unknown"}}},
		{"complaint@simulator.amazonses.com", complained},
		{"ooto@simulator.amazonses.com", delivered},
		{"suppressionlist@simulator.amazonses.com", suppressed},
		// A +label, letter case and a display name do not hide a magic address.
		{"bounced+signup-42@sandbox.sendoka.com", []outcome{{Type: sendoka.ProviderBounced, Code: "550 5.1.1", Diag: "mailbox does not exist"}}},
		{"Complained+x@Sandbox.Sendoka.com", complained},
		{`"QA Bot" <suppressionlist+a+b@simulator.amazonses.com>`, suppressed},
		// Magic names elsewhere, and other names at the magic domains, are just delivered.
		{"bounced@example.com", delivered},
		{"bounce@sandbox.sendoka.com", delivered},
		{"bounced@simulator.amazonses.com", delivered},
		{"someone@sandbox.sendoka.com", delivered},
		{"xbounced@sandbox.sendoka.com", delivered},
	}
	for _, c := range cases {
		t.Run(c.to, func(t *testing.T) {
			t.Parallel()
			b := setup(t, sandbox.Options{})
			res, err := b.sender.SendEmail(t.Context(), &sendoka.OutboundEmail{
				MessageID: "msg_01JPB0000000000000000000AA", From: "app@sandbox.sendoka.com", To: []string{c.to}, Subject: "s", Text: "t",
			})
			require.NoError(t, err)
			require.Equal(t, "sbx_01JPB0000000000000000000AA", res.ProviderMessageID)
			require.Equal(t, c.want, outcomes(res.Events))
			for _, ev := range res.Events {
				require.Equal(t, "msg_01JPB0000000000000000000AA", ev.MessageID)
				require.Equal(t, res.ProviderMessageID, ev.ProviderMessageID)
				require.Equal(t, true, ev.Data["simulated"])
				if ev.Diagnostic != nil {
					require.Equal(t, "sandbox", ev.Diagnostic.Provider)
				}
			}
		})
	}
}

func TestEmailEventDetails(t *testing.T) {
	t.Parallel()
	b := setup(t, sandbox.Options{})
	res, err := b.sender.SendEmail(t.Context(), &sendoka.OutboundEmail{
		MessageID: "msg_1", From: "app@sandbox.sendoka.com",
		To: []string{"ooto@simulator.amazonses.com", `"Ann" <complained+1@SANDBOX.sendoka.com>`},
		Cc: []string{"bounced@sandbox.sendoka.com"}, Bcc: []string{"hidden@Example.COM"},
		Subject: "s", Text: "t",
	})
	require.NoError(t, err)
	require.Len(t, res.Events, 5)

	ooto, delivered, complaint, bounce, bcc := res.Events[0], res.Events[1], res.Events[2], res.Events[3], res.Events[4]
	require.Equal(t, "ooto@simulator.amazonses.com", ooto.Recipient)
	require.Contains(t, ooto.Data["auto_reply"], "out of the office")
	require.Equal(t, b.now, ooto.OccurredAt)

	// Recipients are bare addresses with the domain lower-cased, as suppressions store them.
	require.Equal(t, "complained+1@sandbox.sendoka.com", delivered.Recipient)
	require.Equal(t, "complained+1@sandbox.sendoka.com", complaint.Recipient)
	require.Equal(t, sendoka.ProviderComplaint, complaint.Type)
	require.Equal(t, "abuse", complaint.Data["feedback_type"])
	require.Equal(t, b.now.Add(sandbox.ComplaintDelay), complaint.OccurredAt, "the complaint comes after the delivery")

	require.Equal(t, "bounced@sandbox.sendoka.com", bounce.Recipient)
	require.Equal(t, "permanent", bounce.Data["bounce_type"])
	require.Equal(t, "hidden@example.com", bcc.Recipient)
	require.Equal(t, sendoka.ProviderDelivered, bcc.Type)

	// Events own their maps: the core adds to an event's Data when it ignores a status.
	bounce.Data["ignored_status"] = "bounced"
	again, err := b.sender.SendEmail(t.Context(), &sendoka.OutboundEmail{
		MessageID: "msg_2", From: "app@sandbox.sendoka.com", To: []string{"bounced@sandbox.sendoka.com"}, Subject: "s", Text: "t",
	})
	require.NoError(t, err)
	require.NotContains(t, again.Events[0].Data, "ignored_status")
}

func TestEmailRecipientsOnce(t *testing.T) {
	t.Parallel()
	b := setup(t, sandbox.Options{})
	res, err := b.sender.SendEmail(t.Context(), &sendoka.OutboundEmail{
		MessageID: "msg_1", From: "app@sandbox.sendoka.com",
		To: []string{"a@example.com", "A@EXAMPLE.com"}, Cc: []string{`"A" <a@example.com>`}, Bcc: []string{"b@example.com"},
		Subject: "s", Text: "t",
	})
	require.NoError(t, err)
	var got []string
	for _, ev := range res.Events {
		got = append(got, ev.Recipient)
	}
	require.Equal(t, []string{"a@example.com", "b@example.com"}, got, "one outcome per distinct recipient, in to, cc, bcc order")
}

func TestCustomDomain(t *testing.T) {
	t.Parallel()
	b := setup(t, sandbox.Options{Domain: " Sandbox.Example.com "})
	for to, want := range map[string]sendoka.ProviderEventType{
		"bounced@sandbox.example.com":         sendoka.ProviderBounced,
		"bounced@sandbox.sendoka.com":         sendoka.ProviderDelivered, // not the sandbox domain any more
		"bounce@simulator.amazonses.com":      sendoka.ProviderBounced,   // the SES simulator stays
		"complained@sandbox.example.com":      sendoka.ProviderDelivered,
		"suppressed+x@sandbox.example.com":    sendoka.ProviderBounced,
		"delivered+x@sandbox.example.com":     sendoka.ProviderDelivered,
		"suppressed+x@sandbox.sendoka.com":    sendoka.ProviderDelivered,
		"suppressionlist@sandbox.example.com": sendoka.ProviderDelivered,
	} {
		res, err := b.sender.SendEmail(t.Context(), &sendoka.OutboundEmail{MessageID: "msg_1", From: "a@sandbox.example.com", To: []string{to}, Text: "t"})
		require.NoError(t, err)
		require.Equal(t, want, res.Events[0].Type, to)
	}
}

func TestSMSMagicNumbers(t *testing.T) {
	t.Parallel()
	cases := []struct {
		to   string
		want []outcome
	}{
		{"+15005550001", delivered},
		{"+15005550002", []outcome{{Type: sendoka.ProviderFailed, Code: "30003", Diag: "unreachable destination handset"}}},
		{"+15005550003", []outcome{{Type: sendoka.ProviderBounced, Code: "30005", Diag: "unknown destination handset"}}},
		{"+15005550004", []outcome{{Type: sendoka.ProviderFailed, Code: "30007", Diag: "message filtered by the carrier"}}},
		{"+15005550005", delivered},
		{"+447700900123", delivered},
	}
	for _, c := range cases {
		t.Run(c.to, func(t *testing.T) {
			t.Parallel()
			// A magic number must get through the core's validation to be of any use.
			e164, ok := sendoka.ParseE164(c.to)
			require.True(t, ok)
			require.Equal(t, c.to, e164)

			b := setup(t, sandbox.Options{})
			res, err := b.sender.SendSMS(t.Context(), &sendoka.OutboundSMS{MessageID: "msg_7", From: "+15555550100", To: c.to, Body: "hi"})
			require.NoError(t, err)
			require.Equal(t, "sbx_7", res.ProviderMessageID)
			require.Equal(t, c.want, outcomes(res.Events))
			require.Equal(t, c.to, res.Events[0].Recipient)
			require.Equal(t, b.now, res.Events[0].OccurredAt)
		})
	}
}

func TestProviderMessageID(t *testing.T) {
	t.Parallel()
	b := setup(t, sandbox.Options{})
	send := func(id string) string {
		res, err := b.sender.SendSMS(t.Context(), &sendoka.OutboundSMS{MessageID: id, From: "Acme", To: "+15005550001", Body: "hi"})
		require.NoError(t, err)
		return res.ProviderMessageID
	}
	require.Equal(t, send("msg_A"), send("msg_A"), "the same message gets the same id, so a retried hand-off is harmless")
	require.Equal(t, "sbx_other", send("other"))
	// Without a message id (direct library use) every hand-off gets a fresh id.
	first, second := send(""), send("")
	require.NotEqual(t, first, second)
	require.Regexp(t, `^sbx_[0-9A-Z]{26}$`, first)
}

func TestCanceledContext(t *testing.T) {
	t.Parallel()
	b := setup(t, sandbox.Options{})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := b.sender.SendEmail(ctx, &sendoka.OutboundEmail{MessageID: "msg_1", To: []string{"a@example.com"}})
	var pe *sendoka.ProviderError
	require.ErrorAs(t, err, &pe)
	require.Equal(t, sendoka.Transient, pe.Kind)
	require.Equal(t, "sandbox", pe.Provider)
	require.ErrorIs(t, err, context.Canceled)
	_, err = b.sender.SendSMS(ctx, &sendoka.OutboundSMS{MessageID: "msg_1", To: "+15005550001"})
	require.ErrorIs(t, err, context.Canceled)
}

// TestLatency checks that every hand-off takes Options.Latency, and that a context ending
// first cuts it short with the abandoned hand-off's transient error.
func TestLatency(t *testing.T) {
	t.Parallel()
	email := &sendoka.OutboundEmail{MessageID: "msg_1", To: []string{"a@example.com"}}
	sms := &sendoka.OutboundSMS{MessageID: "msg_1", From: "Acme", To: "+15005550001"}
	sends := map[string]func(context.Context, *sandbox.Sender) error{
		"email": func(ctx context.Context, s *sandbox.Sender) error { _, err := s.SendEmail(ctx, email); return err },
		"sms":   func(ctx context.Context, s *sandbox.Sender) error { _, err := s.SendSMS(ctx, sms); return err },
	}
	for name, send := range sends {
		t.Run(name, func(t *testing.T) {
			t.Parallel()

			// A short latency: the hand-off succeeds, and not before the latency (timers never
			// fire early, so this holds on any machine).
			const latency = 30 * time.Millisecond
			b := setup(t, sandbox.Options{Latency: latency})
			start := time.Now()
			require.NoError(t, send(t.Context(), b.sender))
			require.GreaterOrEqual(t, time.Since(start), latency)

			// An hour's latency: the hand-off returns when its context ends, with the error of
			// an abandoned hand-off. Without the latency it would succeed at once.
			b = setup(t, sandbox.Options{Latency: time.Hour})
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan error, 1)
			go func() { done <- send(ctx, b.sender) }()
			select {
			case err := <-done:
				t.Fatalf("the hand-off returned before its context ended or its latency passed: %v", err)
			case <-time.After(20 * time.Millisecond):
			}
			cancel()
			var err error
			select {
			case err = <-done:
			case <-time.After(time.Minute):
				t.Fatal("the hand-off did not return when its context was canceled")
			}
			var pe *sendoka.ProviderError
			require.ErrorAs(t, err, &pe)
			require.Equal(t, sendoka.Transient, pe.Kind)
			require.Equal(t, "sandbox", pe.Provider)
			require.Equal(t, "canceled", pe.Code)
			require.ErrorIs(t, err, context.Canceled)
		})
	}
}
