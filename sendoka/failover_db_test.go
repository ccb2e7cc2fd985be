package sendoka_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/providers/memsend"
	"github.com/sendoka/sendoka/queue/riverjobs"
	"github.com/sendoka/sendoka/sendoka"
	"github.com/sendoka/sendoka/sendoka/sendokatest"
	"github.com/sendoka/sendoka/storage/bunstore"
	"github.com/sendoka/sendoka/storage/bunstore/bunstoretest"
)

// foBundle is a Client with two live email providers, "ses" (a) then "smtp" (b), and two
// SMS providers, "sns" (a) then "backup" (b), each a memsend fake, on a real database and a
// real River queue (not started unless a test calls start).
type foBundle struct {
	db      *bunstore.DB
	queue   *riverjobs.Queue
	client  *sendoka.Client
	a, b    *memsend.Sender
	sandbox *memsend.Sender
	clock   *offsetClock
	obs     *providerRecorder
	live    *sendoka.Principal
	dns     *sendokatest.DNS
}

const foOpenFor = time.Minute

func newFailoverBundle(t *testing.T, db *bunstore.DB, mod func(*sendoka.Config)) *foBundle {
	t.Helper()
	ctx := context.Background()
	dialect := string(db.Dialect())
	require.NoError(t, riverjobs.Migrate(ctx, db.SQLDB(), dialect))
	q, err := riverjobs.New(db.SQLDB(), dialect, riverjobs.Config{
		MaxWorkers: 10, FetchCooldown: 5 * time.Millisecond, FetchPollInterval: 20 * time.Millisecond,
		ConflictSnooze: 20 * time.Millisecond,
	})
	require.NoError(t, err)
	f := &foBundle{db: db, queue: q, a: memsend.New(), b: memsend.New(), sandbox: memsend.New(),
		clock: &offsetClock{}, obs: newProviderRecorder()}
	f.a.SetName("ses")
	f.b.SetName("smtp")
	f.dns = sendokatest.NewDNS()
	cfg := sendoka.Config{Store: db, Queue: q, Clock: f.clock, Observer: f.obs, DNS: f.dns,
		EmailProviders: []sendoka.EmailProvider{{Name: "ses", Sender: f.a}, {Name: "smtp", Sender: f.b}},
		SMSProviders:   []sendoka.SMSProvider{{Name: "sns", Sender: f.a}, {Name: "backup", Sender: f.b}},
		SandboxEmail:   f.sandbox, SandboxSMS: f.sandbox,
		VerifiedDomains: []string{"boot.example"}, DisableLimits: true,
		Breaker: sendoka.BreakerConfig{Failures: 3, OpenFor: foOpenFor},
	}
	if mod != nil {
		mod(&cfg)
	}
	f.client, err = sendoka.New(cfg)
	require.NoError(t, err)
	res, err := f.client.Bootstrap(ctx, sendoka.BootstrapOptions{})
	require.NoError(t, err)
	f.live = sendoka.SystemPrincipal(res.Org.ID, sendoka.ModeLive)
	return f
}

func (f *foBundle) start(t *testing.T) {
	t.Helper()
	require.NoError(t, f.queue.Start(context.Background(), f.client))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), dbWait)
		defer cancel()
		require.NoError(t, f.queue.Stop(ctx))
	})
}

// send accepts a live email from the verified domain, with tags.
func (f *foBundle) send(t *testing.T, p *sendoka.Principal, tags ...string) *sendoka.Message {
	t.Helper()
	return f.sendFrom(t, p, "app@boot.example", tags...)
}

func (f *foBundle) sendFrom(t *testing.T, p *sendoka.Principal, from string, tags ...string) *sendoka.Message {
	t.Helper()
	m, err := f.client.SendEmail(context.Background(), p, &sendoka.EmailRequest{From: from,
		To: []string{"ada@example.com"}, Subject: "Hi", Text: "Hello", Tags: tags})
	require.NoError(t, err)
	return m
}

func (f *foBundle) get(t *testing.T, id string) *sendoka.Message {
	t.Helper()
	m, err := f.client.GetMessage(context.Background(), f.live, sendoka.ChannelEmail, id)
	require.NoError(t, err)
	return m
}

