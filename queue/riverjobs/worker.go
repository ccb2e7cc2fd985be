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

// jobWorker runs the jobs of one kind, with that kind's timeout and backoff.
type jobWorker struct {
	river.WorkerDefaults[jobArgs]
	q    *Queue
	spec sendoka.JobSpec
}

// Timeout is the kind's bound on one run.
func (w *jobWorker) Timeout(*river.Job[jobArgs]) time.Duration { return w.spec.Timeout }

// NextRetry is the kind's backoff after a failed attempt.
func (w *jobWorker) NextRetry(job *river.Job[jobArgs]) time.Time {
	if w.spec.Backoff == nil {
		return time.Time{} // River's default policy
	}
	return time.Now().Add(w.spec.Backoff(job.Attempt))
}

// Work hands the job to the core. After an error River discards a job whose row has
// Attempt >= MaxAttempts, so the same test on the same row (JobRun.FinalAttempt) is exactly
// "River will not run this again": a delivery then fails its message instead of leaving it
// queued for ever. Snoozes give their attempt back (River v0.51: Attempt-1), so they never
// bring the final attempt closer.
func (w *jobWorker) Work(ctx context.Context, job *river.Job[jobArgs]) error {
	h := w.q.currentHandler()
	if h == nil {
		return errNotStarted
	}
	j := sendoka.Job{Kind: sendoka.JobKind(job.Kind), SubjectID: job.Args.SubjectID, Payload: job.Args.Payload,
		UniqueKey: job.Args.UniqueKey}
	run := sendoka.JobRun{ID: job.ID, Attempt: job.Attempt, MaxAttempts: job.MaxAttempts}
	ctx = context.WithValue(ctx, runningJobKey{}, job)
	return w.q.translate(ctx, job.JobRow, h.RunJob(ctx, j, run))
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
//   - anything else: return the error, so River retries with the kind's backoff (and
//     discards the job after MaxAttempts; a delivery's last attempt has already failed its
//     message).
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
