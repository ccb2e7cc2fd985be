package sendoka_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/providers/memsend"
	"github.com/sendoka/sendoka/sendoka"
	"github.com/sendoka/sendoka/storage/bunstore"
	"github.com/sendoka/sendoka/storage/bunstore/bunstoretest"
)

// provisioner is an SMS provider with a provisioning step whose answer the test sets, as a
// real provider's 10DLC or toll-free registration would give.
type provisioner struct {
	*memsend.Sender
	mu     sync.Mutex
	result sendoka.ProvisionResult
	err    error
	calls  []string
}

func (p *provisioner) set(res sendoka.ProvisionResult, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.result, p.err = res, err
}

func (p *provisioner) ProvisionSender(_ context.Context, n *sendoka.PhoneNumber) (sendoka.ProvisionResult, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls = append(p.calls, n.PhoneNumber)
	return p.result, p.err
}

var _ sendoka.SenderProvisioner = (*provisioner)(nil)

// smsBundle is a dbBundle whose client provisions numbers through a provisioner.
type smsBundle struct {
	*dbBundle
	prov *provisioner
}

func newSMSBundle(t *testing.T, db *bunstore.DB) *smsBundle {
	t.Helper()
	b := &smsBundle{dbBundle: newDBBundle(t, db)}
	b.prov = &provisioner{Sender: b.fake, result: sendoka.ProvisionResult{Status: sendoka.SenderActive}}
	c, err := sendoka.New(sendoka.Config{Store: b.db, Queue: b.queue, Clock: b.clock,
		Email: b.fake, SMS: b.prov, SandboxEmail: b.fake, SandboxSMS: b.prov})
	require.NoError(t, err)
	b.client = c
	return b
}

func (b *smsBundle) register(t *testing.T, p *sendoka.Principal, kind sendoka.SenderKind, addr, country string) *sendoka.PhoneNumber {
	t.Helper()
	req := &sendoka.PhoneNumberRequest{Kind: kind, ISOCountry: country}
	if kind == sendoka.SenderAlphanumeric {
		req.SenderID = addr
	} else {
		req.PhoneNumber = addr
	}
	n, err := b.client.CreatePhoneNumber(context.Background(), p, req)
	require.NoError(t, err)
	return n
}

func (b *smsBundle) sms(t *testing.T, p *sendoka.Principal, req *sendoka.SMSRequest) (*sendoka.Message, error) {
	t.Helper()
	if req.Body == "" {
		req.Body = "Your code is 1234"
	}
	return b.client.SendSMS(context.Background(), p, req)
}

func requirePaths(t *testing.T, err error, want ...[]any) {
	t.Helper()
	requireCode(t, sendoka.CodeValidation, err)
	require.Equal(t, want, paths(err), "error: %v", err)
}

