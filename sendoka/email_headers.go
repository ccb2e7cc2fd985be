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

// reservedHeaders are the fields Sendoka writes itself, or that only a mail server may
// write. A request cannot set them through headers.
var reservedHeaders = map[string]bool{
	"from": true, "to": true, "cc": true, "bcc": true, "reply-to": true, "subject": true,
	"sender": true, "date": true, "message-id": true, "mime-version": true,
	"return-path": true, "received": true, "dkim-signature": true, "arc-seal": true,
	"arc-message-signature": true, "arc-authentication-results": true,
	"authentication-results": true, "received-spf": true,
	"delivered-to": true, "envelope-to": true,
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
		case reservedHeaders[lower] || strings.HasPrefix(lower, "content-") || strings.HasPrefix(lower, "x-sendoka-"):
			v.Add(FieldInvalid, "this header is set by Sendoka and cannot be overridden", "headers", name)
		case len(val) > MaxHeaderValueLen:
			v.Add(FieldTooBig, "a header value is at most 900 bytes", "headers", name)
		case hasControl(val) || !utf8.ValidString(val):
			v.Add(FieldInvalid, "a header value must not contain line breaks or control characters", "headers", name)
		case strings.TrimSpace(val) == "":
			v.Add(FieldRequired, "a header value must not be empty", "headers", name)
		}
	}
}
