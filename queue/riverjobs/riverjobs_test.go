package riverjobs_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/providers/memsend"
	"github.com/sendoka/sendoka/queue/riverjobs"
	"github.com/sendoka/sendoka/sendoka"
	"github.com/sendoka/sendoka/storage/bunstore"
	"github.com/sendoka/sendoka/storage/bunstore/bunstoretest"
)

// waitTimeout bounds every wait of these tests; the happy paths take milliseconds.
const waitTimeout = 15 * time.Second

// fastConfig keeps River quick in tests: jobs are picked up within a few milliseconds.
func fastConfig() riverjobs.Config {
	return riverjobs.Config{
		MaxWorkers:        10,
		FetchCooldown:     5 * time.Millisecond,
		FetchPollInterval: 20 * time.Millisecond,
	}
}

type testBundle struct {
	db     *bunstore.DB
	queue  *riverjobs.Queue
	client *sendoka.Client
	fake   *memsend.Sender
	orgID  string
	// p is a test-mode principal: its mail goes to the sandbox provider (fake).
	p *sendoka.Principal
}

// setup opens a fresh database with Sendoka's and River's tables, and a client whose every
// provider is one memsend fake. The queue is not started: see start.
func setup(t *testing.T, db *bunstore.DB, cfg riverjobs.Config) *testBundle {
	t.Helper()
	ctx := context.Background()
	dialect := string(db.Dialect())
	require.NoError(t, riverjobs.Migrate(ctx, db.SQLDB(), dialect))
	q, err := riverjobs.New(db.SQLDB(), dialect, riverjobs.FastStart(cfg))
	require.NoError(t, err)
	fake := memsend.New()
	client, err := sendoka.New(sendoka.Config{Store: db, Queue: q, SandboxEmail: fake, SandboxSMS: fake, Email: fake, SMS: fake,
		// Two quick retries: a third transient failure fails the message.
		Delivery: sendoka.DeliveryConfig{RetryDelays: []time.Duration{10 * time.Millisecond, 10 * time.Millisecond}}})
	require.NoError(t, err)
	res, err := client.Bootstrap(ctx, sendoka.BootstrapOptions{})
	require.NoError(t, err)
	return &testBundle{db: db, queue: q, client: client, fake: fake, orgID: res.Org.ID,
		p: sendoka.SystemPrincipal(res.Org.ID, sendoka.ModeTest)}
}

// start runs the queue's workers with the client until the test ends.
func (b *testBundle) start(t *testing.T) {
	t.Helper()
	require.NoError(t, b.queue.Start(context.Background(), b.client))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		require.NoError(t, b.queue.Stop(ctx))
	})
}

func (b *testBundle) sendEmail(t *testing.T) *sendoka.Message {
	t.Helper()
	m, err := b.client.SendEmail(context.Background(), b.p, &sendoka.EmailRequest{
		From: "x@sandbox.sendoka.com", To: []string{"someone@example.com"}, Subject: "Hi", Text: "Hello",
	})
	require.NoError(t, err)
	require.NotZero(t, m.JobID)
	return m
}

// newMessage builds a queued message as the core's accept does, for tests that write it
// themselves.
func (b *testBundle) newMessage() *sendoka.Message {
	now := time.Now().UTC().Truncate(time.Microsecond)
	return &sendoka.Message{
		ID: sendoka.NewID(sendoka.PrefixMessage, now), OrgID: b.orgID, Channel: sendoka.ChannelEmail,
		Mode: sendoka.ModeTest, Status: sendoka.StatusQueued,
		Email:     &sendoka.EmailContent{From: "x@sandbox.sendoka.com", To: []string{"someone@example.com"}, Subject: "Hi", Text: "Hello"},
		CreatedAt: now, UpdatedAt: now,
	}
}

func (b *testBundle) sendEmailAt(t *testing.T, at time.Time) *sendoka.Message {
	t.Helper()
	m, err := b.client.SendEmail(context.Background(), b.p, &sendoka.EmailRequest{
		From: "x@sandbox.sendoka.com", To: []string{"someone@example.com"}, Subject: "Later", Text: "Hello",
		ScheduleRequest: sendoka.ScheduleRequest{ScheduledAt: at.Format(time.RFC3339Nano)},
	})
	require.NoError(t, err)
	return m
}

func (b *testBundle) message(t *testing.T, id string) *sendoka.Message {
	t.Helper()
	m, err := b.client.GetMessage(context.Background(), b.p, sendoka.ChannelEmail, id)
	require.NoError(t, err)
	return m
}

