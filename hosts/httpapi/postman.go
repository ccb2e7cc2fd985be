package httpapi

import (
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/sendoka/sendoka/sendoka"
)

// PostmanSchema is the schema URL of the collection format served at /api/v1/postman.json.
const PostmanSchema = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"

// postmanPath is where New serves the collection.
const postmanPath = "/api/v1/postman.json"

// postmanFolders orders the collection's folders (OpenAPI tags) so that a run from the top
// has what later requests use: templates before the sends that name them, senders before
// SMS. Tracking is left out: its tokens come from tracked emails; so is the Resend drop-in,
// which Resend's own SDKs call.
var postmanFolders = []string{tagHealth, tagTemplates, tagSenders, tagEmails, tagSMS, tagDomains, tagWebhooks, tagInbound, tagSuppressions, tagAudiences, tagAPIKeys, tagTenants, tagOrg}

// postmanVariables name the collection variables that stand for path parameters, by the
// collection the path names ({id} of /api/v1/emails/{id} is {{email_id}}); any other
// parameter is a variable of its own name ({{delivery_id}}).
var postmanVariables = map[string]string{
	"emails": "email_id", "sms": "sms_id", "templates": "template_id", "api-keys": "api_key_id",
	"phone-numbers": "phone_number_id", "phone-pools": "phone_pool_id", "tenants": "tenant_id",
	"domains": "domain_id", "webhooks": "webhook_id", "suppressions": "suppressed_address",
	"audiences": "audience_id", "inbound-routes": "inbound_route_id", "inbound-emails": "inbound_email_id",
}

// postmanPlaceholders are values of requestExamples that stand for something the caller
// has: the collection sends a variable instead.
var postmanPlaceholders = map[string]string{
	`"2026-12-24T12:00:00Z"`:            `"{{scheduledAt}}"`,
	`"pool_01HN8Z6Q4V3K2J1M0N9P8Q7R6S"`: `"{{phone_pool_id}}"`,
	`"pn_01HN8Z6Q4V3K2J1M0N9P8Q7R6S"`:   `"{{phone_number_id}}"`,
}

// The collection's shapes (Postman Collection Format v2.1).
type (
	postmanCollection struct {
		Info     postmanInfo       `json:"info"`
		Item     []*postmanItem    `json:"item"`
		Event    []postmanEvent    `json:"event,omitempty"`
		Variable []postmanVariable `json:"variable"`
	}
	postmanInfo struct {
		Name        string `json:"name"`
		Description string `json:"description"`
		Schema      string `json:"schema"`
	}
	postmanItem struct {
		Name    string          `json:"name"`
		Item    []*postmanItem  `json:"item,omitempty"`
		Request *postmanRequest `json:"request,omitempty"`
		Event   []postmanEvent  `json:"event,omitempty"`
	}
	postmanRequest struct {
		Method      string          `json:"method"`
		Header      []postmanHeader `json:"header"`
		Body        *postmanBody    `json:"body,omitempty"`
		URL         postmanURL      `json:"url"`
		Description string          `json:"description,omitempty"`
	}
	postmanHeader struct {
		Key   string `json:"key"`
		Value string `json:"value"`
	}
	postmanBody struct {
		Mode    string         `json:"mode"`
		Raw     string         `json:"raw"`
		Options map[string]any `json:"options"`
	}
	postmanURL struct {
		Raw   string            `json:"raw"`
		Host  []string          `json:"host"`
		Path  []string          `json:"path"`
		Query []postmanVariable `json:"query,omitempty"`
	}
	postmanVariable struct {
		Key         string `json:"key"`
		Value       string `json:"value"`
		Description string `json:"description,omitempty"`
	}
	postmanEvent struct {
		Listen string        `json:"listen"`
		Script postmanScript `json:"script"`
	}
	postmanScript struct {
		Type string   `json:"type"`
		Exec []string `json:"exec"`
	}
)

