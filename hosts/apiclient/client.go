// Package apiclient is a Go client for Sendoka's HTTP API (hosts/httpapi): one method per
// operation of the OpenAPI document, taking the core's request types (sendoka.EmailRequest,
// sendoka.SMSRequest, ...) and returning the API's response types (httpapi.EmailMessage,
// httpapi.Template, ...).
//
//	c, err := apiclient.New("https://api.sendoka.com", os.Getenv("SENDOKA_API_KEY"), nil)
//	sent, err := c.SendEmail(ctx, &sendoka.EmailRequest{
//		From: "you@sandbox.sendoka.com", To: []string{"user@example.com"},
//		Subject: "Hello from Sendoka", HTML: "<p>It works.</p>",
//	})
//
// # Errors
//
// A refused request returns the *sendoka.Error the core would have returned in-process,
// decoded from the API's error envelope: Code, Message, Fields (for VALIDATION_ERROR) and
// RetryAfterSeconds (from Retry-After). Its Err is a *ResponseError with the HTTP status and
// the request id to quote in a support ticket. A server that cannot be reached, after the
// retries, is CodeUnavailable.
//
// # Retries and idempotency
//
// Every POST that creates something carries an Idempotency-Key: a random one per method
// call (or the one given with WithIdempotencyKey), sent again unchanged on each retry, so a
// retry after a lost answer gets the first answer instead of a second message.
//
// A call is retried, up to Options.MaxAttempts in all, when the answer is 429 (the request
// was refused before it did anything), or 409 IDEMPOTENCY_IN_FLIGHT; and, when the call is
// safe to repeat, after a 5xx or a connection error. Safe to repeat are GET, PATCH and
// DELETE, the POSTs that carry an Idempotency-Key, and the POSTs that only look something up
// again (verify a domain, provision a number). The other POSTs (create an API key or a
// webhook, rotate a secret, send a test event, replay deliveries) would act twice, so
// they are not retried after a 5xx. The wait is Retry-After when the server sends one (a
// longer one than Options.MaxRetryAfter is returned as the error, not waited for), and an
// exponential backoff with jitter otherwise; the context's end stops it.
package apiclient

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/sendoka/sendoka/sendoka"
)

// Defaults of Options.
const (
	DefaultMaxAttempts   = 4
	DefaultMinBackoff    = 500 * time.Millisecond
	DefaultMaxBackoff    = 10 * time.Second
	DefaultMaxRetryAfter = time.Minute
	DefaultTimeout       = 30 * time.Second
)

// Options tunes a Client. The zero value (or nil) is a working configuration.
type Options struct {
	// HTTPClient sends the requests. Default: an http.Client with a DefaultTimeout (30 s)
	// timeout per attempt.
	HTTPClient *http.Client
	// MaxAttempts bounds the attempts of one call, the first included; 1 turns retries off.
	// Default: DefaultMaxAttempts (4).
	MaxAttempts int
	// MinBackoff and MaxBackoff bound the wait between attempts when the server names none:
	// MinBackoff doubled at each retry, at most MaxBackoff, with random jitter down to half.
	// Default: DefaultMinBackoff (500 ms) and DefaultMaxBackoff (10 s).
	MinBackoff, MaxBackoff time.Duration
	// MaxRetryAfter is the longest Retry-After waited for; a longer one (a monthly quota,
	// say) is returned at once as the error. Default: DefaultMaxRetryAfter (1 min).
	MaxRetryAfter time.Duration
	// Sleep waits d, or until ctx ends (then it returns ctx.Err()). Tests pass one that
	// records d and returns at once. Default: a timer.
	Sleep func(ctx context.Context, d time.Duration) error
	// Now is the clock that reads a Retry-After given as an HTTP date. Default: time.Now.
	Now func() time.Time
	// NewIdempotencyKey makes the Idempotency-Key of a create. Default: "sdk_" and 26 random
	// base32 characters (128 bits).
	NewIdempotencyKey func() string
	// UserAgent is sent as User-Agent. Default: "sendoka-go-apiclient".
	UserAgent string
}

