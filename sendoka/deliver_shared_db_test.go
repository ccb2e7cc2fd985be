package sendoka_test

import (
	"context"
	"database/sql"
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
	if m.ID == t.s.failID {
		return false, sendoka.Errorf(sendoka.CodeValidation, "disk on fire")
	}
	return t.Tx.UpdateMessage(ctx, m, from...)
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
	})
}

// claimHoldingStore holds its first fast claim back until released, and counts them.
type claimHoldingStore struct {
	sendoka.Store
	calls   atomic.Int64
	entered chan struct{}
	release chan struct{}
}

func (s *claimHoldingStore) ClaimUnclaimed(ctx context.Context, claims []sendoka.Claim, at, until time.Time) ([]*sendoka.Message, error) {
	if s.calls.Add(1) == 1 {
		close(s.entered)
		<-s.release
	}
	return s.Store.ClaimUnclaimed(ctx, claims, at, until)
}

// TestDeliveryClaimsShareStatements: deliveries that start while another's claim is being
// made claim together, in one statement; a message named twice in that statement (two
// runs of its job at once) is sent once.
func TestDeliveryClaimsShareStatements(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := newDBBundle(t, db)
		ctx := context.Background()
		store := &claimHoldingStore{Store: db, entered: make(chan struct{}), release: make(chan struct{})}
		c, err := sendoka.New(sendoka.Config{Store: store, Queue: b.queue, Clock: b.clock,
			Email: b.fake, SMS: b.fake, SandboxEmail: b.fake, SandboxSMS: b.fake})
		require.NoError(t, err)
		c.SetSharedTripsInFlight(1)
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
