package sendoka

import (
	"context"
	"sync"
	"time"
)

// DefaultFanoutStall is the default of DeliveryConfig.FanoutStalledAfter.
const DefaultFanoutStall = 30 * time.Second

// fanoutWatch is what recovery has seen of the unfinished audience sends: how far each
// fan-out was, and since when. A fan-out job holds no claim and no lease: a process that
// dies while it runs leaves the queue's job running until the queue's own rescue (the job
// timeout and a minute later), and the send unfinished. Progress tells a dead run from a
// live one: a live run advances the send's cursor a chunk at a time.
type fanoutWatch struct {
	mu   sync.Mutex
	seen map[string]fanoutSeen // by send id
}

type fanoutSeen struct {
	cursor    string
	processed int
	since     time.Time // when recovery first saw the send where it is
}

// recoverFanouts gives a new fan-out job to every unfinished audience send that has not
// advanced for DeliveryConfig.FanoutStalledAfter, as far as this process has watched it
// (recovery runs on one node at a time; a node that becomes the leader watches anew). A
// second run of a fan-out that is alive after all is harmless: the runs advance the send
// by compare-and-set, so no contact gets two messages (RunAudienceFanout). It returns how
// many sends got a job.
func (c *Client) recoverFanouts(ctx context.Context, now time.Time) (int, error) {
	sends, err := c.store.UnfinishedAudienceSends(ctx, recoverBatch)
	if err != nil {
		return 0, AsError(err)
	}
	w := &c.fanouts
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.seen == nil {
		w.seen = map[string]fanoutSeen{}
	}
	unfinished := make(map[string]bool, len(sends))
	n := 0
	for _, s := range sends {
		unfinished[s.ID] = true
		prev, ok := w.seen[s.ID]
		here := fanoutSeen{cursor: s.Cursor, processed: s.Processed, since: now}
		if !ok || prev.cursor != s.Cursor || prev.processed != s.Processed || now.Before(prev.since) {
			w.seen[s.ID] = here
			continue
		}
		if now.Sub(prev.since) < c.delivery.FanoutStalledAfter {
			continue
		}
		err := c.inTx(ctx, func(ctx context.Context, tx Tx) error {
			_, err := c.queue.Enqueue(ctx, tx, Job{Kind: JobAudienceFanout, SubjectID: s.ID})
			return err
		})
		if err != nil {
			return n, err
		}
		// The new run has as long again to show progress before another is queued.
		w.seen[s.ID] = here
		n++
		c.log.WarnContext(ctx, "audience fan-out made no progress; queued it again", "send_id", s.ID,
			"processed", s.Processed, "recipients", s.Recipients, "stalled_for", now.Sub(prev.since).String())
	}
	for id := range w.seen {
		if !unfinished[id] {
			delete(w.seen, id)
		}
	}
	return n, nil
}
