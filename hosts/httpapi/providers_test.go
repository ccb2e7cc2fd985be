package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/providers/sesemail"
	"github.com/sendoka/sendoka/providers/sesemail/sesemailtest"
	"github.com/sendoka/sendoka/providers/snsnotify"
	"github.com/sendoka/sendoka/providers/snsnotify/snsnotifytest"
	"github.com/sendoka/sendoka/sendoka"
	"github.com/sendoka/sendoka/storage/bunstore"
	"github.com/sendoka/sendoka/storage/bunstore/bunstoretest"
)

const testTopic = "arn:aws:sns:us-east-1:123456789012:sendoka-events"

// roundTripFunc records the requests a client makes (the subscription confirmations).
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// snsBundle is a bundle with SES (its wire fake) as the live email provider and an SNS
// verifier that trusts a local signer.
type snsBundle struct {
	*bundle
	signer    *snsnotifytest.Signer
	mu        sync.Mutex
	confirmed []string
}

func setupSNS(t *testing.T, db *bunstore.DB) *snsBundle {
	t.Helper()
	signer, err := snsnotifytest.NewSigner()
	require.NoError(t, err)
	sb := &snsBundle{signer: signer}
	client := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		sb.mu.Lock()
		sb.confirmed = append(sb.confirmed, r.URL.String())
		sb.mu.Unlock()
		return &http.Response{StatusCode: http.StatusOK, Body: io.NopCloser(strings.NewReader("<ok/>")), Header: http.Header{}}, nil
	})}
	v := snsnotify.New(snsnotify.Options{TopicARNs: []string{testTopic}, FetchCert: signer.FetchCert, HTTPClient: client})
	srv := sesemailtest.Start(t)
	sb.bundle = setup(t, db, setupConfig{email: sesemail.New(srv.Client(), sesemail.Options{}), opts: Options{SNS: v}})
	return sb
}

// post signs message as a notification of topic and posts it to path.
func (b *snsBundle) post(t *testing.T, path, topic, snsID string, message any) *response {
	t.Helper()
	raw, ok := message.(string)
	if !ok {
		j, err := json.Marshal(message)
		require.NoError(t, err)
		raw = string(j)
	}
	body, err := b.signer.Notification(topic, snsID, raw)
	require.NoError(t, err)
	return b.do(t, req{method: http.MethodPost, path: path, body: body, header: map[string]string{"Content-Type": "text/plain; charset=UTF-8"}})
}

func sesEvent(typ, sesID string, inner map[string]any) map[string]any {
	ev := map[string]any{"eventType": typ, "mail": map[string]any{"timestamp": time.Now().UTC().Format(time.RFC3339Nano), "messageId": sesID}}
	for k, v := range inner {
		ev[k] = v
	}
	return ev
}

