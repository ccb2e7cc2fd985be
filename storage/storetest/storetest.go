// Package storetest is the conformance suite of sendoka.Store: every implementation runs it,
// and passing it is what "implements the Store" means. An implementation's test calls
//
//	func TestStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) sendoka.Store { return openFreshStore(t) })
//	}
//
// newStore must return an empty, migrated store that no other test uses; the suite runs its
// subtests in parallel, each with its own store.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/sendoka"
)

// Run runs the suite against stores made by newStore.
func Run(t *testing.T, newStore func(t *testing.T) sendoka.Store) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, b *bundle)
	}{
		{"MessageRoundTrip", testMessageRoundTrip},
		{"MessageTimesUTC", testMessageTimesUTC},
		{"MessageDuplicateID", testMessageDuplicateID},
		{"InsertManyMessages", testInsertManyMessages},
		{"TxGetMessage", testTxGetMessage},
		{"Scope", testScope},
		{"ListMessagesOrderAndFilters", testListMessagesOrderAndFilters},
		{"ListMessagesTieBreak", testListMessagesTieBreak},
		{"ListMessagesPaginationWhileInserting", testPaginationWhileInserting},
		{"ClaimMessage", testClaimMessage},
		{"ClaimMessageConcurrent", testClaimMessageConcurrent},
		{"ClaimLease", testClaimLease},
		{"ClaimUnclaimed", testClaimUnclaimed},
		{"ClaimUnclaimedConcurrent", testClaimUnclaimedConcurrent},
		{"UpdateMessage", testUpdateMessage},
		{"UpdateMessages", testUpdateMessages},
		{"UpdateMessageConcurrent", testUpdateMessageConcurrent},
		{"InTxRollbackOnError", testInTxRollbackOnError},
		{"InTxRollbackOnPanic", testInTxRollbackOnPanic},
		{"APIKeys", testAPIKeys},                   // apikey.go
		{"APIKeyRevoke", testAPIKeyRevoke},         // apikey.go
		{"APIKeyGetUpdate", testAPIKeyGetUpdate},   // apikey.go
		{"APIKeyScope", testAPIKeyScope},           // apikey.go
		{"APIKeyTouch", testAPIKeyTouch},           // apikey.go
		{"KeyInvalidations", testKeyInvalidations}, // apikey.go
		{"Events", testEvents},
		{"Orgs", testOrgs},
		{"Templates", testTemplates},                                   // template.go
		{"SMS", testSMS},                                               // sms.go
		{"Email", testEmail},                                           // email.go
		{"Tenants", testTenants},                                       // tenant.go
		{"Domains", testDomains},                                       // domain.go
		{"TakeTokens", testTakeTokens},                                 // limits.go
		{"ReserveCount", testReserveCount},                             // limits.go
		{"OrgLimits", testOrgLimits},                                   // limits.go
		{"Retention", testRetention},                                   // retention.go
		{"DeadlinePassed", testDeadlinePassed},                         // unavailable.go
		{"CallerCancelled", testCallerCancelled},                       // unavailable.go
		{"IdempotencyRecords", testIdempotencyRecords},                 // idempotency.go
		{"IdempotencyTakeOver", testIdempotencyTakeOver},               // idempotency.go
		{"IdempotencyInTx", testIdempotencyInTx},                       // idempotency.go
		{"IdempotencyInsertCompleted", testIdempotencyInsertCompleted}, // idempotency.go
		{"IdempotencyDelete", testIdempotencyDelete},                   // idempotency.go
		{"WebhookEndpoints", testWebhookEndpoints},                     // webhooks.go
		{"WebhookDeliveries", testWebhookDeliveries},                   // webhooks.go
		{"SuppressionManagement", testSuppressionManagement},           // suppression.go
		{"ProviderIngest", testProviderIngest},                         // ingest.go
		{"Audiences", testAudiences},                                   // audiences.go
		{"InboundRoutes", testInboundRoutes},                           // inbound.go
		{"InboundEmails", testInboundEmails},                           // inbound.go
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, setup(t, newStore))
		})
	}
}

// bundle is what every subtest gets: a fresh store and a time base.
type bundle struct {
	store sendoka.Store
	// base is a fixed time with a non-zero microsecond part, so lost precision shows.
	base time.Time
}

func setup(t *testing.T, newStore func(t *testing.T) sendoka.Store) *bundle {
	t.Helper()
	return &bundle{
		store: newStore(t),
		base:  time.Date(2025, 3, 14, 15, 9, 26, 535897000, time.UTC),
	}
}

// ctx bounds each call, so a store that leaks its only connection (a transaction left open
// after a panic, say) fails the test instead of hanging it.
func (b *bundle) ctx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// at returns base plus n microseconds.
func (b *bundle) at(n int) time.Time { return b.base.Add(time.Duration(n) * time.Microsecond) }

func (b *bundle) inTx(t *testing.T, fn func(ctx context.Context, tx sendoka.Tx) error) {
	t.Helper()
	require.NoError(t, b.store.InTx(b.ctx(t), fn))
}

func (b *bundle) insert(t *testing.T, msgs ...*sendoka.Message) {
	t.Helper()
	b.inTx(t, func(ctx context.Context, tx sendoka.Tx) error { return tx.InsertMessages(ctx, msgs...) })
}

func (b *bundle) get(t *testing.T, scope sendoka.Scope, id string) *sendoka.Message {
	t.Helper()
	m, err := b.store.GetMessage(b.ctx(t), scope, id)
	require.NoError(t, err)
	return m
}

func (b *bundle) txGet(t *testing.T, id string) *sendoka.Message {
	t.Helper()
	var m *sendoka.Message
	b.inTx(t, func(ctx context.Context, tx sendoka.Tx) error {
		var err error
		m, err = tx.GetMessage(ctx, id)
		return err
	})
	return m
}

func (b *bundle) list(t *testing.T, scope sendoka.Scope, q sendoka.MessageQuery) *sendoka.MessagePage {
	t.Helper()
	if q.Limit == 0 {
		q.Limit = sendoka.MaxListLimit
	}
	page, err := b.store.ListMessages(b.ctx(t), scope, q)
	require.NoError(t, err)
	return page
}

// newEmail returns a minimal queued email of org (and tenant) created at the given time.
func newEmail(org, tenant string, created time.Time) *sendoka.Message {
	return &sendoka.Message{
		ID: sendoka.NewID(sendoka.PrefixMessage, created), OrgID: org, TenantID: tenant,
		Channel: sendoka.ChannelEmail, Mode: sendoka.ModeLive, Status: sendoka.StatusQueued,
		Email:     &sendoka.EmailContent{From: "from@example.com", To: []string{"to@example.com"}, Subject: "Hello"},
		CreatedAt: created, UpdatedAt: created,
	}
}

