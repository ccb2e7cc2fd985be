package server_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/hosts/httpapi"
	"github.com/sendoka/sendoka/hosts/server"
	"github.com/sendoka/sendoka/providers/memsend"
	"github.com/sendoka/sendoka/queue/riverjobs"
	"github.com/sendoka/sendoka/sendoka"
	"github.com/sendoka/sendoka/storage/bunstore"
	"github.com/sendoka/sendoka/storage/bunstore/bunstoretest"
)

// The whole server (HTTP API, core, River workers, database) when its database stops
// answering: requests get 503 SERVICE_UNAVAILABLE with Retry-After within 5 s, /readyz says
// so within 1 s, /healthz stays up, and once the database is back every message that got a
// 200, before or after, reaches the provider.

// bundle is a started server over real HTTP, with memsend as the live provider.
type bundle struct {
	srv  *server.Server
	base string
	key  string // a sok_live_ key
	fake *memsend.Sender

	mu       sync.Mutex
	accepted []string // ids of every message that got a 200
}

func setup(t *testing.T, dsn string) *bundle {
	t.Helper()
	return setupQueue(t, dsn, riverjobs.Config{FetchCooldown: 5 * time.Millisecond, FetchPollInterval: 20 * time.Millisecond})
}

// setupQueue is setup with the queue's settings given.
func setupQueue(t *testing.T, dsn string, q riverjobs.Config) *bundle {
	t.Helper()
	return setupHTTP(t, dsn, q, httpapi.Options{})
}

// setupHTTP is setupQueue with the HTTP API's settings given.
func setupHTTP(t *testing.T, dsn string, q riverjobs.Config, h httpapi.Options) *bundle {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	fake := memsend.New()
	srv, err := server.Open(ctx, server.Config{
		DatabaseURL:     dsn,
		Email:           fake,
		SMS:             fake,
		VerifiedDomains: []string{"example.com"},
		Queue:           q,
		HTTP:            h,
		Database:        bunstore.Options{MaxOpenConns: bunstoretest.MaxOpenConns},
	})
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		require.NoError(t, srv.Close(ctx))
	})
	require.NoError(t, srv.Start(context.Background()))
	boot, err := srv.Client.Bootstrap(ctx, sendoka.BootstrapOptions{})
	require.NoError(t, err)
	b := &bundle{srv: srv, fake: fake}
	for _, k := range boot.NewKeys {
		if strings.HasPrefix(k, sendoka.KeyPrefixLive) {
			b.key = k
		}
	}
	require.NotEmpty(t, b.key)
	hs := httptest.NewServer(srv.Handler)
	t.Cleanup(hs.Close)
	b.base = hs.URL
	return b
}

// response is one finished exchange and how long it took.
type response struct {
	status  int
	header  http.Header
	body    []byte
	elapsed time.Duration
}

func (b *bundle) do(t *testing.T, method, path string, body any, headers ...string) *response {
	t.Helper()
	res, err := b.try(method, path, body, headers...)
	require.NoError(t, err)
	return res
}

// try is do for other goroutines: it returns its failure instead of failing the test.
// headers are name, value pairs.
func (b *bundle) try(method, path string, body any, headers ...string) (*response, error) {
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(raw)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, b.base+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+b.key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	start := time.Now()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	return &response{status: res.StatusCode, header: res.Header, body: raw, elapsed: time.Since(start)}, nil
}

func email(n int) map[string]any {
	return map[string]any{
		"from": "app@example.com", "to": []string{fmt.Sprintf("user%d@example.net", n)},
		"subject": "Hello", "text": "Hi",
	}
}

// send posts n emails, requires 200 for each and records them as accepted.
func (b *bundle) send(t *testing.T, n int) {
	t.Helper()
	for range n {
		res := b.do(t, http.MethodPost, "/api/v1/emails", email(n))
		require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
		var sent struct{ ID string }
		require.NoError(t, json.Unmarshal(res.body, &sent))
		b.mu.Lock()
		b.accepted = append(b.accepted, sent.ID)
		b.mu.Unlock()
	}
}