// TestSESEvents: SES events through SNS reach the message: per-recipient outcomes with the
// bounce's diagnostic, the message's status from its recipients, suppression of the bounced
// address, idempotence on the SNS message id; and bad signatures, topics and bodies are
// refused with the envelope, never a 500.
func TestSESEvents(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := setupSNS(t, db)
		d := b.createDomain(t, b.live, "ses.example")
		b.publish(d)
		b.do(t, req{method: http.MethodPost, path: "/api/v1/domains/" + d.ID + "/verify", key: b.live}).decode(t, http.StatusOK, &d)
		require.Equal(t, "verified", d.Status)

		body := quickstart()
		body["from"] = "app@ses.example"
		body["to"] = []string{"gone@example.com", "ok@example.com"}
		id := b.send(t, "/api/v1/emails", b.live, body)
		require.NoError(t, b.client.Deliver(context.Background(), id, sendoka.DeliverOptions{}))
		var msg EmailMessageDetail
		b.do(t, req{method: http.MethodGet, path: "/api/v1/emails/" + id, key: b.live}).decode(t, http.StatusOK, &msg)
		require.Equal(t, "sent", msg.Status)
		sesID := *msg.ProviderMessageID
		const path = "/api/v1/providers/ses/events"

		bounce := sesEvent("Bounce", sesID, map[string]any{"bounce": map[string]any{
			"bounceType": "Permanent", "bounceSubType": "General", "timestamp": time.Now().UTC().Format(time.RFC3339Nano),
			"bouncedRecipients": []any{map[string]any{"emailAddress": "gone@example.com", "action": "failed", "status": "5.1.1", "diagnosticCode": "smtp; 550 5.1.1 user unknown"}},
		}})
		var out IngestResponse
		b.post(t, path, testTopic, "sns-1", bounce).decode(t, http.StatusOK, &out)
		require.Equal(t, IngestResponse{Status: "applied", Messages: []string{id}}, out)
		b.do(t, req{method: http.MethodGet, path: "/api/v1/emails/" + id, key: b.live}).decode(t, http.StatusOK, &msg)
		require.Equal(t, "sent", msg.Status, "ok@ has no outcome yet")
		require.Len(t, msg.Recipients, 2)
		gone := msg.Recipients[0]
		require.Equal(t, "gone@example.com", gone.Email)
		require.Equal(t, "bounced", gone.Status)
		require.Equal(t, "550", *gone.Diagnostic.SMTPStatus)
		require.Equal(t, "5.1.1", *gone.Diagnostic.EnhancedStatus)
		require.Equal(t, "Permanent", *gone.Diagnostic.BounceType)
		require.Equal(t, "General", *gone.Diagnostic.BounceSubType)
		require.Equal(t, "smtp; 550 5.1.1 user unknown", gone.Diagnostic.Message)
		require.Equal(t, "sent", msg.Recipients[1].Status)
		events := len(msg.Events)

		// The same SNS message again: nothing changes.
		b.post(t, path, testTopic, "sns-1", bounce).decode(t, http.StatusOK, &out)
		require.Equal(t, "duplicate", out.Status)
		b.do(t, req{method: http.MethodGet, path: "/api/v1/emails/" + id, key: b.live}).decode(t, http.StatusOK, &msg)
		require.Len(t, msg.Events, events)

		// The notificationType form, for the other recipient: delivered.
		delivery := map[string]any{"notificationType": "Delivery", "mail": map[string]any{"messageId": sesID},
			"delivery": map[string]any{"recipients": []string{"ok@example.com"}, "smtpResponse": "250 ok", "timestamp": time.Now().UTC().Format(time.RFC3339Nano)}}
		b.post(t, path, testTopic, "sns-2", delivery).decode(t, http.StatusOK, &out)
		b.do(t, req{method: http.MethodGet, path: "/api/v1/emails/" + id, key: b.live}).decode(t, http.StatusOK, &msg)
		require.Equal(t, "delivered", msg.Status)
		require.Equal(t, "delivered", msg.Recipients[1].Status)

		// The bounce suppressed gone@ (live mail): a send to it alone is ALL_SUPPRESSED.
		body["to"] = []string{"gone@example.com"}
		b.do(t, req{method: http.MethodPost, path: "/api/v1/emails", key: b.live, body: body}).
			requireError(t, http.StatusUnprocessableEntity, sendoka.CodeAllSuppressed)
		var detail SuppressionDetail
		b.do(t, req{method: http.MethodGet, path: "/api/v1/suppressions/gone@example.com", key: b.live}).decode(t, http.StatusOK, &detail)
		require.Equal(t, "bounce", detail.Suppression.Reason)
		require.Equal(t, id, *detail.Suppression.MessageID)

		// Refusals: another topic, a tampered message, garbage, no 500.
		b.post(t, path, "arn:aws:sns:us-east-1:123456789012:other", "sns-3", delivery).
			requireError(t, http.StatusUnauthorized, sendoka.CodeUnauthorized)
		signed, err := b.signer.Notification(testTopic, "sns-4", `{"eventType":"Reject","mail":{"messageId":"`+sesID+`"},"reject":{}}`)
		require.NoError(t, err)
		tampered := strings.Replace(string(signed), "Reject", "Delivery", 1)
		b.do(t, req{method: http.MethodPost, path: path, body: tampered}).requireError(t, http.StatusUnauthorized, sendoka.CodeUnauthorized)
		b.do(t, req{method: http.MethodPost, path: path, body: "not json"}).requireError(t, http.StatusUnprocessableEntity, sendoka.CodeValidation)
		b.do(t, req{method: http.MethodPost, path: path, body: "{}"}).requireError(t, http.StatusUnprocessableEntity, sendoka.CodeValidation)

		// An event SES sends that Sendoka does not act on, and one about an unknown message:
		// recent (SNS delivers it again: 503), and old (dropped).
		b.post(t, path, testTopic, "sns-5", sesEvent("Open", sesID, nil)).decode(t, http.StatusOK, &out)
		require.Equal(t, "ignored", out.Status)
		unknown := sesEvent("Delivery", "no-such-id", map[string]any{"delivery": map[string]any{"recipients": []string{"x@example.com"}, "timestamp": time.Now().UTC().Format(time.RFC3339Nano)}})
		res := b.post(t, path, testTopic, "sns-6", unknown)
		res.requireError(t, http.StatusServiceUnavailable, sendoka.CodeUnavailable)
		require.NotEmpty(t, res.header.Get("Retry-After"))
		unknown["delivery"].(map[string]any)["timestamp"] = time.Now().Add(-time.Hour).UTC().Format(time.RFC3339Nano)
		b.post(t, path, testTopic, "sns-7", unknown).decode(t, http.StatusOK, &out)
		require.Equal(t, "unmatched", out.Status)
	})
}

