package apiclient_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/sendoka"
)

// TestInbound: routes and received emails through the client, on both databases; a match
// routed already is a *sendoka.Error with CodeConflict.
func TestInbound(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, dbURL string) {
		b := setup(t, setupConfig{dbURL: dbURL})
		ctx := context.Background()
		route, err := b.client.CreateInboundRoute(ctx, &sendoka.InboundRouteRequest{Match: "help@in.example.com"})
		require.NoError(t, err)
		require.Equal(t, "help@in.example.com", route.Match)
		_, err = b.client.CreateInboundRoute(ctx, &sendoka.InboundRouteRequest{Match: "help@in.example.com"})
		require.Equal(t, sendoka.CodeConflict, sendoka.ErrorCode(err))
		routes, err := b.client.ListInboundRoutes(ctx, sendoka.ListParams{})
		require.NoError(t, err)
		require.Len(t, routes.Data, 1)
		got, err := b.client.GetInboundRoute(ctx, route.ID)
		require.NoError(t, err)
		require.Equal(t, route.ID, got.ID)

		r, err := b.env.Client.InboundRouteFor(ctx, "help@in.example.com")
		require.NoError(t, err)
		e, err := b.env.Client.ReceiveInboundEmail(ctx, r, &sendoka.InboundMessage{From: "ada@example.org", Subject: "Help", Text: "Please",
			Attachments: []sendoka.InboundAttachment{{Filename: "log.txt", ContentType: "text/plain", Content: []byte("line 1\n")}}})
		require.NoError(t, err)
		list, err := b.client.ListInboundEmails(ctx, sendoka.ListParams{})
		require.NoError(t, err)
		require.Len(t, list.Data, 1)
		full, err := b.client.GetInboundEmail(ctx, e.ID)
		require.NoError(t, err)
		require.Equal(t, "Please", *full.Text)
		att, err := b.client.GetInboundAttachment(ctx, e.ID, 0)
		require.NoError(t, err)
		require.Equal(t, "line 1\n", string(att.Content))
		_, err = b.client.GetInboundAttachment(ctx, e.ID, 1)
		require.Equal(t, sendoka.CodeNotFound, sendoka.ErrorCode(err))

		del, err := b.client.DeleteInboundRoute(ctx, route.ID)
		require.NoError(t, err)
		require.True(t, del.Deleted)
		_, err = b.client.GetInboundRoute(ctx, route.ID)
		require.Equal(t, sendoka.CodeNotFound, sendoka.ErrorCode(err))
	})
}
