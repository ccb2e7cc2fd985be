package httpapi

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/sendoka/sendoka/sendoka"
)

const tagSenders = "SMS senders"

// registerSenders adds the SMS sender and pool operations.
func registerSenders(r *registrar, h *handlers) {
	api := r.api
	huma.Register(api, r.op(http.MethodPost, "/api/v1/phone-numbers", "create-phone-number", tagSenders, "Register an SMS sender",
		"Registers a phone number or an alphanumeric sender ID; every SMS must come from one. "+
			"An alphanumeric sender is active at once (US, CA and IN refuse them); a long code or toll-free "+
			"number is pending until the SMS provider's provisioning step activates it (the sandbox does so at once). "+
			"Needs phone_numbers:write.",
		http.StatusUnauthorized, http.StatusForbidden, http.StatusConflict, http.StatusUnprocessableEntity, http.StatusTooManyRequests), h.createPhoneNumber)
	huma.Register(api, r.op(http.MethodGet, "/api/v1/phone-numbers", "list-phone-numbers", tagSenders, "List SMS senders",
		"Registered senders newest first, a page at a time: pass next_cursor as cursor for the next page.",
		http.StatusUnauthorized, http.StatusForbidden, http.StatusUnprocessableEntity, http.StatusTooManyRequests), h.listPhoneNumbers)
	huma.Register(api, r.op(http.MethodGet, "/api/v1/phone-numbers/{id}", "get-phone-number", tagSenders, "Get an SMS sender",
		"A registered sender with its provisioning status.",
		http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusTooManyRequests), h.getPhoneNumber)
	huma.Register(api, r.op(http.MethodPost, "/api/v1/phone-numbers/{id}/provision", "provision-phone-number", tagSenders, "Run provisioning again",
		"Runs the SMS provider's provisioning step again for a pending or failed number (for example once a "+
			"10DLC campaign is approved) and returns the sender as it is now.",
		http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusTooManyRequests), h.provisionPhoneNumber)
	huma.Register(api, r.op(http.MethodDelete, "/api/v1/phone-numbers/{id}", "delete-phone-number", tagSenders, "Delete an SMS sender",
		"Removes a sender and its place in every pool. Messages already accepted from it still go out.",
		http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusTooManyRequests), h.deletePhoneNumber)

	huma.Register(api, r.op(http.MethodPost, "/api/v1/phone-pools", "create-phone-pool", tagSenders, "Create a sender pool",
		"A named set of your senders. A message sent with from_pool goes out from an active member, preferring "+
			"members of the recipient's country, spread evenly. With default true, messages that name neither from "+
			"nor from_pool use this pool (one default per org, or per tenant).",
		http.StatusUnauthorized, http.StatusForbidden, http.StatusConflict, http.StatusUnprocessableEntity, http.StatusTooManyRequests), h.createPhonePool)
	huma.Register(api, r.op(http.MethodGet, "/api/v1/phone-pools", "list-phone-pools", tagSenders, "List sender pools",
		"Pools newest first, a page at a time.",
		http.StatusUnauthorized, http.StatusForbidden, http.StatusUnprocessableEntity, http.StatusTooManyRequests), h.listPhonePools)
	huma.Register(api, r.op(http.MethodGet, "/api/v1/phone-pools/{id}", "get-phone-pool", tagSenders, "Get a sender pool",
		"A pool and its members.",
		http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusTooManyRequests), h.getPhonePool)
	huma.Register(api, r.op(http.MethodPatch, "/api/v1/phone-pools/{id}", "update-phone-pool", tagSenders, "Update a sender pool",
		"Renames the pool, replaces its members, or makes it (or stops it being) the default. Fields left out keep their value.",
		http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusConflict, http.StatusUnprocessableEntity, http.StatusTooManyRequests), h.updatePhonePool)
	huma.Register(api, r.op(http.MethodDelete, "/api/v1/phone-pools/{id}", "delete-phone-pool", tagSenders, "Delete a sender pool",
		"Deletes the pool; its senders stay registered.",
		http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusTooManyRequests), h.deletePhonePool)
}

// PhoneNumber is a registered SMS sender.
type PhoneNumber struct {
	ID          string             `json:"id" example:"pn_01HN8Z6Q4V3K2J1M0N9P8Q7R6S"`
	Kind        string             `json:"kind" enum:"alphanumeric,long_code,toll_free" example:"long_code"`
	PhoneNumber *string            `json:"phone_number" doc:"E.164 number; null for an alphanumeric sender" example:"+15551234567"`
	SenderID    *string            `json:"sender_id" doc:"Alphanumeric sender ID; null for a number"`
	ISOCountry  string             `json:"iso_country" doc:"ISO 3166-1 alpha-2" example:"US"`
	Status      string             `json:"status" enum:"pending,active,failed" doc:"Only an active sender can send" example:"active"`
	MMS         bool               `json:"mms" doc:"Whether it can send MMS (US and Canadian numbers)"`
	Provider    *string            `json:"provider" doc:"The SMS provider whose provisioning step ran, or null" example:"sandbox"`
	Diagnostic  *MessageDiagnostic `json:"diagnostic" doc:"Why provisioning failed or is still pending; null otherwise"`
	DailyCap    int64              `json:"daily_cap" doc:"Most live SMS it sends a UTC day; 0: no cap"`
	CreatedAt   string             `json:"created_at" format:"date-time" example:"2026-04-22T10:14:22.113Z"`
	UpdatedAt   string             `json:"updated_at" format:"date-time" example:"2026-04-22T10:14:22.113Z"`
}

