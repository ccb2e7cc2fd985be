package providertest

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/sendoka"
)

// SMSHarness tells the suite how to build the SMS provider under test.
type SMSHarness struct {
	// Features says what the provider can do. The zero value claims nothing.
	Features Features
	// New returns a fresh provider for one case. Required. Cases run in parallel, so each
	// call must return independent state. Clean up with t.Cleanup.
	New func(t *testing.T) *SMSSetup
	// From is the sender number of the cases that do not test the sender itself. Default:
	// "+15555550100".
	From string
}

// SMSSetup is one provider under test and the hooks the suite uses on its peer.
type SMSSetup struct {
	// Sender is the provider under test. Required.
	Sender sendoka.SMSSender
	// Received returns what the peer got for the message with this Sendoka id, one entry
	// per accepted hand-off. Nil when the provider has no peer to inspect.
	Received func(t *testing.T, messageID string) []ReceivedSMS
	// FailNext forces the next hand-off to fail. Required when Features.CanForceFailures.
	FailNext FailNext
	// Stall makes hand-offs hang at the peer. Nil when the provider has no peer that can
	// hang.
	Stall Stall
}

// ReceivedSMS is an SMS as the peer saw it.
type ReceivedSMS struct {
	From string
	To   string
	Body string
	// MediaURLs are the media the peer was asked to attach, in order.
	MediaURLs []string
}

// RunSMS runs every SMS case against h. Call it from a test of the provider's package.
func RunSMS(t *testing.T, h SMSHarness) {
	t.Helper()
	require.NotNil(t, h.New, "SMSHarness.New is required")
	if h.From == "" {
		h.From = "+15555550100"
	}
	s := &smsSuite{h: h}
	cases := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"BasicSend", s.basicSend},
		{"UnicodeBody", s.unicodeBody},
		{"LongBody", s.longBody},
		{"SenderForms", s.senderForms},
		{"MediaURLs", s.mediaURLs},
		{"Concurrent", s.concurrent},
		{"Dedupe", s.dedupe},
		{"SimulatedOutcomes", s.simulatedOutcomes},
		{"ForcedFailures", s.forcedFailures},
		{"CanceledContext", s.canceledContext},
		{"StalledPeerHonorsContext", s.stalledPeer},
		{"Name", s.name},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.run(t)
		})
	}
}

type smsSuite struct{ h SMSHarness }

func (s *smsSuite) setup(t *testing.T) *SMSSetup {
	t.Helper()
	st := s.h.New(t)
	require.NotNil(t, st, "SMSHarness.New returned nil")
	require.NotNil(t, st.Sender, "SMSSetup.Sender is required")
	return st
}

// recipients are fictional NANP numbers (555-01xx), none of them a sandbox magic number.
var smsRecipients = []string{"+15555550101", "+15555550102", "+15555550103", "+15555550104"}

func (s *smsSuite) message(i int) *sendoka.OutboundSMS {
	return &sendoka.OutboundSMS{
		MessageID: newMessageID(),
		From:      s.h.From,
		To:        smsRecipients[i%len(smsRecipients)],
		Body:      "Your code is " + token(),
	}
}

func (s *smsSuite) send(t *testing.T, st *SMSSetup, m *sendoka.OutboundSMS) sendoka.SendResult {
	t.Helper()
	before := *m
	before.MediaURLs = slices.Clone(m.MediaURLs)
	res, err := st.Sender.SendSMS(t.Context(), m)
	require.NoError(t, err)
	require.NotEmpty(t, res.ProviderMessageID, "an accepted send returns the provider's message id")
	require.Equal(t, &before, m, "the provider must not modify the message it is given")
	if !s.h.Features.SimulatesOutcomes {
		require.Empty(t, res.Events, "only providers that simulate outcomes report events at send time")
	}
	return res
}

func smsReceivedOnce(t *testing.T, st *SMSSetup, id string) ReceivedSMS {
	t.Helper()
	got := st.Received(t, id)
	require.Len(t, got, 1, "the peer should have received message %s exactly once", id)
	return got[0]
}

func requireSameSMS(t *testing.T, m *sendoka.OutboundSMS, got ReceivedSMS) {
	t.Helper()
	require.Equal(t, m.From, got.From, "from")
	require.Equal(t, m.To, got.To, "to")
	require.Equal(t, m.Body, got.Body, "body")
	require.Equal(t, len(m.MediaURLs), len(got.MediaURLs), "media urls")
	if len(m.MediaURLs) > 0 {
		require.Equal(t, m.MediaURLs, got.MediaURLs, "media urls")
	}
}

// sendAndCheck sends m and, when the peer can be inspected, checks it arrived intact.
func (s *smsSuite) sendAndCheck(t *testing.T, st *SMSSetup, m *sendoka.OutboundSMS) sendoka.SendResult {
	t.Helper()
	res := s.send(t, st, m)
	if st.Received != nil {
		requireSameSMS(t, m, smsReceivedOnce(t, st, m.MessageID))
	}
	return res
}

func (s *smsSuite) basicSend(t *testing.T) {
	st := s.setup(t)
	s.sendAndCheck(t, st, s.message(0))
}

func (s *smsSuite) unicodeBody(t *testing.T) {
	st := s.setup(t)
	m := s.message(1)
	// Outside GSM-7: the provider must send UCS-2 (or let its peer do it), not mangle it.
	m.Body = "Привет 👋🏽 — ñandú, 日本語, “quotes” " + token()
	s.sendAndCheck(t, st, m)
}

