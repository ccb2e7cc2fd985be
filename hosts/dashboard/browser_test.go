package dashboard_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// The browser tests drive headless Chromium. Without a browser they skip, unless
// SENDOKA_REQUIRE_BROWSER is set (.ci/run sets it): then they fail. One browser serves the
// whole package; each test gets a tab in a browser context of its own (its own cookies).
// SENDOKA_SCREENSHOTS=DIR saves a screenshot of each page the SQLite runs visit into DIR
// (`make screenshots` writes docs/screenshots).

var browser struct {
	once   sync.Once
	ctx    context.Context
	cancel context.CancelFunc
	err    error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if browser.cancel != nil {
		browser.cancel()
	}
	os.Exit(code)
}

// chromium finds the browser, or skips (fails under SENDOKA_REQUIRE_BROWSER).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("SENDOKA_REQUIRE_BROWSER") != "" {
		t.Fatal("Chromium is required (SENDOKA_REQUIRE_BROWSER is set) but not found: apt-get install -y chromium")
	}
	t.Skip("no Chromium: apt-get install -y chromium to run the browser tests")
	return ""
}

func sharedBrowser(t *testing.T) context.Context {
	t.Helper()
	path := chromium(t)
	browser.once.Do(func() {
		opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox,
			chromedp.WindowSize(1280, 900), chromedp.Flag("disable-gpu", true),
			// Sandboxed frames stay in the page's process, so the tests can read a preview's
			// text and see what its policy blocked; the sandbox itself is the same.
			chromedp.Flag("disable-features", "Translate,BlinkGenPropertyTrees,IsolateSandboxedIframes"))
		alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
		ctx, cancelCtx := chromedp.NewContext(alloc)
		browser.ctx = ctx
		browser.cancel = func() { cancelCtx(); cancelAlloc() }
		browser.err = chromedp.Do(ctx) // starts the browser
	})
	require.NoError(t, browser.err, "start Chromium")
	return browser.ctx
}

// tab is one browser tab on a bundle's server, recording what goes wrong on its pages:
// console errors, uncaught exceptions, failed requests and error statuses.
type tab struct {
	t    *testing.T
	ctx  context.Context
	base string
	shot string // a name prefix for screenshots; "" takes none

	mu       sync.Mutex
	problems []string
	// allowed statuses are expected (a refused form); previewBlocked counts what the
	// sandboxed previews blocked.
	allowed        map[int]bool
	requests       map[network.RequestID]string // request -> the document that made it
	previewBlocked int
}

func (b *bundle) tab(t *testing.T, shots string) *tab {
	t.Helper()
	parent := sharedBrowser(t)
	tb := &tab{t: t, base: b.base, allowed: map[int]bool{}, requests: map[network.RequestID]string{}}
	if dir := os.Getenv("SENDOKA_SCREENSHOTS"); dir != "" && shots != "" {
		tb.shot = shots
	}
	ctx, cancel := chromedp.NewContext(parent, chromedp.WithNewBrowserContext(), chromedp.WithListener(tb.listen))
	t.Cleanup(cancel)
	ctx, cancelT := context.WithTimeout(ctx, 4*time.Minute)
	t.Cleanup(cancelT)
	tb.ctx = ctx
	require.NoError(t, chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900)))
	return tb
}

func inPreview(url string) bool {
	return strings.Contains(url, "/preview") || strings.Contains(url, "template-preview")
}

func (tb *tab) listen(ev any) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError {
			var parts []string
			for _, a := range ev.Args {
				parts = append(parts, string(a.Value)+a.Description)
			}
			tb.problems = append(tb.problems, "console.error: "+strings.Join(parts, " "))
		}
	case *runtime.EventExceptionThrown:
		tb.problems = append(tb.problems, "exception: "+ev.ExceptionDetails.Text+" "+ev.ExceptionDetails.URL)
	case *log.EventEntryAdded:
		if ev.Entry.Level != log.EntryLevelError || ev.Entry.Source == log.EntrySourceNetwork {
			return // network errors are counted below, with their status
		}
		if inPreview(ev.Entry.URL) || strings.Contains(ev.Entry.Text, "sandboxed") {
			tb.previewBlocked++ // the stored mail's script, blocked: expected
			return
		}
		tb.problems = append(tb.problems, "console: "+ev.Entry.Text+" "+ev.Entry.URL)
	case *network.EventRequestWillBeSent:
		tb.requests[ev.RequestID] = ev.DocumentURL
	case *network.EventResponseReceived:
		if ev.Response.Status >= 400 && !tb.allowed[int(ev.Response.Status)] {
			tb.problems = append(tb.problems, fmt.Sprintf("HTTP %d %s", ev.Response.Status, ev.Response.URL))
		}
	case *network.EventLoadingFailed:
		if inPreview(tb.requests[ev.RequestID]) {
			tb.previewBlocked++ // a remote load of the mail, blocked by the preview's policy
			return
		}
		if ev.Canceled || ev.ErrorText == "net::ERR_ABORTED" {
			return // a poll cut short by navigating away
		}
		tb.problems = append(tb.problems, "request failed: "+ev.ErrorText+" "+string(ev.BlockedReason))
	}
}

