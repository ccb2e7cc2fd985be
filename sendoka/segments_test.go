package sendoka

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

func TestSMSSegmentsTable(t *testing.T) {
	t.Parallel()
	// A hand-made reference table: each row worked out by hand from GSM 03.38 / 3GPP 23.040.
	cases := []struct {
		name string
		body string
		enc  SMSEncoding
		segs int
	}{
		{"empty", "", EncodingGSM7, 0},
		{"one char", "a", EncodingGSM7, 1},
		{"160 gsm", strings.Repeat("a", 160), EncodingGSM7, 1},
		{"161 gsm", strings.Repeat("a", 161), EncodingGSM7, 2},
		{"306 gsm", strings.Repeat("a", 306), EncodingGSM7, 2},
		{"307 gsm", strings.Repeat("a", 307), EncodingGSM7, 3},
		{"459 gsm", strings.Repeat("a", 459), EncodingGSM7, 3},
		{"gsm accents stay gsm", "héllo Ça va? Ñ ü ß Δ", EncodingGSM7, 1},
		{"80 euro = 160 septets", strings.Repeat("€", 80), EncodingGSM7, 1},
		{"81 euro = 162 septets", strings.Repeat("€", 81), EncodingGSM7, 2},
		{"159 a + brace = 161", strings.Repeat("a", 159) + "{", EncodingGSM7, 2},
		{"escape not split", strings.Repeat("a", 152) + "[" + strings.Repeat("a", 10), EncodingGSM7, 2},
		{"every extension char", "^{}\\[]~|€", EncodingGSM7, 1},
		{"70 ucs2", strings.Repeat("ж", 70), EncodingUCS2, 1},
		{"71 ucs2", strings.Repeat("ж", 71), EncodingUCS2, 2},
		{"134 ucs2", strings.Repeat("ж", 134), EncodingUCS2, 2},
		{"135 ucs2", strings.Repeat("ж", 135), EncodingUCS2, 3},
		{"one emoji switches all", strings.Repeat("a", 69) + "😀", EncodingUCS2, 2}, // 71 units
		{"35 emoji = 70 units", strings.Repeat("😀", 35), EncodingUCS2, 1},
		{"36 emoji = 72 units", strings.Repeat("😀", 36), EncodingUCS2, 2},
		{"surrogate not split", strings.Repeat("a", 66) + "😀" + strings.Repeat("a", 66), EncodingUCS2, 3}, // 134 units, but the pair cannot straddle parts
		{"1600 gsm", strings.Repeat("a", 1600), EncodingGSM7, 11},
		{"1600 ucs2", strings.Repeat("ж", 1600), EncodingUCS2, 24},
		{"backtick is not gsm", "`", EncodingUCS2, 1},
		{"lower-case ç is not gsm", "ça", EncodingUCS2, 1},
	}
	for _, tc := range cases {
		enc, segs := SMSSegments(tc.body)
		require.Equal(t, tc.enc, enc, tc.name)
		require.Equal(t, tc.segs, segs, tc.name)
	}
}

// TestSMSSegmentsProperties checks invariants on generated bodies.
func TestSMSSegmentsProperties(t *testing.T) {
	t.Parallel()
	alphabet := []string{"a", "€", "{", "ж", "😀", " ", "Ä"}
	for n := 0; n < 400; n++ {
		var b strings.Builder
		for i := 0; i < n; i++ {
			b.WriteString(alphabet[(i*7+n)%len(alphabet)])
		}
		body := b.String()
		enc, segs := SMSSegments(body)
		chars := utf8.RuneCountInString(body)
		if chars == 0 {
			require.Equal(t, 0, segs)
			continue
		}
		require.GreaterOrEqual(t, segs, 1)
		// Never fewer segments than the unit count allows, never more than one per part's worth plus one.
		enc2, segs2 := SMSSegments(body + "a")
		if enc2 == enc {
			require.GreaterOrEqual(t, segs2, segs, "appending never reduces segments")
		}
	}
}

func FuzzSMSSegments(f *testing.F) {
	for _, s := range []string{"", "hello", "€€€", "😀a", strings.Repeat("a", 161)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		enc, segs := SMSSegments(s)
		require.Contains(t, []SMSEncoding{EncodingGSM7, EncodingUCS2}, enc)
		if s == "" {
			require.Zero(t, segs)
			return
		}
		require.Positive(t, segs)
		require.LessOrEqual(t, segs, 2*len(s)+1)
	})
}
