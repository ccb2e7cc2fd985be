package httpapi

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/sendoka"
	"github.com/sendoka/sendoka/storage/bunstore"
	"github.com/sendoka/sendoka/storage/bunstore/bunstoretest"
)

// TestAudiencesAPI: create, get, list, rename and delete an audience; add contacts with
// per-row results (invalid rows, duplicates merged, updates), list them with the
// subscribed filter and pages, delete one; the scopes that guard them.
func TestAudiencesAPI(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := setup(t, db, setupConfig{})

		var a Audience
		b.do(t, req{method: http.MethodPost, path: "/api/v1/audiences", key: b.live,
			body: map[string]any{"name": "Newsletter", "description": "Monthly"}}).decode(t, http.StatusOK, &a)
		require.True(t, strings.HasPrefix(a.ID, sendoka.PrefixAudience), a.ID)
		require.Equal(t, "Newsletter", a.Name)
		require.Equal(t, "Monthly", *a.Description)
		require.Equal(t, 0, *a.Contacts)

		e := b.do(t, req{method: http.MethodPost, path: "/api/v1/audiences", key: b.live, body: map[string]any{"name": " "}}).
			requireError(t, http.StatusUnprocessableEntity, sendoka.CodeValidation)
		require.True(t, hasField(e, sendoka.FieldRequired, "name"), "%+v", e)

		contacts := "/api/v1/audiences/" + a.ID + "/contacts"
		var added ContactsAdded
		b.do(t, req{method: http.MethodPost, path: contacts, key: b.live, body: []map[string]any{
			{"email": "Ada@Example.com", "first_name": "Ada", "data": map[string]any{"plan": "pro"}},
			{"phone": "+15559876543", "first_name": "Alan"},
			{"email": "not an address"},
			{"first_name": "Nobody"},
			{"phone": "555-0100"},
			{"email": "ada@example.com", "last_name": "Lovelace"}, // merged into row 0
		}}).decode(t, http.StatusOK, &added)
		require.Equal(t, ContactsAdded{Data: added.Data, Total: 6, Created: 2, Updated: 1, Failed: 3}, added)
		require.Equal(t, []string{"created", "created", "failed", "failed", "failed", "updated"}, rowStatuses(added))
		ada, alan := added.Data[0].Contact, added.Data[1].Contact
		require.Equal(t, "+15559876543", *alan.Phone)
		require.Nil(t, alan.Email)
		require.Equal(t, "ada@example.com", *ada.Email)
		require.Equal(t, "Lovelace", *ada.LastName, "duplicates of one call are merged")
		require.Equal(t, map[string]any{"plan": "pro"}, ada.Data)
		require.True(t, ada.Subscribed)
		require.Equal(t, ada.ID, added.Data[5].Contact.ID)
		require.True(t, strings.HasPrefix(ada.ID, sendoka.PrefixContact))
		require.Equal(t, []any{float64(2), "email"}, added.Data[2].Error.Errors[0].Path)
		require.Equal(t, []any{float64(3), "email"}, added.Data[3].Error.Errors[0].Path)
		require.Equal(t, []any{float64(4), "phone"}, added.Data[4].Error.Errors[0].Path)

		// Again: an update keeps the id and the fields the row leaves out.
		b.do(t, req{method: http.MethodPost, path: contacts, key: b.live, body: []map[string]any{
			{"email": "ada@example.com", "first_name": "Augusta"},
		}}).decode(t, http.StatusOK, &added)
		require.Equal(t, "updated", added.Data[0].Status)
		require.Equal(t, ada.ID, added.Data[0].Contact.ID)
		require.Equal(t, "Augusta", *added.Data[0].Contact.FirstName)
		require.Equal(t, "Lovelace", *added.Data[0].Contact.LastName)
		require.Equal(t, map[string]any{"plan": "pro"}, added.Data[0].Contact.Data)

		// Zero rows, unknown fields, too many rows: the whole call is refused.
		b.do(t, req{method: http.MethodPost, path: contacts, key: b.live, body: []map[string]any{}}).
			requireError(t, http.StatusUnprocessableEntity, sendoka.CodeValidation)
		b.do(t, req{method: http.MethodPost, path: contacts, key: b.live, body: []map[string]any{{"email": "x@example.com", "id": "con_x"}}}).
			requireError(t, http.StatusUnprocessableEntity, sendoka.CodeValidation)
		many := make([]map[string]any, sendoka.MaxContactBatch+1)
		for i := range many {
			many[i] = map[string]any{"email": fmt.Sprintf("m%d@example.com", i)}
		}
		b.do(t, req{method: http.MethodPost, path: contacts, key: b.live, body: many}).
			requireError(t, http.StatusUnprocessableEntity, sendoka.CodeValidation)

		// Pages, newest first.
		require.ElementsMatch(t, []string{ada.ID, alan.ID}, listContactIDs(t, b, contacts+"?limit=1"))
		require.ElementsMatch(t, []string{ada.ID, alan.ID}, listContactIDs(t, b, contacts+"?limit=1&subscribed=true"))
		require.Empty(t, listContactIDs(t, b, contacts+"?subscribed=false"))

		var got Audience
		b.do(t, req{method: http.MethodGet, path: "/api/v1/audiences/" + a.ID, key: b.live}).decode(t, http.StatusOK, &got)
		require.Equal(t, 2, *got.Contacts)
		require.Equal(t, 0, *got.Unsubscribed)
		b.do(t, req{method: http.MethodPatch, path: "/api/v1/audiences/" + a.ID, key: b.live, body: map[string]any{"name": "Renamed"}}).
			decode(t, http.StatusOK, &got)
		require.Equal(t, "Renamed", got.Name)
		require.Equal(t, "Monthly", *got.Description)

		var list AudienceList
		b.do(t, req{method: http.MethodGet, path: "/api/v1/audiences", key: b.live}).decode(t, http.StatusOK, &list)
		require.Len(t, list.Data, 1)
		require.Equal(t, a.ID, list.Data[0].ID)

		var del ContactDeleted
		b.do(t, req{method: http.MethodDelete, path: contacts + "/" + ada.ID, key: b.live}).decode(t, http.StatusOK, &del)
		require.True(t, del.Deleted)
		b.do(t, req{method: http.MethodDelete, path: contacts + "/" + ada.ID, key: b.live}).requireError(t, http.StatusNotFound, sendoka.CodeNotFound)
		require.Len(t, listContactIDs(t, b, contacts), 1)

		// Scopes: audiences:read reads, and only audiences:write writes.
		_, reader := b.key(t, sendoka.CreateKeyParams{Permissions: []sendoka.Permission{sendoka.PermissionAudiencesRead}})
		b.do(t, req{method: http.MethodGet, path: "/api/v1/audiences/" + a.ID, key: reader}).decode(t, http.StatusOK, &got)
		b.do(t, req{method: http.MethodPost, path: contacts, key: reader, body: []map[string]any{{"email": "r@example.com"}}}).
			requireError(t, http.StatusForbidden, sendoka.CodeInsufficientScope)
		_, sender := b.key(t, sendoka.CreateKeyParams{Permissions: []sendoka.Permission{sendoka.PermissionEmailsSend}})
		b.do(t, req{method: http.MethodGet, path: contacts, key: sender}).requireError(t, http.StatusForbidden, sendoka.CodeInsufficientScope)

		var gone AudienceDeleted
		b.do(t, req{method: http.MethodDelete, path: "/api/v1/audiences/" + a.ID, key: b.live}).decode(t, http.StatusOK, &gone)
		require.True(t, gone.Deleted)
		b.do(t, req{method: http.MethodGet, path: "/api/v1/audiences/" + a.ID, key: b.live}).requireError(t, http.StatusNotFound, sendoka.CodeNotFound)
		b.do(t, req{method: http.MethodGet, path: contacts, key: b.live}).requireError(t, http.StatusNotFound, sendoka.CodeNotFound)
	})
}

