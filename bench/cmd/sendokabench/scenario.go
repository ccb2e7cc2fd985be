package main

import (
	"context"
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
	// IdempotencyKeys gives every request an Idempotency-Key of its own (Tag and its
	// index), to measure what keeping the keys costs.
	IdempotencyKeys bool
	// APIKey authenticates the requests; "" is the bench's test key.
	APIKey string
}

// post sends the i-th request of sc.
func (sc scenario) post(ctx context.Context, hc *http.Client, base string, i int) (int, []byte, error) {
	var key string
	if sc.IdempotencyKeys {
		key = fmt.Sprintf("%s-%d", sc.Tag, i)
	}
	apiKey := sc.APIKey
	if apiKey == "" {
		apiKey = benchKey
	}
	return postAs(ctx, hc, apiKey, base+sc.Path, sc.Body(i), key)
}

// singleEmail is one small email from from per request, tagged so a row can list its own
// messages.
func singleEmail(tag, from string) scenario {
	return scenario{
		Name: "single email", Path: "/api/v1/emails", ListPath: "/api/v1/emails", Messages: 1, Tag: tag,
		Body: func(i int) []byte {
			return fmt.Appendf(nil, `{"from":%q,"to":["user%d@example.com"],"subject":"Hello %d","html":"<p>It works.</p>","tags":[%q]}`, from, i, i, tag)
		},
	}
}

// result is what one row measured on one backend.
type result struct {
	ID, Name, Backend string
	// Role is the server process(es) the row measured, as `sendoka` runs them.
	Role string
	// Messages counts the messages one accepted request creates.
	Messages         int
	Requests, Errors int64
	Elapsed          time.Duration
	Latencies        []time.Duration // request latencies, sorted
	// Delay is each message's accept→provider time (sent_at − created_at), or for scheduled
	// sends their lateness (sent_at − scheduled_at); sorted.
	Delay   []time.Duration
	Pending int // messages not yet sent when read back
	// Delivery marks a row that measured the workers; Delivered counts what they
	// delivered in Elapsed.
	Delivery  bool
	Delivered int
	// Backlog is how many messages were still queued when the load stopped (BacklogKnown).
	Backlog      int
	BacklogKnown bool
	// RSS is the peak resident set (VmHWM) of the measured server process, in bytes.
	RSS int64
	PG  *pgbenchResult
	// Paced marks an open-loop row, whose throughput is set by the bench: no pgbench ratio.
	Paced      bool
	FirstError string
	Targets    []target
	// Ratios set this row against others of the same backend and run (report.go).
	Ratios []ratio
	Notes  []string
}

// ReqPerSec is the accepted requests per second; zero for delivery rows.
func (r *result) ReqPerSec() float64 {
	if r.Delivery || r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Requests) / r.Elapsed.Seconds()
}

// MsgPerSec is the messages accepted (or, for delivery rows, delivered) per second.
func (r *result) MsgPerSec() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	if r.Delivery {
		return float64(r.Delivered) / r.Elapsed.Seconds()
	}
	return r.ReqPerSec() * float64(r.Messages)
}

// BacklogSeconds is the backlog in seconds of the row's traffic.
func (r *result) BacklogSeconds() float64 {
	if r.MsgPerSec() == 0 {
		return 0
	}
	return float64(r.Backlog) / r.MsgPerSec()
}

func pct(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	return d[min(len(d)-1, int(float64(len(d))*p))]
}

// drive runs sc closed-loop: clients keep-alive clients, each sending its next request when
// the last one is answered, for d. With several bases (server processes), client c sends to
// bases[c % len(bases)]: the clients are split evenly.
func drive(ctx context.Context, hc *http.Client, bases []string, sc scenario, clients int, d time.Duration) (*result, error) {
	res := &result{Name: sc.Name, Messages: sc.Messages}
	// Warm up connections and caches.
	for i := range clients {
		if code, body, err := sc.post(ctx, hc, bases[i%len(bases)], -1-i); err != nil || code != http.StatusOK {
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
	deadline := time.Now().Add(d)
	start := time.Now()
	for c := range clients {
		base := bases[c%len(bases)]
		wg.Add(1)
		go func() {
			defer wg.Done()
			var local []time.Duration
			for time.Now().Before(deadline) {
				i := int(seq.Add(1))
				t0 := time.Now()
				code, body, err := sc.post(ctx, hc, base, i)
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

// paced runs sc open-loop: requests start at rate per second whatever the answers do, for
// d. A request's latency counts from when it was due, so a stalled server shows in the
// figures instead of slowing the load down.
func paced(ctx context.Context, hc *http.Client, base string, sc scenario, rate float64, d time.Duration) (*result, error) {
	res := &result{Name: sc.Name, Messages: sc.Messages}
	for i := range 16 { // warm-up
		if code, body, err := sc.post(ctx, hc, base, -1-i); err != nil || code != http.StatusOK {
			return nil, fmt.Errorf("warm-up request: %d %s %v", code, body, err)
		}
	}
	n := int(rate * d.Seconds())
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		errs     atomic.Int64
		firstErr atomic.Value
		inFlight = make(chan struct{}, 1024) // bounds goroutines if the server stalls
	)
	start := time.Now()
	for i := range n {
		due := start.Add(time.Duration(float64(i) / rate * float64(time.Second)))
		if wait := time.Until(due); wait > 0 {
			time.Sleep(wait)
		}
		inFlight <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-inFlight }()
			code, body, err := sc.post(ctx, hc, base, i)
			lat := time.Since(due)
			if err != nil || code != http.StatusOK {
				errs.Add(1)
				firstErr.CompareAndSwap(nil, fmt.Sprintf("%d %s %v", code, body, err))
			}
			mu.Lock()
			res.Latencies = append(res.Latencies, lat)
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
// every one back through the API and records sent_at − created_at.
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
			res.Delay = append(res.Delay, m.SentAt.Sub(m.CreatedAt))
		}
		if !p.HasMore || p.NextCursor == nil {
			break
		}
		cursor = *p.NextCursor
	}
	slices.Sort(res.Delay)
	return nil
}