// waitStatus polls the message until it has status want.
func (b *testBundle) waitStatus(t *testing.T, id string, want sendoka.Status) *sendoka.Message {
	t.Helper()
	var m *sendoka.Message
	poll(t, func() bool {
		m = b.message(t, id)
		return m.Status == want
	}, "message %s never reached %s (last: %+v)", id, want, &m)
	return m
}

// jobRow is the part of a river_job row the tests look at.
type jobRow struct {
	Kind     string
	State    string
	Attempt  int
	Args     map[string]any
	Metadata map[string]any
}

func (b *testBundle) job(t *testing.T, id int64) *jobRow {
	t.Helper()
	var r jobRow
	var args, meta []byte
	query := "SELECT kind, state, attempt, args, metadata FROM river_job WHERE id = $1"
	if b.db.Dialect() == bunstore.DialectSQLite {
		// riversqlite stores SQLite's binary JSONB; json() turns it back into text.
		query = "SELECT kind, state, attempt, json(args), json(metadata) FROM river_job WHERE id = $1"
	}
	err := b.db.SQLDB().QueryRowContext(context.Background(), query, id).
		Scan(&r.Kind, &r.State, &r.Attempt, &args, &meta)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(args, &r.Args))
	require.NoError(t, json.Unmarshal(meta, &r.Metadata))
	return &r
}

// waitJobState polls the job until its state is one of want.
func (b *testBundle) waitJobState(t *testing.T, id int64, want ...string) *jobRow {
	t.Helper()
	var r *jobRow
	poll(t, func() bool {
		r = b.job(t, id)
		for _, s := range want {
			if r.State == s {
				return true
			}
		}
		return false
	}, "job %d never reached %v (last: %+v)", id, want, &r)
	return r
}

func (b *testBundle) countJobs(t *testing.T) int {
	t.Helper()
	var n int
	require.NoError(t, b.db.SQLDB().QueryRowContext(context.Background(), "SELECT count(*) FROM river_job").Scan(&n))
	return n
}

// poll checks cond until it holds or waitTimeout passes.
func poll(t *testing.T, cond func() bool, format string, args ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf(format, args...)
		case <-tick.C:
		}
	}
}

func waitCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	t.Cleanup(cancel)
	return ctx
}

// noSQLTx is a store transaction that cannot share itself with the queue.
type noSQLTx struct{ sendoka.Tx }

func TestOutbox(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := setup(t, db, fastConfig())
		ctx := context.Background()

		// A transaction that fails after enqueuing leaves neither the message nor its job.
		m := b.newMessage()
		boom := errors.New("boom")
		err := db.InTx(ctx, func(ctx context.Context, tx sendoka.Tx) error {
			ids, err := b.queue.Enqueue(ctx, tx, sendoka.Job{Kind: sendoka.JobDeliverMessage, SubjectID: m.ID})
			require.NoError(t, err)
			require.Len(t, ids, 1)
			m.JobID = ids[0]
			require.NoError(t, tx.InsertMessages(ctx, m))
			return boom
		})
		require.ErrorIs(t, err, boom)
		require.Zero(t, b.countJobs(t))
		_, err = b.client.GetMessage(ctx, b.p, sendoka.ChannelEmail, m.ID)
		require.Equal(t, sendoka.CodeNotFound, sendoka.ErrorCode(err))

		// A committed send always has its job.
		sent := b.sendEmail(t)
		row := b.job(t, sent.JobID)
		require.Equal(t, "deliver_message", row.Kind)
		require.Equal(t, "available", row.State)
		require.Equal(t, map[string]any{"subject_id": sent.ID}, row.Args, "args carry the id, never content")
		require.Equal(t, 1, b.countJobs(t))
	})
}

