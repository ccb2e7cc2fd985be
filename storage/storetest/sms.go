package storetest

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/sendoka"
)

// testSMS covers the SMS parts of the Store: senders, pools, suppressions, and the SMS
// content of a message.
func testSMS(t *testing.T, b *bundle) {
	t.Run("PhoneNumbers", func(t *testing.T) { testPhoneNumbers(t, b) })
	t.Run("PhoneNumberList", func(t *testing.T) { testPhoneNumberList(t, b) })
	t.Run("PhonePools", func(t *testing.T) { testPhonePools(t, b) })
	t.Run("Suppressions", func(t *testing.T) { testSuppressions(t, b) })
	t.Run("SMSContent", func(t *testing.T) { testSMSContent(t, b) })
}

func newNumber(org, tenant, number, country string, created int, b *bundle) *sendoka.PhoneNumber {
	at := b.at(created)
	return &sendoka.PhoneNumber{
		ID: sendoka.NewID(sendoka.PrefixPhoneNumber, at), OrgID: org, TenantID: tenant,
		Kind: sendoka.SenderLongCode, PhoneNumber: number, ISOCountry: country,
		Status: sendoka.SenderPending, CreatedAt: at, UpdatedAt: at,
	}
}

func newSenderID(org, tenant, id, country string, created int, b *bundle) *sendoka.PhoneNumber {
	n := newNumber(org, tenant, "", country, created, b)
	n.Kind, n.PhoneNumber, n.SenderID, n.Status = sendoka.SenderAlphanumeric, "", id, sendoka.SenderActive
	return n
}

func (b *bundle) insertNumbers(t *testing.T, ns ...*sendoka.PhoneNumber) {
	t.Helper()
	b.inTx(t, func(ctx context.Context, tx sendoka.Tx) error {
		for _, n := range ns {
			if err := tx.InsertPhoneNumber(ctx, n); err != nil {
				return err
			}
		}
		return nil
	})
}

func numberIDs(ns []*sendoka.PhoneNumber) []string {
	out := []string{}
	for _, n := range ns {
		out = append(out, n.ID)
	}
	return out
}

