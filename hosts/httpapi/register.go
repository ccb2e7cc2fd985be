package httpapi

import (
	"context"
	"net/http"
	"reflect"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/sendoka/sendoka/sendoka"
)

// Register adds Sendoka's operations (send, get and list, for email and SMS) to api, with
// their authentication and the docs' error envelope. It works on any Huma API, the app's own
// included: it changes neither the API's configuration nor Huma's process-wide error
// constructors. New uses it; call it directly to serve Sendoka from an existing Huma API.
//
// Without New around it there is no envelope for unknown routes and no X-Request-Id on the
// app's own responses; Sendoka's operations still set X-Request-Id themselves.
func Register(api huma.API, c *sendoka.Client, opts Options) {
	opts = opts.withDefaults()
	before := map[*huma.Operation]bool{} // the app's own operations, if any
	for _, pi := range api.OpenAPI().Paths {
		for _, op := range []*huma.Operation{pi.Get, pi.Post, pi.Put, pi.Patch, pi.Delete} {
			before[op] = true
		}
	}
	r := newRegistrar(api, c, opts)
	h := &handlers{c: c}
	oapi := api.OpenAPI()
	if oapi.Components == nil {
		oapi.Components = &huma.Components{}
	}
	if oapi.Components.SecuritySchemes == nil {
		oapi.Components.SecuritySchemes = map[string]*huma.SecurityScheme{}
	}
	oapi.Components.SecuritySchemes[securityScheme] = &huma.SecurityScheme{
		Type: "http", Scheme: "bearer", BearerFormat: "sok_live_… or sok_test_…",
		Description: "An API key: sok_live_ keys send for real, sok_test_ keys only simulate.",
	}

	huma.Register(api, r.op(http.MethodPost, "/api/v1/emails", "send-email", tagEmails, "Send an email",
		"Validates and accepts an email. A 200 means the message is stored and queued: poll "+
			"GET /api/v1/emails/{id} (or use webhooks) for its delivery.",
		http.StatusUnauthorized, http.StatusForbidden, http.StatusRequestEntityTooLarge,
		http.StatusUnprocessableEntity, http.StatusTooManyRequests), h.sendEmail)
	huma.Register(api, r.op(http.MethodPost, "/api/v1/sms", "send-sms", tagSMS, "Send an SMS",
		"Validates and accepts an SMS. A 200 means the message is stored and queued.",
		http.StatusUnauthorized, http.StatusForbidden, http.StatusRequestEntityTooLarge,
		http.StatusUnprocessableEntity, http.StatusTooManyRequests), h.sendSMS)
	huma.Register(api, r.op(http.MethodGet, "/api/v1/emails/{id}", "get-email", tagEmails, "Get an email",
		"The full message with its delivery status, provider diagnostics and event timeline. "+
			"An id unknown in your org (or tenant), or the id of an SMS, is 404 NOT_FOUND.",
		http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusTooManyRequests), h.getEmail)
	huma.Register(api, r.op(http.MethodGet, "/api/v1/sms/{id}", "get-sms", tagSMS, "Get an SMS",
		"The full message with its delivery status, provider diagnostics and event timeline. "+
			"An id unknown in your org (or tenant), or the id of an email, is 404 NOT_FOUND.",
		http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusTooManyRequests), h.getSMS)
	huma.Register(api, r.op(http.MethodGet, "/api/v1/emails", "list-emails", tagEmails, "List emails",
		"Emails newest first, a page at a time: pass next_cursor as cursor for the next page.",
		http.StatusUnauthorized, http.StatusForbidden, http.StatusUnprocessableEntity, http.StatusTooManyRequests), h.listEmails)
	huma.Register(api, r.op(http.MethodGet, "/api/v1/sms", "list-sms", tagSMS, "List SMS",
		"SMS newest first, a page at a time: pass next_cursor as cursor for the next page.",
		http.StatusUnauthorized, http.StatusForbidden, http.StatusUnprocessableEntity, http.StatusTooManyRequests), h.listSMS)
	registerScheduling(api, r, h)
	registerBatch(api, r, h)
	registerTemplates(api, r, h)
	registerRawEmail(api, r, h)  // email_raw.go
	registerAPIKeys(api, r, h)   // apikeys.go
	registerSenders(r, h)        // senders.go
	registerTenants(r, h)        // tenants.go
	registerDomains(r, h)        // domains.go
	registerWebhooks(r, h)       // webhooks.go
	registerOrg(r, h)            // org.go
	registerTracking(r, c)       // tracking.go
	registerSuppressions(r, h)   // suppressions.go
	registerInbound(r, h)        // inbound.go
	registerAudiences(r, h)      // audiences.go
	registerAudienceSends(r, h)  // audiences.go
	registerUnsubscribe(r, c)    // unsubscribe.go
	registerProviderEvents(r, c) // providers.go
	registerResend(api, r, c)    // resend.go
	addExamples(api)             // examples.go
	r.jsonOnly()
	documentTransportErrors(api, before) // responses.go
	documentNulls(api)                   // responses.go
}

