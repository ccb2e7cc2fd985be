package sendoka_test

import (
	"context"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/sendoka"
	"github.com/sendoka/sendoka/storage/bunstore"
	"github.com/sendoka/sendoka/storage/bunstore/bunstoretest"
)

// TestCreateAPIKeyUnknownOrg: a key is only ever created for an org that exists; an unknown
// org is NOT_FOUND, naming it, and leaves no key behind.
func TestCreateAPIKeyUnknownOrg(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := newDBBundle(t, db)
		ctx := context.Background()
		for _, mode := range []sendoka.Mode{sendoka.ModeLive, sendoka.ModeTest} {
			key, plain, err := b.client.CreateAPIKey(ctx, sendoka.CreateKeyParams{OrgID: "org_doesnotexist", Mode: mode})
			require.Error(t, err)
			require.Equal(t, sendoka.CodeNotFound, sendoka.ErrorCode(err))
			require.Contains(t, sendoka.AsError(err).Message, `"org_doesnotexist"`, "the message names the org")
			require.Nil(t, key)
			require.Empty(t, plain)
		}
		keys, err := b.client.ListAPIKeys(ctx, "org_doesnotexist")
		require.NoError(t, err)
		require.Empty(t, keys, "nothing was stored")

		// A given plaintext (bootstrap) is refused the same way and never authenticates.
		plain := sendoka.KeyPrefixLive + "abcdefghijklmnopqrstuvwxyz0123"
		_, _, err = b.client.CreateAPIKey(ctx, sendoka.CreateKeyParams{OrgID: "org_x", Mode: sendoka.ModeLive, Plaintext: plain})
		require.Equal(t, sendoka.CodeNotFound, sendoka.ErrorCode(err))
		_, err = b.client.Authenticate(ctx, plain, netip.Addr{})
		require.Equal(t, sendoka.CodeUnauthorized, sendoka.ErrorCode(err))

		// The org that exists gets its key.
		key, plain, err := b.client.CreateAPIKey(ctx, sendoka.CreateKeyParams{OrgID: b.orgID, Mode: sendoka.ModeLive})
		require.NoError(t, err)
		require.Equal(t, b.orgID, key.OrgID)
		p, err := b.client.Authenticate(ctx, plain, netip.Addr{})
		require.NoError(t, err)
		require.Equal(t, b.orgID, p.OrgID)
	})
}
