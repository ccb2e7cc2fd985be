package sendoka

import (
	"errors"
	"sync"
	"time"
)

// Defaults of BreakerConfig.
const (
	DefaultBreakerFailures = 5
	DefaultBreakerOpenFor  = 30 * time.Second
)

// BreakerConfig tunes the circuit breaker each live provider has when its channel has more
// than one (Config.EmailProviders, Config.SMSProviders). The zero value is every default.
//
// A breaker is closed while its provider answers. It opens after Failures consecutive
// hand-offs that the provider refused without taking the message (transient failures and
// throttles) or that ended with an unknown outcome. While it is open the provider is skipped
// and messages go to the next provider of their route. Once OpenFor has passed, one message
// is let through as a probe (half-open): its success closes the breaker, its failure opens it
// for another OpenFor. Breakers are per process: each node learns a provider's health from
// its own hand-offs.
type BreakerConfig struct {
	// Failures is how many consecutive failed hand-offs open a provider's breaker.
	// Default: 5.
	Failures int
	// OpenFor is how long an open breaker skips its provider before a probe. Default: 30s.
	OpenFor time.Duration
}

func (b BreakerConfig) withDefaults() (BreakerConfig, error) {
	if b.Failures == 0 {
		b.Failures = DefaultBreakerFailures
	}
	if b.OpenFor == 0 {
		b.OpenFor = DefaultBreakerOpenFor
	}
	if b.Failures < 1 {
		return b, errors.New("sendoka: Breaker.Failures must be at least 1")
	}
	if b.OpenFor < 0 {
		return b, errors.New("sendoka: Breaker.OpenFor must not be negative")
	}
	return b, nil
}

// BreakerState is where a provider's circuit breaker is.
type BreakerState string

// The three states of a breaker.
const (
	// BreakerClosed: the provider takes messages.
	BreakerClosed BreakerState = "closed"
	// BreakerOpen: the provider failed Failures times in a row and is skipped until OpenFor
	// has passed.
	BreakerOpen BreakerState = "open"
	// BreakerHalfOpen: OpenFor has passed and one message is being handed to the provider as
	// a probe; the others still skip it.
	BreakerHalfOpen BreakerState = "half_open"
)

// breaker is one provider's circuit breaker. It reads the time from the Client's Clock, so
// tests move past OpenFor instead of sleeping.
type breaker struct {
	cfg     BreakerConfig
	changed func(BreakerState) // told of every state change; nil: nobody

	mu       sync.Mutex
	state    BreakerState
	failures int       // consecutive failed hand-offs
	until    time.Time // open: when a probe may go
	probeAt  time.Time // half-open: when the probe went
}

func newBreaker(cfg BreakerConfig, changed func(BreakerState)) *breaker {
	return &breaker{cfg: cfg, changed: changed, state: BreakerClosed}
}

// allow reports whether a hand-off may go to the provider now. In the open state past
// OpenFor it lets one through as the probe and moves to half-open. A probe that never
// reported back (its attempt was cut short) is replaced after another OpenFor.
func (b *breaker) allow(now time.Time) bool {
	if b == nil {
		return true
	}
	b.mu.Lock()
	var moved bool
	ok := true
	switch b.state {
	case BreakerOpen:
		if now.Before(b.until) {
			ok = false
			break
		}
		b.state, b.probeAt, moved = BreakerHalfOpen, now, true
	case BreakerHalfOpen:
		if now.Before(b.probeAt.Add(b.cfg.OpenFor)) {
			ok = false
			break
		}
		b.probeAt = now
	}
	b.mu.Unlock()
	if moved {
		b.notify(BreakerHalfOpen)
	}
	return ok
}

// open reports whether the breaker would skip the provider now, without changing it.
func (b *breaker) open(now time.Time) bool {
	if b == nil {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.state {
	case BreakerOpen:
		return now.Before(b.until)
	case BreakerHalfOpen:
		return now.Before(b.probeAt.Add(b.cfg.OpenFor))
	}
	return false
}

// reopensIn is how long until the breaker lets a probe through (0 when it would now).
func (b *breaker) reopensIn(now time.Time) time.Duration {
	if b == nil {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.state {
	case BreakerOpen:
		return max(b.until.Sub(now), 0)
	case BreakerHalfOpen:
		return max(b.probeAt.Add(b.cfg.OpenFor).Sub(now), 0)
	}
	return 0
}

// record counts a hand-off's outcome: failed is true for a transient failure, a throttle or
// an unknown outcome; a success or a permanent refusal (the message's fault, not the
// provider's) is a sign of health.
func (b *breaker) record(failed bool, now time.Time) {
	if b == nil {
		return
	}
	b.mu.Lock()
	from := b.state
	if !failed {
		b.failures, b.state = 0, BreakerClosed
	} else {
		b.failures++
		if b.state == BreakerHalfOpen || b.failures >= b.cfg.Failures {
			b.state, b.until = BreakerOpen, now.Add(b.cfg.OpenFor)
		}
	}
	to := b.state
	b.mu.Unlock()
	if to != from {
		b.notify(to)
	}
}

// abandon gives back a probe that allow let through but that never reached the provider.
func (b *breaker) abandon(now time.Time) {
	if b == nil {
		return
	}
	b.mu.Lock()
	moved := b.state == BreakerHalfOpen
	if moved {
		b.state, b.until = BreakerOpen, now
	}
	b.mu.Unlock()
	if moved {
		b.notify(BreakerOpen)
	}
}

// current returns the breaker's state.
func (b *breaker) current() BreakerState {
	if b == nil {
		return BreakerClosed
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.state
}

func (b *breaker) notify(s BreakerState) {
	if b.changed != nil {
		b.changed(s)
	}
}