func testPhoneNumbers(t *testing.T, b *bundle) {
	const org = "org_pn"
	orgWide := newNumber(org, "", "+15551230001", "US", 0, b)
	tenant := newNumber(org, "ten_1", "+15551230001", "US", 1, b) // same number, another namespace
	acme := newSenderID(org, "", "Acme", "GB", 2, b)
	acmeDE := newSenderID(org, "", "Acme", "DE", 3, b) // same sender ID, another country
	elsewhere := newNumber("org_pn_other", "", "+15551230001", "US", 4, b)
	tollFree := newNumber(org, "", "+18005550100", "US", 5, b)
	tollFree.Kind = sendoka.SenderTollFree
	tollFree.Diagnostic = &sendoka.Diagnostic{Provider: "sns", Code: "PENDING", Message: "waiting for verification"}
	b.insertNumbers(t, orgWide, tenant, acme, acmeDE, elsewhere, tollFree)

	ctx := b.ctx(t)
	for _, n := range []*sendoka.PhoneNumber{orgWide, tenant, acme, acmeDE, elsewhere, tollFree} {
		got, err := b.store.GetPhoneNumber(ctx, sendoka.Scope{OrgID: n.OrgID, TenantID: n.TenantID}, n.ID)
		require.NoError(t, err)
		require.Equal(t, n, got, "round trip")
	}

	t.Run("scope", func(t *testing.T) {
		_, err := b.store.GetPhoneNumber(ctx, sendoka.Scope{OrgID: org, TenantID: "ten_2"}, tenant.ID)
		requireCode(t, sendoka.CodeNotFound, err)
		_, err = b.store.GetPhoneNumber(ctx, sendoka.Scope{OrgID: org, TenantID: "ten_1"}, orgWide.ID)
		requireCode(t, sendoka.CodeNotFound, err)
		_, err = b.store.GetPhoneNumber(ctx, sendoka.Scope{OrgID: "org_pn_other"}, orgWide.ID)
		requireCode(t, sendoka.CodeNotFound, err)
		got, err := b.store.GetPhoneNumber(ctx, sendoka.Scope{OrgID: org}, tenant.ID)
		require.NoError(t, err, "an org-wide scope sees the tenants' senders")
		require.Equal(t, tenant, got)

		many, err := b.store.GetPhoneNumbers(ctx, sendoka.Scope{OrgID: org, TenantID: "ten_1"},
			[]string{orgWide.ID, tenant.ID, elsewhere.ID, "pn_unknown"})
		require.NoError(t, err)
		require.Equal(t, []string{tenant.ID}, numberIDs(many))
		many, err = b.store.GetPhoneNumbers(ctx, sendoka.Scope{OrgID: org}, nil)
		require.NoError(t, err)
		require.Empty(t, many)
	})

	t.Run("find by address", func(t *testing.T) {
		found, err := b.store.FindPhoneNumbers(ctx, sendoka.Scope{OrgID: org}, "+15551230001")
		require.NoError(t, err)
		require.Equal(t, []string{orgWide.ID, tenant.ID}, numberIDs(found), "oldest first, org-wide scope")
		found, err = b.store.FindPhoneNumbers(ctx, sendoka.Scope{OrgID: org, TenantID: "ten_1"}, "+15551230001")
		require.NoError(t, err)
		require.Equal(t, []string{tenant.ID}, numberIDs(found))
		found, err = b.store.FindPhoneNumbers(ctx, sendoka.Scope{OrgID: org}, "Acme")
		require.NoError(t, err)
		require.Equal(t, []string{acme.ID, acmeDE.ID}, numberIDs(found))
		found, err = b.store.FindPhoneNumbers(ctx, sendoka.Scope{OrgID: org}, "acme")
		require.NoError(t, err)
		require.Empty(t, found, "sender IDs compare exactly")

		all, err := b.store.PhoneNumbersByAddress(ctx, "+15551230001")
		require.NoError(t, err)
		require.Equal(t, []string{orgWide.ID, tenant.ID, elsewhere.ID}, numberIDs(all), "every org")
		all, err = b.store.PhoneNumbersByAddress(ctx, "Acme")
		require.NoError(t, err)
		require.Empty(t, all, "sender IDs receive nothing")
	})

	t.Run("conflict", func(t *testing.T) {
		for _, dup := range []*sendoka.PhoneNumber{
			newNumber(org, "", "+15551230001", "US", 10, b),
			newNumber(org, "ten_1", "+15551230001", "US", 11, b),
			newSenderID(org, "", "Acme", "GB", 12, b),
		} {
			err := b.store.InTx(ctx, func(ctx context.Context, tx sendoka.Tx) error { return tx.InsertPhoneNumber(ctx, dup) })
			requireCode(t, sendoka.CodeConflict, err)
		}
	})

	t.Run("update", func(t *testing.T) {
		n := *tollFree
		n.Status, n.Provider, n.Diagnostic, n.UpdatedAt = sendoka.SenderActive, "sandbox", nil, b.at(100)
		n.ISOCountry, n.PhoneNumber = "CA", "+18885550100" // not provisioning fields: ignored
		b.inTx(t, func(ctx context.Context, tx sendoka.Tx) error { return tx.UpdatePhoneNumber(ctx, &n) })
		got, err := b.store.GetPhoneNumber(ctx, sendoka.Scope{OrgID: org}, tollFree.ID)
		require.NoError(t, err)
		want := *tollFree
		want.Status, want.Provider, want.Diagnostic, want.UpdatedAt = sendoka.SenderActive, "sandbox", nil, b.at(100)
		require.Equal(t, &want, got)

		gone := newNumber(org, "", "+15551239999", "US", 13, b)
		err = b.store.InTx(ctx, func(ctx context.Context, tx sendoka.Tx) error { return tx.UpdatePhoneNumber(ctx, gone) })
		requireCode(t, sendoka.CodeNotFound, err)
	})

	t.Run("delete", func(t *testing.T) {
		victim := newNumber(org, "ten_1", "+15551230099", "US", 20, b)
		b.insertNumbers(t, victim)
		for _, scope := range []sendoka.Scope{{OrgID: org, TenantID: "ten_2"}, {OrgID: "org_pn_other"}} {
			err := b.store.InTx(ctx, func(ctx context.Context, tx sendoka.Tx) error { return tx.DeletePhoneNumber(ctx, scope, victim.ID) })
			requireCode(t, sendoka.CodeNotFound, err)
		}
		b.inTx(t, func(ctx context.Context, tx sendoka.Tx) error {
			return tx.DeletePhoneNumber(ctx, sendoka.Scope{OrgID: org, TenantID: "ten_1"}, victim.ID)
		})
		_, err := b.store.GetPhoneNumber(ctx, sendoka.Scope{OrgID: org}, victim.ID)
		requireCode(t, sendoka.CodeNotFound, err)
		err = b.store.InTx(ctx, func(ctx context.Context, tx sendoka.Tx) error {
			return tx.DeletePhoneNumber(ctx, sendoka.Scope{OrgID: org}, victim.ID)
		})
		requireCode(t, sendoka.CodeNotFound, err)
	})
}

