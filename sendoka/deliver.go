package sendoka

import (
	"context"
	"time"
)

// ClaimLease is how long a delivery attempt owns a message. A claim older than this was left
// by an attempt that died (a crash between the provider call and the record of its result).
// It must exceed the queue's job timeout.
const ClaimLease = 10 * time.Minute

// recordTimeout bounds the writes that record a provider's answer.
const recordTimeout = 30 * time.Second

// Deliver hands one queued or scheduled message to its provider and records the outcome. The
// queue calls it for JobDeliverMessage, at least once per message; it sends at most once:
//
//   - the attempt first claims the message in its own transaction; a message that is no
//     longer queued or scheduled (already sent, canceled, failed) is left alone;
//   - a claim held by a live attempt makes this one return CodeConflict (try later);
//   - a claim left by a dead attempt is retried with the same dedupe key when the provider
//     deduplicates, and otherwise fails the message as "outcome unknown" rather than risk
//     sending it twice.
//
// Errors: CodeProviderThrottled and CodeProviderTransient ask for a retry (RetryAfterSeconds
// hints when); CodeNotFound means the message does not exist; any other error is retryable.
func (c *Client) Deliver(ctx context.Context, id string, opts DeliverOptions) error {
	m, err := c.claim(ctx, id, opts)
	if err != nil || m == nil {
		return err
	}
	res, sendErr := c.send(ctx, m)
	now := c.now()
	// The provider has answered: record its answer even if the job's context ends now (a
	// timeout or a hard stop), or the claim would stay and the message wait out the lease.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	if sendErr == nil {
		return c.recordSent(ctx, m, res, now)
	}
	kind := ProviderErrorKindOf(sendErr)
	diag := diagnosticOf(m.Provider, sendErr)
	if kind == Permanent || opts.FinalAttempt {
		c.log.WarnContext(ctx, "delivery failed", "message_id", m.ID, "provider", m.Provider, "error", sendErr)
		return c.recordFailed(ctx, m, diag, now)
	}
	// Give the message back so the next attempt can claim it.
	m.ClaimedAt = nil
	m.Attempts++
	m.UpdatedAt = now
	if err := c.inTx(ctx, func(ctx context.Context, tx Tx) error {
		_, err := tx.UpdateMessage(ctx, m, StatusQueued, StatusScheduled)
		return err
	}); err != nil {
		return err
	}
	e := &Error{Code: CodeProviderTransient, Message: diag.Message, Err: sendErr}
	if kind == Throttled {
		e.Code = CodeProviderThrottled
	}
	if pe, ok := sendErr.(*ProviderError); ok && pe.RetryAfter > 0 {
		e.RetryAfterSeconds = int(pe.RetryAfter.Seconds() + 0.5)
	}
	return e
}

