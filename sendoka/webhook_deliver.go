package sendoka

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"
)

// WebhookDeliveryStatus is where a delivery is.
type WebhookDeliveryStatus string

// Delivery statuses.
const (
	WebhookPending   WebhookDeliveryStatus = "pending"   // waiting for its first or next attempt
	WebhookSucceeded WebhookDeliveryStatus = "succeeded" // an attempt got a 2xx
	WebhookFailed    WebhookDeliveryStatus = "failed"    // every attempt failed, or the endpoint is gone
)

// WebhookDelivery is one event on its way to one endpoint. Its id is the
// X-Sendoka-Delivery-Id (and webhook-id) of every attempt.
type WebhookDelivery struct {
	ID         string
	OrgID      string
	TenantID   string // the endpoint's namespace
	EndpointID string
	EventID    string // "" for webhook.test
	EventType  EventType
	MessageID  string // "" for webhook.test
	// Payload is the body every attempt sends: built at the first attempt from the event and
	// its message, then kept, so retries and replays send the same bytes.
	Payload     []byte
	Status      WebhookDeliveryStatus
	Attempts    []WebhookAttempt
	NextRetryAt *time.Time
	// ReplayOf is the delivery this one replays, or "".
	ReplayOf  string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// WebhookAttempt is one POST of a delivery.
type WebhookAttempt struct {
	At time.Time `json:"at"`
	// StatusCode is the endpoint's answer; 0 when there was none (timeout, refused).
	StatusCode int   `json:"status_code"`
	LatencyMS  int64 `json:"latency_ms"`
	// Response is the start of the answer's body, at most MaxWebhookResponseSnippet bytes.
	Response string `json:"response,omitempty"`
	// Error says why there was no answer.
	Error string `json:"error,omitempty"`
}

// MaxWebhookResponseSnippet bounds the part of an endpoint's answer a delivery keeps.
const MaxWebhookResponseSnippet = 1024

// JobDeliverWebhook POSTs one webhook delivery (Client.DeliverWebhook). SubjectID is the
// delivery id.
const JobDeliverWebhook JobKind = "deliver_webhook"

// DefaultWebhookRetryDelays are the docs' waits before each retry: a delivery is tried at
// once, then retried after each of these, six attempts in all (the docs' "5 attempts" are
// the retries, one per delay).
var DefaultWebhookRetryDelays = []time.Duration{time.Second, 5 * time.Second, 25 * time.Second, 125 * time.Second, 625 * time.Second}

// WebhookConfig tunes outgoing webhooks. Every zero field has the default it names.
type WebhookConfig struct {
	// AllowInsecure allows plain http:// URLs and connections to loopback addresses, for
	// development (SENDOKA_ALLOW_INSECURE_WEBHOOKS). Private and link-local addresses stay
	// refused. Default: false.
	AllowInsecure bool
	// Timeout bounds one attempt, from connecting to the end of the answer's headers and
	// snippet. Default: 10 s, as the docs promise.
	Timeout time.Duration
	// RetryDelays are the waits before each retry. Default: DefaultWebhookRetryDelays.
	RetryDelays []time.Duration
	// MaxConcurrentPerEndpoint bounds the attempts to one endpoint this process makes at
	// once; a delivery that finds them all busy is put back for a moment, so a slow
	// endpoint never takes every webhook worker. Default: 16.
	MaxConcurrentPerEndpoint int
	// DisableAfter disables an endpoint whose every attempt has failed for this long.
	// Default: 72 h.
	DisableAfter time.Duration
	// EndpointCacheTTL bounds how long recording an event trusts the cached list of
	// subscribed endpoints. Default: DefaultWebhookEndpointCacheTTL (1 s).
	EndpointCacheTTL time.Duration
}

func (cfg WebhookConfig) withDefaults() WebhookConfig {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if len(cfg.RetryDelays) == 0 {
		cfg.RetryDelays = DefaultWebhookRetryDelays
	}
	if cfg.MaxConcurrentPerEndpoint <= 0 {
		cfg.MaxConcurrentPerEndpoint = 16
	}
	if cfg.DisableAfter <= 0 {
		cfg.DisableAfter = 72 * time.Hour
	}
	if cfg.EndpointCacheTTL <= 0 {
		cfg.EndpointCacheTTL = DefaultWebhookEndpointCacheTTL
	}
	return cfg
}

// webhookRuntime is the Client's webhook machinery.
type webhookRuntime struct {
	cfg       WebhookConfig
	endpoints endpointCache
	http      *http.Client
	mu        sync.Mutex
	slots     map[string]chan struct{} // per endpoint: a token per attempt in flight
	trips     webhookTrips
}

func newWebhookRuntime(cfg WebhookConfig) *webhookRuntime {
	cfg = cfg.withDefaults()
	w := &webhookRuntime{cfg: cfg, endpoints: endpointCache{ttl: cfg.EndpointCacheTTL}, slots: map[string]chan struct{}{}}
	w.setControl(webhookDialControl(cfg.AllowInsecure))
	return w
}

func (w *webhookRuntime) setControl(control func(network, address string, c syscall.RawConn) error) {
	w.http = newWebhookHTTPClient(control, w.cfg.Timeout, w.cfg.MaxConcurrentPerEndpoint)
}

// acquire takes one of an endpoint's attempt slots, waiting up to endpointSlotWait for one
// to free up, and reports false when none did (or ctx ended).
func (w *webhookRuntime) acquire(ctx context.Context, endpointID string) bool {
	w.mu.Lock()
	sem, ok := w.slots[endpointID]
	if !ok {
		sem = make(chan struct{}, w.cfg.MaxConcurrentPerEndpoint)
		w.slots[endpointID] = sem
	}
	w.mu.Unlock()
	select {
	case sem <- struct{}{}:
		return true
	default:
	}
	t := time.NewTimer(endpointSlotWait)
	defer t.Stop()
	select {
	case sem <- struct{}{}:
		return true
	case <-t.C:
	case <-ctx.Done():
	}
	return false
}

func (w *webhookRuntime) release(endpointID string) {
	w.mu.Lock()
	sem := w.slots[endpointID]
	w.mu.Unlock()
	<-sem
}

// endpointSlotWait is how long a delivery waits for a busy endpoint's slot before it is put
// back (endpointBusySnooze): short, so a worker never waits long on one endpoint while
// others' deliveries queue, and long enough that a busy fast endpoint's deliveries take
// the next free slot instead of going round the queue.
const endpointSlotWait = 100 * time.Millisecond

// endpointBusySnooze is how long a delivery whose endpoint has every slot busy waits.
const endpointBusySnooze = 250 * time.Millisecond

// DeliverWebhook makes the next attempt of a delivery: the queue's JobDeliverWebhook calls
// it. A delivery no longer pending is left alone (the job ran twice). A failed attempt
// with retries left returns CodeProviderTransient with Retry set to the wait before the
// next (the queue snoozes the job for it); otherwise the outcome is recorded and nil
// returned. A 410 Gone fails the delivery and disables the endpoint.
func (c *Client) DeliverWebhook(ctx context.Context, deliveryID string) error {
	d, e, err := c.readAttempt(ctx, deliveryID)
	if err != nil {
		return AsError(err)
	}
	if d.Status != WebhookPending {
		return nil
	}
	now := c.now()
	if !e.Enabled && d.EventType != WebhookEventTest {
		d.Status, d.NextRetryAt, d.UpdatedAt = WebhookFailed, nil, now
		d.Attempts = append(d.Attempts, WebhookAttempt{At: now, Error: "endpoint disabled"})
		return c.writeAttempt(ctx, d, nil)
	}
	if d.Payload == nil {
		if d.Payload, err = c.webhookPayload(ctx, d); err != nil {
			return err
		}
	}
	if !c.webhooks.acquire(ctx, e.ID) {
		return &Error{Code: CodeConflict, Message: "every connection to the endpoint is busy", Retry: endpointBusySnooze}
	}
	a, retryAfter := c.postWebhook(ctx, e, d)
	c.webhooks.release(e.ID)
	return c.recordWebhookAttempt(ctx, e, d, a, retryAfter)
}

// postWebhook makes one signed POST of d to e.
func (c *Client) postWebhook(ctx context.Context, e *WebhookEndpoint, d *WebhookDelivery) (WebhookAttempt, time.Duration) {
	start := c.clock.Now()
	a := WebhookAttempt{At: start.UTC().Truncate(time.Microsecond)}
	ctx, cancel := context.WithTimeout(ctx, c.webhooks.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.URL, bytes.NewReader(d.Payload))
	if err != nil {
		a.Error = "invalid URL"
		return a, 0
	}
	secrets := e.signingSecrets(start)
	h := req.Header
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "Sendoka-Webhooks/1")
	h.Set(HeaderWebhookEvent, string(d.EventType))
	h.Set(HeaderWebhookDeliveryID, d.ID)
	h.Set(HeaderWebhookSignature, SignWebhook(d.Payload, start, secrets...))
	h.Set(HeaderStandardID, d.ID)
	h.Set(HeaderStandardTimestamp, strconv.FormatInt(start.Unix(), 10))
	h.Set(HeaderStandardSignature, standardWebhookSignature(d.ID, start, d.Payload, secrets...))
	res, err := c.webhooks.http.Do(req)
	a.LatencyMS = c.clock.Now().Sub(start).Milliseconds()
	if err != nil {
		a.Error = webhookErrorText(err)
		return a, 0
	}
	defer res.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(res.Body, MaxWebhookResponseSnippet))
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10)) // lets the connection be reused
	a.StatusCode = res.StatusCode
	a.Response = strings.ToValidUTF8(string(snippet), "\uFFFD")
	for len(a.Response) > MaxWebhookResponseSnippet { // the replacement runes can lengthen it
		_, size := utf8.DecodeLastRuneInString(a.Response)
		a.Response = a.Response[:len(a.Response)-size]
	}
	var retryAfter time.Duration
	if res.StatusCode == http.StatusTooManyRequests || res.StatusCode == http.StatusServiceUnavailable {
		retryAfter = parseRetryAfter(res.Header.Get("Retry-After"), start)
	}
	return a, retryAfter
}

