package sendoka

import "unicode/utf16"

// SMSEncoding is how an SMS body travels over the air.
type SMSEncoding string

// The two encodings.
const (
	EncodingGSM7 SMSEncoding = "GSM-7"
	EncodingUCS2 SMSEncoding = "UCS-2"
)

// Segment sizes: a single SMS holds 160 GSM-7 septets or 70 UTF-16 units; a part of a
// concatenated SMS loses room to its header and holds 153 or 67.
const (
	gsmSingle  = 160
	gsmPart    = 153
	ucs2Single = 70
	ucs2Part   = 67
)

// gsmBasic is the GSM 03.38 default alphabet (one septet each).
const gsmBasic = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
	"¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"

// gsmExtension holds the characters reached through the escape code (two septets each).
const gsmExtension = "^{}\\[~]|€\f"

var gsmSeptets = func() map[rune]int {
	m := make(map[rune]int, 160)
	for _, r := range gsmBasic {
		m[r] = 1
	}
	for _, r := range gsmExtension {
		m[r] = 2
	}
	return m
}()

// SMSSegments returns the encoding of body and the number of segments it is sent in. Any
// character outside GSM-7 makes the whole message UCS-2, counted in UTF-16 units (an emoji is
// two). A character is never split across two parts: an escaped GSM character or a surrogate
// pair that does not fit moves to the next part. An empty body is 0 segments.
func SMSSegments(body string) (SMSEncoding, int) {
	units := make([]int, 0, len(body)) // the size of each character in its encoding's units
	enc := EncodingGSM7
	for _, r := range body {
		n, ok := gsmSeptets[r]
		if !ok {
			enc = EncodingUCS2
			break
		}
		units = append(units, n)
	}
	single, part := gsmSingle, gsmPart
	if enc == EncodingUCS2 {
		single, part = ucs2Single, ucs2Part
		units = units[:0]
		for _, r := range body {
			units = append(units, len(utf16.Encode([]rune{r})))
		}
	}
	total := 0
	for _, u := range units {
		total += u
	}
	switch {
	case total == 0:
		return enc, 0
	case total <= single:
		return enc, 1
	}
	segments, used := 1, 0
	for _, u := range units {
		if used+u > part {
			segments++
			used = 0
		}
		used += u
	}
	return enc, segments
}
