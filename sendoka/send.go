package sendoka

import (
	"context"
	"maps"
	"slices"
)

// SendOption adds to a send. Options run inside the transaction that accepts the message,
// so what they write commits with the message and its job, or not at all.
type SendOption func(*sendOptions)

type sendOptions struct {
	inTx      []func(ctx context.Context, tx Tx, msgs []*Message) error
	inBatchTx []func(ctx context.Context, tx Tx, res *BatchResult) error
	idem      *idemCommit
}

// idemCommit is an IdempotentCommit option: the call, and its response to store.
type idemCommit struct {
	call   *IdempotentCall
	render func(msgs []*Message) (StoredResponse, error)
}

// IdempotentCommit stores call's response in the transaction that accepts a single send,
// as Commit does, with the response render makes of the stored messages (their ids set).
// Unlike WithinTx(… call.Commit …), group commit inserts the records of all the sends of a
// group in one statement.
func IdempotentCommit(call *IdempotentCall, render func(msgs []*Message) (StoredResponse, error)) SendOption {
	return func(o *sendOptions) { o.idem = &idemCommit{call: call, render: render} }
}

// WithinTx runs fn in the transaction that accepts the messages of a send, after they are
// stored (ids, statuses and jobs set): a record of one's own (an idempotency record, a
// usage reservation, an audience row) commits with them. An error from fn rolls the whole
// send back and is returned by the send.
func WithinTx(fn func(ctx context.Context, tx Tx, msgs []*Message) error) SendOption {
	return func(o *sendOptions) { o.inTx = append(o.inTx, fn) }
}

// WithinBatchTx is WithinTx for the batch sends (SendEmailBatch, SendEmailBulk,
// SendSMSBatch, SendSMSBulk): fn sees the call's whole outcome, accepted and refused rows,
// as the call will return it. Single sends ignore it.
func WithinBatchTx(fn func(ctx context.Context, tx Tx, res *BatchResult) error) SendOption {
	return func(o *sendOptions) { o.inBatchTx = append(o.inBatchTx, fn) }
}

func sendOptionsOf(opts []SendOption) sendOptions {
	var o sendOptions
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	return o
}

// accept makes validated messages durable: in ONE transaction it inserts the messages, their
// first events and the jobs that deliver them (the outbox invariant), then runs the send's
// WithinTx work. Either all of it commits or none of it does.
func (c *Client) accept(ctx context.Context, o sendOptions, msgs ...*Message) error {
	a := c.stamp(msgs)
	return c.inTx(ctx, func(ctx context.Context, tx Tx) error {
		return c.acceptTx(ctx, tx, a, o)
	})
}

// acceptance is messages ready to be stored: ids, statuses, first events and jobs set.
type acceptance struct {
	msgs   []*Message
	jobs   []Job
	events []*Event
}

// stamp gives messages their ids, first status and creation time, and builds their first
// events and delivery jobs.
func (c *Client) stamp(msgs []*Message) acceptance {
	now := c.now()
	a := acceptance{msgs: msgs, jobs: make([]Job, len(msgs)), events: make([]*Event, len(msgs))}
	for i, m := range msgs {
		m.CreatedAt, m.UpdatedAt = now, now
		m.ID = NewID(PrefixMessage, now)
		m.Status = StatusQueued
		a.jobs[i] = Job{Kind: JobDeliverMessage, SubjectID: m.ID}
		if m.Stream == StreamBroadcast {
			a.jobs[i].Queue = QueueBulk // broadcast work never delays transactional work
		}
		evType := EventQueued
		if m.ScheduledAt != nil {
			m.Status = StatusScheduled
			a.jobs[i].RunAt = *m.ScheduledAt
			evType = EventScheduled
		}
		a.events[i] = &Event{
			ID: NewID(PrefixEvent, now), OrgID: m.OrgID, TenantID: m.TenantID, MessageID: m.ID,
			Type: evType, Status: m.Status, CreatedAt: now, msg: m,
		}
	}
	return a
}

// acceptTx stores a in tx: the jobs first (their ids go on the messages), then the
// messages and their events, then the WithinTx work of o.
func (c *Client) acceptTx(ctx context.Context, tx Tx, a acceptance, o sendOptions) error {
	ids, err := c.queue.Enqueue(ctx, tx, a.jobs...)
	if err != nil {
		return err
	}
	for i, m := range a.msgs {
		m.JobID = ids[i]
	}
	if err := tx.InsertMessages(ctx, a.msgs...); err != nil {
		return err
	}
	events := a.events
	for _, m := range a.msgs {
		for _, s := range m.suppressed {
			if len(events) == len(a.events) {
				events = slices.Clone(a.events) // a's own slice is shared with group commit
			}
			ev := &Event{ID: NewID(PrefixEvent, m.CreatedAt), OrgID: m.OrgID, TenantID: m.TenantID, MessageID: m.ID,
				Type: EventSuppressed, Recipient: s.Address, CreatedAt: m.CreatedAt,
				Data: map[string]any{"reason": s.Reason.APIReason(), "suppression_id": s.ID}}
			events = append(events, ev)
		}
	}
	if err := c.recordEvents(ctx, tx, events...); err != nil {
		return err
	}
	if c.obs != nil {
		for _, m := range a.msgs {
			c.sawStatus(ctx, m, m.Status)
		}
	}
	return runWithinTx(ctx, tx, o, a.msgs)
}

func runWithinTx(ctx context.Context, tx Tx, o sendOptions, msgs []*Message) error {
	if o.idem != nil {
		resp, err := o.idem.render(msgs)
		if err != nil {
			return err
		}
		if err := o.idem.call.Commit(ctx, tx, resp); err != nil {
			return err
		}
	}
	for _, fn := range o.inTx {
		if err := fn(ctx, tx, msgs); err != nil {
			return err
		}
	}
	return nil
}

// Shared limits of both channels.
const (
	MaxTags          = 10
	MaxTagLen        = 256
	MaxMetadataKeys  = 50
	MaxMetadataKey   = 40
	MaxMetadataValue = 500
)

// validateTags checks the documented tag limit.
func validateTags(v *Validation, tags []string) {
	if len(tags) > MaxTags {
		v.Add(FieldTooBig, "at most 10 tags", "tags")
	}
	for i, t := range tags {
		if t == "" || len(t) > MaxTagLen {
			v.Add(FieldInvalid, "a tag is 1 to 256 characters", "tags", i)
		}
	}
}

// validateMetadata allows only string, number and boolean values.
func validateMetadata(v *Validation, md map[string]any) {
	if len(md) > MaxMetadataKeys {
		v.Add(FieldTooBig, "at most 50 keys", "metadata")
	}
	for _, k := range slices.Sorted(maps.Keys(md)) {
		if k == "" || len(k) > MaxMetadataKey {
			v.Add(FieldInvalid, "a key is 1 to 40 characters", "metadata", k)
		}
		switch val := md[k].(type) {
		case string:
			if len(val) > MaxMetadataValue {
				v.Add(FieldTooBig, "a value is at most 500 characters", "metadata", k)
			}
		case bool, float64, float32, int, int64, int32, uint, uint64, uint32:
		default:
			v.Add(FieldInvalidType, "values must be strings, numbers or booleans", "metadata", k)
		}
	}
}