func testPhoneNumberList(t *testing.T, b *bundle) {
	const org = "org_pnl"
	var want []string // newest first
	var ns []*sendoka.PhoneNumber
	for i := range 7 {
		n := newNumber(org, "", fmt.Sprintf("+1555123%04d", i), "US", i, b)
		ns = append(ns, n)
		want = append([]string{n.ID}, want...)
	}
	// Two with the same created_at: the id breaks the tie.
	ns[5].CreatedAt, ns[6].CreatedAt = ns[4].CreatedAt, ns[4].CreatedAt
	ns[4].ID, ns[5].ID, ns[6].ID = "pn_tie_a", "pn_tie_b", "pn_tie_c"
	want = append([]string{"pn_tie_c", "pn_tie_b", "pn_tie_a"}, want[3:]...)
	b.insertNumbers(t, ns...)
	b.insertNumbers(t, newNumber("org_pnl_other", "", "+15551230000", "US", 9, b))

	var got []string
	var cur *sendoka.Cursor
	for range 10 {
		page, err := b.store.ListPhoneNumbers(b.ctx(t), sendoka.Scope{OrgID: org}, sendoka.PageQuery{Limit: 3, After: cur})
		require.NoError(t, err)
		got = append(got, numberIDs(page.PhoneNumbers)...)
		if !page.HasMore {
			break
		}
		last := page.PhoneNumbers[len(page.PhoneNumbers)-1]
		cur = &sendoka.Cursor{CreatedAt: last.CreatedAt, ID: last.ID}
	}
	require.Equal(t, want, got)
	page, err := b.store.ListPhoneNumbers(b.ctx(t), sendoka.Scope{OrgID: org}, sendoka.PageQuery{Limit: 7})
	require.NoError(t, err)
	require.False(t, page.HasMore, "exactly the limit left")
	require.Len(t, page.PhoneNumbers, 7)
}