// deliver runs the message's delivery as its job would.
func (f *foBundle) deliver(t *testing.T, m *sendoka.Message) error {
	t.Helper()
	return f.client.Deliver(context.Background(), m.ID, sendoka.DeliverOptions{JobID: m.JobID})
}

// waitSent waits until every message is sent (or further) and returns them as stored.
func (f *foBundle) waitSent(t *testing.T, ids []string) []*sendoka.Message {
	t.Helper()
	out := make([]*sendoka.Message, len(ids))
	pollUntil(t, func() bool {
		for i, id := range ids {
			m := f.get(t, id)
			if m.Status == sendoka.StatusQueued || m.Status == sendoka.StatusScheduled {
				return false
			}
			out[i] = m
		}
		return true
	}, "messages were not all handed off")
	return out
}

func (f *foBundle) breaker(t *testing.T, ch sendoka.Channel, name string) sendoka.BreakerState {
	t.Helper()
	for _, p := range f.client.Providers() {
		if p.Channel == ch && p.Name == name {
			return p.Breaker
		}
	}
	t.Fatalf("no provider %s %s", ch, name)
	return ""
}

// trail is a message's attempts as provider:result, oldest first.
func trail(m *sendoka.Message) []string {
	out := make([]string, len(m.DeliveryAttempts))
	for i, a := range m.DeliveryAttempts {
		out[i] = a.Provider + ":" + string(a.Result)
	}
	return out
}

// providerRecorder is an Observer and ProviderObserver that remembers what it is told.
type providerRecorder struct {
	mu       sync.Mutex
	states   map[string][]sendoka.BreakerState // channel/provider -> states, in order
	attempts map[string]int                    // channel/provider/result -> count
}

func newProviderRecorder() *providerRecorder {
	return &providerRecorder{states: map[string][]sendoka.BreakerState{}, attempts: map[string]int{}}
}

func (r *providerRecorder) MessageStatus(sendoka.Channel, sendoka.Status, string, string, sendoka.Mode) {
}
func (r *providerRecorder) ProviderCall(context.Context, string, sendoka.Channel, time.Time, time.Duration, string) {
}
func (r *providerRecorder) WebhookAttempt(string, time.Duration) {}

func (r *providerRecorder) ProviderAttempt(ch sendoka.Channel, provider string, result sendoka.AttemptResult) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.attempts[fmt.Sprintf("%s/%s/%s", ch, provider, result)]++
}

func (r *providerRecorder) BreakerState(ch sendoka.Channel, provider string, s sendoka.BreakerState) {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := string(ch) + "/" + provider
	r.states[k] = append(r.states[k], s)
}

func (r *providerRecorder) statesOf(key string) []sendoka.BreakerState {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.states[key])
}

func (r *providerRecorder) attemptsOf(key string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.attempts[key]
}

