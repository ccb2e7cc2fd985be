package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// row is one line of the report: a load, on server processes of its own over a database of
// its own, so its peak RSS is its own.
type row struct {
	ID, Name string
	// Backends are the backends the row runs on; nil is every one.
	Backends []string
	// Targets are the row's targets on a backend (the memory target is added to every row).
	Targets func(backend string) []target
	// Relative sets the row against earlier rows of the same backend and run; -only runs
	// those rows too.
	Relative []relative
	Run      func(ctx context.Context, rc *rowContext) (*result, error)
}

// runsOn reports whether the row runs on backend b.
func (r row) runsOn(b string) bool { return r.Backends == nil || slices.Contains(r.Backends, b) }

// rowContext is what a row runs with.
type rowContext struct {
	o     options
	b     *backend
	db    *database
	prior map[string]*result // this backend's earlier rows of the run, by id
}

// The targets: the benchmark issue's figures are Postgres targets (its single-send row is
// set against pgbench); SQLite rows keep the SQLite targets of earlier issues; a target
// relative to another row of the same run (Relative) holds on every backend.
func rows() []row {
	return []row{
		{
			ID: "api", Name: "single send, API role",
			Targets: func(b string) []target {
				if b == postgresBackend {
					return []target{minReqPerSec(5000), minRatio(0.25), maxRequestP99(25 * time.Millisecond)}
				}
				return nil
			},
			Run: func(ctx context.Context, rc *rowContext) (*result, error) {
				return closedLoop(ctx, rc, roleAPI, singleEmail("bench-api", rc.o.from), rc.o.duration, false)
			},
		},
		{
			// The cost of the burst limiter, quotas and warmup: the API row again, with them off.
			ID: "api-nolimits", Name: "single send, API role, limits off (SENDOKA_LIMITS=off)",
			Relative: []relative{{To: "api"}},
			Run: func(ctx context.Context, rc *rowContext) (*result, error) {
				return closedLoop(ctx, rc, roleAPI, singleEmail("bench-api-nolimits", rc.o.from), rc.o.duration, false, "SENDOKA_LIMITS=off")
			},
		},
		{
			// The cost of idempotency keys: the API row again, every request with a key of its own.
			ID: "api-idem", Name: "single send, API role, a unique Idempotency-Key per request",
			Relative: []relative{{To: "api"}},
			Run: func(ctx context.Context, rc *rowContext) (*result, error) {
				sc := singleEmail("bench-api-idem", rc.o.from)
				sc.IdempotencyKeys = true
				return closedLoop(ctx, rc, roleAPI, sc, rc.o.duration, false)
			},
		},
		{
			// Every feature at once, on the API row's process role (prod.go).
			ID: "prod", Name: "single send, API role, production-shaped: every feature on at once (see its notes)",
			Relative: []relative{{To: "api", Want: 0.7}},
			Run:      prodRow,
		},
		{
			// Scale-out of the API role: two processes on one database, the clients split.
			ID: "api2", Name: "single send, two API-role processes on one database, clients split between them",
			Backends: []string{postgresBackend},
			Relative: []relative{{To: "api", Want: 1, Above: true}},
			Run: func(ctx context.Context, rc *rowContext) (*result, error) {
				return closedLoopN(ctx, rc, 2, roleAPI, singleEmail("bench-api2", rc.o.from), rc.o.duration, false)
			},
		},
		{
			ID: "serve", Name: "single send, one serve process, sustained",
			Targets: func(b string) []target {
				if b == postgresBackend {
					return []target{minReqPerSec(2000), maxBacklogSeconds(1)}
				}
				return []target{minReqPerSec(1500)}
			},
			Run: func(ctx context.Context, rc *rowContext) (*result, error) {
				return closedLoop(ctx, rc, roleServe, singleEmail("bench-serve", rc.o.from), rc.o.sustain, true)
			},
		},
		{
			// The scale-out row: two serve processes (API and workers each) on one
			// Postgres, sustained like the serve row, the clients split between them.
			ID: "serve2", Name: "single send, two serve processes on one database, clients split between them, sustained",
			Backends: []string{postgresBackend},
			Relative: []relative{{To: "serve", Want: 1, Above: true}},
			Run: func(ctx context.Context, rc *rowContext) (*result, error) {
				return closedLoopN(ctx, rc, 2, roleServe, singleEmail("bench-serve2", rc.o.from), rc.o.sustain, true)
			},
		},
		{
			ID: "latency", Name: "accept→provider at half the sustained load (open loop)",
			Targets: func(b string) []target {
				if b == postgresBackend {
					return []target{maxDelay("accept→provider p50", 0.5, 50*time.Millisecond), maxDelay("accept→provider p99", 0.99, 250*time.Millisecond)}
				}
				return nil
			},
			Run: halfLoad,
		},
		{
			ID: "delivery", Name: "delivery of a backlog, workers only, zero-latency provider",
			Targets: func(b string) []target {
				if b == postgresBackend {
					return []target{minMsgPerSec(5000)}
				}
				return []target{minMsgPerSec(1500)}
			},
			Run: func(ctx context.Context, rc *rowContext) (*result, error) { return backlogRow(ctx, rc, 0) },
		},
		{
			ID: "delivery-slow", Name: "delivery of a backlog, workers only, provider latency",
			Targets: func(b string) []target {
				if b == postgresBackend {
					return []target{minMsgPerSec(1000)}
				}
				return nil
			},
			Run: func(ctx context.Context, rc *rowContext) (*result, error) {
				return backlogRow(ctx, rc, rc.o.providerLatency)
			},
		},
		batchRow("batch-items", batchScenarios()[0]), // batch.go
		batchRow("batch-bulk", batchScenarios()[1]),
		legacy("large", emailScenarios()[0]), // email.go
		{
			ID: "scheduled", Name: "scheduled sends, 1,000 due at the same second: lateness",
			Targets: func(string) []target {
				return []target{maxDelay("lateness max", 1, time.Minute)} // the documented promise
			},
			Run: scheduledRow,
		},
		{
			ID: "audience", Name: "audience send: 10,000 contacts, call latency and time until all reach the sandbox",
			Targets: func(b string) []target {
				all := 15 * time.Second
				if b == "postgres" {
					all = 5 * time.Second
				}
				return []target{maxRequestP99(time.Second), maxElapsed("all handed to the sandbox", all),
					maxDelay("transactional accept→provider p99 during the fan-out", 0.99, 500*time.Millisecond)}
			},
			Run: audienceRow, // audience.go
		},
		{
			ID: "webhooks", Name: "signed webhook deliveries to a local receiver (insecure mode, loopback)",
			Targets: func(string) []target { return []target{minMsgPerSec(2000)} },
			Run:     webhookRow, // webhooks.go
		},
		{
			ID: "inbound", Name: "inbound messages parsed and stored through the SMTP listener (replies and DSNs, loopback)",
			Run: inboundRow, // inbound.go
		},
	}
}

