package sendoka

import (
	"context"
	"fmt"
)

// MaxBatch is the most messages one batch call may create, in either shape.
const MaxBatch = 100

// BatchRow is the outcome of one row of a batch: its message, or why it was refused.
type BatchRow struct {
	// Index is the row's position: in the request array (per-item shape), or in `to` (bulk
	// shape).
	Index int
	// Message is the accepted message (status queued or scheduled); nil when Err is set.
	Message *Message
	// Err is the same error a single send of the row would have returned.
	Err *Error
}

// BatchResult is the outcome of a batch call, one row per request row, in order.
type BatchResult struct {
	Rows      []BatchRow
	Succeeded int
	Failed    int
}

// SendEmailBatch validates each request on its own and accepts the valid ones together: all
// accepted rows commit in one transaction with their jobs, inserted in bulk. A row that fails
// validation does not stop the others. The call itself fails (and accepts nothing) only for
// a problem of the whole call: no rows, more than MaxBatch, a missing permission, or a
// storage error. Options add to the transaction that accepts the rows (WithinTx,
// WithinBatchTx); when no row is accepted there is no transaction and they do not run.
func (c *Client) SendEmailBatch(ctx context.Context, p *Principal, reqs []*EmailRequest, opts ...SendOption) (*BatchResult, error) {
	if err := p.require(PermissionEmailsSend); err != nil {
		return nil, err
	}
	if err := batchSize(len(reqs), nil, []any{}...); err != nil {
		return nil, err
	}
	bc := newBatchCache()
	return c.acceptBatch(ctx, sendOptionsOf(opts), bc, len(reqs), func(i int) (*Message, error) {
		if reqs[i] == nil {
			return nil, Errorf(CodeValidation, "row %d is empty", i)
		}
		return c.prepareEmail(ctx, p, reqs[i], bc)
	})
}

// SendEmailBulk fans one request out to one message per address of req.To (at most
// MaxBatch): each recipient gets a message of its own, with its own id, and does not see the
// others. Cc and Bcc are refused in this shape, since they would be copied into every
// message; use SendEmailBatch for multi-recipient messages. Rows are as in SendEmailBatch,
// indexed by position in req.To; a field error about the recipient has the path
// ["to", index].
func (c *Client) SendEmailBulk(ctx context.Context, p *Principal, req *EmailRequest, opts ...SendOption) (*BatchResult, error) {
	if err := p.require(PermissionEmailsSend); err != nil {
		return nil, err
	}
	var v Validation
	if len(req.Cc) > 0 {
		v.Add(FieldInvalid, "not allowed in the bulk shape (it would be copied to every recipient); send an array of messages instead", "cc")
	}
	if len(req.Bcc) > 0 {
		v.Add(FieldInvalid, "not allowed in the bulk shape (it would be copied to every recipient); send an array of messages instead", "bcc")
	}
	if err := batchSize(len(req.To), &v, "to"); err != nil {
		return nil, err
	}
	bc := newBatchCache()
	return c.acceptBatch(ctx, sendOptionsOf(opts), bc, len(req.To), func(i int) (*Message, error) {
		row := *req
		row.To = []string{req.To[i]}
		m, err := c.prepareEmail(ctx, p, &row, bc)
		return m, bulkPaths(err, i)
	})
}

// SendSMSBatch is SendEmailBatch for SMS.
func (c *Client) SendSMSBatch(ctx context.Context, p *Principal, reqs []*SMSRequest, opts ...SendOption) (*BatchResult, error) {
	if err := p.require(PermissionSMSSend); err != nil {
		return nil, err
	}
	if err := batchSize(len(reqs), nil, []any{}...); err != nil {
		return nil, err
	}
	bc := newBatchCache()
	return c.acceptBatch(ctx, sendOptionsOf(opts), bc, len(reqs), func(i int) (*Message, error) {
		if reqs[i] == nil {
			return nil, Errorf(CodeValidation, "row %d is empty", i)
		}
		return c.prepareSMS(ctx, p, reqs[i], bc)
	})
}

// SendSMSBulk fans req out to one SMS per number of to (at most MaxBatch); req.To must be
// empty. Rows are indexed by position in to; a field error about the recipient has the path
// ["to", index].
func (c *Client) SendSMSBulk(ctx context.Context, p *Principal, to []string, req *SMSRequest, opts ...SendOption) (*BatchResult, error) {
	if err := p.require(PermissionSMSSend); err != nil {
		return nil, err
	}
	var v Validation
	if req.To != "" {
		v.Add(FieldInvalid, "give the recipients as the to list of the bulk shape", "to")
	}
	if err := batchSize(len(to), &v, "to"); err != nil {
		return nil, err
	}
	bc := newBatchCache()
	return c.acceptBatch(ctx, sendOptionsOf(opts), bc, len(to), func(i int) (*Message, error) {
		row := *req
		row.To = to[i]
		m, err := c.prepareSMS(ctx, p, &row, bc)
		return m, bulkPaths(err, i)
	})
}

// batchSize checks the row count of a call: path locates the rows (nothing for the array
// of the per-item shape, "to" for the bulk shape); v may carry earlier problems of the call.
func batchSize(n int, v *Validation, path ...any) error {
	if v == nil {
		v = &Validation{}
	}
	switch {
	case n == 0:
		v.Add(FieldTooSmall, "a batch needs at least one message", path...)
	case n > MaxBatch:
		v.Add(FieldTooBig, fmt.Sprintf("a batch holds at most %d messages, this one has %d: split it (or use an audience for large sends)", MaxBatch, n), path...)
	}
	return v.Err()
}

