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
// # Kinds
//
// Job arguments carry ids, never message content:
//
//   - deliver_message {"message_id"}: sendoka.Client.Deliver hands the message to its
//     provider. Its last attempt runs with DeliverOptions.FinalAttempt, so a transient
//     failure then fails the message instead of leaving it queued forever.
//   - provider_event {"message_id", "type", ...}: sendoka.Client.HandleProviderEvent applies
//     a provider's report (the small sendoka.ProviderEvent, flattened).
//
// A scheduled send is an ordinary job whose ScheduledAt is the message's time; cancelling it
// is River's JobCancelTx in the transaction that flips the message's status.
//
// # Retry, snooze, cancel
//
// Workers translate the core's error codes (sendoka.ErrorCode) into River's outcomes:
//
//	CodeProviderThrottled     snooze for the provider's Retry-After, else Config.ThrottleSnooze (30s)
//	CodeConflict              snooze for the core's hint, else Config.ConflictSnooze (5s)
//	CodeNotFound, Validation  cancel: no retry can succeed
//	anything else             error: River retries with backoff (attempt^4 s) up to MaxAttempts
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
// of more queries. JobTimeout (1 min) must stay below sendoka.ClaimLease. A node that only
// accepts sends (an API-only server) sets InsertOnly and never calls Start.
package riverjobs
