package httpapi

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/sendoka"
	"github.com/sendoka/sendoka/storage/bunstore"
	"github.com/sendoka/sendoka/storage/bunstore/bunstoretest"
)

func TestScheduleAPI(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := setup(t, db, setupConfig{})
		in := func(d time.Duration) string { return time.Now().Add(d).UTC().Format(time.RFC3339) }

		body := quickstart()
		body["scheduled_at"] = in(2 * time.Hour)
		var sent SendResponse
		b.do(t, req{method: http.MethodPost, path: "/api/v1/emails", key: b.test, body: body}).decode(t, http.StatusOK, &sent)
		require.Equal(t, "scheduled", sent.Status)
		var got EmailMessageDetail
		b.do(t, req{method: http.MethodGet, path: "/api/v1/emails/" + sent.ID, key: b.test}).decode(t, http.StatusOK, &got)
		require.Equal(t, "scheduled", got.Status)
		require.NotNil(t, got.ScheduledAt)

		// Reschedule: a new time, with an offset.
		newAt := time.Now().Add(3 * time.Hour).In(time.FixedZone("", 2*3600)).Truncate(time.Second)
		var moved EmailMessage
		b.do(t, req{method: http.MethodPatch, path: "/api/v1/emails/" + sent.ID, key: b.test,
			body: map[string]any{"scheduled_at": newAt.Format(time.RFC3339)}}).decode(t, http.StatusOK, &moved)
		require.Equal(t, "scheduled", moved.Status)
		require.Equal(t, newAt.UTC().Format(timeLayout), *moved.ScheduledAt)
		for _, bad := range []map[string]any{
			{},
			{"scheduled_at": in(-time.Minute)},
			{"scheduled_at": in(31 * 24 * time.Hour)},
			{"scheduled_at": in(time.Hour), "scheduled_local": "09:00", "scheduled_at_tz": "UTC"},
			{"scheduled_local": "09:00", "scheduled_at_tz": "Mars/Base"},
			{"subject": "not reschedulable"},
		} {
			b.do(t, req{method: http.MethodPatch, path: "/api/v1/emails/" + sent.ID, key: b.test, body: bad}).
				requireError(t, http.StatusUnprocessableEntity, sendoka.CodeValidation)
		}

		// Cancel; the SMS endpoint does not know an email.
		b.do(t, req{method: http.MethodDelete, path: "/api/v1/sms/" + sent.ID, key: b.test}).requireError(t, http.StatusNotFound, sendoka.CodeNotFound)
		var canceled EmailMessage
		b.do(t, req{method: http.MethodDelete, path: "/api/v1/emails/" + sent.ID, key: b.test}).decode(t, http.StatusOK, &canceled)
		require.Equal(t, "canceled", canceled.Status)
		require.NotNil(t, canceled.CompletedAt)
		b.do(t, req{method: http.MethodGet, path: "/api/v1/emails/" + sent.ID, key: b.test}).decode(t, http.StatusOK, &got)
		require.Equal(t, "canceled", got.Status)
		require.Equal(t, "message.canceled", got.Events[len(got.Events)-1].Type)
		e := b.do(t, req{method: http.MethodDelete, path: "/api/v1/emails/" + sent.ID, key: b.test}).requireError(t, http.StatusConflict, sendoka.CodeNotScheduled)
		require.Empty(t, e.Errors)
		b.do(t, req{method: http.MethodPatch, path: "/api/v1/emails/" + sent.ID, key: b.test, body: map[string]any{"scheduled_at": in(time.Hour)}}).
			requireError(t, http.StatusConflict, sendoka.CodeNotScheduled)

		// A message sent now is not scheduled; another org's is not found.
		now := b.send(t, "/api/v1/emails", b.test, quickstart())
		b.do(t, req{method: http.MethodDelete, path: "/api/v1/emails/" + now, key: b.test}).requireError(t, http.StatusConflict, sendoka.CodeNotScheduled)
		b.do(t, req{method: http.MethodDelete, path: "/api/v1/emails/msg_nope", key: b.test}).requireError(t, http.StatusNotFound, sendoka.CodeNotFound)

		// Recipient-timezone scheduling for SMS, then cancel.
		sms := smsBody()
		sms["scheduled_local"] = "09:00"
		sms["scheduled_at_tz"] = "America/New_York"
		var s SendResponse
		b.do(t, req{method: http.MethodPost, path: "/api/v1/sms", key: b.test, body: sms}).decode(t, http.StatusOK, &s)
		require.Equal(t, "scheduled", s.Status)
		var gs SMSMessage
		b.do(t, req{method: http.MethodDelete, path: "/api/v1/sms/" + s.ID, key: b.test}).decode(t, http.StatusOK, &gs)
		require.Equal(t, "canceled", gs.Status)
		ny, err := time.LoadLocation("America/New_York")
		require.NoError(t, err)
		at, err := time.Parse(time.RFC3339, *gs.ScheduledAt)
		require.NoError(t, err)
		require.Equal(t, "09:00", at.In(ny).Format("15:04"))

		// A key without the send scope cannot cancel.
		_, readOnly := b.key(t, sendoka.CreateKeyParams{Mode: sendoka.ModeTest, Permissions: []sendoka.Permission{sendoka.PermissionEmailsRead}})
		b.do(t, req{method: http.MethodDelete, path: "/api/v1/emails/" + now, key: readOnly}).requireError(t, http.StatusForbidden, sendoka.CodeInsufficientScope)
	})
}
