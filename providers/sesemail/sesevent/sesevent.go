// Package sesevent reads the email events Amazon SES publishes (through SNS) and says what
// they mean to Sendoka. It reads both forms: identity notifications (notificationType) and
// configuration-set event publishing (eventType); unknown fields are ignored.
//
// The mapping, per recipient:
//
//	Delivery               -> delivered
//	Bounce, Permanent      -> bounced (the core suppresses the address, reason bounce)
//	Bounce, Transient or
//	  Undetermined         -> soft_bounced: an event only, the message stays sent
//	Complaint              -> complaint (message.failed event; the core suppresses the
//	                          address, reason complaint; a delivered message stays delivered)
//	DeliveryDelay          -> delayed: an event only
//	Reject                 -> failed, for the whole message
//	Send, Open, Click, Rendering Failure, Subscription -> nothing (Sendoka tracks opens and
//	                          clicks itself)
package sesevent

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/sendoka/sendoka/sendoka"
)

// ErrMalformed wraps every error of Parse.
var ErrMalformed = errors.New("sesevent: malformed SES event")

// Provider is the Diagnostic.Provider of the diagnostics this package makes.
const Provider = "ses"

// Event is one SES event: what happened to which recipients of which message.
type Event struct {
	// Type is the event type: Delivery, Bounce, Complaint, Reject, DeliveryDelay, Send, Open,
	// Click, Rendering Failure, Subscription (as SES names it).
	Type string
	// MessageID is SES's id of the message (the SendEmail answer's MessageId).
	MessageID string
	// Timestamp is when SES says it happened (the event's own timestamp, else the mail's).
	Timestamp time.Time

	Bounce        *Bounce
	Complaint     *Complaint
	Delivery      *Delivery
	DeliveryDelay *DeliveryDelay
	Reject        *Reject
}

// Bounce is the bounce object of an SES event.
type Bounce struct {
	BounceType        string      `json:"bounceType"`
	BounceSubType     string      `json:"bounceSubType"`
	BouncedRecipients []Recipient `json:"bouncedRecipients"`
	Timestamp         string      `json:"timestamp"`
	FeedbackID        string      `json:"feedbackId"`
	ReportingMTA      string      `json:"reportingMTA"`
}

// Recipient is a recipient an SES event names, with the receiving server's word on it.
type Recipient struct {
	EmailAddress   string `json:"emailAddress"`
	Action         string `json:"action"`
	Status         string `json:"status"`
	DiagnosticCode string `json:"diagnosticCode"`
}

// Complaint is the complaint object of an SES event.
type Complaint struct {
	ComplainedRecipients  []Recipient `json:"complainedRecipients"`
	Timestamp             string      `json:"timestamp"`
	FeedbackID            string      `json:"feedbackId"`
	ComplaintSubType      string      `json:"complaintSubType"`
	ComplaintFeedbackType string      `json:"complaintFeedbackType"`
	UserAgent             string      `json:"userAgent"`
}

// Delivery is the delivery object of an SES event.
type Delivery struct {
	Timestamp            string   `json:"timestamp"`
	ProcessingTimeMillis int64    `json:"processingTimeMillis"`
	Recipients           []string `json:"recipients"`
	SMTPResponse         string   `json:"smtpResponse"`
	ReportingMTA         string   `json:"reportingMTA"`
}

// DeliveryDelay is the deliveryDelay object of an SES event.
type DeliveryDelay struct {
	Timestamp         string      `json:"timestamp"`
	DelayType         string      `json:"delayType"`
	ExpirationTime    string      `json:"expirationTime"`
	DelayedRecipients []Recipient `json:"delayedRecipients"`
	ReportingMTA      string      `json:"reportingMTA"`
}

// Reject is the reject object of an SES event.
type Reject struct {
	Reason string `json:"reason"`
}

type wire struct {
	NotificationType string `json:"notificationType"`
	EventType        string `json:"eventType"`
	Mail             struct {
		Timestamp string `json:"timestamp"`
		MessageID string `json:"messageId"`
	} `json:"mail"`
	Bounce        *Bounce        `json:"bounce"`
	Complaint     *Complaint     `json:"complaint"`
	Delivery      *Delivery      `json:"delivery"`
	DeliveryDelay *DeliveryDelay `json:"deliveryDelay"`
	Reject        *Reject        `json:"reject"`
}

