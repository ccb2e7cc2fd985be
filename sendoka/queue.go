package sendoka

import (
	"context"
	"time"
)

// JobKind names a kind of background job.
type JobKind string

// Job kinds.
const (
	// JobDeliverMessage hands one message to its provider (Client.Deliver).
	JobDeliverMessage JobKind = "deliver_message"
	// JobProviderEvent applies one provider report to a message (Client.HandleProviderEvent).
	JobProviderEvent JobKind = "provider_event"
)

// Job is a unit of background work. It carries ids, never message content.
type Job struct {
	Kind      JobKind
	MessageID string
	// Event is set for JobProviderEvent.
	Event *ProviderEvent
	// RunAt, when set and in the future, delays the job until then.
	RunAt time.Time
}

// Queue is the durable job port. Implementation: queue/riverjobs (River).
//
// Enqueue and Cancel join the caller's transaction: their effect becomes visible only if tx
// commits, and disappears if it rolls back (the outbox invariant). They never commit on their
// own. Enqueue returns one job id per job, in order.
type Queue interface {
	Enqueue(ctx context.Context, tx Tx, jobs ...Job) ([]int64, error)
	// Cancel removes a job that has not started. Cancelling a job that is running, finished or
	// unknown is not an error: the core's own status checks decide what happens.
	Cancel(ctx context.Context, tx Tx, jobID int64) error
	// StalledDeliveries lists at most limit JobDeliverMessage jobs that have been running for
	// longer than runningFor, oldest first: far longer than a live attempt runs before it
	// claims its message, so the process that fetched them may have died (or lost them to a
	// fetch that timed out as it committed). Client.RecoverDeliveries decides what to do.
	StalledDeliveries(ctx context.Context, runningFor time.Duration, limit int) ([]StalledJob, error)
}

// StalledJob is a delivery job that has been running suspiciously long.
type StalledJob struct {
	JobID     int64
	MessageID string
}

// DeliverOptions tells Client.Deliver about the job that runs it.
type DeliverOptions struct {
	// FinalAttempt is true when the queue will not retry after this attempt: a transient
	// failure then fails the message instead of leaving it queued forever.
	FinalAttempt bool
	// JobID is the queue's id of the running job (0 when unknown). A scheduled message whose
	// current job is another one was rescheduled: this run leaves it to that job.
	JobID int64
}
