package httpapi

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/sendoka"
	"github.com/sendoka/sendoka/storage/bunstore"
	"github.com/sendoka/sendoka/storage/bunstore/bunstoretest"
)

// createTenant creates a tenant with the bundle's platform-root live key.
func (b *bundle) createTenant(t *testing.T, name, slug string) Tenant {
	t.Helper()
	var tn Tenant
	b.do(t, req{method: http.MethodPost, path: "/api/v1/tenants", key: b.live,
		body: map[string]any{"name": name, "slug": slug}}).decode(t, http.StatusOK, &tn)
	return tn
}

// tenantKey creates a full-access key bound to a tenant, through the core (the HTTP keys API
// is another issue's).
func (b *bundle) tenantKey(t *testing.T, tenantID string, mode sendoka.Mode, perms ...sendoka.Permission) string {
	t.Helper()
	_, plain := b.key(t, sendoka.CreateKeyParams{TenantID: tenantID, Mode: mode, Permissions: perms})
	return plain
}

// listIDs lists path with key and returns the ids of the page, requiring a 200.
func (b *bundle) listIDs(t *testing.T, path, key string) []string {
	t.Helper()
	var page struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	b.do(t, req{method: http.MethodGet, path: path, key: key}).decode(t, http.StatusOK, &page)
	out := []string{}
	for _, d := range page.Data {
		out = append(out, d.ID)
	}
	return out
}

