package sendoka_test

import (
	"context"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/sendoka"
	"github.com/sendoka/sendoka/storage/bunstore"
	"github.com/sendoka/sendoka/storage/bunstore/bunstoretest"
)

// tenantReads is the real store, counting its tenant lookups.
type tenantReads struct {
	*bunstore.DB
	n atomic.Int64
}

func (s *tenantReads) GetTenant(ctx context.Context, scope sendoka.Scope, id string) (*sendoka.Tenant, error) {
	s.n.Add(1)
	return s.DB.GetTenant(ctx, scope, id)
}

func fullAccess(org, tenant string, mode sendoka.Mode) *sendoka.Principal {
	return &sendoka.Principal{OrgID: org, TenantID: tenant, Mode: mode, Permissions: []sendoka.Permission{sendoka.PermissionFullAccess}}
}

// TestForTenant: "" is the principal itself without a database read; a tenant-bound
// principal may name only its own tenant; a platform-root principal gets a bound copy for a
// live tenant of its org, NOT_FOUND otherwise. A lookup is trusted for at most TenantCacheTTL.
func TestForTenant(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := newDBBundle(t, db)
		ctx := context.Background()
		reads := &tenantReads{DB: db}
		c, err := sendoka.New(sendoka.Config{Store: reads, Queue: b.queue, Clock: b.clock, SandboxEmail: b.fake, SandboxSMS: b.fake})
		require.NoError(t, err)
		root := sendoka.SystemPrincipal(b.orgID, sendoka.ModeLive)
		root.KeyID = "key_root"
		acme, err := c.CreateTenant(ctx, root, &sendoka.TenantRequest{Name: "Acme", Slug: "acme"})
		require.NoError(t, err)
		globex, err := c.CreateTenant(ctx, root, &sendoka.TenantRequest{Name: "Globex", Slug: "globex"})
		require.NoError(t, err)

		got, err := c.ForTenant(ctx, root, "")
		require.NoError(t, err)
		require.Same(t, root, got)
		require.Zero(t, reads.n.Load(), `"" never reads the store`)

		bound, err := c.ForTenant(ctx, root, acme.ID)
		require.NoError(t, err)
		require.NotSame(t, root, bound)
		want := *root
		want.TenantID = acme.ID
		require.Equal(t, &want, bound, "a copy bound to the tenant")
		require.Empty(t, root.TenantID, "p itself is unchanged")
		require.EqualValues(t, 1, reads.n.Load())
		_, err = c.ForTenant(ctx, root, acme.ID)
		require.NoError(t, err)
		require.EqualValues(t, 1, reads.n.Load(), "cached")

		// A tenant-bound principal: its own tenant is itself, any other is forbidden.
		got, err = c.ForTenant(ctx, bound, acme.ID)
		require.NoError(t, err)
		require.Same(t, bound, got)
		for _, other := range []string{globex.ID, "ten_unknown", "x\x00"} {
			_, err = c.ForTenant(ctx, bound, other)
			requireCode(t, sendoka.CodeTenantForbidden, err)
		}
		require.EqualValues(t, 1, reads.n.Load(), "a tenant-bound principal never reads")

		// Unknown ids, another org's tenant: NOT_FOUND, read every time.
		other := sendoka.SystemPrincipal("org_other", sendoka.ModeLive)
		for i, id := range []string{"ten_unknown", sendoka.NewID(sendoka.PrefixTenant, b.clock.now())} {
			_, err = c.ForTenant(ctx, root, id)
			requireCode(t, sendoka.CodeNotFound, err)
			_, err = c.ForTenant(ctx, other, acme.ID)
			requireCode(t, sendoka.CodeNotFound, err)
			require.EqualValues(t, 1+2*(i+1), reads.n.Load(), "misses are not cached")
		}
		_, err = c.ForTenant(ctx, root, "ten_\x00")
		requireCode(t, sendoka.CodeNotFound, err)
		_, err = c.ForTenant(ctx, nil, acme.ID)
		requireCode(t, sendoka.CodeUnauthorized, err)

		// Deleted here: refused at once. Deleted by another process: refused once the
		// cached lookup is TenantCacheTTL old.
		_, err = c.ForTenant(ctx, root, globex.ID)
		require.NoError(t, err)
		require.NoError(t, c.DeleteTenant(ctx, root, globex.ID))
		_, err = c.ForTenant(ctx, root, globex.ID)
		requireCode(t, sendoka.CodeNotFound, err)

		node2 := b.newClient(t)
		require.NoError(t, node2.DeleteTenant(ctx, root, acme.ID))
		_, err = c.ForTenant(ctx, root, acme.ID)
		require.NoError(t, err, "within TenantCacheTTL the cached lookup stands")
		b.clock.set(time.Second) // the bound the issue sets, whatever TenantCacheTTL says
		_, err = c.ForTenant(ctx, root, acme.ID)
		requireCode(t, sendoka.CodeNotFound, err)
	})
}

