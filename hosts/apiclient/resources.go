package apiclient

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/sendoka/sendoka/hosts/httpapi"
	"github.com/sendoka/sendoka/sendoka"
)

// Templates.

// CreateTemplate stores a template (POST /api/v1/templates).
func (c *Client) CreateTemplate(ctx context.Context, req *sendoka.TemplateRequest) (*httpapi.Template, error) {
	return invoke[httpapi.Template](ctx, c, call{method: http.MethodPost, path: "/api/v1/templates", body: req, safety: keyed})
}

// ListTemplates returns a page of templates, newest first (GET /api/v1/templates).
func (c *Client) ListTemplates(ctx context.Context, lp sendoka.TemplateListParams) (*httpapi.TemplateList, error) {
	q := listQuery(sendoka.ListParams{Limit: lp.Limit, Cursor: lp.Cursor, TenantID: lp.TenantID})
	set(q, "channel", string(lp.Channel))
	return invoke[httpapi.TemplateList](ctx, c, call{method: http.MethodGet, path: "/api/v1/templates", query: q, tenantQuery: true})
}

// PreviewTemplate renders a draft template with sample variables, storing nothing
// (POST /api/v1/templates/preview).
func (c *Client) PreviewTemplate(ctx context.Context, req *httpapi.TemplatePreviewRequest) (*httpapi.TemplatePreview, error) {
	return invoke[httpapi.TemplatePreview](ctx, c, call{method: http.MethodPost, path: "/api/v1/templates/preview", body: req, safety: repeatable})
}

// GetTemplate returns a template by id (tpl_…) or slug (GET /api/v1/templates/{id_or_slug}).
func (c *Client) GetTemplate(ctx context.Context, idOrSlug string) (*httpapi.Template, error) {
	return invoke[httpapi.Template](ctx, c, call{method: http.MethodGet, path: pathf("/api/v1/templates/%s", idOrSlug), tenantQuery: true})
}

// UpdateTemplate changes the fields given (PATCH /api/v1/templates/{id_or_slug}).
func (c *Client) UpdateTemplate(ctx context.Context, idOrSlug string, req *sendoka.TemplateUpdate) (*httpapi.Template, error) {
	return invoke[httpapi.Template](ctx, c, call{method: http.MethodPatch, path: pathf("/api/v1/templates/%s", idOrSlug), body: req, tenantQuery: true})
}

// DeleteTemplate removes a template (DELETE /api/v1/templates/{id_or_slug}).
func (c *Client) DeleteTemplate(ctx context.Context, idOrSlug string) (*httpapi.TemplateDeleted, error) {
	return invoke[httpapi.TemplateDeleted](ctx, c, call{method: http.MethodDelete, path: pathf("/api/v1/templates/%s", idOrSlug), tenantQuery: true})
}

// API keys.

// CreateAPIKey creates a key (POST /api/v1/api-keys); the answer holds its plaintext, shown
// this once. Not retried after a 5xx: a retry could make a second key.
func (c *Client) CreateAPIKey(ctx context.Context, req *httpapi.APIKeyCreate) (*httpapi.APIKeyCreated, error) {
	return invoke[httpapi.APIKeyCreated](ctx, c, call{method: http.MethodPost, path: "/api/v1/api-keys", body: req})
}

// ListAPIKeys lists the keys of the org (or tenant), newest first (GET /api/v1/api-keys).
func (c *Client) ListAPIKeys(ctx context.Context) (*httpapi.APIKeyList, error) {
	return invoke[httpapi.APIKeyList](ctx, c, call{method: http.MethodGet, path: "/api/v1/api-keys"})
}

// GetAPIKey returns a key, never its secret (GET /api/v1/api-keys/{id}).
func (c *Client) GetAPIKey(ctx context.Context, id string) (*httpapi.APIKey, error) {
	return invoke[httpapi.APIKey](ctx, c, call{method: http.MethodGet, path: pathf("/api/v1/api-keys/%s", id)})
}

