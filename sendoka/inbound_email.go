package sendoka

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// InboundConfig configures the mail Sendoka receives (hosts/smtpin is the listener). The
// zero value receives nothing: no VERP return path, no inbound domain.
type InboundConfig struct {
	// BounceDomain is the domain of the VERP return paths (bounces+<token>@BounceDomain)
	// and of the mailto unsubscribe addresses of broadcast mail; its MX must point at the
	// listener. "" sends mail with the sender's own address as the return path, as before.
	BounceDomain string
	// Domains are the domains whose mail the listener takes for inbound routes of any org
	// (a route may also use a verified domain of its own org). Subdomains are included.
	Domains []string
	// MaxMessageBytes bounds a received message; the listener refuses larger ones.
	// Default: DefaultInboundMaxMessageBytes.
	MaxMessageBytes int64
}

// DefaultInboundMaxMessageBytes is the default bound of a received message.
const DefaultInboundMaxMessageBytes = 25 << 20

func (cfg InboundConfig) withDefaults() (InboundConfig, error) {
	if cfg.MaxMessageBytes <= 0 {
		cfg.MaxMessageBytes = DefaultInboundMaxMessageBytes
	}
	if cfg.BounceDomain != "" {
		name, why := NormalizeDomainName(strings.TrimSpace(cfg.BounceDomain))
		if why != "" {
			return cfg, fmt.Errorf("sendoka: Inbound.BounceDomain %q: %s", cfg.BounceDomain, why)
		}
		cfg.BounceDomain = name
	}
	var ds []string
	for _, d := range cfg.Domains {
		if strings.TrimSpace(d) == "" {
			continue
		}
		name, why := NormalizeDomainName(strings.TrimSpace(d))
		if why != "" {
			return cfg, fmt.Errorf("sendoka: Inbound.Domains %q: %s", d, why)
		}
		ds = append(ds, name)
	}
	cfg.Domains = ds
	return cfg, nil
}

// InboundConfig returns the Client's inbound configuration, with its defaults.
func (c *Client) InboundConfig() InboundConfig { return c.inbound }

// EventEmailReceived is the webhook event of an email received for an inbound route.
const EventEmailReceived EventType = "email.received"

// InboundHeader is one header field of a received message, in its order.
type InboundHeader struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// InboundAttachment is one attachment of a received message. Content is set when it is
// handed to ReceiveInboundEmail and by GetInboundAttachment, never in listings.
type InboundAttachment struct {
	Filename    string `json:"filename"`
	ContentType string `json:"content_type"`
	ContentID   string `json:"content_id,omitempty"`
	Size        int64  `json:"size"`
	Content     []byte `json:"-"`
}

// InboundMessage is a received message as the listener parsed it, for ReceiveInboundEmail.
type InboundMessage struct {
	// MailFrom and RcptTo are the SMTP envelope: the reverse path ("" for the null one) and
	// the recipient the route matched.
	MailFrom string
	RcptTo   string
	// From, To, Cc, Subject, MessageID and InReplyTo are the header fields, decoded.
	From      string
	To        []string
	Cc        []string
	Subject   string
	MessageID string
	InReplyTo string
	Text      string
	HTML      string
	Headers   []InboundHeader
	// Attachments are in the order of the message, each with its Content.
	Attachments []InboundAttachment
	// Size is the size of the raw message in bytes.
	Size int64
	// ReceiptID, when set, identifies this receipt of the message (the listener: a hash of
	// the message and its recipient), so a message delivered again (an SMTP retry after a
	// temporary failure) within NotificationRetention is stored once. Not stored.
	ReceiptID string `json:"-"`
}

// InboundEmail is a received message stored for its route's namespace.
type InboundEmail struct {
	ID       string
	OrgID    string
	TenantID string
	RouteID  string
	InboundMessage
	CreatedAt time.Time
}

// InboundEmailStore reads inbound emails.
type InboundEmailStore interface {
	// GetInboundEmail returns an email of exactly the scope's namespace, without attachment
	// contents, or CodeNotFound.
	GetInboundEmail(ctx context.Context, scope Scope, id string) (*InboundEmail, error)
	// ListInboundEmails returns one page of the namespace's emails, newest first, without
	// their bodies, headers and attachment contents.
	ListInboundEmails(ctx context.Context, scope Scope, q PageQuery) (*InboundEmailPage, error)
	// InboundAttachmentContent returns the content of the attachment at position n of an
	// email in the scope's namespace, or CodeNotFound.
	InboundAttachmentContent(ctx context.Context, scope Scope, emailID string, n int) ([]byte, error)
	// DeleteInboundEmailsBefore deletes at most limit emails, whatever their scope, whose id
	// sorts before beforeID, with their attachments, and returns how many it deleted.
	DeleteInboundEmailsBefore(ctx context.Context, beforeID string, limit int) (int, error)
}