func phoneNumber(n *sendoka.PhoneNumber) *PhoneNumber {
	return &PhoneNumber{
		ID: n.ID, Kind: string(n.Kind), PhoneNumber: nullable(n.PhoneNumber), SenderID: nullable(n.SenderID),
		ISOCountry: n.ISOCountry, Status: string(n.Status), MMS: n.CanSendMMS(), Provider: nullable(n.Provider),
		Diagnostic: diagnostic(n.Diagnostic), DailyCap: n.DailyCap, CreatedAt: formatTime(n.CreatedAt), UpdatedAt: formatTime(n.UpdatedAt),
	}
}

// PhoneNumberList is one page of senders.
type PhoneNumberList struct {
	Data       []*PhoneNumber `json:"data" nullable:"false"`
	HasMore    bool           `json:"has_more" doc:"Whether another page follows"`
	NextCursor *string        `json:"next_cursor" doc:"Pass as cursor for the next page; null on the last page"`
}

// PhonePool is a pool of senders.
type PhonePool struct {
	ID             string   `json:"id" example:"pool_01HN8Z6Q4V3K2J1M0N9P8Q7R6S"`
	Name           string   `json:"name" example:"US notifications"`
	Default        bool     `json:"default" doc:"Used when a message names neither from nor from_pool"`
	PhoneNumberIDs []string `json:"phone_number_ids" nullable:"false" doc:"Members, in order"`
	CreatedAt      string   `json:"created_at" format:"date-time" example:"2026-04-22T10:14:22.113Z"`
	UpdatedAt      string   `json:"updated_at" format:"date-time" example:"2026-04-22T10:14:22.113Z"`
}

func phonePool(p *sendoka.PhonePool) *PhonePool {
	return &PhonePool{ID: p.ID, Name: p.Name, Default: p.Default, PhoneNumberIDs: nonNil(p.PhoneNumberIDs),
		CreatedAt: formatTime(p.CreatedAt), UpdatedAt: formatTime(p.UpdatedAt)}
}

// PhonePoolList is one page of pools.
type PhonePoolList struct {
	Data       []*PhonePool `json:"data" nullable:"false"`
	HasMore    bool         `json:"has_more" doc:"Whether another page follows"`
	NextCursor *string      `json:"next_cursor" doc:"Pass as cursor for the next page; null on the last page"`
}

// SenderDeleted answers the DELETE of a sender or a pool.
type SenderDeleted struct {
	ID      string `json:"id" example:"pn_01HN8Z6Q4V3K2J1M0N9P8Q7R6S"`
	Deleted bool   `json:"deleted" example:"true"`
}

type senderIDInput struct {
	ID string `path:"id" doc:"Sender or pool id" example:"pn_01HN8Z6Q4V3K2J1M0N9P8Q7R6S"`
}

type senderPageInput struct {
	Limit    int    `query:"limit" minimum:"1" maximum:"100" default:"20" doc:"Page size, 1-100"`
	Cursor   string `query:"cursor" maxLength:"512" doc:"The next_cursor of the previous page"`
	TenantID string `query:"tenant_id" maxLength:"64" doc:"Platform mode: only this tenant's (platform-root keys; a tenant-bound key may only name its own)" example:"ten_01HN8Z6Q4V3K2J1M0N9P8Q7R6S"`
}

func (in *senderPageInput) params() (sendoka.ListParams, error) {
	if in.Cursor != "" {
		if cur, err := sendoka.DecodeCursor(in.Cursor); err == nil && hasNUL(cur.ID) {
			var v sendoka.Validation
			v.Add(sendoka.FieldInvalid, "malformed cursor", "cursor")
			return sendoka.ListParams{}, v.Err()
		}
	}
	return sendoka.ListParams{Limit: in.Limit, Cursor: in.Cursor, TenantID: in.TenantID}, nil
}

type phoneNumberOutput struct{ Body *PhoneNumber }
type phoneNumberListOutput struct{ Body *PhoneNumberList }
type phonePoolOutput struct{ Body *PhonePool }
type phonePoolListOutput struct{ Body *PhonePoolList }
type senderDeletedOutput struct{ Body *SenderDeleted }

type createPhoneNumberInput struct {
	jsonBody[sendoka.PhoneNumberRequest]
}