// UpdateAPIKey changes the fields given (PATCH /api/v1/api-keys/{id}).
func (c *Client) UpdateAPIKey(ctx context.Context, id string, req *httpapi.APIKeyUpdate) (*httpapi.APIKey, error) {
	return invoke[httpapi.APIKey](ctx, c, call{method: http.MethodPatch, path: pathf("/api/v1/api-keys/%s", id), body: req})
}

// RevokeAPIKey revokes a key (DELETE /api/v1/api-keys/{id}).
func (c *Client) RevokeAPIKey(ctx context.Context, id string) (*httpapi.APIKey, error) {
	return invoke[httpapi.APIKey](ctx, c, call{method: http.MethodDelete, path: pathf("/api/v1/api-keys/%s", id)})
}

// SMS senders and pools.

// CreatePhoneNumber registers an SMS sender (POST /api/v1/phone-numbers).
func (c *Client) CreatePhoneNumber(ctx context.Context, req *sendoka.PhoneNumberRequest) (*httpapi.PhoneNumber, error) {
	return invoke[httpapi.PhoneNumber](ctx, c, call{method: http.MethodPost, path: "/api/v1/phone-numbers", body: req, safety: keyed})
}

// ListPhoneNumbers returns a page of senders (GET /api/v1/phone-numbers).
func (c *Client) ListPhoneNumbers(ctx context.Context, lp sendoka.ListParams) (*httpapi.PhoneNumberList, error) {
	return invoke[httpapi.PhoneNumberList](ctx, c, call{method: http.MethodGet, path: "/api/v1/phone-numbers", query: listQuery(lp), tenantQuery: true})
}

// GetPhoneNumber returns a sender with its provisioning status (GET /api/v1/phone-numbers/{id}).
func (c *Client) GetPhoneNumber(ctx context.Context, id string) (*httpapi.PhoneNumber, error) {
	return invoke[httpapi.PhoneNumber](ctx, c, call{method: http.MethodGet, path: pathf("/api/v1/phone-numbers/%s", id)})
}

// ProvisionPhoneNumber runs the provider's provisioning step again, for example once a
// 10DLC campaign is approved (POST /api/v1/phone-numbers/{id}/provision).
func (c *Client) ProvisionPhoneNumber(ctx context.Context, id string) (*httpapi.PhoneNumber, error) {
	return invoke[httpapi.PhoneNumber](ctx, c, call{method: http.MethodPost, path: pathf("/api/v1/phone-numbers/%s/provision", id), safety: repeatable})
}

// DeletePhoneNumber removes a sender (DELETE /api/v1/phone-numbers/{id}).
func (c *Client) DeletePhoneNumber(ctx context.Context, id string) (*httpapi.SenderDeleted, error) {
	return invoke[httpapi.SenderDeleted](ctx, c, call{method: http.MethodDelete, path: pathf("/api/v1/phone-numbers/%s", id)})
}

// CreatePhonePool creates a pool of senders (POST /api/v1/phone-pools).
func (c *Client) CreatePhonePool(ctx context.Context, req *sendoka.PhonePoolRequest) (*httpapi.PhonePool, error) {
	return invoke[httpapi.PhonePool](ctx, c, call{method: http.MethodPost, path: "/api/v1/phone-pools", body: req, safety: keyed})
}

// ListPhonePools returns a page of pools (GET /api/v1/phone-pools).
func (c *Client) ListPhonePools(ctx context.Context, lp sendoka.ListParams) (*httpapi.PhonePoolList, error) {
	return invoke[httpapi.PhonePoolList](ctx, c, call{method: http.MethodGet, path: "/api/v1/phone-pools", query: listQuery(lp), tenantQuery: true})
}

