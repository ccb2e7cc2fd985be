package sendoka

import (
	"slices"
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
		{"from and from_pool", SMSRequest{From: "+15551234567", FromPool: "pool_1", To: "+15559876543", Body: "x"}, [][]any{{"from_pool"}}},
		{"http media", SMSRequest{From: "+15551234567", To: "+15559876543", Body: "x", MediaURLs: []string{"https://example.com/a.png", "http://example.com/b.png"}}, [][]any{{"media_url", 1}}},
		{"relative media", SMSRequest{From: "+15551234567", To: "+15559876543", Body: "x", MediaURLs: []string{"/a.png"}}, [][]any{{"media_url", 0}}},
		{"too much media", SMSRequest{From: "+15551234567", To: "+15559876543", Body: "x", MediaURLs: slices.Repeat([]string{"https://e.com/a.png"}, 11)}, [][]any{{"media_url"}}},
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
	require.Equal(t, EncodingGSM7, m.SMS.Encoding, "é is in the GSM-7 alphabet")
	require.Equal(t, 11, m.SMS.Segments, "1600 septets in parts of 153")

	m, err = c.newSMS(p, &SMSRequest{To: "+15559876543", Body: "Your code is 1234 {ok}", MediaURLs: []string{"https://example.com/a.png"}})
	require.NoError(t, err, "neither from nor from_pool: the default pool decides later")
	require.Equal(t, "", m.SMS.From)
	require.Equal(t, EncodingGSM7, m.SMS.Encoding)
	require.Equal(t, 1, m.SMS.Segments)
	require.Equal(t, []string{"https://example.com/a.png"}, m.SMS.MediaURLs)
}
