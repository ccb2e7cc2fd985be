package storetest

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/sendoka"
)

// testTenants runs the TenantStore and TenantTx subtests on one store.
func testTenants(t *testing.T, b *bundle) {
	tests := []struct {
		name string
		fn   func(t *testing.T, b *bundle)
	}{
		{"RoundTripAndScope", testTenantRoundTrip},
		{"SlugUnique", testTenantSlugUnique},
		{"Update", testTenantUpdate},
		{"List", testTenantList},
		{"MarkDeletedAndRemove", testTenantMarkDeleted},
		{"CountMessages", testCountMessages},
		{"RevokeKeys", testRevokeTenantKeys},
		{"ScheduledMessages", testScheduledTenantMessages},
		{"DeleteData", testDeleteTenantData},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, b) })
	}
}

func newTenant(org, slug string, b *bundle, n int) *sendoka.Tenant {
	return &sendoka.Tenant{
		ID: sendoka.NewID(sendoka.PrefixTenant, b.at(n)), OrgID: org, Name: "Tenant " + slug, Slug: slug,
		CreatedAt: b.at(n), UpdatedAt: b.at(n),
	}
}

func (b *bundle) insertTenants(t *testing.T, ts ...*sendoka.Tenant) {
	t.Helper()
	b.inTx(t, func(ctx context.Context, tx sendoka.Tx) error {
		for _, tn := range ts {
			if err := tx.InsertTenant(ctx, tn); err != nil {
				return err
			}
		}
		return nil
	})
}

func (b *bundle) markDeleted(t *testing.T, org, id string, n int) {
	t.Helper()
	b.inTx(t, func(ctx context.Context, tx sendoka.Tx) error { return tx.MarkTenantDeleted(ctx, org, id, b.at(n)) })
}

func testTenantRoundTrip(t *testing.T, b *bundle) {
	ctx := b.ctx(t)
	org := sendoka.NewID(sendoka.PrefixOrg, b.at(1))
	full := newTenant(org, "acme-corp-2", b, 0)
	full.Name, full.ExternalRef = "Acme — Corp ✓", "cust_12345"
	full.UpdatedAt = b.at(7)
	minimal := newTenant(org, "x", b, 1)
	other := newTenant("org_tenant_other", "acme-corp-2", b, 2)
	b.insertTenants(t, full, minimal, other)

	for _, tn := range []*sendoka.Tenant{full, minimal, other} {
		got, err := b.store.GetTenant(ctx, sendoka.Scope{OrgID: tn.OrgID}, tn.ID)
		require.NoError(t, err)
		require.Equal(t, tn, got, "GetTenant(%s) with the org's scope", tn.Slug)
		got, err = b.store.GetTenant(ctx, sendoka.Scope{OrgID: tn.OrgID, TenantID: tn.ID}, tn.ID)
		require.NoError(t, err)
		require.Equal(t, tn, got, "GetTenant(%s) with its own scope", tn.Slug)
	}
	for name, c := range map[string]struct {
		scope sendoka.Scope
		id    string
	}{
		"another org's tenant":           {sendoka.Scope{OrgID: org}, other.ID},
		"another tenant of a tenant":     {sendoka.Scope{OrgID: org, TenantID: minimal.ID}, full.ID},
		"unknown id":                     {sendoka.Scope{OrgID: org}, sendoka.NewID(sendoka.PrefixTenant, b.at(9))},
		"empty scope":                    {sendoka.Scope{}, full.ID},
		"tenant scope of another org":    {sendoka.Scope{OrgID: "org_tenant_other", TenantID: full.ID}, full.ID},
		"own id under the wrong org":     {sendoka.Scope{OrgID: "org_tenant_other"}, minimal.ID},
		"id of a tenant in another case": {sendoka.Scope{OrgID: org}, "TEN_" + full.ID[4:]},
	} {
		_, err := b.store.GetTenant(ctx, c.scope, c.id)
		require.Equal(t, sendoka.CodeNotFound, sendoka.ErrorCode(err), "%s: %v", name, err)
	}
}

