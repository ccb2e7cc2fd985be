package httpapi

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/providers/sandbox"
	"github.com/sendoka/sendoka/sendoka"
	"github.com/sendoka/sendoka/storage/bunstore"
	"github.com/sendoka/sendoka/storage/bunstore/bunstoretest"
)

func TestPhoneNumbersAPI(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := setup(t, db, setupConfig{})
		post := func(body any) *response {
			return b.do(t, req{method: http.MethodPost, path: "/api/v1/phone-numbers", key: b.live, body: body})
		}

		// The docs' example.
		var acme PhoneNumber
		post(map[string]any{"kind": "alphanumeric", "sender_id": "Acme", "iso_country": "DE"}).decode(t, http.StatusOK, &acme)
		require.Regexp(t, `^pn_`, acme.ID)
		require.Equal(t, "alphanumeric", acme.Kind)
		require.Equal(t, "Acme", *acme.SenderID)
		require.Nil(t, acme.PhoneNumber)
		require.Equal(t, "active", acme.Status)
		require.False(t, acme.MMS)
		require.Regexp(t, timePattern, acme.CreatedAt)

		e := post(map[string]any{"kind": "alphanumeric", "sender_id": "Acme", "iso_country": "US"}).requireError(t, http.StatusUnprocessableEntity, sendoka.CodeValidation)
		require.True(t, hasField(e, sendoka.FieldInvalid, "iso_country"), "%+v", e)
		require.Contains(t, e.Errors[0].Message, "10DLC")
		e = post(map[string]any{"kind": "short_code", "phone_number": "+15551112222", "iso_country": "US"}).requireError(t, http.StatusUnprocessableEntity, sendoka.CodeValidation)
		require.True(t, hasField(e, sendoka.FieldInvalid, "kind"), "%+v", e)
		post(map[string]any{"kind": "alphanumeric", "sender_id": "Acme", "iso_country": "DE"}).requireError(t, http.StatusConflict, sendoka.CodeConflict)
		post(map[string]any{"kind": "alphanumeric", "sender_id": "Acme\u0000", "iso_country": "DE"}).requireError(t, http.StatusUnprocessableEntity, sendoka.CodeValidation)

		// Numbers: the sandbox provisions at once, but for its magic ones.
		var tf, pending, failed PhoneNumber
		post(map[string]any{"kind": "toll_free", "phone_number": "+18005550100", "iso_country": "US"}).decode(t, http.StatusOK, &tf)
		require.Equal(t, "active", tf.Status)
		require.True(t, tf.MMS)
		require.Equal(t, "sandbox", *tf.Provider)
		post(map[string]any{"kind": "long_code", "phone_number": sandbox.PendingNumber, "iso_country": "US"}).decode(t, http.StatusOK, &pending)
		require.Equal(t, "pending", pending.Status)
		require.NotNil(t, pending.Diagnostic)
		b.do(t, req{method: http.MethodPost, path: "/api/v1/phone-numbers/" + pending.ID + "/provision", key: b.live}).decode(t, http.StatusOK, &pending)
		require.Equal(t, "pending", pending.Status, "still in review")
		post(map[string]any{"kind": "long_code", "phone_number": sandbox.FailedNumber, "iso_country": "US"}).decode(t, http.StatusOK, &failed)
		require.Equal(t, "failed", failed.Status)
		require.Equal(t, "rejected", failed.Diagnostic.Code)

		// Sending from a number that is not active, or not registered.
		for _, from := range []string{sandbox.PendingNumber, sandbox.FailedNumber, "+15550000000"} {
			body := smsBody()
			body["from"] = from
			e := b.do(t, req{method: http.MethodPost, path: "/api/v1/sms", key: b.test, body: body}).requireError(t, http.StatusUnprocessableEntity, sendoka.CodeValidation)
			require.True(t, hasField(e, sendoka.FieldInvalid, "from"), "%s: %+v", from, e)
		}

		// List (setup registered two), get, delete.
		var page PhoneNumberList
		b.do(t, req{method: http.MethodGet, path: "/api/v1/phone-numbers?limit=3", key: b.live}).decode(t, http.StatusOK, &page)
		require.Len(t, page.Data, 3)
		require.True(t, page.HasMore)
		require.Equal(t, []string{failed.ID, pending.ID, tf.ID}, []string{page.Data[0].ID, page.Data[1].ID, page.Data[2].ID})
		var rest PhoneNumberList
		b.do(t, req{method: http.MethodGet, path: "/api/v1/phone-numbers?limit=100&cursor=" + *page.NextCursor, key: b.live}).decode(t, http.StatusOK, &rest)
		require.Len(t, rest.Data, 3)
		require.False(t, rest.HasMore)
		require.Nil(t, rest.NextCursor)

		var got PhoneNumber
		b.do(t, req{method: http.MethodGet, path: "/api/v1/phone-numbers/" + tf.ID, key: b.test}).decode(t, http.StatusOK, &got)
		require.Equal(t, tf, got)
		var del SenderDeleted
		b.do(t, req{method: http.MethodDelete, path: "/api/v1/phone-numbers/" + failed.ID, key: b.live}).decode(t, http.StatusOK, &del)
		require.Equal(t, SenderDeleted{ID: failed.ID, Deleted: true}, del)
		b.do(t, req{method: http.MethodGet, path: "/api/v1/phone-numbers/" + failed.ID, key: b.live}).requireError(t, http.StatusNotFound, sendoka.CodeNotFound)
		b.do(t, req{method: http.MethodDelete, path: "/api/v1/phone-numbers/" + failed.ID, key: b.live}).requireError(t, http.StatusNotFound, sendoka.CodeNotFound)
		b.do(t, req{method: http.MethodPost, path: "/api/v1/phone-numbers/pn_nope/provision", key: b.live}).requireError(t, http.StatusNotFound, sendoka.CodeNotFound)

		// Scopes: a key that reads SMS may read senders, not register them.
		_, reader := b.key(t, sendoka.CreateKeyParams{Permissions: []sendoka.Permission{sendoka.PermissionSMSRead}})
		b.do(t, req{method: http.MethodGet, path: "/api/v1/phone-numbers/" + tf.ID, key: reader}).decode(t, http.StatusOK, &got)
		b.do(t, req{method: http.MethodPost, path: "/api/v1/phone-numbers", key: reader,
			body: map[string]any{"kind": "alphanumeric", "sender_id": "Other", "iso_country": "GB"}}).requireError(t, http.StatusForbidden, sendoka.CodeInsufficientScope)
		_, emailOnly := b.key(t, sendoka.CreateKeyParams{Permissions: []sendoka.Permission{sendoka.PermissionEmailsSend}})
		b.do(t, req{method: http.MethodGet, path: "/api/v1/phone-numbers", key: emailOnly}).requireError(t, http.StatusForbidden, sendoka.CodeInsufficientScope)
	})
}

