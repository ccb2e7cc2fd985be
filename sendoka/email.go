package sendoka

import (
	"context"
	"net/mail"
	"strings"
)

// EmailRequest is the body of POST /api/v1/emails.
type EmailRequest struct {
	From     string         `json:"from" doc:"Sender email: a verified domain of yours (any domain you added, with a test key), or the sandbox domain" example:"you@sandbox.sendoka.com"`
	To       []string       `json:"to" doc:"Recipients (1-50)" example:"[\"user@example.com\"]"`
	Cc       []string       `json:"cc,omitempty" doc:"CC list"`
	Bcc      []string       `json:"bcc,omitempty" doc:"BCC list"`
	ReplyTo  []string       `json:"reply_to,omitempty" doc:"Reply-To list"`
	Subject  string         `json:"subject,omitempty" doc:"Subject (required unless supplied by template)"`
	HTML     string         `json:"html,omitempty" doc:"HTML body"`
	Text     string         `json:"text,omitempty" doc:"Plain text body"`
	Tags     []string       `json:"tags,omitempty" doc:"Max 10"`
	Metadata map[string]any `json:"metadata,omitempty" doc:"Custom string/number/bool values (at most 50 keys; keys 1-40 characters; strings at most 500 characters)"`
	// Attachments, Headers and the tracking switches are email-only (email_attachment.go,
	// email_headers.go, tracking.go).
	Attachments []AttachmentRequest `json:"attachments,omitempty" doc:"Files (at most 10, 7 MiB decoded combined); content_id makes one inline (cid:)"`
	Headers     map[string]string   `json:"headers,omitempty" doc:"Extra header fields (at most 20); reserved names such as From, Subject or Content-Type are refused"`
	TrackOpens  *bool               `json:"track_opens,omitempty" doc:"Add an open-tracking pixel to the HTML. Default true"`
	TrackClicks *bool               `json:"track_clicks,omitempty" doc:"Rewrite http(s) links of the HTML to tracked redirects. Default true"`
	// Template names a template by slug; its subject/html/text fill the fields left empty.
	Template  string         `json:"template,omitempty" doc:"Template slug; subject/html/text come from it unless given here" example:"welcome-v2"`
	Variables map[string]any `json:"variables,omitempty" doc:"Values for the template's {{variables}}; nested objects for dotted names"`
	ScheduleRequest
	// TenantID sends as a tenant of the org (platform mode): see Client.ForTenant.
	TenantID string `json:"tenant_id,omitempty" doc:"Platform mode: send as this tenant (platform-root keys); a tenant-bound key may only name its own" example:"ten_01HN8Z6Q4V3K2J1M0N9P8Q7R6S" maxLength:"64"`
}

// Email limits. A request within them builds a message of at most about 12 MiB on the wire:
// 7 MiB of attachments (9.4 MiB once base64-encoded), two bodies of at most 1 MiB, headers.
const (
	MaxEmailRecipients      = 50 // per list: to, cc, bcc, reply_to
	MaxEmailRecipientsTotal = 50 // to, cc and bcc together, after duplicates are removed (SES's limit)
	MaxSubjectLen           = 998
	MaxAddressLen           = 320
	MaxDisplayNameLen       = 200
	MaxHTMLBytes            = 1 << 20
	MaxTextBytes            = 1 << 20
)

// SendEmail validates and accepts an email. On success the message is durable and queued
// for delivery: the returned message has its id, status and creation time. Options add to
// the accepting transaction (WithinTx).
func (c *Client) SendEmail(ctx context.Context, p *Principal, req *EmailRequest, opts ...SendOption) (*Message, error) {
	if err := p.require(PermissionEmailsSend); err != nil {
		return nil, err
	}
	// The suppression check is deferred to the group the send joins (group_commit.go).
	m, err := c.prepareEmail(ctx, p, req, &batchCache{})
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

// prepareEmail turns one request into a message ready for accept. Batch sends call it for
// every row, so every check of a single send belongs here (or in newEmail), not in SendEmail.
func (c *Client) prepareEmail(ctx context.Context, p *Principal, req *EmailRequest, bc *batchCache) (*Message, error) {
	p, err := c.ForTenant(ctx, p, req.TenantID)
	if err != nil {
		return nil, err
	}
	req, err = c.applyEmailTemplate(ctx, p, req, bc.lookup())
	if err != nil {
		return nil, err
	}
	m, err := c.newEmail(p, req)
	if err != nil {
		return nil, err
	}
	// The sending rules of the from domain (domain_send.go), through the domain cache.
	if err := c.checkSenderDomain(ctx, p, m); err != nil {
		return nil, err
	}
	// Suppressed recipients are dropped; a message left with none is ALL_SUPPRESSED.
	if err := c.checkSuppressed(ctx, m, bc); err != nil {
		return nil, err
	}
	return m, nil
}

// newEmail validates req and returns the message it describes, not yet stored. Whether its
// from domain may be used is checkSenderDomain's to say.
func (c *Client) newEmail(p *Principal, req *EmailRequest) (*Message, error) {
	var v Validation
	content := &EmailContent{Subject: req.Subject, HTML: req.HTML, Text: req.Text}

	if req.From == "" {
		v.Add(FieldRequired, "Required", "from")
	} else if from, ok := parseAddress(&v, req.From, "from"); ok {
		content.From = from
	}
	if len(req.To) == 0 {
		v.Add(FieldRequired, "Required", "to")
	}
	content.To, content.Cc, content.Bcc = parseRecipients(&v, req.To, req.Cc, req.Bcc)
	content.ReplyTo = parseAddressList(&v, req.ReplyTo, "reply_to", nil)

	switch {
	case strings.TrimSpace(req.Subject) == "":
		v.Add(FieldRequired, "Required", "subject")
	case len(req.Subject) > MaxSubjectLen:
		v.Add(FieldTooBig, "at most 998 characters", "subject")
	case hasControl(req.Subject):
		v.Add(FieldInvalid, "must not contain line breaks or control characters", "subject")
	}
	if req.HTML == "" && req.Text == "" {
		v.Add(FieldRequired, "html or text is required", "html")
	}
	validateTags(&v, req.Tags)
	validateMetadata(&v, req.Metadata)
	tooLarge := validateEmailContent(&v, req, content) // email_content.go
	scheduledAt := c.scheduledAt(&req.ScheduleRequest, &v)
	if tooLarge != nil {
		return nil, tooLarge
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	return &Message{
		OrgID: p.OrgID, TenantID: p.TenantID, KeyID: p.KeyID,
		Channel: ChannelEmail, Mode: p.Mode, Email: content,
		Tags: req.Tags, Metadata: req.Metadata, ScheduledAt: scheduledAt,
	}, nil
}

// isSandboxSender reports whether a message must go to the sandbox provider.
func (c *Client) isSandboxSender(m *Message) bool {
	if m.Mode != ModeLive {
		return true
	}
	return m.Channel == ChannelEmail && addressDomain(m.Email.From) == c.sandboxDomain
}

// addressDomain returns the lower-cased domain of a normalised address.
func addressDomain(addr string) string {
	if a, err := mail.ParseAddress(addr); err == nil {
		addr = a.Address
	}
	_, d, _ := strings.Cut(addr, "@")
	return strings.ToLower(d)
}
