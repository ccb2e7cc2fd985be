package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/sendoka/sendoka/sendoka"
)

const tagSuppressions = "Suppressions"

// registerSuppressions adds the suppression list operations: list, add (one or many), get
// one address with its history, and lift (delete).
func registerSuppressions(r *registrar, h *handlers) {
	huma.Register(r.api, r.op(http.MethodGet, "/api/v1/suppressions", "list-suppressions", tagSuppressions, "List suppressions",
		"Suppressed addresses of your org (or of one tenant with tenant_id), newest first, a page at a time: "+
			"pass next_cursor as cursor for the next page. Expired suppressions are listed with active false. "+
			"Needs suppressions:read.",
		http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusUnprocessableEntity, http.StatusTooManyRequests), h.listSuppressions)
	huma.Register(r.api, r.op(http.MethodPost, "/api/v1/suppressions", "add-suppressions", tagSuppressions, "Add suppressions",
		"Adds addresses to the suppression list by hand: one ({channel, address, reason, expires_at}) or many "+
			"({suppressions: [...]}, at most 10,000; more is 422 VALIDATION_ERROR at suppressions). Each row is "+
			"checked on its own and answered in data, in order: created, exists (already suppressed: the first "+
			"suppression and its reason stay) or failed. In the single shape an invalid row is a 422. "+
			"Needs suppressions:write.",
		http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusRequestEntityTooLarge,
		http.StatusUnprocessableEntity, http.StatusTooManyRequests), h.addSuppressions)
	huma.Register(r.api, r.op(http.MethodGet, "/api/v1/suppressions/{address}", "get-suppression", tagSuppressions, "Get a suppression",
		"Whether an address is suppressed, why, since when and until when, and the suppressions of it that "+
			"were lifted (who lifted them and when). An address never suppressed in your org (or tenant) is "+
			"404 NOT_FOUND. Needs suppressions:read.",
		http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusTooManyRequests), h.getSuppression)
	huma.Register(r.api, r.op(http.MethodDelete, "/api/v1/suppressions/{address}", "delete-suppression", tagSuppressions, "Lift a suppression",
		"Removes an address from the suppression list: sends reach it again. The lifted suppression stays in "+
			"the address's history with the key that lifted it and when. An address not suppressed is 404 "+
			"NOT_FOUND. Needs suppressions:write.",
		http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusTooManyRequests), h.deleteSuppression)
}

// Suppression is a suppression as the API shows it.
type Suppression struct {
	ID        string  `json:"id" example:"sup_01HN8Z6Q4V3K2J1M0N9P8Q7R6S"`
	Channel   string  `json:"channel" enum:"email,sms" example:"email"`
	Address   string  `json:"address" doc:"Normalised: a lower-cased email address, or an E.164 number" example:"bounced@example.com"`
	Reason    string  `json:"reason" enum:"bounce,complaint,unsubscribe,stop,manual" example:"bounce"`
	MessageID *string `json:"message_id" doc:"The message whose bounce or complaint caused it, or null" example:"msg_01HN8Z6Q4V3K2J1M0N9P8Q7R6S"`
	TenantID  *string `json:"tenant_id" doc:"The tenant it suppresses for; null for org-wide"`
	Active    bool    `json:"active" doc:"Whether it suppresses now: false once expired or lifted"`
	CreatedBy *string `json:"created_by" doc:"The API key that added it by hand, or null"`
	CreatedAt string  `json:"created_at" format:"date-time" example:"2026-04-22T10:14:22.113Z"`
	ExpiresAt *string `json:"expires_at" format:"date-time" doc:"When it stops suppressing; null for never"`
	RemovedAt *string `json:"removed_at" format:"date-time" doc:"When it was lifted; null unless lifted"`
	RemovedBy *string `json:"removed_by" doc:"Who lifted it: an API key id, inbound:START for an SMS opt-in, expired for one replaced after expiry; null unless lifted"`
}