// newSMS returns a minimal queued SMS of org (and tenant) created at the given time.
func newSMS(org, tenant string, created time.Time) *sendoka.Message {
	return &sendoka.Message{
		ID: sendoka.NewID(sendoka.PrefixMessage, created), OrgID: org, TenantID: tenant,
		Channel: sendoka.ChannelSMS, Mode: sendoka.ModeLive, Status: sendoka.StatusQueued,
		SMS:       &sendoka.SMSContent{From: "+15005550006", To: "+14155550100", Body: "Hi"},
		CreatedAt: created, UpdatedAt: created,
	}
}

func ids(msgs []*sendoka.Message) []string {
	var out []string // nil when empty, like a want list with nothing in it
	for _, m := range msgs {
		out = append(out, m.ID)
	}
	return out
}

func ptr[T any](v T) *T { return &v }

func requireCode(t *testing.T, want sendoka.Code, err error) {
	t.Helper()
	require.Error(t, err)
	require.Equal(t, want, sendoka.ErrorCode(err), "error: %v", err)
}

func testMessageRoundTrip(t *testing.T, b *bundle) {
	org := sendoka.NewID(sendoka.PrefixOrg, b.base)
	full := func(m *sendoka.Message) *sendoka.Message {
		m.TenantID = "ten_acme"
		m.KeyID = sendoka.NewID(sendoka.PrefixAPIKey, b.base)
		m.Mode = sendoka.ModeTest
		m.Status = sendoka.StatusBounced
		m.Tags = []string{"welcome", "onboarding", "welcome"}
		m.Metadata = map[string]any{"user_id": "u_42", "plan_price": 9.5, "count": float64(3), "vip": true, "note": "ünïcødé ✓ 'quoted' \"double\""}
		m.ScheduledAt = ptr(b.at(1000))
		m.JobID = 9_007_199_254_740_993 // above 2^53: must not pass through a float
		m.ClaimedAt = ptr(b.at(2001))
		m.Provider = "ses"
		m.ProviderMessageID = "0100018f-abcd"
		m.Diagnostic = &sendoka.Diagnostic{Provider: "ses", Code: "550", Message: "mailbox unavailable"}
		m.Attempts = 3
		m.UpdatedAt = b.at(4003)
		m.SentAt = ptr(b.at(3002))
		m.CompletedAt = ptr(b.at(4003))
		return m
	}
	cases := []struct {
		name string
		msg  *sendoka.Message
	}{
		{"email minimal", newEmail(org, "", b.at(0))},
		{"sms minimal", newSMS(org, "", b.at(1))},
		{"email every field", full(func() *sendoka.Message {
			m := newEmail(org, "", b.at(2))
			m.Email = &sendoka.EmailContent{
				From: "Acme <hello@acme.test>", To: []string{"a@example.com", "b@example.com"},
				Cc: []string{"c@example.com"}, Bcc: []string{"d@example.com", "e@example.com"},
				ReplyTo: []string{"support@acme.test"}, Subject: "Your order — #1234 ✓",
				HTML: "<p>Hello <b>there</b> &amp; welcome</p>", Text: "Hello there\n& welcome",
			}
			return m
		}())},
		{"sms every field", full(func() *sendoka.Message {
			m := newSMS(org, "", b.at(3))
			m.SMS = &sendoka.SMSContent{From: "Acme", To: "+447700900123", Body: "Code: 123456 ✓",
				MediaURLs: []string{"https://example.com/a.png", "https://example.com/b.jpg"}}
			return m
		}())},
		{"empty tags and metadata", func() *sendoka.Message {
			m := newEmail(org, "", b.at(4))
			m.Tags = []string{}
			m.Metadata = map[string]any{}
			return m
		}()},
	}
	for _, c := range cases {
		b.insert(t, c.msg)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			scope := sendoka.Scope{OrgID: org, TenantID: c.msg.TenantID}
			require.Equal(t, c.msg, b.get(t, scope, c.msg.ID), "Store.GetMessage")
			require.Equal(t, c.msg, b.txGet(t, c.msg.ID), "Tx.GetMessage")
			var listed *sendoka.Message
			for _, m := range b.list(t, scope, sendoka.MessageQuery{Channel: c.msg.Channel}).Messages {
				if m.ID == c.msg.ID {
					listed = m
				}
			}
			require.Equal(t, c.msg, listed, "ListMessages")
		})
	}
}

func testMessageTimesUTC(t *testing.T, b *bundle) {
	zone := time.FixedZone("UTC+05:30", 5*3600+1800)
	m := newEmail("org_utc", "", b.at(7).In(zone))
	m.UpdatedAt = b.at(8).In(zone)
	m.ScheduledAt = ptr(b.at(9).In(zone))
	b.insert(t, m)
	got := b.get(t, sendoka.Scope{OrgID: "org_utc"}, m.ID)
	for name, pair := range map[string][2]time.Time{
		"CreatedAt":   {b.at(7), got.CreatedAt},
		"UpdatedAt":   {b.at(8), got.UpdatedAt},
		"ScheduledAt": {b.at(9), *got.ScheduledAt},
	} {
		require.Equal(t, pair[0], pair[1], name)
		require.Equal(t, time.UTC, pair[1].Location(), name)
	}
}

func testMessageDuplicateID(t *testing.T, b *bundle) {
	m := newEmail("org_dup", "", b.at(0))
	b.insert(t, m)
	again := newSMS("org_dup", "", b.at(1))
	again.ID = m.ID
	err := b.store.InTx(b.ctx(t), func(ctx context.Context, tx sendoka.Tx) error { return tx.InsertMessages(ctx, again) })
	requireCode(t, sendoka.CodeConflict, err)
	require.Equal(t, sendoka.ChannelEmail, b.get(t, sendoka.Scope{OrgID: "org_dup"}, m.ID).Channel, "the first message is kept")
}

func testInsertManyMessages(t *testing.T, b *bundle) {
	// A batch send of 100, with tags, in one call.
	msgs := make([]*sendoka.Message, 100)
	for i := range msgs {
		msgs[i] = newEmail("org_batch", "", b.at(i))
		msgs[i].Tags = []string{"batch", fmt.Sprintf("n%d", i)}
		msgs[i].Metadata = map[string]any{"i": float64(i)}
	}
	b.insert(t, msgs...)
	scope := sendoka.Scope{OrgID: "org_batch"}
	page := b.list(t, scope, sendoka.MessageQuery{Tag: "batch", Limit: 100})
	require.Len(t, page.Messages, 100)
	require.False(t, page.HasMore)
	for i, m := range page.Messages {
		require.Equal(t, msgs[99-i], m)
	}
	one := b.list(t, scope, sendoka.MessageQuery{Tag: "n42"})
	require.Equal(t, []string{msgs[42].ID}, ids(one.Messages))
}

