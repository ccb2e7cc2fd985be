package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/sendoka/sendoka/sendoka"
)

// fixtures are the keys and resources the attack aims at: made through the API itself
// before it starts, so that a hostile request names ids that exist and reaches as deep as
// an id can take it.
type fixtures struct {
	live, test string // the bootstrap keys (every scope)
	// Keys made through the API: one that may only read email, one bound to a CIDR the
	// attack never comes from, one revoked, one bound to the fixture tenant, one that may
	// send only from the fixture domain, and one the api-keys routes are aimed at.
	readOnly, cidr, revoked, tenant, domain, target string
	targetID                                        string
	// ids of the resources, by what names them in a path ("emails", "audiences", ...).
	ids map[string]string
	// problems are fixtures that could not be made: the attack still runs (their routes
	// get made-up ids), and the report lists them.
	problems []string
}

// apiClient calls the API the ordinary way, for the fixtures.
type apiClient struct {
	base string
	http *http.Client
}

func (c *apiClient) call(key, method, path string, body any) (int, map[string]any, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	if resp.StatusCode >= 300 {
		return resp.StatusCode, out, fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, bytes.TrimSpace(b))
	}
	return resp.StatusCode, out, nil
}

// makeFixtures creates the keys and one resource of every kind.
func makeFixtures(c *apiClient, live, test string, now time.Time) *fixtures {
	f := &fixtures{live: live, test: test, ids: map[string]string{}}
	str := func(m map[string]any, k string) string {
		s, _ := m[k].(string)
		return s
	}
	create := func(name, path string, body any) map[string]any {
		_, out, err := c.call(live, http.MethodPost, path, body)
		if err != nil {
			f.problems = append(f.problems, name+": "+err.Error())
			return nil
		}
		return out
	}
	key := func(name string, body map[string]any) (string, string) {
		out := create("key "+name, "/api/v1/api-keys", body)
		return str(out, "key"), str(out, "id")
	}
	f.readOnly, _ = key("read-only", map[string]any{"mode": "live", "name": "hostile read-only", "scopes": []string{"emails:read"}})
	f.cidr, _ = key("cidr", map[string]any{"mode": "live", "name": "hostile cidr", "allowed_cidrs": []string{"203.0.113.0/24"}})
	var revokedID string
	f.revoked, revokedID = key("revoked", map[string]any{"mode": "live", "name": "hostile revoked"})
	if revokedID != "" {
		if _, _, err := c.call(live, http.MethodDelete, "/api/v1/api-keys/"+revokedID, nil); err != nil {
			f.problems = append(f.problems, "revoke: "+err.Error())
		}
	}
	f.target, f.targetID = key("target", map[string]any{"mode": "live", "name": "hostile target"})
	f.ids["api-keys"] = f.targetID

	if out := create("template", "/api/v1/templates", map[string]any{"channel": "email", "slug": "hostile-welcome",
		"subject": "Hi {{name}}", "html": "<p>Hello {{name}}, <a href=\"https://example.com/\">go</a></p>"}); out != nil {
		f.ids["templates"] = "hostile-welcome"
	}
	// A template that repeats a variable 100,000 times: sent with a large value it would
	// render to gigabytes.
	create("amplifying template", "/api/v1/templates", map[string]any{"channel": "email", "slug": amplifyingTemplate,
		"subject": "{{a}}", "html": strings.Repeat("{{a}}", 100000)})
	if out := create("audience", "/api/v1/audiences", map[string]any{"name": "Hostile audience"}); out != nil {
		f.ids["audiences"] = str(out, "id")
		if out := create("contacts", "/api/v1/audiences/"+f.ids["audiences"]+"/contacts", []map[string]any{
			{"email": "ada@example.com", "first_name": "Ada"}, {"phone": "+15559876543"}}); out != nil {
			if rows, _ := out["data"].([]any); len(rows) > 0 {
				if row, _ := rows[0].(map[string]any); row != nil {
					f.ids["contacts"] = str(row, "id")
				}
			}
		}
		if out := create("audience send", "/api/v1/audiences/"+f.ids["audiences"]+"/send", map[string]any{
			"channel": "email", "from": "news@sandbox.sendoka.com", "template": "hostile-welcome",
			"variables": map[string]any{"name": "reader"}}); out != nil {
			f.ids["sends"] = str(out, "send_id")
		}
	}
	if out := create("webhook", "/api/v1/webhooks", map[string]any{"url": "https://hooks.example.com/sendoka",
		"events": []string{"message.delivered"}}); out != nil {
		f.ids["webhooks"] = str(out, "id")
	}
	if out := create("tenant", "/api/v1/tenants", map[string]any{"name": "Hostile Corp", "slug": "hostile"}); out != nil {
		f.ids["tenants"] = str(out, "id")
		f.tenant, _ = key("tenant-bound", map[string]any{"mode": "live", "name": "hostile tenant", "tenant_id": f.ids["tenants"]})
	}
	if out := create("domain", "/api/v1/domains", map[string]any{"name": "hostile.example.com"}); out != nil {
		f.ids["domains"] = str(out, "id")
		f.domain, _ = key("domain-limited", map[string]any{"mode": "live", "name": "hostile domain", "allowed_domain_ids": []string{f.ids["domains"]}})
	}
	if out := create("phone number", "/api/v1/phone-numbers", map[string]any{"kind": "alphanumeric", "sender_id": "Hostile", "iso_country": "GB"}); out != nil {
		f.ids["phone-numbers"] = str(out, "id")
		if out := create("phone pool", "/api/v1/phone-pools", map[string]any{"name": "Hostile pool", "phone_number_ids": []string{f.ids["phone-numbers"]}}); out != nil {
			f.ids["phone-pools"] = str(out, "id")
		}
	}
	if out := create("inbound route", "/api/v1/inbound-routes", map[string]any{"match": "support@in.example.com"}); out != nil {
		f.ids["inbound-routes"] = str(out, "id")
	}
	if out := create("suppression", "/api/v1/suppressions", map[string]any{"address": "unsubscribed@example.com", "channel": "email", "reason": "unsubscribe"}); out != nil {
		f.ids["suppressions"] = "unsubscribed@example.com"
	}
	later := now.Add(24 * time.Hour).UTC().Format(time.RFC3339)
	if out := create("email", "/api/v1/emails", map[string]any{"from": "hello@sandbox.sendoka.com", "to": []string{"user@example.com"},
		"subject": "Hostile", "html": "<p>x</p>", "scheduled_at": later}); out != nil {
		f.ids["emails"] = str(out, "id")
	}
	if out := create("sms", "/api/v1/sms", map[string]any{"from": "Hostile", "to": "+447700900123", "body": "Hostile", "scheduled_at": later}); out != nil {
		f.ids["sms"] = str(out, "id")
	}
	return f
}