func testTenantSlugUnique(t *testing.T, b *bundle) {
	org := sendoka.NewID(sendoka.PrefixOrg, b.at(2))
	first := newTenant(org, "acme", b, 0)
	b.insertTenants(t, first)
	dup := newTenant(org, "acme", b, 1)
	err := b.store.InTx(b.ctx(t), func(ctx context.Context, tx sendoka.Tx) error { return tx.InsertTenant(ctx, dup) })
	requireCode(t, sendoka.CodeConflict, err)
	sameID := newTenant(org, "acme-2", b, 1)
	sameID.ID = first.ID
	err = b.store.InTx(b.ctx(t), func(ctx context.Context, tx sendoka.Tx) error { return tx.InsertTenant(ctx, sameID) })
	requireCode(t, sendoka.CodeConflict, err)
	// The same slug in another org is another namespace.
	b.insertTenants(t, newTenant("org_slug_other", "acme", b, 2))

	page, err := b.store.ListTenants(b.ctx(t), sendoka.Scope{OrgID: org}, sendoka.PageQuery{Limit: 10})
	require.NoError(t, err)
	require.Equal(t, []*sendoka.Tenant{first}, page.Tenants, "the conflicting inserts left nothing")
}

func testTenantUpdate(t *testing.T, b *bundle) {
	ctx := b.ctx(t)
	org := sendoka.NewID(sendoka.PrefixOrg, b.at(3))
	a, c := newTenant(org, "a", b, 0), newTenant(org, "c", b, 1)
	a.ExternalRef = "ref-a"
	b.insertTenants(t, a, c)

	upd := *a
	upd.Name, upd.Slug, upd.ExternalRef, upd.UpdatedAt = "Renamed", "a-2", "", b.at(10)
	upd.CreatedAt = b.at(99) // never written
	b.inTx(t, func(ctx context.Context, tx sendoka.Tx) error { return tx.UpdateTenant(ctx, &upd) })
	got, err := b.store.GetTenant(ctx, sendoka.Scope{OrgID: org}, a.ID)
	require.NoError(t, err)
	want := upd
	want.CreatedAt = a.CreatedAt
	require.Equal(t, &want, got)

	taken := want
	taken.Slug = "c"
	err = b.store.InTx(ctx, func(ctx context.Context, tx sendoka.Tx) error { return tx.UpdateTenant(ctx, &taken) })
	requireCode(t, sendoka.CodeConflict, err)

	wrongOrg := want
	wrongOrg.OrgID = "org_update_other"
	err = b.store.InTx(ctx, func(ctx context.Context, tx sendoka.Tx) error { return tx.UpdateTenant(ctx, &wrongOrg) })
	requireCode(t, sendoka.CodeNotFound, err)

	got, err = b.store.GetTenant(ctx, sendoka.Scope{OrgID: org}, a.ID)
	require.NoError(t, err)
	require.Equal(t, &want, got, "failed updates changed nothing")
}

