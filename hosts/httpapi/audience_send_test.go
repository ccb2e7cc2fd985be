package httpapi

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/providers/memsend"
	"github.com/sendoka/sendoka/sendoka"
	"github.com/sendoka/sendoka/storage/bunstore"
	"github.com/sendoka/sendoka/storage/bunstore/bunstoretest"
)

const testPublicURL = "https://mail.example.com"

// TestAudienceSendAPI: a send to an audience over HTTP with River's workers running: the
// answer's counts, the status as the messages go out, broadcast messages with the
// contact's fields and one-click unsubscribe headers; the unsubscribe page (a GET changes
// nothing), the one-click POST, tampered tokens; the next send skips the contact.
func TestAudienceSendAPI(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		fake := memsend.New()
		b := setup(t, db, setupConfig{workers: true, fake: fake, tracking: sendoka.TrackingConfig{BaseURL: testPublicURL}})
		b.do(t, req{method: http.MethodPost, path: "/api/v1/templates", key: b.live, body: map[string]any{
			"slug": "news", "channel": "email", "subject": "Hi {{first_name}}", "text": "{{first_name}} ({{data.plan}}): {{issue}}"}}).
			decode(t, http.StatusOK, &Template{})
		var a Audience
		b.do(t, req{method: http.MethodPost, path: "/api/v1/audiences", key: b.live, body: map[string]any{"name": "News"}}).decode(t, http.StatusOK, &a)
		var added ContactsAdded
		b.do(t, req{method: http.MethodPost, path: "/api/v1/audiences/" + a.ID + "/contacts", key: b.live, body: []map[string]any{
			{"email": "ada@example.com", "first_name": "Ada", "data": map[string]any{"plan": "pro"}},
			{"email": "alan@example.com", "first_name": "Alan", "data": map[string]any{"plan": "free"}},
			{"email": "blocked@example.com", "first_name": "B", "data": map[string]any{"plan": "x"}},
			{"phone": "+15559876543", "first_name": "Phone only"},
		}}).decode(t, http.StatusOK, &added)
		require.Equal(t, 4, added.Created)
		b.do(t, req{method: http.MethodPost, path: "/api/v1/suppressions", key: b.live, body: map[string]any{"address": "blocked@example.com"}}).
			decode(t, http.StatusOK, &SuppressionsAdded{})

		send := map[string]any{"from": "news@sandbox.sendoka.com", "channel": "email", "template": "news", "variables": map[string]any{"issue": "April"}}
		var acc AudienceSendAccepted
		b.do(t, req{method: http.MethodPost, path: "/api/v1/audiences/" + a.ID + "/send", key: b.live, body: send}).decode(t, http.StatusOK, &acc)
		require.Equal(t, AudienceSendAccepted{AudienceID: a.ID, SendID: acc.SendID, Queued: 2, SkippedSuppressed: 1, Status: "queued"}, acc)

		var st AudienceSendStatus
		eventually(t, 30*time.Second, func() bool {
			b.do(t, req{method: http.MethodGet, path: "/api/v1/audiences/" + a.ID + "/status", key: b.live}).decode(t, http.StatusOK, &st)
			return st.Status == "finished" && st.Messages["sent"]+st.Messages["delivered"] == 2
		}, "the send finishes")
		require.Equal(t, acc.SendID, st.SendID)
		require.Equal(t, 2, st.Processed)
		require.Equal(t, 1.0, st.Progress)
		require.NotNil(t, st.FinishedAt)

		sent := fake.Sent()
		require.Len(t, sent, 2)
		var adaMsg string
		var unsubscribe string
		for _, s := range sent {
			if s.Email.To[0] == "ada@example.com" {
				adaMsg = s.Email.MessageID
				unsubscribe = s.Email.Headers["List-Unsubscribe"]
				require.Equal(t, "List-Unsubscribe=One-Click", s.Email.Headers["List-Unsubscribe-Post"])
			}
		}
		require.NotEmpty(t, adaMsg)
		var m EmailMessage
		b.do(t, req{method: http.MethodGet, path: "/api/v1/emails/" + adaMsg, key: b.live}).decode(t, http.StatusOK, &m)
		require.Equal(t, "broadcast", m.Stream)
		require.Equal(t, "Hi Ada", m.Subject)
		require.Equal(t, "Ada (pro): April", *m.Text)
		var single EmailMessage
		b.do(t, req{method: http.MethodGet, path: "/api/v1/emails/" + b.send(t, "/api/v1/emails", b.live, quickstart()), key: b.live}).
			decode(t, http.StatusOK, &single)
		require.Equal(t, "transactional", single.Stream)

		// The unsubscribe link.
		require.True(t, strings.HasPrefix(unsubscribe, "<"+testPublicURL+"/u/"), unsubscribe)
		path := strings.TrimSuffix(strings.TrimPrefix(unsubscribe, "<"+testPublicURL), ">")
		page := b.do(t, req{method: http.MethodGet, path: path})
		require.Equal(t, http.StatusOK, page.status, "%s", page.body)
		require.Equal(t, "text/html; charset=utf-8", page.header.Get("Content-Type"))
		require.Contains(t, string(page.body), `<form method="post">`)
		require.Contains(t, string(page.body), "ada@example.com")
		require.Empty(t, listContactIDs(t, b, "/api/v1/audiences/"+a.ID+"/contacts?subscribed=false"), "a GET unsubscribes no one")

		token := strings.TrimPrefix(path, "/u/")
		tampered := token[:len(token)-2] + flip(token[len(token)-2]) + token[len(token)-1:]
		b.do(t, req{method: http.MethodPost, path: "/u/" + tampered}).requireError(t, http.StatusNotFound, sendoka.CodeNotFound)
		b.do(t, req{method: http.MethodGet, path: "/u/" + tampered}).requireError(t, http.StatusNotFound, sendoka.CodeNotFound)
		b.do(t, req{method: http.MethodPost, path: "/u/nonsense"}).requireError(t, http.StatusNotFound, sendoka.CodeNotFound)
		require.Empty(t, listContactIDs(t, b, "/api/v1/audiences/"+a.ID+"/contacts?subscribed=false"))

		for range 2 { // RFC 8058's one-click POST; again changes nothing
			res := b.do(t, req{method: http.MethodPost, path: path, body: "List-Unsubscribe=One-Click",
				header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}})
			require.Equal(t, http.StatusOK, res.status, "%s", res.body)
			require.Contains(t, string(res.body), "unsubscribed")
		}
		require.Equal(t, []string{added.Data[0].Contact.ID}, listContactIDs(t, b, "/api/v1/audiences/"+a.ID+"/contacts?subscribed=false"))

		var again AudienceSendAccepted
		b.do(t, req{method: http.MethodPost, path: "/api/v1/audiences/" + a.ID + "/send", key: b.live, body: send}).decode(t, http.StatusOK, &again)
		require.Equal(t, 1, again.Queued)
		require.Equal(t, 1, again.SkippedUnsubscribed)
		require.Equal(t, 1, again.SkippedSuppressed)
		var first AudienceSendStatus
		b.do(t, req{method: http.MethodGet, path: "/api/v1/audiences/" + a.ID + "/sends/" + acc.SendID, key: b.live}).decode(t, http.StatusOK, &first)
		require.Equal(t, acc.SendID, first.SendID)
		require.Equal(t, 2, first.Queued)
		b.do(t, req{method: http.MethodGet, path: "/api/v1/audiences/" + a.ID + "/sends/asd_nope", key: b.live}).
			requireError(t, http.StatusNotFound, sendoka.CodeNotFound)
		eventually(t, 30*time.Second, func() bool { return len(fake.Sent()) == 4 }, "the second send goes out") // and the single send
	})
}

