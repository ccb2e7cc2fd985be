package sendoka

import (
	"context"
	"time"
)

// WebhookStore is the part of Store that reads webhook endpoints and their deliveries.
//
// Endpoints live in the namespace of their (OrgID, TenantID), as templates do: a Scope with
// an empty TenantID means the org-level endpoints only. Deliveries belong to their endpoint
// and share its namespace.
type WebhookStore interface {
	// GetWebhookEndpoint returns the endpoint with that id in the scope's namespace, or
	// CodeNotFound.
	GetWebhookEndpoint(ctx context.Context, scope Scope, id string) (*WebhookEndpoint, error)
	// ListWebhookEndpoints returns one page of the namespace's endpoints, newest first:
	// ordered by (CreatedAt, ID) descending, strictly after q.After when it is set. It
	// returns at most q.Limit endpoints, and HasMore tells whether more follow.
	ListWebhookEndpoints(ctx context.Context, scope Scope, q PageQuery) (*WebhookEndpointPage, error)
	// GetWebhookDelivery returns a delivery by id whatever its scope (for workers), or
	// CodeNotFound.
	GetWebhookDelivery(ctx context.Context, id string) (*WebhookDelivery, error)
	// GetWebhookDeliveriesAndEndpoints returns those of the deliveries ids that exist, each
	// with its endpoint (secrets included), in any order, in one statement.
	GetWebhookDeliveriesAndEndpoints(ctx context.Context, ids ...string) ([]WebhookDeliveryAndEndpoint, error)
	// ListWebhookDeliveries returns one page of an endpoint's deliveries, newest first, as
	// ListWebhookEndpoints orders endpoints. The caller has checked the endpoint is in scope.
	ListWebhookDeliveries(ctx context.Context, endpointID string, q PageQuery) (*WebhookDeliveryPage, error)
	// FailedWebhookDeliveries returns at most limit failed deliveries of an endpoint created
	// at or after since, oldest first.
	FailedWebhookDeliveries(ctx context.Context, endpointID string, since time.Time, limit int) ([]*WebhookDelivery, error)
}

// WebhookTx is the part of Tx that writes webhook endpoints and deliveries.
type WebhookTx interface {
	// InsertWebhookEndpoint inserts an endpoint. A duplicate id is CodeConflict.
	InsertWebhookEndpoint(ctx context.Context, e *WebhookEndpoint) error
	// UpdateWebhookEndpoint writes every field of e except ID, OrgID, TenantID and
	// CreatedAt, matched by ID within e's namespace, and reports whether it found it.
	UpdateWebhookEndpoint(ctx context.Context, e *WebhookEndpoint) (bool, error)
	// UpdateWebhookEndpointHealth writes e's Enabled, DisabledReason, FailingSince and
	// nothing else (a delivery's verdict must not undo a concurrent update or rotation).
	UpdateWebhookEndpointHealth(ctx context.Context, e *WebhookEndpoint) error
	// DeleteWebhookEndpoint removes an endpoint of the scope's namespace and its
	// deliveries, or returns CodeNotFound.
	DeleteWebhookEndpoint(ctx context.Context, scope Scope, id string) error
	// SubscribableWebhookEndpoints returns the enabled endpoints that may receive the
	// events of a message of (orgID, tenantID): the org-level ones, and the tenant's when
	// tenantID is not "". In one statement.
	SubscribableWebhookEndpoints(ctx context.Context, orgID, tenantID string) ([]*WebhookEndpoint, error)
	// InsertWebhookDeliveries inserts deliveries, in as few statements as the database
	// allows.
	InsertWebhookDeliveries(ctx context.Context, ds ...*WebhookDelivery) error
	// UpdateWebhookDeliveries writes each delivery's Payload, Status, Attempts, NextRetryAt
	// and UpdatedAt, in as few statements as the database allows.
	UpdateWebhookDeliveries(ctx context.Context, ds ...*WebhookDelivery) error
}

// WebhookDeliveryAndEndpoint is a delivery with its endpoint.
type WebhookDeliveryAndEndpoint struct {
	Delivery *WebhookDelivery
	Endpoint *WebhookEndpoint
}

// WebhookEndpointPage is one page of ListWebhookEndpoints.
type WebhookEndpointPage struct {
	Endpoints []*WebhookEndpoint
	HasMore   bool
}

// WebhookDeliveryPage is one page of ListWebhookDeliveries.
type WebhookDeliveryPage struct {
	Deliveries []*WebhookDelivery
	HasMore    bool
}
