package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/sendoka/sendoka/sendoka"
)

const tagWebhooks = "Webhooks"

// registerWebhooks adds the webhook endpoint operations and their delivery log.
func registerWebhooks(r *registrar, h *handlers) {
	api := r.api
	std := []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusUnprocessableEntity, http.StatusTooManyRequests}
	huma.Register(api, r.op(http.MethodPost, "/api/v1/webhooks", "create-webhook", tagWebhooks, "Create a webhook endpoint",
		"Adds an endpoint that receives signed events (all of them, or those in events; only for messages "+
			"carrying one of filter_tags when given). The answer carries the signing secret (whsec_…): the only "+
			"time it is shown. The URL must be https. Needs webhooks:write.",
		http.StatusUnauthorized, http.StatusForbidden, http.StatusUnprocessableEntity, http.StatusTooManyRequests), h.createWebhook)
	huma.Register(api, r.op(http.MethodGet, "/api/v1/webhooks", "list-webhooks", tagWebhooks, "List webhook endpoints",
		"Endpoints newest first, a page at a time, without their secrets. Needs webhooks:read or webhooks:write.",
		http.StatusUnauthorized, http.StatusForbidden, http.StatusUnprocessableEntity, http.StatusTooManyRequests), h.listWebhooks)
	huma.Register(api, r.op(http.MethodGet, "/api/v1/webhooks/{id}", "get-webhook", tagWebhooks, "Get a webhook endpoint",
		"One endpoint, without its secret; disabled_reason says why Sendoka disabled it.", std...), h.getWebhook)
	huma.Register(api, r.op(http.MethodPatch, "/api/v1/webhooks/{id}", "update-webhook", tagWebhooks, "Update a webhook endpoint",
		"Changes the fields given. enabled: true turns an endpoint Sendoka disabled back on. Needs webhooks:write.", std...), h.updateWebhook)
	huma.Register(api, r.op(http.MethodDelete, "/api/v1/webhooks/{id}", "delete-webhook", tagWebhooks, "Delete a webhook endpoint",
		"Removes the endpoint and its delivery log; deliveries not made yet are dropped. Needs webhooks:write.", std...), h.deleteWebhook)
	huma.Register(api, r.op(http.MethodPost, "/api/v1/webhooks/{id}/rotate-secret", "rotate-webhook-secret", tagWebhooks, "Rotate a webhook secret",
		"Gives the endpoint a new secret, shown in the answer only. For 24 hours the old secret keeps signing "+
			"beside it: X-Sendoka-Signature carries two v1= signatures, the old secret's first. Needs webhooks:write.", std...), h.rotateWebhook)
	huma.Register(api, r.op(http.MethodPost, "/api/v1/webhooks/{id}/test", "test-webhook", tagWebhooks, "Send a test event",
		"Queues a signed webhook.test event to the endpoint (even a disabled one) and returns its delivery; "+
			"its outcome shows in the delivery log. Needs webhooks:write.", std...), h.testWebhook)
	huma.Register(api, r.op(http.MethodGet, "/api/v1/webhooks/{id}/deliveries", "list-webhook-deliveries", tagWebhooks, "List deliveries",
		"The endpoint's delivery log newest first, a page at a time: each delivery's event, status, attempts "+
			"(status code, latency, the first 1 KB of the answer) and next retry. Needs webhooks:read or webhooks:write.", std...), h.listWebhookDeliveries)
	huma.Register(api, r.op(http.MethodPost, "/api/v1/webhooks/{id}/deliveries/{delivery_id}/replay", "replay-webhook-delivery", tagWebhooks, "Replay a delivery",
		"Sends a delivery's event again, as a new delivery (replay_of names the original) with the same body. "+
			"Needs webhooks:write.", std...), h.replayWebhookDelivery)
	huma.Register(api, r.op(http.MethodPost, "/api/v1/webhooks/{id}/replay", "replay-webhook-deliveries", tagWebhooks, "Replay failed deliveries",
		"Sends again, as new deliveries, every failed delivery of the endpoint created at or after since "+
			"(at most 1,000 a call, oldest first). Needs webhooks:write.", std...), h.replayWebhookDeliveries)
}

