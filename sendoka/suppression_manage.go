package sendoka

import (
	"context"
	"strings"
	"time"
)

// MaxSuppressionBatch is the most suppressions one AddSuppressions call (one
// POST /api/v1/suppressions) takes; more is a VALIDATION_ERROR for the whole call.
const MaxSuppressionBatch = 10000

// MaxSuppressionHistory is how many lifted suppressions of one address
// Client.SuppressionDetail shows, most recent first.
const MaxSuppressionHistory = 20

// SuppressionInput is one suppression to add by hand.
type SuppressionInput struct {
	Channel Channel `json:"channel,omitempty" enum:"email,sms" doc:"email or sms; inferred from address when omitted (an address with @ is email, one starting with + is an E.164 number)" example:"email"`
	Address string  `json:"address" minLength:"1" maxLength:"320" doc:"The email address (lower-cased, display name dropped) or E.164 number to suppress" example:"bounced@example.com"`
	// Reason is in its API form: bounce, complaint, unsubscribe, stop or manual (default).
	Reason string `json:"reason,omitempty" enum:"bounce,complaint,unsubscribe,stop,manual" doc:"Why; manual when omitted" example:"manual"`
	// ExpiresAt, when set, must be in the future: the suppression stops suppressing then.
	ExpiresAt *time.Time `json:"expires_at,omitempty" doc:"When the suppression lapses (RFC 3339, future); never when omitted" example:"2027-01-01T00:00:00Z"`
}

// SuppressionResult is the outcome of one SuppressionInput, in the order given.
type SuppressionResult struct {
	// Suppression is the suppression now in force for the address: the new one, or the one
	// already there (Created false). Nil when the row was refused (Err).
	Suppression *Suppression
	// Created is true when this call added the suppression.
	Created bool
	// Err is why the row was refused (a VALIDATION_ERROR), or nil.
	Err error
}

// InferSuppressionChannel returns ch when it is set, otherwise the channel address looks
// like it belongs to: email for an address with @, SMS for one starting with +. It returns ""
// when it cannot tell.
func InferSuppressionChannel(ch Channel, address string) Channel {
	switch {
	case ch != "":
		return ch
	case strings.Contains(address, "@"):
		return ChannelEmail
	case strings.HasPrefix(strings.TrimSpace(address), "+"):
		return ChannelSMS
	}
	return ""
}