// InboundEmailTx writes inbound emails.
type InboundEmailTx interface {
	// InsertInboundEmail inserts an email with the contents of its attachments.
	InsertInboundEmail(ctx context.Context, e *InboundEmail) error
}

// InboundEmailPage is one page of ListInboundEmails.
type InboundEmailPage struct {
	Emails  []*InboundEmail
	HasMore bool
}

// InboundEmailList is one page of emails, with the cursor of the next.
type InboundEmailList struct {
	Emails     []*InboundEmail
	HasMore    bool
	NextCursor string
}

// Limits on what is kept of a received message.
const (
	// MaxInboundBody bounds the text and the HTML kept; longer bodies are cut.
	MaxInboundBody = 1 << 20
	// MaxInboundAttachments bounds the attachments kept; later ones are dropped.
	MaxInboundAttachments = 100
	// MaxInboundHeaders bounds the header fields kept.
	MaxInboundHeaders = 200
)

// ReceiveInboundEmail stores a message received for route as an InboundEmail of the route's
// namespace and, when the route forwards to webhooks, queues an email.received event to
// every subscribed endpoint, in the same transaction. A message whose ReceiptID was received
// before changes nothing: ReceiveInboundEmail returns nil, nil.
func (c *Client) ReceiveInboundEmail(ctx context.Context, route *InboundRoute, m *InboundMessage) (*InboundEmail, error) {
	now := c.now()
	e := &InboundEmail{ID: NewID(PrefixInboundEmail, now), OrgID: route.OrgID, TenantID: route.TenantID, RouteID: route.ID,
		InboundMessage: *m, CreatedAt: now}
	// Text columns take neither NUL nor invalid UTF-8 (Postgres): every string is cleaned.
	e.Text, e.HTML = clean(m.Text, MaxInboundBody), clean(m.HTML, MaxInboundBody)
	e.Subject, e.From, e.MailFrom, e.RcptTo = clean(m.Subject, 2000), clean(m.From, 2000), clean(m.MailFrom, 512), clean(m.RcptTo, 512)
	e.MessageID, e.InReplyTo = clean(m.MessageID, 1000), clean(m.InReplyTo, 2000)
	e.To, e.Cc = cleanList(m.To), cleanList(m.Cc)
	e.Headers = make([]InboundHeader, 0, min(len(m.Headers), MaxInboundHeaders))
	for _, h := range m.Headers[:min(len(m.Headers), MaxInboundHeaders)] {
		e.Headers = append(e.Headers, InboundHeader{Name: clean(h.Name, 200), Value: clean(h.Value, 8000)})
	}
	e.Attachments = make([]InboundAttachment, 0, min(len(m.Attachments), MaxInboundAttachments))
	for _, a := range m.Attachments[:min(len(m.Attachments), MaxInboundAttachments)] {
		e.Attachments = append(e.Attachments, InboundAttachment{Filename: clean(a.Filename, 500), ContentType: clean(a.ContentType, 200),
			ContentID: clean(a.ContentID, 500), Size: int64(len(a.Content)), Content: a.Content})
	}
	dup := false
	err := c.inTx(ctx, func(ctx context.Context, tx Tx) error {
		if m.ReceiptID != "" {
			fresh, err := tx.MarkNotification(ctx, "inbound:"+m.ReceiptID, now)
			if err != nil {
				return err
			}
			if dup = !fresh; dup {
				return nil
			}
		}
		if err := tx.InsertInboundEmail(ctx, e); err != nil {
			return err
		}
		if !route.ForwardWebhook {
			return nil
		}
		return c.enqueueInboundWebhooks(ctx, tx, e) // webhook_fanout.go
	})
	if err != nil || dup {
		return nil, err
	}
	return e, nil
}

