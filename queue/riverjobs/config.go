package riverjobs

import (
	"errors"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river/rivertype"

	"github.com/sendoka/sendoka/sendoka"
)

// The dialects New and Migrate accept: the names storage/bunstore reports.
const (
	DialectPostgres = "postgres"
	DialectSQLite   = "sqlite"
)

// Defaults of Config.
const (
	DefaultQueueName         = "sendoka"
	DefaultMaxWorkers        = 100
	DefaultFetchCooldown     = 50 * time.Millisecond
	DefaultFetchPollInterval = 200 * time.Millisecond
	DefaultJobTimeout        = 15 * time.Minute
	DefaultMaxAttempts       = 10
	DefaultThrottleSnooze    = 30 * time.Second
	DefaultConflictSnooze    = 5 * time.Second
	DefaultUnavailableSnooze = 5 * time.Second
	DefaultRecoveryInterval  = 5 * time.Second
	// rescueMargin is how much longer than JobTimeout River waits before it rescues a job
	// it believes stuck. Sendoka's own recovery (RecoveryInterval) acts in seconds; River's
	// rescue only returns jobs that recovery has already replaced.
	rescueMargin = time.Minute
)

// Config tunes a Queue. The zero value is every default.
//
// Throughput: River fetches at most MaxWorkers jobs per FetchCooldown per process, so the
// defaults cap one process at roughly 2,000 jobs/s (measured on 2 cores with no-op jobs:
// ~1,900 jobs/s at 100 workers and 50 ms). Raise MaxWorkers and lower FetchCooldown for
// more: 1,000 workers and 5 ms measured ~21,000 jobs/s on Postgres and ~4,000 on SQLite.
type Config struct {
	// QueueName names Sendoka's River queues, so an app that runs its own River workers on
	// the same database does not fetch Sendoka's jobs (or the other way round): deliveries
	// go to QueueName itself, the other queues to QueueName_events, QueueName_webhooks,
	// QueueName_bulk and QueueName_maintenance. Default: DefaultQueueName ("sendoka").
	QueueName string

	// MaxWorkers is how many delivery jobs (the deliver queue) this process runs at once.
	// Default: 100.
	MaxWorkers int
	// QueueWorkers sets the workers of the other queues (sendoka.QueueEvents, ...); a
	// missing or zero entry takes DefaultQueueWorkers.
	QueueWorkers map[sendoka.QueueName]int
	// FetchCooldown is the least time between two fetches of jobs; with MaxWorkers it bounds
	// throughput. Default: 50ms (River's own default is 100ms). Minimum: 1ms.
	FetchCooldown time.Duration
	// FetchPollInterval is how often an idle worker looks for new jobs. Both drivers used here
	// (riverdatabasesql, riversqlite) poll rather than LISTEN, so this is also the longest
	// an idle queue takes to notice a new job: the floor of send latency. It must not be
	// shorter than FetchCooldown. Default: 200ms, or FetchCooldown if that is longer.
	FetchPollInterval time.Duration

	// JobTimeout bounds one run of a delivery job; its context is cancelled after it. It
	// must be longer than a hand-off can take: the wait for a provider slot
	// (sendoka.DeliveryConfig.SlotWait) plus every phase of the provider's send (for SMTP,
	// up to 10 minutes for the reply to the end of DATA: smtpemail's MaxSendDuration). A
	// send cut short by it ends with an unknown outcome, never a resend. Default: 15m.
	JobTimeout time.Duration
	// RescueStuckJobsAfter is how long a job may stay running before River assumes its
	// worker died and runs it again. Sendoka does not wait for it: its recovery job
	// (RecoveryInterval) re-enqueues the work of a dead process within seconds, and a job
	// River rescues later finds it is no longer its message's job. Must exceed JobTimeout.
	// Default: JobTimeout + 1m.
	RescueStuckJobsAfter time.Duration
	// RecoveryInterval is how often the leader node runs sendoka.Client.RecoverDeliveries
	// (a periodic recover_deliveries job; one leader across all nodes). Default: 5s.
	RecoveryInterval time.Duration

	// MaxAttempts is how many times a job runs before River gives up. Snoozes (throttling,
	// conflicts) do not count. A delivery's last attempt is run with
	// DeliverOptions.FinalAttempt, so the message is failed rather than left queued.
	// Retries back off as River's DefaultRetryPolicy (attempt^4 seconds): the default 10
	// attempts span about four hours. Default: 10.
	MaxAttempts int

	// ThrottleSnooze is how long a job waits after the provider throttled it and named no
	// Retry-After. Default: 30s.
	ThrottleSnooze time.Duration
	// ConflictSnooze is how long a job waits after losing a race for its message (another
	// attempt holds it) when the core gave no hint. Default: 5s.
	ConflictSnooze time.Duration
	// UnavailableSnooze is how long a job waits when the database did not answer
	// (sendoka.CodeUnavailable) and the core gave no hint. Snoozes use up no attempt, so an
	// outage of any length never fails a message. Default: 5s.
	UnavailableSnooze time.Duration

	// ListenerPool, on Postgres, gives River a pgx pool to LISTEN on, so idle workers learn
	// of new jobs at once instead of at their next FetchPollInterval (storage/bunstore's
	// DB.ListenerPool makes one). nil: poll only. Ignored on SQLite.
	ListenerPool *pgxpool.Pool

	// InsertOnly makes a Queue that only enqueues and cancels jobs (for example an API-only
	// node): Start returns an error, and other processes run the jobs.
	InsertOnly bool

	// Logger receives River's logs and the queue's own. Default: nil, quiet.
	Logger *slog.Logger

	// Middleware is River middleware around every insert and every job's work (River's
	// Config.Middleware), in order, the first outermost: tracing (otelriver), metrics of
	// job wait times (hosts/metrics). Default: none.
	Middleware []rivertype.Middleware

	// testOnly turns on River's TestOnly mode (no start-up jitter); set by tests only.
	testOnly bool
}

