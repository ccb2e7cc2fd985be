package httpapi

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/sendoka/sendoka/sendoka"
)

// reqState is what the layers of one request tell each other through its context.
type reqState struct {
	requestID string
	// err is the failure an operation or the auth step reported; when set it is the body of
	// the error response, whatever Huma marshalled.
	err *sendoka.Error
	// db is the request's database budget (deadline.go), made on first use.
	db *dbBudget
	// route is the operation's method and path pattern, and orgID and keyPrefix who called
	// (once authenticated): the request log's fields, never the path itself, which can hold
	// an address.
	route, orgID, keyPrefix string
	// idem is the request's idempotency key, when it sent one (idempotency.go).
	idem *idemState
	// failed is set once the operation answered an error status (held by errorCtx), and
	// resetHeld forgets that answer, so the operation may run again (idempotency.go).
	failed    bool
	resetHeld func()
}

type stateKey struct{}

func stateFrom(ctx context.Context) *reqState {
	st, _ := ctx.Value(stateKey{}).(*reqState)
	return st
}

// RequestIDFrom returns the request id (req_…) of a request handled by this package's
// handler or operations, or "" outside one.
func RequestIDFrom(ctx context.Context) string {
	if st := stateFrom(ctx); st != nil {
		return st.requestID
	}
	return ""
}

// fail records err as the request's failure and returns what the Huma handler returns.
func fail(ctx context.Context, err error) error {
	e := sendoka.AsError(err)
	if st := stateFrom(ctx); st != nil {
		st.err = e
	}
	status, _ := ErrorStatus(e.Code)
	return &statusError{err: e, status: status}
}

// envelopeMiddleware gives every operation registered by Register the docs' error
// envelope, without touching Huma's process-wide error constructors (huma.NewError) or the
// API's configuration: the embedding app's own Huma API keeps its own errors.
//
// It wraps huma.Context so that an error status and the body written after it are held
// back; once the operation returns, the held error (ours, or Huma's own error model for bad
// JSON, schema failures, oversized bodies) is rewritten as the envelope, with its status
// mapped (Huma's 400 and 415 for malformed bodies become 422). Success responses stream
// through untouched. A panic before anything was written becomes a 500 envelope.
func envelopeMiddleware(log *slog.Logger) func(huma.Context, func(huma.Context)) {
	return func(ctx huma.Context, next func(huma.Context)) {
		st := stateFrom(ctx.Context())
		if st == nil {
			// Registered on an app's own API, outside New's handler: this is the outermost layer.
			st = &reqState{requestID: newRequestID()}
			ctx.SetHeader(headerRequestID, st.requestID)
			ctx = huma.WithValue(ctx, stateKey{}, st)
		}
		if op := ctx.Operation(); op != nil {
			st.route = op.Method + " " + op.Path
		}
		// rec sees the response as written (the envelope included), for an idempotency key.
		rec := &recordCtx{humaContext: ctx, st: st}
		ec := &errorCtx{humaContext: rec}
		st.resetHeld = func() {
			ec.held, ec.status, st.failed, st.err = nil, 0, false, nil
		}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler || ec.passed {
					endIdempotent(ctx.Context(), log, st, rec, true)
					panic(v) // the response has started: only the connection can be aborted
				}
				log.ErrorContext(ctx.Context(), "panic in operation", "request_id", st.requestID,
					"operation", ctx.Operation().OperationID, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				ec.held = nil
				st.err = sendoka.Internal(fmt.Errorf("panic: %v", v))
				ec.status = http.StatusInternalServerError
				ec.finish(log, st)
			} else if st.idem != nil && st.idem.replay != nil {
				// A replay, instead of the operation or of its failure (Settle).
				writeReplay(ctx, st.idem.replay)
			} else if ec.held != nil {
				ec.finish(log, st)
			}
			endIdempotent(ctx.Context(), log, st, rec, false)
		}()
		next(ec)
	}
}

// humaContext lets errorCtx embed huma.Context: the interface has a Context method, which
// an embedded field named Context would shadow.
type humaContext = huma.Context

// errorCtx holds back error responses; see envelopeMiddleware.
type errorCtx struct {
	humaContext
	status int
	held   *bytes.Buffer // non-nil once an error status was set
	passed bool          // a success status went through: the response has started
}

// Unwrap lets humago.Unwrap and other adapters reach the router's context.
func (c *errorCtx) Unwrap() huma.Context { return c.humaContext }

// Header makes Huma marshal every response, error models included, as JSON: the API speaks
// only JSON, and the held error body must be readable.
func (c *errorCtx) Header(name string) string {
	if strings.EqualFold(name, "Accept") {
		return "application/json"
	}
	return c.humaContext.Header(name)
}

func (c *errorCtx) SetStatus(code int) {
	if code >= 400 {
		if st := stateFrom(c.Context()); st != nil {
			st.failed = true
		}
		c.status = code
		if c.held == nil {
			c.held = new(bytes.Buffer)
		}
		return
	}
	c.passed = true
	c.humaContext.SetStatus(code)
}

func (c *errorCtx) Status() int {
	if c.held != nil {
		return c.status
	}
	return c.humaContext.Status()
}

func (c *errorCtx) BodyWriter() io.Writer {
	if c.held != nil {
		return c.held
	}
	return c.humaContext.BodyWriter()
}

// finish writes the held error as the envelope.
func (c *errorCtx) finish(log *slog.Logger, st *reqState) {
	e := st.err
	if e == nil {
		e = fromHuma(c.status, c.held.Bytes())
	}
	var status int
	var body any
	if isResendOp(c.Operation()) {
		status, body = resendBody(e, strings.TrimSpace(c.humaContext.Header("Authorization")) == "")
	} else {
		status, body = envelope(e, st.requestID)
	}
	if status >= 500 {
		// An outage is the database's, not a bug of ours: a warning, once per request.
		level := slog.LevelError
		if status == http.StatusServiceUnavailable {
			level = slog.LevelWarn
		}
		log.Log(c.humaContext.Context(), level, "request failed", "request_id", st.requestID,
			"operation", c.Operation().OperationID, "code", e.Code, "error", e)
	}
	c.humaContext.SetHeader("Content-Type", "application/json")
	c.humaContext.SetHeader("X-Content-Type-Options", "nosniff")
	if e.Code == sendoka.CodeUnauthorized {
		c.humaContext.SetHeader("WWW-Authenticate", `Bearer realm="sendoka"`)
	}
	if secs := retryAfter(e); secs > 0 {
		c.humaContext.SetHeader("Retry-After", fmt.Sprint(secs))
	}
	if e.Code == sendoka.CodeUsageLimitExceeded || e.Code == sendoka.CodeWarmupLimitExceeded {
		setQuotaHeaders(c.humaContext.SetHeader, e, time.Now())
	}
	c.humaContext.SetStatus(status)
	_ = jsonEncode(c.humaContext.BodyWriter(), body)
}