func testTxGetMessage(t *testing.T, b *bundle) {
	m := newEmail("org_tx", "ten_a", b.at(0))
	b.insert(t, m)
	// A worker reads without a scope.
	require.Equal(t, m, b.txGet(t, m.ID))
	err := b.store.InTx(b.ctx(t), func(ctx context.Context, tx sendoka.Tx) error {
		_, err := tx.GetMessage(ctx, sendoka.NewID(sendoka.PrefixMessage, b.base))
		return err
	})
	requireCode(t, sendoka.CodeNotFound, err)
}

func testScope(t *testing.T, b *bundle) {
	const orgA, orgB = "org_a", "org_b"
	orgWide := newEmail(orgA, "", b.at(0))
	tenant1 := newEmail(orgA, "ten_1", b.at(1))
	tenant2 := newEmail(orgA, "ten_2", b.at(2))
	other := newEmail(orgB, "ten_1", b.at(3))
	b.insert(t, orgWide, tenant1, tenant2, other)
	b.inTx(t, func(ctx context.Context, tx sendoka.Tx) error {
		var evs []*sendoka.Event
		for _, m := range []*sendoka.Message{orgWide, tenant1, tenant2, other} {
			evs = append(evs, &sendoka.Event{ID: sendoka.NewID(sendoka.PrefixEvent, m.CreatedAt), OrgID: m.OrgID,
				TenantID: m.TenantID, MessageID: m.ID, Type: sendoka.EventQueued, Status: sendoka.StatusQueued, CreatedAt: m.CreatedAt})
		}
		return tx.InsertEvents(ctx, evs...)
	})

	cases := []struct {
		name    string
		scope   sendoka.Scope
		visible []*sendoka.Message // newest first
	}{
		{"org-wide scope sees every tenant", sendoka.Scope{OrgID: orgA}, []*sendoka.Message{tenant2, tenant1, orgWide}},
		{"tenant scope sees its tenant only", sendoka.Scope{OrgID: orgA, TenantID: "ten_1"}, []*sendoka.Message{tenant1}},
		{"other tenant scope", sendoka.Scope{OrgID: orgA, TenantID: "ten_2"}, []*sendoka.Message{tenant2}},
		{"same tenant id in another org", sendoka.Scope{OrgID: orgB, TenantID: "ten_1"}, []*sendoka.Message{other}},
		{"unknown tenant", sendoka.Scope{OrgID: orgA, TenantID: "ten_3"}, nil},
		{"unknown org", sendoka.Scope{OrgID: "org_c"}, nil},
		{"empty scope", sendoka.Scope{}, nil},
	}
	all := []*sendoka.Message{orgWide, tenant1, tenant2, other}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			require.Equal(t, ids(c.visible), ids(b.list(t, c.scope, sendoka.MessageQuery{}).Messages))
			for _, m := range all {
				visible := false
				for _, v := range c.visible {
					visible = visible || v.ID == m.ID
				}
				got, err := b.store.GetMessage(b.ctx(t), c.scope, m.ID)
				events, evErr := b.store.ListEvents(b.ctx(t), c.scope, m.ID)
				require.NoError(t, evErr)
				if visible {
					require.NoError(t, err)
					require.Equal(t, m, got)
					require.Len(t, events, 1)
					continue
				}
				requireCode(t, sendoka.CodeNotFound, err)
				require.Nil(t, got)
				require.Empty(t, events, "a message outside scope has no events")
			}
		})
	}
}

func testListMessagesOrderAndFilters(t *testing.T, b *bundle) {
	const org = "org_list"
	var emails, sms []*sendoka.Message // oldest first
	for i := range 6 {
		e := newEmail(org, "", b.at(10*i))
		s := newSMS(org, "", b.at(10*i+5))
		if i%2 == 0 {
			e.Status, s.Status = sendoka.StatusSent, sendoka.StatusSent
		}
		if i%3 == 0 {
			e.Tags, s.Tags = []string{"promo", "x"}, []string{"y", "promo"}
		} else {
			e.Tags = []string{"promotion"} // a tag containing another must not match it
		}
		emails, sms = append(emails, e), append(sms, s)
	}
	b.insert(t, append(append([]*sendoka.Message{}, emails...), sms...)...)
	// Another org's messages never show up.
	b.insert(t, newEmail("org_other", "", b.at(1)), newSMS("org_other", "", b.at(2)))

	newest := func(ms []*sendoka.Message, keep func(*sendoka.Message) bool) []string {
		var out []string
		for i := len(ms) - 1; i >= 0; i-- {
			if keep(ms[i]) {
				out = append(out, ms[i].ID)
			}
		}
		return out
	}
	everything := make([]*sendoka.Message, 0, 12)
	for i := range emails {
		everything = append(everything, emails[i], sms[i])
	}
	yes := func(*sendoka.Message) bool { return true }
	hasTag := func(tag string) func(*sendoka.Message) bool {
		return func(m *sendoka.Message) bool {
			for _, t := range m.Tags {
				if t == tag {
					return true
				}
			}
			return false
		}
	}
	cases := []struct {
		name string
		q    sendoka.MessageQuery
		want []string
	}{
		{"all, newest first", sendoka.MessageQuery{}, newest(everything, yes)},
		{"channel email", sendoka.MessageQuery{Channel: sendoka.ChannelEmail}, newest(emails, yes)},
		{"channel sms", sendoka.MessageQuery{Channel: sendoka.ChannelSMS}, newest(sms, yes)},
		{"status sent", sendoka.MessageQuery{Channel: sendoka.ChannelEmail, Status: sendoka.StatusSent},
			newest(emails, func(m *sendoka.Message) bool { return m.Status == sendoka.StatusSent })},
		{"status with no match", sendoka.MessageQuery{Status: sendoka.StatusBounced}, nil},
		{"tag", sendoka.MessageQuery{Tag: "promo"}, newest(everything, hasTag("promo"))},
		{"tag and channel and status", sendoka.MessageQuery{Channel: sendoka.ChannelSMS, Status: sendoka.StatusSent, Tag: "promo"},
			newest(sms, func(m *sendoka.Message) bool { return m.Status == sendoka.StatusSent && hasTag("promo")(m) })},
		{"tag is exact", sendoka.MessageQuery{Tag: "prom"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			page := b.list(t, sendoka.Scope{OrgID: org}, c.q)
			require.Equal(t, c.want, ids(page.Messages))
			require.False(t, page.HasMore)
		})
	}

	t.Run("limit and HasMore", func(t *testing.T) {
		all := newest(emails, yes)
		for limit := 1; limit <= len(all)+1; limit++ {
			page := b.list(t, sendoka.Scope{OrgID: org}, sendoka.MessageQuery{Channel: sendoka.ChannelEmail, Limit: limit})
			n := min(limit, len(all))
			require.Equal(t, all[:n], ids(page.Messages), "limit %d", limit)
			require.Equal(t, limit < len(all), page.HasMore, "limit %d", limit)
		}
	})
	t.Run("cursor", func(t *testing.T) {
		all := newest(everything, yes)
		// Strictly after the cursor, even when the cursor's own message exists.
		cur := &sendoka.Cursor{CreatedAt: sms[3].CreatedAt, ID: sms[3].ID}
		page := b.list(t, sendoka.Scope{OrgID: org}, sendoka.MessageQuery{After: cur})
		i := 0
		for all[i] != sms[3].ID {
			i++
		}
		require.Equal(t, all[i+1:], ids(page.Messages))
		// A cursor between two messages: one microsecond after emails[2].
		page = b.list(t, sendoka.Scope{OrgID: org}, sendoka.MessageQuery{Channel: sendoka.ChannelEmail,
			After: &sendoka.Cursor{CreatedAt: emails[2].CreatedAt.Add(time.Microsecond), ID: "msg_"}})
		require.Equal(t, newest(emails[:3], yes), ids(page.Messages))
	})
	t.Run("microsecond order", func(t *testing.T) {
		// Two messages one microsecond apart, the older with the greater id: order must
		// come from the time, at full precision.
		older, newer := newEmail("org_micro", "", b.at(1)), newEmail("org_micro", "", b.at(2))
		older.ID, newer.ID = "msg_b", "msg_a"
		b.insert(t, older, newer)
		page := b.list(t, sendoka.Scope{OrgID: "org_micro"}, sendoka.MessageQuery{})
		require.Equal(t, []string{"msg_a", "msg_b"}, ids(page.Messages))
		page = b.list(t, sendoka.Scope{OrgID: "org_micro"}, sendoka.MessageQuery{After: &sendoka.Cursor{CreatedAt: newer.CreatedAt, ID: newer.ID}})
		require.Equal(t, []string{"msg_b"}, ids(page.Messages))
	})
}

