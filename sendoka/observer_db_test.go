package sendoka_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/sendoka"
	"github.com/sendoka/sendoka/storage/bunstore"
	"github.com/sendoka/sendoka/storage/bunstore/bunstoretest"
)

// recorder is an Observer that keeps what it is told.
type recorder struct {
	mu       sync.Mutex
	statuses []string // "channel status provider stream mode"
	calls    []string // "provider channel errClass"
}

func (r *recorder) MessageStatus(ch sendoka.Channel, st sendoka.Status, provider, stream string, mode sendoka.Mode) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.statuses = append(r.statuses, string(ch)+" "+string(st)+" "+provider+" "+stream+" "+string(mode))
}

func (r *recorder) ProviderCall(_ context.Context, provider string, ch sendoka.Channel, start time.Time, d time.Duration, errClass string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, provider+" "+string(ch)+" "+errClass)
}

func (r *recorder) WebhookAttempt(string, time.Duration) {}

func (r *recorder) take() (statuses, calls []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	statuses, calls = r.statuses, r.calls
	r.statuses, r.calls = nil, nil
	return statuses, calls
}

// TestObserver: each status a message reaches is reported once its transaction commits
// (both statuses of a write that moves two edges), a rolled-back send reports nothing, and
// every provider call is reported with its error class.
func TestObserver(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := newDBBundle(t, db)
		ctx := context.Background()
		rec := &recorder{}
		c, err := sendoka.New(sendoka.Config{Store: b.db, Queue: b.queue, Clock: b.clock,
			Email: b.fake, SMS: b.fake, SandboxEmail: b.fake, SandboxSMS: b.fake, Observer: rec})
		require.NoError(t, err)

		refused := errors.New("refused")
		_, err = c.SendEmail(ctx, b.p, b.email("a@example.com"),
			sendoka.WithinTx(func(context.Context, sendoka.Tx, []*sendoka.Message) error { return refused }))
		require.ErrorIs(t, err, refused)
		statuses, calls := rec.take()
		require.Empty(t, statuses, "a send rolled back is not counted")
		require.Empty(t, calls)

		b.fake.ReportOnSend(sendoka.ProviderEvent{Type: sendoka.ProviderDelivered})
		m, err := c.SendEmail(ctx, b.p, b.email("a@example.com"))
		require.NoError(t, err)
		statuses, _ = rec.take()
		require.Equal(t, []string{"email queued memsend transactional test"}, statuses)
		require.NoError(t, c.Deliver(ctx, m.ID, sendoka.DeliverOptions{JobID: m.JobID}))
		statuses, calls = rec.take()
		require.Equal(t, []string{"email sent memsend transactional test", "email delivered memsend transactional test"}, statuses)
		require.Equal(t, []string{"memsend email "}, calls)

		b.fake.ReportOnSend()
		b.fake.FailWith(func(string, int) error {
			return &sendoka.ProviderError{Kind: sendoka.Permanent, Provider: "memsend", Code: "rejected", Message: "no"}
		})
		m, err = c.SendEmail(ctx, b.p, b.email("b@example.com"))
		require.NoError(t, err)
		require.NoError(t, c.Deliver(ctx, m.ID, sendoka.DeliverOptions{JobID: m.JobID}))
		statuses, calls = rec.take()
		require.Equal(t, []string{"email queued memsend transactional test", "email failed memsend transactional test"}, statuses)
		require.Equal(t, []string{"memsend email permanent"}, calls)
	})
}