func testPhonePools(t *testing.T, b *bundle) {
	const org = "org_pool"
	n1 := newNumber(org, "", "+15551240001", "US", 0, b)
	n2 := newNumber(org, "", "+447700900001", "GB", 1, b)
	n3 := newNumber(org, "", "+15551240003", "US", 2, b)
	t1 := newNumber(org, "ten_1", "+15551240004", "US", 3, b)
	b.insertNumbers(t, n1, n2, n3, t1)
	ctx := b.ctx(t)

	pool := func(tenant, name string, def bool, created int, members ...string) *sendoka.PhonePool {
		return &sendoka.PhonePool{ID: sendoka.NewID(sendoka.PrefixPhonePool, b.at(created)), OrgID: org, TenantID: tenant,
			Name: name, Default: def, PhoneNumberIDs: members, CreatedAt: b.at(created), UpdatedAt: b.at(created)}
	}
	insert := func(t *testing.T, ps ...*sendoka.PhonePool) {
		t.Helper()
		b.inTx(t, func(ctx context.Context, tx sendoka.Tx) error {
			for _, p := range ps {
				if err := tx.InsertPhonePool(ctx, p); err != nil {
					return err
				}
			}
			return nil
		})
	}
	get := func(t *testing.T, scope sendoka.Scope, id string) *sendoka.PhonePool {
		t.Helper()
		p, err := b.store.GetPhonePool(ctx, scope, id)
		require.NoError(t, err)
		return p
	}
	orgScope := sendoka.Scope{OrgID: org}

	a := pool("", "A", true, 10, n3.ID, n1.ID, n2.ID) // member order is kept
	empty := pool("", "Empty", false, 11)
	empty.PhoneNumberIDs = []string{}
	tenantPool := pool("ten_1", "T", true, 12, t1.ID) // a tenant has its own default
	insert(t, a, empty, tenantPool)
	require.Equal(t, a, get(t, orgScope, a.ID))
	require.Equal(t, empty, get(t, orgScope, empty.ID))
	require.Equal(t, tenantPool, get(t, sendoka.Scope{OrgID: org, TenantID: "ten_1"}, tenantPool.ID))
	_, err := b.store.GetPhonePool(ctx, sendoka.Scope{OrgID: org, TenantID: "ten_1"}, a.ID)
	requireCode(t, sendoka.CodeNotFound, err)

	def, err := b.store.DefaultPhonePool(ctx, org, "")
	require.NoError(t, err)
	require.Equal(t, a, def)
	def, err = b.store.DefaultPhonePool(ctx, org, "ten_1")
	require.NoError(t, err)
	require.Equal(t, tenantPool, def)
	_, err = b.store.DefaultPhonePool(ctx, org, "ten_2")
	requireCode(t, sendoka.CodeNotFound, err)

	t.Run("a new default replaces the old one", func(t *testing.T) {
		c := pool("", "C", true, 13, n1.ID)
		insert(t, c)
		def, err := b.store.DefaultPhonePool(ctx, org, "")
		require.NoError(t, err)
		require.Equal(t, c.ID, def.ID)
		require.False(t, get(t, orgScope, a.ID).Default)
		def, err = b.store.DefaultPhonePool(ctx, org, "ten_1")
		require.NoError(t, err)
		require.Equal(t, tenantPool.ID, def.ID, "another namespace keeps its default")

		// Updating the old pool to default takes it back.
		a2 := get(t, orgScope, a.ID)
		a2.Default = true
		a2.UpdatedAt = b.at(14)
		b.inTx(t, func(ctx context.Context, tx sendoka.Tx) error { return tx.UpdatePhonePool(ctx, orgScope, a2) })
		require.False(t, get(t, orgScope, c.ID).Default)
		require.True(t, get(t, orgScope, a.ID).Default)
	})

	t.Run("update", func(t *testing.T) {
		p := get(t, orgScope, empty.ID)
		p.Name, p.PhoneNumberIDs, p.UpdatedAt = "Renamed", []string{n2.ID, n1.ID}, b.at(20)
		p.OrgID, p.CreatedAt = "org_evil", b.at(999) // never written
		b.inTx(t, func(ctx context.Context, tx sendoka.Tx) error { return tx.UpdatePhonePool(ctx, orgScope, p) })
		got := get(t, orgScope, empty.ID)
		require.Equal(t, "Renamed", got.Name)
		require.Equal(t, []string{n2.ID, n1.ID}, got.PhoneNumberIDs)
		require.Equal(t, b.at(20), got.UpdatedAt)
		require.Equal(t, empty.CreatedAt, got.CreatedAt)
		require.Equal(t, org, got.OrgID)

		err := b.store.InTx(ctx, func(ctx context.Context, tx sendoka.Tx) error {
			return tx.UpdatePhonePool(ctx, sendoka.Scope{OrgID: org, TenantID: "ten_1"}, p)
		})
		requireCode(t, sendoka.CodeNotFound, err)
		dup := get(t, orgScope, empty.ID)
		dup.PhoneNumberIDs = []string{n1.ID, n1.ID}
		err = b.store.InTx(ctx, func(ctx context.Context, tx sendoka.Tx) error { return tx.UpdatePhonePool(ctx, orgScope, dup) })
		requireCode(t, sendoka.CodeConflict, err)
		require.Equal(t, []string{n2.ID, n1.ID}, get(t, orgScope, empty.ID).PhoneNumberIDs, "rolled back")
	})

	t.Run("deleting a number removes it from pools", func(t *testing.T) {
		b.inTx(t, func(ctx context.Context, tx sendoka.Tx) error { return tx.DeletePhoneNumber(ctx, orgScope, n1.ID) })
		require.Equal(t, []string{n3.ID, n2.ID}, get(t, orgScope, a.ID).PhoneNumberIDs)
	})

	t.Run("list and delete", func(t *testing.T) {
		page, err := b.store.ListPhonePools(ctx, orgScope, sendoka.PageQuery{Limit: 100})
		require.NoError(t, err)
		var names []string
		for _, p := range page.Pools {
			names = append(names, p.Name)
		}
		require.Equal(t, []string{"C", "T", "Renamed", "A"}, names, "newest first, every tenant")
		page, err = b.store.ListPhonePools(ctx, orgScope, sendoka.PageQuery{Limit: 1})
		require.NoError(t, err)
		require.True(t, page.HasMore)
		require.Len(t, page.Pools, 1)

		err = b.store.InTx(ctx, func(ctx context.Context, tx sendoka.Tx) error {
			return tx.DeletePhonePool(ctx, sendoka.Scope{OrgID: org, TenantID: "ten_1"}, a.ID)
		})
		requireCode(t, sendoka.CodeNotFound, err)
		b.inTx(t, func(ctx context.Context, tx sendoka.Tx) error { return tx.DeletePhonePool(ctx, orgScope, a.ID) })
		_, err = b.store.GetPhonePool(ctx, orgScope, a.ID)
		requireCode(t, sendoka.CodeNotFound, err)
		_, err = b.store.GetPhoneNumber(ctx, orgScope, n3.ID)
		require.NoError(t, err, "a pool's numbers outlive it")
	})
}