// webhookErrorText says why an attempt got no answer, without the URL (which the log
// already names).
func webhookErrorText(err error) string {
	switch {
	case errors.Is(err, ErrWebhookAddressRefused):
		return "refused: the endpoint resolves to an address webhooks never reach (private, loopback, link-local or reserved)"
	case errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "Client.Timeout"):
		return "no answer within the timeout"
	}
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) && ue.Unwrap() != nil {
		err = ue.Unwrap()
	}
	return err.Error()
}

// parseRetryAfter reads a Retry-After header: seconds, or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// recordWebhookAttempt appends a to d, settles d's status and the endpoint's health, in
// one transaction (shared with other workers' attempts: writeAttempt), and tells the
// queue when to try again.
func (c *Client) recordWebhookAttempt(ctx context.Context, e *WebhookEndpoint, d *WebhookDelivery, a WebhookAttempt, retryAfter time.Duration) error {
	now := c.now()
	d.Attempts = append(d.Attempts, a)
	d.UpdatedAt, d.NextRetryAt = now, nil
	ok := a.StatusCode >= 200 && a.StatusCode < 300
	gone := a.StatusCode == http.StatusGone
	delays := c.webhooks.cfg.RetryDelays
	took := time.Duration(a.LatencyMS) * time.Millisecond
	outcome := WebhookFailure
	switch {
	case ok:
		outcome = WebhookSuccess
	case gone || len(d.Attempts) > len(delays):
		outcome = WebhookDropped
	}
	c.ObserveWebhookAttempt(outcome, took)
	c.log.LogAttrs(ctx, slog.LevelInfo, "webhook attempt", slog.String("delivery_id", d.ID),
		slog.String("endpoint_id", e.ID), slog.String("event", string(d.EventType)), slog.Int("attempt", len(d.Attempts)),
		slog.Int("status_code", a.StatusCode), slog.Int64("latency_ms", a.LatencyMS), slog.String("outcome", outcome))
	var retry time.Duration
	switch {
	case ok:
		d.Status = WebhookSucceeded
	case gone || len(d.Attempts) > len(delays):
		d.Status = WebhookFailed
	default:
		// Retry-After is honoured within the schedule: never sooner than the schedule's
		// wait, never later than its longest.
		retry = max(delays[len(d.Attempts)-1], min(retryAfter, delays[len(delays)-1]))
		at := now.Add(retry)
		d.NextRetryAt = &at
	}
	health := false
	switch {
	case ok:
		health = e.FailingSince != nil
		e.FailingSince = nil
	case gone:
		health = true
		e.Enabled, e.DisabledReason = false, "the endpoint answered 410 Gone"
	case e.FailingSince == nil:
		health = true
		e.FailingSince = &now
	case e.Enabled && now.Sub(*e.FailingSince) >= c.webhooks.cfg.DisableAfter:
		health = true
		e.Enabled = false
		e.DisabledReason = fmt.Sprintf("every delivery failed for %s since %s", webhookDuration(c.webhooks.cfg.DisableAfter), e.FailingSince.Format(time.RFC3339))
	}
	var healthOf *WebhookEndpoint
	if health {
		healthOf = e
	}
	err := c.writeAttempt(ctx, d, healthOf)
	if health && !e.Enabled {
		c.webhooks.endpoints.forgetOrg(e.OrgID)
	}
	if err != nil || d.Status != WebhookPending {
		return err
	}
	why := a.Error
	if why == "" {
		why = "HTTP " + strconv.Itoa(a.StatusCode)
	}
	return &Error{Code: CodeProviderTransient, Message: "webhook attempt failed: " + why, Retry: retry}
}

