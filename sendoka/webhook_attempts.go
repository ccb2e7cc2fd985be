package sendoka

import (
	"context"
	"sync"
	"time"
)

// attemptWriter gathers the outcomes of concurrent webhook attempts into shared
// transactions: a worker whose attempt is over hands its delivery (and its endpoint, when
// the attempt changed the endpoint's health) to the writer and waits until a transaction
// holding it has committed. When no write is under way the first one starts at once, so a
// lone attempt never waits; while one is, the others gather and go together in the next.
// Each worker still returns only after its own outcome is stored, so a crash never loses
// an attempt the queue believes recorded.
type attemptWriter struct {
	mu      sync.Mutex
	pending []*attemptWrite
	writing bool
}

// attemptWrite is one attempt's outcome waiting for the writer.
type attemptWrite struct {
	d      *WebhookDelivery
	health *WebhookEndpoint // nil unless the endpoint's health changed
	err    error
	done   chan struct{}
}

// maxAttemptsPerWrite bounds one shared transaction.
const maxAttemptsPerWrite = 500

// attemptWriteTimeout bounds one shared transaction: its members have no context of their
// own once it runs (one member's cancellation must not fail the others' writes).
const attemptWriteTimeout = 30 * time.Second

// writeAttempt stores d (and e's health when e is not nil) and returns once that is
// committed, with the error of the transaction that held it.
func (c *Client) writeAttempt(ctx context.Context, d *WebhookDelivery, e *WebhookEndpoint) error {
	w := &attemptWrite{d: d, health: e, done: make(chan struct{})}
	aw := &c.webhooks.writer
	aw.mu.Lock()
	aw.pending = append(aw.pending, w)
	lead := !aw.writing
	aw.writing = true
	aw.mu.Unlock()
	if lead {
		go c.writeGathered(context.WithoutCancel(ctx))
	}
	<-w.done
	return w.err
}

// writeGathered writes the gathered attempts, a transaction at a time, until none is left.
func (c *Client) writeGathered(ctx context.Context) {
	aw := &c.webhooks.writer
	for {
		aw.mu.Lock()
		if len(aw.pending) == 0 {
			aw.writing = false
			aw.mu.Unlock()
			return
		}
		n := min(len(aw.pending), maxAttemptsPerWrite)
		batch := aw.pending[:n:n]
		aw.pending = aw.pending[n:]
		aw.mu.Unlock()
		c.flushAttempts(ctx, batch)
	}
}

// flushAttempts writes a batch in one transaction and wakes its members.
func (c *Client) flushAttempts(ctx context.Context, batch []*attemptWrite) {
	ctx, cancel := context.WithTimeout(ctx, attemptWriteTimeout)
	defer cancel()
	ds := make([]*WebhookDelivery, len(batch))
	for i, w := range batch {
		ds[i] = w.d
	}
	err := c.inTx(ctx, func(ctx context.Context, tx Tx) error {
		if err := tx.UpdateWebhookDeliveries(ctx, ds...); err != nil {
			return err
		}
		for _, w := range batch {
			if w.health != nil {
				if err := tx.UpdateWebhookEndpointHealth(ctx, w.health); err != nil {
					return err
				}
			}
		}
		return nil
	})
	for _, w := range batch {
		w.err = err
		close(w.done)
	}
}
