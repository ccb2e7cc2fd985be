package sendoka

import (
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// Domain name limits (RFC 1035: 253 characters in the text form, 63 per label).
const (
	MaxDomainNameLen  = 253
	maxDomainLabelLen = 63
)

// domainIDNA turns a name into its lower-case A-label form under the rules browsers and
// resolvers use (UTS #46, non-transitional), checking the DNS lengths and the bidi and
// joiner rules.
var domainIDNA = idna.New(idna.MapForLookup(), idna.Transitional(false), idna.VerifyDNSLength(true),
	idna.StrictDomainName(true), idna.BidiRule(), idna.CheckHyphens(true), idna.CheckJoiners(true))

// NormalizeDomainName returns the name a domain is stored and compared under: lower case,
// an international name in its punycode (A-label) form ("bücher.example" is
// "xn--bcher-kva.example"). It refuses, with a reason to show, anything that is not a host
// name of at least two labels: a trailing dot, an address or URL, an IP address, a label
// over 63 characters, a name over 253, characters other than letters, digits and hyphens.
func NormalizeDomainName(s string) (string, string) {
	switch {
	case s == "":
		return "", "Required"
	case len(s) > 4*MaxDomainNameLen:
		return "", "at most 253 characters"
	case strings.HasSuffix(s, "."):
		return "", "no trailing dot: write example.com, not example.com."
	case strings.ContainsAny(s, "@/:"):
		return "", "a domain name such as example.com, not an address or a URL"
	case strings.TrimSpace(s) != s || hasControl(s) || strings.ContainsAny(s, " \t"):
		return "", "must not contain spaces or control characters"
	case !utf8.ValidString(s):
		// IDNA would map each bad byte to U+FFFD and make a punycode label of it.
		return "", "must be valid UTF-8"
	}
	ascii, err := domainIDNA.ToASCII(s)
	if err != nil {
		return "", "not a valid domain name (letters, digits and hyphens in dot-separated labels; international names in Unicode or punycode)"
	}
	ascii = strings.ToLower(ascii)
	if len(ascii) > MaxDomainNameLen {
		return "", "at most 253 characters (in punycode)"
	}
	labels := strings.Split(ascii, ".")
	if len(labels) < 2 {
		return "", "a domain name has at least two labels, such as example.com"
	}
	for _, l := range labels {
		if l == "" || len(l) > maxDomainLabelLen || l[0] == '-' || l[len(l)-1] == '-' {
			return "", "each label is 1 to 63 letters, digits or hyphens, and neither starts nor ends with a hyphen"
		}
		for i := 0; i < len(l); i++ {
			if c := l[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
				return "", "each label is 1 to 63 letters, digits or hyphens, and neither starts nor ends with a hyphen"
			}
		}
	}
	if tld := labels[len(labels)-1]; strings.Trim(tld, "0123456789") == "" {
		return "", "a domain name, not an IP address"
	}
	return ascii, ""
}
