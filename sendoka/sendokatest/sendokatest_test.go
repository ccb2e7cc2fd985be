package sendokatest_test

import (
	"context"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/providers/memsend"
	"github.com/sendoka/sendoka/sendoka"
	"github.com/sendoka/sendoka/sendoka/sendokatest"
	"github.com/sendoka/sendoka/storage/bunstore"
	"github.com/sendoka/sendoka/storage/bunstore/bunstoretest"
)

// TestReadmeSnippet is the test the README and the package doc show, verbatim.
func TestReadmeSnippet(t *testing.T) {
	t.Parallel()
	env := sendokatest.New(t, nil)

	msg, err := env.Client.SendEmail(context.Background(), env.Test, &sendoka.EmailRequest{
		From: "app@sandbox.sendoka.com", To: []string{"ada@example.com"},
		Subject: "Welcome", Text: "Hi Ada",
	})
	require.NoError(t, err)

	sent := env.WaitSent(t, 1) // what the provider was handed
	require.Equal(t, "Welcome", sent[0].Email.Subject)
	env.WaitStatus(t, sendoka.ChannelEmail, msg.ID, sendoka.StatusSent)
}

// TestEverySendReachesTheFake sends with each principal, from each kind of sender, on each
// database: in every case the one fake takes the message and the status becomes sent.
func TestEverySendReachesTheFake(t *testing.T) {
	t.Parallel()
	type send func(ctx context.Context, env *sendokatest.Env) (*sendoka.Message, error)
	email := func(p func(*sendokatest.Env) *sendoka.Principal, from string) send {
		return func(ctx context.Context, env *sendokatest.Env) (*sendoka.Message, error) {
			return env.Client.SendEmail(ctx, p(env), &sendoka.EmailRequest{
				From: from, To: []string{"ada@example.com"}, Subject: "Hello " + from, Text: "Hi",
			})
		}
	}
	sms := func(p func(*sendokatest.Env) *sendoka.Principal) send {
		return func(ctx context.Context, env *sendokatest.Env) (*sendoka.Message, error) {
			if _, err := env.Client.CreatePhoneNumber(ctx, p(env), &sendoka.PhoneNumberRequest{
				Kind: sendoka.SenderLongCode, PhoneNumber: "+15551234567", ISOCountry: "US",
			}); err != nil {
				return nil, err
			}
			return env.Client.SendSMS(ctx, p(env), &sendoka.SMSRequest{From: "+15551234567", To: "+15559876543", Body: "Your code is 1234"})
		}
	}
	live := func(env *sendokatest.Env) *sendoka.Principal { return env.Live }
	test := func(env *sendokatest.Env) *sendoka.Principal { return env.Test }

	cases := []struct {
		name string
		ch   sendoka.Channel
		send send
	}{
		{"test key, verified domain", sendoka.ChannelEmail, email(test, "app@acme.example")},
		{"test key, sandbox domain", sendoka.ChannelEmail, email(test, "app@sandbox.sendoka.com")},
		{"live key, sandbox domain", sendoka.ChannelEmail, email(live, "app@sandbox.sendoka.com")},
		{"live key, verified domain", sendoka.ChannelEmail, email(live, "Acme <app@acme.example>")},
		{"test key, sms", sendoka.ChannelSMS, sms(test)},
		{"live key, sms", sendoka.ChannelSMS, sms(live)},
	}
	for _, d := range bunstoretest.Dialects(t) {
		for _, tc := range cases {
			t.Run(string(d)+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				opts := &sendokatest.Options{VerifiedDomains: []string{"acme.example"}}
				if d == bunstore.DialectPostgres {
					// The server's own database: the Env makes a schema of its own on it.
					opts.DatabaseURL = os.Getenv(bunstoretest.EnvDatabaseURL)
				}
				env := sendokatest.New(t, opts)
				require.Equal(t, d, env.DB.Dialect())

				msg, err := tc.send(context.Background(), env)
				require.NoError(t, err)

				sent := env.WaitSent(t, 1)
				require.Len(t, sent, 1)
				require.Equal(t, msg.ID, sent[0].MessageID())
				if tc.ch == sendoka.ChannelEmail {
					require.Equal(t, []string{"ada@example.com"}, sent[0].Email.To)
					require.Equal(t, msg.Email.Subject, sent[0].Email.Subject)
				} else {
					require.Equal(t, "+15559876543", sent[0].SMS.To)
					require.Equal(t, "Your code is 1234", sent[0].SMS.Body)
				}
				got := env.WaitStatus(t, tc.ch, msg.ID, sendoka.StatusSent)
				require.Equal(t, "memsend", got.Provider)
				require.Equal(t, 1, env.Fake.Count(msg.ID))
			})
		}
	}
}

// TestKeys checks that the Env's API keys authenticate as its org, in their modes.
func TestKeys(t *testing.T) {
	t.Parallel()
	env := sendokatest.New(t, nil)
	ctx := context.Background()
	for key, mode := range map[string]sendoka.Mode{env.LiveKey: sendoka.ModeLive, env.TestKey: sendoka.ModeTest} {
		p, err := env.Client.Authenticate(ctx, key, netip.MustParseAddr("127.0.0.1"))
		require.NoError(t, err)
		require.Equal(t, env.OrgID, p.OrgID)
		require.Equal(t, mode, p.Mode)
	}
	require.Equal(t, sendoka.ModeLive, env.Live.Mode)
	require.Equal(t, sendoka.ModeTest, env.Test.Mode)
	require.Equal(t, env.OrgID, env.Test.OrgID)
}

