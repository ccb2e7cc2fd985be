package sendoka

import (
	"context"
	"errors"
	"net/mail"
	"slices"
	"strings"
	"time"
)

// Sending recipient by recipient. With a VERP bounce domain, a message with several
// recipients goes to a provider that can (PerRecipientSender: SMTP) in one transaction per
// recipient, each with a return path whose token names that recipient, so a bounce that
// comes back says whom it is about even when its text does not. The rules keep "at most
// once" true per recipient, and lose no recipient:
//
//   - An attempt records each recipient's answer with it (DeliveryAttempt.Recipients). A
//     recipient the provider took (sent), refused for good (permanent) or left without an
//     answer after the data went out (unknown) is settled: no later attempt sends to it.
//     Every other recipient (a 4xx, a lost connection, not tried because the attempt
//     stopped first) is pending.
//   - While recipients are pending, the message stays queued and the next attempt sends to
//     them only, on the retry schedule of a transient failure (throttled when the provider
//     throttled). The record of the attempt, with its recipients, commits before the next
//     attempt can run, so a retry never repeats a recipient the last one settled. A
//     process that dies mid-attempt leaves its claim to lapse, and the message is then
//     recorded sent with an unknown outcome, as any interrupted hand-off.
//   - Within one attempt, a recipient's refusal does not stop the others; a lost
//     connection, throttling, an unknown outcome or an ended context stops the attempt,
//     and the recipients not tried stay pending. A provider that took or may have taken
//     the message for some recipient is never failed over from in that attempt, and a
//     message some of whose recipients are settled never goes to a provider that cannot
//     send recipient by recipient (it is skipped).
//   - When no recipient is pending, or the last attempt ran, the message settles: sent if
//     the provider took it for at least one recipient; sent with an unknown outcome if it
//     took it for none and at least one is unknown; failed otherwise, as a message refused
//     in one hand-off fails (one message.failed event). A sent message's other recipients
//     get what a provider's report of them would give: a recipient refused for good, or
//     still pending after the last attempt, becomes a failed recipient with a
//     message.failed event naming it (no suppression: an SMTP refusal suppresses no
//     address, for one recipient or several); an unknown one gets a message.outcome_unknown
//     event naming it. The message itself is sent.

// emailRecipient is one recipient of an email: its address as the message writes it (what
// RCPT TO carries) and normalised (what Sendoka records).
type emailRecipient struct {
	written, addr string
}

// emailRecipients returns e's recipients, to, cc then bcc, each once: the order of
// recipients(m), whose positions VERP tokens name.
func emailRecipients(e *EmailContent) []emailRecipient {
	var out []emailRecipient
	for _, list := range [][]string{e.To, e.Cc, e.Bcc} {
		for _, a := range list {
			// Normalised as NormalizeSuppressionAddress does, with one parse.
			p, err := mail.ParseAddress(a)
			if err != nil || !strings.Contains(p.Address, "@") {
				continue
			}
			n := strings.ToLower(p.Address)
			if !slices.ContainsFunc(out, func(r emailRecipient) bool { return r.addr == n }) {
				out = append(out, emailRecipient{written: p.Address, addr: n})
			}
		}
	}
	return out
}

// settledRecipients returns the recipients of m that earlier attempts settled (sent,
// permanent, unknown), each with the record that settled it.
func settledRecipients(m *Message) map[string]AttemptRecipient {
	var out map[string]AttemptRecipient
	for _, a := range m.DeliveryAttempts {
		for _, r := range a.Recipients {
			if settles(r.Result) {
				if out == nil {
					out = map[string]AttemptRecipient{}
				}
				out[r.Address] = r
			}
		}
	}
	return out
}

// settles reports whether a recipient's result is final for it: no later attempt sends
// to it.
func settles(r AttemptResult) bool {
	return r == AttemptSent || r == AttemptPermanent || r == AttemptUnknown
}