// claim takes the message for this attempt. It returns nil, nil when there is nothing to do.
func (c *Client) claim(ctx context.Context, id string, opts DeliverOptions) (*Message, error) {
	now := c.now()
	var m *Message
	err := c.inTx(ctx, func(ctx context.Context, tx Tx) error {
		var err error
		if m, err = tx.GetMessage(ctx, id); err != nil {
			return err
		}
		if m.Status != StatusQueued && m.Status != StatusScheduled {
			m = nil
			return nil
		}
		if m.ClaimedAt != nil {
			if held := now.Sub(*m.ClaimedAt); held < ClaimLease {
				return &Error{Code: CodeConflict, Message: "another attempt is delivering this message",
					RetryAfterSeconds: int((ClaimLease - held).Seconds()) + 1}
			}
			if !c.deduplicates(m) {
				diag := &Diagnostic{Provider: c.providerName(m), Code: "outcome_unknown",
					Message: "a delivery attempt was interrupted after handing the message to the provider; it was not retried to avoid a duplicate"}
				if err := c.recordFailedTx(ctx, tx, m, diag, now); err != nil {
					return err
				}
				m = nil
				return nil
			}
			// The provider deduplicates on the message id: resending is safe.
			return nil
		}
		// A recipient may have opted out or bounced since the message was accepted. Checked
		// only by the attempt that is about to hand the message over: one whose claim another
		// live attempt holds must not fail a message that may be on its way.
		if diag, err := suppressedAtDelivery(ctx, tx, m, c.providerName(m)); err != nil || diag != nil {
			if err == nil {
				err = c.recordFailedTx(ctx, tx, m, diag, now)
			}
			m = nil
			return err
		}
		if m.Status == StatusScheduled && opts.JobID != 0 && m.JobID != 0 && opts.JobID != m.JobID {
			// The job of an earlier schedule (the message was rescheduled after that job had
			// started): the message's current job will send it.
			m = nil
			return nil
		}
		ok, err := tx.ClaimMessage(ctx, id, now, StatusQueued, StatusScheduled)
		if err != nil {
			return err
		}
		if !ok {
			return &Error{Code: CodeConflict, Message: "another attempt is delivering this message", RetryAfterSeconds: 1}
		}
		m.ClaimedAt = &now
		return nil
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// send calls the message's provider.
func (c *Client) send(ctx context.Context, m *Message) (SendResult, error) {
	m.Provider = c.providerName(m)
	switch m.Channel {
	case ChannelEmail:
		p := c.emailSender(m)
		if p == nil {
			return SendResult{}, &ProviderError{Kind: Permanent, Provider: m.Provider, Code: "no_provider", Message: "no email provider is configured"}
		}
		out, err := c.outboundEmail(ctx, m) // email_outbound.go
		if err != nil {
			return SendResult{}, err
		}
		return p.SendEmail(ctx, out)
	default:
		p := c.smsSender(m)
		if p == nil {
			return SendResult{}, &ProviderError{Kind: Permanent, Provider: m.Provider, Code: "no_provider", Message: "no SMS provider is configured"}
		}
		s := m.SMS
		return p.SendSMS(ctx, &OutboundSMS{MessageID: m.ID, From: s.From, To: s.To, Body: s.Body, MediaURLs: s.MediaURLs})
	}
}

// emailSender picks the provider: test keys and the sandbox domain always get the sandbox.
func (c *Client) emailSender(m *Message) EmailSender {
	if c.isSandboxSender(m) {
		return c.sandboxEmail
	}
	return c.email
}

func (c *Client) smsSender(m *Message) SMSSender {
	if c.isSandboxSender(m) {
		return c.sandboxSMS
	}
	return c.sms
}

func (c *Client) provider(m *Message) any {
	if m.Channel == ChannelEmail {
		return c.emailSender(m)
	}
	return c.smsSender(m)
}

func (c *Client) providerName(m *Message) string {
	if n, ok := c.provider(m).(Namer); ok {
		return n.Name()
	}
	if c.isSandboxSender(m) {
		return "sandbox"
	}
	return "unknown"
}

func (c *Client) deduplicates(m *Message) bool {
	d, ok := c.provider(m).(Deduplicator)
	return ok && d.Deduplicates()
}

func (c *Client) recordSent(ctx context.Context, m *Message, res SendResult, now time.Time) error {
	from := m.Status
	m.Status = StatusSent
	m.ProviderMessageID = res.ProviderMessageID
	m.Attempts++
	m.SentAt = &now
	m.UpdatedAt = now
	return c.inTx(ctx, func(ctx context.Context, tx Tx) error {
		ok, err := tx.UpdateMessage(ctx, m, from)
		if err != nil || !ok {
			return err // !ok: canceled under us is impossible while claimed; nothing to record
		}
		if err := tx.InsertEvents(ctx, c.newEvent(m, EventSent, StatusSent, nil, now)); err != nil {
			return err
		}
		if len(res.Events) == 0 {
			return nil
		}
		jobs := make([]Job, len(res.Events))
		for i := range res.Events {
			ev := res.Events[i]
			ev.MessageID = m.ID
			if ev.ProviderMessageID == "" {
				ev.ProviderMessageID = res.ProviderMessageID
			}
			jobs[i] = Job{Kind: JobProviderEvent, MessageID: m.ID, Event: &ev}
			if ev.OccurredAt.After(now) {
				// Outcomes the provider dates later (a complaint after the delivery) run then,
				// so one send's events apply in the order they happen.
				jobs[i].RunAt = ev.OccurredAt
			}
		}
		_, err = c.queue.Enqueue(ctx, tx, jobs...)
		return err
	})
}

func (c *Client) recordFailed(ctx context.Context, m *Message, diag *Diagnostic, now time.Time) error {
	return c.inTx(ctx, func(ctx context.Context, tx Tx) error { return c.recordFailedTx(ctx, tx, m, diag, now) })
}

func (c *Client) recordFailedTx(ctx context.Context, tx Tx, m *Message, diag *Diagnostic, now time.Time) error {
	from := m.Status
	m.Status = StatusFailed
	m.Diagnostic = diag
	m.UpdatedAt = now
	m.CompletedAt = &now
	ok, err := tx.UpdateMessage(ctx, m, from)
	if err != nil || !ok {
		return err
	}
	// A provider that says the recipient opted out: suppress them, as a STOP would.
	if err := c.suppressOptedOut(ctx, tx, m, diag, now); err != nil {
		return err
	}
	return tx.InsertEvents(ctx, c.newEvent(m, EventFailed, StatusFailed, diag, now))
}

func (c *Client) newEvent(m *Message, typ EventType, status Status, diag *Diagnostic, now time.Time) *Event {
	return &Event{
		ID: NewID(PrefixEvent, now), OrgID: m.OrgID, TenantID: m.TenantID, MessageID: m.ID,
		Type: typ, Status: status, Diagnostic: diag, CreatedAt: now,
	}
}

func diagnosticOf(provider string, err error) *Diagnostic {
	if pe, ok := err.(*ProviderError); ok {
		d := &Diagnostic{Provider: pe.Provider, Code: pe.Code, Message: pe.Message}
		if d.Provider == "" {
			d.Provider = provider
		}
		if d.Message == "" {
			d.Message = pe.Error()
		}
		return d
	}
	return &Diagnostic{Provider: provider, Code: "provider_error", Message: err.Error()}
}

// providerEventOutcome maps a provider report to the event it records and the status it
// moves the message to ("" for none).
func providerEventOutcome(t ProviderEventType) (EventType, Status) {
	switch t {
	case ProviderDelivered:
		return EventDelivered, StatusDelivered
	case ProviderBounced:
		return EventBounced, StatusBounced
	case ProviderFailed, ProviderComplaint:
		return EventFailed, StatusFailed
	case ProviderOpened:
		return EventOpened, ""
	case ProviderClicked:
		return EventClicked, ""
	}
	return "", ""
}

// HandleProviderEvent applies a provider's report to its message: it always records the event
// and moves the status only where the status machine allows, so a late or out-of-order report
// never takes a message back.
func (c *Client) HandleProviderEvent(ctx context.Context, pe ProviderEvent) error {
	typ, status := providerEventOutcome(pe.Type)
	if typ == "" {
		return Errorf(CodeValidation, "unknown provider event type %q", pe.Type)
	}
	now := c.now()
	return c.inTx(ctx, func(ctx context.Context, tx Tx) error {
		m, err := tx.GetMessage(ctx, pe.MessageID)
		if err != nil {
			return err
		}
		ev := c.newEvent(m, typ, status, pe.Diagnostic, now)
		ev.Recipient, ev.Data = pe.Recipient, pe.Data
		if status != "" && CanTransition(m.Status, status) {
			from := m.Status
			m.Status = status
			m.UpdatedAt = now
			if status.Terminal() {
				m.CompletedAt = &now
			}
			if pe.Diagnostic != nil {
				m.Diagnostic = pe.Diagnostic
			}
			if _, err := tx.UpdateMessage(ctx, m, from); err != nil {
				return err
			}
		} else if status != "" {
			// Recorded, but it moves nothing: the event carries no status, and its data says
			// which status the provider reported.
			ev.Status = ""
			if ev.Data == nil {
				ev.Data = map[string]any{}
			}
			ev.Data["ignored_status"] = string(status)
		}
		// A bounce or complaint suppresses the address, even when it comes late.
		if err := c.suppressOnEvent(ctx, tx, m, pe, now); err != nil {
			return err
		}
		return tx.InsertEvents(ctx, ev)
	})
}
