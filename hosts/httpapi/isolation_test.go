package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/sendoka"
	"github.com/sendoka/sendoka/storage/bunstore"
	"github.com/sendoka/sendoka/storage/bunstore/bunstoretest"
)

// isolationFixture makes an object for a path template of the API and says how to call each
// of its operations validly, so that the only reason left to refuse a call is who makes it.
type isolationFixture struct {
	// create makes the object as the owner and returns the id to put in the path.
	create func(t *testing.T, b *bundle, o owner) string
	// body is a valid request body for the method, if it takes one.
	body map[string]func() any
	// tenantForbidden lists the methods a tenant-bound key is refused with 403
	// TENANT_FORBIDDEN whatever the id (so it learns nothing about the object either).
	tenantForbidden []string
}

// owner is who makes a fixture's object: a key, and the tenant it is bound to ("" for an
// org-wide key).
type owner struct {
	key, tenantID string
}

// isolationFixtures covers every route of the API with a path parameter. A route added
// without an entry here fails TestIsolationEveryRoute: a new route must show that another
// org (and another tenant) gets 404 for its objects.
func isolationFixtures() map[string]isolationFixture {
	future := func() string { return time.Now().Add(2 * time.Hour).UTC().Format(time.RFC3339) }
	scheduledEmail := func(t *testing.T, b *bundle, o owner) string {
		body := quickstart()
		body["scheduled_at"] = future()
		return b.send(t, "/api/v1/emails", o.key, body)
	}
	scheduledSMS := func(t *testing.T, b *bundle, o owner) string {
		var pn map[string]any
		b.do(t, req{method: http.MethodGet, path: "/api/v1/phone-numbers/" + createPhoneNumber(t, b, o), key: o.key}).decode(t, http.StatusOK, &pn)
		body := smsBody()
		body["from"] = pn["phone_number"]
		body["scheduled_at"] = future()
		return b.send(t, "/api/v1/sms", o.key, body)
	}
	reschedule := map[string]func() any{http.MethodPatch: func() any { return map[string]any{"scheduled_at": future()} }}
	return map[string]isolationFixture{
		"/api/v1/emails/{id}":     {create: scheduledEmail, body: reschedule},
		"/api/v1/emails/{id}/raw": {create: scheduledEmail},
		"/api/v1/sms/{id}":        {create: scheduledSMS, body: reschedule},
		"/api/v1/templates/{id_or_slug}": {
			create: func(t *testing.T, b *bundle, o owner) string {
				var out Template
				b.do(t, req{method: http.MethodPost, path: "/api/v1/templates", key: o.key, body: map[string]any{
					"slug": fmt.Sprintf("iso-%d", time.Now().UnixNano()), "channel": "email", "subject": "Hi", "text": "Hello",
				}}).decode(t, http.StatusOK, &out)
				return out.ID
			},
			body: map[string]func() any{http.MethodPatch: func() any { return map[string]any{"subject": "Changed"} }},
		},
		"/api/v1/phone-numbers/{id}":           {create: createPhoneNumber},
		"/api/v1/phone-numbers/{id}/provision": {create: createPhoneNumber},
		"/api/v1/phone-pools/{id}": {
			create: func(t *testing.T, b *bundle, o owner) string {
				var out map[string]any
				b.do(t, req{method: http.MethodPost, path: "/api/v1/phone-pools", key: o.key, body: map[string]any{
					"name": "iso", "phone_number_ids": []string{},
				}}).decode(t, http.StatusOK, &out)
				return out["id"].(string)
			},
			body: map[string]func() any{http.MethodPatch: func() any { return map[string]any{"name": "changed"} }},
		},
		"/api/v1/api-keys/{id}": {
			create: func(t *testing.T, b *bundle, o owner) string {
				var out APIKeyCreated
				b.do(t, req{method: http.MethodPost, path: "/api/v1/api-keys", key: o.key, body: map[string]any{"mode": "live", "scopes": []string{"emails:send"}}}).
					decode(t, http.StatusOK, &out)
				return out.ID
			},
			body: map[string]func() any{http.MethodPatch: func() any { return map[string]any{"name": "changed"} }},
		},
		"/api/v1/tenants/{id}": {
			create:          createTenantFixture,
			body:            map[string]func() any{http.MethodPatch: func() any { return map[string]any{"name": "changed"} }},
			tenantForbidden: []string{http.MethodPatch, http.MethodDelete},
		},
		"/api/v1/tenants/{id}/usage": {create: createTenantFixture},
		"/api/v1/suppressions/{address}": {create: func(t *testing.T, b *bundle, o owner) string {
			addr := fmt.Sprintf("iso-%d@example.com", phoneSeq.Add(1))
			b.do(t, req{method: http.MethodPost, path: "/api/v1/suppressions", key: o.key, body: map[string]any{"address": addr}}).
				decode(t, http.StatusOK, &SuppressionsAdded{})
			return addr
		}},
		"/api/v1/audiences/{id}": {
			create: createAudienceFixture,
			body:   map[string]func() any{http.MethodPatch: func() any { return map[string]any{"name": "changed"} }},
		},
		"/api/v1/audiences/{id}/contacts": {
			create: createAudienceFixture,
			body:   map[string]func() any{http.MethodPost: func() any { return []map[string]any{{"email": "changed@example.com"}} }},
		},
		"/api/v1/audiences/{id}/contacts/{contact_id}": {create: createAudienceFixture},
		"/api/v1/audiences/{id}/send": {
			create: createSMSAudienceFixture,
			body:   map[string]func() any{http.MethodPost: func() any { return audienceSMSSend() }},
		},
		"/api/v1/audiences/{id}/status":          {create: createSMSAudienceFixture},
		"/api/v1/audiences/{id}/sends/{send_id}": {create: createSMSAudienceFixture},
		"/api/v1/domains/{id}":                   {create: createDomainFixture},
		"/api/v1/domains/{id}/verify":            {create: createDomainFixture},
		"/api/v1/webhooks/{id}": {
			create: createWebhookFixture,
			body:   map[string]func() any{http.MethodPatch: func() any { return map[string]any{"description": "changed"} }},
		},
		"/api/v1/webhooks/{id}/rotate-secret":                   {create: createWebhookFixture},
		"/api/v1/webhooks/{id}/test":                            {create: createWebhookFixture},
		"/api/v1/webhooks/{id}/deliveries":                      {create: createWebhookFixture},
		"/api/v1/webhooks/{id}/deliveries/{delivery_id}/replay": {create: createWebhookFixture},
		"/api/v1/webhooks/{id}/replay":                          {create: createWebhookFixture},
		"/api/v1/inbound-routes/{id}":                           {create: createInboundRouteFixture},
		"/api/v1/inbound-emails/{id}":                           {create: createInboundEmailFixture},
		"/api/v1/inbound-emails/{id}/attachments/{n}":           {create: createInboundEmailFixture},
		"/resend/emails/{id}": {create: func(t *testing.T, b *bundle, o owner) string {
			return b.resendSend(t, o.key, resendQuickstart())
		}},
	}
}