func TestPhoneNumberRegistration(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := newSMSBundle(t, db)
		ctx := context.Background()

		acme := b.register(t, b.p, sendoka.SenderAlphanumeric, "Acme 24", "gb")
		require.Equal(t, sendoka.SenderActive, acme.Status, "a sender ID has no provisioning step")
		require.Equal(t, "GB", acme.ISOCountry)
		require.Empty(t, b.prov.calls, "sender IDs never reach the provider")

		cases := []struct {
			name string
			req  sendoka.PhoneNumberRequest
			path []any
			says string
		}{
			{"US sender ID", sendoka.PhoneNumberRequest{Kind: "alphanumeric", SenderID: "Acme", ISOCountry: "US"}, []any{"iso_country"}, "10DLC"},
			{"CA sender ID", sendoka.PhoneNumberRequest{Kind: "alphanumeric", SenderID: "Acme", ISOCountry: "CA"}, []any{"iso_country"}, "toll-free"},
			{"IN sender ID", sendoka.PhoneNumberRequest{Kind: "alphanumeric", SenderID: "Acme", ISOCountry: "IN"}, []any{"iso_country"}, "DLT"},
			{"long sender ID", sendoka.PhoneNumberRequest{Kind: "alphanumeric", SenderID: "AcmeCorpLtd1", ISOCountry: "GB"}, []any{"sender_id"}, "11"},
			{"digits only", sendoka.PhoneNumberRequest{Kind: "alphanumeric", SenderID: "12345", ISOCountry: "GB"}, []any{"sender_id"}, "letter"},
			{"punctuation", sendoka.PhoneNumberRequest{Kind: "alphanumeric", SenderID: "Acme!", ISOCountry: "GB"}, []any{"sender_id"}, "letters"},
			{"sender ID with a number", sendoka.PhoneNumberRequest{Kind: "alphanumeric", SenderID: "Acme", PhoneNumber: "+447700900123", ISOCountry: "GB"}, []any{"phone_number"}, "sender_id"},
			{"no country", sendoka.PhoneNumberRequest{Kind: "alphanumeric", SenderID: "Acme"}, []any{"iso_country"}, "Required"},
			{"unknown country", sendoka.PhoneNumberRequest{Kind: "alphanumeric", SenderID: "Acme", ISOCountry: "XX"}, []any{"iso_country"}, "ISO 3166"},
			{"no kind", sendoka.PhoneNumberRequest{SenderID: "Acme", ISOCountry: "GB"}, []any{"kind"}, "Required"},
			{"bad kind", sendoka.PhoneNumberRequest{Kind: "short_code", PhoneNumber: "+15551234567", ISOCountry: "US"}, []any{"kind"}, "long_code"},
			{"not E.164", sendoka.PhoneNumberRequest{Kind: "long_code", PhoneNumber: "5551234567", ISOCountry: "US"}, []any{"phone_number"}, "E.164"},
			{"wrong country", sendoka.PhoneNumberRequest{Kind: "long_code", PhoneNumber: "+447700900123", ISOCountry: "US"}, []any{"phone_number"}, "US"},
			{"toll-free as long code", sendoka.PhoneNumberRequest{Kind: "long_code", PhoneNumber: "+18005550100", ISOCountry: "US"}, []any{"kind"}, "toll_free"},
			{"long code as toll-free", sendoka.PhoneNumberRequest{Kind: "toll_free", PhoneNumber: "+15551234567", ISOCountry: "US"}, []any{"phone_number"}, "toll-free"},
			{"toll-free outside US/CA", sendoka.PhoneNumberRequest{Kind: "toll_free", PhoneNumber: "+448001234567", ISOCountry: "GB"}, []any{"iso_country"}, "US or CA"},
			{"number with sender ID", sendoka.PhoneNumberRequest{Kind: "long_code", PhoneNumber: "+15551234567", SenderID: "Acme", ISOCountry: "US"}, []any{"sender_id"}, "phone_number"},
		}
		for _, tc := range cases {
			_, err := b.client.CreatePhoneNumber(ctx, b.p, &tc.req)
			requirePaths(t, err, tc.path)
			require.Contains(t, sendoka.AsError(err).Fields[0].Message, tc.says, tc.name)
		}

		// A long code goes through the provider's provisioning step.
		b.prov.set(sendoka.ProvisionResult{Status: sendoka.SenderPending, Diagnostic: &sendoka.Diagnostic{Message: "10DLC campaign in review"}}, nil)
		long := b.register(t, b.p, sendoka.SenderLongCode, "+15551234567", "US")
		require.Equal(t, sendoka.SenderPending, long.Status)
		require.Equal(t, "10DLC campaign in review", long.Diagnostic.Message)
		require.Equal(t, "memsend", long.Provider)
		again, err := b.client.ProvisionPhoneNumber(ctx, b.p, long.ID)
		require.NoError(t, err)
		require.Equal(t, sendoka.SenderPending, again.Status, "still in review")
		b.prov.set(sendoka.ProvisionResult{Status: sendoka.SenderActive}, nil)
		again, err = b.client.ProvisionPhoneNumber(ctx, b.p, long.ID)
		require.NoError(t, err)
		require.Equal(t, sendoka.SenderActive, again.Status)
		require.Nil(t, again.Diagnostic)
		got, err := b.client.GetPhoneNumber(ctx, b.p, long.ID)
		require.NoError(t, err)
		require.Equal(t, sendoka.SenderActive, got.Status, "stored")
		require.Equal(t, []string{"+15551234567", "+15551234567", "+15551234567"}, b.prov.calls)

		// The provider unreachable: the number stays pending, and asking again says so.
		b.prov.set(sendoka.ProvisionResult{}, errors.New("connection refused"))
		tf := b.register(t, b.p, sendoka.SenderTollFree, "+18885550100", "CA")
		require.Equal(t, sendoka.SenderPending, tf.Status)
		require.Equal(t, "provider_unreachable", tf.Diagnostic.Code)
		tf, err = b.client.ProvisionPhoneNumber(ctx, b.p, tf.ID)
		require.NoError(t, err)
		require.Equal(t, sendoka.SenderPending, tf.Status)
		require.Contains(t, tf.Diagnostic.Message, "connection refused")
		// The provider refuses it.
		b.prov.set(sendoka.ProvisionResult{Status: sendoka.SenderFailed, Diagnostic: &sendoka.Diagnostic{Code: "NotOwned", Message: "not a number of this account"}}, nil)
		tf, err = b.client.ProvisionPhoneNumber(ctx, b.p, tf.ID)
		require.NoError(t, err)
		require.Equal(t, sendoka.SenderFailed, tf.Status)

		_, err = b.client.CreatePhoneNumber(ctx, b.p, &sendoka.PhoneNumberRequest{Kind: "long_code", PhoneNumber: "+15551234567", ISOCountry: "US"})
		requireCode(t, sendoka.CodeConflict, err)

		// Listing, newest first, with a cursor.
		page, err := b.client.ListPhoneNumbers(ctx, b.p, sendoka.ListParams{Limit: 2})
		require.NoError(t, err)
		require.Equal(t, []string{tf.ID, long.ID}, []string{page.PhoneNumbers[0].ID, page.PhoneNumbers[1].ID})
		require.True(t, page.HasMore)
		page, err = b.client.ListPhoneNumbers(ctx, b.p, sendoka.ListParams{Limit: 2, Cursor: page.NextCursor})
		require.NoError(t, err)
		require.Len(t, page.PhoneNumbers, 1)
		require.Equal(t, acme.ID, page.PhoneNumbers[0].ID)
		require.False(t, page.HasMore)
		_, err = b.client.ListPhoneNumbers(ctx, b.p, sendoka.ListParams{Limit: 101})
		requirePaths(t, err, []any{"limit"})

		// Scope and permissions.
		tenantKey := &sendoka.Principal{OrgID: b.orgID, TenantID: "ten_1", Mode: sendoka.ModeLive, Permissions: []sendoka.Permission{sendoka.PermissionFullAccess}}
		smsOnly := &sendoka.Principal{OrgID: b.orgID, Mode: sendoka.ModeTest, Permissions: []sendoka.Permission{sendoka.PermissionSMSSend}}
		for _, p := range []*sendoka.Principal{tenantKey, sendoka.SystemPrincipal("org_other", sendoka.ModeTest)} {
			_, err := b.client.GetPhoneNumber(ctx, p, long.ID)
			requireCode(t, sendoka.CodeNotFound, err)
			requireCode(t, sendoka.CodeNotFound, b.client.DeletePhoneNumber(ctx, p, long.ID))
		}
		_, err = b.client.GetPhoneNumber(ctx, smsOnly, long.ID)
		require.NoError(t, err, "a key that sends SMS may read senders")
		_, err = b.client.CreatePhoneNumber(ctx, smsOnly, &sendoka.PhoneNumberRequest{Kind: "alphanumeric", SenderID: "X", ISOCountry: "GB"})
		requireCode(t, sendoka.CodeInsufficientScope, err)
		requireCode(t, sendoka.CodeInsufficientScope, b.client.DeletePhoneNumber(ctx, smsOnly, long.ID))

		require.NoError(t, b.client.DeletePhoneNumber(ctx, b.p, long.ID))
		_, err = b.client.GetPhoneNumber(ctx, b.p, long.ID)
		requireCode(t, sendoka.CodeNotFound, err)
	})
}