// WebhookEndpoint is an endpoint as the API shows it.
type WebhookEndpoint struct {
	ID             string   `json:"id" example:"whe_01HN8Z6Q4V3K2J1M0N9P8Q7R6S"`
	URL            string   `json:"url" example:"https://example.com/hooks/sendoka"`
	Description    *string  `json:"description" doc:"A note for people, or null"`
	Events         []string `json:"events" nullable:"false" doc:"Event types delivered; empty: all" example:"[\"message.delivered\"]"`
	FilterTags     []string `json:"filter_tags" nullable:"false" doc:"Only messages with one of these tags; empty: every message"`
	Enabled        bool     `json:"enabled"`
	DisabledReason *string  `json:"disabled_reason" doc:"Why Sendoka disabled the endpoint (410 Gone, or three days of failures); null otherwise"`
	TenantID       *string  `json:"tenant_id" doc:"The tenant the endpoint belongs to; null for an org-level endpoint, which hears every tenant"`
	// Secret is set on create and rotate only.
	Secret                  string  `json:"secret,omitempty" doc:"The signing secret: shown on create and rotate only" example:"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"`
	PreviousSecretExpiresAt *string `json:"previous_secret_expires_at" format:"date-time" doc:"Until when the secret before the last rotation still signs, or null"`
	CreatedAt               string  `json:"created_at" format:"date-time" example:"2026-04-22T10:14:22.113Z"`
	UpdatedAt               string  `json:"updated_at" format:"date-time" example:"2026-04-22T10:14:22.113Z"`
}

func webhookObject(e *sendoka.WebhookEndpoint) *WebhookEndpoint {
	out := &WebhookEndpoint{
		ID: e.ID, URL: e.URL, Description: nullable(e.Description), Events: []string{}, FilterTags: nonNil(e.FilterTags),
		Enabled: e.Enabled, DisabledReason: nullable(e.DisabledReason), TenantID: nullable(e.TenantID), Secret: e.Secret,
		CreatedAt: formatTime(e.CreatedAt), UpdatedAt: formatTime(e.UpdatedAt),
	}
	for _, t := range e.Events {
		out.Events = append(out.Events, string(t))
	}
	if e.PreviousSecretExpiresAt != nil && e.PreviousSecretExpiresAt.After(time.Now()) {
		out.PreviousSecretExpiresAt = formatTimePtr(e.PreviousSecretExpiresAt)
	}
	return out
}

// WebhookEndpointList is one page of endpoints.
type WebhookEndpointList struct {
	Data       []*WebhookEndpoint `json:"data" nullable:"false"`
	HasMore    bool               `json:"has_more"`
	NextCursor *string            `json:"next_cursor" doc:"Pass as cursor for the next page; null on the last page"`
}

// WebhookDeleted answers a delete.
type WebhookDeleted struct {
	ID      string `json:"id" example:"whe_01HN8Z6Q4V3K2J1M0N9P8Q7R6S"`
	Deleted bool   `json:"deleted" example:"true"`
}

// WebhookAttempt is one POST of a delivery.
type WebhookAttempt struct {
	At         string  `json:"at" format:"date-time"`
	StatusCode *int    `json:"status_code" doc:"The endpoint's HTTP status; null when it did not answer"`
	LatencyMS  int64   `json:"latency_ms"`
	Response   *string `json:"response" doc:"The first 1 KB of the answer's body, or null"`
	Error      *string `json:"error" doc:"Why there was no answer (timeout, refused address), or null"`
}

// WebhookDelivery is one event on its way to one endpoint.
type WebhookDelivery struct {
	ID           string           `json:"id" doc:"The X-Sendoka-Delivery-Id of every attempt" example:"whd_01HN8Z6Q4V3K2J1M0N9P8Q7R6S"`
	WebhookID    string           `json:"webhook_id" example:"whe_01HN8Z6Q4V3K2J1M0N9P8Q7R6S"`
	Event        string           `json:"event" example:"message.delivered"`
	MessageID    *string          `json:"message_id" doc:"The message the event is about; null for webhook.test"`
	Status       string           `json:"status" enum:"pending,succeeded,failed"`
	AttemptCount int              `json:"attempt_count"`
	Attempts     []WebhookAttempt `json:"attempts" nullable:"false" doc:"Oldest first"`
	NextRetryAt  *string          `json:"next_retry_at" format:"date-time" doc:"When the next attempt runs, or null"`
	ReplayOf     *string          `json:"replay_of" doc:"The delivery this one replays, or null"`
	CreatedAt    string           `json:"created_at" format:"date-time"`
}