func testTenantList(t *testing.T, b *bundle) {
	ctx := b.ctx(t)
	org := sendoka.NewID(sendoka.PrefixOrg, b.at(4))
	var all []*sendoka.Tenant
	for i := range 7 {
		all = append(all, newTenant(org, fmt.Sprintf("t%d", i), b, i))
	}
	// Two created in the same microsecond: the id breaks the tie.
	tie := newTenant(org, "tie", b, 6)
	all = append(all, tie)
	b.insertTenants(t, all...)
	b.insertTenants(t, newTenant("org_list_other", "t0", b, 3))
	b.markDeleted(t, org, all[2].ID, 20)

	var want []string
	for _, tn := range all {
		if tn.ID != all[2].ID {
			want = append(want, tn.ID)
		}
	}
	slices.SortFunc(want, func(x, y string) int {
		at := func(id string) int64 {
			for _, tn := range all {
				if tn.ID == id {
					return tn.CreatedAt.UnixMicro()
				}
			}
			return 0
		}
		if d := at(y) - at(x); d != 0 {
			return int(d)
		}
		return cmpString(y, x)
	})

	var got []string
	q := sendoka.PageQuery{Limit: 3}
	for pages := 0; ; pages++ {
		require.Less(t, pages, 10, "pagination does not end")
		page, err := b.store.ListTenants(ctx, sendoka.Scope{OrgID: org}, q)
		require.NoError(t, err)
		require.LessOrEqual(t, len(page.Tenants), 3)
		for _, tn := range page.Tenants {
			got = append(got, tn.ID)
		}
		if !page.HasMore {
			break
		}
		last := page.Tenants[len(page.Tenants)-1]
		q.After = &sendoka.Cursor{CreatedAt: last.CreatedAt, ID: last.ID}
	}
	require.Equal(t, want, got, "newest first, (created_at, id) descending, deleted tenant left out")

	own, err := b.store.ListTenants(ctx, sendoka.Scope{OrgID: org, TenantID: all[4].ID}, sendoka.PageQuery{Limit: 10})
	require.NoError(t, err)
	require.Equal(t, []*sendoka.Tenant{all[4]}, own.Tenants, "a tenant scope lists its own tenant only")
	require.False(t, own.HasMore)
	gone, err := b.store.ListTenants(ctx, sendoka.Scope{OrgID: org, TenantID: all[2].ID}, sendoka.PageQuery{Limit: 10})
	require.NoError(t, err)
	require.Empty(t, gone.Tenants, "a deleted tenant's scope lists nothing")
}

func testTenantMarkDeleted(t *testing.T, b *bundle) {
	ctx := b.ctx(t)
	org := sendoka.NewID(sendoka.PrefixOrg, b.at(5))
	tn := newTenant(org, "gone", b, 0)
	keep := newTenant(org, "keep", b, 1)
	b.insertTenants(t, tn, keep)

	err := b.store.InTx(ctx, func(ctx context.Context, tx sendoka.Tx) error {
		return tx.MarkTenantDeleted(ctx, "org_wrong", tn.ID, b.at(2))
	})
	requireCode(t, sendoka.CodeNotFound, err)
	var removed bool
	b.inTx(t, func(ctx context.Context, tx sendoka.Tx) error {
		var err error
		removed, err = tx.RemoveTenant(ctx, org, tn.ID)
		return err
	})
	require.False(t, removed, "a tenant that is not deleted is never removed")

	b.markDeleted(t, org, tn.ID, 3)
	_, err = b.store.GetTenant(ctx, sendoka.Scope{OrgID: org}, tn.ID)
	requireCode(t, sendoka.CodeNotFound, err)
	err = b.store.InTx(ctx, func(ctx context.Context, tx sendoka.Tx) error { return tx.MarkTenantDeleted(ctx, org, tn.ID, b.at(4)) })
	requireCode(t, sendoka.CodeNotFound, err)
	upd := *tn
	upd.Name = "back"
	err = b.store.InTx(ctx, func(ctx context.Context, tx sendoka.Tx) error { return tx.UpdateTenant(ctx, &upd) })
	requireCode(t, sendoka.CodeNotFound, err)

	// The slug is free at once.
	again := newTenant(org, "gone", b, 5)
	b.insertTenants(t, again)

	// A message of the tenant keeps its row; once it is gone the row goes.
	m := newEmail(org, tn.ID, b.at(6))
	b.insert(t, m)
	remove := func() bool {
		var ok bool
		b.inTx(t, func(ctx context.Context, tx sendoka.Tx) error {
			var err error
			ok, err = tx.RemoveTenant(ctx, org, tn.ID)
			return err
		})
		return ok
	}
	require.False(t, remove(), "a message of the tenant is left")
	var n int
	b.inTx(t, func(ctx context.Context, tx sendoka.Tx) error {
		var err error
		n, err = tx.DeleteTenantData(ctx, org, tn.ID, 10)
		return err
	})
	require.Equal(t, 1, n)
	require.True(t, remove())
	require.False(t, remove(), "removed once")
	_, err = b.store.GetTenant(ctx, sendoka.Scope{OrgID: org}, keep.ID)
	require.NoError(t, err, "the other tenant stays")
	_, err = b.store.GetTenant(ctx, sendoka.Scope{OrgID: org}, again.ID)
	require.NoError(t, err, "the tenant that took the slug stays")
}

