package main

import (
	"context"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/sendoka/sendoka/sendoka"
)

// Kinds of webhook endpoints the receiver plays.
const (
	hookSteady = "steady" // answers 200
	hookFlaky  = "flaky"  // fails each delivery's first 0–2 attempts: 500, a reset, or too slow
	hookGone   = "gone"   // answers 410 Gone
)

// hookHold is how long a slow answer holds an attempt: well past the 10 s Sendoka allows
// one, so the sender must be the one to give up.
const hookHold = 20 * time.Second

// hookReceiver is an HTTP server with several webhook endpoints (one path each), recording
// every attempt by event and delivery id, outside the process under test.
type hookReceiver struct {
	base string
	srv  *http.Server

	mu        sync.Mutex
	endpoints map[string]*hookEndpoint // by path
}

// hookEndpoint is one endpoint's behaviour and record.
type hookEndpoint struct {
	name, kind string
	id, secret string // the webhook's id and signing secret, once created

	slowBudget int                        // slow answers a flaky endpoint may still give
	plans      map[string][]string        // by delivery id: the failures still to give
	ids        map[string]map[string]bool // by event id: the delivery ids of its attempts
	ok         map[string]int             // by event id: 2xx answers given
	attempts   int
	failures   map[string]int // failures given, by mode
	badSig     []string       // attempts whose signature did not verify
	longestCut time.Duration  // slow answers: the longest the sender waited before hanging up
	outlived   int            // slow answers the sender did not hang up on within hookHold
}

// startHookReceiver starts a receiver on a free port of 127.0.0.1; cl stops it.
func startHookReceiver(e *env) (*hookReceiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	h := &hookReceiver{base: "http://" + ln.Addr().String(), endpoints: map[string]*hookEndpoint{}}
	h.srv = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = h.srv.Serve(ln) }()
	e.cl.add(func() { _ = h.srv.Close() })
	return h, nil
}

// add makes an endpoint of kind at /name and returns its URL.
func (h *hookReceiver) add(name, kind string, slowBudget int) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.endpoints["/"+name] = &hookEndpoint{name: name, kind: kind, slowBudget: slowBudget,
		plans: map[string][]string{}, ids: map[string]map[string]bool{}, ok: map[string]int{}, failures: map[string]int{}}
	return h.base + "/" + name
}

// endpoint returns the endpoint at /name.
func (h *hookReceiver) endpoint(name string) *hookEndpoint {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.endpoints["/"+name]
}

// setWebhook records the id and secret Sendoka gave the endpoint at /name.
func (h *hookReceiver) setWebhook(name, id, secret string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	ep := h.endpoints["/"+name]
	ep.id, ep.secret = id, secret
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	var body struct {
		Event string `json:"event"`
		Data  struct {
			EventID string `json:"event_id"`
		} `json:"data"`
	}
	_ = json.Unmarshal(raw, &body)
	delivery := r.Header.Get("X-Sendoka-Delivery-Id")

	h.mu.Lock()
	ep := h.endpoints[r.URL.Path]
	if ep == nil {
		h.mu.Unlock()
		http.NotFound(w, r)
		return
	}
	ep.attempts++
	if ep.secret != "" {
		if err := sendoka.VerifyWebhook(raw, r.Header.Get("X-Sendoka-Signature"), ep.secret, 5*time.Minute); err != nil {
			ep.badSig = append(ep.badSig, delivery+": "+err.Error())
		}
	}
	if ep.ids[body.Data.EventID] == nil {
		ep.ids[body.Data.EventID] = map[string]bool{}
	}
	ep.ids[body.Data.EventID][delivery] = true
	action := "ok"
	switch ep.kind {
	case hookGone:
		action = "gone"
	case hookFlaky:
		plan, seen := ep.plans[delivery]
		if !seen {
			plan = ep.planFailures()
		}
		if len(plan) > 0 {
			action, plan = plan[0], plan[1:]
		}
		ep.plans[delivery] = plan
	}
	if action != "ok" {
		ep.failures[action]++
	}
	h.mu.Unlock()

	switch action {
	case "ok":
		w.WriteHeader(http.StatusOK)
		h.mu.Lock()
		ep.ok[body.Data.EventID]++
		h.mu.Unlock()
	case "gone":
		w.WriteHeader(http.StatusGone)
	case "500":
		http.Error(w, "chaos: internal error", http.StatusInternalServerError)
	case "reset":
		resetConnection(w)
	case "slow":
		waited, cut := holdUntilCut(r.Context(), hookHold)
		h.mu.Lock()
		if cut {
			ep.longestCut = max(ep.longestCut, waited)
		} else {
			ep.outlived++
		}
		h.mu.Unlock()
		if !cut {
			http.Error(w, "chaos: too late", http.StatusServiceUnavailable)
		}
	}
}

// planFailures picks the failures a flaky endpoint gives a new delivery before it answers
// 200: none, one or two, each a 500 or a connection reset, or now and then (while the
// endpoint's budget lasts, and always for its first failure) an answer too slow to wait for.
// Two failures at most: the delivery's retries (after 1 s, 5 s, 25 s…) always get through.
func (ep *hookEndpoint) planFailures() []string {
	n := []int{0, 0, 1, 1, 2}[rand.IntN(5)]
	var plan []string
	for range n {
		mode := "500"
		switch {
		case ep.slowBudget > 0 && (ep.failures["slow"] == 0 || rand.IntN(8) == 0):
			mode = "slow"
			ep.slowBudget--
		case rand.IntN(2) == 0:
			mode = "reset"
		}
		plan = append(plan, mode)
	}
	return plan
}

// resetConnection drops the connection with a TCP reset instead of an answer.
func resetConnection(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		return
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		return
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

// holdUntilCut waits until the client hangs up (ctx ends) or limit passes, and says how
// long it waited and whether the client hung up.
func holdUntilCut(ctx context.Context, limit time.Duration) (time.Duration, bool) {
	start := time.Now()
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return time.Since(start), true
	case <-t.C:
		return limit, false
	}
}

// missing returns the events of want this endpoint has not answered 200 for.
func (ep *hookEndpoint) missing(h *hookReceiver, want []string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, id := range want {
		if ep.ok[id] == 0 {
			out = append(out, id)
		}
	}
	return out
}

// unstable returns the events whose attempts carried more than one delivery id.
func (ep *hookEndpoint) unstable(h *hookReceiver) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for ev, ids := range ep.ids {
		if len(ids) != 1 {
			var list []string
			for id := range ids {
				list = append(list, id)
			}
			out = append(out, ev+": "+strings.Join(list, ","))
		}
	}
	return out
}
