package storetest

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/sendoka"
)

// testDomains runs the domain subtests (DomainStore and DomainTx) on one store.
func testDomains(t *testing.T, b *bundle) {
	tests := []struct {
		name string
		fn   func(t *testing.T, b *bundle)
	}{
		{"RoundTrip", testDomainRoundTrip},
		{"Scope", testDomainScope},
		{"NameUnique", testDomainNameUnique},
		{"List", testDomainList},
		{"UpdateCheck", testDomainUpdateCheck},
		{"Delete", testDomainDelete},
		{"Pending", testDomainPending},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, b) })
	}
}

// newDomain returns a pending domain of org (and tenant) created at b.at(n).
func newDomain(org, tenant, name string, b *bundle, n int) *sendoka.Domain {
	return &sendoka.Domain{
		ID: sendoka.NewID(sendoka.PrefixDomain, b.at(n)), OrgID: org, TenantID: tenant, Name: name,
		Status: sendoka.DomainPending, DKIMSelector: "sendoka-abcd1234",
		DKIMPrivateKey: "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n",
		Records: []sendoka.DNSRecord{
			{Purpose: sendoka.RecordDKIM, Type: "TXT", Name: "sendoka-abcd1234._domainkey." + name, Value: "v=DKIM1; k=rsa; p=MIIB", Required: true, Status: sendoka.RecordPending},
			{Purpose: sendoka.RecordReturnPath, Type: "MX", Name: "bounces." + name, Value: "feedback-smtp.us-east-1.amazonses.com", Priority: 10, Required: true, Status: sendoka.RecordPending},
		},
		CreatedAt: b.at(n), UpdatedAt: b.at(n),
	}
}

func (b *bundle) insertDomain(t *testing.T, ds ...*sendoka.Domain) {
	t.Helper()
	b.inTx(t, func(ctx context.Context, tx sendoka.Tx) error {
		for _, d := range ds {
			if err := tx.InsertDomain(ctx, d); err != nil {
				return err
			}
		}
		return nil
	})
}

func domainIDs(ds []*sendoka.Domain) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.ID)
	}
	return out
}

func testDomainRoundTrip(t *testing.T, b *bundle) {
	org := sendoka.NewID(sendoka.PrefixOrg, b.base)
	own := newDomain(org, "", "example.com", b, 1)
	own.Status = sendoka.DomainVerified
	own.VerifiedAt, own.CheckedAt = ptr(b.at(5)), ptr(b.at(6))
	own.UpdatedAt = b.at(6)
	own.Records[0].Status = sendoka.RecordVerified
	own.Records[1].Status, own.Records[1].Problem = sendoka.RecordMismatch, "the MX record of bounces.example.com points to mx.other.test — \"quoted\" ✓"
	ses := &sendoka.Domain{
		ID: sendoka.NewID(sendoka.PrefixDomain, b.at(2)), OrgID: org, TenantID: "ten_acme", Name: "xn--bcher-kva.example",
		Status: sendoka.DomainPending, Provider: "ses",
		Records: []sendoka.DNSRecord{{Purpose: sendoka.RecordDKIM, Type: "CNAME", Name: "tok1._domainkey.xn--bcher-kva.example",
			Value: "tok1.dkim.amazonses.com", Required: true, Status: sendoka.RecordPending}},
		CreatedAt: b.at(2), UpdatedAt: b.at(3),
	}
	bare := newDomain(org, "", "bare.example", b, 4)
	bare.Records = []sendoka.DNSRecord{}
	b.insertDomain(t, own, ses, bare)

	ctx := b.ctx(t)
	for _, want := range []*sendoka.Domain{own, ses, bare} {
		got, err := b.store.GetDomain(ctx, sendoka.Scope{OrgID: org, TenantID: want.TenantID}, want.ID)
		require.NoError(t, err)
		require.Equal(t, want, got)
		require.Equal(t, "UTC", got.CreatedAt.Location().String())
		ns, err := b.store.NamespaceDomains(ctx, org, want.TenantID)
		require.NoError(t, err)
		var found *sendoka.Domain
		for _, d := range ns {
			if d.ID == want.ID {
				found = d
			}
		}
		require.Equal(t, want, found, "NamespaceDomains")
	}
	_, err := b.store.GetDomain(ctx, sendoka.Scope{OrgID: org}, "dom_nope")
	requireCode(t, sendoka.CodeNotFound, err)
}

