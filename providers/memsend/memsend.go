// Package memsend is an in-memory provider for tests: it records every email and SMS handed
// to it, and can be told to fail or to be slow. It delivers nothing.
//
// sendoka/sendokatest builds a whole Sendoka with one Sender in place of every provider
// (env.Fake). To wire it by hand, give it every provider role, so that test keys and the
// sandbox domain reach it too:
//
//	fake := memsend.New()
//	client, _ := sendoka.New(sendoka.Config{..., Email: fake, SMS: fake, SandboxEmail: fake, SandboxSMS: fake})
//	// ... send ...
//	fake.WaitFor(ctx, 1)
//	got := fake.Sent()[0].Email
//
// For failover tests, name two fakes and give them as sendoka.Config.EmailProviders; Outage
// makes one refuse everything until Restore:
//
//	a, b := memsend.New(), memsend.New()
//	a.SetName("ses")
//	b.SetName("smtp")
//	a.Outage(sendoka.Transient)
package memsend

import (
	"context"
	"sync"
	"time"

	"github.com/sendoka/sendoka/sendoka"
)

// Sent is one recorded hand-off. Exactly one of Email and SMS is set.
type Sent struct {
	Email *sendoka.OutboundEmail
	SMS   *sendoka.OutboundSMS
	At    time.Time
}

// MessageID returns the Sendoka id of the sent message.
func (s Sent) MessageID() string {
	if s.Email != nil {
		return s.Email.MessageID
	}
	return s.SMS.MessageID
}

// FailFunc decides the outcome of one hand-off: nil accepts it, an error (ideally a
// *sendoka.ProviderError) refuses it. The message id and the number of earlier calls for it
// are given.
type FailFunc func(messageID string, call int) error

// Sender is the in-memory provider. The zero value is not usable; call New.
type Sender struct {
	mu      sync.Mutex
	name    string
	sent    []Sent
	calls   map[string]int
	fail    FailFunc
	delay   time.Duration
	events  []sendoka.ProviderEvent
	changed chan struct{} // closed and replaced on every recorded send or started call
	gate    chan struct{} // while non-nil, hand-offs wait for it to close (Block)
	limit   int           // MaxConcurrency; 0: unlimited
	started int           // hand-offs started, accepted or not
}

var (
	_ sendoka.EmailSender = (*Sender)(nil)
	_ sendoka.SMSSender   = (*Sender)(nil)
	_ sendoka.Namer       = (*Sender)(nil)

	_ sendoka.ConcurrencyLimiter = (*Sender)(nil)
)

// New returns an empty Sender that accepts everything at once.
func New() *Sender {
	return &Sender{name: "memsend", calls: map[string]int{}, changed: make(chan struct{})}
}

// Name returns the fake's name: "memsend" unless SetName changed it.
func (s *Sender) Name() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.name
}

// SetName makes the fake report name, in Name and in its errors' Provider, so that two fakes
// can stand for two providers.
func (s *Sender) SetName(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.name = name
}

// Outage makes every later hand-off fail with a *sendoka.ProviderError of kind (Transient:
// a connection refused; Throttled; Unknown: a timeout after the data went out; Permanent),
// as a provider that is down would, until Restore. It replaces any FailWith function.
func (s *Sender) Outage(kind sendoka.ProviderErrorKind) {
	name := s.Name()
	s.FailWith(func(string, int) error {
		return &sendoka.ProviderError{Kind: kind, Provider: name, Code: "outage", Message: name + " is down (memsend outage)"}
	})
}

// Restore ends an Outage (or any FailWith): every later hand-off is accepted.
func (s *Sender) Restore() { s.FailWith(nil) }

// TotalCalls returns how many hand-offs were attempted, of every message, accepted or not.
func (s *Sender) TotalCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.started
}

// FailWith makes every later hand-off consult fn (nil restores accepting everything).
func (s *Sender) FailWith(fn FailFunc) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = fn
}

// SetDelay makes every later hand-off take d (or until its context ends).
func (s *Sender) SetDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// LimitConcurrency makes the fake report n as its MaxConcurrency, as an SMTP sender with n
// connections does; 0 (the default) means unlimited. The core reads it when the Client is
// built, so call it before sendoka.New.
func (s *Sender) LimitConcurrency(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limit = n
}