// TestTenantsAPI: a platform-root key creates, lists, reads, changes and validates tenants;
// a tenant-bound key reads its own tenant only and never writes one.
func TestTenantsAPI(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := setup(t, db, setupConfig{})
		post := func(key string, body any) *response {
			return b.do(t, req{method: http.MethodPost, path: "/api/v1/tenants", key: key, body: body})
		}

		res := post(b.live, map[string]any{"name": "Acme Corp", "slug": "acme", "external_ref": "cust_12345"})
		var raw map[string]json.RawMessage
		res.decode(t, http.StatusOK, &raw)
		require.Equal(t, []string{"created_at", "external_ref", "id", "monthly_emails", "monthly_sms", "name", "slug", "updated_at"}, slices.Sorted(maps.Keys(raw)))
		var acme Tenant
		res.decode(t, http.StatusOK, &acme)
		require.Regexp(t, `^ten_[0-9A-HJKMNP-TV-Z]{26}$`, acme.ID)
		require.Equal(t, "Acme Corp", acme.Name)
		require.Equal(t, "acme", acme.Slug)
		require.Equal(t, "cust_12345", *acme.ExternalRef)
		require.Regexp(t, timePattern, acme.CreatedAt)
		require.Equal(t, acme.CreatedAt, acme.UpdatedAt)

		var globex Tenant
		post(b.test, map[string]any{"name": "Globex", "slug": "globex-2"}).decode(t, http.StatusOK, &globex)
		require.Nil(t, globex.ExternalRef)

		// A slug is unique per org: 409 CONFLICT.
		e := post(b.live, map[string]any{"name": "Acme again", "slug": "acme"}).requireError(t, http.StatusConflict, sendoka.CodeConflict)
		require.Contains(t, e.Message, "acme")

		// Bad input is 422 with the field's path, never a 500.
		long := strings.Repeat("x", 201)
		for _, tc := range []struct {
			body any
			path []any
		}{
			{map[string]any{"slug": "a"}, []any{"name"}},
			{map[string]any{"name": "A"}, []any{"slug"}},
			{map[string]any{"name": "   ", "slug": "a"}, []any{"name"}},
			{map[string]any{"name": long, "slug": "a"}, []any{"name"}},
			{map[string]any{"name": "A\u0085B", "slug": "a"}, []any{"name"}},
			{map[string]any{"name": "A", "slug": "Acme"}, []any{"slug"}},
			{map[string]any{"name": "A", "slug": "ac me"}, []any{"slug"}},
			{map[string]any{"name": "A", "slug": "-acme"}, []any{"slug"}},
			{map[string]any{"name": "A", "slug": "acme-"}, []any{"slug"}},
			{map[string]any{"name": "A", "slug": "acme_1"}, []any{"slug"}},
			{map[string]any{"name": "A", "slug": strings.Repeat("a", 65)}, []any{"slug"}},
			{map[string]any{"name": "A", "slug": "a", "external_ref": strings.Repeat("r", 256)}, []any{"external_ref"}},
			{map[string]any{"name": "A", "slug": "a", "external_ref": "a\nb"}, []any{"external_ref"}},
			{map[string]any{"name": "A", "slug": "a", "extra": 1}, []any{"extra"}},
			{map[string]any{"name": 5, "slug": "a"}, []any{"name"}},
			{`{"name": "A", "slug": "a\u0000"}`, []any{"slug"}},
			{`not json`, []any{}},
		} {
			e := post(b.live, tc.body).requireError(t, http.StatusUnprocessableEntity, sendoka.CodeValidation)
			found := false
			for _, f := range e.Errors {
				got, _ := json.Marshal(f.Path)
				want, _ := json.Marshal(tc.path)
				found = found || string(got) == string(want)
			}
			require.True(t, found, "%v: want a problem at %v, got %+v", tc.body, tc.path, e.Errors)
		}

		// Listing: newest first, a page at a time.
		list := func(key, query string) TenantList {
			var page TenantList
			b.do(t, req{method: http.MethodGet, path: "/api/v1/tenants" + query, key: key}).decode(t, http.StatusOK, &page)
			return page
		}
		page := list(b.live, "?limit=1")
		require.Equal(t, []*Tenant{&globex}, page.Data)
		require.True(t, page.HasMore)
		page = list(b.live, "?limit=1&cursor="+url.QueryEscape(*page.NextCursor))
		require.Equal(t, []*Tenant{&acme}, page.Data)
		require.False(t, page.HasMore)
		require.Nil(t, page.NextCursor)
		b.do(t, req{method: http.MethodGet, path: "/api/v1/tenants?limit=0", key: b.live}).requireError(t, http.StatusUnprocessableEntity, sendoka.CodeValidation)
		b.do(t, req{method: http.MethodGet, path: "/api/v1/tenants?limit=101", key: b.live}).requireError(t, http.StatusUnprocessableEntity, sendoka.CodeValidation)
		b.do(t, req{method: http.MethodGet, path: "/api/v1/tenants?cursor=bogus", key: b.live}).requireError(t, http.StatusUnprocessableEntity, sendoka.CodeValidation)

		var got Tenant
		b.do(t, req{method: http.MethodGet, path: "/api/v1/tenants/" + acme.ID, key: b.live}).decode(t, http.StatusOK, &got)
		require.Equal(t, acme, got)
		for _, id := range []string{"ten_unknown", sendoka.NewID(sendoka.PrefixTenant, time.Now()), "ten_%00", "ten_%ff"} {
			b.do(t, req{method: http.MethodGet, path: "/api/v1/tenants/" + id, key: b.live}).requireError(t, http.StatusNotFound, sendoka.CodeNotFound)
			b.do(t, req{method: http.MethodGet, path: "/api/v1/tenants/" + id + "/usage", key: b.live}).requireError(t, http.StatusNotFound, sendoka.CodeNotFound)
			b.do(t, req{method: http.MethodPatch, path: "/api/v1/tenants/" + id, key: b.live, body: `{"name":"x"}`}).requireError(t, http.StatusNotFound, sendoka.CodeNotFound)
			b.do(t, req{method: http.MethodDelete, path: "/api/v1/tenants/" + id, key: b.live}).requireError(t, http.StatusNotFound, sendoka.CodeNotFound)
		}

		// PATCH changes what it names; external_ref "" clears the reference.
		var upd Tenant
		b.do(t, req{method: http.MethodPatch, path: "/api/v1/tenants/" + acme.ID, key: b.live,
			body: `{"name": "Acme Inc", "external_ref": ""}`}).decode(t, http.StatusOK, &upd)
		require.Equal(t, "Acme Inc", upd.Name)
		require.Equal(t, "acme", upd.Slug)
		require.Nil(t, upd.ExternalRef)
		require.Equal(t, acme.CreatedAt, upd.CreatedAt)
		b.do(t, req{method: http.MethodPatch, path: "/api/v1/tenants/" + acme.ID, key: b.live, body: `{"slug": "globex-2"}`}).
			requireError(t, http.StatusConflict, sendoka.CodeConflict)
		e = b.do(t, req{method: http.MethodPatch, path: "/api/v1/tenants/" + acme.ID, key: b.live, body: `{"slug": "Nope!", "name": ""}`}).
			requireError(t, http.StatusUnprocessableEntity, sendoka.CodeValidation)
		require.True(t, hasField(e, sendoka.FieldInvalidString, "slug"), "%+v", e)
		require.True(t, hasField(e, sendoka.FieldRequired, "name"), "%+v", e)
		b.do(t, req{method: http.MethodPatch, path: "/api/v1/tenants/" + acme.ID, key: b.live, body: `{"slug": "acme-inc"}`}).decode(t, http.StatusOK, &upd)
		require.Equal(t, "acme-inc", upd.Slug)
		require.Equal(t, "Acme Inc", upd.Name)

		// A tenant-bound key: its own tenant only, and never a write.
		acmeKey := b.tenantKey(t, acme.ID, sendoka.ModeLive)
		require.Equal(t, []string{acme.ID}, b.listIDs(t, "/api/v1/tenants", acmeKey))
		b.do(t, req{method: http.MethodGet, path: "/api/v1/tenants/" + acme.ID, key: acmeKey}).decode(t, http.StatusOK, &got)
		require.Equal(t, upd, got)
		b.do(t, req{method: http.MethodGet, path: "/api/v1/tenants/" + globex.ID, key: acmeKey}).requireError(t, http.StatusNotFound, sendoka.CodeNotFound)
		b.do(t, req{method: http.MethodGet, path: "/api/v1/tenants/" + globex.ID + "/usage", key: acmeKey}).requireError(t, http.StatusNotFound, sendoka.CodeNotFound)
		post(acmeKey, map[string]any{"name": "Mine", "slug": "mine"}).requireError(t, http.StatusForbidden, sendoka.CodeTenantForbidden)
		for _, id := range []string{acme.ID, globex.ID, "ten_unknown"} {
			b.do(t, req{method: http.MethodPatch, path: "/api/v1/tenants/" + id, key: acmeKey, body: `{"name":"x"}`}).
				requireError(t, http.StatusForbidden, sendoka.CodeTenantForbidden)
			b.do(t, req{method: http.MethodDelete, path: "/api/v1/tenants/" + id, key: acmeKey}).
				requireError(t, http.StatusForbidden, sendoka.CodeTenantForbidden)
		}
		require.Equal(t, []string{globex.ID, acme.ID}, b.listIDs(t, "/api/v1/tenants", b.live), "nothing changed")

		// Scopes: tenants:read reads, tenants:write writes; a sending key does neither.
		_, reader := b.key(t, sendoka.CreateKeyParams{Permissions: []sendoka.Permission{sendoka.PermissionTenantsRead}})
		_, sender := b.key(t, sendoka.CreateKeyParams{Permissions: []sendoka.Permission{sendoka.PermissionEmailsSend}})
		_, writer := b.key(t, sendoka.CreateKeyParams{Permissions: []sendoka.Permission{sendoka.PermissionTenantsWrite}})
		require.Len(t, b.listIDs(t, "/api/v1/tenants", reader), 2)
		post(reader, map[string]any{"name": "R", "slug": "r"}).requireError(t, http.StatusForbidden, sendoka.CodeInsufficientScope)
		b.do(t, req{method: http.MethodGet, path: "/api/v1/tenants", key: sender}).requireError(t, http.StatusForbidden, sendoka.CodeInsufficientScope)
		b.do(t, req{method: http.MethodGet, path: "/api/v1/tenants/" + acme.ID + "/usage", key: sender}).requireError(t, http.StatusForbidden, sendoka.CodeInsufficientScope)
		post(writer, map[string]any{"name": "W", "slug": "w"}).decode(t, http.StatusOK, &got)
		require.Equal(t, "w", got.Slug)
		b.do(t, req{method: http.MethodGet, path: "/api/v1/tenants"}).requireError(t, http.StatusUnauthorized, sendoka.CodeUnauthorized)
	})
}

