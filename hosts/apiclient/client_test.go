package apiclient_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/hosts/apiclient"
	"github.com/sendoka/sendoka/hosts/httpapi"
	"github.com/sendoka/sendoka/sendoka"
	"github.com/sendoka/sendoka/sendoka/sendokatest"
	"github.com/sendoka/sendoka/storage/bunstore"
	"github.com/sendoka/sendoka/storage/bunstore/bunstoretest"
)

// bundle is a running Sendoka behind a real HTTP server, and a client of it whose waits
// are recorded instead of slept.
type bundle struct {
	env    *sendokatest.Env
	url    string
	client *apiclient.Client
	// attempts counts the requests that reached the server, by "METHOD path".
	attempts sync.Map
	mu       sync.Mutex
	slept    []time.Duration
}

// front, when set, sees every request before the API: it returns true when it answered.
type front func(w http.ResponseWriter, r *http.Request, api http.Handler) bool

type setupConfig struct {
	front front
	// dbURL is the database: "" for SQLite, or a Postgres URL.
	dbURL string
}

func setup(t *testing.T, cfg setupConfig) *bundle {
	t.Helper()
	env := sendokatest.New(t, &sendokatest.Options{DatabaseURL: cfg.dbURL,
		Inbound: sendoka.InboundConfig{Domains: []string{"in.example.com"}}})
	_, err := env.Client.CreatePhoneNumber(context.Background(), env.Live,
		&sendoka.PhoneNumberRequest{Kind: sendoka.SenderLongCode, PhoneNumber: "+15551234567", ISOCountry: "US"})
	require.NoError(t, err)
	b := &bundle{env: env}
	api := httpapi.New(env.Client, httpapi.Options{DatabaseTimeout: time.Minute})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := b.attempts.LoadOrStore(r.Method+" "+r.URL.Path, new(atomic.Int64))
		n.(*atomic.Int64).Add(1)
		if cfg.front != nil && cfg.front(w, r, api) {
			return
		}
		api.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	b.url = srv.URL
	b.client = b.newClient(t, env.LiveKey, nil)
	return b
}

// newClient is a client of the bundle's server whose Sleep records the wait.
func (b *bundle) newClient(t *testing.T, key string, opts *apiclient.Options) *apiclient.Client {
	t.Helper()
	o := apiclient.Options{}
	if opts != nil {
		o = *opts
	}
	o.Sleep = func(ctx context.Context, d time.Duration) error {
		b.mu.Lock()
		defer b.mu.Unlock()
		b.slept = append(b.slept, d)
		return ctx.Err()
	}
	c, err := apiclient.New(b.url, key, &o)
	require.NoError(t, err)
	return c
}

func (b *bundle) attemptsOf(method, path string) int64 {
	n, ok := b.attempts.Load(method + " " + path)
	if !ok {
		return 0
	}
	return n.(*atomic.Int64).Load()
}

func (b *bundle) sleeps() []time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]time.Duration(nil), b.slept...)
}

// eachDB runs fn on SQLite, and on Postgres when SENDOKA_TEST_DATABASE_URL is set (a fresh
// schema each, from bunstoretest).
func eachDB(t *testing.T, fn func(t *testing.T, dbURL string)) {
	for _, d := range bunstoretest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			dbURL := ""
			if d == bunstore.DialectPostgres {
				dbURL = bunstoretest.DSN(t, d)
			}
			fn(t, dbURL)
		})
	}
}

func welcome() *sendoka.EmailRequest {
	return &sendoka.EmailRequest{From: "you@sandbox.sendoka.com", To: []string{"user@example.com"},
		Subject: "Hello from Sendoka", HTML: "<p>It works.</p>"}
}

func code1234() *sendoka.SMSRequest {
	return &sendoka.SMSRequest{From: "+15551234567", To: "+15559876543", Body: "Your code is 1234"}
}

