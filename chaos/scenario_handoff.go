package main

import (
	"fmt"
	"sort"
	"sync"
	"time"
)

// runHandoff is scenario 2: the relay holds its reply to the final "." for a while, and the
// server is killed while it holds some: those messages are with the relay, and the job
// that handed them over never completed. None may reach the relay twice; each of them must
// end with the unknown outcome (the server cannot know the relay took it), the rest sent.
func runHandoff(e *env) error {
	n, kills := sized(e, 60, 24), sized(e, 3, 2)
	delay := sized(e, 2*time.Second, time.Second)
	st, err := startRelayStack(e, func(string) time.Duration { return delay })
	if err != nil {
		return err
	}
	rec, srv, db := st.rec, st.srv, st.db
	ld := &load{n: n, clients: 8, client: newAPIClient(liveKey, 5*time.Second),
		url:  func(int, int) string { return srv.base },
		body: func(i int) any { return emailBody("2", i) },
		key:  func(i int) string { return fmt.Sprintf("chaos-2-%d", i) },
	}
	var res *loadResult
	var wg sync.WaitGroup
	wg.Go(func() { res = ld.run(e.ctx) })

	// Kill whenever the relay holds a reply on every connection (or on some, after a
	// while): those messages are between the hand-off and the job's completion.
	heldAtKill := map[string]bool{}
	for k := range kills {
		waitStart := time.Now()
		var held []string
		for {
			// The relay keeps holding the replies of a killed process's connections:
			// only messages the new process handed over count.
			held = held[:0]
			for _, id := range rec.held() {
				if !heldAtKill[id] {
					held = append(held, id)
				}
			}
			if len(held) >= relayConns || len(held) > 0 && time.Since(waitStart) > 5*time.Second {
				break
			}
			if time.Since(waitStart) > time.Minute {
				return fmt.Errorf("kill %d: the relay held no reply for a minute (it has %d messages)", k+1, rec.received())
			}
			if err := e.sleep(20 * time.Millisecond); err != nil {
				return err
			}
		}
		srv.kill()
		for _, id := range held {
			heldAtKill[id] = true
		}
		e.log.printf("kill -9 #%d while the relay held %d replies; it has %d messages", k+1, len(held), rec.received())
		if err := srv.start(e.ctx); err != nil {
			return err
		}
	}
	wg.Wait()
	e.r.check(len(res.refused) == 0, "requests refused for good: %s", sample(res.refused))
	if err := db.waitSettled(e, sized(e, 3*time.Minute, 90*time.Second)); err != nil {
		e.r.fail("%v", err)
	}
	rows, err := db.messages(e.ctx)
	if err != nil {
		return err
	}
	tally(e.r, res.ids, rows, rec.counts())
	var notUnknown []string
	for _, m := range rows {
		if heldAtKill[m.ID] && m.Outcome != "unknown" {
			notUnknown = append(notUnknown, m.ID+" "+m.Status)
		}
	}
	e.r.check(len(notUnknown) == 0, "messages the relay held at a kill not reported unknown: %s", sample(notUnknown))
	e.r.check(len(heldAtKill) > 0, "no kill caught a message mid-hand-off")
	e.r.check(e.r.Unknown <= kills*relayConns, "%d unknown outcomes: more than the %d messages %d kills can catch mid-hand-off", e.r.Unknown, kills*relayConns, kills)
	held := make([]string, 0, len(heldAtKill))
	for id := range heldAtKill {
		held = append(held, id)
	}
	sort.Strings(held)
	e.r.note("%d sends; the relay answers each final \".\" %s late, %d connections; %d kills (SIGKILL), each while the relay held replies", n, delay, relayConns, kills)
	e.r.note("%d messages were with the relay, unanswered, at a kill: each reached it once and is reported sent with outcome unknown; none was sent again", len(held))
	return nil
}
