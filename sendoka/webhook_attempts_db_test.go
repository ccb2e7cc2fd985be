package sendoka_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/sendoka"
	"github.com/sendoka/sendoka/storage/bunstore"
	"github.com/sendoka/sendoka/storage/bunstore/bunstoretest"
)

// holdingStore counts transactions and, while hold is set, holds the next one back until
// released (before it takes a connection: SQLite has one).
type holdingStore struct {
	sendoka.Store
	txs     atomic.Int64
	hold    atomic.Bool
	entered chan struct{}
	release chan struct{}
}

func (s *holdingStore) InTx(ctx context.Context, fn func(ctx context.Context, tx sendoka.Tx) error) error {
	s.txs.Add(1)
	if s.hold.CompareAndSwap(true, false) {
		close(s.entered)
		<-s.release
	}
	return s.Store.InTx(ctx, fn)
}

// readHoldingStore counts the webhook workers' delivery reads and holds the first back
// until released.
type readHoldingStore struct {
	sendoka.Store
	reads   atomic.Int64
	ids     atomic.Int64
	entered chan struct{}
	release chan struct{}
}

func (s *readHoldingStore) GetWebhookDeliveriesAndEndpoints(ctx context.Context, ids ...string) ([]sendoka.WebhookDeliveryAndEndpoint, error) {
	if s.reads.Add(1) == 1 {
		close(s.entered)
		<-s.release
	}
	s.ids.Add(int64(len(ids)))
	return s.Store.GetWebhookDeliveriesAndEndpoints(ctx, ids...)
}

// pendingTestWebhooks is a Client on store with one batch of shared trips at a time, an
// endpoint at a scripted receiver, and n pending test deliveries to it.
func (b *dbBundle) pendingTestWebhooks(t *testing.T, store sendoka.Store, n int) (*sendoka.Client, *scripted, *sendoka.WebhookEndpoint, []string) {
	t.Helper()
	c := b.webhookClient(t, store, sendoka.WebhookConfig{AllowInsecure: true})
	c.SetSharedTripsInFlight(1)
	rx := newScripted(t)
	ctx := context.Background()
	ep, err := c.CreateWebhookEndpoint(ctx, b.p, &sendoka.WebhookEndpointRequest{URL: rx.srv.URL})
	require.NoError(t, err)
	ids := make([]string, n)
	for i := range ids {
		d, err := c.SendTestWebhook(ctx, b.p, ep.ID)
		require.NoError(t, err)
		ids[i] = d.ID
	}
	return c, rx, ep, ids
}

// TestWebhookAttemptsShareReads: attempts that start while another's delivery is being
// read are read together, in one statement, and each gets its own delivery and endpoint.
func TestWebhookAttemptsShareReads(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := newDBBundle(t, db)
		store := &readHoldingStore{Store: db, entered: make(chan struct{}), release: make(chan struct{})}
		const n = 9
		c, rx, _, ids := b.pendingTestWebhooks(t, store, n)
		ctx := context.Background()
		var wg sync.WaitGroup
		errs := make([]error, n+1)
		wg.Go(func() { errs[0] = c.DeliverWebhook(ctx, ids[0]) })
		<-store.entered
		for i := 1; i < n; i++ {
			wg.Go(func() { errs[i] = c.DeliverWebhook(ctx, ids[i]) })
		}
		wg.Go(func() { errs[n] = c.DeliverWebhook(ctx, "whd_01HN8Z6Q4V3K2J1M0N9P8Q7R6S") })
		pollUntil(t, func() bool { return c.PendingWebhookReads() == n }, "the other attempts never waited for the shared read")
		close(store.release)
		wg.Wait()
		for i := range n {
			require.NoError(t, errs[i], "attempt %d", i)
		}
		require.Equal(t, sendoka.CodeNotFound, sendoka.ErrorCode(errs[n]), "an unknown delivery in the batch is not found; the others are")
		require.EqualValues(t, 2, store.reads.Load(), "one read for the first, one for the %d that waited", n)
		require.EqualValues(t, n+1, store.ids.Load())
		require.EqualValues(t, n, rx.calls.Load())
		seen := map[string]bool{}
		rx.ids.Range(func(k, _ any) bool { seen[k.(string)] = true; return true })
		for _, id := range ids {
			require.True(t, seen[id], "delivery %s was posted with its own id", id)
		}
	})
}

// TestWebhookAttemptsShareWrites: attempts that end while another attempt's outcome is
// being written wait and are written together, in one transaction, each with its own
// outcome; none returns before its outcome is stored.
func TestWebhookAttemptsShareWrites(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := newDBBundle(t, db)
		store := &holdingStore{Store: db, entered: make(chan struct{}), release: make(chan struct{})}
		const n = 12
		c, rx, ep, ids := b.pendingTestWebhooks(t, store, n)
		ctx := context.Background()

		// The first attempt's write is held open; the others end meanwhile.
		store.hold.Store(true)
		var returned atomic.Int64
		var wg sync.WaitGroup
		errs := make([]error, n)
		wg.Go(func() { errs[0] = c.DeliverWebhook(ctx, ids[0]); returned.Add(1) })
		<-store.entered
		before := store.txs.Load()
		for i := 1; i < n; i++ {
			wg.Go(func() { errs[i] = c.DeliverWebhook(ctx, ids[i]); returned.Add(1) })
		}
		pollUntil(t, func() bool { return c.PendingWebhookAttempts() == n-1 }, "the other attempts never waited for the writer")
		require.Zero(t, returned.Load(), "no attempt returns before its outcome is stored")
		close(store.release)
		wg.Wait()
		for i, err := range errs {
			require.NoError(t, err, "attempt %d", i)
		}
		require.Equal(t, before+1, store.txs.Load(), "the %d waiting outcomes are written in one transaction", n-1)
		require.EqualValues(t, n, rx.calls.Load())
		for _, id := range ids {
			log, err := c.ListWebhookDeliveries(ctx, b.p, ep.ID, sendoka.ListParams{Limit: 100})
			require.NoError(t, err)
			var got *sendoka.WebhookDelivery
			for _, d := range log.Deliveries {
				if d.ID == id {
					got = d
				}
			}
			require.NotNil(t, got, id)
			require.Equal(t, sendoka.WebhookSucceeded, got.Status, id)
			require.Len(t, got.Attempts, 1, id)
			require.Equal(t, 200, got.Attempts[0].StatusCode, id)
		}
	})
}
