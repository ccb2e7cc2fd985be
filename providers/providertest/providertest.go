// Package providertest is the conformance suite every Sendoka provider must pass, in the
// manner of go-cloud's drivertest and Watermill's pubsub tests. It is importable, so a
// provider that lives outside this module runs the same cases:
//
//	func TestConformance(t *testing.T) {
//		providertest.RunEmail(t, providertest.EmailHarness{
//			Features: providertest.Features{ReportsName: true, CanForceFailures: true},
//			New: func(t *testing.T) *providertest.EmailSetup {
//				srv := startFakeServer(t) // its own peer per subtest
//				return &providertest.EmailSetup{
//					Sender:   mysender.New(srv.URL),
//					Received: srv.received,
//					FailNext: srv.failNext,
//				}
//			},
//		})
//	}
//
// Providers differ in what they can do (the sandbox has no peer to inspect, SMTP cannot
// deduplicate, SNS sends no MMS), so a Features value says which cases apply, as Watermill's
// Features struct does. A case that needs a feature the provider lacks is skipped, never
// passed silently.
//
// Every case runs as a parallel subtest with its own EmailSetup or SMSSetup, so a harness
// can keep per-peer state (a failure switch, a stall) without locking across cases.
package providertest

import (
	"crypto/rand"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/sendoka/sendoka/sendoka"
)

// Features says what a provider can do, so the suite runs only the cases that apply. The
// zero value claims nothing: only the cases every provider must pass run.
type Features struct {
	// Dedupes: the provider implements sendoka.Deduplicator reporting true, and a second
	// hand-off of the same MessageID is accepted, returns the same ProviderMessageID and does
	// not reach the peer a second time. Without it, the provider must not claim to
	// deduplicate.
	Dedupes bool
	// SimulatesOutcomes: SendResult.Events reports outcomes at send time (the sandbox does),
	// at least one per recipient. Without it, SendResult.Events must be empty: a real peer
	// reports outcomes later, through notifications.
	SimulatesOutcomes bool
	// ReportsName: the provider implements sendoka.Namer with a stable, non-empty,
	// lower-case name, and its *sendoka.ProviderError values carry that name.
	ReportsName bool
	// CanForceFailures: the setup's FailNext is set, so the suite checks that each kind of
	// failure comes back as a *sendoka.ProviderError of the right Kind.
	CanForceFailures bool
	// MMS (SMS only): OutboundSMS.MediaURLs reach the peer. Providers without MMS skip the
	// media case.
	MMS bool
	// Attachments (email only): OutboundEmail.Attachments without a ContentID reach the peer
	// as attachments, with their file name, media type and exact bytes.
	Attachments bool
	// InlineImages (email only): attachments with a ContentID reach the peer as inline parts
	// the HTML refers to as cid:ContentID.
	InlineImages bool
	// Headers (email only): OutboundEmail.Headers reach the peer as header fields.
	Headers bool
	// SignsDKIM (email only): the provider writes the message onto the wire itself and signs
	// it with OutboundEmail.DKIM; the harness's ReceivedEmail.Raw is set, and the suite
	// verifies the signature with go-msgauth against the key's public half. Without it, a
	// message with a key must go out as any other (the provider signs for the domain
	// itself, or delivers nothing).
	SignsDKIM bool
	// SendsPerRecipient (email only): the provider implements sendoka.PerRecipientSender
	// reporting true, and given OutboundEmail.Envelopes the peer gets one hand-off per
	// envelope, with its return path and its one recipient, and SendResult.Recipients
	// reports each; the harness's ReceivedEmail.ReturnPath and EnvelopeTo are set. Without
	// it, the provider must not claim to send per recipient.
	SendsPerRecipient bool
}

// Stall makes every later hand-off hang at the peer until the caller's context ends, so the
// suite can check that a provider gives up when its context does. It returns reached, which
// reports whether the hand-off of the message with this Sendoka id is hanging at the peer;
// a harness that cannot tell messages apart may report whether any hand-off is.
type Stall func(t *testing.T) (reached func(messageID string) bool)

// FailNext makes the next hand-off fail the way the peer fails for kind: for instance a 429
// or an SMTP 421 for Throttled, a 500 or a dropped connection for Transient, a 400 or an
// SMTP 550 for Permanent. Later hand-offs succeed again.
type FailNext func(t *testing.T, kind sendoka.ProviderErrorKind)

// newMessageID mints an id shaped like the core's, unique across parallel cases.
func newMessageID() string {
	return sendoka.NewID(sendoka.PrefixMessage, time.Now())
}

// token is a short random string to tell cases' contents apart.
func token() string {
	return strings.ToLower(rand.Text()[:10])
}

// normalizeText undoes what MIME and SMTP transports may do to a body without changing it:
// CRLF line ends and a trailing line break.
func normalizeText(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.TrimRight(s, "\n")
}

// requireSameText compares two possibly huge bodies without dumping them on failure.
func requireSameText(t *testing.T, want, got, what string) {
	t.Helper()
	want, got = normalizeText(want), normalizeText(got)
	if want == got {
		return
	}
	i := 0
	for i < len(want) && i < len(got) && want[i] == got[i] {
		i++
	}
	t.Fatalf("%s differs: want %d bytes, got %d bytes, first difference at byte %d: want %q, got %q",
		what, len(want), len(got), i, excerpt(want, i), excerpt(got, i))
}

func excerpt(s string, at int) string {
	end := min(at+40, len(s))
	return s[at:end]
}

// addressKey is how the suite compares addresses: the display name as decoded, the local
// part as is and the domain lower-cased (domains are case-insensitive, local parts are not).
func addressKey(t *testing.T, s string) string {
	t.Helper()
	a, err := mail.ParseAddress(s)
	if err != nil {
		t.Fatalf("peer saw an unparsable address %q: %v", s, err)
	}
	local, domain, _ := strings.Cut(a.Address, "@")
	return a.Name + " <" + local + "@" + strings.ToLower(domain) + ">"
}

func addressKeys(t *testing.T, list []string) []string {
	t.Helper()
	out := make([]string, 0, len(list))
	for _, s := range list {
		out = append(out, addressKey(t, s))
	}
	return out
}

// bareAddress returns the addr-spec of s with its domain lower-cased.
func bareAddress(s string) string {
	if a, err := mail.ParseAddress(s); err == nil {
		s = a.Address
	}
	local, domain, _ := strings.Cut(s, "@")
	return local + "@" + strings.ToLower(domain)
}