func flip(c byte) string {
	if c == 'A' {
		return "B"
	}
	return "A"
}

// TestAudienceSendRefusals: AUDIENCE_TOO_LARGE (413) past 10,000 recipients, a 422 for a
// broadcast email on a server without a public URL for its unsubscribe links, a 404 for a
// status of an audience never sent to, and a 403 without the channel's send scope.
func TestAudienceSendRefusals(t *testing.T) {
	t.Parallel()
	b := setup(t, sqlite(t), setupConfig{tracking: sendoka.TrackingConfig{BaseURL: testPublicURL}})
	b.do(t, req{method: http.MethodPost, path: "/api/v1/templates", key: b.live, body: map[string]any{
		"slug": "news", "channel": "email", "subject": "Hi", "text": "News"}}).decode(t, http.StatusOK, &Template{})
	var a Audience
	b.do(t, req{method: http.MethodPost, path: "/api/v1/audiences", key: b.live, body: map[string]any{"name": "Big"}}).decode(t, http.StatusOK, &a)
	b.do(t, req{method: http.MethodGet, path: "/api/v1/audiences/" + a.ID + "/status", key: b.live}).requireError(t, http.StatusNotFound, sendoka.CodeNotFound)
	rows := make([]map[string]any, sendoka.MaxContactBatch)
	for i := range rows {
		rows[i] = map[string]any{"email": fmt.Sprintf("r%05d@example.com", i)}
	}
	var added ContactsAdded
	b.do(t, req{method: http.MethodPost, path: "/api/v1/audiences/" + a.ID + "/contacts", key: b.live, body: rows}).decode(t, http.StatusOK, &added)
	require.Equal(t, sendoka.MaxContactBatch, added.Created)
	b.do(t, req{method: http.MethodPost, path: "/api/v1/audiences/" + a.ID + "/contacts", key: b.live,
		body: []map[string]any{{"email": "one-more@example.com"}}}).decode(t, http.StatusOK, &added)
	send := map[string]any{"from": "news@sandbox.sendoka.com", "channel": "email", "template": "news"}
	e := b.do(t, req{method: http.MethodPost, path: "/api/v1/audiences/" + a.ID + "/send", key: b.live, body: send}).
		requireError(t, http.StatusRequestEntityTooLarge, sendoka.CodeAudienceTooLarge)
	require.Contains(t, e.Message, "split")
	b.do(t, req{method: http.MethodGet, path: "/api/v1/audiences/" + a.ID + "/status", key: b.live}).requireError(t, http.StatusNotFound, sendoka.CodeNotFound)

	_, smsOnly := b.key(t, sendoka.CreateKeyParams{Permissions: []sendoka.Permission{sendoka.PermissionSMSSend, sendoka.PermissionAudiencesRead}})
	b.do(t, req{method: http.MethodPost, path: "/api/v1/audiences/" + a.ID + "/send", key: smsOnly, body: send}).
		requireError(t, http.StatusForbidden, sendoka.CodeInsufficientScope)

	plain := setup(t, sqlite(t), setupConfig{})
	plain.do(t, req{method: http.MethodPost, path: "/api/v1/templates", key: plain.live, body: map[string]any{
		"slug": "news", "channel": "email", "subject": "Hi", "text": "News"}}).decode(t, http.StatusOK, &Template{})
	var small Audience
	plain.do(t, req{method: http.MethodPost, path: "/api/v1/audiences", key: plain.live, body: map[string]any{"name": "Small"}}).decode(t, http.StatusOK, &small)
	e = plain.do(t, req{method: http.MethodPost, path: "/api/v1/audiences/" + small.ID + "/send", key: plain.live, body: send}).
		requireError(t, http.StatusUnprocessableEntity, sendoka.CodeValidation)
	require.Contains(t, e.Message, "unsubscribe")
}

