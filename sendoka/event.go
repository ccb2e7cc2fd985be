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
	// EventDeferred marks a transient delivery failure: the message stays queued and is
	// retried at the time in the event's data (next_retry_at).
	EventDeferred EventType = "message.deferred"
	// EventSuppressed marks a recipient dropped from a message at acceptance because it is on
	// the suppression list; Recipient names it and Data its reason. The message goes to the
	// other recipients.
	EventSuppressed EventType = "message.suppressed"
	// EventSoftBounced marks a transient bounce a provider reported (an SES Transient bounce,
	// a full mailbox): the provider keeps trying, the status stays sent.
	EventSoftBounced EventType = "message.soft_bounced"
	// EventDelayed marks a delivery a provider reported delayed (an SES DeliveryDelay); the
	// status stays sent.
	EventDelayed EventType = "message.delayed"
	// EventComplained marks a complaint a recipient made about the message (an ARF report
	// that came back to the inbound listener): the recipient is suppressed, the status
	// stays.
	EventComplained EventType = "message.complained"
	// EventOutcomeUnknown marks a hand-off cut short: the message is sent with
	// OutcomeUnknown and is not retried.
	EventOutcomeUnknown EventType = "message.outcome_unknown"
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

	// msg is the message the event is about, when the code that made the event had it:
	// recordEvents reads its tags for the webhook filters instead of loading it again.
	msg *Message
}