// TestAudiencesTenants: a tenant's audiences are its own; a platform-root key reaches them
// with tenant_id, and lists only the org-level ones without it.
func TestAudiencesTenants(t *testing.T) {
	t.Parallel()
	b := setup(t, sqlite(t), setupConfig{})
	tenant := b.createTenant(t, "Acme", "acme")
	key := b.tenantKey(t, tenant.ID, sendoka.ModeLive)
	var own, root Audience
	b.do(t, req{method: http.MethodPost, path: "/api/v1/audiences", key: key, body: map[string]any{"name": "tenant list"}}).decode(t, http.StatusOK, &own)
	require.Equal(t, tenant.ID, *own.TenantID)
	b.do(t, req{method: http.MethodPost, path: "/api/v1/audiences", key: b.live, body: map[string]any{"name": "org list"}}).decode(t, http.StatusOK, &root)

	require.Equal(t, []string{own.ID}, b.listIDs(t, "/api/v1/audiences", key))
	require.Equal(t, []string{root.ID}, b.listIDs(t, "/api/v1/audiences", b.live))
	require.Equal(t, []string{own.ID}, b.listIDs(t, "/api/v1/audiences?tenant_id="+tenant.ID, b.live))
	b.do(t, req{method: http.MethodGet, path: "/api/v1/audiences/" + own.ID, key: b.live}).requireError(t, http.StatusNotFound, sendoka.CodeNotFound)
	b.do(t, req{method: http.MethodGet, path: "/api/v1/audiences/" + own.ID + "?tenant_id=" + tenant.ID, key: b.live}).decode(t, http.StatusOK, &Audience{})
	b.do(t, req{method: http.MethodGet, path: "/api/v1/audiences/" + root.ID, key: key}).requireError(t, http.StatusNotFound, sendoka.CodeNotFound)
}

func rowStatuses(a ContactsAdded) []string {
	var out []string
	for _, r := range a.Data {
		out = append(out, r.Status)
	}
	return out
}

// listContactIDs follows a contact listing's pages to the end.
func listContactIDs(t *testing.T, b *bundle, path string) []string {
	t.Helper()
	var out []string
	next := path
	for {
		var page ContactList
		b.do(t, req{method: http.MethodGet, path: next, key: b.live}).decode(t, http.StatusOK, &page)
		for _, c := range page.Data {
			out = append(out, c.ID)
		}
		if !page.HasMore {
			return out
		}
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		next = path + sep + "cursor=" + *page.NextCursor
	}
}
