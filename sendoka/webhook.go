package sendoka

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// WebhookEndpoint is a URL that receives signed events about the messages of its namespace:
// an org-level endpoint hears every message of the org (its tenants' included), a tenant's
// endpoint only that tenant's.
type WebhookEndpoint struct {
	ID       string
	OrgID    string
	TenantID string // "" for an org-level endpoint
	URL      string
	// Description is a note for people.
	Description string
	// Events are the event types delivered; empty means every type of WebhookEventTypes.
	Events []EventType
	// FilterTags, when not empty, delivers only the events of messages that carry at least
	// one of these tags.
	FilterTags []string
	Enabled    bool
	// DisabledReason says why Sendoka disabled the endpoint (a 410 Gone, or three days of
	// failures); "" when it was enabled or disabled by its owner.
	DisabledReason string
	// Secret signs every delivery. PreviousSecret, after a rotation, signs alongside it until
	// PreviousSecretExpiresAt.
	Secret                  string
	PreviousSecret          string
	PreviousSecretExpiresAt *time.Time
	// FailingSince is when the run of failed attempts that continues today began; nil after
	// any success.
	FailingSince *time.Time
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// Subscribed reports whether e wants events of type typ about a message with tags.
func (e *WebhookEndpoint) Subscribed(typ EventType, tags []string) bool {
	if len(e.Events) > 0 && !slices.Contains(e.Events, typ) {
		return false
	}
	if len(e.FilterTags) == 0 {
		return true
	}
	for _, t := range tags {
		if slices.Contains(e.FilterTags, t) {
			return true
		}
	}
	return false
}

// signingSecrets are the secrets that sign a delivery at now: the previous one first while
// it lasts (the docs' Node verifier reads only the first v1=), then the current one.
func (e *WebhookEndpoint) signingSecrets(now time.Time) []string {
	if e.PreviousSecret != "" && e.PreviousSecretExpiresAt != nil && now.Before(*e.PreviousSecretExpiresAt) {
		return []string{e.PreviousSecret, e.Secret}
	}
	return []string{e.Secret}
}

// WebhookEventTest is the type of the event POST /api/v1/webhooks/{id}/test sends.
const WebhookEventTest EventType = "webhook.test"

// WebhookEventTypes are the event types an endpoint may subscribe to. message.queued and
// the internal message.deferred and message.outcome_unknown are not delivered.
var WebhookEventTypes = []EventType{
	EventScheduled, EventSent, EventDelivered, EventBounced, EventFailed, EventCanceled,
	EventOpened, EventClicked, EventComplained, "message.suppressed", EventEmailReceived,
}

// webhookDelivered reports whether events of typ go to webhooks at all.
func webhookDelivered(typ EventType) bool { return slices.Contains(WebhookEventTypes, typ) }

// WebhookEndpointRequest is the body of POST /api/v1/webhooks.
type WebhookEndpointRequest struct {
	URL         string      `json:"url" doc:"Where events are POSTed: https (plain http only to loopback on a server in insecure development mode)" example:"https://example.com/hooks/sendoka" maxLength:"2048"`
	Events      []EventType `json:"events,omitempty" doc:"Event types to deliver; empty or absent: all of them" maxItems:"20" example:"[\"message.delivered\",\"message.bounced\"]"`
	Description string      `json:"description,omitempty" doc:"A note for people" maxLength:"500"`
	Enabled     *bool       `json:"enabled,omitempty" doc:"Whether events are delivered; default true"`
	FilterTags  []string    `json:"filter_tags,omitempty" doc:"Deliver only events of messages carrying at least one of these tags" maxItems:"20" example:"[\"welcome\"]"`
	// TenantID creates the endpoint for a tenant (platform mode): see Client.ForTenant.
	TenantID string `json:"tenant_id,omitempty" doc:"Platform mode: create the endpoint for this tenant (platform-root keys); a tenant-bound key may only name its own" example:"ten_01HN8Z6Q4V3K2J1M0N9P8Q7R6S" maxLength:"64"`
}

// WebhookEndpointUpdate is the body of PATCH /api/v1/webhooks/{id}: nil fields are left as
// they are. Enabling an endpoint clears its DisabledReason.
type WebhookEndpointUpdate struct {
	URL         *string      `json:"url,omitempty" doc:"New URL" maxLength:"2048"`
	Events      *[]EventType `json:"events,omitempty" doc:"New event types; [] for all" maxItems:"20"`
	Description *string      `json:"description,omitempty" maxLength:"500"`
	Enabled     *bool        `json:"enabled,omitempty" doc:"Turn deliveries on or off"`
	FilterTags  *[]string    `json:"filter_tags,omitempty" doc:"New tag filter; [] for none" maxItems:"20"`
}

// Webhook limits.
const (
	MaxWebhookURL         = 2048
	MaxWebhookDescription = 500
	maxWebhookFilters     = 20
)

// webhookScopeNS is the namespace scope of p (mode does not apply to endpoints).
func webhookScopeNS(p *Principal) Scope { return Scope{OrgID: p.OrgID, TenantID: p.TenantID} }

// CreateWebhookEndpoint validates and stores a new endpoint with a fresh signing secret,
// which the returned endpoint carries: the only time it is shown.
func (c *Client) CreateWebhookEndpoint(ctx context.Context, p *Principal, req *WebhookEndpointRequest) (*WebhookEndpoint, error) {
	if err := p.require(PermissionWebhooksWrite); err != nil {
		return nil, err
	}
	p, err := c.ForTenant(ctx, p, req.TenantID)
	if err != nil {
		return nil, err
	}
	now := c.now()
	e := &WebhookEndpoint{
		ID: NewID(PrefixWebhookEndpoint, now), OrgID: p.OrgID, TenantID: p.TenantID,
		URL: strings.TrimSpace(req.URL), Description: req.Description, Events: req.Events,
		FilterTags: req.FilterTags, Enabled: req.Enabled == nil || *req.Enabled,
		Secret: newWebhookSecret(), CreatedAt: now, UpdatedAt: now,
	}
	if err := c.validateWebhookEndpoint(e); err != nil {
		return nil, err
	}
	if err := c.inTx(ctx, func(ctx context.Context, tx Tx) error { return tx.InsertWebhookEndpoint(ctx, e) }); err != nil {
		return nil, err
	}
	c.webhooks.endpoints.forgetOrg(e.OrgID)
	return e, nil
}

// GetWebhookEndpoint returns an endpoint of the caller's namespace, without its secrets.
func (c *Client) GetWebhookEndpoint(ctx context.Context, p *Principal, id string) (*WebhookEndpoint, error) {
	if err := p.require(PermissionWebhooksRead); err != nil {
		return nil, err
	}
	e, err := c.getWebhookEndpoint(ctx, p, id)
	if err != nil {
		return nil, err
	}
	return withoutSecrets(e), nil
}

func (c *Client) getWebhookEndpoint(ctx context.Context, p *Principal, id string) (*WebhookEndpoint, error) {
	if !plausibleID(id) {
		return nil, NotFound("webhook endpoint")
	}
	e, err := c.store.GetWebhookEndpoint(ctx, webhookScopeNS(p), id)
	if err != nil {
		return nil, AsError(err)
	}
	return e, nil
}

func withoutSecrets(e *WebhookEndpoint) *WebhookEndpoint {
	cp := *e
	cp.Secret, cp.PreviousSecret = "", ""
	return &cp
}

// WebhookEndpointList is one page of endpoints.
type WebhookEndpointList struct {
	Endpoints  []*WebhookEndpoint
	HasMore    bool
	NextCursor string
}

// ListWebhookEndpoints returns a page of the namespace's endpoints, newest first, without
// their secrets. lp.TenantID lists a tenant's endpoints (platform mode).
func (c *Client) ListWebhookEndpoints(ctx context.Context, p *Principal, lp ListParams) (*WebhookEndpointList, error) {
	if err := p.require(PermissionWebhooksRead); err != nil {
		return nil, err
	}
	p, err := c.ForTenant(ctx, p, lp.TenantID)
	if err != nil {
		return nil, err
	}
	q, err := pageQuery(lp)
	if err != nil {
		return nil, err
	}
	page, err := c.store.ListWebhookEndpoints(ctx, webhookScopeNS(p), q)
	if err != nil {
		return nil, AsError(err)
	}
	out := &WebhookEndpointList{HasMore: page.HasMore}
	for _, e := range page.Endpoints {
		out.Endpoints = append(out.Endpoints, withoutSecrets(e))
	}
	if page.HasMore && len(page.Endpoints) > 0 {
		last := page.Endpoints[len(page.Endpoints)-1]
		out.NextCursor = EncodeCursor(Cursor{CreatedAt: last.CreatedAt, ID: last.ID})
	}
	return out, nil
}

// UpdateWebhookEndpoint changes the fields u sets.
func (c *Client) UpdateWebhookEndpoint(ctx context.Context, p *Principal, id string, u *WebhookEndpointUpdate) (*WebhookEndpoint, error) {
	if err := p.require(PermissionWebhooksWrite); err != nil {
		return nil, err
	}
	e, err := c.getWebhookEndpoint(ctx, p, id)
	if err != nil {
		return nil, err
	}
	if u.URL != nil {
		e.URL = strings.TrimSpace(*u.URL)
	}
	if u.Events != nil {
		e.Events = *u.Events
	}
	if u.Description != nil {
		e.Description = *u.Description
	}
	if u.FilterTags != nil {
		e.FilterTags = *u.FilterTags
	}
	if u.Enabled != nil {
		if *u.Enabled && !e.Enabled {
			e.FailingSince = nil
		}
		e.Enabled = *u.Enabled
		e.DisabledReason = ""
	}
	e.UpdatedAt = c.now()
	if err := c.validateWebhookEndpoint(e); err != nil {
		return nil, err
	}
	if err := c.saveWebhookEndpoint(ctx, e); err != nil {
		return nil, err
	}
	return withoutSecrets(e), nil
}

func (c *Client) saveWebhookEndpoint(ctx context.Context, e *WebhookEndpoint) error {
	err := c.inTx(ctx, func(ctx context.Context, tx Tx) error {
		ok, err := tx.UpdateWebhookEndpoint(ctx, e)
		if err == nil && !ok {
			err = NotFound("webhook endpoint")
		}
		return err
	})
	c.webhooks.endpoints.forgetOrg(e.OrgID)
	return err
}

// DeleteWebhookEndpoint removes an endpoint and its delivery log. Deliveries in flight are
// dropped.
func (c *Client) DeleteWebhookEndpoint(ctx context.Context, p *Principal, id string) error {
	if err := p.require(PermissionWebhooksWrite); err != nil {
		return err
	}
	if !plausibleID(id) {
		return NotFound("webhook endpoint")
	}
	err := c.inTx(ctx, func(ctx context.Context, tx Tx) error { return tx.DeleteWebhookEndpoint(ctx, webhookScopeNS(p), id) })
	c.webhooks.endpoints.forgetOrg(p.OrgID)
	return err
}

// WebhookSecretOverlap is how long the previous secret keeps signing after a rotation.
const WebhookSecretOverlap = 24 * time.Hour

// RotateWebhookSecret gives an endpoint a new secret, returned with the endpoint (the only
// time it is shown). For WebhookSecretOverlap the old secret keeps signing beside the new
// one: every delivery then carries two v1= signatures, the old secret's first.
func (c *Client) RotateWebhookSecret(ctx context.Context, p *Principal, id string) (*WebhookEndpoint, error) {
	if err := p.require(PermissionWebhooksWrite); err != nil {
		return nil, err
	}
	e, err := c.getWebhookEndpoint(ctx, p, id)
	if err != nil {
		return nil, err
	}
	now := c.now()
	until := now.Add(WebhookSecretOverlap)
	e.PreviousSecret, e.PreviousSecretExpiresAt = e.Secret, &until
	e.Secret = newWebhookSecret()
	e.UpdatedAt = now
	if err := c.saveWebhookEndpoint(ctx, e); err != nil {
		return nil, err
	}
	out := *e
	out.PreviousSecret = ""
	return &out, nil
}

// newWebhookSecret is whsec_ and the base64 of 32 random bytes.
func newWebhookSecret() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand never fails on supported platforms
	return "whsec_" + base64.StdEncoding.EncodeToString(b[:])
}

