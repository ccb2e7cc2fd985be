package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/sendoka/sendoka/sendoka"
)

const tagAPIKeys = "API keys"

// registerAPIKeys adds the key operations: create, list, get, update, revoke.
func registerAPIKeys(api huma.API, r *registrar, h *handlers) {
	huma.Register(api, r.op(http.MethodPost, "/api/v1/api-keys", "create-api-key", tagAPIKeys, "Create an API key",
		"Creates a key and returns it in plaintext, once: only its hash is kept. Needs api_keys:write. "+
			"A key never gets more power than the key creating it: its scopes, mode, tenant, allowed_cidrs, "+
			"allowed_domain_ids and expiry must be within the creator's (left out, they are the creator's); "+
			"anything beyond is 403 INSUFFICIENT_SCOPE, another tenant 403 TENANT_FORBIDDEN.",
		http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusUnprocessableEntity, http.StatusTooManyRequests), h.createAPIKey)
	huma.Register(api, r.op(http.MethodGet, "/api/v1/api-keys", "list-api-keys", tagAPIKeys, "List API keys",
		"Every key in your org (or tenant), newest first, revoked ones included; never the key itself. "+
			"A test key sees test keys only. Needs api_keys:read.",
		http.StatusUnauthorized, http.StatusForbidden, http.StatusTooManyRequests), h.listAPIKeys)
	huma.Register(api, r.op(http.MethodGet, "/api/v1/api-keys/{id}", "get-api-key", tagAPIKeys, "Get an API key",
		"One key, never the key itself. Needs api_keys:read.",
		http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusTooManyRequests), h.getAPIKey)
	huma.Register(api, r.op(http.MethodPatch, "/api/v1/api-keys/{id}", "update-api-key", tagAPIKeys, "Update an API key",
		"Changes the name, scopes, allowed_cidrs, allowed_domain_ids or expires_at given; the mode, tenant "+
			"and secret never change, and an expiry cannot be removed (create a new key). Every server "+
			"applies the change within a second. Needs api_keys:write and at least the key's power, before "+
			"and after the change.",
		http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusUnprocessableEntity, http.StatusTooManyRequests), h.updateAPIKey)
	huma.Register(api, r.op(http.MethodDelete, "/api/v1/api-keys/{id}", "revoke-api-key", tagAPIKeys, "Revoke an API key",
		"Revokes a key: every server refuses it within a second. Revoking twice keeps the first time. "+
			"Needs api_keys:write and at least the key's power.",
		http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusTooManyRequests), h.revokeAPIKey)
}

// APIKey is a key as the API shows it: never the secret.
type APIKey struct {
	ID               string   `json:"id" example:"key_01HN8Z6Q4V3K2J1M0N9P8Q7R6S"`
	Name             string   `json:"name" example:"backend"`
	Prefix           string   `json:"prefix" doc:"The start of the key, to recognise it" example:"sok_live_4fQ2"`
	Mode             string   `json:"mode" enum:"live,test"`
	Scopes           []string `json:"scopes" nullable:"false" example:"[\"emails:send\"]"`
	TenantID         *string  `json:"tenant_id" doc:"The tenant the key is bound to, or null for an org-wide key"`
	AllowedCIDRs     []string `json:"allowed_cidrs" nullable:"false" doc:"Caller addresses the key works from; empty: any" example:"[\"203.0.113.0/24\"]"`
	AllowedDomainIDs []string `json:"allowed_domain_ids" nullable:"false" doc:"Sending domains the key may send from; empty: any"`
	CreatedAt        string   `json:"created_at" format:"date-time"`
	ExpiresAt        *string  `json:"expires_at" format:"date-time" doc:"When the key stops working, or null"`
	LastUsedAt       *string  `json:"last_used_at" format:"date-time" doc:"Its last use, to the minute, or null"`
	RevokedAt        *string  `json:"revoked_at" format:"date-time" doc:"When it was revoked, or null"`
}

// APIKeyCreated is a new key, with its plaintext: shown this once.
type APIKeyCreated struct {
	APIKey
	Key string `json:"key" doc:"The key itself; store it now, it is never shown again" example:"sok_live_4fQ2..."`
}

