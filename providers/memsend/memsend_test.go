package memsend_test

import (
	"context"
	"errors"
	"net/mail"
	"net/textproto"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/providers/memsend"
	"github.com/sendoka/sendoka/providers/providertest"
	"github.com/sendoka/sendoka/sendoka"
)

// memsend keeps what it is given as is, so it "delivers" every field.
var features = providertest.Features{
	ReportsName: true, CanForceFailures: true, MMS: true,
	Attachments: true, InlineImages: true, Headers: true,
}

func TestEmailConformance(t *testing.T) {
	t.Parallel()
	providertest.RunEmail(t, providertest.EmailHarness{
		Features: features,
		New: func(t *testing.T) *providertest.EmailSetup {
			fake := memsend.New()
			return &providertest.EmailSetup{
				Sender: fake,
				Received: func(t *testing.T, id string) []providertest.ReceivedEmail {
					var out []providertest.ReceivedEmail
					for _, s := range fake.Sent() {
						if e := s.Email; e != nil && e.MessageID == id {
							out = append(out, providertest.ReceivedEmail{
								From: e.From, To: e.To, Cc: e.Cc, Bcc: e.Bcc, ReplyTo: e.ReplyTo,
								Subject: e.Subject, HTML: e.HTML, Text: e.Text,
								Attachments: received(e.Attachments), Header: header(e.Headers),
							})
						}
					}
					return out
				},
				FailNext: failNext(fake),
				Stall:    stall(fake),
			}
		},
	})
}

func TestSMSConformance(t *testing.T) {
	t.Parallel()
	providertest.RunSMS(t, providertest.SMSHarness{
		Features: features,
		New: func(t *testing.T) *providertest.SMSSetup {
			fake := memsend.New()
			return &providertest.SMSSetup{
				Sender: fake,
				Received: func(t *testing.T, id string) []providertest.ReceivedSMS {
					var out []providertest.ReceivedSMS
					for _, s := range fake.Sent() {
						if m := s.SMS; m != nil && m.MessageID == id {
							out = append(out, providertest.ReceivedSMS{From: m.From, To: m.To, Body: m.Body, MediaURLs: m.MediaURLs})
						}
					}
					return out
				},
				FailNext: failNext(fake),
				Stall:    stall(fake),
			}
		},
	})
}

func received(list []sendoka.Attachment) []providertest.ReceivedAttachment {
	var out []providertest.ReceivedAttachment
	for _, a := range list {
		out = append(out, providertest.ReceivedAttachment{
			Filename: a.Filename, ContentType: a.ContentType, ContentID: a.ContentID,
			Inline: a.ContentID != "", Content: a.Content,
		})
	}
	return out
}

func header(h map[string]string) mail.Header {
	out := mail.Header{}
	for k, v := range h {
		out[textproto.CanonicalMIMEHeaderKey(k)] = []string{v}
	}
	return out
}

// failNext fails exactly one hand-off, whatever its message.
func failNext(fake *memsend.Sender) providertest.FailNext {
	return func(t *testing.T, kind sendoka.ProviderErrorKind) {
		var used atomic.Bool
		fake.FailWith(func(string, int) error {
			if used.Swap(true) {
				return nil
			}
			return &sendoka.ProviderError{Kind: kind, Provider: "memsend", Code: "forced", Message: "forced " + string(kind) + " failure"}
		})
	}
}

// stall makes hand-offs wait far longer than any test; Calls counts a hand-off as soon as
// it starts waiting.
func stall(fake *memsend.Sender) providertest.Stall {
	return func(t *testing.T) func(string) bool {
		fake.SetDelay(time.Hour)
		return func(id string) bool { return fake.Calls(id) > 0 }
	}
}

type bundle struct {
	fake *memsend.Sender
	ctx  context.Context
}

func setup(t *testing.T) *bundle {
	t.Helper()
	return &bundle{fake: memsend.New(), ctx: t.Context()}
}

func email(id string) *sendoka.OutboundEmail {
	return &sendoka.OutboundEmail{MessageID: id, From: "a@example.com", To: []string{"b@example.com"}, Subject: "hi", Text: "hi"}
}

func TestFailWith(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var calls []int
	// Fail the first attempt of every message, as a flaky provider would.
	b.fake.FailWith(func(id string, call int) error {
		calls = append(calls, call)
		if call == 0 {
			return &sendoka.ProviderError{Kind: sendoka.Throttled, Provider: "memsend", RetryAfter: time.Second}
		}
		return nil
	})

	_, err := b.fake.SendEmail(b.ctx, email("msg_1"))
	require.Equal(t, sendoka.Throttled, sendoka.ProviderErrorKindOf(err))
	require.Equal(t, 1, b.fake.Calls("msg_1"))
	require.Zero(t, b.fake.Count("msg_1"), "a refused hand-off is not recorded as sent")
	require.Empty(t, b.fake.Sent())

	res, err := b.fake.SendEmail(b.ctx, email("msg_1"))
	require.NoError(t, err)
	require.Equal(t, "mem_msg_1", res.ProviderMessageID)
	require.Equal(t, 2, b.fake.Calls("msg_1"))
	require.Equal(t, 1, b.fake.Count("msg_1"))
	require.Equal(t, []int{0, 1}, calls, "the call index counts earlier attempts of the same message")

	b.fake.FailWith(func(string, int) error { return errors.New("boom") })
	_, err = b.fake.SendEmail(b.ctx, email("msg_2"))
	require.EqualError(t, err, "boom")
	b.fake.FailWith(nil)
	_, err = b.fake.SendEmail(b.ctx, email("msg_2"))
	require.NoError(t, err, "FailWith(nil) accepts everything again")
	require.Equal(t, []string{"msg_1", "msg_2"}, sentIDs(b.fake))
}