// newRegistrar returns the registrar of Register's operations on api.
func newRegistrar(api huma.API, c *sendoka.Client, opts Options) *registrar {
	r := &registrar{api: api, opts: opts, idemRoutes: idempotentRoutes,
		mw: huma.Middlewares{envelopeMiddleware(opts.Logger), authMiddleware(c, opts), deadlineMiddleware(opts)}}
	r.idemMW = huma.Middlewares{r.mw[0], r.mw[1], idempotencyMiddleware(c, opts), r.mw[2]}
	return r
}

const (
	tagEmails = "Emails"
	tagSMS    = "SMS"
)

type registrar struct {
	api  huma.API
	opts Options
	mw   huma.Middlewares
	// idemMW is mw with the idempotency middleware, for the operations that honour
	// Idempotency-Key (idempotentRoutes).
	idemMW huma.Middlewares
	// idemRoutes are the paths whose POST honours Idempotency-Key: idempotentRoutes.
	idemRoutes map[string]bool
	ops        [][2]string // method and path of every operation described by op
}

// jsonOnly drops the application/octet-stream request body Huma documents for an input with
// a RawBody field (jsonBody, the batch input): the operations take JSON only.
func (r *registrar) jsonOnly() {
	for _, mp := range r.ops {
		pi := r.api.OpenAPI().Paths[mp[1]]
		if pi == nil {
			continue
		}
		var op *huma.Operation
		switch mp[0] {
		case http.MethodPost:
			op = pi.Post
		case http.MethodPatch:
			op = pi.Patch
		case http.MethodPut:
			op = pi.Put
		}
		if op != nil && op.RequestBody != nil {
			delete(op.RequestBody.Content, "application/octet-stream")
		}
	}
}

// op describes one authenticated operation; errors lists the statuses it documents beyond
// 200 (500, and 503 for a database that does not answer, are always added).
func (r *registrar) op(method, path, id, tag, summary, description string, errors ...int) huma.Operation {
	responses := errorResponses(r.api, append(errors, http.StatusInternalServerError, http.StatusServiceUnavailable)...)
	reqID := responses["200"].Headers[headerRequestID]
	errSchema := r.api.OpenAPI().Components.Schemas.Schema(reflect.TypeFor[ErrorResponse](), true, "ErrorResponse")
	r.ops = append(r.ops, [2]string{method, path})
	mw := r.mw
	var params []*huma.Param
	if method == http.MethodPost && r.idemRoutes[path] {
		mw = r.idemMW
		params = append(params, &huma.Param{Name: headerIdempotencyKey, In: "header",
			Description: "Makes the request safe to retry for 24 hours: a retry with the same key and body gets the " +
				"first response (marked Idempotent-Replayed: true) instead of acting again. 1-255 printable ASCII " +
				"characters, or a structured-field string.",
			Schema: &huma.Schema{Type: huma.TypeString, MinLength: newInt(1), MaxLength: newInt(sendoka.MaxIdempotencyKeyLen)}})
		desc := "IDEMPOTENCY_MISMATCH (the key was used with another body) or IDEMPOTENCY_IN_FLIGHT (a request with the key is still running; Retry-After)"
		if responses[strconv.Itoa(http.StatusConflict)] != nil {
			desc = "CONFLICT (it exists already), " + desc
		}
		responses[strconv.Itoa(http.StatusConflict)] = &huma.Response{
			Description: desc,
			Headers:     map[string]*huma.Param{headerRequestID: reqID},
			Content:     map[string]*huma.MediaType{"application/json": {Schema: errSchema}},
		}
	}
	return huma.Operation{
		Parameters:    params,
		OperationID:   id,
		Method:        method,
		Path:          path,
		Summary:       summary,
		Description:   description,
		Tags:          []string{tag},
		DefaultStatus: http.StatusOK,
		Security:      []map[string][]string{{securityScheme: {}}},
		MaxBodyBytes:  r.opts.MaxBodyBytes,
		// Huma's read deadline for the body; limitBody covers the time before it.
		BodyReadTimeout: r.opts.BodyReadTimeout,
		Middlewares:     mw,
		Responses:       responses,
	}
}