// TestTenantIsolationAPI: a tenant-bound key sends, lists and reads only its own tenant's
// resources; another tenant's are 404 by id and absent from lists; naming another tenant is
// 403 TENANT_FORBIDDEN; a platform-root key acts on any tenant with tenant_id. No workers run,
// so messages stay queued and the usage counts are exact.
func TestTenantIsolationAPI(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := setup(t, db, setupConfig{})
		acme, globex := b.createTenant(t, "Acme", "acme"), b.createTenant(t, "Globex", "globex")
		acmeLive, acmeTest := b.tenantKey(t, acme.ID, sendoka.ModeLive), b.tenantKey(t, acme.ID, sendoka.ModeTest)
		globexKey := b.tenantKey(t, globex.ID, sendoka.ModeLive)

		// Emails: the tenant's key sends as its tenant; the root key sends as any tenant with
		// tenant_id, or org-wide without.
		acmeMail := b.send(t, "/api/v1/emails", acmeLive, quickstart())
		own := quickstart()
		own["tenant_id"] = acme.ID
		acmeMail2 := b.send(t, "/api/v1/emails", acmeLive, own) // naming its own tenant is fine
		acmeTestMail := b.send(t, "/api/v1/emails", acmeTest, quickstart())
		asGlobex := quickstart()
		asGlobex["tenant_id"] = globex.ID
		globexMail := b.send(t, "/api/v1/emails", b.live, asGlobex)
		orgMail := b.send(t, "/api/v1/emails", b.live, quickstart())
		scheduled := quickstart()
		scheduled["scheduled_at"] = time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
		acmeScheduled := b.send(t, "/api/v1/emails", acmeLive, scheduled)

		// Naming another tenant is 403 for a tenant-bound key, whether it exists or not.
		for _, other := range []string{globex.ID, "ten_unknown"} {
			body := quickstart()
			body["tenant_id"] = other
			b.do(t, req{method: http.MethodPost, path: "/api/v1/emails", key: acmeLive, body: body}).
				requireError(t, http.StatusForbidden, sendoka.CodeTenantForbidden)
			b.do(t, req{method: http.MethodGet, path: "/api/v1/emails?tenant_id=" + other, key: acmeLive}).
				requireError(t, http.StatusForbidden, sendoka.CodeTenantForbidden)
		}
		// A root key naming a tenant that is not one of its org's: 404.
		unknown := quickstart()
		unknown["tenant_id"] = "ten_unknown"
		b.do(t, req{method: http.MethodPost, path: "/api/v1/emails", key: b.live, body: unknown}).requireError(t, http.StatusNotFound, sendoka.CodeNotFound)
		b.do(t, req{method: http.MethodGet, path: "/api/v1/emails?tenant_id=ten_unknown", key: b.live}).requireError(t, http.StatusNotFound, sendoka.CodeNotFound)
		b.do(t, req{method: http.MethodGet, path: "/api/v1/emails?tenant_id=ten_%00", key: b.live}).requireError(t, http.StatusNotFound, sendoka.CodeNotFound)

		// Lists keep to the key's mode: the test key's message is a test key's only.
		acmeAll := []string{acmeScheduled, acmeMail2, acmeMail}
		require.Equal(t, acmeAll, b.listIDs(t, "/api/v1/emails", acmeLive), "own tenant")
		require.Equal(t, acmeAll, b.listIDs(t, "/api/v1/emails?tenant_id="+acme.ID, acmeLive))
		require.Equal(t, []string{acmeTestMail}, b.listIDs(t, "/api/v1/emails", acmeTest))
		require.Equal(t, []string{acmeTestMail}, b.listIDs(t, "/api/v1/emails?tenant_id="+acme.ID, b.test), "root test key, one tenant")
		require.Equal(t, []string{globexMail}, b.listIDs(t, "/api/v1/emails", globexKey))
		require.Equal(t, []string{globexMail}, b.listIDs(t, "/api/v1/emails?tenant_id="+globex.ID, b.live), "root key, one tenant")
		require.Equal(t, acmeAll, b.listIDs(t, "/api/v1/emails?tenant_id="+acme.ID, b.live), "root key, one tenant")
		require.Equal(t, []string{acmeScheduled, orgMail, globexMail, acmeMail2, acmeMail},
			b.listIDs(t, "/api/v1/emails", b.live), "root key, every tenant and the org level")

		for _, id := range []string{globexMail, orgMail} {
			b.do(t, req{method: http.MethodGet, path: "/api/v1/emails/" + id, key: acmeLive}).requireError(t, http.StatusNotFound, sendoka.CodeNotFound)
		}
		b.do(t, req{method: http.MethodGet, path: "/api/v1/emails/" + acmeMail, key: globexKey}).requireError(t, http.StatusNotFound, sendoka.CodeNotFound)
		b.do(t, req{method: http.MethodDelete, path: "/api/v1/emails/" + acmeScheduled, key: globexKey}).requireError(t, http.StatusNotFound, sendoka.CodeNotFound)
		require.Equal(t, http.StatusOK, b.do(t, req{method: http.MethodGet, path: "/api/v1/emails/" + acmeMail, key: acmeLive}).status)
		require.Equal(t, http.StatusOK, b.do(t, req{method: http.MethodGet, path: "/api/v1/emails/" + acmeMail, key: b.live}).status)

		// Batches: each row as a single send would be.
		var batch BatchResponse
		b.do(t, req{method: http.MethodPost, path: "/api/v1/emails/batch", key: acmeLive, body: []any{quickstart(), asGlobex}}).
			decode(t, http.StatusOK, &batch)
		require.Equal(t, 1, batch.Succeeded)
		require.Equal(t, string(sendoka.CodeTenantForbidden), batch.Data[1].Error.Code)
		b.do(t, req{method: http.MethodPost, path: "/api/v1/emails/batch", key: b.live, body: []any{asGlobex, unknown}}).
			decode(t, http.StatusOK, &batch)
		require.Equal(t, 1, batch.Succeeded)
		require.Equal(t, string(sendoka.CodeNotFound), batch.Data[1].Error.Code)
		require.Contains(t, b.listIDs(t, "/api/v1/emails", globexKey), *batch.Data[0].ID, "the root's batch row is globex's")

		// Templates: each tenant has its own namespace; another tenant's is 404 by id or slug.
		var tpl Template
		b.do(t, req{method: http.MethodPost, path: "/api/v1/templates", key: b.live,
			body: map[string]any{"slug": "welcome", "channel": "email", "subject": "Globex {{name}}", "html": "<p>Globex</p>", "tenant_id": globex.ID}}).
			decode(t, http.StatusOK, &tpl)
		var acmeTpl Template
		b.do(t, req{method: http.MethodPost, path: "/api/v1/templates", key: acmeLive,
			body: map[string]any{"slug": "welcome", "channel": "email", "subject": "Acme {{name}}", "html": "<p>Acme</p>"}}).
			decode(t, http.StatusOK, &acmeTpl)
		b.do(t, req{method: http.MethodPost, path: "/api/v1/templates", key: acmeLive,
			body: map[string]any{"slug": "other", "channel": "email", "html": "x", "tenant_id": globex.ID}}).
			requireError(t, http.StatusForbidden, sendoka.CodeTenantForbidden)
		for _, ref := range []string{tpl.ID, tpl.ID + "?tenant_id=" + acme.ID} {
			b.do(t, req{method: http.MethodGet, path: "/api/v1/templates/" + ref, key: acmeLive}).requireError(t, http.StatusNotFound, sendoka.CodeNotFound)
		}
		b.do(t, req{method: http.MethodGet, path: "/api/v1/templates/" + tpl.ID + "?tenant_id=" + globex.ID, key: acmeLive}).
			requireError(t, http.StatusForbidden, sendoka.CodeTenantForbidden)
		b.do(t, req{method: http.MethodPatch, path: "/api/v1/templates/" + tpl.ID, key: acmeLive, body: `{"name":"x"}`}).requireError(t, http.StatusNotFound, sendoka.CodeNotFound)
		b.do(t, req{method: http.MethodDelete, path: "/api/v1/templates/" + tpl.ID, key: acmeLive}).requireError(t, http.StatusNotFound, sendoka.CodeNotFound)
		var gotTpl Template
		b.do(t, req{method: http.MethodGet, path: "/api/v1/templates/welcome", key: acmeLive}).decode(t, http.StatusOK, &gotTpl)
		require.Equal(t, acmeTpl.ID, gotTpl.ID, "the slug names the tenant's own template")
		// The root key reaches a tenant's template with ?tenant_id=, and the org level without.
		b.do(t, req{method: http.MethodGet, path: "/api/v1/templates/" + tpl.ID, key: b.live}).requireError(t, http.StatusNotFound, sendoka.CodeNotFound)
		b.do(t, req{method: http.MethodGet, path: "/api/v1/templates/welcome?tenant_id=" + globex.ID, key: b.live}).decode(t, http.StatusOK, &gotTpl)
		require.Equal(t, tpl.ID, gotTpl.ID)
		b.do(t, req{method: http.MethodPatch, path: "/api/v1/templates/welcome?tenant_id=" + globex.ID, key: b.live, body: `{"name":"Globex welcome"}`}).
			decode(t, http.StatusOK, &gotTpl)
		require.Equal(t, "Globex welcome", *gotTpl.Name)
		require.Equal(t, []string{tpl.ID}, b.listIDs(t, "/api/v1/templates?tenant_id="+globex.ID, b.live))
		require.Equal(t, []string{acmeTpl.ID}, b.listIDs(t, "/api/v1/templates", acmeLive))
		require.Empty(t, b.listIDs(t, "/api/v1/templates", b.live), "no org-level template")
		// A send renders the sender's own tenant's template.
		withTpl := map[string]any{"from": "you@sandbox.sendoka.com", "to": []string{"a@example.com"}, "template": "welcome", "variables": map[string]any{"name": "Ada"}}
		id := b.send(t, "/api/v1/emails", acmeLive, withTpl)
		var em EmailMessageDetail
		b.do(t, req{method: http.MethodGet, path: "/api/v1/emails/" + id, key: acmeLive}).decode(t, http.StatusOK, &em)
		require.Equal(t, "Acme Ada", em.Subject)
		withTpl["tenant_id"] = globex.ID
		id = b.send(t, "/api/v1/emails", b.live, withTpl)
		b.do(t, req{method: http.MethodGet, path: "/api/v1/emails/" + id, key: b.live}).decode(t, http.StatusOK, &em)
		require.Equal(t, "Globex Ada", em.Subject)
		b.do(t, req{method: http.MethodDelete, path: "/api/v1/templates/welcome?tenant_id=" + globex.ID, key: b.live}).decode(t, http.StatusOK, &TemplateDeleted{})

		// SMS senders and pools: registered for a tenant, invisible to the others.
		var pn PhoneNumber
		b.do(t, req{method: http.MethodPost, path: "/api/v1/phone-numbers", key: b.live,
			body: map[string]any{"kind": "long_code", "phone_number": "+15551230777", "iso_country": "US", "tenant_id": globex.ID}}).
			decode(t, http.StatusOK, &pn)
		var acmePN PhoneNumber
		b.do(t, req{method: http.MethodPost, path: "/api/v1/phone-numbers", key: acmeLive,
			body: map[string]any{"kind": "alphanumeric", "sender_id": "AcmeCo", "iso_country": "GB"}}).decode(t, http.StatusOK, &acmePN)
		b.do(t, req{method: http.MethodPost, path: "/api/v1/phone-numbers", key: acmeLive,
			body: map[string]any{"kind": "alphanumeric", "sender_id": "Evil", "iso_country": "GB", "tenant_id": globex.ID}}).
			requireError(t, http.StatusForbidden, sendoka.CodeTenantForbidden)
		b.do(t, req{method: http.MethodGet, path: "/api/v1/phone-numbers/" + pn.ID, key: acmeLive}).requireError(t, http.StatusNotFound, sendoka.CodeNotFound)
		b.do(t, req{method: http.MethodDelete, path: "/api/v1/phone-numbers/" + pn.ID, key: acmeLive}).requireError(t, http.StatusNotFound, sendoka.CodeNotFound)
		require.Equal(t, []string{acmePN.ID}, b.listIDs(t, "/api/v1/phone-numbers", acmeLive))
		require.Equal(t, []string{pn.ID}, b.listIDs(t, "/api/v1/phone-numbers?tenant_id="+globex.ID, b.live))
		require.Len(t, b.listIDs(t, "/api/v1/phone-numbers", b.live), 4, "the root key sees the org's and every tenant's")

		var pool PhonePool
		b.do(t, req{method: http.MethodPost, path: "/api/v1/phone-pools", key: b.live,
			body: map[string]any{"name": "Globex pool", "phone_number_ids": []string{pn.ID}, "tenant_id": globex.ID}}).decode(t, http.StatusOK, &pool)
		e := b.do(t, req{method: http.MethodPost, path: "/api/v1/phone-pools", key: b.live,
			body: map[string]any{"name": "Mixed", "phone_number_ids": []string{acmePN.ID}, "tenant_id": globex.ID}}).
			requireError(t, http.StatusUnprocessableEntity, sendoka.CodeValidation)
		require.True(t, hasField(e, sendoka.FieldInvalid, "phone_number_ids", 0), "another tenant's sender: %+v", e)
		b.do(t, req{method: http.MethodGet, path: "/api/v1/phone-pools/" + pool.ID, key: acmeLive}).requireError(t, http.StatusNotFound, sendoka.CodeNotFound)
		b.do(t, req{method: http.MethodPatch, path: "/api/v1/phone-pools/" + pool.ID, key: acmeLive, body: `{"name":"x"}`}).requireError(t, http.StatusNotFound, sendoka.CodeNotFound)
		require.Empty(t, b.listIDs(t, "/api/v1/phone-pools", acmeLive))
		require.Equal(t, []string{pool.ID}, b.listIDs(t, "/api/v1/phone-pools?tenant_id="+globex.ID, b.live))
		require.Equal(t, []string{pool.ID}, b.listIDs(t, "/api/v1/phone-pools", globexKey))

		// An SMS of a tenant goes out from its own sender; another tenant's is not one.
		sms := map[string]any{"from": "+15551230777", "to": "+15559876543", "body": "hi"}
		b.do(t, req{method: http.MethodPost, path: "/api/v1/sms", key: acmeLive, body: sms}).requireError(t, http.StatusUnprocessableEntity, sendoka.CodeValidation)
		globexSMS := b.send(t, "/api/v1/sms", globexKey, sms)
		sms["tenant_id"] = globex.ID
		rootSMS := b.send(t, "/api/v1/sms", b.live, sms)
		require.Equal(t, []string{rootSMS, globexSMS}, b.listIDs(t, "/api/v1/sms", globexKey))
		require.Equal(t, []string{rootSMS, globexSMS}, b.listIDs(t, "/api/v1/sms?tenant_id="+globex.ID, b.live))
		require.Empty(t, b.listIDs(t, "/api/v1/sms", acmeLive))
		b.do(t, req{method: http.MethodGet, path: "/api/v1/sms/" + globexSMS, key: acmeLive}).requireError(t, http.StatusNotFound, sendoka.CodeNotFound)

		// Usage: the tenant's messages by channel and status, in the key's mode.
		usage := func(key, id string) TenantUsage {
			var u TenantUsage
			b.do(t, req{method: http.MethodGet, path: "/api/v1/tenants/" + id + "/usage", key: key}).decode(t, http.StatusOK, &u)
			return u
		}
		u := usage(acmeLive, acme.ID)
		require.Equal(t, TenantUsage{TenantID: acme.ID, Mode: "live",
			Email: ChannelUsage{Total: 5, Queued: 4, Scheduled: 1}}, u, "3 sends, 1 batch row and 1 template send")
		require.Equal(t, TenantUsage{TenantID: acme.ID, Mode: "test", Email: ChannelUsage{Total: 1, Queued: 1}}, usage(acmeTest, acme.ID))
		require.Equal(t, u, usage(b.live, acme.ID), "the root key reads any tenant's")
		require.Equal(t, TenantUsage{TenantID: globex.ID, Mode: "live",
			Email: ChannelUsage{Total: 3, Queued: 3}, SMS: ChannelUsage{Total: 2, Queued: 2}}, usage(b.live, globex.ID),
			"a send, a batch row and a template send of the root key; two SMS")
		var raw struct {
			TenantID, Mode string
			Email, SMS     map[string]int
		}
		b.do(t, req{method: http.MethodGet, path: "/api/v1/tenants/" + acme.ID + "/usage", key: acmeLive}).decode(t, http.StatusOK, &raw)
		statuses := []string{"bounced", "canceled", "delivered", "failed", "queued", "scheduled", "sent", "total"}
		require.Equal(t, statuses, slices.Sorted(maps.Keys(raw.SMS)), "every status, 0 included")
		require.Equal(t, statuses, slices.Sorted(maps.Keys(raw.Email)))
		_, readUsage := b.key(t, sendoka.CreateKeyParams{Permissions: []sendoka.Permission{sendoka.PermissionUsageRead}})
		require.Equal(t, u, usage(readUsage, acme.ID), "usage:read reads usage")
	})
}