// TestSendGetList sends, reads and lists through the client, both channels, single and
// batch, and cancels a scheduled send.
func TestSendGetList(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, dbURL string) {
		b := setup(t, setupConfig{dbURL: dbURL})
		ctx := context.Background()
		c := b.client

		sent, err := c.SendEmail(ctx, welcome())
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(sent.ID, "msg_"), sent.ID)
		require.Equal(t, sendoka.ChannelEmail, sent.Channel)
		require.Equal(t, sendoka.StatusQueued, sent.Status)
		require.WithinDuration(t, time.Now(), sent.CreatedAt, time.Minute)

		got, err := c.GetEmail(ctx, sent.ID)
		require.NoError(t, err)
		require.Equal(t, sent.ID, got.ID)
		require.Equal(t, "Hello from Sendoka", got.Subject)
		require.Equal(t, []string{"user@example.com"}, got.To)
		require.NotEmpty(t, got.Events)

		list, err := c.ListEmails(ctx, sendoka.ListParams{Limit: 10})
		require.NoError(t, err)
		require.Len(t, list.Data, 1)
		require.Equal(t, sent.ID, list.Data[0].ID)
		require.False(t, list.HasMore)

		sms, err := c.SendSMS(ctx, code1234())
		require.NoError(t, err)
		gotSMS, err := c.GetSMS(ctx, sms.ID)
		require.NoError(t, err)
		require.Equal(t, "Your code is 1234", gotSMS.Body)
		smsList, err := c.ListSMS(ctx, sendoka.ListParams{})
		require.NoError(t, err)
		require.Len(t, smsList.Data, 1)

		// An SMS id is not an email.
		_, err = c.GetEmail(ctx, sms.ID)
		require.Equal(t, sendoka.CodeNotFound, sendoka.ErrorCode(err))

		bad := welcome()
		bad.To = []string{"not an address"}
		batch, err := c.SendEmailBatch(ctx, []*sendoka.EmailRequest{welcome(), bad})
		require.NoError(t, err)
		require.Equal(t, 2, batch.Total)
		require.Equal(t, 1, batch.Succeeded)
		require.Equal(t, 1, batch.Failed)
		require.NotNil(t, batch.Data[0].ID)
		require.Equal(t, "VALIDATION_ERROR", batch.Data[1].Error.Code)

		bulk, err := c.SendSMSBulk(ctx, []string{"+15559876501", "+15559876502"}, &sendoka.SMSRequest{From: "+15551234567", Body: "hi"})
		require.NoError(t, err)
		require.Equal(t, 2, bulk.Succeeded)
		bulkEmail := welcome()
		bulkEmail.To = []string{"a@example.com", "b@example.com", "c@example.com"}
		eb, err := c.SendEmailBulk(ctx, bulkEmail)
		require.NoError(t, err)
		require.Equal(t, 3, eb.Succeeded)

		later := welcome()
		later.ScheduledAt = time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
		sched, err := c.SendEmail(ctx, later)
		require.NoError(t, err)
		require.Equal(t, sendoka.StatusScheduled, sched.Status)
		moved, err := c.RescheduleEmail(ctx, sched.ID, sendoka.ScheduleRequest{ScheduledAt: time.Now().Add(2 * time.Hour).UTC().Format(time.RFC3339)})
		require.NoError(t, err)
		require.Equal(t, "scheduled", moved.Status)
		canceled, err := c.CancelEmail(ctx, sched.ID)
		require.NoError(t, err)
		require.Equal(t, "canceled", canceled.Status)
		_, err = c.CancelEmail(ctx, sched.ID)
		require.Equal(t, sendoka.CodeNotScheduled, sendoka.ErrorCode(err))
	})
}