func testDomainScope(t *testing.T, b *bundle) {
	orgA := sendoka.NewID(sendoka.PrefixOrg, b.at(1))
	orgB := sendoka.NewID(sendoka.PrefixOrg, b.at(2))
	root := newDomain(orgA, "", "root.example", b, 1)
	ten1 := newDomain(orgA, "ten_1", "one.example", b, 2)
	ten2 := newDomain(orgA, "ten_2", "two.example", b, 3)
	other := newDomain(orgB, "ten_1", "one.example", b, 4)
	b.insertDomain(t, root, ten1, ten2, other)
	all := []*sendoka.Domain{root, ten1, ten2, other}

	ctx := b.ctx(t)
	cases := []struct {
		name    string
		scope   sendoka.Scope
		visible []*sendoka.Domain // newest first
		// namespace is what NamespaceDomains(scope.OrgID, scope.TenantID) returns: exactly
		// that namespace, so an org-wide scope gets the org-level domains only.
		namespace []*sendoka.Domain
	}{
		{"org-wide sees every tenant", sendoka.Scope{OrgID: orgA}, []*sendoka.Domain{ten2, ten1, root}, []*sendoka.Domain{root}},
		{"tenant sees its own", sendoka.Scope{OrgID: orgA, TenantID: "ten_1"}, []*sendoka.Domain{ten1}, []*sendoka.Domain{ten1}},
		{"other tenant", sendoka.Scope{OrgID: orgA, TenantID: "ten_2"}, []*sendoka.Domain{ten2}, []*sendoka.Domain{ten2}},
		{"same tenant id in another org", sendoka.Scope{OrgID: orgB, TenantID: "ten_1"}, []*sendoka.Domain{other}, []*sendoka.Domain{other}},
		{"unknown tenant", sendoka.Scope{OrgID: orgA, TenantID: "ten_3"}, nil, nil},
		{"unknown org", sendoka.Scope{OrgID: "org_c"}, nil, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			page, err := b.store.ListDomains(ctx, c.scope, sendoka.PageQuery{Limit: 100})
			require.NoError(t, err)
			require.Equal(t, domainIDs(c.visible), domainIDs(page.Domains))
			ns, err := b.store.NamespaceDomains(ctx, c.scope.OrgID, c.scope.TenantID)
			require.NoError(t, err)
			require.ElementsMatch(t, domainIDs(c.namespace), domainIDs(ns))
			for _, d := range all {
				visible := false
				for _, v := range c.visible {
					visible = visible || v.ID == d.ID
				}
				got, err := b.store.GetDomain(ctx, c.scope, d.ID)
				if visible {
					require.NoError(t, err)
					require.Equal(t, d, got)
				} else {
					requireCode(t, sendoka.CodeNotFound, err)
				}
			}
		})
	}
}

func testDomainNameUnique(t *testing.T, b *bundle) {
	org := sendoka.NewID(sendoka.PrefixOrg, b.base)
	first := newDomain(org, "", "dup.example", b, 1)
	b.insertDomain(t, first)
	ctx := b.ctx(t)
	insert := func(d *sendoka.Domain) error {
		return b.store.InTx(ctx, func(ctx context.Context, tx sendoka.Tx) error { return tx.InsertDomain(ctx, d) })
	}
	requireCode(t, sendoka.CodeConflict, insert(newDomain(org, "", "dup.example", b, 2)))
	// The same name in another namespace is another domain.
	require.NoError(t, insert(newDomain(org, "ten_1", "dup.example", b, 3)))
	requireCode(t, sendoka.CodeConflict, insert(newDomain(org, "ten_1", "dup.example", b, 4)))
	require.NoError(t, insert(newDomain(org, "ten_2", "dup.example", b, 5)))
	require.NoError(t, insert(newDomain("org_other", "", "dup.example", b, 6)))
	dupID := newDomain(org, "", "fresh.example", b, 7)
	dupID.ID = first.ID
	requireCode(t, sendoka.CodeConflict, insert(dupID))

	ns, err := b.store.NamespaceDomains(ctx, org, "")
	require.NoError(t, err)
	require.Equal(t, []string{first.ID}, domainIDs(ns), "a refused insert adds nothing")
}

