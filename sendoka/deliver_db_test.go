package sendoka_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/providers/memsend"
	"github.com/sendoka/sendoka/sendoka"
	"github.com/sendoka/sendoka/storage/bunstore"
	"github.com/sendoka/sendoka/storage/bunstore/bunstoretest"
)

// deliveryClient returns a Client on b's database and queue whose every provider is fake,
// with the given delivery settings.
func (b *dbBundle) deliveryClient(t *testing.T, fake *memsend.Sender, d sendoka.DeliveryConfig) *sendoka.Client {
	t.Helper()
	c, err := sendoka.New(sendoka.Config{Store: b.db, Queue: b.queue, Clock: b.clock, Delivery: d,
		Email: fake, SMS: fake, SandboxEmail: fake, SandboxSMS: fake})
	require.NoError(t, err)
	return c
}

func (b *dbBundle) send(t *testing.T, c *sendoka.Client) *sendoka.Message {
	t.Helper()
	m, err := c.SendEmail(context.Background(), b.p, b.email("user@example.com"))
	require.NoError(t, err)
	return m
}

// claimAt claims a message directly, as an attempt in another process would.
func (b *dbBundle) claimAt(t *testing.T, id string, at, until time.Time) {
	t.Helper()
	require.NoError(t, b.db.InTx(context.Background(), func(ctx context.Context, tx sendoka.Tx) error {
		ok, err := tx.ClaimMessage(ctx, id, at, until, sendoka.StatusQueued)
		require.True(t, ok)
		return err
	}))
}

func TestDeliverLiveClaimHolds(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := newDBBundle(t, db)
		m := b.send(t, b.client)
		b.claimAt(t, m.ID, b.clock.now(), b.clock.at(time.Minute))

		err := b.client.Deliver(context.Background(), m.ID, sendoka.DeliverOptions{JobID: m.JobID})
		require.Equal(t, sendoka.CodeConflict, sendoka.ErrorCode(err))
		var e *sendoka.Error
		require.ErrorAs(t, err, &e)
		require.InDelta(t, time.Minute.Seconds(), e.Retry.Seconds(), 5, "look again when the lease ends")
		require.Zero(t, b.fake.Calls(m.ID), "a held message never reaches the provider")
		require.Equal(t, sendoka.StatusQueued, b.get(t, sendoka.ChannelEmail, m.ID).Status)
	})
}

func TestDeliverLapsedClaimIsUnknown(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := newDBBundle(t, db)
		m := b.send(t, b.client)
		// An attempt claimed it two minutes ago and stopped renewing a minute ago: its
		// process died while the message was with the provider.
		b.claimAt(t, m.ID, b.clock.at(-2*time.Minute), b.clock.at(-time.Minute))

		require.NoError(t, b.client.Deliver(context.Background(), m.ID, sendoka.DeliverOptions{JobID: m.JobID}))
		require.Zero(t, b.fake.Calls(m.ID), "never sent again")
		got := b.get(t, sendoka.ChannelEmail, m.ID)
		require.Equal(t, sendoka.StatusSent, got.Status, "possibly delivered: never reported failed")
		require.Equal(t, sendoka.OutcomeUnknown, got.Outcome)
		require.Equal(t, "outcome_unknown", got.Diagnostic.Code)
		require.Len(t, got.DeliveryAttempts, 1)
		require.Equal(t, sendoka.AttemptUnknown, got.DeliveryAttempts[0].Result)
		require.Equal(t, []sendoka.EventType{sendoka.EventQueued, sendoka.EventOutcomeUnknown}, eventTypes(got))

		// Its job running again changes nothing.
		require.NoError(t, b.client.Deliver(context.Background(), m.ID, sendoka.DeliverOptions{JobID: m.JobID}))
		require.Zero(t, b.fake.Calls(m.ID))
	})
}