func TestEnqueue(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := setup(t, db, fastConfig())
		ctx := context.Background()

		t.Run("IdsInOrder", func(t *testing.T) {
			msgs := []*sendoka.Message{b.newMessage(), b.newMessage(), b.newMessage()}
			event := eventPayload(t, sendoka.ProviderEvent{Type: sendoka.ProviderDelivered, Data: map[string]any{"k": "v"}})
			jobs := []sendoka.Job{
				{Kind: sendoka.JobDeliverMessage, SubjectID: msgs[0].ID},
				{Kind: sendoka.JobProviderEvent, SubjectID: msgs[1].ID, Payload: event},
				{Kind: sendoka.JobDeliverMessage, SubjectID: msgs[2].ID, RunAt: time.Now().Add(time.Hour)},
				{Kind: sendoka.JobDeliverMessage, SubjectID: msgs[1].ID},
			}
			var ids []int64
			require.NoError(t, db.InTx(ctx, func(ctx context.Context, tx sendoka.Tx) error {
				var err error
				ids, err = b.queue.Enqueue(ctx, tx, jobs...)
				return err
			}))
			require.Len(t, ids, len(jobs))
			for i, j := range jobs {
				row := b.job(t, ids[i])
				require.Equal(t, string(j.Kind), row.Kind, "job %d", i)
				require.Equal(t, j.SubjectID, row.Args["subject_id"], "job %d", i)
			}
			payload := b.job(t, ids[1]).Args["payload"].(map[string]any)
			require.Equal(t, "delivered", payload["type"])
			require.Equal(t, map[string]any{"k": "v"}, payload["data"])
			require.Equal(t, "scheduled", b.job(t, ids[2]).State)
			require.Equal(t, riverjobs.DefaultMaxAttempts, maxAttempts(t, b, ids[0]))
		})

		t.Run("Errors", func(t *testing.T) {
			_, err := b.queue.Enqueue(ctx, noSQLTx{}, sendoka.Job{Kind: sendoka.JobDeliverMessage, SubjectID: "msg_x"})
			require.ErrorContains(t, err, "SQLTx")
			require.Error(t, b.queue.Cancel(ctx, noSQLTx{}, 1))
			for _, j := range []sendoka.Job{
				{Kind: "unknown", SubjectID: "msg_x"},
				{Kind: sendoka.JobDeliverMessage},
				{Kind: sendoka.JobProviderEvent, SubjectID: "msg_x"},
			} {
				err := db.InTx(ctx, func(ctx context.Context, tx sendoka.Tx) error {
					_, err := b.queue.Enqueue(ctx, tx, j)
					return err
				})
				require.Error(t, err, "%+v", j)
			}
			ids, err := b.queue.Enqueue(ctx, noSQLTx{})
			require.NoError(t, err, "nothing to enqueue needs no transaction")
			require.Empty(t, ids)
		})
	})
}

func maxAttempts(t *testing.T, b *testBundle, id int64) int {
	t.Helper()
	var n int
	require.NoError(t, b.db.SQLDB().QueryRowContext(context.Background(), "SELECT max_attempts FROM river_job WHERE id = $1", id).Scan(&n))
	return n
}

func TestEndToEnd(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := setup(t, db, fastConfig())
		b.start(t)

		m := b.sendEmail(t)
		require.NoError(t, b.fake.WaitFor(waitCtx(t), 1))
		require.Equal(t, m.ID, b.fake.Sent()[0].MessageID())
		got := b.waitStatus(t, m.ID, sendoka.StatusSent)
		require.Equal(t, "mem_"+m.ID, got.ProviderMessageID)
		require.Equal(t, "completed", b.waitJobState(t, m.JobID, "completed").State)

		// A provider that reports delivery at once: the report runs as a provider_event job.
		b.fake.ReportOnSend(sendoka.ProviderEvent{Type: sendoka.ProviderDelivered})
		m2 := b.sendEmail(t)
		got = b.waitStatus(t, m2.ID, sendoka.StatusDelivered)
		require.NotNil(t, got.CompletedAt)
		var types []sendoka.EventType
		for _, e := range got.Events {
			types = append(types, e.Type)
		}
		require.Equal(t, []sendoka.EventType{sendoka.EventQueued, sendoka.EventSent, sendoka.EventDelivered}, types)
		require.Equal(t, 1, b.fake.Count(m.ID))
		require.Equal(t, 1, b.fake.Count(m2.ID))
	})
}

func TestSendsAtMostOnce(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := setup(t, db, fastConfig())
		ctx := context.Background()

		t.Run("DeliverTwice", func(t *testing.T) {
			m := b.sendEmail(t)
			require.NoError(t, b.client.Deliver(ctx, m.ID, sendoka.DeliverOptions{}))
			require.NoError(t, b.client.Deliver(ctx, m.ID, sendoka.DeliverOptions{}))
			require.Equal(t, 1, b.fake.Count(m.ID))
			require.Equal(t, sendoka.StatusSent, b.message(t, m.ID).Status)
		})

		t.Run("DeliverConcurrently", func(t *testing.T) {
			m := b.sendEmail(t)
			const n = 8
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() { errs[i] = b.client.Deliver(ctx, m.ID, sendoka.DeliverOptions{}) })
			}
			wg.Wait()
			for _, err := range errs {
				if err != nil {
					require.Equal(t, sendoka.CodeConflict, sendoka.ErrorCode(err), "%v", err)
				}
			}
			require.Equal(t, 1, b.fake.Count(m.ID))
			require.Equal(t, 1, b.fake.Calls(m.ID), "the provider was called once")
			require.Equal(t, sendoka.StatusSent, b.message(t, m.ID).Status)
		})
	})
}