func testListMessagesTieBreak(t *testing.T, b *bundle) {
	const org = "org_tie"
	// Ten messages with one created_at: ties are broken by id, descending, and paging
	// through them with a limit of 3 visits each once.
	same := b.at(500)
	var want []string
	var msgs []*sendoka.Message
	for i := 9; i >= 0; i-- {
		m := newEmail(org, "", same)
		m.ID = fmt.Sprintf("msg_tie_%02d", i)
		msgs = append(msgs, m)
		want = append(want, m.ID)
	}
	before, after := newEmail(org, "", b.at(499)), newEmail(org, "", b.at(501))
	b.insert(t, append(msgs, before, after)...)
	want = append(append([]string{after.ID}, want...), before.ID)

	var got []string
	var cur *sendoka.Cursor
	for range 20 {
		page := b.list(t, sendoka.Scope{OrgID: org}, sendoka.MessageQuery{Limit: 3, After: cur})
		got = append(got, ids(page.Messages)...)
		if !page.HasMore {
			break
		}
		last := page.Messages[len(page.Messages)-1]
		cur = &sendoka.Cursor{CreatedAt: last.CreatedAt, ID: last.ID}
	}
	require.Equal(t, want, got)
}

func testPaginationWhileInserting(t *testing.T, b *bundle) {
	const org = "org_page"
	scope := sendoka.Scope{OrgID: org}
	var original []string // newest first
	var msgs []*sendoka.Message
	for i := range 40 {
		var m *sendoka.Message
		if i%4 == 3 {
			m = newSMS(org, "", b.at(i*7)) // other channel: filtered out
		} else {
			m = newEmail(org, "", b.at(i*7))
			original = append([]string{m.ID}, original...)
		}
		msgs = append(msgs, m)
	}
	b.insert(t, msgs...)

	// A writer inserts newer messages the whole time the reader pages.
	ctx, cancel := context.WithCancel(b.ctx(t))
	var wg sync.WaitGroup
	wg.Add(1)
	writerErr := make(chan error, 1)
	go func() {
		defer wg.Done()
		for i := 0; ctx.Err() == nil; i++ {
			m := newEmail(org, "", b.at(1_000_000+i))
			err := b.store.InTx(ctx, func(ctx context.Context, tx sendoka.Tx) error { return tx.InsertMessages(ctx, m) })
			if err != nil {
				if ctx.Err() == nil {
					writerErr <- err
				}
				return
			}
		}
	}()

	seen := map[string]int{}
	var got []string
	var cur *sendoka.Cursor
	var newest *sendoka.Message
	for page := 0; ; page++ {
		require.Less(t, page, 50, "pagination does not end")
		p := b.list(t, scope, sendoka.MessageQuery{Channel: sendoka.ChannelEmail, Limit: 4, After: cur})
		for _, m := range p.Messages {
			seen[m.ID]++
			got = append(got, m.ID)
		}
		// Between page reads, more newer messages (later created_at) arrive.
		newest = newEmail(org, "", b.at(2_000_000+page))
		b.insert(t, newest, newSMS(org, "", b.at(2_000_000+page)))
		if !p.HasMore {
			break
		}
		last := p.Messages[len(p.Messages)-1]
		cur = &sendoka.Cursor{CreatedAt: last.CreatedAt, ID: last.ID}
	}
	cancel()
	wg.Wait()
	select {
	case err := <-writerErr:
		require.NoError(t, err, "concurrent writer")
	default:
	}

	// The first page may show messages the writer added before it, but after that every
	// original email is visited exactly once, in order.
	var fromOriginal []string
	for _, id := range got {
		require.Equal(t, 1, seen[id], "message %s visited %d times", id, seen[id])
		for _, o := range original {
			if o == id {
				fromOriginal = append(fromOriginal, id)
			}
		}
	}
	require.Equal(t, original, fromOriginal)
	require.Equal(t, original, got[len(got)-len(original):], "nothing newer appears after the first page")

	// And a fresh listing starts with the newest of them.
	fresh := b.list(t, scope, sendoka.MessageQuery{Channel: sendoka.ChannelEmail, Limit: 1})
	require.Equal(t, []string{newest.ID}, ids(fresh.Messages))
	require.True(t, fresh.HasMore)
}

