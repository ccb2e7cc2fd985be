package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/sendoka/sendoka/sendoka"
)

// BatchResponse answers a batch call: one entry per row, in order. The call is a 200 even
// when rows failed; each failed row says why.
type BatchResponse struct {
	Data      []BatchRow `json:"data" nullable:"false"`
	Total     int        `json:"total" doc:"Rows in the call: array items, or recipients in the bulk shape"`
	Succeeded int        `json:"succeeded" doc:"Rows accepted"`
	Failed    int        `json:"failed" doc:"Rows refused"`
}

// BatchRow is the outcome of one row.
type BatchRow struct {
	Index  int            `json:"index" doc:"Position of the row: in the array, or in to for the bulk shape"`
	ID     *string        `json:"id" doc:"Message id, or null when the row failed" example:"msg_01HN8Z6Q4V3K2J1M0N9P8Q7R6S"`
	Status string         `json:"status" enum:"queued,scheduled,failed" doc:"queued or scheduled when accepted, failed when refused"`
	Error  *BatchRowError `json:"error" doc:"Why the row was refused, or null"`
}

// BatchRowError is what a single send of the row would have answered.
type BatchRowError struct {
	Code    string       `json:"code" example:"VALIDATION_ERROR"`
	Message string       `json:"message" example:"to: invalid email address"`
	Errors  []FieldError `json:"errors" nullable:"false" doc:"Per-field problems, as in the error envelope"`
}

type batchInput struct {
	RawBody []byte
}

type batchOutput struct {
	Body *BatchResponse
}

// batcher serves the two batch operations: it decodes either shape, validates every row
// against the schema of a single send, and hands the rows to the core.
type batcher struct {
	c   *sendoka.Client
	reg huma.Registry
	// The schemas a single send's body is validated with, and those of the bulk shapes.
	emailRow, smsRow, emailBulk, smsBulk *huma.Schema
}

// registerBatch adds POST /api/v1/emails/batch and POST /api/v1/sms/batch.
func registerBatch(api huma.API, r *registrar, h *handlers) {
	reg := api.OpenAPI().Components.Schemas
	b := &batcher{c: h.c, reg: reg,
		emailRow: reg.Schema(reflect.TypeFor[sendoka.EmailRequest](), true, "EmailRequest"),
		smsRow:   reg.Schema(reflect.TypeFor[sendoka.SMSRequest](), true, "SMSRequest"),
	}
	b.emailBulk = bulkSchema(reg, b.emailRow, "EmailBulkRequest",
		"Bulk shape: one email to every address of to (1-100), one message each; cc and bcc are not allowed",
		"Recipients, one message each (1-100)")
	b.smsBulk = bulkSchema(reg, b.smsRow, "SMSBulkRequest",
		"Bulk shape: one SMS to every number of to (1-100), one message each",
		"E.164 recipients, one message each (1-100)")

	const shapes = " Two shapes: a JSON array of up to 100 send requests (one message each, multi-recipient " +
		"headers kept), or one object whose to lists up to 100 recipients (one message per recipient; " +
		"recipients do not see each other). Each row is validated on its own; the valid ones are " +
		"accepted together in one transaction even when others fail. More than 100 rows is a 422 for " +
		"the whole call. An Idempotency-Key covers the whole call: a replay returns the stored " +
		"per-row response."
	for _, op := range []struct {
		path, id, tag, summary string
		row, bulk              *huma.Schema
		handler                func(context.Context, *batchInput) (*batchOutput, error)
	}{
		{"/api/v1/emails/batch", "send-email-batch", tagEmails, "Send a batch of emails", b.emailRow, b.emailBulk, b.emails},
		{"/api/v1/sms/batch", "send-sms-batch", tagSMS, "Send a batch of SMS", b.smsRow, b.smsBulk, b.sms},
	} {
		o := r.op(http.MethodPost, op.path, op.id, op.tag, op.summary, op.summary+"."+shapes,
			http.StatusUnauthorized, http.StatusForbidden, http.StatusRequestEntityTooLarge,
			http.StatusUnprocessableEntity, http.StatusTooManyRequests)
		// The body is read raw and each row validated on its own; the schema documents it.
		o.SkipValidateBody = true
		o.RequestBody = &huma.RequestBody{Required: true, Content: map[string]*huma.MediaType{
			"application/json": {Schema: &huma.Schema{OneOf: []*huma.Schema{
				{Type: huma.TypeArray, Items: op.row, MinItems: newInt(1), MaxItems: newInt(sendoka.MaxBatch), Description: "Per-item shape"},
				op.bulk,
			}}},
		}}
		huma.Register(api, o, op.handler) // documented as JSON only by Register (jsonOnly)
	}
}

