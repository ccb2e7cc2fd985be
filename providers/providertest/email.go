package providertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"mime"
	"net/mail"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/sendoka"
)

// EmailHarness tells the suite how to build the email provider under test.
type EmailHarness struct {
	// Features says what the provider can do. The zero value claims nothing.
	Features Features
	// New returns a fresh provider for one case. Required. Cases run in parallel, so each
	// call must return independent state: its own fake peer, its own failure switch. Clean
	// up with t.Cleanup.
	New func(t *testing.T) *EmailSetup
	// From is the sender address of every case's message. Default:
	// "Sendoka Test <sender@example.com>".
	From string
}

// EmailSetup is one provider under test and the hooks the suite uses on its peer.
type EmailSetup struct {
	// Sender is the provider under test. Required.
	Sender sendoka.EmailSender
	// Received returns what the peer got for the message with this Sendoka id: one entry
	// per hand-off the peer accepted, none if it got nothing. Nil when the provider has no
	// peer to inspect (the sandbox); the suite then checks only what SendEmail returns.
	Received func(t *testing.T, messageID string) []ReceivedEmail
	// FailNext forces the next hand-off to fail. Required when Features.CanForceFailures.
	FailNext FailNext
	// Stall makes hand-offs hang at the peer. Nil when the provider has no peer that can
	// hang; the suite then only checks a context canceled before the call.
	Stall Stall
}

// ReceivedEmail is an email as the peer saw it, decoded: MIME encoded-words and transfer
// encodings undone, so the suite compares it with what was sent.
type ReceivedEmail struct {
	// From, To, Cc and ReplyTo are addresses as the headers carry them, display names
	// included ("Zoë <zoe@example.com>").
	From    string
	To      []string
	Cc      []string
	ReplyTo []string
	// Bcc are the recipients the peer was asked to deliver to that the headers do not name
	// (for SMTP: envelope recipients minus To and Cc). Compared as bare addresses, since no
	// header carries their display names.
	Bcc     []string
	Subject string
	// HTML and Text are the decoded bodies. Line ends may be CRLF and a trailing line break
	// may be added; the suite ignores both.
	HTML string
	Text string
	// Attachments are the non-body parts, in message order, decoded.
	Attachments []ReceivedAttachment
	// Header holds the message's header fields with encoded words decoded. Only the fields
	// the suite set through OutboundEmail.Headers are checked; nil is fine for a harness
	// whose provider does not claim Features.Headers.
	Header mail.Header
	// Raw is the message as the peer received it (ParseMessage sets it); needed with
	// Features.SignsDKIM.
	Raw []byte
	// EnvelopeTo are the recipients the peer was asked to deliver to (ParseMessage's
	// envelope), and ReturnPath the envelope sender (SMTP MAIL FROM) when the harness knows
	// it; both needed with Features.SendsPerRecipient.
	EnvelopeTo []string
	ReturnPath string
}

// ReceivedAttachment is one attachment or inline part as the peer saw it.
type ReceivedAttachment struct {
	Filename string
	// ContentType is the part's media type; parameters are ignored.
	ContentType string
	// ContentID is the part's Content-ID without angle brackets, "" when it has none.
	ContentID string
	// Inline reports a Content-Disposition of inline.
	Inline bool
	// Content is the decoded bytes.
	Content []byte
}

// RunEmail runs every email case against h. Call it from a test of the provider's package.
func RunEmail(t *testing.T, h EmailHarness) {
	t.Helper()
	require.NotNil(t, h.New, "EmailHarness.New is required")
	if h.From == "" {
		h.From = "Sendoka Test <sender@example.com>"
	}
	s := &emailSuite{h: h}
	cases := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"BasicSend", s.basicSend},
		{"AllFieldsReachPeer", s.allFields},
		{"Unicode", s.unicode},
		{"LargeBody", s.largeBody},
		{"TextOnly", s.textOnly},
		{"Attachments", s.attachments},
		{"InlineImages", s.inlineImages},
		{"Headers", s.headers},
		{"DKIM", s.dkim},                       // dkim.go
		{"PerRecipient", s.perRecipient},       // per_recipient.go
		{"HeaderInjection", s.headerInjection}, // email_injection.go
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

