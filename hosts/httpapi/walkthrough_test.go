package httpapi

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/sendoka"
	"github.com/sendoka/sendoka/storage/bunstore"
	"github.com/sendoka/sendoka/storage/bunstore/bunstoretest"
)

// TestPlatformWalkthrough runs the README's walkthrough ("a tenant that sends from its own
// domain") step by step: a root key makes a tenant and a tenant-bound key; the tenant adds a
// domain, cannot send live from it until it is verified, verifies it and sends; the message
// is the tenant's, which the root key sees and another tenant does not.
func TestPlatformWalkthrough(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := setup(t, db, setupConfig{})
		api := "/api/v1"
		// 1. A tenant.
		var tenant Tenant
		b.do(t, req{method: http.MethodPost, path: api + "/tenants", key: b.live, body: map[string]any{"name": "Acme Corp", "slug": "acme"}}).
			decode(t, http.StatusOK, &tenant)
		// 2. A key bound to it.
		var key APIKeyCreated
		b.do(t, req{method: http.MethodPost, path: api + "/api-keys", key: b.live, body: map[string]any{
			"name": "acme backend", "mode": "live", "tenant_id": tenant.ID, "scopes": []string{"emails:send", "emails:read", "domains:write"},
		}}).decode(t, http.StatusOK, &key)
		require.Equal(t, tenant.ID, *key.TenantID)
		acme := key.Key
		// 3. The tenant adds its domain; until it is verified a live send is refused.
		var dom Domain
		b.do(t, req{method: http.MethodPost, path: api + "/domains", key: acme, body: map[string]any{"name": "mail.acme.example"}}).
			decode(t, http.StatusOK, &dom)
		require.Equal(t, "pending", dom.Status)
		require.Equal(t, tenant.ID, *dom.TenantID)
		mail := map[string]any{"from": "hello@mail.acme.example", "to": []string{"user@example.com"}, "subject": "Hi", "html": "<p>Hi</p>"}
		e := b.do(t, req{method: http.MethodPost, path: api + "/emails", key: acme, body: mail}).requireError(t, http.StatusUnprocessableEntity, sendoka.CodeValidation)
		require.Equal(t, []any{"from"}, e.Errors[0].Path)
		// 4. The records are published, and the domain verifies.
		b.publish(dom)
		b.do(t, req{method: http.MethodPost, path: api + "/domains/" + dom.ID + "/verify", key: acme}).decode(t, http.StatusOK, &dom)
		require.Equal(t, "verified", dom.Status)
		// 5. It sends.
		id := b.send(t, api+"/emails", acme, mail)
		var got EmailMessageDetail
		b.do(t, req{method: http.MethodGet, path: api + "/emails/" + id, key: acme}).decode(t, http.StatusOK, &got)
		require.Equal(t, "hello@mail.acme.example", got.From)
		// The root key sees the tenant's message; another tenant does not.
		b.do(t, req{method: http.MethodGet, path: api + "/emails/" + id, key: b.live}).decode(t, http.StatusOK, &got)
		other := b.createTenant(t, "Other", "other")
		b.do(t, req{method: http.MethodGet, path: api + "/emails/" + id, key: b.tenantKey(t, other.ID, sendoka.ModeLive)}).
			requireError(t, http.StatusNotFound, sendoka.CodeNotFound)
	})
}