func TestDeliverUnknownOutcomeIsNotRetried(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := newDBBundle(t, db)
		b.fake.FailWith(func(string, int) error {
			return &sendoka.ProviderError{Kind: sendoka.Unknown, Provider: "memsend", Code: "outcome_unknown",
				Message: "no reply to the end of DATA within 10m0s"}
		})
		m := b.send(t, b.client)

		require.NoError(t, b.client.Deliver(context.Background(), m.ID, sendoka.DeliverOptions{JobID: m.JobID}),
			"an unknown outcome asks for no retry")
		got := b.get(t, sendoka.ChannelEmail, m.ID)
		require.Equal(t, sendoka.StatusSent, got.Status)
		require.Equal(t, sendoka.OutcomeUnknown, got.Outcome)
		require.Equal(t, "no reply to the end of DATA within 10m0s", got.Diagnostic.Message)
		require.Equal(t, 1, got.Attempts)
		require.Equal(t, []sendoka.EventType{sendoka.EventQueued, sendoka.EventOutcomeUnknown}, eventTypes(got))

		require.NoError(t, b.client.Deliver(context.Background(), m.ID, sendoka.DeliverOptions{JobID: m.JobID}))
		require.Equal(t, 1, b.fake.Calls(m.ID), "sent at most once")
	})
}

func TestDeliverDeferredAttemptsAreVisible(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := newDBBundle(t, db)
		fake := memsend.New()
		fake.FailWith(func(_ string, call int) error {
			if call < 2 {
				return &sendoka.ProviderError{Kind: sendoka.Transient, Provider: "memsend", Code: "421", Message: "try again later"}
			}
			return nil
		})
		c := b.deliveryClient(t, fake, sendoka.DeliveryConfig{RetryDelays: []time.Duration{time.Minute, 5 * time.Minute, time.Hour}})
		m := b.send(t, c)
		ctx := context.Background()

		for i, wait := range []time.Duration{time.Minute, 5 * time.Minute} {
			before := b.clock.now()
			err := c.Deliver(ctx, m.ID, sendoka.DeliverOptions{JobID: m.JobID})
			require.Equal(t, sendoka.CodeProviderTransient, sendoka.ErrorCode(err))
			var e *sendoka.Error
			require.ErrorAs(t, err, &e)
			require.Equal(t, wait, e.Retry, "attempt %d: the queue retries on the core's schedule", i+1)

			got := b.get(t, sendoka.ChannelEmail, m.ID)
			require.Equal(t, sendoka.StatusQueued, got.Status)
			require.Nil(t, got.ClaimedAt, "given back for the next attempt")
			require.Equal(t, i+1, got.Attempts)
			require.NotNil(t, got.NextRetryAt)
			require.WithinRange(t, *got.NextRetryAt, before.Add(wait), b.clock.now().Add(wait))
			require.Equal(t, "421", got.Diagnostic.Code, "the last failure is the diagnostic")
			a := got.DeliveryAttempts[i]
			require.Equal(t, sendoka.AttemptTransient, a.Result)
			require.Equal(t, "memsend", a.Provider)
			require.Equal(t, "try again later", a.Diagnostic.Message)
			require.Equal(t, got.NextRetryAt, a.NextRetryAt)
			last := got.Events[len(got.Events)-1]
			require.Equal(t, sendoka.EventDeferred, last.Type)
			require.Equal(t, got.NextRetryAt.Format(time.RFC3339Nano), last.Data["next_retry_at"])
		}

		require.NoError(t, c.Deliver(ctx, m.ID, sendoka.DeliverOptions{JobID: m.JobID}))
		got := b.get(t, sendoka.ChannelEmail, m.ID)
		require.Equal(t, sendoka.StatusSent, got.Status)
		require.Nil(t, got.NextRetryAt)
		require.Nil(t, got.Diagnostic)
		require.Equal(t, 3, got.Attempts)
		require.Equal(t, sendoka.AttemptSent, got.DeliveryAttempts[2].Result)
		require.Equal(t, []sendoka.EventType{sendoka.EventQueued, sendoka.EventDeferred, sendoka.EventDeferred, sendoka.EventSent}, eventTypes(got))
		require.Equal(t, 1, fake.Count(m.ID))
	})
}

