package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/sendoka"
)

func TestOpenAPI(t *testing.T) {
	t.Parallel()
	b := setup(t, sqlite(t), setupConfig{})
	var doc struct {
		OpenAPI string `json:"openapi"`
		Paths   map[string]map[string]struct {
			OperationID string                `json:"operationId"`
			Security    []map[string][]string `json:"security"`
			RequestBody *struct {
				Content map[string]json.RawMessage `json:"content"`
			} `json:"requestBody"`
			Responses map[string]struct {
				Content map[string]struct {
					Schema struct {
						Ref string `json:"$ref"`
					} `json:"schema"`
				} `json:"content"`
			} `json:"responses"`
		} `json:"paths"`
		Components struct {
			Schemas         map[string]json.RawMessage `json:"schemas"`
			SecuritySchemes map[string]struct {
				Type   string `json:"type"`
				Scheme string `json:"scheme"`
			} `json:"securitySchemes"`
		} `json:"components"`
	}
	res := b.do(t, req{method: http.MethodGet, path: "/api/v1/openapi.json"})
	res.decode(t, http.StatusOK, &doc)
	require.Equal(t, "3.1.0", doc.OpenAPI)

	// The probes and the tracking routes take no API key.
	keyless := map[string]bool{"/healthz": true, "/readyz": true, "/t/o/{token}": true, "/t/c/{token}": true, "/u/{token}": true}
	ops := map[string]string{}
	for path, item := range doc.Paths {
		for method, op := range item {
			ops[strings.ToUpper(method)+" "+path] = op.OperationID
			if keyless[path] {
				require.Equal(t, []map[string][]string{}, op.Security, "%s takes no API key", op.OperationID)
			} else {
				require.Equal(t, []map[string][]string{{securityScheme: {}}}, op.Security, op.OperationID)
			}
			errSchema := "#/components/schemas/ErrorResponse"
			if strings.HasPrefix(path, "/resend/") { // the Resend drop-in answers Resend's errors
				errSchema = "#/components/schemas/ResendError"
			}
			for status, r := range op.Responses {
				if status != "200" && status != "302" {
					require.Equal(t, errSchema, r.Content["application/json"].Schema.Ref, "%s %s", op.OperationID, status)
				}
			}
			require.Contains(t, op.Responses, "500")
			if op.RequestBody != nil {
				require.Equal(t, []string{"application/json"}, slices.Sorted(maps.Keys(op.RequestBody.Content)), "%s takes JSON only", op.OperationID)
			}
		}
	}
	require.Equal(t, map[string]string{
		"POST /api/v1/emails":         "send-email",
		"POST /api/v1/sms":            "send-sms",
		"GET /api/v1/emails/{id}":     "get-email",
		"GET /api/v1/emails/{id}/raw": "get-email-raw",
		"GET /api/v1/sms/{id}":        "get-sms",
		"GET /api/v1/emails":          "list-emails",
		"GET /api/v1/sms":             "list-sms",
		// senders.go
		"POST /api/v1/phone-numbers":                "create-phone-number",
		"GET /api/v1/phone-numbers":                 "list-phone-numbers",
		"GET /api/v1/phone-numbers/{id}":            "get-phone-number",
		"POST /api/v1/phone-numbers/{id}/provision": "provision-phone-number",
		"DELETE /api/v1/phone-numbers/{id}":         "delete-phone-number",
		"POST /api/v1/phone-pools":                  "create-phone-pool",
		"GET /api/v1/phone-pools":                   "list-phone-pools",
		"GET /api/v1/phone-pools/{id}":              "get-phone-pool",
		"PATCH /api/v1/phone-pools/{id}":            "update-phone-pool",
		"DELETE /api/v1/phone-pools/{id}":           "delete-phone-pool",
		// domains.go
		"POST /api/v1/domains":             "create-domain",
		"GET /api/v1/domains":              "list-domains",
		"GET /api/v1/domains/{id}":         "get-domain",
		"POST /api/v1/domains/{id}/verify": "verify-domain",
		"DELETE /api/v1/domains/{id}":      "delete-domain",
		// schedule.go, batch.go, templates.go
		"DELETE /api/v1/emails/{id}":            "cancel-email",
		"DELETE /api/v1/sms/{id}":               "cancel-sms",
		"PATCH /api/v1/emails/{id}":             "reschedule-email",
		"PATCH /api/v1/sms/{id}":                "reschedule-sms",
		"POST /api/v1/emails/batch":             "send-email-batch",
		"POST /api/v1/sms/batch":                "send-sms-batch",
		"GET /api/v1/suppressions":              "list-suppressions",
		"POST /api/v1/suppressions":             "add-suppressions",
		"GET /api/v1/suppressions/{address}":    "get-suppression",
		"DELETE /api/v1/suppressions/{address}": "delete-suppression",
		// audiences.go
		"POST /api/v1/audiences":                              "create-audience",
		"GET /api/v1/audiences":                               "list-audiences",
		"GET /api/v1/audiences/{id}":                          "get-audience",
		"PATCH /api/v1/audiences/{id}":                        "update-audience",
		"DELETE /api/v1/audiences/{id}":                       "delete-audience",
		"POST /api/v1/audiences/{id}/contacts":                "add-contacts",
		"GET /api/v1/audiences/{id}/contacts":                 "list-contacts",
		"DELETE /api/v1/audiences/{id}/contacts/{contact_id}": "delete-contact",
		"POST /api/v1/audiences/{id}/send":                    "send-to-audience",
		"GET /api/v1/audiences/{id}/status":                   "get-audience-status",
		"GET /api/v1/audiences/{id}/sends/{send_id}":          "get-audience-send",
		"GET /u/{token}":                                      "unsubscribe-page",
		"POST /u/{token}":                                     "unsubscribe",
		"POST /api/v1/templates":                              "create-template",
		"POST /api/v1/templates/preview":                      "preview-template",
		"GET /api/v1/templates":                               "list-templates",
		"GET /api/v1/templates/{id_or_slug}":                  "get-template",
		"PATCH /api/v1/templates/{id_or_slug}":                "update-template",
		"DELETE /api/v1/templates/{id_or_slug}":               "delete-template",
		// apikeys.go
		"POST /api/v1/api-keys":        "create-api-key",
		"GET /api/v1/api-keys":         "list-api-keys",
		"GET /api/v1/api-keys/{id}":    "get-api-key",
		"PATCH /api/v1/api-keys/{id}":  "update-api-key",
		"DELETE /api/v1/api-keys/{id}": "revoke-api-key",
		// org.go
		"GET /api/v1/org":   "get-org",
		"PATCH /api/v1/org": "update-org",
		"GET /api/v1/usage": "get-usage",
		// tenants.go
		"POST /api/v1/tenants":           "create-tenant",
		"GET /api/v1/tenants":            "list-tenants",
		"GET /api/v1/tenants/{id}":       "get-tenant",
		"PATCH /api/v1/tenants/{id}":     "update-tenant",
		"DELETE /api/v1/tenants/{id}":    "delete-tenant",
		"GET /api/v1/tenants/{id}/usage": "get-tenant-usage",
		// webhooks.go
		"POST /api/v1/webhooks":                                      "create-webhook",
		"GET /api/v1/webhooks":                                       "list-webhooks",
		"GET /api/v1/webhooks/{id}":                                  "get-webhook",
		"PATCH /api/v1/webhooks/{id}":                                "update-webhook",
		"DELETE /api/v1/webhooks/{id}":                               "delete-webhook",
		"POST /api/v1/webhooks/{id}/rotate-secret":                   "rotate-webhook-secret",
		"POST /api/v1/webhooks/{id}/test":                            "test-webhook",
		"GET /api/v1/webhooks/{id}/deliveries":                       "list-webhook-deliveries",
		"POST /api/v1/webhooks/{id}/deliveries/{delivery_id}/replay": "replay-webhook-delivery",
		"POST /api/v1/webhooks/{id}/replay":                          "replay-webhook-deliveries",
		// inbound.go
		"POST /api/v1/inbound-routes":                     "create-inbound-route",
		"GET /api/v1/inbound-routes":                      "list-inbound-routes",
		"GET /api/v1/inbound-routes/{id}":                 "get-inbound-route",
		"DELETE /api/v1/inbound-routes/{id}":              "delete-inbound-route",
		"GET /api/v1/inbound-emails":                      "list-inbound-emails",
		"GET /api/v1/inbound-emails/{id}":                 "get-inbound-email",
		"GET /api/v1/inbound-emails/{id}/attachments/{n}": "get-inbound-email-attachment",
		// tracking.go, health.go
		"GET /t/o/{token}": "track-open",
		"GET /t/c/{token}": "track-click",
		"GET /healthz":     "get-health",
		"GET /readyz":      "get-readiness",
		// resend.go
		"POST /resend/emails":       "resend-send-email",
		"POST /resend/emails/batch": "resend-send-email-batch",
		"GET /resend/emails/{id}":   "resend-get-email",
	}, ops)
	require.Equal(t, "bearer", doc.Components.SecuritySchemes[securityScheme].Scheme)
	require.Equal(t, "http", doc.Components.SecuritySchemes[securityScheme].Type)
	for _, name := range []string{"ErrorResponse", "EmailRequest", "SMSRequest", "SendResponse", "EmailMessageDetail", "EmailList"} {
		require.Contains(t, doc.Components.Schemas, name)
	}
	require.NotContains(t, doc.Components.Schemas, "ErrorModel", "Huma's error model is not what we answer")

	var req struct {
		AdditionalProperties bool     `json:"additionalProperties"`
		Required             []string `json:"required"`
	}
	require.NoError(t, json.Unmarshal(doc.Components.Schemas["EmailRequest"], &req))
	require.False(t, req.AdditionalProperties)
	require.Equal(t, []string{"from", "to"}, req.Required)

	yaml := b.do(t, reqGet("/api/v1/openapi.yaml"))
	require.Equal(t, http.StatusOK, yaml.status)
	require.Contains(t, string(yaml.body), "openapi: 3.1.0")

	docs := b.do(t, reqGet("/api/v1/docs"))
	require.Equal(t, http.StatusOK, docs.status)
	require.Contains(t, docs.header.Get("Content-Type"), "text/html")
	require.Contains(t, string(docs.body), `spec-url="openapi.json"`, "relative, so it works under a prefix")
	require.NotEmpty(t, docs.header.Get("Content-Security-Policy"))
	// Offline: the page names no other origin, and its script is served from the binary.
	require.NotRegexp(t, `(?i)(https?:)?//`, string(docs.body), "the docs page loads nothing from elsewhere")
	require.NotContains(t, docs.header.Get("Content-Security-Policy"), "http")
	scripts := regexp.MustCompile(`<script src="([^"]+)"`).FindAllStringSubmatch(string(docs.body), -1)
	require.Len(t, scripts, 1)
	script := b.do(t, reqGet("/api/v1/"+scripts[0][1]))
	require.Equal(t, http.StatusOK, script.status)
	require.Contains(t, script.header.Get("Content-Type"), "javascript")
	require.Equal(t, redocScript, script.body)
	require.Greater(t, len(script.body), 100_000, "the whole Redoc bundle")
	// Huma's other default routes are not served.
	b.do(t, reqGet("/docs")).requireError(t, http.StatusNotFound, sendoka.CodeNotFound)
	b.do(t, reqGet("/schemas/EmailRequest.json")).requireError(t, http.StatusNotFound, sendoka.CodeNotFound)
}

