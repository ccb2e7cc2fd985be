package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// target is a running Sendoka and what the attack knows of it.
type target struct {
	base string // http://127.0.0.1:port
	addr string // 127.0.0.1:port
	// dsn is the server's database, read (never written) to see what a request changed.
	dsn string
	// live and test are admin keys the server was bootstrapped with.
	live, test string
	// The server's limits: the attack checks it keeps them.
	readHeaderTimeout, bodyReadTimeout, writeTimeout, idleTimeout time.Duration
	maxBody                                                       int

	slowOnce    sync.Once
	slowStarted chan struct{} // closed once a slow client holds a connection
}

func (t *target) startedSlow() { t.slowOnce.Do(func() { close(t.slowStarted) }) }

// options tune an attack.
type options struct {
	perRoute int    // requests per operation
	seed     uint64 // of the generator: the same seed makes the same requests
	big      bool   // send bodies of megabytes (over the body limit too)
	log      io.Writer
}

// violation is one broken promise.
type violation struct {
	route, attack, detail string
	request, answer       string // excerpts, to reproduce it
}

// routeStats is a row of the summary.
type routeStats struct {
	route      string
	requests   int
	statuses   map[int]int
	violations []violation
	slowest    time.Duration
}

// report is the outcome of an attack.
type report struct {
	routes   []*routeStats
	problems []string // fixtures that could not be made
	requests int
	wrote    int // accepted requests after which the database had changed: the watch sees writes
	took     time.Duration
}

// violations counts them all.
func (r *report) violations() int {
	n := 0
	for _, rs := range r.routes {
		n += len(rs.violations)
	}
	return n
}

// run attacks t: every operation of its OpenAPI document, then the server itself.
func run(ctx context.Context, t *target, o options) (*report, error) {
	start := time.Now()
	if t.slowStarted == nil {
		t.slowStarted = make(chan struct{})
	}
	client := &http.Client{Timeout: 30 * time.Second}
	sp, err := loadSpec(client, t.base)
	if err != nil {
		return nil, err
	}
	logf := func(format string, args ...any) {
		if o.log != nil {
			fmt.Fprintf(o.log, format+"\n", args...)
		}
	}
	now := time.Now()
	f := makeFixtures(&apiClient{base: t.base, http: client}, t.live, t.test, now)
	rep := &report{problems: f.problems}
	w, err := newWatch(ctx, t.dsn)
	if err != nil {
		return nil, err
	}
	defer w.Close()

	j := &judge{sp: sp, hang: t.writeTimeout + 5*time.Second}
	g := &generator{sp: sp, f: f, rng: rand.New(rand.NewPCG(o.seed, 0x5e4d0ca)), now: now, maxBody: t.maxBody, big: o.big}
	// Racing clients first, while every fixture is there: the same thing created, or the
	// same key sent, by several at once.
	tag := raceTag()
	for _, r := range races(f, tag) {
		statuses, v := runRace(t, j, r)
		rs := &routeStats{route: "(race) " + r.name, statuses: statuses, requests: racers}
		rep.routes = append(rep.routes, rs)
		rep.requests += racers
		for _, d := range v {
			rs.violations = append(rs.violations, violation{route: rs.route, attack: "racing clients", detail: d})
		}
	}
	if _, err := w.changed(ctx); err != nil { // what the races made is the new baseline
		return nil, err
	}

	for _, op := range sp.ops {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		rs := &routeStats{route: op.Method + " " + op.Path, statuses: map[int]int{}}
		rep.routes = append(rep.routes, rs)
		for _, r := range g.plan(op, o.perRoute) {
			res := send(t.addr, r, j.hang)
			rs.requests++
			rep.requests++
			rs.statuses[res.status]++
			rs.slowest = max(rs.slowest, res.took)
			details := j.check(r, res)
			// A refused request must leave the database as it was; anything else resets
			// the baseline for the next one.
			changed, err := w.changed(ctx)
			if err != nil {
				return nil, err
			}
			if res.err == nil && res.status >= 400 && len(changed) > 0 {
				details = append(details, fmt.Sprintf("refused with %d, yet wrote to %s", res.status, strings.Join(changed, ", ")))
			} else if len(changed) > 0 {
				rep.wrote++
			}
			for _, d := range details {
				rs.violations = append(rs.violations, violation{route: rs.route, attack: r.attack, detail: d,
					request: excerptRequest(r), answer: excerptAnswer(res)})
			}
		}
		logf("%-60s %4d requests %s", rs.route, rs.requests, statusList(rs.statuses))
	}

	// The server itself: slow and oversized clients, all at once.
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, p := range probes(t) {
		rs := &routeStats{route: "(server) " + p.name, statuses: map[int]int{}, requests: 1}
		rep.routes = append(rep.routes, rs)
		rep.requests++
		wg.Go(func() {
			began := time.Now()
			v := p.run(t)
			mu.Lock()
			defer mu.Unlock()
			rs.slowest = time.Since(began)
			for _, d := range v {
				rs.violations = append(rs.violations, violation{route: rs.route, attack: p.name, detail: d})
			}
		})
	}
	wg.Wait()
	if changed, err := w.changed(ctx); err != nil {
		return nil, err
	} else if len(changed) > 0 {
		rs := rep.routes[len(rep.routes)-1]
		rs.violations = append(rs.violations, violation{route: rs.route, detail: "the slow clients, all refused, wrote to " + strings.Join(changed, ", ")})
	}
	rep.took = time.Since(start)
	return rep, nil
}

