package sendoka_test

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/sendoka"
	"github.com/sendoka/sendoka/storage/bunstore"
	"github.com/sendoka/sendoka/storage/bunstore/bunstoretest"
)

// failingUpdateStore fails every status update of one message, inside whatever transaction
// makes it, with an error retrying cannot mend (an internal one would be retried for a
// minute, as a database that blinked is).
type failingUpdateStore struct {
	sendoka.Store
	failID string
	move   bool         // UpdateMessages finds failID moved instead of failing
	moved  atomic.Int64 // how many shared writes found it moved
}

func (s *failingUpdateStore) InTx(ctx context.Context, fn func(ctx context.Context, tx sendoka.Tx) error) error {
	return s.Store.InTx(ctx, func(ctx context.Context, tx sendoka.Tx) error { return fn(ctx, &failingUpdateTx{Tx: tx, s: s}) })
}

type failingUpdateTx struct {
	sendoka.Tx
	s *failingUpdateStore
}

func (t *failingUpdateTx) SQLTx() *sql.Tx { return t.Tx.(interface{ SQLTx() *sql.Tx }).SQLTx() }

func (t *failingUpdateTx) UpdateMessage(ctx context.Context, m *sendoka.Message, from ...sendoka.Status) (bool, error) {
	if m.ID == t.s.failID && !t.s.move {
		return false, sendoka.Errorf(sendoka.CodeValidation, "disk on fire")
	}
	return t.Tx.UpdateMessage(ctx, m, from...)
}

func (t *failingUpdateTx) UpdateMessages(ctx context.Context, updates []sendoka.MessageUpdate) (int, error) {
	for _, u := range updates {
		if u.Message.ID == t.s.failID {
			if t.s.move {
				// Another writer moves the message first, in the same transaction: the
				// shared write then finds it moved.
				moved := *u.Message
				moved.Status = sendoka.StatusFailed
				if ok, err := t.Tx.UpdateMessage(ctx, &moved, u.From); err != nil || !ok {
					return 0, fmt.Errorf("moving %s: %v %w", moved.ID, ok, err)
				}
				t.s.moved.Add(1)
				break
			}
			return 0, sendoka.Errorf(sendoka.CodeValidation, "disk on fire")
		}
	}
	return t.Tx.UpdateMessages(ctx, updates)
}