func webhookDeliveryObject(d *sendoka.WebhookDelivery) *WebhookDelivery {
	out := &WebhookDelivery{
		ID: d.ID, WebhookID: d.EndpointID, Event: string(d.EventType), MessageID: nullable(d.MessageID), Status: string(d.Status),
		AttemptCount: len(d.Attempts), Attempts: make([]WebhookAttempt, len(d.Attempts)),
		NextRetryAt: formatTimePtr(d.NextRetryAt), ReplayOf: nullable(d.ReplayOf), CreatedAt: formatTime(d.CreatedAt),
	}
	for i, a := range d.Attempts {
		out.Attempts[i] = WebhookAttempt{At: formatTime(a.At), LatencyMS: a.LatencyMS, Response: nullable(a.Response), Error: nullable(a.Error)}
		if a.StatusCode != 0 {
			code := a.StatusCode
			out.Attempts[i].StatusCode = &code
		}
	}
	return out
}

// WebhookDeliveryList is one page of a delivery log.
type WebhookDeliveryList struct {
	Data       []*WebhookDelivery `json:"data" nullable:"false"`
	HasMore    bool               `json:"has_more"`
	NextCursor *string            `json:"next_cursor" doc:"Pass as cursor for the next page; null on the last page"`
}

// WebhookReplay answers a bulk replay.
type WebhookReplay struct {
	Replayed   int                `json:"replayed" doc:"How many failed deliveries are sent again"`
	Deliveries []*WebhookDelivery `json:"deliveries" nullable:"false" doc:"The new deliveries"`
}

type createWebhookInput struct {
	jsonBody[sendoka.WebhookEndpointRequest]
}

type webhookRefInput struct {
	ID       string `path:"id" doc:"Endpoint id (whe_…)" example:"whe_01HN8Z6Q4V3K2J1M0N9P8Q7R6S"`
	TenantID string `query:"tenant_id" maxLength:"64" doc:"Platform mode: the endpoint of this tenant (platform-root keys; a tenant-bound key may only name its own). Without it a platform-root key reaches the org-level endpoints"`
}

type updateWebhookInput struct {
	ID       string `path:"id" doc:"Endpoint id (whe_…)" example:"whe_01HN8Z6Q4V3K2J1M0N9P8Q7R6S"`
	TenantID string `query:"tenant_id" maxLength:"64" doc:"Platform mode: the endpoint of this tenant (platform-root keys; a tenant-bound key may only name its own). Without it a platform-root key reaches the org-level endpoints"`
	jsonBody[sendoka.WebhookEndpointUpdate]
}

type listWebhooksInput struct {
	Limit    int    `query:"limit" minimum:"1" maximum:"100" default:"20" doc:"Page size, 1-100"`
	Cursor   string `query:"cursor" maxLength:"512" doc:"The next_cursor of the previous page"`
	TenantID string `query:"tenant_id" maxLength:"64" doc:"Platform mode: list this tenant's endpoints (platform-root keys; a tenant-bound key may only name its own). Without it a platform-root key lists the org-level endpoints"`
}

type listWebhookDeliveriesInput struct {
	ID       string `path:"id" doc:"Endpoint id (whe_…)" example:"whe_01HN8Z6Q4V3K2J1M0N9P8Q7R6S"`
	TenantID string `query:"tenant_id" maxLength:"64" doc:"Platform mode: the endpoint of this tenant (platform-root keys; a tenant-bound key may only name its own). Without it a platform-root key reaches the org-level endpoints"`
	Limit    int    `query:"limit" minimum:"1" maximum:"100" default:"20" doc:"Page size, 1-100"`
	Cursor   string `query:"cursor" maxLength:"512" doc:"The next_cursor of the previous page"`
}