func suppressionObject(s *sendoka.Suppression, now time.Time) *Suppression {
	var removedBy *string
	if s.RemovedAt != nil {
		removedBy = &s.RemovedBy
	}
	return &Suppression{
		ID: s.ID, Channel: string(s.Channel), Address: s.Address, Reason: s.Reason.APIReason(),
		MessageID: nullable(s.MessageID), TenantID: nullable(s.TenantID), Active: s.Active(now),
		CreatedBy: nullable(s.CreatedBy), CreatedAt: formatTime(s.CreatedAt), ExpiresAt: formatTimePtr(s.ExpiresAt),
		RemovedAt: formatTimePtr(s.RemovedAt), RemovedBy: removedBy,
	}
}

// SuppressionList is one page of suppressions, newest first.
type SuppressionList struct {
	Data       []*Suppression `json:"data" nullable:"false"`
	HasMore    bool           `json:"has_more" doc:"Whether another page follows"`
	NextCursor *string        `json:"next_cursor" doc:"Pass as cursor for the next page; null on the last page"`
}

// SuppressionDetail is one address's suppression and its history.
type SuppressionDetail struct {
	Channel     string         `json:"channel" enum:"email,sms" example:"email"`
	Address     string         `json:"address" example:"bounced@example.com"`
	Suppressed  bool           `json:"suppressed" doc:"Whether sends to the address are dropped now"`
	Suppression *Suppression   `json:"suppression" doc:"The suppression on the list (possibly expired), or null when it was lifted"`
	History     []*Suppression `json:"history" nullable:"false" doc:"Lifted suppressions of the address, most recently lifted first (at most 20)"`
}

// SuppressionDeleted answers a delete.
type SuppressionDeleted struct {
	Channel   string `json:"channel" enum:"email,sms" example:"email"`
	Address   string `json:"address" example:"bounced@example.com"`
	Deleted   bool   `json:"deleted" example:"true"`
	RemovedBy string `json:"removed_by" doc:"The API key that lifted it" example:"key_01HN8Z6Q4V3K2J1M0N9P8Q7R6S"`
}

// SuppressionsRequest is the body of POST /api/v1/suppressions: either one suppression
// (channel, address, reason, expires_at) or suppressions.
type SuppressionsRequest struct {
	Channel      sendoka.Channel            `json:"channel,omitempty" enum:"email,sms" doc:"Single shape: email or sms; inferred from address when omitted"`
	Address      string                     `json:"address,omitempty" maxLength:"320" doc:"Single shape: the address to suppress" example:"someone@example.com"`
	Reason       string                     `json:"reason,omitempty" enum:"bounce,complaint,unsubscribe,stop,manual" doc:"Single shape: why; manual when omitted"`
	ExpiresAt    *time.Time                 `json:"expires_at,omitempty" doc:"Single shape: when it lapses (future); never when omitted"`
	Suppressions []sendoka.SuppressionInput `json:"suppressions,omitempty" doc:"Bulk shape: up to 10,000 suppressions"`
	TenantID     string                     `json:"tenant_id,omitempty" maxLength:"64" doc:"Platform mode: add for this tenant (platform-root keys; a tenant-bound key may only name its own)" example:"ten_01HN8Z6Q4V3K2J1M0N9P8Q7R6S"`
}

// SuppressionsAdded answers an add: one row per suppression given, in order.
type SuppressionsAdded struct {
	Data     []SuppressionAddRow `json:"data" nullable:"false"`
	Total    int                 `json:"total" doc:"Rows in the call"`
	Created  int                 `json:"created" doc:"Rows that added a suppression"`
	Existing int                 `json:"existing" doc:"Rows whose address was already suppressed"`
	Failed   int                 `json:"failed" doc:"Rows refused"`
}

// SuppressionAddRow is the outcome of one row of an add.
type SuppressionAddRow struct {
	Index       int            `json:"index" doc:"Position of the row in suppressions (0 in the single shape)"`
	Status      string         `json:"status" enum:"created,exists,failed"`
	Suppression *Suppression   `json:"suppression" doc:"The suppression in force for the address, or null when the row failed"`
	Error       *BatchRowError `json:"error" doc:"Why the row was refused, or null"`
}