func testDomainList(t *testing.T, b *bundle) {
	org := sendoka.NewID(sendoka.PrefixOrg, b.base)
	var ds []*sendoka.Domain // oldest first
	for i := range 5 {
		ds = append(ds, newDomain(org, "", string(rune('a'+i))+".example", b, 10*i))
	}
	// Two at the same instant: ordered by id.
	tieA, tieB := newDomain(org, "", "tie-a.example", b, 100), newDomain(org, "", "tie-b.example", b, 100)
	tieA.ID, tieB.ID = "dom_tie_a", "dom_tie_b"
	b.insertDomain(t, append(ds, tieB, tieA)...)
	want := []string{tieB.ID, tieA.ID, ds[4].ID, ds[3].ID, ds[2].ID, ds[1].ID, ds[0].ID}

	ctx := b.ctx(t)
	var got []string
	q := sendoka.PageQuery{Limit: 3}
	for range 5 {
		page, err := b.store.ListDomains(ctx, sendoka.Scope{OrgID: org}, q)
		require.NoError(t, err)
		got = append(got, domainIDs(page.Domains)...)
		if !page.HasMore {
			break
		}
		last := page.Domains[len(page.Domains)-1]
		q.After = &sendoka.Cursor{CreatedAt: last.CreatedAt, ID: last.ID}
	}
	require.Equal(t, want, got)
}

func testDomainUpdateCheck(t *testing.T, b *bundle) {
	org := sendoka.NewID(sendoka.PrefixOrg, b.base)
	d := newDomain(org, "ten_u", "check.example", b, 1)
	b.insertDomain(t, d)
	ctx := b.ctx(t)
	update := func(d *sendoka.Domain) error {
		return b.store.InTx(ctx, func(ctx context.Context, tx sendoka.Tx) error { return tx.UpdateDomainCheck(ctx, d) })
	}
	get := func() *sendoka.Domain {
		got, err := b.store.GetDomain(ctx, sendoka.Scope{OrgID: org}, d.ID)
		require.NoError(t, err)
		return got
	}

	// A check that found a record missing: still pending.
	missing := *d
	missing.Records = append([]sendoka.DNSRecord(nil), d.Records...)
	missing.Records[0].Status, missing.Records[0].Problem = sendoka.RecordMissing, "no TXT record"
	missing.CheckedAt, missing.UpdatedAt = ptr(b.at(10)), b.at(10)
	require.NoError(t, update(&missing))
	require.Equal(t, &missing, get())

	// Everything found: verified.
	verified := missing
	verified.Records = append([]sendoka.DNSRecord(nil), d.Records...)
	verified.Records[0].Status, verified.Records[1].Status = sendoka.RecordVerified, sendoka.RecordVerified
	verified.Status, verified.VerifiedAt = sendoka.DomainVerified, ptr(b.at(20))
	verified.CheckedAt, verified.UpdatedAt = ptr(b.at(20)), b.at(20)
	require.NoError(t, update(&verified))
	require.Equal(t, &verified, get())

	// A late check that saw nothing (it raced the one that verified) does not undo it.
	late := missing
	late.CheckedAt, late.UpdatedAt = ptr(b.at(30)), b.at(30)
	late.VerifiedAt = ptr(b.at(30))
	require.NoError(t, update(&late))
	want := late
	want.Status, want.VerifiedAt = sendoka.DomainVerified, verified.VerifiedAt
	require.Equal(t, &want, get(), "verified and its time are kept; records and times are written")

	// Fields a check does not own are never written.
	sneaky := want
	sneaky.Name, sneaky.DKIMPrivateKey, sneaky.Provider, sneaky.CreatedAt = "other.example", "", "ses", b.at(99)
	require.NoError(t, update(&sneaky))
	require.Equal(t, &want, get())

	gone := newDomain(org, "", "gone.example", b, 40)
	requireCode(t, sendoka.CodeNotFound, update(gone))
}

