package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/sendoka/sendoka/sendoka"
)

// The Resend drop-in (README "Resend drop-in"): POST /resend/emails, POST
// /resend/emails/batch and GET /resend/emails/{id} take and answer Resend's shapes, so an app
// on one of Resend's SDKs switches by changing its base URL (RESEND_BASE_URL for the Node SDK)
// to https://your-sendoka/resend and its key to a sok_ key.
//
// They are ordinary operations of the API: the same authentication, burst limit and
// rate-limit headers, the same idempotency (the response committed in the transaction that
// accepts the messages), the same core calls (SendEmail, SendEmailBatch, GetMessage). Only
// the shapes differ: Resend's request fields, Resend's answers, and Resend's error body
// {"statusCode","message","name"} instead of the envelope (errorCtx.finish and routeErrors
// tell these operations apart by resendMeta and the path prefix).

const (
	// resendPrefix is where the drop-in is mounted.
	resendPrefix = "/resend"
	tagResend    = "Resend compatible"
	// resendMeta marks, in huma.Operation.Metadata, an operation whose errors are Resend's.
	resendMeta = "sendoka-resend"
	// headerBatchValidation chooses the batch's validation mode, strict or permissive.
	headerBatchValidation = "X-Batch-Validation"
)

// Codes of failures only the drop-in reports, in Resend's words.
const (
	// codeResendMissingField: a required field (from, to, subject) is missing; Resend's
	// missing_required_field.
	codeResendMissingField sendoka.Code = "RESEND_MISSING_REQUIRED_FIELD"
	// codeResendAttachment: an attachment without content, or with a path to fetch;
	// Resend's invalid_attachment.
	codeResendAttachment sendoka.Code = "RESEND_INVALID_ATTACHMENT"
)

// ResendError is the body of every error of the Resend routes, as Resend writes it.
type ResendError struct {
	StatusCode int    `json:"statusCode" doc:"The HTTP status, repeated" example:"422"`
	Message    string `json:"message" doc:"Human-readable explanation" example:"Missing to field."`
	Name       string `json:"name" doc:"Resend's error name" enum:"missing_required_field,validation_error,invalid_attachment,missing_api_key,invalid_api_key,restricted_api_key,invalid_from_address,not_found,method_not_allowed,invalid_idempotency_key,invalid_idempotent_request,concurrent_idempotent_requests,rate_limit_exceeded,daily_quota_exceeded,monthly_quota_exceeded,application_error" example:"missing_required_field"`
}

// ResendAddresses is an address or a list of them: Resend takes either for to, cc, bcc and
// reply_to.
type ResendAddresses []string

// UnmarshalJSON takes a string or an array of strings.
func (a *ResendAddresses) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*a = ResendAddresses{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return errors.New("expected an email address or an array of them")
	}
	*a = many
	return nil
}

// Schema documents the two forms.
func (ResendAddresses) Schema(huma.Registry) *huma.Schema {
	return &huma.Schema{OneOf: []*huma.Schema{
		{Type: huma.TypeString, Description: "One address: addr or \"Name <addr>\""},
		{Type: huma.TypeArray, Items: &huma.Schema{Type: huma.TypeString}, MaxItems: newInt(sendoka.MaxEmailRecipients), Description: "Up to 50 addresses"},
	}}
}

// ResendAttachment is a file of a Resend send. Only content is supported: path (a URL for
// the server to fetch) is refused.
type ResendAttachment struct {
	Content     string `json:"content,omitempty" doc:"The file, base64-encoded"`
	Filename    string `json:"filename,omitempty" doc:"File name shown to the recipient" example:"invoice.pdf"`
	Path        string `json:"path,omitempty" doc:"Not supported (Sendoka does not fetch URLs): send content instead"`
	ContentType string `json:"content_type,omitempty" doc:"MIME type; default guessed from the file name" example:"application/pdf"`
	ContentID   string `json:"content_id,omitempty" doc:"Makes the file inline: the HTML shows it with <img src=\"cid:CONTENT_ID\">" example:"logo"`
}