type listSuppressionsInput struct {
	Limit         int    `query:"limit" minimum:"1" maximum:"100" default:"20" doc:"Page size, 1-100"`
	Cursor        string `query:"cursor" maxLength:"512" doc:"The next_cursor of the previous page"`
	Channel       string `query:"channel" enum:"email,sms" doc:"Only this channel's"`
	Reason        string `query:"reason" enum:"bounce,complaint,unsubscribe,stop,manual" doc:"Only those with this reason"`
	CreatedAfter  string `query:"created_after" format:"date-time" doc:"Only those created at or after this time (RFC 3339)"`
	CreatedBefore string `query:"created_before" format:"date-time" doc:"Only those created before this time (RFC 3339)"`
	TenantID      string `query:"tenant_id" maxLength:"64" doc:"Platform mode: this tenant's suppressions (platform-root keys; a tenant-bound key may only name its own). Without it a platform-root key lists the org-wide ones" example:"ten_01HN8Z6Q4V3K2J1M0N9P8Q7R6S"`
}

type suppressionRefInput struct {
	Address  string `path:"address" maxLength:"320" doc:"The email address or E.164 number (URL-encoded)" example:"bounced@example.com"`
	Channel  string `query:"channel" enum:"email,sms" doc:"email or sms; inferred from the address when omitted"`
	TenantID string `query:"tenant_id" maxLength:"64" doc:"Platform mode: the suppression of this tenant (platform-root keys; a tenant-bound key may only name its own)" example:"ten_01HN8Z6Q4V3K2J1M0N9P8Q7R6S"`
}

type addSuppressionsInput struct {
	jsonBody[SuppressionsRequest]
}

type suppressionListOutput struct{ Body *SuppressionList }
type suppressionDetailOutput struct{ Body *SuppressionDetail }
type suppressionDeletedOutput struct{ Body *SuppressionDeleted }
type suppressionsAddedOutput struct{ Body *SuppressionsAdded }

func (h *handlers) listSuppressions(ctx context.Context, in *listSuppressionsInput) (*suppressionListOutput, error) {
	var v sendoka.Validation
	lp := sendoka.SuppressionListParams{Limit: in.Limit, Cursor: in.Cursor, Channel: sendoka.Channel(in.Channel),
		Reason: in.Reason, TenantID: in.TenantID}
	lp.CreatedAfter = parseQueryTime(&v, in.CreatedAfter, "created_after")
	lp.CreatedBefore = parseQueryTime(&v, in.CreatedBefore, "created_before")
	if in.Cursor != "" {
		if cur, err := sendoka.DecodeCursor(in.Cursor); err == nil && hasNUL(cur.ID) {
			v.Add(sendoka.FieldInvalid, "malformed cursor", "cursor")
		}
	}
	if err := v.Err(); err != nil {
		return nil, fail(ctx, err)
	}
	page, err := h.c.ListSuppressions(ctx, PrincipalFrom(ctx), lp)
	if err != nil {
		return nil, fail(ctx, err)
	}
	now := h.c.Now()
	out := &SuppressionList{Data: make([]*Suppression, len(page.Suppressions)), HasMore: page.HasMore, NextCursor: nullable(page.NextCursor)}
	for i, s := range page.Suppressions {
		out.Data[i] = suppressionObject(s, now)
	}
	return &suppressionListOutput{Body: out}, nil
}

func parseQueryTime(v *sendoka.Validation, s, field string) *time.Time {
	if s == "" {
		return nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		v.Add(sendoka.FieldInvalid, "must be an RFC 3339 time", field)
		return nil
	}
	return &t
}