// TestOptions checks that the clock, the delivery settings, the sandbox domain and a fake of
// the test's own reach the Client: a send stamped by the clock fails once and is retried at
// once.
func TestOptions(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 27, 19, 40, 2, 0, time.UTC)
	fake := memsend.New()
	fake.FailWith(func(_ string, call int) error {
		if call == 0 {
			return &sendoka.ProviderError{Kind: sendoka.Transient, Provider: "memsend", Message: "try again"}
		}
		return nil
	})
	env := sendokatest.New(t, &sendokatest.Options{
		Clock:         sendoka.ClockFunc(func() time.Time { return at }),
		Delivery:      sendoka.DeliveryConfig{RetryDelays: []time.Duration{time.Millisecond}},
		SandboxDomain: "sandbox.example",
		Fake:          fake,
		// A retry waits for River's scheduler, which runs every 5 s.
		WaitTimeout: 30 * time.Second,
	})
	require.Same(t, fake, env.Fake)
	require.Equal(t, "sandbox.example", env.Client.SandboxDomain())

	msg, err := env.Client.SendEmail(context.Background(), env.Test, &sendoka.EmailRequest{
		From: "app@sandbox.example", To: []string{"ada@example.com"}, Subject: "Retried", Text: "Hi",
	})
	require.NoError(t, err)
	require.Equal(t, at, msg.CreatedAt)

	got := env.WaitStatus(t, sendoka.ChannelEmail, msg.ID, sendoka.StatusSent)
	require.Equal(t, 2, fake.Calls(msg.ID))
	require.Equal(t, 1, fake.Count(msg.ID))
	require.Len(t, got.DeliveryAttempts, 2)
	require.Equal(t, sendoka.AttemptTransient, got.DeliveryAttempts[0].Result)
}

// TestWaitStatusFailsOnAnotherTerminalStatus checks that WaitStatusContext returns as soon as
// the message ends otherwise, with the provider's reason, rather than at its deadline.
func TestWaitStatusFailsOnAnotherTerminalStatus(t *testing.T) {
	t.Parallel()
	env := sendokatest.New(t, nil)
	env.Fake.FailWith(func(string, int) error {
		return &sendoka.ProviderError{Kind: sendoka.Permanent, Provider: "memsend", Code: "550", Message: "no such user"}
	})
	msg, err := env.Client.SendEmail(context.Background(), env.Live, &sendoka.EmailRequest{
		From: "app@sandbox.sendoka.com", To: []string{"nobody@example.com"}, Subject: "Hi", Text: "Hi",
	})
	require.NoError(t, err)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	m, err := env.WaitStatusContext(ctx, sendoka.ChannelEmail, msg.ID, sendoka.StatusSent)
	require.ErrorContains(t, err, "is failed, not sent")
	require.ErrorContains(t, err, "no such user")
	require.NoError(t, ctx.Err(), "returned at the deadline instead of at the failure")
	require.Equal(t, sendoka.StatusFailed, m.Status)
}

// TestOpen checks the Env without a testing.TB: in memory, closed by its caller, and Close
// may be called twice.
func TestOpen(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	env, err := sendokatest.Open(ctx, nil)
	require.NoError(t, err)
	msg, err := env.Client.SendEmail(ctx, env.Test, &sendoka.EmailRequest{
		From: "app@sandbox.sendoka.com", To: []string{"ada@example.com"}, Subject: "Hi", Text: "Hi",
	})
	require.NoError(t, err)
	_, err = env.WaitStatusContext(ctx, sendoka.ChannelEmail, msg.ID, sendoka.StatusSent)
	require.NoError(t, err)
	require.NoError(t, env.Close(ctx))
	require.NoError(t, env.Close(ctx))
}

// TestCleanupStopsRiver builds an Env twice in one test and checks that each one's cleanup
// leaves no River goroutine behind. It is not parallel: it reads every goroutine's stack,
// and a parallel test's workers would be in it (parallel tests wait until the sequential
// ones are done).
func TestCleanupStopsRiver(t *testing.T) {
	for _, name := range []string{"first", "second"} {
		t.Run(name, func(t *testing.T) {
			env := sendokatest.New(t, nil)
			require.NotEmpty(t, riverGoroutines(), "River's workers should be running")
			_, err := env.Client.SendEmail(context.Background(), env.Test, &sendoka.EmailRequest{
				From: "app@sandbox.sendoka.com", To: []string{"ada@example.com"}, Subject: name, Text: "Hi",
			})
			require.NoError(t, err)
			require.Equal(t, name, env.WaitSent(t, 1)[0].Email.Subject)
		})
		// A goroutine River has told to stop may take a moment to return.
		deadline := time.Now().Add(10 * time.Second)
		tick := time.NewTicker(10 * time.Millisecond)
		for stacks := riverGoroutines(); len(stacks) > 0; stacks = riverGoroutines() {
			if time.Now().After(deadline) {
				t.Fatalf("after the %s Env's cleanup, %d River goroutines are left:\n%s", name, len(stacks), strings.Join(stacks, "\n\n"))
			}
			<-tick.C
		}
		tick.Stop()
	}
}

// riverGoroutines returns the stacks of the goroutines running River's code or the queue's.
func riverGoroutines() []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "github.com/riverqueue/river") || strings.Contains(g, "sendoka/queue/riverjobs.") {
			out = append(out, g)
		}
	}
	return out
}