// GetPhonePool returns a pool and its members (GET /api/v1/phone-pools/{id}).
func (c *Client) GetPhonePool(ctx context.Context, id string) (*httpapi.PhonePool, error) {
	return invoke[httpapi.PhonePool](ctx, c, call{method: http.MethodGet, path: pathf("/api/v1/phone-pools/%s", id)})
}

// UpdatePhonePool renames a pool, replaces its members or changes the default
// (PATCH /api/v1/phone-pools/{id}).
func (c *Client) UpdatePhonePool(ctx context.Context, id string, req *sendoka.PhonePoolUpdate) (*httpapi.PhonePool, error) {
	return invoke[httpapi.PhonePool](ctx, c, call{method: http.MethodPatch, path: pathf("/api/v1/phone-pools/%s", id), body: req})
}

// DeletePhonePool deletes a pool; its senders stay (DELETE /api/v1/phone-pools/{id}).
func (c *Client) DeletePhonePool(ctx context.Context, id string) (*httpapi.SenderDeleted, error) {
	return invoke[httpapi.SenderDeleted](ctx, c, call{method: http.MethodDelete, path: pathf("/api/v1/phone-pools/%s", id)})
}

// Tenants.

// CreateTenant makes a tenant (POST /api/v1/tenants); needs a platform-root key.
func (c *Client) CreateTenant(ctx context.Context, req *sendoka.TenantRequest) (*httpapi.Tenant, error) {
	return invoke[httpapi.Tenant](ctx, c, call{method: http.MethodPost, path: "/api/v1/tenants", body: req, safety: keyed})
}

// ListTenants returns a page of tenants, newest first (GET /api/v1/tenants).
func (c *Client) ListTenants(ctx context.Context, lp sendoka.TenantListParams) (*httpapi.TenantList, error) {
	return invoke[httpapi.TenantList](ctx, c, call{method: http.MethodGet, path: "/api/v1/tenants",
		query: listQuery(sendoka.ListParams{Limit: lp.Limit, Cursor: lp.Cursor})})
}

// GetTenant returns a tenant (GET /api/v1/tenants/{id}).
func (c *Client) GetTenant(ctx context.Context, id string) (*httpapi.Tenant, error) {
	return invoke[httpapi.Tenant](ctx, c, call{method: http.MethodGet, path: pathf("/api/v1/tenants/%s", id)})
}

// UpdateTenant changes the fields given (PATCH /api/v1/tenants/{id}).
func (c *Client) UpdateTenant(ctx context.Context, id string, req *sendoka.TenantUpdate) (*httpapi.Tenant, error) {
	return invoke[httpapi.Tenant](ctx, c, call{method: http.MethodPatch, path: pathf("/api/v1/tenants/%s", id), body: req})
}

// DeleteTenant deletes a tenant and, shortly after, its data (DELETE /api/v1/tenants/{id}).
func (c *Client) DeleteTenant(ctx context.Context, id string) (*httpapi.TenantDeleted, error) {
	return invoke[httpapi.TenantDeleted](ctx, c, call{method: http.MethodDelete, path: pathf("/api/v1/tenants/%s", id)})
}

// GetTenantUsage counts a tenant's messages per channel and status
// (GET /api/v1/tenants/{id}/usage).
func (c *Client) GetTenantUsage(ctx context.Context, id string) (*httpapi.TenantUsage, error) {
	return invoke[httpapi.TenantUsage](ctx, c, call{method: http.MethodGet, path: pathf("/api/v1/tenants/%s/usage", id)})
}

// Domains.

// CreateDomain adds a sending domain, with the DNS records to publish (POST /api/v1/domains).
func (c *Client) CreateDomain(ctx context.Context, req *sendoka.DomainRequest) (*httpapi.Domain, error) {
	return invoke[httpapi.Domain](ctx, c, call{method: http.MethodPost, path: "/api/v1/domains", body: req, safety: keyed})
}

