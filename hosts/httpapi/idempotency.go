package httpapi

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/sendoka/sendoka/sendoka"
)

// Idempotency keys (the docs' "Idempotency" section, and the IETF draft
// draft-ietf-httpapi-idempotency-key-header where the docs are silent).
//
// Every POST that creates something (idempotentRoutes) honours an Idempotency-Key header:
// 1 to 255 printable ASCII characters, or a structured-field string ("abc" is the key abc);
// anything else is 422 VALIDATION_ERROR. Keys are scoped to the caller's org, tenant and
// mode and to the operation, and kept 24 hours. The first request with a key runs; a
// later one with the same body gets the first one's status, Content-Type, Location and body
// byte for byte, with Idempotent-Replayed: true (and fresh X-Request-Id and rate-limit
// headers); one with another body is 409 IDEMPOTENCY_MISMATCH (the docs' status; the draft
// says 422); one sent while the first still runs (for up to 30 s) is 409
// IDEMPOTENCY_IN_FLIGHT with Retry-After: 1. A 5xx or 429 answer is not stored: the key is
// released, and a retry runs anew.
//
// The sends (single and batch) store their response in the transaction that accepts the
// messages: after a crash either the messages and the stored response both exist, or
// neither does. Other creates store it just after they answer; a crash in between leaves
// the key locked until its lock lapses (30 s), and a retry then runs again.
const (
	headerIdempotencyKey     = "Idempotency-Key"
	headerIdempotentReplayed = "Idempotent-Replayed"
)

// idempotentRoutes are the operations that honour Idempotency-Key: every POST that creates
// something, except POST /api/v1/api-keys and /api/v1/webhooks, whose responses hold a new
// secret, which is never stored (the header is ignored there).
var idempotentRoutes = map[string]bool{
	"/api/v1/emails":        true,
	"/api/v1/sms":           true,
	"/api/v1/emails/batch":  true,
	"/api/v1/sms/batch":     true,
	"/api/v1/templates":     true,
	"/api/v1/domains":       true,
	"/api/v1/phone-numbers": true,
	"/api/v1/phone-pools":   true,
	"/api/v1/tenants":       true,
	"/api/v1/audiences":     true,
	// Routes with a path parameter scope their keys by the path itself (idempotencyRoute):
	// one key sent to two audiences makes two sends.
	"/api/v1/audiences/{id}/send":     true,
	"/api/v1/audiences/{id}/contacts": true,
	// The Resend drop-in (resend.go).
	resendPrefix + "/emails":       true,
	resendPrefix + "/emails/batch": true,
}

// sendRoutes store their response in the transaction that accepts their messages, so
// their keys are inserted there, not locked up front (sendoka.IdempotencyRequest.InTx).
var sendRoutes = map[string]bool{
	"/api/v1/emails":       true,
	"/api/v1/sms":          true,
	"/api/v1/emails/batch": true,
	"/api/v1/sms/batch":    true,
	"/resend/emails":       true,
	"/resend/emails/batch": true,
}

// replayedHeaders are the response headers a replay repeats; per-request ones (request id,
// rate limits, Retry-After) are fresh on every response.
var replayedHeaders = []string{"Content-Type", "Location", "X-Content-Type-Options"}

// idemState is the idempotency of one request, kept in its reqState.
type idemState struct {
	call    *sendoka.IdempotentCall
	timeout time.Duration // for storing the response, after the request's budget
	// replay, when set, is written instead of running the operation.
	replay *sendoka.StoredResponse
}