// TestDuplicateJob runs two deliver_message jobs for one message through River: the one
// that loses the race is snoozed (or finds the message sent), and the message is sent once.
// TestDuplicateJob pins that a second job for a message (River runs jobs at least once)
// never reaches the provider: it is not the message's job, so it leaves the message alone
// even while the message's own job is mid-hand-off.
func TestDuplicateJob(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := setup(t, db, fastConfig())
		release := b.fake.Block()
		defer release()
		m := b.sendEmail(t)
		b.start(t)
		// The message's own job is now inside the provider, holding the claim.
		require.NoError(t, b.fake.WaitCalls(waitCtx(t), 1))
		var dup int64
		require.NoError(t, db.InTx(context.Background(), func(ctx context.Context, tx sendoka.Tx) error {
			ids, err := b.queue.Enqueue(ctx, tx, sendoka.Job{Kind: sendoka.JobDeliverMessage, SubjectID: m.ID})
			if err != nil {
				return err
			}
			dup = ids[0]
			return nil
		}))
		row := b.waitJobState(t, dup, "completed")
		require.NotContains(t, row.Metadata, "snoozes", "the duplicate finished at once, without waiting for the claim")
		require.Equal(t, 1, b.fake.Calls(m.ID), "the duplicate never called the provider")

		release()
		b.waitStatus(t, m.ID, sendoka.StatusSent)
		b.waitJobState(t, m.JobID, "completed")
		require.Equal(t, 1, b.fake.Count(m.ID))
		require.Equal(t, 1, b.fake.Calls(m.ID))
	})
}

func TestProviderErrors(t *testing.T) {
	t.Parallel()
	permanent := &sendoka.ProviderError{Kind: sendoka.Permanent, Provider: "memsend", Code: "mailbox_unavailable", Message: "no such mailbox"}
	transient := &sendoka.ProviderError{Kind: sendoka.Transient, Provider: "memsend", Code: "timeout", Message: "timed out"}
	throttled := &sendoka.ProviderError{Kind: sendoka.Throttled, Provider: "memsend", Code: "throttled", RetryAfter: time.Second}
	firstCall := func(err error) memsend.FailFunc {
		return func(_ string, call int) error {
			if call == 0 {
				return err
			}
			return nil
		}
	}
	tests := []struct {
		name        string
		maxAttempts int
		fail        memsend.FailFunc
		wantStatus  sendoka.Status
		wantCalls   int
		wantAttempt int // the job's River attempt count once completed
		wantSnoozes int
		wantDiag    string
	}{
		{name: "ThrottledIsSnoozedThenSent", fail: firstCall(throttled),
			wantStatus: sendoka.StatusSent, wantCalls: 2, wantAttempt: 1, wantSnoozes: 1},
		// The core keeps the retry schedule: a transient failure snoozes the job until the
		// message's next_retry_at, using up no River attempt.
		{name: "TransientIsRetriedThenSent", maxAttempts: 2, fail: firstCall(transient),
			wantStatus: sendoka.StatusSent, wantCalls: 2, wantAttempt: 1, wantSnoozes: 1},
		{name: "TransientFailsAfterTheCoreSchedule", fail: func(string, int) error { return transient },
			wantStatus: sendoka.StatusFailed, wantCalls: 3, wantAttempt: 1, wantSnoozes: 2, wantDiag: "timeout"},
		{name: "PermanentFailsAtOnce", fail: func(string, int) error { return permanent },
			wantStatus: sendoka.StatusFailed, wantCalls: 1, wantAttempt: 1, wantDiag: "mailbox_unavailable"},
		{name: "TransientOnFinalAttemptFails", maxAttempts: 1, fail: func(string, int) error { return transient },
			wantStatus: sendoka.StatusFailed, wantCalls: 1, wantAttempt: 1, wantDiag: "timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
				cfg := fastConfig()
				cfg.MaxAttempts = tt.maxAttempts
				b := setup(t, db, cfg)
				b.fake.FailWith(tt.fail)
				b.start(t)

				m := b.sendEmail(t)
				got := b.waitStatus(t, m.ID, tt.wantStatus)
				// The job completes: a failed message is the core's verdict, not River's.
				row := b.waitJobState(t, m.JobID, "completed")
				require.Equal(t, tt.wantAttempt, row.Attempt)
				if tt.wantSnoozes > 0 {
					require.EqualValues(t, tt.wantSnoozes, row.Metadata["snoozes"])
				} else {
					require.NotContains(t, row.Metadata, "snoozes")
				}
				require.Equal(t, tt.wantCalls, b.fake.Calls(m.ID))
				if tt.wantStatus == sendoka.StatusSent {
					require.Equal(t, 1, b.fake.Count(m.ID))
				} else {
					require.Zero(t, b.fake.Count(m.ID))
					require.NotNil(t, got.Diagnostic)
					require.Equal(t, tt.wantDiag, got.Diagnostic.Code)
					require.NotEmpty(t, got.Diagnostic.Message)
				}
			})
		})
	}
}