// ListDomains returns a page of sending domains (GET /api/v1/domains).
func (c *Client) ListDomains(ctx context.Context, lp sendoka.ListParams) (*httpapi.DomainList, error) {
	return invoke[httpapi.DomainList](ctx, c, call{method: http.MethodGet, path: "/api/v1/domains", query: listQuery(lp), tenantQuery: true})
}

// GetDomain returns a domain with its records (GET /api/v1/domains/{id}).
func (c *Client) GetDomain(ctx context.Context, id string) (*httpapi.Domain, error) {
	return invoke[httpapi.Domain](ctx, c, call{method: http.MethodGet, path: pathf("/api/v1/domains/%s", id)})
}

// VerifyDomain looks the domain's records up now (POST /api/v1/domains/{id}/verify).
func (c *Client) VerifyDomain(ctx context.Context, id string) (*httpapi.Domain, error) {
	return invoke[httpapi.Domain](ctx, c, call{method: http.MethodPost, path: pathf("/api/v1/domains/%s/verify", id), safety: repeatable})
}

// DeleteDomain removes a sending domain (DELETE /api/v1/domains/{id}).
func (c *Client) DeleteDomain(ctx context.Context, id string) (*httpapi.DomainDeleted, error) {
	return invoke[httpapi.DomainDeleted](ctx, c, call{method: http.MethodDelete, path: pathf("/api/v1/domains/%s", id)})
}

// Webhooks.

// CreateWebhook adds an endpoint (POST /api/v1/webhooks); the answer holds its signing
// secret, shown this once. Not retried after a 5xx.
func (c *Client) CreateWebhook(ctx context.Context, req *sendoka.WebhookEndpointRequest) (*httpapi.WebhookEndpoint, error) {
	return invoke[httpapi.WebhookEndpoint](ctx, c, call{method: http.MethodPost, path: "/api/v1/webhooks", body: req})
}

// ListWebhooks returns a page of endpoints (GET /api/v1/webhooks).
func (c *Client) ListWebhooks(ctx context.Context, lp sendoka.ListParams) (*httpapi.WebhookEndpointList, error) {
	return invoke[httpapi.WebhookEndpointList](ctx, c, call{method: http.MethodGet, path: "/api/v1/webhooks", query: listQuery(lp), tenantQuery: true})
}

// GetWebhook returns an endpoint without its secret (GET /api/v1/webhooks/{id}).
func (c *Client) GetWebhook(ctx context.Context, id string) (*httpapi.WebhookEndpoint, error) {
	return invoke[httpapi.WebhookEndpoint](ctx, c, call{method: http.MethodGet, path: pathf("/api/v1/webhooks/%s", id), tenantQuery: true})
}

// UpdateWebhook changes the fields given (PATCH /api/v1/webhooks/{id}).
func (c *Client) UpdateWebhook(ctx context.Context, id string, req *sendoka.WebhookEndpointUpdate) (*httpapi.WebhookEndpoint, error) {
	return invoke[httpapi.WebhookEndpoint](ctx, c, call{method: http.MethodPatch, path: pathf("/api/v1/webhooks/%s", id), body: req, tenantQuery: true})
}

// DeleteWebhook removes an endpoint and its delivery log (DELETE /api/v1/webhooks/{id}).
func (c *Client) DeleteWebhook(ctx context.Context, id string) (*httpapi.WebhookDeleted, error) {
	return invoke[httpapi.WebhookDeleted](ctx, c, call{method: http.MethodDelete, path: pathf("/api/v1/webhooks/%s", id), tenantQuery: true})
}

// RotateWebhookSecret gives an endpoint a new secret, shown in the answer only
// (POST /api/v1/webhooks/{id}/rotate-secret). Not retried after a 5xx.
func (c *Client) RotateWebhookSecret(ctx context.Context, id string) (*httpapi.WebhookEndpoint, error) {
	return invoke[httpapi.WebhookEndpoint](ctx, c, call{method: http.MethodPost, path: pathf("/api/v1/webhooks/%s/rotate-secret", id), tenantQuery: true})
}