// idempotencyMiddleware runs after authentication (it needs the principal) and before the
// body is decoded: it reads the body itself (within the operation's size and time limits),
// hashes it and looks the key up. A body it cannot read whole is left to Huma, which
// answers 408 or 413, with no key stored.
func idempotencyMiddleware(c *sendoka.Client, opts Options) func(huma.Context, func(huma.Context)) {
	return func(ctx huma.Context, next func(huma.Context)) {
		var values []string
		ctx.EachHeader(func(name, value string) {
			if strings.EqualFold(name, headerIdempotencyKey) {
				values = append(values, value)
			}
		})
		st := stateFrom(ctx.Context())
		if len(values) == 0 || st == nil {
			next(ctx)
			return
		}
		key, err := parseIdempotencyKey(values)
		if err != nil {
			reject(ctx, err)
			return
		}
		if opts.BodyReadTimeout > 0 {
			_ = ctx.SetReadDeadline(time.Now().Add(opts.BodyReadTimeout))
		}
		body, rest, whole := readBody(ctx.BodyReader(), opts.MaxBodyBytes)
		if !whole {
			next(&bodyCtx{humaContext: ctx, body: io.MultiReader(bytes.NewReader(body), rest)})
			return
		}
		op := ctx.Operation()
		dctx, end := requestBudget(ctx.Context(), opts.DatabaseTimeout).span(ctx.Context())
		call, err := c.BeginIdempotent(dctx, PrincipalFrom(ctx.Context()), sendoka.IdempotencyRequest{
			Route: idempotencyRoute(op, ctx.URL().Path), Key: key, Body: body, InTx: sendRoutes[op.Path]})
		end()
		if err != nil {
			reject(ctx, err)
			return
		}
		if r := call.Replay(); r != nil {
			st.idem = &idemState{replay: r}
			return
		}
		timeout := opts.DatabaseTimeout
		if timeout <= 0 {
			timeout = DefaultDatabaseTimeout
		}
		st.idem = &idemState{call: call, timeout: timeout}
		next(&bodyCtx{humaContext: ctx, body: bytes.NewReader(body), read: true})
		if !call.InTx() || call.Committed() || !st.failed || st.resetHeld == nil {
			return
		}
		// The send failed (its key taken, say): the key decides the answer, looked up within
		// what is left of the request's database time. A send that failed on that deadline
		// (the database is down or frozen) answers its 503 now rather than wait as long again.
		sctx, end := requestBudget(ctx.Context(), opts.DatabaseTimeout).span(context.WithoutCancel(ctx.Context()))
		defer end()
		r, rerun, err := call.Settle(sctx)
		switch {
		case r != nil:
			st.idem = &idemState{replay: r}
		case rerun:
			// The key was stale (expired, or held by a request that died) and is free now:
			// run once more, as its new holder. Nothing was written: the failure was held.
			st.resetHeld()
			next(&bodyCtx{humaContext: ctx, body: bytes.NewReader(body), read: true})
		case err != nil && sendoka.ErrorCode(err) != sendoka.CodeUnavailable:
			st.err, st.idem = sendoka.AsError(err), nil
		}
	}
}

// idempotencyRoute is the route part of a key's scope: the operation's method and path,
// with the path's parameters filled in (the request's own path) when it has any, so the
// same key on /audiences/a/send and /audiences/b/send names two requests.
func idempotencyRoute(op *huma.Operation, path string) string {
	if strings.Contains(op.Path, "{") {
		return op.Method + " " + path
	}
	return op.Method + " " + op.Path
}

// parseIdempotencyKey returns the key of the header's values: exactly one, a token of
// printable ASCII or a structured-field string (RFC 8941 sf-string: "…" with \" and \\
// escapes).
func parseIdempotencyKey(values []string) (string, error) {
	if len(values) != 1 {
		return "", keyError("send one Idempotency-Key header")
	}
	v := strings.Trim(values[0], " \t")
	if strings.HasPrefix(v, `"`) {
		s, ok := parseSFString(v)
		if !ok {
			return "", keyError("Idempotency-Key is not a valid structured-field string")
		}
		v = s
	}
	if err := sendoka.ValidateIdempotencyKey(v); err != nil {
		return "", err
	}
	return v, nil
}