// requireAllSent waits until every accepted message reached the provider, once, and shows
// as sent (or delivered) through the API; and that no other message was stored.
func (b *bundle) requireAllSent(t *testing.T) {
	t.Helper()
	b.mu.Lock()
	ids := slices.Clone(b.accepted)
	b.mu.Unlock()
	for _, id := range ids {
		poll(t, 30*time.Second, func() bool {
			res, err := b.try(http.MethodGet, "/api/v1/emails/"+id, nil)
			if err != nil || res.status != http.StatusOK {
				return false
			}
			var m struct{ Status string }
			return json.Unmarshal(res.body, &m) == nil && (m.Status == "sent" || m.Status == "delivered")
		}, "message %s not sent", id)
		require.Equal(t, 1, b.fake.Count(id), "message %s handed to the provider once", id)
	}
	var list struct {
		Data []struct{ ID string }
	}
	res := b.do(t, http.MethodGet, "/api/v1/emails?limit=100", nil)
	require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
	require.NoError(t, json.Unmarshal(res.body, &list))
	stored := make([]string, len(list.Data))
	for i, m := range list.Data {
		stored[i] = m.ID
	}
	require.ElementsMatch(t, ids, stored, "a 503 stored nothing")
}

// requireUnavailable checks the 503 envelope of a database that does not answer.
func requireUnavailable(t *testing.T, res *response, within time.Duration) {
	t.Helper()
	t.Logf("%d in %s (Retry-After %s)", res.status, res.elapsed, res.header.Get("Retry-After"))
	require.Equal(t, http.StatusServiceUnavailable, res.status, "body: %s", res.body)
	require.Less(t, res.elapsed, within)
	var env struct {
		Error struct {
			Type, Code, Message string
			RequestID           string `json:"request_id"`
			Errors              []any
		}
	}
	require.NoError(t, json.Unmarshal(res.body, &env), "body: %s", res.body)
	require.Equal(t, "SERVICE_UNAVAILABLE", env.Error.Code)
	require.Equal(t, "api_error", env.Error.Type)
	require.Equal(t, "database unavailable; retry", env.Error.Message)
	require.Equal(t, res.header.Get("X-Request-Id"), env.Error.RequestID)
	require.NotNil(t, env.Error.Errors)
	secs, err := strconv.Atoi(res.header.Get("Retry-After"))
	require.NoError(t, err, "Retry-After: %q", res.header.Get("Retry-After"))
	require.True(t, secs >= 1 && secs <= 5, "Retry-After %d", secs)
}

// requireNotReady checks /readyz says 503 NOT_READY within a second, and /healthz 200.
func (b *bundle) requireNotReady(t *testing.T) {
	t.Helper()
	ready := b.do(t, http.MethodGet, "/readyz", nil)
	t.Logf("/readyz %d in %s", ready.status, ready.elapsed)
	require.Equal(t, http.StatusServiceUnavailable, ready.status, "body: %s", ready.body)
	require.Contains(t, string(ready.body), `"NOT_READY"`)
	require.Less(t, ready.elapsed, time.Second)
	health := b.do(t, http.MethodGet, "/healthz", nil)
	require.Equal(t, http.StatusOK, health.status)
	require.Less(t, health.elapsed, time.Second)
}

// poll checks cond on a ticker until it holds, and fails the test at the deadline.
func poll(t *testing.T, timeout time.Duration, cond func() bool, format string, args ...any) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline.C:
			t.Fatalf(format, args...)
		}
	}
}

// waitReady polls /readyz until the database answers again.
func (b *bundle) waitReady(t *testing.T) {
	t.Helper()
	poll(t, 30*time.Second, func() bool {
		res, err := b.try(http.MethodGet, "/readyz", nil)
		return err == nil && res.status == http.StatusOK
	}, "not ready again")
}