func testClaimMessage(t *testing.T, b *bundle) {
	claim := func(t *testing.T, id string, at time.Time, from ...sendoka.Status) bool {
		t.Helper()
		var ok bool
		b.inTx(t, func(ctx context.Context, tx sendoka.Tx) error {
			var err error
			ok, err = tx.ClaimMessage(ctx, id, at, at.Add(time.Hour), from...)
			return err
		})
		return ok
	}
	queued := newEmail("org_claim", "", b.at(0))
	sent := newEmail("org_claim", "", b.at(1))
	sent.Status = sendoka.StatusSent
	scheduled := newEmail("org_claim", "", b.at(2))
	scheduled.Status = sendoka.StatusScheduled
	b.insert(t, queued, sent, scheduled)

	require.False(t, claim(t, sent.ID, b.at(10), sendoka.StatusQueued, sendoka.StatusScheduled), "wrong status")
	require.Nil(t, b.txGet(t, sent.ID).ClaimedAt)
	require.False(t, claim(t, sendoka.NewID(sendoka.PrefixMessage, b.base), b.at(10), sendoka.StatusQueued), "unknown id")

	require.True(t, claim(t, queued.ID, b.at(11), sendoka.StatusQueued, sendoka.StatusScheduled))
	got := b.txGet(t, queued.ID)
	require.Equal(t, ptr(b.at(11)), got.ClaimedAt)
	require.Equal(t, ptr(b.at(11).Add(time.Hour)), got.LeaseUntil)
	require.Equal(t, sendoka.StatusQueued, got.Status, "a claim does not change the status")
	require.False(t, claim(t, queued.ID, b.at(12), sendoka.StatusQueued), "already claimed")
	require.Equal(t, ptr(b.at(11)), b.txGet(t, queued.ID).ClaimedAt, "the first claim stays")

	require.True(t, claim(t, scheduled.ID, b.at(13), sendoka.StatusScheduled))

	// Giving a claim back (UpdateMessage with ClaimedAt nil) makes it claimable again.
	got.ClaimedAt = nil
	b.inTx(t, func(ctx context.Context, tx sendoka.Tx) error {
		ok, err := tx.UpdateMessage(ctx, got, sendoka.StatusQueued)
		require.True(t, ok)
		return err
	})
	require.True(t, claim(t, queued.ID, b.at(14), sendoka.StatusQueued))
	require.Equal(t, ptr(b.at(14)), b.txGet(t, queued.ID).ClaimedAt)

	// A claim rolled back with its transaction leaves the message unclaimed.
	rolled := newEmail("org_claim", "", b.at(3))
	b.insert(t, rolled)
	errRollback := errors.New("rollback")
	err := b.store.InTx(b.ctx(t), func(ctx context.Context, tx sendoka.Tx) error {
		ok, err := tx.ClaimMessage(ctx, rolled.ID, b.at(15), b.at(16), sendoka.StatusQueued)
		require.NoError(t, err)
		require.True(t, ok)
		return errRollback
	})
	require.ErrorIs(t, err, errRollback)
	require.Nil(t, b.txGet(t, rolled.ID).ClaimedAt)
}

func testClaimLease(t *testing.T, b *bundle) {
	hour := time.Hour
	m := newEmail("org_lease", "", b.at(0))
	sent := newEmail("org_lease", "", b.at(1))
	sent.Status, sent.ClaimedAt, sent.LeaseUntil = sendoka.StatusSent, ptr(b.at(1)), ptr(b.at(2))
	b.insert(t, m, sent)
	claim := func(at time.Time) bool {
		var ok bool
		b.inTx(t, func(ctx context.Context, tx sendoka.Tx) error {
			var err error
			ok, err = tx.ClaimMessage(ctx, m.ID, at, at.Add(hour), sendoka.StatusQueued)
			return err
		})
		return ok
	}
	renew := func(claimedAt, until time.Time) bool {
		var ok bool
		b.inTx(t, func(ctx context.Context, tx sendoka.Tx) error {
			var err error
			ok, err = tx.RenewClaim(ctx, m.ID, claimedAt, until)
			return err
		})
		return ok
	}
	lapsed := func(now time.Time) []string {
		var got []*sendoka.Message
		b.inTx(t, func(ctx context.Context, tx sendoka.Tx) error {
			var err error
			got, err = tx.LapsedClaims(ctx, now, 10)
			return err
		})
		return ids(got)
	}
	first := b.at(10)
	require.True(t, claim(first))
	require.Empty(t, lapsed(first.Add(hour-time.Microsecond)), "a live claim has not lapsed")
	require.False(t, claim(first.Add(hour-time.Microsecond)), "a live claim holds")

	// Renewing moves the lease; the claim then holds past its first lease.
	require.True(t, renew(first, first.Add(2*hour)))
	require.Equal(t, ptr(first.Add(2*hour)), b.txGet(t, m.ID).LeaseUntil)
	require.False(t, claim(first.Add(hour+time.Second)), "a renewed claim holds")
	require.False(t, renew(b.at(11), first.Add(3*hour)), "only the holder renews")
	require.Equal(t, ptr(first.Add(2*hour)), b.txGet(t, m.ID).LeaseUntil)

	// Once lapsed it is listed (sent messages never are) and can be taken over, after which
	// the old holder can no longer renew.
	after := first.Add(2*hour + time.Second)
	require.Equal(t, []string{m.ID}, lapsed(after))
	require.True(t, claim(after))
	require.Equal(t, ptr(after), b.txGet(t, m.ID).ClaimedAt)
	require.False(t, renew(first, after.Add(hour)), "a taken-over claim is gone")
	require.Empty(t, lapsed(after))
}

// race runs fn in n goroutines that start together and returns how many reported true.
func race(t *testing.T, n int, fn func(i int) (bool, error)) int {
	t.Helper()
	start := make(chan struct{})
	var wins atomic.Int64
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			ok, err := fn(i)
			if err != nil {
				errs <- err
				return
			}
			if ok {
				wins.Add(1)
			}
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	return int(wins.Load())
}

func testClaimMessageConcurrent(t *testing.T, b *bundle) {
	for round := range 3 {
		m := newEmail("org_race", "", b.at(round))
		b.insert(t, m)
		ctx := b.ctx(t)
		wins := race(t, 12, func(i int) (bool, error) {
			var ok bool
			err := b.store.InTx(ctx, func(ctx context.Context, tx sendoka.Tx) error {
				var err error
				ok, err = tx.ClaimMessage(ctx, m.ID, b.at(100+i), b.at(100+i).Add(time.Hour), sendoka.StatusQueued)
				return err
			})
			return ok, err
		})
		require.Equal(t, 1, wins, "round %d: exactly one claim wins", round)
		require.NotNil(t, b.txGet(t, m.ID).ClaimedAt)
	}
}

