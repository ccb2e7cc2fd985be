package storetest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/sendoka"
)

// testAudiences runs the audience subtests (AudienceStore and AudienceTx) on one store.
func testAudiences(t *testing.T, b *bundle) {
	tests := []struct {
		name string
		fn   func(t *testing.T, b *bundle)
	}{
		{"RoundTrip", testAudienceRoundTrip},
		{"Namespaces", testAudienceNamespaces},
		{"List", testAudienceList},
		{"UpsertContacts", testUpsertContacts},
		{"UpsertManyContacts", testUpsertManyContacts},
		{"ListContacts", testListContacts},
		{"DeleteContactAndAudience", testDeleteContactAndAudience},
		{"Sends", testAudienceSends},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, b) })
	}
}

func newAudience(org, tenant string, b *bundle, n int) *sendoka.Audience {
	return &sendoka.Audience{ID: sendoka.NewID(sendoka.PrefixAudience, b.at(n)), OrgID: org, TenantID: tenant,
		Name: fmt.Sprintf("List %d ✓", n), Description: "news", CreatedAt: b.at(n), UpdatedAt: b.at(n)}
}

func (b *bundle) insertAudience(t *testing.T, as ...*sendoka.Audience) {
	t.Helper()
	b.inTx(t, func(ctx context.Context, tx sendoka.Tx) error {
		for _, a := range as {
			if err := tx.InsertAudience(ctx, a); err != nil {
				return err
			}
		}
		return nil
	})
}

func (b *bundle) upsertContacts(t *testing.T, audienceID string, cs ...*sendoka.Contact) ([]*sendoka.Contact, []bool) {
	t.Helper()
	var stored []*sendoka.Contact
	var created []bool
	b.inTx(t, func(ctx context.Context, tx sendoka.Tx) error {
		var err error
		stored, created, err = tx.UpsertContacts(ctx, audienceID, cs)
		return err
	})
	return stored, created
}

func newContact(audienceID, email, phone string, b *bundle, n int) *sendoka.Contact {
	return &sendoka.Contact{ID: sendoka.NewID(sendoka.PrefixContact, b.at(n)), AudienceID: audienceID, Email: email, Phone: phone,
		CreatedAt: b.at(n), UpdatedAt: b.at(n)}
}

func testAudienceRoundTrip(t *testing.T, b *bundle) {
	org := sendoka.NewID(sendoka.PrefixOrg, b.base)
	a := newAudience(org, "", b, 1)
	b.insertAudience(t, a)
	ctx := b.ctx(t)
	got, err := b.store.GetAudience(ctx, sendoka.Scope{OrgID: org}, a.ID)
	require.NoError(t, err)
	require.Equal(t, a, got)
	require.Equal(t, "UTC", got.CreatedAt.Location().String())

	dup := *a
	err = b.store.InTx(ctx, func(ctx context.Context, tx sendoka.Tx) error { return tx.InsertAudience(ctx, &dup) })
	requireCode(t, sendoka.CodeConflict, err)

	a.Name, a.Description, a.UpdatedAt = "Renamed", "", b.at(9)
	b.inTx(t, func(ctx context.Context, tx sendoka.Tx) error { return tx.UpdateAudience(ctx, a) })
	got, err = b.store.GetAudience(ctx, sendoka.Scope{OrgID: org}, a.ID)
	require.NoError(t, err)
	require.Equal(t, a, got)

	// Counts: two contacts, none unsubscribed.
	b.upsertContacts(t, a.ID, newContact(a.ID, "a@example.com", "", b, 2), newContact(a.ID, "", "+15559876543", b, 3))
	got, err = b.store.GetAudience(ctx, sendoka.Scope{OrgID: org}, a.ID)
	require.NoError(t, err)
	require.Equal(t, 2, got.Contacts)
	require.Equal(t, 0, got.Unsubscribed)

	_, err = b.store.GetAudience(ctx, sendoka.Scope{OrgID: org}, sendoka.NewID(sendoka.PrefixAudience, b.base))
	requireCode(t, sendoka.CodeNotFound, err)
	other := *a
	other.OrgID = "org_other"
	err = b.store.InTx(ctx, func(ctx context.Context, tx sendoka.Tx) error { return tx.UpdateAudience(ctx, &other) })
	requireCode(t, sendoka.CodeNotFound, err)
}