// sentToSome reports whether an earlier attempt handed m over for at least one of its
// recipients (sent, or unknown): m is then on its way, whatever its status says.
func sentToSome(m *Message) bool {
	for _, r := range settledRecipients(m) {
		if r.Result == AttemptSent || r.Result == AttemptUnknown {
			return true
		}
	}
	return false
}

// recipientPlan is how an attempt sends an email recipient by recipient: the envelopes
// still to send, and whether earlier attempts settled some recipients already.
type recipientPlan struct {
	envelopes []Envelope
	// started: some recipients are settled, so the message may only go to a provider
	// that sends recipient by recipient.
	started bool
}

// planRecipients returns how m goes out recipient by recipient, or nil when it goes in one
// hand-off: the bounce domain is set and m has several recipients, or an earlier attempt
// already went recipient by recipient (then always, whatever the configuration says now).
func (c *Client) planRecipients(ctx context.Context, m *Message) (*recipientPlan, error) {
	all := emailRecipients(m.Email)
	settled := settledRecipients(m)
	verp := c.inbound.BounceDomain != "" && len(all) > 1
	if !verp && len(settled) == 0 {
		return nil, nil
	}
	plan := &recipientPlan{started: len(settled) > 0, envelopes: []Envelope{}}
	for i, r := range all {
		if _, done := settled[r.addr]; done {
			continue
		}
		rp, err := c.returnPath(ctx, m, i) // "" without a bounce domain: From's address
		if err != nil {
			return nil, err
		}
		plan.envelopes = append(plan.envelopes, Envelope{Recipient: r.written, ReturnPath: rp})
	}
	return plan, nil
}

// sendsPerRecipient reports whether sender can send recipient by recipient.
func sendsPerRecipient(sender any) bool {
	p, ok := sender.(PerRecipientSender)
	return ok && p.SendsPerRecipient()
}

func partialDiagnostic(provider string) *Diagnostic {
	return &Diagnostic{Provider: provider, Code: "sent_per_recipient",
		Message: "not tried: the message already went to some of its recipients one by one, and this provider cannot send it to only the others"}
}

// attemptResultRank orders the results of a settled attempt's recipients: the attempt's
// own result is the one of most weight (sent only when every recipient was sent to).
var attemptResultRank = map[AttemptResult]int{AttemptSkipped: 1, AttemptTransient: 2, AttemptThrottled: 3, AttemptPermanent: 4, AttemptUnknown: 5}

// recipientKindRank orders the kinds of recipient answers, the one that says most about
// the provider's health last.
var recipientKindRank = map[ProviderErrorKind]int{Permanent: 1, Transient: 2, Throttled: 3, Unknown: 4}

// recipientsError is the error that stands for a send recipient by recipient in what
// looks at one error per hand-off (the circuit breaker, the observer): nil when the
// provider took the message for every envelope, else the answer of most weight among
// the recipients' and the one it stopped with.
func recipientsError(res SendResult, stop error) error {
	worst := stop
	for _, r := range res.Recipients {
		if r.Err != nil && (worst == nil || recipientKindRank[ProviderErrorKindOf(r.Err)] > recipientKindRank[ProviderErrorKindOf(worst)]) {
			worst = r.Err
		}
	}
	return worst
}

// takenByAny reports whether the provider took, or may have taken, the message for one of
// the recipients it reports on.
func takenByAny(res SendResult) bool {
	for _, r := range res.Recipients {
		if r.Err == nil || ProviderErrorKindOf(r.Err) == Unknown {
			return true
		}
	}
	return false
}