// parseSFString decodes an RFC 8941 string: DQUOTE *( unescaped / "\" ( DQUOTE / "\" ) )
// DQUOTE, where unescaped is printable ASCII other than DQUOTE and backslash.
func parseSFString(v string) (string, bool) {
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return "", false
	}
	var b strings.Builder
	for i := 1; i < len(v)-1; i++ {
		ch := v[i]
		switch {
		case ch == '\\':
			i++
			if i >= len(v)-1 || (v[i] != '"' && v[i] != '\\') {
				return "", false
			}
			b.WriteByte(v[i])
		case ch == '"' || ch < 0x20 || ch > 0x7e:
			return "", false
		default:
			b.WriteByte(ch)
		}
	}
	return b.String(), true
}

func keyError(msg string) error {
	return &sendoka.Error{Code: sendoka.CodeValidation, Message: msg,
		Fields: []sendoka.FieldError{{Path: []any{headerIdempotencyKey}, Code: sendoka.FieldInvalid, Message: "1 to 255 printable ASCII characters"}}}
}

// readBody reads r whole, up to max bytes (Huma's own limit). whole is false when the body
// is longer or could not be read: body then holds what was read and rest what is left.
func readBody(r io.Reader, max int64) (body []byte, rest io.Reader, whole bool) {
	if r == nil {
		return nil, bytes.NewReader(nil), true
	}
	var buf bytes.Buffer
	n, err := io.Copy(&buf, io.LimitReader(r, max))
	if err != nil || n == max {
		return buf.Bytes(), r, false
	}
	return buf.Bytes(), r, true
}

// bodyCtx hands Huma the body the middleware read.
type bodyCtx struct {
	humaContext
	body io.Reader
	// read: the whole body was read from the connection already.
	read bool
}

func (c *bodyCtx) BodyReader() io.Reader { return c.body }

// SetReadDeadline leaves the connection alone once its body has been read whole. Huma sets
// a deadline (BodyReadTimeout from now) before it reads the body, here from memory; on the
// connection, net/http reads in the background from the end of the body on, to notice a
// client that hangs up, and that deadline passing there (a handler slower than the body
// read timeout: a database that is locked or down) would cancel the context of the
// connection: of this request, and of every later request on the connection, each then
// failing at once.
func (c *bodyCtx) SetReadDeadline(t time.Time) error {
	if c.read {
		return nil
	}
	return c.humaContext.SetReadDeadline(t)
}

// Unwrap lets humago.Unwrap and other adapters reach the router's context.
func (c *bodyCtx) Unwrap() huma.Context { return c.humaContext }

// recordCtx records the response of a request that holds an idempotency key (the status,
// the replayed headers and every byte of the body) while passing it on. It sits under
// errorCtx, so it sees the envelope as written.
type recordCtx struct {
	humaContext
	st     *reqState
	status int
	header map[string]string
	body   bytes.Buffer
}

func (c *recordCtx) recording() bool { return c.st.idem != nil && c.st.idem.call != nil }

func (c *recordCtx) SetStatus(code int) {
	if c.recording() && code >= 200 {
		c.status = code
	}
	c.humaContext.SetStatus(code)
}

func (c *recordCtx) SetHeader(name, value string) {
	c.keep(name, value)
	c.humaContext.SetHeader(name, value)
}

func (c *recordCtx) AppendHeader(name, value string) {
	c.keep(name, value)
	c.humaContext.AppendHeader(name, value)
}

func (c *recordCtx) keep(name, value string) {
	if !c.recording() {
		return
	}
	for _, h := range replayedHeaders {
		if strings.EqualFold(h, name) {
			if c.header == nil {
				c.header = map[string]string{}
			}
			c.header[h] = value
		}
	}
}

func (c *recordCtx) BodyWriter() io.Writer {
	if !c.recording() {
		return c.humaContext.BodyWriter()
	}
	return io.MultiWriter(c.humaContext.BodyWriter(), &c.body)
}

