package signup_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	signup "github.com/sendoka/sendoka/examples/testing"
	"github.com/sendoka/sendoka/hosts/server"
	"github.com/sendoka/sendoka/providers/memsend"
	"github.com/sendoka/sendoka/sendoka"
)

// TestSignUpSendsWelcome runs the real Sendoka (SQLite in a temp dir, River workers) with the
// memsend fake as the live email provider, and checks what the provider was handed.
func TestSignUpSendsWelcome(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	fake := memsend.New()
	srv, err := server.Open(ctx, server.Config{
		DataDir:         t.TempDir(),
		Email:           fake,
		VerifiedDomains: []string{"acme.example"},
	})
	require.NoError(t, err)
	t.Cleanup(func() { srv.Close(context.Background()) })
	require.NoError(t, srv.Start(ctx))
	boot, err := srv.Client.Bootstrap(ctx, sendoka.BootstrapOptions{})
	require.NoError(t, err)

	svc := &signup.Service{Mail: srv.Client, Caller: sendoka.SystemPrincipal(boot.Org.ID, sendoka.ModeLive)}
	id, err := svc.SignUp(ctx, "Ada", "ada@example.com")
	require.NoError(t, err)

	require.NoError(t, fake.WaitFor(ctx, 1))
	got := fake.Sent()[0].Email
	require.Equal(t, id, got.MessageID)
	require.Equal(t, []string{"ada@example.com"}, got.To)
	require.Equal(t, "Welcome, Ada", got.Subject)
	require.Equal(t, 1, fake.Count(id))
}