// bulkPaths rewrites the paths of a bulk row's errors: the row was validated as a message to
// one recipient (["to", 0] or ["to"]), which is ["to", i] of the call.
func bulkPaths(err error, i int) error {
	if err == nil {
		return nil
	}
	e := AsError(err)
	if len(e.Fields) == 0 {
		return e
	}
	out := *e
	out.Fields = make([]FieldError, len(e.Fields))
	for j, f := range e.Fields {
		if len(f.Path) > 0 && f.Path[0] == "to" {
			f.Path = append([]any{"to", i}, f.Path[min(len(f.Path), 2):]...)
		}
		out.Fields[j] = f
	}
	return &out
}

// batchCache is what the rows of one batch call share: templates looked up once by slug,
// and the messages whose suppression check waits for one query over the whole call.
type batchCache struct {
	templates templateLookup
	deferred  []*Message
}

func newBatchCache() *batchCache { return &batchCache{templates: templateLookup{}} }

// lookup returns the call's template lookup; nil (look every slug up) outside a batch.
func (bc *batchCache) lookup() templateLookup {
	if bc == nil {
		return nil
	}
	return bc.templates
}

// acceptBatch prepares n rows and accepts the valid ones in one transaction. The rows'
// suppression checks run together: one query per (org, tenant, channel) for every recipient
// of the call, instead of one per row.
func (c *Client) acceptBatch(ctx context.Context, o sendOptions, bc *batchCache, n int, prepare func(i int) (*Message, error)) (*BatchResult, error) {
	res := &BatchResult{Rows: make([]BatchRow, n)}
	fail := func(i int, err error) error {
		e := AsError(err)
		if e.Code == CodeInternal || e.Code == CodeUnavailable {
			// A storage failure or outage is not the row's fault: fail the call (a 500 or a
			// 503 the caller retries), accept nothing.
			return e
		}
		res.Rows[i].Err = e
		res.Rows[i].Message = nil
		return nil
	}
	rowOf := make(map[*Message]int, n)
	for i := range n {
		res.Rows[i].Index = i
		m, err := prepare(i)
		if err != nil {
			if err := fail(i, err); err != nil {
				return nil, err
			}
			continue
		}
		res.Rows[i].Message = m
		rowOf[m] = i
	}
	problems, err := c.checkSuppressedBatch(ctx, bc.deferred)
	if err != nil {
		return nil, err
	}
	for m, err := range problems {
		if err := fail(rowOf[m], err); err != nil {
			return nil, err
		}
	}
	var candidates []*Message
	for _, row := range res.Rows {
		if row.Err == nil {
			candidates = append(candidates, row.Message)
		}
	}
	// Warmup caps and the monthly quota admit a prefix of the rows; the rest fail row by row.
	refused, adm, err := c.admit(ctx, candidates)
	if err != nil {
		return nil, err
	}
	for m, err := range refused {
		if err := fail(rowOf[m], err); err != nil {
			adm.release(nil)
			return nil, err
		}
	}
	msgs := make([]*Message, 0, n)
	for _, row := range res.Rows {
		if row.Err != nil {
			res.Failed++
		} else {
			msgs = append(msgs, row.Message)
		}
	}
	res.Succeeded = len(msgs)
	if len(msgs) > 0 {
		// The call's outcome is final before its transaction: WithinBatchTx work sees it.
		for _, fn := range o.inBatchTx {
			o.inTx = append(o.inTx, func(ctx context.Context, tx Tx, _ []*Message) error { return fn(ctx, tx, res) })
		}
		if err := c.accept(ctx, o, msgs...); err != nil {
			adm.release(nil)
			return nil, err
		}
	}
	return res, nil
}

// checkSuppressedBatch is checkSuppressed for many messages: it looks up the recipients of
// all of them at once, per (org, tenant, channel), and applies to each message the
// suppressions of its own recipients. It returns the messages refused, with their errors.
func (c *Client) checkSuppressedBatch(ctx context.Context, msgs []*Message) (map[*Message]error, error) {
	of, err := c.recipientSuppressions(ctx, msgs)
	if err != nil {
		return nil, AsError(err)
	}
	problems := map[*Message]error{}
	for _, m := range msgs {
		all, mine := of(m)
		if err := applySuppressions(m, all, mine); err != nil {
			problems[m] = err
		}
	}
	return problems, nil
}

// recipientSuppressions reads the active suppressions of the messages' recipients, one read
// per org, tenant and channel, and returns what gives each message its recipients and the
// suppressions among them.
func (c *Client) recipientSuppressions(ctx context.Context, msgs []*Message) (func(m *Message) (all []string, mine []*Suppression), error) {
	type group struct {
		org, tenant string
		channel     Channel
	}
	addrs := map[group][]string{}
	seen := map[group]map[string]bool{}
	for _, m := range msgs {
		g := group{m.OrgID, m.TenantID, m.Channel}
		if seen[g] == nil {
			seen[g] = map[string]bool{}
		}
		for _, a := range recipients(m) {
			if !seen[g][a] {
				seen[g][a] = true
				addrs[g] = append(addrs[g], a)
			}
		}
	}
	now := c.now()
	found := make(map[group]map[string]*Suppression, len(addrs))
	for g, list := range addrs {
		sups, err := c.store.GetSuppressions(ctx, g.org, g.tenant, g.channel, list)
		if err != nil {
			return nil, err
		}
		found[g] = make(map[string]*Suppression, len(sups))
		for _, s := range activeOnly(sups, now) {
			found[g][s.Address] = s
		}
	}
	return func(m *Message) (all []string, mine []*Suppression) {
		byAddr := found[group{m.OrgID, m.TenantID, m.Channel}]
		all = recipients(m)
		for _, a := range all {
			if s := byAddr[a]; s != nil {
				mine = append(mine, s)
			}
		}
		return all, mine
	}, nil
}