// TestValidationError: a 422 is the core's *sendoka.Error, with its code, message and field
// errors, and the HTTP side in a *ResponseError.
func TestValidationError(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, dbURL string) {
		b := setup(t, setupConfig{dbURL: dbURL})
		req := welcome()
		req.Subject = ""
		_, err := b.client.SendEmail(context.Background(), req)
		var e *sendoka.Error
		require.ErrorAs(t, err, &e)
		require.Equal(t, sendoka.CodeValidation, e.Code)
		require.NotEmpty(t, e.Message)
		require.NotEmpty(t, e.Fields)
		require.Equal(t, []any{"subject"}, e.Fields[0].Path)
		require.Equal(t, sendoka.FieldRequired, e.Fields[0].Code)
		var re *apiclient.ResponseError
		require.ErrorAs(t, err, &re)
		require.Equal(t, http.StatusUnprocessableEntity, re.StatusCode)
		require.Equal(t, "validation_error", re.Type)
		require.True(t, strings.HasPrefix(re.RequestID, "req_"), re.RequestID)
		require.Equal(t, int64(1), b.attemptsOf(http.MethodPost, "/api/v1/emails"), "a 422 is not retried")

		// Array indexes come back as ints, as the core makes them.
		req = welcome()
		req.To = []string{"user@example.com", "nope"}
		_, err = b.client.SendEmail(context.Background(), req)
		require.ErrorAs(t, err, &e)
		require.Equal(t, []any{"to", 1}, e.Fields[0].Path)

		// A bad key is UNAUTHORIZED.
		bad := b.newClient(t, "sok_live_nope", nil)
		_, err = bad.ListEmails(context.Background(), sendoka.ListParams{})
		require.Equal(t, sendoka.CodeUnauthorized, sendoka.ErrorCode(err))
	})
}

// TestRetryAfter: a 429 is retried after the server's Retry-After, and the call succeeds.
func TestRetryAfter(t *testing.T) {
	t.Parallel()
	var refused atomic.Bool
	b := setup(t, setupConfig{front: func(w http.ResponseWriter, r *http.Request, api http.Handler) bool {
		if r.Method != http.MethodPost || !refused.CompareAndSwap(false, true) {
			return false
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Retry-After", "7")
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = w.Write([]byte(`{"error":{"type":"rate_limit_error","code":"RATE_LIMITED","message":"slow down","request_id":"req_x","errors":[]}}`))
		return true
	}})
	sent, err := b.client.SendEmail(context.Background(), welcome())
	require.NoError(t, err)
	require.Equal(t, []time.Duration{7 * time.Second}, b.sleeps())
	require.Equal(t, int64(2), b.attemptsOf(http.MethodPost, "/api/v1/emails"))
	list, err := b.client.ListEmails(context.Background(), sendoka.ListParams{})
	require.NoError(t, err)
	require.Len(t, list.Data, 1)
	require.Equal(t, sent.ID, list.Data[0].ID)
}

// TestRetryAfterTooLong: a Retry-After beyond MaxRetryAfter is the error, at once.
func TestRetryAfterTooLong(t *testing.T) {
	t.Parallel()
	b := setup(t, setupConfig{front: func(w http.ResponseWriter, r *http.Request, api http.Handler) bool {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Retry-After", "86400")
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = w.Write([]byte(`{"error":{"type":"rate_limit_error","code":"USAGE_LIMIT_EXCEEDED","message":"quota","request_id":"req_x","errors":[]}}`))
		return true
	}})
	_, err := b.client.SendEmail(context.Background(), welcome())
	var e *sendoka.Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, sendoka.CodeUsageLimitExceeded, e.Code)
	require.Equal(t, 86400, e.RetryAfterSeconds)
	require.Empty(t, b.sleeps())
	require.Equal(t, int64(1), b.attemptsOf(http.MethodPost, "/api/v1/emails"))
}