func TestDeliverFailsAfterTheLastRetry(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := newDBBundle(t, db)
		fake := memsend.New()
		fake.FailWith(func(string, int) error {
			return &sendoka.ProviderError{Kind: sendoka.Transient, Provider: "memsend", Code: "connect_failed", Message: "refused"}
		})
		c := b.deliveryClient(t, fake, sendoka.DeliveryConfig{RetryDelays: []time.Duration{time.Minute}})
		m := b.send(t, c)
		ctx := context.Background()
		require.Equal(t, sendoka.CodeProviderTransient, sendoka.ErrorCode(c.Deliver(ctx, m.ID, sendoka.DeliverOptions{JobID: m.JobID})))
		require.NoError(t, c.Deliver(ctx, m.ID, sendoka.DeliverOptions{JobID: m.JobID}))
		got := b.get(t, sendoka.ChannelEmail, m.ID)
		require.Equal(t, sendoka.StatusFailed, got.Status)
		require.Equal(t, 2, got.Attempts)
		require.Len(t, got.DeliveryAttempts, 2)
		require.Equal(t, "connect_failed", got.Diagnostic.Code)
		require.Equal(t, []sendoka.EventType{sendoka.EventQueued, sendoka.EventDeferred, sendoka.EventFailed}, eventTypes(got))
	})
}

func TestDeliverTakesASlotBeforeTheClaim(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := newDBBundle(t, db)
		fake := memsend.New()
		fake.LimitConcurrency(1)
		c := b.deliveryClient(t, fake, sendoka.DeliveryConfig{SlotWait: 50 * time.Millisecond})
		first, second := b.send(t, c), b.send(t, c)
		release := fake.Block()
		defer release()
		ctx := context.Background()

		var wg sync.WaitGroup
		var firstErr error
		wg.Go(func() { firstErr = c.Deliver(ctx, first.ID, sendoka.DeliverOptions{JobID: first.JobID}) })
		require.NoError(t, fake.WaitCalls(ctx, 1))

		// The only slot is taken: the second attempt gives up before it claims anything.
		err := c.Deliver(ctx, second.ID, sendoka.DeliverOptions{JobID: second.JobID})
		require.Equal(t, sendoka.CodeConflict, sendoka.ErrorCode(err))
		require.Zero(t, fake.Calls(second.ID))
		require.Nil(t, b.get(t, sendoka.ChannelEmail, second.ID).ClaimedAt, "no claim without a slot")
		require.NotNil(t, b.get(t, sendoka.ChannelEmail, first.ID).ClaimedAt)

		release()
		wg.Wait()
		require.NoError(t, firstErr)
		require.NoError(t, c.Deliver(ctx, second.ID, sendoka.DeliverOptions{JobID: second.JobID}), "the slot is free again")
		require.Equal(t, sendoka.StatusSent, b.get(t, sendoka.ChannelEmail, second.ID).Status)
		require.Equal(t, 1, fake.Count(first.ID))
		require.Equal(t, 1, fake.Count(second.ID))
	})
}

