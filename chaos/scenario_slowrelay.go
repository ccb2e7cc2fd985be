package main

import (
	"fmt"
	"sync"
	"time"
)

// runSlowRelay is scenario 3: a relay that answers every final "." 3 s late while a
// backlog drains through its connections, and a few messages 11 minutes late, past the
// 10 minutes RFC 5321 gives (SENDOKA_SMTP_FINAL_REPLY_TIMEOUT). Every message must arrive
// once: the slow ones end as unknown outcomes and are never resent, the others are sent on
// their first attempt (waiting for a connection costs nothing).
//
// The short form scales the times down, keeping their order: replies 1 s late, the slow
// ones 8 s late against a final-reply timeout of 4 s.
func runSlowRelay(e *env) error {
	n := sized(e, 200, 60)
	normal := sized(e, 3*time.Second, time.Second)
	slow := sized(e, 11*time.Minute, 8*time.Second)
	finalReply := sized(e, 10*time.Minute, 4*time.Second)
	slowAt := sized(e, []int{10, 20, 30}, []int{10, 20}) // the 10th, 20th… message received
	pg, err := startCluster(e.ctx, e.dir, e.cl)
	if err != nil {
		return err
	}
	var mu sync.Mutex
	seen := 0
	slowIDs := map[string]bool{}
	rec, err := startSMTPRecorder(e, func(id string) time.Duration {
		mu.Lock()
		defer mu.Unlock()
		seen++
		for _, k := range slowAt {
			if seen == k {
				slowIDs[id] = true
			}
		}
		if slowIDs[id] {
			return slow
		}
		return normal
	})
	if err != nil {
		return err
	}
	srv, err := newServer(e, "serve", append(rec.env(), "SENDOKA_DATABASE_URL="+pg.url(),
		"SENDOKA_SMTP_MAX_CONNS="+itoa(relayConns), "SENDOKA_SMTP_FINAL_REPLY_TIMEOUT="+finalReply.String())...)
	if err != nil {
		return err
	}
	if err := srv.start(e.ctx); err != nil {
		return err
	}
	db, err := openPostgres(e, pg.url())
	if err != nil {
		return err
	}
	ld := &load{n: n, clients: 16, client: newAPIClient(liveKey, 5*time.Second),
		url:  func(int, int) string { return srv.base },
		body: func(i int) any { return emailBody("3", i) },
		key:  func(i int) string { return fmt.Sprintf("chaos-3-%d", i) },
	}
	res := ld.run(e.ctx)
	e.r.check(len(res.refused) == 0, "requests refused for good: %s", sample(res.refused))
	e.log.printf("%d accepted in %s; draining through %d connections", res.accepted(), res.took.Round(time.Millisecond), relayConns)
	// The backlog drains at relayConns per normal delay, the slow ones hold a connection
	// each until the timeout.
	limit := time.Duration(n/relayConns+10)*normal + finalReply + 2*time.Minute
	if err := db.waitSettled(e, limit); err != nil {
		e.r.fail("%v", err)
	}
	rows, err := db.messages(e.ctx)
	if err != nil {
		return err
	}
	tally(e.r, res.ids, rows, rec.counts())
	var slowNotUnknown, retried []string
	for _, m := range rows {
		switch {
		case slowIDs[m.ID] && m.Outcome != "unknown":
			slowNotUnknown = append(slowNotUnknown, m.ID+" "+m.Status+" "+m.Outcome)
		case !slowIDs[m.ID] && (m.Outcome != "" || m.Attempts != 1):
			retried = append(retried, fmt.Sprintf("%s %s outcome=%q attempts=%d", m.ID, m.Status, m.Outcome, m.Attempts))
		}
	}
	e.r.check(len(slowIDs) == len(slowAt), "%d slow replies planned, %d given", len(slowAt), len(slowIDs))
	e.r.check(len(slowNotUnknown) == 0, "slow messages not reported unknown: %s", sample(slowNotUnknown))
	e.r.check(len(retried) == 0, "messages answered in time but not sent on their first attempt: %s", sample(retried))
	e.r.note("%d sends drained through %d relay connections; the relay answers each final \".\" %s late, and %d of them %s late, against SENDOKA_SMTP_FINAL_REPLY_TIMEOUT=%s", n, relayConns, normal, len(slowAt), slow, finalReply)
	if e.short {
		e.r.note("short form: times scaled down (3 s → 1 s, 11 min → 8 s, the 10 min timeout → 4 s), their order kept")
	}
	e.r.note("the %d slow messages reached the relay once each and are reported sent with outcome unknown; every other message was sent on its first attempt", len(slowIDs))
	return nil
}
