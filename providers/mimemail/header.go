package mimemail

import (
	"net/mail"
	"strings"
	"unicode/utf8"
)

// maxLine is where header lines are folded when a space allows it (RFC 5322 2.1.1 asks
// for 78 characters; the hard limit is 998).
const maxLine = 76

// headerWriter writes header fields, folded.
type headerWriter struct {
	b *strings.Builder
}

// field writes "name: value" with value already encoded (ASCII), folding it at spaces that
// are outside quoted strings and not next to another space: unfolding (RFC 5322 2.2.3)
// turns each fold back into the one space it replaced.
func (h headerWriter) field(name, value string) {
	b := h.b
	b.WriteString(name)
	b.WriteString(": ")
	col := len(name) + 2
	inQuote, escaped := false, false
	start := 0 // start of the chunk not yet written
	lastSpace := -1
	for i := 0; i < len(value); i++ {
		c := value[i]
		switch {
		case escaped:
			escaped = false
		case c == '\\' && inQuote:
			escaped = true
		case c == '"':
			inQuote = !inQuote
		case c == ' ' && !inQuote && i > 0 && value[i-1] != ' ' && i+1 < len(value) && value[i+1] != ' ':
			lastSpace = i
		}
		if col+(i-start) >= maxLine && lastSpace > start {
			b.WriteString(value[start:lastSpace])
			b.WriteString("\r\n")
			start = lastSpace // the space starts the continuation line
			col = 0
			lastSpace = -1
		}
	}
	b.WriteString(value[start:])
	b.WriteString("\r\n")
}

// unstructured encodes the value of an unstructured field (Subject, extra headers): as it
// is when it survives unfolding unchanged (printable ASCII, single spaces, no encoded-word
// look-alike, no word too long to fold), else as RFC 2047 encoded words, which keep every
// character, spaces included.
func unstructured(s string) string {
	if plainHeader(s) {
		return s
	}
	return encodeWords(s)
}

func plainHeader(s string) bool {
	if s == "" || s[0] == ' ' || s[len(s)-1] == ' ' || strings.Contains(s, "  ") || strings.Contains(s, "=?") {
		return false
	}
	word := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < ' ' || c > '~' {
			return false
		}
		if c == ' ' {
			word = 0
		} else if word++; word > 200 {
			return false
		}
	}
	return true
}

// encodeWords returns s as RFC 2047 "Q" encoded words of at most 75 characters each,
// separated by spaces (decoders drop the space between two encoded words). Only letters,
// digits and !*+-/ stay as they are, the set allowed in a display name too; a word never
// splits a UTF-8 sequence.
func encodeWords(s string) string {
	const prefix, suffix = "=?utf-8?q?", "?="
	const room = 75 - len(prefix) - len(suffix)
	var out, word strings.Builder
	flush := func() {
		if word.Len() == 0 {
			return
		}
		if out.Len() > 0 {
			out.WriteByte(' ')
		}
		out.WriteString(prefix)
		out.WriteString(word.String())
		out.WriteString(suffix)
		word.Reset()
	}
	var enc [3 * utf8.UTFMax]byte
	for i := 0; i < len(s); {
		_, size := utf8.DecodeRuneInString(s[i:])
		n := 0
		for _, c := range []byte(s[i : i+size]) {
			switch {
			case c == ' ':
				enc[n] = '_'
				n++
			case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', strings.IndexByte("!*+-/", c) >= 0:
				enc[n] = c
				n++
			default:
				enc[n], enc[n+1], enc[n+2] = '=', upperHex[c>>4], upperHex[c&15]
				n += 3
			}
		}
		if word.Len()+n > room {
			flush()
		}
		word.Write(enc[:n])
		i += size
	}
	flush()
	return out.String()
}

const upperHex = "0123456789ABCDEF"

// address formats one mailbox for a header: a display name as a quoted string when it is
// printable ASCII, as encoded words otherwise; the address part as it is.
func address(a *mail.Address) string {
	if a.Name == "" {
		return a.Address
	}
	return phrase(a.Name) + " <" + a.Address + ">"
}

func phrase(name string) string {
	for i := 0; i < len(name); i++ {
		if c := name[i]; c < ' ' || c > '~' {
			return encodeWords(name)
		}
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(name); i++ {
		if c := name[i]; c == '"' || c == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(name[i])
	}
	b.WriteByte('"')
	return b.String()
}

// hasControl reports whether s holds a control character other than tab: what could end a
// header line early.
func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return true
		}
	}
	return false
}
