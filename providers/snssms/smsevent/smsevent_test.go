package smsevent_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/providers/snssms/smsevent"
	"github.com/sendoka/sendoka/sendoka"
)

func parse(t *testing.T, name string) *smsevent.Event {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	e, err := smsevent.Parse(b)
	require.NoError(t, err)
	return e
}

func TestMapping(t *testing.T) {
	t.Parallel()
	at := time.UnixMilli(1764272405000).UTC()
	pe, ok := parse(t, "text_delivered.json").Status.ProviderEvent()
	require.True(t, ok)
	require.Equal(t, sendoka.ProviderEvent{ProviderMessageID: "862a8790-60c0-4430-9b2b-658bde000001", Type: sendoka.ProviderDelivered,
		Recipient: "+15559876543", OccurredAt: at, Data: map[string]any{"sms_status": "TEXT_DELIVERED"}}, pe)

	pe, ok = parse(t, "text_unreachable.json").Status.ProviderEvent()
	require.True(t, ok)
	require.Equal(t, sendoka.ProviderFailed, pe.Type)
	require.Equal(t, &sendoka.Diagnostic{Provider: "sns", Code: "carrier_unreachable", Message: "Phone carrier is currently unreachable/unavailable"}, pe.Diagnostic)

	_, ok = parse(t, "text_pending.json").Status.ProviderEvent()
	require.False(t, ok, "not final: nothing")

	e := parse(t, "sns_status_failure.json")
	pe, ok = e.Status.ProviderEvent()
	require.True(t, ok)
	require.Equal(t, sendoka.ProviderFailed, pe.Type)
	require.Equal(t, "b1a2c3d4-0000-5555-aaaa-000000000004", pe.ProviderMessageID)
	require.Equal(t, "Unknown error attempting to reach phone", pe.Diagnostic.Message)
	require.Equal(t, time.Date(2026, 11, 27, 19, 40, 2, 113000000, time.UTC), pe.OccurredAt)

	in := parse(t, "inbound_stop.json").Inbound
	require.Equal(t, &smsevent.Inbound{From: "+15559876543", To: "+15551234567", Body: "STOP", ID: "cae173d2-66b9-564c-8309-21f858e90001"}, in)
}

func TestParseRefuses(t *testing.T) {
	t.Parallel()
	for _, body := range []string{`{`, `{}`, `{"eventType":"TEXT_DELIVERED"}`, `{"notification":{},"status":"SUCCESS"}`, `[]`} {
		_, err := smsevent.Parse([]byte(body))
		require.ErrorIs(t, err, smsevent.ErrMalformed, body)
	}
}

// FuzzParse: no input makes Parse or ProviderEvent panic. Seeds: the fixtures in testdata.
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
		e, err := smsevent.Parse(b)
		if err != nil {
			return
		}
		if (e.Status == nil) == (e.Inbound == nil) {
			t.Fatal("exactly one of Status and Inbound")
		}
		if e.Status != nil {
			_, _ = e.Status.ProviderEvent()
		}
	})
}