func testClaimUnclaimed(t *testing.T, b *bundle) {
	claim := func(t *testing.T, id string, jobID int64, at time.Time) *sendoka.Message {
		t.Helper()
		ms, err := b.store.ClaimUnclaimed(b.ctx(t), []sendoka.Claim{{MessageID: id, JobID: jobID}}, at, at.Add(time.Hour))
		require.NoError(t, err)
		require.LessOrEqual(t, len(ms), 1)
		if len(ms) == 0 {
			return nil
		}
		return ms[0]
	}
	queued := newEmail("org_fast", "ten_f", b.at(0))
	queued.JobID = 41
	queued.Tags = []string{"t"}
	scheduled := newEmail("org_fast", "", b.at(1))
	scheduled.Status, scheduled.ScheduledAt = sendoka.StatusScheduled, ptr(b.at(5))
	sent := newEmail("org_fast", "", b.at(2))
	sent.Status = sendoka.StatusSent
	lapsed := newEmail("org_fast", "", b.at(3))
	lapsed.ClaimedAt, lapsed.LeaseUntil = ptr(b.at(3)), ptr(b.at(4)) // long lapsed
	b.insert(t, queued, scheduled, sent, lapsed)

	require.Nil(t, claim(t, queued.ID, 40, b.at(10)), "another job's message")
	require.Nil(t, b.txGet(t, queued.ID).ClaimedAt)
	got := claim(t, queued.ID, 41, b.at(11))
	require.NotNil(t, got)
	require.Equal(t, queued.ID, got.ID)
	require.Equal(t, ptr(b.at(11)), got.ClaimedAt, "returned as claimed")
	require.Equal(t, ptr(b.at(11).Add(time.Hour)), got.LeaseUntil)
	require.Equal(t, "ten_f", got.TenantID)
	require.Equal(t, []string{"t"}, got.Tags)
	require.Equal(t, queued.Email, got.Email, "with its content")
	require.Equal(t, ptr(b.at(11)), b.txGet(t, queued.ID).ClaimedAt, "and stored")
	require.Nil(t, claim(t, queued.ID, 41, b.at(12)), "claimed already")

	require.NotNil(t, claim(t, scheduled.ID, 7, b.at(13)), "a message with no job id yet takes any job's claim")
	require.Nil(t, claim(t, sent.ID, 0, b.at(14)), "not queued")
	require.Nil(t, claim(t, lapsed.ID, 0, b.at(15)), "a lapsed claim is left to ClaimMessage")
	require.Equal(t, ptr(b.at(3)), b.txGet(t, lapsed.ID).ClaimedAt)
	require.Nil(t, claim(t, sendoka.NewID(sendoka.PrefixMessage, b.base), 0, b.at(16)), "unknown id")

	// Several in one statement: each message against its own claim's job.
	var ms []*sendoka.Message
	for i := range 5 {
		m := newEmail("org_fast", "", b.at(20+i))
		m.JobID = int64(100 + i)
		ms = append(ms, m)
	}
	b.insert(t, ms...)
	claims := []sendoka.Claim{
		{MessageID: ms[0].ID, JobID: 100}, {MessageID: ms[1].ID, JobID: 999}, // another job's
		{MessageID: ms[2].ID, JobID: 102}, {MessageID: sent.ID, JobID: 0}, {MessageID: ms[4].ID, JobID: 104},
		{MessageID: "msg_unknown", JobID: 1},
	}
	got2, err := b.store.ClaimUnclaimed(b.ctx(t), claims, b.at(30), b.at(30).Add(time.Hour))
	require.NoError(t, err)
	var ids []string
	for _, m := range got2 {
		ids = append(ids, m.ID)
		require.Equal(t, ptr(b.at(30)), m.ClaimedAt)
	}
	require.ElementsMatch(t, []string{ms[0].ID, ms[2].ID, ms[4].ID}, ids)
	require.Nil(t, b.txGet(t, ms[1].ID).ClaimedAt, "the claim of another job claims nothing")
	require.Nil(t, b.txGet(t, ms[3].ID).ClaimedAt, "not named")
	require.Equal(t, ptr(b.at(30)), b.txGet(t, ms[4].ID).ClaimedAt)
	none, err := b.store.ClaimUnclaimed(b.ctx(t), nil, b.at(31), b.at(32))
	require.NoError(t, err)
	require.Empty(t, none)
}

func testClaimUnclaimedConcurrent(t *testing.T, b *bundle) {
	for round := range 3 {
		m := newEmail("org_fastrace", "", b.at(round))
		b.insert(t, m)
		ctx := b.ctx(t)
		wins := race(t, 12, func(i int) (bool, error) {
			got, err := b.store.ClaimUnclaimed(ctx, []sendoka.Claim{{MessageID: m.ID}}, b.at(100+i), b.at(100+i).Add(time.Hour))
			return len(got) == 1, err
		})
		require.Equal(t, 1, wins, "round %d: exactly one claim wins", round)
	}
}

func testUpdateMessage(t *testing.T, b *bundle) {
	update := func(t *testing.T, m *sendoka.Message, from ...sendoka.Status) bool {
		t.Helper()
		var ok bool
		b.inTx(t, func(ctx context.Context, tx sendoka.Tx) error {
			var err error
			ok, err = tx.UpdateMessage(ctx, m, from...)
			return err
		})
		return ok
	}
	orig := newEmail("org_upd", "ten_u", b.at(0))
	orig.Tags = []string{"a"}
	orig.Metadata = map[string]any{"k": "v"}
	orig.ClaimedAt = ptr(b.at(1))
	orig.ScheduledAt = ptr(b.at(2))
	b.insert(t, orig)

	// Every delivery field changes; everything else in m is ignored.
	next := *orig
	next.OrgID, next.TenantID, next.KeyID = "org_evil", "ten_evil", "key_evil"
	next.Channel, next.Mode = sendoka.ChannelSMS, sendoka.ModeTest
	next.Email = &sendoka.EmailContent{From: "evil@example.com", Subject: "changed"}
	next.Tags = []string{"changed"}
	next.Metadata = map[string]any{"changed": true}
	next.CreatedAt = b.at(999)
	next.Status = sendoka.StatusSent
	next.ClaimedAt = nil
	next.ScheduledAt = nil
	next.JobID = 77
	next.Provider = "smtp"
	next.ProviderMessageID = "<abc@relay>"
	next.Diagnostic = &sendoka.Diagnostic{Code: "250", Message: "queued as abc"}
	next.Attempts = 2
	next.LeaseUntil = ptr(b.at(9))
	next.NextRetryAt = ptr(b.at(8))
	next.Outcome = sendoka.OutcomeUnknown
	next.DeliveryAttempts = []sendoka.DeliveryAttempt{
		{At: b.at(2), Provider: "smtp", Result: sendoka.AttemptTransient, DurationMS: 12,
			Diagnostic: &sendoka.Diagnostic{Code: "421", Message: "try later"}, NextRetryAt: ptr(b.at(8))},
		{At: b.at(3), Provider: "smtp", Result: sendoka.AttemptUnknown},
	}
	next.UpdatedAt = b.at(3)
	next.SentAt = ptr(b.at(3))
	next.CompletedAt = ptr(b.at(4))

	require.False(t, update(t, &next, sendoka.StatusSent, sendoka.StatusScheduled), "stored status not in from")
	require.Equal(t, orig, b.txGet(t, orig.ID), "a refused update changes nothing")

	require.True(t, update(t, &next, sendoka.StatusQueued))
	want := *orig
	want.Status, want.ClaimedAt, want.ScheduledAt = next.Status, nil, nil
	want.JobID, want.Provider, want.ProviderMessageID = next.JobID, next.Provider, next.ProviderMessageID
	want.Diagnostic, want.Attempts, want.UpdatedAt = next.Diagnostic, next.Attempts, next.UpdatedAt
	want.SentAt, want.CompletedAt = next.SentAt, next.CompletedAt
	want.LeaseUntil, want.NextRetryAt, want.Outcome = next.LeaseUntil, next.NextRetryAt, next.Outcome
	want.DeliveryAttempts = next.DeliveryAttempts
	require.Equal(t, &want, b.txGet(t, orig.ID))
	require.Equal(t, &want, b.get(t, sendoka.Scope{OrgID: "org_upd", TenantID: "ten_u"}, orig.ID), "scope columns unchanged")

	// Setting the nullable fields again works, and clearing the diagnostic too.
	final := want
	final.Status = sendoka.StatusDelivered
	final.Diagnostic = nil
	final.LeaseUntil, final.NextRetryAt, final.Outcome = nil, nil, ""
	final.ClaimedAt = ptr(b.at(5))
	final.UpdatedAt = b.at(6)
	require.True(t, update(t, &final, sendoka.StatusSent))
	require.Equal(t, &final, b.txGet(t, orig.ID))

	unknown := newEmail("org_upd", "", b.at(7))
	require.False(t, update(t, unknown, sendoka.StatusQueued), "unknown id")
}

