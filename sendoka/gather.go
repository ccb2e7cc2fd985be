package sendoka

import (
	"context"
	"sync"
)

// gatherer runs calls made concurrently in shared batches, each batch one trip to the
// database: a call hands its request over and waits for its own result. While fewer than
// inflight batches run, a call's batch starts at once, so a lone call never waits; while
// that many run, the calls that arrive gather and go together in the next. Throughput
// grows with load while the trips stay few, and a few batches at once keep a database with
// several connections (Postgres) busy on all of them.
type gatherer[Req, Res any] struct {
	// max bounds a batch.
	max int
	// inflight bounds the batches running at once (at least 1).
	inflight int
	// run does a batch: it sets every call's res or err.
	run func(ctx context.Context, calls []*gatherCall[Req, Res])

	mu      sync.Mutex
	pending []*gatherCall[Req, Res]
	running int
}

// tripsInFlight is how many shared batches of one kind (claims, records, webhook reads and
// writes) run at once.
const tripsInFlight = 4

// gatherCall is one call waiting in a gatherer.
type gatherCall[Req, Res any] struct {
	req  Req
	res  Res
	err  error
	done chan struct{}
}

// do adds req to the next batch and returns its result once that batch has run. The
// batches run without the callers' contexts (one caller's cancellation must not fail the
// others), so run bounds them itself.
func (g *gatherer[Req, Res]) do(ctx context.Context, req Req) (Res, error) {
	c := &gatherCall[Req, Res]{req: req, done: make(chan struct{})}
	g.mu.Lock()
	g.pending = append(g.pending, c)
	start := g.running < max(1, g.inflight)
	if start {
		g.running++
	}
	g.mu.Unlock()
	if start {
		go g.drain(context.WithoutCancel(ctx))
	}
	<-c.done
	return c.res, c.err
}

// drain runs the gathered calls, a batch at a time, until none is left (other drains may
// run beside it, up to inflight).
func (g *gatherer[Req, Res]) drain(ctx context.Context) {
	for {
		g.mu.Lock()
		if len(g.pending) == 0 {
			g.running--
			g.mu.Unlock()
			return
		}
		n := min(len(g.pending), g.max)
		batch := g.pending[:n:n]
		g.pending = g.pending[n:]
		g.mu.Unlock()
		g.run(ctx, batch)
		for _, c := range batch {
			close(c.done)
		}
	}
}

// waiting is how many calls wait for a batch that has not started.
func (g *gatherer[Req, Res]) waiting() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.pending)
}