// Unwrap lets humago.Unwrap and other adapters reach the router's context.
func (c *recordCtx) Unwrap() huma.Context { return c.humaContext }

// response is what was recorded.
func (c *recordCtx) response() sendoka.StoredResponse {
	status := c.status
	if status == 0 {
		status = http.StatusOK
	}
	return sendoka.StoredResponse{Status: status, Header: c.header, Body: bytes.Clone(c.body.Bytes())}
}

// writeReplay answers with a stored response.
func writeReplay(ctx huma.Context, r *sendoka.StoredResponse) {
	for _, h := range replayedHeaders {
		if v, ok := r.Header[h]; ok {
			ctx.SetHeader(h, v)
		}
	}
	ctx.SetHeader(headerIdempotentReplayed, "true")
	ctx.SetStatus(r.Status)
	_, _ = ctx.BodyWriter().Write(r.Body)
}

// retryable reports whether a response invites the same request again: then it is not
// stored, and the key is released.
func retryable(status int) bool {
	return status >= 500 || status == http.StatusTooManyRequests
}

// endIdempotent stores the recorded response on the request's key, or releases the key,
// once the response is written. aborted says the response was cut short (a panic after
// it started): the key is released. Storing outlives the request's context (a client that
// hung up must not leave the key locked), bounded by the database timeout.
func endIdempotent(ctx context.Context, log logger, st *reqState, rec *recordCtx, aborted bool) {
	if st.idem == nil || st.idem.call == nil {
		return
	}
	call := st.idem.call
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), st.idem.timeout)
	defer cancel()
	resp := rec.response()
	var err error
	if aborted || retryable(resp.Status) {
		err = call.Release(ctx)
	} else {
		err = call.Finish(ctx, resp)
	}
	if err != nil {
		log.WarnContext(ctx, "idempotency key not stored", "request_id", st.requestID, "error", err)
	}
}

// logger is the part of *slog.Logger endIdempotent uses.
type logger interface {
	WarnContext(ctx context.Context, msg string, args ...any)
}

// sendOptions returns the options that complete the request's idempotency key in the
// transaction that accepts a single send, with the response the operation will write
// (render's value, marshalled as Huma does with status 200); none without a key.
func idemSendOptions(ctx context.Context, render func(m *sendoka.Message) any) []sendoka.SendOption {
	call := heldKey(ctx)
	if call == nil {
		return nil
	}
	return []sendoka.SendOption{sendoka.IdempotentCommit(call, func(msgs []*sendoka.Message) (sendoka.StoredResponse, error) {
		return jsonResponse(render(msgs[0]))
	})}
}

// idemBatchOptions is idemSendOptions for the batch sends: render gets the core's outcome.
func idemBatchOptions(ctx context.Context, render func(res *sendoka.BatchResult) any) []sendoka.SendOption {
	call := heldKey(ctx)
	if call == nil {
		return nil
	}
	return []sendoka.SendOption{sendoka.WithinBatchTx(func(ctx context.Context, tx sendoka.Tx, res *sendoka.BatchResult) error {
		resp, err := jsonResponse(render(res))
		if err != nil {
			return err
		}
		return call.Commit(ctx, tx, resp)
	})}
}

// heldKey returns the idempotency key the request holds, or nil.
func heldKey(ctx context.Context) *sendoka.IdempotentCall {
	st := stateFrom(ctx)
	if st == nil || st.idem == nil {
		return nil
	}
	return st.idem.call
}

// jsonResponse is a 200 with body v, in the bytes Huma's JSON format writes.
func jsonResponse(v any) (sendoka.StoredResponse, error) {
	var buf bytes.Buffer
	if err := huma.DefaultJSONFormat.Marshal(&buf, v); err != nil {
		return sendoka.StoredResponse{}, err
	}
	return sendoka.StoredResponse{Status: http.StatusOK, Header: map[string]string{"Content-Type": "application/json"}, Body: buf.Bytes()}, nil
}
