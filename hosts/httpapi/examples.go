package httpapi

import (
	"net/url"

	"github.com/danielgtaylor/huma/v2"
)

// requestExample is a named request body of an operation, shown in the OpenAPI document
// and made a request of the Postman collection.
type requestExample struct {
	name, summary string
	value         any
}

type obj = map[string]any

// requestExamples are the request bodies of the developer docs (and, where the docs show
// none, bodies in their style), by operation id. Every operation that takes a body has at
// least one: TestPostmanCollection sends each of them. The scheduled sends come last, so a
// Postman run that keeps the id of the last message sent can reschedule and cancel it.
var requestExamples = map[string][]requestExample{
	"send-email": {
		{"single", "Send an email", obj{"from": "hello@yourdomain.com", "to": []string{"user@example.com"}, "subject": "Welcome", "html": "<h1>Welcome</h1>"}},
		{"template", "Send with a template", obj{"from": "hello@yourdomain.com", "to": []string{"user@example.com"}, "template": "order_shipped",
			"variables": obj{"order_id": "ord_abc123", "tracking_url": "https://track.example.com/ord_abc123"}}},
		{"attachments", "Send with an attachment", obj{"from": "hello@yourdomain.com", "to": []string{"user@example.com"}, "subject": "Your invoice",
			"html":        "<p>Your invoice is attached.</p>",
			"attachments": []obj{{"filename": "invoice.txt", "content_type": "text/plain", "content": "SW52b2ljZSAjNDIKVG90YWw6ICQ0Mi4wMAo="}}}},
		{"scheduled", "Schedule an email", obj{"from": "hello@yourdomain.com", "to": []string{"user@example.com"}, "subject": "Launch day",
			"html": "<p>...</p>", "scheduled_at": "2026-12-24T12:00:00Z"}},
	},
	"send-sms": {
		{"single", "Send an SMS", obj{"from": "+15551234567", "to": "+15559876543", "body": "Your code is 1234"}},
		{"mms", "Send an MMS", obj{"from": "+15551234567", "to": "+15559876543", "body": "Your receipt", "media_url": []string{"https://example.com/receipt.png"}}},
		{"pool", "Send from a pool", obj{"from_pool": "pool_01HN8Z6Q4V3K2J1M0N9P8Q7R6S", "to": "+15559876543", "body": "Your code is 1234"}},
		{"scheduled", "Schedule an SMS", obj{"from": "+15551234567", "to": "+15559876543", "body": "Your appointment is tomorrow", "scheduled_at": "2026-12-24T12:00:00Z"}},
	},
	"send-email-batch": {
		{"per-item", "Per-item shape", []obj{
			{"from": "hello@yourdomain.com", "to": []string{"a@example.com"}, "subject": "Personalized 1", "html": "<p>hi 1</p>"},
			{"from": "hello@yourdomain.com", "to": []string{"b@example.com"}, "subject": "Personalized 2", "html": "<p>hi 2</p>"}}},
		{"bulk", "Bulk shape: one message per recipient", obj{"from": "hello@yourdomain.com", "to": []string{"a@example.com", "b@example.com"},
			"subject": "Announcement", "html": "<p>News</p>"}},
	},
	"send-sms-batch": {
		{"per-item", "Per-item shape", []obj{
			{"from": "+15555550100", "to": "+15555550199", "body": "Personalized 1", "tags": []string{"promo"}},
			{"from": "+15555550100", "to": "+15555550200", "body": "Personalized 2", "tags": []string{"promo"}}}},
		{"bulk", "Bulk shape: one message per recipient", obj{"from": "+15555550100", "to": []string{"+15555550199", "+15555550200"}, "body": "Flash sale today"}},
	},
	"reschedule-email": {{"at", "Move to a new time", obj{"scheduled_at": "2026-12-24T12:00:00Z"}}},
	"reschedule-sms":   {{"at", "Move to a new time", obj{"scheduled_at": "2026-12-24T12:00:00Z"}}},
	"create-template": {
		{"email", "An email template", obj{"slug": "order_shipped", "channel": "email", "subject": "Order {{order_id}} shipped",
			"html": "<p>Track it at <a href=\"{{tracking_url}}\">{{tracking_url}}</a></p>"}},
		{"sms", "An SMS template", obj{"slug": "login_code", "channel": "sms", "body": "Your code is {{code}}"}},
	},
	"update-template": {{"rename", "Rename", obj{"name": "Login code"}}},
	"preview-template": {{"draft", "A draft with sample variables", obj{"channel": "email", "subject": "Welcome, {{name}}",
		"html": "<p>Hi {{name}}, your plan is {{plan}}.</p>", "variables": obj{"name": "Ada"}}}},
	"add-suppressions": {
		{"single", "Suppress one address", obj{"channel": "email", "address": "unsubscribed@example.com", "reason": "unsubscribe"}},
		{"bulk", "Import a list", obj{"suppressions": []obj{{"address": "old-bounce@example.com", "reason": "bounce"}, {"address": "+15555550123", "reason": "stop"}}}},
	},
	"create-audience": {{"newsletter", "A newsletter list", obj{"name": "Monthly newsletter", "description": "Product news, once a month"}}},
	"update-audience": {{"rename", "Rename", obj{"name": "Product newsletter"}}},
	"add-contacts": {{"import", "Import contacts", []obj{
		{"email": "ada@example.com", "first_name": "Ada", "last_name": "Lovelace", "data": obj{"plan": "pro"}},
		{"email": "grace@example.com", "first_name": "Grace", "data": obj{"plan": "free"}},
		{"phone": "+15559876543", "first_name": "Alan"}}}},
	"send-to-audience": {
		{"newsletter", "Send a newsletter", obj{"from": "news@yourdomain.com", "template": "newsletter", "channel": "email"}},
		{"variables", "With variables over the contacts' own", obj{"from": "news@yourdomain.com", "template": "newsletter", "channel": "email",
			"subject": "April news", "variables": obj{"issue": "April"}, "tags": []string{"newsletter"}}},
	},
	"create-api-key": {{"send-only", "A key that only sends email", obj{"name": "backend", "mode": "live", "scopes": []string{"emails:send"}}}},
	"update-api-key": {{"rename", "Rename", obj{"name": "backend (old)"}}},
	"create-phone-number": {
		{"alphanumeric", "Register an alphanumeric sender (UK / AU / EU)", obj{"kind": "alphanumeric", "sender_id": "Acme", "iso_country": "GB"}},
		{"10dlc", "Register a US 10DLC long code", obj{"kind": "long_code", "phone_number": "+15557654321", "iso_country": "US"}},
	},
	"create-phone-pool": {{"us", "A pool of US numbers", obj{"name": "US notifications", "phone_number_ids": []string{"pn_01HN8Z6Q4V3K2J1M0N9P8Q7R6S"}}}},
	"update-phone-pool": {{"default", "Make it the default pool", obj{"default": true}}},
	"create-tenant":     {{"acme", "Create tenant", obj{"name": "Acme Corp", "slug": "acme", "external_ref": "cust_12345"}}},
	"update-tenant":     {{"rename", "Rename", obj{"name": "Acme Corporation"}}},
	"create-domain":     {{"domain", "Add a domain", obj{"name": "example.com"}}},
	"create-webhook": {{"delivery", "Delivery and bounce events", obj{"url": "https://example.com/hooks/sendoka",
		"events": []string{"message.delivered", "message.bounced"}}}},
	"create-inbound-route": {
		{"address", "Route replies to one address", obj{"match": "support@in.example.com"}},
		{"domain", "Store every address of a domain, without webhooks", obj{"match": "*@replies.in.example.com", "forward_webhook": false}},
	},
	"update-webhook": {{"describe", "Describe it", obj{"description": "Production events"}}},
	"update-org":     {{"limits", "Back to the plan's burst limit", obj{"limits": obj{"burst_per_minute": nil}}}},
}

// queryExamples are the query parameters an example call of an operation needs.
var queryExamples = map[string]url.Values{
	"replay-webhook-deliveries": {"since": {"2026-04-22T00:00:00Z"}},
}

// addExamples puts requestExamples in the OpenAPI document of api.
func addExamples(api huma.API) {
	for _, pi := range api.OpenAPI().Paths {
		for _, op := range []*huma.Operation{pi.Post, pi.Patch, pi.Put} {
			if op == nil || op.RequestBody == nil || op.RequestBody.Content["application/json"] == nil {
				continue
			}
			mt := op.RequestBody.Content["application/json"]
			for _, e := range requestExamples[op.OperationID] {
				if mt.Examples == nil {
					mt.Examples = map[string]*huma.Example{}
				}
				mt.Examples[e.name] = &huma.Example{Summary: e.summary, Value: e.value}
			}
		}
	}
}
