package sendoka_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/sendoka"
	"github.com/sendoka/sendoka/storage/bunstore"
	"github.com/sendoka/sendoka/storage/bunstore/bunstoretest"
)

func TestRequestHashCanonical(t *testing.T) {
	t.Parallel()
	a := sendoka.RequestHash([]byte(`{"to":["a@example.com"],"subject":"Hi","n":1.50}`))
	require.Equal(t, a, sendoka.RequestHash([]byte("{ \"subject\" : \"Hi\",\n \"n\":1.50, \"to\":[ \"a@example.com\" ] }")),
		"key order and whitespace do not count")
	require.Equal(t, a, sendoka.RequestHash([]byte(`{"subject":"\u0048i","to":["a@example.com"],"n":1.50}`)), "nor string escapes")
	require.NotEqual(t, a, sendoka.RequestHash([]byte(`{"to":["a@example.com"],"subject":"Hi","n":1.5}`)), "numbers stay as written")
	require.NotEqual(t, a, sendoka.RequestHash([]byte(`{"to":["a@example.com"],"subject":"Hi!","n":1.50}`)))
	require.NotEqual(t, sendoka.RequestHash([]byte(`{"a":1} x`)), sendoka.RequestHash([]byte(`{"a":1}  x`)),
		"a body that is not one JSON value is hashed raw")
	require.Len(t, a, 64)
}

func TestValidateIdempotencyKey(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"a", strings.Repeat("k", 255), "welcome:user_12345:signup", " ~!\"#"} {
		require.NoError(t, sendoka.ValidateIdempotencyKey(ok), "%q", ok)
	}
	for _, bad := range []string{"", strings.Repeat("k", 256), "caf\u00e9", "a\tb", "a\x00b", "a\x7fb"} {
		require.Equal(t, sendoka.CodeValidation, sendoka.ErrorCode(sendoka.ValidateIdempotencyKey(bad)), "%q", bad)
	}
}

// TestIdempotentSend: the key's response commits in the send's transaction. A send whose
// transaction fails leaves the key locked only until the caller releases it; one that
// committed is replayed even if its holder never finished (a crash after the commit).
func TestIdempotentSend(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := newDBBundle(t, db)
		ctx := context.Background()
		req := sendoka.IdempotencyRequest{Route: "POST /api/v1/emails", Key: "k1", Body: []byte(`{"to":"a"}`)}
		commit := func(call *sendoka.IdempotentCall, body string) sendoka.SendOption {
			return sendoka.WithinTx(func(ctx context.Context, tx sendoka.Tx, msgs []*sendoka.Message) error {
				return call.Commit(ctx, tx, sendoka.StoredResponse{Status: 200, Body: []byte(body + msgs[0].ID)})
			})
		}

		// A transaction that fails: nothing committed, the key is released and runs anew.
		call, err := b.client.BeginIdempotent(ctx, b.p, req)
		require.NoError(t, err)
		require.Nil(t, call.Replay())
		boom := errors.New("crash inside the transaction")
		_, err = b.client.SendEmail(ctx, b.p, b.email("a@example.com"), commit(call, "first "),
			sendoka.WithinTx(func(context.Context, sendoka.Tx, []*sendoka.Message) error { return boom }))
		require.ErrorIs(t, err, boom)
		_, err = b.client.BeginIdempotent(ctx, b.p, req)
		require.Equal(t, sendoka.CodeIdempotencyInFlight, sendoka.ErrorCode(err), "still locked until released")
		require.NoError(t, call.Release(ctx))
		page, err := b.client.ListMessages(ctx, b.p, sendoka.ChannelEmail, sendoka.ListParams{})
		require.NoError(t, err)
		require.Empty(t, page.Messages)

		// Runs anew, commits, and the holder "crashes" before Finish: the committed response
		// is what a replay gets.
		call, err = b.client.BeginIdempotent(ctx, b.p, req)
		require.NoError(t, err)
		require.Nil(t, call.Replay(), "the released key is reusable")
		m, err := b.client.SendEmail(ctx, b.p, b.email("a@example.com"), commit(call, "second "))
		require.NoError(t, err)
		require.NoError(t, call.Release(ctx), "releasing a committed key changes nothing")
		again, err := b.client.BeginIdempotent(ctx, b.p, req)
		require.NoError(t, err)
		require.NotNil(t, again.Replay())
		require.Equal(t, "second "+m.ID, string(again.Replay().Body))
		page, err = b.client.ListMessages(ctx, b.p, sendoka.ChannelEmail, sendoka.ListParams{})
		require.NoError(t, err)
		require.Len(t, page.Messages, 1, "both exist: the message and its key")

		// Finish overwrites the committed response with what was answered.
		require.NoError(t, call.Finish(ctx, sendoka.StoredResponse{Status: 200, Body: []byte("answered")}))
		again, err = b.client.BeginIdempotent(ctx, b.p, req)
		require.NoError(t, err)
		require.Equal(t, "answered", string(again.Replay().Body))

		// Same key, another body.
		_, err = b.client.BeginIdempotent(ctx, b.p, sendoka.IdempotencyRequest{Route: req.Route, Key: req.Key, Body: []byte(`{"to":"b"}`)})
		require.Equal(t, sendoka.CodeIdempotencyMismatch, sendoka.ErrorCode(err))
	})
}