func webhookDuration(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%d days", d/(24*time.Hour))
	}
	return d.String()
}

// webhookTimeLayout is the envelope's timestamp: RFC 3339 in UTC with milliseconds, as the
// docs show.
const webhookTimeLayout = "2006-01-02T15:04:05.000Z"

// webhookEnvelope is the body of every delivery.
type webhookEnvelope struct {
	Event     EventType      `json:"event"`
	Data      map[string]any `json:"data"`
	Timestamp string         `json:"timestamp"`
}

// webhookPayload builds a delivery's body from its event and message: the docs' envelope,
// with data carrying the recipients, tags and metadata so that receivers need no second
// call.
func (c *Client) webhookPayload(ctx context.Context, d *WebhookDelivery) ([]byte, error) {
	scope := Scope{OrgID: d.OrgID}
	m, err := c.store.GetMessage(ctx, scope, d.MessageID)
	if err != nil {
		return nil, AsError(err)
	}
	events, err := c.store.ListEvents(ctx, scope, d.MessageID)
	if err != nil {
		return nil, AsError(err)
	}
	var ev *Event
	for i := range events {
		if events[i].ID == d.EventID {
			ev = &events[i]
		}
	}
	if ev == nil {
		return nil, NotFound("event")
	}
	return json.Marshal(webhookEnvelope{Event: ev.Type, Data: webhookData(m, ev), Timestamp: ev.CreatedAt.UTC().Format(webhookTimeLayout)})
}