// TestTenantCRUD: validation and permissions of the tenant operations in the core.
func TestTenantCRUD(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := newDBBundle(t, db)
		ctx := context.Background()
		c := b.client
		root := sendoka.SystemPrincipal(b.orgID, sendoka.ModeTest)

		tn, err := c.CreateTenant(ctx, root, &sendoka.TenantRequest{Name: "  Acme Corp ", Slug: "acme-1", ExternalRef: "cust_1"})
		require.NoError(t, err)
		require.Regexp(t, `^ten_[0-9A-Z]{26}$`, tn.ID)
		require.Equal(t, "Acme Corp", tn.Name, "trimmed")
		require.Equal(t, b.orgID, tn.OrgID)
		got, err := c.GetTenant(ctx, root, tn.ID)
		require.NoError(t, err)
		require.Equal(t, tn, got)

		for _, tc := range []struct {
			req  sendoka.TenantRequest
			path []any
		}{
			{sendoka.TenantRequest{Slug: "a"}, []any{"name"}},
			{sendoka.TenantRequest{Name: "A"}, []any{"slug"}},
			{sendoka.TenantRequest{Name: "A", Slug: "A"}, []any{"slug"}},
			{sendoka.TenantRequest{Name: "A", Slug: "a--"}, []any{"slug"}},
			{sendoka.TenantRequest{Name: "A", Slug: "é"}, []any{"slug"}},
			{sendoka.TenantRequest{Name: strings.Repeat("n", 201), Slug: "a"}, []any{"name"}},
			{sendoka.TenantRequest{Name: "\xff", Slug: "a"}, []any{"name"}},
			{sendoka.TenantRequest{Name: "a\tb", Slug: "a"}, []any{"name"}},
			{sendoka.TenantRequest{Name: "A", Slug: "a", ExternalRef: "\u2028"}, []any{"external_ref"}},
		} {
			_, err := c.CreateTenant(ctx, root, &tc.req)
			e := requireCode(t, sendoka.CodeValidation, err)
			require.Contains(t, paths(e), tc.path, "%+v", tc.req)
		}
		// Lengths at the limit are fine: 200 characters (not bytes), 64, 255.
		long, err := c.CreateTenant(ctx, root, &sendoka.TenantRequest{Name: strings.Repeat("é", 200),
			Slug: strings.Repeat("a", 62) + "-9", ExternalRef: strings.Repeat("é", 255)})
		require.NoError(t, err)
		require.Len(t, long.Slug, 64)

		_, err = c.CreateTenant(ctx, root, &sendoka.TenantRequest{Name: "B", Slug: "acme-1"})
		requireCode(t, sendoka.CodeConflict, err)
		// The same slug in another org is fine.
		_, err = c.CreateTenant(ctx, sendoka.SystemPrincipal("org_two", sendoka.ModeLive), &sendoka.TenantRequest{Name: "B", Slug: "acme-1"})
		require.NoError(t, err)

		upd, err := c.UpdateTenant(ctx, root, tn.ID, &sendoka.TenantUpdate{ExternalRef: ptr("")})
		require.NoError(t, err)
		require.Empty(t, upd.ExternalRef)
		require.Equal(t, "acme-1", upd.Slug)
		same, err := c.UpdateTenant(ctx, root, tn.ID, &sendoka.TenantUpdate{})
		require.NoError(t, err)
		require.Equal(t, upd, same, "an empty update changes nothing")
		_, err = c.UpdateTenant(ctx, root, tn.ID, &sendoka.TenantUpdate{Slug: ptr(long.Slug)})
		requireCode(t, sendoka.CodeConflict, err)
		_, err = c.UpdateTenant(ctx, sendoka.SystemPrincipal("org_two", sendoka.ModeLive), tn.ID, &sendoka.TenantUpdate{Name: ptr("x")})
		requireCode(t, sendoka.CodeNotFound, err)

		// Permissions: tenants:read reads, tenants:write writes; tenant-bound never writes.
		reader := &sendoka.Principal{OrgID: b.orgID, Mode: sendoka.ModeLive, Permissions: []sendoka.Permission{sendoka.PermissionTenantsRead}}
		_, err = c.GetTenant(ctx, reader, tn.ID)
		require.NoError(t, err)
		_, err = c.CreateTenant(ctx, reader, &sendoka.TenantRequest{Name: "R", Slug: "r"})
		requireCode(t, sendoka.CodeInsufficientScope, err)
		requireCode(t, sendoka.CodeInsufficientScope, c.DeleteTenant(ctx, reader, tn.ID))
		sender := &sendoka.Principal{OrgID: b.orgID, Mode: sendoka.ModeLive, Permissions: []sendoka.Permission{sendoka.PermissionEmailsSend}}
		_, err = c.ListTenants(ctx, sender, sendoka.TenantListParams{})
		requireCode(t, sendoka.CodeInsufficientScope, err)
		_, err = c.GetTenantUsage(ctx, sender, tn.ID)
		requireCode(t, sendoka.CodeInsufficientScope, err)

		bound := fullAccess(b.orgID, tn.ID, sendoka.ModeLive)
		_, err = c.CreateTenant(ctx, bound, &sendoka.TenantRequest{Name: "X", Slug: "x"})
		requireCode(t, sendoka.CodeTenantForbidden, err)
		for _, id := range []string{tn.ID, long.ID, "ten_unknown"} {
			_, err = c.UpdateTenant(ctx, bound, id, &sendoka.TenantUpdate{Name: ptr("x")})
			requireCode(t, sendoka.CodeTenantForbidden, err)
			requireCode(t, sendoka.CodeTenantForbidden, c.DeleteTenant(ctx, bound, id))
		}
		_, err = c.GetTenant(ctx, bound, long.ID)
		requireCode(t, sendoka.CodeNotFound, err)
		list, err := c.ListTenants(ctx, bound, sendoka.TenantListParams{})
		require.NoError(t, err)
		require.Equal(t, []*sendoka.Tenant{upd}, list.Tenants)
		list, err = c.ListTenants(ctx, root, sendoka.TenantListParams{Limit: 1})
		require.NoError(t, err)
		require.Equal(t, []*sendoka.Tenant{long}, list.Tenants)
		require.NotEmpty(t, list.NextCursor)
		_, err = c.ListTenants(ctx, root, sendoka.TenantListParams{Limit: 101})
		requireCode(t, sendoka.CodeValidation, err)
	})
}

