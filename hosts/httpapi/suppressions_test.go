package httpapi

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/sendoka"
	"github.com/sendoka/sendoka/storage/bunstore"
	"github.com/sendoka/sendoka/storage/bunstore/bunstoretest"
)

// TestSuppressionsAPI: add one and many, get, list with filters, lift (with history), and
// the send-side effects: ALL_SUPPRESSED for a single send whose every recipient is
// suppressed, the others kept otherwise.
func TestSuppressionsAPI(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := setup(t, db, setupConfig{})
		adminKey, admin := b.key(t, sendoka.CreateKeyParams{Permissions: []sendoka.Permission{sendoka.PermissionSuppressionsWrite, sendoka.PermissionEmailsSend}})

		var added SuppressionsAdded
		b.do(t, req{method: http.MethodPost, path: "/api/v1/suppressions", key: admin,
			body: map[string]any{"address": "Blocked@Example.com", "reason": "unsubscribe"}}).decode(t, http.StatusOK, &added)
		require.Equal(t, 1, added.Created)
		require.Equal(t, "created", added.Data[0].Status)
		s := added.Data[0].Suppression
		require.Equal(t, "blocked@example.com", s.Address)
		require.Equal(t, "email", s.Channel)
		require.Equal(t, "unsubscribe", s.Reason)
		require.True(t, s.Active)
		require.Equal(t, adminKey.ID, *s.CreatedBy)

		// Bulk, with a bad row and a duplicate.
		b.do(t, req{method: http.MethodPost, path: "/api/v1/suppressions", key: admin, body: map[string]any{"suppressions": []any{
			map[string]any{"channel": "sms", "address": "+15551239999", "reason": "stop"},
			map[string]any{"channel": "email", "address": "not an address"},
			map[string]any{"address": "blocked@example.com", "reason": "bounce"},
			map[string]any{"address": "later@example.com", "expires_at": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)},
		}}}).decode(t, http.StatusOK, &added)
		require.Equal(t, SuppressionsAdded{Data: added.Data, Total: 4, Created: 2, Existing: 1, Failed: 1}, added)
		require.Equal(t, "stop", added.Data[0].Suppression.Reason)
		require.Equal(t, "failed", added.Data[1].Status)
		require.Equal(t, []any{"suppressions", float64(1), "address"}, added.Data[1].Error.Errors[0].Path)
		require.Equal(t, "exists", added.Data[2].Status)
		require.Equal(t, "unsubscribe", added.Data[2].Suppression.Reason, "the first suppression and its reason stay")
		require.NotNil(t, added.Data[3].Suppression.ExpiresAt)

		// Single-shape errors are 422s; more than 10,000 rows too.
		e := b.do(t, req{method: http.MethodPost, path: "/api/v1/suppressions", key: admin, body: map[string]any{"address": "nope"}}).
			requireError(t, http.StatusUnprocessableEntity, sendoka.CodeValidation)
		require.True(t, hasField(e, sendoka.FieldInvalid, "channel"), "%+v", e)
		rows := make([]any, sendoka.MaxSuppressionBatch+1)
		for i := range rows {
			rows[i] = map[string]any{"address": fmt.Sprintf("u%d@example.com", i)}
		}
		e = b.do(t, req{method: http.MethodPost, path: "/api/v1/suppressions", key: admin, body: map[string]any{"suppressions": rows}}).
			requireError(t, http.StatusUnprocessableEntity, sendoka.CodeValidation)
		require.True(t, hasField(e, sendoka.FieldTooBig, "suppressions"), "%+v", e)
		b.do(t, req{method: http.MethodPost, path: "/api/v1/suppressions", key: admin, body: map[string]any{}}).
			requireError(t, http.StatusUnprocessableEntity, sendoka.CodeValidation)

		// Sends: all suppressed is ALL_SUPPRESSED; otherwise the suppressed are dropped.
		body := quickstart()
		body["to"] = []string{"BLOCKED@example.com"}
		b.do(t, req{method: http.MethodPost, path: "/api/v1/emails", key: b.live, body: body}).
			requireError(t, http.StatusUnprocessableEntity, sendoka.CodeAllSuppressed)
		body["to"] = []string{"blocked@example.com", "fine@example.com"}
		id := b.send(t, "/api/v1/emails", b.live, body)
		var msg struct {
			To     []string `json:"to"`
			Events []MessageEvent
		}
		b.do(t, req{method: http.MethodGet, path: "/api/v1/emails/" + id, key: b.live}).decode(t, http.StatusOK, &msg)
		require.Equal(t, []string{"fine@example.com"}, msg.To)
		require.Contains(t, eventTypes(msg.Events), "message.suppressed")

		// List and filters.
		list := func(query string) []string {
			var page SuppressionList
			b.do(t, req{method: http.MethodGet, path: "/api/v1/suppressions" + query, key: b.live}).decode(t, http.StatusOK, &page)
			var out []string
			for _, s := range page.Data {
				out = append(out, s.Address)
			}
			return out
		}
		all := list("")
		require.Len(t, all, 3)
		require.ElementsMatch(t, []string{"later@example.com", "+15551239999"}, all[:2], "one bulk call: one creation time")
		require.Equal(t, "blocked@example.com", all[2], "newest first")
		require.Equal(t, []string{"+15551239999"}, list("?reason=stop"))
		require.Equal(t, []string{"+15551239999"}, list("?channel=sms"))
		require.Empty(t, list("?created_before="+url.QueryEscape(time.Now().Add(-time.Hour).UTC().Format(time.RFC3339))))
		b.do(t, req{method: http.MethodGet, path: "/api/v1/suppressions?created_after=yesterday", key: b.live}).
			requireError(t, http.StatusUnprocessableEntity, sendoka.CodeValidation)
		var page SuppressionList
		b.do(t, req{method: http.MethodGet, path: "/api/v1/suppressions?limit=2", key: b.live}).decode(t, http.StatusOK, &page)
		require.True(t, page.HasMore)
		require.Equal(t, []string{"blocked@example.com"}, list("?limit=2&cursor="+*page.NextCursor))

		// Get, lift, get again: the history says who lifted it.
		var detail SuppressionDetail
		b.do(t, req{method: http.MethodGet, path: "/api/v1/suppressions/Blocked@example.com", key: b.live}).decode(t, http.StatusOK, &detail)
		require.True(t, detail.Suppressed)
		require.Empty(t, detail.History)
		var deleted SuppressionDeleted
		b.do(t, req{method: http.MethodDelete, path: "/api/v1/suppressions/blocked@example.com", key: admin}).decode(t, http.StatusOK, &deleted)
		require.Equal(t, SuppressionDeleted{Channel: "email", Address: "blocked@example.com", Deleted: true, RemovedBy: adminKey.ID}, deleted)
		b.do(t, req{method: http.MethodDelete, path: "/api/v1/suppressions/blocked@example.com", key: admin}).
			requireError(t, http.StatusNotFound, sendoka.CodeNotFound)
		b.do(t, req{method: http.MethodGet, path: "/api/v1/suppressions/blocked@example.com", key: b.live}).decode(t, http.StatusOK, &detail)
		require.False(t, detail.Suppressed)
		require.Nil(t, detail.Suppression)
		require.Len(t, detail.History, 1)
		require.Equal(t, adminKey.ID, *detail.History[0].RemovedBy)
		require.NotNil(t, detail.History[0].RemovedAt)
		body["to"] = []string{"blocked@example.com"}
		b.send(t, "/api/v1/emails", b.live, body) // reactivated
		b.do(t, req{method: http.MethodGet, path: "/api/v1/suppressions/%2B15551239999?channel=sms", key: b.live}).decode(t, http.StatusOK, &detail)
		require.Equal(t, "stop", detail.Suppression.Reason)
		b.do(t, req{method: http.MethodGet, path: "/api/v1/suppressions/never@example.com", key: b.live}).
			requireError(t, http.StatusNotFound, sendoka.CodeNotFound)

		// Exactly 10,000 rows is one call, and the same again changes nothing.
		var many SuppressionsAdded
		b.do(t, req{method: http.MethodPost, path: "/api/v1/suppressions", key: admin, body: map[string]any{"suppressions": rows[:sendoka.MaxSuppressionBatch]}}).
			decode(t, http.StatusOK, &many)
		require.Equal(t, sendoka.MaxSuppressionBatch, many.Created)
		b.do(t, req{method: http.MethodPost, path: "/api/v1/suppressions", key: admin, body: map[string]any{"suppressions": rows[:sendoka.MaxSuppressionBatch]}}).
			decode(t, http.StatusOK, &many)
		require.Equal(t, sendoka.MaxSuppressionBatch, many.Existing)
		require.Equal(t, "u9999@example.com", many.Data[9999].Suppression.Address)

		// Scopes.
		_, sendOnly := b.key(t, sendoka.CreateKeyParams{Permissions: []sendoka.Permission{sendoka.PermissionEmailsSend}})
		b.do(t, req{method: http.MethodGet, path: "/api/v1/suppressions", key: sendOnly}).
			requireError(t, http.StatusForbidden, sendoka.CodeInsufficientScope)
		b.do(t, req{method: http.MethodPost, path: "/api/v1/suppressions", key: sendOnly, body: map[string]any{"address": "x@example.com"}}).
			requireError(t, http.StatusForbidden, sendoka.CodeInsufficientScope)
	})
}