// TestDeliveryRecordsShareTransactions: providers' answers that arrive while another
// answer is being recorded are recorded together, in one transaction, each message sent
// once and recorded as sent; when the shared transaction fails for one message, the others
// are recorded on their own and only that message's delivery fails.
func TestDeliveryRecordsShareTransactions(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := newDBBundle(t, db)
		ctx := context.Background()
		const n = 8

		// Shared: the first record is held back; the others gather meanwhile.
		hold := &holdingStore{Store: db, entered: make(chan struct{}), release: make(chan struct{})}
		c := b.deliveryClient(t, b.fake, sendoka.DeliveryConfig{})
		held, err := sendoka.New(sendoka.Config{Store: hold, Queue: b.queue, Clock: b.clock,
			Email: b.fake, SMS: b.fake, SandboxEmail: b.fake, SandboxSMS: b.fake})
		require.NoError(t, err)
		held.SetSharedTripsInFlight(1)
		msgs := make([]*sendoka.Message, n)
		for i := range msgs {
			msgs[i] = b.send(t, c)
		}
		hold.hold.Store(true)
		var wg sync.WaitGroup
		var returned atomic.Int64
		errs := make([]error, n)
		deliver := func(i int) {
			errs[i] = held.Deliver(ctx, msgs[i].ID, sendoka.DeliverOptions{JobID: msgs[i].JobID})
			returned.Add(1)
		}
		wg.Go(func() { deliver(0) })
		<-hold.entered
		before := hold.txs.Load()
		for i := 1; i < n; i++ {
			wg.Go(func() { deliver(i) })
		}
		pollUntil(t, func() bool { return held.PendingRecords() == n-1 }, "the other records never waited for the shared transaction")
		require.Zero(t, returned.Load(), "no delivery returns before its record commits")
		close(hold.release)
		wg.Wait()
		require.Equal(t, before+1, hold.txs.Load(), "the %d waiting records share one transaction", n-1)
		for i, m := range msgs {
			require.NoError(t, errs[i])
			require.Equal(t, 1, b.fake.Calls(m.ID), "sent once")
			require.Equal(t, sendoka.StatusSent, b.get(t, sendoka.ChannelEmail, m.ID).Status)
		}

		// One member's record fails: the others are recorded alone, each once.
		msgs = msgs[:0]
		for range n {
			msgs = append(msgs, b.send(t, c))
		}
		bad := msgs[3].ID
		failing, err := sendoka.New(sendoka.Config{Store: &failingUpdateStore{Store: db, failID: bad}, Queue: b.queue, Clock: b.clock,
			Email: b.fake, SMS: b.fake, SandboxEmail: b.fake, SandboxSMS: b.fake})
		require.NoError(t, err)
		errs = make([]error, n)
		for i := range msgs {
			wg.Go(func() { errs[i] = failing.Deliver(ctx, msgs[i].ID, sendoka.DeliverOptions{JobID: msgs[i].JobID}) })
		}
		wg.Wait()
		for i, m := range msgs {
			got := b.get(t, sendoka.ChannelEmail, m.ID)
			if m.ID == bad {
				require.ErrorContains(t, errs[i], "disk on fire")
				require.NotEqual(t, sendoka.StatusSent, got.Status)
				continue
			}
			require.NoError(t, errs[i], "message %d", i)
			require.Equal(t, sendoka.StatusSent, got.Status, "message %d", i)
			require.Len(t, got.DeliveryAttempts, 1, "recorded once, whatever transaction it took")
			require.Equal(t, 1, b.fake.Calls(m.ID))
		}

		// One member's message was moved by another writer when the shared write came: the
		// shared transaction rolls back (the move with it) and each records alone.
		msgs = msgs[:0]
		for range n {
			msgs = append(msgs, b.send(t, c))
		}
		movedStore := &failingUpdateStore{Store: db, failID: msgs[5].ID, move: true}
		hold = &holdingStore{Store: movedStore, entered: make(chan struct{}), release: make(chan struct{})}
		moving, err := sendoka.New(sendoka.Config{Store: hold, Queue: b.queue, Clock: b.clock,
			Email: b.fake, SMS: b.fake, SandboxEmail: b.fake, SandboxSMS: b.fake})
		require.NoError(t, err)
		moving.SetSharedTripsInFlight(1)
		hold.hold.Store(true)
		errs = make([]error, n)
		wg.Go(func() { errs[0] = moving.Deliver(ctx, msgs[0].ID, sendoka.DeliverOptions{JobID: msgs[0].JobID}) })
		<-hold.entered
		for i := 1; i < n; i++ {
			wg.Go(func() { errs[i] = moving.Deliver(ctx, msgs[i].ID, sendoka.DeliverOptions{JobID: msgs[i].JobID}) })
		}
		pollUntil(t, func() bool { return moving.PendingRecords() == n-1 }, "the other records never waited for the shared transaction")
		close(hold.release)
		wg.Wait()
		require.EqualValues(t, 1, movedStore.moved.Load(), "the shared write found the message moved")
		for i, m := range msgs {
			require.NoError(t, errs[i], "message %d", i)
			got := b.get(t, sendoka.ChannelEmail, m.ID)
			require.Equal(t, sendoka.StatusSent, got.Status, "message %d", i)
			require.Len(t, got.DeliveryAttempts, 1, "message %d recorded once", i)
			require.Equal(t, 1, b.fake.Calls(m.ID))
			events, err := db.ListEvents(ctx, sendoka.Scope{OrgID: m.OrgID, Mode: m.Mode}, m.ID)
			require.NoError(t, err)
			sent := 0
			for _, e := range events {
				if e.Type == sendoka.EventSent {
					sent++
				}
			}
			require.Equal(t, 1, sent, "message %d: one sent event, whatever transaction recorded it", i)
		}
	})
}

// claimHoldingStore holds its first fast claim back until released, and counts them and
// the suppression reads.
type claimHoldingStore struct {
	sendoka.Store
	calls   atomic.Int64
	reads   atomic.Int64
	entered chan struct{}
	release chan struct{}
}

func (s *claimHoldingStore) GetSuppressions(ctx context.Context, orgID, tenantID string, ch sendoka.Channel, addresses []string) ([]*sendoka.Suppression, error) {
	s.reads.Add(1)
	return s.Store.GetSuppressions(ctx, orgID, tenantID, ch, addresses)
}

func (s *claimHoldingStore) ClaimUnclaimed(ctx context.Context, claims []sendoka.Claim, at, until time.Time) ([]*sendoka.Message, error) {
	if s.calls.Add(1) == 1 {
		close(s.entered)
		<-s.release
	}
	return s.Store.ClaimUnclaimed(ctx, claims, at, until)
}

// claimHoldingClient is a client on a claimHoldingStore over b's database, one shared trip
// of a kind at a time.
func (b *dbBundle) claimHoldingClient(t *testing.T) (*sendoka.Client, *claimHoldingStore) {
	t.Helper()
	store := &claimHoldingStore{Store: b.db, entered: make(chan struct{}), release: make(chan struct{})}
	c, err := sendoka.New(sendoka.Config{Store: store, Queue: b.queue, Clock: b.clock,
		Email: b.fake, SMS: b.fake, SandboxEmail: b.fake, SandboxSMS: b.fake})
	require.NoError(t, err)
	c.SetSharedTripsInFlight(1)
	return c, store
}

