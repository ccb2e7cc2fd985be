package httpapi

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/sendoka"
	"github.com/sendoka/sendoka/storage/bunstore"
	"github.com/sendoka/sendoka/storage/bunstore/bunstoretest"
)

// TestAPIKeysRoutes: a key is created once in plaintext, listed and read without it,
// changed, and revoked, after which it no longer authenticates.
func TestAPIKeysRoutes(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := setup(t, db, setupConfig{})
		expires := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Second).Format(time.RFC3339)
		var created APIKeyCreated
		b.do(t, req{method: http.MethodPost, path: "/api/v1/api-keys", key: b.live, body: map[string]any{
			"name": "backend", "mode": "live", "scopes": []string{"emails:send", "emails:read"},
			"allowed_cidrs": []string{"127.0.0.0/8", "::1/128"}, "expires_at": expires,
		}}).decode(t, http.StatusOK, &created)
		require.True(t, strings.HasPrefix(created.Key, sendoka.KeyPrefixLive))
		require.True(t, sendoka.KeyChecksumValid(created.Key), "a new key carries its checksum")
		require.Equal(t, created.Key[:len(created.Prefix)], created.Prefix)
		require.Equal(t, []string{"emails:send", "emails:read"}, created.Scopes)
		require.Equal(t, []string{"127.0.0.0/8", "::1/128"}, created.AllowedCIDRs)
		require.Nil(t, created.TenantID)
		require.NotNil(t, created.ExpiresAt)
		require.Regexp(t, timePattern, *created.ExpiresAt)

		// The new key works, within its scopes.
		b.do(t, req{method: http.MethodPost, path: "/api/v1/emails", key: created.Key, body: quickstart()}).decode(t, http.StatusOK, &map[string]any{})
		e := b.do(t, req{method: http.MethodPost, path: "/api/v1/sms", key: created.Key, body: smsBody()}).requireError(t, http.StatusForbidden, sendoka.CodeInsufficientScope)
		require.Contains(t, e.Message, "sms:send", "the error names the missing scope")
		b.do(t, req{method: http.MethodGet, path: "/api/v1/api-keys", key: created.Key}).requireError(t, http.StatusForbidden, sendoka.CodeInsufficientScope)

		var list APIKeyList
		res := b.do(t, req{method: http.MethodGet, path: "/api/v1/api-keys", key: b.live})
		res.decode(t, http.StatusOK, &list)
		require.NotContains(t, string(res.body), created.Key, "never the key itself")
		require.Equal(t, created.ID, list.Data[0].ID, "newest first")
		require.Len(t, list.Data, 3, "the bootstrap keys and the new one")

		var got APIKey
		b.do(t, req{method: http.MethodGet, path: "/api/v1/api-keys/" + created.ID, key: b.live}).decode(t, http.StatusOK, &got)
		require.Equal(t, created.APIKey.ID, got.ID)
		require.Equal(t, "backend", got.Name)

		var updated APIKey
		b.do(t, req{method: http.MethodPatch, path: "/api/v1/api-keys/" + created.ID, key: b.live, body: map[string]any{
			"name": "backend-2", "scopes": []string{"emails:read"},
		}}).decode(t, http.StatusOK, &updated)
		require.Equal(t, "backend-2", updated.Name)
		require.Equal(t, []string{"emails:read"}, updated.Scopes)
		require.Equal(t, created.AllowedCIDRs, updated.AllowedCIDRs, "what the body leaves out stays")
		// This process drops the changed key from its cache: the next request sees the change.
		b.do(t, req{method: http.MethodPost, path: "/api/v1/emails", key: created.Key, body: quickstart()}).requireError(t, http.StatusForbidden, sendoka.CodeInsufficientScope)

		var revoked APIKey
		b.do(t, req{method: http.MethodDelete, path: "/api/v1/api-keys/" + created.ID, key: b.live}).decode(t, http.StatusOK, &revoked)
		require.NotNil(t, revoked.RevokedAt)
		b.do(t, req{method: http.MethodGet, path: "/api/v1/emails", key: created.Key}).requireError(t, http.StatusUnauthorized, sendoka.CodeUnauthorized)
		b.do(t, req{method: http.MethodPatch, path: "/api/v1/api-keys/" + created.ID, key: b.live, body: map[string]any{"name": "x"}}).
			requireError(t, http.StatusNotFound, sendoka.CodeNotFound)

		// Ids that are not there, or not yours.
		for _, method := range []string{http.MethodGet, http.MethodDelete} {
			b.do(t, req{method: method, path: "/api/v1/api-keys/key_01NOSUCHKEY", key: b.live}).requireError(t, http.StatusNotFound, sendoka.CodeNotFound)
		}
	})
}