func (h *handlers) addSuppressions(ctx context.Context, in *addSuppressionsInput) (*suppressionsAddedOutput, error) {
	if err := rejectNUL(&in.Body); err != nil {
		return nil, fail(ctx, err)
	}
	body := &in.Body
	single := body.Address != "" || body.Channel != "" || body.Reason != "" || body.ExpiresAt != nil
	rows := body.Suppressions
	switch {
	case single && rows != nil:
		return nil, fail(ctx, fieldErr(sendoka.FieldInvalid, "give either address (one suppression) or suppressions, not both", "suppressions"))
	case single:
		rows = []sendoka.SuppressionInput{{Channel: body.Channel, Address: body.Address, Reason: body.Reason, ExpiresAt: body.ExpiresAt}}
	case rows == nil:
		return nil, fail(ctx, fieldErr(sendoka.FieldRequired, "address (one suppression) or suppressions is required", "address"))
	}
	p, err := h.c.ForTenant(ctx, PrincipalFrom(ctx), body.TenantID)
	if err != nil {
		return nil, fail(ctx, err)
	}
	res, err := h.c.AddSuppressions(ctx, p, rows)
	if err != nil {
		return nil, fail(ctx, err)
	}
	if single && res[0].Err != nil {
		return nil, fail(ctx, res[0].Err)
	}
	now := h.c.Now()
	out := &SuppressionsAdded{Data: make([]SuppressionAddRow, len(res)), Total: len(res)}
	for i, r := range res {
		row := SuppressionAddRow{Index: i}
		switch {
		case r.Err != nil:
			row.Status = "failed"
			row.Error = rowError(r.Err, single, i)
			out.Failed++
		case r.Created:
			row.Status = "created"
			out.Created++
		default:
			row.Status = "exists"
			out.Existing++
		}
		if r.Suppression != nil && r.Err == nil {
			row.Suppression = suppressionObject(r.Suppression, now)
		}
		out.Data[i] = row
	}
	return &suppressionsAddedOutput{Body: out}, nil
}

// rowError is a row's error as a batch row shows it; in the bulk shape its paths start at the
// row (suppressions, i).
func rowError(err error, single bool, i int) *BatchRowError {
	e := sendoka.AsError(err)
	fields := make([]FieldError, 0, len(e.Fields))
	for _, f := range e.Fields {
		path := append([]any{}, f.Path...)
		if !single {
			path = append([]any{"suppressions", i}, path...)
		}
		fields = append(fields, FieldError{Path: path, Code: f.Code, Message: f.Message})
	}
	return &BatchRowError{Code: string(e.Code), Message: e.Message, Errors: fields}
}

func (h *handlers) suppressionPrincipal(ctx context.Context, in *suppressionRefInput) (*sendoka.Principal, error) {
	if hasNUL(in.Address) {
		return nil, sendoka.NotFound("suppression")
	}
	return h.c.ForTenant(ctx, PrincipalFrom(ctx), in.TenantID)
}

func (h *handlers) getSuppression(ctx context.Context, in *suppressionRefInput) (*suppressionDetailOutput, error) {
	p, err := h.suppressionPrincipal(ctx, in)
	if err != nil {
		return nil, fail(ctx, err)
	}
	rec, err := h.c.SuppressionDetail(ctx, p, sendoka.Channel(in.Channel), in.Address)
	if err != nil {
		return nil, fail(ctx, err)
	}
	now := h.c.Now()
	out := &SuppressionDetail{Channel: string(rec.Channel), Address: rec.Address, History: make([]*Suppression, len(rec.History))}
	if rec.Current != nil {
		out.Suppression = suppressionObject(rec.Current, now)
		out.Suppressed = out.Suppression.Active
	}
	for i, s := range rec.History {
		out.History[i] = suppressionObject(s, now)
	}
	return &suppressionDetailOutput{Body: out}, nil
}

func (h *handlers) deleteSuppression(ctx context.Context, in *suppressionRefInput) (*suppressionDeletedOutput, error) {
	p, err := h.suppressionPrincipal(ctx, in)
	if err != nil {
		return nil, fail(ctx, err)
	}
	ch := sendoka.InferSuppressionChannel(sendoka.Channel(in.Channel), in.Address)
	addr, ok := sendoka.NormalizeSuppressionAddress(ch, in.Address)
	if !ok {
		return nil, fail(ctx, sendoka.NotFound("suppression"))
	}
	lifted, err := h.c.Unsuppress(ctx, p, ch, addr)
	if err != nil {
		return nil, fail(ctx, err)
	}
	if !lifted {
		return nil, fail(ctx, sendoka.NotFound("suppression"))
	}
	return &suppressionDeletedOutput{Body: &SuppressionDeleted{Channel: string(ch), Address: addr, Deleted: true, RemovedBy: p.KeyID}}, nil
}