func reqGet(path string) req { return req{method: http.MethodGet, path: path} }

// TestMountUnderPrefix mounts the handler under /mail/ in an app's own router.
func TestMountUnderPrefix(t *testing.T) {
	t.Parallel()
	b := setup(t, sqlite(t), setupConfig{})
	app := http.NewServeMux()
	app.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "the app") })
	app.Handle("/mail/", http.StripPrefix("/mail", b.handler))
	base := newTestServer(t, app)

	home := doURL(t, base, reqGet("/"))
	require.Equal(t, "the app", string(home.body))

	var sent SendResponse
	doURL(t, base, req{method: http.MethodPost, path: "/mail/api/v1/emails", key: b.test, body: quickstart()}).decode(t, http.StatusOK, &sent)
	var got EmailMessageDetail
	doURL(t, base, req{method: http.MethodGet, path: "/mail/api/v1/emails/" + sent.ID, key: b.test}).decode(t, http.StatusOK, &got)
	require.Equal(t, sent.ID, got.ID)
	var page EmailList
	doURL(t, base, req{method: http.MethodGet, path: "/mail/api/v1/emails?limit=1", key: b.test}).decode(t, http.StatusOK, &page)
	require.Len(t, page.Data, 1)

	doURL(t, base, reqGet("/mail/nope")).requireError(t, http.StatusNotFound, sendoka.CodeNotFound)
	doURL(t, base, req{method: http.MethodDelete, path: "/mail/api/v1/emails"}).requireError(t, http.StatusMethodNotAllowed, CodeMethodNotAllowed)
	doURL(t, base, req{method: http.MethodPost, path: "/mail/api/v1/emails", body: "{"}).requireError(t, http.StatusUnauthorized, sendoka.CodeUnauthorized)
	require.Equal(t, http.StatusOK, doURL(t, base, reqGet("/mail/healthz")).status)
	var doc struct{ OpenAPI string }
	doURL(t, base, reqGet("/mail/api/v1/openapi.json")).decode(t, http.StatusOK, &doc)
	require.Equal(t, "3.1.0", doc.OpenAPI)
	// The docs page's relative script URL resolves under the prefix.
	require.Equal(t, http.StatusOK, doURL(t, base, reqGet("/mail/api/v1/docs/redoc.standalone.js")).status)
}