// TestAPIKeysNoEscalation: a key never creates or manages a key with more power than its
// own, and the body's read-only fields are refused.
func TestAPIKeysNoEscalation(t *testing.T) {
	t.Parallel()
	b := setup(t, sqlite(t), setupConfig{})
	create := func(key string, body map[string]any) *response {
		return b.do(t, req{method: http.MethodPost, path: "/api/v1/api-keys", key: key, body: body})
	}
	var keyAdmin APIKeyCreated
	create(b.live, map[string]any{"mode": "live", "scopes": []string{"api_keys:write", "emails:send"},
		"allowed_cidrs": []string{"127.0.0.0/8", "::1/128"}}).decode(t, http.StatusOK, &keyAdmin)

	cases := []struct {
		name string
		key  string
		body map[string]any
		code sendoka.Code
	}{
		{"a scope the creator lacks", keyAdmin.Key, map[string]any{"mode": "live", "scopes": []string{"sms:send"}}, sendoka.CodeInsufficientScope},
		{"full access from a scoped key", keyAdmin.Key, map[string]any{"mode": "live", "scopes": []string{"full_access"}}, sendoka.CodeInsufficientScope},
		{"wider CIDRs", keyAdmin.Key, map[string]any{"mode": "live", "scopes": []string{"emails:send"}, "allowed_cidrs": []string{"0.0.0.0/0"}}, sendoka.CodeInsufficientScope},
		{"a live key from a test key", b.test, map[string]any{"mode": "live"}, sendoka.CodeInsufficientScope},
		{"an unknown scope", b.live, map[string]any{"mode": "live", "scopes": []string{"emails:fly"}}, sendoka.CodeValidation},
		{"an unknown sending domain", b.live, map[string]any{"mode": "live", "allowed_domain_ids": []string{"dom_01NOSUCHDOMAIN"}}, sendoka.CodeValidation},
		{"a bad CIDR", b.live, map[string]any{"mode": "live", "allowed_cidrs": []string{"10.0.0.0/33"}}, sendoka.CodeValidation},
		{"an expiry in the past", b.live, map[string]any{"mode": "live", "expires_at": "2001-01-01T00:00:00Z"}, sendoka.CodeValidation},
		{"no mode", b.live, map[string]any{"name": "x"}, sendoka.CodeValidation},
		{"read-only id", b.live, map[string]any{"mode": "live", "id": "key_01MINE"}, sendoka.CodeValidation},
		{"read-only prefix", b.live, map[string]any{"mode": "live", "prefix": "sok_live_AAAA"}, sendoka.CodeValidation},
		{"read-only created_at", b.live, map[string]any{"mode": "live", "created_at": "2026-01-01T00:00:00Z"}, sendoka.CodeValidation},
		{"a chosen secret", b.live, map[string]any{"mode": "live", "key": "sok_live_" + strings.Repeat("A", 32)}, sendoka.CodeValidation},
	}
	for _, tc := range cases {
		status, _ := ErrorStatus(tc.code)
		create(tc.key, tc.body).requireError(t, status, tc.code)
	}

	// Left out, the limits are the creator's.
	var child APIKeyCreated
	create(keyAdmin.Key, map[string]any{"mode": "live"}).decode(t, http.StatusOK, &child)
	require.Equal(t, []string{"api_keys:write", "emails:send"}, child.Scopes)
	require.Equal(t, []string{"127.0.0.0/8", "::1/128"}, child.AllowedCIDRs)
	var narrower APIKeyCreated
	create(keyAdmin.Key, map[string]any{"mode": "test", "scopes": []string{"emails:send"}, "allowed_cidrs": []string{"127.0.0.1/32"}}).decode(t, http.StatusOK, &narrower)

	// A scoped key can neither change nor revoke a key with more power, nor raise one.
	var list APIKeyList
	b.do(t, req{method: http.MethodGet, path: "/api/v1/api-keys", key: b.live}).decode(t, http.StatusOK, &list)
	var fullID string
	for _, k := range list.Data {
		if len(k.Scopes) == 1 && k.Scopes[0] == "full_access" && k.Mode == "live" {
			fullID = k.ID
		}
	}
	require.NotEmpty(t, fullID)
	b.do(t, req{method: http.MethodDelete, path: "/api/v1/api-keys/" + fullID, key: keyAdmin.Key}).requireError(t, http.StatusForbidden, sendoka.CodeInsufficientScope)
	b.do(t, req{method: http.MethodPatch, path: "/api/v1/api-keys/" + fullID, key: keyAdmin.Key, body: map[string]any{"name": "mine now"}}).
		requireError(t, http.StatusForbidden, sendoka.CodeInsufficientScope)
	b.do(t, req{method: http.MethodPatch, path: "/api/v1/api-keys/" + narrower.ID, key: keyAdmin.Key, body: map[string]any{"scopes": []string{"sms:send"}}}).
		requireError(t, http.StatusForbidden, sendoka.CodeInsufficientScope)
	for _, field := range []map[string]any{{"mode": "live"}, {"tenant_id": "ten_x"}, {"id": "key_x"}, {"scopes": []string{}}} {
		b.do(t, req{method: http.MethodPatch, path: "/api/v1/api-keys/" + narrower.ID, key: b.live, body: field}).
			requireError(t, http.StatusUnprocessableEntity, sendoka.CodeValidation)
	}
	var still APIKey
	b.do(t, req{method: http.MethodGet, path: "/api/v1/api-keys/" + narrower.ID, key: b.live}).decode(t, http.StatusOK, &still)
	require.Equal(t, "test", still.Mode, "nothing changed")
	require.Equal(t, []string{"emails:send"}, still.Scopes)

	// A test key sees test keys only.
	var testList APIKeyList
	b.do(t, req{method: http.MethodGet, path: "/api/v1/api-keys", key: b.test}).decode(t, http.StatusOK, &testList)
	for _, k := range testList.Data {
		require.Equal(t, "test", k.Mode)
	}
	b.do(t, req{method: http.MethodGet, path: "/api/v1/api-keys/" + keyAdmin.ID, key: b.test}).requireError(t, http.StatusNotFound, sendoka.CodeNotFound)
}
