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

// runTwoServers is scenario 6: two serve processes, API and workers, on one Postgres. A load
// spread over both must deliver every message once; then the org's monthly quota and the
// key's burst limit, lowered through the API, must hold across both servers together:
// exactly the quota's worth accepted, and no more than the burst allows.
func runTwoServers(e *env) error {
	n, quota, burst := sized(e, 3000, 600), sized(e, 300, 100), int64(sized(e, 240, 120))
	pg, err := startCluster(e.ctx, e.dir, e.cl)
	if err != nil {
		return err
	}
	rec, err := startSMTPRecorder(e, nil)
	if err != nil {
		return err
	}
	var servers []*server
	for _, name := range []string{"serve-a", "serve-b"} {
		s, err := newServer(e, name, append(rec.env(), "SENDOKA_DATABASE_URL="+pg.url(), "SENDOKA_SMTP_MAX_CONNS="+itoa(relayConns))...)
		if err != nil {
			return err
		}
		if err := s.start(e.ctx); err != nil {
			return err
		}
		servers = append(servers, s)
	}
	db, err := openPostgres(e, pg.url())
	if err != nil {
		return err
	}
	api := newAPIClient(liveKey, 10*time.Second)
	// The quota leaves room for the load and then `quota` more.
	if err := setLimits(e, api, servers[0], map[string]any{"monthly_emails": n + quota}); err != nil {
		return err
	}

	// 1. The load, each send (and each of its retries) to either server.
	ld := &load{n: n, clients: 32, client: api,
		url:  func(i, try int) string { return servers[(i+try)%2].base },
		body: func(i int) any { return emailBody("6", i) },
		key:  func(i int) string { return fmt.Sprintf("chaos-6-%d", i) },
	}
	res := ld.run(e.ctx)
	e.r.check(len(res.refused) == 0, "requests refused for good: %s", sample(res.refused))
	e.log.printf("load: %d accepted in %s", res.accepted(), res.took.Round(time.Millisecond))
	accepted := append([]string{}, res.ids...)

	// 2. The quota: twice what is left, from both servers at once.
	q := blast(e.ctx, api, 2*quota, 32, servers, func(i int) any { return emailBody("6q", i) })
	accepted = append(accepted, q.ids...)
	e.log.printf("quota: %v", q.byStatus)
	e.r.check(q.byStatus["200"] == quota, "the quota left room for %d sends; %d were accepted (%v)", quota, q.byStatus["200"], q.byStatus)
	e.r.check(q.byStatus["200"]+q.byStatus["429 USAGE_LIMIT_EXCEEDED"] == 2*quota, "quota answers other than 200 and 429 USAGE_LIMIT_EXCEEDED: %v", q.byStatus)

	// 3. The burst limit, quota lifted: four times the burst, as fast as both servers take it.
	if err := setLimits(e, api, servers[0], map[string]any{"monthly_emails": nil, "burst_per_minute": burst}); err != nil {
		return err
	}
	b := blast(e.ctx, api, 4*int(burst), 32, servers, func(i int) any { return emailBody("6b", i) })
	accepted = append(accepted, b.ids...)
	// GCRA: a minute's worth at once, then one every minute/burst.
	allowed := burst + int64(b.took.Seconds()*float64(burst)/60) + 1
	got := int64(b.byStatus["200"])
	e.log.printf("burst: %v in %s", b.byStatus, b.took.Round(time.Millisecond))
	e.r.check(got <= allowed, "burst limit %d/min: %d accepted in %s across both servers (at most %d allowed)", burst, got, b.took.Round(time.Millisecond), allowed)
	e.r.check(got >= burst*9/10, "burst limit %d/min: only %d accepted in %s", burst, got, b.took.Round(time.Millisecond))
	e.r.check(got+int64(b.byStatus["429 RATE_LIMITED"]) == int64(4*burst), "burst answers other than 200 and 429 RATE_LIMITED: %v", b.byStatus)

	if err := db.waitSettled(e, sized(e, 3*time.Minute, 90*time.Second)); err != nil {
		e.r.fail("%v", err)
	}
	rows, err := db.messages(e.ctx)
	if err != nil {
		return err
	}
	tally(e.r, accepted, rows, rec.counts())
	perServer := map[string]int{}
	for _, m := range rows {
		perServer[m.Provider]++
	}
	e.r.note("two serve processes (API and workers, %d relay connections each) on one Postgres; %d idempotent sends spread over both (%s)", relayConns, n, res.summary())
	e.r.note("monthly quota set to leave room for %d more: %d sends from both servers at once, %d accepted exactly (%v)", quota, 2*quota, q.byStatus["200"], q.byStatus)
	e.r.note("burst limit set to %d/min: %d sends from both servers in %s, %d accepted (bound %d: the minute's worth plus what the elapsed time earns back)", burst, 4*burst, b.took.Round(time.Millisecond), got, allowed)
	return nil
}

// setLimits changes the org's own limits and waits for both servers to apply them (each
// does within a second).
func setLimits(e *env, api *apiClient, s *server, limits map[string]any) error {
	if err := api.sendJSON(e.ctx, http.MethodPatch, s.base+"/api/v1/org", map[string]any{"limits": limits}, nil); err != nil {
		return err
	}
	return e.sleep(1500 * time.Millisecond)
}

// blastResult is what blast saw.
type blastResult struct {
	ids      []string
	byStatus map[string]int
	took     time.Duration
}

// blast sends n emails once each (no retry: a refusal is the point), from clients
// concurrent clients, to the servers in turn.
func blast(ctx context.Context, api *apiClient, n, clients int, servers []*server, body func(i int) any) *blastResult {
	res := &blastResult{ids: make([]string, n), byStatus: map[string]int{}}
	var mu sync.Mutex
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range clients {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				a := api.do(ctx, http.MethodPost, servers[i%len(servers)].base+"/api/v1/emails", body(i))
				kind := "no answer"
				if a.err == nil {
					kind = fmt.Sprint(a.status)
					if code, _ := a.errorCode(); code != "" {
						kind += " " + code
					}
				}
				if a.status == http.StatusOK {
					var v struct{ ID string }
					_ = json.Unmarshal(a.body, &v)
					res.ids[i] = v.ID
				}
				mu.Lock()
				res.byStatus[kind]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	res.took = time.Since(start)
	return res
}
