package sendoka_test

import (
	"context"
	"database/sql"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/sendoka"
	"github.com/sendoka/sendoka/storage/bunstore"
	"github.com/sendoka/sendoka/storage/bunstore/bunstoretest"
)

// whCountingStore counts the webhook statements the send path makes.
type whCountingStore struct {
	sendoka.Store
	lookups, inserts atomic.Int64
}

func (s *whCountingStore) InTx(ctx context.Context, fn func(ctx context.Context, tx sendoka.Tx) error) error {
	return s.Store.InTx(ctx, func(ctx context.Context, tx sendoka.Tx) error { return fn(ctx, &whCountingTx{Tx: tx, s: s}) })
}

type whCountingTx struct {
	sendoka.Tx
	s *whCountingStore
}

func (t *whCountingTx) SQLTx() *sql.Tx { return t.Tx.(interface{ SQLTx() *sql.Tx }).SQLTx() }

func (t *whCountingTx) SubscribableWebhookEndpoints(ctx context.Context, orgID, tenantID string) ([]*sendoka.WebhookEndpoint, error) {
	t.s.lookups.Add(1)
	return t.Tx.SubscribableWebhookEndpoints(ctx, orgID, tenantID)
}

func (t *whCountingTx) InsertWebhookDeliveries(ctx context.Context, ds ...*sendoka.WebhookDelivery) error {
	t.s.inserts.Add(1)
	return t.Tx.InsertWebhookDeliveries(ctx, ds...)
}

// webhookClient is a Client of b's org with webhook settings cfg, on store (b's database
// when nil).
func (b *dbBundle) webhookClient(t *testing.T, store sendoka.Store, cfg sendoka.WebhookConfig) *sendoka.Client {
	t.Helper()
	if store == nil {
		store = b.db
	}
	c, err := sendoka.New(sendoka.Config{Store: store, Queue: b.queue, Clock: b.clock, Webhooks: cfg,
		Email: b.fake, SMS: b.fake, SandboxEmail: b.fake, SandboxSMS: b.fake})
	require.NoError(t, err)
	return c
}

// scripted is a receiver whose answers a test sets; it counts what it gets.
type scripted struct {
	srv    *httptest.Server
	status atomic.Int64
	header atomic.Value // Retry-After
	calls  atomic.Int64
	ids    sync.Map // delivery ids seen
}

func newScripted(t *testing.T) *scripted {
	s := &scripted{}
	s.status.Store(http.StatusOK)
	s.header.Store("")
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/elsewhere" {
			t.Errorf("a redirect was followed")
			return
		}
		s.calls.Add(1)
		s.ids.Store(r.Header.Get(sendoka.HeaderWebhookDeliveryID), true)
		if ra := s.header.Load().(string); ra != "" {
			w.Header().Set("Retry-After", ra)
		}
		if s.status.Load() == http.StatusFound {
			w.Header().Set("Location", "/elsewhere")
		}
		w.WriteHeader(int(s.status.Load()))
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func retryOf(t *testing.T, err error) time.Duration {
	t.Helper()
	require.Equal(t, sendoka.CodeProviderTransient, sendoka.ErrorCode(err), "%v", err)
	var e *sendoka.Error
	require.ErrorAs(t, err, &e)
	return e.Retry
}

