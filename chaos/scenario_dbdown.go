package main

import (
	"fmt"
	"net/http"
	"sync"
	"time"
)

// answerBound is how long any request may take while the database is down: the API's
// SENDOKA_DATABASE_TIMEOUT (4 s) and some slack. A request that takes longer hangs.
const answerBound = 6 * time.Second

// runDBOutage is scenario 4: Postgres stops (fast shutdown: connections cut) for a while
// under a steady load, then starts again; the server is not restarted. Requests must fail
// fast with 503 SERVICE_UNAVAILABLE in the error envelope (with Retry-After), never hang
// past a few seconds, never answer 500; nothing accepted may be lost; the workers must
// carry on by themselves.
func runDBOutage(e *env) error {
	n, stream := sized(e, 3000, 400), sized(e, 60*time.Second, 16*time.Second)
	outageAt, outage := sized(e, 15*time.Second, 4*time.Second), sized(e, 20*time.Second, 6*time.Second)
	st, err := startRelayStack(e, nil)
	if err != nil {
		return err
	}
	pg, rec, srv, db := st.pg, st.rec, st.srv, st.db

	var mu sync.Mutex
	var slowest time.Duration
	var slowestWhat string
	var badAnswers []string
	unavailable := 0
	ld := &load{n: n, clients: 32, client: newAPIClient(liveKey, 15*time.Second), rate: float64(n) / stream.Seconds(),
		url:  func(int, int) string { return srv.base },
		body: func(i int) any { return emailBody("4", i) },
		key:  func(i int) string { return fmt.Sprintf("chaos-4-%d", i) },
		observe: func(i int, a answer) {
			mu.Lock()
			defer mu.Unlock()
			if a.took > slowest {
				slowest, slowestWhat = a.took, fmt.Sprintf("send %d: %d %v", i, a.status, a.err)
			}
			switch {
			case a.err != nil:
				badAnswers = append(badAnswers, fmt.Sprintf("send %d: no answer after %s: %v", i, a.took.Round(time.Millisecond), a.err))
			case a.status == http.StatusServiceUnavailable:
				unavailable++
				code, ok := a.errorCode()
				if !ok || code != "SERVICE_UNAVAILABLE" || a.header.Get("Retry-After") == "" {
					badAnswers = append(badAnswers, fmt.Sprintf("send %d: 503 not in the envelope with Retry-After: %s", i, a.body))
				}
			case a.status != http.StatusOK:
				badAnswers = append(badAnswers, fmt.Sprintf("send %d: %d %s", i, a.status, a.body))
			}
		},
	}
	loaded := make(chan *loadResult, 1)
	go func() { loaded <- ld.run(e.ctx) }()

	if err := e.sleep(outageAt); err != nil {
		return err
	}
	before := rec.received()
	if err := pg.stop(e.ctx); err != nil {
		return err
	}
	down := time.Now()
	e.log.printf("postgres stopped; the relay has %d messages", before)
	// /readyz tells a load balancer within a second.
	ready := newAPIClient("", 5*time.Second)
	var readyz []string
	for time.Since(down) < outage {
		a := ready.do(e.ctx, http.MethodGet, srv.base+"/readyz", nil)
		if a.err != nil || a.status != http.StatusServiceUnavailable || a.took > 1500*time.Millisecond {
			readyz = append(readyz, fmt.Sprintf("%d after %s (%v)", a.status, a.took.Round(time.Millisecond), a.err))
		}
		if err := e.sleep(time.Second); err != nil {
			return err
		}
	}
	if err := pg.start(e.ctx); err != nil {
		return err
	}
	e.log.printf("postgres back after %s", time.Since(down).Round(time.Millisecond))
	res := <-loaded
	e.log.printf("load done: %s", res.summary())
	if err := db.waitSettled(e, sized(e, 3*time.Minute, 90*time.Second)); err != nil {
		e.r.fail("%v", err)
	}
	rows, err := db.messages(e.ctx)
	if err != nil {
		return err
	}
	tally(e.r, res.ids, rows, rec.counts())
	e.r.check(len(res.refused) == 0, "requests refused for good: %s", sample(res.refused))
	e.r.check(srv.runs == 1 && srv.running(), "the server had to be restarted")
	e.r.check(unavailable > 0, "no request met the outage")
	e.r.check(slowest <= answerBound, "a request took %s (%s): more than %s", slowest.Round(time.Millisecond), slowestWhat, answerBound)
	e.r.check(len(badAnswers) == 0, "%d answers that are not 200 or a prompt 503 in the envelope: %s", len(badAnswers), sample(badAnswers))
	e.r.check(len(readyz) == 0, "/readyz during the outage: %s", sample(readyz))
	e.r.note("%d sends over %s from 32 clients; Postgres stopped (pg_ctl stop -m fast) %s in, for %s; the server kept running", n, stream, outageAt, outage)
	e.r.note("answers: %s; the slowest request took %s (bound %s); /readyz answered 503 within 1.5 s throughout", res.summary(), slowest.Round(time.Millisecond), answerBound)
	e.r.note("every 503 was SERVICE_UNAVAILABLE in the error envelope with Retry-After; the workers resumed without a restart")
	return nil
}