// TestSendAsTenant: tenant_id on sends, batches and bulk sends, and the tenant's own
// suppressions and senders.
func TestSendAsTenant(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := newDBBundle(t, db)
		ctx := context.Background()
		c := b.client
		root := sendoka.SystemPrincipal(b.orgID, sendoka.ModeLive)
		ta, err := c.CreateTenant(ctx, root, &sendoka.TenantRequest{Name: "A", Slug: "a"})
		require.NoError(t, err)
		tb, err := c.CreateTenant(ctx, root, &sendoka.TenantRequest{Name: "B", Slug: "b"})
		require.NoError(t, err)
		email := func(to, tenant string) *sendoka.EmailRequest {
			r := b.email(to)
			r.TenantID = tenant
			return r
		}

		// A suppression added for tenant A holds for A's sends only.
		asA, err := c.ForTenant(ctx, root, ta.ID)
		require.NoError(t, err)
		s, err := c.Suppress(ctx, asA, sendoka.ChannelEmail, "x@example.com")
		require.NoError(t, err)
		require.Equal(t, ta.ID, s.TenantID)
		_, err = c.SendEmail(ctx, root, email("x@example.com", ta.ID))
		requireCode(t, sendoka.CodeAllSuppressed, err)
		m, err := c.SendEmail(ctx, root, email("x@example.com", tb.ID))
		require.NoError(t, err)
		require.Equal(t, tb.ID, m.TenantID)
		m, err = c.SendEmail(ctx, root, email("x@example.com", ""))
		require.NoError(t, err)
		require.Empty(t, m.TenantID, "org-wide")

		// Batch rows each name their tenant; a bad one fails alone.
		res, err := c.SendEmailBatch(ctx, root, []*sendoka.EmailRequest{
			email("y@example.com", ta.ID), email("x@example.com", ta.ID), email("y@example.com", tb.ID), email("y@example.com", "ten_nope"),
		})
		require.NoError(t, err)
		require.Equal(t, 2, res.Succeeded)
		require.Equal(t, ta.ID, res.Rows[0].Message.TenantID)
		require.Equal(t, sendoka.CodeAllSuppressed, res.Rows[1].Err.Code)
		require.Equal(t, tb.ID, res.Rows[2].Message.TenantID)
		require.Equal(t, sendoka.CodeNotFound, res.Rows[3].Err.Code)

		boundA := fullAccess(b.orgID, ta.ID, sendoka.ModeLive)
		res, err = c.SendEmailBatch(ctx, boundA, []*sendoka.EmailRequest{email("y@example.com", ""), email("y@example.com", ta.ID), email("y@example.com", tb.ID)})
		require.NoError(t, err)
		require.Equal(t, ta.ID, res.Rows[0].Message.TenantID)
		require.Equal(t, ta.ID, res.Rows[1].Message.TenantID)
		require.Equal(t, sendoka.CodeTenantForbidden, res.Rows[2].Err.Code)

		bulk := b.email("")
		bulk.To, bulk.TenantID = []string{"x@example.com", "z@example.com"}, ta.ID
		res, err = c.SendEmailBulk(ctx, root, bulk)
		require.NoError(t, err)
		require.Equal(t, sendoka.CodeAllSuppressed, res.Rows[0].Err.Code, "A's suppression applies to the bulk send as A")
		require.Equal(t, ta.ID, res.Rows[1].Message.TenantID)

		// SMS: a sender registered for tenant B sends B's messages only.
		n, err := c.CreatePhoneNumber(ctx, root, &sendoka.PhoneNumberRequest{Kind: sendoka.SenderAlphanumeric, SenderID: "BeeCo", ISOCountry: "GB", TenantID: tb.ID})
		require.NoError(t, err)
		require.Equal(t, tb.ID, n.TenantID)
		_, err = c.CreatePhoneNumber(ctx, boundA, &sendoka.PhoneNumberRequest{Kind: sendoka.SenderAlphanumeric, SenderID: "Evil", ISOCountry: "GB", TenantID: tb.ID})
		requireCode(t, sendoka.CodeTenantForbidden, err)
		pool, err := c.CreatePhonePool(ctx, root, &sendoka.PhonePoolRequest{Name: "B", PhoneNumberIDs: []string{n.ID}, Default: true, TenantID: tb.ID})
		require.NoError(t, err)
		require.Equal(t, tb.ID, pool.TenantID)
		sms := &sendoka.SMSRequest{To: "+447700900123", Body: "hi", TenantID: tb.ID}
		m, err = c.SendSMS(ctx, root, sms)
		require.NoError(t, err, "tenant B's default pool")
		require.Equal(t, tb.ID, m.TenantID)
		require.Equal(t, pool.ID, m.SMS.PoolID)
		sms.TenantID, sms.From = ta.ID, "BeeCo"
		_, err = c.SendSMS(ctx, root, sms)
		require.Equal(t, [][]any{{"from"}}, paths(requireCode(t, sendoka.CodeValidation, err)), "B's sender is not A's")
		rows, err := c.SendSMSBatch(ctx, root, []*sendoka.SMSRequest{{From: "BeeCo", To: "+447700900123", Body: "hi", TenantID: tb.ID}, {From: "BeeCo", To: "+447700900123", Body: "hi"}})
		require.NoError(t, err)
		require.Equal(t, tb.ID, rows.Rows[0].Message.TenantID)
		require.Equal(t, tb.ID, rows.Rows[1].Message.TenantID, "an org-wide key sending from a tenant's sender sends as the tenant")

		// Templates: created in a tenant's namespace with tenant_id.
		tpl, err := c.CreateTemplate(ctx, root, &sendoka.TemplateRequest{Slug: "hello", Channel: sendoka.ChannelEmail, HTML: "<p>B</p>", Subject: "B", TenantID: tb.ID})
		require.NoError(t, err)
		require.Equal(t, tb.ID, tpl.TenantID)
		_, err = c.GetTemplate(ctx, root, tpl.ID)
		requireCode(t, sendoka.CodeNotFound, err)
		list, err := c.ListTemplates(ctx, root, sendoka.TemplateListParams{TenantID: tb.ID})
		require.NoError(t, err)
		require.Equal(t, []*sendoka.Template{tpl}, list.Templates)
		_, err = c.ListTemplates(ctx, boundA, sendoka.TemplateListParams{TenantID: tb.ID})
		requireCode(t, sendoka.CodeTenantForbidden, err)

		// Lists with tenant_id.
		page, err := c.ListMessages(ctx, root, sendoka.ChannelSMS, sendoka.ListParams{TenantID: tb.ID})
		require.NoError(t, err)
		require.Len(t, page.Messages, 3)
		page, err = c.ListMessages(ctx, root, sendoka.ChannelSMS, sendoka.ListParams{TenantID: ta.ID})
		require.NoError(t, err)
		require.Empty(t, page.Messages)
		nums, err := c.ListPhoneNumbers(ctx, root, sendoka.ListParams{TenantID: tb.ID})
		require.NoError(t, err)
		require.Equal(t, []*sendoka.PhoneNumber{n}, nums.PhoneNumbers)
		pools, err := c.ListPhonePools(ctx, boundA, sendoka.ListParams{})
		require.NoError(t, err)
		require.Empty(t, pools.Pools)
	})
}

