package sendoka_test

import (
	"context"
	"errors"
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

// groupBundle drives group commit deterministically: a first send holds the only group
// slot (its WithinTx work blocks until released), so the sends started meanwhile gather in
// the next group, which a long window keeps open until it is full.
type groupBundle struct {
	*dbBundle
	client *sendoka.Client
}

func newGroupBundle(t *testing.T, db *bunstore.DB, store sendoka.Store, size int) *groupBundle {
	t.Helper()
	b := newDBBundle(t, db)
	c, err := sendoka.New(sendoka.Config{Store: store, Queue: b.queue, Clock: b.clock,
		Email: b.fake, SMS: b.fake, SandboxEmail: b.fake, SandboxSMS: b.fake,
		GroupCommit: sendoka.GroupCommitConfig{Window: time.Hour, MaxMessages: size, MaxInFlight: 1}})
	require.NoError(t, err)
	return &groupBundle{dbBundle: b, client: c}
}

// holdSlot starts a send that keeps its group's transaction open until release is called.
// It returns once that transaction is open; wait returns the send's result. release waits
// first for want sends to have joined the next group, so none of them can come after the
// first send's group has ended and start a group of its own.
func (b *groupBundle) holdSlot(t *testing.T, want int) (release func(), wait func() error) {
	t.Helper()
	entered, released := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		_, err := b.client.SendEmail(context.Background(), b.p, b.email("first@example.com"),
			sendoka.WithinTx(func(context.Context, sendoka.Tx, []*sendoka.Message) error {
				close(entered)
				<-released
				return nil
			}))
		done <- err
	}()
	select {
	case <-entered:
	case err := <-done:
		t.Fatalf("the first send ended early: %v", err)
	case <-time.After(dbWait):
		t.Fatal("the first send never opened its transaction")
	}
	release = func() {
		pollUntil(t, func() bool { return b.client.GroupWaiting() == want }, "%d sends in the next group", want)
		close(released)
	}
	return release, func() error { return <-done }
}

// counts returns the stored email messages and River jobs.
func (b *groupBundle) counts(t *testing.T) (msgs, jobs int) {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, b.db.SQLDB().QueryRowContext(ctx, "SELECT count(*) FROM messages").Scan(&msgs))
	require.NoError(t, b.db.SQLDB().QueryRowContext(ctx, "SELECT count(*) FROM river_job").Scan(&jobs))
	return msgs, jobs
}

type sendResult struct {
	m   *sendoka.Message
	err error
}

// TestGroupCommitSharesTransaction: single sends made while a group is being written share
// the next group's one transaction, and each still gets its own result: a send whose
// recipients are all suppressed is refused alone.
func TestGroupCommitSharesTransaction(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		const n = 20
		b := newGroupBundle(t, db, db, n)
		ctx := context.Background()
		_, err := b.client.Suppress(ctx, b.p, sendoka.ChannelEmail, "gone@example.com")
		require.NoError(t, err)

		release, waitFirst := b.holdSlot(t, n)
		var (
			mu  sync.Mutex
			txs []sendoka.Tx // kept alive, so no two transactions share an address
		)
		results := make([]sendResult, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				to := fmt.Sprintf("u%d@example.com", i)
				if i == 7 {
					to = "gone@example.com"
				}
				m, err := b.client.SendEmail(ctx, b.p, b.email(to),
					sendoka.WithinTx(func(_ context.Context, tx sendoka.Tx, msgs []*sendoka.Message) error {
						mu.Lock()
						defer mu.Unlock()
						require.Len(t, msgs, 1, "a send's own work sees its own message only")
						txs = append(txs, tx)
						return nil
					}))
				results[i] = sendResult{m, err}
			})
		}
		release()
		require.NoError(t, waitFirst())
		wg.Wait()

		ids := map[string]bool{}
		for i, r := range results {
			if i == 7 {
				requireCode(t, sendoka.CodeAllSuppressed, r.err)
				continue
			}
			require.NoError(t, r.err, "send %d", i)
			require.Equal(t, sendoka.StatusQueued, r.m.Status)
			ids[r.m.ID] = true
			require.Equal(t, r.m.ID, b.get(t, sendoka.ChannelEmail, r.m.ID).ID)
		}
		require.Len(t, ids, n-1, "every send has its own message")
		require.Len(t, txs, n-1)
		for _, tx := range txs {
			require.True(t, tx == txs[0], "the sends shared one transaction")
		}
		msgs, jobs := b.counts(t)
		require.Equal(t, n, msgs, "the first send and the 19 accepted")
		require.Equal(t, n, jobs, "one job each")
	})
}

