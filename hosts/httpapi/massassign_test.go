package httpapi

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/sendoka"
)

// writeBodies gives a valid body for every operation of the API that takes a JSON object:
// TestMassAssignment adds read-only fields to it. An operation missing here fails the test.
// path is the OpenAPI path; id is the object the fixture made (for routes that take one).
func writeBodies() map[string]func() map[string]any {
	future := func() string { return time.Now().Add(2 * time.Hour).UTC().Format(time.RFC3339) }
	return map[string]func() map[string]any{
		"POST /api/v1/emails": quickstart,
		"POST /api/v1/sms":    smsBody,
		"POST /api/v1/templates": func() map[string]any {
			return map[string]any{"slug": fmt.Sprintf("ma-%d", time.Now().UnixNano()), "channel": "email", "subject": "Hi", "text": "x"}
		},
		"POST /api/v1/templates/preview": func() map[string]any {
			return map[string]any{"channel": "email", "subject": "Hi {{name}}", "text": "x", "variables": map[string]any{"name": "Ada"}}
		},
		"POST /api/v1/phone-numbers": func() map[string]any {
			return map[string]any{"kind": "long_code", "phone_number": fmt.Sprintf("+1555%07d", 4000000+phoneSeq.Add(1)), "iso_country": "US"}
		},
		"POST /api/v1/phone-pools":             func() map[string]any { return map[string]any{"name": "ma", "phone_number_ids": []string{}} },
		"POST /api/v1/api-keys":                func() map[string]any { return map[string]any{"mode": "live", "scopes": []string{"emails:send"}} },
		"PATCH /api/v1/emails/{id}":            func() map[string]any { return map[string]any{"scheduled_at": future()} },
		"PATCH /api/v1/sms/{id}":               func() map[string]any { return map[string]any{"scheduled_at": future()} },
		"PATCH /api/v1/templates/{id_or_slug}": func() map[string]any { return map[string]any{"subject": "Changed"} },
		"PATCH /api/v1/phone-pools/{id}":       func() map[string]any { return map[string]any{"name": "changed"} },
		"PATCH /api/v1/api-keys/{id}":          func() map[string]any { return map[string]any{"name": "changed"} },
		"POST /api/v1/tenants": func() map[string]any {
			return map[string]any{"name": "ma", "slug": fmt.Sprintf("ma-%d", phoneSeq.Add(1))}
		},
		"PATCH /api/v1/tenants/{id}": func() map[string]any { return map[string]any{"name": "changed"} },
		"PATCH /api/v1/org":          func() map[string]any { return map[string]any{"limits": map[string]any{"burst_per_minute": nil}} },
		"POST /api/v1/webhooks": func() map[string]any {
			return map[string]any{"url": "https://hooks.example.com/ma", "events": []string{"message.delivered"}}
		},
		"PATCH /api/v1/webhooks/{id}": func() map[string]any { return map[string]any{"description": "changed"} },
		"POST /api/v1/suppressions": func() map[string]any {
			return map[string]any{"address": fmt.Sprintf("ma-%d@example.com", phoneSeq.Add(1)), "reason": "unsubscribe"}
		},
		"POST /api/v1/audiences":           func() map[string]any { return map[string]any{"name": "ma"} },
		"PATCH /api/v1/audiences/{id}":     func() map[string]any { return map[string]any{"name": "changed"} },
		"POST /api/v1/audiences/{id}/send": audienceSMSSend,
		"POST /resend/emails":              resendQuickstart,
		"POST /api/v1/inbound-routes": func() map[string]any {
			return map[string]any{"match": fmt.Sprintf("ma-%d@%s", phoneSeq.Add(1), testInboundDomain)}
		},
		"POST /api/v1/domains": func() map[string]any {
			return map[string]any{"name": fmt.Sprintf("ma-%d.example.com", phoneSeq.Add(1))}
		},
	}
}

// writeOperations lists the POST and PATCH operations of the served OpenAPI document whose
// body is a JSON object (batch bodies are arrays, whose rows are the single-send bodies;
// the contacts of an audience are an array too, whose rows' schema refuses unknown fields).
func writeOperations(t *testing.T, b *bundle) []operation {
	var doc struct {
		Paths map[string]map[string]struct {
			RequestBody *struct {
				Content map[string]struct {
					Schema struct {
						Ref  string          `json:"$ref"`
						Type json.RawMessage `json:"type"` // "array", or ["array", "null"]
					} `json:"schema"`
				} `json:"content"`
			} `json:"requestBody"`
		} `json:"paths"`
	}
	b.do(t, req{method: http.MethodGet, path: "/api/v1/openapi.json"}).decode(t, http.StatusOK, &doc)
	var ops []operation
	for path, item := range doc.Paths {
		for method, op := range item {
			if op.RequestBody == nil || strings.HasSuffix(path, "/batch") ||
				strings.Contains(string(op.RequestBody.Content["application/json"].Schema.Type), `"array"`) {
				continue
			}
			ops = append(ops, operation{strings.ToUpper(method), path})
		}
	}
	return ops
}

// TestMassAssignment: read-only fields (id, status, created_at, and on updates tenant_id) in
// a request body are 422 VALIDATION_ERROR naming the field, and change nothing; the same
// body without them is accepted.
func TestMassAssignment(t *testing.T) {
	t.Parallel()
	b := setup(t, sqlite(t), setupConfig{})
	bodies := writeBodies()
	fixtures := isolationFixtures()
	ops := writeOperations(t, b)
	require.NotEmpty(t, ops)
	for _, op := range ops {
		mk, ok := bodies[op.method+" "+op.path]
		if !ok {
			t.Errorf("%s %s takes a body but has none in writeBodies", op.method, op.path)
			continue
		}
		path := op.path
		if strings.Contains(path, "{") {
			path = pathParam.ReplaceAllString(path, fixtures[op.path].create(t, b, owner{key: b.live}))
		}
		readOnly := []string{"id", "status", "created_at"}
		if op.method == http.MethodPatch {
			readOnly = append(readOnly, "tenant_id")
		}
		for _, field := range readOnly {
			body := maps.Clone(mk())
			body[field] = "mass_assigned"
			if strings.HasPrefix(op.path, "/resend/") {
				e := b.do(t, req{method: op.method, path: path, key: b.live, body: body}).
					requireResendError(t, http.StatusUnprocessableEntity, "validation_error")
				require.Contains(t, e.Message, "`"+field+"`", "%s %s: the error names %s", op.method, op.path, field)
				continue
			}
			e := b.do(t, req{method: op.method, path: path, key: b.live, body: body}).
				requireError(t, http.StatusUnprocessableEntity, sendoka.CodeValidation)
			require.NotEmpty(t, e.Errors, "%s %s with %s", op.method, op.path, field)
			require.Equal(t, []any{field}, e.Errors[0].Path, "%s %s: the error names %s", op.method, op.path, field)
			if strings.Contains(op.path, "{") && op.method == http.MethodPatch {
				res := b.do(t, req{method: http.MethodGet, path: path, key: b.live})
				require.NotContains(t, string(res.body), "mass_assigned", "%s %s changed nothing", op.method, op.path)
			}
		}
		res := b.do(t, req{method: op.method, path: path, key: b.live, body: mk()})
		require.Equal(t, http.StatusOK, res.status, "%s %s: the body itself is valid: %s", op.method, op.path, res.body)
	}
}