// testUpdateMessages: one statement writes each message whose stored status is its update's
// from, the delivery fields only, and counts what it wrote.
func testUpdateMessages(t *testing.T, b *bundle) {
	var ms []*sendoka.Message
	for i := range 3 {
		m := newEmail("org_updm", "", b.at(i))
		m.ClaimedAt = ptr(b.at(10 + i))
		ms = append(ms, m)
	}
	b.insert(t, ms...)
	var updates []sendoka.MessageUpdate
	var want []sendoka.Message
	for i, m := range ms {
		next := *m
		next.Email = &sendoka.EmailContent{From: "evil@example.com", Subject: "ignored"} // content is never written
		next.Status = sendoka.StatusSent
		next.ClaimedAt, next.LeaseUntil = nil, nil
		next.Provider, next.ProviderMessageID = "smtp", fmt.Sprintf("<pm%d@relay>", i)
		next.Attempts = i + 1
		next.DeliveryAttempts = []sendoka.DeliveryAttempt{{At: b.at(20 + i), Provider: "smtp", Result: sendoka.AttemptSent, DurationMS: int64(i)}}
		next.UpdatedAt, next.SentAt = b.at(30+i), ptr(b.at(30+i))
		from := sendoka.StatusQueued
		if i == 1 {
			from = sendoka.StatusScheduled // not its stored status: left alone
		}
		updates = append(updates, sendoka.MessageUpdate{Message: &next, From: from})
		want = append(want, next)
	}
	var n int
	b.inTx(t, func(ctx context.Context, tx sendoka.Tx) error {
		var err error
		n, err = tx.UpdateMessages(ctx, updates)
		return err
	})
	require.Equal(t, 2, n)
	for i, m := range ms {
		got := b.txGet(t, m.ID)
		if i == 1 {
			require.Equal(t, m, got, "a stale from writes nothing")
			continue
		}
		w := *m
		w.Status, w.ClaimedAt, w.LeaseUntil = want[i].Status, nil, nil
		w.Provider, w.ProviderMessageID, w.Attempts = want[i].Provider, want[i].ProviderMessageID, want[i].Attempts
		w.DeliveryAttempts, w.UpdatedAt, w.SentAt = want[i].DeliveryAttempts, want[i].UpdatedAt, want[i].SentAt
		require.Equal(t, &w, got)
	}
}

func testUpdateMessageConcurrent(t *testing.T, b *bundle) {
	m := newEmail("org_urace", "", b.at(0))
	b.insert(t, m)
	ctx := b.ctx(t)
	wins := race(t, 12, func(i int) (bool, error) {
		upd := *m
		upd.Status = sendoka.StatusSent
		upd.ProviderMessageID = fmt.Sprintf("pm_%d", i)
		var ok bool
		err := b.store.InTx(ctx, func(ctx context.Context, tx sendoka.Tx) error {
			var err error
			ok, err = tx.UpdateMessage(ctx, &upd, sendoka.StatusQueued)
			return err
		})
		return ok, err
	})
	require.Equal(t, 1, wins, "exactly one queued -> sent transition wins")
	require.Equal(t, sendoka.StatusSent, b.txGet(t, m.ID).Status)
}

// writeEverything writes one of each thing in tx, for the rollback tests.
func writeEverything(ctx context.Context, t *testing.T, b *bundle, tx sendoka.Tx, org string) *sendoka.Message {
	require.NoError(t, tx.InsertOrg(ctx, &sendoka.Org{ID: org, Name: "rolled back", CreatedAt: b.base}))
	require.NoError(t, tx.InsertAPIKey(ctx, &sendoka.APIKey{ID: sendoka.NewID(sendoka.PrefixAPIKey, b.base), OrgID: org,
		Prefix: "sok_live_roll", Hash: sendoka.HashKey("rolled back " + org), Mode: sendoka.ModeLive, CreatedAt: b.base}))
	m := newEmail(org, "", b.at(0))
	m.Tags = []string{"rolled"}
	require.NoError(t, tx.InsertMessages(ctx, m))
	require.NoError(t, tx.InsertEvents(ctx, &sendoka.Event{ID: sendoka.NewID(sendoka.PrefixEvent, b.base), OrgID: org,
		MessageID: m.ID, Type: sendoka.EventQueued, Status: sendoka.StatusQueued, CreatedAt: b.base}))
	// Inside the transaction, its own writes are visible.
	got, err := tx.GetMessage(ctx, m.ID)
	require.NoError(t, err)
	require.Equal(t, m.ID, got.ID)
	return m
}