// TestRegisterOnAppAPI registers Sendoka on an app's own Huma API, next to the app's own
// operation: ours answer with the envelope, the app's keep Huma's errors, untouched.
func TestRegisterOnAppAPI(t *testing.T) {
	t.Parallel()
	b := setup(t, sqlite(t), setupConfig{})
	mux := http.NewServeMux()
	api := humago.New(mux, huma.DefaultConfig("The App", "1.0.0"))
	huma.Register(api, huma.Operation{OperationID: "create-widget", Method: http.MethodPost, Path: "/widgets"},
		func(ctx context.Context, in *struct {
			Body struct {
				Name string `json:"name" minLength:"3"`
			}
		}) (*struct{}, error) {
			return nil, nil
		})
	Register(api, b.client, Options{})
	base := newTestServer(t, mux)

	var sent SendResponse
	res := doURL(t, base, req{method: http.MethodPost, path: "/api/v1/emails", key: b.live, body: quickstart()})
	res.decode(t, http.StatusOK, &sent)
	res.requireRequestID(t)

	e := doURL(t, base, req{method: http.MethodPost, path: "/api/v1/emails", key: b.live, body: "{"}).
		requireError(t, http.StatusUnprocessableEntity, sendoka.CodeValidation)
	require.True(t, hasField(e, FieldInvalidJSON))
	doURL(t, base, req{method: http.MethodGet, path: "/api/v1/emails/" + sent.ID}).requireError(t, http.StatusUnauthorized, sendoka.CodeUnauthorized)
	var got EmailMessageDetail
	doURL(t, base, req{method: http.MethodGet, path: "/api/v1/emails/" + sent.ID, key: b.live}).decode(t, http.StatusOK, &got)
	require.Equal(t, "live", got.Mode)

	// The app's operation still answers with Huma's own error model.
	appRes := doURL(t, base, req{method: http.MethodPost, path: "/widgets", body: map[string]string{"name": "x"}})
	require.Equal(t, http.StatusUnprocessableEntity, appRes.status)
	require.Equal(t, "application/problem+json", appRes.header.Get("Content-Type"))
	var model huma.ErrorModel
	require.NoError(t, json.Unmarshal(appRes.body, &model))
	require.Equal(t, "validation failed", model.Detail)
	require.Empty(t, appRes.header.Get("X-Request-Id"))
	// Huma's process-wide constructor is untouched.
	_, isModel := huma.NewError(400, "x").(*huma.ErrorModel)
	require.True(t, isModel)

	var doc struct {
		Paths map[string]any `json:"paths"`
	}
	doURL(t, base, reqGet("/openapi.json")).decode(t, http.StatusOK, &doc)
	paths := slices.Sorted(maps.Keys(doc.Paths))
	require.Equal(t, []string{"/api/v1/api-keys", "/api/v1/api-keys/{id}",
		"/api/v1/audiences", "/api/v1/audiences/{id}", "/api/v1/audiences/{id}/contacts",
		"/api/v1/audiences/{id}/contacts/{contact_id}", "/api/v1/audiences/{id}/send",
		"/api/v1/audiences/{id}/sends/{send_id}", "/api/v1/audiences/{id}/status",
		"/api/v1/domains", "/api/v1/domains/{id}", "/api/v1/domains/{id}/verify",
		"/api/v1/emails", "/api/v1/emails/batch", "/api/v1/emails/{id}", "/api/v1/emails/{id}/raw",
		"/api/v1/inbound-emails", "/api/v1/inbound-emails/{id}", "/api/v1/inbound-emails/{id}/attachments/{n}",
		"/api/v1/inbound-routes", "/api/v1/inbound-routes/{id}",
		"/api/v1/org",
		"/api/v1/phone-numbers", "/api/v1/phone-numbers/{id}", "/api/v1/phone-numbers/{id}/provision",
		"/api/v1/phone-pools", "/api/v1/phone-pools/{id}",
		"/api/v1/sms", "/api/v1/sms/batch", "/api/v1/sms/{id}",
		"/api/v1/suppressions", "/api/v1/suppressions/{address}",
		"/api/v1/templates", "/api/v1/templates/preview", "/api/v1/templates/{id_or_slug}",
		"/api/v1/tenants", "/api/v1/tenants/{id}", "/api/v1/tenants/{id}/usage", "/api/v1/usage",
		"/api/v1/webhooks", "/api/v1/webhooks/{id}", "/api/v1/webhooks/{id}/deliveries",
		"/api/v1/webhooks/{id}/deliveries/{delivery_id}/replay", "/api/v1/webhooks/{id}/replay",
		"/api/v1/webhooks/{id}/rotate-secret", "/api/v1/webhooks/{id}/test", "/resend/emails", "/resend/emails/batch",
		"/resend/emails/{id}", "/t/c/{token}", "/t/o/{token}", "/u/{token}", "/widgets"}, paths)
}