// TestWebhookRetrySchedule: a failing endpoint (5xx, or a 3xx, whose redirect is not
// followed) is tried at once and retried after 1, 5, 25, 125 and 625 s, with the same
// delivery id; then the delivery is failed. Retry-After stretches a wait within the
// schedule. Failed deliveries can be replayed.
func TestWebhookRetrySchedule(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := newDBBundle(t, db)
		c := b.webhookClient(t, nil, sendoka.WebhookConfig{AllowInsecure: true})
		rx := newScripted(t)
		ctx := context.Background()
		since := b.clock.now()
		ep, err := c.CreateWebhookEndpoint(ctx, b.p, &sendoka.WebhookEndpointRequest{URL: rx.srv.URL})
		require.NoError(t, err)

		rx.status.Store(http.StatusInternalServerError)
		d, err := c.SendTestWebhook(ctx, b.p, ep.ID)
		require.NoError(t, err)
		for i, want := range sendoka.DefaultWebhookRetryDelays {
			if i == 2 {
				rx.status.Store(http.StatusFound)
			}
			require.Equal(t, want, retryOf(t, c.DeliverWebhook(ctx, d.ID)), "attempt %d", i+1)
		}
		require.NoError(t, c.DeliverWebhook(ctx, d.ID), "the sixth attempt is the last")
		require.NoError(t, c.DeliverWebhook(ctx, d.ID), "a settled delivery is left alone")
		require.EqualValues(t, 6, rx.calls.Load())
		n := 0
		rx.ids.Range(func(k, _ any) bool { n++; require.Equal(t, d.ID, k); return true })
		require.Equal(t, 1, n, "one delivery id on every attempt")

		log, err := c.ListWebhookDeliveries(ctx, b.p, ep.ID, sendoka.ListParams{})
		require.NoError(t, err)
		require.Len(t, log.Deliveries, 1)
		got := log.Deliveries[0]
		require.Equal(t, sendoka.WebhookFailed, got.Status)
		require.Len(t, got.Attempts, 6)
		require.Equal(t, 500, got.Attempts[0].StatusCode)
		require.Equal(t, 302, got.Attempts[5].StatusCode)
		require.Nil(t, got.NextRetryAt)

		// Retry-After on 429 and 503: honoured, within the schedule.
		for _, c2 := range []struct {
			status int
			header string
			want   time.Duration
		}{
			{http.StatusTooManyRequests, "100", 100 * time.Second},
			{http.StatusServiceUnavailable, "100000", 625 * time.Second},
			{http.StatusTooManyRequests, "0", time.Second},
			{http.StatusBadGateway, "100", time.Second},
		} {
			rx.status.Store(int64(c2.status))
			rx.header.Store(c2.header)
			d2, err := c.SendTestWebhook(ctx, b.p, ep.ID)
			require.NoError(t, err)
			require.Equal(t, c2.want, retryOf(t, c.DeliverWebhook(ctx, d2.ID)), "%d Retry-After: %s", c2.status, c2.header)
		}
		rx.header.Store("")

		// Replays: one delivery, or every failed one since a time.
		rx.status.Store(http.StatusOK)
		r, err := c.ReplayWebhookDelivery(ctx, b.p, ep.ID, d.ID)
		require.NoError(t, err)
		require.Equal(t, d.ID, r.ReplayOf)
		require.NotEqual(t, d.ID, r.ID)
		require.NoError(t, c.DeliverWebhook(ctx, r.ID))
		all, err := c.ReplayFailedWebhookDeliveries(ctx, b.p, ep.ID, since)
		require.NoError(t, err)
		require.Len(t, all, 1, "only the failed one; the others are pending")
		_, err = c.ReplayWebhookDelivery(ctx, b.p, ep.ID, "whd_unknown")
		require.Equal(t, sendoka.CodeNotFound, sendoka.ErrorCode(err))
	})
}

