package sendoka

import (
	"context"
	"encoding/json"
	"time"
)

// JobKind names a kind of background job.
type JobKind string

// Job kinds.
const (
	// JobDeliverMessage hands one message to its provider (Client.Deliver). SubjectID is the
	// message id.
	JobDeliverMessage JobKind = "deliver_message"
	// JobProviderEvent applies one provider report to a message (Client.HandleProviderEvent).
	// SubjectID is the message id; Payload is the ProviderEvent.
	JobProviderEvent JobKind = "provider_event"
	// JobRecoverDeliveries settles what dead processes left behind
	// (Client.RecoverDeliveries). Periodic.
	JobRecoverDeliveries JobKind = "recover_deliveries"
	// JobPurgeTenant deletes the data of a deleted tenant (Client.PurgeTenant). SubjectID is
	// the tenant id; Payload is {"org_id"}. DeleteTenant enqueues it.
	JobPurgeTenant JobKind = "purge_tenant"
	// JobRecheckDomains checks the DNS records of pending domains again
	// (Client.RecheckDomains). Periodic, every DomainRecheckInterval.
	JobRecheckDomains JobKind = "recheck_domains"
	// JobPurgeContent blanks the content of old finished messages (Client.PurgeContent).
	// Periodic, every RetentionInterval.
	JobPurgeContent JobKind = "purge_content"
	// JobPurgeMessages deletes old messages (Client.DeleteOldMessages). Periodic, every
	// RetentionInterval.
	JobPurgeMessages JobKind = "purge_messages"
	// JobPurgeIdempotencyKeys deletes idempotency keys older than IdempotencyRetention
	// (Client.PurgeIdempotencyKeys). Periodic, every IdempotencyPurgeInterval.
	JobPurgeIdempotencyKeys JobKind = "purge_idempotency_keys"
	// JobPruneNotifications forgets provider notification ids older than
	// NotificationRetention (Client.PruneProviderNotifications). Periodic, hourly.
	JobPruneNotifications JobKind = "prune_provider_notifications"
)

// QueueName names a queue. Each queue has its own workers, so work of one never waits
// behind another's: a webhook backlog or an audience fan-out cannot delay transactional
// delivery.
type QueueName string

// The queues.
const (
	QueueDeliver     QueueName = "deliver"     // transactional hand-offs to providers
	QueueEvents      QueueName = "events"      // provider and inbound events
	QueueWebhooks    QueueName = "webhooks"    // webhook deliveries
	QueueBulk        QueueName = "bulk"        // audience fan-out and broadcast delivery
	QueueMaintenance QueueName = "maintenance" // periodic clean-ups and recovery
)

// Queues lists every queue.
var Queues = []QueueName{QueueDeliver, QueueEvents, QueueWebhooks, QueueBulk, QueueMaintenance}

// Job is a unit of background work. It carries ids and small JSON, never message content.
type Job struct {
	Kind JobKind
	// SubjectID is what the job works on: a message id for the message kinds.
	SubjectID string
	// Payload is a small JSON document for the job's handler (a provider event, say), or
	// nil.
	Payload json.RawMessage
	// RunAt, when set and in the future, delays the job until then.
	RunAt time.Time
	// Queue, when set, overrides the kind's queue (JobSpec.Queue).
	Queue QueueName
	// UniqueKey, when set, makes the job unique: while a job of the same kind and key is
	// waiting or running, enqueuing another is a no-op that returns the first one's id.
	UniqueKey string
}

// JobSpec says how the jobs of one kind run.
type JobSpec struct {
	Kind  JobKind
	Queue QueueName
	// MaxAttempts is how many times a job runs before the queue gives up on it (snoozes
	// do not count); 0 means the queue's default.
	MaxAttempts int
	// Timeout bounds one run.
	Timeout time.Duration
	// Backoff is the wait before the attempt after a failed attempt n (1-based).
	Backoff func(attempt int) time.Duration
	// Every, when positive, makes the kind periodic: the queue's leader (one across all
	// nodes) enqueues one such job at this interval, with no subject.
	Every time.Duration
}

// JobRun tells a handler about the run of a job.
type JobRun struct {
	// ID is the queue's id of the job (0 when unknown).
	ID int64
	// Attempt counts this run (1 for the first); MaxAttempts is the kind's limit.
	Attempt, MaxAttempts int
}

// FinalAttempt reports whether the queue will not run the job again after this run.
func (r JobRun) FinalAttempt() bool { return r.MaxAttempts > 0 && r.Attempt >= r.MaxAttempts }

// attemptPow4 is the queue's classic backoff: attempt^4 seconds (1 s, 16 s, 81 s, ...).
func attemptPow4(attempt int) time.Duration {
	return time.Duration(attempt*attempt*attempt*attempt) * time.Second
}