// TestDeleteTenantAPI: deleting a tenant stops its keys at once, cancels its scheduled
// messages and, once River's workers run the purge job, leaves none of its data; another
// tenant's stays.
func TestDeleteTenantAPI(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := setup(t, db, setupConfig{workers: true})
		doomed, kept := b.createTenant(t, "Doomed", "doomed"), b.createTenant(t, "Kept", "kept")
		doomedLive, doomedTest := b.tenantKey(t, doomed.ID, sendoka.ModeLive), b.tenantKey(t, doomed.ID, sendoka.ModeTest)
		keptKey := b.tenantKey(t, kept.ID, sendoka.ModeLive)

		sent := b.send(t, "/api/v1/emails", doomedLive, quickstart())
		scheduled := quickstart()
		scheduled["scheduled_at"] = time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
		sched1 := b.send(t, "/api/v1/emails", doomedLive, scheduled)
		sched2 := b.send(t, "/api/v1/emails", doomedTest, scheduled)
		keptSched := b.send(t, "/api/v1/emails", keptKey, scheduled)
		var tpl Template
		b.do(t, req{method: http.MethodPost, path: "/api/v1/templates", key: doomedLive,
			body: map[string]any{"slug": "welcome", "channel": "sms", "body": "hi"}}).decode(t, http.StatusOK, &tpl)
		var pn PhoneNumber
		b.do(t, req{method: http.MethodPost, path: "/api/v1/phone-numbers", key: doomedLive,
			body: map[string]any{"kind": "alphanumeric", "sender_id": "Doomed", "iso_country": "GB"}}).decode(t, http.StatusOK, &pn)
		var em EmailMessageDetail
		eventually(t, deliveryDeadline, func() bool {
			b.do(t, req{method: http.MethodGet, path: "/api/v1/emails/" + sent, key: doomedLive}).decode(t, http.StatusOK, &em)
			return em.Status == "delivered"
		}, "the tenant's email is delivered")

		var del TenantDeleted
		b.do(t, req{method: http.MethodDelete, path: "/api/v1/tenants/" + doomed.ID, key: b.live}).decode(t, http.StatusOK, &del)
		require.Equal(t, TenantDeleted{ID: doomed.ID, Deleted: true}, del)

		// Its keys stop working at once.
		for _, key := range []string{doomedLive, doomedTest} {
			b.do(t, req{method: http.MethodGet, path: "/api/v1/emails", key: key}).requireError(t, http.StatusUnauthorized, sendoka.CodeUnauthorized)
			b.do(t, req{method: http.MethodPost, path: "/api/v1/emails", key: key, body: quickstart()}).requireError(t, http.StatusUnauthorized, sendoka.CodeUnauthorized)
		}
		// It is gone for every read, and cannot be named any more.
		b.do(t, req{method: http.MethodGet, path: "/api/v1/tenants/" + doomed.ID, key: b.live}).requireError(t, http.StatusNotFound, sendoka.CodeNotFound)
		b.do(t, req{method: http.MethodDelete, path: "/api/v1/tenants/" + doomed.ID, key: b.live}).requireError(t, http.StatusNotFound, sendoka.CodeNotFound)
		b.do(t, req{method: http.MethodGet, path: "/api/v1/emails?tenant_id=" + doomed.ID, key: b.live}).requireError(t, http.StatusNotFound, sendoka.CodeNotFound)
		asDoomed := quickstart()
		asDoomed["tenant_id"] = doomed.ID
		b.do(t, req{method: http.MethodPost, path: "/api/v1/emails", key: b.live, body: asDoomed}).requireError(t, http.StatusNotFound, sendoka.CodeNotFound)
		require.Equal(t, []string{kept.ID}, b.listIDs(t, "/api/v1/tenants", b.live))
		// Its slug is free at once.
		again := b.createTenant(t, "Doomed again", "doomed")

		// Its scheduled messages are canceled (and still readable until the purge).
		for id, key := range map[string]string{sched1: b.live, sched2: b.test} {
			b.do(t, req{method: http.MethodGet, path: "/api/v1/emails/" + id, key: key}).decode(t, http.StatusOK, &em)
			require.Equal(t, "canceled", em.Status, id)
			require.Equal(t, "message.canceled", em.Events[len(em.Events)-1].Type)
		}
		b.do(t, req{method: http.MethodGet, path: "/api/v1/emails/" + keptSched, key: keptKey}).decode(t, http.StatusOK, &em)
		require.Equal(t, "scheduled", em.Status, "another tenant's scheduled message stays")

		// River runs the purge job (TenantPurgeDelay after the deletion): then nothing of the
		// tenant is left.
		eventually(t, deliveryDeadline, func() bool {
			return b.do(t, req{method: http.MethodGet, path: "/api/v1/emails/" + sent, key: b.live}).status == http.StatusNotFound
		}, "the tenant's messages are purged")
		eventually(t, deliveryDeadline, func() bool {
			left, err := tenantRowExists(db, doomed.ID)
			require.NoError(t, err)
			return !left
		}, "the tenant row goes last")
		for path, key := range map[string]string{"/api/v1/emails/" + sched1: b.live, "/api/v1/emails/" + sched2: b.test, "/api/v1/phone-numbers/" + pn.ID: b.live} {
			b.do(t, req{method: http.MethodGet, path: path, key: key}).requireError(t, http.StatusNotFound, sendoka.CodeNotFound)
		}
		for _, path := range []string{"/api/v1/emails", "/api/v1/phone-numbers"} {
			require.NotContains(t, b.listIDs(t, path, b.live), sent)
			require.NotContains(t, b.listIDs(t, path, b.live), pn.ID)
		}
		_, err := b.client.GetTemplate(context.Background(), &sendoka.Principal{OrgID: b.org.ID, TenantID: doomed.ID,
			Mode: sendoka.ModeLive, Permissions: []sendoka.Permission{sendoka.PermissionFullAccess}}, tpl.ID)
		require.Equal(t, sendoka.CodeNotFound, sendoka.ErrorCode(err), "the template is gone")
		keys, err := b.client.ListAPIKeys(context.Background(), sendoka.SystemPrincipal(b.org.ID, sendoka.ModeLive))
		require.NoError(t, err)
		for _, k := range keys {
			require.NotEqual(t, doomed.ID, k.TenantID, "the tenant's keys are gone")
		}

		// The other tenant, and the new one with the old slug, are untouched.
		require.Equal(t, []string{keptSched}, b.listIDs(t, "/api/v1/emails", keptKey))
		require.ElementsMatch(t, []string{kept.ID, again.ID}, b.listIDs(t, "/api/v1/tenants", b.live))
	})
}

// tenantRowExists reads the tenants table directly: a deleted tenant's row is invisible to
// the API but stays until its purge ends.
func tenantRowExists(db *bunstore.DB, id string) (bool, error) {
	return db.Bun().NewSelect().Table("tenants").Where("id = ?", id).Exists(context.Background())
}