// concurrently runs the requests at once, as clients would, and returns their responses.
func (b *bundle) concurrently(t *testing.T, reqs ...func() (*response, error)) []*response {
	t.Helper()
	out := make([]*response, len(reqs))
	errs := make([]error, len(reqs))
	var wg sync.WaitGroup
	for i, r := range reqs {
		wg.Go(func() { out[i], errs[i] = r() })
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	return out
}

func TestFrozenPostgres(t *testing.T) {
	t.Parallel()
	dsn := bunstoretest.DSN(t, bunstore.DialectPostgres) // skips without Postgres
	proxy := bunstoretest.NewProxy(t, bunstoretest.PostgresTarget(t, dsn))
	b := setup(t, bunstoretest.ProxyDSN(t, dsn, proxy))
	b.send(t, 3)
	b.requireAllSent(t) // nothing in flight when the database freezes

	proxy.Freeze()
	var id string
	b.mu.Lock()
	id = b.accepted[0]
	b.mu.Unlock()
	res := b.concurrently(t,
		func() (*response, error) { return b.try(http.MethodPost, "/api/v1/emails", email(9)) },
		func() (*response, error) { return b.try(http.MethodGet, "/api/v1/emails/"+id, nil) },
	)
	requireUnavailable(t, res[0], 5*time.Second)
	requireUnavailable(t, res[1], 5*time.Second)
	b.requireNotReady(t)

	proxy.Thaw()
	b.waitReady(t)
	b.send(t, 3)
	b.requireAllSent(t)
}

// TestFrozenPostgresIdempotentSend: a send with an Idempotency-Key to a database that does
// not answer gets its 503 within the database timeout too. The chaos suite (scenario 8) saw
// such sends take the timeout twice: after the send failed, the key was looked up (to replay
// a response another request stored) with a timeout of its own, not what was left.
func TestFrozenPostgresIdempotentSend(t *testing.T) {
	t.Parallel()
	dsn := bunstoretest.DSN(t, bunstore.DialectPostgres) // skips without Postgres
	proxy := bunstoretest.NewProxy(t, bunstoretest.PostgresTarget(t, dsn))
	b := setupHTTP(t, bunstoretest.ProxyDSN(t, dsn, proxy), riverjobs.Config{FetchCooldown: 5 * time.Millisecond, FetchPollInterval: 20 * time.Millisecond},
		httpapi.Options{DatabaseTimeout: time.Second})
	b.send(t, 2) // the key is cached
	b.requireAllSent(t)

	proxy.Freeze()
	res := b.do(t, http.MethodPost, "/api/v1/emails", email(9), "Idempotency-Key", "frozen-1")
	requireUnavailable(t, res, 1500*time.Millisecond)

	proxy.Thaw()
	b.waitReady(t)
	res = b.do(t, http.MethodPost, "/api/v1/emails", email(9), "Idempotency-Key", "frozen-1")
	require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
	var sent struct{ ID string }
	require.NoError(t, json.Unmarshal(res.body, &sent))
	b.mu.Lock()
	b.accepted = append(b.accepted, sent.ID)
	b.mu.Unlock()
	b.requireAllSent(t)
}

func TestStoppedPostgres(t *testing.T) {
	t.Parallel()
	dsn := bunstoretest.DSN(t, bunstore.DialectPostgres) // skips without Postgres
	proxy := bunstoretest.NewProxy(t, bunstoretest.PostgresTarget(t, dsn))
	b := setup(t, bunstoretest.ProxyDSN(t, dsn, proxy))
	b.send(t, 2)
	b.requireAllSent(t)

	proxy.Stop() // connections cut, new ones refused
	id := b.accepted[0]
	requireUnavailable(t, b.do(t, http.MethodPost, "/api/v1/emails", email(9)), 2*time.Second)
	requireUnavailable(t, b.do(t, http.MethodGet, "/api/v1/emails/"+id, nil), 2*time.Second)
	b.requireNotReady(t)

	require.NoError(t, proxy.Start())
	b.waitReady(t)
	b.send(t, 2)
	b.requireAllSent(t)
}

func TestLockedSQLite(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "sendoka.db")
	b := setup(t, "sqlite:"+path)
	b.send(t, 2)
	b.requireAllSent(t)

	// Another process takes the write lock and keeps it.
	other, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(10000)")
	require.NoError(t, err)
	defer other.Close()
	ctx := context.Background()
	conn, err := other.Conn(ctx)
	require.NoError(t, err)
	defer conn.Close()
	_, err = conn.ExecContext(ctx, "BEGIN IMMEDIATE")
	require.NoError(t, err)
	_, err = conn.ExecContext(ctx, "CREATE TABLE other_process (x int)")
	require.NoError(t, err)

	requireUnavailable(t, b.do(t, http.MethodPost, "/api/v1/emails", email(9)), 5*time.Second)
	// Readers go on beside a writer in WAL mode, but share the one connection with
	// writers that wait for the lock: a read is either answered or a 503, in time.
	get := b.do(t, http.MethodGet, "/api/v1/emails/"+b.accepted[0], nil)
	if get.status != http.StatusOK {
		requireUnavailable(t, get, 5*time.Second)
	}

	_, err = conn.ExecContext(ctx, "ROLLBACK")
	require.NoError(t, err)
	b.send(t, 2)
	b.requireAllSent(t)
}