type emailSuite struct{ h EmailHarness }

func (s *emailSuite) setup(t *testing.T) *EmailSetup {
	t.Helper()
	st := s.h.New(t)
	require.NotNil(t, st, "EmailHarness.New returned nil")
	require.NotNil(t, st.Sender, "EmailSetup.Sender is required")
	return st
}

// message is a plain, valid email with a fresh id.
func (s *emailSuite) message() *sendoka.OutboundEmail {
	tok := token()
	return &sendoka.OutboundEmail{
		MessageID: newMessageID(),
		From:      s.h.From,
		To:        []string{"to-" + tok + "@example.com"},
		Subject:   "Conformance " + tok,
		HTML:      "<p>Hello " + tok + "</p>",
		Text:      "Hello " + tok,
		Tags:      []string{"conformance"},
	}
}

// send hands m over and checks what every accepted send must satisfy.
func (s *emailSuite) send(t *testing.T, st *EmailSetup, m *sendoka.OutboundEmail) sendoka.SendResult {
	t.Helper()
	before := cloneEmail(m)
	res, err := st.Sender.SendEmail(t.Context(), m)
	require.NoError(t, err)
	require.NotEmpty(t, res.ProviderMessageID, "an accepted send returns the provider's message id")
	require.Equal(t, before, m, "the provider must not modify the message it is given")
	if !s.h.Features.SimulatesOutcomes {
		require.Empty(t, res.Events, "only providers that simulate outcomes report events at send time")
	}
	return res
}

// receivedOnce returns the peer's single copy of the message.
func receivedOnce(t *testing.T, st *EmailSetup, id string) ReceivedEmail {
	t.Helper()
	got := st.Received(t, id)
	require.Len(t, got, 1, "the peer should have received message %s exactly once", id)
	return got[0]
}

// requireSameEmail checks that the peer saw m as it was sent.
func requireSameEmail(t *testing.T, m *sendoka.OutboundEmail, got ReceivedEmail) {
	t.Helper()
	require.Equal(t, addressKey(t, m.From), addressKey(t, got.From), "from")
	require.ElementsMatch(t, addressKeys(t, m.To), addressKeys(t, got.To), "to")
	require.ElementsMatch(t, addressKeys(t, m.Cc), addressKeys(t, got.Cc), "cc")
	require.ElementsMatch(t, addressKeys(t, m.ReplyTo), addressKeys(t, got.ReplyTo), "reply-to")
	require.ElementsMatch(t, bareAddresses(m.Bcc), bareAddresses(got.Bcc), "bcc")
	require.Equal(t, m.Subject, got.Subject, "subject")
	requireSameText(t, m.HTML, got.HTML, "html body")
	requireSameText(t, m.Text, got.Text, "text body")
}

func (s *emailSuite) basicSend(t *testing.T) {
	st := s.setup(t)
	m := s.message()
	s.send(t, st, m)
	if st.Received != nil {
		requireSameEmail(t, m, receivedOnce(t, st, m.MessageID))
	}
}

func (s *emailSuite) allFields(t *testing.T) {
	st := s.setup(t)
	tok := token()
	m := s.message()
	m.To = []string{`"Ada Lovelace" <ada-` + tok + "@example.com>", "bob-" + tok + "@example.org"}
	m.Cc = []string{`"Carol \"CJ\" Jones" <carol-` + tok + "@example.net>"}
	m.Bcc = []string{"dave-" + tok + "@example.com", "erin-" + tok + "@example.org"}
	m.ReplyTo = []string{`"Support" <support-` + tok + "@example.com>"}
	m.Subject = "All fields " + tok
	m.HTML = "<html><body><h1>Title " + tok + "</h1><p>Line one<br>Line two</p></body></html>"
	m.Text = "Title " + tok + "\n\nLine one\nLine two"
	m.Tags = []string{"a", "b"}
	res := s.send(t, st, m)
	if st.Received != nil {
		requireSameEmail(t, m, receivedOnce(t, st, m.MessageID))
	}
	if s.h.Features.SimulatesOutcomes {
		requireEventsCover(t, res, m.MessageID, allRecipients(m))
	}
}