// errorResponses documents an operation's 200 and, in the envelope, its error statuses; all
// of them carry X-Request-Id.
func errorResponses(api huma.API, errors ...int) map[string]*huma.Response {
	reqID := &huma.Param{
		Description: "The request's id (req_…), equal to error.request_id on failures",
		Schema:      &huma.Schema{Type: huma.TypeString},
	}
	errSchema := api.OpenAPI().Components.Schemas.Schema(reflect.TypeFor[ErrorResponse](), true, "ErrorResponse")
	responses := map[string]*huma.Response{
		"200": {Headers: map[string]*huma.Param{headerRequestID: reqID}},
	}
	for _, status := range errors {
		responses[strconv.Itoa(status)] = &huma.Response{
			Description: http.StatusText(status),
			Headers:     map[string]*huma.Param{headerRequestID: reqID},
			Content:     map[string]*huma.MediaType{"application/json": {Schema: errSchema}},
		}
	}
	return responses
}

type handlers struct {
	c *sendoka.Client
}

type sendEmailInput struct {
	jsonBody[sendoka.EmailRequest]
}

type sendSMSInput struct {
	jsonBody[sendoka.SMSRequest]
}

type sendOutput struct {
	Body *SendResponse
}

func (h *handlers) sendEmail(ctx context.Context, in *sendEmailInput) (*sendOutput, error) {
	if err := rejectNUL(&in.Body); err != nil {
		return nil, fail(ctx, err)
	}
	m, err := h.c.SendEmail(ctx, PrincipalFrom(ctx), &in.Body, idemSendOptions(ctx, sendBody)...)
	if err != nil {
		return nil, fail(ctx, err)
	}
	return &sendOutput{Body: sendResponse(m)}, nil
}

func (h *handlers) sendSMS(ctx context.Context, in *sendSMSInput) (*sendOutput, error) {
	if err := rejectNUL(&in.Body); err != nil {
		return nil, fail(ctx, err)
	}
	m, err := h.c.SendSMS(ctx, PrincipalFrom(ctx), &in.Body, idemSendOptions(ctx, sendBody)...)
	if err != nil {
		return nil, fail(ctx, err)
	}
	return &sendOutput{Body: sendResponse(m)}, nil
}

// sendBody is the body of a send's answer (for the response an idempotency key stores).
func sendBody(m *sendoka.Message) any { return sendResponse(m) }

type getInput struct {
	ID string `path:"id" doc:"Message id" example:"msg_01HN8Z6Q4V3K2J1M0N9P8Q7R6S"`
}

type emailOutput struct {
	Body *EmailMessageDetail
}

type smsOutput struct {
	Body *SMSMessageDetail
}

func (h *handlers) getEmail(ctx context.Context, in *getInput) (*emailOutput, error) {
	if hasNUL(in.ID) {
		return nil, fail(ctx, sendoka.NotFound("message")) // no id has one
	}
	m, err := h.c.GetMessage(ctx, PrincipalFrom(ctx), sendoka.ChannelEmail, in.ID)
	if err != nil {
		return nil, fail(ctx, err)
	}
	return &emailOutput{Body: &EmailMessageDetail{EmailMessage: emailMessage(m), Recipients: recipientOutcomes(m), Events: events(m.Events)}}, nil
}

