package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/sendoka"
)

// postman is the part of a Postman v2.1 collection the test reads.
type postman struct {
	Info struct {
		Name   string `json:"name"`
		Schema string `json:"schema"`
	} `json:"info"`
	Item     []postmanNode `json:"item"`
	Variable []struct {
		Key   string `json:"key"`
		Value string `json:"value"`
	} `json:"variable"`
}

type postmanNode struct {
	Name    string        `json:"name"`
	Item    []postmanNode `json:"item"`
	Request *struct {
		Method string `json:"method"`
		Header []struct {
			Key   string `json:"key"`
			Value string `json:"value"`
		} `json:"header"`
		Body *struct {
			Mode string `json:"mode"`
			Raw  string `json:"raw"`
		} `json:"body"`
		URL struct {
			Raw  string   `json:"raw"`
			Host []string `json:"host"`
			Path []string `json:"path"`
		} `json:"url"`
	} `json:"request"`
}

var postmanVar = regexp.MustCompile(`\{\{([$\w]+)\}\}`)

// TestPostmanCollection: /api/v1/postman.json is a Postman v2.1 collection with a folder per
// tag, a request per operation (the tracking routes aside) and per request example of the
// docs, and every request of it, variables filled in, succeeds against a real server.
//
// Placeholder resolution: {{baseUrl}} is the test server, {{apiKey}} the org's live key,
// {{scheduledAt}} an hour from now (the collection's pre-request script does the same) and
// {{$guid}} a fresh id (Postman's own); any other {{name}} (a template's own variables) is
// sent as it is, as Postman sends a name it has no variable for. Each id variable ({{email_id}}, {{webhook_id}}...) is
// a fresh object made for the request alone: a scheduled message, a template, and so on (a
// Postman run fills them from the create requests instead). The sends name the docs'
// hello@yourdomain.com and +15555550100, so the org gets them first (a verified
// yourdomain.com, a registered +15555550100), and the fixture sender "Acme" goes, since the
// collection registers the docs' alphanumeric sender.
func TestPostmanCollection(t *testing.T) {
	t.Parallel()
	b := setup(t, sqlite(t), setupConfig{tracking: sendoka.TrackingConfig{BaseURL: "https://mail.example.com"}})
	ctx := context.Background()

	res := b.do(t, reqGet("/api/v1/postman.json"))
	require.Equal(t, http.StatusOK, res.status)
	require.Equal(t, "application/json", res.header.Get("Content-Type"))
	var col postman
	require.NoError(t, json.Unmarshal(res.body, &col))
	require.Equal(t, PostmanSchema, col.Info.Schema)
	require.Equal(t, "https://schema.getpostman.com/json/collection/v2.1.0/collection.json", col.Info.Schema)
	require.Equal(t, "Sendoka API", col.Info.Name)
	var varKeys []string
	for _, v := range col.Variable {
		varKeys = append(varKeys, v.Key)
	}
	require.Subset(t, varKeys, []string{"baseUrl", "apiKey"})

	// Every operation but tracking is in it, under its tag; every body has an example.
	var doc struct {
		Paths map[string]map[string]struct {
			Tags        []string `json:"tags"`
			RequestBody *struct {
				Content map[string]struct {
					Examples map[string]any `json:"examples"`
				} `json:"content"`
			} `json:"requestBody"`
		} `json:"paths"`
	}
	b.do(t, reqGet("/api/v1/openapi.json")).decode(t, http.StatusOK, &doc)
	type call struct {
		folder, name string
		node         postmanNode
	}
	var calls []call
	folders := map[string][]string{}
	for _, f := range col.Item {
		require.Nil(t, f.Request, "the top level holds folders")
		for _, it := range f.Item {
			require.NotNil(t, it.Request, it.Name)
			calls = append(calls, call{f.Name, it.Name, it})
			folders[f.Name] = append(folders[f.Name], it.Name)
		}
	}
	for path, item := range doc.Paths {
		for method, op := range item {
			if op.Tags[0] == tagTracking || op.Tags[0] == tagResend {
				continue // tokens come from tracked emails; Resend's SDKs call the drop-in
			}
			if op.RequestBody != nil {
				require.NotEmpty(t, op.RequestBody.Content["application/json"].Examples, "%s %s has no request example", method, path)
			}
			found := slices.ContainsFunc(calls, func(c call) bool {
				return c.folder == op.Tags[0] && c.node.Request.Method == strings.ToUpper(method) &&
					postmanVar.ReplaceAllString(strings.Split(c.node.Request.URL.Raw, "?")[0], "{x}") == "{x}"+regexp.MustCompile(`\{[^}]+\}`).ReplaceAllString(path, "{x}")
			})
			require.True(t, found, "%s %s is not in the collection", method, path)
		}
	}
	// The shapes the docs promise.
	for folder, want := range map[string][]string{
		tagEmails:  {"Send an email: Send an email", "Send a batch of emails", "Schedule an email", "Send with a template", "Send with an attachment"},
		tagSMS:     {"Send an SMS: Send an SMS", "Send a batch of SMS", "Schedule an SMS", "Send an MMS", "Send from a pool"},
		tagSenders: {"Register a US 10DLC long code", "Run provisioning again"},
	} {
		for _, w := range want {
			require.True(t, slices.ContainsFunc(folders[folder], func(n string) bool { return strings.Contains(n, w) }), "%s: %q in %v", folder, w, folders[folder])
		}
	}

	// What the docs' examples assume the org has.
	admin := sendoka.SystemPrincipal(b.org.ID, sendoka.ModeLive)
	d, err := b.client.CreateDomain(ctx, admin, &sendoka.DomainRequest{Name: "yourdomain.com"})
	require.NoError(t, err)
	b.dns.Publish(d)
	d, err = b.client.VerifyDomain(ctx, admin, d.ID)
	require.NoError(t, err)
	require.Equal(t, sendoka.DomainVerified, d.Status)
	_, err = b.client.CreateTemplate(ctx, admin, &sendoka.TemplateRequest{Slug: "newsletter", Channel: sendoka.ChannelEmail,
		Subject: "News for {{first_name}}", HTML: "<p>Hi {{first_name}}, here is the news.</p>"})
	require.NoError(t, err)
	_, err = b.client.CreatePhoneNumber(ctx, admin, &sendoka.PhoneNumberRequest{Kind: sendoka.SenderLongCode, PhoneNumber: "+15555550100", ISOCountry: "US"})
	require.NoError(t, err)
	senders, err := b.client.ListPhoneNumbers(ctx, admin, sendoka.ListParams{Limit: 100})
	require.NoError(t, err)
	var usNumber string
	for _, n := range senders.PhoneNumbers {
		switch {
		case n.SenderID == "Acme":
			require.NoError(t, b.client.DeletePhoneNumber(ctx, admin, n.ID))
		case n.PhoneNumber == "+15551234567":
			usNumber = n.ID
		}
	}

	own := owner{key: b.live}
	fixtures := isolationFixtures()
	fresh := map[string]func(vars map[string]string) string{
		"email_id":         func(map[string]string) string { return fixtures["/api/v1/emails/{id}"].create(t, b, own) },
		"sms_id":           func(map[string]string) string { return fixtures["/api/v1/sms/{id}"].create(t, b, own) },
		"template_id":      func(map[string]string) string { return fixtures["/api/v1/templates/{id_or_slug}"].create(t, b, own) },
		"api_key_id":       func(map[string]string) string { return fixtures["/api/v1/api-keys/{id}"].create(t, b, own) },
		"phone_number_id":  func(map[string]string) string { return createPhoneNumber(t, b, own) },
		"tenant_id":        func(map[string]string) string { return createTenantFixture(t, b, own) },
		"domain_id":        func(map[string]string) string { return createDomainFixture(t, b, own) },
		"webhook_id":       func(map[string]string) string { return createWebhookFixture(t, b, own) },
		"inbound_route_id": func(map[string]string) string { return createInboundRouteFixture(t, b, own) },
		"inbound_email_id": func(map[string]string) string { return createInboundEmailFixture(t, b, own) },
		"n":                func(map[string]string) string { return "0" },
		"suppressed_address": func(map[string]string) string {
			addr := fmt.Sprintf("postman-%d@example.com", phoneSeq.Add(1))
			b.do(t, req{method: http.MethodPost, path: "/api/v1/suppressions", key: b.live, body: map[string]any{"address": addr}}).decode(t, http.StatusOK, &map[string]any{})
			return addr
		},
		"audience_id": func(map[string]string) string {
			// An audience with a contact, sent to once (so its status has a send to show).
			id := createAudienceFixture(t, b, own)
			_, err := b.client.SendToAudience(ctx, admin, id, &sendoka.AudienceSendRequest{From: "news@yourdomain.com",
				Channel: sendoka.ChannelEmail, Template: "newsletter"})
			require.NoError(t, err)
			return id
		},
		"send_id": func(vars map[string]string) string {
			s, err := b.client.GetAudienceSend(ctx, admin, vars["audience_id"], "")
			require.NoError(t, err)
			return s.ID
		},
		"contact_id": func(vars map[string]string) string {
			var out ContactsAdded
			b.do(t, req{method: http.MethodPost, path: "/api/v1/audiences/" + vars["audience_id"] + "/contacts", key: b.live,
				body: []map[string]any{{"email": fmt.Sprintf("postman-%d@example.com", phoneSeq.Add(1))}}}).decode(t, http.StatusOK, &out)
			return out.Data[0].Contact.ID
		},
		"phone_pool_id": func(map[string]string) string {
			var out PhonePool
			b.do(t, req{method: http.MethodPost, path: "/api/v1/phone-pools", key: b.live, body: map[string]any{
				"name": "postman", "phone_number_ids": []string{usNumber}}}).decode(t, http.StatusOK, &out)
			return out.ID
		},
		"delivery_id": func(vars map[string]string) string {
			var out WebhookDelivery
			b.do(t, req{method: http.MethodPost, path: "/api/v1/webhooks/" + vars["webhook_id"] + "/test", key: b.live}).decode(t, http.StatusOK, &out)
			return out.ID
		},
	}
	for _, c := range calls {
		r := c.node.Request
		vars := map[string]string{"baseUrl": b.server.URL, "apiKey": b.live,
			"scheduledAt": time.Now().Add(time.Hour).UTC().Format(time.RFC3339), "$guid": newRequestID()}
		fill := func(s string) string {
			for _, m := range postmanVar.FindAllStringSubmatch(s, -1) {
				if _, ok := vars[m[1]]; !ok {
					if mk, ok := fresh[m[1]]; ok {
						vars[m[1]] = mk(vars)
					}
				}
			}
			// As Postman does, a name that is no variable stays as it is: a template's own
			// {{variables}} reach the server.
			return postmanVar.ReplaceAllStringFunc(s, func(v string) string {
				if val, ok := vars[strings.Trim(v, "{}")]; ok {
					return val
				}
				return v
			})
		}
		require.True(t, strings.HasPrefix(r.URL.Raw, "{{baseUrl}}/"), r.URL.Raw)
		require.Equal(t, []string{"{{baseUrl}}"}, r.URL.Host)
		// webhook_id before delivery_id: the path's order.
		u := fill(r.URL.Raw)
		hr := req{method: r.Method, path: strings.TrimPrefix(u, b.server.URL), header: map[string]string{}}
		for _, h := range r.Header {
			hr.header[h.Key] = fill(h.Value)
		}
		if r.Body != nil {
			require.Equal(t, "raw", r.Body.Mode)
			hr.body = fill(r.Body.Raw)
			require.True(t, json.Valid([]byte(hr.body.(string))), "%s: %s", c.name, hr.body)
			require.Equal(t, "application/json", hr.header["Content-Type"], c.name)
		}
		if !strings.HasPrefix(r.URL.Raw, "{{baseUrl}}/healthz") && !strings.HasPrefix(r.URL.Raw, "{{baseUrl}}/readyz") {
			require.Equal(t, "Bearer "+b.live, hr.header["Authorization"], c.name)
		}
		got := b.do(t, hr)
		require.True(t, got.status >= 200 && got.status < 300, "%s / %s: %s %s: %d %s", c.folder, c.name, r.Method, u, got.status, got.body)
	}
}