func testCountMessages(t *testing.T, b *bundle) {
	ctx := b.ctx(t)
	org := sendoka.NewID(sendoka.PrefixOrg, b.at(6))
	msg := func(tenant string, ch sendoka.Channel, mode sendoka.Mode, st sendoka.Status, n int) *sendoka.Message {
		m := newEmail(org, tenant, b.at(n))
		if ch == sendoka.ChannelSMS {
			m = newSMS(org, tenant, b.at(n))
		}
		m.Mode, m.Status = mode, st
		return m
	}
	live, test := sendoka.ModeLive, sendoka.ModeTest
	email, sms := sendoka.ChannelEmail, sendoka.ChannelSMS
	b.insert(t,
		msg("ten_a", email, live, sendoka.StatusDelivered, 0),
		msg("ten_a", email, live, sendoka.StatusDelivered, 1),
		msg("ten_a", email, live, sendoka.StatusBounced, 2),
		msg("ten_a", sms, live, sendoka.StatusQueued, 3),
		msg("ten_a", email, test, sendoka.StatusDelivered, 4),
		msg("ten_b", email, live, sendoka.StatusDelivered, 5),
		msg("", sms, live, sendoka.StatusQueued, 6),
	)
	b.insert(t, newEmail("org_count_other", "ten_a", b.at(7)))

	count := func(scope sendoka.Scope, mode sendoka.Mode) map[string]int {
		counts, err := b.store.CountMessages(ctx, scope, mode)
		require.NoError(t, err)
		out := map[string]int{}
		for _, c := range counts {
			k := string(c.Channel) + "/" + string(c.Status)
			_, dup := out[k]
			require.False(t, dup, "one entry per channel and status")
			out[k] = c.Count
		}
		return out
	}
	require.Equal(t, map[string]int{"email/delivered": 2, "email/bounced": 1, "sms/queued": 1}, count(sendoka.Scope{OrgID: org, TenantID: "ten_a"}, live))
	require.Equal(t, map[string]int{"email/delivered": 1}, count(sendoka.Scope{OrgID: org, TenantID: "ten_a"}, test))
	require.Equal(t, map[string]int{"email/delivered": 1}, count(sendoka.Scope{OrgID: org, TenantID: "ten_b"}, live))
	require.Equal(t, map[string]int{"email/delivered": 3, "email/bounced": 1, "sms/queued": 2}, count(sendoka.Scope{OrgID: org}, live), "the org's scope counts every tenant")
	require.Empty(t, count(sendoka.Scope{OrgID: org, TenantID: "ten_c"}, live))
}

