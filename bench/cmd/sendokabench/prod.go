package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// The production-shaped row sends with a live key (quotas count live messages only) from a
// verified domain other than the sandbox's (the sandbox domain never counts either). The
// domain is bootstrapped, so no warmup cap applies to it, and a live key's email still goes
// to the sandbox provider (SENDOKA_EMAIL_PROVIDER's default).
const (
	benchLiveKey = "sok_live_benchbenchbenchbenchbench0000"
	prodDomain   = "bench.example.com"
	// prodLimit is the row's burst limit per minute and monthly email quota: both checked on
	// every send, neither reached.
	prodLimit = 1_000_000_000
	// prodTemplate is the template every send of the row renders.
	prodTemplate = "bench-receipt"
	// prodLinks is how many links the template's HTML has: click tracking stores each.
	prodLinks = 2
)

// prodPlan is the row's plan: the bench's unthrottled enterprise plan with a monthly quota
// and no overage, so every send reserves its place in the quota.
var prodPlan = fmt.Sprintf(`SENDOKA_PLANS=[{"name":"enterprise","burst_per_minute":%d,"monthly_emails":%d}]`, prodLimit, prodLimit)

// prodEmail is one send with every feature of the API on: a template with variables, open
// and click tracking, tags and metadata, and an Idempotency-Key of its own.
func prodEmail(tag, from string) scenario {
	return scenario{
		Name: "production-shaped single email", Path: "/api/v1/emails", ListPath: "/api/v1/emails", Messages: 1, Tag: tag,
		IdempotencyKeys: true, APIKey: benchLiveKey,
		Body: func(i int) []byte {
			return fmt.Appendf(nil, `{"from":%q,"to":["user%d@example.com"],"template":%q,"variables":{"name":"User %d","order":"%d"},`+
				`"track_opens":true,"track_clicks":true,"tags":[%q],"metadata":{"order":%d,"source":"bench"}}`, from, i, prodTemplate, i, i, tag, i)
		},
	}
}

// prodRow measures single sends with every feature on at once, on the API role like the
// api row it is set against (so the ratio compares like with like): a live key under a
// plan whose burst limit and monthly quota are checked but never reached, an
// Idempotency-Key per request, a webhook endpoint subscribed to every event, open and click
// tracking, and a template rendered with variables. Tracking and webhooks cost at delivery,
// not at accept: after the load the worker role delivers every message, and the row
// reports the signed webhook deliveries a local receiver verified and the tracked links
// stored; its peak RSS is the larger of the two processes'.
func prodRow(ctx context.Context, rc *rowContext) (*result, error) {
	rx, err := newReceiver() // receiver.go
	if err != nil {
		return nil, err
	}
	defer rx.close()
	from := rc.o.from
	domains := prodDomain
	if _, d, _ := strings.Cut(from, "@"); d == "" || d == "sandbox.sendoka.com" {
		from = "you@" + prodDomain
	} else {
		domains += "," + d
	}
	env := []string{"SENDOKA_ALLOW_INSECURE_WEBHOOKS=true", prodPlan,
		"SENDOKA_BOOTSTRAP_KEYS=" + benchKey + "," + benchLiveKey, "SENDOKA_BOOTSTRAP_DOMAINS=" + domains}
	api, err := start(ctx, rc.o, rc.db, roleAPI, env...)
	if err != nil {
		return nil, err
	}
	defer api.stop()
	hc := newClient(rc.o)
	limits, err := prodSetup(ctx, hc, api.base, rx)
	if err != nil {
		return nil, err
	}

	sc := prodEmail("bench-prod", from)
	res, err := drive(ctx, hc, []string{api.base}, sc, rc.o.clients, rc.o.duration)
	if err != nil {
		return nil, err
	}
	res.Name, res.Role = "", roleAPI // the row's own name says what was sent
	var usage struct {
		Email struct {
			Accepted int64 `json:"accepted"`
			Quota    int64 `json:"quota"`
		} `json:"email"`
	}
	if _, err := getAs(ctx, hc, benchLiveKey, api.base+"/api/v1/usage", &usage); err != nil {
		return nil, fmt.Errorf("usage: %w", err)
	}
	if usage.Email.Quota != prodLimit {
		return nil, fmt.Errorf("usage: monthly email quota %d, want %d: the row's quota is not on", usage.Email.Quota, prodLimit)
	}
	res.Notes = append(res.Notes, fmt.Sprintf("a live key from %s (a bootstrapped verified domain), plan %s: %s; "+
		"after the load GET /api/v1/usage reports %s live emails accepted this month against a quota of %s",
		from, limits, strings.Join([]string{"an Idempotency-Key per request", "template `" + prodTemplate + "` (subject, HTML with 2 links, text) with 2 variables",
			"track_opens and track_clicks", "tags and metadata", "one webhook endpoint on every event (a local receiver)"}, ", "),
		thousands(float64(usage.Email.Accepted)), thousands(float64(usage.Email.Quota))))
	if err := api.alive(); err != nil {
		return nil, err
	}
	apiRSS := api.peakRSS()
	api.stop()

	if err := prodDeliver(ctx, rc, res, rx, apiRSS, env); err != nil {
		return nil, err
	}
	return res, nil
}

