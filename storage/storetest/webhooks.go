package storetest

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/sendoka"
)

func (b *bundle) endpoint(t *testing.T, orgID, tenantID string, n int, enabled bool) *sendoka.WebhookEndpoint {
	t.Helper()
	at := b.at(n)
	e := &sendoka.WebhookEndpoint{
		ID: sendoka.NewID(sendoka.PrefixWebhookEndpoint, at), OrgID: orgID, TenantID: tenantID,
		URL: fmt.Sprintf("https://hooks.example.com/%d", n), Description: "d", Enabled: enabled,
		Events: []sendoka.EventType{sendoka.EventDelivered}, FilterTags: []string{"welcome"},
		Secret: fmt.Sprintf("whsec_%d", n), CreatedAt: at, UpdatedAt: at,
	}
	b.inTx(t, func(ctx context.Context, tx sendoka.Tx) error { return tx.InsertWebhookEndpoint(ctx, e) })
	return e
}

// testWebhookEndpoints: endpoints round-trip in their namespace and nowhere else; a page
// at a time; updates and health writes; the send path's lookup finds the enabled
// endpoints of the org level and of the message's tenant only.
func testWebhookEndpoints(t *testing.T, b *bundle) {
	ctx := b.ctx(t)
	org := "org_wh_" + sendoka.NewID("", b.base)
	orgLevel := b.endpoint(t, org, "", 1, true)
	tenantA := b.endpoint(t, org, "ten_a", 2, true)
	b.endpoint(t, org, "ten_b", 3, true)
	disabled := b.endpoint(t, org, "", 4, false)

	got, err := b.store.GetWebhookEndpoint(ctx, sendoka.Scope{OrgID: org}, orgLevel.ID)
	require.NoError(t, err)
	require.Equal(t, orgLevel, got)
	for _, scope := range []sendoka.Scope{{OrgID: org, TenantID: "ten_a"}, {OrgID: "org_other"}} {
		_, err = b.store.GetWebhookEndpoint(ctx, scope, orgLevel.ID)
		require.Equal(t, sendoka.CodeNotFound, sendoka.ErrorCode(err), "outside its namespace")
	}

	page, err := b.store.ListWebhookEndpoints(ctx, sendoka.Scope{OrgID: org}, sendoka.PageQuery{Limit: 1})
	require.NoError(t, err)
	require.True(t, page.HasMore)
	require.Equal(t, disabled.ID, page.Endpoints[0].ID, "newest first")
	page, err = b.store.ListWebhookEndpoints(ctx, sendoka.Scope{OrgID: org}, sendoka.PageQuery{Limit: 5,
		After: &sendoka.Cursor{CreatedAt: disabled.CreatedAt, ID: disabled.ID}})
	require.NoError(t, err)
	require.False(t, page.HasMore)
	require.Len(t, page.Endpoints, 1, "the org level only")
	require.Equal(t, orgLevel.ID, page.Endpoints[0].ID)

	var subs []*sendoka.WebhookEndpoint
	b.inTx(t, func(ctx context.Context, tx sendoka.Tx) (err error) {
		subs, err = tx.SubscribableWebhookEndpoints(ctx, org, "ten_a")
		return err
	})
	require.Equal(t, []string{orgLevel.ID, tenantA.ID}, endpointIDs(subs))
	b.inTx(t, func(ctx context.Context, tx sendoka.Tx) (err error) {
		subs, err = tx.SubscribableWebhookEndpoints(ctx, org, "")
		return err
	})
	require.Equal(t, []string{orgLevel.ID}, endpointIDs(subs))

	// An update writes the mutable fields; a health write only its own.
	until := b.at(100)
	tenantA.URL, tenantA.Events, tenantA.FilterTags = "https://new.example.com", nil, nil
	tenantA.PreviousSecret, tenantA.PreviousSecretExpiresAt, tenantA.Secret = tenantA.Secret, &until, "whsec_new"
	b.inTx(t, func(ctx context.Context, tx sendoka.Tx) error {
		ok, err := tx.UpdateWebhookEndpoint(ctx, tenantA)
		require.True(t, ok)
		return err
	})
	health := *tenantA
	health.Enabled, health.DisabledReason, health.FailingSince, health.URL = false, "gone", &until, "https://ignored.example.com"
	b.inTx(t, func(ctx context.Context, tx sendoka.Tx) error { return tx.UpdateWebhookEndpointHealth(ctx, &health) })
	got, err = b.store.GetWebhookEndpoint(ctx, sendoka.Scope{OrgID: org, TenantID: "ten_a"}, tenantA.ID)
	require.NoError(t, err)
	want := *tenantA
	want.Enabled, want.DisabledReason, want.FailingSince = false, "gone", &until
	require.Equal(t, &want, got)

	other := *orgLevel
	other.TenantID = "ten_b"
	b.inTx(t, func(ctx context.Context, tx sendoka.Tx) error {
		ok, err := tx.UpdateWebhookEndpoint(ctx, &other)
		require.False(t, ok, "not in that namespace")
		return err
	})
}

func endpointIDs(eps []*sendoka.WebhookEndpoint) []string {
	ids := make([]string, len(eps))
	for i, e := range eps {
		ids[i] = e.ID
	}
	return ids
}