// TestDeleteTenant: one transaction marks the tenant deleted, revokes its keys (refused at
// once here, within RevocationDelay elsewhere) and cancels its scheduled messages with their
// jobs; River's purge_tenant job then deletes all of its data and nothing of another tenant's.
func TestDeleteTenant(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := newDBBundle(t, db)
		ctx := context.Background()
		c := b.client
		root := sendoka.SystemPrincipal(b.orgID, sendoka.ModeLive)
		doomed, err := c.CreateTenant(ctx, root, &sendoka.TenantRequest{Name: "Doomed", Slug: "doomed"})
		require.NoError(t, err)
		kept, err := c.CreateTenant(ctx, root, &sendoka.TenantRequest{Name: "Kept", Slug: "kept"})
		require.NoError(t, err)
		_, plain, err := c.CreateAPIKey(ctx, root, sendoka.CreateKeyParams{Mode: sendoka.ModeLive, TenantID: doomed.ID})
		require.NoError(t, err)
		p, err := c.Authenticate(ctx, plain, netip.Addr{})
		require.NoError(t, err)
		require.Equal(t, doomed.ID, p.TenantID)
		node2 := b.newClient(t)
		_, err = node2.Authenticate(ctx, plain, netip.Addr{})
		require.NoError(t, err, "cached on another node")
		_, keptPlain, err := c.CreateAPIKey(ctx, root, sendoka.CreateKeyParams{Mode: sendoka.ModeLive, TenantID: kept.ID})
		require.NoError(t, err)
		keptP, err := c.Authenticate(ctx, keptPlain, netip.Addr{})
		require.NoError(t, err)

		// The tenant's data: messages queued and scheduled, a template, a sender in a pool,
		// a suppression; and the same of another tenant.
		type data struct {
			queued, sched1, sched2 *sendoka.Message
			tpl                    *sendoka.Template
			num                    *sendoka.PhoneNumber
			pool                   *sendoka.PhonePool
			hook                   *sendoka.WebhookEndpoint
			inbound                *sendoka.InboundEmail
		}
		seed := func(p *sendoka.Principal, sender string) data {
			var d data
			var err error
			d.queued, err = c.SendEmail(ctx, p, b.email("q@example.com"))
			require.NoError(t, err)
			later := b.email("s@example.com")
			later.ScheduledAt = b.clock.in(time.Hour)
			d.sched1, err = c.SendEmail(ctx, p, later)
			require.NoError(t, err)
			d.sched2, err = c.SendEmail(ctx, p, later)
			require.NoError(t, err)
			d.tpl, err = c.CreateTemplate(ctx, p, &sendoka.TemplateRequest{Slug: "t", Channel: sendoka.ChannelSMS, Body: "hi"})
			require.NoError(t, err)
			d.num, err = c.CreatePhoneNumber(ctx, p, &sendoka.PhoneNumberRequest{Kind: sendoka.SenderAlphanumeric, SenderID: sender, ISOCountry: "GB"})
			require.NoError(t, err)
			d.pool, err = c.CreatePhonePool(ctx, p, &sendoka.PhonePoolRequest{Name: "p", PhoneNumberIDs: []string{d.num.ID}})
			require.NoError(t, err)
			_, err = c.Suppress(ctx, p, sendoka.ChannelEmail, "gone@example.com")
			require.NoError(t, err)
			d.hook, err = c.CreateWebhookEndpoint(ctx, p, &sendoka.WebhookEndpointRequest{URL: "https://hooks.example.com/" + sender})
			require.NoError(t, err)
			route := &sendoka.InboundRoute{ID: sendoka.NewID(sendoka.PrefixInboundRoute, b.clock.now()), OrgID: p.OrgID,
				TenantID: p.TenantID, Match: strings.ToLower(sender) + "@in.example.com", CreatedAt: b.clock.now()}
			require.NoError(t, db.InTx(ctx, func(ctx context.Context, tx sendoka.Tx) error { return tx.InsertInboundRoute(ctx, route) }))
			d.inbound, err = c.ReceiveInboundEmail(ctx, route, &sendoka.InboundMessage{Subject: "Hi",
				Attachments: []sendoka.InboundAttachment{{Filename: "a.txt", Content: []byte("a")}}})
			require.NoError(t, err)
			return d
		}
		dd, kd := seed(p, "Doomed"), seed(keptP, "Kept")

		require.NoError(t, c.DeleteTenant(ctx, root, doomed.ID))
		requireCode(t, sendoka.CodeNotFound, c.DeleteTenant(ctx, root, doomed.ID))

		// Its keys: refused here at once, on the other node within RevocationDelay.
		_, err = c.Authenticate(ctx, plain, netip.Addr{})
		requireCode(t, sendoka.CodeUnauthorized, err)
		b.clock.set(sendoka.RevocationDelay)
		_, err = node2.Authenticate(ctx, plain, netip.Addr{})
		requireCode(t, sendoka.CodeUnauthorized, err)
		_, err = c.Authenticate(ctx, keptPlain, netip.Addr{})
		require.NoError(t, err, "another tenant's key works")

		// Its scheduled messages are canceled, their jobs with them; the queued one and the
		// other tenant's are untouched.
		for _, m := range []*sendoka.Message{dd.sched1, dd.sched2} {
			got := b.get(t, sendoka.ChannelEmail, m.ID)
			require.Equal(t, sendoka.StatusCanceled, got.Status)
			require.Equal(t, []sendoka.EventType{sendoka.EventScheduled, sendoka.EventCanceled}, eventTypes(got))
			require.NotNil(t, got.CompletedAt)
			require.Equal(t, "cancelled", b.jobState(t, m.JobID))
		}
		require.Equal(t, sendoka.StatusQueued, b.get(t, sendoka.ChannelEmail, dd.queued.ID).Status)
		for _, m := range []*sendoka.Message{kd.sched1, kd.sched2} {
			require.Equal(t, sendoka.StatusScheduled, b.get(t, sendoka.ChannelEmail, m.ID).Status)
			require.Equal(t, "scheduled", b.jobState(t, m.JobID))
		}
		_, err = c.GetTenant(ctx, root, doomed.ID)
		requireCode(t, sendoka.CodeNotFound, err)
		_, err = c.GetTenantUsage(ctx, root, doomed.ID)
		requireCode(t, sendoka.CodeNotFound, err)
		_, _, err = c.CreateAPIKey(ctx, root, sendoka.CreateKeyParams{Mode: sendoka.ModeLive, TenantID: doomed.ID})
		requireCode(t, sendoka.CodeNotFound, err)

		// The purge job runs on River's maintenance queue TenantPurgeDelay later.
		var jobState string
		require.NoError(t, db.SQLDB().QueryRowContext(ctx, "SELECT state FROM river_job WHERE kind = 'purge_tenant'").Scan(&jobState))
		require.Equal(t, "scheduled", jobState)
		b.start(t)
		doomedScope := fullAccess(b.orgID, doomed.ID, sendoka.ModeLive)
		pollUntil(t, func() bool {
			n, err := tenantRows(db, doomed.ID)
			require.NoError(t, err)
			return n == 0
		}, "the purge removes the tenant row")
		pollUntil(t, func() bool {
			require.NoError(t, db.SQLDB().QueryRowContext(ctx, "SELECT state FROM river_job WHERE kind = 'purge_tenant'").Scan(&jobState))
			return jobState == "completed"
		}, "the purge job completes")

		for _, id := range []string{dd.queued.ID, dd.sched1.ID, dd.sched2.ID} {
			_, err := c.GetMessage(ctx, root, sendoka.ChannelEmail, id)
			requireCode(t, sendoka.CodeNotFound, err)
			evs, err := db.ListEvents(ctx, sendoka.Scope{OrgID: b.orgID}, id)
			require.NoError(t, err)
			require.Empty(t, evs)
		}
		_, err = c.GetTemplate(ctx, doomedScope, dd.tpl.ID)
		requireCode(t, sendoka.CodeNotFound, err)
		_, err = c.GetPhoneNumber(ctx, root, dd.num.ID)
		requireCode(t, sendoka.CodeNotFound, err)
		_, err = c.GetPhonePool(ctx, root, dd.pool.ID)
		requireCode(t, sendoka.CodeNotFound, err)
		_, err = c.GetSuppression(ctx, doomedScope, sendoka.ChannelEmail, "gone@example.com")
		requireCode(t, sendoka.CodeNotFound, err)
		keys, err := c.ListAPIKeys(ctx, doomedScope)
		require.NoError(t, err)
		require.Empty(t, keys)
		var hooks int
		require.NoError(t, db.SQLDB().QueryRowContext(ctx, "SELECT count(*) FROM webhook_endpoints WHERE id = '"+dd.hook.ID+"'").Scan(&hooks))
		require.Zero(t, hooks, "webhook endpoints go with the tenant")
		require.NoError(t, db.SQLDB().QueryRowContext(ctx, "SELECT count(*) FROM webhook_endpoints WHERE id = '"+kd.hook.ID+"'").Scan(&hooks))
		require.Equal(t, 1, hooks, "the other tenant keeps its own")
		count := func(query, id string) int {
			var n int
			require.NoError(t, db.SQLDB().QueryRowContext(ctx, query+" '"+id+"'").Scan(&n))
			return n
		}
		require.Zero(t, count("SELECT count(*) FROM inbound_emails WHERE id =", dd.inbound.ID), "inbound emails go with the tenant")
		require.Zero(t, count("SELECT count(*) FROM inbound_attachments WHERE email_id =", dd.inbound.ID), "with their attachments")
		require.Zero(t, count("SELECT count(*) FROM inbound_routes WHERE tenant_id =", doomed.ID), "and its routes")
		require.Equal(t, 1, count("SELECT count(*) FROM inbound_emails WHERE id =", kd.inbound.ID), "the other tenant keeps its own")
		require.Equal(t, 1, count("SELECT count(*) FROM inbound_routes WHERE tenant_id =", kept.ID))

		// The other tenant keeps everything.
		require.Equal(t, sendoka.StatusScheduled, b.get(t, sendoka.ChannelEmail, kd.sched1.ID).Status)
		_, err = c.GetTemplate(ctx, keptP, kd.tpl.ID)
		require.NoError(t, err)
		pool, err := c.GetPhonePool(ctx, keptP, kd.pool.ID)
		require.NoError(t, err)
		require.Equal(t, []string{kd.num.ID}, pool.PhoneNumberIDs)
		_, err = c.GetSuppression(ctx, keptP, sendoka.ChannelEmail, "gone@example.com")
		require.NoError(t, err)
		keys, err = c.ListAPIKeys(ctx, keptP)
		require.NoError(t, err)
		require.Len(t, keys, 1)
		_, err = c.GetTenant(ctx, root, kept.ID)
		require.NoError(t, err)

		// Purging a tenant that is not deleted, or is gone already, does nothing.
		require.NoError(t, c.PurgeTenant(ctx, b.orgID, kept.ID))
		require.NoError(t, c.PurgeTenant(ctx, b.orgID, doomed.ID))
		_, err = c.GetTemplate(ctx, keptP, kd.tpl.ID)
		require.NoError(t, err)
	})
}

