package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/providers/memsend"
	"github.com/sendoka/sendoka/sendoka"
	"github.com/sendoka/sendoka/storage/bunstore"
	"github.com/sendoka/sendoka/storage/bunstore/bunstoretest"
)

// shiftClock is the wall clock moved by an offset the test sets.
type shiftClock struct{ offset atomic.Int64 }

func (c *shiftClock) Now() time.Time        { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *shiftClock) set(d time.Duration)   { c.offset.Store(int64(d)) }
func idem(key string) map[string]string     { return map[string]string{headerIdempotencyKey: key} }
func countRows(t *testing.T, b *bundle) int { return countSQL(t, b, "SELECT count(*) FROM messages") }

func countSQL(t *testing.T, b *bundle, q string) int {
	t.Helper()
	var n int
	require.NoError(t, b.db.SQLDB().QueryRowContext(context.Background(), q).Scan(&n))
	return n
}

// TestIdempotencyConcurrent: 50 concurrent requests with one key make one message and one
// provider send; every other request gets the stored response byte for byte, or
// IDEMPOTENCY_IN_FLIGHT.
func TestIdempotencyConcurrent(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		fake := memsend.New()
		b := setup(t, db, setupConfig{workers: true, fake: fake})
		_, key := b.key(t, sendoka.CreateKeyParams{Mode: sendoka.ModeTest}) // its own burst budget
		body := quickstart()
		const n = 50
		results := make([]*response, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				results[i] = b.do(t, req{method: http.MethodPost, path: "/api/v1/emails", key: key, body: body, header: idem("concurrent-1")})
			})
		}
		close(start)
		wg.Wait()

		var first *response
		for _, r := range results {
			if r.status == http.StatusOK && r.header.Get(headerIdempotentReplayed) == "" {
				require.Nil(t, first, "exactly one request ran: %s", r.body)
				first = r
			}
		}
		require.NotNil(t, first, "one request ran")
		var inFlight, replayed int
		for _, r := range results {
			switch {
			case r == first:
			case r.status == http.StatusOK:
				require.Equal(t, "true", r.header.Get(headerIdempotentReplayed))
				require.Equal(t, first.body, r.body, "a replay is byte for byte")
				require.Equal(t, "application/json", r.header.Get("Content-Type"))
				replayed++
			default:
				r.requireError(t, http.StatusConflict, sendoka.CodeIdempotencyInFlight)
				require.Equal(t, "1", r.header.Get("Retry-After"))
				inFlight++
			}
		}
		require.Equal(t, n-1, replayed+inFlight)
		var sent SendResponse
		require.NoError(t, json.Unmarshal(first.body, &sent))

		require.Equal(t, 1, countRows(t, b), "one message")
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		require.NoError(t, fake.WaitFor(ctx, 1))
		// Give a second delivery no chance to hide: the one message is sent and its job done.
		eventually(t, 20*time.Second, func() bool {
			return countSQL(t, b, "SELECT count(*) FROM river_job WHERE kind = 'deliver_message' AND state <> 'completed'") == 0
		}, "the delivery job completes")
		require.Len(t, fake.Sent(), 1, "one provider send")
		require.Equal(t, 1, fake.Count(sent.ID))

		again := b.do(t, req{method: http.MethodPost, path: "/api/v1/emails", key: key, body: body, header: idem("concurrent-1")})
		require.Equal(t, first.body, again.body)
		require.NotEqual(t, first.requireRequestID(t), again.requireRequestID(t), "the request id is the replay's own")
		require.NotEmpty(t, again.header.Get(headerLimit), "fresh rate-limit headers on a replay")
		require.NotEmpty(t, again.header.Get(headerRemaining), "the replay's own remaining count")
	})
}