func testRevokeTenantKeys(t *testing.T, b *bundle) {
	ctx := b.ctx(t)
	org := sendoka.NewID(sendoka.PrefixOrg, b.at(7))
	key := func(tenant string, n int) *sendoka.APIKey {
		// Random plaintexts: parallel runs on one database share the feed's channel.
		return &sendoka.APIKey{ID: sendoka.NewID(sendoka.PrefixAPIKey, b.at(n)), OrgID: org, TenantID: tenant,
			Prefix: "sok_live_tk00", Hash: sendoka.HashKey(sendoka.NewKeyPlaintext(sendoka.ModeLive)), Mode: sendoka.ModeLive, CreatedAt: b.at(n)}
	}
	a1, a2, aRevoked, aLater := key("ten_a", 0), key("ten_a", 1), key("ten_a", 2), key("ten_a", 3)
	aRevoked.RevokedAt = ptr(b.at(5))
	aLater.RevokedAt = ptr(b.at(1_000_000)) // would stop working later
	other, orgWide := key("ten_b", 4), key("", 5)
	all := []*sendoka.APIKey{a1, a2, aRevoked, aLater, other, orgWide}

	var feed *keyFeed
	if kinv, ok := b.store.(sendoka.KeyInvalidations); ok {
		f := newKeyFeed(a1.Hash, a2.Hash, aLater.Hash, aRevoked.Hash, other.Hash, orgWide.Hash)
		wctx, stop := context.WithCancel(ctx)
		defer stop()
		if kinv.WatchAPIKeys(wctx, f) {
			feed = f
			waitFor(t, func() bool { _, synced := f.state(); return synced > 0 }, "the feed never became live")
		}
	}
	b.inTx(t, func(ctx context.Context, tx sendoka.Tx) error {
		for _, k := range all {
			if err := tx.InsertAPIKey(ctx, k); err != nil {
				return err
			}
		}
		return nil
	})

	var hashes []string
	b.inTx(t, func(ctx context.Context, tx sendoka.Tx) error {
		var err error
		hashes, err = tx.RevokeTenantAPIKeys(ctx, org, "ten_a", b.at(10))
		return err
	})
	require.ElementsMatch(t, []string{a1.Hash, a2.Hash, aLater.Hash}, hashes)
	want := map[string]*sendoka.APIKey{}
	for _, k := range all {
		c := *k
		want[k.ID] = &c
	}
	want[a1.ID].RevokedAt, want[a2.ID].RevokedAt, want[aLater.ID].RevokedAt = ptr(b.at(10)), ptr(b.at(10)), ptr(b.at(10))
	for _, k := range all {
		got, err := b.store.GetAPIKeyByHash(ctx, k.Hash)
		require.NoError(t, err)
		require.Equal(t, want[k.ID], got, "key %s", k.ID)
	}
	if feed != nil {
		waitFor(t, func() bool {
			changed, _ := feed.state()
			n := 0
			for _, h := range changed {
				if h == a1.Hash || h == a2.Hash || h == aLater.Hash {
					n++
				}
			}
			return n == 6 // inserted, then revoked
		}, "each revoked key is reported to the feed")
	}

	// Nothing left to revoke: a second call revokes nothing.
	b.inTx(t, func(ctx context.Context, tx sendoka.Tx) error {
		var err error
		hashes, err = tx.RevokeTenantAPIKeys(ctx, org, "ten_a", b.at(11))
		return err
	})
	require.Empty(t, hashes)
	err := b.store.InTx(ctx, func(ctx context.Context, tx sendoka.Tx) error {
		_, err := tx.RevokeTenantAPIKeys(ctx, org, "", b.at(12))
		return err
	})
	require.Error(t, err, "an empty tenant id never reaches the org's keys")
	got, err := b.store.GetAPIKeyByHash(ctx, orgWide.Hash)
	require.NoError(t, err)
	require.Nil(t, got.RevokedAt)
}

func testScheduledTenantMessages(t *testing.T, b *bundle) {
	org := sendoka.NewID(sendoka.PrefixOrg, b.at(8))
	scheduled := func(tenant string, n int) *sendoka.Message {
		m := newEmail(org, tenant, b.at(n))
		m.Status, m.ScheduledAt = sendoka.StatusScheduled, ptr(b.at(1_000_000+n))
		return m
	}
	s1, s2, s3 := scheduled("ten_a", 2), scheduled("ten_a", 0), scheduled("ten_a", 1)
	claimed := scheduled("ten_a", 3)
	claimed.ClaimedAt, claimed.LeaseUntil = ptr(b.at(4)), ptr(b.at(5))
	queued := newEmail(org, "ten_a", b.at(4))
	canceled := scheduled("ten_a", 5)
	canceled.Status = sendoka.StatusCanceled
	b.insert(t, s1, s2, s3, claimed, queued, canceled, scheduled("ten_b", 6), scheduled("", 7))

	list := func(limit int) []string {
		var out []*sendoka.Message
		b.inTx(t, func(ctx context.Context, tx sendoka.Tx) error {
			var err error
			out, err = tx.ScheduledTenantMessages(ctx, org, "ten_a", limit)
			return err
		})
		return ids(out)
	}
	require.Equal(t, []string{s2.ID, s3.ID, s1.ID}, list(10), "unclaimed scheduled messages of the tenant, oldest first")
	require.Equal(t, []string{s2.ID, s3.ID}, list(2))
	var got []*sendoka.Message
	b.inTx(t, func(ctx context.Context, tx sendoka.Tx) error {
		var err error
		got, err = tx.ScheduledTenantMessages(ctx, org, "ten_a", 1)
		return err
	})
	require.Equal(t, []*sendoka.Message{s2}, got, "whole messages")
}