// ResendTag is a Resend tag. It is stored as the Sendoka tag "name:value" (just "name" when
// value is empty), so GET /api/v1/emails?tag=name:value finds it and webhooks carry it.
type ResendTag struct {
	Name  string `json:"name" doc:"ASCII letters, digits, _ and -" example:"category"`
	Value string `json:"value,omitempty" doc:"ASCII letters, digits, _ and -; name:value is at most 256 characters" example:"confirm_email"`
}

// ResendEmailRequest is the body of POST /resend/emails, and one item of a batch.
type ResendEmailRequest struct {
	From        string             `json:"from" doc:"Sender: addr or \"Name <addr>\", at the sandbox domain or one of your sending domains" example:"Acme <you@sandbox.sendoka.com>"`
	To          ResendAddresses    `json:"to" doc:"Recipients (1-50)"`
	Subject     string             `json:"subject" example:"Hello"`
	Cc          ResendAddresses    `json:"cc,omitempty"`
	Bcc         ResendAddresses    `json:"bcc,omitempty"`
	ReplyTo     ResendAddresses    `json:"reply_to,omitempty"`
	HTML        string             `json:"html,omitempty"`
	Text        string             `json:"text,omitempty"`
	Headers     map[string]string  `json:"headers,omitempty" doc:"Extra header fields (Sendoka's rules: at most 20, reserved names refused)"`
	Attachments []ResendAttachment `json:"attachments,omitempty" doc:"Not allowed in a batch"`
	Tags        []ResendTag        `json:"tags,omitempty" doc:"At most 10; each becomes the Sendoka tag name:value"`
	ScheduledAt string             `json:"scheduled_at,omitempty" doc:"ISO 8601 time, at most 30 days ahead; natural language (\"in 1 min\") is refused. Not allowed in a batch" example:"2026-05-01T12:00:00Z"`
}

// ResendSendResponse answers a send: the message's Sendoka id.
type ResendSendResponse struct {
	ID string `json:"id" doc:"Message id" example:"msg_01HN8Z6Q4V3K2J1M0N9P8Q7R6S"`
}

// ResendBatchResponse answers a batch: the ids of the emails sent, in order; in permissive
// mode also the emails refused.
type ResendBatchResponse struct {
	Data   []ResendSendResponse `json:"data" nullable:"false"`
	Errors *[]ResendBatchError  `json:"errors,omitempty" doc:"Permissive mode only: the emails refused, by position"`
}

// ResendBatchError is an email a permissive batch refused.
type ResendBatchError struct {
	Index   int    `json:"index" doc:"Position in the request array"`
	Message string `json:"message"`
}

// ResendEmail is Resend's email object: GET /resend/emails/{id}.
type ResendEmail struct {
	Object      string      `json:"object" enum:"email"`
	ID          string      `json:"id" example:"msg_01HN8Z6Q4V3K2J1M0N9P8Q7R6S"`
	To          []string    `json:"to"`
	From        string      `json:"from"`
	CreatedAt   string      `json:"created_at" format:"date-time" doc:"ISO 8601, UTC"`
	Subject     string      `json:"subject"`
	HTML        *string     `json:"html"`
	Text        *string     `json:"text"`
	Bcc         []string    `json:"bcc"`
	Cc          []string    `json:"cc"`
	ReplyTo     []string    `json:"reply_to"`
	LastEvent   string      `json:"last_event" enum:"queued,scheduled,sent,delivered,delivery_delayed,opened,clicked,bounced,failed,canceled" doc:"The status, or opened/clicked when that came after it; delivery_delayed while a retry is pending"`
	ScheduledAt *string     `json:"scheduled_at" format:"date-time"`
	Tags        []ResendTag `json:"tags" nullable:"false"`
}

type resendSendInput struct {
	RawBody []byte
}

type resendBatchInput struct {
	Mode    string `header:"x-batch-validation" doc:"strict (default): one invalid email refuses the whole batch; permissive: the valid ones are sent and the others listed in errors"`
	RawBody []byte
}

type resendSendOutput struct {
	Body *ResendSendResponse
}

type resendBatchOutput struct {
	Body *ResendBatchResponse
}

type resendEmailOutput struct {
	Body *ResendEmail
}

type resendHandlers struct {
	c *sendoka.Client
}

