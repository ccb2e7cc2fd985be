package httpapi

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/sendoka/sendoka/sendoka"
)

const tagTenants = "Tenants"

// registerTenants adds the platform-mode operations: tenants and their usage.
func registerTenants(r *registrar, h *handlers) {
	api := r.api
	huma.Register(api, r.op(http.MethodPost, "/api/v1/tenants", "create-tenant", tagTenants, "Create a tenant",
		"Makes one of your customers a tenant: its messages, templates, senders, pools, suppressions and keys are "+
			"its own. Needs a platform-root key (one without a tenant) with tenants:write; a tenant-bound key is "+
			"403 TENANT_FORBIDDEN. A slug already used by one of your tenants is 409 CONFLICT.",
		http.StatusUnauthorized, http.StatusForbidden, http.StatusConflict, http.StatusUnprocessableEntity, http.StatusTooManyRequests), h.createTenant)
	huma.Register(api, r.op(http.MethodGet, "/api/v1/tenants", "list-tenants", tagTenants, "List tenants",
		"Tenants newest first, a page at a time: pass next_cursor as cursor for the next page. A tenant-bound key "+
			"lists its own tenant only. Needs tenants:read.",
		http.StatusUnauthorized, http.StatusForbidden, http.StatusUnprocessableEntity, http.StatusTooManyRequests), h.listTenants)
	huma.Register(api, r.op(http.MethodGet, "/api/v1/tenants/{id}", "get-tenant", tagTenants, "Get a tenant",
		"One tenant. A tenant-bound key gets its own tenant; any other id is 404 NOT_FOUND. Needs tenants:read.",
		http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusTooManyRequests), h.getTenant)
	huma.Register(api, r.op(http.MethodPatch, "/api/v1/tenants/{id}", "update-tenant", tagTenants, "Update a tenant",
		"Changes the fields given; external_ref \"\" clears the reference. Needs a platform-root key with tenants:write.",
		http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusConflict,
		http.StatusUnprocessableEntity, http.StatusTooManyRequests), h.updateTenant)
	huma.Register(api, r.op(http.MethodDelete, "/api/v1/tenants/{id}", "delete-tenant", tagTenants, "Delete a tenant",
		"Deletes the tenant at once: its API keys stop working, its scheduled messages are canceled and it is no "+
			"longer found; its data (messages and their events, templates, senders, pools, suppressions, keys) is "+
			"deleted by a background job a few seconds later. Messages already queued still go out. Needs a "+
			"platform-root key with tenants:write.",
		http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusTooManyRequests), h.deleteTenant)
	huma.Register(api, r.op(http.MethodGet, "/api/v1/tenants/{id}/usage", "get-tenant-usage", tagTenants, "Get a tenant's usage",
		"The tenant's messages counted per channel and status, in the key's mode: a live key counts live "+
			"messages, a test key test messages. A tenant-bound key reads its own tenant's usage only. Needs "+
			"usage:read or tenants:read.",
		http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusTooManyRequests), h.getTenantUsage)
}

// Tenant is a tenant as the API shows it.
type Tenant struct {
	ID            string  `json:"id" example:"ten_01HN8Z6Q4V3K2J1M0N9P8Q7R6S"`
	Name          string  `json:"name" example:"Acme Corp"`
	Slug          string  `json:"slug" example:"acme"`
	ExternalRef   *string `json:"external_ref" doc:"Your own reference for the tenant, or null" example:"cust_12345"`
	MonthlyEmails int64   `json:"monthly_emails" doc:"Its own cap of live emails a month (UTC); 0: none"`
	MonthlySMS    int64   `json:"monthly_sms" doc:"Its own cap of live SMS a month (UTC); 0: none"`
	CreatedAt     string  `json:"created_at" format:"date-time" example:"2026-04-22T10:14:22.113Z"`
	UpdatedAt     string  `json:"updated_at" format:"date-time" example:"2026-04-22T10:14:22.113Z"`
}

func tenantObject(t *sendoka.Tenant) *Tenant {
	return &Tenant{ID: t.ID, Name: t.Name, Slug: t.Slug, ExternalRef: nullable(t.ExternalRef),
		MonthlyEmails: t.MonthlyEmails, MonthlySMS: t.MonthlySMS,
		CreatedAt: formatTime(t.CreatedAt), UpdatedAt: formatTime(t.UpdatedAt)}
}

// TenantList is one page of tenants, newest first.
type TenantList struct {
	Data       []*Tenant `json:"data" nullable:"false"`
	HasMore    bool      `json:"has_more" doc:"Whether another page follows"`
	NextCursor *string   `json:"next_cursor" doc:"Pass as cursor for the next page; null on the last page"`
}

// TenantDeleted answers a delete.
type TenantDeleted struct {
	ID      string `json:"id" example:"ten_01HN8Z6Q4V3K2J1M0N9P8Q7R6S"`
	Deleted bool   `json:"deleted" example:"true"`
}

// TenantUsage counts a tenant's messages in the key's mode.
type TenantUsage struct {
	TenantID string       `json:"tenant_id" example:"ten_01HN8Z6Q4V3K2J1M0N9P8Q7R6S"`
	Mode     string       `json:"mode" enum:"live,test" doc:"The key's mode: the messages counted"`
	Email    ChannelUsage `json:"email"`
	SMS      ChannelUsage `json:"sms"`
}