// riverQueue is the River queue of a Sendoka queue: QueueName itself for deliveries (as
// before there were several), QueueName_<name> for the others.
func (cfg Config) riverQueue(name sendoka.QueueName) string {
	if name == sendoka.QueueDeliver {
		return cfg.QueueName
	}
	return cfg.QueueName + "_" + string(name)
}

// workers is how many jobs of a queue this process runs at once.
func (cfg Config) workers(name sendoka.QueueName) int {
	if name == sendoka.QueueDeliver {
		return cfg.MaxWorkers
	}
	if n := cfg.QueueWorkers[name]; n > 0 {
		return n
	}
	return DefaultQueueWorkers[name]
}

// DefaultQueueWorkers are the workers per process of the queues other than deliver
// (whose count is MaxWorkers).
var DefaultQueueWorkers = map[sendoka.QueueName]int{
	sendoka.QueueEvents: 20, sendoka.QueueWebhooks: 20, sendoka.QueueBulk: 10, sendoka.QueueMaintenance: 2,
}

// withDefaults returns cfg with every zero field set, or an error for an unusable value.
func (cfg Config) withDefaults() (Config, error) {
	set := func(d *time.Duration, def time.Duration) {
		if *d == 0 {
			*d = def
		}
	}
	if cfg.QueueName == "" {
		cfg.QueueName = DefaultQueueName
	}
	if cfg.MaxWorkers == 0 {
		cfg.MaxWorkers = DefaultMaxWorkers
	}
	if cfg.MaxAttempts == 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	set(&cfg.FetchCooldown, DefaultFetchCooldown)
	// River refuses a poll interval shorter than the cooldown: a longer cooldown alone
	// stretches the default interval with it.
	set(&cfg.FetchPollInterval, max(DefaultFetchPollInterval, cfg.FetchCooldown))
	set(&cfg.JobTimeout, DefaultJobTimeout)
	set(&cfg.RescueStuckJobsAfter, cfg.JobTimeout+rescueMargin)
	set(&cfg.RecoveryInterval, DefaultRecoveryInterval)
	set(&cfg.ThrottleSnooze, DefaultThrottleSnooze)
	set(&cfg.ConflictSnooze, DefaultConflictSnooze)
	set(&cfg.UnavailableSnooze, DefaultUnavailableSnooze)
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}

	switch {
	case cfg.MaxWorkers < 1 || cfg.MaxWorkers > 10_000:
		return cfg, errors.New("riverjobs: MaxWorkers must be 1 to 10000")
	case cfg.MaxAttempts < 1:
		return cfg, errors.New("riverjobs: MaxAttempts must be at least 1")
	case cfg.JobTimeout < 0:
		return cfg, errors.New("riverjobs: JobTimeout must be positive")
	case cfg.RescueStuckJobsAfter <= cfg.JobTimeout:
		return cfg, errors.New("riverjobs: RescueStuckJobsAfter must exceed JobTimeout")
	case cfg.RecoveryInterval < time.Millisecond:
		return cfg, errors.New("riverjobs: RecoveryInterval must be at least 1ms")
	case cfg.ThrottleSnooze < 0 || cfg.ConflictSnooze < 0 || cfg.UnavailableSnooze < 0:
		return cfg, errors.New("riverjobs: snooze durations must not be negative")
	}
	return cfg, nil
}