// registerResend adds the Resend drop-in's operations.
func registerResend(api huma.API, r *registrar, c *sendoka.Client) {
	reg := api.OpenAPI().Components.Schemas
	errSchema := reg.Schema(reflect.TypeFor[ResendError](), true, "ResendError")
	row := reg.Schema(reflect.TypeFor[ResendEmailRequest](), true, "ResendEmailRequest")
	h := &resendHandlers{c: c}

	send := r.resendOp(errSchema, http.MethodPost, resendPrefix+"/emails", "resend-send-email", "Send an email (Resend's shape)",
		"Resend's POST /emails on Sendoka's send: the same checks, limits and idempotency as POST /api/v1/emails. "+
			"Answers {\"id\"}; errors are Resend's {statusCode, message, name}.",
		http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusRequestEntityTooLarge,
		http.StatusUnprocessableEntity, http.StatusTooManyRequests)
	send.SkipValidateBody = true // decoded by decodeResendEmail, with Resend's errors
	send.RequestBody = &huma.RequestBody{Required: true, Content: map[string]*huma.MediaType{"application/json": {Schema: row}}}
	huma.Register(api, send, h.send)

	batch := r.resendOp(errSchema, http.MethodPost, resendPrefix+"/emails/batch", "resend-send-email-batch", "Send a batch of emails (Resend's shape)",
		"Resend's POST /emails/batch: an array of up to 100 emails (no attachments, no scheduled_at). With "+
			"x-batch-validation: strict (the default) one invalid email refuses the batch and nothing is sent; with "+
			"permissive the valid ones are sent and the others listed in errors.",
		http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusRequestEntityTooLarge,
		http.StatusUnprocessableEntity, http.StatusTooManyRequests)
	batch.SkipValidateBody = true
	batch.RequestBody = &huma.RequestBody{Required: true, Content: map[string]*huma.MediaType{"application/json": {Schema: &huma.Schema{
		Type: huma.TypeArray, Items: row, MinItems: newInt(1), MaxItems: newInt(sendoka.MaxBatch)}}}}
	huma.Register(api, batch, h.batch)

	huma.Register(api, r.resendOp(errSchema, http.MethodGet, resendPrefix+"/emails/{id}", "resend-get-email", "Get an email (Resend's shape)",
		"Resend's email object for a message: last_event is its status (or opened/clicked after it). An id unknown "+
			"in your org or tenant, or an SMS's, is 404 not_found.",
		http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusTooManyRequests), h.get)
}

// resendOp is op for a Resend route: tagged "Resend compatible", documented with Resend's
// error body, and marked so that its errors are written in that shape.
func (r *registrar) resendOp(errSchema *huma.Schema, method, path, id, summary, description string, errors ...int) huma.Operation {
	o := r.op(method, path, id, tagResend, summary, description, errors...)
	o.Metadata = map[string]any{resendMeta: true}
	for status, resp := range o.Responses {
		if status == "200" {
			continue
		}
		resp.Content = map[string]*huma.MediaType{"application/json": {Schema: errSchema}}
		if status == strconv.Itoa(http.StatusConflict) {
			resp.Description = "invalid_idempotent_request (the key was used with another body) or concurrent_idempotent_requests (a request with the key is still running; Retry-After)"
		}
	}
	return o
}

// isResendOp reports whether op is one of the drop-in's operations.
func isResendOp(op *huma.Operation) bool {
	return op != nil && op.Metadata[resendMeta] == true
}

func (h *resendHandlers) send(ctx context.Context, in *resendSendInput) (*resendSendOutput, error) {
	r, err := decodeResendEmail(in.RawBody, false)
	if err != nil {
		return nil, fail(ctx, err)
	}
	req := r.emailRequest()
	if err := rejectNUL(req); err != nil {
		return nil, fail(ctx, err)
	}
	render := func(m *sendoka.Message) any { return &ResendSendResponse{ID: m.ID} }
	m, err := h.c.SendEmail(ctx, PrincipalFrom(ctx), req, idemSendOptions(ctx, render)...)
	if err != nil {
		return nil, fail(ctx, err)
	}
	return &resendSendOutput{Body: &ResendSendResponse{ID: m.ID}}, nil
}