func (s *smsSuite) longBody(t *testing.T) {
	st := s.setup(t)
	m := s.message(2)
	// Well past one segment: concatenation is the peer's business, the text must arrive whole.
	m.Body = strings.Repeat("0123456789", 159) + token()[:10]
	require.Equal(t, sendoka.MaxSMSBodyChars, len(m.Body))
	s.sendAndCheck(t, st, m)
}

func (s *smsSuite) senderForms(t *testing.T) {
	for _, from := range []string{"+15555550100", "+447700900123", "Sendoka", "ACME 2FA"} {
		t.Run(from, func(t *testing.T) {
			t.Parallel()
			st := s.setup(t)
			m := s.message(3)
			m.From = from
			s.sendAndCheck(t, st, m)
		})
	}
}

func (s *smsSuite) mediaURLs(t *testing.T) {
	if !s.h.Features.MMS {
		t.Skip("the provider sends no MMS")
	}
	st := s.setup(t)
	m := s.message(0)
	m.MediaURLs = []string{
		"https://example.com/media/cat.jpg?size=large&sig=" + token(),
		"https://example.org/media/receipt.pdf",
	}
	s.sendAndCheck(t, st, m)
}

func (s *smsSuite) concurrent(t *testing.T) {
	st := s.setup(t)
	const n = 16
	msgs := make([]*sendoka.OutboundSMS, n)
	results := make([]sendoka.SendResult, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range msgs {
		msgs[i] = s.message(i)
		wg.Go(func() {
			results[i], errs[i] = st.Sender.SendSMS(t.Context(), msgs[i])
		})
	}
	wg.Wait()
	seen := map[string]bool{}
	for i, m := range msgs {
		require.NoError(t, errs[i], "concurrent send %d", i)
		id := results[i].ProviderMessageID
		require.NotEmpty(t, id)
		require.False(t, seen[id], "provider message id %q returned twice", id)
		seen[id] = true
		if st.Received != nil {
			requireSameSMS(t, m, smsReceivedOnce(t, st, m.MessageID))
		}
	}
}

func (s *smsSuite) dedupe(t *testing.T) {
	st := s.setup(t)
	d, ok := st.Sender.(sendoka.Deduplicator)
	if !s.h.Features.Dedupes {
		require.False(t, ok && d.Deduplicates(), "the provider deduplicates but Features.Dedupes is false")
		t.Skip("the provider does not deduplicate")
	}
	require.True(t, ok && d.Deduplicates(), "Features.Dedupes needs sendoka.Deduplicator reporting true")
	m := s.message(0)
	first := s.send(t, st, m)
	second := s.send(t, st, m)
	require.Equal(t, first.ProviderMessageID, second.ProviderMessageID, "a repeated hand-off returns the first one's id")
	if st.Received != nil {
		smsReceivedOnce(t, st, m.MessageID)
	}
	other := s.send(t, st, s.message(0))
	require.NotEqual(t, first.ProviderMessageID, other.ProviderMessageID, "different messages get different ids")
}

func (s *smsSuite) simulatedOutcomes(t *testing.T) {
	if !s.h.Features.SimulatesOutcomes {
		t.Skip("the provider reports outcomes later, not at send time")
	}
	st := s.setup(t)
	m := s.message(1)
	res := s.send(t, st, m)
	requireEventsCover(t, res, m.MessageID, []string{m.To})
}

func (s *smsSuite) forcedFailures(t *testing.T) {
	if !s.h.Features.CanForceFailures {
		t.Skip("the harness cannot force failures")
	}
	for _, kind := range []sendoka.ProviderErrorKind{sendoka.Throttled, sendoka.Transient, sendoka.Permanent} {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			st := s.setup(t)
			require.NotNil(t, st.FailNext, "Features.CanForceFailures needs SMSSetup.FailNext")
			st.FailNext(t, kind)
			m := s.message(0)
			res, err := st.Sender.SendSMS(t.Context(), m)
			requireProviderError(t, st.Sender, err, kind)
			require.Empty(t, res.ProviderMessageID, "a refused send has no provider message id")
			if st.Received != nil {
				require.Empty(t, st.Received(t, m.MessageID), "a refused message must not reach the peer")
			}
			s.sendAndCheck(t, st, s.message(1))
		})
	}
}

func (s *smsSuite) canceledContext(t *testing.T) {
	st := s.setup(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	m := s.message(0)
	_, err := st.Sender.SendSMS(ctx, m)
	requireCanceled(t, err)
	if st.Received != nil {
		require.Empty(t, st.Received(t, m.MessageID), "a send whose context ended first must not reach the peer")
	}
}

func (s *smsSuite) stalledPeer(t *testing.T) {
	st := s.setup(t)
	if st.Stall == nil {
		t.Skip("the provider has no peer that can hang")
	}
	reached := st.Stall(t)
	m := s.message(0)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := st.Sender.SendSMS(ctx, m)
		done <- err
	}()
	require.Eventually(t, func() bool { return reached(m.MessageID) }, 10*time.Second, 5*time.Millisecond,
		"the hand-off never reached the stalled peer")
	cancel()
	select {
	case err := <-done:
		requireCanceled(t, err)
	case <-time.After(10 * time.Second):
		t.Fatalf("SendSMS kept waiting on a stalled peer after its context was canceled (message %s)", m.MessageID)
	}
}

func (s *smsSuite) name(t *testing.T) {
	st := s.setup(t)
	requireName(t, s.h.Features, st.Sender)
}
