package sendoka

import (
	"maps"
	"slices"
	"strings"
	"unicode/utf8"
)

// Custom header limits.
const (
	MaxCustomHeaders      = 20
	MaxHeaderNameLen      = 64
	MaxHeaderValueLen     = 900
	customHeaderNameChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-"
)

// reservedHeaders are the fields Sendoka writes itself, that only a mail server may write,
// or that send mail (bounces, receipts) to an address outside the message's own fields. A
// request cannot set them through headers; nor any Resent-* field (reservedHeader).
var reservedHeaders = map[string]bool{
	"from": true, "to": true, "cc": true, "bcc": true, "reply-to": true, "subject": true,
	"sender": true, "date": true, "message-id": true, "mime-version": true,
	"return-path": true, "received": true, "dkim-signature": true, "arc-seal": true,
	"arc-message-signature": true, "arc-authentication-results": true,
	"authentication-results": true, "received-spf": true,
	"delivered-to": true, "envelope-to": true,
	// Where errors and read receipts go: they would reach an address no validation saw.
	"errors-to": true, "disposition-notification-to": true, "return-receipt-to": true,
}

// reservedHeader reports whether a header name (lower case) cannot be set by a request: a
// reserved name, or one of the Content-*, X-Sendoka-* and Resent-* families (Resent-From,
// Resent-To, … re-address a message: RFC 5322 section 3.6.6).
func reservedHeader(lower string) bool {
	return reservedHeaders[lower] || strings.HasPrefix(lower, "content-") ||
		strings.HasPrefix(lower, "x-sendoka-") || strings.HasPrefix(lower, "resent-")
}

// validateHeaders checks a request's extra header fields: names are letters, digits and
// hyphens (no Content-* or reserved name), values have no line break or control character.
func validateHeaders(v *Validation, h map[string]string) {
	if len(h) > MaxCustomHeaders {
		v.Add(FieldTooBig, "at most 20 headers", "headers")
		return
	}
	for _, name := range slices.Sorted(maps.Keys(h)) {
		lower := strings.ToLower(name)
		val := h[name]
		switch {
		case name == "" || len(name) > MaxHeaderNameLen || strings.Trim(name, customHeaderNameChars) != "":
			v.Add(FieldInvalid, "a header name is 1 to 64 letters, digits and hyphens", "headers", name)
		case reservedHeader(lower):
			v.Add(FieldInvalid, "this header is reserved: Sendoka or the mail servers set it", "headers", name)
		case len(val) > MaxHeaderValueLen:
			v.Add(FieldTooBig, "a header value is at most 900 bytes", "headers", name)
		case hasControl(val) || !utf8.ValidString(val):
			v.Add(FieldInvalid, "a header value must not contain line breaks or control characters", "headers", name)
		case strings.TrimSpace(val) == "":
			v.Add(FieldRequired, "a header value must not be empty", "headers", name)
		}
	}
}