// TestWebhookEndpointDisabled: a 410 disables the endpoint at once; an endpoint whose every
// attempt failed for three days is disabled with the reason shown; enabling it again clears
// the reason; a disabled endpoint gets no new deliveries.
func TestWebhookEndpointDisabled(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := newDBBundle(t, db)
		c := b.webhookClient(t, nil, sendoka.WebhookConfig{AllowInsecure: true})
		rx := newScripted(t)
		ctx := context.Background()
		ep, err := c.CreateWebhookEndpoint(ctx, b.p, &sendoka.WebhookEndpointRequest{URL: rx.srv.URL})
		require.NoError(t, err)

		rx.status.Store(http.StatusGone)
		d, err := c.SendTestWebhook(ctx, b.p, ep.ID)
		require.NoError(t, err)
		require.NoError(t, c.DeliverWebhook(ctx, d.ID), "no retry after 410")
		got, err := c.GetWebhookEndpoint(ctx, b.p, ep.ID)
		require.NoError(t, err)
		require.False(t, got.Enabled)
		require.Contains(t, got.DisabledReason, "410")

		on := true
		got, err = c.UpdateWebhookEndpoint(ctx, b.p, ep.ID, &sendoka.WebhookEndpointUpdate{Enabled: &on})
		require.NoError(t, err)
		require.True(t, got.Enabled)
		require.Empty(t, got.DisabledReason)

		rx.status.Store(http.StatusInternalServerError)
		d, err = c.SendTestWebhook(ctx, b.p, ep.ID)
		require.NoError(t, err)
		retryOf(t, c.DeliverWebhook(ctx, d.ID))
		b.clock.set(71 * time.Hour)
		retryOf(t, c.DeliverWebhook(ctx, d.ID))
		got, _ = c.GetWebhookEndpoint(ctx, b.p, ep.ID)
		require.True(t, got.Enabled, "not three days yet")
		b.clock.set(73 * time.Hour)
		retryOf(t, c.DeliverWebhook(ctx, d.ID))
		got, _ = c.GetWebhookEndpoint(ctx, b.p, ep.ID)
		require.False(t, got.Enabled)
		require.Contains(t, got.DisabledReason, "every delivery failed for 3 days")

		// Disabled: a sent message makes no delivery.
		m := b.send(t, c)
		require.NoError(t, c.Deliver(ctx, m.ID, sendoka.DeliverOptions{JobID: m.JobID}))
		log, err := c.ListWebhookDeliveries(ctx, b.p, ep.ID, sendoka.ListParams{})
		require.NoError(t, err)
		for _, d := range log.Deliveries {
			require.Equal(t, sendoka.WebhookEventTest, d.EventType)
		}
	})
}

