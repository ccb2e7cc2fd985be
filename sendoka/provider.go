package sendoka

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"time"
)

// OutboundEmail is an email ready for a provider. The core has validated every field:
// addresses parse (in the form `local@domain` or `"Name" <local@domain>`), the sender's
// domain is allowed, at least one body is set, and no value that reaches a header holds a
// line break. providers/mimemail turns it into an RFC 5322 message.
type OutboundEmail struct {
	// MessageID is Sendoka's id; providers that support deduplication use it as the key, so
	// a retried hand-off is not sent twice.
	MessageID string
	From      string
	To        []string
	Cc        []string
	Bcc       []string
	ReplyTo   []string
	Subject   string
	// HTML already carries the tracking pixel and tracked links when tracking is on.
	HTML string
	Text string
	Tags []string
	// Attachments are in request order, each with its Content; those with a ContentID are
	// inline images the HTML refers to as cid:ContentID.
	Attachments []Attachment
	// Headers are extra header fields (no reserved names, no line breaks).
	Headers map[string]string
	// ReturnPath, when set, is the envelope sender (SMTP MAIL FROM) to use instead of From's
	// address: a VERP address (bounces+<token>@<bounce domain>, Config.Inbound) whose
	// bounces the inbound listener matches to this message. A provider that writes the
	// envelope itself (SMTP) uses it; the others ignore it.
	ReturnPath string
	// Envelopes, when not empty, asks for one transaction per envelope instead of one for
	// every recipient: the same message (headers, body, signature), each time with the
	// envelope's return path and its one recipient. The core sets it only for a provider
	// that is a PerRecipientSender reporting true, and then it lists only the recipients
	// still to send to: those an earlier attempt delivered to, left with an unknown outcome
	// or saw refused for good are left out (To, Cc and Bcc still name every recipient, as
	// the headers must). See PerRecipientSender for what the provider reports.
	Envelopes []Envelope
	// DKIM, when not nil, is the key to sign the message with before it leaves: the core
	// sets it for live mail from a verified domain whose key Sendoka holds (a domain
	// provisioned by a DomainProvisioner never has one). A provider that writes the message
	// onto the wire itself (SMTP) must sign it with this key, once, as built, adding one
	// DKIM-Signature header field (providers/mimemail.SignDKIM); a provider that signs for
	// the domain itself (SES with Easy DKIM) or delivers nothing (the sandbox, memsend)
	// ignores it. A provider that cannot sign returns a Permanent error rather than send
	// the message unsigned.
	DKIM *DKIMKey
}

// Envelope is one transaction of a message sent recipient by recipient
// (OutboundEmail.Envelopes).
type Envelope struct {
	// Recipient is the address to send to (RCPT TO), as the message's To, Cc or Bcc
	// write it.
	Recipient string
	// ReturnPath is the envelope sender (MAIL FROM) of this transaction: a VERP address
	// whose token names the message and this recipient. "" means OutboundEmail.ReturnPath,
	// or From's address when that is "" too.
	ReturnPath string
}

// DKIMKey is a DKIM signing key of a domain: a signature made with it names the domain (d=)
// and the selector (s=) under which its public key is published in DNS
// (<Selector>._domainkey.<Domain>).
type DKIMKey struct {
	Domain   string
	Selector string
	// Signer is the private key, an *rsa.PrivateKey (2048 bits) for the keys Sendoka makes.
	Signer crypto.Signer
}

// OutboundSMS is an SMS ready for a provider. To (and From, when a number) are E.164.
type OutboundSMS struct {
	MessageID string
	From      string
	To        string
	Body      string
	MediaURLs []string
}

// SendResult is what a provider says when it accepts a message.
type SendResult struct {
	// ProviderMessageID is the provider's own id for the message.
	ProviderMessageID string
	// Events are outcomes the provider already knows (a simulated delivery, for instance).
	// The core records them durably and applies them after the send is recorded.
	Events []ProviderEvent
	// Recipients are the envelopes of OutboundEmail.Envelopes the provider tried, in the
	// order it tried them, each with its own answer; empty for a message sent in one
	// transaction. See PerRecipientSender.
	Recipients []RecipientResult
}

// RecipientResult is a provider's answer for one envelope of a message sent recipient by
// recipient.
type RecipientResult struct {
	// Recipient is the envelope's Recipient, as it was given.
	Recipient string
	// Err is nil when the provider took the message for this recipient, else a
	// *ProviderError classified as SendEmail's errors are: Transient or Throttled (not
	// taken, may go again), Permanent (refused for good), Unknown (the data went out and
	// no answer came: the recipient must never be sent the message again).
	Err error
}

// EmailSender hands emails to a provider. Implementations: providers/sesemail,
// providers/smtpemail, providers/sandbox, providers/memsend. providers/providertest is the
// conformance suite.
//
// SendEmail must be safe for concurrent use. It returns a nil error only when the provider
// accepted the message. Errors should be *ProviderError so the core can tell a retry from a
// failure; any other error is treated as transient.
type EmailSender interface {
	SendEmail(ctx context.Context, m *OutboundEmail) (SendResult, error)
}

// SMSSender hands SMS to a provider, with the same contract as EmailSender.
type SMSSender interface {
	SendSMS(ctx context.Context, m *OutboundSMS) (SendResult, error)
}

// Namer is implemented by providers that report their name (recorded on each message).
type Namer interface {
	Name() string
}