// TestPurgeTenantWaitsForHandOff: a message being handed to its provider when the purge runs
// is left until the hand-off is recorded; the purge asks to be run again (CONFLICT with a
// retry hint, which the queue turns into a snooze) and finishes then.
func TestPurgeTenantWaitsForHandOff(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := newDBBundle(t, db) // no workers: the test plays the delivery
		ctx := context.Background()
		c := b.client
		root := sendoka.SystemPrincipal(b.orgID, sendoka.ModeTest)
		tn, err := c.CreateTenant(ctx, root, &sendoka.TenantRequest{Name: "T", Slug: "t"})
		require.NoError(t, err)
		req := b.email("a@example.com")
		req.TenantID = tn.ID
		busy, err := c.SendEmail(ctx, root, req)
		require.NoError(t, err)
		done, err := c.SendEmail(ctx, root, req)
		require.NoError(t, err)
		now := b.clock.now()
		require.NoError(t, db.InTx(ctx, func(ctx context.Context, tx sendoka.Tx) error {
			ok, err := tx.ClaimMessage(ctx, busy.ID, now, now.Add(time.Minute), sendoka.StatusQueued)
			require.True(t, ok)
			return err
		}))
		require.NoError(t, c.DeleteTenant(ctx, root, tn.ID))

		err = c.PurgeTenant(ctx, b.orgID, tn.ID)
		e := requireCode(t, sendoka.CodeConflict, err)
		require.Positive(t, e.Retry)
		_, err = c.GetMessage(ctx, root, sendoka.ChannelEmail, busy.ID)
		require.NoError(t, err, "the message mid-hand-off stays")
		_, err = c.GetMessage(ctx, root, sendoka.ChannelEmail, done.ID)
		requireCode(t, sendoka.CodeNotFound, err)
		n, err := tenantRows(db, tn.ID)
		require.NoError(t, err)
		require.Equal(t, 1, n, "the row waits for the last message")

		// The hand-off is recorded: the next run finishes.
		require.NoError(t, db.InTx(ctx, func(ctx context.Context, tx sendoka.Tx) error {
			m, err := tx.GetMessage(ctx, busy.ID)
			require.NoError(t, err)
			m.Status, m.ClaimedAt, m.LeaseUntil = sendoka.StatusSent, nil, nil
			_, err = tx.UpdateMessage(ctx, m, sendoka.StatusQueued)
			return err
		}))
		require.NoError(t, c.PurgeTenant(ctx, b.orgID, tn.ID))
		_, err = c.GetMessage(ctx, root, sendoka.ChannelEmail, busy.ID)
		requireCode(t, sendoka.CodeNotFound, err)
		n, err = tenantRows(db, tn.ID)
		require.NoError(t, err)
		require.Zero(t, n)
	})
}

