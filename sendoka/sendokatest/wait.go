package sendokatest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sendoka/sendoka/providers/memsend"
	"github.com/sendoka/sendoka/sendoka"
)

// pollEvery is how often WaitStatus reads the message again.
const pollEvery = 10 * time.Millisecond

// WaitSent waits until the fake has accepted at least n hand-offs and returns every
// hand-off it has accepted, in order (so len is n or more). It fails the test if fewer
// than n arrive within Options.WaitTimeout.
func (e *Env) WaitSent(t testing.TB, n int) []memsend.Sent {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), e.wait)
	defer cancel()
	if err := e.Fake.WaitFor(ctx, n); err != nil {
		t.Fatalf("sendokatest: %d of %d sends reached the fake within %s", len(e.Fake.Sent()), n, e.wait)
	}
	return e.Fake.Sent()
}

// WaitStatus waits until the message of this channel and id has status want and returns
// it, with its events. It fails the test if the message is unknown, reaches another
// terminal status, or has not got there within Options.WaitTimeout.
func (e *Env) WaitStatus(t testing.TB, ch sendoka.Channel, id string, want sendoka.Status) *sendoka.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), e.wait)
	defer cancel()
	m, err := e.WaitStatusContext(ctx, ch, id, want)
	if err != nil {
		t.Fatalf("%v", err)
	}
	return m
}

// WaitStatusContext is WaitStatus for code without a testing.TB (examples, TestMain): it
// waits until ctx ends, and returns an error, with the message as it last read it, where
// WaitStatus fails the test.
func (e *Env) WaitStatusContext(ctx context.Context, ch sendoka.Channel, id string, want sendoka.Status) (*sendoka.Message, error) {
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for {
		m, err := e.message(ctx, ch, id)
		switch {
		case sendoka.ErrorCode(err) == sendoka.CodeUnavailable:
			// The database was busy for a moment: read again.
		case err != nil:
			return nil, fmt.Errorf("sendokatest: %s %s: %w", ch, id, err)
		case m.Status == want:
			return m, nil
		case m.Status.Terminal():
			return m, fmt.Errorf("sendokatest: %s %s is %s, not %s%s", ch, id, m.Status, want, describe(m))
		}
		select {
		case <-ctx.Done():
			if m == nil {
				return nil, fmt.Errorf("sendokatest: %s %s not readable: %w", ch, id, ctx.Err())
			}
			return m, fmt.Errorf("sendokatest: %s %s is still %s, not %s (%w)%s", ch, id, m.Status, want, ctx.Err(), describe(m))
		case <-tick.C:
		}
	}
}

// message reads a message whichever mode sent it.
func (e *Env) message(ctx context.Context, ch sendoka.Channel, id string) (*sendoka.Message, error) {
	m, err := e.Client.GetMessage(ctx, e.Live, ch, id)
	if sendoka.ErrorCode(err) == sendoka.CodeNotFound {
		m, err = e.Client.GetMessage(ctx, e.Test, ch, id)
	}
	return m, err
}

// describe is what a failure message says about m: its diagnostic and its timeline.
func describe(m *sendoka.Message) string {
	var b strings.Builder
	if m.Diagnostic != nil {
		fmt.Fprintf(&b, "; diagnostic: %s %s %s", m.Diagnostic.Provider, m.Diagnostic.Code, m.Diagnostic.Message)
	}
	if len(m.Events) > 0 {
		b.WriteString("; events:")
		for _, ev := range m.Events {
			b.WriteString(" " + string(ev.Type))
		}
	}
	return b.String()
}