// prodSetup checks the row's plan through the live key and creates its template and its
// webhook endpoint (every event, to rx). It returns the limits the org reports.
func prodSetup(ctx context.Context, hc *http.Client, base string, rx *receiver) (string, error) {
	var org struct {
		Plan   string `json:"plan"`
		Limits struct {
			BurstPerMinute int64 `json:"burst_per_minute"`
			MonthlyEmails  int64 `json:"monthly_emails"`
			Overage        bool  `json:"overage"`
		} `json:"limits"`
	}
	h, err := getAs(ctx, hc, benchLiveKey, base+"/api/v1/org", &org)
	if err != nil {
		return "", fmt.Errorf("org: %w", err)
	}
	l := org.Limits
	if l.BurstPerMinute != prodLimit || l.MonthlyEmails != prodLimit || l.Overage {
		return "", fmt.Errorf("org limits %+v: want a burst limit and a monthly quota of %d without overage", l, prodLimit)
	}
	limits := fmt.Sprintf("%s, burst_per_minute %s and monthly_emails %s without overage (X-RateLimit-Limit: %q, X-RateLimit-Plan: %q)",
		org.Plan, thousands(float64(l.BurstPerMinute)), thousands(float64(l.MonthlyEmails)), h.Get("X-RateLimit-Limit"), h.Get("X-RateLimit-Plan"))

	post := func(path string, body any) ([]byte, error) {
		raw, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		code, resp, err := postAs(ctx, hc, benchLiveKey, base+path, raw, "")
		if err != nil || code != http.StatusOK {
			return nil, fmt.Errorf("POST %s: %d %s %v", path, code, resp, err)
		}
		return resp, nil
	}
	if _, err := post("/api/v1/templates", map[string]any{"slug": prodTemplate, "channel": "email",
		"subject": "Receipt {{order}} for {{name}}",
		"html": `<p>Hi {{name}},</p><p>Thanks for order {{order}}. <a href="https://example.com/orders/{{order}}">See your order</a>.</p>` +
			`<p>Questions? <a href="https://example.com/help">We can help</a>.</p>`,
		"text": "Hi {{name}}, thanks for order {{order}}: https://example.com/orders/{{order}}"}); err != nil {
		return "", err
	}
	resp, err := post("/api/v1/webhooks", map[string]any{"url": rx.url}) // no events: every one
	if err != nil {
		return "", err
	}
	var ep struct {
		Secret string `json:"secret"`
	}
	if err := json.Unmarshal(resp, &ep); err != nil {
		return "", err
	}
	rx.setSecret(ep.Secret)
	return limits, nil
}

// prodDeliver starts the worker role on the row's database, waits until it has delivered
// every queued message and the receiver has every webhook delivery of their events
// (message.sent and message.delivered each), and notes what it did.
func prodDeliver(ctx context.Context, rc *rowContext, res *result, rx *receiver, apiRSS int64, env []string) error {
	total, err := rc.db.countRows(ctx, "SELECT count(*) FROM messages")
	if err != nil {
		return err
	}
	w, err := start(ctx, rc.o, rc.db, roleWorker, env...) // the webhook queue at its default
	if err != nil {
		return err
	}
	defer w.stop()
	begin := time.Now()
	drained, err := rc.db.waitDrained(ctx, 5*time.Minute)
	if err != nil {
		res.Notes = append(res.Notes, "the worker did not deliver every message: "+err.Error())
	}
	want := int64(2 * total)
	all := rx.waitFor(ctx, want, 30*time.Second, 5*time.Minute)
	took := time.Since(begin)
	if err := w.alive(); err != nil {
		return err
	}
	workerRSS := w.peakRSS()
	res.RSS = max(apiRSS, workerRSS)
	links, err := rc.db.countRows(ctx, "SELECT count(*) FROM message_links")
	if err != nil {
		return err
	}
	failed, err := rc.db.count(ctx, "failed")
	if err != nil {
		return err
	}
	note := fmt.Sprintf("then `%s` delivered the %s messages in %.1f s (%s msg/s, %d failed), and the receiver verified %s signed webhook deliveries (%s) %.1f s after the worker started",
		roleWorker, thousands(float64(total)), drained.Seconds(), thousands(float64(total)/max(drained.Seconds(), 0.001)), failed,
		thousands(float64(rx.ok.Load())), rx.byEvent(), took.Seconds())
	if !all {
		note += fmt.Sprintf(" (**%s of the %s expected arrived**)", thousands(float64(rx.received())), thousands(float64(want)))
	}
	if n := rx.bad.Load(); n > 0 {
		note += fmt.Sprintf(" (**%d failed verification**)", n)
	}
	note += fmt.Sprintf("; %s tracked links stored (%d a message expected); peak RSS `%s` %s, `%s` %s (the table shows the larger)",
		thousands(float64(links)), prodLinks, roleAPI, mb(apiRSS), roleWorker, mb(workerRSS))
	res.Notes = append(res.Notes, note)
	return nil
}
