package sendoka

import (
	"errors"
	"time"
)

// Defaults of DeliveryConfig.
const (
	DefaultClaimLease    = 30 * time.Second
	DefaultSlotWait      = 15 * time.Second
	DefaultThrottleDelay = 30 * time.Second
	// DefaultStallGrace is added to SlotWait to tell a stalled job from a live one.
	DefaultStallGrace = 10 * time.Second
)

// DefaultRetryDelays is the retry schedule after transient failures: 30 s, 1, 2, 5, 10, 20
// and 40 min, 1, 2 and 4 h. The message fails after the eleventh failed attempt, about 8.5
// hours after the first.
var DefaultRetryDelays = []time.Duration{
	30 * time.Second, time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute,
	20 * time.Minute, 40 * time.Minute, time.Hour, 2 * time.Hour, 4 * time.Hour,
}

// DeliveryConfig tunes how messages are handed to providers. The zero value is every
// default.
type DeliveryConfig struct {
	// ClaimLease is how long a delivery attempt's claim on a message lasts unless renewed.
	// The attempt renews it every third of the lease while it waits for the provider, so only
	// an attempt whose process died lets it lapse; recovery then records the message's
	// outcome as unknown. Default: 30s.
	ClaimLease time.Duration
	// SlotWait bounds the wait for a free provider slot (an SMTP connection, see
	// ConcurrencyLimiter). A job that waits longer is put back in the queue unclaimed, to
	// try again a second later. Default: 15s.
	SlotWait time.Duration
	// StalledAfter is how long a delivery job may run without claiming its message before
	// recovery takes it for one held by a dead process and queues the message again. It
	// must exceed SlotWait. Default: SlotWait + 10s.
	StalledAfter time.Duration
	// FanoutStalledAfter is how long an unfinished audience send may make no progress before
	// recovery takes its fan-out job for one a dead process held and queues another (two
	// runs at once are harmless). Default: DefaultFanoutStall (30s).
	FanoutStalledAfter time.Duration
	// RetryDelays is the wait after each transient failure, in order; the attempt after the
	// last delay is the final one, and its transient failure fails the message. Default:
	// DefaultRetryDelays.
	RetryDelays []time.Duration
	// ThrottleDelay is the wait after a provider throttled us without naming a time.
	// Throttling does not count towards the final attempt. Default: 30s.
	ThrottleDelay time.Duration
}

func (d DeliveryConfig) withDefaults() (DeliveryConfig, error) {
	if d.ClaimLease == 0 {
		d.ClaimLease = DefaultClaimLease
	}
	if d.SlotWait == 0 {
		d.SlotWait = DefaultSlotWait
	}
	if d.StalledAfter == 0 {
		d.StalledAfter = d.SlotWait + DefaultStallGrace
	}
	if d.FanoutStalledAfter == 0 {
		d.FanoutStalledAfter = DefaultFanoutStall
	}
	if d.RetryDelays == nil {
		d.RetryDelays = DefaultRetryDelays
	}
	if d.ThrottleDelay == 0 {
		d.ThrottleDelay = DefaultThrottleDelay
	}
	switch {
	case d.ClaimLease < 30*time.Millisecond:
		return d, errors.New("sendoka: Delivery.ClaimLease must be at least 30ms")
	case d.SlotWait < 0:
		return d, errors.New("sendoka: Delivery.SlotWait must not be negative")
	case d.StalledAfter <= d.SlotWait:
		return d, errors.New("sendoka: Delivery.StalledAfter must exceed SlotWait")
	case d.FanoutStalledAfter < 0:
		return d, errors.New("sendoka: Delivery.FanoutStalledAfter must not be negative")
	case d.ThrottleDelay < 0:
		return d, errors.New("sendoka: Delivery.ThrottleDelay must not be negative")
	}
	for _, r := range d.RetryDelays {
		if r < 0 {
			return d, errors.New("sendoka: Delivery.RetryDelays must not be negative")
		}
	}
	return d, nil
}

// MaxAttempts is how many transient failures fail a message.
func (d DeliveryConfig) MaxAttempts() int { return len(d.RetryDelays) + 1 }
