package main

import (
	"context"
	"io"
	"maps"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sendoka/sendoka/sendoka"
)

// receiver is a local webhook endpoint on loopback: it checks every delivery's signature
// with sendoka.VerifyWebhook against the endpoint's secret and counts what arrived, by
// event type.
type receiver struct {
	url     string
	srv     *http.Server
	secret  atomic.Value // string
	ok, bad atomic.Int64
	// arrived is signalled after each delivery, so a wait wakes as they come.
	arrived chan struct{}

	mu          sync.Mutex
	first, last time.Time // of the verified deliveries
	events      map[string]int
}

// newReceiver listens on a free loopback port; close it when done.
func newReceiver() (*receiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	rx := &receiver{url: "http://" + ln.Addr().String() + "/hooks", arrived: make(chan struct{}, 1), events: map[string]int{}}
	rx.secret.Store("")
	rx.srv = &http.Server{Handler: http.HandlerFunc(rx.serveHTTP)}
	go func() { _ = rx.srv.Serve(ln) }()
	return rx, nil
}

func (rx *receiver) close() { rx.srv.Close() }

// setSecret is the endpoint's signing secret, as its creation returned it.
func (rx *receiver) setSecret(s string) { rx.secret.Store(s) }

func (rx *receiver) serveHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	defer rx.signal()
	if sendoka.VerifyWebhook(body, r.Header.Get(sendoka.HeaderWebhookSignature), rx.secret.Load().(string), 0) != nil {
		rx.bad.Add(1)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	rx.ok.Add(1)
	rx.mu.Lock()
	rx.last = time.Now()
	if rx.first.IsZero() {
		rx.first = rx.last
	}
	rx.events[r.Header.Get(sendoka.HeaderWebhookEvent)]++
	rx.mu.Unlock()
}

func (rx *receiver) signal() {
	select {
	case rx.arrived <- struct{}{}:
	default:
	}
}

// received is every delivery that arrived, verified or not.
func (rx *receiver) received() int64 { return rx.ok.Load() + rx.bad.Load() }

// waitFor waits until want deliveries have arrived, none has arrived for stall, limit has
// passed, or ctx ends; it reports whether all arrived.
func (rx *receiver) waitFor(ctx context.Context, want int64, stall, limit time.Duration) bool {
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	quiet := time.NewTimer(stall)
	defer quiet.Stop()
	for rx.received() < want {
		select {
		case <-rx.arrived:
			quiet.Reset(stall) // Go 1.23 timers: no stale tick to drain
		case <-quiet.C:
			return false
		case <-deadline.C:
			return false
		case <-ctx.Done():
			return false
		}
	}
	return true
}

// span is the time from the first verified delivery to the last.
func (rx *receiver) span() (first, last time.Time) {
	rx.mu.Lock()
	defer rx.mu.Unlock()
	return rx.first, rx.last
}

// byEvent lists the verified deliveries per event type: "message.sent 10, …".
func (rx *receiver) byEvent() string {
	rx.mu.Lock()
	defer rx.mu.Unlock()
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(rx.events)) {
		parts = append(parts, k+" "+thousands(float64(rx.events[k])))
	}
	return strings.Join(parts, ", ")
}