// APIKeyList lists keys, newest first.
type APIKeyList struct {
	Data []*APIKey `json:"data" nullable:"false"`
}

func apiKeyObject(k *sendoka.APIKey) *APIKey {
	scopes := make([]string, len(k.Permissions))
	for i, p := range k.Permissions {
		scopes[i] = string(p)
	}
	return &APIKey{
		ID: k.ID, Name: k.Name, Prefix: k.Prefix, Mode: string(k.Mode), Scopes: scopes,
		TenantID: nullable(k.TenantID), AllowedCIDRs: nonNil(k.AllowedCIDRs), AllowedDomainIDs: nonNil(k.AllowedDomainIDs),
		CreatedAt: formatTime(k.CreatedAt), ExpiresAt: formatTimePtr(k.ExpiresAt),
		LastUsedAt: formatTimePtr(k.LastUsedAt), RevokedAt: formatTimePtr(k.RevokedAt),
	}
}

// APIKeyCreate is the body of POST /api/v1/api-keys.
type APIKeyCreate struct {
	Name             string   `json:"name,omitempty" maxLength:"100" doc:"A name to recognise the key by" example:"backend"`
	Mode             string   `json:"mode" enum:"live,test" doc:"live (real delivery) or test (sandbox only)"`
	Scopes           []string `json:"scopes,omitempty" maxItems:"32" doc:"What the key may do (see the README's scope table); left out: the creating key's scopes" example:"[\"emails:send\",\"emails:read\"]"`
	AllowedCIDRs     []string `json:"allowed_cidrs,omitempty" maxItems:"50" doc:"IPv4 and IPv6 CIDRs the key may be used from; left out: the creating key's, or anywhere"`
	TenantID         string   `json:"tenant_id,omitempty" maxLength:"64" doc:"Bind the key to a tenant (platform mode)"`
	AllowedDomainIDs []string `json:"allowed_domain_ids,omitempty" maxItems:"100" doc:"Sending domains (dom_…) the key may send from; left out: the creating key's, or any"`
	ExpiresAt        string   `json:"expires_at,omitempty" doc:"When the key stops working (RFC 3339, in the future); left out: the creating key's expiry, or never" example:"2027-01-01T00:00:00Z"`
}

// APIKeyUpdate is the body of PATCH /api/v1/api-keys/{id}: the fields to change.
type APIKeyUpdate struct {
	Name             *string   `json:"name,omitempty" maxLength:"100"`
	Scopes           *[]string `json:"scopes,omitempty" maxItems:"32" doc:"The new scopes (at least one)"`
	AllowedCIDRs     *[]string `json:"allowed_cidrs,omitempty" maxItems:"50" doc:"The new CIDRs; [] lifts the limit"`
	AllowedDomainIDs *[]string `json:"allowed_domain_ids,omitempty" maxItems:"100" doc:"The new domains; [] lifts the limit"`
	ExpiresAt        *string   `json:"expires_at,omitempty" doc:"A new expiry (RFC 3339, in the future)"`
}

type createAPIKeyInput struct {
	jsonBody[APIKeyCreate]
}

type apiKeyRefInput struct {
	ID string `path:"id" maxLength:"64" doc:"Key id (key_…)"`
}

type updateAPIKeyInput struct {
	ID string `path:"id" maxLength:"64" doc:"Key id (key_…)"`
	jsonBody[APIKeyUpdate]
}

type apiKeyOutput struct{ Body *APIKey }

type apiKeyCreatedOutput struct{ Body *APIKeyCreated }

type apiKeyListOutput struct{ Body *APIKeyList }

func scopesOf(in []string) []sendoka.Permission {
	if in == nil {
		return nil
	}
	out := make([]sendoka.Permission, len(in))
	for i, s := range in {
		out[i] = sendoka.Permission(s)
	}
	return out
}

// parseExpiry reads an expires_at value.
func parseExpiry(s string) (*time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return nil, fieldErr(sendoka.FieldInvalidString, "must be an RFC 3339 time such as 2027-01-01T00:00:00Z", "expires_at")
	}
	t = t.UTC().Truncate(time.Microsecond)
	return &t, nil
}