func TestDeliverRenewsItsClaim(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := newDBBundle(t, db)
		fake := memsend.New()
		lease := 300 * time.Millisecond
		c := b.deliveryClient(t, fake, sendoka.DeliveryConfig{ClaimLease: lease})
		m := b.send(t, c)
		release := fake.Block()
		defer release()
		ctx := context.Background()
		var wg sync.WaitGroup
		wg.Go(func() { require.NoError(t, c.Deliver(ctx, m.ID, sendoka.DeliverOptions{JobID: m.JobID})) })
		require.NoError(t, fake.WaitCalls(ctx, 1))

		first := b.get(t, sendoka.ChannelEmail, m.ID).LeaseUntil
		require.NotNil(t, first)
		// While the provider works, the lease keeps moving past its first end, so recovery
		// never takes a live attempt for a dead one.
		pollUntil(t, func() bool {
			cur := b.get(t, sendoka.ChannelEmail, m.ID).LeaseUntil
			return cur != nil && cur.After(first.Add(lease))
		}, "the lease was never renewed past %s", first.Add(lease))
		r, err := c.RecoverDeliveries(ctx)
		require.NoError(t, err)
		require.Zero(t, r.Unknown, "a renewed claim has not lapsed")
		release()
		wg.Wait()
		got := b.get(t, sendoka.ChannelEmail, m.ID)
		require.Equal(t, sendoka.StatusSent, got.Status)
		require.Empty(t, got.Outcome)
	})
}

// stallJob makes a River job look fetched an hour ago by a process that then died: running,
// and never finished.
func (b *dbBundle) stallJob(t *testing.T, id int64) {
	t.Helper()
	q := "UPDATE river_job SET state = 'running', attempt = 1, attempted_at = now() - interval '1 hour' WHERE id = $1"
	if b.db.Dialect() == bunstore.DialectSQLite {
		q = "UPDATE river_job SET state = 'running', attempt = 1, attempted_at = datetime('now', '-1 hour', 'subsec') WHERE id = $1"
	}
	_, err := b.db.SQLDB().ExecContext(context.Background(), q, id)
	require.NoError(t, err)
}

func TestRecoverDeliveries(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := newDBBundle(t, db)
		ctx := context.Background()
		stalled := b.send(t, b.client)   // its job was fetched by a process that died
		lapsed := b.send(t, b.client)    // its attempt died mid-hand-off
		live := b.send(t, b.client)      // its attempt is alive: a renewed claim
		untouched := b.send(t, b.client) // a queued message whose job waits: not recovery's
		b.stallJob(t, stalled.JobID)
		b.stallJob(t, live.JobID)
		b.claimAt(t, lapsed.ID, b.clock.at(-2*time.Minute), b.clock.at(-time.Minute))
		// Recovery runs later than the messages were accepted (the stall window passed).
		b.clock.set(time.Hour)
		b.claimAt(t, live.ID, b.clock.now(), b.clock.at(time.Hour))

		r, err := b.client.RecoverDeliveries(ctx)
		require.NoError(t, err)
		require.Equal(t, sendoka.Recovered{Unknown: 1, Requeued: 1}, r)

		got := b.get(t, sendoka.ChannelEmail, lapsed.ID)
		require.Equal(t, sendoka.StatusSent, got.Status)
		require.Equal(t, sendoka.OutcomeUnknown, got.Outcome)
		require.Equal(t, []sendoka.EventType{sendoka.EventQueued, sendoka.EventOutcomeUnknown}, eventTypes(got))

		requeued := b.get(t, sendoka.ChannelEmail, stalled.ID)
		require.NotEqual(t, stalled.JobID, requeued.JobID, "a new job replaced the stalled one")
		require.Equal(t, "available", b.jobState(t, requeued.JobID))
		require.Equal(t, live.JobID, b.get(t, sendoka.ChannelEmail, live.ID).JobID, "a live attempt keeps its job")
		require.Equal(t, untouched.JobID, b.get(t, sendoka.ChannelEmail, untouched.ID).JobID)

		// A second pass finds nothing new: the stalled job is no longer its message's.
		r, err = b.client.RecoverDeliveries(ctx)
		require.NoError(t, err)
		require.Zero(t, r)

		// The stalled job running at last (River's own rescue) leaves the message to its
		// successor, which sends it once.
		require.NoError(t, b.client.Deliver(ctx, stalled.ID, sendoka.DeliverOptions{JobID: stalled.JobID}))
		require.Zero(t, b.fake.Calls(stalled.ID))
		require.NoError(t, b.client.Deliver(ctx, stalled.ID, sendoka.DeliverOptions{JobID: requeued.JobID}))
		require.Equal(t, 1, b.fake.Count(stalled.ID))
		require.Zero(t, b.fake.Calls(lapsed.ID), "an interrupted hand-off is never repeated")
	})
}

