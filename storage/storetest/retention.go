package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/sendoka"
)

// testRetention: the retention scan walks ids in order within its range, whatever the scope;
// purged content is stored and marked; deletes take the oldest first, at most the limit;
// cursors start empty and keep their last value.
func testRetention(t *testing.T, b *bundle) {
	ctx := b.ctx(t)
	var msgs []*sendoka.Message
	for i := range 5 {
		tenant := ""
		if i == 1 {
			tenant = "ten_other" // any scope
		}
		m := newEmail("org_ret", tenant, b.base.Add(time.Duration(i)*time.Hour))
		m.Email.HTML = "<p>body</p>"
		msgs = append(msgs, m)
	}
	b.insert(t, msgs...)
	mid := sendoka.NewID(sendoka.PrefixMessage, b.base.Add(150*time.Minute)) // between the third and the fourth

	got, err := b.store.MessagesCreatedBefore(ctx, "", mid, 10)
	require.NoError(t, err)
	require.Equal(t, ids(msgs[:3]), ids(got), "the range, in id order, any scope")
	got, err = b.store.MessagesCreatedBefore(ctx, msgs[0].ID, mid, 1)
	require.NoError(t, err)
	require.Equal(t, ids(msgs[1:2]), ids(got), "after the cursor, at most the limit")

	got[0].Email.HTML = ""
	at := b.at(7)
	require.NoError(t, b.store.PurgeContent(ctx, got, at))
	m, err := b.store.GetMessage(ctx, sendoka.Scope{OrgID: "org_ret", TenantID: "ten_other", Mode: sendoka.ModeLive}, msgs[1].ID)
	require.NoError(t, err)
	require.Empty(t, m.Email.HTML)
	require.NotNil(t, m.ContentPurgedAt)
	require.True(t, at.Equal(*m.ContentPurgedAt))

	n, err := b.store.DeleteMessagesBefore(ctx, mid, 2)
	require.NoError(t, err)
	require.Equal(t, 2, n, "at most the limit")
	n, err = b.store.DeleteMessagesBefore(ctx, mid, 10)
	require.NoError(t, err)
	require.Equal(t, 1, n, "only those before the id")
	got, err = b.store.MessagesCreatedBefore(ctx, "", sendoka.NewID(sendoka.PrefixMessage, b.base.Add(time.Hour*24)), 10)
	require.NoError(t, err)
	require.Equal(t, ids(msgs[3:]), ids(got), "the oldest went first")

	c, err := b.store.GetCursor(ctx, "scan")
	require.NoError(t, err)
	require.Empty(t, c)
	require.NoError(t, b.store.SetCursor(ctx, "scan", "msg_1", at))
	require.NoError(t, b.store.SetCursor(ctx, "scan", "msg_2", at))
	c, err = b.store.GetCursor(ctx, "scan")
	require.NoError(t, err)
	require.Equal(t, "msg_2", c)
}