// TestFailoverProviderDown: with the first provider down, River's workers hand every message
// to the second within the same attempt, none twice; the breaker opens after three failures
// and the first provider is no longer tried; once it is back and the open interval has passed
// (on the injected clock), a probe closes the breaker and traffic returns to it.
func TestFailoverProviderDown(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		f := newFailoverBundle(t, db, nil)
		require.Equal(t, []sendoka.BreakerState{sendoka.BreakerClosed}, f.obs.statesOf("email/ses"), "a gauge from the start")
		f.a.Outage(sendoka.Transient)
		f.start(t)

		var ids []string
		for range 20 {
			ids = append(ids, f.send(t, f.live).ID)
		}
		for _, m := range f.waitSent(t, ids) {
			require.Equal(t, sendoka.StatusSent, m.Status)
			require.Equal(t, "smtp", m.Provider)
			require.Equal(t, 1, f.b.Count(m.ID), "sent once, by the second provider")
			require.Zero(t, f.a.Count(m.ID))
			require.Contains(t, [][]string{{"ses:transient", "smtp:sent"}, {"ses:skipped", "smtp:sent"}}, trail(m))
			require.True(t, m.DeliveryAttempts[0].FailedOver)
			require.False(t, m.DeliveryAttempts[1].FailedOver)
			require.Nil(t, m.Diagnostic, "a sent message keeps no failure as its diagnostic")
		}
		require.Equal(t, sendoka.BreakerOpen, f.breaker(t, sendoka.ChannelEmail, "ses"))
		require.Equal(t, sendoka.BreakerClosed, f.breaker(t, sendoka.ChannelEmail, "smtp"))
		tried := f.a.TotalCalls()
		require.GreaterOrEqual(t, tried, 3, "three failures open the breaker")
		require.Less(t, tried, 20, "an open breaker stops the calls to a provider that is down")
		require.Equal(t, 20, len(f.b.Sent()))

		// While it is open, the first provider is skipped, not called.
		m := f.send(t, f.live)
		got := f.waitSent(t, []string{m.ID})[0]
		require.Equal(t, []string{"ses:skipped", "smtp:sent"}, trail(got))
		require.Equal(t, "circuit_open", got.DeliveryAttempts[0].Diagnostic.Code)
		require.Equal(t, 1, got.Attempts, "a skipped provider is not a hand-off")
		require.Equal(t, tried, f.a.TotalCalls())

		// It comes back; past the open interval, the next message probes it and closes the
		// breaker, and the traffic returns.
		f.a.Restore()
		f.clock.set(foOpenFor + time.Second)
		probe := f.send(t, f.live)
		got = f.waitSent(t, []string{probe.ID})[0]
		require.Equal(t, []string{"ses:sent"}, trail(got))
		require.Equal(t, 1, f.a.Count(probe.ID))
		require.Equal(t, sendoka.BreakerClosed, f.breaker(t, sendoka.ChannelEmail, "ses"))
		ids = ids[:0]
		for range 10 {
			ids = append(ids, f.send(t, f.live).ID)
		}
		for _, m := range f.waitSent(t, ids) {
			require.Equal(t, []string{"ses:sent"}, trail(m))
			require.Equal(t, 1, f.a.Count(m.ID))
			require.Zero(t, f.b.Count(m.ID))
		}
		require.Equal(t, []sendoka.BreakerState{sendoka.BreakerClosed, sendoka.BreakerOpen, sendoka.BreakerHalfOpen, sendoka.BreakerClosed},
			f.obs.statesOf("email/ses"))
		require.Equal(t, 11, f.obs.attemptsOf("email/ses/sent"))
		require.Equal(t, tried, f.obs.attemptsOf("email/ses/transient"))
		require.Equal(t, 21, f.obs.attemptsOf("email/smtp/sent"))
		require.Equal(t, 21-tried, f.obs.attemptsOf("email/ses/skipped"))
	})
}

// TestFailoverProbeFails: a probe that fails opens the breaker for another interval, and its
// message still goes to the next provider.
func TestFailoverProbeFails(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		f := newFailoverBundle(t, db, func(cfg *sendoka.Config) { cfg.Breaker.Failures = 1 })
		f.a.Outage(sendoka.Throttled)
		first := f.send(t, f.live)
		require.NoError(t, f.deliver(t, first))
		require.Equal(t, []string{"ses:throttled", "smtp:sent"}, trail(f.get(t, first.ID)))
		require.Equal(t, sendoka.BreakerOpen, f.breaker(t, sendoka.ChannelEmail, "ses"))

		f.clock.set(foOpenFor)
		probe := f.send(t, f.live)
		require.NoError(t, f.deliver(t, probe))
		require.Equal(t, []string{"ses:throttled", "smtp:sent"}, trail(f.get(t, probe.ID)), "the probe was tried")
		require.Equal(t, sendoka.BreakerOpen, f.breaker(t, sendoka.ChannelEmail, "ses"))

		next := f.send(t, f.live)
		require.NoError(t, f.deliver(t, next))
		require.Equal(t, []string{"ses:skipped", "smtp:sent"}, trail(f.get(t, next.ID)), "open again for a whole interval")
		require.Equal(t, 2, f.a.TotalCalls())
	})
}

