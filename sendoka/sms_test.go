package sendoka

import (
	"slices"
	"strings"
	"testing"

	"github.com/nyaruka/phonenumbers"
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

func TestInboundKeyword(t *testing.T) {
	t.Parallel()
	cases := map[string]InboundAction{
		"STOP": InboundOptOut, "stop": InboundOptOut, " Stop \n": InboundOptOut, "StopAll": InboundOptOut,
		"UNSUBSCRIBE": InboundOptOut, "end": InboundOptOut, "quit": InboundOptOut, "revoke": InboundOptOut,
		"optout": InboundOptOut, "cancel": InboundOptOut,
		"START": InboundOptIn, "unstop": InboundOptIn, "Yes": InboundOptIn,
		"STOP!": InboundNone, "please stop": InboundNone, "STOP STOP": InboundNone, "opt out": InboundNone,
		"ＳＴＯＰ": InboundNone, "": InboundNone, "stopp": InboundNone, "yes please": InboundNone,
	}
	for body, want := range cases {
		require.Equal(t, want, InboundKeyword(body), "%q", body)
	}
}

func FuzzInboundKeyword(f *testing.F) {
	for _, s := range []string{"STOP", " stop ", "START", "yes", "STOP!", "ＳＴＯＰ", "sToP\t", "K"} {
		f.Add(s)
	}
	keywords := append(slices.Clone(OptOutKeywords), OptInKeywords...)
	f.Fuzz(func(t *testing.T, body string) {
		got := InboundKeyword(body)
		word := strings.ToUpper(strings.TrimSpace(body))
		// A keyword is exactly one of the listed words once trimmed and upper-cased (ASCII).
		want := InboundNone
		if slices.Contains(OptOutKeywords, word) {
			want = InboundOptOut
		} else if slices.Contains(OptInKeywords, word) {
			want = InboundOptIn
		}
		if want != InboundNone && !slices.Contains(keywords, strings.TrimSpace(body)) {
			// Non-ASCII letters whose upper case is ASCII (the Kelvin sign, say) are no keyword.
			for _, r := range strings.TrimSpace(body) {
				if r > 0x7f {
					want = InboundNone
				}
			}
		}
		require.Equal(t, want, got, "%q", body)
		require.Equal(t, got, InboundKeyword(" "+body+"\n"), "surrounding space never matters")
	})
}

func FuzzNewPhoneNumber(f *testing.F) {
	f.Add("alphanumeric", "Acme", "", "GB")
	f.Add("long_code", "", "+15551234567", "US")
	f.Add("toll_free", "", "+18005550100", "ca")
	f.Add("alphanumeric", "Acme", "", "US")
	f.Add("long_code", "", "+18005550100", "US")
	f.Add("toll_free", "", "+448001234567", "GB")
	p := SystemPrincipal("org_1", ModeLive)
	f.Fuzz(func(t *testing.T, kind, senderID, number, country string) {
		n, err := newPhoneNumber(p, &PhoneNumberRequest{Kind: SenderKind(kind), SenderID: senderID, PhoneNumber: number, ISOCountry: country})
		if err != nil {
			require.Equal(t, CodeValidation, ErrorCode(err))
			return
		}
		// Whatever is accepted is a well-formed sender of its kind.
		require.Contains(t, SenderKinds, n.Kind)
		require.Len(t, n.ISOCountry, 2)
		require.Equal(t, strings.ToUpper(n.ISOCountry), n.ISOCountry)
		if n.Kind == SenderAlphanumeric {
			require.True(t, validSenderID(n.Address()))
			require.NotContains(t, []string{"US", "CA", "IN"}, n.ISOCountry)
			require.False(t, n.CanSendMMS())
			return
		}
		e164, ok := ParseE164(n.Address())
		require.True(t, ok)
		require.Equal(t, e164, n.PhoneNumber)
		require.Equal(t, phonenumbers.GetCountryCodeForRegion(n.ISOCountry), callingCode(n.PhoneNumber), "the number is of its country")
		if n.Kind == SenderTollFree {
			require.Contains(t, []string{"US", "CA"}, n.ISOCountry)
			require.True(t, n.CanSendMMS())
		}
	})
}