type replayWebhookDeliveryInput struct {
	ID         string `path:"id" doc:"Endpoint id (whe_…)" example:"whe_01HN8Z6Q4V3K2J1M0N9P8Q7R6S"`
	DeliveryID string `path:"delivery_id" doc:"Delivery id (whd_…)" example:"whd_01HN8Z6Q4V3K2J1M0N9P8Q7R6S"`
	TenantID   string `query:"tenant_id" maxLength:"64" doc:"Platform mode: the endpoint of this tenant (platform-root keys; a tenant-bound key may only name its own). Without it a platform-root key reaches the org-level endpoints"`
}

type replayWebhookDeliveriesInput struct {
	ID       string `path:"id" doc:"Endpoint id (whe_…)" example:"whe_01HN8Z6Q4V3K2J1M0N9P8Q7R6S"`
	TenantID string `query:"tenant_id" maxLength:"64" doc:"Platform mode: the endpoint of this tenant (platform-root keys; a tenant-bound key may only name its own). Without it a platform-root key reaches the org-level endpoints"`
	Since    string `query:"since" maxLength:"64" doc:"Required: replay failed deliveries created at or after this time (RFC 3339)" example:"2026-04-22T00:00:00Z"`
}

type webhookOutput struct{ Body *WebhookEndpoint }
type webhookListOutput struct{ Body *WebhookEndpointList }
type webhookDeletedOutput struct{ Body *WebhookDeleted }
type webhookDeliveryOutput struct{ Body *WebhookDelivery }
type webhookDeliveryListOutput struct{ Body *WebhookDeliveryList }
type webhookReplayOutput struct{ Body *WebhookReplay }

// webhookPrincipal is the caller, bound to the tenant named by ?tenant_id= if any.
func (h *handlers) webhookPrincipal(ctx context.Context, id, tenantID string) (*sendoka.Principal, error) {
	if hasNUL(id) {
		return nil, sendoka.NotFound("webhook endpoint")
	}
	return h.c.ForTenant(ctx, PrincipalFrom(ctx), tenantID)
}

func (h *handlers) createWebhook(ctx context.Context, in *createWebhookInput) (*webhookOutput, error) {
	if err := rejectNUL(&in.Body); err != nil {
		return nil, fail(ctx, err)
	}
	e, err := h.c.CreateWebhookEndpoint(ctx, PrincipalFrom(ctx), &in.Body)
	if err != nil {
		return nil, fail(ctx, err)
	}
	return &webhookOutput{Body: webhookObject(e)}, nil
}

func (h *handlers) listWebhooks(ctx context.Context, in *listWebhooksInput) (*webhookListOutput, error) {
	page, err := h.c.ListWebhookEndpoints(ctx, PrincipalFrom(ctx), sendoka.ListParams{Limit: in.Limit, Cursor: in.Cursor, TenantID: in.TenantID})
	if err != nil {
		return nil, fail(ctx, err)
	}
	out := &WebhookEndpointList{Data: make([]*WebhookEndpoint, len(page.Endpoints)), HasMore: page.HasMore, NextCursor: nullable(page.NextCursor)}
	for i, e := range page.Endpoints {
		out.Data[i] = webhookObject(e)
	}
	return &webhookListOutput{Body: out}, nil
}

func (h *handlers) getWebhook(ctx context.Context, in *webhookRefInput) (*webhookOutput, error) {
	p, err := h.webhookPrincipal(ctx, in.ID, in.TenantID)
	if err != nil {
		return nil, fail(ctx, err)
	}
	e, err := h.c.GetWebhookEndpoint(ctx, p, in.ID)
	if err != nil {
		return nil, fail(ctx, err)
	}
	return &webhookOutput{Body: webhookObject(e)}, nil
}

func (h *handlers) updateWebhook(ctx context.Context, in *updateWebhookInput) (*webhookOutput, error) {
	if err := rejectNUL(&in.Body); err != nil {
		return nil, fail(ctx, err)
	}
	p, err := h.webhookPrincipal(ctx, in.ID, in.TenantID)
	if err != nil {
		return nil, fail(ctx, err)
	}
	e, err := h.c.UpdateWebhookEndpoint(ctx, p, in.ID, &in.Body)
	if err != nil {
		return nil, fail(ctx, err)
	}
	return &webhookOutput{Body: webhookObject(e)}, nil
}