// TestFailoverNeverAfterUnknownOrPermanent: an unknown outcome (the data may be with the
// provider) or a permanent refusal (the message's fault) never moves a message to another
// provider.
func TestFailoverNeverAfterUnknownOrPermanent(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		f := newFailoverBundle(t, db, nil)

		f.a.Outage(sendoka.Unknown)
		m := f.send(t, f.live)
		require.NoError(t, f.deliver(t, m))
		got := f.get(t, m.ID)
		require.Equal(t, sendoka.StatusSent, got.Status)
		require.Equal(t, sendoka.OutcomeUnknown, got.Outcome)
		require.Equal(t, []string{"ses:unknown"}, trail(got))
		require.Zero(t, f.b.Calls(m.ID), "never handed to a second provider")
		require.NoError(t, f.deliver(t, m))
		require.Equal(t, 1, f.a.Calls(m.ID)+f.b.Calls(m.ID), "nor to the first again")

		// An error the provider did not classify is retried, on the same provider: it says
		// nothing of whether the provider has the message.
		f.a.FailWith(func(string, int) error { return errors.New("connection reset by peer") })
		m = f.send(t, f.live)
		err := f.deliver(t, m)
		require.Equal(t, sendoka.CodeProviderTransient, sendoka.ErrorCode(err))
		got = f.get(t, m.ID)
		require.Equal(t, sendoka.StatusQueued, got.Status)
		require.Equal(t, []string{"ses:transient"}, trail(got))
		require.Zero(t, f.b.Calls(m.ID))

		f.a.Outage(sendoka.Permanent)
		m = f.send(t, f.live)
		require.NoError(t, f.deliver(t, m))
		got = f.get(t, m.ID)
		require.Equal(t, sendoka.StatusFailed, got.Status)
		require.Equal(t, []string{"ses:permanent"}, trail(got))
		require.Zero(t, f.b.Calls(m.ID))
		require.Equal(t, sendoka.BreakerClosed, f.breaker(t, sendoka.ChannelEmail, "ses"), "a permanent refusal closes the count again")
	})
}

// TestFailoverEveryProviderDown: when every provider refuses, the message is deferred (one
// round, one retry on the schedule); when every breaker is open, no provider is called and the
// message waits at least until a probe may go.
func TestFailoverEveryProviderDown(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		f := newFailoverBundle(t, db, func(cfg *sendoka.Config) {
			cfg.Breaker.Failures = 1
			cfg.Delivery.RetryDelays = []time.Duration{10 * time.Second, 20 * time.Second}
		})
		f.a.Outage(sendoka.Transient)
		f.b.Outage(sendoka.Transient)
		m := f.send(t, f.live)
		err := f.deliver(t, m)
		require.Equal(t, sendoka.CodeProviderTransient, sendoka.ErrorCode(err))
		var e *sendoka.Error
		require.ErrorAs(t, err, &e)
		require.Equal(t, 10*time.Second, e.Retry, "the round is one attempt on the retry schedule")
		got := f.get(t, m.ID)
		require.Equal(t, sendoka.StatusQueued, got.Status)
		require.Equal(t, []string{"ses:transient", "smtp:transient"}, trail(got))
		require.Equal(t, 2, got.Attempts)
		require.Equal(t, "smtp", got.Diagnostic.Provider)

		err = f.deliver(t, m)
		require.ErrorAs(t, err, &e)
		require.InDelta(t, foOpenFor.Seconds(), e.Retry.Seconds(), 1, "no provider tried: wait until a probe may go")
		got = f.get(t, m.ID)
		require.Equal(t, sendoka.StatusQueued, got.Status)
		require.Equal(t, []string{"ses:transient", "smtp:transient", "ses:skipped", "smtp:skipped"}, trail(got))
		require.Equal(t, 2, got.Attempts)
		require.Equal(t, 1, f.a.Calls(m.ID))
		require.Equal(t, 1, f.b.Calls(m.ID))

		// The third round is the last: the message fails rather than wait for ever.
		err = f.deliver(t, m)
		require.NoError(t, err)
		got = f.get(t, m.ID)
		require.Equal(t, sendoka.StatusFailed, got.Status)
		require.Equal(t, "circuit_open", got.Diagnostic.Code)
	})
}