// TestIdempotencyKeyReusedOnRetry: the first attempt's send commits but its answer is lost
// (the client sees a 503); the retry carries the same Idempotency-Key, so it gets the first
// answer, and there is one message, not two.
func TestIdempotencyKeyReusedOnRetry(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, dbURL string) {
		var (
			mu      sync.Mutex
			keys    []string
			firstID string
		)
		b := setup(t, setupConfig{dbURL: dbURL, front: func(w http.ResponseWriter, r *http.Request, api http.Handler) bool {
			if r.Method != http.MethodPost || r.URL.Path != "/api/v1/emails" {
				return false
			}
			mu.Lock()
			keys = append(keys, r.Header.Get("Idempotency-Key"))
			first := len(keys) == 1
			mu.Unlock()
			if !first {
				return false
			}
			rec := httptest.NewRecorder()
			api.ServeHTTP(rec, r)
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
			var sent httpapi.SendResponse
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &sent))
			firstID = sent.ID
			w.WriteHeader(http.StatusServiceUnavailable) // the answer is lost on the way back
			return true
		}})
		sent, err := b.client.SendEmail(context.Background(), welcome())
		require.NoError(t, err)
		require.Len(t, keys, 2)
		require.NotEmpty(t, keys[0])
		require.Equal(t, keys[0], keys[1], "a retry sends the same key")
		require.Equal(t, firstID, sent.ID, "the retry gets the first answer")
		require.Len(t, b.sleeps(), 1)
		list, err := b.client.ListEmails(context.Background(), sendoka.ListParams{})
		require.NoError(t, err)
		require.Len(t, list.Data, 1, "one message, not two")

		// Another call gets another key; WithIdempotencyKey chooses it.
		_, err = b.client.SendEmail(apiclient.WithIdempotencyKey(context.Background(), "welcome:user_1"), welcome())
		require.NoError(t, err)
		replay, err := b.client.SendEmail(apiclient.WithIdempotencyKey(context.Background(), "welcome:user_1"), welcome())
		require.NoError(t, err)
		require.Equal(t, []string{"welcome:user_1", "welcome:user_1"}, keys[2:])
		list, err = b.client.ListEmails(context.Background(), sendoka.ListParams{})
		require.NoError(t, err)
		require.Len(t, list.Data, 2)
		require.Equal(t, replay.ID, list.Data[0].ID)
	})
}

// failingTransport fails every request as a connection would, and counts them.
type failingTransport struct{ n atomic.Int64 }

func (f *failingTransport) RoundTrip(*http.Request) (*http.Response, error) {
	f.n.Add(1)
	return nil, errors.New("connection refused")
}

// TestConnectionErrors: a connection error is retried for a call that is safe to repeat (a
// GET, a keyed create) and not for one that is not (a webhook create), and ends as
// SERVICE_UNAVAILABLE. The context's end stops the retries.
func TestConnectionErrors(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name     string
		call     func(c *apiclient.Client) error
		attempts int64
	}{
		{"get", func(c *apiclient.Client) error { _, err := c.GetEmail(context.Background(), "msg_1"); return err }, 3},
		{"keyed create", func(c *apiclient.Client) error { _, err := c.SendEmail(context.Background(), welcome()); return err }, 3},
		{"unsafe create", func(c *apiclient.Client) error {
			_, err := c.CreateWebhook(context.Background(), &sendoka.WebhookEndpointRequest{URL: "https://example.com/h"})
			return err
		}, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			tr := &failingTransport{}
			var slept []time.Duration
			cl, err := apiclient.New("http://sendoka.invalid", "sok_live_x", &apiclient.Options{
				HTTPClient: &http.Client{Transport: tr}, MaxAttempts: 3,
				Sleep: func(_ context.Context, d time.Duration) error { slept = append(slept, d); return nil },
			})
			require.NoError(t, err)
			err = c.call(cl)
			require.Equal(t, sendoka.CodeUnavailable, sendoka.ErrorCode(err), "%v", err)
			require.Equal(t, c.attempts, tr.n.Load())
			require.Len(t, slept, int(c.attempts-1))
			for i, d := range slept {
				// Exponential backoff with jitter down to half: 500 ms, then 1 s.
				max := apiclient.DefaultMinBackoff << i
				require.True(t, d >= max/2 && d <= max, "wait %d: %s", i, d)
			}
		})
	}

	t.Run("canceled", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(context.Background())
		tr := &failingTransport{}
		cl, err := apiclient.New("http://sendoka.invalid", "sok_live_x", &apiclient.Options{
			HTTPClient: &http.Client{Transport: tr},
			Sleep: func(ctx context.Context, d time.Duration) error {
				cancel()
				return ctx.Err()
			},
		})
		require.NoError(t, err)
		_, err = cl.GetEmail(ctx, "msg_1")
		require.ErrorIs(t, err, context.Canceled)
		require.Equal(t, int64(1), tr.n.Load())
	})
}

