package sendoka_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/providers/sandbox"
	"github.com/sendoka/sendoka/sendoka"
	"github.com/sendoka/sendoka/storage/bunstore"
	"github.com/sendoka/sendoka/storage/bunstore/bunstoretest"
)

// steppingClock moves a millisecond on every reading, so every stamp is later than the
// one before.
type steppingClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *steppingClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Millisecond)
	return c.t
}

// TestProviderOutcomeWithTheAnswer: an outcome a provider reports with its answer (the
// sandbox's delivery, stamped during the hand-off, after the attempt began) is recorded in
// the same transaction as the send: the message is delivered when Deliver returns, with no
// job left to run.
func TestProviderOutcomeWithTheAnswer(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := newDBBundle(t, db)
		clock := &steppingClock{t: time.Now().UTC().Truncate(time.Second)}
		sb := sandbox.New(sandbox.Options{Clock: clock})
		c, err := sendoka.New(sendoka.Config{Store: db, Queue: b.queue, Clock: clock,
			Email: sb, SMS: sb, SandboxEmail: sb, SandboxSMS: sb})
		require.NoError(t, err)
		ctx := context.Background()
		m, err := c.SendEmail(ctx, b.p, b.email("reader@example.com"))
		require.NoError(t, err)
		require.NoError(t, c.Deliver(ctx, m.ID, sendoka.DeliverOptions{JobID: m.JobID}))
		got, err := c.GetMessage(ctx, b.p, sendoka.ChannelEmail, m.ID)
		require.NoError(t, err)
		require.Equal(t, sendoka.StatusDelivered, got.Status, "the delivery applied with the send")
		var jobs int
		require.NoError(t, db.SQLDB().QueryRowContext(ctx, "SELECT COUNT(*) FROM river_job WHERE kind = $1", string(sendoka.JobProviderEvent)).Scan(&jobs))
		require.Zero(t, jobs, "no provider-event job for an outcome already due")
	})
}
