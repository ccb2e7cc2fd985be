package sendoka_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/sendoka"
	"github.com/sendoka/sendoka/storage/bunstore"
	"github.com/sendoka/sendoka/storage/bunstore/bunstoretest"
)

// TestUserSessions: the first owner's one-time link sets a password and signs in once; a
// wrong password and an unknown email get the same error; sign-out, revocation, deletion and
// expiry end a session on the next read, also through a second Client (another node).
func TestUserSessions(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := newDBBundle(t, db)
		ctx := context.Background()
		link, err := b.client.BootstrapOwner(ctx, b.orgID, "Owner@Example.com")
		require.NoError(t, err)
		require.NotEmpty(t, link)
		again, err := b.client.BootstrapOwner(ctx, b.orgID, "other@example.com")
		require.NoError(t, err)
		require.Empty(t, again, "an org with users gets no second owner")

		u, err := b.client.SignInLinkUser(ctx, link)
		require.NoError(t, err)
		require.Equal(t, "owner@example.com", u.Email)
		require.Equal(t, sendoka.RoleOwner, u.Role)
		_, err = b.client.RedeemSignInLink(ctx, link, "short")
		requireCode(t, sendoka.CodeValidation, err)
		s, err := b.client.RedeemSignInLink(ctx, link, "correct horse battery")
		require.NoError(t, err)
		_, err = b.client.RedeemSignInLink(ctx, link, "correct horse battery")
		requireCode(t, sendoka.CodeUnauthorized, err)

		got, err := b.client.AuthenticateSession(ctx, s.Token)
		require.NoError(t, err)
		require.Equal(t, u.ID, got.ID)

		_, err = b.client.SignIn(ctx, "owner@example.com", "wrong password!")
		requireCode(t, sendoka.CodeUnauthorized, err)
		wrong := err.Error()
		_, err = b.client.SignIn(ctx, "nobody@example.com", "correct horse battery")
		requireCode(t, sendoka.CodeUnauthorized, err)
		require.Equal(t, wrong, err.Error(), "one message whatever was wrong")

		s2, err := b.client.SignIn(ctx, " OWNER@example.com", "correct horse battery")
		require.NoError(t, err)
		other := b.newClient(t)
		require.NoError(t, b.client.SignOut(ctx, s2.Token))
		_, err = other.AuthenticateSession(ctx, s2.Token)
		requireCode(t, sendoka.CodeUnauthorized, err)
		_, err = other.AuthenticateSession(ctx, s.Token)
		require.NoError(t, err, "signing out one session leaves the others")

		owner := sendoka.UserPrincipal(u, sendoka.ModeLive)
		viewer, err := b.client.CreateUser(ctx, owner, sendoka.UserRequest{Email: "v@example.com", Role: sendoka.RoleViewer, Password: "viewer password"})
		require.NoError(t, err)
		_, err = b.client.CreateUser(ctx, owner, sendoka.UserRequest{Email: "V@example.com", Role: sendoka.RoleAdmin})
		requireCode(t, sendoka.CodeConflict, err)
		vp := sendoka.UserPrincipal(viewer, sendoka.ModeLive)
		_, err = b.client.CreateUser(ctx, vp, sendoka.UserRequest{Email: "x@example.com", Role: sendoka.RoleOwner})
		requireCode(t, sendoka.CodeInsufficientScope, err)
		_, err = b.client.CreateTemplate(ctx, vp, &sendoka.TemplateRequest{Name: "x", Subject: "s", Text: "t"})
		requireCode(t, sendoka.CodeInsufficientScope, err)
		admin, err := b.client.CreateUser(ctx, owner, sendoka.UserRequest{Email: "a@example.com", Role: sendoka.RoleAdmin, Password: "admin password"})
		require.NoError(t, err)
		_, err = b.client.CreateSignInLink(ctx, sendoka.UserPrincipal(admin, sendoka.ModeLive), viewer.ID)
		requireCode(t, sendoka.CodeInsufficientScope, err)

		vs, err := b.client.SignIn(ctx, "v@example.com", "viewer password")
		require.NoError(t, err)
		require.NoError(t, b.client.RevokeSessions(ctx, owner, viewer.ID))
		_, err = other.AuthenticateSession(ctx, vs.Token)
		requireCode(t, sendoka.CodeUnauthorized, err)

		vs, err = b.client.SignIn(ctx, "v@example.com", "viewer password")
		require.NoError(t, err)
		require.NoError(t, b.client.DeleteUser(ctx, owner, viewer.ID))
		_, err = other.AuthenticateSession(ctx, vs.Token)
		requireCode(t, sendoka.CodeUnauthorized, err)
		requireCode(t, sendoka.CodeValidation, b.client.DeleteUser(ctx, owner, u.ID))

		b.clock.set(sendoka.SessionTTL + time.Minute)
		_, err = b.client.AuthenticateSession(ctx, s.Token)
		requireCode(t, sendoka.CodeUnauthorized, err)
	})
}

// TestTenantUser: a tenant-bound user's principal is bound to its tenant and cannot see
// the org's other users or create users of another tenant.
func TestTenantUser(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := newDBBundle(t, db)
		ctx := context.Background()
		root := sendoka.SystemPrincipal(b.orgID, sendoka.ModeLive)
		acme, err := b.client.CreateTenant(ctx, root, &sendoka.TenantRequest{Name: "Acme", Slug: "acme"})
		require.NoError(t, err)
		globex, err := b.client.CreateTenant(ctx, root, &sendoka.TenantRequest{Name: "Globex", Slug: "globex"})
		require.NoError(t, err)
		_, err = b.client.CreateUser(ctx, root, sendoka.UserRequest{Email: "root@example.com", Role: sendoka.RoleOwner})
		require.NoError(t, err)
		tu, err := b.client.CreateUser(ctx, root, sendoka.UserRequest{Email: "t@acme.test", Role: sendoka.RoleOwner, TenantID: acme.ID})
		require.NoError(t, err)
		p := sendoka.UserPrincipal(tu, sendoka.ModeLive)
		require.Equal(t, acme.ID, p.TenantID)
		users, err := b.client.ListUsers(ctx, p)
		require.NoError(t, err)
		require.Len(t, users, 1)
		require.Equal(t, tu.ID, users[0].ID)
		_, err = b.client.CreateUser(ctx, p, sendoka.UserRequest{Email: "g@globex.test", Role: sendoka.RoleAdmin, TenantID: globex.ID})
		requireCode(t, sendoka.CodeNotFound, err)
		_, err = b.client.GetTenant(ctx, p, globex.ID)
		requireCode(t, sendoka.CodeNotFound, err)
	})
}