// TestFailoverRoutes: routes by tag, tenant and stream pick the providers and their order.
func TestFailoverRoutes(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		f := newFailoverBundle(t, db, func(cfg *sendoka.Config) {
			cfg.Routes = []sendoka.Route{
				{Channel: sendoka.ChannelEmail, Tag: "receipts", Providers: []string{"smtp"}},
				{Channel: sendoka.ChannelEmail, TenantID: "ten_eu", Providers: []string{"smtp", "ses"}},
				{Channel: sendoka.ChannelEmail, Stream: sendoka.StreamBroadcast, Providers: []string{"ses"}},
			}
		})
		tenant := *f.live
		tenant.TenantID = "ten_eu"
		// A tenant sends from a domain of its own.
		d, err := f.client.CreateDomain(context.Background(), &tenant, &sendoka.DomainRequest{Name: "eu.example"})
		require.NoError(t, err)
		f.dns.Publish(d)
		d, err = f.client.VerifyDomain(context.Background(), &tenant, d.ID)
		require.NoError(t, err)
		require.Equal(t, sendoka.DomainVerified, d.Status)
		f.start(t)

		byTag := f.send(t, f.live, "receipts")
		byTenant := f.sendFrom(t, &tenant, "app@eu.example")
		plain := f.send(t, f.live, "other")
		got := f.waitSent(t, []string{byTag.ID, byTenant.ID, plain.ID})
		require.Equal(t, []string{"smtp:sent"}, trail(got[0]))
		require.Equal(t, []string{"smtp:sent"}, trail(got[1]))
		require.Equal(t, []string{"ses:sent"}, trail(got[2]))

		// A route of one provider has nowhere to fail over to: the message waits for its
		// retry. (The workers deliver; the test only watches.)
		f.b.Outage(sendoka.Transient)
		m := f.send(t, f.live, "receipts")
		pollUntil(t, func() bool { return len(f.get(t, m.ID).DeliveryAttempts) == 1 }, "no attempt recorded")
		got[0] = f.get(t, m.ID)
		require.Equal(t, []string{"smtp:transient"}, trail(got[0]))
		require.Equal(t, sendoka.StatusQueued, got[0].Status)
		require.NotNil(t, got[0].NextRetryAt)
		require.Zero(t, f.a.Calls(m.ID))
		// The tenant's route fails over in its own order.
		m = f.sendFrom(t, &tenant, "app@eu.example")
		got = f.waitSent(t, []string{m.ID})
		require.Equal(t, []string{"smtp:transient", "ses:sent"}, trail(got[0]))
	})
}

// TestFailoverSMS: SMS fail over as email does, with breakers of their own.
func TestFailoverSMS(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		f := newFailoverBundle(t, db, nil)
		ctx := context.Background()
		_, err := f.client.CreatePhoneNumber(ctx, f.live, &sendoka.PhoneNumberRequest{Kind: sendoka.SenderLongCode,
			PhoneNumber: "+15551234567", ISOCountry: "US"})
		require.NoError(t, err)
		f.a.Outage(sendoka.Throttled)
		f.start(t)
		m, err := f.client.SendSMS(ctx, f.live, &sendoka.SMSRequest{From: "+15551234567", To: "+15559876543", Body: "Your code is 1234"})
		require.NoError(t, err)
		pollUntil(t, func() bool { return f.b.Count(m.ID) == 1 }, "the SMS never reached the second provider")
		var got *sendoka.Message
		pollUntil(t, func() bool {
			got, err = f.client.GetMessage(ctx, f.live, sendoka.ChannelSMS, m.ID)
			require.NoError(t, err)
			return got.Status == sendoka.StatusSent
		}, "the SMS was not recorded as sent")
		require.Equal(t, []string{"sns:throttled", "backup:sent"}, trail(got))
		require.Zero(t, f.a.Count(m.ID))
		require.Equal(t, sendoka.BreakerClosed, f.breaker(t, sendoka.ChannelEmail, "ses"), "channels have breakers of their own")
	})
}

