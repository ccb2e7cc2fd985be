package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// race is a request sent by several clients at once: the same name created twice, the
// same Idempotency-Key replayed while the first is running. Unique constraints and locks
// meet here, and a lost race must be a documented answer (409, a replay), never a 500.
type race struct {
	name   string
	path   string
	body   string
	header []headerField
	// unique: exactly one may be created (200), the others are 409 CONFLICT.
	unique bool
	// sameAnswer: every 200 names the same id (a replay of the first).
	sameAnswer bool
}

// racers is how many clients send each race's request at once.
const racers = 8

func races(f *fixtures, tag string) []race {
	rs := []race{
		{name: "same template slug", path: "/api/v1/templates", unique: true,
			body: `{"channel":"email","slug":"race-` + tag + `","subject":"s","html":"<p>x</p>"}`},
		{name: "same tenant slug", path: "/api/v1/tenants", unique: true,
			body: `{"name":"Race","slug":"race-` + tag + `"}`},
		{name: "same domain", path: "/api/v1/domains", unique: true,
			body: `{"name":"race-` + tag + `.example.com"}`},
		{name: "same sender id", path: "/api/v1/phone-numbers", unique: true,
			body: `{"kind":"alphanumeric","sender_id":"R` + tag[:8] + `","iso_country":"GB"}`},
		{name: "same inbound route", path: "/api/v1/inbound-routes", unique: true,
			body: `{"match":"race-` + tag + `@in.example.com"}`},
		{name: "same suppression", path: "/api/v1/suppressions",
			body: `{"address":"race-` + tag + `@example.com","channel":"email","reason":"unsubscribe"}`},
		{name: "same Idempotency-Key", path: "/api/v1/emails", sameAnswer: true,
			header: []headerField{{"Idempotency-Key", "race-" + tag}},
			body:   `{"from":"a@sandbox.sendoka.com","to":["race@example.com"],"subject":"race","text":"x"}`},
	}
	if aud := f.ids["audiences"]; aud != "" {
		rs = append(rs, race{name: "same contact", path: "/api/v1/audiences/" + aud + "/contacts",
			body: `[{"email":"race-` + tag + `@example.com","first_name":"Race"}]`})
	}
	return rs
}

// runRace sends r from racers clients at once and returns the statuses and what is wrong
// with the answers.
func runRace(t *target, j *judge, r race) (map[int]int, []string) {
	req := &request{method: http.MethodPost, target: r.path, body: []byte(r.body),
		header: append([]headerField{{"Authorization", "Bearer " + t.live}, {"Content-Type", "application/json"}}, r.header...)}
	req.op = j.sp.match(http.MethodPost, r.path)
	results := make([]*result, racers)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range racers {
		wg.Go(func() {
			<-start
			results[i] = send(t.addr, req, j.hang)
		})
	}
	close(start)
	wg.Wait()
	var v []string
	statuses := map[int]int{}
	created, ids := 0, map[string]bool{}
	for _, res := range results {
		statuses[res.status]++
		v = append(v, j.check(req, res)...)
		if res.err != nil {
			continue
		}
		switch {
		case res.status == http.StatusOK:
			created++
			var body struct {
				ID string `json:"id"`
			}
			_ = json.Unmarshal(res.body, &body)
			ids[body.ID] = true
		case r.unique && res.status == http.StatusConflict:
		case r.sameAnswer && res.status == http.StatusConflict && strings.Contains(string(res.body), "IDEMPOTENCY_IN_FLIGHT"):
		default:
			v = append(v, fmt.Sprintf("%d %s", res.status, clip(string(res.body), 200)))
		}
	}
	if r.unique && created != 1 {
		v = append(v, fmt.Sprintf("%d of %d racing creates succeeded, want 1", created, racers))
	}
	if r.sameAnswer && len(ids) > 1 {
		v = append(v, fmt.Sprintf("one Idempotency-Key, %d different ids", len(ids)))
	}
	return statuses, dedupe(v)
}

// raceTag is a fresh suffix for the races' names.
func raceTag() string { return fmt.Sprintf("%x", time.Now().UnixNano())[:10] }