// errStrictBatch rolls back a strict batch's transaction when a row failed in the core.
var errStrictBatch = errors.New("httpapi: a row of a strict batch failed")

func (h *resendHandlers) batch(ctx context.Context, in *resendBatchInput) (*resendBatchOutput, error) {
	permissive, err := batchValidationMode(in.Mode)
	if err != nil {
		return nil, fail(ctx, err)
	}
	items, err := decodeResendBatch(in.RawBody)
	if err != nil {
		return nil, fail(ctx, err)
	}
	p := PrincipalFrom(ctx)
	n := len(items)
	reqs := make([]*sendoka.EmailRequest, n)
	rowErrs := make([]error, n)
	var valid []int
	for i, raw := range items {
		r, err := decodeResendEmail(raw, true)
		if err == nil {
			reqs[i] = r.emailRequest()
			err = rejectNUL(reqs[i])
		}
		if err != nil {
			if !permissive {
				return nil, fail(ctx, resendRowError(i, err)) // strict: nothing is sent
			}
			rowErrs[i] = err
			continue
		}
		valid = append(valid, i)
	}
	merge := func(res *sendoka.BatchResult) *sendoka.BatchResult { return mergeRows(n, valid, rowErrs, res) }
	if len(valid) == 0 {
		// No row reaches the core, which would have refused the key first.
		if !p.Can(sendoka.PermissionEmailsSend) {
			return nil, fail(ctx, sendoka.Errorf(sendoka.CodeInsufficientScope, "this key lacks the %s scope", sendoka.PermissionEmailsSend))
		}
		return &resendBatchOutput{Body: resendBatchBody(merge(nil), permissive)}, nil
	}
	sub := make([]*sendoka.EmailRequest, len(valid))
	for j, i := range valid {
		sub[j] = reqs[i]
	}
	var opts []sendoka.SendOption
	var refused *sendoka.BatchResult
	if !permissive {
		// All or nothing: a row the core refuses (suppressed, a domain not verified, over
		// quota) rolls back the rows it accepted, in their own transaction.
		opts = append(opts, sendoka.WithinBatchTx(func(_ context.Context, _ sendoka.Tx, res *sendoka.BatchResult) error {
			if res.Failed > 0 {
				refused = res
				return errStrictBatch
			}
			return nil
		}))
	}
	opts = append(opts, idemBatchOptions(ctx, func(res *sendoka.BatchResult) any { return resendBatchBody(merge(res), permissive) })...)
	res, err := h.c.SendEmailBatch(ctx, p, sub, opts...)
	if err != nil {
		if refused == nil || !errors.Is(err, errStrictBatch) {
			return nil, fail(ctx, err)
		}
		res = refused
	}
	if !permissive && res.Failed > 0 {
		for j, row := range res.Rows {
			if row.Err != nil {
				return nil, fail(ctx, resendRowError(valid[j], row.Err))
			}
		}
	}
	return &resendBatchOutput{Body: resendBatchBody(merge(res), permissive)}, nil
}

func (h *resendHandlers) get(ctx context.Context, in *getInput) (*resendEmailOutput, error) {
	if hasNUL(in.ID) {
		return nil, fail(ctx, sendoka.NotFound("email")) // no id has one
	}
	m, err := h.c.GetMessage(ctx, PrincipalFrom(ctx), sendoka.ChannelEmail, in.ID)
	if err != nil {
		return nil, fail(ctx, err)
	}
	return &resendEmailOutput{Body: resendEmail(m)}, nil
}

// batchValidationMode reads x-batch-validation: strict (the default) or permissive.
func batchValidationMode(v string) (permissive bool, err error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "", "strict":
		return false, nil
	case "permissive":
		return true, nil
	}
	return false, &sendoka.Error{Code: sendoka.CodeValidation,
		Message: "Invalid `x-batch-validation` header: use strict or permissive."}
}

