package sendoka

import "time"

// Channel is how a message travels.
type Channel string

// The two channels.
const (
	ChannelEmail Channel = "email"
	ChannelSMS   Channel = "sms"
)

// Status is where a message is in its life. See CanTransition for the machine.
type Status string

// The documented statuses.
const (
	StatusQueued    Status = "queued"    // accepted, internal flight state
	StatusScheduled Status = "scheduled" // waiting for scheduled_at
	StatusSent      Status = "sent"      // handed to provider
	StatusDelivered Status = "delivered" // provider confirmed
	StatusBounced   Status = "bounced"   // rejected by recipient mail server / carrier
	StatusFailed    Status = "failed"    // provider error before send
	StatusCanceled  Status = "canceled"  // scheduled send canceled
)

// Statuses lists every status.
var Statuses = []Status{StatusQueued, StatusScheduled, StatusSent, StatusDelivered, StatusBounced, StatusFailed, StatusCanceled}

// Valid reports whether s is a documented status.
func (s Status) Valid() bool {
	for _, v := range Statuses {
		if s == v {
			return true
		}
	}
	return false
}

// Terminal reports whether no further transition leaves s.
func (s Status) Terminal() bool {
	switch s {
	case StatusDelivered, StatusBounced, StatusFailed, StatusCanceled:
		return true
	}
	return false
}

var transitions = map[Status][]Status{
	StatusQueued:    {StatusSent, StatusFailed},
	StatusScheduled: {StatusQueued, StatusSent, StatusFailed, StatusCanceled},
	StatusSent:      {StatusDelivered, StatusBounced, StatusFailed},
}