// eventPayload is ev as a provider_event job's payload.
func eventPayload(t *testing.T, ev sendoka.ProviderEvent) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(ev)
	require.NoError(t, err)
	return b
}

// TestJobCancelled pins the cancel mapping: a job that can never succeed is not retried.
func TestJobCancelled(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := setup(t, db, fastConfig())
		b.start(t)
		sent := b.sendEmail(t)
		b.waitStatus(t, sent.ID, sendoka.StatusSent)

		jobs := map[string]sendoka.Job{
			"UnknownMessage": {Kind: sendoka.JobDeliverMessage, SubjectID: "msg_unknown"},
			"EventOfUnknownMessage": {Kind: sendoka.JobProviderEvent, SubjectID: "msg_unknown",
				Payload: eventPayload(t, sendoka.ProviderEvent{Type: sendoka.ProviderDelivered})},
			"UnknownEventType": {Kind: sendoka.JobProviderEvent, SubjectID: sent.ID,
				Payload: eventPayload(t, sendoka.ProviderEvent{Type: "teleported"})},
			"BadEventPayload": {Kind: sendoka.JobProviderEvent, SubjectID: sent.ID, Payload: json.RawMessage(`"not an event"`)},
		}
		for name, job := range jobs {
			t.Run(name, func(t *testing.T) {
				var id int64
				require.NoError(t, db.InTx(context.Background(), func(ctx context.Context, tx sendoka.Tx) error {
					ids, err := b.queue.Enqueue(ctx, tx, job)
					if err != nil {
						return err
					}
					id = ids[0]
					return nil
				}))
				row := b.waitJobState(t, id, "cancelled", "completed", "retryable", "discarded")
				require.Equal(t, "cancelled", row.State)
				require.Equal(t, 1, row.Attempt)
			})
		}
	})
}

// TestScheduled runs the core's scheduled sends, cancels and reschedules on River.
func TestScheduled(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := setup(t, db, fastConfig())
		ctx := context.Background()
		// Two seconds: soon enough for a short test, late enough to still be in the future
		// when the send is validated on a loaded machine.
		soonAt := time.Now().Add(2 * time.Second).UTC().Truncate(time.Microsecond)
		inOneHour := time.Now().Add(time.Hour).UTC().Truncate(time.Microsecond)

		soon := b.sendEmailAt(t, soonAt)
		canceled := b.sendEmailAt(t, inOneHour)
		moved := b.sendEmailAt(t, inOneHour)
		for _, m := range []*sendoka.Message{soon, canceled, moved} {
			require.Equal(t, sendoka.StatusScheduled, m.Status)
			require.Equal(t, "scheduled", b.job(t, m.JobID).State)
		}

		_, err := b.client.CancelMessage(ctx, b.p, sendoka.ChannelEmail, canceled.ID)
		require.NoError(t, err)
		require.Equal(t, "cancelled", b.job(t, canceled.JobID).State)

		movedTo := time.Now().Add(2 * time.Second).UTC().Truncate(time.Microsecond)
		got, err := b.client.RescheduleMessage(ctx, b.p, sendoka.ChannelEmail, moved.ID,
			sendoka.ScheduleRequest{ScheduledAt: movedTo.Format(time.RFC3339Nano)})
		require.NoError(t, err)
		require.NotEqual(t, moved.JobID, got.JobID)
		require.Equal(t, "cancelled", b.job(t, moved.JobID).State)
		require.Equal(t, "scheduled", b.job(t, got.JobID).State)

		// Started only now, so River's scheduler, which looks one interval (5s) ahead on each
		// run, picks both due jobs on its first run instead of five seconds later.
		b.start(t)

		// Both due messages are sent, neither before its time; the canceled one never is.
		require.NoError(t, b.fake.WaitFor(waitCtx(t), 2))
		due := map[string]time.Time{soon.ID: soonAt, moved.ID: movedTo}
		for _, s := range b.fake.Sent() {
			at, ok := due[s.MessageID()]
			require.True(t, ok, "unexpected send of %s", s.MessageID())
			require.False(t, s.At.Before(at), "%s sent at %s, scheduled for %s", s.MessageID(), s.At, at)
		}
		b.waitStatus(t, soon.ID, sendoka.StatusSent)
		b.waitStatus(t, moved.ID, sendoka.StatusSent)
		b.waitJobState(t, got.JobID, "completed")
		require.Len(t, b.fake.Sent(), 2)
		require.Zero(t, b.fake.Calls(canceled.ID))
		require.Equal(t, sendoka.StatusCanceled, b.message(t, canceled.ID).Status)
	})
}

