package main

import (
	"fmt"
	"time"
)

// runFanout is scenario 9: an audience of 10,000 contacts is sent a template (POST
// /api/v1/audiences/{id}/send), and the server is killed with SIGKILL while the fan-out
// job makes the messages, then again while they go out, and started again each time.
// Every contact must get exactly one message.
func runFanout(e *env) error {
	n := sized(e, 10000, 2000)
	pg, err := startCluster(e.ctx, e.dir, e.cl)
	if err != nil {
		return err
	}
	rec, err := startSMTPRecorder(e, nil)
	if err != nil {
		return err
	}
	// Broadcast mail carries an unsubscribe link: it needs the server's public URL. The
	// short form lets recovery take a fan-out for dead after 5 s without progress, not 30 s.
	stall := sized(e, 30*time.Second, 5*time.Second)
	srv, err := newServer(e, "serve", append(rec.env(), "SENDOKA_DATABASE_URL="+pg.url(), "SENDOKA_SMTP_MAX_CONNS="+itoa(relayConns),
		"SENDOKA_FANOUT_STALL="+stall.String())...)
	if err != nil {
		return err
	}
	srv.env = append(srv.env, "SENDOKA_PUBLIC_URL="+srv.base)
	if err := srv.start(e.ctx); err != nil {
		return err
	}
	db, err := openPostgres(e, pg.url())
	if err != nil {
		return err
	}
	api := newAPIClient(liveKey, 60*time.Second)
	if err := api.postJSON(e.ctx, srv.base+"/api/v1/templates", map[string]any{
		"slug": "chaos-news", "channel": "email", "subject": "News for {{first_name}}",
		"html": "<p>Hi {{first_name}}, here is the news.</p>",
	}, nil, "Idempotency-Key", "chaos-9-template"); err != nil {
		return err
	}
	var aud struct{ ID string }
	if err := api.postJSON(e.ctx, srv.base+"/api/v1/audiences", map[string]any{"name": "chaos"}, &aud, "Idempotency-Key", "chaos-9-audience"); err != nil {
		return err
	}
	contacts := make([]map[string]any, n)
	for i := range contacts {
		contacts[i] = map[string]any{"email": recipient("9", i), "first_name": fmt.Sprintf("Reader %d", i)}
	}
	if err := api.postJSON(e.ctx, srv.base+"/api/v1/audiences/"+aud.ID+"/contacts", contacts, nil, "Idempotency-Key", "chaos-9-contacts"); err != nil {
		return err
	}
	var send struct {
		SendID string `json:"send_id"`
		Queued int    `json:"queued"`
	}
	if err := api.postJSON(e.ctx, srv.base+"/api/v1/audiences/"+aud.ID+"/send", map[string]any{
		"from": "news@" + senderDomain, "channel": "email", "template": "chaos-news",
	}, &send, "Idempotency-Key", "chaos-9-send"); err != nil {
		return err
	}
	e.r.check(send.Queued == n, "the send queued %d of %d contacts", send.Queued, n)
	sent := time.Now()
	e.log.printf("send %s queued %d recipients", send.SendID, send.Queued)

	// Kill while the fan-out makes the messages, then while they go out.
	limit := sized(e, 10*time.Minute, 3*time.Minute)
	var kills []string
	for k, ready := range []func(made, received int) bool{
		func(made, _ int) bool { return made >= n/4 },
		func(made, received int) bool { return made == n && received >= n/3 },
	} {
		var made int
		for {
			if err := db.db.QueryRowContext(e.ctx, `SELECT count(*) FROM messages`).Scan(&made); err != nil {
				return err
			}
			if ready(made, rec.received()) {
				break
			}
			if time.Since(sent) > limit {
				return fmt.Errorf("kill %d: %d of %d messages made, %d received, %s after the send", k+1, made, n, rec.received(), limit)
			}
			if err := e.sleep(20 * time.Millisecond); err != nil {
				return err
			}
		}
		srv.kill()
		kills = append(kills, fmt.Sprintf("%d messages made, %d received", made, rec.received()))
		e.log.printf("kill -9 #%d: %d of %d messages made, %d received", k+1, made, n, rec.received())
		if err := srv.start(e.ctx); err != nil {
			return err
		}
	}

	// The fan-out finishes, and its messages go out.
	var status struct {
		Status    string `json:"status"`
		Processed int    `json:"processed"`
	}
	deadline := sent.Add(limit)
	for {
		err := api.getJSON(e.ctx, srv.base+"/api/v1/audiences/"+aud.ID+"/sends/"+send.SendID, &status)
		if err == nil && status.Status == "finished" {
			break
		}
		if time.Now().After(deadline) {
			e.r.fail("the fan-out did not finish within %s of the send: %+v (%v)", limit, status, err)
			break
		}
		if err := e.sleep(250 * time.Millisecond); err != nil {
			return err
		}
	}
	finished := time.Since(sent)
	if err := db.waitSettled(e, time.Until(deadline)+time.Minute); err != nil {
		e.r.fail("%v", err)
	}
	drained := time.Since(sent)
	rows, err := db.messages(e.ctx)
	if err != nil {
		return err
	}
	ids := make([]string, 0, len(rows))
	perContact := map[string]int{}
	for _, m := range rows {
		ids = append(ids, m.ID)
		perContact[m.Recipient]++
	}
	tally(e.r, ids, rows, rec.counts())
	// Every contact: one message, received once (unless its hand-off was cut short).
	unknown := map[string]bool{}
	for _, m := range rows {
		if m.Outcome == "unknown" {
			unknown[m.Recipient] = true
		}
	}
	byRcpt := rec.rcptCounts()
	var none, many, notReceived []string
	for i := range n {
		to := recipient("9", i)
		switch {
		case perContact[to] == 0:
			none = append(none, to)
		case perContact[to] > 1:
			many = append(many, fmt.Sprintf("%s: %d messages", to, perContact[to]))
		}
		if byRcpt[to] == 0 && !unknown[to] {
			notReceived = append(notReceived, to)
		}
	}
	e.r.Accepted = n
	lost := map[string]bool{}
	for _, to := range append(none, notReceived...) {
		lost[to] = true
	}
	e.r.Lost = max(e.r.Lost, len(lost))
	e.r.check(len(none) == 0, "%d contacts got no message: %s", len(none), sample(none))
	e.r.check(len(many) == 0, "%d contacts got more than one message: %s", len(many), sample(many))
	e.r.check(len(notReceived) == 0, "%d contacts' messages never reached the relay: %s", len(notReceived), sample(notReceived))
	e.r.check(len(rows) == n, "%d messages for %d contacts", len(rows), n)
	e.r.check(e.r.Unknown <= len(kills)*relayConns, "%d unknown outcomes: more than %d kills can catch mid-hand-off", e.r.Unknown, len(kills))
	e.r.note("an audience of %d contacts sent a template; kill -9 and restart while the fan-out made the messages (%s), then while they went out (%s); SENDOKA_FANOUT_STALL=%s", n, kills[0], kills[1], stall)
	e.r.note("the fan-out finished %s after the send, the last message went out %s after it; %d messages ended with an unknown outcome, %d of them never reached the relay",
		finished.Round(time.Second), drained.Round(time.Second), e.r.Unknown, e.r.UnknownUnreceived)
	return nil
}
