package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// prefill queues n emails through the API's batch endpoint (bulk shape, 100 recipients a
// call) from a few concurrent clients, and returns how long it took.
func prefill(ctx context.Context, hc *http.Client, base string, n int) (time.Duration, error) {
	const tag = "bench-backlog"
	calls := (n + batchSize - 1) / batchSize
	var (
		next    atomic.Int64
		wg      sync.WaitGroup
		errOnce sync.Once
		first   error
	)
	start := time.Now()
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				c := int(next.Add(1)) - 1
				if c >= calls {
					return
				}
				to := make([]string, min(batchSize, n-c*batchSize))
				for j := range to {
					to[j] = fmt.Sprintf("backlog%d-%d@example.com", c, j)
				}
				body, _ := json.Marshal(map[string]any{
					"from": "you@sandbox.sendoka.com", "to": to, "subject": "Backlog", "html": "<p>It works.</p>",
					"tags": []string{tag},
				})
				code, resp, err := postJSON(ctx, hc, base+"/api/v1/emails/batch", body)
				if err == nil && code != http.StatusOK {
					err = fmt.Errorf("%d %s", code, resp)
				}
				if err == nil {
					err = allRowsAccepted(resp)
				}
				if err != nil {
					errOnce.Do(func() { first = err })
					return
				}
			}
		}()
	}
	wg.Wait()
	return time.Since(start), first
}

// deliver starts the workers-only role on db, whose n queued messages nobody else takes,
// and measures how fast it delivers them: from the first poll that finds fewer queued to
// the one that finds none, the messages that left the queue in between.
func deliver(ctx context.Context, o options, db *database, res *result, n int, env ...string) error {
	w, err := start(ctx, o, db, roleWorker, env...)
	if err != nil {
		return err
	}
	defer w.stop()
	res.Delivery = true
	var (
		started = time.Now()
		t1      time.Time
		left    int // still queued at t1
		last    = n
		moved   = time.Now()
	)
	for {
		c, err := db.count(ctx, "queued")
		if err != nil {
			return err
		}
		now := time.Now()
		if c < last {
			last, moved = c, now
		}
		if c < n && t1.IsZero() {
			t1, left = now, c
			res.Notes = append(res.Notes, fmt.Sprintf("first message delivered %.1f s after the worker process started", now.Sub(started).Seconds()))
		}
		if c == 0 {
			if left == 0 { // all gone by the first poll
				t1, left = started, n
			}
			res.Delivered, res.Elapsed = left, now.Sub(t1)
			break
		}
		if now.Sub(moved) > time.Minute {
			return fmt.Errorf("delivery stalled: %d of %d messages still queued, none delivered for a minute\n%s", c, n, w.tail())
		}
		if err := w.alive(); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	failed, err := db.count(ctx, "failed")
	if err != nil {
		return err
	}
	res.Errors = int64(failed)
	res.RSS = w.peakRSS()
	return nil
}