func testAudienceNamespaces(t *testing.T, b *bundle) {
	orgA := sendoka.NewID(sendoka.PrefixOrg, b.at(1))
	orgB := sendoka.NewID(sendoka.PrefixOrg, b.at(2))
	root := newAudience(orgA, "", b, 1)
	tenant := newAudience(orgA, "ten_1", b, 2)
	other := newAudience(orgB, "", b, 3)
	b.insertAudience(t, root, tenant, other)
	ctx := b.ctx(t)
	for _, tc := range []struct {
		scope sendoka.Scope
		sees  *sendoka.Audience
	}{
		{sendoka.Scope{OrgID: orgA}, root},
		{sendoka.Scope{OrgID: orgA, TenantID: "ten_1"}, tenant},
		{sendoka.Scope{OrgID: orgB}, other},
		{sendoka.Scope{OrgID: orgB, TenantID: "ten_1"}, nil},
	} {
		for _, a := range []*sendoka.Audience{root, tenant, other} {
			_, err := b.store.GetAudience(ctx, tc.scope, a.ID)
			if tc.sees != nil && a.ID == tc.sees.ID {
				require.NoError(t, err)
				continue
			}
			requireCode(t, sendoka.CodeNotFound, err)
			err = b.store.InTx(ctx, func(ctx context.Context, tx sendoka.Tx) error { return tx.DeleteAudience(ctx, tc.scope, a.ID) })
			requireCode(t, sendoka.CodeNotFound, err)
		}
		page, err := b.store.ListAudiences(ctx, tc.scope, sendoka.AudienceQuery{Limit: 100})
		require.NoError(t, err)
		var got []string
		for _, a := range page.Audiences {
			got = append(got, a.ID)
		}
		if tc.sees == nil {
			require.Empty(t, got)
		} else {
			require.Equal(t, []string{tc.sees.ID}, got)
		}
	}
}

func testAudienceList(t *testing.T, b *bundle) {
	org := sendoka.NewID(sendoka.PrefixOrg, b.at(7))
	var want []string // newest first
	for i := range 5 {
		a := newAudience(org, "", b, i)
		b.insertAudience(t, a)
		want = append([]string{a.ID}, want...)
	}
	ctx := b.ctx(t)
	var got []string
	q := sendoka.AudienceQuery{Limit: 2}
	for {
		page, err := b.store.ListAudiences(ctx, sendoka.Scope{OrgID: org}, q)
		require.NoError(t, err)
		for _, a := range page.Audiences {
			got = append(got, a.ID)
		}
		if !page.HasMore {
			break
		}
		last := page.Audiences[len(page.Audiences)-1]
		q.After = &sendoka.Cursor{CreatedAt: last.CreatedAt, ID: last.ID}
	}
	require.Equal(t, want, got)
}