// amplifyingTemplate is the slug of the template that repeats its variable.
const amplifyingTemplate = "hostile-amplify"

// madeUp are well-formed ids of nothing, for the routes whose fixture could not be made or
// that name things the attack cannot make (inbound emails, webhook deliveries).
var madeUp = map[string]string{
	"emails": "msg_01HN8Z6Q4V3K2J1M0N9P8Q7R6S", "sms": "msg_01HN8Z6Q4V3K2J1M0N9P8Q7R6T",
	"audiences": "aud_01HN8Z6Q4V3K2J1M0N9P8Q7R6S", "contacts": "con_01HN8Z6Q4V3K2J1M0N9P8Q7R6S",
	"sends": "asd_01HN8Z6Q4V3K2J1M0N9P8Q7R6S", "webhooks": "whe_01HN8Z6Q4V3K2J1M0N9P8Q7R6S",
	"deliveries": "whd_01HN8Z6Q4V3K2J1M0N9P8Q7R6S", "tenants": "ten_01HN8Z6Q4V3K2J1M0N9P8Q7R6S",
	"domains": "dom_01HN8Z6Q4V3K2J1M0N9P8Q7R6S", "phone-numbers": "pn_01HN8Z6Q4V3K2J1M0N9P8Q7R6S",
	"phone-pools": "pool_01HN8Z6Q4V3K2J1M0N9P8Q7R6S", "inbound-routes": "inr_01HN8Z6Q4V3K2J1M0N9P8Q7R6S",
	"inbound-emails": "ine_01HN8Z6Q4V3K2J1M0N9P8Q7R6S", "api-keys": "key_01HN8Z6Q4V3K2J1M0N9P8Q7R6S",
	"templates": "tpl_01HN8Z6Q4V3K2J1M0N9P8Q7R6S", "suppressions": "nobody@example.com",
	"attachments": "0", "token": "bwBtc2dfMDFKQUJDREVGR0hKS01OUFFSU1RWV1hZWjAZCQ0HqOMWIkAVUbv3_utg",
}

// pathValue is the value of a path parameter: the fixture the segment before it names.
func (f *fixtures) pathValue(path, name string) string {
	kind := name
	segs := strings.Split(strings.Trim(path, "/"), "/")
	for i, s := range segs {
		if s == "{"+name+"}" && i > 0 {
			kind = segs[i-1]
		}
	}
	switch {
	case name == "token":
		kind = "token"
	case name == "n":
		kind = "attachments"
	case kind == "emails" && strings.HasPrefix(path, "/resend/"):
		kind = "emails"
	}
	if v := f.ids[kind]; v != "" {
		return v
	}
	if v, ok := madeUp[kind]; ok {
		return v
	}
	return sendoka.NewID("x_", time.Unix(1713820800, 0))
}