// TestDeliverAppliesDueOutcomesInline: outcomes a provider already knows at hand-off (the
// sandbox's simulated delivery) apply in the transaction that records the send, with no
// second job; later ones wait as jobs for their time.
func TestDeliverAppliesDueOutcomesInline(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := newDBBundle(t, db)
		later := time.Now().Add(time.Hour)
		b.fake.ReportOnSend(
			sendoka.ProviderEvent{Type: sendoka.ProviderDelivered},
			sendoka.ProviderEvent{Type: sendoka.ProviderComplaint, OccurredAt: later},
		)
		m := b.send(t, b.client)
		require.NoError(t, b.client.Deliver(context.Background(), m.ID, sendoka.DeliverOptions{JobID: m.JobID}))

		got := b.get(t, sendoka.ChannelEmail, m.ID)
		require.Equal(t, sendoka.StatusDelivered, got.Status, "delivered as soon as Deliver returns")
		require.Equal(t, []sendoka.EventType{sendoka.EventQueued, sendoka.EventSent, sendoka.EventDelivered}, eventTypes(got))
		var kinds []string
		rows, err := db.SQLDB().QueryContext(context.Background(), "SELECT kind FROM river_job WHERE id <> $1 ORDER BY id", m.JobID)
		require.NoError(t, err)
		defer rows.Close()
		for rows.Next() {
			var k string
			require.NoError(t, rows.Scan(&k))
			kinds = append(kinds, k)
		}
		require.NoError(t, rows.Err())
		require.Equal(t, []string{string(sendoka.JobProviderEvent)}, kinds, "only the complaint, dated later, became a job")
	})
}

// blinkingStore is the real store whose InTx fails once, as a database that blinks would,
// on the call numbered failOn (1-based).
type blinkingStore struct {
	sendoka.Store
	calls, failOn atomic.Int32
}

func (s *blinkingStore) InTx(ctx context.Context, fn func(ctx context.Context, tx sendoka.Tx) error) error {
	if s.calls.Add(1) == s.failOn.Load() {
		return &sendoka.Error{Code: sendoka.CodeUnavailable, Message: "database unavailable; retry"}
	}
	return s.Store.InTx(ctx, fn)
}

// TestDeliverRecordsOnceAfterABlink: a provider's answer whose recording failed once is
// recorded on the retry exactly once (one attempt, one event), not lost and not doubled.
func TestDeliverRecordsOnceAfterABlink(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := newDBBundle(t, db)
		store := &blinkingStore{Store: db}
		c, err := sendoka.New(sendoka.Config{Store: store, Queue: b.queue, Clock: b.clock,
			Email: b.fake, SMS: b.fake, SandboxEmail: b.fake, SandboxSMS: b.fake})
		require.NoError(t, err)
		m := b.send(t, c)
		store.calls.Store(0)
		// The claim is one statement of its own (Store.ClaimUnclaimed); transaction 1 is the
		// first try at recording the answer.
		store.failOn.Store(1)
		require.NoError(t, c.Deliver(context.Background(), m.ID, sendoka.DeliverOptions{JobID: m.JobID}))
		require.EqualValues(t, 2, store.calls.Load(), "recorded on the second try")
		got := b.get(t, sendoka.ChannelEmail, m.ID)
		require.Equal(t, sendoka.StatusSent, got.Status)
		require.Equal(t, 1, got.Attempts)
		require.Len(t, got.DeliveryAttempts, 1)
		require.Equal(t, []sendoka.EventType{sendoka.EventQueued, sendoka.EventSent}, eventTypes(got))
		require.Equal(t, 1, b.fake.Count(m.ID))
	})
}