func (tb *tab) allow(status int) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	tb.allowed[status] = true
}

func (tb *tab) do(steps ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	require.NoError(tb.t, chromedp.Do(tb.ctx, steps...))
}

func (tb *tab) eval(js string) string {
	tb.t.Helper()
	s, err := chromedp.Run(tb.ctx, chromedp.Evaluate[string](js))
	require.NoError(tb.t, err, js)
	return s
}

func (tb *tab) text(sel string) string {
	tb.t.Helper()
	s, err := chromedp.Run(tb.ctx, chromedp.Text(chromedp.CSS(sel)))
	require.NoError(tb.t, err, sel)
	return s
}

// visit opens a dashboard path and checks the page.
func (tb *tab) visit(path, name string) {
	tb.t.Helper()
	tb.do(chromedp.Navigate(tb.base+path), chromedp.WaitReady(chromedp.CSS("body")))
	tb.check(name)
}

// check asserts that nothing went wrong so far and that the page fits a 375 px wide
// screen (no sideways scrolling of the page; wide tables scroll in their own box), and
// takes the screenshot.
func (tb *tab) check(name string) {
	tb.t.Helper()
	tb.do(chromedp.WaitReady(chromedp.CSS("body")))
	tb.mu.Lock()
	problems := append([]string(nil), tb.problems...)
	tb.mu.Unlock()
	require.Empty(tb.t, problems, "on %s", name)
	tb.do(chromedp.EmulateViewport(375, 800))
	width, err := chromedp.Run(tb.ctx, chromedp.Evaluate[int]("document.documentElement.scrollWidth"))
	require.NoError(tb.t, err)
	require.LessOrEqual(tb.t, width, 375, "%s is wider than a 375 px screen", name)
	tb.do(chromedp.EmulateViewport(1280, 900))
	if tb.shot != "" && name != "" {
		png, err := chromedp.Run(tb.ctx, chromedp.FullScreenshot(100))
		require.NoError(tb.t, err)
		dir := os.Getenv("SENDOKA_SCREENSHOTS")
		require.NoError(tb.t, os.MkdirAll(dir, 0o755))
		require.NoError(tb.t, os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644))
	}
}

// setInput sets a field's value as typing would, firing input and change.
func (tb *tab) setInput(sel, value string) {
	tb.t.Helper()
	tb.do(chromedp.SetValue(chromedp.CSS(sel), value),
		chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => { const e = document.querySelector(%q);
			e.dispatchEvent(new Event("input", {bubbles: true})); e.dispatchEvent(new Event("change", {bubbles: true})); })()`, sel)))
}

// waitText waits until the element's text contains want, across page loads.
func (tb *tab) waitText(sel, want string) {
	tb.t.Helper()
	js := fmt.Sprintf(`(() => { const e = document.querySelector(%q); return !!e && e.textContent.includes(%q); })()`, sel, want)
	pollUntil(tb.t, 45*time.Second, fmt.Sprintf("%q in %s", want, sel), func() bool {
		ok, err := chromedp.Run(tb.ctx, chromedp.Evaluate[bool](js))
		return err == nil && ok // an error: the page is being replaced
	})
}

// login signs in through the form.
func (tb *tab) login(email, password string) {
	tb.t.Helper()
	tb.visit("/login", "")
	tb.do(chromedp.SendKeys(chromedp.CSS(`input[name=email]`), email),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), password),
		chromedp.Click(chromedp.CSS(`form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`nav.main`)))
}

// frameText is the text of a sandboxed preview frame's body, read through DevTools (the
// page's own scripts cannot reach into it).
func (tb *tab) frameText(sel string) string {
	tb.t.Helper()
	nodes, err := chromedp.Run(tb.ctx, chromedp.Nodes(chromedp.CSS(sel)))
	require.NoError(tb.t, err)
	require.NotEmpty(tb.t, nodes)
	if nodes[0].ContentDocument == nil {
		return ""
	}
	s, err := chromedp.Run(tb.ctx, chromedp.Text(chromedp.CSS("body"), chromedp.FromNode(nodes[0].ContentDocument)))
	if err != nil {
		return ""
	}
	return s
}

func (tb *tab) waitFrameText(sel, want string) {
	tb.t.Helper()
	pollUntil(tb.t, 45*time.Second, fmt.Sprintf("%q in the frame %s", want, sel), func() bool {
		return strings.Contains(tb.frameText(sel), want)
	})
}