// TestIdempotencyLockAndRetention: a live lock is IN_FLIGHT; a lapsed one is taken over, and
// the old holder can no longer commit; after the retention a key is new; the purge deletes
// what is past it.
func TestIdempotencyLockAndRetention(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := newDBBundle(t, db)
		ctx := context.Background()
		req := sendoka.IdempotencyRequest{Route: "POST /api/v1/emails", Key: "lock", Body: []byte(`{}`)}
		crashed, err := b.client.BeginIdempotent(ctx, b.p, req)
		require.NoError(t, err)

		b.clock.set(sendoka.IdempotencyLockTimeout - time.Second)
		_, err = b.client.BeginIdempotent(ctx, b.p, req)
		require.Equal(t, sendoka.CodeIdempotencyInFlight, sendoka.ErrorCode(err))
		require.Equal(t, 1, sendoka.AsError(err).RetryAfterSeconds)

		b.clock.set(sendoka.IdempotencyLockTimeout)
		taker, err := b.client.BeginIdempotent(ctx, b.p, req)
		require.NoError(t, err)
		require.Nil(t, taker.Replay(), "a lapsed lock is taken over")

		_, err = b.client.SendEmail(ctx, b.p, b.email("a@example.com"), sendoka.WithinTx(func(ctx context.Context, tx sendoka.Tx, _ []*sendoka.Message) error {
			return crashed.Commit(ctx, tx, sendoka.StoredResponse{Status: 200})
		}))
		require.Equal(t, sendoka.CodeIdempotencyInFlight, sendoka.ErrorCode(err), "the old holder lost its key: its send rolls back")
		require.NoError(t, taker.Finish(ctx, sendoka.StoredResponse{Status: 422, Body: []byte("stored")}))
		page, err := b.client.ListMessages(ctx, b.p, sendoka.ChannelEmail, sendoka.ListParams{})
		require.NoError(t, err)
		require.Empty(t, page.Messages)

		// Other scopes do not see the key.
		other := *b.p
		other.TenantID = "ten_other"
		call, err := b.client.BeginIdempotent(ctx, &other, req)
		require.NoError(t, err)
		require.Nil(t, call.Replay())
		liveMode := *b.p
		liveMode.Mode = sendoka.ModeLive
		call, err = b.client.BeginIdempotent(ctx, &liveMode, req)
		require.NoError(t, err)
		require.Nil(t, call.Replay())

		b.clock.set(sendoka.IdempotencyLockTimeout + sendoka.IdempotencyRetention - time.Second)
		call, err = b.client.BeginIdempotent(ctx, b.p, req)
		require.NoError(t, err)
		require.Equal(t, "stored", string(call.Replay().Body), "replayed within the retention")
		n, err := b.client.PurgeIdempotencyKeys(ctx)
		require.NoError(t, err)
		require.Zero(t, n, "the taken-over key counts from its take-over")

		b.clock.set(sendoka.IdempotencyLockTimeout + sendoka.IdempotencyRetention)
		call, err = b.client.BeginIdempotent(ctx, b.p, req)
		require.NoError(t, err)
		require.Nil(t, call.Replay(), "after the retention the key is new")

		b.clock.set(3 * sendoka.IdempotencyRetention)
		require.NoError(t, b.client.RunJob(ctx, sendoka.Job{Kind: sendoka.JobPurgeIdempotencyKeys}, sendoka.JobRun{Attempt: 1}))
		var left int
		require.NoError(t, db.SQLDB().QueryRowContext(ctx, "SELECT count(*) FROM idempotency_keys").Scan(&left))
		require.Zero(t, left, "the periodic job deleted every key past the retention")

		var periodic bool
		for _, spec := range sendoka.JobSpecs(0, time.Minute) {
			if spec.Kind == sendoka.JobPurgeIdempotencyKeys {
				periodic = spec.Every > 0 && spec.Queue == sendoka.QueueMaintenance
			}
		}
		require.True(t, periodic, "the purge is a periodic maintenance job")
	})
}