// TestWebhook queues a signed webhook.test event to an endpoint
// (POST /api/v1/webhooks/{id}/test).
func (c *Client) TestWebhook(ctx context.Context, id string) (*httpapi.WebhookDelivery, error) {
	return invoke[httpapi.WebhookDelivery](ctx, c, call{method: http.MethodPost, path: pathf("/api/v1/webhooks/%s/test", id), tenantQuery: true})
}

// ListWebhookDeliveries returns a page of an endpoint's delivery log, newest first
// (GET /api/v1/webhooks/{id}/deliveries). Only lp.Limit and lp.Cursor apply.
func (c *Client) ListWebhookDeliveries(ctx context.Context, id string, lp sendoka.ListParams) (*httpapi.WebhookDeliveryList, error) {
	return invoke[httpapi.WebhookDeliveryList](ctx, c, call{method: http.MethodGet, path: pathf("/api/v1/webhooks/%s/deliveries", id),
		query: listQuery(sendoka.ListParams{Limit: lp.Limit, Cursor: lp.Cursor, TenantID: lp.TenantID}), tenantQuery: true})
}

// ReplayWebhookDelivery sends a delivery's event again as a new delivery
// (POST /api/v1/webhooks/{id}/deliveries/{delivery_id}/replay).
func (c *Client) ReplayWebhookDelivery(ctx context.Context, id, deliveryID string) (*httpapi.WebhookDelivery, error) {
	return invoke[httpapi.WebhookDelivery](ctx, c, call{method: http.MethodPost,
		path: pathf("/api/v1/webhooks/%s/deliveries/%s/replay", id, deliveryID), tenantQuery: true})
}

// ReplayWebhookDeliveries sends again every failed delivery of an endpoint created at or
// after since (POST /api/v1/webhooks/{id}/replay).
func (c *Client) ReplayWebhookDeliveries(ctx context.Context, id string, since time.Time) (*httpapi.WebhookReplay, error) {
	q := url.Values{"since": {since.UTC().Format(time.RFC3339)}}
	return invoke[httpapi.WebhookReplay](ctx, c, call{method: http.MethodPost, path: pathf("/api/v1/webhooks/%s/replay", id), query: q, tenantQuery: true})
}

// Org and usage.

// GetOrg returns the org, its plan and its effective limits (GET /api/v1/org).
func (c *Client) GetOrg(ctx context.Context) (*httpapi.OrgObject, error) {
	return invoke[httpapi.OrgObject](ctx, c, call{method: http.MethodGet, path: "/api/v1/org"})
}

// UpdateOrg changes the plan and the org's own limits (PATCH /api/v1/org).
func (c *Client) UpdateOrg(ctx context.Context, req *httpapi.OrgPatch) (*httpapi.OrgObject, error) {
	return invoke[httpapi.OrgObject](ctx, c, call{method: http.MethodPatch, path: "/api/v1/org", body: req})
}

// GetUsage returns what the org (or tenant) sent in a range, in the key's mode
// (GET /api/v1/usage).
func (c *Client) GetUsage(ctx context.Context, uq sendoka.UsageQuery) (*httpapi.UsageObject, error) {
	q := url.Values{}
	if !uq.From.IsZero() {
		q.Set("from", uq.From.UTC().Format(time.RFC3339Nano))
	}
	if !uq.To.IsZero() {
		q.Set("to", uq.To.UTC().Format(time.RFC3339Nano))
	}
	set(q, "group_by", uq.GroupBy)
	set(q, "tenant_id", uq.TenantID)
	return invoke[httpapi.UsageObject](ctx, c, call{method: http.MethodGet, path: "/api/v1/usage", query: q})
}

// Health.

// Health checks that the server answers (GET /healthz). Probes are not retried.
func (c *Client) Health(ctx context.Context) error {
	return c.do(ctx, call{method: http.MethodGet, path: "/healthz", once: true}, nil)
}