// TestAudienceSendIdempotent: Idempotency-Key on a send to an audience. The same key and
// body again replays the first answer (same send, nothing queued twice); the same key on
// another audience is another request (its own send); another body with the key is a
// mismatch. Contact uploads honour the key too.
func TestAudienceSendIdempotent(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := setup(t, db, setupConfig{tracking: sendoka.TrackingConfig{BaseURL: testPublicURL}})
		b.do(t, req{method: http.MethodPost, path: "/api/v1/templates", key: b.live, body: map[string]any{
			"slug": "idem-news", "channel": "email", "subject": "Hi {{first_name}}", "text": "News"}}).
			decode(t, http.StatusOK, &Template{})
		audience := func(name string) string {
			var a Audience
			b.do(t, req{method: http.MethodPost, path: "/api/v1/audiences", key: b.live, body: map[string]any{"name": name}}).decode(t, http.StatusOK, &a)
			rows := []map[string]any{{"email": name + "-1@example.com"}, {"email": name + "-2@example.com"}}
			hdr := map[string]string{"Idempotency-Key": "contacts-" + name}
			var first, again ContactsAdded
			b.do(t, req{method: http.MethodPost, path: "/api/v1/audiences/" + a.ID + "/contacts", key: b.live, body: rows, header: hdr}).
				decode(t, http.StatusOK, &first)
			res := b.do(t, req{method: http.MethodPost, path: "/api/v1/audiences/" + a.ID + "/contacts", key: b.live, body: rows, header: hdr})
			res.decode(t, http.StatusOK, &again)
			require.Equal(t, "true", res.header.Get("Idempotent-Replayed"))
			require.Equal(t, first, again, "the upload's answer is replayed")
			require.Equal(t, 2, first.Created)
			return a.ID
		}
		a1, a2 := audience("first"), audience("second")

		send := map[string]any{"from": "news@sandbox.sendoka.com", "channel": "email", "template": "idem-news"}
		key := map[string]string{"Idempotency-Key": "newsletter-2026-12"}
		var acc, replay, other AudienceSendAccepted
		b.do(t, req{method: http.MethodPost, path: "/api/v1/audiences/" + a1 + "/send", key: b.live, body: send, header: key}).
			decode(t, http.StatusOK, &acc)
		require.Equal(t, 2, acc.Queued)
		res := b.do(t, req{method: http.MethodPost, path: "/api/v1/audiences/" + a1 + "/send", key: b.live, body: send, header: key})
		res.decode(t, http.StatusOK, &replay)
		require.Equal(t, "true", res.header.Get("Idempotent-Replayed"))
		require.Equal(t, acc, replay, "the same send, not a second one")

		res = b.do(t, req{method: http.MethodPost, path: "/api/v1/audiences/" + a2 + "/send", key: b.live, body: send, header: key})
		res.decode(t, http.StatusOK, &other)
		require.Empty(t, res.header.Get("Idempotent-Replayed"), "another audience is another request")
		require.Equal(t, a2, other.AudienceID)
		require.NotEqual(t, acc.SendID, other.SendID)

		changed := map[string]any{"from": "news@sandbox.sendoka.com", "channel": "email", "template": "idem-news", "subject": "Other"}
		b.do(t, req{method: http.MethodPost, path: "/api/v1/audiences/" + a1 + "/send", key: b.live, body: changed, header: key}).
			requireError(t, http.StatusConflict, sendoka.CodeIdempotencyMismatch)

		var st AudienceSendStatus
		b.do(t, req{method: http.MethodGet, path: "/api/v1/audiences/" + a1 + "/status", key: b.live}).decode(t, http.StatusOK, &st)
		require.Equal(t, acc.SendID, st.SendID, "the audience's latest send is still the first: the replay made none")
	})
}