// TestDeliveryClaimsShareStatements: deliveries that start while another's claim is being
// made claim together, in one statement; a message named twice in that statement (two
// runs of its job at once) is sent once.
func TestDeliveryClaimsShareStatements(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := newDBBundle(t, db)
		ctx := context.Background()
		c, store := b.claimHoldingClient(t)
		const n = 6
		msgs := make([]*sendoka.Message, n)
		for i := range msgs {
			msgs[i] = b.send(t, b.client)
		}
		var wg sync.WaitGroup
		errs := make([]error, n+1)
		wg.Go(func() { errs[0] = c.Deliver(ctx, msgs[0].ID, sendoka.DeliverOptions{JobID: msgs[0].JobID}) })
		<-store.entered
		for i := 1; i < n; i++ {
			wg.Go(func() { errs[i] = c.Deliver(ctx, msgs[i].ID, sendoka.DeliverOptions{JobID: msgs[i].JobID}) })
		}
		// The same message's job, twice at once.
		wg.Go(func() { errs[n] = c.Deliver(ctx, msgs[1].ID, sendoka.DeliverOptions{JobID: msgs[1].JobID}) })
		pollUntil(t, func() bool { return c.PendingClaims() == n }, "the other deliveries never waited for the shared claim")
		close(store.release)
		wg.Wait()
		require.EqualValues(t, 2, store.calls.Load(), "one claim for the first, one shared by the %d that waited", n)
		for i, m := range msgs {
			if i != 1 {
				require.NoError(t, errs[i], "delivery %d", i)
			}
			require.Equal(t, 1, b.fake.Calls(m.ID), "message %d sent once", i)
			require.Equal(t, sendoka.StatusSent, b.get(t, sendoka.ChannelEmail, m.ID).Status)
		}
		// Of the two runs of message 1's job, one sent it; the other found it held (or done).
		for _, err := range []error{errs[1], errs[n]} {
			if err != nil {
				require.Equal(t, sendoka.CodeConflict, sendoka.ErrorCode(err), "%v", err)
			}
		}
		require.False(t, errs[1] != nil && errs[n] != nil, "one of the runs delivered it")
	})
}

// TestSharedClaimReadsSuppressions: the deliveries that claim in one statement read their
// recipients' suppressions in one read too, and a message whose recipient was suppressed
// after it was accepted fails without reaching the provider while the others go.
func TestSharedClaimReadsSuppressions(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := newDBBundle(t, db)
		ctx := context.Background()
		c, store := b.claimHoldingClient(t)
		const n = 5
		msgs := make([]*sendoka.Message, n)
		for i := range msgs {
			m, err := b.client.SendEmail(ctx, b.p, b.email(fmt.Sprintf("reader%d@example.com", i)))
			require.NoError(t, err)
			msgs[i] = m
		}
		_, err := b.client.Suppress(ctx, b.p, sendoka.ChannelEmail, "reader3@example.com")
		require.NoError(t, err)
		var wg sync.WaitGroup
		errs := make([]error, n)
		wg.Go(func() { errs[0] = c.Deliver(ctx, msgs[0].ID, sendoka.DeliverOptions{JobID: msgs[0].JobID}) })
		<-store.entered
		for i := 1; i < n; i++ {
			wg.Go(func() { errs[i] = c.Deliver(ctx, msgs[i].ID, sendoka.DeliverOptions{JobID: msgs[i].JobID}) })
		}
		pollUntil(t, func() bool { return c.PendingClaims() == n-1 }, "the other deliveries never waited for the shared claim")
		close(store.release)
		wg.Wait()
		require.EqualValues(t, 2, store.calls.Load(), "two claim statements")
		require.EqualValues(t, 2, store.reads.Load(), "one suppression read per claim statement, not one per message")
		for i, m := range msgs {
			require.NoError(t, errs[i], "delivery %d", i)
			got := b.get(t, sendoka.ChannelEmail, m.ID)
			if i == 3 {
				require.Equal(t, sendoka.StatusFailed, got.Status, "suppressed after it was accepted")
				require.Equal(t, "suppressed", got.Diagnostic.Code)
				require.Zero(t, b.fake.Calls(m.ID), "never handed to the provider")
				continue
			}
			require.Equal(t, sendoka.StatusSent, got.Status, "message %d", i)
			require.Equal(t, 1, b.fake.Calls(m.ID), "message %d sent once", i)
		}
	})
}