// Ready checks that the server can take traffic (GET /readyz): an *sendoka.Error with code
// NOT_READY when a dependency is down.
func (c *Client) Ready(ctx context.Context) error {
	return c.do(ctx, call{method: http.MethodGet, path: "/readyz", once: true}, nil)
}

// Suppressions.

// SuppressionQuery filters ListSuppressions; its zero value lists the first page of all.
type SuppressionQuery struct {
	Limit  int
	Cursor string
	// Channel ("email" or "sms") and Reason (bounce, complaint, unsubscribe, stop, manual)
	// narrow the list; CreatedAfter (inclusive) and CreatedBefore (exclusive) bound it.
	Channel, Reason             string
	CreatedAfter, CreatedBefore time.Time
	// TenantID lists one tenant's (platform-root keys).
	TenantID string
}

func (q SuppressionQuery) values() url.Values {
	v := listQuery(sendoka.ListParams{Limit: q.Limit, Cursor: q.Cursor, TenantID: q.TenantID})
	set(v, "channel", q.Channel)
	set(v, "reason", q.Reason)
	if !q.CreatedAfter.IsZero() {
		v.Set("created_after", q.CreatedAfter.UTC().Format(time.RFC3339Nano))
	}
	if !q.CreatedBefore.IsZero() {
		v.Set("created_before", q.CreatedBefore.UTC().Format(time.RFC3339Nano))
	}
	return v
}

// ListSuppressions returns a page of suppressions, newest first (GET /api/v1/suppressions).
func (c *Client) ListSuppressions(ctx context.Context, q SuppressionQuery) (*httpapi.SuppressionList, error) {
	return invoke[httpapi.SuppressionList](ctx, c, call{method: http.MethodGet, path: "/api/v1/suppressions", query: q.values(), tenantQuery: true})
}

// AddSuppressions adds one suppression (the request's single shape) or up to 10,000
// (Suppressions), each answered on its own row (POST /api/v1/suppressions). Adding again is
// harmless (a row answers exists), so it is retried like any keyed create.
func (c *Client) AddSuppressions(ctx context.Context, req *httpapi.SuppressionsRequest) (*httpapi.SuppressionsAdded, error) {
	return invoke[httpapi.SuppressionsAdded](ctx, c, call{method: http.MethodPost, path: "/api/v1/suppressions", body: req, safety: repeatable})
}

// GetSuppression says whether an address is suppressed, and its history
// (GET /api/v1/suppressions/{address}); channel may be "" to infer it from the address.
func (c *Client) GetSuppression(ctx context.Context, address, channel string) (*httpapi.SuppressionDetail, error) {
	q := url.Values{}
	set(q, "channel", channel)
	return invoke[httpapi.SuppressionDetail](ctx, c, call{method: http.MethodGet, path: pathf("/api/v1/suppressions/%s", address), query: q, tenantQuery: true})
}

// DeleteSuppression lifts a suppression: sends reach the address again
// (DELETE /api/v1/suppressions/{address}).
func (c *Client) DeleteSuppression(ctx context.Context, address, channel string) (*httpapi.SuppressionDeleted, error) {
	q := url.Values{}
	set(q, "channel", channel)
	return invoke[httpapi.SuppressionDeleted](ctx, c, call{method: http.MethodDelete, path: pathf("/api/v1/suppressions/%s", address), query: q, tenantQuery: true})
}

// Audiences.

// CreateAudience creates an empty audience (POST /api/v1/audiences).
func (c *Client) CreateAudience(ctx context.Context, req *sendoka.AudienceRequest) (*httpapi.Audience, error) {
	return invoke[httpapi.Audience](ctx, c, call{method: http.MethodPost, path: "/api/v1/audiences", body: req, safety: keyed})
}

