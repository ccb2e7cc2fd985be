package sandbox

import (
	"context"
	"crypto/rand"
	"net/mail"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/sendoka/sendoka/sendoka"
)

// Name is the provider name the sandbox reports, recorded on every message it takes.
const Name = "sandbox"

// SESSimulatorDomain is the domain of the Amazon SES mailbox simulator, whose addresses the
// sandbox honors so that tests written against SES behave the same here.
const SESSimulatorDomain = "simulator.amazonses.com"

// ComplaintDelay is how long after the delivery a simulated complaint is stamped: a
// complaint comes after the mail has arrived, and the later time keeps the two in order
// for a reader of the timeline.
const ComplaintDelay = time.Second

// Options configures a Sender. The zero value is ready to use.
type Options struct {
	// Domain is the sandbox sender domain, where the sandbox's magic recipients live.
	// Default: sendoka.DefaultSandboxDomain. Set it to the core's Config.SandboxDomain.
	Domain string
	// Clock stamps the simulated events. Default: sendoka.SystemClock.
	Clock sendoka.Clock
	// Inbound receives the replies the sandbox simulates (the STOP of ReplyStopNumber), as a
	// real provider's inbound notifications would reach Client.HandleInboundSMS. Default:
	// none, and replies are dropped. hosts/server wires it to the core.
	Inbound func(ctx context.Context, from, to, body string) error
	// Latency is how long each hand-off (SendEmail, SendSMS) takes, standing in for a real
	// provider's API call: for benchmarks and development, to see delivery when the provider
	// is not instant. A hand-off whose context ends first fails as an abandoned one does
	// (transient, with the context's error). Default: 0, the sandbox answers at once.
	Latency time.Duration
}

// Sender is the simulated provider. It is safe for concurrent use.
type Sender struct {
	domain  string
	clock   sendoka.Clock
	inbound func(ctx context.Context, from, to, body string) error
	latency time.Duration
}

var (
	_ sendoka.EmailSender  = (*Sender)(nil)
	_ sendoka.SMSSender    = (*Sender)(nil)
	_ sendoka.Namer        = (*Sender)(nil)
	_ sendoka.Deduplicator = (*Sender)(nil)
	// The sandbox's provisioning step activates numbers at once (but for the magic ones).
	_ sendoka.SenderProvisioner = (*Sender)(nil)
)

// New returns a Sender configured by opts.
func New(opts Options) *Sender {
	s := &Sender{domain: strings.ToLower(strings.TrimSpace(opts.Domain)), clock: opts.Clock, inbound: opts.Inbound,
		latency: opts.Latency}
	if s.domain == "" {
		s.domain = sendoka.DefaultSandboxDomain
	}
	if s.clock == nil {
		s.clock = sendoka.SystemClock{}
	}
	return s
}

// Name returns "sandbox".
func (s *Sender) Name() string { return Name }

// Deduplicates reports true: a repeated hand-off of one message returns the same result and
// delivers nothing, so the core may retry a hand-off whose outcome it does not know.
func (s *Sender) Deduplicates() bool { return true }

// SendEmail accepts m and returns one simulated outcome (or two, for a complaint) per
// recipient. It fails only when ctx has ended.
func (s *Sender) SendEmail(ctx context.Context, m *sendoka.OutboundEmail) (sendoka.SendResult, error) {
	if err := s.handOff(ctx); err != nil {
		return sendoka.SendResult{}, err
	}
	res := sendoka.SendResult{ProviderMessageID: providerMessageID(m.MessageID)}
	now := s.clock.Now().UTC()
	seen := map[string]bool{}
	for _, list := range [][]string{m.To, m.Cc, m.Bcc} {
		for _, r := range list {
			addr := bareAddress(r)
			if key := strings.ToLower(addr); !seen[key] {
				seen[key] = true
				res.Events = append(res.Events, s.emailOutcome(addr).events(m.MessageID, res.ProviderMessageID, addr, now)...)
			}
		}
	}
	return res, nil
}

// SendSMS accepts m and returns its simulated outcome. It fails only when ctx has ended.
func (s *Sender) SendSMS(ctx context.Context, m *sendoka.OutboundSMS) (sendoka.SendResult, error) {
	if err := s.handOff(ctx); err != nil {
		return sendoka.SendResult{}, err
	}
	res := sendoka.SendResult{ProviderMessageID: providerMessageID(m.MessageID)}
	res.Events = smsOutcome(m.To).events(m.MessageID, res.ProviderMessageID, m.To, s.clock.Now().UTC())
	// The recipient who always replies STOP does so to the number the message came from (an
	// alphanumeric sender cannot be replied to). A reply that could not be handed over fails
	// the hand-off as transient: the retry replies again, which is harmless.
	if m.To == ReplyStopNumber && strings.HasPrefix(m.From, "+") && s.inbound != nil {
		if err := s.inbound(ctx, m.To, m.From, "STOP"); err != nil {
			return sendoka.SendResult{}, &sendoka.ProviderError{Kind: sendoka.Transient, Provider: Name, Code: "inbound",
				Message: "the simulated STOP reply was not taken: " + err.Error(), Err: err}
		}
	}
	return res, nil
}

// ProvisionSender is the sandbox's provisioning step: numbers are active at once, except
// PendingNumber, which stays pending, and FailedNumber, which the sandbox refuses.
func (s *Sender) ProvisionSender(ctx context.Context, n *sendoka.PhoneNumber) (sendoka.ProvisionResult, error) {
	if err := canceled(ctx); err != nil {
		return sendoka.ProvisionResult{}, err
	}
	switch n.PhoneNumber {
	case PendingNumber:
		return sendoka.ProvisionResult{Status: sendoka.SenderPending,
			Diagnostic: diagnostic("pending", "simulated: the registration is still in review")}, nil
	case FailedNumber:
		return sendoka.ProvisionResult{Status: sendoka.SenderFailed,
			Diagnostic: diagnostic("rejected", "simulated: the carrier rejected the registration")}, nil
	}
	return sendoka.ProvisionResult{Status: sendoka.SenderActive}, nil
}

// handOff takes the configured latency, as a provider's API call would, and refuses the
// hand-off if ctx ends before it is done.
func (s *Sender) handOff(ctx context.Context) error {
	if s.latency > 0 {
		t := time.NewTimer(s.latency)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
		}
	}
	return canceled(ctx)
}

// canceled refuses a hand-off whose context has ended, as a real provider could not make it;
// the error is transient, so the core tries again.
func canceled(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return &sendoka.ProviderError{Kind: sendoka.Transient, Provider: Name, Code: "canceled", Message: "the hand-off was abandoned: " + err.Error(), Err: err}
	}
	return nil
}

// providerMessageID derives the sandbox's id from Sendoka's, so a repeated hand-off gets the
// same one. A caller that gives no message id (direct library use) gets a fresh id.
func providerMessageID(messageID string) string {
	if messageID == "" {
		return "sbx_" + ulid.MustNew(ulid.Now(), rand.Reader).String()
	}
	return "sbx_" + strings.TrimPrefix(messageID, sendoka.PrefixMessage)
}

// bareAddress returns the addr-spec of a recipient with its domain lower-cased; the core
// has validated it, so a parse failure only means it is already bare.
func bareAddress(s string) string {
	if a, err := mail.ParseAddress(s); err == nil {
		s = a.Address
	}
	at := strings.LastIndexByte(s, '@')
	if at < 0 {
		return s
	}
	return s[:at] + "@" + strings.ToLower(s[at+1:])
}
