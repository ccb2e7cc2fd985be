package sendoka

import (
	"context"
	"sync"
	"time"
)

// DefaultWebhookEndpointCacheTTL bounds how long the send path trusts its list of an org's
// (and tenant's) subscribed endpoints: an endpoint created, changed or deleted by another
// process is seen within this time.
const DefaultWebhookEndpointCacheTTL = time.Second

// maxCachedEndpointLists bounds the endpoint cache; past it, the cache starts over.
const maxCachedEndpointLists = 10_000

// endpointCache remembers, per org and tenant, which enabled endpoints may hear a message's
// events, so recording events costs no statement when the answer is fresh: for an org
// without endpoints, one read per TTL in all. Times are the wall clock's, since the bound
// is on real staleness between processes.
type endpointCache struct {
	ttl time.Duration
	mu  sync.Mutex
	m   map[string]endpointList
}

type endpointList struct {
	orgID string
	at    time.Time
	eps   []*WebhookEndpoint
}

func (ec *endpointCache) get(ctx context.Context, tx Tx, orgID, tenantID string) ([]*WebhookEndpoint, error) {
	key := tenantKey(orgID, tenantID)
	ec.mu.Lock()
	l, ok := ec.m[key]
	ec.mu.Unlock()
	if ok && time.Since(l.at) < ec.ttl {
		return l.eps, nil
	}
	at := time.Now()
	eps, err := tx.SubscribableWebhookEndpoints(ctx, orgID, tenantID)
	if err != nil {
		return nil, err
	}
	ec.mu.Lock()
	defer ec.mu.Unlock()
	if ec.m == nil || len(ec.m) >= maxCachedEndpointLists {
		ec.m = map[string]endpointList{}
	}
	ec.m[key] = endpointList{orgID: orgID, at: at, eps: eps}
	return eps, nil
}

// forgetOrg drops an org's lists after this process changed one of its endpoints, so its
// next event reads them again.
func (ec *endpointCache) forgetOrg(orgID string) {
	ec.mu.Lock()
	defer ec.mu.Unlock()
	for k, l := range ec.m {
		if l.orgID == orgID {
			delete(ec.m, k)
		}
	}
}

// enqueueWebhooks is recordEvents' webhook step: in tx, a delivery and its job for every
// enabled endpoint subscribed to each event, with one multi-row insert of deliveries and
// one of jobs. Endpoint lists come from the cache, so an org without endpoints pays no
// statement at all while its (empty) list is fresh.
func (c *Client) enqueueWebhooks(ctx context.Context, tx Tx, events []*Event) error {
	var ds []*WebhookDelivery
	for _, ev := range events {
		if !webhookDelivered(ev.Type) {
			continue
		}
		eps, err := c.webhooks.endpoints.get(ctx, tx, ev.OrgID, ev.TenantID)
		if err != nil {
			return err
		}
		if len(eps) == 0 {
			continue
		}
		var tags []string
		if ev.msg != nil {
			tags = ev.msg.Tags
		} else if needsTags(eps) {
			m, err := tx.GetMessage(ctx, ev.MessageID)
			if err != nil {
				return err
			}
			tags = m.Tags
		}
		for _, e := range eps {
			if !e.Subscribed(ev.Type, tags) {
				continue
			}
			ds = append(ds, &WebhookDelivery{
				ID: NewID(PrefixWebhookDelivery, ev.CreatedAt), OrgID: e.OrgID, TenantID: e.TenantID,
				EndpointID: e.ID, EventID: ev.ID, EventType: ev.Type, MessageID: ev.MessageID,
				Status: WebhookPending, CreatedAt: ev.CreatedAt, UpdatedAt: ev.CreatedAt,
			})
		}
	}
	return c.insertWebhookDeliveries(ctx, tx, ds)
}

func needsTags(eps []*WebhookEndpoint) bool {
	for _, e := range eps {
		if len(e.FilterTags) > 0 {
			return true
		}
	}
	return false
}

// insertWebhookDeliveries stores deliveries and enqueues their jobs in tx.
func (c *Client) insertWebhookDeliveries(ctx context.Context, tx Tx, ds []*WebhookDelivery) error {
	if len(ds) == 0 {
		return nil
	}
	if err := tx.InsertWebhookDeliveries(ctx, ds...); err != nil {
		return err
	}
	jobs := make([]Job, len(ds))
	for i, d := range ds {
		jobs[i] = Job{Kind: JobDeliverWebhook, SubjectID: d.ID}
	}
	_, err := c.queue.Enqueue(ctx, tx, jobs...)
	return err
}

// enqueueInboundWebhooks is enqueueWebhooks for an email received: a delivery of its
// email.received event, with its body built now, for every enabled endpoint of the email's
// namespace (and of its org) subscribed to the event. Tag filters concern messages sent, so
// an endpoint that filters on tags does not hear of received mail.
func (c *Client) enqueueInboundWebhooks(ctx context.Context, tx Tx, e *InboundEmail) error {
	eps, err := c.webhooks.endpoints.get(ctx, tx, e.OrgID, e.TenantID)
	if err != nil || len(eps) == 0 {
		return err
	}
	var payload []byte
	var ds []*WebhookDelivery
	for _, ep := range eps {
		if !ep.Subscribed(EventEmailReceived, nil) {
			continue
		}
		if payload == nil {
			if payload, err = inboundWebhookPayload(e); err != nil {
				return err
			}
		}
		ds = append(ds, &WebhookDelivery{
			ID: NewID(PrefixWebhookDelivery, e.CreatedAt), OrgID: ep.OrgID, TenantID: ep.TenantID,
			EndpointID: ep.ID, EventType: EventEmailReceived, Payload: payload,
			Status: WebhookPending, CreatedAt: e.CreatedAt, UpdatedAt: e.CreatedAt,
		})
	}
	return c.insertWebhookDeliveries(ctx, tx, ds)
}