// tenantRows counts a tenant's rows, deleted or not.
func tenantRows(db *bunstore.DB, id string) (int, error) {
	n, err := db.Bun().NewSelect().Table("tenants").Where("id = ?", id).Count(context.Background())
	return int(n), err
}

// BenchmarkForTenant measures what ForTenant costs a send that names a tenant: cached (the
// lookup of the last TenantCacheTTL), and the store read it saves.
func BenchmarkForTenant(b *testing.B) {
	for _, d := range bunstoretest.Dialects(b) {
		b.Run(string(d), func(b *testing.B) {
			db := bunstoretest.Open(b, d)
			ctx := context.Background()
			c, err := sendoka.New(sendoka.Config{Store: db, Queue: noQueue{}})
			require.NoError(b, err)
			res, err := c.Bootstrap(ctx, sendoka.BootstrapOptions{Keys: []string{}})
			require.NoError(b, err)
			root := sendoka.SystemPrincipal(res.Org.ID, sendoka.ModeLive)
			tn, err := c.CreateTenant(ctx, root, &sendoka.TenantRequest{Name: "T", Slug: "t"})
			require.NoError(b, err)
			b.Run("cached", func(b *testing.B) {
				for b.Loop() {
					if _, err := c.ForTenant(ctx, root, tn.ID); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("read", func(b *testing.B) {
				for b.Loop() {
					if _, err := db.GetTenant(ctx, sendoka.Scope{OrgID: root.OrgID}, tn.ID); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

// noQueue is a Queue for benchmarks that enqueue nothing.
type noQueue struct{}

func (noQueue) Enqueue(context.Context, sendoka.Tx, ...sendoka.Job) ([]int64, error) { return nil, nil }
func (noQueue) Cancel(context.Context, sendoka.Tx, int64) error                      { return nil }
func (noQueue) StalledDeliveries(context.Context, time.Duration, int) ([]sendoka.StalledJob, error) {
	return nil, nil
}
