package sendoka

import (
	"context"
	"math"
	"sync"
	"time"
)

// The burst limit: each API key may make its plan's BurstPerMinute requests in any minute.
// It is GCRA (a key earns a request every minute/limit and may save up a minute's worth)
// kept in the database, so it holds across every process sharing it. A process takes
// tokens in small blocks (1/200 of the limit, at least one) and spends them from memory, so
// a key's requests reach the database about once per block; a block not spent within a
// second is given back. What a dead process held is lost: at most a block per process.

// burstWindow is the window of the burst limit.
const burstWindow = time.Minute

// RateDecision is the burst limiter's answer for one request.
type RateDecision struct {
	// Allowed is false when the key has used its burst: the answer is CodeRateLimited.
	Allowed bool
	// Limit is the key's requests per minute (0: unlimited; the rest is then zero).
	Limit int64
	// Remaining is about how many more requests the key may make now.
	Remaining int64
	// Reset is when the key has earned back every request it made.
	Reset time.Time
	// RetryAfter, when not Allowed, is how long until the next request is allowed.
	RetryAfter time.Duration
	// Plan is the org's plan.
	Plan string
}

// burstPockets holds the tokens this process took for each key and has not spent.
type burstPockets struct {
	mu      sync.Mutex
	pockets map[string]*burstPocket
}

type burstPocket struct {
	mu     sync.Mutex
	tokens int64
	taken  time.Time // when the tokens were taken
	tat    time.Time // the key's arrival time after the last take
	limit  int64
}

func (b *burstPockets) get(key string) *burstPocket {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.pockets == nil {
		b.pockets = map[string]*burstPocket{}
	}
	p := b.pockets[key]
	if p == nil {
		if len(b.pockets) > 100000 {
			clear(b.pockets)
		}
		p = &burstPocket{}
		b.pockets[key] = p
	}
	return p
}

// pocketTTL is how long taken tokens stay in memory before they are given back.
const pocketTTL = time.Second

// TakeRequest counts one request of the principal's key against its burst limit. A
// principal without a key (the library's SystemPrincipal) is not limited. Errors are the
// store's (CodeUnavailable); the HTTP API then lets the request through rather than fail
// it on the limiter alone.
func (c *Client) TakeRequest(ctx context.Context, p *Principal) (RateDecision, error) {
	if p == nil || p.KeyID == "" || c.limitsOff {
		return RateDecision{Allowed: true}, nil
	}
	l, err := c.orgLimits(ctx, p.OrgID)
	if err != nil {
		return RateDecision{Allowed: true}, err
	}
	d := RateDecision{Allowed: true, Limit: l.BurstPerMinute, Plan: l.Plan}
	if l.BurstPerMinute <= 0 {
		return d, nil
	}
	// The store counts in microseconds: a limit above 60 million a minute is that.
	interval := max(burstWindow/time.Duration(l.BurstPerMinute), time.Microsecond)
	pk := c.bursts.get(p.KeyID)
	pk.mu.Lock()
	defer pk.mu.Unlock()
	now := c.now()
	key := "key:" + p.KeyID
	if pk.tokens > 0 && (pk.limit != l.BurstPerMinute || now.Sub(pk.taken) > pocketTTL || now.Before(pk.taken)) {
		// Unspent tokens of another limit, or too old: give them back.
		if err := c.store.ReturnTokens(ctx, key, pk.tokens, max(burstWindow/time.Duration(max(pk.limit, 1)), time.Microsecond)); err != nil {
			return d, AsError(err)
		}
		pk.tokens = 0
	}
	if pk.tokens == 0 {
		block := max(1, l.BurstPerMinute/200)
		granted, tat, err := c.store.TakeTokens(ctx, key, block, interval, burstWindow, now)
		if err != nil {
			return d, AsError(err)
		}
		pk.tokens, pk.taken, pk.tat, pk.limit = granted, now, tat, l.BurstPerMinute
	}
	left := max(0, int64(now.Add(burstWindow).Sub(maxTime(pk.tat, now))/interval))
	d.Reset = maxTime(pk.tat, now)
	if pk.tokens == 0 {
		d.Allowed = false
		d.RetryAfter = max(time.Second, pk.tat.Add(interval).Sub(now.Add(burstWindow)))
		return d, nil
	}
	pk.tokens--
	d.Remaining = left + pk.tokens
	return d, nil
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// RetryAfterSeconds rounds a wait up to whole seconds, at least one, for a Retry-After.
func RetryAfterSeconds(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}