// ChannelUsage counts one channel's messages by status.
type ChannelUsage struct {
	Total     int `json:"total" doc:"Every message of the channel, whatever its status" example:"42"`
	Queued    int `json:"queued"`
	Scheduled int `json:"scheduled"`
	Sent      int `json:"sent"`
	Delivered int `json:"delivered"`
	Bounced   int `json:"bounced"`
	Failed    int `json:"failed"`
	Canceled  int `json:"canceled"`
}

func channelUsage(u sendoka.ChannelUsage) ChannelUsage {
	s := u.ByStatus
	return ChannelUsage{
		Total: u.Total, Queued: s[sendoka.StatusQueued], Scheduled: s[sendoka.StatusScheduled],
		Sent: s[sendoka.StatusSent], Delivered: s[sendoka.StatusDelivered], Bounced: s[sendoka.StatusBounced],
		Failed: s[sendoka.StatusFailed], Canceled: s[sendoka.StatusCanceled],
	}
}

type tenantOutput struct{ Body *Tenant }
type tenantListOutput struct{ Body *TenantList }
type tenantDeletedOutput struct{ Body *TenantDeleted }
type tenantUsageOutput struct{ Body *TenantUsage }

type createTenantInput struct {
	jsonBody[sendoka.TenantRequest]
}

type tenantIDInput struct {
	ID string `path:"id" doc:"Tenant id" example:"ten_01HN8Z6Q4V3K2J1M0N9P8Q7R6S"`
}

type updateTenantInput struct {
	ID string `path:"id" doc:"Tenant id" example:"ten_01HN8Z6Q4V3K2J1M0N9P8Q7R6S"`
	jsonBody[sendoka.TenantUpdate]
}

type listTenantsInput struct {
	Limit  int    `query:"limit" minimum:"1" maximum:"100" default:"20" doc:"Page size, 1-100"`
	Cursor string `query:"cursor" maxLength:"512" doc:"The next_cursor of the previous page"`
}

func (h *handlers) createTenant(ctx context.Context, in *createTenantInput) (*tenantOutput, error) {
	if err := rejectNUL(&in.Body); err != nil {
		return nil, fail(ctx, err)
	}
	t, err := h.c.CreateTenant(ctx, PrincipalFrom(ctx), &in.Body)
	if err != nil {
		return nil, fail(ctx, err)
	}
	return &tenantOutput{Body: tenantObject(t)}, nil
}

func (h *handlers) listTenants(ctx context.Context, in *listTenantsInput) (*tenantListOutput, error) {
	if err := checkCursor(in.Cursor); err != nil {
		return nil, fail(ctx, err)
	}
	page, err := h.c.ListTenants(ctx, PrincipalFrom(ctx), sendoka.TenantListParams{Limit: in.Limit, Cursor: in.Cursor})
	if err != nil {
		return nil, fail(ctx, err)
	}
	out := &TenantList{Data: make([]*Tenant, len(page.Tenants)), HasMore: page.HasMore, NextCursor: nullable(page.NextCursor)}
	for i, t := range page.Tenants {
		out.Data[i] = tenantObject(t)
	}
	return &tenantListOutput{Body: out}, nil
}

func (h *handlers) getTenant(ctx context.Context, in *tenantIDInput) (*tenantOutput, error) {
	t, err := h.c.GetTenant(ctx, PrincipalFrom(ctx), in.ID)
	if err != nil {
		return nil, fail(ctx, err)
	}
	return &tenantOutput{Body: tenantObject(t)}, nil
}

func (h *handlers) updateTenant(ctx context.Context, in *updateTenantInput) (*tenantOutput, error) {
	if err := rejectNUL(&in.Body); err != nil {
		return nil, fail(ctx, err)
	}
	t, err := h.c.UpdateTenant(ctx, PrincipalFrom(ctx), in.ID, &in.Body)
	if err != nil {
		return nil, fail(ctx, err)
	}
	return &tenantOutput{Body: tenantObject(t)}, nil
}

func (h *handlers) deleteTenant(ctx context.Context, in *tenantIDInput) (*tenantDeletedOutput, error) {
	if err := h.c.DeleteTenant(ctx, PrincipalFrom(ctx), in.ID); err != nil {
		return nil, fail(ctx, err)
	}
	return &tenantDeletedOutput{Body: &TenantDeleted{ID: in.ID, Deleted: true}}, nil
}

func (h *handlers) getTenantUsage(ctx context.Context, in *tenantIDInput) (*tenantUsageOutput, error) {
	u, err := h.c.GetTenantUsage(ctx, PrincipalFrom(ctx), in.ID)
	if err != nil {
		return nil, fail(ctx, err)
	}
	return &tenantUsageOutput{Body: &TenantUsage{TenantID: u.TenantID, Mode: string(u.Mode),
		Email: channelUsage(u.Email), SMS: channelUsage(u.SMS)}}, nil
}

// checkCursor refuses a cursor whose id holds a NUL character: no stored id has one, and
// Postgres refuses it in text.
func checkCursor(cursor string) error {
	if cursor == "" {
		return nil
	}
	if cur, err := sendoka.DecodeCursor(cursor); err == nil && hasNUL(cur.ID) {
		return fieldErr(sendoka.FieldInvalid, "malformed cursor", "cursor")
	}
	return nil
}