// JobSpecs returns how each kind of the core's jobs runs. recovery is the interval of
// JobRecoverDeliveries (DefaultRecoveryInterval when zero) and deliveryTimeout the bound of
// one hand-off job (which must outlast a provider's slowest send).
func JobSpecs(recovery, deliveryTimeout time.Duration) []JobSpec {
	if recovery <= 0 {
		recovery = DefaultRecoveryInterval
	}
	return []JobSpec{
		// The core keeps delivery's retry schedule itself (DeliveryConfig.RetryDelays, as
		// snoozes); attempts here only count failures outside it (the database, a bug).
		{Kind: JobDeliverMessage, Queue: QueueDeliver, Timeout: deliveryTimeout, Backoff: attemptPow4},
		{Kind: JobProviderEvent, Queue: QueueEvents, Timeout: time.Minute, Backoff: attemptPow4},
		// A failed recovery pass is not retried: the next one runs an interval later.
		{Kind: JobRecoverDeliveries, Queue: QueueMaintenance, MaxAttempts: 1, Timeout: time.Minute, Every: recovery},
		// A purge resumes where it stopped, so a run cut short by its timeout loses nothing.
		{Kind: JobPurgeTenant, Queue: QueueMaintenance, Timeout: 10 * time.Minute, Backoff: attemptPow4},
		// Likewise: a pass that fails is followed by the next one.
		{Kind: JobRecheckDomains, Queue: QueueMaintenance, MaxAttempts: 1, Timeout: 2 * time.Minute, Every: DomainRecheckInterval},
		// Purges resume where they stopped: a run cut short is followed by the next one.
		{Kind: JobPurgeContent, Queue: QueueMaintenance, MaxAttempts: 1, Timeout: 10 * time.Minute, Every: RetentionInterval},
		{Kind: JobPurgeMessages, Queue: QueueMaintenance, MaxAttempts: 1, Timeout: 10 * time.Minute, Every: RetentionInterval},
		// Likewise: keys a failed pass left are deleted by the next one (and ignored meanwhile).
		{Kind: JobPurgeIdempotencyKeys, Queue: QueueMaintenance, MaxAttempts: 1, Timeout: 2 * time.Minute, Every: IdempotencyPurgeInterval},
		// The core keeps a webhook delivery's schedule itself (WebhookConfig.RetryDelays, as
		// snoozes); attempts here only count failures outside it. The timeout covers one
		// attempt (10 s by default) and its bookkeeping.
		{Kind: JobDeliverWebhook, Queue: QueueWebhooks, Timeout: time.Minute, Backoff: attemptPow4},
		{Kind: JobPruneNotifications, Queue: QueueMaintenance, MaxAttempts: 1, Timeout: 2 * time.Minute, Every: time.Hour},
		// A fan-out resumes after its last committed chunk, so a run cut short by its
		// timeout, or a crash, loses nothing and duplicates nothing.
		{Kind: JobAudienceFanout, Queue: QueueBulk, Timeout: 10 * time.Minute, Backoff: attemptPow4},
	}
}

// DefaultRecoveryInterval is how often the leader runs RecoverDeliveries.
const DefaultRecoveryInterval = 5 * time.Second

// RunJob runs one job of any kind the core defines: the queue calls it for every job.
// Errors follow Deliver's conventions: CodeProviderThrottled, CodeProviderTransient,
// CodeConflict and CodeUnavailable ask for a retry at Error.Retry (a snooze that uses up no
// attempt); CodeNotFound and CodeValidation mean no retry can succeed; anything else is
// retried with the kind's backoff.
func (c *Client) RunJob(ctx context.Context, j Job, run JobRun) error {
	switch j.Kind {
	case JobDeliverMessage:
		return c.Deliver(ctx, j.SubjectID, DeliverOptions{FinalAttempt: run.FinalAttempt(), JobID: run.ID})
	case JobProviderEvent:
		var ev ProviderEvent
		if err := json.Unmarshal(j.Payload, &ev); err != nil {
			return Errorf(CodeValidation, "provider_event job %d: bad payload: %v", run.ID, err)
		}
		if ev.MessageID == "" {
			ev.MessageID = j.SubjectID
		}
		return c.HandleProviderEvent(ctx, ev)
	case JobRecoverDeliveries:
		_, err := c.RecoverDeliveries(ctx)
		return err
	case JobPurgeTenant:
		return c.runPurgeTenant(ctx, j, run)
	case JobRecheckDomains:
		_, err := c.RecheckDomains(ctx)
		return err
	case JobPurgeContent:
		n, err := c.PurgeContent(ctx)
		if n > 0 {
			c.log.InfoContext(ctx, "purged message content", "messages", n)
		}
		return err
	case JobPurgeMessages:
		n, err := c.DeleteOldMessages(ctx)
		if n > 0 {
			c.log.InfoContext(ctx, "deleted old messages", "messages", n)
		}
		return err
	case JobPurgeIdempotencyKeys:
		_, err := c.PurgeIdempotencyKeys(ctx)
		return err
	case JobDeliverWebhook:
		return c.DeliverWebhook(ctx, j.SubjectID)
	case JobPruneNotifications:
		_, err := c.PruneProviderNotifications(ctx)
		return err
	case JobAudienceFanout:
		return c.RunAudienceFanout(ctx, j.SubjectID)
	}
	return Errorf(CodeValidation, "unknown job kind %q", j.Kind)
}

// providerEventJob is the job that applies ev to its message at ev's time, or now.
func providerEventJob(ev ProviderEvent, now time.Time) (Job, error) {
	payload, err := json.Marshal(ev)
	if err != nil {
		return Job{}, err
	}
	j := Job{Kind: JobProviderEvent, SubjectID: ev.MessageID, Payload: payload}
	if ev.OccurredAt.After(now) {
		// Outcomes the provider dates later (a complaint after the delivery) run then, so
		// one send's events apply in the order they happen.
		j.RunAt = ev.OccurredAt
	}
	return j, nil
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

// JobCompleter is implemented by queues that can complete the job being run inside the
// caller's transaction (queue/riverjobs). Recording a sent message uses it, so the message's
// new status and its job's completion commit together: one commit per delivered message
// instead of two. CompleteTx reports false, and changes nothing, when ctx carries no running
// job of the queue; the queue then completes the job when the handler returns.
type JobCompleter interface {
	CompleteTx(ctx context.Context, tx Tx) (bool, error)
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
