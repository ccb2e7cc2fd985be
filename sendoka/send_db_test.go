package sendoka_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/sendoka"
	"github.com/sendoka/sendoka/storage/bunstore"
	"github.com/sendoka/sendoka/storage/bunstore/bunstoretest"
)

// TestSendWithinTx: work a caller adds to a send commits with the message and its job, or
// rolls all of them back.
func TestSendWithinTx(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		sb := newSMSBundle(t, db)
		b := sb.dbBundle
		ctx := context.Background()
		sb.register(t, b.p, sendoka.SenderLongCode, "+15555550100", "US")

		var seen *sendoka.Message
		m, err := b.client.SendEmail(ctx, b.p, b.email("a@example.com"), sendoka.WithinTx(func(ctx context.Context, tx sendoka.Tx, msgs []*sendoka.Message) error {
			require.Len(t, msgs, 1)
			var err error
			seen, err = tx.GetMessage(ctx, msgs[0].ID) // stored already, in this transaction
			return err
		}))
		require.NoError(t, err)
		require.Equal(t, m.ID, seen.ID)
		require.NotZero(t, seen.JobID, "the job is enqueued before the caller's work runs")
		require.Equal(t, "available", b.jobState(t, m.JobID))

		refused := errors.New("quota reservation failed")
		_, err = b.client.SendSMS(ctx, b.p, &sendoka.SMSRequest{From: "+15555550100", To: "+15555550199", Body: "hi"},
			sendoka.WithinTx(func(context.Context, sendoka.Tx, []*sendoka.Message) error { return refused }))
		require.ErrorIs(t, err, refused)
		_, err = b.client.SendEmail(ctx, b.p, b.email("b@example.com"),
			sendoka.WithinTx(func(context.Context, sendoka.Tx, []*sendoka.Message) error { return refused }))
		require.ErrorIs(t, err, refused)
		page, err := b.client.ListMessages(ctx, b.p, sendoka.ChannelEmail, sendoka.ListParams{})
		require.NoError(t, err)
		require.Len(t, page.Messages, 1, "the refused send left nothing")
		var jobs int
		require.NoError(t, db.SQLDB().QueryRowContext(ctx, "SELECT count(*) FROM river_job").Scan(&jobs))
		require.Equal(t, 1, jobs, "nor a job")
	})
}
