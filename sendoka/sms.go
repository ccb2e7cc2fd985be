package sendoka

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"
)

// SMSRequest is the body of POST /api/v1/sms.
type SMSRequest struct {
	From     string         `json:"from,omitempty" doc:"A registered, active sender: E.164 number or alphanumeric sender ID. Give from or from_pool, or neither to use the default pool" example:"+15551234567"`
	FromPool string         `json:"from_pool,omitempty" doc:"Messaging pool id: a member in the recipient's country is picked, spread evenly" example:"pool_01HN..."`
	To       string         `json:"to" doc:"E.164 recipient" example:"+15559876543"`
	Body     string         `json:"body,omitempty" doc:"Message text, at most 1600 characters (required unless supplied by template)" example:"Your code is 1234"`
	Tags     []string       `json:"tags,omitempty" doc:"Max 10"`
	Metadata map[string]any `json:"metadata,omitempty" doc:"Custom key-value pairs"`
	// MediaURLs makes the message an MMS: only US and Canadian long codes and toll-free
	// numbers can send one.
	MediaURLs []string `json:"media_url,omitempty" doc:"MMS media: up to 10 https URLs (US/CA long codes and toll-free senders only)" example:"[\"https://example.com/receipt.png\"]"`
	// Template names an SMS template by slug; its body is used unless Body is given.
	Template  string         `json:"template,omitempty" doc:"Template slug; the body comes from it unless given here" example:"order_shipped"`
	Variables map[string]any `json:"variables,omitempty" doc:"Values for the template's {{variables}}; nested objects for dotted names"`
	ScheduleRequest
	// TenantID sends as a tenant of the org (platform mode): see Client.ForTenant.
	TenantID string `json:"tenant_id,omitempty" doc:"Platform mode: send as this tenant (platform-root keys); a tenant-bound key may only name its own" example:"ten_01HN8Z6Q4V3K2J1M0N9P8Q7R6S" maxLength:"64"`
}

// SMS limits.
const (
	MaxSMSBodyChars = 1600
	MaxMediaURLs    = 10
	MaxMediaURLLen  = 2048
)

// SendSMS validates and accepts an SMS, like SendEmail.
func (c *Client) SendSMS(ctx context.Context, p *Principal, req *SMSRequest, opts ...SendOption) (*Message, error) {
	if err := p.require(PermissionSMSSend); err != nil {
		return nil, err
	}
	// The suppression check is deferred to the group the send joins (group_commit.go).
	m, err := c.prepareSMS(ctx, p, req, &batchCache{})
	if err != nil {
		return nil, err
	}
	refused, adm, err := c.admit(ctx, []*Message{m}) // warmup and quota (warmup.go)
	if err != nil {
		return nil, err
	}
	if err := refused[m]; err != nil {
		return nil, err
	}
	if err := c.acceptSingle(ctx, sendOptionsOf(opts), m); err != nil {
		adm.release(nil)
		return nil, err
	}
	return m, nil
}

