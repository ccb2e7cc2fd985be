package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// scenario is one kind of request to drive.
type scenario struct {
	Name string
	// Path is the endpoint; ListPath lists what it created (for accept-to-provider).
	Path, ListPath string
	// Body returns the i-th request body.
	Body func(i int) []byte
	// Messages counts the messages one accepted request creates.
	Messages int
	// Tag marks this scenario's messages so they can be listed apart.
	Tag string
	// Check, when set, inspects a 200 response body (a batch's per-row results, say).
	Check func(body []byte) error
}

func scenarios() []scenario {
	return append([]scenario{
		{
			Name: "single email", Path: "/api/v1/emails", ListPath: "/api/v1/emails", Messages: 1, Tag: "bench-single",
			Body: func(i int) []byte {
				return fmt.Appendf(nil, `{"from":"you@sandbox.sendoka.com","to":["user%d@example.com"],"subject":"Hello %d","html":"<p>It works.</p>","tags":["bench-single"]}`, i, i)
			},
		},
	}, slices.Concat(batchScenarios(), emailScenarios())...) // batch.go, email.go
}

// result is what one scenario measured on one backend.
type result struct {
	Scenario, Backend string
	Messages          int
	Requests, Errors  int64
	Elapsed           time.Duration
	Latencies         []time.Duration // request latencies, sorted
	AcceptToProvider  []time.Duration // sent_at - created_at, sorted
	Pending           int             // messages not yet sent when measured
	PG                *pgbenchResult
	FirstError        string
}

func (r *result) ReqPerSec() float64 { return float64(r.Requests) / r.Elapsed.Seconds() }
func (r *result) MsgPerSec() float64 { return r.ReqPerSec() * float64(r.Messages) }

func pct(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	return d[min(len(d)-1, int(float64(len(d))*p))]
}

// drive runs sc with o.clients concurrent clients for o.duration.
func drive(ctx context.Context, hc *http.Client, base string, sc scenario, o options) (*result, error) {
	res := &result{Scenario: sc.Name, Messages: sc.Messages}
	// Warm up connections and caches.
	for i := range o.clients {
		if code, body, err := postJSON(ctx, hc, base+sc.Path, sc.Body(-1-i)); err != nil || code != http.StatusOK {
			return nil, fmt.Errorf("warm-up request: %d %s %v", code, body, err)
		}
	}
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		seq      atomic.Int64
		errs     atomic.Int64
		firstErr atomic.Value
	)
	deadline := time.Now().Add(o.duration)
	start := time.Now()
	for range o.clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var local []time.Duration
			for time.Now().Before(deadline) {
				i := int(seq.Add(1))
				t0 := time.Now()
				code, body, err := postJSON(ctx, hc, base+sc.Path, sc.Body(i))
				local = append(local, time.Since(t0))
				if err == nil && code == http.StatusOK && sc.Check != nil {
					err = sc.Check(body)
				}
				if err != nil || code != http.StatusOK {
					errs.Add(1)
					firstErr.CompareAndSwap(nil, fmt.Sprintf("%d %s %v", code, body, err))
				}
			}
			mu.Lock()
			res.Latencies = append(res.Latencies, local...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	res.Requests = int64(len(res.Latencies)) - errs.Load()
	res.Errors = errs.Load()
	if v := firstErr.Load(); v != nil {
		res.FirstError = v.(string)
	}
	slices.Sort(res.Latencies)
	return res, nil
}

type listPage struct {
	Data []struct {
		Status    string     `json:"status"`
		CreatedAt time.Time  `json:"created_at"`
		SentAt    *time.Time `json:"sent_at"`
	} `json:"data"`
	HasMore    bool    `json:"has_more"`
	NextCursor *string `json:"next_cursor"`
}

// acceptToProvider waits (bounded) for the scenario's messages to leave the queue, then reads
// every one back and records sent_at - created_at.
func acceptToProvider(ctx context.Context, hc *http.Client, base string, sc scenario, res *result) error {
	wait, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	for {
		var p listPage
		if err := getJSON(wait, hc, base+sc.ListPath+"?limit=1&status=queued&tag="+sc.Tag, &p); err != nil {
			return err
		}
		if len(p.Data) == 0 {
			break
		}
		select {
		case <-wait.Done():
			return fmt.Errorf("messages still queued after 5 minutes")
		case <-time.After(200 * time.Millisecond):
		}
	}
	cursor := ""
	for {
		var p listPage
		url := base + sc.ListPath + "?limit=100&tag=" + sc.Tag
		if cursor != "" {
			url += "&cursor=" + cursor
		}
		if err := getJSON(ctx, hc, url, &p); err != nil {
			return err
		}
		for _, m := range p.Data {
			if m.SentAt == nil {
				res.Pending++
				continue
			}
			res.AcceptToProvider = append(res.AcceptToProvider, m.SentAt.Sub(m.CreatedAt))
		}
		if !p.HasMore || p.NextCursor == nil {
			break
		}
		cursor = *p.NextCursor
	}
	slices.Sort(res.AcceptToProvider)
	return nil
}

func (r *result) String() string {
	b, _ := json.Marshal(r)
	return string(b)
}
