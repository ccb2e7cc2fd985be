package sendoka

import (
	"context"
	"time"
)

// The webhook workers' trips to the database are shared: concurrent attempts read their
// deliveries (with their endpoints) in one statement, and write their outcomes in one
// transaction with one multi-row UPDATE. Each worker still returns only after its own
// outcome is committed, so a crash never loses an attempt the queue believes recorded.

// Bounds of the shared reads and writes.
const (
	maxAttemptsPerTrip = 500
	attemptTripTimeout = 30 * time.Second
)

// attemptWrite is one attempt's outcome: its delivery, and its endpoint when the attempt
// changed the endpoint's health.
type attemptWrite struct {
	d      *WebhookDelivery
	health *WebhookEndpoint
}

// webhookTrips are the gatherers of the webhook workers' reads and writes.
type webhookTrips struct {
	reads  gatherer[string, WebhookDeliveryAndEndpoint]
	writes gatherer[attemptWrite, struct{}]
}

func (c *Client) initWebhookTrips() {
	t := &c.webhooks.trips
	t.reads = gatherer[string, WebhookDeliveryAndEndpoint]{max: maxAttemptsPerTrip, inflight: tripsInFlight, run: c.readAttempts}
	t.writes = gatherer[attemptWrite, struct{}]{max: maxAttemptsPerTrip, inflight: tripsInFlight, run: c.writeAttempts}
}

// readAttempt returns a delivery and its endpoint, or CodeNotFound.
func (c *Client) readAttempt(ctx context.Context, id string) (*WebhookDelivery, *WebhookEndpoint, error) {
	r, err := c.webhooks.trips.reads.do(ctx, id)
	return r.Delivery, r.Endpoint, err
}

// writeAttempt stores d (and e's health when e is not nil) and returns once that is
// committed, with the error of the transaction that held it.
func (c *Client) writeAttempt(ctx context.Context, d *WebhookDelivery, e *WebhookEndpoint) error {
	_, err := c.webhooks.trips.writes.do(ctx, attemptWrite{d: d, health: e})
	return err
}

func (c *Client) readAttempts(ctx context.Context, calls []*gatherCall[string, WebhookDeliveryAndEndpoint]) {
	ctx, cancel := context.WithTimeout(ctx, attemptTripTimeout)
	defer cancel()
	ids := make([]string, len(calls))
	for i, call := range calls {
		ids[i] = call.req
	}
	found, err := c.store.GetWebhookDeliveriesAndEndpoints(ctx, ids...)
	byID := make(map[string]WebhookDeliveryAndEndpoint, len(found))
	for _, f := range found {
		byID[f.Delivery.ID] = f
	}
	taken := make(map[string]bool, len(calls))
	for _, call := range calls {
		f, ok := byID[call.req]
		switch {
		case err != nil:
			call.err = AsError(err)
		case !ok:
			call.err = NotFound("webhook delivery")
		case taken[call.req]:
			// The same delivery twice in a batch (a job run twice at once): each call gets
			// objects of its own.
			again, err := c.store.GetWebhookDeliveriesAndEndpoints(ctx, call.req)
			switch {
			case err != nil:
				call.err = AsError(err)
			case len(again) == 0:
				call.err = NotFound("webhook delivery")
			default:
				call.res = again[0]
			}
		default:
			call.res, taken[call.req] = f, true
		}
	}
}

func (c *Client) writeAttempts(ctx context.Context, calls []*gatherCall[attemptWrite, struct{}]) {
	ctx, cancel := context.WithTimeout(ctx, attemptTripTimeout)
	defer cancel()
	ds := make([]*WebhookDelivery, len(calls))
	for i, call := range calls {
		ds[i] = call.req.d
	}
	err := c.inTx(ctx, func(ctx context.Context, tx Tx) error {
		if err := tx.UpdateWebhookDeliveries(ctx, ds...); err != nil {
			return err
		}
		for _, call := range calls {
			if call.req.health != nil {
				if err := tx.UpdateWebhookEndpointHealth(ctx, call.req.health); err != nil {
					return err
				}
			}
		}
		return nil
	})
	for _, call := range calls {
		call.err = err
	}
}
