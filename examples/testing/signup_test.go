package signup_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	signup "github.com/sendoka/sendoka/examples/testing"
	"github.com/sendoka/sendoka/sendoka"
	"github.com/sendoka/sendoka/sendoka/sendokatest"
)

// TestSignUpSendsWelcome runs the real Sendoka (SQLite in a temp dir, River workers) with the
// memsend fake as every provider, and checks what the provider was handed. A test key and the
// sandbox domain reach the fake as a live key from your own domain does.
func TestSignUpSendsWelcome(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		caller func(env *sendokatest.Env) *sendoka.Principal
		domain string
	}{
		{"live key, verified domain", func(env *sendokatest.Env) *sendoka.Principal { return env.Live }, "acme.example"},
		{"test key, verified domain", func(env *sendokatest.Env) *sendoka.Principal { return env.Test }, "acme.example"},
		{"test key, sandbox domain", func(env *sendokatest.Env) *sendoka.Principal { return env.Test }, sendoka.DefaultSandboxDomain},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := sendokatest.New(t, &sendokatest.Options{VerifiedDomains: []string{"acme.example"}})
			svc := &signup.Service{Mail: env.Client, Caller: tc.caller(env), From: "Acme <hello@" + tc.domain + ">"}

			id, err := svc.SignUp(context.Background(), "Ada", "ada@example.com")
			require.NoError(t, err)

			sent := env.WaitSent(t, 1)
			require.Len(t, sent, 1)
			got := sent[0].Email
			require.Equal(t, id, got.MessageID)
			require.Equal(t, `"Acme" <hello@`+tc.domain+`>`, got.From) // addresses are stored normalised
			require.Equal(t, []string{"ada@example.com"}, got.To)
			require.Equal(t, "Welcome, Ada", got.Subject)
			require.Equal(t, []string{"signup"}, got.Tags)

			msg := env.WaitStatus(t, sendoka.ChannelEmail, id, sendoka.StatusSent)
			require.Equal(t, "memsend", msg.Provider)
		})
	}
}