// ListAudiences returns a page of audiences, newest first (GET /api/v1/audiences); Status
// and Tag of lp are not used.
func (c *Client) ListAudiences(ctx context.Context, lp sendoka.ListParams) (*httpapi.AudienceList, error) {
	q := listQuery(sendoka.ListParams{Limit: lp.Limit, Cursor: lp.Cursor, TenantID: lp.TenantID})
	return invoke[httpapi.AudienceList](ctx, c, call{method: http.MethodGet, path: "/api/v1/audiences", query: q, tenantQuery: true})
}

// GetAudience returns an audience with its contact counts (GET /api/v1/audiences/{id}).
func (c *Client) GetAudience(ctx context.Context, id string) (*httpapi.Audience, error) {
	return invoke[httpapi.Audience](ctx, c, call{method: http.MethodGet, path: pathf("/api/v1/audiences/%s", id), tenantQuery: true})
}

// UpdateAudience changes the fields given (PATCH /api/v1/audiences/{id}).
func (c *Client) UpdateAudience(ctx context.Context, id string, req *sendoka.AudienceUpdate) (*httpapi.Audience, error) {
	return invoke[httpapi.Audience](ctx, c, call{method: http.MethodPatch, path: pathf("/api/v1/audiences/%s", id), body: req, tenantQuery: true})
}

// DeleteAudience removes an audience and its contacts (DELETE /api/v1/audiences/{id}).
func (c *Client) DeleteAudience(ctx context.Context, id string) (*httpapi.AudienceDeleted, error) {
	return invoke[httpapi.AudienceDeleted](ctx, c, call{method: http.MethodDelete, path: pathf("/api/v1/audiences/%s", id), tenantQuery: true})
}

// AddContacts adds up to 10,000 contacts to an audience, or updates the ones already there,
// each answered on its own row (POST /api/v1/audiences/{id}/contacts). Adding again merges
// into the same contacts, so it is retried like any keyed create.
func (c *Client) AddContacts(ctx context.Context, audienceID string, contacts []sendoka.ContactInput) (*httpapi.ContactsAdded, error) {
	return invoke[httpapi.ContactsAdded](ctx, c, call{method: http.MethodPost, path: pathf("/api/v1/audiences/%s/contacts", audienceID),
		body: contacts, safety: repeatable, tenantQuery: true})
}

// ListContacts returns a page of an audience's contacts, newest first
// (GET /api/v1/audiences/{id}/contacts).
func (c *Client) ListContacts(ctx context.Context, audienceID string, lp sendoka.ContactListParams) (*httpapi.ContactList, error) {
	q := listQuery(sendoka.ListParams{Limit: lp.Limit, Cursor: lp.Cursor})
	if lp.Subscribed != nil {
		q.Set("subscribed", strconv.FormatBool(*lp.Subscribed))
	}
	return invoke[httpapi.ContactList](ctx, c, call{method: http.MethodGet, path: pathf("/api/v1/audiences/%s/contacts", audienceID), query: q, tenantQuery: true})
}

// DeleteContact removes a contact from an audience
// (DELETE /api/v1/audiences/{id}/contacts/{contact_id}).
func (c *Client) DeleteContact(ctx context.Context, audienceID, contactID string) (*httpapi.ContactDeleted, error) {
	return invoke[httpapi.ContactDeleted](ctx, c, call{method: http.MethodDelete,
		path: pathf("/api/v1/audiences/%s/contacts/%s", audienceID, contactID), tenantQuery: true})
}

// SendToAudience sends a template to every subscribed, unsuppressed contact of an audience
// (POST /api/v1/audiences/{id}/send); the messages are made in the background. Not retried
// after a 5xx: a retry could send twice.
func (c *Client) SendToAudience(ctx context.Context, audienceID string, req *sendoka.AudienceSendRequest) (*httpapi.AudienceSendAccepted, error) {
	return invoke[httpapi.AudienceSendAccepted](ctx, c, call{method: http.MethodPost, path: pathf("/api/v1/audiences/%s/send", audienceID),
		body: req, tenantQuery: true})
}