func (h *handlers) createPhoneNumber(ctx context.Context, in *createPhoneNumberInput) (*phoneNumberOutput, error) {
	if err := rejectNUL(&in.Body); err != nil {
		return nil, fail(ctx, err)
	}
	n, err := h.c.CreatePhoneNumber(ctx, PrincipalFrom(ctx), &in.Body)
	if err != nil {
		return nil, fail(ctx, err)
	}
	return &phoneNumberOutput{Body: phoneNumber(n)}, nil
}

func (h *handlers) listPhoneNumbers(ctx context.Context, in *senderPageInput) (*phoneNumberListOutput, error) {
	lp, err := in.params()
	if err != nil {
		return nil, fail(ctx, err)
	}
	page, err := h.c.ListPhoneNumbers(ctx, PrincipalFrom(ctx), lp)
	if err != nil {
		return nil, fail(ctx, err)
	}
	out := &PhoneNumberList{Data: make([]*PhoneNumber, len(page.PhoneNumbers)), HasMore: page.HasMore, NextCursor: nullable(page.NextCursor)}
	for i, n := range page.PhoneNumbers {
		out.Data[i] = phoneNumber(n)
	}
	return &phoneNumberListOutput{Body: out}, nil
}

func (h *handlers) getPhoneNumber(ctx context.Context, in *senderIDInput) (*phoneNumberOutput, error) {
	n, err := h.c.GetPhoneNumber(ctx, PrincipalFrom(ctx), in.ID)
	if err != nil {
		return nil, fail(ctx, err)
	}
	return &phoneNumberOutput{Body: phoneNumber(n)}, nil
}

func (h *handlers) provisionPhoneNumber(ctx context.Context, in *senderIDInput) (*phoneNumberOutput, error) {
	n, err := h.c.ProvisionPhoneNumber(ctx, PrincipalFrom(ctx), in.ID)
	if err != nil {
		return nil, fail(ctx, err)
	}
	return &phoneNumberOutput{Body: phoneNumber(n)}, nil
}

func (h *handlers) deletePhoneNumber(ctx context.Context, in *senderIDInput) (*senderDeletedOutput, error) {
	if err := h.c.DeletePhoneNumber(ctx, PrincipalFrom(ctx), in.ID); err != nil {
		return nil, fail(ctx, err)
	}
	return &senderDeletedOutput{Body: &SenderDeleted{ID: in.ID, Deleted: true}}, nil
}

type createPhonePoolInput struct {
	jsonBody[sendoka.PhonePoolRequest]
}

func (h *handlers) createPhonePool(ctx context.Context, in *createPhonePoolInput) (*phonePoolOutput, error) {
	if err := rejectNUL(&in.Body); err != nil {
		return nil, fail(ctx, err)
	}
	p, err := h.c.CreatePhonePool(ctx, PrincipalFrom(ctx), &in.Body)
	if err != nil {
		return nil, fail(ctx, err)
	}
	return &phonePoolOutput{Body: phonePool(p)}, nil
}

type updatePhonePoolInput struct {
	ID string `path:"id" doc:"Pool id" example:"pool_01HN8Z6Q4V3K2J1M0N9P8Q7R6S"`
	jsonBody[sendoka.PhonePoolUpdate]
}

func (h *handlers) updatePhonePool(ctx context.Context, in *updatePhonePoolInput) (*phonePoolOutput, error) {
	if err := rejectNUL(&in.Body); err != nil {
		return nil, fail(ctx, err)
	}
	p, err := h.c.UpdatePhonePool(ctx, PrincipalFrom(ctx), in.ID, &in.Body)
	if err != nil {
		return nil, fail(ctx, err)
	}
	return &phonePoolOutput{Body: phonePool(p)}, nil
}

func (h *handlers) listPhonePools(ctx context.Context, in *senderPageInput) (*phonePoolListOutput, error) {
	lp, err := in.params()
	if err != nil {
		return nil, fail(ctx, err)
	}
	page, err := h.c.ListPhonePools(ctx, PrincipalFrom(ctx), lp)
	if err != nil {
		return nil, fail(ctx, err)
	}
	out := &PhonePoolList{Data: make([]*PhonePool, len(page.Pools)), HasMore: page.HasMore, NextCursor: nullable(page.NextCursor)}
	for i, p := range page.Pools {
		out.Data[i] = phonePool(p)
	}
	return &phonePoolListOutput{Body: out}, nil
}

func (h *handlers) getPhonePool(ctx context.Context, in *senderIDInput) (*phonePoolOutput, error) {
	p, err := h.c.GetPhonePool(ctx, PrincipalFrom(ctx), in.ID)
	if err != nil {
		return nil, fail(ctx, err)
	}
	return &phonePoolOutput{Body: phonePool(p)}, nil
}

func (h *handlers) deletePhonePool(ctx context.Context, in *senderIDInput) (*senderDeletedOutput, error) {
	if err := h.c.DeletePhonePool(ctx, PrincipalFrom(ctx), in.ID); err != nil {
		return nil, fail(ctx, err)
	}
	return &senderDeletedOutput{Body: &SenderDeleted{ID: in.ID, Deleted: true}}, nil
}