// recordRecipientAttempt records an attempt of a message sent recipient by recipient (h
// handed envelopes over, or m's earlier attempts did): each recipient's answer on a, then
// the message deferred, or settled as the rules at the top of this file say.
func (c *Client) recordRecipientAttempt(ctx context.Context, m *Message, h *handOffResult, a DeliveryAttempt, opts DeliverOptions) (*Error, error) {
	now := h.at
	all := emailRecipients(m.Email)
	settled := settledRecipients(m)
	answers := make(map[string]error, len(h.res.Recipients))
	for _, r := range h.res.Recipients {
		if addr, ok := NormalizeSuppressionAddress(ChannelEmail, r.Recipient); ok {
			answers[addr] = r.Err
		}
	}
	// The answer for every recipient this attempt was to send to.
	msgResult, msgDiag := AttemptSkipped, h.diag
	if !h.skipped && h.err != nil {
		msgResult, msgDiag = attemptResultOf(ProviderErrorKindOf(h.err)), diagnosticOf(m.Provider, h.err)
	}
	var stopDiag *Diagnostic
	if h.stop != nil {
		stopDiag = diagnosticOf(m.Provider, h.stop)
	}
	for _, r := range all {
		if _, done := settled[r.addr]; done {
			continue
		}
		ar := AttemptRecipient{Address: r.addr}
		err, tried := answers[r.addr]
		switch {
		case !h.perRecipient:
			// No provider took part recipient by recipient (skipped, or a failure before
			// any hand-off): the attempt's answer is each recipient's.
			ar.Result, ar.Diagnostic = msgResult, msgDiag
			if h.err == nil && !h.skipped {
				ar.Result = AttemptTransient // nothing was handed over
			}
		case !tried:
			ar.Result = AttemptSkipped
			ar.Diagnostic = &Diagnostic{Provider: m.Provider, Code: "not_tried",
				Message: "not tried: the attempt stopped at an earlier recipient"}
			if stopDiag != nil {
				ar.Diagnostic.Message += " (" + stopDiag.Message + ")"
			}
		case err == nil:
			ar.Result = AttemptSent
		default:
			ar.Result, ar.Diagnostic = attemptResultOf(ProviderErrorKindOf(err)), diagnosticOf(m.Provider, err)
		}
		a.Recipients = append(a.Recipients, ar)
	}

	// What is pending after this attempt, and why.
	var pending []AttemptRecipient
	retry := Transient
	for _, r := range a.Recipients {
		if settles(r.Result) {
			continue
		}
		pending = append(pending, r)
		if r.Result == AttemptThrottled {
			retry = Throttled
		}
	}
	final := opts.FinalAttempt || (retry != Throttled && c.transientFailures(m)+1 >= c.delivery.MaxAttempts())
	if h.res.ProviderMessageID != "" {
		m.ProviderMessageID = h.res.ProviderMessageID
	}
	if len(pending) > 0 && !final {
		a.Result, a.Diagnostic = AttemptTransient, pending[0].Diagnostic
		switch {
		case h.skipped:
			a.Result, a.Diagnostic = AttemptSkipped, h.diag
			m.Attempts-- // recordDeferred counts attempts that reached a provider
		case retry == Throttled:
			a.Result = AttemptThrottled
		}
		if a.Diagnostic == nil {
			a.Diagnostic = &Diagnostic{Provider: m.Provider, Code: "pending", Message: "recipients left to send to"}
		}
		sendErr := &ProviderError{Kind: retry, Provider: m.Provider, Code: a.Diagnostic.Code, Message: a.Diagnostic.Message}
		var pe *ProviderError
		if errors.As(h.err, &pe) && pe.RetryAfter > 0 {
			sendErr.RetryAfter = pe.RetryAfter
		}
		if h.skipped {
			wait := c.delivery.RetryDelays[min(c.transientFailures(m), len(c.delivery.RetryDelays)-1)]
			sendErr.RetryAfter = max(wait, h.retryIn)
		}
		h.recorded = a.Result
		return c.recordDeferred(ctx, m, a, sendErr, now)
	}

	// Settled: every recipient has its outcome, or this was the last attempt.
	a.Result, a.Diagnostic = AttemptSent, nil
	worst := 0
	for _, r := range a.Recipients {
		if rank := attemptResultRank[r.Result]; rank > worst {
			worst, a.Result, a.Diagnostic = rank, r.Result, r.Diagnostic
		}
	}
	if h.skipped {
		m.Attempts-- // counted below as an attempt that reached a provider; this one did not
		a.Result, a.Diagnostic = AttemptSkipped, h.diag
	}
	h.recorded = a.Result
	outcome := make(map[string]AttemptRecipient, len(all))
	for addr, r := range settled {
		outcome[addr] = r
	}
	for _, r := range a.Recipients {
		outcome[r.Address] = r
	}
	var sent, unknown bool
	var firstFailure *Diagnostic
	for _, r := range all {
		switch o := outcome[r.addr]; o.Result {
		case AttemptSent:
			sent = true
		case AttemptUnknown:
			unknown = true
		default:
			if firstFailure == nil {
				firstFailure = o.Diagnostic
			}
		}
	}
	c.logSettled(ctx, m, sent, unknown)
	switch {
	case sent:
		return nil, c.recordSent(ctx, m, h.res, a, now, func(ctx context.Context, tx Tx, m *Message) error {
			return c.recordRecipientOutcomes(ctx, tx, m, all, outcome, true, now)
		})
	case unknown:
		var diag *Diagnostic
		for _, r := range all {
			if o := outcome[r.addr]; o.Result == AttemptUnknown {
				diag = o.Diagnostic
				break
			}
		}
		return nil, c.inTx(ctx, func(ctx context.Context, tx Tx) error {
			try := *m
			try.DeliveryAttempts = slices.Clone(m.DeliveryAttempts)
			if err := c.recordUnknownTx(ctx, tx, &try, diag, now, &a); err != nil {
				return err
			}
			return c.recordRecipientOutcomes(ctx, tx, &try, all, outcome, false, now)
		})
	}
	if firstFailure == nil {
		firstFailure = a.Diagnostic
	}
	m.Attempts++
	m.DeliveryAttempts = append(m.DeliveryAttempts, a)
	m.ClaimedAt, m.LeaseUntil, m.NextRetryAt = nil, nil, nil
	return nil, c.recordFailed(ctx, m, firstFailure, now)
}