func (s *emailSuite) unicode(t *testing.T) {
	st := s.setup(t)
	tok := token()
	m := s.message()
	// The core keeps UTF-8 display names as they are, quoted; the provider encodes them.
	m.From = `"Zoë Ünïcode 📬" <` + bareAddress(s.h.From) + ">"
	m.To = []string{`"Jürgen Groß" <juergen-` + tok + "@example.com>"}
	m.Subject = "Grüße, 你好, привет 👋🏽 — " + tok + " — a subject long enough that an encoder must fold it across several encoded words"
	m.HTML = "<p>Ça va? 日本語のテキスト 🎉🚀 ‘quotes’ «guillemets» " + tok + "</p>\n<p>" + strings.Repeat("é", 300) + "</p>"
	m.Text = "Ça va? 日本語のテキスト 🎉🚀 ‘quotes’ «guillemets» " + tok + "\n" + strings.Repeat("é", 300)
	s.send(t, st, m)
	if st.Received != nil {
		requireSameEmail(t, m, receivedOnce(t, st, m.MessageID))
	}
}

func (s *emailSuite) largeBody(t *testing.T) {
	st := s.setup(t)
	m := s.message()
	var b strings.Builder
	b.WriteString("<html><body>\n")
	for i := 0; b.Len() < 1<<20; i++ {
		fmt.Fprintf(&b, "<p>Paragraph %d of a large message, with some text to fill the line: lorem ipsum dolor sit amet.</p>\n", i)
	}
	b.WriteString("</body></html>")
	m.HTML = b.String()
	// A line far beyond SMTP's 998-octet limit: the provider must encode it, not cut it.
	m.Text = strings.Repeat("long-line ", 20_000)
	s.send(t, st, m)
	if st.Received != nil {
		requireSameEmail(t, m, receivedOnce(t, st, m.MessageID))
	}
}

func (s *emailSuite) textOnly(t *testing.T) {
	st := s.setup(t)
	m := s.message()
	m.HTML = ""
	s.send(t, st, m)
	if st.Received != nil {
		got := receivedOnce(t, st, m.MessageID)
		require.Empty(t, normalizeText(got.HTML), "a text-only message must not grow an HTML part")
		requireSameText(t, m.Text, got.Text, "text body")
	}
}

