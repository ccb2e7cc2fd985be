package sendoka

import (
	"context"
	"net/http"
	"strings"
	"syscall"
)

// WebhookDialControl is the guard every webhook connection passes.
var WebhookDialControl = webhookDialControl

// SetWebhookDialControl replaces the guard of c's webhook connections (tests wrap the real
// one so that a broken guard can never reach a private address).
func (c *Client) SetWebhookDialControl(fn func(network, address string, rc syscall.RawConn) error) {
	c.webhooks.setControl(fn)
}

// WebhookPost POSTs to url with c's webhook HTTP client and returns the status.
func (c *Client) WebhookPost(ctx context.Context, url string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader("{}"))
	if err != nil {
		return 0, err
	}
	res, err := c.webhooks.http.Do(req)
	if err != nil {
		return 0, err
	}
	res.Body.Close()
	return res.StatusCode, nil
}

// PendingWebhookAttempts is how many attempt outcomes wait for c's attempt writer.
func (c *Client) PendingWebhookAttempts() int {
	return c.webhooks.trips.writes.waiting()
}

// PendingWebhookReads is how many attempts wait for c's shared delivery reads.
func (c *Client) PendingWebhookReads() int { return c.webhooks.trips.reads.waiting() }

// PendingRecords is how many delivery records wait for c's shared record transaction.
func (c *Client) PendingRecords() int { return c.records.waiting() }

// PendingClaims is how many deliveries wait for c's shared fast claim.
func (c *Client) PendingClaims() int { return c.claims.waiting() }

// SetSharedTripsInFlight sets how many shared batches of each kind c runs at once (tests
// that hold one back set 1, so that the others must gather).
func (c *Client) SetSharedTripsInFlight(n int) {
	c.claims.inflight, c.records.inflight = n, n
	c.webhooks.trips.reads.inflight, c.webhooks.trips.writes.inflight = n, n
}