func (h *handlers) createAPIKey(ctx context.Context, in *createAPIKeyInput) (*apiKeyCreatedOutput, error) {
	if err := rejectNUL(&in.Body); err != nil {
		return nil, fail(ctx, err)
	}
	b := in.Body
	params := sendoka.CreateKeyParams{
		Name: b.Name, Mode: sendoka.Mode(b.Mode), Permissions: scopesOf(b.Scopes), TenantID: b.TenantID,
		AllowedCIDRs: b.AllowedCIDRs, AllowedDomainIDs: b.AllowedDomainIDs,
	}
	if b.ExpiresAt != "" {
		at, err := parseExpiry(b.ExpiresAt)
		if err != nil {
			return nil, fail(ctx, err)
		}
		params.ExpiresAt = at
	}
	key, plain, err := h.c.CreateAPIKey(ctx, PrincipalFrom(ctx), params)
	if err != nil {
		return nil, fail(ctx, err)
	}
	return &apiKeyCreatedOutput{Body: &APIKeyCreated{APIKey: *apiKeyObject(key), Key: plain}}, nil
}

func (h *handlers) listAPIKeys(ctx context.Context, _ *struct{}) (*apiKeyListOutput, error) {
	keys, err := h.c.ListAPIKeys(ctx, PrincipalFrom(ctx))
	if err != nil {
		return nil, fail(ctx, err)
	}
	out := &APIKeyList{Data: make([]*APIKey, len(keys))}
	for i, k := range keys {
		out.Data[i] = apiKeyObject(k)
	}
	return &apiKeyListOutput{Body: out}, nil
}

func (h *handlers) getAPIKey(ctx context.Context, in *apiKeyRefInput) (*apiKeyOutput, error) {
	if hasNUL(in.ID) {
		return nil, fail(ctx, sendoka.NotFound("api key"))
	}
	key, err := h.c.GetAPIKey(ctx, PrincipalFrom(ctx), in.ID)
	if err != nil {
		return nil, fail(ctx, err)
	}
	return &apiKeyOutput{Body: apiKeyObject(key)}, nil
}

func (h *handlers) updateAPIKey(ctx context.Context, in *updateAPIKeyInput) (*apiKeyOutput, error) {
	if hasNUL(in.ID) {
		return nil, fail(ctx, sendoka.NotFound("api key"))
	}
	if err := rejectNUL(&in.Body); err != nil {
		return nil, fail(ctx, err)
	}
	b := in.Body
	params := sendoka.UpdateKeyParams{Name: b.Name, AllowedCIDRs: b.AllowedCIDRs, AllowedDomainIDs: b.AllowedDomainIDs}
	if b.Scopes != nil {
		scopes := scopesOf(*b.Scopes)
		if scopes == nil {
			scopes = []sendoka.Permission{}
		}
		params.Permissions = &scopes
	}
	if b.ExpiresAt != nil {
		at, err := parseExpiry(*b.ExpiresAt)
		if err != nil {
			return nil, fail(ctx, err)
		}
		params.ExpiresAt = &at
	}
	key, err := h.c.UpdateAPIKey(ctx, PrincipalFrom(ctx), in.ID, params)
	if err != nil {
		return nil, fail(ctx, err)
	}
	return &apiKeyOutput{Body: apiKeyObject(key)}, nil
}

func (h *handlers) revokeAPIKey(ctx context.Context, in *apiKeyRefInput) (*apiKeyOutput, error) {
	if hasNUL(in.ID) {
		return nil, fail(ctx, sendoka.NotFound("api key"))
	}
	p := PrincipalFrom(ctx)
	if err := h.c.RevokeAPIKey(ctx, p, in.ID); err != nil {
		return nil, fail(ctx, err)
	}
	key, err := h.c.GetAPIKey(ctx, p, in.ID)
	if err != nil {
		return nil, fail(ctx, err)
	}
	return &apiKeyOutput{Body: apiKeyObject(key)}, nil
}