// TestWebhookFanout: recording an event inserts, in its transaction, one delivery per
// subscribed endpoint (by type, tag and tenant); the endpoint list is cached, so the send
// path of an org without endpoints makes no webhook statement once its empty list is read.
func TestWebhookFanout(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := newDBBundle(t, db)
		store := &whCountingStore{Store: db}
		c := b.webhookClient(t, store, sendoka.WebhookConfig{AllowInsecure: true, EndpointCacheTTL: time.Hour})
		ctx := context.Background()
		for range 20 {
			m, err := c.SendEmail(ctx, b.p, b.email("a@example.com"))
			require.NoError(t, err)
			require.NoError(t, c.Deliver(ctx, m.ID, sendoka.DeliverOptions{JobID: m.JobID}))
		}
		require.EqualValues(t, 1, store.lookups.Load(), "one read of the empty list for 40 events")
		require.Zero(t, store.inserts.Load())

		mk := func(req sendoka.WebhookEndpointRequest) *sendoka.WebhookEndpoint {
			req.URL = "https://hooks.example.com/x"
			e, err := c.CreateWebhookEndpoint(ctx, b.p, &req)
			require.NoError(t, err)
			return e
		}
		all := mk(sendoka.WebhookEndpointRequest{})
		sentOnly := mk(sendoka.WebhookEndpointRequest{Events: []sendoka.EventType{sendoka.EventSent}})
		tagged := mk(sendoka.WebhookEndpointRequest{FilterTags: []string{"welcome"}})
		otherTag := mk(sendoka.WebhookEndpointRequest{FilterTags: []string{"billing"}})
		off := false
		disabled := mk(sendoka.WebhookEndpointRequest{Enabled: &off})
		tenant, err := c.CreateTenant(ctx, b.p, &sendoka.TenantRequest{Name: "T", Slug: "t-fanout"})
		require.NoError(t, err)
		tp, err := c.ForTenant(ctx, b.p, tenant.ID)
		require.NoError(t, err)
		tenantEP, err := c.CreateWebhookEndpoint(ctx, tp, &sendoka.WebhookEndpointRequest{URL: "https://hooks.example.com/t"})
		require.NoError(t, err)

		lookups := store.lookups.Load()
		req := b.email("b@example.com")
		req.Tags = []string{"welcome"}
		var ms []*sendoka.Message
		for range 5 {
			m, err := c.SendEmail(ctx, b.p, req)
			require.NoError(t, err)
			require.NoError(t, c.Deliver(ctx, m.ID, sendoka.DeliverOptions{JobID: m.JobID}))
			ms = append(ms, m)
		}
		require.EqualValues(t, lookups+1, store.lookups.Load(), "the list is read once, then cached")
		require.EqualValues(t, 5, store.inserts.Load(), "one multi-row insert per transaction with deliveries")

		count := func(e *sendoka.WebhookEndpoint, p *sendoka.Principal) map[sendoka.EventType]int {
			log, err := c.ListWebhookDeliveries(ctx, p, e.ID, sendoka.ListParams{Limit: 100})
			require.NoError(t, err)
			n := map[sendoka.EventType]int{}
			for _, d := range log.Deliveries {
				n[d.EventType]++
				require.Equal(t, sendoka.WebhookPending, d.Status)
			}
			return n
		}
		require.Equal(t, map[sendoka.EventType]int{sendoka.EventSent: 5}, count(all, b.p), "queued is not a webhook event")
		require.Equal(t, map[sendoka.EventType]int{sendoka.EventSent: 5}, count(sentOnly, b.p))
		require.Equal(t, map[sendoka.EventType]int{sendoka.EventSent: 5}, count(tagged, b.p))
		require.Empty(t, count(otherTag, b.p))
		require.Empty(t, count(disabled, b.p))
		require.Empty(t, count(tenantEP, tp), "another namespace's messages")

		// A scheduled message's events reach the org-level endpoint, and its tenant's.
		treq := b.email("c@example.com")
		treq.ScheduledAt = b.clock.in(time.Hour)
		m, err := c.SendEmail(ctx, tp, treq)
		require.NoError(t, err)
		_, err = c.CancelMessage(ctx, tp, sendoka.ChannelEmail, m.ID)
		require.NoError(t, err)
		require.Equal(t, map[sendoka.EventType]int{sendoka.EventScheduled: 1, sendoka.EventCanceled: 1}, count(tenantEP, tp))
		require.Equal(t, 1, count(all, b.p)[sendoka.EventCanceled])
	})
}

// TestWebhookSlowEndpoint: an endpoint that does not answer holds at most
// MaxConcurrentPerEndpoint workers; deliveries to another endpoint still complete.
func TestWebhookSlowEndpoint(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := newDBBundle(t, db)
		c := b.webhookClient(t, nil, sendoka.WebhookConfig{AllowInsecure: true, MaxConcurrentPerEndpoint: 2})
		release := make(chan struct{})
		var inFlight, most atomic.Int64
		slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n := inFlight.Add(1)
			defer inFlight.Add(-1)
			for {
				m := most.Load()
				if n <= m || most.CompareAndSwap(m, n) {
					break
				}
			}
			<-release
		}))
		t.Cleanup(slow.Close)
		fastGot := make(chan string, 10)
		fast := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fastGot <- r.Header.Get(sendoka.HeaderWebhookDeliveryID)
		}))
		t.Cleanup(fast.Close)
		ctx := context.Background()
		slowEP, err := c.CreateWebhookEndpoint(ctx, b.p, &sendoka.WebhookEndpointRequest{URL: slow.URL})
		require.NoError(t, err)
		fastEP, err := c.CreateWebhookEndpoint(ctx, b.p, &sendoka.WebhookEndpointRequest{URL: fast.URL})
		require.NoError(t, err)

		require.NoError(t, b.queue.Start(context.Background(), c))
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), dbWait)
			defer cancel()
			_ = b.queue.Stop(ctx)
		})
		t.Cleanup(func() { close(release) }) // first: lets the stuck attempts end
		for range 6 {
			_, err := c.SendTestWebhook(ctx, b.p, slowEP.ID)
			require.NoError(t, err)
		}
		want := map[string]bool{}
		for range 3 {
			d, err := c.SendTestWebhook(ctx, b.p, fastEP.ID)
			require.NoError(t, err)
			want[d.ID] = true
		}
		deadline := time.After(dbWait)
		for len(want) > 0 {
			select {
			case id := <-fastGot:
				delete(want, id)
			case <-deadline:
				t.Fatalf("deliveries to the fast endpoint stuck behind the slow one: %d left", len(want))
			}
		}
		require.LessOrEqual(t, most.Load(), int64(2), "at most MaxConcurrentPerEndpoint attempts at once")
	})
}