// sendWelcome is code that sends without knowing where to.
func sendWelcome(ctx context.Context, s sendoka.MessageSender) (*sendoka.Accepted, *sendoka.Accepted, error) {
	e, err := s.SendEmail(ctx, welcome())
	if err != nil {
		return nil, nil, err
	}
	m, err := s.SendSMS(ctx, code1234())
	return e, m, err
}

// TestMessageSender: the same code sends through the remote client and through the core in
// process, and gets the same answers and the same errors.
func TestMessageSender(t *testing.T) {
	t.Parallel()
	b := setup(t, setupConfig{})
	ctx := context.Background()
	for name, s := range map[string]sendoka.MessageSender{
		"remote":     b.client,
		"in-process": b.env.Client.As(b.env.Live),
	} {
		e, m, err := sendWelcome(ctx, s)
		require.NoError(t, err, name)
		require.Equal(t, sendoka.ChannelEmail, e.Channel, name)
		require.Equal(t, sendoka.StatusQueued, e.Status, name)
		require.Equal(t, sendoka.ChannelSMS, m.Channel, name)
		got, err := b.client.GetEmail(ctx, e.ID)
		require.NoError(t, err, name)
		require.Equal(t, "live", got.Mode, name)

		bad := welcome()
		bad.Subject = ""
		_, err = s.SendEmail(ctx, bad)
		var se *sendoka.Error
		require.ErrorAs(t, err, &se, name)
		require.Equal(t, sendoka.CodeValidation, se.Code, name)
		require.Equal(t, []any{"subject"}, se.Fields[0].Path, name)
	}
	list, err := b.client.ListEmails(ctx, sendoka.ListParams{})
	require.NoError(t, err)
	require.Len(t, list.Data, 2)
}

// TestNewRejectsBadURL: the base URL must be absolute http(s).
func TestNewRejectsBadURL(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"", "api.sendoka.com", "ftp://x", "://"} {
		_, err := apiclient.New(u, "k", nil)
		require.Error(t, err, u)
	}
	_, err := apiclient.New("http://localhost:8080/mail/", "k", nil)
	require.NoError(t, err)
}

func decodeJSON(r io.Reader, v any) error { return json.NewDecoder(r).Decode(v) }

// TestSuppressions: add, read, list and lift a suppression through the client; a send to
// the suppressed address is refused with ALL_SUPPRESSED, decoded as the core's error.
func TestSuppressions(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, dbURL string) {
		b := setup(t, setupConfig{dbURL: dbURL})
		ctx, c := context.Background(), b.client
		added, err := c.AddSuppressions(ctx, &httpapi.SuppressionsRequest{Address: "Gone@Example.com", Reason: "manual"})
		require.NoError(t, err)
		require.Equal(t, 1, added.Created)
		got, err := c.GetSuppression(ctx, "gone@example.com", "")
		require.NoError(t, err)
		require.True(t, got.Suppressed)
		require.Equal(t, "email", got.Channel)
		list, err := c.ListSuppressions(ctx, apiclient.SuppressionQuery{Channel: "email", Reason: "manual"})
		require.NoError(t, err)
		require.Len(t, list.Data, 1)
		require.Equal(t, "gone@example.com", list.Data[0].Address)

		req := welcome()
		req.To = []string{"gone@example.com"}
		_, err = c.SendEmail(ctx, req)
		require.Equal(t, sendoka.CodeAllSuppressed, sendoka.ErrorCode(err))

		deleted, err := c.DeleteSuppression(ctx, "gone@example.com", "email")
		require.NoError(t, err)
		require.True(t, deleted.Deleted)
		got, err = c.GetSuppression(ctx, "gone@example.com", "email")
		require.NoError(t, err)
		require.False(t, got.Suppressed)
		require.Len(t, got.History, 1, "the lifted one is in the history")
	})
}
