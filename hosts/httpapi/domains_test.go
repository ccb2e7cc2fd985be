package httpapi

import (
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/providers/sesemail"
	"github.com/sendoka/sendoka/providers/sesemail/sesemailtest"
	"github.com/sendoka/sendoka/sendoka"
	"github.com/sendoka/sendoka/storage/bunstore"
	"github.com/sendoka/sendoka/storage/bunstore/bunstoretest"
)

// publish puts a domain's records, as the API showed them, in the bundle's DNS zone.
func (b *bundle) publish(d Domain) {
	for _, r := range d.Records {
		switch r.Type {
		case "TXT":
			b.dns.SetTXT(r.Name, r.Value)
		case "MX":
			b.dns.SetMX(r.Name, r.Value)
		case "CNAME":
			b.dns.SetCNAME(r.Name, r.Value)
		}
	}
}

func (b *bundle) createDomain(t *testing.T, key, name string) Domain {
	t.Helper()
	var d Domain
	b.do(t, req{method: http.MethodPost, path: "/api/v1/domains", key: key, body: map[string]any{"name": name}}).decode(t, http.StatusOK, &d)
	return d
}

func TestDomainsAPI(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := setup(t, db, setupConfig{})

		// Create: the raw body has exactly the documented keys, and no key material.
		res := b.do(t, req{method: http.MethodPost, path: "/api/v1/domains", key: b.live, body: map[string]any{"name": "Example.COM"}})
		require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
		require.NotContains(t, string(res.body), "PRIVATE KEY")
		var raw map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(res.body, &raw))
		require.Equal(t, []string{"built_in", "created_at", "id", "last_checked_at", "name", "provider", "records", "status", "tenant_id", "verified_at", "warmup"},
			slices.Sorted(maps.Keys(raw)))
		var d Domain
		res.decode(t, http.StatusOK, &d)
		require.Regexp(t, `^dom_[0-9A-Z]{26}$`, d.ID)
		require.Equal(t, "example.com", d.Name)
		require.Equal(t, "pending", d.Status)
		require.Regexp(t, timePattern, *d.CreatedAt)
		require.Nil(t, d.TenantID)
		require.Nil(t, d.Provider)
		require.Nil(t, d.VerifiedAt)
		require.Len(t, d.Records, 4)
		dkim, spf, mx, dmarc := d.Records[0], d.Records[1], d.Records[2], d.Records[3]
		require.Equal(t, "dkim", dkim.Purpose)
		require.Equal(t, "TXT", dkim.Type)
		require.Regexp(t, `^sendoka-[0-9a-z]{8}\._domainkey\.example\.com$`, dkim.Name)
		require.Regexp(t, `^v=DKIM1; k=rsa; p=[A-Za-z0-9+/]{390,}=*$`, dkim.Value)
		require.Nil(t, dkim.Priority)
		require.Equal(t, DomainRecord{Purpose: "spf", Type: "TXT", Name: "bounces.example.com", Value: "v=spf1 include:amazonses.com ~all", Required: true, Status: "pending"}, spf)
		ten := 10
		require.Equal(t, DomainRecord{Purpose: "return_path", Type: "MX", Name: "bounces.example.com", Value: "feedback-smtp.us-east-1.amazonses.com", Priority: &ten, Required: true, Status: "pending"}, mx)
		require.Equal(t, DomainRecord{Purpose: "dmarc", Type: "TXT", Name: "_dmarc.example.com", Value: "v=DMARC1; p=none;", Required: false, Status: "pending"}, dmarc)

		// Refusals.
		b.do(t, req{method: http.MethodPost, path: "/api/v1/domains", key: b.live, body: map[string]any{"name": "example.com"}}).
			requireError(t, http.StatusConflict, sendoka.CodeConflict)
		for _, body := range []any{
			map[string]any{"name": "example.com."}, map[string]any{"name": "nodots"}, map[string]any{"name": "sandbox.sendoka.com"},
			map[string]any{"name": "a@b.example"}, map[string]any{"name": strings.Repeat("a", 64) + ".example"}, map[string]any{"name": "ex\u0000ample.com"},
			map[string]any{}, map[string]any{"name": 42},
		} {
			e := b.do(t, req{method: http.MethodPost, path: "/api/v1/domains", key: b.live, body: body}).requireError(t, http.StatusUnprocessableEntity, sendoka.CodeValidation)
			require.NotEmpty(t, e.Errors, "%v", body)
			require.Equal(t, []any{"name"}, e.Errors[0].Path, "%v: %+v", body, e.Errors)
		}
		e := b.do(t, req{method: http.MethodPost, path: "/api/v1/domains", key: b.live, body: map[string]any{"name": "x.example", "region": "eu"}}).
			requireError(t, http.StatusUnprocessableEntity, sendoka.CodeValidation)
		require.True(t, hasField(e, sendoka.FieldUnrecognized, "region"), "%+v", e)
		b.do(t, req{method: http.MethodPost, path: "/api/v1/domains", key: b.live, body: `{"name":`}).requireError(t, http.StatusUnprocessableEntity, sendoka.CodeValidation)

		// Get, and the list with the built-in sandbox domain last.
		var got Domain
		b.do(t, req{method: http.MethodGet, path: "/api/v1/domains/" + d.ID, key: b.test}).decode(t, http.StatusOK, &got)
		require.Equal(t, d, got)
		var list DomainList
		b.do(t, req{method: http.MethodGet, path: "/api/v1/domains", key: b.live}).decode(t, http.StatusOK, &list)
		require.False(t, list.HasMore)
		require.Nil(t, list.NextCursor)
		require.Len(t, list.Data, 2)
		require.Equal(t, d.ID, list.Data[0].ID)
		sb := list.Data[1]
		require.Equal(t, Domain{ID: "dom_sandbox", Name: "sandbox.sendoka.com", Status: "verified", BuiltIn: true, Records: []DomainRecord{}}, *sb)
		b.do(t, req{method: http.MethodGet, path: "/api/v1/domains/dom_sandbox", key: b.live}).decode(t, http.StatusOK, &got)
		require.Equal(t, *sb, got)
		b.do(t, req{method: http.MethodGet, path: "/api/v1/domains?limit=1", key: b.live}).decode(t, http.StatusOK, &list)
		require.True(t, list.HasMore)
		b.do(t, req{method: http.MethodGet, path: "/api/v1/domains?limit=1&cursor=" + *list.NextCursor, key: b.live}).decode(t, http.StatusOK, &list)
		require.Equal(t, "dom_sandbox", list.Data[0].ID)
		require.False(t, list.HasMore)
		b.do(t, req{method: http.MethodGet, path: "/api/v1/domains/dom_01HN8Z6Q4V3K2J1M0N9P8Q7R6S", key: b.live}).requireError(t, http.StatusNotFound, sendoka.CodeNotFound)
		b.do(t, req{method: http.MethodGet, path: "/api/v1/domains?limit=0", key: b.live}).requireError(t, http.StatusUnprocessableEntity, sendoka.CodeValidation)

		// A live key cannot send from it yet; the answer says what to do. A test key can.
		mail := quickstart()
		mail["from"] = "hello@example.com"
		e = b.do(t, req{method: http.MethodPost, path: "/api/v1/emails", key: b.live, body: mail}).requireError(t, http.StatusUnprocessableEntity, sendoka.CodeValidation)
		require.True(t, hasField(e, sendoka.FieldInvalid, "from"), "%+v", e)
		require.Contains(t, e.Message, "/api/v1/domains/"+d.ID+"/verify")
		b.send(t, "/api/v1/emails", b.test, mail)
		mail["from"] = "hello@unknown.example"
		e = b.do(t, req{method: http.MethodPost, path: "/api/v1/emails", key: b.test, body: mail}).requireError(t, http.StatusUnprocessableEntity, sendoka.CodeValidation)
		require.Contains(t, e.Message, "add it with POST /api/v1/domains")

		// Verify with nothing published: every record's status and problem.
		var checked Domain
		b.do(t, req{method: http.MethodPost, path: "/api/v1/domains/" + d.ID + "/verify", key: b.live}).decode(t, http.StatusOK, &checked)
		require.Equal(t, "pending", checked.Status)
		require.Regexp(t, timePattern, *checked.LastCheckedAt)
		for _, r := range checked.Records {
			require.Equal(t, "missing", r.Status, r.Name)
			require.Contains(t, *r.Problem, r.Name)
		}
		// The DKIM record with a wrong key, the rest right.
		b.publish(d)
		b.dns.SetTXT(dkim.Name, "v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAother")
		b.do(t, req{method: http.MethodPost, path: "/api/v1/domains/" + d.ID + "/verify", key: b.live}).decode(t, http.StatusOK, &checked)
		require.Equal(t, "pending", checked.Status)
		require.Equal(t, []string{"mismatch", "verified", "verified", "verified"},
			[]string{checked.Records[0].Status, checked.Records[1].Status, checked.Records[2].Status, checked.Records[3].Status})
		require.Contains(t, *checked.Records[0].Problem, "holds another key")
		// All good.
		b.publish(d)
		b.do(t, req{method: http.MethodPost, path: "/api/v1/domains/" + d.ID + "/verify", key: b.live}).decode(t, http.StatusOK, &checked)
		require.Equal(t, "verified", checked.Status)
		require.Regexp(t, timePattern, *checked.VerifiedAt)
		require.Nil(t, checked.Records[0].Problem)
		mail["from"] = "hello@example.com"
		b.send(t, "/api/v1/emails", b.live, mail)

		// Delete.
		var del DomainDeleted
		b.do(t, req{method: http.MethodDelete, path: "/api/v1/domains/" + d.ID, key: b.live}).decode(t, http.StatusOK, &del)
		require.Equal(t, DomainDeleted{ID: d.ID, Deleted: true}, del)
		b.do(t, req{method: http.MethodGet, path: "/api/v1/domains/" + d.ID, key: b.live}).requireError(t, http.StatusNotFound, sendoka.CodeNotFound)
		b.do(t, req{method: http.MethodDelete, path: "/api/v1/domains/" + d.ID, key: b.live}).requireError(t, http.StatusNotFound, sendoka.CodeNotFound)
		b.do(t, req{method: http.MethodPost, path: "/api/v1/domains/" + d.ID + "/verify", key: b.live}).requireError(t, http.StatusNotFound, sendoka.CodeNotFound)
		b.do(t, req{method: http.MethodDelete, path: "/api/v1/domains/dom_sandbox", key: b.live}).requireError(t, http.StatusConflict, sendoka.CodeConflict)
		b.do(t, req{method: http.MethodPost, path: "/api/v1/emails", key: b.live, body: mail}).requireError(t, http.StatusUnprocessableEntity, sendoka.CodeValidation)
	})
}

