package sendoka

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// SMSOptOutHints are the opt-out instructions broadcast SMS must carry, by the ISO 3166-1
// alpha-2 country of the sender (a US long code's "Reply STOP to opt out.", France's
// "STOP au 36180"), with "*" for every other country. An audience send on the SMS channel
// appends its sender's hint to each message, on a line of its own, unless the body already
// says it; transactional SMS are left alone. Countries without a hint (and no "*") add
// nothing: the hints are the operator's to set, since the rules are theirs to know.
type SMSOptOutHints map[string]string

// validate checks the keys (two capital letters, or "*") and the hints (non-empty, at most
// 160 characters).
func (h SMSOptOutHints) validate() error {
	for k, v := range h {
		if k != "*" && (len(k) != 2 || k[0] < 'A' || k[0] > 'Z' || k[1] < 'A' || k[1] > 'Z') {
			return fmt.Errorf("sendoka: SMS opt-out hint for %q: the key must be an ISO 3166-1 alpha-2 country (US) or *", k)
		}
		if n := utf8.RuneCountInString(strings.TrimSpace(v)); n == 0 || n > 160 {
			return fmt.Errorf("sendoka: SMS opt-out hint for %s: 1 to 160 characters", k)
		}
	}
	return nil
}

// hintFor returns the hint of a sender's country, or "".
func (h SMSOptOutHints) hintFor(country string) string {
	if v, ok := h[strings.ToUpper(country)]; ok {
		return strings.TrimSpace(v)
	}
	return strings.TrimSpace(h["*"])
}

// addOptOutHint appends the hint of m's sender's country to a broadcast SMS, and counts its
// segments again. A body that already holds the hint (in any case) keeps its text; one that
// the hint would take past MaxSMSBodyChars is refused.
func (c *Client) addOptOutHint(m *Message) error {
	hint := c.optOutHints.hintFor(m.senderCountry)
	if hint == "" || m.SMS == nil || strings.Contains(strings.ToLower(m.SMS.Body), strings.ToLower(hint)) {
		return nil
	}
	body := strings.TrimRight(m.SMS.Body, " \n") + "\n" + hint
	if utf8.RuneCountInString(body) > MaxSMSBodyChars {
		return fieldError(FieldTooBig, fmt.Sprintf("with the opt-out hint of the sender's country (%q) the body is over 1600 characters", hint), "body")
	}
	m.SMS.Body = body
	m.SMS.Encoding, m.SMS.Segments = SMSSegments(body)
	return nil
}