func webhookData(m *Message, ev *Event) map[string]any {
	data := map[string]any{}
	for k, v := range ev.Data {
		data[k] = v
	}
	status := ev.Status
	if status == "" {
		status = m.Status
	}
	tags := m.Tags
	if tags == nil {
		tags = []string{}
	}
	metadata := m.Metadata
	if metadata == nil {
		metadata = map[string]any{}
	}
	data["message_id"] = m.ID
	data["channel"] = m.Channel
	data["status"] = status
	data["event_id"] = ev.ID
	data["mode"] = m.Mode
	data["tags"] = tags
	data["metadata"] = metadata
	if m.TenantID != "" {
		data["tenant_id"] = m.TenantID
	}
	switch {
	case m.Email != nil:
		data["from"] = m.Email.From
		data["to"] = m.Email.To
		if len(m.Email.Cc) > 0 {
			data["cc"] = m.Email.Cc
		}
		if len(m.Email.Bcc) > 0 {
			data["bcc"] = m.Email.Bcc
		}
		data["subject"] = m.Email.Subject
	case m.SMS != nil:
		data["from"] = m.SMS.From
		data["to"] = m.SMS.To
	}
	if ev.Recipient != "" {
		data["recipient"] = ev.Recipient
	}
	if ev.Diagnostic != nil {
		data["diagnostic"] = ev.Diagnostic
	}
	return data
}