// createTenantFixture: an org-wide owner makes a tenant; a tenant-bound owner's object is
// its own tenant.
func createTenantFixture(t *testing.T, b *bundle, o owner) string {
	if o.tenantID != "" {
		return o.tenantID
	}
	var out Tenant
	b.do(t, req{method: http.MethodPost, path: "/api/v1/tenants", key: o.key, body: map[string]any{
		"name": "iso", "slug": fmt.Sprintf("iso-%d", phoneSeq.Add(1)),
	}}).decode(t, http.StatusOK, &out)
	return out.ID
}

// createAudienceFixture makes an audience with one contact as the owner.
func createAudienceFixture(t *testing.T, b *bundle, o owner) string {
	var out Audience
	b.do(t, req{method: http.MethodPost, path: "/api/v1/audiences", key: o.key, body: map[string]any{"name": "iso"}}).
		decode(t, http.StatusOK, &out)
	b.do(t, req{method: http.MethodPost, path: "/api/v1/audiences/" + out.ID + "/contacts", key: o.key,
		body: []map[string]any{{"email": fmt.Sprintf("iso-%d@example.com", phoneSeq.Add(1)), "first_name": "Iso"}}}).
		decode(t, http.StatusOK, &ContactsAdded{})
	return out.ID
}

// audienceSMSTemplate is the SMS template createSMSAudienceFixture makes.
const audienceSMSTemplate = "audience-sms"