// tenantData is one namespace's worth of everything a tenant owns.
type tenantData struct {
	messages    []*sendoka.Message
	templates   []*sendoka.Template
	numbers     []*sendoka.PhoneNumber
	pools       []*sendoka.PhonePool
	supps       []*sendoka.Suppression
	keys        []*sendoka.APIKey
	eventIDs    []string
	attachments []string // ids of messages with attachments
}

// seedTenant stores data of every kind for org and tenant ("" for org-level data); n spaces
// the ids and times of different calls apart.
func seedTenant(t *testing.T, b *bundle, org, tenant string, n int) *tenantData {
	d := &tenantData{}
	at := func(i int) int { return n*1000 + i }
	for i := range 5 {
		m := newEmail(org, tenant, b.at(at(i)))
		m.Tags = []string{"a", "b"}
		if i == 0 {
			m.Email.Attachments = []sendoka.Attachment{{Filename: "a.txt", ContentType: "text/plain", Size: 2, Content: []byte("hi")}}
			d.attachments = append(d.attachments, m.ID)
		}
		d.messages = append(d.messages, m)
	}
	sms := newSMS(org, tenant, b.at(at(5)))
	d.messages = append(d.messages, sms)
	b.insert(t, d.messages...)
	var events []*sendoka.Event
	for i, m := range d.messages {
		for j := range 3 {
			e := &sendoka.Event{ID: sendoka.NewID(sendoka.PrefixEvent, b.at(at(10+i*3+j))), OrgID: org, TenantID: tenant,
				MessageID: m.ID, Type: sendoka.EventQueued, Status: sendoka.StatusQueued, CreatedAt: b.at(at(10 + i*3 + j))}
			events = append(events, e)
			d.eventIDs = append(d.eventIDs, e.ID)
		}
	}
	b.inTx(t, func(ctx context.Context, tx sendoka.Tx) error {
		if err := tx.InsertEvents(ctx, events...); err != nil {
			return err
		}
		return tx.InsertLinks(ctx, &sendoka.Link{MessageID: d.messages[1].ID, Position: 0, URL: "https://example.com/", CreatedAt: b.at(at(40))})
	})
	for i := range 3 {
		d.templates = append(d.templates, newTemplate(org, tenant, fmt.Sprintf("tpl-%d", i), b, at(50+i)))
	}
	b.insertTemplate(t, d.templates...)
	d.numbers = []*sendoka.PhoneNumber{
		newNumber(org, tenant, fmt.Sprintf("+1555%07d", n*10+1), "US", at(60), b),
		newNumber(org, tenant, fmt.Sprintf("+1555%07d", n*10+2), "US", at(61), b),
	}
	b.insertNumbers(t, d.numbers...)
	d.pools = []*sendoka.PhonePool{{ID: sendoka.NewID(sendoka.PrefixPhonePool, b.at(at(70))), OrgID: org, TenantID: tenant,
		Name: "pool", Default: true, PhoneNumberIDs: numberIDs(d.numbers), CreatedAt: b.at(at(70)), UpdatedAt: b.at(at(70))}}
	for i := range 3 {
		d.supps = append(d.supps, &sendoka.Suppression{ID: sendoka.NewID(sendoka.PrefixSuppression, b.at(at(80+i))), OrgID: org,
			TenantID: tenant, Channel: sendoka.ChannelEmail, Address: fmt.Sprintf("s%d@example.com", i),
			Reason: sendoka.SuppressionManual, CreatedAt: b.at(at(80 + i))})
	}
	for i := range 2 {
		d.keys = append(d.keys, &sendoka.APIKey{ID: sendoka.NewID(sendoka.PrefixAPIKey, b.at(at(90+i))), OrgID: org, TenantID: tenant,
			Prefix: "sok_live_dd00", Hash: sendoka.HashKey(sendoka.NewKeyPlaintext(sendoka.ModeLive)), Mode: sendoka.ModeLive, CreatedAt: b.at(at(90 + i))})
	}
	b.inTx(t, func(ctx context.Context, tx sendoka.Tx) error {
		for _, p := range d.pools {
			if err := tx.InsertPhonePool(ctx, p); err != nil {
				return err
			}
		}
		for _, s := range d.supps {
			if _, err := tx.InsertSuppression(ctx, s); err != nil {
				return err
			}
		}
		for _, k := range d.keys {
			if err := tx.InsertAPIKey(ctx, k); err != nil {
				return err
			}
		}
		return nil
	})
	return d
}

