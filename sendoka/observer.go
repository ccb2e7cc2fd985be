package sendoka

import (
	"context"
	"time"
)

// Observer is told what the Client does, for metrics and traces (hosts/metrics counts it for
// Prometheus). Set it with Config.Observer; nil observes nothing and costs nothing.
//
// Every method is called synchronously on the path that does the work, possibly from many
// goroutines at once: an implementation must be safe for concurrent use, must not block, and
// should do no more than bump a counter. Labels are short, bounded sets of values (no ids,
// no addresses), fit to be metric labels as they are.
type Observer interface {
	// MessageStatus is called once for each status a message reaches, after the transaction
	// that records it has committed: queued or scheduled when it is accepted, then sent,
	// delivered, bounced, failed, canceled. A write that moves a message two edges at once
	// (sent, and the delivery the provider already reported) reports both statuses.
	// provider is the name of the provider the message goes to (when accepted) or went to;
	// stream is StreamTransactional or StreamBroadcast.
	MessageStatus(channel Channel, status Status, provider, stream string, mode Mode)

	// ProviderCall is called after each hand-off of a message to a provider, whatever its
	// outcome: start is when the call began and d how long it took; errClass is "" when the
	// provider took the message, and otherwise the kind of its error (ProviderErrorKind:
	// throttled, transient, permanent, unknown). ctx is the delivery's: it carries the
	// job's trace, if any, so a tracer may record the call as a span after the fact.
	ProviderCall(ctx context.Context, provider string, channel Channel, start time.Time, d time.Duration, errClass string)

	// WebhookAttempt is called after each attempt to deliver a webhook to an endpoint: outcome
	// is "success" (a 2xx answer), "failure" (any other answer, or none: a timeout, a refused
	// connection) or "dropped" (given up after the last attempt); d is how long the attempt
	// took. The webhook sender calls it through Client.ObserveWebhookAttempt.
	WebhookAttempt(outcome string, d time.Duration)
}

// Streams, the Observer's stream label: every single and batch send is transactional;
// broadcast is audience fan-out, which never delays transactional work.
const (
	StreamTransactional = "transactional"
	StreamBroadcast     = "broadcast"
)

// Webhook attempt outcomes, for Observer.WebhookAttempt.
const (
	WebhookSuccess = "success"
	WebhookFailure = "failure"
	WebhookDropped = "dropped"
)

// ObserveWebhookAttempt reports one webhook delivery attempt to the Config.Observer (see
// Observer.WebhookAttempt); it does nothing without one.
func (c *Client) ObserveWebhookAttempt(outcome string, d time.Duration) {
	if c.obs != nil {
		c.obs.WebhookAttempt(outcome, d)
	}
}

// statusSeen is one MessageStatus call waiting for its transaction to commit.
type statusSeen struct {
	channel  Channel
	status   Status
	provider string
	stream   string
	mode     Mode
}

// seenStatuses collects the statuses one transaction records; they are reported once it
// commits, so a rolled-back write is never counted.
type seenStatuses struct{ list []statusSeen }

type seenKey struct{}

// observeTx returns ctx with a collector of the statuses the transaction records, unless ctx
// has one already (a transaction run from inside another's callback reports with it).
func (c *Client) observeTx(ctx context.Context) (context.Context, *seenStatuses) {
	if _, ok := ctx.Value(seenKey{}).(*seenStatuses); ok {
		return ctx, nil
	}
	s := &seenStatuses{}
	return context.WithValue(ctx, seenKey{}, s), s
}

// flush reports what a committed transaction recorded.
func (c *Client) flush(s *seenStatuses) {
	if s == nil {
		return
	}
	for _, v := range s.list {
		c.obs.MessageStatus(v.channel, v.status, v.provider, v.stream, v.mode)
	}
}

// sawStatus notes that m reached status in the transaction of ctx. Outside a transaction
// the Client runs (none should be), it reports at once.
func (c *Client) sawStatus(ctx context.Context, m *Message, status Status) {
	provider := m.Provider
	if provider == "" {
		provider = c.providerName(m)
	}
	v := statusSeen{channel: m.Channel, status: status, provider: provider, stream: m.StreamName(), mode: m.Mode}
	if s, ok := ctx.Value(seenKey{}).(*seenStatuses); ok {
		s.list = append(s.list, v)
		return
	}
	c.obs.MessageStatus(v.channel, v.status, v.provider, v.stream, v.mode)
}

// observeProviderCall reports a hand-off to the Config.Observer.
func (c *Client) observeProviderCall(ctx context.Context, m *Message, provider string, start time.Time, d time.Duration, err error) {
	if c.obs == nil {
		return
	}
	class := ""
	if err != nil {
		class = string(ProviderErrorKindOf(err))
	}
	c.obs.ProviderCall(ctx, provider, m.Channel, start, d, class)
}

// ProviderObserver is an Observer that is also told of failover: every attempt's result per
// provider, and every change of a provider's circuit breaker. The Client finds it on
// Config.Observer by type assertion (hosts/metrics implements it), with the same contract as
// Observer's methods: safe for concurrent use, never blocking.
type ProviderObserver interface {
	// ProviderAttempt is called once for each entry a delivery attempt adds to a message's
	// DeliveryAttempts: a hand-off to provider (sent, transient, throttled, permanent,
	// unknown) or the provider skipped (AttemptSkipped).
	ProviderAttempt(channel Channel, provider string, result AttemptResult)
	// BreakerState is called when a provider's circuit breaker changes state, and once per
	// provider with a breaker when the Client is built (BreakerClosed).
	BreakerState(channel Channel, provider string, state BreakerState)
}

// observeAttempts reports the attempts a round added to the ProviderObserver, if any.
func (c *Client) observeAttempts(ch Channel, as []DeliveryAttempt) {
	if c.provObs == nil {
		return
	}
	for _, a := range as {
		c.provObs.ProviderAttempt(ch, a.Provider, a.Result)
	}
}