func TestSendSMSFromRegisteredSender(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := newSMSBundle(t, db)
		ctx := context.Background()
		us := b.register(t, b.p, sendoka.SenderLongCode, "+15551234567", "US")
		gb := b.register(t, b.p, sendoka.SenderLongCode, "+447700900123", "GB")
		acme := b.register(t, b.p, sendoka.SenderAlphanumeric, "Acme", "GB")
		b.prov.set(sendoka.ProvisionResult{Status: sendoka.SenderPending}, nil)
		pending := b.register(t, b.p, sendoka.SenderTollFree, "+18005550100", "US")

		// The docs' example, once its number is registered.
		m, err := b.sms(t, b.p, &sendoka.SMSRequest{From: "+15551234567", To: "+15559876543", Body: "Your code is 1234"})
		require.NoError(t, err)
		got := b.get(t, sendoka.ChannelSMS, m.ID)
		require.Equal(t, us.ID, got.SMS.PhoneNumberID)
		require.Equal(t, "+15551234567", got.SMS.From)
		require.Equal(t, sendoka.EncodingGSM7, got.SMS.Encoding)
		require.Equal(t, 1, got.SMS.Segments)
		require.Equal(t, "", got.SMS.PoolID)

		m, err = b.sms(t, b.p, &sendoka.SMSRequest{From: "Acme", To: "+447700900456", Body: strings.Repeat("👋", 36)})
		require.NoError(t, err)
		got = b.get(t, sendoka.ChannelSMS, m.ID)
		require.Equal(t, acme.ID, got.SMS.PhoneNumberID)
		require.Equal(t, sendoka.EncodingUCS2, got.SMS.Encoding)
		require.Equal(t, 2, got.SMS.Segments, "72 UTF-16 units do not fit in 70")

		cases := []struct {
			name string
			req  sendoka.SMSRequest
			path []any
			says string
		}{
			{"unregistered", sendoka.SMSRequest{From: "+15550000000", To: "+15559876543"}, []any{"from"}, "not a registered sender"},
			{"unregistered sender ID", sendoka.SMSRequest{From: "Other", To: "+447700900456"}, []any{"from"}, "not a registered sender"},
			{"pending", sendoka.SMSRequest{From: pending.PhoneNumber, To: "+15559876543"}, []any{"from"}, "pending"},
			{"sender ID to the US", sendoka.SMSRequest{From: "Acme", To: "+15559876543"}, []any{"from"}, "US numbers"},
			{"MMS from a sender ID", sendoka.SMSRequest{From: "Acme", To: "+447700900456", MediaURLs: []string{"https://example.com/a.png"}}, []any{"media_url"}, "MMS"},
			{"MMS from a UK number", sendoka.SMSRequest{From: gb.PhoneNumber, To: "+447700900456", MediaURLs: []string{"https://example.com/a.png"}}, []any{"media_url"}, "MMS"},
			{"neither from nor pool, no default", sendoka.SMSRequest{To: "+15559876543"}, []any{"from"}, "from_pool"},
			{"unknown pool", sendoka.SMSRequest{FromPool: "pool_nope", To: "+15559876543"}, []any{"from_pool"}, "no pool"},
			{"NUL in pool", sendoka.SMSRequest{FromPool: "pool_\x00", To: "+15559876543"}, []any{"from_pool"}, "no pool"},
		}
		for _, tc := range cases {
			_, err := b.sms(t, b.p, &tc.req)
			requirePaths(t, err, tc.path)
			require.Contains(t, sendoka.AsError(err).Fields[0].Message, tc.says, tc.name)
		}

		// MMS from a US long code.
		m, err = b.sms(t, b.p, &sendoka.SMSRequest{From: us.PhoneNumber, To: "+15559876543", MediaURLs: []string{"https://example.com/a.png"}})
		require.NoError(t, err)
		require.Equal(t, []string{"https://example.com/a.png"}, b.get(t, sendoka.ChannelSMS, m.ID).SMS.MediaURLs)
		// The message goes out from the registered sender, media and all.
		require.NoError(t, b.client.Deliver(ctx, m.ID, sendoka.DeliverOptions{}))
		sent := b.fake.Sent()
		last := sent[len(sent)-1].SMS
		require.Equal(t, m.ID, last.MessageID)
		require.Equal(t, us.PhoneNumber, last.From)
		require.Equal(t, []string{"https://example.com/a.png"}, last.MediaURLs)

		// A tenant key cannot use the org's senders; an org-wide key using a tenant's sender
		// sends as that tenant.
		tenantKey := &sendoka.Principal{OrgID: b.orgID, TenantID: "ten_1", Mode: sendoka.ModeLive, Permissions: []sendoka.Permission{sendoka.PermissionFullAccess}}
		_, err = b.sms(t, tenantKey, &sendoka.SMSRequest{From: us.PhoneNumber, To: "+15559876543"})
		requirePaths(t, err, []any{"from"})
		b.prov.set(sendoka.ProvisionResult{Status: sendoka.SenderActive}, nil)
		tn := b.register(t, tenantKey, sendoka.SenderLongCode, "+15551112222", "US")
		require.Equal(t, "ten_1", tn.TenantID)
		m, err = b.sms(t, b.p, &sendoka.SMSRequest{From: tn.PhoneNumber, To: "+15559876543"})
		require.NoError(t, err)
		require.Equal(t, "ten_1", m.TenantID)
		tenantTestKey := *tenantKey
		tenantTestKey.Mode = sendoka.ModeTest // b.p, which sent it, is a test principal
		_, err = b.client.GetMessage(ctx, &tenantTestKey, sendoka.ChannelSMS, m.ID)
		require.NoError(t, err, "the tenant sees the message sent from its number")
		_, err = b.client.GetMessage(ctx, tenantKey, sendoka.ChannelSMS, m.ID)
		requireCode(t, sendoka.CodeNotFound, err) // a live key never sees test data
	})
}