// TestCancel pins Cancel's own contract: it joins the transaction, and cancelling a
// finished or unknown job is not an error.
func TestCancel(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := setup(t, db, fastConfig())
		ctx := context.Background()
		m := b.sendEmailAt(t, time.Now().Add(time.Hour))

		boom := errors.New("boom")
		require.ErrorIs(t, db.InTx(ctx, func(ctx context.Context, tx sendoka.Tx) error {
			require.NoError(t, b.queue.Cancel(ctx, tx, m.JobID))
			return boom
		}), boom)
		require.Equal(t, "scheduled", b.job(t, m.JobID).State, "rolled back with its transaction")

		cancel := func(id int64) error {
			return db.InTx(ctx, func(ctx context.Context, tx sendoka.Tx) error { return b.queue.Cancel(ctx, tx, id) })
		}
		require.NoError(t, cancel(m.JobID))
		require.Equal(t, "cancelled", b.job(t, m.JobID).State)
		require.NoError(t, cancel(m.JobID), "already cancelled")
		require.NoError(t, cancel(1<<40), "unknown")

		b.start(t)
		sent := b.sendEmail(t)
		b.waitJobState(t, sent.JobID, "completed")
		require.NoError(t, cancel(sent.JobID), "finished")
		require.Equal(t, "completed", b.job(t, sent.JobID).State)
	})
}

func TestStartStop(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		ctx := context.Background()

		t.Run("StopNeverStarted", func(t *testing.T) {
			b := setup(t, db, fastConfig())
			require.NoError(t, b.queue.Stop(ctx))
		})

		t.Run("StartErrors", func(t *testing.T) {
			cfg := fastConfig()
			cfg.InsertOnly = true
			b := setup(t, db, cfg)
			require.ErrorContains(t, b.queue.Start(ctx, b.client), "InsertOnly")
			// An insert-only queue still enqueues.
			m := b.sendEmail(t)
			require.Equal(t, "available", b.job(t, m.JobID).State)

			b = setup(t, db, fastConfig())
			require.Error(t, b.queue.Start(ctx, nil))
			b.start(t)
			require.ErrorContains(t, b.queue.Start(ctx, b.client), "already started")
		})

		t.Run("GracefulStopFinishesRunningJobs", func(t *testing.T) {
			b := setup(t, db, fastConfig())
			b.fake.SetDelay(300 * time.Millisecond)
			require.NoError(t, b.queue.Start(ctx, b.client))
			m := b.sendEmail(t)
			poll(t, func() bool { return b.fake.Calls(m.ID) == 1 }, "the job never started")
			stopCtx, cancel := context.WithTimeout(ctx, waitTimeout)
			defer cancel()
			require.NoError(t, b.queue.Stop(stopCtx))
			// Stop returned after the running job finished.
			require.Equal(t, 1, b.fake.Count(m.ID))
			require.Equal(t, sendoka.StatusSent, b.message(t, m.ID).Status)
			require.Equal(t, "completed", b.job(t, m.JobID).State)
		})

		t.Run("CancelledStartContextStopsGracefully", func(t *testing.T) {
			b := setup(t, db, fastConfig())
			b.fake.SetDelay(300 * time.Millisecond)
			startCtx, cancelStart := context.WithCancel(ctx)
			require.NoError(t, b.queue.Start(startCtx, b.client))
			m := b.sendEmail(t)
			poll(t, func() bool { return b.fake.Calls(m.ID) == 1 }, "the job never started")
			cancelStart() // as a signal would: the running send is not cut short
			stopCtx, cancel := context.WithTimeout(ctx, waitTimeout)
			defer cancel()
			require.NoError(t, b.queue.Stop(stopCtx))
			require.Equal(t, 1, b.fake.Count(m.ID))
			require.Equal(t, sendoka.StatusSent, b.message(t, m.ID).Status)

			// Stopped for good: a new job waits for the next Start.
			later := b.sendEmail(t)
			require.Equal(t, "available", b.job(t, later.JobID).State)
			b.start(t)
			b.waitStatus(t, later.ID, sendoka.StatusSent)
		})

		t.Run("StopBoundedByContext", func(t *testing.T) {
			b := setup(t, db, fastConfig())
			b.fake.SetDelay(time.Minute)
			b.start(t) // its cleanup waits for the cancelled job
			m := b.sendEmail(t)
			poll(t, func() bool { return b.fake.Calls(m.ID) == 1 }, "the job never started")
			stopCtx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
			defer cancel()
			began := time.Now()
			require.ErrorIs(t, b.queue.Stop(stopCtx), context.DeadlineExceeded)
			require.Less(t, time.Since(began), 10*time.Second)
			require.Zero(t, b.fake.Count(m.ID))
			// A second Stop waits for the cancelled job to return.
			stopCtx, cancel = context.WithTimeout(ctx, waitTimeout)
			defer cancel()
			require.NoError(t, b.queue.Stop(stopCtx))
			require.Zero(t, b.fake.Count(m.ID), "the cancelled hand-off was not recorded as sent")
		})
	})
}