// MaxConcurrency implements sendoka.ConcurrencyLimiter.
func (s *Sender) MaxConcurrency() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.limit
}

// Block makes every hand-off that starts from now on wait, once it is counted in Calls,
// until release is called (or its context ends: then it fails as Transient). With
// WaitCalls it lets a test hold a send in flight exactly as long as it needs, without
// guessing at delays.
func (s *Sender) Block() (release func()) {
	gate := make(chan struct{})
	s.mu.Lock()
	s.gate = gate
	s.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			if s.gate == gate {
				s.gate = nil
			}
			s.mu.Unlock()
			close(gate)
		})
	}
}

// WaitCalls blocks until at least n hand-offs have started, accepted or not, or ctx ends.
func (s *Sender) WaitCalls(ctx context.Context, n int) error {
	return s.waitUntil(ctx, n, func() int { return s.started })
}

// ReportOnSend makes every accepted hand-off report these outcomes in its SendResult, as
// the sandbox reports a simulated delivery. The message id is filled in by the core.
func (s *Sender) ReportOnSend(events ...sendoka.ProviderEvent) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = events
}

// SendEmail records m.
func (s *Sender) SendEmail(ctx context.Context, m *sendoka.OutboundEmail) (sendoka.SendResult, error) {
	cp := *m
	return s.record(ctx, m.MessageID, Sent{Email: &cp})
}

// SendSMS records m.
func (s *Sender) SendSMS(ctx context.Context, m *sendoka.OutboundSMS) (sendoka.SendResult, error) {
	cp := *m
	return s.record(ctx, m.MessageID, Sent{SMS: &cp})
}

func (s *Sender) record(ctx context.Context, id string, rec Sent) (sendoka.SendResult, error) {
	s.mu.Lock()
	delay, fail, gate, name := s.delay, s.fail, s.gate, s.name
	call := s.calls[id]
	s.calls[id]++
	s.started++
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
	// A real provider cannot reach its peer once the context has ended; neither does the fake,
	// so tests of shutdown and timeouts see the same thing.
	if err := ctx.Err(); err != nil {
		return sendoka.SendResult{}, &sendoka.ProviderError{Kind: sendoka.Transient, Provider: name, Message: "context ended", Err: err}
	}
	if gate != nil {
		select {
		case <-ctx.Done():
			return sendoka.SendResult{}, &sendoka.ProviderError{Kind: sendoka.Transient, Provider: name, Message: "context ended", Err: ctx.Err()}
		case <-gate:
		}
	}
	if delay > 0 {
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return sendoka.SendResult{}, &sendoka.ProviderError{Kind: sendoka.Transient, Provider: name, Message: "context ended", Err: ctx.Err()}
		case <-t.C:
		}
	}
	if fail != nil {
		if err := fail(id, call); err != nil {
			return sendoka.SendResult{}, err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rec.At = time.Now()
	s.sent = append(s.sent, rec)
	close(s.changed)
	s.changed = make(chan struct{})
	return sendoka.SendResult{ProviderMessageID: "mem_" + id, Events: append([]sendoka.ProviderEvent(nil), s.events...)}, nil
}

// Sent returns every accepted hand-off, in order.
func (s *Sender) Sent() []Sent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Sent(nil), s.sent...)
}

// Count returns how many times the message with this id was accepted.
func (s *Sender) Count(messageID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range s.sent {
		if r.MessageID() == messageID {
			n++
		}
	}
	return n
}

// Calls returns how many times a hand-off of this message was attempted, accepted or not.
func (s *Sender) Calls(messageID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[messageID]
}

// WaitFor blocks until at least n hand-offs were accepted or ctx ends.
func (s *Sender) WaitFor(ctx context.Context, n int) error {
	return s.waitUntil(ctx, n, func() int { return len(s.sent) })
}

// waitUntil blocks until count, read under the lock, reaches n, or ctx ends.
func (s *Sender) waitUntil(ctx context.Context, n int, count func() int) error {
	for {
		s.mu.Lock()
		got, ch := count(), s.changed
		s.mu.Unlock()
		if got >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
	}
}