func (o *Options) withDefaults() Options {
	var out Options
	if o != nil {
		out = *o
	}
	if out.HTTPClient == nil {
		out.HTTPClient = &http.Client{Timeout: DefaultTimeout}
	}
	if out.MaxAttempts <= 0 {
		out.MaxAttempts = DefaultMaxAttempts
	}
	if out.MinBackoff <= 0 {
		out.MinBackoff = DefaultMinBackoff
	}
	if out.MaxBackoff <= 0 {
		out.MaxBackoff = DefaultMaxBackoff
	}
	if out.MaxRetryAfter <= 0 {
		out.MaxRetryAfter = DefaultMaxRetryAfter
	}
	if out.Sleep == nil {
		out.Sleep = sleep
	}
	if out.Now == nil {
		out.Now = time.Now
	}
	if out.NewIdempotencyKey == nil {
		out.NewIdempotencyKey = newIdempotencyKey
	}
	if out.UserAgent == "" {
		out.UserAgent = "sendoka-go-apiclient"
	}
	return out
}

// Client calls one Sendoka server with one API key. It is safe for concurrent use.
type Client struct {
	base   *url.URL
	apiKey string
	opts   Options
	// tenantID is added as ?tenant_id= to the operations that take it (ForTenant).
	tenantID string
}

var _ sendoka.MessageSender = (*Client)(nil)

// New returns a client of the API served at baseURL (the origin, and the prefix the API is
// mounted under if any: "https://api.sendoka.com", "http://localhost:8080/mail"), calling it
// with apiKey (sok_live_… or sok_test_…). opts may be nil.
func New(baseURL, apiKey string, opts *Options) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("apiclient: base URL %q must be an absolute http(s) URL", baseURL)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath, u.RawQuery, u.Fragment = "", "", ""
	return &Client{base: u, apiKey: apiKey, opts: opts.withDefaults()}, nil
}

// ForTenant returns a copy of c that acts on one tenant's objects (platform mode): the
// operations that take ?tenant_id= (lists, templates, webhooks) get tenantID unless the call
// names one itself. A platform-root key needs it to reach a tenant's templates and webhooks;
// a tenant-bound key may only name its own tenant.
func (c *Client) ForTenant(tenantID string) *Client {
	cp := *c
	cp.tenantID = tenantID
	return &cp
}

// ResponseError is the HTTP side of an error answer: the Err of the *sendoka.Error a call
// returns.
type ResponseError struct {
	StatusCode int
	// Type is the envelope's coarse class (validation_error, rate_limit_error...).
	Type string
	// RequestID is the request's id (req_…): quote it in support tickets.
	RequestID string
}

// Error implements error.
func (e *ResponseError) Error() string {
	return fmt.Sprintf("HTTP %d (request %s)", e.StatusCode, e.RequestID)
}

type idemKey struct{}

// WithIdempotencyKey returns a context whose create call (a send, a batch, a template...)
// uses key as its Idempotency-Key instead of a random one: a key derived from your own event
// ("welcome:user_12345") makes the call safe to repeat across processes too.
func WithIdempotencyKey(ctx context.Context, key string) context.Context {
	return context.WithValue(ctx, idemKey{}, key)
}

// safety says when a call may be repeated.
type safety int

const (
	// byMethod: GET, PATCH and DELETE are safe, a POST is not.
	byMethod safety = iota
	// keyed: a create that carries an Idempotency-Key, so safe.
	keyed
	// repeatable: a POST that does the same thing twice (a lookup run again).
	repeatable
)

// call is one operation call.
type call struct {
	method string
	// path is the path below the base URL, its parameters already escaped.
	path  string
	query url.Values
	// tenantQuery: the operation takes ?tenant_id= (see ForTenant).
	tenantQuery bool
	body        any
	safety      safety
	// once: a single attempt (health probes answer now or not at all).
	once bool
}

