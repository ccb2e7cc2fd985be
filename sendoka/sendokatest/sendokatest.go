// Package sendokatest runs a complete Sendoka inside a test, as River's rivertest does for
// River: a *sendoka.Client on a real database (SQLite in t.TempDir() by default) with real
// River workers, and one providers/memsend fake in place of every provider: live email and
// SMS, and the sandbox that takes test-key messages and mail from the sandbox domain. Every
// message a test sends reaches the fake, whichever principal or sender domain it uses
// (unless Options.Email gives live email a provider of its own).
//
// New bootstraps an org and gives its live and test principals (and API keys); WaitSent and
// WaitStatus wait, with a deadline, for what the workers do in the background:
//
//	func TestWelcome(t *testing.T) {
//		t.Parallel()
//		env := sendokatest.New(t, nil)
//
//		msg, err := env.Client.SendEmail(context.Background(), env.Test, &sendoka.EmailRequest{
//			From: "app@sandbox.sendoka.com", To: []string{"ada@example.com"},
//			Subject: "Welcome", Text: "Hi Ada",
//		})
//		require.NoError(t, err)
//
//		sent := env.WaitSent(t, 1)
//		require.Equal(t, "Welcome", sent[0].Email.Subject)
//		env.WaitStatus(t, sendoka.ChannelEmail, msg.ID, sendoka.StatusSent)
//	}
//
// Mail from your own domains needs them added to the org: Options.VerifiedDomains (verified
// at bootstrap), or Client.CreateDomain and Env.DNS to verify them. Options also take a Clock,
// a sendoka.DeliveryConfig and a Postgres URL. Open builds the same Env without a
// testing.TB, for examples and TestMain; Close it yourself.
package sendokatest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sendoka/sendoka/providers/memsend"
	"github.com/sendoka/sendoka/queue/riverjobs"
	"github.com/sendoka/sendoka/sendoka"
	"github.com/sendoka/sendoka/storage/bunstore"
)

// DefaultWaitTimeout is how long WaitSent and WaitStatus wait when Options.WaitTimeout is
// zero. The happy paths take milliseconds.
const DefaultWaitTimeout = 10 * time.Second

// Options tunes an Env. A nil *Options is every default.
type Options struct {
	// DatabaseURL is the database. Default: SQLite, in a file of t.TempDir() for New and in
	// memory for Open. A postgres:// URL names a Postgres server: each Env makes a schema of
	// its own there (dropped by Close), so parallel tests share the server and nothing else.
	// Any other value is a bunstore dsn used as it is (a sqlite: path, say).
	DatabaseURL string

	// VerifiedDomains are sender domains the org may use besides the sandbox domain, as
	// sendoka.Config.VerifiedDomains: Bootstrap adds them to the org as verified domains.
	// Default: none. (Domains added with Client.CreateDomain are verified against Env.DNS.)
	VerifiedDomains []string
	// SandboxDomain is the always-allowed sender domain. Default:
	// sendoka.DefaultSandboxDomain (sandbox.sendoka.com).
	SandboxDomain string
	// Clock tells the core the time (sendoka.Config.Clock). River schedules jobs on the
	// database's clock, so a clock far from the wall clock changes when scheduled sends run.
	// Default: sendoka.SystemClock.
	Clock sendoka.Clock
	// Delivery tunes hand-offs (sendoka.Config.Delivery): claim leases, provider slots, the
	// retry schedule. Default: every sendoka.DeliveryConfig default, so a transient failure
	// is retried after 30 s; give shorter RetryDelays to test retries (a retry also waits
	// for River's scheduler, which looks for due jobs every 5 s).
	Delivery sendoka.DeliveryConfig

	// Inbound configures received mail (sendoka.Config.Inbound): the VERP bounce domain and
	// the inbound domains, for tests of hosts/smtpin. Default: none.
	Inbound sendoka.InboundConfig
	// Tracking is sendoka.Config.Tracking (a public URL turns on tracking and unsubscribe
	// links). Default: off.
	Tracking sendoka.TrackingConfig
	// Webhooks is sendoka.Config.Webhooks (AllowInsecure lets webhooks reach an httptest
	// server). Default: every sendoka.WebhookConfig default.
	Webhooks sendoka.WebhookConfig

	// Fake is the provider of every channel and mode. Give your own to set it up before the
	// Client is built (memsend's LimitConcurrency must be). Default: memsend.New().
	Fake *memsend.Sender
	// Email, when set, takes live email in place of Fake (sendoka.Config.Email): an
	// smtpemail.Sender on an smtpemailtest server, say, to test the whole way over SMTP.
	// Test-key mail and mail from the sandbox domain still reach Fake. Default: Fake.
	Email sendoka.EmailSender
	// WaitTimeout bounds each WaitSent and WaitStatus. Default: DefaultWaitTimeout (10 s).
	WaitTimeout time.Duration
	// Logger receives the logs of the core, the queue and the database. Default: quiet.
	Logger *slog.Logger
}