func testUpsertContacts(t *testing.T, b *bundle) {
	org := sendoka.NewID(sendoka.PrefixOrg, b.at(20))
	a := newAudience(org, "", b, 20)
	other := newAudience(org, "", b, 21)
	b.insertAudience(t, a, other)

	full := newContact(a.ID, "ada@example.com", "+15559876543", b, 1)
	full.FirstName, full.LastName = "Ada", "Lovelace"
	full.Data = map[string]any{"plan": "pro", "seats": float64(3), "tags": []any{"a", "b"}, "nested": map[string]any{"x": true}}
	phoneOnly := newContact(a.ID, "", "+15559876544", b, 2)
	stored, created := b.upsertContacts(t, a.ID, full, phoneOnly)
	require.Equal(t, []*sendoka.Contact{full, phoneOnly}, stored)
	require.Equal(t, []bool{true, true}, created)

	// Again, by the same keys: merged into the stored contacts, whose ids and creation times
	// stay; what the new rows set wins, what they leave empty stays.
	again := newContact(a.ID, "ada@example.com", "", b, 5)
	again.FirstName = "Augusta"
	phoneAgain := newContact(a.ID, "", "+15559876544", b, 6)
	phoneAgain.Data = map[string]any{"plan": "free"}
	fresh := newContact(a.ID, "new@example.com", "", b, 7)
	// The same address in another audience is another contact.
	elsewhere := newContact(other.ID, "ada@example.com", "", b, 8)
	stored, created = b.upsertContacts(t, a.ID, again, phoneAgain, fresh)
	require.Equal(t, []bool{false, false, true}, created)
	wantFull := *full
	wantFull.FirstName, wantFull.UpdatedAt = "Augusta", b.at(5)
	wantPhone := *phoneOnly
	wantPhone.Data, wantPhone.UpdatedAt = phoneAgain.Data, b.at(6)
	require.Equal(t, []*sendoka.Contact{&wantFull, &wantPhone, fresh}, stored)
	stored, created = b.upsertContacts(t, other.ID, elsewhere)
	require.Equal(t, []bool{true}, created)
	require.Equal(t, elsewhere.ID, stored[0].ID)
}

// testUpsertManyContacts: the 10,000 contacts of one call, with data large enough that they
// need many statements, are all stored.
func testUpsertManyContacts(t *testing.T, b *bundle) {
	org := sendoka.NewID(sendoka.PrefixOrg, b.at(30))
	a := newAudience(org, "", b, 30)
	b.insertAudience(t, a)
	blob := fmt.Sprintf("%0500d", 0)
	cs := make([]*sendoka.Contact, sendoka.MaxContactBatch)
	for i := range cs {
		cs[i] = newContact(a.ID, fmt.Sprintf("user%05d@example.com", i), "", b, i)
		if i%2 == 1 {
			cs[i].Email, cs[i].Phone = "", fmt.Sprintf("+1555%07d", i)
		}
		cs[i].FirstName = fmt.Sprintf("User %d", i)
		cs[i].Data = map[string]any{"i": float64(i), "blob": blob}
	}
	stored, created := b.upsertContacts(t, a.ID, cs...)
	require.Len(t, stored, len(cs))
	for i := range cs {
		require.True(t, created[i])
		require.Equal(t, cs[i], stored[i])
	}
	got, err := b.store.GetAudience(b.ctx(t), sendoka.Scope{OrgID: org}, a.ID)
	require.NoError(t, err)
	require.Equal(t, sendoka.MaxContactBatch, got.Contacts)
}

func testListContacts(t *testing.T, b *bundle) {
	org := sendoka.NewID(sendoka.PrefixOrg, b.at(40))
	a := newAudience(org, "", b, 40)
	other := newAudience(org, "", b, 41)
	b.insertAudience(t, a, other)
	var want []string // newest first
	for i := range 5 {
		c := newContact(a.ID, fmt.Sprintf("l%d@example.com", i), "", b, i)
		b.upsertContacts(t, a.ID, c)
		want = append([]string{c.ID}, want...)
	}
	b.upsertContacts(t, other.ID, newContact(other.ID, "l0@example.com", "", b, 9))
	ctx := b.ctx(t)
	var got []string
	q := sendoka.ContactQuery{Limit: 2}
	for {
		page, err := b.store.ListContacts(ctx, a.ID, q)
		require.NoError(t, err)
		for _, c := range page.Contacts {
			got = append(got, c.ID)
		}
		if !page.HasMore {
			break
		}
		last := page.Contacts[len(page.Contacts)-1]
		q.After = &sendoka.Cursor{CreatedAt: last.CreatedAt, ID: last.ID}
	}
	require.Equal(t, want, got)
	yes, no := true, false
	page, err := b.store.ListContacts(ctx, a.ID, sendoka.ContactQuery{Limit: 100, Subscribed: &yes})
	require.NoError(t, err)
	require.Len(t, page.Contacts, 5)
	page, err = b.store.ListContacts(ctx, a.ID, sendoka.ContactQuery{Limit: 100, Subscribed: &no})
	require.NoError(t, err)
	require.Empty(t, page.Contacts)
}