// Parse reads an SES event (the Message of an SNS notification).
func Parse(b []byte) (*Event, error) {
	var w wire
	if err := json.Unmarshal(b, &w); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	e := &Event{Type: w.EventType, MessageID: w.Mail.MessageID, Bounce: w.Bounce, Complaint: w.Complaint,
		Delivery: w.Delivery, DeliveryDelay: w.DeliveryDelay, Reject: w.Reject}
	if e.Type == "" {
		e.Type = w.NotificationType
	}
	switch {
	case e.Type == "":
		return nil, fmt.Errorf("%w: neither eventType nor notificationType", ErrMalformed)
	case e.MessageID == "":
		return nil, fmt.Errorf("%w: no mail.messageId", ErrMalformed)
	}
	var own string
	switch e.Type {
	case "Bounce":
		if e.Bounce == nil {
			return nil, fmt.Errorf("%w: Bounce without bounce", ErrMalformed)
		}
		own = e.Bounce.Timestamp
	case "Complaint":
		if e.Complaint == nil {
			return nil, fmt.Errorf("%w: Complaint without complaint", ErrMalformed)
		}
		own = e.Complaint.Timestamp
	case "Delivery":
		if e.Delivery == nil {
			return nil, fmt.Errorf("%w: Delivery without delivery", ErrMalformed)
		}
		own = e.Delivery.Timestamp
	case "DeliveryDelay":
		if e.DeliveryDelay == nil {
			return nil, fmt.Errorf("%w: DeliveryDelay without deliveryDelay", ErrMalformed)
		}
		own = e.DeliveryDelay.Timestamp
	}
	for _, s := range []string{own, w.Mail.Timestamp} {
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			e.Timestamp = t.UTC()
			break
		}
	}
	return e, nil
}

// smtpCode finds the SMTP reply code in a diagnostic such as "smtp; 550 5.1.1 user unknown".
var smtpCode = regexp.MustCompile(`(?:^|[;\s])([245][0-9][0-9])(?:[\s\-]|$)`)

// diagnostic is the Diagnostic of one recipient of a bounce or delay.
func diagnostic(r Recipient, bounceType, subType string) *sendoka.Diagnostic {
	d := &sendoka.Diagnostic{Provider: Provider, Code: r.Status, Message: r.DiagnosticCode,
		EnhancedStatus: r.Status, BounceType: bounceType, BounceSubType: subType}
	if m := smtpCode.FindStringSubmatch(r.DiagnosticCode); m != nil {
		d.SMTPStatus = m[1]
	}
	if d.Message == "" {
		d.Message = strings.TrimSpace(bounceType + " " + subType)
	}
	return d
}

// ProviderEvents returns what e means, as reports for the core: one per recipient, or one
// for the whole message (a Reject). Event types Sendoka does not act on give none.
func (e *Event) ProviderEvents() []sendoka.ProviderEvent {
	var out []sendoka.ProviderEvent
	add := func(t sendoka.ProviderEventType, recipient string, d *sendoka.Diagnostic, data map[string]any) {
		out = append(out, sendoka.ProviderEvent{ProviderMessageID: e.MessageID, Type: t, Recipient: recipient,
			Diagnostic: d, Data: data, OccurredAt: e.Timestamp})
	}
	switch e.Type {
	case "Delivery":
		for _, r := range e.Delivery.Recipients {
			add(sendoka.ProviderDelivered, r, nil, map[string]any{"smtp_response": e.Delivery.SMTPResponse})
		}
	case "Bounce":
		t := sendoka.ProviderSoftBounced
		if e.Bounce.BounceType == "Permanent" {
			t = sendoka.ProviderBounced
		}
		for _, r := range e.Bounce.BouncedRecipients {
			add(t, r.EmailAddress, diagnostic(r, e.Bounce.BounceType, e.Bounce.BounceSubType),
				map[string]any{"bounce_type": e.Bounce.BounceType, "bounce_subtype": e.Bounce.BounceSubType})
		}
	case "Complaint":
		for _, r := range e.Complaint.ComplainedRecipients {
			data := map[string]any{}
			if e.Complaint.ComplaintFeedbackType != "" {
				data["feedback_type"] = e.Complaint.ComplaintFeedbackType
			}
			add(sendoka.ProviderComplaint, r.EmailAddress,
				&sendoka.Diagnostic{Provider: Provider, Code: "complaint", Message: "the recipient marked the message as spam"}, data)
		}
	case "DeliveryDelay":
		for _, r := range e.DeliveryDelay.DelayedRecipients {
			d := diagnostic(r, "", "")
			if r.DiagnosticCode == "" {
				d.Message = e.DeliveryDelay.DelayType
			}
			add(sendoka.ProviderDelayed, r.EmailAddress, d,
				map[string]any{"delay_type": e.DeliveryDelay.DelayType, "expiration_time": e.DeliveryDelay.ExpirationTime})
		}
	case "Reject":
		reason := "rejected by SES"
		if e.Reject != nil && e.Reject.Reason != "" {
			reason = e.Reject.Reason
		}
		add(sendoka.ProviderFailed, "", &sendoka.Diagnostic{Provider: Provider, Code: "rejected", Message: reason}, nil)
	}
	return out
}