func TestNew(t *testing.T) {
	t.Parallel()
	db := bunstoretest.Open(t, bunstore.DialectSQLite)
	tests := []struct {
		name    string
		dialect string
		cfg     riverjobs.Config
		wantErr string
	}{
		{name: "Defaults", dialect: riverjobs.DialectSQLite},
		{name: "LongCooldownStretchesDefaultPoll", dialect: riverjobs.DialectPostgres, cfg: riverjobs.Config{FetchCooldown: time.Second}},
		{name: "InsertOnly", dialect: riverjobs.DialectPostgres, cfg: riverjobs.Config{InsertOnly: true}},
		{name: "UnknownDialect", dialect: "mysql", wantErr: "unknown dialect"},
		{name: "RecoveryIntervalTooShort", dialect: riverjobs.DialectSQLite,
			cfg: riverjobs.Config{RecoveryInterval: time.Microsecond}, wantErr: "RecoveryInterval"},
		{name: "RescueBeforeTimeout", dialect: riverjobs.DialectSQLite,
			cfg: riverjobs.Config{JobTimeout: time.Minute, RescueStuckJobsAfter: time.Minute}, wantErr: "RescueStuckJobsAfter"},
		{name: "TooManyWorkers", dialect: riverjobs.DialectSQLite, cfg: riverjobs.Config{MaxWorkers: 10_001}, wantErr: "MaxWorkers"},
		{name: "PollShorterThanCooldown", dialect: riverjobs.DialectSQLite,
			cfg: riverjobs.Config{FetchCooldown: time.Second, FetchPollInterval: 100 * time.Millisecond}, wantErr: "FetchPollInterval"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			q, err := riverjobs.New(db.SQLDB(), tt.dialect, tt.cfg)
			if tt.wantErr == "" {
				require.NoError(t, err)
				require.NotNil(t, q)
				return
			}
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
}

func TestMigrate(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		ctx := context.Background()
		dialect := string(db.Dialect())
		// Several processes starting at once all migrate.
		errs := make([]error, 3)
		var wg sync.WaitGroup
		for i := range errs {
			wg.Go(func() { errs[i] = riverjobs.Migrate(ctx, db.SQLDB(), dialect) })
		}
		wg.Wait()
		for _, err := range errs {
			require.NoError(t, err)
		}
		require.NoError(t, riverjobs.Migrate(ctx, db.SQLDB(), dialect), "a second run is a no-op")
		var n int
		require.NoError(t, db.SQLDB().QueryRowContext(ctx, "SELECT count(*) FROM river_job").Scan(&n))
		require.Zero(t, n)
		require.ErrorContains(t, riverjobs.Migrate(ctx, db.SQLDB(), "mysql"), "unknown dialect")
	})
}

// TestRecoveryRunsPeriodically: the leader runs recover_deliveries on its own queue, so a
// claim a dead attempt left lapses into the unknown outcome, and a job a dead process held
// is replaced, without anyone calling the core.
func TestRecoveryRunsPeriodically(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		cfg := fastConfig()
		cfg.RecoveryInterval = 20 * time.Millisecond
		b := setup(t, db, cfg)
		m := b.newMessage()
		m.Status = sendoka.StatusQueued
		past := time.Now().UTC().Truncate(time.Microsecond).Add(-time.Hour)
		m.ClaimedAt, m.LeaseUntil = &past, &past
		require.NoError(t, db.InTx(context.Background(), func(ctx context.Context, tx sendoka.Tx) error {
			return tx.InsertMessages(ctx, m)
		}))
		b.start(t)
		got := b.waitStatus(t, m.ID, sendoka.StatusSent)
		require.Equal(t, sendoka.OutcomeUnknown, got.Outcome)
		require.Zero(t, b.fake.Calls(m.ID), "an interrupted hand-off is not repeated")
	})
}