// legacy is a closed-loop row of the earlier reports: sc on one serve process, with every
// message's accept→provider read back once the queue drains.
func legacy(id string, sc scenario) row {
	return row{ID: id, Name: sc.Name, Run: func(ctx context.Context, rc *rowContext) (*result, error) {
		return closedLoop(ctx, rc, roleServe, sc, rc.o.duration, false)
	}}
}

// batchRow is a closed-loop row of batch calls on the API role, like the api row it is
// set against: the issue wants a batch's messages/s at least 10 times single sends'.
func batchRow(id string, sc scenario) row {
	return row{ID: id, Name: sc.Name, Relative: []relative{{To: "api", Want: 10}},
		Run: func(ctx context.Context, rc *rowContext) (*result, error) {
			return closedLoop(ctx, rc, roleAPI, sc, rc.o.duration, false)
		}}
}

// closedLoop drives sc with the bench's clients for d against a server in role. With
// sustained, it counts the backlog the moment the load stops and waits for it to drain;
// otherwise (roles with workers) it reads every message's accept→provider back.
func closedLoop(ctx context.Context, rc *rowContext, role string, sc scenario, d time.Duration, sustained bool, env ...string) (*result, error) {
	return closedLoopN(ctx, rc, 1, role, sc, d, sustained, env...)
}

// closedLoopN is closedLoop against n processes in role on the row's database, started one
// after the other (the first migrates it), with the clients split evenly between them. Its
// peak RSS is the largest process's.
func closedLoopN(ctx context.Context, rc *rowContext, n int, role string, sc scenario, d time.Duration, sustained bool, env ...string) (*result, error) {
	var ps []*process
	defer func() {
		for _, p := range ps {
			p.stop()
		}
	}()
	var bases []string
	for range n {
		p, err := start(ctx, rc.o, rc.db, role, env...)
		if err != nil {
			return nil, err
		}
		ps = append(ps, p)
		bases = append(bases, p.base)
	}
	hc := newClient(rc.o)
	res, err := drive(ctx, hc, bases, sc, rc.o.clients, d)
	if err != nil {
		return nil, err
	}
	switch {
	case sustained:
		if res.Backlog, err = rc.db.count(ctx, "queued"); err != nil {
			return nil, err
		}
		res.BacklogKnown = true
		if drain, err := rc.db.waitDrained(ctx, 5*time.Minute); err != nil {
			res.Notes = append(res.Notes, "backlog did not drain: "+err.Error())
		} else {
			res.Notes = append(res.Notes, fmt.Sprintf("the %d messages left queued drained %.1f s after the load stopped", res.Backlog, drain.Seconds()))
		}
	case role != roleAPI:
		if err := acceptToProvider(ctx, hc, bases[0], sc, res); err != nil {
			res.Notes = append(res.Notes, "accept→provider not measured: "+err.Error())
		}
	}
	res.Role = role
	var each []string
	for _, p := range ps {
		if err := p.alive(); err != nil {
			return nil, err
		}
		res.RSS = max(res.RSS, p.peakRSS())
		each = append(each, mb(p.peakRSS()))
	}
	if n > 1 {
		res.Role = fmt.Sprintf("%d × %s", n, role)
		res.Notes = append(res.Notes, fmt.Sprintf("%d clients split evenly between %d processes; peak RSS of each: %s (the table shows the largest)",
			rc.o.clients, n, strings.Join(each, ", ")))
	}
	return res, nil
}

