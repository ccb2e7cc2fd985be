// Package smsevent reads the SMS events AWS publishes to an SNS topic: delivery status events
// of AWS End User Messaging SMS (configuration-set event destinations: eventType TEXT_*), SNS
// SMS delivery status records (notification + delivery + status SUCCESS/FAILURE), and inbound
// two-way SMS (originationNumber, destinationNumber, messageBody).
//
// Delivery statuses map to Sendoka's as:
//
//	TEXT_DELIVERED, TEXT_SUCCESSFUL (final), status SUCCESS  -> delivered
//	TEXT_PENDING, TEXT_QUEUED, any event not final           -> nothing (still in flight)
//	any other final TEXT_* (BLOCKED, UNREACHABLE, INVALID,
//	  SPAM, TTL_EXPIRED, CARRIER_*, UNKNOWN ...), FAILURE     -> failed, with the status as
//	                                                            the diagnostic
package smsevent

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sendoka/sendoka/sendoka"
)

// ErrMalformed wraps every error of Parse.
var ErrMalformed = errors.New("smsevent: malformed SMS event")

// Provider is the Diagnostic.Provider of the diagnostics this package makes.
const Provider = "sns"

// Event is one SMS event: a delivery status (Status set) or an inbound message (Inbound set).
type Event struct {
	Status  *Status
	Inbound *Inbound
}

// Status is a delivery report of one outbound SMS.
type Status struct {
	// MessageID is the provider's id of the message (what the send returned).
	MessageID   string
	Destination string
	// Type is the End User Messaging event type (TEXT_DELIVERED ...), or SUCCESS / FAILURE
	// for an SNS delivery status record.
	Type        string
	Final       bool
	Description string
	At          time.Time
}

// Inbound is a message a recipient sent to one of our numbers.
type Inbound struct {
	// From is the sender (originationNumber), To our number (destinationNumber).
	From, To, Body string
	// ID is the provider's id of the inbound message.
	ID string
}

type wire struct {
	// End User Messaging events.
	EventType                string `json:"eventType"`
	IsFinal                  *bool  `json:"isFinal"`
	MessageID                string `json:"messageId"`
	DestinationPhoneNumber   string `json:"destinationPhoneNumber"`
	MessageStatus            string `json:"messageStatus"`
	MessageStatusDescription string `json:"messageStatusDescription"`
	EventTimestamp           int64  `json:"eventTimestamp"`
	// SNS delivery status records.
	Notification *struct {
		MessageID string `json:"messageId"`
		Timestamp string `json:"timestamp"`
	} `json:"notification"`
	Delivery *struct {
		Destination      string `json:"destination"`
		ProviderResponse string `json:"providerResponse"`
	} `json:"delivery"`
	Status string `json:"status"`
	// Inbound two-way SMS.
	OriginationNumber string `json:"originationNumber"`
	DestinationNumber string `json:"destinationNumber"`
	MessageBody       string `json:"messageBody"`
	InboundMessageID  string `json:"inboundMessageId"`
}

// Parse reads an SMS event (the Message of an SNS notification).
func Parse(b []byte) (*Event, error) {
	var w wire
	if err := json.Unmarshal(b, &w); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	switch {
	case strings.HasPrefix(w.EventType, "TEXT_"):
		if w.MessageID == "" {
			return nil, fmt.Errorf("%w: no messageId", ErrMalformed)
		}
		s := &Status{MessageID: w.MessageID, Destination: w.DestinationPhoneNumber, Type: w.EventType,
			Final: w.IsFinal == nil || *w.IsFinal, Description: w.MessageStatusDescription}
		if w.EventTimestamp > 0 {
			s.At = time.UnixMilli(w.EventTimestamp).UTC()
		}
		return &Event{Status: s}, nil
	case w.Notification != nil && (w.Status == "SUCCESS" || w.Status == "FAILURE"):
		if w.Notification.MessageID == "" {
			return nil, fmt.Errorf("%w: no notification.messageId", ErrMalformed)
		}
		s := &Status{MessageID: w.Notification.MessageID, Type: w.Status, Final: true}
		if w.Delivery != nil {
			s.Destination, s.Description = w.Delivery.Destination, w.Delivery.ProviderResponse
		}
		if t, err := time.Parse("2006-01-02 15:04:05.999", w.Notification.Timestamp); err == nil {
			s.At = t.UTC()
		}
		return &Event{Status: s}, nil
	case w.OriginationNumber != "" && w.DestinationNumber != "":
		return &Event{Inbound: &Inbound{From: w.OriginationNumber, To: w.DestinationNumber, Body: w.MessageBody, ID: w.InboundMessageID}}, nil
	}
	return nil, fmt.Errorf("%w: neither a delivery status nor an inbound message", ErrMalformed)
}

// ProviderEvent returns what a delivery status means to the core, and false for a status
// that changes nothing (not final, or still pending).
func (s *Status) ProviderEvent() (sendoka.ProviderEvent, bool) {
	pe := sendoka.ProviderEvent{ProviderMessageID: s.MessageID, Recipient: s.Destination, OccurredAt: s.At,
		Data: map[string]any{"sms_status": s.Type}}
	switch {
	case !s.Final, s.Type == "TEXT_PENDING", s.Type == "TEXT_QUEUED":
		return pe, false
	case s.Type == "TEXT_DELIVERED", s.Type == "TEXT_SUCCESSFUL", s.Type == "SUCCESS":
		pe.Type = sendoka.ProviderDelivered
	default:
		pe.Type = sendoka.ProviderFailed
		msg := s.Description
		if msg == "" {
			msg = s.Type
		}
		pe.Diagnostic = &sendoka.Diagnostic{Provider: Provider, Code: strings.ToLower(strings.TrimPrefix(s.Type, "TEXT_")), Message: msg}
	}
	return pe, true
}