func testDeleteContactAndAudience(t *testing.T, b *bundle) {
	org := sendoka.NewID(sendoka.PrefixOrg, b.at(50))
	a := newAudience(org, "", b, 50)
	other := newAudience(org, "", b, 51)
	b.insertAudience(t, a, other)
	c1 := newContact(a.ID, "d1@example.com", "", b, 1)
	c2 := newContact(a.ID, "d2@example.com", "", b, 2)
	b.upsertContacts(t, a.ID, c1, c2)
	ctx := b.ctx(t)
	err := b.store.InTx(ctx, func(ctx context.Context, tx sendoka.Tx) error { return tx.DeleteContact(ctx, other.ID, c1.ID) })
	requireCode(t, sendoka.CodeNotFound, err)
	b.inTx(t, func(ctx context.Context, tx sendoka.Tx) error { return tx.DeleteContact(ctx, a.ID, c1.ID) })
	err = b.store.InTx(ctx, func(ctx context.Context, tx sendoka.Tx) error { return tx.DeleteContact(ctx, a.ID, c1.ID) })
	requireCode(t, sendoka.CodeNotFound, err)
	page, err := b.store.ListContacts(ctx, a.ID, sendoka.ContactQuery{Limit: 100})
	require.NoError(t, err)
	require.Len(t, page.Contacts, 1)

	b.inTx(t, func(ctx context.Context, tx sendoka.Tx) error {
		return tx.DeleteAudience(ctx, sendoka.Scope{OrgID: org}, a.ID)
	})
	_, err = b.store.GetAudience(ctx, sendoka.Scope{OrgID: org}, a.ID)
	requireCode(t, sendoka.CodeNotFound, err)
	page, err = b.store.ListContacts(ctx, a.ID, sendoka.ContactQuery{Limit: 100})
	require.NoError(t, err)
	require.Empty(t, page.Contacts, "the audience's contacts go with it")
	_, err = b.store.GetAudience(ctx, sendoka.Scope{OrgID: org}, other.ID)
	require.NoError(t, err)
}