// present counts what of d is still stored.
func (d *tenantData) present(t *testing.T, b *bundle) map[string]int {
	t.Helper()
	ctx := b.ctx(t)
	out := map[string]int{}
	for _, m := range d.messages {
		scope := sendoka.Scope{OrgID: m.OrgID, TenantID: m.TenantID}
		if _, err := b.store.GetMessage(ctx, scope, m.ID); err == nil {
			out["messages"]++
		} else {
			requireCode(t, sendoka.CodeNotFound, err)
		}
		evs, err := b.store.ListEvents(ctx, sendoka.Scope{OrgID: m.OrgID}, m.ID)
		require.NoError(t, err)
		out["events"] += len(evs)
		page := b.list(t, sendoka.Scope{OrgID: m.OrgID}, sendoka.MessageQuery{Tag: "a"})
		for _, got := range page.Messages {
			if got.ID == m.ID {
				out["tagged"]++
			}
		}
		if _, err := b.store.GetLink(ctx, m.ID, 0); err == nil {
			out["links"]++
		}
	}
	for _, id := range d.attachments {
		out["attachments"] += len(b.attachmentContents(t, id))
	}
	for _, tpl := range d.templates {
		if _, err := b.store.GetTemplate(ctx, sendoka.Scope{OrgID: tpl.OrgID, TenantID: tpl.TenantID}, tpl.ID); err == nil {
			out["templates"]++
		}
	}
	for _, n := range d.numbers {
		if _, err := b.store.GetPhoneNumber(ctx, sendoka.Scope{OrgID: n.OrgID}, n.ID); err == nil {
			out["numbers"]++
		}
	}
	for _, p := range d.pools {
		if got, err := b.store.GetPhonePool(ctx, sendoka.Scope{OrgID: p.OrgID}, p.ID); err == nil {
			out["pools"]++
			out["members"] += len(got.PhoneNumberIDs)
		}
	}
	for _, s := range d.supps {
		got, err := b.store.GetSuppressions(ctx, s.OrgID, s.TenantID, s.Channel, []string{s.Address})
		require.NoError(t, err)
		out["suppressions"] += len(got)
	}
	for _, k := range d.keys {
		if _, err := b.store.GetAPIKeyByHash(ctx, k.Hash); err == nil {
			out["keys"]++
		}
	}
	return out
}

var seeded = map[string]int{
	"messages": 6, "events": 18, "tagged": 5, "links": 1, "attachments": 1, "templates": 3,
	"numbers": 2, "pools": 1, "members": 2, "suppressions": 3, "keys": 2,
}

