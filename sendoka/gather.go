package sendoka

import (
	"context"
	"sync"
)

// gatherer runs calls made concurrently in shared batches, each batch one trip to the
// database: a call hands its request over and waits for its own result. When no batch is
// running the first call's starts at once, so a lone call never waits; while one runs, the
// calls that arrive gather and go together in the next. Throughput grows with load while
// the trips stay few.
type gatherer[Req, Res any] struct {
	// max bounds a batch.
	max int
	// run does a batch: it sets every call's res or err.
	run func(ctx context.Context, calls []*gatherCall[Req, Res])

	mu      sync.Mutex
	pending []*gatherCall[Req, Res]
	running bool
}

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
	start := !g.running
	g.running = true
	g.mu.Unlock()
	if start {
		go g.drain(context.WithoutCancel(ctx))
	}
	<-c.done
	return c.res, c.err
}

// drain runs the gathered calls, a batch at a time, until none is left.
func (g *gatherer[Req, Res]) drain(ctx context.Context) {
	for {
		g.mu.Lock()
		if len(g.pending) == 0 {
			g.running = false
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