// TestQueuesAndUniqueJobs: each kind goes to its own River queue, and a job with a
// UniqueKey is enqueued once while the first is waiting.
func TestQueuesAndUniqueJobs(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := setup(t, db, fastConfig())
		m := b.newMessage()
		var ids []int64
		require.NoError(t, db.InTx(context.Background(), func(ctx context.Context, tx sendoka.Tx) error {
			require.NoError(t, tx.InsertMessages(ctx, m))
			var err error
			ids, err = b.queue.Enqueue(ctx, tx,
				sendoka.Job{Kind: sendoka.JobDeliverMessage, SubjectID: m.ID, RunAt: time.Now().Add(time.Hour)},
				sendoka.Job{Kind: sendoka.JobProviderEvent, SubjectID: m.ID, RunAt: time.Now().Add(time.Hour),
					Payload: eventPayload(t, sendoka.ProviderEvent{Type: sendoka.ProviderDelivered})},
				sendoka.Job{Kind: sendoka.JobDeliverMessage, SubjectID: m.ID, RunAt: time.Now().Add(time.Hour),
					Queue: sendoka.QueueBulk, UniqueKey: "once"})
			return err
		}))
		queueOf := func(id int64) string {
			var q string
			require.NoError(t, db.SQLDB().QueryRowContext(context.Background(), "SELECT queue FROM river_job WHERE id = $1", id).Scan(&q))
			return q
		}
		require.Equal(t, riverjobs.DefaultQueueName, queueOf(ids[0]), "deliveries keep the queue they always had")
		require.Equal(t, riverjobs.DefaultQueueName+"_events", queueOf(ids[1]))
		require.Equal(t, riverjobs.DefaultQueueName+"_bulk", queueOf(ids[2]), "a job may name its queue")

		var again []int64
		require.NoError(t, db.InTx(context.Background(), func(ctx context.Context, tx sendoka.Tx) error {
			var err error
			again, err = b.queue.Enqueue(ctx, tx, sendoka.Job{Kind: sendoka.JobDeliverMessage, SubjectID: m.ID,
				RunAt: time.Now().Add(time.Hour), Queue: sendoka.QueueBulk, UniqueKey: "once"})
			return err
		}))
		require.Equal(t, ids[2:], again, "the unique job was not enqueued twice")
		require.Equal(t, 3, b.countJobs(t))
	})
}

// completingHandler completes its job in a transaction of its own and then fails: the
// completion, committed first, must stand.
type completingHandler struct {
	db   *bunstore.DB
	q    *riverjobs.Queue
	done chan bool
}

func (h *completingHandler) RunJob(ctx context.Context, j sendoka.Job, _ sendoka.JobRun) error {
	if j.Kind != sendoka.JobDeliverMessage {
		return nil // the periodic jobs that run at start
	}
	var completed bool
	err := h.db.InTx(ctx, func(ctx context.Context, tx sendoka.Tx) error {
		var err error
		completed, err = h.q.CompleteTx(ctx, tx)
		return err
	})
	h.done <- completed && err == nil
	return errors.New("returned after the job was completed in a transaction")
}

// TestCompleteTx: a job completed inside the handler's transaction is completed once that
// transaction commits, whatever the handler returns next; outside a job there is nothing
// to complete.
func TestCompleteTx(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := setup(t, db, fastConfig())
		ok, err := b.queue.CompleteTx(context.Background(), nil)
		require.NoError(t, err)
		require.False(t, ok, "no running job in this context")

		m := b.newMessage()
		require.NoError(t, db.InTx(context.Background(), func(ctx context.Context, tx sendoka.Tx) error {
			require.NoError(t, tx.InsertMessages(ctx, m))
			ids, err := b.queue.Enqueue(ctx, tx, sendoka.Job{Kind: sendoka.JobDeliverMessage, SubjectID: m.ID})
			m.JobID = ids[0]
			return err
		}))
		h := &completingHandler{db: db, q: b.queue, done: make(chan bool, 1)}
		require.NoError(t, b.queue.Start(context.Background(), h))
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
			defer cancel()
			require.NoError(t, b.queue.Stop(ctx))
		})
		select {
		case completed := <-h.done:
			require.True(t, completed)
		case <-waitCtx(t).Done():
			t.Fatal("the job never ran")
		}
		row := b.waitJobState(t, m.JobID, "completed", "retryable")
		require.Equal(t, "completed", row.State, "the committed completion stands over the handler's error")
	})
}