// SendTestWebhook queues a signed webhook.test event to an endpoint (even a disabled one)
// and returns its delivery.
func (c *Client) SendTestWebhook(ctx context.Context, p *Principal, endpointID string) (*WebhookDelivery, error) {
	if err := p.require(PermissionWebhooksWrite); err != nil {
		return nil, err
	}
	e, err := c.getWebhookEndpoint(ctx, p, endpointID)
	if err != nil {
		return nil, err
	}
	now := c.now()
	body, err := json.Marshal(webhookEnvelope{Event: WebhookEventTest, Timestamp: now.Format(webhookTimeLayout),
		Data: map[string]any{"webhook_id": e.ID, "message": "This is a test event from Sendoka."}})
	if err != nil {
		return nil, Internal(err)
	}
	d := &WebhookDelivery{ID: NewID(PrefixWebhookDelivery, now), OrgID: e.OrgID, TenantID: e.TenantID, EndpointID: e.ID,
		EventType: WebhookEventTest, Payload: body, Status: WebhookPending, CreatedAt: now, UpdatedAt: now}
	err = c.inTx(ctx, func(ctx context.Context, tx Tx) error {
		return c.insertWebhookDeliveries(ctx, tx, []*WebhookDelivery{d})
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}

// WebhookDeliveryList is one page of an endpoint's deliveries.
type WebhookDeliveryList struct {
	Deliveries []*WebhookDelivery
	HasMore    bool
	NextCursor string
}

// ListWebhookDeliveries returns a page of an endpoint's delivery log, newest first.
func (c *Client) ListWebhookDeliveries(ctx context.Context, p *Principal, endpointID string, lp ListParams) (*WebhookDeliveryList, error) {
	if err := p.require(PermissionWebhooksRead); err != nil {
		return nil, err
	}
	if _, err := c.getWebhookEndpoint(ctx, p, endpointID); err != nil {
		return nil, err
	}
	q, err := pageQuery(lp)
	if err != nil {
		return nil, err
	}
	page, err := c.store.ListWebhookDeliveries(ctx, endpointID, q)
	if err != nil {
		return nil, AsError(err)
	}
	out := &WebhookDeliveryList{Deliveries: page.Deliveries, HasMore: page.HasMore}
	if page.HasMore && len(page.Deliveries) > 0 {
		last := page.Deliveries[len(page.Deliveries)-1]
		out.NextCursor = EncodeCursor(Cursor{CreatedAt: last.CreatedAt, ID: last.ID})
	}
	return out, nil
}

// replayOf is a new pending delivery of what d delivered.
func (c *Client) replayOf(d *WebhookDelivery, now time.Time) *WebhookDelivery {
	return &WebhookDelivery{ID: NewID(PrefixWebhookDelivery, now), OrgID: d.OrgID, TenantID: d.TenantID,
		EndpointID: d.EndpointID, EventID: d.EventID, EventType: d.EventType, MessageID: d.MessageID,
		Payload: d.Payload, Status: WebhookPending, ReplayOf: d.ID, CreatedAt: now, UpdatedAt: now}
}

// ReplayWebhookDelivery sends a delivery of an endpoint again, as a new delivery (with its
// own id and attempts, ReplayOf naming the original) of the same body.
func (c *Client) ReplayWebhookDelivery(ctx context.Context, p *Principal, endpointID, deliveryID string) (*WebhookDelivery, error) {
	if err := p.require(PermissionWebhooksWrite); err != nil {
		return nil, err
	}
	if _, err := c.getWebhookEndpoint(ctx, p, endpointID); err != nil {
		return nil, err
	}
	if !plausibleID(deliveryID) {
		return nil, NotFound("webhook delivery")
	}
	d, err := c.store.GetWebhookDelivery(ctx, deliveryID)
	if err != nil {
		return nil, AsError(err)
	}
	if d.EndpointID != endpointID {
		return nil, NotFound("webhook delivery")
	}
	r := c.replayOf(d, c.now())
	if err := c.inTx(ctx, func(ctx context.Context, tx Tx) error {
		return c.insertWebhookDeliveries(ctx, tx, []*WebhookDelivery{r})
	}); err != nil {
		return nil, err
	}
	return r, nil
}

// MaxWebhookReplay bounds how many failed deliveries one replay request sends again.
const MaxWebhookReplay = 1000

// ReplayFailedWebhookDeliveries sends again, as new deliveries, the endpoint's failed
// deliveries created at or after since (at most MaxWebhookReplay, oldest first), and returns
// the new ones. A zero since is a validation error.
func (c *Client) ReplayFailedWebhookDeliveries(ctx context.Context, p *Principal, endpointID string, since time.Time) ([]*WebhookDelivery, error) {
	if err := p.require(PermissionWebhooksWrite); err != nil {
		return nil, err
	}
	if _, err := c.getWebhookEndpoint(ctx, p, endpointID); err != nil {
		return nil, err
	}
	if since.IsZero() {
		var v Validation
		v.Add(FieldRequired, "Required", "since")
		return nil, v.Err()
	}
	failed, err := c.store.FailedWebhookDeliveries(ctx, endpointID, since.UTC(), MaxWebhookReplay)
	if err != nil {
		return nil, AsError(err)
	}
	now := c.now()
	out := make([]*WebhookDelivery, len(failed))
	for i, d := range failed {
		out[i] = c.replayOf(d, now)
	}
	if err := c.inTx(ctx, func(ctx context.Context, tx Tx) error { return c.insertWebhookDeliveries(ctx, tx, out) }); err != nil {
		return nil, err
	}
	return out, nil
}
