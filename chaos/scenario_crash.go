package main

import (
	"fmt"
	"sync"
	"time"
)

// relayConns is the servers' SENDOKA_SMTP_MAX_CONNS: at most this many messages are
// mid-hand-off in one process, so at most this many per kill can end unknown.
const relayConns = 4

// runCrash is scenario 1: sends with idempotency keys from 50 clients that retry on errors
// and timeouts, while the server is killed with SIGKILL at random moments and started
// again. Every key that got a 200 must name one message, received once; none lost.
func runCrash(e *env) error {
	n, kills := sized(e, 2000, 500), 5
	up := sized(e, [2]time.Duration{time.Second, 4 * time.Second}, [2]time.Duration{500 * time.Millisecond, 2 * time.Second})
	st, err := startRelayStack(e, nil)
	if err != nil {
		return err
	}
	rec, srv, db := st.rec, st.srv, st.db

	ld := &load{n: n, clients: 50, client: newAPIClient(liveKey, 5*time.Second),
		url:  func(int, int) string { return srv.base },
		body: func(i int) any { return emailBody("1", i) },
		key:  func(i int) string { return fmt.Sprintf("chaos-1-%d", i) },
		// Paced to last about as long as the kills do (a restart takes about a second), so
		// most kills land in the stream of sends, the rest in the deliveries after it.
		rate: float64(n) / (float64(kills) * ((up[0]+up[1]).Seconds()/2 + 1)),
	}
	var res *loadResult
	var wg sync.WaitGroup
	wg.Go(func() { res = ld.run(e.ctx) })
	var killErr error
	var killedAt []string
	for k := range kills {
		if err := e.sleep(randomDuration(up[0], up[1])); err != nil {
			return err
		}
		srv.kill()
		killedAt = append(killedAt, fmt.Sprintf("%.1fs (relay had %d)", time.Since(e.log.start).Seconds(), rec.received()))
		e.log.printf("kill -9 #%d; the relay has %d messages", k+1, rec.received())
		if killErr = srv.start(e.ctx); killErr != nil {
			break
		}
	}
	wg.Wait()
	if killErr != nil {
		return killErr
	}
	e.log.printf("load done: %d accepted in %s (%s)", res.accepted(), res.took.Round(time.Millisecond), res.summary())
	e.r.check(len(res.refused) == 0, "requests refused for good: %s", sample(res.refused))
	e.r.check(res.accepted() == n, "%d of %d sends accepted", res.accepted(), n)

	if err := db.waitSettled(e, sized(e, 3*time.Minute, 90*time.Second)); err != nil {
		e.r.fail("%v", err)
	}
	rows, err := db.messages(e.ctx)
	if err != nil {
		return err
	}
	tally(e.r, res.ids, rows, rec.counts())
	checkRecipients(e.r, "1", res.ids, rows)
	e.r.check(e.r.Unknown <= kills*relayConns, "%d unknown outcomes: more than the %d messages %d kills can catch mid-hand-off", e.r.Unknown, kills*relayConns, kills)
	e.r.note("%d sends with idempotency keys from 50 clients retrying on errors and timeouts (client timeout 5 s): %d requests (%s)", n, res.tries, res.summary())
	e.r.note("%d kills (SIGKILL) at random moments after %s–%s up, each followed by a restart: at %v", kills, up[0], up[1], killedAt)
	e.r.note("every key answered 200 names one stored message, to its own recipient; %d messages ended with an unknown outcome (at most %d: %d relay connections × %d kills), %d of them never reached the relay", e.r.Unknown, kills*relayConns, relayConns, kills, e.r.UnknownUnreceived)
	return nil
}

// checkRecipients checks that the message accepted for send i is addressed to send i's
// recipient and that no other message is: one message per idempotency key.
func checkRecipients(r *result, scenario string, ids []string, rows []messageRow) {
	byID := map[string]messageRow{}
	perRecipient := map[string]int{}
	for _, m := range rows {
		byID[m.ID] = m
		perRecipient[m.Recipient]++
	}
	var wrong, many []string
	for i, id := range ids {
		if id == "" {
			continue
		}
		want := recipient(scenario, i)
		if m, ok := byID[id]; ok && m.Recipient != want {
			wrong = append(wrong, fmt.Sprintf("%s to %s, not %s", id, m.Recipient, want))
		}
		if perRecipient[want] > 1 {
			many = append(many, fmt.Sprintf("%s: %d messages", want, perRecipient[want]))
		}
	}
	r.check(len(wrong) == 0, "%d keys answered with another send's message: %s", len(wrong), sample(wrong))
	r.check(len(many) == 0, "%d keys made more than one message: %s", len(many), sample(many))
}
