package dashboard_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/sendoka"
	"github.com/sendoka/sendoka/storage/bunstore"
)

// shots names screenshots on SQLite only (one set is enough).
func shots(d bunstore.Dialect, name string) string {
	if d != bunstore.DialectSQLite {
		return ""
	}
	return name
}

// Flow 1: sign in, create a template, preview it with variables (missing ones named), save
// it, send a test email, and find it in Messages with its timeline.
func TestBrowserTemplateToMessage(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, d bunstore.Dialect) {
		b := setup(t, d)
		tb := b.tab(t, shots(d, "flow1"))
		tb.login(ownerEmail, ownerPW)
		tb.check("overview-empty")

		tb.visit("/templates", "templates")
		tb.do(chromedp.SendKeys(chromedp.CSS(`#new-template input[name=slug]`), "welcome"),
			chromedp.SendKeys(chromedp.CSS(`#new-template input[name=name]`), "Welcome email"),
			chromedp.Click(chromedp.CSS(`#new-template button[type=submit]`)),
			chromedp.WaitVisible(chromedp.CSS(`#editor`)))
		tb.waitText("#preview-info", "Every variable has a sample value")
		tb.waitFrameText("iframe.preview", "Hello Sample name")

		tb.setInput("#f-subject", "Welcome, {{name}}")
		tb.setInput("#f-html", "<h1>Hi {{name}}</h1><p>Your plan: {{plan}}</p>")
		tb.waitText("#preview-missing", "plan")
		tb.setInput("#f-variables", `{"name": "Ada", "plan": "Pro"}`)
		tb.waitText("#preview-complete", "Every variable")
		require.Equal(t, "Welcome, Ada", tb.text("#preview-subject"))
		tb.waitFrameText("iframe.preview", "Your plan: Pro")
		tb.check("template-editor")

		tb.do(chromedp.Click(chromedp.CSS(`#save`)))
		tb.waitText(".flash", "version 2")
		tb.check("")

		tb.do(chromedp.SendKeys(chromedp.CSS(`#send-test input[name=to]`), "ada@example.com"),
			chromedp.Click(chromedp.CSS(`#send-test button[type=submit]`)))
		tb.waitText(".flash", "Test email sent")
		id := strings.TrimPrefix(tb.eval(`location.pathname`), "/messages/")
		require.True(t, strings.HasPrefix(id, sendoka.PrefixMessage), id)
		pollUntil(t, 45*time.Second, "the message to be delivered", func() bool {
			tb.do(chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`#timeline`)))
			return strings.Contains(tb.text("#timeline"), "message.delivered")
		})
		require.Contains(t, tb.text("#timeline"), "message.queued")
		require.Contains(t, tb.text("#timeline"), "message.sent")
		tb.waitFrameText("iframe.preview", "Your plan: Sample plan")
		tb.check("message")

		tb.visit("/messages", "messages")
		require.Contains(t, tb.text("#message-rows"), "Welcome, Sample name")
		require.Contains(t, tb.text("#message-rows"), "ada@example.com")
		tb.do(chromedp.SetValue(chromedp.CSS(`select[name=status]`), "failed"),
			chromedp.Evaluate[chromedp.Void](`document.querySelector("select[name=status]").dispatchEvent(new Event("change", {bubbles: true}))`))
		tb.waitText("#message-rows", "No messages match")
		tb.do(chromedp.Click(chromedp.CSS(`nav.main a[href="/"]`)), chromedp.WaitVisible(chromedp.CSS(`svg.chart`)))
		require.Equal(t, "1", tb.text("#emails-month"))
		tb.check("overview")
	})
}