func TestPhonePoolsAndSMSObject(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := setup(t, db, setupConfig{workers: true})
		register := func(number, country string) PhoneNumber {
			var n PhoneNumber
			b.do(t, req{method: http.MethodPost, path: "/api/v1/phone-numbers", key: b.live,
				body: map[string]any{"kind": "long_code", "phone_number": number, "iso_country": country}}).decode(t, http.StatusOK, &n)
			return n
		}
		us1, us2 := register("+15551230001", "US"), register("+15551230002", "US")
		gb := register("+447700900001", "GB")

		var pool PhonePool
		b.do(t, req{method: http.MethodPost, path: "/api/v1/phone-pools", key: b.live,
			body: map[string]any{"name": "Main", "phone_number_ids": []string{us1.ID, us2.ID, gb.ID}}}).decode(t, http.StatusOK, &pool)
		require.Regexp(t, `^pool_`, pool.ID)
		require.False(t, pool.Default)
		require.Equal(t, []string{us1.ID, us2.ID, gb.ID}, pool.PhoneNumberIDs)
		e := b.do(t, req{method: http.MethodPost, path: "/api/v1/phone-pools", key: b.live,
			body: map[string]any{"name": "Bad", "phone_number_ids": []string{"pn_nope"}}}).requireError(t, http.StatusUnprocessableEntity, sendoka.CodeValidation)
		require.True(t, hasField(e, sendoka.FieldInvalid, "phone_number_ids", 0), "%+v", e)

		// from_pool spreads US recipients over the US members and records the choice.
		seen := map[string]int{}
		for range 4 {
			body := map[string]any{"from_pool": pool.ID, "to": "+15559876543", "body": "Your code is 1234 👋"}
			id := b.send(t, "/api/v1/sms", b.test, body)
			var m SMSMessageDetail
			b.do(t, req{method: http.MethodGet, path: "/api/v1/sms/" + id, key: b.test}).decode(t, http.StatusOK, &m)
			seen[m.From]++
			require.Equal(t, pool.ID, *m.FromPool)
			require.Contains(t, []string{us1.ID, us2.ID}, *m.PhoneNumberID)
			require.Equal(t, "UCS-2", m.Encoding)
			require.Equal(t, 1, m.Segments)
		}
		require.Equal(t, map[string]int{*us1.PhoneNumber: 2, *us2.PhoneNumber: 2}, seen)

		// Neither from nor from_pool: 422 until a pool is the default.
		body := map[string]any{"to": "+447700900123", "body": strings.Repeat("a", 161)}
		e = b.do(t, req{method: http.MethodPost, path: "/api/v1/sms", key: b.test, body: body}).requireError(t, http.StatusUnprocessableEntity, sendoka.CodeValidation)
		require.True(t, hasField(e, sendoka.FieldRequired, "from"), "%+v", e)
		var upd PhonePool
		b.do(t, req{method: http.MethodPatch, path: "/api/v1/phone-pools/" + pool.ID, key: b.live, body: map[string]any{"default": true}}).decode(t, http.StatusOK, &upd)
		require.True(t, upd.Default)
		require.Equal(t, "Main", upd.Name)
		require.Equal(t, pool.PhoneNumberIDs, upd.PhoneNumberIDs)
		id := b.send(t, "/api/v1/sms", b.test, body)
		var m SMSMessageDetail
		eventually(t, deliveryDeadline, func() bool {
			b.do(t, req{method: http.MethodGet, path: "/api/v1/sms/" + id, key: b.test}).decode(t, http.StatusOK, &m)
			return m.Status == "delivered"
		}, "the SMS from the default pool is delivered")
		require.Equal(t, *gb.PhoneNumber, m.From, "the GB member for a GB recipient")
		require.Equal(t, "GSM-7", m.Encoding)
		require.Equal(t, 2, m.Segments)

		// from and from_pool together; MMS rules.
		body = map[string]any{"from": "+15551234567", "from_pool": pool.ID, "to": "+15559876543", "body": "x"}
		e = b.do(t, req{method: http.MethodPost, path: "/api/v1/sms", key: b.test, body: body}).requireError(t, http.StatusUnprocessableEntity, sendoka.CodeValidation)
		require.True(t, hasField(e, sendoka.FieldInvalid, "from_pool"), "%+v", e)
		body = map[string]any{"from": "Acme", "to": "+447700900123", "body": "x", "media_url": []string{"https://example.com/a.png"}}
		e = b.do(t, req{method: http.MethodPost, path: "/api/v1/sms", key: b.test, body: body}).requireError(t, http.StatusUnprocessableEntity, sendoka.CodeValidation)
		require.True(t, hasField(e, sendoka.FieldInvalid, "media_url"), "%+v", e)
		body = map[string]any{"from": "+15551234567", "to": "+15559876543", "body": "x", "media_url": []string{"http://example.com/a.png"}}
		e = b.do(t, req{method: http.MethodPost, path: "/api/v1/sms", key: b.test, body: body}).requireError(t, http.StatusUnprocessableEntity, sendoka.CodeValidation)
		require.True(t, hasField(e, sendoka.FieldInvalidString, "media_url", 0), "%+v", e)
		body["media_url"] = []string{"https://example.com/a.png"}
		id = b.send(t, "/api/v1/sms", b.test, body)
		b.do(t, req{method: http.MethodGet, path: "/api/v1/sms/" + id, key: b.test}).decode(t, http.StatusOK, &m)
		require.Equal(t, []string{"https://example.com/a.png"}, m.MediaURL)
		require.Nil(t, m.FromPool)

		// List, get, update members, delete.
		var pools PhonePoolList
		b.do(t, req{method: http.MethodGet, path: "/api/v1/phone-pools", key: b.test}).decode(t, http.StatusOK, &pools)
		require.Len(t, pools.Data, 1)
		b.do(t, req{method: http.MethodPatch, path: "/api/v1/phone-pools/" + pool.ID, key: b.live,
			body: map[string]any{"phone_number_ids": []string{gb.ID}, "name": "UK"}}).decode(t, http.StatusOK, &upd)
		require.Equal(t, []string{gb.ID}, upd.PhoneNumberIDs)
		require.Equal(t, "UK", upd.Name)
		var got PhonePool
		b.do(t, req{method: http.MethodGet, path: "/api/v1/phone-pools/" + pool.ID, key: b.live}).decode(t, http.StatusOK, &got)
		require.Equal(t, upd, got)
		b.do(t, req{method: http.MethodPatch, path: "/api/v1/phone-pools/pool_nope", key: b.live, body: map[string]any{"name": "x"}}).requireError(t, http.StatusNotFound, sendoka.CodeNotFound)
		var del SenderDeleted
		b.do(t, req{method: http.MethodDelete, path: "/api/v1/phone-pools/" + pool.ID, key: b.live}).decode(t, http.StatusOK, &del)
		require.True(t, del.Deleted)
		b.do(t, req{method: http.MethodGet, path: "/api/v1/phone-pools/" + pool.ID, key: b.live}).requireError(t, http.StatusNotFound, sendoka.CodeNotFound)
	})
}