func TestDomainsAPIKeys(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := setup(t, db, setupConfig{})
		verified := func(key, name string) Domain {
			d := b.createDomain(t, key, name)
			b.publish(d)
			b.do(t, req{method: http.MethodPost, path: "/api/v1/domains/" + d.ID + "/verify", key: key}).decode(t, http.StatusOK, &d)
			require.Equal(t, "verified", d.Status)
			return d
		}
		d := verified(b.live, "keys.example")
		verified(b.live, "other.example")
		mail := func(from string) map[string]any {
			m := quickstart()
			m["from"] = from
			return m
		}

		// Scopes: domains:read reads, domains:write writes (and reads), emails:send neither.
		_, reader := b.key(t, sendoka.CreateKeyParams{Permissions: []sendoka.Permission{sendoka.PermissionDomainsRead}})
		_, writer := b.key(t, sendoka.CreateKeyParams{Permissions: []sendoka.Permission{sendoka.PermissionDomainsWrite}})
		_, sender := b.key(t, sendoka.CreateKeyParams{Permissions: []sendoka.Permission{sendoka.PermissionEmailsSend}})
		var list DomainList
		b.do(t, req{method: http.MethodGet, path: "/api/v1/domains", key: reader}).decode(t, http.StatusOK, &list)
		require.Len(t, list.Data, 3)
		b.do(t, req{method: http.MethodGet, path: "/api/v1/domains/" + d.ID, key: reader}).decode(t, http.StatusOK, &Domain{})
		b.do(t, req{method: http.MethodPost, path: "/api/v1/domains", key: reader, body: map[string]any{"name": "r.example"}}).requireError(t, http.StatusForbidden, sendoka.CodeInsufficientScope)
		b.do(t, req{method: http.MethodPost, path: "/api/v1/domains/" + d.ID + "/verify", key: reader}).requireError(t, http.StatusForbidden, sendoka.CodeInsufficientScope)
		b.do(t, req{method: http.MethodDelete, path: "/api/v1/domains/" + d.ID, key: reader}).requireError(t, http.StatusForbidden, sendoka.CodeInsufficientScope)
		b.do(t, req{method: http.MethodGet, path: "/api/v1/domains", key: sender}).requireError(t, http.StatusForbidden, sendoka.CodeInsufficientScope)
		b.do(t, req{method: http.MethodGet, path: "/api/v1/domains/" + d.ID, key: writer}).decode(t, http.StatusOK, &Domain{})
		w := b.createDomain(t, writer, "w.example")
		b.do(t, req{method: http.MethodDelete, path: "/api/v1/domains/" + w.ID, key: writer}).decode(t, http.StatusOK, &DomainDeleted{})
		b.send(t, "/api/v1/emails", sender, mail("a@keys.example"))

		// allowed_domain_ids: its domains only; the sandbox domain always.
		_, limited := b.key(t, sendoka.CreateKeyParams{AllowedDomainIDs: []string{d.ID}})
		b.send(t, "/api/v1/emails", limited, mail("a@keys.example"))
		b.send(t, "/api/v1/emails", limited, mail("a@sandbox.sendoka.com"))
		e := b.do(t, req{method: http.MethodPost, path: "/api/v1/emails", key: limited, body: mail("a@other.example")}).
			requireError(t, http.StatusForbidden, sendoka.CodeDomainNotAllowedForKey)
		require.Contains(t, e.Message, "allowed_domain_ids")
		b.do(t, req{method: http.MethodPost, path: "/api/v1/emails", key: limited, body: mail("a@unknown.example")}).
			requireError(t, http.StatusForbidden, sendoka.CodeDomainNotAllowedForKey)
		var batch BatchResponse
		b.do(t, req{method: http.MethodPost, path: "/api/v1/emails/batch", key: limited,
			body: []any{mail("a@keys.example"), mail("a@other.example")}}).decode(t, http.StatusOK, &batch)
		require.Equal(t, 1, batch.Succeeded)
		require.Equal(t, string(sendoka.CodeDomainNotAllowedForKey), batch.Data[1].Error.Code)

		// Tenants: a tenant-bound key adds domains to its tenant; others cannot see them.
		tenantA, tenantB := b.createTenant(t, "A", "dom-a"), b.createTenant(t, "B", "dom-b")
		_, tenA := b.key(t, sendoka.CreateKeyParams{TenantID: tenantA.ID})
		_, tenB := b.key(t, sendoka.CreateKeyParams{TenantID: tenantB.ID})
		a := verified(tenA, "tenant-a.example")
		require.Equal(t, tenantA.ID, *a.TenantID)
		b.do(t, req{method: http.MethodGet, path: "/api/v1/domains/" + a.ID, key: tenB}).requireError(t, http.StatusNotFound, sendoka.CodeNotFound)
		b.do(t, req{method: http.MethodPost, path: "/api/v1/domains/" + a.ID + "/verify", key: tenB}).requireError(t, http.StatusNotFound, sendoka.CodeNotFound)
		b.do(t, req{method: http.MethodDelete, path: "/api/v1/domains/" + a.ID, key: tenB}).requireError(t, http.StatusNotFound, sendoka.CodeNotFound)
		b.do(t, req{method: http.MethodGet, path: "/api/v1/domains/" + d.ID, key: tenA}).requireError(t, http.StatusNotFound, sendoka.CodeNotFound)
		b.do(t, req{method: http.MethodGet, path: "/api/v1/domains", key: tenB}).decode(t, http.StatusOK, &list)
		require.Equal(t, []string{"dom_sandbox"}, []string{list.Data[0].ID})
		b.do(t, req{method: http.MethodGet, path: "/api/v1/domains/" + a.ID, key: b.live}).decode(t, http.StatusOK, &Domain{}) // the org-wide key sees it
		b.send(t, "/api/v1/emails", tenA, mail("a@tenant-a.example"))
		for _, key := range []string{tenB, b.live} {
			b.do(t, req{method: http.MethodPost, path: "/api/v1/emails", key: key, body: mail("a@tenant-a.example")}).
				requireError(t, http.StatusUnprocessableEntity, sendoka.CodeValidation)
		}
		b.do(t, req{method: http.MethodPost, path: "/api/v1/emails", key: tenA, body: mail("a@keys.example")}).
			requireError(t, http.StatusUnprocessableEntity, sendoka.CodeValidation)
	})
}

