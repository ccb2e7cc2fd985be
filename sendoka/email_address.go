package sendoka

import (
	"net/mail"
	"strings"
	"unicode/utf8"
)

// parseRecipients parses the three recipient lists and removes duplicates across them: an
// address keeps its first place in to, then cc, then bcc (compared without case). Together
// they hold at most MaxEmailRecipientsTotal addresses.
func parseRecipients(v *Validation, to, cc, bcc []string) (outTo, outCc, outBcc []string) {
	seen := map[string]bool{}
	outTo = parseAddressList(v, to, "to", seen)
	outCc = parseAddressList(v, cc, "cc", seen)
	outBcc = parseAddressList(v, bcc, "bcc", seen)
	if len(outTo)+len(outCc)+len(outBcc) > MaxEmailRecipientsTotal {
		field := "bcc" // the list where the total went over
		if len(outTo)+len(outCc) > MaxEmailRecipientsTotal {
			field = "cc"
		}
		v.Add(FieldTooBig, "at most 50 recipients across to, cc and bcc", field)
	}
	return outTo, outCc, outBcc
}

// parseAddressList parses a list of addresses, reporting each bad one at its index. When
// seen is not nil, addresses already in it are dropped and new ones are added to it; a list
// also never keeps the same address twice.
func parseAddressList(v *Validation, list []string, field string, seen map[string]bool) []string {
	if len(list) > MaxEmailRecipients {
		v.Add(FieldTooBig, "at most 50 addresses", field)
		return nil
	}
	if seen == nil {
		seen = map[string]bool{}
	}
	out := make([]string, 0, len(list))
	for i, s := range list {
		a, msg := parseMailbox(s)
		if msg != "" {
			v.Add(FieldInvalidString, msg, field, i)
			continue
		}
		key := strings.ToLower(a.Address)
		if seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, formatAddress(a))
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// parseAddress parses one RFC 5322 address (display name optional) and returns its
// normalised form (see formatAddress).
func parseAddress(v *Validation, s string, path ...any) (string, bool) {
	a, msg := parseMailbox(s)
	if msg != "" {
		v.Add(FieldInvalidString, msg, path...)
		return "", false
	}
	return formatAddress(a), true
}

// parseMailbox parses one address, or returns why it is refused. The address part must be
// an ASCII dot-atom at a host name: quoted local parts, IP literals and internationalised
// addresses are refused (few relays accept them, and none of them can be mistaken for a
// header). The display name, once any RFC 2047 encoded words in it are decoded, must not
// hold a line break or any other control character: a decoded "\r\n" would otherwise
// smuggle a header into the message.
func parseMailbox(s string) (*mail.Address, string) {
	const invalid = "invalid email address"
	if len(s) > MaxAddressLen {
		return nil, "an address is at most 320 characters"
	}
	if hasControl(s) {
		return nil, "must not contain line breaks or control characters"
	}
	a, err := mail.ParseAddress(s)
	if err != nil {
		return nil, invalid
	}
	name := strings.TrimSpace(a.Name)
	if hasControl(name) || !utf8.ValidString(name) {
		return nil, "the display name must not contain line breaks or control characters"
	}
	if len(name) > MaxDisplayNameLen {
		return nil, "a display name is at most 200 characters"
	}
	at := strings.LastIndexByte(a.Address, '@')
	if at <= 0 {
		return nil, invalid
	}
	local, domain := a.Address[:at], strings.ToLower(a.Address[at+1:])
	if !isASCII(a.Address) {
		return nil, "non-ASCII addresses are not supported (use the punycode form of the domain)"
	}
	if !validLocalPart(local) || !validHostname(domain) {
		return nil, invalid
	}
	return &mail.Address{Name: name, Address: local + "@" + domain}, ""
}

// formatAddress is the stored form of an address: "local@domain", or with a display name
// `"Name" <local@domain>` (the name always quoted, UTF-8 kept as is). net/mail parses it
// back to the same name and address.
func formatAddress(a *mail.Address) string {
	if a.Name == "" {
		return a.Address
	}
	var b strings.Builder
	b.Grow(len(a.Name) + len(a.Address) + 6)
	b.WriteByte('"')
	for i := 0; i < len(a.Name); i++ {
		if c := a.Name[i]; c == '"' || c == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(a.Name[i])
	}
	b.WriteString(`" <`)
	b.WriteString(a.Address)
	b.WriteByte('>')
	return b.String()
}

// bareAddress returns the address part of a stored address ("local@domain").
func bareAddress(s string) string {
	if a, err := mail.ParseAddress(s); err == nil {
		return a.Address
	}
	return s
}

// validLocalPart accepts an RFC 5322 dot-atom of at most 64 characters.
func validLocalPart(s string) bool {
	if s == "" || len(s) > 64 || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isAtext(c) && c != '.' {
			return false
		}
	}
	return true
}

func isAtext(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0
}

// validHostname accepts a lower-case DNS name of two or more labels: letters, digits and
// inner hyphens, each label at most 63 characters, the whole at most 253.
func validHostname(s string) bool {
	if len(s) > 253 || !strings.Contains(s, ".") {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// hasControl reports whether s holds a control character other than tab (C0, DEL, or a C1
// control U+0080-U+009F, NEL U+0085 among them) or a Unicode line or paragraph separator
// (U+2028, U+2029). Every value that reaches a header is checked with it: CR and LF are how
// headers are injected, and NEL and the separators end a line for some readers.
func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case (c < 0x20 && c != '\t') || c == 0x7f:
			return true
		case c < utf8.RuneSelf:
			continue
		}
		// Multi-byte: C1 controls are C2 80..C2 9F in UTF-8, the separators E2 80 A8/A9.
		// Invalid UTF-8 is left to the callers' utf8.ValidString.
		r, size := utf8.DecodeRuneInString(s[i:])
		if (r >= 0x80 && r <= 0x9f) || r == '\u2028' || r == '\u2029' {
			return true
		}
		i += size - 1
	}
	return false
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