// Env is a running Sendoka for one test. Its fields are ready to use; Close (New's cleanup)
// stops the workers and closes the database.
type Env struct {
	// Client is the Sendoka under test. Its River workers run until Close.
	Client *sendoka.Client
	// Fake is every provider: whatever Client hands on, email or SMS, live or test, lands
	// here.
	Fake *memsend.Sender

	// OrgID is the org that Client.Bootstrap created.
	OrgID string
	// Live and Test are full-access principals of the org (sendoka.SystemPrincipal) in live
	// and in test mode. Both may send from the sandbox domain and Options.VerifiedDomains.
	Live, Test *sendoka.Principal
	// LiveKey and TestKey are API keys of the org in plaintext (sok_live_…, sok_test_…), for
	// code that authenticates (Client.Authenticate, or hosts/httpapi on Client).
	LiveKey, TestKey string

	// DNS is the zone Client verifies domains against (sendoka.Config.DNS): publish a
	// domain's records there (DNS.Publish) and Client.VerifyDomain finds them. Nothing is
	// looked up on the network.
	DNS *DNS

	// DB and Queue are the store and the River queue under Client, for tests that look
	// beneath it.
	DB    *bunstore.DB
	Queue *riverjobs.Queue

	wait      time.Duration
	dropDB    func(context.Context) error // removes the Postgres schema; nil otherwise
	closeOnce sync.Once
	closeErr  error
}

// New returns a running Env and registers its Close with t.Cleanup. It fails the test if
// Sendoka cannot be set up.
func New(t testing.TB, opts *Options) *Env {
	t.Helper()
	o := Options{}
	if opts != nil {
		o = *opts
	}
	if o.DatabaseURL == "" {
		o.DatabaseURL = "sqlite:" + filepath.Join(t.TempDir(), "sendoka.db")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	env, err := Open(ctx, &o)
	if err != nil {
		t.Fatalf("sendokatest: %v", err)
	}
	// Registered after t.TempDir's own cleanup, so it runs first: the database is closed
	// before its directory goes.
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := env.Close(ctx); err != nil {
			t.Errorf("sendokatest: close: %v", err)
		}
	})
	return env
}