// TestGroupCommitMemberFailureIsItsOwn: a member whose own transactional work fails gets its
// error; the rest of its group is accepted.
func TestGroupCommitMemberFailureIsItsOwn(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		const n = 5
		b := newGroupBundle(t, db, db, n)
		ctx := context.Background()
		refused := errors.New("quota reservation failed")

		release, waitFirst := b.holdSlot(t, n)
		results := make([]sendResult, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				var opts []sendoka.SendOption
				if i == 2 {
					opts = append(opts, sendoka.WithinTx(func(context.Context, sendoka.Tx, []*sendoka.Message) error { return refused }))
				}
				m, err := b.client.SendEmail(ctx, b.p, b.email(fmt.Sprintf("u%d@example.com", i)), opts...)
				results[i] = sendResult{m, err}
			})
		}
		release()
		require.NoError(t, waitFirst())
		wg.Wait()
		for i, r := range results {
			if i == 2 {
				require.ErrorIs(t, r.err, refused)
				continue
			}
			require.NoError(t, r.err, "send %d", i)
			require.Equal(t, r.m.ID, b.get(t, sendoka.ChannelEmail, r.m.ID).ID)
		}
		msgs, jobs := b.counts(t)
		require.Equal(t, n, msgs, "the first send and the 4 others; nothing of the refused one")
		require.Equal(t, n, jobs)
	})
}

// commitThenFail is the real store, but the transaction it is armed for reports an error
// after it has committed, as a connection lost while COMMIT's answer travels back would.
type commitThenFail struct {
	*bunstore.DB
	armed atomic.Bool
}

func (s *commitThenFail) InTx(ctx context.Context, fn func(ctx context.Context, tx sendoka.Tx) error) error {
	if err := s.DB.InTx(ctx, fn); err != nil {
		return err
	}
	if s.armed.CompareAndSwap(true, false) {
		return errors.New("connection reset by peer")
	}
	return nil
}

// TestGroupCommitErrorAfterCommit: when a group's transaction did commit but reported an
// error, retrying its members one by one finds their messages stored and succeeds, without
// a second message or job for any of them (no second send).
func TestGroupCommitErrorAfterCommit(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		const n = 3
		store := &commitThenFail{DB: db}
		b := newGroupBundle(t, db, store, n)
		ctx := context.Background()

		release, waitFirst := b.holdSlot(t, n)
		results := make([]sendResult, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				m, err := b.client.SendEmail(ctx, b.p, b.email(fmt.Sprintf("u%d@example.com", i)),
					sendoka.WithinTx(func(context.Context, sendoka.Tx, []*sendoka.Message) error {
						store.armed.Store(true) // the group's transaction, not the retries'
						return nil
					}))
				results[i] = sendResult{m, err}
			})
		}
		release()
		require.NoError(t, waitFirst())
		wg.Wait()
		for i, r := range results {
			require.NoError(t, r.err, "send %d: its message is stored", i)
			require.Equal(t, r.m.ID, b.get(t, sendoka.ChannelEmail, r.m.ID).ID)
		}
		msgs, jobs := b.counts(t)
		require.Equal(t, n+1, msgs, "no message twice")
		require.Equal(t, n+1, jobs, "no job twice")
	})
}
