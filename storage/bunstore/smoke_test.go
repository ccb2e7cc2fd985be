package bunstore_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/sendoka"
	"github.com/sendoka/sendoka/storage/bunstore"
	"github.com/sendoka/sendoka/storage/bunstore/bunstoretest"
)

func TestSmoke(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		ctx := context.Background()
		now := time.Now().UTC().Truncate(time.Microsecond)
		m := &sendoka.Message{ID: sendoka.NewID("msg_", now), OrgID: "org_1", Channel: sendoka.ChannelEmail, Mode: sendoka.ModeLive, Status: sendoka.StatusQueued,
			Email: &sendoka.EmailContent{From: "a@b.c", To: []string{"x@y.z"}, Subject: "hi"}, Tags: []string{"a", "b"}, Metadata: map[string]any{"k": "v", "n": 1.5},
			CreatedAt: now, UpdatedAt: now}
		require.NoError(t, db.InTx(ctx, func(ctx context.Context, tx sendoka.Tx) error {
			require.NotNil(t, tx.(interface{ SQLTx() *sql.Tx }).SQLTx())
			return tx.InsertMessages(ctx, m)
		}))
		got, err := db.GetMessage(ctx, sendoka.Scope{OrgID: "org_1"}, m.ID)
		require.NoError(t, err)
		require.Equal(t, m, got)
		page, err := db.ListMessages(ctx, sendoka.Scope{OrgID: "org_1"}, sendoka.MessageQuery{Tag: "b", Limit: 10, After: &sendoka.Cursor{CreatedAt: now.Add(time.Second), ID: "z"}})
		require.NoError(t, err)
		require.Len(t, page.Messages, 1)
		var ok bool
		require.NoError(t, db.InTx(ctx, func(ctx context.Context, tx sendoka.Tx) error {
			ok, err = tx.ClaimMessage(ctx, m.ID, now, sendoka.StatusQueued)
			return err
		}))
		require.True(t, ok)
		err = db.InTx(ctx, func(ctx context.Context, tx sendoka.Tx) error { return tx.InsertMessages(ctx, m) })
		require.Equal(t, sendoka.CodeConflict, sendoka.ErrorCode(err), "%v", err)
	})
}
