package sendoka

import "time"

// EventType names something that happened to a message. The message.* names are the
// webhook event names of the docs.
type EventType string

// Event types.
const (
	EventQueued    EventType = "message.queued"
	EventScheduled EventType = "message.scheduled"
	EventSent      EventType = "message.sent"
	EventDelivered EventType = "message.delivered"
	EventBounced   EventType = "message.bounced"
	EventFailed    EventType = "message.failed"
	EventCanceled  EventType = "message.canceled"
	EventOpened    EventType = "message.opened"
	EventClicked   EventType = "message.clicked"
)

// Event is one entry of a message's timeline. Events are only ever appended.
type Event struct {
	ID        string
	OrgID     string
	TenantID  string
	MessageID string
	Type      EventType
	// Status is the message status this event reports ("" for opens and clicks).
	Status Status
	// Recipient is set when the event concerns one recipient of several.
	Recipient  string
	Diagnostic *Diagnostic
	// Data holds event-specific details (for example the clicked URL).
	Data      map[string]any
	CreatedAt time.Time
}
