package sesevent_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/providers/sesemail/sesevent"
	"github.com/sendoka/sendoka/sendoka"
)

func parseFixture(t *testing.T, name string) *sesevent.Event {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	e, err := sesevent.Parse(b)
	require.NoError(t, err)
	return e
}

// TestMapping pins the table of the package doc against SES's own formats, both the
// notificationType and the eventType forms.
func TestMapping(t *testing.T) {
	t.Parallel()
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339Nano, s)
		require.NoError(t, err)
		return v
	}
	for _, tt := range []struct {
		fixture string
		want    []sendoka.ProviderEvent
	}{
		{"bounce_permanent.json", []sendoka.ProviderEvent{{ProviderMessageID: "0100018c-ses-multi-1", Type: sendoka.ProviderBounced,
			Recipient: "gone@example.com", OccurredAt: at("2026-11-27T19:40:05.100Z"),
			Diagnostic: &sendoka.Diagnostic{Provider: "ses", Code: "5.1.1", Message: "smtp; 550 5.1.1 user unknown",
				SMTPStatus: "550", EnhancedStatus: "5.1.1", BounceType: "Permanent", BounceSubType: "General"},
			Data: map[string]any{"bounce_type": "Permanent", "bounce_subtype": "General"}}}},
		{"delivery.json", []sendoka.ProviderEvent{{ProviderMessageID: "0100018c-ses-multi-1", Type: sendoka.ProviderDelivered,
			Recipient: "ok@example.com", OccurredAt: at("2026-11-27T19:40:03.500Z"),
			Data: map[string]any{"smtp_response": "250 2.6.0 Message received"}}}},
		{"bounce_transient_notification.json", []sendoka.ProviderEvent{{ProviderMessageID: "0100018c-ses-single-2", Type: sendoka.ProviderSoftBounced,
			Recipient: "Full@Example.com", OccurredAt: at("2026-11-27T19:41:00.000Z"),
			Diagnostic: &sendoka.Diagnostic{Provider: "ses", Code: "4.2.2", Message: "smtp; 452 4.2.2 mailbox full",
				SMTPStatus: "452", EnhancedStatus: "4.2.2", BounceType: "Transient", BounceSubType: "MailboxFull"},
			Data: map[string]any{"bounce_type": "Transient", "bounce_subtype": "MailboxFull"}}}},
		{"complaint.json", []sendoka.ProviderEvent{{ProviderMessageID: "0100018c-ses-single-3", Type: sendoka.ProviderComplaint,
			Recipient: "angry@example.com", OccurredAt: at("2026-11-27T19:45:01.000Z"),
			Diagnostic: &sendoka.Diagnostic{Provider: "ses", Code: "complaint", Message: "the recipient marked the message as spam"},
			Data:       map[string]any{"feedback_type": "abuse"}}}},
		{"delivery_delay.json", []sendoka.ProviderEvent{{ProviderMessageID: "0100018c-ses-single-4", Type: sendoka.ProviderDelayed,
			Recipient: "slow@example.com", OccurredAt: at("2026-11-27T19:50:00.000Z"),
			Diagnostic: &sendoka.Diagnostic{Provider: "ses", Code: "4.4.1", Message: "smtp; 421 4.4.1 Unable to connect", SMTPStatus: "421", EnhancedStatus: "4.4.1"},
			Data:       map[string]any{"delay_type": "TransientCommunicationFailure", "expiration_time": "2026-11-28T19:40:02.113Z"}}}},
		{"reject.json", []sendoka.ProviderEvent{{ProviderMessageID: "0100018c-ses-single-5", Type: sendoka.ProviderFailed,
			OccurredAt: at("2026-11-27T19:40:02.113Z"), Diagnostic: &sendoka.Diagnostic{Provider: "ses", Code: "rejected", Message: "Bad content"}}}},
		{"open.json", nil},
	} {
		t.Run(tt.fixture, func(t *testing.T) {
			require.Equal(t, tt.want, parseFixture(t, tt.fixture).ProviderEvents())
		})
	}
}

func TestParseRefuses(t *testing.T) {
	t.Parallel()
	for name, body := range map[string]string{
		"not json":        `{`,
		"no type":         `{"mail":{"messageId":"x"}}`,
		"no message id":   `{"eventType":"Delivery","delivery":{"recipients":[]}}`,
		"bounce, no body": `{"eventType":"Bounce","mail":{"messageId":"x"}}`,
		"wrong types":     `{"eventType":"Delivery","mail":{"messageId":"x"},"delivery":{"recipients":"a"}}`,
	} {
		_, err := sesevent.Parse([]byte(body))
		require.ErrorIs(t, err, sesevent.ErrMalformed, name)
	}
}

// FuzzParse: no input makes Parse or ProviderEvents panic. Seeds: the fixtures in testdata.
func FuzzParse(f *testing.F) {
	entries, err := os.ReadDir("testdata")
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range entries {
		if filepath.Ext(e.Name()) == ".json" {
			b, err := os.ReadFile(filepath.Join("testdata", e.Name()))
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := sesevent.Parse(b)
		if err != nil {
			return
		}
		for _, pe := range e.ProviderEvents() {
			if pe.ProviderMessageID == "" {
				t.Fatal("an event without the message id")
			}
		}
	})
}