// TestSlowDatabaseKeepsTheConnection: a send with an Idempotency-Key that waits on a locked
// database for longer than the body read timeout answers 503, and the next request on the
// same keep-alive connection is served. The chaos suite (scenario 8) found such a send
// answered 500, and every later request on its connection too, at once: a read deadline
// Huma set after the idempotency middleware had read the body fired in net/http's
// background read, which cancels the connection's context.
func TestSlowDatabaseKeepsTheConnection(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "sendoka.db")
	b := setupHTTP(t, "sqlite:"+path, riverjobs.Config{FetchCooldown: 5 * time.Millisecond, FetchPollInterval: 20 * time.Millisecond},
		httpapi.Options{BodyReadTimeout: 100 * time.Millisecond, DatabaseTimeout: time.Second})
	b.send(t, 1) // the key is cached: authentication does not wait on the lock below

	hc := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 1, MaxIdleConnsPerHost: 1}}
	t.Cleanup(hc.CloseIdleConnections)
	post := func(key string) (*response, bool) {
		t.Helper()
		raw, err := json.Marshal(email(7))
		require.NoError(t, err)
		reused := false
		ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
			GotConn: func(info httptrace.GotConnInfo) { reused = info.Reused },
		})
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.base+"/api/v1/emails", bytes.NewReader(raw))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+b.key)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", key)
		start := time.Now()
		res, err := hc.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		body, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		return &response{status: res.StatusCode, header: res.Header, body: body, elapsed: time.Since(start)}, reused
	}

	other, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(10000)")
	require.NoError(t, err)
	defer other.Close()
	ctx := context.Background()
	conn, err := other.Conn(ctx)
	require.NoError(t, err)
	defer conn.Close()
	_, err = conn.ExecContext(ctx, "BEGIN IMMEDIATE")
	require.NoError(t, err)
	_, err = conn.ExecContext(ctx, "CREATE TABLE other_process (x int)")
	require.NoError(t, err)

	res, _ := post("slow-1")
	require.Greater(t, res.elapsed, 100*time.Millisecond, "the send outlasted the body read timeout")
	requireUnavailable(t, res, 5*time.Second)

	_, err = conn.ExecContext(ctx, "ROLLBACK")
	require.NoError(t, err)
	res, reused := post("slow-1")
	require.True(t, reused, "the retry came on the same connection")
	require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
	var sent struct{ ID string }
	require.NoError(t, json.Unmarshal(res.body, &sent))
	b.mu.Lock()
	b.accepted = append(b.accepted, sent.ID)
	b.mu.Unlock()
	b.requireAllSent(t)
}

// TestPostgresWakesOnNewJobs: on Postgres the workers LISTEN, so a new message starts at
// once even when the poll interval is ten minutes.
func TestPostgresWakesOnNewJobs(t *testing.T) {
	t.Parallel()
	b := setupQueue(t, bunstoretest.DSN(t, bunstore.DialectPostgres), // skips without Postgres
		riverjobs.Config{FetchCooldown: 5 * time.Millisecond, FetchPollInterval: 10 * time.Minute})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	orgs, err := b.srv.Client.ListOrgs(ctx)
	require.NoError(t, err)
	p := sendoka.SystemPrincipal(orgs[0].ID, sendoka.ModeLive)
	fake, srv := b.fake, b.srv
	for i := range 2 {
		_, err := srv.Client.SendEmail(ctx, p, &sendoka.EmailRequest{From: "app@example.com",
			To: []string{"user@example.com"}, Subject: "Hi", Text: "Hello"})
		require.NoError(t, err)
		wait, cancel := context.WithTimeout(ctx, 20*time.Second)
		require.NoError(t, fake.WaitFor(wait, i+1), "message %d waited for a poll", i+1)
		cancel()
	}
}