func excerptRequest(r *request) string {
	if r.raw != nil {
		return strconv.Quote(clip(string(r.raw), 200))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", clip(r.method, 20), clip(r.target, 120))
	for _, h := range r.header {
		v := h.value
		if strings.EqualFold(h.name, "Authorization") && len(v) > 20 {
			v = v[:20] + "…"
		}
		fmt.Fprintf(&b, " | %s: %s", clip(h.name, 30), strconv.Quote(clip(v, 60)))
	}
	if len(r.body) > 0 {
		fmt.Fprintf(&b, " | body (%d bytes) %s", len(r.body), strconv.Quote(clip(string(r.body), 160)))
	}
	return b.String()
}

func excerptAnswer(res *result) string {
	if res.err != nil {
		return "no answer: " + res.err.Error()
	}
	return fmt.Sprintf("%d %s", res.status, strconv.Quote(clip(string(res.body), 200)))
}

func statusList(m map[int]int) string {
	codes := make([]int, 0, len(m))
	for c := range m {
		codes = append(codes, c)
	}
	sort.Ints(codes)
	parts := make([]string, 0, len(codes))
	for _, c := range codes {
		name := strconv.Itoa(c)
		if c == 0 {
			name = "none"
		}
		parts = append(parts, fmt.Sprintf("%s×%d", name, m[c]))
	}
	return strings.Join(parts, " ")
}

// print writes the summary table, then the violations (at most perRoute of each route
// unless all).
func (r *report) print(w io.Writer, all bool) {
	width := 0
	for _, rs := range r.routes {
		width = max(width, len(rs.route))
	}
	fmt.Fprintf(w, "%-*s  %5s  %-10s  %7s  %s\n", width, "ROUTE", "REQS", "VIOLATIONS", "SLOWEST", "STATUSES")
	for _, rs := range r.routes {
		fmt.Fprintf(w, "%-*s  %5d  %-10d  %7s  %s\n", width, rs.route, rs.requests, len(rs.violations),
			rs.slowest.Round(time.Millisecond*10), statusList(rs.statuses))
	}
	for _, p := range r.problems {
		fmt.Fprintf(w, "\nwarning: fixture not made: %s", p)
	}
	if len(r.problems) > 0 {
		fmt.Fprintln(w)
	}
	n := r.violations()
	if n > 0 {
		fmt.Fprintf(w, "\nVIOLATIONS\n")
		for _, rs := range r.routes {
			for i, v := range rs.violations {
				if i == 3 && !all {
					fmt.Fprintf(w, "  … %d more on %s (-v shows all)\n", len(rs.violations)-3, rs.route)
					break
				}
				fmt.Fprintf(w, "- %s [%s]: %s\n", v.route, v.attack, v.detail)
				if v.request != "" {
					fmt.Fprintf(w, "    request: %s\n    answer:  %s\n", v.request, v.answer)
				}
			}
		}
	}
	fmt.Fprintf(w, "\n%d requests to %d routes in %s: %d violations (%d accepted requests wrote to the database)\n",
		r.requests, len(r.routes), r.took.Round(time.Millisecond), n, r.wrote)
}
