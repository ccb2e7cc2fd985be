package sendoka

import (
	"context"
	"strings"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"
)

// SMSRequest is the body of POST /api/v1/sms.
type SMSRequest struct {
	From     string         `json:"from,omitempty" doc:"E.164 sender number or alphanumeric sender ID" example:"+15551234567"`
	To       string         `json:"to" doc:"E.164 recipient" example:"+15559876543"`
	Body     string         `json:"body,omitempty" doc:"Message text, at most 1600 characters (required unless supplied by template)" example:"Your code is 1234"`
	Tags     []string       `json:"tags,omitempty" doc:"Max 10"`
	Metadata map[string]any `json:"metadata,omitempty" doc:"Custom key-value pairs"`
	// Template names an SMS template by slug; its body is used unless Body is given.
	Template  string         `json:"template,omitempty" doc:"Template slug; the body comes from it unless given here" example:"order_shipped"`
	Variables map[string]any `json:"variables,omitempty" doc:"Values for the template's {{variables}}; nested objects for dotted names"`
	ScheduleRequest
}

// SMS limits.
const (
	MaxSMSBodyChars = 1600
)

// SendSMS validates and accepts an SMS, like SendEmail.
func (c *Client) SendSMS(ctx context.Context, p *Principal, req *SMSRequest) (*Message, error) {
	if err := p.require(PermissionSMSSend); err != nil {
		return nil, err
	}
	m, err := c.prepareSMS(ctx, p, req, nil)
	if err != nil {
		return nil, err
	}
	if err := c.accept(ctx, m); err != nil {
		return nil, err
	}
	return m, nil
}

// prepareSMS turns one request into a message ready for accept. Batch sends call it for
// every row, so every check of a single send belongs here (or in newSMS), not in SendSMS.
func (c *Client) prepareSMS(ctx context.Context, p *Principal, req *SMSRequest, tl templateLookup) (*Message, error) {
	req, err := c.applySMSTemplate(ctx, p, req, tl)
	if err != nil {
		return nil, err
	}
	return c.newSMS(p, req)
}

func (c *Client) newSMS(p *Principal, req *SMSRequest) (*Message, error) {
	var v Validation
	content := &SMSContent{Body: req.Body}
	if req.To == "" {
		v.Add(FieldRequired, "Required", "to")
	} else if to, ok := ParseE164(req.To); ok {
		content.To = to
	} else {
		v.Add(FieldInvalidString, "must be an E.164 phone number such as +15551234567", "to")
	}
	switch {
	case req.From == "":
		v.Add(FieldRequired, "Required", "from")
	case strings.HasPrefix(req.From, "+"):
		if from, ok := ParseE164(req.From); ok {
			content.From = from
		} else {
			v.Add(FieldInvalidString, "must be an E.164 phone number or an alphanumeric sender ID", "from")
		}
	case validSenderID(req.From):
		content.From = req.From
	default:
		v.Add(FieldInvalidString, "must be an E.164 phone number or an alphanumeric sender ID", "from")
	}
	switch n := utf8.RuneCountInString(req.Body); {
	case !utf8.ValidString(req.Body):
		v.Add(FieldInvalidString, "must be valid UTF-8", "body")
	case n == 0:
		v.Add(FieldRequired, "Required", "body")
	case n > MaxSMSBodyChars:
		v.Add(FieldTooBig, "at most 1600 characters", "body")
	}
	validateTags(&v, req.Tags)
	validateMetadata(&v, req.Metadata)
	scheduledAt := c.scheduledAt(&req.ScheduleRequest, &v)
	if err := v.Err(); err != nil {
		return nil, err
	}
	return &Message{
		OrgID: p.OrgID, TenantID: p.TenantID, KeyID: p.KeyID,
		Channel: ChannelSMS, Mode: p.Mode, SMS: content,
		Tags: req.Tags, Metadata: req.Metadata, ScheduledAt: scheduledAt,
	}, nil
}

// ParseE164 checks that s is an E.164 number that is possible for its country (country code
// and length; the area code need not be allocated) and returns it in E.164 form.
func ParseE164(s string) (string, bool) {
	if len(s) < 3 || len(s) > 16 || s[0] != '+' {
		return "", false
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return "", false
		}
	}
	num, err := phonenumbers.Parse(s, "")
	if err != nil || !phonenumbers.IsPossibleNumber(num) {
		return "", false
	}
	// A number the library had to rewrite (a trunk "0" after the country code, say) was not
	// E.164 as given; sending to the rewritten number would be a guess.
	if phonenumbers.Format(num, phonenumbers.E164) != s {
		return "", false
	}
	return s, true
}

// validSenderID reports whether s is an alphanumeric sender ID: 1-11 letters, digits and
// spaces with at least one letter.
func validSenderID(s string) bool {
	if len(s) == 0 || len(s) > 11 {
		return false
	}
	letter := false
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
			letter = true
		case r >= '0' && r <= '9', r == ' ':
		default:
			return false
		}
	}
	return letter
}
