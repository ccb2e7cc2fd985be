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
	c.records = gatherer[func(context.Context, Tx) error, struct{}]{max: maxRecordsPerTx, inflight: tripsInFlight, run: c.runRecords}
	c.claims = gatherer[Claim, *Message]{max: maxClaimsPerStatement, inflight: tripsInFlight, run: c.runClaims}
}

// maxClaimsPerStatement bounds a shared claim.
const maxClaimsPerStatement = 200

// claimFast claims a message for its job in a statement shared with other workers' claims
// (Store.ClaimUnclaimed), or returns nil when that statement could not claim it (the caller
// looks closer).
func (c *Client) claimFast(ctx context.Context, id string, jobID int64) (*Message, error) {
	return c.claims.do(ctx, Claim{MessageID: id, JobID: jobID})
}

func (c *Client) runClaims(ctx context.Context, calls []*gatherCall[Claim, *Message]) {
	ctx, cancel := context.WithTimeout(ctx, recordTimeout)
	defer cancel()
	// A message twice in one statement (two runs of its job at once) is claimed for its first
	// caller only; the others look closer, and find it held.
	first := make(map[string]*gatherCall[Claim, *Message], len(calls))
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
	for _, m := range got {
		first[m.ID].res = m
	}
}

// inRecordTx runs fn, which records one message's outcome, in a transaction shared with
// other workers' records. fn may run more than once (a shared transaction rolled back, then
// alone): it must start from the same state each time.
func (c *Client) inRecordTx(ctx context.Context, fn func(ctx context.Context, tx Tx) error) error {
	_, err := c.records.do(ctx, fn)
	if errors.Is(err, errRecordAlone) {
		return c.inTx(ctx, fn)
	}
	return err
}

func (c *Client) runRecords(ctx context.Context, calls []*gatherCall[func(context.Context, Tx) error, struct{}]) {
	ctx, cancel := context.WithTimeout(ctx, recordTimeout)
	defer cancel()
	if len(calls) == 1 {
		calls[0].err = c.inTx(ctx, calls[0].req)
		return
	}
	err := c.inTx(ctx, func(ctx context.Context, tx Tx) error {
		for _, call := range calls {
			if err := call.req(ctx, tx); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		for _, call := range calls {
			call.err = errRecordAlone
		}
	}
}