// testAudienceSends: the recipients a send counts, its insert with recipients, the fan-out's
// pending list (with contacts deleted since), its conditional advance, unsubscribing, and
// the counts of the send's messages by status.
func testAudienceSends(t *testing.T, b *bundle) {
	ctx := b.ctx(t)
	org := sendoka.NewID(sendoka.PrefixOrg, b.at(60))
	a := newAudience(org, "ten_s", b, 60)
	b.insertAudience(t, a)
	c1 := newContact(a.ID, "s1@example.com", "+15559876501", b, 1)
	c1.FirstName, c1.Data = "One", map[string]any{"plan": "pro"}
	c2 := newContact(a.ID, "s2@example.com", "", b, 2)
	c3 := newContact(a.ID, "", "+15559876503", b, 3)
	b.upsertContacts(t, a.ID, c1, c2, c3)

	got, err := b.store.GetAudienceByID(ctx, a.ID)
	require.NoError(t, err)
	require.Equal(t, a, got)
	_, err = b.store.GetAudienceByID(ctx, sendoka.NewID(sendoka.PrefixAudience, b.base))
	requireCode(t, sendoka.CodeNotFound, err)
	ct, err := b.store.GetContact(ctx, a.ID, c1.ID)
	require.NoError(t, err)
	require.Equal(t, c1, ct)
	_, err = b.store.GetContact(ctx, "aud_other", c1.ID)
	requireCode(t, sendoka.CodeNotFound, err)

	// Unsubscribing sets the time once.
	var un *sendoka.Contact
	b.inTx(t, func(ctx context.Context, tx sendoka.Tx) error {
		var err error
		un, err = tx.UnsubscribeContact(ctx, a.ID, c2.ID, b.at(10))
		return err
	})
	require.Equal(t, b.at(10), *un.UnsubscribedAt)
	b.inTx(t, func(ctx context.Context, tx sendoka.Tx) error {
		var err error
		un, err = tx.UnsubscribeContact(ctx, a.ID, c2.ID, b.at(20))
		return err
	})
	require.Equal(t, b.at(10), *un.UnsubscribedAt, "the first unsubscription stays")
	err = b.store.InTx(ctx, func(ctx context.Context, tx sendoka.Tx) error {
		_, err := tx.UnsubscribeContact(ctx, a.ID, "con_nope", b.at(20))
		return err
	})
	requireCode(t, sendoka.CodeNotFound, err)
	aud, err := b.store.GetAudience(ctx, sendoka.Scope{OrgID: org, TenantID: "ten_s"}, a.ID)
	require.NoError(t, err)
	require.Equal(t, 1, aud.Unsubscribed)

	emails, err := b.store.AudienceRecipients(ctx, a.ID, sendoka.ChannelEmail, 100)
	require.NoError(t, err)
	want := []sendoka.AudienceRecipient{{ContactID: c1.ID, Address: "s1@example.com"}, {ContactID: c2.ID, Address: "s2@example.com", Unsubscribed: true}}
	slices.SortFunc(want, func(x, y sendoka.AudienceRecipient) int { return strings.Compare(x.ContactID, y.ContactID) })
	require.Equal(t, want, emails, "ordered by contact id")
	phones, err := b.store.AudienceRecipients(ctx, a.ID, sendoka.ChannelSMS, 1)
	require.NoError(t, err)
	first := sendoka.AudienceRecipient{ContactID: c1.ID, Address: "+15559876501"}
	if c3.ID < c1.ID {
		first = sendoka.AudienceRecipient{ContactID: c3.ID, Address: "+15559876503"}
	}
	require.Equal(t, []sendoka.AudienceRecipient{first}, phones, "at most limit")

	s := &sendoka.AudienceSend{ID: sendoka.NewID(sendoka.PrefixAudienceSend, b.at(30)), OrgID: org, TenantID: "ten_s", AudienceID: a.ID,
		KeyID: "key_1", Mode: sendoka.ModeLive, Channel: sendoka.ChannelSMS, Request: []byte(`{"from":"+15551234567"}`),
		Recipients: 2, SkippedSuppressed: 1, SkippedUnsubscribed: 0, CreatedAt: b.at(30)}
	recipients := []sendoka.AudienceRecipient{{ContactID: c1.ID, Address: "+15559876501"}, {ContactID: c3.ID, Address: "+15559876503"}}
	b.inTx(t, func(ctx context.Context, tx sendoka.Tx) error { return tx.InsertAudienceSend(ctx, s, recipients) })
	scope := sendoka.Scope{OrgID: org, TenantID: "ten_s"}
	stored, err := b.store.GetAudienceSend(ctx, scope, a.ID, "")
	require.NoError(t, err)
	require.JSONEq(t, string(s.Request), string(stored.Request))
	stored.Request = s.Request
	require.Equal(t, s, stored)
	_, err = b.store.GetAudienceSend(ctx, sendoka.Scope{OrgID: org}, a.ID, "")
	requireCode(t, sendoka.CodeNotFound, err)
	byID, err := b.store.GetAudienceSendByID(ctx, s.ID)
	require.NoError(t, err)
	require.Equal(t, s.ID, byID.ID)
	require.Contains(t, unfinishedSends(t, b), s.ID, "recovery sees the send until its fan-out finishes")

	// Contact 3 is deleted before the fan-out reaches it.
	b.inTx(t, func(ctx context.Context, tx sendoka.Tx) error { return tx.DeleteContact(ctx, a.ID, c3.ID) })
	pending, err := b.store.PendingRecipients(ctx, s.ID, "", 10)
	require.NoError(t, err)
	wantPending := []sendoka.PendingRecipient{{ContactID: c1.ID, Address: "+15559876501", Contact: c1}, {ContactID: c3.ID, Address: "+15559876503"}}
	slices.SortFunc(wantPending, func(x, y sendoka.PendingRecipient) int { return strings.Compare(x.ContactID, y.ContactID) })
	require.Equal(t, wantPending, pending, "ordered by contact id, a deleted contact without its contact")

	// A message for contact 1, made by the chunk that advances the cursor.
	m := newSMS(org, "ten_s", b.at(40))
	m.Stream = sendoka.StreamBroadcast
	b.insert(t, m)
	require.Equal(t, m, b.get(t, sendoka.Scope{OrgID: org}, m.ID), "the stream is stored")
	next := *s
	next.Cursor, next.Processed, next.Refused, next.FinishedAt = wantPending[1].ContactID, 2, 1, ptr(b.at(41))
	outcomes := []sendoka.RecipientOutcome{{ContactID: c1.ID, MessageID: m.ID}, {ContactID: c3.ID, Error: "deleted"}}
	var ok bool
	b.inTx(t, func(ctx context.Context, tx sendoka.Tx) error {
		var err error
		ok, err = tx.AdvanceAudienceSend(ctx, &next, "", outcomes)
		return err
	})
	require.True(t, ok)
	b.inTx(t, func(ctx context.Context, tx sendoka.Tx) error {
		var err error
		ok, err = tx.AdvanceAudienceSend(ctx, &next, "", outcomes)
		return err
	})
	require.False(t, ok, "the cursor moved: a second run of the same chunk changes nothing")
	stored, err = b.store.GetAudienceSend(ctx, scope, a.ID, s.ID)
	require.NoError(t, err)
	require.Equal(t, wantPending[1].ContactID, stored.Cursor)
	require.Equal(t, 2, stored.Processed)
	require.Equal(t, 1, stored.Refused)
	require.Equal(t, b.at(41), *stored.FinishedAt)
	require.NotContains(t, unfinishedSends(t, b), s.ID, "a finished send is not unfinished")
	pending, err = b.store.PendingRecipients(ctx, s.ID, stored.Cursor, 10)
	require.NoError(t, err)
	require.Empty(t, pending)
	counts, err := b.store.AudienceSendStatuses(ctx, s.ID)
	require.NoError(t, err)
	require.Equal(t, map[sendoka.Status]int{sendoka.StatusQueued: 1}, counts)

	// A later send is the latest.
	later := *s
	later.ID, later.CreatedAt = sendoka.NewID(sendoka.PrefixAudienceSend, b.at(50)), b.at(50)
	b.inTx(t, func(ctx context.Context, tx sendoka.Tx) error { return tx.InsertAudienceSend(ctx, &later, nil) })
	latest, err := b.store.GetAudienceSend(ctx, scope, a.ID, "")
	require.NoError(t, err)
	require.Equal(t, later.ID, latest.ID)
}

// unfinishedSends lists the ids UnfinishedAudienceSends returns (of every test's sends), and
// checks they come oldest first, each unfinished.
func unfinishedSends(t *testing.T, b *bundle) []string {
	t.Helper()
	sends, err := b.store.UnfinishedAudienceSends(b.ctx(t), 10000)
	require.NoError(t, err)
	ids := make([]string, len(sends))
	for i, s := range sends {
		require.Nil(t, s.FinishedAt)
		if i > 0 {
			require.False(t, s.CreatedAt.Before(sends[i-1].CreatedAt), "oldest first")
		}
		ids[i] = s.ID
	}
	return ids
}