// resendBatchBody is the answer to a batch: the accepted rows' ids in order, and in
// permissive mode the refused rows.
func resendBatchBody(res *sendoka.BatchResult, permissive bool) *ResendBatchResponse {
	out := &ResendBatchResponse{Data: []ResendSendResponse{}}
	errs := []ResendBatchError{}
	for _, row := range res.Rows {
		if row.Err != nil {
			_, _, msg := resendErrorOf(row.Err, false)
			errs = append(errs, ResendBatchError{Index: row.Index, Message: msg})
			continue
		}
		out.Data = append(out.Data, ResendSendResponse{ID: row.Message.ID})
	}
	if permissive {
		out.Errors = &errs
	}
	return out
}

// resendRowError is the error of a strict batch that row i refused: that row's, its message
// naming the row.
func resendRowError(i int, err error) *sendoka.Error {
	e := *sendoka.AsError(err)
	_, _, msg := resendErrorOf(&e, false)
	e.Message = fmt.Sprintf("emails[%d]: %s", i, msg)
	e.Fields = nil // the message says it all; the name stays the row's
	return &e
}

// resendFields are the fields of Resend's send that the drop-in takes; unsupported names
// Resend's fields that it refuses, with why.
var (
	resendFields = []string{"from", "to", "subject", "cc", "bcc", "reply_to", "html", "text", "headers", "attachments", "tags", "scheduled_at"}
	unsupported  = map[string]string{
		"template": "Resend templates are not supported: send html or text (or use POST /api/v1/emails with a Sendoka template)",
		"topic_id": "topics are not supported",
		"react":    "render the React component to html before sending",
	}
)

// decodeResendEmail reads one email of Resend's shape. Field names are exact (a name in
// another case is an unknown field, as on every Sendoka route) and null is the same as
// absent. In a batch, attachments and scheduled_at are refused, as Resend documents them
// unsupported there.
func decodeResendEmail(raw []byte, inBatch bool) (*ResendEmailRequest, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
		if !json.Valid(raw) {
			return nil, resendInvalid("Invalid JSON body.")
		}
		return nil, resendInvalid("The email must be a JSON object.")
	}
	for k, v := range fields {
		if string(v) == "null" {
			delete(fields, k)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(fields)) {
		if why, ok := unsupported[k]; ok {
			return nil, resendInvalid(fmt.Sprintf("The `%s` field is not supported by Sendoka's Resend drop-in: %s.", k, why))
		}
		if !slices.Contains(resendFields, k) {
			return nil, resendInvalid(fmt.Sprintf("The `%s` field is not a field of an email.", k))
		}
		if inBatch && (k == "attachments" || k == "scheduled_at") {
			return nil, resendInvalid(fmt.Sprintf("The `%s` field is not supported in batch emails: send this email with POST /emails.", k))
		}
	}
	for _, k := range []string{"from", "to", "subject"} {
		if _, ok := fields[k]; !ok {
			return nil, &sendoka.Error{Code: codeResendMissingField, Message: fmt.Sprintf("Missing `%s` field.", k)}
		}
	}
	var r ResendEmailRequest
	for _, f := range []struct {
		name string
		dst  any
	}{
		{"from", &r.From}, {"to", &r.To}, {"subject", &r.Subject}, {"cc", &r.Cc}, {"bcc", &r.Bcc}, {"reply_to", &r.ReplyTo},
		{"html", &r.HTML}, {"text", &r.Text}, {"headers", &r.Headers}, {"scheduled_at", &r.ScheduledAt},
	} {
		v, ok := fields[f.name]
		if !ok {
			continue
		}
		if err := json.Unmarshal(v, f.dst); err != nil {
			return nil, resendInvalid(fmt.Sprintf("Invalid `%s` field: %s.", f.name, expected(f.dst)))
		}
	}
	var err error
	if r.Attachments, err = decodeResendAttachments(fields["attachments"]); err != nil {
		return nil, err
	}
	if r.Tags, err = decodeResendTags(fields["tags"]); err != nil {
		return nil, err
	}
	if r.ScheduledAt != "" {
		if _, err := time.Parse(time.RFC3339Nano, r.ScheduledAt); err != nil {
			return nil, resendInvalid("Invalid `scheduled_at` field: use an ISO 8601 date-time such as 2026-05-01T12:00:00Z " +
				"(natural-language times such as \"in 1 min\" are not supported).")
		}
	}
	return &r, nil
}