func (c *Client) logSettled(ctx context.Context, m *Message, sent, unknown bool) {
	switch {
	case sent:
		c.log.InfoContext(ctx, "handed off recipient by recipient", "message_id", m.ID, "provider", m.Provider)
	case unknown:
		c.log.WarnContext(ctx, "delivery outcome unknown for every recipient handed off", "message_id", m.ID, "provider", m.Provider)
	default:
		c.log.WarnContext(ctx, "delivery failed for every recipient", "message_id", m.ID, "provider", m.Provider)
	}
}

// recordRecipientOutcomes records, in tx, what a message settled as sent (or sent with an
// unknown outcome) says of its recipients that were not sent to: a failed recipient and a
// message.failed event naming it for each one refused for good or given up on, and, when
// some recipient was sent to (withUnknown), a message.outcome_unknown event naming each one
// whose outcome is unknown (otherwise the message's own outcome is unknown, and its event
// says so).
func (c *Client) recordRecipientOutcomes(ctx context.Context, tx Tx, m *Message, all []emailRecipient, outcome map[string]AttemptRecipient, withUnknown bool, now time.Time) error {
	at := now
	for _, r := range all {
		o := outcome[r.addr]
		at = at.Add(time.Microsecond) // after message.sent on a timeline
		switch o.Result {
		case AttemptSent:
		case AttemptUnknown:
			if !withUnknown {
				continue
			}
			ev := c.newEvent(m, EventOutcomeUnknown, "", o.Diagnostic, at)
			ev.Recipient = r.addr
			if err := c.recordEvents(ctx, tx, ev); err != nil {
				return err
			}
		default:
			data := map[string]any{"attempt_result": string(o.Result)}
			if err := c.applyRecipientEvent(ctx, tx, m, ProviderEvent{MessageID: m.ID, Type: ProviderFailed,
				Recipient: r.addr, Diagnostic: o.Diagnostic, Data: data, OccurredAt: at}, at); err != nil {
				return err
			}
		}
	}
	return nil
}
