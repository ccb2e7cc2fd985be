package sendoka

import (
	"context"
	"time"
)

// LimitStore is the part of Store that rate limits, quotas and warmup caps need (embedded
// in Store). Every method commits on its own: limits are taken before a send's transaction
// and given back if it fails, so they never hold a lock across one. Several processes may
// call them at once on the same key or counter; each call is atomic.
type LimitStore interface {
	// TakeTokens is GCRA (the generic cell rate algorithm) in the database: a key earns a
	// token every interval and may hold up to tolerance/interval of them. It takes at most n
	// (n >= 1) of the tokens the key has at now, and returns how many it took (0 when none
	// are left) and the key's theoretical arrival time after, the moment by which every token
	// taken has been earned back.
	TakeTokens(ctx context.Context, key string, n int64, interval, tolerance time.Duration, now time.Time) (granted int64, tat time.Time, err error)
	// ReturnTokens gives back n tokens that TakeTokens granted and nobody used.
	ReturnTokens(ctx context.Context, key string, n int64, interval time.Duration) error

	// ReserveCount adds at most n to the counter without taking it past limit, and returns
	// how much it added and the counter's value after. A counter starts at 0.
	ReserveCount(ctx context.Context, c Counter, n, limit int64) (granted, used int64, err error)
	// ReleaseCount subtracts n from the counter, never below 0.
	ReleaseCount(ctx context.Context, c Counter, n int64) error
	// GetCount returns the counter's value (0 for one never reserved from).
	GetCount(ctx context.Context, c Counter) (int64, error)

	// GetOrg returns an org, or CodeNotFound.
	GetOrg(ctx context.Context, id string) (*Org, error)
	// UpdateOrg writes an org's plan and limits.
	UpdateOrg(ctx context.Context, org *Org) error
}

// Counter names a counter of the LimitStore.
type Counter struct {
	// Kind is CounterQuota or CounterWarmup.
	Kind CounterKind
	// For a quota: the org, the channel and the month ("2026-12"); for warmup: the domain
	// id and the UTC day ("2026-12-04") in Subject and Period.
	Subject string
	Channel Channel
	Period  string
}

// CounterKind says what a Counter counts.
type CounterKind string

// The counters.
const (
	CounterQuota  CounterKind = "quota"
	CounterWarmup CounterKind = "warmup"
	// CounterSenderDay counts an SMS sender's live messages of a UTC day: Subject is its
	// id, Period the day.
	CounterSenderDay CounterKind = "sender_day"
)
