package httpapi

import (
	"context"
	"time"

	"github.com/danielgtaylor/huma/v2"
)

// dbBudget is the time one request's database work may take, Options.DatabaseTimeout:
// authentication and the operation draw on it in turn. The time between them, when Huma
// reads and validates the body (bounded by its own body read timeout), is not counted, so
// a slow upload is not mistaken for a slow database.
//
// A database that does not answer at all (a frozen server, a dead link) never lets a
// statement_timeout fire: only a deadline on the caller's side ends the wait. The store
// reports a call whose deadline passed as CodeUnavailable, a 503 with Retry-After.
type dbBudget struct {
	left time.Duration
	off  bool // a negative DatabaseTimeout: no deadline
}

func newDBBudget(d time.Duration) *dbBudget {
	return &dbBudget{left: d, off: d < 0}
}

// span returns a context that ends when the budget is spent, and the function that ends
// the span, charging the time it took.
func (b *dbBudget) span(parent context.Context) (context.Context, func()) {
	if b.off {
		return parent, func() {}
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(parent, max(b.left, 0))
	return ctx, func() {
		b.left -= time.Since(start)
		cancel()
	}
}

// requestBudget returns the database budget of the request ctx belongs to, made on first
// use (a fresh one outside this package's handler and middlewares).
func requestBudget(ctx context.Context, d time.Duration) *dbBudget {
	st := stateFrom(ctx)
	if st == nil {
		return newDBBudget(d)
	}
	if st.db == nil {
		st.db = newDBBudget(d)
	}
	return st.db
}

// deadlineMiddleware gives the operation's handler the rest of the request's database
// budget: it must be the last middleware of an operation, so that the only one to ask for
// the context it passes on is Huma, when it calls the handler (after reading the body). The
// context ends, at the latest, when the operation returns.
func deadlineMiddleware(opts Options) func(huma.Context, func(huma.Context)) {
	return func(ctx huma.Context, next func(huma.Context)) {
		dc := &deadlineCtx{humaContext: ctx, budget: requestBudget(ctx.Context(), opts.DatabaseTimeout)}
		defer dc.end()
		next(dc)
	}
}

// deadlineCtx starts the handler's span of the budget when its context is first asked for.
type deadlineCtx struct {
	humaContext
	budget *dbBudget
	ctx    context.Context
	stop   func()
}

// Context returns the request's context with the rest of the database budget as deadline.
func (c *deadlineCtx) Context() context.Context {
	if c.ctx == nil {
		c.ctx, c.stop = c.budget.span(c.humaContext.Context())
	}
	return c.ctx
}

func (c *deadlineCtx) end() {
	if c.stop != nil {
		c.stop()
	}
}

// Unwrap lets humago.Unwrap and other adapters reach the router's context.
func (c *deadlineCtx) Unwrap() huma.Context { return c.humaContext }