// TestSNSSubscriptionConfirmation: a signed SubscriptionConfirmation of an allowed topic is
// confirmed by GETting its SubscribeURL through the injected client; one of another topic is
// refused and never fetched.
func TestSNSSubscriptionConfirmation(t *testing.T) {
	t.Parallel()
	b := setupSNS(t, sqlite(t))
	confirm := func(topic string) *response {
		m := &snsnotify.Message{Type: snsnotify.TypeSubscriptionConfirmation, MessageID: "sub-1", TopicArn: topic, Token: "tok",
			Message: "You have chosen to subscribe to the topic " + topic, Timestamp: time.Now().UTC().Format(time.RFC3339),
			SubscribeURL: "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=" + topic + "&Token=tok"}
		require.NoError(t, b.signer.Sign(m, "2"))
		body, err := json.Marshal(m)
		require.NoError(t, err)
		return b.do(t, req{method: http.MethodPost, path: "/api/v1/providers/sns/sms-events", body: body})
	}
	var out IngestResponse
	confirm(testTopic).decode(t, http.StatusOK, &out)
	require.Equal(t, "confirmed", out.Status)
	confirm("arn:aws:sns:us-east-1:123456789012:other").requireError(t, http.StatusUnauthorized, sendoka.CodeUnauthorized)
	b.mu.Lock()
	defer b.mu.Unlock()
	require.Len(t, b.confirmed, 1)
	require.Contains(t, b.confirmed[0], "Action=ConfirmSubscription")
}

// TestSMSEvents: an inbound STOP through SNS suppresses the number for the sender's org (a
// later SMS to it is ALL_SUPPRESSED) and START lifts it; delivery statuses reach the message.
func TestSMSEvents(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := setupSNS(t, db)
		const path = "/api/v1/providers/sns/sms-events"
		inbound := func(snsID, body string) IngestResponse {
			var out IngestResponse
			b.post(t, path, testTopic, snsID, map[string]any{"originationNumber": "+15559870042", "destinationNumber": "+15551234567",
				"messageKeyword": "KEYWORD_123456789012", "messageBody": body, "inboundMessageId": snsID}).decode(t, http.StatusOK, &out)
			return out
		}
		require.Equal(t, "applied", inbound("in-1", "STOP").Status)
		sms := smsBody()
		sms["to"] = "+15559870042"
		b.do(t, req{method: http.MethodPost, path: "/api/v1/sms", key: b.live, body: sms}).
			requireError(t, http.StatusUnprocessableEntity, sendoka.CodeAllSuppressed)
		var detail SuppressionDetail
		b.do(t, req{method: http.MethodGet, path: "/api/v1/suppressions/%2B15559870042", key: b.live}).decode(t, http.StatusOK, &detail)
		require.Equal(t, "stop", detail.Suppression.Reason)
		require.Equal(t, "ignored", inbound("in-2", "hello").Status)
		require.Equal(t, "applied", inbound("in-3", "START").Status)
		id := b.send(t, "/api/v1/sms", b.live, sms)
		b.do(t, req{method: http.MethodGet, path: "/api/v1/suppressions/%2B15559870042", key: b.live}).decode(t, http.StatusOK, &detail)
		require.Equal(t, sendoka.RemovedByInboundStart, *detail.History[0].RemovedBy)

		// A delivery status for the message: the sandbox recorded its provider id.
		require.NoError(t, b.client.Deliver(context.Background(), id, sendoka.DeliverOptions{}))
		var m SMSMessageDetail
		b.do(t, req{method: http.MethodGet, path: "/api/v1/sms/" + id, key: b.live}).decode(t, http.StatusOK, &m)
		require.NotNil(t, m.ProviderMessageID)
		var out IngestResponse
		b.post(t, path, testTopic, "st-1", map[string]any{"eventType": "TEXT_CARRIER_UNREACHABLE", "isFinal": true,
			"messageId": *m.ProviderMessageID, "destinationPhoneNumber": "+15559870042", "eventTimestamp": time.Now().UnixMilli(),
			"messageStatusDescription": "Phone carrier is currently unreachable"}).decode(t, http.StatusOK, &out)
		require.Equal(t, IngestResponse{Status: "applied", Messages: []string{id}}, out)
		b.do(t, req{method: http.MethodGet, path: "/api/v1/sms/" + id, key: b.live}).decode(t, http.StatusOK, &m)
		require.Contains(t, fmt.Sprint(eventTypes(m.Events)), "message.failed", "recorded, whatever the status already was")
	})
}