func TestPhonePools(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := newSMSBundle(t, db)
		ctx := context.Background()
		us1 := b.register(t, b.p, sendoka.SenderLongCode, "+15551230001", "US")
		us2 := b.register(t, b.p, sendoka.SenderLongCode, "+15551230002", "US")
		gb := b.register(t, b.p, sendoka.SenderLongCode, "+447700900001", "GB")
		acme := b.register(t, b.p, sendoka.SenderAlphanumeric, "Acme", "DE")
		b.prov.set(sendoka.ProvisionResult{Status: sendoka.SenderPending}, nil)
		pending := b.register(t, b.p, sendoka.SenderLongCode, "+15551230009", "US")
		tenantKey := &sendoka.Principal{OrgID: b.orgID, TenantID: "ten_1", Mode: sendoka.ModeLive, Permissions: []sendoka.Permission{sendoka.PermissionFullAccess}}
		b.prov.set(sendoka.ProvisionResult{Status: sendoka.SenderActive}, nil)
		tn := b.register(t, tenantKey, sendoka.SenderLongCode, "+15551230010", "US")

		// Member validation.
		_, err := b.client.CreatePhonePool(ctx, b.p, &sendoka.PhonePoolRequest{Name: " ", PhoneNumberIDs: []string{us1.ID, "pn_nope", us1.ID, tn.ID, "pn_\x00"}})
		requirePaths(t, err, []any{"name"}, []any{"phone_number_ids", 1}, []any{"phone_number_ids", 2}, []any{"phone_number_ids", 3}, []any{"phone_number_ids", 4})
		_, err = b.client.CreatePhonePool(ctx, b.p, &sendoka.PhonePoolRequest{Name: "a\x00b"})
		requirePaths(t, err, []any{"name"})
		_, err = b.client.GetPhonePool(ctx, b.p, "pool_\x00")
		requireCode(t, sendoka.CodeNotFound, err)
		_, err = b.client.GetPhoneNumber(ctx, b.p, "pn_\x00")
		requireCode(t, sendoka.CodeNotFound, err)
		_, err = b.client.CreatePhonePool(ctx, tenantKey, &sendoka.PhonePoolRequest{Name: "T", PhoneNumberIDs: []string{us1.ID}})
		requirePaths(t, err, []any{"phone_number_ids", 0})

		pool, err := b.client.CreatePhonePool(ctx, b.p, &sendoka.PhonePoolRequest{Name: "Main", PhoneNumberIDs: []string{us1.ID, gb.ID, acme.ID, us2.ID, pending.ID}})
		require.NoError(t, err)
		require.False(t, pool.Default)
		got, err := b.client.GetPhonePool(ctx, b.p, pool.ID)
		require.NoError(t, err)
		require.Equal(t, pool, got)

		send := func(t *testing.T, req sendoka.SMSRequest) *sendoka.Message {
			t.Helper()
			m, err := b.sms(t, b.p, &req)
			require.NoError(t, err)
			got := b.get(t, sendoka.ChannelSMS, m.ID)
			require.Equal(t, pool.ID, got.SMS.PoolID, "the pool is recorded")
			return got
		}
		count := func(t *testing.T, n int, req sendoka.SMSRequest) map[string]int {
			t.Helper()
			out := map[string]int{}
			for range n {
				m := send(t, req)
				out[m.SMS.From]++
			}
			return out
		}
		// US recipients get the US members, in turn; never the pending one.
		require.Equal(t, map[string]int{us1.PhoneNumber: 3, us2.PhoneNumber: 3}, count(t, 6, sendoka.SMSRequest{FromPool: pool.ID, To: "+15559876543"}))
		// GB recipients get the GB member.
		require.Equal(t, map[string]int{gb.PhoneNumber: 2}, count(t, 2, sendoka.SMSRequest{FromPool: pool.ID, To: "+447700900456"}))
		// German recipients get the German sender ID.
		require.Equal(t, map[string]int{"Acme": 2}, count(t, 2, sendoka.SMSRequest{FromPool: pool.ID, To: "+4915112345678"}))
		// A French recipient: no member there, so every usable member in turn.
		require.Equal(t, map[string]int{us1.PhoneNumber: 2, gb.PhoneNumber: 2, "Acme": 2, us2.PhoneNumber: 2},
			count(t, 8, sendoka.SMSRequest{FromPool: pool.ID, To: "+33612345678"}))
		// An MMS to France: only the members that send MMS.
		require.Equal(t, map[string]int{us1.PhoneNumber: 1, us2.PhoneNumber: 1},
			count(t, 2, sendoka.SMSRequest{FromPool: pool.ID, To: "+33612345678", MediaURLs: []string{"https://example.com/a.png"}}))
		m := send(t, sendoka.SMSRequest{FromPool: pool.ID, To: "+447700900456"})
		require.Equal(t, gb.ID, m.SMS.PhoneNumberID, "the chosen sender is recorded")

		// Update: only the GB number and the pending one; an MMS then has no sender.
		upd, err := b.client.UpdatePhonePool(ctx, b.p, pool.ID, &sendoka.PhonePoolUpdate{PhoneNumberIDs: []string{gb.ID, pending.ID}})
		require.NoError(t, err)
		require.Equal(t, []string{gb.ID, pending.ID}, upd.PhoneNumberIDs)
		require.Equal(t, "Main", upd.Name)
		_, err = b.sms(t, b.p, &sendoka.SMSRequest{FromPool: pool.ID, To: "+15559876543", MediaURLs: []string{"https://example.com/a.png"}})
		requirePaths(t, err, []any{"from_pool"})
		require.Contains(t, sendoka.AsError(err).Fields[0].Message, "MMS")
		m = send(t, sendoka.SMSRequest{FromPool: pool.ID, To: "+15559876543"})
		require.Equal(t, gb.PhoneNumber, m.SMS.From, "no US member: any usable one")

		// The default pool stands in when a message names neither from nor from_pool.
		_, err = b.sms(t, b.p, &sendoka.SMSRequest{To: "+15559876543"})
		requirePaths(t, err, []any{"from"})
		yes, no := true, false
		_, err = b.client.UpdatePhonePool(ctx, b.p, pool.ID, &sendoka.PhonePoolUpdate{Default: &yes})
		require.NoError(t, err)
		m = send(t, sendoka.SMSRequest{To: "+447700900456"})
		require.Equal(t, gb.PhoneNumber, m.SMS.From)
		// A tenant has its own default, not the org's.
		_, err = b.sms(t, tenantKey, &sendoka.SMSRequest{To: "+15559876543"})
		requirePaths(t, err, []any{"from"})
		tpool, err := b.client.CreatePhonePool(ctx, tenantKey, &sendoka.PhonePoolRequest{Name: "Tenant", PhoneNumberIDs: []string{tn.ID}, Default: true})
		require.NoError(t, err)
		m, err = b.sms(t, tenantKey, &sendoka.SMSRequest{To: "+15559876543"})
		require.NoError(t, err)
		require.Equal(t, tn.PhoneNumber, m.SMS.From)
		require.Equal(t, tpool.ID, m.SMS.PoolID)
		// Only one default per org: a new one replaces it.
		other, err := b.client.CreatePhonePool(ctx, b.p, &sendoka.PhonePoolRequest{Name: "Other", PhoneNumberIDs: []string{us2.ID}, Default: true})
		require.NoError(t, err)
		got, err = b.client.GetPhonePool(ctx, b.p, pool.ID)
		require.NoError(t, err)
		require.False(t, got.Default)
		m = send2(t, b, sendoka.SMSRequest{To: "+15559876543"})
		require.Equal(t, other.ID, m.SMS.PoolID)
		_, err = b.client.UpdatePhonePool(ctx, b.p, other.ID, &sendoka.PhonePoolUpdate{Default: &no})
		require.NoError(t, err)
		_, err = b.sms(t, b.p, &sendoka.SMSRequest{To: "+15559876543"})
		requirePaths(t, err, []any{"from"})

		// An org-wide key updating a tenant's pool keeps the tenant's members.
		_, err = b.client.UpdatePhonePool(ctx, b.p, tpool.ID, &sendoka.PhonePoolUpdate{PhoneNumberIDs: []string{us1.ID}})
		requirePaths(t, err, []any{"phone_number_ids", 0})

		// Listing and scope.
		list, err := b.client.ListPhonePools(ctx, b.p, sendoka.ListParams{})
		require.NoError(t, err)
		require.Len(t, list.Pools, 3)
		list, err = b.client.ListPhonePools(ctx, tenantKey, sendoka.ListParams{})
		require.NoError(t, err)
		require.Len(t, list.Pools, 1)
		_, err = b.client.GetPhonePool(ctx, tenantKey, pool.ID)
		requireCode(t, sendoka.CodeNotFound, err)
		_, err = b.sms(t, tenantKey, &sendoka.SMSRequest{FromPool: pool.ID, To: "+15559876543"})
		requirePaths(t, err, []any{"from_pool"})
		requireCode(t, sendoka.CodeNotFound, b.client.DeletePhonePool(ctx, tenantKey, pool.ID))

		// Deleting a pool keeps its numbers; deleting a number empties it from pools.
		require.NoError(t, b.client.DeletePhoneNumber(ctx, b.p, gb.ID))
		got, err = b.client.GetPhonePool(ctx, b.p, pool.ID)
		require.NoError(t, err)
		require.Equal(t, []string{pending.ID}, got.PhoneNumberIDs)
		_, err = b.sms(t, b.p, &sendoka.SMSRequest{FromPool: pool.ID, To: "+15559876543"})
		requirePaths(t, err, []any{"from_pool"})
		require.NoError(t, b.client.DeletePhonePool(ctx, b.p, pool.ID))
		_, err = b.client.GetPhoneNumber(ctx, b.p, pending.ID)
		require.NoError(t, err)
		_, err = b.sms(t, b.p, &sendoka.SMSRequest{FromPool: pool.ID, To: "+15559876543"})
		requirePaths(t, err, []any{"from_pool"})
	})
}