func (h *handlers) getSMS(ctx context.Context, in *getInput) (*smsOutput, error) {
	if hasNUL(in.ID) {
		return nil, fail(ctx, sendoka.NotFound("message")) // no id has one
	}
	m, err := h.c.GetMessage(ctx, PrincipalFrom(ctx), sendoka.ChannelSMS, in.ID)
	if err != nil {
		return nil, fail(ctx, err)
	}
	return &smsOutput{Body: &SMSMessageDetail{SMSMessage: smsMessage(m), Events: events(m.Events)}}, nil
}

type listInput struct {
	Limit    int    `query:"limit" minimum:"1" maximum:"100" default:"20" doc:"Page size, 1-100"`
	Cursor   string `query:"cursor" maxLength:"512" doc:"The next_cursor of the previous page"`
	Status   string `query:"status" enum:"queued,scheduled,sent,delivered,bounced,failed,canceled" doc:"Only messages in this status"`
	Tag      string `query:"tag" maxLength:"256" doc:"Only messages with this tag"`
	TenantID string `query:"tenant_id" maxLength:"64" doc:"Platform mode: only this tenant's (platform-root keys; a tenant-bound key may only name its own)" example:"ten_01HN8Z6Q4V3K2J1M0N9P8Q7R6S"`
	// Filters beyond the docs' (the dashboard's Messages page uses them).
	Recipient     string    `query:"recipient" maxLength:"320" doc:"Only messages whose first recipient (to) is this address or number; email addresses compare without case" example:"user@example.com"`
	Stream        string    `query:"stream" enum:"transactional,broadcast" doc:"Only messages of this stream: transactional (single and batch sends) or broadcast (audience sends)"`
	CreatedAfter  time.Time `query:"created_after" doc:"Only messages created at or after this time (RFC 3339)" example:"2026-12-01T00:00:00Z"`
	CreatedBefore time.Time `query:"created_before" doc:"Only messages created before this time (RFC 3339)" example:"2026-12-02T00:00:00Z"`
}

func (in *listInput) params() sendoka.ListParams {
	lp := sendoka.ListParams{Limit: in.Limit, Cursor: in.Cursor, Status: sendoka.Status(in.Status), Tag: in.Tag, TenantID: in.TenantID,
		Recipient: in.Recipient, Stream: in.Stream}
	if !in.CreatedAfter.IsZero() {
		lp.CreatedAfter = &in.CreatedAfter
	}
	if !in.CreatedBefore.IsZero() {
		lp.CreatedBefore = &in.CreatedBefore
	}
	return lp
}

type emailListOutput struct {
	Body *EmailList
}

type smsListOutput struct {
	Body *SMSList
}

func (h *handlers) listEmails(ctx context.Context, in *listInput) (*emailListOutput, error) {
	if err := checkListQuery(in); err != nil {
		return nil, fail(ctx, err)
	}
	page, err := h.c.ListMessages(ctx, PrincipalFrom(ctx), sendoka.ChannelEmail, in.params())
	if err != nil {
		return nil, fail(ctx, err)
	}
	out := &EmailList{Data: make([]EmailMessage, len(page.Messages)), HasMore: page.HasMore, NextCursor: nullable(page.NextCursor)}
	for i, m := range page.Messages {
		out.Data[i] = emailMessage(m)
	}
	return &emailListOutput{Body: out}, nil
}

func (h *handlers) listSMS(ctx context.Context, in *listInput) (*smsListOutput, error) {
	if err := checkListQuery(in); err != nil {
		return nil, fail(ctx, err)
	}
	page, err := h.c.ListMessages(ctx, PrincipalFrom(ctx), sendoka.ChannelSMS, in.params())
	if err != nil {
		return nil, fail(ctx, err)
	}
	out := &SMSList{Data: make([]SMSMessage, len(page.Messages)), HasMore: page.HasMore, NextCursor: nullable(page.NextCursor)}
	for i, m := range page.Messages {
		out.Data[i] = smsMessage(m)
	}
	return &smsListOutput{Body: out}, nil
}