// AddSuppressions adds suppressions by hand, in the principal's namespace (its tenant, or
// org-wide; a platform-root key adds for one of its tenants with the principal ForTenant
// returns). Each row is checked on its own: the valid rows are added together, in one
// transaction, and each result says whether the row added a suppression or found one already
// there (the first suppression, and its reason, stay). Zero rows, or more than
// MaxSuppressionBatch, is a VALIDATION_ERROR for the whole call.
func (c *Client) AddSuppressions(ctx context.Context, p *Principal, in []SuppressionInput) ([]SuppressionResult, error) {
	if err := p.require(PermissionSuppressionsWrite); err != nil {
		return nil, err
	}
	switch {
	case len(in) == 0:
		return nil, fieldError(FieldTooSmall, "at least one suppression is required", "suppressions")
	case len(in) > MaxSuppressionBatch:
		return nil, fieldError(FieldTooBig, "at most 10000 suppressions per call; split the list", "suppressions")
	}
	now := c.now()
	out := make([]SuppressionResult, len(in))
	var valid []int
	for i, row := range in {
		s, err := newManualSuppression(p, row, now)
		if err != nil {
			out[i].Err = err
			continue
		}
		out[i].Suppression = s
		valid = append(valid, i)
	}
	if len(valid) == 0 {
		return out, nil
	}
	err := c.inTx(ctx, func(ctx context.Context, tx Tx) error {
		batch := make([]*Suppression, len(valid))
		for j, i := range valid {
			batch[j] = out[i].Suppression
		}
		had, err := tx.InsertSuppressions(ctx, batch)
		if err != nil {
			return err
		}
		for j, i := range valid {
			out[i].Created = had[j] == nil
			if had[j] != nil {
				out[i].Suppression = had[j]
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// newManualSuppression validates one row of AddSuppressions. Its errors name fields of the
// row itself (the caller adds the row's position).
func newManualSuppression(p *Principal, row SuppressionInput, now time.Time) (*Suppression, error) {
	var v Validation
	ch := InferSuppressionChannel(row.Channel, row.Address)
	if ch != ChannelEmail && ch != ChannelSMS {
		v.Add(FieldInvalid, "must be email or sms (it could not be inferred from address)", "channel")
	}
	addr, ok := NormalizeSuppressionAddress(ch, row.Address)
	if !ok && (ch == ChannelEmail || ch == ChannelSMS) {
		v.Add(FieldInvalidString, "not an email address or E.164 number of the channel", "address")
	}
	reason := SuppressionManual
	if row.Reason != "" {
		r, ok := ParseSuppressionReason(row.Reason)
		if !ok {
			v.Add(FieldInvalid, "must be one of bounce, complaint, unsubscribe, stop, manual", "reason")
		}
		reason = r
	}
	var expires *time.Time
	if row.ExpiresAt != nil {
		e := row.ExpiresAt.UTC().Truncate(time.Microsecond)
		if !e.After(now) {
			v.Add(FieldInvalid, "must be in the future", "expires_at")
		}
		expires = &e
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	return &Suppression{ID: NewID(PrefixSuppression, now), OrgID: p.OrgID, TenantID: p.TenantID,
		Channel: ch, Address: addr, Reason: reason, CreatedBy: p.KeyID, CreatedAt: now, ExpiresAt: expires}, nil
}

// Suppress adds an address to the principal's suppression list (reason manual). Adding an
// address that is already suppressed changes nothing and returns the suppression in force.
// A tenant-bound principal suppresses for its tenant only; a platform-root key suppresses for
// one of its tenants with the principal ForTenant returns (p alone suppresses org-wide).
func (c *Client) Suppress(ctx context.Context, p *Principal, ch Channel, address string) (*Suppression, error) {
	res, err := c.AddSuppressions(ctx, p, []SuppressionInput{{Channel: ch, Address: address}})
	if err != nil {
		return nil, err
	}
	return res[0].Suppression, res[0].Err
}

// Unsuppress lifts the principal's suppression of an address (reactivating it: sends reach
// it again), and reports whether there was one. The lifted suppression stays in the
// address's history, with the time and the principal's key id.
func (c *Client) Unsuppress(ctx context.Context, p *Principal, ch Channel, address string) (bool, error) {
	if err := p.require(PermissionSuppressionsWrite); err != nil {
		return false, err
	}
	addr, ok := NormalizeSuppressionAddress(ch, address)
	if !ok {
		return false, fieldError(FieldInvalidString, "not an email address or E.164 number of the channel", "address")
	}
	now := c.now()
	var lifted bool
	err := c.inTx(ctx, func(ctx context.Context, tx Tx) error {
		var err error
		lifted, err = tx.DeleteSuppression(ctx, p.OrgID, p.TenantID, ch, addr, p.KeyID, now)
		return err
	})
	return lifted, err
}

// GetSuppression returns the principal's suppression of an address that is in force (not
// expired), or CodeNotFound when the address is not suppressed.
func (c *Client) GetSuppression(ctx context.Context, p *Principal, ch Channel, address string) (*Suppression, error) {
	if err := p.require(append([]Permission{PermissionSuppressionsRead}, readPermissions(ch)...)...); err != nil {
		return nil, err
	}
	addr, ok := NormalizeSuppressionAddress(ch, address)
	if !ok {
		return nil, NotFound("suppression")
	}
	found, err := c.store.GetSuppressions(ctx, p.OrgID, p.TenantID, ch, []string{addr})
	if err != nil {
		return nil, AsError(err)
	}
	if found = activeOnly(found, c.now()); len(found) == 0 {
		return nil, NotFound("suppression")
	}
	return found[0], nil
}

// SuppressionRecord is what is known about one address's suppression in a namespace.
type SuppressionRecord struct {
	Channel Channel
	Address string
	// Current is the stored suppression (nil when there is none); it may have expired
	// (Current.Active tells).
	Current *Suppression
	// History lists lifted suppressions of the address, most recently removed first, at most
	// MaxSuppressionHistory.
	History []*Suppression
}

// SuppressionDetail returns the principal's suppression of an address with its history: an
// address whose suppression was lifted shows who lifted it and when. An address that was never
// suppressed in the namespace is CodeNotFound. ch may be "" when the address says which
// channel it is of (InferSuppressionChannel).
func (c *Client) SuppressionDetail(ctx context.Context, p *Principal, ch Channel, address string) (*SuppressionRecord, error) {
	if err := p.require(PermissionSuppressionsRead); err != nil {
		return nil, err
	}
	ch = InferSuppressionChannel(ch, address)
	addr, ok := NormalizeSuppressionAddress(ch, address)
	if !ok {
		return nil, NotFound("suppression")
	}
	found, err := c.store.GetSuppressions(ctx, p.OrgID, p.TenantID, ch, []string{addr})
	if err != nil {
		return nil, AsError(err)
	}
	history, err := c.store.SuppressionHistory(ctx, p.OrgID, p.TenantID, ch, addr, MaxSuppressionHistory)
	if err != nil {
		return nil, AsError(err)
	}
	if len(found) == 0 && len(history) == 0 {
		return nil, NotFound("suppression")
	}
	rec := &SuppressionRecord{Channel: ch, Address: addr, History: history}
	if len(found) > 0 {
		rec.Current = found[0]
	}
	return rec, nil
}

// SuppressionListParams are the query parameters of GET /api/v1/suppressions.
type SuppressionListParams struct {
	Limit   int    // 1..100, default 20
	Cursor  string // the next_cursor of a previous page
	Channel Channel
	// Reason filters by reason, in its API form ("stop" for SMS opt-outs).
	Reason string
	// CreatedAfter and CreatedBefore bound the creation time: after <= created < before.
	CreatedAfter, CreatedBefore *time.Time
	// TenantID lists a tenant's suppressions (platform mode): see Client.ForTenant. Without it
	// a platform-root key lists the org-wide suppressions.
	TenantID string
}

// SuppressionList is one page of suppressions.
type SuppressionList struct {
	Suppressions []*Suppression
	HasMore      bool
	NextCursor   string // "" when there is no next page
}

// ListSuppressions returns a page of the namespace's suppressions, newest first, expired
// ones included (Suppression.Active tells them apart).
func (c *Client) ListSuppressions(ctx context.Context, p *Principal, lp SuppressionListParams) (*SuppressionList, error) {
	if err := p.require(PermissionSuppressionsRead); err != nil {
		return nil, err
	}
	p, err := c.ForTenant(ctx, p, lp.TenantID)
	if err != nil {
		return nil, err
	}
	var v Validation
	q := SuppressionQuery{Channel: lp.Channel, Limit: lp.Limit, CreatedAfter: lp.CreatedAfter, CreatedBefore: lp.CreatedBefore}
	if q.Limit == 0 {
		q.Limit = DefaultListLimit
	}
	q.After = checkPage(&v, q.Limit, lp.Cursor)
	if lp.Channel != "" && lp.Channel != ChannelEmail && lp.Channel != ChannelSMS {
		v.Add(FieldInvalid, "must be email or sms", "channel")
	}
	if lp.Reason != "" {
		r, ok := ParseSuppressionReason(lp.Reason)
		if !ok {
			v.Add(FieldInvalid, "must be one of bounce, complaint, unsubscribe, stop, manual", "reason")
		}
		q.Reason = r
	}
	if q.CreatedAfter != nil && q.CreatedBefore != nil && !q.CreatedAfter.Before(*q.CreatedBefore) {
		v.Add(FieldInvalid, "must be before created_before", "created_after")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	page, err := c.store.ListSuppressions(ctx, p.Scope(), q)
	if err != nil {
		return nil, AsError(err)
	}
	out := &SuppressionList{Suppressions: page.Suppressions, HasMore: page.HasMore}
	if page.HasMore && len(page.Suppressions) > 0 {
		last := page.Suppressions[len(page.Suppressions)-1]
		out.NextCursor = EncodeCursor(Cursor{CreatedAt: last.CreatedAt, ID: last.ID})
	}
	return out, nil
}