// halfLoad paces single sends at half what the sustained row measured, on one serve
// process, and reads every message's accept→provider back.
func halfLoad(ctx context.Context, rc *rowContext) (*result, error) {
	rate, from := rc.o.latencyRate, "-latency-rate"
	if rate <= 0 {
		if s := rc.prior["serve"]; s != nil && s.ReqPerSec() > 0 {
			rate, from = s.ReqPerSec()/2, "half the sustained row"
		} else {
			rate, from = 500, "the fallback (the sustained row did not run)"
		}
	}
	p, err := start(ctx, rc.o, rc.db, roleServe)
	if err != nil {
		return nil, err
	}
	defer p.stop()
	hc := openClient()
	sc := singleEmail("bench-paced", rc.o.from)
	res, err := paced(ctx, hc, p.base, sc, rate, rc.o.latencyDuration)
	if err != nil {
		return nil, err
	}
	res.Paced = true
	res.Notes = append(res.Notes, fmt.Sprintf("offered %.0f req/s (%s) for %s; request latencies count from when each request was due", rate, from, rc.o.latencyDuration))
	if err := acceptToProvider(ctx, hc, p.base, sc, res); err != nil {
		res.Notes = append(res.Notes, "accept→provider not measured: "+err.Error())
	}
	if err := p.alive(); err != nil {
		return nil, err
	}
	res.Role, res.RSS = roleServe, p.peakRSS()
	return res, nil
}

// backlogRow queues the backend's backlog through the API role, stops it, and measures the
// workers-only role delivering it, the provider taking latency per hand-off.
func backlogRow(ctx context.Context, rc *rowContext, latency time.Duration) (*result, error) {
	n := rc.o.backlogSQLite
	if rc.b.name == postgresBackend {
		n = rc.o.backlogPostgres
	}
	var env []string
	if latency > 0 {
		env = append(env, "SENDOKA_SANDBOX_LATENCY="+latency.String(), fmt.Sprintf("SENDOKA_WORKERS=%d", rc.o.slowWorkers))
	}
	api, err := start(ctx, rc.o, rc.db, roleAPI)
	if err != nil {
		return nil, err
	}
	took, err := prefill(ctx, newClient(rc.o), api.base, n)
	apiRSS := api.peakRSS()
	api.stop()
	if err != nil {
		return nil, fmt.Errorf("prefill: %w", err)
	}
	queued, err := rc.db.count(ctx, "queued")
	if err != nil {
		return nil, err
	}
	res := &result{Role: roleWorker}
	if latency > 0 {
		res.Name = fmt.Sprintf("delivery of a backlog, workers only, provider latency %s (%d workers)", latency, rc.o.slowWorkers)
	}
	res.Notes = append(res.Notes, fmt.Sprintf("backlog of %s queued by `%s` through the batch endpoint in %.1f s (%s msg/s, peak RSS %s)",
		thousands(float64(queued)), roleAPI, took.Seconds(), thousands(float64(n)/took.Seconds()), mb(apiRSS)))
	if err := deliver(ctx, rc.o, rc.db, res, queued, env...); err != nil {
		return nil, err
	}
	return res, nil
}

// scheduledRow schedules 1,000 emails for the same second and measures how late each
// reaches the provider (batch.go).
func scheduledRow(ctx context.Context, rc *rowContext) (*result, error) {
	p, err := start(ctx, rc.o, rc.db, roleServe)
	if err != nil {
		return nil, err
	}
	defer p.stop()
	l, err := scheduledLateness(ctx, newClient(rc.o), p.base, 1000)
	if err != nil {
		return nil, err
	}
	res := &result{Role: roleServe, Delay: l.Late, Pending: l.Messages - len(l.Late), RSS: p.peakRSS()}
	res.Notes = append(res.Notes, fmt.Sprintf("%d emails scheduled 5 s ahead, %d sent; delay columns are sent_at − scheduled_at, max %s; the documented promise is within 60 s",
		l.Messages, len(l.Late), ms(pct(l.Late, 1))))
	return res, nil
}