// Flow 2: an endpoint pointing at a local receiver (its secret shown once), a test event
// arriving in the delivery log, and replaying it.
func TestBrowserWebhook(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, d bunstore.Dialect) {
		var hits atomic.Int64
		var mu sync.Mutex
		var bodies []string
		rx := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			mu.Lock()
			bodies = append(bodies, string(body))
			mu.Unlock()
			hits.Add(1)
			w.WriteHeader(http.StatusNoContent)
		}))
		t.Cleanup(rx.Close)
		b := setup(t, d)
		tb := b.tab(t, shots(d, "flow2"))
		tb.login(ownerEmail, ownerPW)
		tb.visit("/webhooks", "")
		tb.do(chromedp.SendKeys(chromedp.CSS(`#new-webhook input[name=url]`), rx.URL+"/hooks"),
			chromedp.SendKeys(chromedp.CSS(`#new-webhook input[name=description]`), "local receiver"),
			chromedp.Click(chromedp.CSS(`#new-webhook button[type=submit]`)),
			chromedp.WaitVisible(chromedp.CSS(`#webhook-secret`)))
		require.True(t, strings.HasPrefix(tb.text("#secret-value"), "whsec_"), tb.text("#secret-value"))
		tb.check("webhook-created")

		tb.do(chromedp.Click(chromedp.CSS(`#send-test-event`)))
		tb.waitText(".flash", "webhook.test event")
		require.NotContains(t, tb.eval(`document.body.innerText`), "whsec_", "the secret is shown once")
		tb.waitText("#deliveries", "succeeded") // the log refreshes itself
		require.Contains(t, tb.text("#deliveries"), "HTTP 204")
		require.EqualValues(t, 1, hits.Load())
		tb.check("webhook")

		tb.do(chromedp.Click(chromedp.CSS(`#deliveries button.replay`)))
		tb.waitText(".flash", "Delivery replayed")
		pollUntil(t, 45*time.Second, "the replay to arrive", func() bool { return hits.Load() == 2 })
		tb.waitText("#deliveries", "replay of")
		mu.Lock()
		require.Contains(t, bodies[1], "webhook.test")
		mu.Unlock()
		tb.check("")

		tb.visit("/webhooks", "webhooks")
		require.Contains(t, tb.text("table"), rx.URL+"/hooks")
	})
}

// Flow 3: a domain's DNS records with copy buttons, and verifying it once they are
// published.
func TestBrowserDomain(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, d bunstore.Dialect) {
		b := setup(t, d)
		tb := b.tab(t, shots(d, "flow3"))
		tb.login(ownerEmail, ownerPW)
		tb.visit("/domains", "domains")
		tb.do(chromedp.SendKeys(chromedp.CSS(`#new-domain input[name=name]`), "mail.example.org"),
			chromedp.Click(chromedp.CSS(`#new-domain button[type=submit]`)),
			chromedp.WaitVisible(chromedp.CSS(`#dns-records`)))
		rows, err := chromedp.Run(tb.ctx, chromedp.Evaluate[int](`document.querySelectorAll("#dns-records tr.record").length`))
		require.NoError(t, err)
		require.GreaterOrEqual(t, rows, 3)
		copies, err := chromedp.Run(tb.ctx, chromedp.Evaluate[int](`document.querySelectorAll("#dns-records button[data-copy]").length`))
		require.NoError(t, err)
		require.Equal(t, 2*rows, copies)
		require.Contains(t, tb.text("#dns-records"), "mail.example.org")
		require.Equal(t, "pending", tb.text("#domain-status"))
		tb.check("domain")

		tb.do(chromedp.Click(chromedp.CSS(`#verify`)))
		tb.waitText(".flash", "Checked: the domain is pending")
		require.Equal(t, "pending", tb.text("#domain-status"), "nothing published yet")

		id := strings.TrimPrefix(tb.eval(`location.pathname`), "/domains/")
		dom, err := b.srv.Client.GetDomain(context.Background(), b.root, id)
		require.NoError(t, err)
		b.dns.Publish(dom)
		tb.do(chromedp.Click(chromedp.CSS(`#verify`)))
		tb.waitText(".flash", "Checked: the domain is verified")
		require.Equal(t, "verified", tb.text("#domain-status"))
		require.Contains(t, tb.text("#warmup"), "Day")
		tb.check("domain-verified")
	})
}