func testDomainDelete(t *testing.T, b *bundle) {
	org := sendoka.NewID(sendoka.PrefixOrg, b.base)
	ten1 := newDomain(org, "ten_1", "one.example", b, 1)
	ten2 := newDomain(org, "ten_2", "two.example", b, 2)
	root := newDomain(org, "", "root.example", b, 3)
	b.insertDomain(t, ten1, ten2, root)
	ctx := b.ctx(t)
	del := func(scope sendoka.Scope, id string) error {
		return b.store.InTx(ctx, func(ctx context.Context, tx sendoka.Tx) error { return tx.DeleteDomain(ctx, scope, id) })
	}
	// Another tenant's domain, another org's: not found.
	requireCode(t, sendoka.CodeNotFound, del(sendoka.Scope{OrgID: org, TenantID: "ten_2"}, ten1.ID))
	requireCode(t, sendoka.CodeNotFound, del(sendoka.Scope{OrgID: "org_other"}, ten1.ID))
	require.NoError(t, del(sendoka.Scope{OrgID: org, TenantID: "ten_1"}, ten1.ID))
	require.NoError(t, del(sendoka.Scope{OrgID: org}, ten2.ID), "an org-wide scope reaches every tenant")
	requireCode(t, sendoka.CodeNotFound, del(sendoka.Scope{OrgID: org}, ten2.ID)) // already deleted
	page, err := b.store.ListDomains(ctx, sendoka.Scope{OrgID: org}, sendoka.PageQuery{Limit: 10})
	require.NoError(t, err)
	require.Equal(t, []string{root.ID}, domainIDs(page.Domains))
	// Its name is free again.
	b.insertDomain(t, newDomain(org, "ten_1", "one.example", b, 4))
}

func testDomainPending(t *testing.T, b *bundle) {
	// Pending domains of every org; the store holds other subtests' domains too, all older
	// than since.
	since := b.at(1000)
	checked := func(d *sendoka.Domain, at int) *sendoka.Domain {
		d.CheckedAt = ptr(b.at(at))
		return d
	}
	old := newDomain("org_p1", "", "old.example", b, 999)                   // created before since
	late := checked(newDomain("org_p1", "", "late.example", b, 1001), 3000) // checked last
	never1 := newDomain("org_p2", "ten_1", "never1.example", b, 1002)
	early := checked(newDomain("org_p1", "", "early.example", b, 1003), 2000)
	never2 := newDomain("org_p3", "", "never2.example", b, 1000) // created exactly at since
	never1.ID, never2.ID = "dom_pending_b", "dom_pending_a"      // the same millisecond: named in order
	verified := newDomain("org_p1", "", "verified.example", b, 1004)
	verified.Status = sendoka.DomainVerified
	b.insertDomain(t, old, late, never1, early, never2, verified)

	ctx := b.ctx(t)
	got, err := b.store.PendingDomains(ctx, since, 10)
	require.NoError(t, err)
	// Never checked first (by id), then the least recently checked.
	require.Equal(t, []string{never2.ID, never1.ID, early.ID, late.ID}, domainIDs(got))
	require.Equal(t, never1, got[1])
	got, err = b.store.PendingDomains(ctx, since, 3)
	require.NoError(t, err)
	require.Equal(t, []string{never2.ID, never1.ID, early.ID}, domainIDs(got))
}