func TestSetDelay(t *testing.T) {
	t.Parallel()

	t.Run("SendTakesTheDelay", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		const d = 20 * time.Millisecond
		b.fake.SetDelay(d)
		start := time.Now()
		_, err := b.fake.SendEmail(b.ctx, email("msg_1"))
		require.NoError(t, err)
		require.GreaterOrEqual(t, time.Since(start), d)
		require.Equal(t, 1, b.fake.Count("msg_1"))
	})

	t.Run("ContextEndsTheWait", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.fake.SetDelay(time.Hour)
		ctx, cancel := context.WithCancel(b.ctx)
		done := make(chan error, 1)
		go func() {
			_, err := b.fake.SendSMS(ctx, &sendoka.OutboundSMS{MessageID: "msg_1", From: "Sendoka", To: "+15555550101", Body: "hi"})
			done <- err
		}()
		require.Eventually(t, func() bool { return b.fake.Calls("msg_1") == 1 }, 5*time.Second, time.Millisecond)
		cancel()
		err := <-done
		require.ErrorIs(t, err, context.Canceled)
		require.Equal(t, sendoka.Transient, sendoka.ProviderErrorKindOf(err))
		require.Zero(t, b.fake.Count("msg_1"))

		b.fake.SetDelay(0)
		_, err = b.fake.SendSMS(b.ctx, &sendoka.OutboundSMS{MessageID: "msg_2", From: "Sendoka", To: "+15555550101", Body: "hi"})
		require.NoError(t, err, "SetDelay(0) removes the delay")
	})
}

func TestWaitFor(t *testing.T) {
	t.Parallel()

	t.Run("ReturnsOnceEnoughAreSent", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		require.NoError(t, b.fake.WaitFor(b.ctx, 0))
		waited := make(chan error, 1)
		go func() { waited <- b.fake.WaitFor(b.ctx, 2) }()
		_, err := b.fake.SendEmail(b.ctx, email("msg_1"))
		require.NoError(t, err)
		select {
		case err := <-waited:
			t.Fatalf("WaitFor(2) returned after one send: %v", err)
		default:
		}
		_, err = b.fake.SendEmail(b.ctx, email("msg_2"))
		require.NoError(t, err)
		require.NoError(t, <-waited)
		require.Len(t, b.fake.Sent(), 2)
	})

	t.Run("ContextEnds", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ctx, cancel := context.WithCancel(b.ctx)
		cancel()
		require.ErrorIs(t, b.fake.WaitFor(ctx, 1), context.Canceled)
	})

	t.Run("RefusedSendsDoNotCount", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.fake.FailWith(func(string, int) error { return &sendoka.ProviderError{Kind: sendoka.Permanent} })
		_, err := b.fake.SendEmail(b.ctx, email("msg_1"))
		require.Error(t, err)
		ctx, cancel := context.WithTimeout(b.ctx, 20*time.Millisecond)
		defer cancel()
		require.ErrorIs(t, b.fake.WaitFor(ctx, 1), context.DeadlineExceeded)
	})
}

func TestReportOnSend(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ev := sendoka.ProviderEvent{Type: sendoka.ProviderDelivered, Recipient: "b@example.com"}
	b.fake.ReportOnSend(ev)
	res, err := b.fake.SendEmail(b.ctx, email("msg_1"))
	require.NoError(t, err)
	require.Equal(t, []sendoka.ProviderEvent{ev}, res.Events)

	res.Events[0].Type = sendoka.ProviderBounced
	res, err = b.fake.SendEmail(b.ctx, email("msg_2"))
	require.NoError(t, err)
	require.Equal(t, sendoka.ProviderDelivered, res.Events[0].Type, "each result gets its own copy of the events")
}

func sentIDs(fake *memsend.Sender) []string {
	var ids []string
	for _, s := range fake.Sent() {
		ids = append(ids, s.MessageID())
	}
	return slices.Compact(ids)
}

func TestOutageAndName(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.fake.SetName("ses")
	require.Equal(t, "ses", b.fake.Name())
	b.fake.Outage(sendoka.Throttled)

	_, err := b.fake.SendEmail(b.ctx, email("msg_1"))
	var pe *sendoka.ProviderError
	require.ErrorAs(t, err, &pe)
	require.Equal(t, sendoka.Throttled, pe.Kind)
	require.Equal(t, "ses", pe.Provider, "errors name the provider the fake stands for")
	_, err = b.fake.SendSMS(b.ctx, &sendoka.OutboundSMS{MessageID: "msg_2", From: "+15550000000", To: "+15551112222", Body: "hi"})
	require.Equal(t, sendoka.Throttled, sendoka.ProviderErrorKindOf(err))
	require.Empty(t, b.fake.Sent())
	require.Equal(t, 2, b.fake.TotalCalls())

	b.fake.Restore()
	_, err = b.fake.SendEmail(b.ctx, email("msg_1"))
	require.NoError(t, err)
	require.Equal(t, 1, b.fake.Count("msg_1"))
	require.Equal(t, 3, b.fake.TotalCalls())
}