// TestWebhookSSRF: webhook connections never reach loopback, private, link-local, CGNAT,
// unique-local or unspecified addresses, however the URL names them (literal, IPv4-mapped,
// a name that resolves there, a decimal host), and redirects are not followed: a canary
// listener on loopback sees no connection. The guard is checked at connect time, through a
// wrapper that refuses anything the guard would wrongly let through, so no packet leaves.
func TestWebhookSSRF(t *testing.T) {
	t.Parallel()
	b := newDBBundle(t, bunstoretest.Open(t, bunstore.DialectSQLite))
	c := b.webhookClient(t, nil, sendoka.WebhookConfig{})

	canary, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { canary.Close() })
	var hits atomic.Int64
	go func() {
		for {
			conn, err := canary.Accept()
			if err != nil {
				return
			}
			hits.Add(1)
			conn.Close()
		}
	}()
	port := strconv.Itoa(canary.Addr().(*net.TCPAddr).Port)

	// The "allowed" server stands for a public host; it redirects to the canary.
	allowed := httptest.NewServer(http.RedirectHandler("http://127.0.0.1:"+port+"/", http.StatusFound))
	t.Cleanup(allowed.Close)
	guard := sendoka.WebhookDialControl(false)
	c.SetWebhookDialControl(func(network, address string, rc syscall.RawConn) error {
		if address == allowed.Listener.Addr().String() {
			return nil
		}
		if err := guard(network, address, rc); err != nil {
			return err
		}
		t.Errorf("the guard let %s through", address)
		return errors.New("refused by the test")
	})

	ctx := context.Background()
	for _, u := range []string{
		"http://127.0.0.1:" + port + "/", "http://[::1]:" + port + "/", "http://0.0.0.0:" + port + "/",
		"http://10.0.0.1/", "http://192.168.1.1/", "http://172.16.0.1/", "http://169.254.169.254/latest/meta-data",
		"http://100.64.0.1/", "http://[::ffff:127.0.0.1]:" + port + "/", "http://[::ffff:10.0.0.1]/",
		"http://[fd00::1]/", "http://[fe80::1]/", "http://224.0.0.1/", "http://[::]:" + port + "/",
		"http://localhost:" + port + "/",
	} {
		_, err := c.WebhookPost(ctx, u)
		require.ErrorIs(t, err, sendoka.ErrWebhookAddressRefused, u)
	}
	// A decimal host is not an address to Go's resolver; whatever a resolver makes of it,
	// no connection reaches loopback.
	_, err = c.WebhookPost(ctx, "http://2130706433:"+port+"/")
	require.Error(t, err)

	status, err := c.WebhookPost(ctx, allowed.URL)
	require.NoError(t, err)
	require.Equal(t, http.StatusFound, status, "the redirect is the answer, not followed")
	require.Zero(t, hits.Load(), "the canary saw a connection")
}