func send2(t *testing.T, b *smsBundle, req sendoka.SMSRequest) *sendoka.Message {
	t.Helper()
	m, err := b.sms(t, b.p, &req)
	require.NoError(t, err)
	return b.get(t, sendoka.ChannelSMS, m.ID)
}

func TestSMSOptOut(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := newSMSBundle(t, db)
		b.p = sendoka.SystemPrincipal(b.orgID, sendoka.ModeLive) // test-key outcomes never suppress
		ctx := context.Background()
		us := b.register(t, b.p, sendoka.SenderLongCode, "+15551234567", "US")
		const recipient = "+15559876543"
		req := sendoka.SMSRequest{From: us.PhoneNumber, To: recipient}

		// An SMS accepted before the STOP is not sent after it.
		early, err := b.sms(t, b.p, &req)
		require.NoError(t, err)

		for body, want := range map[string]sendoka.InboundAction{
			"please stop": sendoka.InboundNone, "STOP!": sendoka.InboundNone, "Hello": sendoka.InboundNone,
		} {
			got, err := b.client.HandleInboundSMS(ctx, recipient, us.PhoneNumber, body)
			require.NoError(t, err)
			require.Equal(t, want, got, body)
		}
		_, err = b.sms(t, b.p, &req)
		require.NoError(t, err, "no keyword, no opt-out")

		action, err := b.client.HandleInboundSMS(ctx, recipient, us.PhoneNumber, "  Stop\n")
		require.NoError(t, err)
		require.Equal(t, sendoka.InboundOptOut, action)
		_, err = b.sms(t, b.p, &req)
		e := requireCode(t, sendoka.CodeAllSuppressed, err)
		require.Contains(t, e.Message, "START")
		s, err := b.client.GetSuppression(ctx, b.p, sendoka.ChannelSMS, recipient)
		require.NoError(t, err)
		require.Equal(t, sendoka.SuppressionOptOut, s.Reason)

		require.NoError(t, b.client.Deliver(ctx, early.ID, sendoka.DeliverOptions{}))
		got := b.get(t, sendoka.ChannelSMS, early.ID)
		require.Equal(t, sendoka.StatusFailed, got.Status, "opted out while queued")
		require.Equal(t, "suppressed", got.Diagnostic.Code)
		require.Equal(t, sendoka.EventFailed, got.Events[len(got.Events)-1].Type)
		require.Zero(t, b.fake.Calls(early.ID), "never handed to the provider")

		// A message that another live attempt holds is left to it, suppressed or not: it may
		// already be on its way.
		held, err := b.sms(t, b.p, &sendoka.SMSRequest{From: us.PhoneNumber, To: "+15559870001"})
		require.NoError(t, err)
		require.NoError(t, b.db.InTx(ctx, func(ctx context.Context, tx sendoka.Tx) error {
			_, err := tx.ClaimMessage(ctx, held.ID, b.clock.now(), b.clock.now().Add(time.Hour), sendoka.StatusQueued)
			return err
		}))
		_, err = b.client.Suppress(ctx, b.p, sendoka.ChannelSMS, "+15559870001")
		require.NoError(t, err)
		requireCode(t, sendoka.CodeConflict, b.client.Deliver(ctx, held.ID, sendoka.DeliverOptions{}))
		require.Equal(t, sendoka.StatusQueued, b.get(t, sendoka.ChannelSMS, held.ID).Status)

		// Another STOP keyword again changes nothing; START lifts it.
		action, err = b.client.HandleInboundSMS(ctx, recipient, us.PhoneNumber, "unsubscribe")
		require.NoError(t, err)
		require.Equal(t, sendoka.InboundOptOut, action)
		action, err = b.client.HandleInboundSMS(ctx, recipient, us.PhoneNumber, "start")
		require.NoError(t, err)
		require.Equal(t, sendoka.InboundOptIn, action)
		_, err = b.sms(t, b.p, &req)
		require.NoError(t, err)

		// A provider refusing a recipient who opted out with the carrier suppresses them too.
		const carrierOptOut = "+15559870000"
		m, err := b.sms(t, b.p, &sendoka.SMSRequest{From: us.PhoneNumber, To: carrierOptOut})
		require.NoError(t, err)
		b.fake.FailWith(func(id string, _ int) error {
			if id != m.ID {
				return nil
			}
			return &sendoka.ProviderError{Kind: sendoka.Permanent, Provider: "memsend", Code: sendoka.DiagnosticOptedOut, Message: "Phone number is opted out"}
		})
		require.NoError(t, b.client.Deliver(ctx, m.ID, sendoka.DeliverOptions{}))
		b.fake.FailWith(nil)
		require.Equal(t, sendoka.StatusFailed, b.get(t, sendoka.ChannelSMS, m.ID).Status)
		s, err = b.client.GetSuppression(ctx, b.p, sendoka.ChannelSMS, carrierOptOut)
		require.NoError(t, err)
		require.Equal(t, sendoka.SuppressionOptOut, s.Reason)
		require.Equal(t, m.ID, s.MessageID)
		_, err = b.sms(t, b.p, &sendoka.SMSRequest{From: us.PhoneNumber, To: carrierOptOut})
		requireCode(t, sendoka.CodeAllSuppressed, err)

		// Errors.
		_, err = b.client.HandleInboundSMS(ctx, recipient, "+15550001111", "STOP")
		requireCode(t, sendoka.CodeNotFound, err)
		_, err = b.client.HandleInboundSMS(ctx, "nope", us.PhoneNumber, "STOP")
		requirePaths(t, err, []any{"from"})

		// A tenant's number: the STOP suppresses for that tenant only.
		tenantKey := &sendoka.Principal{OrgID: b.orgID, TenantID: "ten_1", Mode: sendoka.ModeLive, Permissions: []sendoka.Permission{sendoka.PermissionFullAccess}}
		tn := b.register(t, tenantKey, sendoka.SenderLongCode, "+15551112222", "US")
		_, err = b.client.HandleInboundSMS(ctx, recipient, tn.PhoneNumber, "QUIT")
		require.NoError(t, err)
		_, err = b.sms(t, tenantKey, &sendoka.SMSRequest{From: tn.PhoneNumber, To: recipient})
		requireCode(t, sendoka.CodeAllSuppressed, err)
		_, err = b.sms(t, b.p, &req)
		require.NoError(t, err, "the org's own sends are another namespace")
	})
}