// postmanCollectionOf builds the Postman collection of api's OpenAPI document: a folder per
// tag, a request per operation and per request example (requestExamples), each with
// Authorization: Bearer {{apiKey}} on {{baseUrl}}. A create's test script keeps the new id
// in its collection variable, so a run from the top fills the variables later requests use.
func postmanCollectionOf(oapi *huma.OpenAPI, baseURL string) ([]byte, error) {
	c := postmanCollection{
		Info: postmanInfo{Name: oapi.Info.Title, Schema: PostmanSchema,
			Description: oapi.Info.Description + " Set baseUrl and apiKey; a run from the top fills the id variables as it creates things."},
		Variable: []postmanVariable{
			{Key: "baseUrl", Value: baseURL, Description: "Where the API is served (without /api/v1)"},
			{Key: "apiKey", Value: "", Description: "An API key: sok_live_… or sok_test_…"},
			{Key: "scheduledAt", Value: "", Description: "Set to an hour from now before each request"},
		},
		Event: []postmanEvent{{Listen: "prerequest", Script: postmanScript{Type: "text/javascript",
			Exec: []string{"pm.collectionVariables.set('scheduledAt', new Date(Date.now() + 3600 * 1000).toISOString());"}}}},
	}
	folders := map[string]*postmanItem{}
	for _, tag := range postmanFolders {
		folders[tag] = &postmanItem{Name: tag}
	}
	vars := map[string]bool{}
	type entry struct {
		method, path string
		op           *huma.Operation
	}
	var entries []entry
	for path, pi := range oapi.Paths {
		for method, op := range map[string]*huma.Operation{http.MethodGet: pi.Get, http.MethodPost: pi.Post,
			http.MethodPatch: pi.Patch, http.MethodPut: pi.Put, http.MethodDelete: pi.Delete} {
			if op != nil && len(op.Tags) > 0 && folders[op.Tags[0]] != nil {
				entries = append(entries, entry{method, path, op})
			}
		}
	}
	// Creates, then reads, then actions, then updates, then deletes, so a run from the top
	// makes each object before it is used and removes it last.
	rank := func(e entry) int {
		hasParam := strings.Contains(e.path, "{")
		switch {
		case e.method == http.MethodPost && !hasParam:
			return 0
		case e.method == http.MethodGet:
			return 1
		case e.method == http.MethodPost:
			return 2
		case e.method == http.MethodPatch || e.method == http.MethodPut:
			return 3
		}
		return 4
	}
	slices.SortFunc(entries, func(a, b entry) int {
		if ra, rb := rank(a), rank(b); ra != rb {
			return ra - rb
		}
		return strings.Compare(a.path, b.path)
	})
	for _, e := range entries {
		segs := strings.Split(strings.TrimPrefix(e.path, "/"), "/")
		for i, s := range segs {
			if !strings.HasPrefix(s, "{") {
				continue
			}
			name := strings.Trim(s, "{}")
			if v, ok := postmanVariables[segs[i-1]]; ok && i == 3 {
				name = v
			}
			vars[name] = true
			segs[i] = "{{" + name + "}}"
		}
		req := &postmanRequest{Method: e.method, Description: e.op.Description,
			URL: postmanURL{Raw: "{{baseUrl}}/" + strings.Join(segs, "/"), Host: []string{"{{baseUrl}}"}, Path: segs}}
		if len(e.op.Security) > 0 {
			req.Header = append(req.Header, postmanHeader{Key: "Authorization", Value: "Bearer {{apiKey}}"})
		}
		if req.Header == nil {
			req.Header = []postmanHeader{}
		}
		if q := queryExamples[e.op.OperationID]; len(q) > 0 {
			req.URL.Raw += "?" + q.Encode()
			for _, k := range slices.Sorted(maps.Keys(q)) {
				req.URL.Query = append(req.URL.Query, postmanVariable{Key: k, Value: q.Get(k)})
			}
		}
		var events []postmanEvent
		if v, ok := postmanVariables[segs[len(segs)-1]]; ok && e.method == http.MethodPost && len(segs) == 3 {
			events = []postmanEvent{{Listen: "test", Script: postmanScript{Type: "text/javascript",
				Exec: []string{"if (pm.response.code === 200) { pm.collectionVariables.set('" + v + "', pm.response.json().id); }"}}}}
		}
		folder := folders[e.op.Tags[0]]
		examples := requestExamples[e.op.OperationID]
		if e.op.RequestBody == nil || len(examples) == 0 {
			folder.Item = append(folder.Item, &postmanItem{Name: e.op.Summary, Request: req, Event: events})
			continue
		}
		for _, ex := range examples {
			raw, err := json.MarshalIndent(ex.value, "", "  ")
			if err != nil {
				return nil, err
			}
			body := string(raw)
			for from, to := range postmanPlaceholders {
				body = strings.ReplaceAll(body, from, to)
			}
			r := *req
			r.Header = append(slices.Clone(req.Header), postmanHeader{Key: "Content-Type", Value: "application/json"})
			if e.op.OperationID == "send-email" || e.op.OperationID == "send-sms" {
				// Each example is a call of its own: a fresh key per request, as Postman runs it.
				r.Header = append(r.Header, postmanHeader{Key: "Idempotency-Key", Value: "{{$guid}}"})
			}
			r.Body = &postmanBody{Mode: "raw", Raw: body, Options: map[string]any{"raw": map[string]string{"language": "json"}}}
			folder.Item = append(folder.Item, &postmanItem{Name: e.op.Summary + ": " + ex.summary, Request: &r, Event: events})
		}
	}
	for _, tag := range postmanFolders {
		if len(folders[tag].Item) > 0 {
			c.Item = append(c.Item, folders[tag])
		}
	}
	for _, v := range slices.Sorted(maps.Keys(vars)) {
		c.Variable = append(c.Variable, postmanVariable{Key: v, Value: "", Description: "Filled by the create request of its folder, or set by hand"})
	}
	return json.MarshalIndent(c, "", "  ")
}

// postmanHandler serves the collection built once, when New's handler is made.
func postmanHandler(oapi *huma.OpenAPI, serverURL string) http.HandlerFunc {
	base := strings.TrimRight(serverURL, "/")
	if base == "" {
		base = "http://127.0.0.1:8080"
	}
	body, err := postmanCollectionOf(oapi, base)
	return func(w http.ResponseWriter, r *http.Request) {
		if err != nil {
			writeEnvelope(w, sendoka.Internal(err), RequestIDFrom(r.Context()))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Disposition", `inline; filename="sendoka.postman_collection.json"`)
		_, _ = w.Write(body)
	}
}
