package sendoka_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/providers/memsend"
	"github.com/sendoka/sendoka/queue/riverjobs"
	"github.com/sendoka/sendoka/sendoka"
	"github.com/sendoka/sendoka/storage/bunstore"
)

// dbWait bounds every wait of the database-backed tests; the happy paths take milliseconds.
const dbWait = 20 * time.Second

// offsetClock is the wall clock shifted by an offset the test may change: River runs jobs on
// the database's clock, so a core clock an hour behind makes "in a minute" due at once.
type offsetClock struct{ offset atomic.Int64 }

func (c *offsetClock) Now() time.Time               { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *offsetClock) set(d time.Duration)          { c.offset.Store(int64(d)) }
func (c *offsetClock) now() time.Time               { return c.Now().UTC().Truncate(time.Microsecond) }
func (c *offsetClock) in(d time.Duration) string    { return c.now().Add(d).Format(time.RFC3339Nano) }
func (c *offsetClock) at(d time.Duration) time.Time { return c.now().Add(d) }

// dbBundle is a Client on a real database and a real River queue (not started unless a test
// calls start), with every provider one memsend fake.
type dbBundle struct {
	db     *bunstore.DB
	queue  *riverjobs.Queue
	client *sendoka.Client
	fake   *memsend.Sender
	clock  *offsetClock
	orgID  string
	// p is a full-access test-mode principal of the org: its messages go to the fake.
	p *sendoka.Principal
}

func newDBBundle(t *testing.T, db *bunstore.DB) *dbBundle {
	t.Helper()
	ctx := context.Background()
	dialect := string(db.Dialect())
	require.NoError(t, riverjobs.Migrate(ctx, db.SQLDB(), dialect))
	q, err := riverjobs.New(db.SQLDB(), dialect, riverjobs.Config{
		MaxWorkers: 20, FetchCooldown: 5 * time.Millisecond, FetchPollInterval: 20 * time.Millisecond,
		ConflictSnooze: 20 * time.Millisecond,
	})
	require.NoError(t, err)
	b := &dbBundle{db: db, queue: q, fake: memsend.New(), clock: &offsetClock{}}
	b.client = b.newClient(t)
	res, err := b.client.Bootstrap(ctx, sendoka.BootstrapOptions{})
	require.NoError(t, err)
	b.orgID = res.Org.ID
	b.p = sendoka.SystemPrincipal(b.orgID, sendoka.ModeTest)
	return b
}

// newClient returns another Client on the same database and queue, as a second node would
// have.
func (b *dbBundle) newClient(t *testing.T) *sendoka.Client {
	t.Helper()
	c, err := sendoka.New(sendoka.Config{Store: b.db, Queue: b.queue, Clock: b.clock,
		Email: b.fake, SMS: b.fake, SandboxEmail: b.fake, SandboxSMS: b.fake})
	require.NoError(t, err)
	return c
}

// start runs the queue's workers until the test ends.
func (b *dbBundle) start(t *testing.T) {
	t.Helper()
	require.NoError(t, b.queue.Start(context.Background(), b.client))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), dbWait)
		defer cancel()
		require.NoError(t, b.queue.Stop(ctx))
	})
}

func (b *dbBundle) email(to string) *sendoka.EmailRequest {
	return &sendoka.EmailRequest{From: "app@sandbox.sendoka.com", To: []string{to}, Subject: "Hi", Text: "Hello"}
}

// get reads a message of the org in either mode (a principal without a mode sees both).
func (b *dbBundle) get(t *testing.T, ch sendoka.Channel, id string) *sendoka.Message {
	t.Helper()
	anyMode := &sendoka.Principal{OrgID: b.orgID, Permissions: []sendoka.Permission{sendoka.PermissionFullAccess}}
	m, err := b.client.GetMessage(context.Background(), anyMode, ch, id)
	require.NoError(t, err)
	return m
}

// jobState reads a River job's state.
func (b *dbBundle) jobState(t *testing.T, id int64) string {
	t.Helper()
	var state string
	require.NoError(t, b.db.SQLDB().QueryRowContext(context.Background(),
		"SELECT state FROM river_job WHERE id = $1", id).Scan(&state))
	return state
}

// jobScheduledAt reads when a River job is due.
func (b *dbBundle) jobScheduledAt(t *testing.T, id int64) time.Time {
	t.Helper()
	var at time.Time
	var raw any
	require.NoError(t, b.db.SQLDB().QueryRowContext(context.Background(),
		"SELECT scheduled_at FROM river_job WHERE id = $1", id).Scan(&raw))
	switch v := raw.(type) {
	case time.Time:
		at = v
	case string:
		var err error
		at, err = time.Parse(time.RFC3339Nano, v)
		if err != nil {
			at, err = time.Parse("2006-01-02 15:04:05.999999999-07:00", v)
		}
		require.NoError(t, err, v)
	default:
		t.Fatalf("scheduled_at is %T", raw)
	}
	return at.UTC()
}

// eventTypes lists a message's timeline.
func eventTypes(m *sendoka.Message) []sendoka.EventType {
	var out []sendoka.EventType
	for _, e := range m.Events {
		out = append(out, e.Type)
	}
	return out
}

// pollUntil checks cond until it holds or dbWait passes.
func pollUntil(t *testing.T, cond func() bool, format string, args ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), dbWait)
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

// lazy formats as what its function returns when the message is printed, for failure
// messages about values a poll keeps changing.
type lazy func() string

func (l lazy) String() string { return l() }

func requireCode(t *testing.T, want sendoka.Code, err error) *sendoka.Error {
	t.Helper()
	require.Error(t, err)
	e := sendoka.AsError(err)
	require.Equal(t, want, e.Code, "error: %v", err)
	return e
}

func paths(err error) [][]any {
	var out [][]any
	for _, f := range sendoka.AsError(err).Fields {
		out = append(out, f.Path)
	}
	return out
}