// createSMSAudienceFixture makes, as the owner, an SMS template (once per namespace) and an
// audience with one contact with a phone number, and sends to it.
func createSMSAudienceFixture(t *testing.T, b *bundle, o owner) string {
	res := b.do(t, req{method: http.MethodPost, path: "/api/v1/templates", key: o.key,
		body: map[string]any{"slug": audienceSMSTemplate, "channel": "sms", "body": "Hi {{first_name}}, {{data.plan}} news"}})
	require.Contains(t, []int{http.StatusOK, http.StatusConflict}, res.status, "%s", res.body) // 409: it exists
	var out Audience
	b.do(t, req{method: http.MethodPost, path: "/api/v1/audiences", key: o.key, body: map[string]any{"name": "sms"}}).
		decode(t, http.StatusOK, &out)
	b.do(t, req{method: http.MethodPost, path: "/api/v1/audiences/" + out.ID + "/contacts", key: o.key,
		body: []map[string]any{{"phone": fmt.Sprintf("+1555%07d", 5000000+phoneSeq.Add(1)), "first_name": "Iso", "data": map[string]any{"plan": "pro"}}}}).
		decode(t, http.StatusOK, &ContactsAdded{})
	send := audienceSMSSend()
	if o.tenantID != "" { // a tenant sends from a number of its own
		var pn map[string]any
		b.do(t, req{method: http.MethodGet, path: "/api/v1/phone-numbers/" + createPhoneNumber(t, b, o), key: o.key}).decode(t, http.StatusOK, &pn)
		send["from"] = pn["phone_number"]
	}
	b.do(t, req{method: http.MethodPost, path: "/api/v1/audiences/" + out.ID + "/send", key: o.key, body: send}).
		decode(t, http.StatusOK, &AudienceSendAccepted{})
	return out.ID
}

// audienceSMSSend is a valid send to an audience of createSMSAudienceFixture.
func audienceSMSSend() map[string]any {
	return map[string]any{"from": "+15551234567", "channel": "sms", "template": audienceSMSTemplate}
}

// createDomainFixture adds a sending domain as the owner.
func createDomainFixture(t *testing.T, b *bundle, o owner) string {
	var out Domain
	b.do(t, req{method: http.MethodPost, path: "/api/v1/domains", key: o.key, body: map[string]any{
		"name": fmt.Sprintf("iso-%d.example.com", phoneSeq.Add(1)),
	}}).decode(t, http.StatusOK, &out)
	return out.ID
}

// createWebhookFixture adds a webhook endpoint as the owner.
func createWebhookFixture(t *testing.T, b *bundle, o owner) string {
	var out WebhookEndpoint
	b.do(t, req{method: http.MethodPost, path: "/api/v1/webhooks", key: o.key, body: map[string]any{
		"url": fmt.Sprintf("https://hooks-%d.example.com/sendoka", phoneSeq.Add(1)),
	}}).decode(t, http.StatusOK, &out)
	return out.ID
}

// createInboundRouteFixture adds an inbound route as the owner.
func createInboundRouteFixture(t *testing.T, b *bundle, o owner) string {
	var out InboundRoute
	b.do(t, req{method: http.MethodPost, path: "/api/v1/inbound-routes", key: o.key, body: map[string]any{
		"match": fmt.Sprintf("r%d@%s", phoneSeq.Add(1), testInboundDomain),
	}}).decode(t, http.StatusOK, &out)
	return out.ID
}

// createInboundEmailFixture receives an email, with one attachment, for a route of the
// owner's.
func createInboundEmailFixture(t *testing.T, b *bundle, o owner) string {
	var route InboundRoute
	b.do(t, req{method: http.MethodGet, path: "/api/v1/inbound-routes/" + createInboundRouteFixture(t, b, o), key: o.key}).
		decode(t, http.StatusOK, &route)
	ctx := context.Background()
	r, err := b.client.InboundRouteFor(ctx, route.Match)
	require.NoError(t, err)
	e, err := b.client.ReceiveInboundEmail(ctx, r, &sendoka.InboundMessage{
		MailFrom: "ada@example.org", RcptTo: route.Match, From: "ada@example.org", Subject: "Hi", Text: "Hello",
		Attachments: []sendoka.InboundAttachment{{Filename: "a.txt", ContentType: "text/plain", Content: []byte("a")}},
	})
	require.NoError(t, err)
	return e.ID
}

// phoneSeq numbers the senders (and slugs) the fixtures make, so no two collide.
var phoneSeq atomic.Int64