func newInt(n int) *int { return &n }

// bulkSchema registers, as name, the schema of row with to replaced by a list of recipients.
func bulkSchema(reg huma.Registry, row *huma.Schema, name, description, toDoc string) *huma.Schema {
	s := *reg.SchemaFromRef(row.Ref)
	s.Description = description
	s.Properties = make(map[string]*huma.Schema, len(s.Properties))
	for k, v := range reg.SchemaFromRef(row.Ref).Properties {
		s.Properties[k] = v
	}
	s.Properties["to"] = &huma.Schema{Type: huma.TypeArray, Items: &huma.Schema{Type: huma.TypeString},
		MinItems: newInt(1), MaxItems: newInt(sendoka.MaxBatch), Description: toDoc}
	s.PrecomputeMessages()
	reg.Map()[name] = &s
	return &huma.Schema{Ref: "#/components/schemas/" + name}
}

func (b *batcher) emails(ctx context.Context, in *batchInput) (*batchOutput, error) {
	p := PrincipalFrom(ctx)
	items, bulk, err := b.decode(in.RawBody)
	if err != nil {
		return nil, fail(ctx, err)
	}
	var res *sendoka.BatchResult
	if bulk != nil {
		var req sendoka.EmailRequest
		if n, ok := recipients(bulk); ok && (n == 0 || n > sendoka.MaxBatch) {
			// The core owns the limit and its message.
			res, err = b.c.SendEmailBulk(ctx, p, &sendoka.EmailRequest{To: make([]string, n)})
		} else if err = b.decodeRow(bulk, b.emailBulk, &req); err == nil {
			res, err = b.c.SendEmailBulk(ctx, p, &req, idemBatchOptions(ctx, batchBody)...)
		}
	} else {
		reqs := make([]*sendoka.EmailRequest, len(items))
		rowErrs := b.decodeRows(items, b.emailRow, func(i int) any {
			reqs[i] = &sendoka.EmailRequest{}
			return reqs[i]
		})
		need := sendoka.PermissionEmailsSend
		res, err = b.sendRows(len(items), rowErrs, p, need, func(valid []int, merge func(*sendoka.BatchResult) *sendoka.BatchResult) (*sendoka.BatchResult, error) {
			sub := make([]*sendoka.EmailRequest, len(valid))
			for j, i := range valid {
				sub[j] = reqs[i]
			}
			return b.c.SendEmailBatch(ctx, p, sub, idemBatchOptions(ctx, func(res *sendoka.BatchResult) any { return batchBody(merge(res)) })...)
		})
	}
	if err != nil {
		return nil, fail(ctx, err)
	}
	return &batchOutput{Body: batchResponse(res)}, nil
}