// validateWebhookEndpoint checks an endpoint about to be saved.
func (c *Client) validateWebhookEndpoint(e *WebhookEndpoint) error {
	var v Validation
	if e.URL == "" {
		v.Add(FieldRequired, "Required", "url")
	} else if why := c.checkWebhookURL(e.URL); why != "" {
		v.Add(FieldInvalidString, why, "url")
	}
	if utf8.RuneCountInString(e.Description) > MaxWebhookDescription || !utf8.ValidString(e.Description) {
		v.Add(FieldTooBig, "at most 500 characters of valid UTF-8", "description")
	}
	if len(e.Events) > maxWebhookFilters {
		v.Add(FieldTooBig, "at most 20 event types", "events")
	}
	for i, t := range e.Events {
		if !webhookDelivered(t) {
			v.Add(FieldInvalid, "unknown event type; one of "+joinEventTypes(), "events", i)
		}
	}
	if len(e.FilterTags) > maxWebhookFilters {
		v.Add(FieldTooBig, "at most 20 tags", "filter_tags")
	}
	for i, t := range e.FilterTags {
		if t == "" || len(t) > MaxTagLen {
			v.Add(FieldInvalid, "a tag is 1 to 256 characters", "filter_tags", i)
		}
	}
	return v.Err()
}