func TestEmailSuppression(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := newDBBundle(t, db)
		b.p = sendoka.SystemPrincipal(b.orgID, sendoka.ModeLive) // test-key outcomes never suppress
		b.p = sendoka.SystemPrincipal(b.orgID, sendoka.ModeLive) // test-key outcomes never suppress
		ctx := context.Background()

		// A bounce suppresses the address (case-insensitively, display name or not).
		m, err := b.client.SendEmail(ctx, b.p, b.email(`"Ada" <Ada@Example.com>`))
		require.NoError(t, err)
		require.NoError(t, b.client.Deliver(ctx, m.ID, sendoka.DeliverOptions{}))
		require.NoError(t, b.client.HandleProviderEvent(ctx, sendoka.ProviderEvent{MessageID: m.ID, Type: sendoka.ProviderBounced,
			Diagnostic: &sendoka.Diagnostic{Code: "550", Message: "no such user"}, OccurredAt: time.Now()}))
		require.Equal(t, sendoka.StatusBounced, b.get(t, sendoka.ChannelEmail, m.ID).Status)
		s, err := b.client.GetSuppression(ctx, b.p, sendoka.ChannelEmail, "ada@example.com")
		require.NoError(t, err)
		require.Equal(t, sendoka.SuppressionBounce, s.Reason)
		require.Equal(t, m.ID, s.MessageID)

		_, err = b.client.SendEmail(ctx, b.p, b.email("ADA@example.com"))
		requireCode(t, sendoka.CodeAllSuppressed, err)

		// Among other recipients a suppressed one is dropped.
		req := b.email("ada@example.com")
		req.To = append(req.To, "bob@example.com")
		req.Cc = []string{"Ada <ada@example.com>"}
		m, err = b.client.SendEmail(ctx, b.p, req)
		require.NoError(t, err)
		got := b.get(t, sendoka.ChannelEmail, m.ID)
		require.Equal(t, []string{"bob@example.com"}, got.Email.To)
		require.Nil(t, got.Email.Cc)
		require.NoError(t, b.client.Deliver(ctx, m.ID, sendoka.DeliverOptions{}))
		sent := b.fake.Sent()
		require.Equal(t, []string{"bob@example.com"}, sent[len(sent)-1].Email.To)

		// A complaint suppresses too; a bounce report naming a recipient suppresses that one.
		req = b.email("carol@example.com")
		req.To = append(req.To, "dan@example.com")
		m, err = b.client.SendEmail(ctx, b.p, req)
		require.NoError(t, err)
		require.NoError(t, b.client.Deliver(ctx, m.ID, sendoka.DeliverOptions{}))
		require.NoError(t, b.client.HandleProviderEvent(ctx, sendoka.ProviderEvent{MessageID: m.ID, Type: sendoka.ProviderBounced, OccurredAt: time.Now()}))
		_, err = b.client.GetSuppression(ctx, b.p, sendoka.ChannelEmail, "carol@example.com")
		requireCode(t, sendoka.CodeNotFound, err) // two recipients, none named: nothing to suppress
		require.NoError(t, b.client.HandleProviderEvent(ctx, sendoka.ProviderEvent{MessageID: m.ID, Type: sendoka.ProviderComplaint, Recipient: "Dan@Example.com", OccurredAt: time.Now()}))
		s, err = b.client.GetSuppression(ctx, b.p, sendoka.ChannelEmail, "dan@example.com")
		require.NoError(t, err)
		require.Equal(t, sendoka.SuppressionComplaint, s.Reason)

		// Tenant scope: a bounce under tenant A does not suppress for tenant B.
		tenantA := &sendoka.Principal{OrgID: b.orgID, TenantID: "ten_a", Mode: sendoka.ModeLive, Permissions: []sendoka.Permission{sendoka.PermissionFullAccess}}
		tenantB := &sendoka.Principal{OrgID: b.orgID, TenantID: "ten_b", Mode: sendoka.ModeLive, Permissions: []sendoka.Permission{sendoka.PermissionFullAccess}}
		m, err = b.client.SendEmail(ctx, tenantA, b.email("eve@example.com"))
		require.NoError(t, err)
		require.NoError(t, b.client.Deliver(ctx, m.ID, sendoka.DeliverOptions{}))
		require.NoError(t, b.client.HandleProviderEvent(ctx, sendoka.ProviderEvent{MessageID: m.ID, Type: sendoka.ProviderBounced, Recipient: "eve@example.com", OccurredAt: time.Now()}))
		_, err = b.client.SendEmail(ctx, tenantA, b.email("eve@example.com"))
		requireCode(t, sendoka.CodeAllSuppressed, err)
		_, err = b.client.SendEmail(ctx, tenantB, b.email("eve@example.com"))
		require.NoError(t, err)
		_, err = b.client.SendEmail(ctx, b.p, b.email("eve@example.com"))
		require.NoError(t, err)

		// A suppression added after acceptance stops the message at delivery.
		m, err = b.client.SendEmail(ctx, b.p, b.email("frank@example.com"))
		require.NoError(t, err)
		_, err = b.client.Suppress(ctx, b.p, sendoka.ChannelEmail, "Frank@example.com")
		require.NoError(t, err)
		// Its own job delivers it: the one-statement claim, then the check.
		require.NoError(t, b.client.Deliver(ctx, m.ID, sendoka.DeliverOptions{JobID: m.JobID}))
		got = b.get(t, sendoka.ChannelEmail, m.ID)
		require.Equal(t, sendoka.StatusFailed, got.Status)
		require.Equal(t, "suppressed", got.Diagnostic.Code)
		require.Zero(t, b.fake.Calls(m.ID), "never handed to the provider")

		// Manual lift.
		lifted, err := b.client.Unsuppress(ctx, b.p, sendoka.ChannelEmail, "frank@example.com")
		require.NoError(t, err)
		require.True(t, lifted)
		_, err = b.client.SendEmail(ctx, b.p, b.email("frank@example.com"))
		require.NoError(t, err)
		_, err = b.client.Suppress(ctx, b.p, sendoka.ChannelEmail, "not an address")
		requirePaths(t, err, []any{"address"})
	})
}