// decodeResendBatch reads a batch: a JSON array of 1 to MaxBatch items.
func decodeResendBatch(raw []byte) ([]json.RawMessage, error) {
	if !json.Valid(raw) {
		return nil, resendInvalid("Invalid JSON body.")
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, resendInvalid("The batch must be a JSON array of emails.")
	}
	switch {
	case len(items) == 0:
		return nil, resendInvalid("The batch must hold at least one email.")
	case len(items) > sendoka.MaxBatch:
		return nil, resendInvalid(fmt.Sprintf("A batch holds at most %d emails; this one has %d.", sendoka.MaxBatch, len(items)))
	}
	return items, nil
}

// expected describes the JSON a destination takes.
func expected(dst any) string {
	switch dst.(type) {
	case *ResendAddresses:
		return "expected an email address or an array of them"
	case *map[string]string:
		return "expected an object of string values"
	}
	return "expected a string"
}

func decodeResendAttachments(raw json.RawMessage) ([]ResendAttachment, error) {
	if raw == nil {
		return nil, nil
	}
	var items []map[string]json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, resendInvalid("Invalid `attachments` field: expected an array of objects.")
	}
	out := make([]ResendAttachment, len(items))
	for i, item := range items {
		a := &out[i]
		for _, k := range slices.Sorted(maps.Keys(item)) {
			var dst *string
			switch k {
			case "content":
				dst = &a.Content
			case "filename":
				dst = &a.Filename
			case "path":
				dst = &a.Path
			case "content_type":
				dst = &a.ContentType
			case "content_id":
				dst = &a.ContentID
			default:
				return nil, resendInvalid(fmt.Sprintf("The `attachments[%d].%s` field is not a field of an attachment.", i, k))
			}
			if string(item[k]) == "null" {
				continue
			}
			if err := json.Unmarshal(item[k], dst); err != nil {
				return nil, &sendoka.Error{Code: codeResendAttachment,
					Message: fmt.Sprintf("Invalid `attachments[%d].%s` field: expected a string (content is base64).", i, k)}
			}
		}
		switch {
		case a.Path != "":
			return nil, &sendoka.Error{Code: codeResendAttachment, Message: fmt.Sprintf(
				"Invalid `attachments[%d]`: `path` (a URL to fetch) is not supported; send the file base64-encoded in `content`.", i)}
		case a.Content == "":
			return nil, &sendoka.Error{Code: codeResendAttachment,
				Message: fmt.Sprintf("Invalid `attachments[%d]`: an attachment must have a `content`.", i)}
		}
	}
	return out, nil
}

func decodeResendTags(raw json.RawMessage) ([]ResendTag, error) {
	if raw == nil {
		return nil, nil
	}
	var items []map[string]json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, resendInvalid("Invalid `tags` field: expected an array of {name, value} objects.")
	}
	out := make([]ResendTag, len(items))
	for i, item := range items {
		for _, k := range slices.Sorted(maps.Keys(item)) {
			var dst *string
			switch k {
			case "name":
				dst = &out[i].Name
			case "value":
				dst = &out[i].Value
			default:
				return nil, resendInvalid(fmt.Sprintf("The `tags[%d].%s` field is not a field of a tag.", i, k))
			}
			if string(item[k]) == "null" {
				continue
			}
			if err := json.Unmarshal(item[k], dst); err != nil {
				return nil, resendInvalid(fmt.Sprintf("Invalid `tags[%d].%s` field: expected a string.", i, k))
			}
		}
		t := out[i]
		switch {
		case t.Name == "":
			return nil, &sendoka.Error{Code: codeResendMissingField, Message: fmt.Sprintf("Missing `tags[%d].name` field.", i)}
		case !tagChars(t.Name) || !tagChars(t.Value):
			return nil, resendInvalid(fmt.Sprintf("Invalid `tags[%d]`: names and values may only contain ASCII letters, numbers, underscores, or dashes.", i))
		case len(t.Name)+1+len(t.Value) > sendoka.MaxTagLen:
			return nil, resendInvalid(fmt.Sprintf("Invalid `tags[%d]`: name and value together are at most %d characters.", i, sendoka.MaxTagLen-1))
		}
	}
	return out, nil
}

