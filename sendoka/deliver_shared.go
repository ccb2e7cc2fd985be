package sendoka

import (
	"context"
	"errors"
)

// A delivery claims its message in one statement and records its provider's answer in one
// transaction (its status, events, webhook jobs). Concurrent delivery workers share both:
// the claims that arrive while one is being made go together in the next statement, and the
// answers that arrive while one is being recorded go together in the next transaction, each
// worker returning once its own write has committed. A shared record transaction that fails
// is rolled back whole, and each of its members then records again in a transaction of its
// own, so one message's failure is only its own.

// maxRecordsPerTx bounds a shared record transaction.
const maxRecordsPerTx = 100

// errRecordAlone tells a member of a failed shared transaction to record on its own.
var errRecordAlone = errors.New("sendoka: the shared record transaction failed; record alone")

func (c *Client) initRecordTxs() {
	c.records = gatherer[*record, struct{}]{max: maxRecordsPerTx, inflight: tripsInFlight, run: c.runRecords}
	c.claims = gatherer[Claim, claimed]{max: maxClaimsPerStatement, inflight: tripsInFlight, run: c.runClaims}
}

// maxClaimsPerStatement bounds a shared claim.
const maxClaimsPerStatement = 200

// claimed is a shared claim's answer for one message: the message, claimed, and whether its
// recipients are all suppressed now (checked for the whole claim at once, so a delivery does
// not read the suppressions on its own).
type claimed struct {
	m          *Message
	checked    bool        // the suppressions were read; false: the caller reads them itself
	suppressed *Diagnostic // set when every recipient is suppressed
}

// claimFast claims a message for its job in a statement shared with other workers' claims
// (Store.ClaimUnclaimed), or returns nil when that statement could not claim it (the caller
// looks closer).
func (c *Client) claimFast(ctx context.Context, id string, jobID int64) (claimed, error) {
	return c.claims.do(ctx, Claim{MessageID: id, JobID: jobID})
}

func (c *Client) runClaims(ctx context.Context, calls []*gatherCall[Claim, claimed]) {
	ctx, cancel := context.WithTimeout(ctx, recordTimeout)
	defer cancel()
	// A message twice in one statement (two runs of its job at once) is claimed for its first
	// caller only; the others look closer, and find it held.
	first := make(map[string]*gatherCall[Claim, claimed], len(calls))
	claims := make([]Claim, 0, len(calls))
	for _, call := range calls {
		if first[call.req.MessageID] == nil {
			first[call.req.MessageID] = call
			claims = append(claims, call.req)
		}
	}
	now := c.now()
	got, err := c.store.ClaimUnclaimed(ctx, claims, now, now.Add(c.delivery.ClaimLease))
	if err != nil {
		for _, call := range calls {
			call.err = AsError(err)
		}
		return
	}
	// The messages are claimed now: whatever the suppression read does, each goes back to
	// its caller (a failed read leaves the check to it).
	diags, err := c.suppressedNow(ctx, got)
	for _, m := range got {
		first[m.ID].res = claimed{m: m, checked: err == nil, suppressed: diags[m]}
	}
}

// suppressedNow returns the messages whose recipients are all suppressed, with the
// diagnostic of their failure (suppressedAtDelivery for many messages at once).
func (c *Client) suppressedNow(ctx context.Context, msgs []*Message) (map[*Message]*Diagnostic, error) {
	of, err := c.recipientSuppressions(ctx, msgs)
	if err != nil {
		return nil, err
	}
	out := map[*Message]*Diagnostic{}
	for _, m := range msgs {
		all, mine := of(m)
		if d := suppressedDiagnostic(m, c.providerName(m), all, mine); d != nil {
			out[m] = d
		}
	}
	return out, nil
}

// record is one message's outcome for a record transaction. fn writes it whole. A record
// with a plain form (a conditional message update and its events, nothing else) is written,
// in a transaction shared with others, together with the other plain ones: one UPDATE of
// their messages and one INSERT of their events for the whole transaction. If any of those
// messages was moved by another writer meanwhile, the transaction rolls back and each of its
// members records alone, through fn, which sees why.
type record struct {
	fn    func(ctx context.Context, tx Tx) error
	plain *plainRecord
}

// plainRecord is the plain form of a record.
type plainRecord struct {
	update MessageUpdate
	events []*Event
	// written runs once the update and the events are written, in the transaction.
	written func(ctx context.Context)
}

// errRecordMoved rolls back a shared record transaction one of whose plain updates found its
// message moved.
var errRecordMoved = errors.New("sendoka: a message of the shared record transaction was moved meanwhile")

// inRecordTx writes r in a transaction shared with other workers' records. r.fn may run
// more than once (a shared transaction rolled back, then alone): it must start from the same
// state each time.
func (c *Client) inRecordTx(ctx context.Context, r *record) error {
	_, err := c.records.do(ctx, r)
	if errors.Is(err, errRecordAlone) {
		return c.inTx(ctx, r.fn)
	}
	return err
}

func (c *Client) runRecords(ctx context.Context, calls []*gatherCall[*record, struct{}]) {
	ctx, cancel := context.WithTimeout(ctx, recordTimeout)
	defer cancel()
	if len(calls) == 1 {
		calls[0].err = c.inTx(ctx, calls[0].req.fn)
		return
	}
	err := c.inTx(ctx, func(ctx context.Context, tx Tx) error {
		var plain []*plainRecord
		for _, call := range calls {
			if call.req.plain != nil {
				plain = append(plain, call.req.plain)
				continue
			}
			if err := call.req.fn(ctx, tx); err != nil {
				return err
			}
		}
		if len(plain) == 0 {
			return nil
		}
		updates := make([]MessageUpdate, len(plain))
		var events []*Event
		for i, p := range plain {
			updates[i] = p.update
			events = append(events, p.events...)
		}
		n, err := tx.UpdateMessages(ctx, updates)
		if err != nil {
			return err
		}
		if n != len(updates) {
			return errRecordMoved
		}
		if err := c.recordEvents(ctx, tx, events...); err != nil {
			return err
		}
		for _, p := range plain {
			p.written(ctx)
		}
		return nil
	})
	if err != nil {
		for _, call := range calls {
			call.err = errRecordAlone
		}
	}
}