// Deduplicator is implemented by providers that deduplicate on OutboundEmail.MessageID /
// OutboundSMS.MessageID. The core may then retry a hand-off whose outcome is unknown (a crash
// between the call and the record of its result) instead of failing it.
type Deduplicator interface {
	Deduplicates() bool
}

// PerRecipientSender is implemented by email providers that write the SMTP envelope
// themselves (providers/smtpemail) and can send a message in one transaction per
// recipient, each with a return path of its own, so that a bounce names its recipient by
// the address it comes back to. The core uses it when a VERP bounce domain is configured
// and a message has several recipients (and, after that, for every later attempt of the
// message); a provider without it always gets the whole message in one hand-off, and never
// gets a message some of whose recipients an earlier attempt already sent to.
//
// Given OutboundEmail.Envelopes, SendEmail sends one transaction per envelope, in order,
// and reports each envelope it tried in SendResult.Recipients with its own answer. It
// carries on after a refusal of one recipient (a 4xx or 5xx reply), and may stop early when
// it cannot go on (a lost connection, throttling, an unknown outcome, an ended context, too
// little time left to finish another transaction): the envelopes it did not try are absent
// from Recipients, and the error it returns says why it stopped. It returns a nil error when
// it tried every envelope, whatever their answers, and SendResult.ProviderMessageID whenever
// it tried at least one. The core records each recipient's answer with the attempt and
// never gives an envelope that was taken, refused for good or left unknown to a later one.
type PerRecipientSender interface {
	SendsPerRecipient() bool
}

// ConcurrencyLimiter is implemented by providers that hand off a bounded number of messages
// at once (an SMTP sender's connections). The core takes one of MaxConcurrency slots before
// it claims a message and holds it until the provider answers, so waiting for a connection
// never counts against a send's deadline and no more messages are mid-hand-off than the
// provider has connections. A provider without it is limited only by the queue's workers.
type ConcurrencyLimiter interface {
	MaxConcurrency() int
}

// ProviderErrorKind classifies a provider failure.
type ProviderErrorKind string

// The three kinds of provider failure.
const (
	// Throttled: the provider is rate limiting us; try again later, the message is fine.
	// It did not take the message: with several providers, the core may hand it to the next.
	Throttled ProviderErrorKind = "throttled"
	// Transient: a network or server failure before the provider took the message (a refused
	// connection, a 4xx answer, a request that never left); try again. The core may hand the
	// message to another provider at once (Config.EmailProviders), so a failure that may have
	// left the message with the provider must be Unknown, never Transient.
	Transient ProviderErrorKind = "transient"
	// Permanent: the provider will never take this message (bad address, rejected content).
	Permanent ProviderErrorKind = "permanent"
	// Unknown: the message may have reached the provider, and whether it took it is not
	// known: the data was sent and no answer came (a timeout or a dropped connection after
	// SMTP's final ".", or after an API request was written). The core records the message
	// as sent with an unknown outcome and never sends it again, since none of the providers
	// deduplicate and a relay that took the data may already be delivering it.
	Unknown ProviderErrorKind = "unknown"
)

// ProviderError is a classified provider failure.
type ProviderError struct {
	Kind     ProviderErrorKind
	Provider string
	// Code and Message are the provider's own, kept as the message's diagnostic.
	Code    string
	Message string
	// RetryAfter, when positive, is how long the provider asked us to wait.
	RetryAfter time.Duration
	Err        error
}

// Error implements error.
func (e *ProviderError) Error() string {
	s := fmt.Sprintf("%s %s error", e.Provider, e.Kind)
	if e.Code != "" {
		s += " " + e.Code
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.Err != nil && e.Message == "" {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the cause.
func (e *ProviderError) Unwrap() error { return e.Err }

// ProviderErrorKindOf returns the kind of a provider error; unclassified errors are Transient
// (retried, but never moved to another provider: only a *ProviderError says where the
// message is).
func ProviderErrorKindOf(err error) ProviderErrorKind {
	var pe *ProviderError
	if errors.As(err, &pe) {
		return pe.Kind
	}
	return Transient
}

// ProviderEventType is an outcome a provider reports after accepting a message.
type ProviderEventType string

// Provider outcomes.
const (
	ProviderDelivered ProviderEventType = "delivered"
	ProviderBounced   ProviderEventType = "bounced"
	ProviderFailed    ProviderEventType = "failed"    // for example an SMS carrier failure
	ProviderComplaint ProviderEventType = "complaint" // recorded as message.failed
	// ProviderSoftBounced is a transient bounce (the provider keeps trying): recorded as
	// message.soft_bounced, the status stays.
	ProviderSoftBounced ProviderEventType = "soft_bounced"
	// ProviderDelayed is a delivery the provider reports delayed: recorded as
	// message.delayed, the status stays.
	ProviderDelayed ProviderEventType = "delayed"
	ProviderOpened  ProviderEventType = "opened"
	ProviderClicked ProviderEventType = "clicked"
)

// ProviderEvent is a provider's report about one message.
type ProviderEvent struct {
	MessageID         string            `json:"message_id"`
	ProviderMessageID string            `json:"provider_message_id,omitempty"`
	Type              ProviderEventType `json:"type"`
	Recipient         string            `json:"recipient,omitempty"`
	Diagnostic        *Diagnostic       `json:"diagnostic,omitempty"`
	Data              map[string]any    `json:"data,omitempty"`
	OccurredAt        time.Time         `json:"occurred_at"`
}