// tagChars reports whether s holds only what Resend allows in a tag: ASCII letters, digits,
// '_' and '-'. Neither has a ':', so "name:value" splits back unambiguously.
func tagChars(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func resendInvalid(msg string) *sendoka.Error {
	return &sendoka.Error{Code: sendoka.CodeValidation, Message: msg}
}

// emailRequest maps a Resend email onto a Sendoka send. Tags become "name:value"; tracking
// is off, as on a new Resend domain, so links are not rewritten behind the caller's back.
func (r *ResendEmailRequest) emailRequest() *sendoka.EmailRequest {
	off := false
	req := &sendoka.EmailRequest{
		From: r.From, To: r.To, Cc: r.Cc, Bcc: r.Bcc, ReplyTo: r.ReplyTo,
		Subject: r.Subject, HTML: r.HTML, Text: r.Text, Headers: r.Headers,
		TrackOpens: &off, TrackClicks: &off,
	}
	req.ScheduledAt = r.ScheduledAt
	for _, a := range r.Attachments {
		req.Attachments = append(req.Attachments, sendoka.AttachmentRequest{
			Filename: a.Filename, Content: a.Content, ContentType: a.ContentType, ContentID: a.ContentID})
	}
	for _, t := range r.Tags {
		tag := t.Name
		if t.Value != "" {
			tag += ":" + t.Value
		}
		req.Tags = append(req.Tags, tag)
	}
	return req
}

// resendEmail is a message as Resend's email object.
func resendEmail(m *sendoka.Message) *ResendEmail {
	out := &ResendEmail{Object: "email", ID: m.ID, CreatedAt: formatTime(m.CreatedAt),
		LastEvent: resendLastEvent(m), ScheduledAt: formatTimePtr(m.ScheduledAt), Tags: []ResendTag{}}
	if e := m.Email; e != nil {
		out.To, out.From, out.Subject = nonNil(e.To), e.From, e.Subject
		out.HTML, out.Text = nullable(e.HTML), nullable(e.Text)
		out.Cc, out.Bcc, out.ReplyTo = nilIfEmpty(e.Cc), nilIfEmpty(e.Bcc), nilIfEmpty(e.ReplyTo)
	}
	for _, t := range m.Tags {
		name, value, _ := strings.Cut(t, ":")
		out.Tags = append(out.Tags, ResendTag{Name: name, Value: value})
	}
	return out
}

// nilIfEmpty is s, or nil (JSON null, as Resend answers) when it is empty.
func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

// resendLastEvent maps a message onto Resend's last_event: its status by the same name;
// delivery_delayed for a queued message waiting for a retry; opened or clicked when that
// is the newest event of a sent or delivered message (opens and clicks never change the
// status). Resend's complained and suppressed have no counterpart: a complaint is recorded
// as failed, and Sendoka refuses a send to suppressed addresses instead of accepting it.
func resendLastEvent(m *sendoka.Message) string {
	switch m.Status {
	case sendoka.StatusQueued:
		if m.NextRetryAt != nil {
			return "delivery_delayed"
		}
	case sendoka.StatusSent, sendoka.StatusDelivered:
	newest:
		for i := len(m.Events) - 1; i >= 0; i-- {
			switch ev := m.Events[i]; {
			case ev.Type == sendoka.EventOpened:
				return "opened"
			case ev.Type == sendoka.EventClicked:
				return "clicked"
			case ev.Status != "":
				break newest
			}
		}
	}
	return string(m.Status)
}

// resendErrorOf maps an error onto Resend's status, name and message. noKey says the request
// had no Authorization header (missing_api_key rather than invalid_api_key).
func resendErrorOf(e *sendoka.Error, noKey bool) (status int, name, message string) {
	message = e.Message
	switch e.Code {
	case sendoka.CodeUnauthorized:
		if noKey {
			return http.StatusUnauthorized, "missing_api_key", "Missing API key in the authorization header."
		}
		return http.StatusForbidden, "invalid_api_key", "API key is invalid: " + e.Message
	case sendoka.CodeInsufficientScope:
		return http.StatusUnauthorized, "restricted_api_key", message
	case sendoka.CodeIPNotAllowed, sendoka.CodeTenantForbidden:
		return http.StatusForbidden, "restricted_api_key", message
	case sendoka.CodeDomainNotAllowedForKey:
		return http.StatusForbidden, "invalid_from_address", message
	case sendoka.CodeValidation:
		message = resendValidationMessage(e)
		switch {
		case fieldUnder(e, headerIdempotencyKey):
			return http.StatusBadRequest, "invalid_idempotency_key", message
		case fieldUnder(e, "attachments"):
			return http.StatusUnprocessableEntity, "invalid_attachment", message
		}
		return http.StatusUnprocessableEntity, "validation_error", message
	case codeResendMissingField:
		return http.StatusUnprocessableEntity, "missing_required_field", message
	case codeResendAttachment, sendoka.CodeAttachmentTooLarge:
		return http.StatusUnprocessableEntity, "invalid_attachment", message
	case sendoka.CodeAllSuppressed, sendoka.CodeTemplateMissingVariables:
		return http.StatusUnprocessableEntity, "validation_error", message
	case CodeRequestTooLarge:
		return http.StatusRequestEntityTooLarge, "validation_error", message
	case CodeRequestTimeout:
		return http.StatusRequestTimeout, "validation_error", message
	case CodeInvalidRequest:
		return http.StatusBadRequest, "validation_error", message
	case sendoka.CodeNotFound:
		return http.StatusNotFound, "not_found", message
	case CodeMethodNotAllowed:
		return http.StatusMethodNotAllowed, "method_not_allowed", message
	case sendoka.CodeIdempotencyMismatch:
		return http.StatusConflict, "invalid_idempotent_request", message
	case sendoka.CodeIdempotencyInFlight:
		return http.StatusConflict, "concurrent_idempotent_requests", message
	case sendoka.CodeConflict, sendoka.CodeNotScheduled:
		return http.StatusConflict, "validation_error", message
	case sendoka.CodeRateLimited:
		return http.StatusTooManyRequests, "rate_limit_exceeded", message
	case sendoka.CodeUsageLimitExceeded:
		return http.StatusTooManyRequests, "monthly_quota_exceeded", message
	case sendoka.CodeWarmupLimitExceeded:
		return http.StatusTooManyRequests, "daily_quota_exceeded", message
	case sendoka.CodeUnavailable:
		return http.StatusServiceUnavailable, "application_error", message
	}
	return http.StatusInternalServerError, "application_error", internalMessage
}

// fieldUnder reports whether the first problem of e is at or under the field name.
func fieldUnder(e *sendoka.Error, name string) bool {
	return len(e.Fields) > 0 && len(e.Fields[0].Path) > 0 && e.Fields[0].Path[0] == name
}

// resendValidationMessage words a validation error as Resend does, naming its first field:
// "Invalid `to[1]` field: invalid email address".
func resendValidationMessage(e *sendoka.Error) string {
	if len(e.Fields) == 0 || len(e.Fields[0].Path) == 0 {
		return e.Message
	}
	f := e.Fields[0]
	msg := "Invalid `" + resendPath(f.Path) + "` field: " + f.Message
	if n := len(e.Fields) - 1; n > 0 {
		msg += fmt.Sprintf(" (and %d more)", n)
	}
	return msg
}

// resendPath writes a path as JavaScript would: attachments[0].content.
func resendPath(path []any) string {
	var b strings.Builder
	for i, p := range path {
		switch p := p.(type) {
		case int:
			b.WriteString("[" + strconv.Itoa(p) + "]")
		default:
			if i > 0 {
				b.WriteByte('.')
			}
			b.WriteString(fmt.Sprint(p))
		}
	}
	return b.String()
}

// resendBody is the error body of a Resend route, and its status.
func resendBody(e *sendoka.Error, noKey bool) (int, *ResendError) {
	status, name, msg := resendErrorOf(e, noKey)
	if msg == "" {
		msg = http.StatusText(status)
	}
	return status, &ResendError{StatusCode: status, Message: msg, Name: name}
}

// isResendPath reports whether a path no operation took is under the drop-in's prefix: its
// 404 and 405 are Resend's too.
func isResendPath(p string) bool {
	return p == resendPrefix || strings.HasPrefix(p, resendPrefix+"/")
}
