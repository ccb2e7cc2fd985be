package sendoka

import (
	"context"
	"time"
)

// recoverBatch bounds the messages one recovery pass settles.
const recoverBatch = 500

// Recovered counts what one RecoverDeliveries pass did.
type Recovered struct {
	// Unknown counts lapsed claims recorded as sent with OutcomeUnknown.
	Unknown int
	// Requeued counts messages given a new delivery job: their job stalled before it claimed
	// them, or their lapsed claim was on a provider that deduplicates.
	Requeued int
	// Fanouts counts unfinished audience sends given a new fan-out job: theirs made no
	// progress for DeliveryConfig.FanoutStalledAfter (its process died).
	Fanouts int
}

// RecoverDeliveries settles the deliveries that a dead process left behind, in seconds
// rather than after the queue's own stuck-job rescue. The queue runs it periodically, on one
// node at a time (queue/riverjobs: the leader's recover_deliveries job, every 5 s).
//
//   - A lapsed claim: the attempt that held it stopped renewing it, so its process died
//     while the message was with the provider. The message is recorded as sent with
//     OutcomeUnknown, and never sent again. (With a provider that deduplicates, it is
//     queued again instead.) Only messages mid-hand-off hold claims, so at most one per
//     provider connection of the dead process ends this way.
//   - A stalled job: the queue reports a delivery job that has run longer than
//     DeliveryConfig.StalledAfter without claiming its message (a process that fetched it
//     died before the hand-off began). Its message, still queued, gets a new job at once;
//     the old job, should it ever run, finds it is no longer the message's job.
//   - A stalled fan-out: an unfinished audience send that has not advanced for
//     DeliveryConfig.FanoutStalledAfter gets a new fan-out job, which resumes after the
//     last chunk committed (recover_fanout.go).
func (c *Client) RecoverDeliveries(ctx context.Context) (Recovered, error) {
	var r Recovered
	now := c.now()
	var lapsed []*Message
	err := c.inTx(ctx, func(ctx context.Context, tx Tx) error {
		var err error
		lapsed, err = tx.LapsedClaims(ctx, now, recoverBatch)
		return err
	})
	if err != nil {
		return r, err
	}
	for _, m := range lapsed {
		requeued, settled, err := c.settleLapsed(ctx, m.ID, now)
		if err != nil {
			return r, err
		}
		switch {
		case requeued:
			r.Requeued++
		case settled:
			r.Unknown++
		}
	}
	stalled, err := c.queue.StalledDeliveries(ctx, c.delivery.StalledAfter, recoverBatch)
	if err != nil {
		return r, err
	}
	for _, j := range stalled {
		ok, err := c.requeueStalled(ctx, j, now)
		if err != nil {
			return r, err
		}
		if ok {
			r.Requeued++
		}
	}
	if r.Fanouts, err = c.recoverFanouts(ctx, now); err != nil {
		return r, err
	}
	if r.Unknown > 0 || r.Requeued > 0 {
		c.log.InfoContext(ctx, "recovered deliveries", "outcome_unknown", r.Unknown, "requeued", r.Requeued)
	}
	return r, nil
}

// settleLapsed takes over a lapsed claim and records the message's outcome as unknown, or
// queues it again when its provider deduplicates.
func (c *Client) settleLapsed(ctx context.Context, id string, now time.Time) (requeued, settled bool, err error) {
	err = c.inTx(ctx, func(ctx context.Context, tx Tx) error {
		m, err := tx.GetMessage(ctx, id)
		if err != nil {
			return err
		}
		// The conditional claim fails if the attempt renewed its lease since it was listed.
		ok, err := tx.ClaimMessage(ctx, id, now, now.Add(c.delivery.ClaimLease), StatusQueued, StatusScheduled)
		if err != nil || !ok {
			return err
		}
		if c.deduplicates(m) {
			requeued = true
			return c.requeueTx(ctx, tx, m, now)
		}
		settled = true
		return c.recordUnknownTx(ctx, tx, m, interruptedDiagnostic(c.providerName(m)), now, nil)
	})
	return requeued, settled, err
}

// requeueStalled gives a new job to the message of a stalled one, if that message is still
// waiting for it: queued or due, unclaimed, untouched for as long, and still that job's.
func (c *Client) requeueStalled(ctx context.Context, j StalledJob, now time.Time) (bool, error) {
	var done bool
	err := c.inTx(ctx, func(ctx context.Context, tx Tx) error {
		m, err := tx.GetMessage(ctx, j.MessageID)
		if ErrorCode(err) == CodeNotFound {
			return nil
		}
		if err != nil {
			return err
		}
		due := m.Status == StatusQueued || (m.Status == StatusScheduled && m.ScheduledAt != nil && !m.ScheduledAt.After(now))
		if !due || m.ClaimedAt != nil || (m.JobID != 0 && m.JobID != j.JobID) ||
			m.UpdatedAt.After(now.Add(-c.delivery.StalledAfter)) {
			return nil
		}
		done = true
		return c.requeueTx(ctx, tx, m, now)
	})
	return done, err
}

// requeueTx gives m a new delivery job that runs now and releases any claim on it.
func (c *Client) requeueTx(ctx context.Context, tx Tx, m *Message, now time.Time) error {
	ids, err := c.queue.Enqueue(ctx, tx, Job{Kind: JobDeliverMessage, SubjectID: m.ID})
	if err != nil {
		return err
	}
	from := m.Status
	m.JobID, m.ClaimedAt, m.LeaseUntil, m.UpdatedAt = ids[0], nil, nil, now
	_, err = c.transition(ctx, tx, m, from)
	return err
}