// do runs a call with its retries and decodes a 2xx answer into out (unless out is nil).
func (c *Client) do(ctx context.Context, cl call, out any) error {
	var body []byte
	if cl.body != nil {
		var err error
		if body, err = json.Marshal(cl.body); err != nil {
			return fmt.Errorf("apiclient: encoding the request: %w", err)
		}
	}
	if strings.Contains(cl.path, "//") || strings.HasSuffix(cl.path, "/") {
		return &sendoka.Error{Code: sendoka.CodeValidation, Message: "an id is required",
			Fields: []sendoka.FieldError{{Path: []any{"id"}, Code: sendoka.FieldRequired, Message: "Required"}}}
	}
	q := cl.query
	if cl.tenantQuery && c.tenantID != "" && q.Get("tenant_id") == "" {
		if q == nil {
			q = url.Values{}
		}
		q.Set("tenant_id", c.tenantID)
	}
	u := c.base.String() + cl.path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	idem := ""
	if cl.safety == keyed {
		idem, _ = ctx.Value(idemKey{}).(string)
		if idem == "" {
			idem = c.opts.NewIdempotencyKey()
		}
	}
	safe := cl.safety != byMethod || cl.method != http.MethodPost

	for attempt := 1; ; attempt++ {
		res, err := c.attempt(ctx, cl.method, u, body, idem)
		var wait time.Duration
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return fmt.Errorf("apiclient: %s %s: %w", cl.method, cl.path, ctx.Err())
			}
			err = &sendoka.Error{Code: sendoka.CodeUnavailable, Message: "the Sendoka API could not be reached", Err: err}
			if !safe {
				return err
			}
		case res.status >= 200 && res.status < 300:
			if out == nil || len(res.body) == 0 {
				return nil
			}
			if raw, ok := out.(*[]byte); ok { // a body that is not JSON (a .eml)
				*raw = res.body
				return nil
			}
			if err := json.Unmarshal(res.body, out); err != nil {
				return fmt.Errorf("apiclient: %s %s: decoding the answer: %w", cl.method, cl.path, err)
			}
			return nil
		default:
			e := decodeError(res, c.opts.Now())
			err = e
			if !retryable(res.status, e.Code, safe) {
				return e
			}
			if wait = res.retryAfter; wait > c.opts.MaxRetryAfter {
				return e
			}
		}
		if attempt >= c.opts.MaxAttempts || cl.once {
			return err
		}
		if wait == 0 {
			wait = c.backoff(attempt)
		}
		if serr := c.opts.Sleep(ctx, wait); serr != nil {
			return fmt.Errorf("apiclient: %s %s: %w (last error: %v)", cl.method, cl.path, serr, err)
		}
	}
}

// retryable reports whether an error answer may be tried again.
func retryable(status int, code sendoka.Code, safe bool) bool {
	switch {
	case status == http.StatusTooManyRequests:
		return true
	case code == sendoka.CodeIdempotencyInFlight:
		return true
	case status >= 500:
		return safe
	}
	return false
}

// backoff is the wait after the attempt-th attempt when the server named none.
func (c *Client) backoff(attempt int) time.Duration {
	d := c.opts.MinBackoff << min(attempt-1, 20)
	if d > c.opts.MaxBackoff || d <= 0 {
		d = c.opts.MaxBackoff
	}
	return d/2 + rand.N(d/2+1)
}

// response is one attempt's answer.
type response struct {
	status     int
	header     http.Header
	body       []byte
	retryAfter time.Duration
}

// maxAnswer bounds the answer read: far more than any page of the API.
const maxAnswer = 64 << 20

func (c *Client) attempt(ctx context.Context, method, u string, body []byte, idem string) (*response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, err
	}
	h := req.Header
	h.Set("Accept", "application/json")
	h.Set("User-Agent", c.opts.UserAgent)
	if c.apiKey != "" {
		h.Set("Authorization", "Bearer "+c.apiKey)
	}
	if body != nil {
		h.Set("Content-Type", "application/json")
	}
	if idem != "" {
		h.Set("Idempotency-Key", idem)
	}
	res, err := c.opts.HTTPClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, maxAnswer))
	if err != nil {
		return nil, err
	}
	out := &response{status: res.StatusCode, header: res.Header, body: raw}
	out.retryAfter = parseRetryAfter(res.Header.Get("Retry-After"), c.opts.Now())
	return out, nil
}

// parseRetryAfter reads Retry-After: seconds, or an HTTP date; 0 when absent or unreadable.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var secs int64
	if _, err := fmt.Sscanf(v, "%d", &secs); err == nil && fmt.Sprint(secs) == v {
		if secs < 0 {
			return 0
		}
		return time.Duration(min(secs, 1<<30)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func newIdempotencyKey() string {
	return "sdk_" + crand.Text() // 128 random bits in base32
}
