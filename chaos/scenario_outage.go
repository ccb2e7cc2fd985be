package main

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// runProviderOutage is scenario 3b: the relay goes away for a while (its port refuses
// connections, open ones are cut) during a steady stream of sends, then comes back. Every
// message must be delivered once it is back; none may be marked failed while it has
// retries left; and the messages that met the outage show their retries (attempts,
// delivery_attempts with the transient failures, then the success).
func runProviderOutage(e *env) error {
	n, stream := sized(e, 600, 100), sized(e, 2*time.Minute, 20*time.Second)
	outageAt, outage := sized(e, 20*time.Second, 5*time.Second), sized(e, 60*time.Second, 8*time.Second)
	st, err := startRelayStack(e, nil)
	if err != nil {
		return err
	}
	rec, srv, db := st.rec, st.srv, st.db
	api := newAPIClient(liveKey, 5*time.Second)
	ld := &load{n: n, clients: 8, client: api, rate: float64(n) / stream.Seconds(),
		url:  func(int, int) string { return srv.base },
		body: func(i int) any { return emailBody("3b", i) },
		key:  func(i int) string { return fmt.Sprintf("chaos-3b-%d", i) },
	}
	loaded := make(chan *loadResult, 1)
	go func() { loaded <- ld.run(e.ctx) }()
	var wg sync.WaitGroup

	// Watch for a failed message all along: none may fail while retries remain.
	watch, stopWatch := context.WithCancel(e.ctx)
	defer stopWatch()
	var failedSeen int
	wg.Go(func() {
		for sleepCtx(watch, 500*time.Millisecond) {
			var n int
			if err := db.db.QueryRowContext(watch, `SELECT count(*) FROM messages WHERE status = 'failed'`).Scan(&n); err == nil && n > failedSeen {
				failedSeen = n
			}
		}
	})

	if err := e.sleep(outageAt); err != nil {
		return err
	}
	before := rec.received()
	rec.stop()
	e.log.printf("relay down after %d messages", before)
	if err := e.sleep(outage); err != nil {
		return err
	}
	if err := rec.restart(); err != nil {
		return err
	}
	e.log.printf("relay back; %d received so far", rec.received())
	res := <-loaded
	// Retries after the outage: 30 s, then 1, 2 min… after the first failure.
	settleErr := db.waitSettled(e, outage+sized(e, 5*time.Minute, 100*time.Second))
	stopWatch()
	wg.Wait()
	if settleErr != nil {
		e.r.fail("%v", settleErr)
	}
	e.r.check(len(res.refused) == 0, "requests refused for good: %s", sample(res.refused))
	rows, err := db.messages(e.ctx)
	if err != nil {
		return err
	}
	tally(e.r, res.ids, rows, rec.counts())
	e.r.check(failedSeen == 0, "%d messages were marked failed during the outage", failedSeen)

	// The messages that met the outage show it.
	var retried []string
	for _, m := range rows {
		if m.Attempts > 1 {
			retried = append(retried, m.ID)
		}
	}
	e.r.check(len(retried) > 0, "no message met the outage (none has more than one attempt)")
	var bad []string
	for _, id := range retried {
		var msg struct {
			Status           string `json:"status"`
			Attempts         int    `json:"attempts"`
			DeliveryAttempts []struct {
				Result     string `json:"result"`
				Diagnostic *struct {
					Code string `json:"code"`
				} `json:"diagnostic"`
			} `json:"delivery_attempts"`
			Events []struct {
				Type string `json:"type"`
			} `json:"events"`
		}
		if err := api.getJSON(e.ctx, srv.base+"/api/v1/emails/"+id, &msg); err != nil {
			return err
		}
		deferred := 0
		for _, ev := range msg.Events {
			if ev.Type == "message.deferred" {
				deferred++
			}
		}
		da := msg.DeliveryAttempts
		ok := msg.Status == "sent" && len(da) == msg.Attempts && da[len(da)-1].Result == "sent" && deferred == len(da)-1
		for _, a := range da[:max(len(da)-1, 0)] {
			ok = ok && a.Result == "transient" && a.Diagnostic != nil
		}
		if !ok {
			bad = append(bad, fmt.Sprintf("%s: %+v", id, msg))
		}
	}
	e.r.check(len(bad) == 0, "messages whose retries do not show: %s", sample(bad))
	e.r.note("%d sends over %s; the relay was down for %s from %s in (port closed, connections cut), %d messages received before", n, stream, outage, outageAt, before)
	e.r.note("%d messages met the outage: each shows attempts > 1, its transient failures in delivery_attempts (with their diagnostic) and a message.deferred event per failure, then sent; none was marked failed at any time", len(retried))
	return nil
}