// prepareSMS turns one request into a message ready for accept. Batch sends call it for
// every row, so every check of a single send belongs here (or in newSMS), not in SendSMS.
func (c *Client) prepareSMS(ctx context.Context, p *Principal, req *SMSRequest, bc *batchCache) (*Message, error) {
	p, err := c.ForTenant(ctx, p, req.TenantID)
	if err != nil {
		return nil, err
	}
	req, err = c.applySMSTemplate(ctx, p, req, bc.lookup())
	if err != nil {
		return nil, err
	}
	m, err := c.newSMS(p, req)
	if err != nil {
		return nil, err
	}
	if err := c.resolveSender(ctx, p, m); err != nil {
		return nil, err
	}
	if err := c.checkSuppressed(ctx, m, bc); err != nil {
		return nil, err
	}
	return m, nil
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
	// Which registered sender the message uses is decided by resolveSender; here only the
	// shape of the request is checked.
	content.PoolID = req.FromPool
	switch {
	case req.From == "":
	case req.FromPool != "":
		v.Add(FieldInvalid, "give from or from_pool, not both", "from_pool")
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
	content.Encoding, content.Segments = SMSSegments(req.Body)
	content.MediaURLs = validateMediaURLs(&v, req.MediaURLs)
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

// validateMediaURLs checks media_url: at most 10 absolute https URLs.
func validateMediaURLs(v *Validation, urls []string) []string {
	if len(urls) == 0 {
		return nil
	}
	if len(urls) > MaxMediaURLs {
		v.Add(FieldTooBig, "at most 10 media URLs", "media_url")
		return nil
	}
	for i, s := range urls {
		u, err := url.Parse(s)
		if err != nil || len(s) > MaxMediaURLLen || u.Scheme != "https" || u.Host == "" || u.User != nil {
			v.Add(FieldInvalidString, "must be an https URL of at most 2048 characters", "media_url", i)
		}
	}
	return urls
}

// resolveSender picks the registered sender of an SMS that newSMS validated: the one named
// by from, a member of the pool named by from_pool, or a member of the default pool when the
// request names neither (the principal's tenant's default pool; the org-wide one for an
// org-wide key). It records the sender on the message. An org-wide key that sends from a
// tenant's sender sends as that tenant: the message belongs to the tenant, and the tenant's
// suppressions apply.
func (c *Client) resolveSender(ctx context.Context, p *Principal, m *Message) error {
	s := m.SMS
	var v Validation
	var sender *PhoneNumber
	if s.From != "" {
		found, err := c.store.FindPhoneNumbers(ctx, p.Scope(), s.From)
		if err != nil {
			return AsError(err)
		}
		if sender = c.bestSender(&v, m, found, p.TenantID); sender == nil && len(v.Fields) == 0 {
			v.Add(FieldInvalid, s.From+" is not a registered sender: register it with POST /api/v1/phone-numbers", "from")
		}
	} else {
		var pool *PhonePool
		var err error
		if s.PoolID != "" {
			err = NotFound("phone pool")
			if plausibleID(s.PoolID) {
				pool, err = c.store.GetPhonePool(ctx, p.Scope(), s.PoolID)
			}
			if ErrorCode(err) == CodeNotFound {
				return fieldError(FieldInvalid, "no pool has this id", "from_pool")
			}
		} else {
			pool, err = c.store.DefaultPhonePool(ctx, p.OrgID, p.TenantID)
			if ErrorCode(err) == CodeNotFound {
				return fieldError(FieldRequired, "Required: give from or from_pool (or make a pool the default)", "from")
			}
		}
		if err != nil {
			return AsError(err)
		}
		if sender, err = c.pickFromPool(ctx, &v, m, pool); err != nil {
			return err
		}
	}
	if err := v.Err(); err != nil {
		return err
	}
	s.From, s.PhoneNumberID = sender.Address(), sender.ID
	m.senderDailyCap, m.senderCountry = sender.DailyCap, sender.ISOCountry
	if m.TenantID == "" {
		m.TenantID = sender.TenantID
	}
	return nil
}

// bestSender returns the registration of from that should send m: registrations of the
// caller's own tenant first, then those for the recipient's country, among the ones that can
// send it. When none can, it records why on v (path from, or media_url) and returns nil.
func (c *Client) bestSender(v *Validation, m *Message, found []*PhoneNumber, tenant string) *PhoneNumber {
	country := numberCountry(m.SMS.To)
	rank := func(n *PhoneNumber) int {
		r := 0
		if n.TenantID != tenant {
			r += 2
		}
		if n.ISOCountry != country {
			r++
		}
		return r
	}
	sorted := slices.Clone(found)
	slices.SortStableFunc(sorted, func(a, b *PhoneNumber) int { return rank(a) - rank(b) })
	for _, n := range sorted {
		if path, _ := c.senderProblem(m, n); path == "" {
			return n
		}
	}
	if len(sorted) > 0 {
		path, why := c.senderProblem(m, sorted[0])
		v.Add(FieldInvalid, why, path)
	}
	return nil
}

// pickFromPool returns the member of pool that sends m: among the members that can send it,
// those in the recipient's country if any, else all of them, taken in turn.
func (c *Client) pickFromPool(ctx context.Context, v *Validation, m *Message, pool *PhonePool) (*PhoneNumber, error) {
	members, err := c.store.GetPhoneNumbers(ctx, Scope{OrgID: pool.OrgID, TenantID: pool.TenantID}, pool.PhoneNumberIDs)
	if err != nil {
		return nil, AsError(err)
	}
	// Keep the pool's order, so that the turn-taking is stable.
	order := make(map[string]int, len(pool.PhoneNumberIDs))
	for i, id := range pool.PhoneNumberIDs {
		order[id] = i
	}
	slices.SortFunc(members, func(a, b *PhoneNumber) int { return order[a.ID] - order[b.ID] })
	country := numberCountry(m.SMS.To)
	var usable, local []*PhoneNumber
	var problem string
	for _, n := range members {
		if path, why := c.senderProblem(m, n); path != "" {
			if problem == "" {
				problem = why
			}
			continue
		}
		usable = append(usable, n)
		if n.ISOCountry == country {
			local = append(local, n)
		}
	}
	key := pool.ID + "|*"
	if len(local) > 0 {
		usable, key = local, pool.ID+"|"+country
	}
	if len(m.SMS.MediaURLs) > 0 {
		key += "|mms"
	}
	if len(usable) == 0 {
		why := "the pool has no senders"
		if problem != "" {
			why = "no sender of the pool can send this message (" + problem + ")"
		}
		path := "from_pool"
		if m.SMS.PoolID == "" {
			path = "from" // the default pool stood in for from
		}
		v.Add(FieldInvalid, why, path)
		return nil, nil
	}
	m.SMS.PoolID = pool.ID
	return c.pools.pick(key, usable), nil
}

// senderProblem says why n cannot send m: the path of the field at fault and the reason, or
// "" when it can.
func (c *Client) senderProblem(m *Message, n *PhoneNumber) (path, why string) {
	switch n.Status {
	case SenderActive:
	case SenderPending:
		return "from", n.Address() + " is pending provisioning by the SMS provider"
	default:
		why = n.Address() + " failed provisioning"
		if n.Diagnostic != nil && n.Diagnostic.Message != "" {
			why += ": " + n.Diagnostic.Message
		}
		return "from", why
	}
	if n.Kind == SenderAlphanumeric {
		if country := numberCountry(m.SMS.To); alphanumericRefused[country] != "" {
			return "from", "alphanumeric sender IDs cannot send to " + country + " numbers"
		}
	}
	if len(m.SMS.MediaURLs) > 0 {
		if !n.CanSendMMS() {
			return "media_url", "only US and Canadian long codes and toll-free numbers send MMS; " + n.Address() + " cannot"
		}
		if ms, ok := c.smsSender(m).(MMSSupporter); ok && !ms.SupportsMMS() {
			return "media_url", "the SMS provider does not send MMS"
		}
	}
	return "", ""
}

// fieldError is a validation error with one problem.
func fieldError(code, message string, path ...any) error {
	var v Validation
	v.Add(code, message, path...)
	return v.Err()
}