func (b *batcher) sms(ctx context.Context, in *batchInput) (*batchOutput, error) {
	p := PrincipalFrom(ctx)
	items, bulk, err := b.decode(in.RawBody)
	if err != nil {
		return nil, fail(ctx, err)
	}
	var res *sendoka.BatchResult
	if bulk != nil {
		var req struct {
			sendoka.SMSRequest
			To []string `json:"to"`
		}
		if n, ok := recipients(bulk); ok && (n == 0 || n > sendoka.MaxBatch) {
			res, err = b.c.SendSMSBulk(ctx, p, make([]string, n), &sendoka.SMSRequest{})
		} else if err = b.decodeRow(bulk, b.smsBulk, &req); err == nil {
			res, err = b.c.SendSMSBulk(ctx, p, req.To, &req.SMSRequest, idemBatchOptions(ctx, batchBody)...)
		}
	} else {
		reqs := make([]*sendoka.SMSRequest, len(items))
		rowErrs := b.decodeRows(items, b.smsRow, func(i int) any {
			reqs[i] = &sendoka.SMSRequest{}
			return reqs[i]
		})
		need := sendoka.PermissionSMSSend
		res, err = b.sendRows(len(items), rowErrs, p, need, func(valid []int, merge func(*sendoka.BatchResult) *sendoka.BatchResult) (*sendoka.BatchResult, error) {
			sub := make([]*sendoka.SMSRequest, len(valid))
			for j, i := range valid {
				sub[j] = reqs[i]
			}
			return b.c.SendSMSBatch(ctx, p, sub, idemBatchOptions(ctx, func(res *sendoka.BatchResult) any { return batchBody(merge(res)) })...)
		})
	}
	if err != nil {
		return nil, fail(ctx, err)
	}
	return &batchOutput{Body: batchResponse(res)}, nil
}

// decode tells the two shapes apart: a JSON array is the per-item shape (its raw items are
// returned), an object the bulk shape (returned raw). Anything else is a VALIDATION_ERROR.
func (b *batcher) decode(body []byte) ([]json.RawMessage, json.RawMessage, error) {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if !json.Valid(trimmed) {
		return nil, nil, &sendoka.Error{Code: sendoka.CodeValidation, Message: "Request body is not valid JSON",
			Fields: []sendoka.FieldError{{Path: []any{}, Code: FieldInvalidJSON, Message: "malformed JSON"}}}
	}
	switch {
	case len(trimmed) > 0 && trimmed[0] == '[':
		var items []json.RawMessage
		if err := json.Unmarshal(trimmed, &items); err != nil {
			return nil, nil, sendoka.Internal(err) // valid JSON that is an array always decodes
		}
		return items, nil, nil
	case len(trimmed) > 0 && trimmed[0] == '{':
		return nil, json.RawMessage(trimmed), nil
	}
	return nil, nil, fieldErr(sendoka.FieldInvalidType,
		"expected an array of messages (per-item shape) or one object whose to lists the recipients (bulk shape)")
}

// recipients counts the to list of a bulk object, when it is a list.
func recipients(bulk json.RawMessage) (int, bool) {
	var obj struct {
		To []json.RawMessage `json:"to"`
	}
	if err := json.Unmarshal(bulk, &obj); err != nil || obj.To == nil {
		return 0, false
	}
	return len(obj.To), true
}

// decodeRow validates one raw object against schema, exactly as a single send's body is
// validated, then decodes it into dst.
func (b *batcher) decodeRow(raw json.RawMessage, schema *huma.Schema, dst any) error {
	var parsed any
	if err := json.Unmarshal(raw, &parsed); err != nil {
		// Valid JSON that does not decode: a number beyond float64's range (1e999).
		return fieldErr(sendoka.FieldInvalid, strings.TrimPrefix(err.Error(), "json: "))
	}
	res := &huma.ValidateResult{}
	pb := huma.NewPathBuffer(make([]byte, 0, 64), 0)
	pb.Push("body") // as Huma names a body's fields; parseLocation drops it
	huma.Validate(b.reg, schema, pb, huma.ModeWriteToServer, parsed, res)
	res.Errors = append(res.Errors, caseErrors(raw, reflect.TypeOf(dst))...) // as jsonBody.Resolve does
	if len(res.Errors) > 0 {
		var he humaError
		for _, e := range res.Errors {
			d, ok := e.(*huma.ErrorDetail)
			if !ok {
				he.Errors = append(he.Errors, struct {
					Message  string `json:"message"`
					Location string `json:"location"`
				}{Message: e.Error(), Location: "body"})
				continue
			}
			he.Errors = append(he.Errors, struct {
				Message  string `json:"message"`
				Location string `json:"location"`
			}{Message: d.Message, Location: d.Location})
		}
		return validationFromHuma(he)
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		// The schema let through something the Go type refuses (a number too large, say).
		return fieldErr(sendoka.FieldInvalidType, strings.TrimPrefix(err.Error(), "json: "))
	}
	return rejectNUL(dst)
}