// GetAudienceStatus returns the latest send to an audience and how far it is
// (GET /api/v1/audiences/{id}/status).
func (c *Client) GetAudienceStatus(ctx context.Context, audienceID string) (*httpapi.AudienceSendStatus, error) {
	return invoke[httpapi.AudienceSendStatus](ctx, c, call{method: http.MethodGet, path: pathf("/api/v1/audiences/%s/status", audienceID), tenantQuery: true})
}

// GetAudienceSend returns one send to an audience and how far it is
// (GET /api/v1/audiences/{id}/sends/{send_id}).
func (c *Client) GetAudienceSend(ctx context.Context, audienceID, sendID string) (*httpapi.AudienceSendStatus, error) {
	return invoke[httpapi.AudienceSendStatus](ctx, c, call{method: http.MethodGet,
		path: pathf("/api/v1/audiences/%s/sends/%s", audienceID, sendID), tenantQuery: true})
}

// Inbound email.

// CreateInboundRoute routes mail to an address, or to *@domain, into inbound emails
// (POST /api/v1/inbound-routes).
func (c *Client) CreateInboundRoute(ctx context.Context, req *sendoka.InboundRouteRequest) (*httpapi.InboundRoute, error) {
	return invoke[httpapi.InboundRoute](ctx, c, call{method: http.MethodPost, path: "/api/v1/inbound-routes", body: req})
}

// ListInboundRoutes returns a page of routes (GET /api/v1/inbound-routes).
func (c *Client) ListInboundRoutes(ctx context.Context, lp sendoka.ListParams) (*httpapi.InboundRouteList, error) {
	return invoke[httpapi.InboundRouteList](ctx, c, call{method: http.MethodGet, path: "/api/v1/inbound-routes", query: listQuery(lp), tenantQuery: true})
}

// GetInboundRoute returns a route (GET /api/v1/inbound-routes/{id}).
func (c *Client) GetInboundRoute(ctx context.Context, id string) (*httpapi.InboundRoute, error) {
	return invoke[httpapi.InboundRoute](ctx, c, call{method: http.MethodGet, path: pathf("/api/v1/inbound-routes/%s", id), tenantQuery: true})
}

// DeleteInboundRoute removes a route (DELETE /api/v1/inbound-routes/{id}).
func (c *Client) DeleteInboundRoute(ctx context.Context, id string) (*httpapi.InboundRouteDeleted, error) {
	return invoke[httpapi.InboundRouteDeleted](ctx, c, call{method: http.MethodDelete, path: pathf("/api/v1/inbound-routes/%s", id), tenantQuery: true})
}

// ListInboundEmails returns a page of received emails, without their bodies
// (GET /api/v1/inbound-emails).
func (c *Client) ListInboundEmails(ctx context.Context, lp sendoka.ListParams) (*httpapi.InboundEmailList, error) {
	return invoke[httpapi.InboundEmailList](ctx, c, call{method: http.MethodGet, path: "/api/v1/inbound-emails", query: listQuery(lp), tenantQuery: true})
}

// GetInboundEmail returns a received email with its bodies, headers and attachment list
// (GET /api/v1/inbound-emails/{id}).
func (c *Client) GetInboundEmail(ctx context.Context, id string) (*httpapi.InboundEmail, error) {
	return invoke[httpapi.InboundEmail](ctx, c, call{method: http.MethodGet, path: pathf("/api/v1/inbound-emails/%s", id), tenantQuery: true})
}

// GetInboundAttachment returns the attachment at position n of a received email, with its
// content (GET /api/v1/inbound-emails/{id}/attachments/{n}).
func (c *Client) GetInboundAttachment(ctx context.Context, id string, n int) (*httpapi.InboundAttachmentContent, error) {
	return invoke[httpapi.InboundAttachmentContent](ctx, c, call{method: http.MethodGet,
		path: pathf("/api/v1/inbound-emails/%s/attachments/%s", id, strconv.Itoa(n)), tenantQuery: true})
}