// Flow 4: a viewer sees the pages without a single form that changes anything, and the
// POSTs they could forge (with a valid token) are refused.
func TestBrowserViewer(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, d bunstore.Dialect) {
		b := setup(t, d)
		tpl, err := b.srv.Client.CreateTemplate(context.Background(), b.root, &sendoka.TemplateRequest{Slug: "hello", Channel: sendoka.ChannelEmail, Subject: "Hi", HTML: "<p>Hi {{name}}</p>"})
		require.NoError(t, err)
		tb := b.tab(t, shots(d, "flow4"))
		tb.login(viewerEmail, viewerPW)
		for _, page := range []string{"/", "/messages", "/templates", "/templates/" + tpl.ID, "/webhooks", "/domains", "/api-keys", "/suppressions", "/users", "/audiences", "/tenants", "/usage", "/phone-numbers"} {
			tb.visit(page, "")
			n, err := chromedp.Run(tb.ctx, chromedp.Evaluate[int](
				`[...document.querySelectorAll("form")].filter(f => f.method === "post" && !f.classList.contains("mode") && !f.action.endsWith("/logout")).length`))
			require.NoError(t, err)
			require.Zero(t, n, "a viewer gets no changing form on %s", page)
		}
		tb.visit("/templates/"+tpl.ID, "")
		tb.waitFrameText("iframe.preview", "Hi Sample name") // previews work for viewers
		tb.allow(http.StatusForbidden)
		status, err := chromedp.Run(tb.ctx, chromedp.Evaluate[int](`(async () => {
			const csrf = document.querySelector("input[name=csrf]").value;
			const r = await fetch("/templates", {method: "POST", headers: {"X-CSRF-Token": csrf, "Content-Type": "application/x-www-form-urlencoded"}, body: "slug=forged&channel=email"});
			return r.status; })()`, chromedp.EvalAwaitPromise))
		require.NoError(t, err)
		require.Equal(t, http.StatusForbidden, status)
		list, err := b.srv.Client.ListTemplates(context.Background(), b.root, sendoka.TemplateListParams{})
		require.NoError(t, err)
		require.Len(t, list.Templates, 1)
	})
}

// Flow 5: an email whose HTML carries <script> and onerror= payloads: opening it in the
// dashboard (and loading its images) runs none of them.
func TestBrowserXSS(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, d bunstore.Dialect) {
		var hits atomic.Int64
		rx := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hits.Add(1)
			w.WriteHeader(http.StatusNoContent)
		}))
		t.Cleanup(rx.Close)
		b := setup(t, d)
		payload := `<p id="marker">hello</p>` +
			`<script>fetch("` + rx.URL + `/script"); parent.document.title = "pwned"; top.document.body.dataset.pwned = "1";</script>` +
			`<img src="x" onerror="fetch('` + rx.URL + `/onerror'); parent.document.title = 'pwned'">` +
			`<svg onload="fetch('` + rx.URL + `/svg')"></svg>` +
			`<a href="javascript:fetch('` + rx.URL + `/href')" id="js-link">click</a>`
		m, err := b.srv.Client.SendEmail(context.Background(), b.root, &sendoka.EmailRequest{From: "a@" + b.srv.Client.SandboxDomain(),
			To: []string{"victim@example.com"}, Subject: `<script>alert("subject")</script>`, HTML: payload, Text: "hello"})
		require.NoError(t, err)

		tb := b.tab(t, shots(d, "flow5"))
		tb.login(ownerEmail, ownerPW)
		tb.visit("/messages/"+m.ID, "")
		tb.waitFrameText("iframe.preview", "hello")
		require.Contains(t, tb.text("h1"), `<script>alert("subject")</script>`, "the subject is text")
		frame, err := chromedp.Run(tb.ctx, chromedp.Nodes(chromedp.CSS("iframe.preview")))
		require.NoError(t, err)
		require.NotNil(t, frame[0].ContentDocument)
		tb.do(chromedp.Click(chromedp.CSS("#js-link"), chromedp.FromNode(frame[0].ContentDocument)))
		tb.do(chromedp.Click(chromedp.CSS(`#load-images`)), chromedp.WaitVisible(chromedp.CSS(`iframe.preview`)))
		tb.waitFrameText("iframe.preview", "hello")
		sandbox, err := chromedp.Run(tb.ctx, chromedp.Evaluate[string](`document.querySelector("iframe.preview").getAttribute("sandbox")`))
		require.NoError(t, err)
		require.Equal(t, "", sandbox, "sandboxed, with no allowances")
		require.Equal(t, "null", tb.eval(`String(document.querySelector("iframe.preview").contentDocument)`), "the frame's document is another origin")
		require.NotEqual(t, "pwned", tb.eval(`document.title`))
		require.Equal(t, "", tb.eval(`document.body.dataset.pwned || ""`))
		// Loading the images asked for a remote load and got the blocked "x": give a
		// script that did run time to call out, then check nothing did.
		tb.do(chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`iframe.preview`)))
		tb.waitFrameText("iframe.preview", "hello")
		require.Zero(t, hits.Load(), "no payload ran")
		tb.mu.Lock()
		blocked := tb.previewBlocked
		tb.mu.Unlock()
		require.Positive(t, blocked, "the browser reported the blocked script")
		tb.check("message-xss")
	})
}