func (h *handlers) deleteWebhook(ctx context.Context, in *webhookRefInput) (*webhookDeletedOutput, error) {
	p, err := h.webhookPrincipal(ctx, in.ID, in.TenantID)
	if err != nil {
		return nil, fail(ctx, err)
	}
	if err := h.c.DeleteWebhookEndpoint(ctx, p, in.ID); err != nil {
		return nil, fail(ctx, err)
	}
	return &webhookDeletedOutput{Body: &WebhookDeleted{ID: in.ID, Deleted: true}}, nil
}

func (h *handlers) rotateWebhook(ctx context.Context, in *webhookRefInput) (*webhookOutput, error) {
	p, err := h.webhookPrincipal(ctx, in.ID, in.TenantID)
	if err != nil {
		return nil, fail(ctx, err)
	}
	e, err := h.c.RotateWebhookSecret(ctx, p, in.ID)
	if err != nil {
		return nil, fail(ctx, err)
	}
	return &webhookOutput{Body: webhookObject(e)}, nil
}

func (h *handlers) testWebhook(ctx context.Context, in *webhookRefInput) (*webhookDeliveryOutput, error) {
	p, err := h.webhookPrincipal(ctx, in.ID, in.TenantID)
	if err != nil {
		return nil, fail(ctx, err)
	}
	d, err := h.c.SendTestWebhook(ctx, p, in.ID)
	if err != nil {
		return nil, fail(ctx, err)
	}
	return &webhookDeliveryOutput{Body: webhookDeliveryObject(d)}, nil
}

func (h *handlers) listWebhookDeliveries(ctx context.Context, in *listWebhookDeliveriesInput) (*webhookDeliveryListOutput, error) {
	p, err := h.webhookPrincipal(ctx, in.ID, in.TenantID)
	if err != nil {
		return nil, fail(ctx, err)
	}
	page, err := h.c.ListWebhookDeliveries(ctx, p, in.ID, sendoka.ListParams{Limit: in.Limit, Cursor: in.Cursor})
	if err != nil {
		return nil, fail(ctx, err)
	}
	out := &WebhookDeliveryList{Data: make([]*WebhookDelivery, len(page.Deliveries)), HasMore: page.HasMore, NextCursor: nullable(page.NextCursor)}
	for i, d := range page.Deliveries {
		out.Data[i] = webhookDeliveryObject(d)
	}
	return &webhookDeliveryListOutput{Body: out}, nil
}

func (h *handlers) replayWebhookDelivery(ctx context.Context, in *replayWebhookDeliveryInput) (*webhookDeliveryOutput, error) {
	p, err := h.webhookPrincipal(ctx, in.ID, in.TenantID)
	if err != nil {
		return nil, fail(ctx, err)
	}
	if hasNUL(in.DeliveryID) {
		return nil, fail(ctx, sendoka.NotFound("webhook delivery"))
	}
	d, err := h.c.ReplayWebhookDelivery(ctx, p, in.ID, in.DeliveryID)
	if err != nil {
		return nil, fail(ctx, err)
	}
	return &webhookDeliveryOutput{Body: webhookDeliveryObject(d)}, nil
}

func (h *handlers) replayWebhookDeliveries(ctx context.Context, in *replayWebhookDeliveriesInput) (*webhookReplayOutput, error) {
	p, err := h.webhookPrincipal(ctx, in.ID, in.TenantID)
	if err != nil {
		return nil, fail(ctx, err)
	}
	var since time.Time // zero: missing, which the core reports after the endpoint's 404
	if in.Since != "" {
		var perr error
		if since, perr = time.Parse(time.RFC3339, in.Since); perr != nil || since.IsZero() {
			return nil, fail(ctx, fieldErr(sendoka.FieldInvalidString, "must be an RFC 3339 time", "since"))
		}
	}
	ds, err := h.c.ReplayFailedWebhookDeliveries(ctx, p, in.ID, since)
	if err != nil {
		return nil, fail(ctx, err)
	}
	out := &WebhookReplay{Replayed: len(ds), Deliveries: make([]*WebhookDelivery, len(ds))}
	for i, d := range ds {
		out.Deliveries[i] = webhookDeliveryObject(d)
	}
	return &webhookReplayOutput{Body: out}, nil
}