func testSuppressions(t *testing.T, b *bundle) {
	const org = "org_sup"
	sup := func(tenant string, ch sendoka.Channel, addr string, reason sendoka.SuppressionReason, n int) *sendoka.Suppression {
		return &sendoka.Suppression{ID: sendoka.NewID(sendoka.PrefixSuppression, b.at(n)), OrgID: org, TenantID: tenant,
			Channel: ch, Address: addr, Reason: reason, MessageID: fmt.Sprintf("msg_%d", n), CreatedAt: b.at(n)}
	}
	insert := func(t *testing.T, s *sendoka.Suppression) bool {
		t.Helper()
		var added bool
		b.inTx(t, func(ctx context.Context, tx sendoka.Tx) error {
			var err error
			added, err = tx.InsertSuppression(ctx, s)
			return err
		})
		return added
	}
	get := func(t *testing.T, tenant string, ch sendoka.Channel, addrs ...string) []*sendoka.Suppression {
		t.Helper()
		got, err := b.store.GetSuppressions(b.ctx(t), org, tenant, ch, addrs)
		require.NoError(t, err)
		slices.SortFunc(got, func(a, b *sendoka.Suppression) int { return cmpString(a.Address, b.Address) })
		return got
	}

	stop := sup("", sendoka.ChannelSMS, "+15551250001", sendoka.SuppressionOptOut, 0)
	bounce := sup("ten_1", sendoka.ChannelEmail, "a@example.com", sendoka.SuppressionBounce, 1)
	orgBounce := sup("", sendoka.ChannelEmail, "b@example.com", sendoka.SuppressionBounce, 2)
	require.True(t, insert(t, stop))
	require.True(t, insert(t, bounce))
	require.True(t, insert(t, orgBounce))
	require.False(t, insert(t, sup("", sendoka.ChannelSMS, "+15551250001", sendoka.SuppressionManual, 3)), "already suppressed")

	require.Equal(t, []*sendoka.Suppression{stop}, get(t, "", sendoka.ChannelSMS, "+15551250001", "+15551250002"),
		"the first suppression and its reason stay")
	require.Empty(t, get(t, "ten_1", sendoka.ChannelSMS, "+15551250001"), "org-wide is not the tenant's namespace")
	require.Empty(t, get(t, "", sendoka.ChannelEmail, "+15551250001"), "channels are apart")
	require.Equal(t, []*sendoka.Suppression{bounce}, get(t, "ten_1", sendoka.ChannelEmail, "a@example.com", "b@example.com"))
	require.Equal(t, []*sendoka.Suppression{orgBounce}, get(t, "", sendoka.ChannelEmail, "a@example.com", "b@example.com"))
	require.Empty(t, get(t, "ten_2", sendoka.ChannelEmail, "a@example.com", "b@example.com"), "a bounce under tenant 1 does not suppress for tenant 2")
	require.Empty(t, get(t, "", sendoka.ChannelSMS), "no addresses")
	other, err := b.store.GetSuppressions(b.ctx(t), "org_sup_other", "", sendoka.ChannelSMS, []string{"+15551250001"})
	require.NoError(t, err)
	require.Empty(t, other, "another org")

	// The same address in another namespace is its own suppression.
	require.True(t, insert(t, sup("ten_1", sendoka.ChannelSMS, "+15551250001", sendoka.SuppressionOptOut, 4)))

	t.Run("in a transaction", func(t *testing.T) {
		b.inTx(t, func(ctx context.Context, tx sendoka.Tx) error {
			added, err := tx.InsertSuppression(ctx, sup("ten_3", sendoka.ChannelSMS, "+15551250009", sendoka.SuppressionOptOut, 5))
			require.NoError(t, err)
			require.True(t, added)
			got, err := tx.GetSuppressions(ctx, org, "ten_3", sendoka.ChannelSMS, []string{"+15551250009"})
			require.NoError(t, err)
			require.Len(t, got, 1, "a transaction sees its own writes")
			return nil
		})
		err := b.store.InTx(b.ctx(t), func(ctx context.Context, tx sendoka.Tx) error {
			if _, err := tx.InsertSuppression(ctx, sup("ten_3", sendoka.ChannelSMS, "+15551250010", sendoka.SuppressionOptOut, 6)); err != nil {
				return err
			}
			return fmt.Errorf("roll back")
		})
		require.Error(t, err)
		require.Empty(t, get(t, "ten_3", sendoka.ChannelSMS, "+15551250010"), "rolled back")
	})

	t.Run("delete", func(t *testing.T) {
		del := func(tenant string, ch sendoka.Channel, addr string) bool {
			var lifted bool
			b.inTx(t, func(ctx context.Context, tx sendoka.Tx) error {
				var err error
				lifted, err = tx.DeleteSuppression(ctx, org, tenant, ch, addr, "key_test", b.at(20))
				return err
			})
			return lifted
		}
		require.False(t, del("", sendoka.ChannelEmail, "+15551250001"), "wrong channel")
		require.True(t, del("", sendoka.ChannelSMS, "+15551250001"))
		require.False(t, del("", sendoka.ChannelSMS, "+15551250001"), "already lifted")
		require.Empty(t, get(t, "", sendoka.ChannelSMS, "+15551250001"))
		require.Len(t, get(t, "ten_1", sendoka.ChannelSMS, "+15551250001"), 1, "the tenant's stays")
		require.True(t, insert(t, sup("", sendoka.ChannelSMS, "+15551250001", sendoka.SuppressionOptOut, 7)), "suppressed again")
	})
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func testSMSContent(t *testing.T, b *bundle) {
	m := newSMS("org_smsc", "ten_1", b.at(0))
	m.SMS = &sendoka.SMSContent{
		From: "+15551260001", To: "+15551260002", Body: "Hi 👋", MediaURLs: []string{"https://example.com/a.png"},
		PhoneNumberID: "pn_1", PoolID: "pool_1", Encoding: sendoka.EncodingUCS2, Segments: 1,
	}
	b.insert(t, m)
	require.Equal(t, m, b.get(t, sendoka.Scope{OrgID: "org_smsc"}, m.ID))
}