func (s *emailSuite) concurrent(t *testing.T) {
	st := s.setup(t)
	const n = 16
	msgs := make([]*sendoka.OutboundEmail, n)
	results := make([]sendoka.SendResult, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range msgs {
		msgs[i] = s.message()
		wg.Go(func() {
			results[i], errs[i] = st.Sender.SendEmail(t.Context(), msgs[i])
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
			requireSameEmail(t, m, receivedOnce(t, st, m.MessageID))
		}
	}
}

func (s *emailSuite) dedupe(t *testing.T) {
	st := s.setup(t)
	d, ok := st.Sender.(sendoka.Deduplicator)
	if !s.h.Features.Dedupes {
		require.False(t, ok && d.Deduplicates(), "the provider deduplicates but Features.Dedupes is false")
		t.Skip("the provider does not deduplicate")
	}
	require.True(t, ok && d.Deduplicates(), "Features.Dedupes needs sendoka.Deduplicator reporting true")
	m := s.message()
	first := s.send(t, st, m)
	second := s.send(t, st, m)
	require.Equal(t, first.ProviderMessageID, second.ProviderMessageID, "a repeated hand-off returns the first one's id")
	if st.Received != nil {
		receivedOnce(t, st, m.MessageID)
	}
	other := s.send(t, st, s.message())
	require.NotEqual(t, first.ProviderMessageID, other.ProviderMessageID, "different messages get different ids")
}

func (s *emailSuite) simulatedOutcomes(t *testing.T) {
	if !s.h.Features.SimulatesOutcomes {
		t.Skip("the provider reports outcomes later, not at send time")
	}
	st := s.setup(t)
	m := s.message()
	m.To = append(m.To, "second-"+token()+"@example.com")
	m.Cc = []string{"cc-" + token() + "@example.com"}
	res := s.send(t, st, m)
	requireEventsCover(t, res, m.MessageID, allRecipients(m))
}

func (s *emailSuite) forcedFailures(t *testing.T) {
	if !s.h.Features.CanForceFailures {
		t.Skip("the harness cannot force failures")
	}
	for _, kind := range []sendoka.ProviderErrorKind{sendoka.Throttled, sendoka.Transient, sendoka.Permanent} {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			st := s.setup(t)
			require.NotNil(t, st.FailNext, "Features.CanForceFailures needs EmailSetup.FailNext")
			st.FailNext(t, kind)
			m := s.message()
			res, err := st.Sender.SendEmail(t.Context(), m)
			requireProviderError(t, st.Sender, err, kind)
			if pe := (*sendoka.ProviderError)(nil); kind == sendoka.Permanent && errors.As(err, &pe) {
				require.NotEmpty(t, pe.Message, "a permanent failure carries the provider's diagnostic, shown on the message")
			}
			require.Empty(t, res.ProviderMessageID, "a refused send has no provider message id")
			if st.Received != nil {
				require.Empty(t, st.Received(t, m.MessageID), "a refused message must not reach the peer")
			}
			// The failure was for one hand-off only: the provider recovers (a broken
			// connection is not reused, for instance).
			next := s.message()
			s.send(t, st, next)
			if st.Received != nil {
				requireSameEmail(t, next, receivedOnce(t, st, next.MessageID))
			}
		})
	}
}