// testDeleteTenantData: the purge deletes everything of one tenant, in chunks of at most the
// limit, and nothing of another tenant, of the org level or of another org; messages being
// handed to a provider wait.
func testDeleteTenantData(t *testing.T, b *bundle) {
	org := sendoka.NewID(sendoka.PrefixOrg, b.at(9))
	doomed := seedTenant(t, b, org, "ten_doomed", 1)
	neighbour := seedTenant(t, b, org, "ten_neighbour", 2)
	orgLevel := seedTenant(t, b, org, "", 3)
	elsewhere := seedTenant(t, b, "org_purge_other", "ten_doomed", 4)
	require.Equal(t, seeded, doomed.present(t, b), "seeded")

	// A live tenant's data is never touched.
	live := newTenant(org, "live", b, 9500)
	b.insertTenants(t, live)
	liveData := seedTenant(t, b, org, live.ID, 5)
	var n int
	b.inTx(t, func(ctx context.Context, tx sendoka.Tx) error {
		var err error
		n, err = tx.DeleteTenantData(ctx, org, live.ID, 10)
		return err
	})
	require.Zero(t, n)
	require.Equal(t, seeded, liveData.present(t, b))

	// One message is mid-hand-off: claimed and queued.
	busy := newSMS(org, "ten_doomed", b.at(9000))
	busy.ClaimedAt, busy.LeaseUntil = ptr(b.at(9001)), ptr(b.at(9002))
	b.insert(t, busy)

	var feed *keyFeed
	if kinv, ok := b.store.(sendoka.KeyInvalidations); ok {
		f := newKeyFeed(doomed.keys[0].Hash, doomed.keys[1].Hash)
		wctx, stop := context.WithCancel(b.ctx(t))
		defer stop()
		if kinv.WatchAPIKeys(wctx, f) {
			feed = f
			waitFor(t, func() bool { _, synced := f.state(); return synced > 0 }, "the feed never became live")
		}
	}

	purge := func(limit int) int {
		var n int
		b.inTx(t, func(ctx context.Context, tx sendoka.Tx) error {
			var err error
			n, err = tx.DeleteTenantData(ctx, org, "ten_doomed", limit)
			return err
		})
		require.LessOrEqual(t, n, limit, "a chunk is bounded by the limit")
		return n
	}
	total, chunks := 0, 0
	for {
		n := purge(2)
		if n == 0 {
			break
		}
		total += n
		chunks++
		require.Less(t, chunks, 100, "the purge does not end")
	}
	// 6 messages, 3 templates, 2 senders, 1 pool, 3 suppressions, 2 keys.
	require.Equal(t, 17, total)
	require.GreaterOrEqual(t, chunks, 9, "every chunk held at most two rows")

	left := doomed.present(t, b)
	for k, v := range left {
		require.Zero(t, v, "%s of the deleted tenant left", k)
	}
	require.Equal(t, seeded, neighbour.present(t, b), "another tenant's data stays")
	require.Equal(t, seeded, orgLevel.present(t, b), "the org-level data stays")
	require.Equal(t, seeded, elsewhere.present(t, b), "another org's tenant of the same id stays")
	require.Equal(t, busy, b.get(t, sendoka.Scope{OrgID: org}, busy.ID), "a message mid-hand-off waits")

	if feed != nil {
		waitFor(t, func() bool {
			changed, _ := feed.state()
			return slices.Contains(changed, doomed.keys[0].Hash) && slices.Contains(changed, doomed.keys[1].Hash)
		}, "each deleted key is reported to the feed")
	}

	// Once its hand-off is recorded, the message goes too.
	sent := *busy
	sent.Status, sent.ClaimedAt, sent.LeaseUntil = sendoka.StatusSent, nil, nil
	b.inTx(t, func(ctx context.Context, tx sendoka.Tx) error {
		ok, err := tx.UpdateMessage(ctx, &sent, sendoka.StatusQueued)
		require.True(t, ok)
		return err
	})
	require.Equal(t, 1, purge(10))
	require.Zero(t, purge(10))

	err := b.store.InTx(b.ctx(t), func(ctx context.Context, tx sendoka.Tx) error {
		_, err := tx.DeleteTenantData(ctx, org, "", 10)
		return err
	})
	require.Error(t, err, "an empty tenant id never reaches the org-level data")
	require.Equal(t, seeded, orgLevel.present(t, b))
}