// cutUTF8 cuts s to at most n bytes on a character boundary, and makes it valid UTF-8.
func cutUTF8(s string, n int) string {
	if len(s) > n {
		s = s[:n]
		for len(s) > 0 {
			if r, size := utf8.DecodeLastRuneInString(s); r != utf8.RuneError || size > 1 {
				break
			}
			s = s[:len(s)-1]
		}
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// clean is cutUTF8 without NUL characters.
func clean(s string, n int) string { return strings.ReplaceAll(cutUTF8(s, n), "\x00", "") }

func cleanList(l []string) []string {
	out := make([]string, 0, min(len(l), 100))
	for _, s := range l[:min(len(l), 100)] {
		out = append(out, clean(s, 1000))
	}
	return out
}

// inboundWebhookPayload is the body of an email.received delivery: the docs' envelope with
// the email's metadata (its content is fetched with GET /api/v1/inbound-emails/{id}).
func inboundWebhookPayload(e *InboundEmail) ([]byte, error) {
	atts := make([]map[string]any, len(e.Attachments))
	for i, a := range e.Attachments {
		atts[i] = map[string]any{"filename": a.Filename, "content_type": a.ContentType, "size": a.Size}
	}
	to, cc := e.To, e.Cc
	if to == nil {
		to = []string{}
	}
	if cc == nil {
		cc = []string{}
	}
	data := map[string]any{
		"inbound_email_id": e.ID, "route_id": e.RouteID, "from": e.From, "to": to, "cc": cc,
		"subject": e.Subject, "message_id": e.MessageID, "in_reply_to": e.InReplyTo,
		"envelope": map[string]any{"mail_from": e.MailFrom, "rcpt_to": e.RcptTo},
		"size":     e.Size, "attachments": atts,
	}
	if e.TenantID != "" {
		data["tenant_id"] = e.TenantID
	}
	return json.Marshal(webhookEnvelope{Event: EventEmailReceived, Data: data, Timestamp: e.CreatedAt.UTC().Format(webhookTimeLayout)})
}

// GetInboundEmail returns an email of the caller's namespace with its bodies, headers and
// the descriptions of its attachments.
func (c *Client) GetInboundEmail(ctx context.Context, p *Principal, id string) (*InboundEmail, error) {
	if err := p.require(inboundReadPermissions...); err != nil {
		return nil, err
	}
	if !plausibleID(id) || !strings.HasPrefix(id, PrefixInboundEmail) {
		return nil, NotFound("inbound email")
	}
	e, err := c.store.GetInboundEmail(ctx, inboundNS(p), id)
	if err != nil {
		return nil, AsError(err)
	}
	return e, nil
}

// GetInboundAttachment returns the attachment at position n (0-based) of an email of the
// caller's namespace, with its content.
func (c *Client) GetInboundAttachment(ctx context.Context, p *Principal, id string, n int) (*InboundAttachment, error) {
	e, err := c.GetInboundEmail(ctx, p, id)
	if err != nil {
		return nil, err
	}
	if n < 0 || n >= len(e.Attachments) {
		return nil, NotFound("attachment")
	}
	content, err := c.store.InboundAttachmentContent(ctx, inboundNS(p), id, n)
	if err != nil {
		return nil, AsError(err)
	}
	a := e.Attachments[n]
	a.Content = content
	return &a, nil
}

// ListInboundEmails returns a page of the namespace's emails, newest first, without their
// bodies. lp.TenantID lists a tenant's (platform mode).
func (c *Client) ListInboundEmails(ctx context.Context, p *Principal, lp ListParams) (*InboundEmailList, error) {
	if err := p.require(inboundReadPermissions...); err != nil {
		return nil, err
	}
	p, err := c.ForTenant(ctx, p, lp.TenantID)
	if err != nil {
		return nil, err
	}
	q, err := pageQuery(lp)
	if err != nil {
		return nil, err
	}
	page, err := c.store.ListInboundEmails(ctx, inboundNS(p), q)
	if err != nil {
		return nil, AsError(err)
	}
	out := &InboundEmailList{Emails: page.Emails, HasMore: page.HasMore}
	if page.HasMore && len(page.Emails) > 0 {
		last := page.Emails[len(page.Emails)-1]
		out.NextCursor = EncodeCursor(Cursor{CreatedAt: last.CreatedAt, ID: last.ID})
	}
	return out, nil
}

// DeleteOldInboundEmails deletes inbound emails received more than the content retention
// (RetentionConfig.Content) ago: a received message is content, kept as long as sent
// messages keep theirs. It runs with PurgeContent and returns how many it deleted.
func (c *Client) DeleteOldInboundEmails(ctx context.Context) (int, error) {
	if c.retention.Content < 0 {
		return 0, nil
	}
	before := idBefore(PrefixInboundEmail, c.now().Add(-c.retention.Content))
	total := 0
	for ctx.Err() == nil {
		n, err := c.store.DeleteInboundEmailsBefore(ctx, before, RetentionChunk)
		total += n
		if err != nil || n < RetentionChunk {
			return total, err
		}
	}
	return total, ctx.Err()
}