func createPhoneNumber(t *testing.T, b *bundle, o owner) string {
	var out map[string]any
	b.do(t, req{method: http.MethodPost, path: "/api/v1/phone-numbers", key: o.key, body: map[string]any{
		"kind": "long_code", "phone_number": fmt.Sprintf("+1555%07d", 3000000+phoneSeq.Add(1)), "iso_country": "US",
	}}).decode(t, http.StatusOK, &out)
	return out["id"].(string)
}

// operation is one route of the OpenAPI document.
type operation struct{ method, path string }

// idOperations lists the operations of the served OpenAPI document whose path has a
// parameter and that take an API key. The ones that take none (the tracking routes, whose
// signed token is the authorization) have no owner to isolate: TestTrackingOverHTTP covers
// their tampered and unknown tokens.
func idOperations(t *testing.T, b *bundle) []operation {
	var doc struct {
		Paths map[string]map[string]struct {
			Security []map[string][]string `json:"security"`
		} `json:"paths"`
	}
	b.do(t, req{method: http.MethodGet, path: "/api/v1/openapi.json"}).decode(t, http.StatusOK, &doc)
	var ops []operation
	for path, item := range doc.Paths {
		if !strings.Contains(path, "{") {
			continue
		}
		for method, op := range item {
			if len(op.Security) == 0 {
				continue
			}
			ops = append(ops, operation{strings.ToUpper(method), path})
		}
	}
	slices.SortFunc(ops, func(a, b operation) int { return strings.Compare(a.path+a.method, b.path+b.method) })
	return ops
}

var pathParam = regexp.MustCompile(`\{[^}]+\}`)

// TestIsolationEveryRoute: for every route of the OpenAPI document that takes an id, another
// org's full-access key gets 404 NOT_FOUND for the first org's object, and another tenant's
// key gets 404 for a tenant's object; the owner still has the object, unchanged, afterwards.
func TestIsolationEveryRoute(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := setup(t, db, setupConfig{})
		_, keyOrgB := b.otherOrg(t, "org b")
		tenantA, tenantB := b.createTenant(t, "Tenant A", "tenant-a"), b.createTenant(t, "Tenant B", "tenant-b")
		keyTenantA := b.tenantKey(t, tenantA.ID, sendoka.ModeLive)
		keyTenantB := b.tenantKey(t, tenantB.ID, sendoka.ModeLive)

		fixtures := isolationFixtures()
		ops := idOperations(t, b)
		require.NotEmpty(t, ops)
		for _, op := range ops {
			fx, ok := fixtures[op.path]
			if !assertHasFixture(t, ok, op) {
				continue
			}
			for _, c := range []struct {
				name        string
				owner       owner
				intruder    string
				tenantBound bool
			}{
				{"another org", owner{key: b.live}, keyOrgB, false},
				{"another tenant", owner{key: keyTenantA, tenantID: tenantA.ID}, keyTenantB, true},
			} {
				id := fx.create(t, b, c.owner)
				path := pathParam.ReplaceAllString(op.path, id)
				var body any
				if mk := fx.body[op.method]; mk != nil {
					body = mk()
				}
				res := b.do(t, req{method: op.method, path: path, key: c.intruder, body: body})
				if strings.HasPrefix(op.path, "/resend/") {
					res.requireResendError(t, http.StatusNotFound, "not_found")
				} else if c.tenantBound && slices.Contains(fx.tenantForbidden, op.method) {
					res.requireError(t, http.StatusForbidden, sendoka.CodeTenantForbidden)
				} else {
					e := res.requireError(t, res.status, sendoka.CodeNotFound)
					require.Equal(t, http.StatusNotFound, res.status, "%s %s by %s: %v", op.method, op.path, c.name, e)
				}
				// The owner still has it: the intruder's call changed nothing.
				if strings.Count(op.path, "/") == 4 || strings.HasPrefix(op.path, "/resend/") { // the object's own route, not a sub-route
					res := b.do(t, req{method: http.MethodGet, path: path, key: c.owner.key})
					require.Equal(t, http.StatusOK, res.status, "%s %s by %s: the owner lost the object: %s", op.method, op.path, c.name, res.body)
					require.NotContains(t, strings.ToLower(string(res.body)), "changed", "%s %s by %s changed it", op.method, op.path, c.name)
				}
			}
		}
	})
}

func assertHasFixture(t *testing.T, ok bool, op operation) bool {
	t.Helper()
	if !ok {
		t.Errorf("%s %s takes an id but has no isolation fixture: add one to isolationFixtures", op.method, op.path)
	}
	return ok
}