// testWebhookDeliveries: deliveries insert in bulk, round-trip with their attempts, page
// newest first, are found failed since a time, and go with their endpoint.
func testWebhookDeliveries(t *testing.T, b *bundle) {
	ctx := b.ctx(t)
	org := "org_whd_" + sendoka.NewID("", b.base)
	e := b.endpoint(t, org, "", 1, true)
	var ds []*sendoka.WebhookDelivery
	for i := range 250 {
		at := b.at(10 + i)
		ds = append(ds, &sendoka.WebhookDelivery{
			ID: sendoka.NewID(sendoka.PrefixWebhookDelivery, at), OrgID: org, EndpointID: e.ID,
			EventID: fmt.Sprintf("evt_%d", i), EventType: sendoka.EventSent, MessageID: fmt.Sprintf("msg_%d", i),
			Status: sendoka.WebhookPending, CreatedAt: at, UpdatedAt: at,
		})
	}
	b.inTx(t, func(ctx context.Context, tx sendoka.Tx) error { return tx.InsertWebhookDeliveries(ctx, ds...) })

	d := ds[3]
	retry := b.at(5000)
	d.Payload = []byte(`{"event":"message.sent","data":{"z":1,"a":2}}`)
	d.Status, d.NextRetryAt, d.UpdatedAt = sendoka.WebhookFailed, &retry, b.at(4000)
	d.Attempts = []sendoka.WebhookAttempt{{At: b.at(4000), StatusCode: 500, LatencyMS: 12, Response: "oops"}, {At: b.at(4001), Error: "no answer"}}
	// One statement writes several deliveries, each its own values (a pending one keeps
	// no retry time: NULL must not take the others' type or value).
	d2 := ds[4]
	d2.Status, d2.UpdatedAt = sendoka.WebhookSucceeded, b.at(4002)
	d2.Attempts = []sendoka.WebhookAttempt{{At: b.at(4002), StatusCode: 204, LatencyMS: 3}}
	b.inTx(t, func(ctx context.Context, tx sendoka.Tx) error { return tx.UpdateWebhookDeliveries(ctx, d, d2) })
	got, err := b.store.GetWebhookDelivery(ctx, d.ID)
	require.NoError(t, err)
	require.Equal(t, d, got, "the payload's bytes are kept as they are")
	got, err = b.store.GetWebhookDelivery(ctx, d2.ID)
	require.NoError(t, err)
	require.Equal(t, d2, got)
	untouched, err := b.store.GetWebhookDelivery(ctx, ds[5].ID)
	require.NoError(t, err)
	require.Equal(t, ds[5], untouched, "a delivery not in the list is left alone")
	both, err := b.store.GetWebhookDeliveriesAndEndpoints(ctx, d.ID, "whd_unknown", d2.ID)
	require.NoError(t, err)
	require.Len(t, both, 2, "the unknown id is left out")
	byID := map[string]sendoka.WebhookDeliveryAndEndpoint{}
	for _, f := range both {
		byID[f.Delivery.ID] = f
	}
	require.Equal(t, d, byID[d.ID].Delivery)
	require.Equal(t, d2, byID[d2.ID].Delivery)
	require.Equal(t, e, byID[d.ID].Endpoint, "the endpoint whole, with the secret the worker signs with")
	none, err := b.store.GetWebhookDeliveriesAndEndpoints(ctx, "whd_unknown")
	require.NoError(t, err)
	require.Empty(t, none)
	_, err = b.store.GetWebhookDelivery(ctx, "whd_unknown")
	require.Equal(t, sendoka.CodeNotFound, sendoka.ErrorCode(err))

	seen := 0
	var after *sendoka.Cursor
	for {
		page, err := b.store.ListWebhookDeliveries(ctx, e.ID, sendoka.PageQuery{Limit: 100, After: after})
		require.NoError(t, err)
		for _, got := range page.Deliveries {
			require.Equal(t, ds[len(ds)-1-seen].ID, got.ID, "newest first")
			seen++
		}
		if !page.HasMore {
			break
		}
		last := page.Deliveries[len(page.Deliveries)-1]
		after = &sendoka.Cursor{CreatedAt: last.CreatedAt, ID: last.ID}
	}
	require.Equal(t, len(ds), seen)

	failed, err := b.store.FailedWebhookDeliveries(ctx, e.ID, b.at(13), 10)
	require.NoError(t, err)
	require.Equal(t, []string{d.ID}, deliveryIDs(failed))
	failed, err = b.store.FailedWebhookDeliveries(ctx, e.ID, b.at(14), 10)
	require.NoError(t, err)
	require.Empty(t, failed, "created before since")

	b.inTx(t, func(ctx context.Context, tx sendoka.Tx) error {
		return tx.DeleteWebhookEndpoint(ctx, sendoka.Scope{OrgID: org}, e.ID)
	})
	_, err = b.store.GetWebhookDelivery(ctx, d.ID)
	require.Equal(t, sendoka.CodeNotFound, sendoka.ErrorCode(err), "deliveries go with their endpoint")
	err = b.store.InTx(ctx, func(ctx context.Context, tx sendoka.Tx) error {
		return tx.DeleteWebhookEndpoint(ctx, sendoka.Scope{OrgID: org}, e.ID)
	})
	require.Equal(t, sendoka.CodeNotFound, sendoka.ErrorCode(err))
}

func deliveryIDs(ds []*sendoka.WebhookDelivery) []string {
	ids := make([]string, len(ds))
	for i, d := range ds {
		ids[i] = d.ID
	}
	return ids
}