// TestIdempotencySemantics: mismatch, key syntax, 4xx replays, 5xx and 429 release,
// scopes, a lapsed lock, the 24 h retention, batch replays.
func TestIdempotencySemantics(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		clock := &shiftClock{}
		var calls atomic.Int32
		var c *sendoka.Client
		b := setup(t, db, setupConfig{clock: clock, extra: func(api huma.API, _ *http.ServeMux) {
			// An operation that fails with a 500, then a 429, then answers.
			r := newRegistrar(api, nil, Options{DatabaseTimeout: time.Minute}.withDefaults())
			r.idemRoutes = map[string]bool{"/test/idem": true}
			r.mw[1] = func(ctx huma.Context, next func(huma.Context)) { // c exists once setup returns
				authMiddleware(c, Options{}.withDefaults())(ctx, next)
			}
			r.idemMW = huma.Middlewares{r.mw[0], r.mw[1], func(ctx huma.Context, next func(huma.Context)) {
				idempotencyMiddleware(c, Options{DatabaseTimeout: time.Minute}.withDefaults())(ctx, next)
			}, r.mw[2]}
			huma.Register(api, r.op(http.MethodPost, "/test/idem", "test-idem", "Test", "flaky", "flaky"),
				func(ctx context.Context, _ *struct{ Body map[string]any }) (*struct{ Body map[string]int32 }, error) {
					switch n := calls.Add(1); n {
					case 1:
						return nil, fail(ctx, errors.New("boom"))
					case 2:
						return nil, fail(ctx, &sendoka.Error{Code: sendoka.CodeRateLimited, Message: "slow down", RetryAfterSeconds: 1})
					default:
						return &struct{ Body map[string]int32 }{Body: map[string]int32{"call": n}}, nil
					}
				})
		}})
		c = b.client
		post := func(path, key string, body any, h map[string]string) *response {
			t.Helper()
			return b.do(t, req{method: http.MethodPost, path: path, key: key, body: body, header: h})
		}

		t.Run("mismatch", func(t *testing.T) {
			first := post("/api/v1/emails", b.test, quickstart(), idem("mm"))
			require.Equal(t, http.StatusOK, first.status, "%s", first.body)
			// Key order and whitespace do not matter.
			same := post("/api/v1/emails", b.test, "{ \"html\":\"<p>It works.</p>\", \"subject\":\"Hello from Sendoka\",\n"+
				"\"to\":[\"user@example.com\"], \"from\":\"you@sandbox.sendoka.com\" }", idem("mm"))
			require.Equal(t, first.body, same.body)
			other := quickstart()
			other["subject"] = "Other"
			post("/api/v1/emails", b.test, other, idem("mm")).requireError(t, http.StatusConflict, sendoka.CodeIdempotencyMismatch)
			// The same key on another route is another key.
			require.Equal(t, http.StatusOK, post("/api/v1/sms", b.test, smsBody(), idem("mm")).status)
		})

		t.Run("key syntax", func(t *testing.T) {
			before := countRows(t, b)
			for _, bad := range []string{"", strings.Repeat("k", 256), "caf\u00e9", "a\tb", `"unterminated`, `"bad\escape"`} {
				e := post("/api/v1/emails", b.test, quickstart(), idem(bad)).requireError(t, http.StatusUnprocessableEntity, sendoka.CodeValidation)
				require.True(t, hasField(e, sendoka.FieldInvalid, headerIdempotencyKey), "%q: %+v", bad, e)
			}
			require.Equal(t, before, countRows(t, b), "nothing was sent")
			long := strings.Repeat("k", 255)
			require.Equal(t, http.StatusOK, post("/api/v1/emails", b.test, quickstart(), idem(long)).status)
			// A structured-field string is the key it quotes.
			quoted := post("/api/v1/emails", b.test, quickstart(), idem(`"sf-key \"1\""`))
			require.Equal(t, http.StatusOK, quoted.status)
			plain := post("/api/v1/emails", b.test, quickstart(), idem(`sf-key "1"`))
			require.Equal(t, "true", plain.header.Get(headerIdempotentReplayed))
			require.Equal(t, quoted.body, plain.body)
		})

		t.Run("4xx is stored", func(t *testing.T) {
			bad := map[string]any{"from": "you@sandbox.sendoka.com", "to": []string{"not-an-address"}, "subject": "x", "html": "x"}
			first := post("/api/v1/emails", b.test, bad, idem("invalid"))
			first.requireError(t, http.StatusUnprocessableEntity, sendoka.CodeValidation)
			again := post("/api/v1/emails", b.test, bad, idem("invalid"))
			require.Equal(t, http.StatusUnprocessableEntity, again.status)
			require.Equal(t, "true", again.header.Get(headerIdempotentReplayed))
			require.Equal(t, first.body, again.body, "the stored error, byte for byte (its request_id too)")
			require.Equal(t, "application/json", again.header.Get("Content-Type"))
		})

		t.Run("5xx and 429 release", func(t *testing.T) {
			r := post("/test/idem", b.live, map[string]any{"a": 1}, idem("flaky"))
			r.requireError(t, http.StatusInternalServerError, sendoka.CodeInternal)
			r = post("/test/idem", b.live, map[string]any{"a": 1}, idem("flaky"))
			r.requireError(t, http.StatusTooManyRequests, sendoka.CodeRateLimited)
			r = post("/test/idem", b.live, map[string]any{"a": 1}, idem("flaky"))
			require.Equal(t, http.StatusOK, r.status, "%s", r.body)
			require.JSONEq(t, `{"call":3}`, string(r.body))
			again := post("/test/idem", b.live, map[string]any{"a": 1}, idem("flaky"))
			require.Equal(t, r.body, again.body)
			require.EqualValues(t, 3, calls.Load(), "the replay did not run the operation")
		})

		t.Run("scopes", func(t *testing.T) {
			_, otherKey := b.otherOrg(t, "other")
			acme := b.createTenant(t, "Acme", "acme-idem")
			globex := b.createTenant(t, "Globex", "globex-idem")
			ids := map[string]bool{}
			for _, key := range []string{b.test, otherKey, b.tenantKey(t, acme.ID, sendoka.ModeTest), b.tenantKey(t, globex.ID, sendoka.ModeTest)} {
				var sent SendResponse
				post("/api/v1/emails", key, quickstart(), idem("shared")).decode(t, http.StatusOK, &sent)
				ids[sent.ID] = true
			}
			require.Len(t, ids, 4, "each org and tenant got its own message")
			r := post("/api/v1/emails", b.live, quickstart(), idem("shared"))
			require.Empty(t, r.header.Get(headerIdempotentReplayed), "a live key does not see a test key's")
		})

		t.Run("batch", func(t *testing.T) {
			rows := []any{
				map[string]any{"from": "you@sandbox.sendoka.com", "to": []string{"a@example.com"}, "subject": "x", "html": "x"},
				map[string]any{"from": "you@sandbox.sendoka.com", "to": []string{"not-an-address"}, "subject": "x", "html": "x"},
				"not an object",
			}
			before := countRows(t, b)
			first := post("/api/v1/emails/batch", b.test, rows, idem("batch"))
			var res BatchResponse
			first.decode(t, http.StatusOK, &res)
			require.Equal(t, 1, res.Succeeded)
			require.Equal(t, 2, res.Failed)
			again := post("/api/v1/emails/batch", b.test, rows, idem("batch"))
			require.Equal(t, "true", again.header.Get(headerIdempotentReplayed))
			require.Equal(t, first.body, again.body, "the stored per-row response")
			require.Equal(t, before+1, countRows(t, b))
			sms := map[string]any{"from": "+15551234567", "to": []string{"+15559876543", "+15559876544"}, "body": "hi"}
			one := post("/api/v1/sms/batch", b.test, sms, idem("batch"))
			require.Equal(t, http.StatusOK, one.status, "%s", one.body)
			two := post("/api/v1/sms/batch", b.test, sms, idem("batch"))
			require.Equal(t, one.body, two.body)
			require.Equal(t, before+3, countRows(t, b))
		})

		t.Run("lapsed lock and retention", func(t *testing.T) {
			p, err := b.client.Authenticate(context.Background(), b.test, netip.Addr{})
			require.NoError(t, err)
			body, err := json.Marshal(quickstart())
			require.NoError(t, err)
			// A request that took the key and died.
			_, err = b.client.BeginIdempotent(context.Background(), p, sendoka.IdempotencyRequest{Route: "POST /api/v1/emails", Key: "crashed", Body: body})
			require.NoError(t, err)
			r := post("/api/v1/emails", b.test, quickstart(), idem("crashed"))
			r.requireError(t, http.StatusConflict, sendoka.CodeIdempotencyInFlight)
			require.Equal(t, "1", r.header.Get("Retry-After"))

			clock.set(sendoka.IdempotencyLockTimeout)
			before := countRows(t, b)
			first := post("/api/v1/emails", b.test, quickstart(), idem("crashed"))
			require.Equal(t, http.StatusOK, first.status, "the lapsed lock is taken over: %s", first.body)
			require.Empty(t, first.header.Get(headerIdempotentReplayed))
			require.Equal(t, before+1, countRows(t, b))

			clock.set(sendoka.IdempotencyLockTimeout + sendoka.IdempotencyRetention - time.Second)
			require.Equal(t, first.body, post("/api/v1/emails", b.test, quickstart(), idem("crashed")).body)
			clock.set(sendoka.IdempotencyLockTimeout + sendoka.IdempotencyRetention)
			later := post("/api/v1/emails", b.test, quickstart(), idem("crashed"))
			require.Equal(t, http.StatusOK, later.status)
			require.Empty(t, later.header.Get(headerIdempotentReplayed), "after 24 h it is a new request")
			require.NotEqual(t, first.body, later.body)
			require.Equal(t, before+2, countRows(t, b))
		})
	})
}