// Open is New without a testing.TB: it sets up and starts an Env, which the caller must
// Close. Without Options.DatabaseURL the database is SQLite in memory, gone at Close.
func Open(ctx context.Context, opts *Options) (*Env, error) {
	o := Options{}
	if opts != nil {
		o = *opts
	}
	if o.DatabaseURL == "" {
		o.DatabaseURL = "sqlite::memory:"
	}
	if o.Fake == nil {
		o.Fake = memsend.New()
	}
	if o.WaitTimeout == 0 {
		o.WaitTimeout = DefaultWaitTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	env := &Env{Fake: o.Fake, DNS: NewDNS(), wait: o.WaitTimeout}

	dsn := o.DatabaseURL
	if isPostgres(dsn) {
		var err error
		if dsn, env.dropDB, err = freshSchema(ctx, dsn); err != nil {
			return nil, err
		}
	}
	db, err := bunstore.Open(ctx, dsn, &bunstore.Options{MaxOpenConns: maxOpenConns, Logger: o.Logger})
	if err != nil {
		return nil, errors.Join(err, env.drop(ctx))
	}
	env.DB = db
	if err := env.start(ctx, o); err != nil {
		return nil, errors.Join(err, env.Close(ctx))
	}
	return env, nil
}

// maxOpenConns is the Postgres pool of one Env: enough for the workers and the test, small
// enough for many parallel tests on one server. SQLite always has one connection.
const maxOpenConns = 8

// start migrates the database, builds the queue and the Client, bootstraps the org and
// starts the workers.
func (e *Env) start(ctx context.Context, o Options) error {
	dialect := string(e.DB.Dialect())
	if err := e.DB.Migrate(ctx); err != nil {
		return fmt.Errorf("migrate sendoka: %w", err)
	}
	// River's migrations, like Sendoka's, run without the request timeouts (as hosts/server's).
	err := e.DB.Maintenance(ctx, func(ctx context.Context, sqldb *sql.DB) error {
		return riverjobs.Migrate(ctx, sqldb, dialect)
	})
	if err != nil {
		return fmt.Errorf("migrate river: %w", err)
	}
	// Both River drivers poll: a short interval is what makes a send reach the fake in
	// milliseconds rather than in up to 200 ms.
	e.Queue, err = riverjobs.New(e.DB.SQLDB(), dialect, riverjobs.Config{
		FetchCooldown:     5 * time.Millisecond,
		FetchPollInterval: 20 * time.Millisecond,
		ConflictSnooze:    20 * time.Millisecond,
		Logger:            o.Logger,
	})
	if err != nil {
		return err
	}
	var email sendoka.EmailSender = e.Fake
	if o.Email != nil {
		email = o.Email
	}
	e.Client, err = sendoka.New(sendoka.Config{
		Store: e.DB, Queue: e.Queue,
		Email: email, SMS: e.Fake, SandboxEmail: e.Fake, SandboxSMS: e.Fake,
		SandboxDomain: o.SandboxDomain, VerifiedDomains: o.VerifiedDomains, DNS: e.DNS,
		Delivery: o.Delivery, Clock: o.Clock, Logger: o.Logger, Inbound: o.Inbound, Tracking: o.Tracking, Webhooks: o.Webhooks,
	})
	if err != nil {
		return err
	}
	e.LiveKey, e.TestKey = sendoka.NewKeyPlaintext(sendoka.ModeLive), sendoka.NewKeyPlaintext(sendoka.ModeTest)
	boot, err := e.Client.Bootstrap(ctx, sendoka.BootstrapOptions{OrgName: "sendokatest", Keys: []string{e.LiveKey, e.TestKey}})
	if err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	e.OrgID = boot.Org.ID
	e.Live = sendoka.SystemPrincipal(e.OrgID, sendoka.ModeLive)
	e.Test = sendoka.SystemPrincipal(e.OrgID, sendoka.ModeTest)
	// The workers outlive ctx (the set-up's deadline): Close stops them.
	if err := e.Queue.Start(context.WithoutCancel(ctx), e.Client); err != nil {
		return err
	}
	return nil
}

// Close stops the workers, letting running deliveries finish within ctx, and closes the
// database (a Postgres schema of its own is dropped). Later calls return the first one's
// result.
func (e *Env) Close(ctx context.Context) error {
	e.closeOnce.Do(func() {
		var errs []error
		if e.Queue != nil {
			errs = append(errs, e.Queue.Stop(ctx))
		}
		if e.DB != nil {
			errs = append(errs, e.DB.Close())
		}
		errs = append(errs, e.drop(ctx))
		e.closeErr = errors.Join(errs...)
	})
	return e.closeErr
}

func (e *Env) drop(ctx context.Context) error {
	if e.dropDB == nil {
		return nil
	}
	return e.dropDB(ctx)
}

func isPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}
