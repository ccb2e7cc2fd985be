package httpapi

import (
	"time"

	"github.com/sendoka/sendoka/sendoka"
)

// timeLayout is the docs' timestamp form: RFC 3339, UTC, milliseconds
// ("2026-04-22T10:14:22.113Z").
const timeLayout = "2006-01-02T15:04:05.000Z"

func formatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

func formatTimePtr(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := formatTime(*t)
	return &s
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// SendResponse is the answer to a send: the message is durable and queued.
type SendResponse struct {
	ID        string `json:"id" doc:"Message id" example:"msg_01HN8Z6Q4V3K2J1M0N9P8Q7R6S"`
	Channel   string `json:"channel" enum:"email,sms" example:"email"`
	Status    string `json:"status" enum:"queued,scheduled,sent,delivered,bounced,failed,canceled" doc:"Status at acceptance: queued, or scheduled for a future send" example:"queued"`
	CreatedAt string `json:"created_at" format:"date-time" doc:"RFC 3339, UTC, milliseconds" example:"2026-04-22T10:14:22.113Z"`
}

func sendResponse(m *sendoka.Message) *SendResponse {
	return &SendResponse{ID: m.ID, Channel: string(m.Channel), Status: string(m.Status), CreatedAt: formatTime(m.CreatedAt)}
}

// MessageDiagnostic is a provider's explanation of a bounce or failure.
type MessageDiagnostic struct {
	Provider       string  `json:"provider" doc:"Provider that reported it" example:"ses"`
	Code           string  `json:"code" doc:"The provider's own code" example:"5.1.1"`
	Message        string  `json:"message" doc:"The provider's or the receiving server's text" example:"smtp; 550 5.1.1 user unknown"`
	SMTPStatus     *string `json:"smtp_status,omitempty" doc:"SMTP reply code of the receiving server, when reported" example:"550"`
	EnhancedStatus *string `json:"enhanced_status,omitempty" doc:"RFC 3463 enhanced status code, when reported" example:"5.1.1"`
	BounceType     *string `json:"bounce_type,omitempty" doc:"The provider's bounce type (SES: Permanent, Transient, Undetermined)" example:"Permanent"`
	BounceSubType  *string `json:"bounce_subtype,omitempty" doc:"The provider's bounce sub-type (SES: General, NoEmail, Suppressed, MailboxFull, ...; a DSN read by the SMTP listener: the classifier's reason, user_unknown, mailbox_full, ...)" example:"General"`
	RemoteMTA      *string `json:"remote_mta,omitempty" doc:"The receiving server that answered, when a delivery report named it (a DSN's Remote-MTA)" example:"mx1.example.org"`
}

func diagnostic(d *sendoka.Diagnostic) *MessageDiagnostic {
	if d == nil {
		return nil
	}
	return &MessageDiagnostic{Provider: d.Provider, Code: d.Code, Message: d.Message, SMTPStatus: nullable(d.SMTPStatus),
		EnhancedStatus: nullable(d.EnhancedStatus), BounceType: nullable(d.BounceType), BounceSubType: nullable(d.BounceSubType), RemoteMTA: nullable(d.RemoteMTA)}
}

// DeliveryAttempt is one hand-off of a message to a provider, or a provider skipped.
type DeliveryAttempt struct {
	At          string             `json:"at" format:"date-time"`
	Provider    string             `json:"provider" example:"smtp"`
	Result      string             `json:"result" enum:"sent,transient,throttled,permanent,unknown,skipped" doc:"sent: accepted; transient and throttled: refused without taking it, moved to the next provider (failed_over) or retried at next_retry_at; permanent: refused; unknown: cut short mid-hand-off, never retried nor moved to another provider; skipped: not tried (its circuit breaker was open, or no connection was free)"`
	FailedOver  bool               `json:"failed_over" doc:"True when the same attempt then moved the message to the next provider of its route"`
	Diagnostic  *MessageDiagnostic `json:"diagnostic" doc:"The provider's answer when it was not a yes; null otherwise"`
	DurationMS  int64              `json:"duration_ms" doc:"How long the provider took to answer"`
	NextRetryAt *string            `json:"next_retry_at" format:"date-time" doc:"When the next attempt runs, after a transient or throttled result; null otherwise"`
	Recipients  []AttemptRecipient `json:"recipients" nullable:"false" doc:"For an email sent recipient by recipient (SMTP with a bounce domain, several recipients: one transaction each, with its own VERP return path), what this attempt did for each recipient it was to send to; recipients an earlier attempt settled are not listed, and no later attempt sends to them. Empty for a message sent in one hand-off"`
}

// AttemptRecipient is what one delivery attempt did for one recipient.
type AttemptRecipient struct {
	Address    string             `json:"address" example:"ada@example.com"`
	Result     string             `json:"result" enum:"sent,transient,throttled,permanent,unknown,skipped" doc:"sent: taken; permanent: refused for good (the recipient fails); unknown: the data went out and no answer came (never sent again); transient and throttled: refused for now, the next attempt sends to it; skipped: not tried (the attempt stopped at an earlier recipient, or no provider that sends recipient by recipient could be tried), the next attempt sends to it"`
	Diagnostic *MessageDiagnostic `json:"diagnostic" doc:"The provider's answer when it was not a yes; null otherwise"`
}

func deliveryAttempts(as []sendoka.DeliveryAttempt) []DeliveryAttempt {
	out := make([]DeliveryAttempt, len(as))
	for i, a := range as {
		out[i] = DeliveryAttempt{At: formatTime(a.At), Provider: a.Provider, Result: string(a.Result),
			Diagnostic: diagnostic(a.Diagnostic), DurationMS: a.DurationMS, NextRetryAt: formatTimePtr(a.NextRetryAt), FailedOver: a.FailedOver,
			Recipients: make([]AttemptRecipient, len(a.Recipients))}
		for j, r := range a.Recipients {
			out[i].Recipients[j] = AttemptRecipient{Address: r.Address, Result: string(r.Result), Diagnostic: diagnostic(r.Diagnostic)}
		}
	}
	return out
}

// MessageEvent is one entry of a message's timeline.
type MessageEvent struct {
	ID         string             `json:"id" example:"evt_01HN8Z6Q4V3K2J1M0N9P8Q7R6S"`
	Type       string             `json:"type" doc:"Event name, as in webhooks" example:"message.delivered"`
	Status     *string            `json:"status" doc:"Message status this event reports; null for opens and clicks" example:"delivered"`
	Recipient  *string            `json:"recipient" doc:"The recipient concerned, when the event is about one of several"`
	Diagnostic *MessageDiagnostic `json:"diagnostic" doc:"Provider diagnostic, or null"`
	Data       map[string]any     `json:"data" doc:"Event-specific details (for example a clicked URL); {} when none"`
	CreatedAt  string             `json:"created_at" format:"date-time" example:"2026-04-22T10:14:22.113Z"`
}

func events(evs []sendoka.Event) []MessageEvent {
	out := make([]MessageEvent, len(evs))
	for i, e := range evs {
		data := e.Data
		if data == nil {
			data = map[string]any{}
		}
		out[i] = MessageEvent{
			ID: e.ID, Type: string(e.Type), Status: nullable(string(e.Status)),
			Recipient: nullable(e.Recipient), Diagnostic: diagnostic(e.Diagnostic),
			Data: data, CreatedAt: formatTime(e.CreatedAt),
		}
	}
	return out
}

// messageFields are the fields both channels share, listed in each type for the schema.
type messageFields struct {
	id, channel, status, mode string
	stream                    string
	tags                      []string
	metadata                  map[string]any
	provider, providerMsgID   *string
	diagnostic                *MessageDiagnostic
	outcome                   *string
	attempts                  int
	deliveryAttempts          []DeliveryAttempt
	nextRetryAt               *string
	createdAt, updatedAt      string
	scheduledAt, sentAt       *string
	completedAt               *string
	contentPurged             bool
}

func commonFields(m *sendoka.Message) messageFields {
	md := m.Metadata
	if md == nil {
		md = map[string]any{}
	}
	return messageFields{
		id: m.ID, channel: string(m.Channel), status: string(m.Status), mode: string(m.Mode),
		stream: m.StreamName(), tags: nonNil(m.Tags), metadata: md,
		provider: nullable(m.Provider), providerMsgID: nullable(m.ProviderMessageID),
		diagnostic: diagnostic(m.Diagnostic), attempts: m.Attempts,
		outcome: nullable(string(m.Outcome)), deliveryAttempts: deliveryAttempts(m.DeliveryAttempts),
		nextRetryAt: formatTimePtr(m.NextRetryAt),
		scheduledAt: formatTimePtr(m.ScheduledAt), createdAt: formatTime(m.CreatedAt), updatedAt: formatTime(m.UpdatedAt),
		sentAt: formatTimePtr(m.SentAt), completedAt: formatTimePtr(m.CompletedAt),
		contentPurged: m.ContentPurgedAt != nil,
	}
}

// EmailMessage is an email as the API shows it (a list item; GET adds its events).
type EmailMessage struct {
	ID                string             `json:"id" example:"msg_01HN8Z6Q4V3K2J1M0N9P8Q7R6S"`
	Channel           string             `json:"channel" enum:"email"`
	Status            string             `json:"status" enum:"queued,scheduled,sent,delivered,bounced,failed,canceled" example:"delivered"`
	Mode              string             `json:"mode" enum:"live,test" doc:"live for sok_live_ keys; test messages are only simulated"`
	Stream            string             `json:"stream" enum:"transactional,broadcast" doc:"broadcast for the messages of an audience send, transactional for single and batch sends"`
	From              string             `json:"from" example:"you@sandbox.sendoka.com"`
	To                []string           `json:"to" nullable:"false" example:"[\"user@example.com\"]"`
	Cc                []string           `json:"cc" nullable:"false"`
	Bcc               []string           `json:"bcc" nullable:"false"`
	ReplyTo           []string           `json:"reply_to" nullable:"false"`
	Subject           string             `json:"subject" example:"Hello from Sendoka"`
	HTML              *string            `json:"html" doc:"HTML body, or null"`
	Text              *string            `json:"text" doc:"Plain text body, or null"`
	Attachments       []EmailAttachment  `json:"attachments" nullable:"false" doc:"Attachments as sent, without their content"`
	Headers           map[string]string  `json:"headers" doc:"Extra header fields sent; {} when none"`
	TrackOpens        bool               `json:"track_opens" doc:"Whether opens are tracked (when the server has SENDOKA_PUBLIC_URL)"`
	TrackClicks       bool               `json:"track_clicks" doc:"Whether clicks are tracked (when the server has SENDOKA_PUBLIC_URL)"`
	Tags              []string           `json:"tags" nullable:"false"`
	Metadata          map[string]any     `json:"metadata"`
	Provider          *string            `json:"provider" doc:"Provider that took (or refused) the message, or null before the hand-off" example:"sandbox"`
	ProviderMessageID *string            `json:"provider_message_id" doc:"The provider's id for the message, or null"`
	Diagnostic        *MessageDiagnostic `json:"diagnostic" doc:"Why it bounced or failed; null otherwise"`
	Outcome           *string            `json:"outcome" enum:"unknown" doc:"unknown: the hand-off was cut short (a timeout after the data was sent, or a crash), so the message may or may not have been delivered; it is not sent again. null otherwise"`
	Attempts          int                `json:"attempts" doc:"Delivery attempts that reached a provider"`
	DeliveryAttempts  []DeliveryAttempt  `json:"delivery_attempts" nullable:"false" doc:"Each hand-off to a provider (and each provider skipped), oldest first: with several providers, a failover reads as ses throttled (failed_over), then smtp sent"`
	NextRetryAt       *string            `json:"next_retry_at" format:"date-time" doc:"When the next delivery attempt runs after a transient failure, or null"`
	ScheduledAt       *string            `json:"scheduled_at" format:"date-time" doc:"When a scheduled send fires, or null"`
	CreatedAt         string             `json:"created_at" format:"date-time" example:"2026-04-22T10:14:22.113Z"`
	UpdatedAt         string             `json:"updated_at" format:"date-time" example:"2026-04-22T10:14:23.402Z"`
	SentAt            *string            `json:"sent_at" format:"date-time" doc:"When the provider took it, or null"`
	CompletedAt       *string            `json:"completed_at" format:"date-time" doc:"When it reached a final status, or null"`
	ContentPurged     bool               `json:"content_purged" doc:"true once retention removed the body (SENDOKA_RETENTION_CONTENT): addresses, subject, tags, metadata, status and events stay"`
}

// EmailMessageDetail is an email with its event timeline (GET /api/v1/emails/{id}).
type EmailMessageDetail struct {
	EmailMessage
	Recipients []RecipientOutcome `json:"recipients" nullable:"false" doc:"Each recipient (to, cc, bcc) with the provider's word on it; a recipient the provider has not reported on shows the message's status"`
	Events     []MessageEvent     `json:"events" nullable:"false" doc:"Timeline, oldest first"`
}

// RecipientOutcome is one recipient of an email and what its provider reported.
type RecipientOutcome struct {
	Email      string             `json:"email" example:"ada@example.com"`
	Status     string             `json:"status" enum:"queued,scheduled,sent,delivered,bounced,failed,canceled,delayed,soft_bounced,complained" doc:"delayed and soft_bounced: the provider is still trying; complained: delivered, then marked as spam"`
	Diagnostic *MessageDiagnostic `json:"diagnostic" doc:"The provider's diagnostic for this recipient (a bounce's SMTP status and text), or null"`
	UpdatedAt  *string            `json:"updated_at" format:"date-time" doc:"When the provider last reported on it; null when it has not"`
}

func recipientOutcomes(m *sendoka.Message) []RecipientOutcome {
	byAddr := make(map[string]sendoka.MessageRecipient, len(m.Recipients))
	for _, r := range m.Recipients {
		byAddr[r.Address] = r
	}
	addrs := m.Addresses()
	out := make([]RecipientOutcome, 0, len(addrs))
	for _, a := range addrs {
		o := RecipientOutcome{Email: a, Status: string(m.Status)}
		if r, ok := byAddr[a]; ok {
			o.Status, o.Diagnostic, o.UpdatedAt = string(r.Status), diagnostic(r.Diagnostic), formatTimePtr(&r.UpdatedAt)
		}
		out = append(out, o)
	}
	return out
}

func emailMessage(m *sendoka.Message) EmailMessage {
	f := commonFields(m)
	e := m.Email
	if e == nil {
		e = &sendoka.EmailContent{}
	}
	return EmailMessage{
		ID: f.id, Channel: f.channel, Status: f.status, Mode: f.mode, Stream: f.stream,
		From: e.From, To: nonNil(e.To), Cc: nonNil(e.Cc), Bcc: nonNil(e.Bcc), ReplyTo: nonNil(e.ReplyTo),
		Subject: e.Subject, HTML: nullable(e.HTML), Text: nullable(e.Text),
		Attachments: emailAttachments(e.Attachments), Headers: emailHeaders(e.Headers), // email_objects.go
		TrackOpens: e.TrackOpens, TrackClicks: e.TrackClicks,
		Tags: f.tags, Metadata: f.metadata, Provider: f.provider, ProviderMessageID: f.providerMsgID,
		Diagnostic: f.diagnostic, Outcome: f.outcome, Attempts: f.attempts, DeliveryAttempts: f.deliveryAttempts,
		NextRetryAt: f.nextRetryAt, ScheduledAt: f.scheduledAt,
		CreatedAt: f.createdAt, UpdatedAt: f.updatedAt, SentAt: f.sentAt, CompletedAt: f.completedAt,
		ContentPurged: f.contentPurged,
	}
}

// SMSMessage is an SMS as the API shows it (a list item; GET adds its events).
type SMSMessage struct {
	ID                string             `json:"id" example:"msg_01HN8Z6Q4V3K2J1M0N9P8Q7R6S"`
	Channel           string             `json:"channel" enum:"sms"`
	Status            string             `json:"status" enum:"queued,scheduled,sent,delivered,bounced,failed,canceled" example:"delivered"`
	Mode              string             `json:"mode" enum:"live,test" doc:"live for sok_live_ keys; test messages are only simulated"`
	Stream            string             `json:"stream" enum:"transactional,broadcast" doc:"broadcast for the messages of an audience send, transactional for single and batch sends"`
	From              string             `json:"from" example:"+15551234567"`
	To                string             `json:"to" example:"+15559876543"`
	Body              string             `json:"body" example:"Your code is 1234"`
	MediaURL          []string           `json:"media_url" nullable:"false" doc:"MMS media URLs"`
	Encoding          string             `json:"encoding" enum:"GSM-7,UCS-2" doc:"How the body travels: GSM-7, or UCS-2 when a character is outside GSM-7" example:"GSM-7"`
	Segments          int                `json:"segments" doc:"SMS parts the body is sent in: GSM-7 160 (153 per part), UCS-2 70 (67 per part)" example:"1"`
	PhoneNumberID     *string            `json:"phone_number_id" doc:"The registered sender it goes out from" example:"pn_01HN8Z6Q4V3K2J1M0N9P8Q7R6S"`
	FromPool          *string            `json:"from_pool" doc:"The pool the sender was picked from, or null when the request named from"`
	Tags              []string           `json:"tags" nullable:"false"`
	Metadata          map[string]any     `json:"metadata"`
	Provider          *string            `json:"provider" doc:"Provider that took (or refused) the message, or null before the hand-off" example:"sandbox"`
	ProviderMessageID *string            `json:"provider_message_id" doc:"The provider's id for the message, or null"`
	Diagnostic        *MessageDiagnostic `json:"diagnostic" doc:"Why it bounced or failed; null otherwise"`
	Outcome           *string            `json:"outcome" enum:"unknown" doc:"unknown: the hand-off was cut short (a timeout after the data was sent, or a crash), so the message may or may not have been delivered; it is not sent again. null otherwise"`
	Attempts          int                `json:"attempts" doc:"Delivery attempts that reached a provider"`
	DeliveryAttempts  []DeliveryAttempt  `json:"delivery_attempts" nullable:"false" doc:"Each hand-off to a provider (and each provider skipped), oldest first: with several providers, a failover reads as ses throttled (failed_over), then smtp sent"`
	NextRetryAt       *string            `json:"next_retry_at" format:"date-time" doc:"When the next delivery attempt runs after a transient failure, or null"`
	ScheduledAt       *string            `json:"scheduled_at" format:"date-time" doc:"When a scheduled send fires, or null"`
	CreatedAt         string             `json:"created_at" format:"date-time" example:"2026-04-22T10:14:22.113Z"`
	UpdatedAt         string             `json:"updated_at" format:"date-time" example:"2026-04-22T10:14:23.402Z"`
	SentAt            *string            `json:"sent_at" format:"date-time" doc:"When the provider took it, or null"`
	CompletedAt       *string            `json:"completed_at" format:"date-time" doc:"When it reached a final status, or null"`
	ContentPurged     bool               `json:"content_purged" doc:"true once retention removed the body (SENDOKA_RETENTION_CONTENT): addresses, subject, tags, metadata, status and events stay"`
}

// SMSMessageDetail is an SMS with its event timeline (GET /api/v1/sms/{id}).
type SMSMessageDetail struct {
	SMSMessage
	Events []MessageEvent `json:"events" nullable:"false" doc:"Timeline, oldest first"`
}

func smsMessage(m *sendoka.Message) SMSMessage {
	f := commonFields(m)
	s := m.SMS
	if s == nil {
		s = &sendoka.SMSContent{}
	}
	return SMSMessage{
		ID: f.id, Channel: f.channel, Status: f.status, Mode: f.mode, Stream: f.stream,
		From: s.From, To: s.To, Body: s.Body, MediaURL: nonNil(s.MediaURLs),
		Encoding: string(s.Encoding), Segments: s.Segments,
		PhoneNumberID: nullable(s.PhoneNumberID), FromPool: nullable(s.PoolID),
		Tags: f.tags, Metadata: f.metadata, Provider: f.provider, ProviderMessageID: f.providerMsgID,
		Diagnostic: f.diagnostic, Outcome: f.outcome, Attempts: f.attempts, DeliveryAttempts: f.deliveryAttempts,
		NextRetryAt: f.nextRetryAt, ScheduledAt: f.scheduledAt,
		CreatedAt: f.createdAt, UpdatedAt: f.updatedAt, SentAt: f.sentAt, CompletedAt: f.completedAt,
		ContentPurged: f.contentPurged,
	}
}

// EmailList is one page of emails, newest first.
type EmailList struct {
	Data       []EmailMessage `json:"data" nullable:"false"`
	HasMore    bool           `json:"has_more" doc:"Whether another page follows"`
	NextCursor *string        `json:"next_cursor" doc:"Pass as cursor for the next page; null on the last page"`
}

// SMSList is one page of SMS, newest first.
type SMSList struct {
	Data       []SMSMessage `json:"data" nullable:"false"`
	HasMore    bool         `json:"has_more" doc:"Whether another page follows"`
	NextCursor *string      `json:"next_cursor" doc:"Pass as cursor for the next page; null on the last page"`
}