// TestTestModeOutcomesDoNotSuppress: a test key's simulated bounce is recorded but does not
// add to the suppression list, so it can't block live sends or a sandbox magic address.
func TestTestModeOutcomesDoNotSuppress(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := newDBBundle(t, db)
		ctx := context.Background()
		m, err := b.client.SendEmail(ctx, b.p, b.email("bounced@example.com"))
		require.NoError(t, err)
		require.NoError(t, b.client.Deliver(ctx, m.ID, sendoka.DeliverOptions{}))
		require.NoError(t, b.client.HandleProviderEvent(ctx, sendoka.ProviderEvent{MessageID: m.ID, Type: sendoka.ProviderBounced,
			Diagnostic: &sendoka.Diagnostic{Code: "550", Message: "no such user"}, OccurredAt: time.Now()}))
		require.Equal(t, sendoka.StatusBounced, b.get(t, sendoka.ChannelEmail, m.ID).Status)
		_, err = b.client.GetSuppression(ctx, b.p, sendoka.ChannelEmail, "bounced@example.com")
		requireCode(t, sendoka.CodeNotFound, err)
		_, err = b.client.SendEmail(ctx, sendoka.SystemPrincipal(b.orgID, sendoka.ModeLive), b.email("bounced@example.com"))
		require.NoError(t, err, "a live send to the address is still accepted")
	})
}
