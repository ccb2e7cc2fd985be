package sendoka

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseE164(t *testing.T) {
	t.Parallel()
	cases := map[string]bool{
		"+15551234567": true, "+15559876543": true, // the docs' own examples
		"+447700900123": true, "+4915112345678": true,
		"+1555": false, "15551234567": false, "+1 555 123 4567": false, "+": false,
		"+999123456789": false, "+1555123456789012": false, "": false,
	}
	for in, want := range cases {
		got, ok := ParseE164(in)
		require.Equal(t, want, ok, in)
		if ok {
			require.Equal(t, in, got)
		}
	}
}

func FuzzParseE164(f *testing.F) {
	for _, s := range []string{"+15551234567", "+447700900123", "+1", "+0000", "++1", "+１２３"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, ok := ParseE164(s)
		if !ok {
			return
		}
		again, ok2 := ParseE164(n)
		require.True(t, ok2)
		require.Equal(t, n, again)
		require.True(t, strings.HasPrefix(n, "+"))
	})
}

func TestNewSMSValidation(t *testing.T) {
	t.Parallel()
	c := newTestClient(t)
	p := SystemPrincipal("org_1", ModeTest)
	cases := []struct {
		name  string
		req   SMSRequest
		paths [][]any
	}{
		{"bad to", SMSRequest{From: "+15551234567", To: "555", Body: "x"}, [][]any{{"to"}}},
		{"missing from", SMSRequest{To: "+15559876543", Body: "x"}, [][]any{{"from"}}},
		{"bad sender id", SMSRequest{From: "12345", To: "+15559876543", Body: "x"}, [][]any{{"from"}}},
		{"empty body", SMSRequest{From: "+15551234567", To: "+15559876543"}, [][]any{{"body"}}},
		{"long body", SMSRequest{From: "Acme", To: "+15559876543", Body: strings.Repeat("é", 1601)}, [][]any{{"body"}}},
	}
	for _, tc := range cases {
		_, err := c.newSMS(p, &tc.req)
		require.Equal(t, tc.paths, fieldPaths(t, err), tc.name)
	}
	m, err := c.newSMS(p, &SMSRequest{From: "Acme", To: "+15559876543", Body: strings.Repeat("é", 1600)})
	require.NoError(t, err, "1600 characters is allowed even when it is more bytes")
	require.Equal(t, "Acme", m.SMS.From)
}