// TestFailoverConfig: misconfigurations fail New with a message that names the field.
func TestFailoverConfig(t *testing.T) {
	t.Parallel()
	db := bunstoretest.Open(t, bunstore.DialectSQLite)
	q, err := riverjobs.New(db.SQLDB(), string(db.Dialect()), riverjobs.Config{})
	require.NoError(t, err)
	fake := memsend.New()
	base := func() sendoka.Config {
		return sendoka.Config{Store: db, Queue: q,
			EmailProviders: []sendoka.EmailProvider{{Name: "ses", Sender: fake}, {Name: "smtp", Sender: fake}}}
	}
	for name, tc := range map[string]struct {
		mod  func(*sendoka.Config)
		want string
	}{
		"both":    {func(c *sendoka.Config) { c.Email = fake }, "either Config.Email or Config.EmailProviders"},
		"unnamed": {func(c *sendoka.Config) { c.EmailProviders[1].Name = "" }, "a name and a sender are required"},
		"twice":   {func(c *sendoka.Config) { c.EmailProviders[1].Name = "ses" }, `the name "ses" is used twice`},
		"unknown route": {func(c *sendoka.Config) {
			c.Routes = []sendoka.Route{{Channel: sendoka.ChannelEmail, Providers: []string{"sns"}}}
		}, `no email provider is named "sns"`},
		"empty route": {func(c *sendoka.Config) { c.Routes = []sendoka.Route{{Channel: sendoka.ChannelEmail}} }, "no providers"},
		"bad stream": {func(c *sendoka.Config) {
			c.Routes = []sendoka.Route{{Channel: sendoka.ChannelEmail, Stream: "bulk", Providers: []string{"ses"}}}
		}, `stream "bulk"`},
		"bad channel": {func(c *sendoka.Config) { c.Routes = []sendoka.Route{{Channel: "fax", Providers: []string{"ses"}}} }, `channel "fax"`},
		"bad breaker": {func(c *sendoka.Config) { c.Breaker.Failures = -1 }, "Breaker.Failures"},
	} {
		cfg := base()
		cfg.EmailProviders = slices.Clone(cfg.EmailProviders)
		tc.mod(&cfg)
		_, err := sendoka.New(cfg)
		require.ErrorContains(t, err, tc.want, name)
	}
}

// TestFailoverHoldsTheClaim: the failover happens inside one claim: a second run of the job
// while the first provider is still answering finds the message held, and the message reaches
// the second provider once. A claim that lapsed mid-round (its process died) is never
// retried on either provider.
func TestFailoverHoldsTheClaim(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		f := newFailoverBundle(t, db, nil)
		ctx := context.Background()
		f.a.Outage(sendoka.Transient)
		release := f.a.Block()
		m := f.send(t, f.live)
		done := make(chan error, 1)
		go func() { done <- f.deliver(t, m) }()
		require.NoError(t, f.a.WaitCalls(ctx, 1))

		err := f.deliver(t, m)
		require.Equal(t, sendoka.CodeConflict, sendoka.ErrorCode(err), "a live claim holds through the failover")
		release()
		require.NoError(t, <-done)
		got := f.get(t, m.ID)
		require.Equal(t, []string{"ses:transient", "smtp:sent"}, trail(got))
		require.NoError(t, f.deliver(t, m), "a later run finds it sent")
		require.Equal(t, 1, f.a.Calls(m.ID))
		require.Equal(t, 1, f.b.Calls(m.ID))

		// A process died while a message was with one of the two: which one is not
		// known, so the message is recorded unknown and sent by neither.
		m = f.send(t, f.live)
		require.NoError(t, db.InTx(ctx, func(ctx context.Context, tx sendoka.Tx) error {
			ok, err := tx.ClaimMessage(ctx, m.ID, f.clock.at(-2*time.Minute), f.clock.at(-time.Minute), sendoka.StatusQueued)
			require.True(t, ok)
			return err
		}))
		require.NoError(t, f.deliver(t, m))
		got = f.get(t, m.ID)
		require.Equal(t, sendoka.StatusSent, got.Status)
		require.Equal(t, sendoka.OutcomeUnknown, got.Outcome)
		require.Zero(t, f.a.Calls(m.ID)+f.b.Calls(m.ID))
	})
}
