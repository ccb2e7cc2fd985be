package sandbox

import (
	"strings"
	"time"

	"github.com/sendoka/sendoka/sendoka"
)

// outcome is what happens to a message at one recipient: one or more provider reports, in
// the order they happen.
type outcome []step

// step is one simulated report. data is copied into each event, because the core may add
// to an event's Data and events must not share a map.
type step struct {
	typ   sendoka.ProviderEventType
	after time.Duration // after the send
	diag  *sendoka.Diagnostic
	data  map[string]any
}

func (o outcome) events(messageID, providerID, recipient string, now time.Time) []sendoka.ProviderEvent {
	out := make([]sendoka.ProviderEvent, len(o))
	for i, st := range o {
		data := map[string]any{"simulated": true}
		for k, v := range st.data {
			data[k] = v
		}
		ev := sendoka.ProviderEvent{
			MessageID: messageID, ProviderMessageID: providerID, Type: st.typ,
			Recipient: recipient, Data: data, OccurredAt: now.Add(st.after),
		}
		if st.diag != nil {
			d := *st.diag
			ev.Diagnostic = &d
		}
		out[i] = ev
	}
	return out
}

func diagnostic(code, message string) *sendoka.Diagnostic {
	return &sendoka.Diagnostic{Provider: Name, Code: code, Message: message}
}

// The simulated outcomes.
var (
	delivered  = outcome{{typ: sendoka.ProviderDelivered}}
	complained = outcome{
		{typ: sendoka.ProviderDelivered},
		{typ: sendoka.ProviderComplaint, after: ComplaintDelay,
			diag: diagnostic("complaint", "the recipient marked the message as spam"),
			data: map[string]any{"feedback_type": "abuse"}},
	}
	suppressed = outcome{{typ: sendoka.ProviderBounced,
		diag: diagnostic("suppressed", "address is on the suppression list"),
		data: map[string]any{"bounce_type": "permanent", "bounce_subtype": "suppressed"}}}
)

// sandboxMailboxes are the magic local parts at the sandbox domain.
var sandboxMailboxes = map[string]outcome{
	"delivered": delivered,
	"bounced": {{typ: sendoka.ProviderBounced,
		diag: diagnostic("550 5.1.1", "mailbox does not exist"),
		data: map[string]any{"bounce_type": "permanent", "bounce_subtype": "general"}}},
	"complained": complained,
	"suppressed": suppressed,
}

// simulatorMailboxes are the Amazon SES mailbox simulator's addresses.
var simulatorMailboxes = map[string]outcome{
	"success": delivered,
	"bounce": {{typ: sendoka.ProviderBounced,
		diag: diagnostic("550 5.1.1", "smtp; 550 5.1.1 user unknown"),
		data: map[string]any{"bounce_type": "permanent", "bounce_subtype": "general"}}},
	"complaint": complained,
	"ooto": {{typ: sendoka.ProviderDelivered,
		data: map[string]any{"auto_reply": "out of the office: the recipient sent an automatic reply"}}},
	"suppressionlist": suppressed,
}

// Magic numbers of the SMS sandbox beyond the delivery outcomes of smsNumbers.
const (
	// ReplyStopNumber is delivered, then replies STOP: the core suppresses it for the sender's
	// org (Options.Inbound must be set, as hosts/server does).
	ReplyStopNumber = "+15005550006"
	// PendingNumber, registered as a sender, stays pending: its provisioning never finishes.
	PendingNumber = "+15005550008"
	// FailedNumber, registered as a sender, fails provisioning.
	FailedNumber = "+15005550009"
)

// smsNumbers are the magic SMS recipients.
var smsNumbers = map[string]outcome{
	"+15005550001": delivered,
	"+15005550002": {{typ: sendoka.ProviderFailed, diag: diagnostic("30003", "unreachable destination handset"),
		data: map[string]any{"carrier_status": "unreachable"}}},
	"+15005550003": {{typ: sendoka.ProviderBounced, diag: diagnostic("30005", "unknown destination handset"),
		data: map[string]any{"carrier_status": "undelivered"}}},
	"+15005550004": {{typ: sendoka.ProviderFailed, diag: diagnostic("30007", "message filtered by the carrier"),
		data: map[string]any{"carrier_status": "filtered"}}},
}

// emailOutcome looks a bare address up in the magic tables; unknown addresses are delivered.
func (s *Sender) emailOutcome(addr string) outcome {
	at := strings.LastIndexByte(addr, '@')
	if at < 0 {
		return delivered
	}
	local, domain := strings.ToLower(addr[:at]), strings.ToLower(addr[at+1:])
	local, _, _ = strings.Cut(local, "+")
	var table map[string]outcome
	switch domain {
	case s.domain:
		table = sandboxMailboxes
	case SESSimulatorDomain:
		table = simulatorMailboxes
	}
	if o, ok := table[local]; ok {
		return o
	}
	return delivered
}

func smsOutcome(to string) outcome {
	if o, ok := smsNumbers[to]; ok {
		return o
	}
	return delivered
}
