package sendoka

import (
	"context"
	"reflect"
	"time"
)

// providerSlots holds one semaphore per provider that limits its concurrency
// (ConcurrencyLimiter). Delivery takes a slot before it claims a message, so the claims in
// flight never outnumber the provider's connections, and the wait for a connection happens
// before the send's own deadlines start.
type providerSlots map[any]chan struct{}

func newProviderSlots(providers ...any) providerSlots {
	s := providerSlots{}
	for _, p := range providers {
		l, ok := p.(ConcurrencyLimiter)
		if !ok || !reflect.TypeOf(p).Comparable() {
			continue
		}
		if _, seen := s[p]; !seen && l.MaxConcurrency() > 0 {
			s[p] = make(chan struct{}, l.MaxConcurrency())
		}
	}
	return s
}

// acquire takes a slot of provider p, waiting at most wait. A provider without a limit needs
// no slot. On a timeout it returns CodeConflict with a one-second retry hint: nothing was
// claimed, so the job may simply run again.
func (s providerSlots) acquire(ctx context.Context, p any, name string, wait time.Duration) (release func(), err error) {
	sem := s.semaphore(p)
	if sem == nil {
		return func() {}, nil
	}
	select {
	case sem <- struct{}{}:
		return func() { <-sem }, nil
	default:
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case sem <- struct{}{}:
		return func() { <-sem }, nil
	case <-t.C:
		return nil, &Error{Code: CodeConflict, Message: "every connection of provider " + name + " is busy",
			RetryAfterSeconds: 1, Retry: time.Second}
	case <-ctx.Done():
		return nil, &Error{Code: CodeConflict, Message: "stopped while waiting for a connection of provider " + name,
			RetryAfterSeconds: 1, Retry: time.Second, Err: ctx.Err()}
	}
}

func (s providerSlots) semaphore(p any) chan struct{} {
	if len(s) == 0 || p == nil || !reflect.TypeOf(p).Comparable() {
		return nil
	}
	return s[p]
}