// TestSuppressionsTenantScope: a tenant's suppressions are its own: they do not stop the
// other tenant's sends, and a platform-root key reaches them with tenant_id.
func TestSuppressionsTenantScope(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := setup(t, db, setupConfig{})
		ta, tb := b.createTenant(t, "A", "a"), b.createTenant(t, "B", "b")
		keyA, keyB := b.tenantKey(t, ta.ID, sendoka.ModeLive), b.tenantKey(t, tb.ID, sendoka.ModeLive)
		b.do(t, req{method: http.MethodPost, path: "/api/v1/suppressions", key: keyA, body: map[string]any{"address": "shared@example.com"}}).
			decode(t, http.StatusOK, &SuppressionsAdded{})
		body := quickstart()
		body["to"] = []string{"shared@example.com"}
		b.do(t, req{method: http.MethodPost, path: "/api/v1/emails", key: keyA, body: body}).
			requireError(t, http.StatusUnprocessableEntity, sendoka.CodeAllSuppressed)
		b.send(t, "/api/v1/emails", keyB, body)
		b.send(t, "/api/v1/emails", b.live, body)

		var page SuppressionList
		b.do(t, req{method: http.MethodGet, path: "/api/v1/suppressions", key: b.live}).decode(t, http.StatusOK, &page)
		require.Empty(t, page.Data, "the org-wide list is its own namespace")
		b.do(t, req{method: http.MethodGet, path: "/api/v1/suppressions?tenant_id=" + ta.ID, key: b.live}).decode(t, http.StatusOK, &page)
		require.Len(t, page.Data, 1)
		require.Equal(t, ta.ID, *page.Data[0].TenantID)
		b.do(t, req{method: http.MethodGet, path: "/api/v1/suppressions?tenant_id=" + ta.ID, key: keyB}).
			requireError(t, http.StatusForbidden, sendoka.CodeTenantForbidden)
		b.do(t, req{method: http.MethodGet, path: "/api/v1/suppressions/shared@example.com", key: keyB}).
			requireError(t, http.StatusNotFound, sendoka.CodeNotFound)
	})
}

func eventTypes(evs []MessageEvent) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.Type
	}
	return out
}
