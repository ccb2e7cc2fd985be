package sendoka

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestGathererInFlight: up to inflight batches run at once, each call's starting at once;
// the calls that come while they all run gather into one next batch, and every call gets
// its own result.
func TestGathererInFlight(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	started := make(chan int, 10)
	var batches atomic.Int64
	g := gatherer[int, int]{max: 100, inflight: 2, run: func(_ context.Context, calls []*gatherCall[int, int]) {
		batches.Add(1)
		started <- len(calls)
		<-release
		for _, c := range calls {
			c.res = c.req * 10
		}
	}}
	var wg sync.WaitGroup
	results := make([]int, 7)
	// One call at a time, each waited for: two calls made together could share a batch.
	wg.Go(func() { results[0], _ = g.do(context.Background(), 0) })
	require.Equal(t, 1, <-started, "the first call's batch starts at once")
	wg.Go(func() { results[1], _ = g.do(context.Background(), 1) })
	require.Equal(t, 1, <-started, "and the second's beside it")
	for i := 2; i < 7; i++ {
		wg.Go(func() { results[i], _ = g.do(context.Background(), i) })
	}
	deadline := time.After(10 * time.Second)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for g.waiting() != 5 {
		select {
		case <-deadline:
			t.Fatal("the later calls never gathered")
		case <-tick.C:
		}
	}
	close(release)
	require.Equal(t, 5, <-started, "the five that came meanwhile go in one batch")
	wg.Wait()
	require.EqualValues(t, 3, batches.Load())
	for i, r := range results {
		require.Equal(t, i*10, r, "call %d gets its own result", i)
	}
}
