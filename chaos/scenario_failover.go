package main

import (
	"fmt"
	"time"
)

// runFailover is scenario 7: two providers in order of preference, the SMTP relay (recorder
// A) first and SES (recorder B) second (SENDOKA_EMAIL_PROVIDERS=smtp,ses). A goes down
// mid-stream and stays down: the traffic must move to B, every message arrive, and none
// arrive twice (at one recorder or at both).
func runFailover(e *env) error {
	n, stream, downAt := sized(e, 1000, 300), sized(e, 40*time.Second, 12*time.Second), sized(e, 15*time.Second, 4*time.Second)
	pg, err := startCluster(e.ctx, e.dir, e.cl)
	if err != nil {
		return err
	}
	primary, err := startSMTPRecorder(e, nil)
	if err != nil {
		return err
	}
	secondary, err := startSESRecorder(e)
	if err != nil {
		return err
	}
	env := append(append(primary.env(), secondary.env()...), "SENDOKA_EMAIL_PROVIDERS=smtp,ses",
		"SENDOKA_DATABASE_URL="+pg.url(), "SENDOKA_SMTP_MAX_CONNS="+itoa(relayConns))
	srv, err := newServer(e, "serve", env...)
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
	ld := &load{n: n, clients: 8, client: newAPIClient(liveKey, 5*time.Second), rate: float64(n) / stream.Seconds(),
		url:  func(int, int) string { return srv.base },
		body: func(i int) any { return emailBody("7", i) },
		key:  func(i int) string { return fmt.Sprintf("chaos-7-%d", i) },
	}
	loaded := make(chan *loadResult, 1)
	go func() { loaded <- ld.run(e.ctx) }()
	if err := e.sleep(downAt); err != nil {
		return err
	}
	atA, atB := primary.received(), secondary.received()
	primary.stop()
	e.log.printf("primary down: A has %d, B %d", atA, atB)
	res := <-loaded
	e.r.check(len(res.refused) == 0, "requests refused for good: %s", sample(res.refused))
	if err := db.waitSettled(e, sized(e, 3*time.Minute, 90*time.Second)); err != nil {
		e.r.fail("%v", err)
	}
	rows, err := db.messages(e.ctx)
	if err != nil {
		return err
	}
	a, b := primary.counts(), secondary.counts()
	both := map[string]int{}
	for id, k := range a {
		both[id] += k
	}
	for id, k := range b {
		both[id] += k
	}
	tally(e.r, res.ids, rows, both)
	var wrongProvider []string
	for _, m := range rows {
		switch {
		case a[m.ID] > 0 && m.Provider != "smtp", b[m.ID] > 0 && m.Provider != "ses":
			wrongProvider = append(wrongProvider, fmt.Sprintf("%s: provider %q (A %d, B %d)", m.ID, m.Provider, a[m.ID], b[m.ID]))
		}
	}
	e.r.check(len(wrongProvider) == 0, "messages whose provider is not the recorder that got them: %s", sample(wrongProvider))
	e.r.check(len(b) > 0, "nothing moved to the secondary")
	e.r.check(atA > 0, "the primary took nothing before it went down")
	e.r.note("%d sends over %s; providers smtp (recorder A) then ses (recorder B); A down %s in, for good, after %d messages (B had %d)", n, stream, downAt, atA, atB)
	e.r.note("A received %d messages, B %d; every message arrived at one of them, once; each message's provider names the recorder that got it", len(a), len(b))
	return nil
}
