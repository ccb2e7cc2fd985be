package sendoka

import (
	"context"
	"fmt"
)

// recordEvents is the only writer of events. In tx it appends events (of one message or
// several) and, in the same transaction, enqueues whatever reacts to them, so an event and
// its consequences commit together or not at all.
func (c *Client) recordEvents(ctx context.Context, tx Tx, events ...*Event) error {
	if len(events) == 0 {
		return nil
	}
	if err := tx.InsertEvents(ctx, events...); err != nil {
		return err
	}
	return c.enqueueWebhooks(ctx, tx, events) // webhook_fanout.go
}

// transition is the only place a stored message changes: in tx it writes m's delivery
// fields, m.Status included, if the stored status is still from, and records events with
// it. from == m.Status changes delivery fields only (a retry's bookkeeping, a new schedule);
// any other pair must be an edge of the status machine (CanTransition), or two edges when
// one write records both (sent, then the delivery a provider already reported). It reports
// false, recording nothing, when the stored status is no longer from: another writer moved
// the message first.
func (c *Client) transition(ctx context.Context, tx Tx, m *Message, from Status, events ...*Event) (bool, error) {
	if from != m.Status && !canReach(from, m.Status) {
		return false, Internal(fmt.Errorf("sendoka: %s -> %s is not a status transition (message %s)", from, m.Status, m.ID))
	}
	ok, err := tx.UpdateMessage(ctx, m, from)
	if err != nil || !ok {
		return false, err
	}
	c.sawTransition(ctx, m, from)
	return true, c.recordEvents(ctx, tx, events...)
}

// sawTransition tells the observer of m's move from from to its status, once written.
func (c *Client) sawTransition(ctx context.Context, m *Message, from Status) {
	if c.obs != nil && from != m.Status {
		if !CanTransition(from, m.Status) {
			c.sawStatus(ctx, m, via(from, m.Status)) // two edges in one write: both count
		}
		c.sawStatus(ctx, m, m.Status)
	}
}

// via is the status between from and to when to is two edges of the machine away.
func via(from, to Status) Status {
	for _, v := range transitions[from] {
		if CanTransition(v, to) {
			return v
		}
	}
	return ""
}

// canReach reports whether to is one or two edges of the status machine away from from.
func canReach(from, to Status) bool {
	return CanTransition(from, to) || via(from, to) != ""
}