func joinEventTypes() string {
	s := make([]string, len(WebhookEventTypes))
	for i, t := range WebhookEventTypes {
		s[i] = string(t)
	}
	return strings.Join(s, ", ")
}

// checkWebhookURL says what is wrong with an endpoint URL, or "". https only; plain http,
// and loopback hosts, only in insecure development mode. Hosts that are addresses Sendoka
// never connects to (private, link-local, ...) and numeric hosts that are not plain dotted
// IPv4 (2130706433, 0x7f.1) are refused here; names are checked again when they are
// resolved, at every connection.
func (c *Client) checkWebhookURL(raw string) string {
	if len(raw) > MaxWebhookURL {
		return "at most 2048 characters"
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return "must be an absolute https URL"
	}
	if u.User != nil {
		return "must not carry credentials"
	}
	// A name's trailing dot ("localhost.", "10.0.0.1.") is the same name to a resolver.
	host := strings.TrimRight(strings.ToLower(u.Hostname()), ".")
	insecure := c.webhooks.cfg.AllowInsecure
	loopback := host == "localhost" || strings.HasSuffix(host, ".localhost")
	if ip, err := netip.ParseAddr(host); err == nil {
		if ip.Unmap().IsLoopback() {
			loopback = true
		} else if !webhookAddrAllowed(ip, false) {
			return "must not point at a private, loopback, link-local or reserved address"
		}
	} else if numericHost(host) {
		return "must not be a numeric host other than a dotted IPv4 address"
	}
	switch {
	case loopback && !insecure:
		return "must not point at a private, loopback, link-local or reserved address"
	case u.Scheme == "https":
	case u.Scheme == "http" && insecure && loopback:
	case u.Scheme == "http" && insecure:
		return "must be https (plain http only to loopback in insecure development mode)"
	default:
		return "must be https"
	}
	return ""
}

// numericHost reports whether host is made of digits, dots and hex prefixes only: the
// forms (2130706433, 0177.1, 0x7f000001) that some resolvers read as addresses.
func numericHost(host string) bool {
	if host == "" {
		return false
	}
	last := host[strings.LastIndexByte(host, '.')+1:]
	if last == "" {
		return false
	}
	for _, r := range last {
		if !(r >= '0' && r <= '9' || r == 'x' || r >= 'a' && r <= 'f') {
			return false
		}
	}
	// A top-level label is never all digits; hex-looking ones start with 0x.
	return strings.Trim(last, "0123456789") == "" || strings.HasPrefix(last, "0x")
}
