// Package riverjobs is the sendoka.Queue on River (github.com/riverqueue/river), with the
// workers that run Sendoka's background jobs by calling the core.
//
// It shares the store's *sql.DB: River's riverdatabasesql driver on Postgres, riversqlite on
// SQLite. Enqueue and Cancel join the store's transaction through the *sql.Tx its Tx exposes
// (SQLTx() *sql.Tx), so a message and the job that delivers it commit together or not at
// all (the outbox invariant). The package never imports the storage packages.
//
//	db, _ := bunstore.Open(ctx, dsn, nil)
//	_ = db.Migrate(ctx)
//	_ = riverjobs.Migrate(ctx, db.SQLDB(), string(db.Dialect()))
//	q, _ := riverjobs.New(db.SQLDB(), string(db.Dialect()), riverjobs.Config{})
//	client, _ := sendoka.New(sendoka.Config{Store: db, Queue: q, ...})
//	_ = q.Start(ctx, client) // the client runs the jobs
//	defer q.Stop(shutdownCtx)
//
// Shutdown is graceful: Stop, or the end of Start's context (a signal context, say), stops
// fetching and lets running deliveries finish; Stop waits for them until its own context
// ends, and then cancels them.
//
// # Jobs, kinds and queues
//
// The core describes its jobs (sendoka.Job: a kind, a subject id, a small JSON payload, a
// run time, an optional queue and unique key) and how each kind runs (sendoka.JobSpecs:
// queue, attempts, timeout, backoff, period). This package turns each kind into a River
// worker of that kind with that timeout and backoff, and runs every job through one
// handler, sendoka.Client.RunJob. River's rows carry the Sendoka kind and
// {"subject_id", "payload"}, never message content:
//
//   - deliver_message (queue deliver): sendoka.Client.Deliver hands the message to its
//     provider. Its last attempt runs with DeliverOptions.FinalAttempt, so a failure outside
//     the core's own retry schedule then fails the message instead of leaving it queued.
//   - provider_event (queue events): sendoka.Client.HandleProviderEvent applies a
//     provider's report (the payload).
//   - recover_deliveries (queue maintenance, every RecoveryInterval, on the leader only):
//     sendoka.Client.RecoverDeliveries.
//   - purge_tenant (queue maintenance; subject the tenant id, payload {"org_id"}):
//     sendoka.Client.PurgeTenant deletes a deleted tenant's data in small transactions.
//     sendoka.Client.DeleteTenant enqueues it, sendoka.TenantPurgeDelay ahead.
//
// Each Sendoka queue is a River queue with its own workers, so one kind of work never waits
// behind another's: deliver is Config.QueueName itself ("sendoka", MaxWorkers workers);
// events, webhooks, bulk and maintenance are QueueName_<name> (Config.QueueWorkers, with
// DefaultQueueWorkers). A job with a UniqueKey is River-unique on its kind, subject and key
// while not finished. Jobs enqueued before this model (args {"message_id"} or a flattened
// provider event) still run.
//
// A scheduled send is an ordinary job whose ScheduledAt is the message's time; cancelling it
// is River's JobCancelTx in the transaction that flips the message's status.
//
// # Retry, snooze, cancel
//
// Workers translate the core's error codes (sendoka.ErrorCode) into River's outcomes:
//
//	CodeProviderThrottled     snooze for the provider's Retry-After, else Config.ThrottleSnooze (30s)
//	CodeProviderTransient     snooze until the core's next_retry_at (the core keeps the schedule)
//	CodeConflict              snooze for the core's hint, else Config.ConflictSnooze (5s)
//	CodeUnavailable           snooze for the hint, else Config.UnavailableSnooze (5s)
//	CodeNotFound, Validation  cancel: no retry can succeed
//	anything else             error: River retries with the kind's backoff up to MaxAttempts
//
// A snooze does not use up an attempt (River gives the attempt back), so a throttled
// message waits as long as the provider asks and is never failed for it.
//
// At-least-once jobs, at-most-once sends: River may run a job twice (a retry after a crash,
// a rescued stuck job, a duplicate job). The core claims the message before calling the
// provider, so a second run finds it claimed (CodeConflict, snoozed) or already sent (done).
//
// # Settings
//
// Config documents each field and its default. River fetches at most MaxWorkers jobs per
// FetchCooldown, so the defaults (100 workers, 50 ms) cap a process at about 2,000 jobs/s
// (measured on 2 cores with no-op jobs: ~1,900 jobs/s). For more, raise MaxWorkers and
// lower FetchCooldown: 1,000 workers and 5 ms measured ~21,000 jobs/s on Postgres and
// ~4,000 jobs/s on SQLite. Both drivers poll (no LISTEN/NOTIFY), so an idle queue notices
// a new job within FetchPollInterval (200 ms): lower it for lower send latency, at the cost
// of more queries. JobTimeout (15 min) bounds a delivery job and must outlast a provider's
// slowest send; River's stuck-job rescue follows it by a minute, but Sendoka's own
// recovery acts within seconds. A node that only accepts sends (an API-only server) sets
// InsertOnly and never calls Start.
package riverjobs
