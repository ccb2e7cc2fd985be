package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// load is a stream of sends from concurrent clients. Each send carries an Idempotency-Key
// and is retried, with the same key and body, on every error and timeout until the API
// answers 200 (or the run ends): the clients a kill or an outage must not fool into
// sending twice.
type load struct {
	n, clients int
	client     *apiClient
	path       string                  // /api/v1/emails unless set
	url        func(i, try int) string // base URL of the server for send i's try
	body       func(i int) any
	key        func(i int) string // Idempotency-Key of send i
	// rate, when set, paces the stream: send i starts no sooner than i/rate seconds in.
	rate float64
	// observe, when set, sees every answer (concurrently).
	observe func(i int, a answer)
}

// loadResult is what a load saw.
type loadResult struct {
	ids      []string // accepted message id of send i; "" if never accepted
	tries    int64
	outcomes map[string]int // answers by kind: "200", "503 SERVICE_UNAVAILABLE", "no answer", …
	refused  []string       // answers that are no reason to retry (a 422: the suite's bug)
	took     time.Duration
}

func (l *loadResult) accepted() int {
	n := 0
	for _, id := range l.ids {
		if id != "" {
			n++
		}
	}
	return n
}

// summary lists the answers by kind, most frequent first.
func (l *loadResult) summary() string {
	type kv struct {
		k string
		v int
	}
	var all []kv
	for k, v := range l.outcomes {
		all = append(all, kv{k, v})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].v > all[j].v || all[i].v == all[j].v && all[i].k < all[j].k })
	var parts []string
	for _, x := range all {
		parts = append(parts, fmt.Sprintf("%s: %d", x.k, x.v))
	}
	return strings.Join(parts, ", ")
}

// run sends everything and returns once every send is accepted, refused for good, or ctx
// ends.
func (ld *load) run(ctx context.Context) *loadResult {
	res := &loadResult{ids: make([]string, ld.n), outcomes: map[string]int{}}
	path := ld.path
	if path == "" {
		path = "/api/v1/emails"
	}
	var mu sync.Mutex
	count := func(kind string) {
		mu.Lock()
		res.outcomes[kind]++
		mu.Unlock()
	}
	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range ld.clients {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= ld.n || ctx.Err() != nil {
					return
				}
				if ld.rate > 0 {
					at := start.Add(time.Duration(float64(i) / ld.rate * float64(time.Second)))
					if !sleepCtx(ctx, time.Until(at)) {
						return
					}
				}
				body := ld.body(i)
				key := ld.key(i)
				for try := 0; ctx.Err() == nil; try++ {
					atomic.AddInt64(&res.tries, 1)
					a := ld.client.do(ctx, http.MethodPost, ld.url(i, try)+path, body, "Idempotency-Key", key)
					if ld.observe != nil {
						ld.observe(i, a)
					}
					kind, wait, done := classifyAnswer(a)
					count(kind)
					if a.status == http.StatusOK {
						var v struct{ ID string }
						if err := json.Unmarshal(a.body, &v); err != nil || v.ID == "" {
							mu.Lock()
							res.refused = append(res.refused, fmt.Sprintf("send %d: 200 without an id: %s", i, a.body))
							mu.Unlock()
						}
						res.ids[i] = v.ID
						break
					}
					if done {
						mu.Lock()
						res.refused = append(res.refused, fmt.Sprintf("send %d: %d %s", i, a.status, a.body))
						mu.Unlock()
						break
					}
					if !sleepCtx(ctx, wait) {
						return
					}
				}
			}
		})
	}
	wg.Wait()
	res.took = time.Since(start)
	return res
}

// classifyAnswer names an answer's kind, how long to wait before retrying it, and whether
// retrying is pointless (done).
func classifyAnswer(a answer) (kind string, wait time.Duration, done bool) {
	jitter := randomDuration(50*time.Millisecond, 250*time.Millisecond)
	switch {
	case a.err != nil:
		var te interface{ Timeout() bool }
		if errors.As(a.err, &te) && te.Timeout() {
			return "timeout", jitter, false
		}
		return "no answer", jitter, false
	case a.status == http.StatusOK:
		return "200", 0, true
	}
	code, _ := a.errorCode()
	kind = fmt.Sprintf("%d %s", a.status, code)
	switch {
	case a.status >= 500, a.status == http.StatusConflict, a.status == http.StatusTooManyRequests:
		// Retry-After says seconds; the load retries sooner (but never hammers).
		return kind, min(a.retryAfter(time.Second), time.Second) + jitter, false
	}
	return kind, 0, true
}

// sleepCtx waits d; false if ctx ended first.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// emailBody is the body of live send i of a scenario: one recipient whose address names
// the send, so the database's rows and the relay's receipts map back to it.
func emailBody(scenario string, i int) map[string]any {
	return map[string]any{
		"from":    "app@" + senderDomain,
		"to":      []string{recipient(scenario, i)},
		"subject": fmt.Sprintf("chaos %s #%d", scenario, i),
		"text":    fmt.Sprintf("hello %d", i),
	}
}

// recipient is the address of send i of a scenario.
func recipient(scenario string, i int) string {
	return fmt.Sprintf("s%s-%d@example.com", scenario, i)
}