func TestSuppressionAPI(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := setup(t, db, setupConfig{workers: true})

		// The recipient replies STOP (as SNS's inbound notification would report it): the
		// next send is refused; START lifts it.
		body := smsBody()
		b.send(t, "/api/v1/sms", b.test, body)
		action, err := b.client.HandleInboundSMS(t.Context(), "+15559876543", "+15551234567", "stop")
		require.NoError(t, err)
		require.Equal(t, sendoka.InboundOptOut, action)
		e := b.do(t, req{method: http.MethodPost, path: "/api/v1/sms", key: b.test, body: body}).requireError(t, http.StatusUnprocessableEntity, sendoka.CodeAllSuppressed)
		require.Contains(t, e.Message, "START")
		require.Empty(t, e.Errors)
		_, err = b.client.HandleInboundSMS(t.Context(), "+15559876543", "+15551234567", "START")
		require.NoError(t, err)
		b.send(t, "/api/v1/sms", b.test, body)

		// A bounced address is suppressed (for a live key: a test key's simulated bounces never
		// suppress): the next email to it alone is refused, and among others it is dropped.
		mail := quickstart()
		mail["to"] = []string{"bounced+api@sandbox.sendoka.com"}
		id := b.send(t, "/api/v1/emails", b.live, mail)
		var em EmailMessageDetail
		eventually(t, deliveryDeadline, func() bool {
			b.do(t, req{method: http.MethodGet, path: "/api/v1/emails/" + id, key: b.live}).decode(t, http.StatusOK, &em)
			return em.Status == "bounced"
		}, "the email bounces")
		eventually(t, deliveryDeadline, func() bool {
			return b.do(t, req{method: http.MethodPost, path: "/api/v1/emails", key: b.live, body: mail}).status == http.StatusUnprocessableEntity
		}, "the bounce suppresses the address")
		b.do(t, req{method: http.MethodPost, path: "/api/v1/emails", key: b.live, body: mail}).requireError(t, http.StatusUnprocessableEntity, sendoka.CodeAllSuppressed)
		mail["to"] = []string{"Bounced+API@sandbox.sendoka.com", "user@example.com"}
		id = b.send(t, "/api/v1/emails", b.live, mail)
		b.do(t, req{method: http.MethodGet, path: "/api/v1/emails/" + id, key: b.live}).decode(t, http.StatusOK, &em)
		require.Equal(t, []string{"user@example.com"}, em.To)
	})
}