// Flow 6: a form posted without its CSRF token is refused and changes nothing.
func TestBrowserCSRF(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, d bunstore.Dialect) {
		b := setup(t, d)
		tb := b.tab(t, shots(d, "flow6"))
		tb.login(ownerEmail, ownerPW)
		tb.visit("/suppressions", "suppressions")
		tb.allow(http.StatusForbidden)
		tb.do(chromedp.SendKeys(chromedp.CSS(`form[action="/suppressions"][method=post] input[name=address]`), "blocked@example.com"),
			chromedp.Evaluate[chromedp.Void](`document.querySelector('form[action="/suppressions"][method=post] input[name=csrf]').remove()`),
			chromedp.Click(chromedp.CSS(`form[action="/suppressions"][method=post] button`)),
			chromedp.WaitReady(chromedp.CSS(`body`)))
		pollUntil(t, 10*time.Second, "the refusal", func() bool {
			return strings.Contains(tb.eval(`document.body.innerText`), "did not come from the dashboard")
		})
		_, err := b.srv.Client.GetSuppression(context.Background(), b.root, sendoka.ChannelEmail, "blocked@example.com")
		require.Equal(t, sendoka.CodeNotFound, sendoka.ErrorCode(err))

		// With the token it works, and removal has a confirmation step.
		tb.visit("/suppressions", "")
		tb.do(chromedp.SendKeys(chromedp.CSS(`form[action="/suppressions"][method=post] input[name=address]`), "ok@example.com"),
			chromedp.Click(chromedp.CSS(`form[action="/suppressions"][method=post] button`)),
			chromedp.WaitVisible(chromedp.CSS(`#search-result`)))
		require.Contains(t, tb.text("#search-result"), "is suppressed")
		tb.do(chromedp.Click(chromedp.CSS(`#search-result a`)), chromedp.WaitVisible(chromedp.CSS(`#confirm-remove`)))
		tb.check("suppression-remove")
		tb.do(chromedp.Click(chromedp.CSS(`#confirm-remove`)))
		tb.waitText(".flash", "may receive messages again")

		tb.visit("/api-keys", "")
		tb.do(chromedp.SendKeys(chromedp.CSS(`#new-key-form input[name=name]`), "ci"),
			chromedp.Click(chromedp.CSS(`#new-key-form button[type=submit]`)),
			chromedp.WaitVisible(chromedp.CSS(`#new-key`)))
		require.True(t, strings.HasPrefix(tb.text("#key-value"), sendoka.KeyPrefixLive))
		tb.check("api-keys")
		tb.visit("/users", "users")
		tb.visit("/usage", "usage")
		tb.visit("/tenants", "tenants")
		tb.visit("/audiences", "audiences")
		tb.visit("/phone-numbers", "phone-numbers")
	})
}
