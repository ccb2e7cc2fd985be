package riverjobs

import (
	"context"
	"errors"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/sendoka/sendoka/sendoka"
)

// errNotStarted is returned by a worker that runs without a Handler, which Start prevents.
var errNotStarted = errors.New("riverjobs: job run before Start set a Handler")

// deliverWorker runs deliver_message jobs.
type deliverWorker struct {
	river.WorkerDefaults[deliverArgs]
	q *Queue
}

// Work hands the message to the core. After an error River discards a job whose row has
// Attempt >= MaxAttempts, so the same test on the same row is exactly "River will not run
// this again": the core then fails the message instead of leaving it queued forever. It
// holds however River accounts for snoozes; v0.51 gives a snooze's attempt back (Attempt-1),
// so snoozes never bring the final attempt closer.
func (w *deliverWorker) Work(ctx context.Context, job *river.Job[deliverArgs]) error {
	h := w.q.currentHandler()
	if h == nil {
		return errNotStarted
	}
	err := h.Deliver(ctx, job.Args.MessageID, sendoka.DeliverOptions{FinalAttempt: job.Attempt >= job.MaxAttempts, JobID: job.ID})
	return w.q.translate(ctx, job.JobRow, err)
}

// providerEventWorker runs provider_event jobs.
type providerEventWorker struct {
	river.WorkerDefaults[providerEventArgs]
	q *Queue
}

// Work applies the provider's report to its message.
func (w *providerEventWorker) Work(ctx context.Context, job *river.Job[providerEventArgs]) error {
	h := w.q.currentHandler()
	if h == nil {
		return errNotStarted
	}
	return w.q.translate(ctx, job.JobRow, h.HandleProviderEvent(ctx, job.Args.ProviderEvent))
}

// recoverWorker runs the periodic recover_deliveries job.
type recoverWorker struct {
	river.WorkerDefaults[recoverArgs]
	q *Queue
}

// Timeout bounds one recovery pass: the next one starts RecoveryInterval later anyway.
func (w *recoverWorker) Timeout(*river.Job[recoverArgs]) time.Duration { return time.Minute }

// Work settles the deliveries dead processes left behind. A failed pass is not retried:
// the next periodic one runs soon.
func (w *recoverWorker) Work(ctx context.Context, job *river.Job[recoverArgs]) error {
	h := w.q.currentHandler()
	if h == nil {
		return errNotStarted
	}
	if _, err := h.RecoverDeliveries(ctx); err != nil {
		w.q.cfg.Logger.WarnContext(ctx, "riverjobs: recovering deliveries failed", "error", err)
		return river.JobCancel(err)
	}
	return nil
}

// translate maps the core's error codes to River's outcomes:
//
//   - CodeProviderThrottled: snooze for the core's hint (the provider's Retry-After), or
//     ThrottleSnooze;
//   - CodeProviderTransient with a hint: snooze until the core's next retry time (the core
//     keeps the retry schedule and counts attempts; without a hint River retries);
//   - CodeConflict: snooze for the core's hint (or ConflictSnooze): another attempt holds
//     the message, or every provider slot was busy;
//   - CodeUnavailable: snooze for the hint (or UnavailableSnooze): the database did not
//     answer, and an outage must not use up attempts;
//   - CodeNotFound, CodeValidation: cancel, since no retry can succeed;
//   - anything else: return the error, so River retries with backoff (and discards the job
//     after MaxAttempts; a delivery's last attempt has already failed its message).
//
// Snoozes do not use up attempts.
func (q *Queue) translate(ctx context.Context, job *rivertype.JobRow, err error) error {
	if err == nil {
		return nil
	}
	log := q.cfg.Logger.With("job_id", job.ID, "kind", job.Kind, "attempt", job.Attempt)
	var e *sendoka.Error
	errors.As(err, &e)
	switch sendoka.ErrorCode(err) {
	case sendoka.CodeProviderThrottled:
		d := snoozeFor(e, q.cfg.ThrottleSnooze)
		log.InfoContext(ctx, "riverjobs: provider throttled; snoozing job", "snooze", d, "error", err)
		return river.JobSnooze(d)
	case sendoka.CodeProviderTransient:
		if e != nil && e.Retry > 0 {
			log.InfoContext(ctx, "riverjobs: delivery deferred; snoozing job until its next attempt", "snooze", e.Retry, "error", err)
			return river.JobSnooze(e.Retry)
		}
	case sendoka.CodeConflict:
		d := snoozeFor(e, q.cfg.ConflictSnooze)
		log.DebugContext(ctx, "riverjobs: message busy; snoozing job", "snooze", d, "error", err)
		return river.JobSnooze(d)
	case sendoka.CodeUnavailable:
		d := snoozeFor(e, q.cfg.UnavailableSnooze)
		log.WarnContext(ctx, "riverjobs: database unavailable; snoozing job", "snooze", d, "error", err)
		return river.JobSnooze(d)
	case sendoka.CodeNotFound, sendoka.CodeValidation:
		log.WarnContext(ctx, "riverjobs: job cannot succeed; cancelling it", "error", err)
		return river.JobCancel(err)
	}
	return err
}

// snoozeFor is the error's retry hint, or def when it gives none.
func snoozeFor(e *sendoka.Error, def time.Duration) time.Duration {
	if e != nil && e.Retry > 0 {
		return e.Retry
	}
	if e != nil && e.RetryAfterSeconds > 0 {
		return time.Duration(e.RetryAfterSeconds) * time.Second
	}
	return def
}
