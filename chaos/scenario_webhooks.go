package main

import (
	"fmt"
	"strings"
	"time"
)

// hookTimeoutBound is the longest a webhook attempt may hold a receiver: Sendoka's 10 s
// timeout, and a second of slack for a loaded machine.
const hookTimeoutBound = 11 * time.Second

// runWebhooks is scenario 5: messages whose events go to five endpoints: one steady, three
// flaky ones that fail a delivery's first attempts (500, a connection reset, or an answer
// held past 10 s), and one that answers 410 Gone. Every event must reach every healthy
// endpoint at least once, each event's attempts at an endpoint carrying one stable
// X-Sendoka-Delivery-Id and a valid signature; the 410 endpoint must end disabled; and no
// attempt may hold a receiver past the 10 s timeout.
func runWebhooks(e *env) error {
	n := sized(e, 500, 100)
	slowBudget := sized(e, 40, 6)
	pg, err := startCluster(e.ctx, e.dir, e.cl)
	if err != nil {
		return err
	}
	hooks, err := startHookReceiver(e)
	if err != nil {
		return err
	}
	srv, err := newServer(e, "serve", "SENDOKA_DATABASE_URL="+pg.url(), "SENDOKA_ALLOW_INSECURE_WEBHOOKS=true")
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
	api := newAPIClient(liveKey, 10*time.Second)
	healthy := []string{"steady"}
	endpoints := [][2]string{{"steady", hookSteady}, {"gone", hookGone}}
	for k := 1; k <= 3; k++ {
		name := fmt.Sprintf("flaky%d", k)
		healthy = append(healthy, name)
		endpoints = append(endpoints, [2]string{name, hookFlaky})
	}
	for _, ep := range endpoints {
		url := hooks.add(ep[0], ep[1], slowBudget)
		var created struct{ ID, Secret string }
		if err := api.postJSON(e.ctx, srv.base+"/api/v1/webhooks", map[string]any{
			"url": url, "events": []string{"message.sent", "message.delivered"}, "description": "chaos " + ep[0],
		}, &created); err != nil {
			return err
		}
		hooks.setWebhook(ep[0], created.ID, created.Secret)
	}

	// Test-key sends: the sandbox gives each message a sent and a delivered event.
	ld := &load{n: n, clients: 16, client: newAPIClient(testKey, 5*time.Second),
		url: func(int, int) string { return srv.base },
		body: func(i int) any {
			b := emailBody("5", i)
			b["from"] = "app@sandbox.sendoka.com"
			return b
		},
		key: func(i int) string { return fmt.Sprintf("chaos-5-%d", i) },
	}
	res := ld.run(e.ctx)
	e.r.check(len(res.refused) == 0, "requests refused for good: %s", sample(res.refused))
	e.log.printf("%d messages accepted; waiting for their events at the endpoints", res.accepted())

	var events []string
	deadline := time.Now().Add(sized(e, 4*time.Minute, 2*time.Minute))
	for {
		events, err = deliveredEvents(e, db)
		if err != nil {
			return err
		}
		done := len(events) == 2*res.accepted()
		for _, name := range healthy {
			done = done && len(hooks.endpoint(name).missing(hooks, events)) == 0
		}
		if done || time.Now().After(deadline) {
			break
		}
		if err := e.sleep(500 * time.Millisecond); err != nil {
			return err
		}
	}
	e.r.check(len(events) == 2*res.accepted(), "%d sent and delivered events for %d messages", len(events), res.accepted())
	e.r.Accepted = len(events)
	e.r.Delivered = len(events)
	var missingAll []string
	for _, name := range healthy {
		ep := hooks.endpoint(name)
		missing := ep.missing(hooks, events)
		missingAll = append(missingAll, missing...)
		e.r.check(len(missing) == 0, "%s: %d events never answered 200: %s", name, len(missing), sample(missing))
		unstable := ep.unstable(hooks)
		e.r.check(len(unstable) == 0, "%s: events whose attempts carried several delivery ids: %s", name, sample(unstable))
		e.r.check(len(ep.badSig) == 0, "%s: %d attempts with a signature that does not verify: %s", name, len(ep.badSig), sample(ep.badSig))
	}
	lost := map[string]bool{}
	for _, id := range missingAll {
		lost[id] = true
	}
	e.r.Lost = len(lost)
	e.r.Delivered -= len(lost)

	// The 410 endpoint is disabled, and says why.
	gone := hooks.endpoint("gone")
	var wh struct {
		Enabled        bool   `json:"enabled"`
		DisabledReason string `json:"disabled_reason"`
	}
	if err := api.getJSON(e.ctx, srv.base+"/api/v1/webhooks/"+gone.id, &wh); err != nil {
		return err
	}
	e.r.check(!wh.Enabled && strings.Contains(wh.DisabledReason, "410"), "the 410 endpoint is not disabled: enabled=%v reason=%q", wh.Enabled, wh.DisabledReason)

	// No attempt held a receiver past the timeout.
	var notes []string
	slow, longest, outlived, again := 0, time.Duration(0), 0, 0
	hooks.mu.Lock()
	for _, name := range healthy {
		ep := hooks.endpoints["/"+name]
		slow += ep.failures["slow"]
		longest = max(longest, ep.longestCut)
		outlived += ep.outlived
		for _, k := range ep.ok {
			again += k - 1
		}
		notes = append(notes, fmt.Sprintf("%s %d attempts (500: %d, reset: %d, slow: %d)", name, ep.attempts, ep.failures["500"], ep.failures["reset"], ep.failures["slow"]))
	}
	goneAttempts := gone.attempts
	hooks.mu.Unlock()
	e.r.check(slow > 0, "no slow answer was given")
	e.r.check(outlived == 0, "%d attempts held a receiver for %s without giving up", outlived, hookHold)
	e.r.check(longest <= hookTimeoutBound, "an attempt held a receiver for %s (bound %s)", longest.Round(time.Millisecond), hookTimeoutBound)
	e.r.note("%d test-key messages, each with a sent and a delivered event, to 5 endpoints subscribed to both: %s; gone %d attempts", res.accepted(), strings.Join(notes, "; "), goneAttempts)
	e.r.note("every event reached each of the 4 healthy endpoints, its attempts there under one X-Sendoka-Delivery-Id, every signature valid; %d events were answered 200 more than once (at-least-once delivery allows it)", again)
	e.r.note("slow answers (held %s): the sender hung up after at most %s; the 410 endpoint is disabled (%q)", hookHold, longest.Round(time.Millisecond), wh.DisabledReason)
	return nil
}

// deliveredEvents lists the ids of the sent and delivered events of test messages once
// every test message is delivered (nil before).
func deliveredEvents(e *env, db *database) ([]string, error) {
	var notDelivered int
	if err := db.db.QueryRowContext(e.ctx, `SELECT count(*) FROM messages WHERE mode = 'test' AND status <> 'delivered'`).Scan(&notDelivered); err != nil {
		return nil, err
	}
	if notDelivered > 0 {
		return nil, nil
	}
	rows, err := db.db.QueryContext(e.ctx, `SELECT e.id FROM events e JOIN messages m ON m.id = e.message_id
		WHERE m.mode = 'test' AND e.type IN ('message.sent', 'message.delivered') ORDER BY e.id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}