// TestDomainsAPISES: with SES as the live provider the domain shows SES's DKIM CNAMEs, and an
// SES outage while adding one is a 503 that stores nothing.
func TestDomainsAPISES(t *testing.T) {
	t.Parallel()
	srv := sesemailtest.Start(t)
	b := setup(t, sqlite(t), setupConfig{email: sesemail.New(srv.Client(), sesemail.Options{})})
	d := b.createDomain(t, b.live, "ses.example")
	require.Equal(t, "ses", *d.Provider)
	require.Len(t, d.Records, 6)
	for i, tok := range sesemailtest.Tokens("ses.example") {
		require.Equal(t, DomainRecord{Purpose: "dkim", Type: "CNAME", Name: tok + "._domainkey.ses.example", Value: tok + ".dkim.amazonses.com",
			Required: true, Status: "pending"}, d.Records[i])
	}
	b.publish(d)
	b.do(t, req{method: http.MethodPost, path: "/api/v1/domains/" + d.ID + "/verify", key: b.live}).decode(t, http.StatusOK, &d)
	require.Equal(t, "verified", d.Status)

	srv.FailIdentityWith(func(sesemailtest.IdentityCall) *sesemailtest.Failure {
		return &sesemailtest.Failure{Status: http.StatusInternalServerError, Type: "InternalFailure", Message: "boom"}
	})
	res := b.do(t, req{method: http.MethodPost, path: "/api/v1/domains", key: b.live, body: map[string]any{"name": "down.example"}})
	res.requireError(t, http.StatusServiceUnavailable, sendoka.CodeUnavailable)
	require.NotEmpty(t, res.header.Get("Retry-After"))
	var list DomainList
	b.do(t, req{method: http.MethodGet, path: "/api/v1/domains", key: b.live}).decode(t, http.StatusOK, &list)
	require.Len(t, list.Data, 2)
}