func (s *emailSuite) canceledContext(t *testing.T) {
	st := s.setup(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	m := s.message()
	_, err := st.Sender.SendEmail(ctx, m)
	requireCanceled(t, err)
	if st.Received != nil {
		require.Empty(t, st.Received(t, m.MessageID), "a send whose context ended first must not reach the peer")
	}
}

func (s *emailSuite) stalledPeer(t *testing.T) {
	st := s.setup(t)
	if st.Stall == nil {
		t.Skip("the provider has no peer that can hang")
	}
	reached := st.Stall(t)
	m := s.message()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := st.Sender.SendEmail(ctx, m)
		done <- err
	}()
	require.Eventually(t, func() bool { return reached(m.MessageID) }, 10*time.Second, 5*time.Millisecond,
		"the hand-off never reached the stalled peer")
	cancel()
	select {
	case err := <-done:
		requireCanceled(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("SendEmail kept waiting on a stalled peer after its context was canceled")
	}
}

func (s *emailSuite) name(t *testing.T) {
	st := s.setup(t)
	requireName(t, s.h.Features, st.Sender)
}

// requireName checks Namer against Features.ReportsName.
func requireName(t *testing.T, f Features, p any) {
	t.Helper()
	n, ok := p.(sendoka.Namer)
	if !f.ReportsName {
		require.False(t, ok, "the provider implements sendoka.Namer but Features.ReportsName is false")
		t.Skip("the provider reports no name")
	}
	require.True(t, ok, "Features.ReportsName needs sendoka.Namer")
	name := n.Name()
	require.Regexp(t, regexp.MustCompile(`^[a-z][a-z0-9_-]*$`), name, "a name is recorded on every message: short, lower-case, no spaces")
	require.Equal(t, name, n.Name(), "the name must be stable")
}

// requireProviderError checks that err is a *sendoka.ProviderError of kind.
func requireProviderError(t *testing.T, p any, err error, kind sendoka.ProviderErrorKind) {
	t.Helper()
	require.Error(t, err)
	var pe *sendoka.ProviderError
	require.True(t, errors.As(err, &pe), "errors must be *sendoka.ProviderError so the core can classify them; got %T: %v", err, err)
	require.Equal(t, kind, pe.Kind, "error kind of %v", err)
	require.NotEmpty(t, pe.Error())
	if n, ok := p.(sendoka.Namer); ok {
		require.Equal(t, n.Name(), pe.Provider, "ProviderError.Provider names the provider")
	}
}

// requireCanceled checks the result of a send whose context was canceled: an error the
// core retries (never Permanent: the message is fine) that still says it was a
// cancellation, so a shutdown is not mistaken for a provider failure.
func requireCanceled(t *testing.T, err error) {
	t.Helper()
	require.Error(t, err, "a send whose context was canceled must fail")
	require.NotEqual(t, sendoka.Permanent, sendoka.ProviderErrorKindOf(err), "a canceled send is not a permanent failure")
	require.ErrorIs(t, err, context.Canceled, "the error must wrap context.Canceled")
}

// requireEventsCover checks simulated outcomes: known types, stamped, about this message,
// and every recipient covered by at least one event and no one else.
func requireEventsCover(t *testing.T, res sendoka.SendResult, messageID string, recipients []string) {
	t.Helper()
	require.NotEmpty(t, res.Events, "Features.SimulatesOutcomes: the send reports outcomes")
	covered := map[string]bool{}
	for _, ev := range res.Events {
		require.Contains(t, []sendoka.ProviderEventType{
			sendoka.ProviderDelivered, sendoka.ProviderBounced, sendoka.ProviderFailed,
			sendoka.ProviderComplaint, sendoka.ProviderOpened, sendoka.ProviderClicked,
		}, ev.Type)
		require.False(t, ev.OccurredAt.IsZero(), "event %s has no time", ev.Type)
		if ev.MessageID != "" {
			require.Equal(t, messageID, ev.MessageID)
		}
		if ev.ProviderMessageID != "" {
			require.Equal(t, res.ProviderMessageID, ev.ProviderMessageID)
		}
		if ev.Type == sendoka.ProviderBounced || ev.Type == sendoka.ProviderFailed {
			require.NotNil(t, ev.Diagnostic, "a %s event explains itself", ev.Type)
			require.NotEmpty(t, ev.Diagnostic.Message)
		}
		require.NotEmpty(t, ev.Recipient, "each simulated event names its recipient")
		covered[ev.Recipient] = true
	}
	want := map[string]bool{}
	for _, r := range recipients {
		want[r] = true
	}
	require.Equal(t, want, covered, "one outcome per recipient")
}

func allRecipients(m *sendoka.OutboundEmail) []string {
	return bareAddresses(slices.Concat(m.To, m.Cc, m.Bcc))
}

func bareAddresses(list []string) []string {
	out := make([]string, 0, len(list))
	for _, s := range list {
		out = append(out, bareAddress(s))
	}
	return out
}

func cloneEmail(m *sendoka.OutboundEmail) *sendoka.OutboundEmail {
	c := *m
	c.To, c.Cc, c.Bcc = slices.Clone(m.To), slices.Clone(m.Cc), slices.Clone(m.Bcc)
	c.ReplyTo, c.Tags = slices.Clone(m.ReplyTo), slices.Clone(m.Tags)
	c.Envelopes = slices.Clone(m.Envelopes)
	c.Headers = maps.Clone(m.Headers)
	c.Attachments = slices.Clone(m.Attachments)
	for i := range c.Attachments {
		c.Attachments[i].Content = slices.Clone(m.Attachments[i].Content)
	}
	return &c
}

// attachmentBytes is binary content that a lossy transfer encoding would damage: every byte
// value, NUL and CR/LF included, and more than one base64 line.
func attachmentBytes(seed string) []byte {
	b := make([]byte, 0, 4096+len(seed))
	for i := range 4096 {
		b = append(b, byte(i*7+i/256))
	}
	return append(b, seed...)
}

func (s *emailSuite) attachments(t *testing.T) {
	if !s.h.Features.Attachments {
		t.Skip("the provider sends no attachments")
	}
	st := s.setup(t)
	m := s.message()
	m.Attachments = []sendoka.Attachment{
		{Filename: "invoice.pdf", ContentType: "application/pdf", Content: attachmentBytes(token())},
		{Filename: "notes.txt", ContentType: "text/plain", Content: []byte("line one\r\nline two\nno final newline")},
		{Filename: "Überweisung März.csv", ContentType: "text/csv", Content: []byte("a,b\n1,ü\n")},
	}
	for i := range m.Attachments {
		m.Attachments[i].Size = len(m.Attachments[i].Content)
	}
	s.send(t, st, m)
	if st.Received == nil {
		return
	}
	got := receivedOnce(t, st, m.MessageID)
	requireSameEmail(t, m, got)
	requireSameAttachments(t, m.Attachments, got.Attachments)
}

func (s *emailSuite) inlineImages(t *testing.T) {
	if !s.h.Features.InlineImages {
		t.Skip("the provider sends no inline images")
	}
	st := s.setup(t)
	m := s.message()
	chartID := "chart-" + token() + "@example.com"
	m.HTML = `<p>Logo: <img src="cid:logo" alt="logo"> and chart: <img src="cid:` + chartID + `"></p>`
	m.Attachments = []sendoka.Attachment{
		{Filename: "logo.png", ContentType: "image/png", ContentID: "logo", Content: attachmentBytes("png")},
		{Filename: "chart.gif", ContentType: "image/gif", ContentID: chartID, Content: attachmentBytes("gif")},
		{Filename: "terms.pdf", ContentType: "application/pdf", Content: attachmentBytes("pdf")},
	}
	for i := range m.Attachments {
		m.Attachments[i].Size = len(m.Attachments[i].Content)
	}
	s.send(t, st, m)
	if st.Received == nil {
		return
	}
	got := receivedOnce(t, st, m.MessageID)
	requireSameEmail(t, m, got)
	requireSameAttachments(t, m.Attachments, got.Attachments)
}

// requireSameAttachments matches attachments by file name: MIME builders may put inline
// parts in a multipart/related apart from the others, which changes their order.
func requireSameAttachments(t *testing.T, want []sendoka.Attachment, got []ReceivedAttachment) {
	t.Helper()
	require.Len(t, got, len(want), "attachments")
	byName := map[string]ReceivedAttachment{}
	for _, g := range got {
		byName[g.Filename] = g
	}
	for _, w := range want {
		g, ok := byName[w.Filename]
		require.True(t, ok, "attachment %q did not arrive (or lost its file name)", w.Filename)
		media, _, err := mime.ParseMediaType(g.ContentType)
		require.NoError(t, err, "attachment %q content type %q", w.Filename, g.ContentType)
		require.Equal(t, w.ContentType, media, "attachment %q content type", w.Filename)
		require.True(t, bytes.Equal(w.Content, g.Content), "attachment %q content differs: want %d bytes, got %d", w.Filename, len(w.Content), len(g.Content))
		require.Equal(t, w.ContentID, g.ContentID, "attachment %q content id", w.Filename)
		require.Equal(t, w.ContentID != "", g.Inline, "attachment %q: parts with a content id are inline, others are not", w.Filename)
	}
}

func (s *emailSuite) headers(t *testing.T) {
	if !s.h.Features.Headers {
		t.Skip("the provider sends no custom headers")
	}
	st := s.setup(t)
	m := s.message()
	m.Headers = map[string]string{
		"X-Entity-Ref-ID":  "ref-" + token(),
		"List-Unsubscribe": "<https://example.com/unsubscribe?u=" + token() + ">",
		"X-Campaign":       "Grüße 👋 " + token(),
	}
	s.send(t, st, m)
	if st.Received == nil {
		return
	}
	got := receivedOnce(t, st, m.MessageID)
	require.NotNil(t, got.Header, "Features.Headers needs ReceivedEmail.Header")
	for name, value := range m.Headers {
		require.Equal(t, value, got.Header.Get(name), "header %s", name)
	}
}
