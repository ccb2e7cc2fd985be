package storetest

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/sendoka"
)

func (b *bundle) inboundRoute(t *testing.T, orgID, tenantID, match string, n int) *sendoka.InboundRoute {
	t.Helper()
	r := &sendoka.InboundRoute{ID: sendoka.NewID(sendoka.PrefixInboundRoute, b.at(n)), OrgID: orgID, TenantID: tenantID,
		Match: match, ForwardWebhook: n%2 == 0, CreatedAt: b.at(n)}
	b.inTx(t, func(ctx context.Context, tx sendoka.Tx) error { return tx.InsertInboundRoute(ctx, r) })
	return r
}

// testInboundRoutes: routes round-trip in their namespace and nowhere else, a page at a
// time; a match is unique across orgs; the listener's lookups find routes by match and by
// domain (LIKE's wildcards in a domain match only themselves); delete is scoped.
func testInboundRoutes(t *testing.T, b *bundle) {
	ctx := b.ctx(t)
	org := "org_in_" + sendoka.NewID("", b.base)
	orgLevel := b.inboundRoute(t, org, "", "support@in.example.com", 1)
	tenant := b.inboundRoute(t, org, "ten_a", "*@a.in.example.com", 2)

	got, err := b.store.GetInboundRoute(ctx, sendoka.Scope{OrgID: org}, orgLevel.ID)
	require.NoError(t, err)
	require.Equal(t, orgLevel, got)
	for _, scope := range []sendoka.Scope{{OrgID: org, TenantID: "ten_a"}, {OrgID: "org_other"}} {
		_, err = b.store.GetInboundRoute(ctx, scope, orgLevel.ID)
		require.Equal(t, sendoka.CodeNotFound, sendoka.ErrorCode(err), "outside its namespace")
	}
	page, err := b.store.ListInboundRoutes(ctx, sendoka.Scope{OrgID: org, TenantID: "ten_a"}, sendoka.PageQuery{Limit: 10})
	require.NoError(t, err)
	require.Equal(t, []*sendoka.InboundRoute{tenant}, page.Routes)
	b.inboundRoute(t, org, "", "sales@in.example.com", 3)
	page, err = b.store.ListInboundRoutes(ctx, sendoka.Scope{OrgID: org}, sendoka.PageQuery{Limit: 1})
	require.NoError(t, err)
	require.True(t, page.HasMore)
	require.Equal(t, "sales@in.example.com", page.Routes[0].Match, "newest first")

	err = b.store.InTx(ctx, func(ctx context.Context, tx sendoka.Tx) error {
		return tx.InsertInboundRoute(ctx, &sendoka.InboundRoute{ID: sendoka.NewID(sendoka.PrefixInboundRoute, b.at(4)),
			OrgID: "org_other", Match: "support@in.example.com", CreatedAt: b.at(4)})
	})
	require.Equal(t, sendoka.CodeConflict, sendoka.ErrorCode(err), "a match has one owner")

	found, err := b.store.InboundRoutesMatching(ctx, []string{"support@in.example.com", "*@a.in.example.com", "nobody@x.example"})
	require.NoError(t, err)
	require.Len(t, found, 2)
	for domain, want := range map[string]bool{"in.example.com": true, "a.in.example.com": true, "n.example.com": false, "in_example.com": false, "%": false} {
		ok, err := b.store.InboundRouteDomainExists(ctx, domain)
		require.NoError(t, err)
		require.Equal(t, want, ok, domain)
	}

	b.inTx(t, func(ctx context.Context, tx sendoka.Tx) error {
		require.Equal(t, sendoka.CodeNotFound, sendoka.ErrorCode(tx.DeleteInboundRoute(ctx, sendoka.Scope{OrgID: org}, tenant.ID)), "not in the org-level namespace")
		return tx.DeleteInboundRoute(ctx, sendoka.Scope{OrgID: org, TenantID: "ten_a"}, tenant.ID)
	})
	_, err = b.store.GetInboundRoute(ctx, sendoka.Scope{OrgID: org, TenantID: "ten_a"}, tenant.ID)
	require.Equal(t, sendoka.CodeNotFound, sendoka.ErrorCode(err))
}

// testInboundEmails: an email round-trips with its parts; listings leave out bodies and
// headers; attachments are read one at a time, in its namespace only.
func testInboundEmails(t *testing.T, b *bundle) {
	ctx := b.ctx(t)
	org := "org_ie_" + sendoka.NewID("", b.base)
	e := &sendoka.InboundEmail{ID: sendoka.NewID(sendoka.PrefixInboundEmail, b.at(1)), OrgID: org, TenantID: "ten_a",
		RouteID: "inr_x", CreatedAt: b.at(1), InboundMessage: sendoka.InboundMessage{
			MailFrom: "ada@example.org", RcptTo: "support@in.example.com", From: "Ada <ada@example.org>",
			To: []string{"support@in.example.com"}, Cc: []string{"c@example.org"}, Subject: "Re: café", MessageID: "<r@x>",
			InReplyTo: "<msg_1@x>", Text: "text", HTML: "<p>html</p>", Size: 1234,
			Headers:     []sendoka.InboundHeader{{Name: "Subject", Value: "Re: café"}, {Name: "X-A", Value: "1"}},
			Attachments: []sendoka.InboundAttachment{{Filename: "a.bin", ContentType: "application/octet-stream", Size: 3, Content: []byte{0, 1, 2}}, {Filename: "empty.txt", ContentType: "text/plain"}},
		}}
	b.inTx(t, func(ctx context.Context, tx sendoka.Tx) error { return tx.InsertInboundEmail(ctx, e) })

	scope := sendoka.Scope{OrgID: org, TenantID: "ten_a"}
	got, err := b.store.GetInboundEmail(ctx, scope, e.ID)
	require.NoError(t, err)
	want := *e
	want.Attachments = []sendoka.InboundAttachment{{Filename: "a.bin", ContentType: "application/octet-stream", Size: 3}, {Filename: "empty.txt", ContentType: "text/plain"}}
	require.Equal(t, &want, got, "without attachment contents")
	for _, s := range []sendoka.Scope{{OrgID: org}, {OrgID: org, TenantID: "ten_b"}} {
		_, err = b.store.GetInboundEmail(ctx, s, e.ID)
		require.Equal(t, sendoka.CodeNotFound, sendoka.ErrorCode(err))
		_, err = b.store.InboundAttachmentContent(ctx, s, e.ID, 0)
		require.Equal(t, sendoka.CodeNotFound, sendoka.ErrorCode(err))
	}
	content, err := b.store.InboundAttachmentContent(ctx, scope, e.ID, 0)
	require.NoError(t, err)
	require.Equal(t, []byte{0, 1, 2}, content)
	content, err = b.store.InboundAttachmentContent(ctx, scope, e.ID, 1)
	require.NoError(t, err)
	require.Empty(t, content)
	_, err = b.store.InboundAttachmentContent(ctx, scope, e.ID, 2)
	require.Equal(t, sendoka.CodeNotFound, sendoka.ErrorCode(err))

	page, err := b.store.ListInboundEmails(ctx, scope, sendoka.PageQuery{Limit: 10})
	require.NoError(t, err)
	require.Len(t, page.Emails, 1)
	require.Empty(t, page.Emails[0].Text)
	require.Empty(t, page.Emails[0].Headers)
	require.Equal(t, "Re: café", page.Emails[0].Subject)
	require.Len(t, page.Emails[0].Attachments, 2)
}