// decodeRows decodes every item of the per-item shape; it returns the error of each item
// that failed (nil for the others). dst returns where item i goes. Beyond the batch limit
// nothing is decoded: the core refuses the call.
func (b *batcher) decodeRows(items []json.RawMessage, schema *huma.Schema, dst func(i int) any) []error {
	errs := make([]error, len(items))
	if len(items) > sendoka.MaxBatch {
		return errs
	}
	for i, raw := range items {
		errs[i] = b.decodeRow(raw, schema, dst(i))
	}
	return errs
}

// sendRows hands the rows that decoded to the core and merges its per-row outcome with the
// rows that did not decode, keeping the call's indexes. A call of zero or too many rows goes
// to the core as it is, which refuses it. send gets the merge too, for work in the core's
// transaction that needs the call's whole outcome (an idempotency key's response).
func (b *batcher) sendRows(n int, rowErrs []error, p *sendoka.Principal, need sendoka.Permission, send func(valid []int, merge func(*sendoka.BatchResult) *sendoka.BatchResult) (*sendoka.BatchResult, error)) (*sendoka.BatchResult, error) {
	valid := make([]int, 0, n)
	for i, err := range rowErrs {
		if err == nil {
			valid = append(valid, i)
		}
	}
	if len(valid) == 0 && n > 0 && n <= sendoka.MaxBatch && !p.Can(need) {
		// No row reaches the core, which would have refused the key first.
		return nil, sendoka.Errorf(sendoka.CodeInsufficientScope, "this key lacks the %s scope", need)
	}
	merge := func(res *sendoka.BatchResult) *sendoka.BatchResult { return mergeRows(n, valid, rowErrs, res) }
	if n == 0 || n > sendoka.MaxBatch || len(valid) > 0 {
		res, err := send(valid, merge)
		if n == 0 || n > sendoka.MaxBatch {
			if err == nil {
				err = sendoka.Internal(fmt.Errorf("httpapi: the core accepted a batch of %d", n))
			}
			return nil, err
		}
		if err != nil {
			return nil, err
		}
		return merge(res), nil
	}
	return merge(nil), nil
}

// mergeRows is the call's outcome: the core's rows (res, for the rows valid) at their
// indexes, and the rows that did not decode. It does not change res.
func mergeRows(n int, valid []int, rowErrs []error, res *sendoka.BatchResult) *sendoka.BatchResult {
	out := &sendoka.BatchResult{Rows: make([]sendoka.BatchRow, n)}
	if res != nil {
		for j, row := range res.Rows {
			row.Index = valid[j]
			out.Rows[valid[j]] = row
		}
	}
	for i, err := range rowErrs {
		out.Rows[i].Index = i
		if err != nil {
			out.Rows[i].Err = sendoka.AsError(err)
		}
	}
	for _, row := range out.Rows {
		if row.Err != nil {
			out.Failed++
		} else {
			out.Succeeded++
		}
	}
	return out
}

// batchBody is the body of a batch's answer (for the response an idempotency key stores).
func batchBody(res *sendoka.BatchResult) any { return batchResponse(res) }

func batchResponse(res *sendoka.BatchResult) *BatchResponse {
	out := &BatchResponse{Data: make([]BatchRow, len(res.Rows)), Total: len(res.Rows), Succeeded: res.Succeeded, Failed: res.Failed}
	for i, row := range res.Rows {
		r := BatchRow{Index: row.Index}
		if row.Err != nil {
			r.Status = "failed"
			fields := make([]FieldError, 0, len(row.Err.Fields))
			for _, f := range row.Err.Fields {
				path := f.Path
				if path == nil {
					path = []any{}
				}
				fields = append(fields, FieldError{Path: path, Code: f.Code, Message: f.Message})
			}
			r.Error = &BatchRowError{Code: string(row.Err.Code), Message: row.Err.Message, Errors: fields}
		} else {
			r.ID = &row.Message.ID
			r.Status = string(row.Message.Status)
		}
		out.Data[i] = r
	}
	return out
}