func requireNothingWritten(t *testing.T, b *bundle, org string, m *sendoka.Message) {
	t.Helper()
	ctx := b.ctx(t)
	_, err := b.store.GetMessage(ctx, sendoka.Scope{OrgID: org}, m.ID)
	requireCode(t, sendoka.CodeNotFound, err)
	page, err := b.store.ListMessages(ctx, sendoka.Scope{OrgID: org}, sendoka.MessageQuery{Limit: 10, Tag: "rolled"})
	require.NoError(t, err)
	require.Empty(t, page.Messages)
	events, err := b.store.ListEvents(ctx, sendoka.Scope{OrgID: org}, m.ID)
	require.NoError(t, err)
	require.Empty(t, events)
	keys, err := b.store.ListAPIKeys(ctx, sendoka.Scope{OrgID: org})
	require.NoError(t, err)
	require.Empty(t, keys)
	_, err = b.store.GetAPIKeyByHash(ctx, sendoka.HashKey("rolled back "+org))
	requireCode(t, sendoka.CodeNotFound, err)
	orgs, err := b.store.ListOrgs(ctx)
	require.NoError(t, err)
	for _, o := range orgs {
		require.NotEqual(t, org, o.ID)
	}
	// The store still works, and the same org, key hash and message can be written now.
	again := *m
	b.inTx(t, func(ctx context.Context, tx sendoka.Tx) error {
		writeEverything(ctx, t, b, tx, org)
		return tx.InsertMessages(ctx, &again)
	})
	require.Equal(t, m, b.get(t, sendoka.Scope{OrgID: org}, m.ID))
}

func testInTxRollbackOnError(t *testing.T, b *bundle) {
	const org = "org_rollback_err"
	errBoom := errors.New("boom")
	var m *sendoka.Message
	err := b.store.InTx(b.ctx(t), func(ctx context.Context, tx sendoka.Tx) error {
		m = writeEverything(ctx, t, b, tx, org)
		return fmt.Errorf("wrapped: %w", errBoom)
	})
	require.ErrorIs(t, err, errBoom, "InTx returns fn's error")
	requireNothingWritten(t, b, org, m)
}

func testInTxRollbackOnPanic(t *testing.T, b *bundle) {
	const org = "org_rollback_panic"
	var m *sendoka.Message
	require.PanicsWithValue(t, "boom", func() {
		_ = b.store.InTx(b.ctx(t), func(ctx context.Context, tx sendoka.Tx) error {
			m = writeEverything(ctx, t, b, tx, org)
			panic("boom")
		})
	}, "InTx re-raises the panic")
	requireNothingWritten(t, b, org, m)
}

func testEvents(t *testing.T, b *bundle) {
	ctx := b.ctx(t)
	m := newEmail("org_ev", "ten_e", b.at(0))
	b.insert(t, m)
	ev := func(n int, typ sendoka.EventType) *sendoka.Event {
		return &sendoka.Event{ID: sendoka.NewID(sendoka.PrefixEvent, b.at(n)), OrgID: m.OrgID, TenantID: m.TenantID,
			MessageID: m.ID, Type: typ, CreatedAt: b.at(n)}
	}
	queued := ev(0, sendoka.EventQueued)
	queued.Status = sendoka.StatusQueued
	sent := ev(10, sendoka.EventSent)
	sent.Status = sendoka.StatusSent
	bounced := ev(20, sendoka.EventBounced)
	bounced.Status, bounced.Recipient = sendoka.StatusBounced, "to@example.com"
	bounced.Diagnostic = &sendoka.Diagnostic{Provider: "ses", Code: "5.1.1", Message: "no such user"}
	clicked := ev(30, sendoka.EventClicked)
	clicked.Data = map[string]any{"url": "https://example.com/?a=1&b=2", "n": float64(2)}
	// Two events at the same instant: ordered by id.
	tieA, tieB := ev(40, sendoka.EventOpened), ev(40, sendoka.EventOpened)
	tieA.ID, tieB.ID = "evt_tie_a", "evt_tie_b"
	emptyData := ev(50, sendoka.EventOpened)
	emptyData.Data = map[string]any{}

	// Inserted out of order and over several calls; read back oldest first.
	b.inTx(t, func(ctx context.Context, tx sendoka.Tx) error { return tx.InsertEvents(ctx, clicked, queued) })
	b.inTx(t, func(ctx context.Context, tx sendoka.Tx) error { return tx.InsertEvents(ctx, tieB, bounced) })
	b.inTx(t, func(ctx context.Context, tx sendoka.Tx) error {
		if err := tx.InsertEvents(ctx); err != nil { // no events: nothing to do
			return err
		}
		return tx.InsertEvents(ctx, emptyData, tieA, sent)
	})
	want := []sendoka.Event{*queued, *sent, *bounced, *clicked, *tieA, *tieB, *emptyData}
	for _, scope := range []sendoka.Scope{{OrgID: "org_ev"}, {OrgID: "org_ev", TenantID: "ten_e"}} {
		got, err := b.store.ListEvents(ctx, scope, m.ID)
		require.NoError(t, err)
		require.Equal(t, want, got)
	}
	got, err := b.store.ListEvents(ctx, sendoka.Scope{OrgID: "org_ev"}, sendoka.NewID(sendoka.PrefixMessage, b.base))
	require.NoError(t, err)
	require.Empty(t, got, "unknown message")

	err = b.store.InTx(ctx, func(ctx context.Context, tx sendoka.Tx) error {
		return tx.InsertEvents(ctx, ev(60, sendoka.EventOpened), sent)
	})
	requireCode(t, sendoka.CodeConflict, err)
	got, err = b.store.ListEvents(ctx, sendoka.Scope{OrgID: "org_ev"}, m.ID)
	require.NoError(t, err)
	require.Len(t, got, len(want), "a conflicting batch adds nothing")
}

func testOrgs(t *testing.T, b *bundle) {
	ctx := b.ctx(t)
	orgs, err := b.store.ListOrgs(ctx)
	require.NoError(t, err)
	require.Empty(t, orgs)

	second := &sendoka.Org{ID: sendoka.NewID(sendoka.PrefixOrg, b.at(10)), Name: "Second", Plan: "pro", CreatedAt: b.at(10)}
	first := &sendoka.Org{ID: sendoka.NewID(sendoka.PrefixOrg, b.at(5)), Name: "First — ✓", Plan: "free", CreatedAt: b.at(5)}
	third := &sendoka.Org{ID: sendoka.NewID(sendoka.PrefixOrg, b.at(11)), Name: "Third", CreatedAt: b.at(11)}
	b.inTx(t, func(ctx context.Context, tx sendoka.Tx) error {
		for _, o := range []*sendoka.Org{second, third, first} {
			if err := tx.InsertOrg(ctx, o); err != nil {
				return err
			}
		}
		return nil
	})
	orgs, err = b.store.ListOrgs(ctx)
	require.NoError(t, err)
	require.Equal(t, []*sendoka.Org{first, second, third}, orgs, "oldest first")

	dup := *first
	dup.Name = "dup"
	err = b.store.InTx(ctx, func(ctx context.Context, tx sendoka.Tx) error { return tx.InsertOrg(ctx, &dup) })
	requireCode(t, sendoka.CodeConflict, err)
}