// CanTransition reports whether a message may move from one status to another:
// queued|scheduled -> sent -> delivered|bounced; queued|sent -> failed; scheduled -> canceled.
// A terminal status never moves.
func CanTransition(from, to Status) bool {
	for _, s := range transitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

// Mode says whether a message was sent with a live or a test key. Test messages only ever
// reach the sandbox provider.
type Mode string

// The two key modes.
const (
	ModeLive Mode = "live"
	ModeTest Mode = "test"
)

// Message is one email or SMS and everything known about its delivery.
type Message struct {
	// senderDailyCap is the daily cap of an SMS's sender, found when the sender is resolved
	// and applied at admission (warmup.go); never stored.
	senderDailyCap int64
	// senderCountry is the ISO country of an SMS's sender, found with it (for the opt-out
	// hint of broadcast SMS, sms_opt_out.go); never stored.
	senderCountry string
	// suppressed are the suppressions that dropped recipients of an email at acceptance;
	// each gets a message.suppressed event when the message is stored. Never stored itself.
	suppressed []*Suppression

	ID       string
	OrgID    string
	TenantID string // "" when not in a tenant
	KeyID    string // the API key that sent it, if any
	Channel  Channel
	Mode     Mode
	Status   Status
	// Stream is StreamBroadcast for the messages of an audience send, and "" (read:
	// StreamTransactional) for single and batch sends. Broadcast messages are delivered on
	// the bulk queue, so they never delay transactional ones.
	Stream string

	// Email is set for ChannelEmail, SMS for ChannelSMS.
	Email *EmailContent
	SMS   *SMSContent

	Tags     []string
	Metadata map[string]any

	ScheduledAt *time.Time
	// JobID is the queue's id of the job that delivers this message.
	JobID int64
	// ClaimedAt is set when a delivery attempt has taken the message and cleared when the
	// attempt gives it back for a retry. A claimed message is never handed to a provider by
	// another attempt (at-most-once sends).
	ClaimedAt *time.Time
	// LeaseUntil is when the claim lapses unless the attempt that holds it renews it (it
	// does while it waits for the provider). A lapsed claim on a queued message was left by
	// a process that died mid-hand-off: recovery records its outcome as unknown.
	LeaseUntil *time.Time
	// NextRetryAt is when the next delivery attempt runs, after a transient failure.
	NextRetryAt *time.Time

	// Provider is the name of the provider that took (or refused) the message.
	Provider          string
	ProviderMessageID string
	// Diagnostic explains a bounce or a failure.
	Diagnostic *Diagnostic
	// Outcome is OutcomeUnknown for a sent message whose hand-off was interrupted: it may or
	// may not have reached the provider, and it is never sent again. "" otherwise.
	Outcome Outcome
	// Attempts counts hand-offs that reached a provider (skipped providers are not counted).
	Attempts int
	// DeliveryAttempts records each of them, oldest first.
	DeliveryAttempts []DeliveryAttempt

	CreatedAt   time.Time
	UpdatedAt   time.Time
	SentAt      *time.Time
	CompletedAt *time.Time // when it reached a terminal status

	// ContentPurgedAt is when retention blanked the message's content (retention.go), or
	// nil.
	ContentPurgedAt *time.Time

	// Events is the timeline, oldest first. Filled by Client.GetMessage only.
	Events []Event
	// Recipients are the provider's per-recipient outcomes, by address (only recipients a
	// provider reported on). Filled by Client.GetMessage only.
	Recipients []MessageRecipient
}

// EmailContent is what an email message says and to whom.
type EmailContent struct {
	From    string   `json:"from"`
	To      []string `json:"to"`
	Cc      []string `json:"cc,omitempty"`
	Bcc     []string `json:"bcc,omitempty"`
	ReplyTo []string `json:"reply_to,omitempty"`
	Subject string   `json:"subject"`
	HTML    string   `json:"html,omitempty"`
	Text    string   `json:"text,omitempty"`
	// Attachments are described here; their content is kept apart (see Attachment).
	Attachments []Attachment      `json:"attachments,omitempty"`
	Headers     map[string]string `json:"headers,omitempty"`
	TrackOpens  bool              `json:"track_opens,omitempty"`
	TrackClicks bool              `json:"track_clicks,omitempty"`
}

// SMSContent is what an SMS says and to whom.
type SMSContent struct {
	From      string   `json:"from"`
	To        string   `json:"to"`
	Body      string   `json:"body"`
	MediaURLs []string `json:"media_url,omitempty"`
	// PhoneNumberID is the registered sender the message goes out from, and PoolID the pool
	// it was picked from ("" when the request named from).
	PhoneNumberID string `json:"phone_number_id,omitempty"`
	PoolID        string `json:"from_pool,omitempty"`
	// Encoding and Segments are how the body travels: GSM-7 or UCS-2, in so many parts.
	Encoding SMSEncoding `json:"encoding,omitempty"`
	Segments int         `json:"segments,omitempty"`
}

// StreamName returns the message's stream: StreamBroadcast or StreamTransactional.
func (m *Message) StreamName() string {
	if m.Stream == StreamBroadcast {
		return StreamBroadcast
	}
	return StreamTransactional
}

// From returns the sender of m, whatever its channel.
func (m *Message) From() string {
	switch {
	case m.Email != nil:
		return m.Email.From
	case m.SMS != nil:
		return m.SMS.From
	}
	return ""
}

// Outcome qualifies a sent message whose hand-off did not finish cleanly.
type Outcome string

// OutcomeUnknown: the message was being handed to the provider when the attempt was cut
// short (a timeout after the data was sent, or a crash), so whether the provider took it is
// not known. The message is recorded as sent, with a diagnostic and a
// message.outcome_unknown event, and it is never sent again: a relay that took the data may
// already be delivering it, and none of the providers deduplicates.
const OutcomeUnknown Outcome = "unknown"

// AttemptResult is how one delivery attempt ended.
type AttemptResult string

// Attempt results.
const (
	AttemptSent      AttemptResult = "sent"      // the provider accepted the message
	AttemptTransient AttemptResult = "transient" // a retryable failure; another attempt follows
	AttemptThrottled AttemptResult = "throttled" // the provider asked us to slow down
	AttemptPermanent AttemptResult = "permanent" // the provider refused the message for good
	AttemptUnknown   AttemptResult = "unknown"   // cut short mid-hand-off: OutcomeUnknown
	// AttemptSkipped: the provider was not tried (its circuit breaker was open, or none of
	// its connections was free); the message went on to the next provider, or waits for
	// the next attempt when there was none.
	AttemptSkipped AttemptResult = "skipped"
)

// DeliveryAttempt is one hand-off of a message to a provider, or one provider skipped
// (AttemptSkipped). One delivery attempt may try several providers in turn: each but the
// last has FailedOver set.
type DeliveryAttempt struct {
	At         time.Time     `json:"at"`
	Provider   string        `json:"provider"`
	Result     AttemptResult `json:"result"`
	Diagnostic *Diagnostic   `json:"diagnostic,omitempty"`
	// DurationMS is how long the provider took to answer.
	DurationMS int64 `json:"duration_ms"`
	// NextRetryAt is when the next attempt runs, after a transient or throttled result.
	NextRetryAt *time.Time `json:"next_retry_at,omitempty"`
	// FailedOver is true when the message went on to the next provider of its route in the
	// same delivery attempt: this provider refused it without taking it (transient,
	// throttled) or was skipped.
	FailedOver bool `json:"failed_over,omitempty"`
	// Recipients, for a message sent recipient by recipient (one SMTP transaction each,
	// PerRecipientSender), is what this attempt did for each recipient it was to send to;
	// recipients an earlier attempt settled are not listed, since no later attempt sends to
	// them. Empty for a message sent in one hand-off.
	Recipients []AttemptRecipient `json:"recipients,omitempty"`
}

// AttemptRecipient is what one delivery attempt did for one recipient of a message sent
// recipient by recipient.
//
// Result is sent (the provider took it), permanent (refused for good: the recipient fails,
// and is never sent to again), unknown (the data went out and no answer came: never sent
// again either), transient or throttled (refused for now: the next attempt sends to it), or
// skipped (not tried: the attempt stopped at an earlier recipient, or no provider that
// sends recipient by recipient could be tried; the next attempt sends to it).
type AttemptRecipient struct {
	// Address is the normalised address (NormalizeSuppressionAddress).
	Address    string        `json:"address"`
	Result     AttemptResult `json:"result"`
	Diagnostic *Diagnostic   `json:"diagnostic,omitempty"`
}

// Diagnostic is a provider's explanation of a bounce or failure.
type Diagnostic struct {
	Provider string `json:"provider,omitempty"`
	Code     string `json:"code,omitempty"`
	Message  string `json:"message"`
	// SMTPStatus is the SMTP reply code of the receiving server (for example "550"), and
	// EnhancedStatus its RFC 3463 status ("5.1.1"), when the provider reported them.
	SMTPStatus     string `json:"smtp_status,omitempty"`
	EnhancedStatus string `json:"enhanced_status,omitempty"`
	// BounceType and BounceSubType are the provider's classification of a bounce (SES:
	// Permanent/Transient/Undetermined and General, NoEmail, Suppressed, MailboxFull, ...).
	BounceType    string `json:"bounce_type,omitempty"`
	BounceSubType string `json:"bounce_subtype,omitempty"`
	// RemoteMTA is the receiving server that gave the answer, when a delivery report named
	// it (a DSN's Remote-MTA).
	RemoteMTA string `json:"remote_mta,omitempty"`
}
