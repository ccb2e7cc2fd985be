package sendoka

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"math"
	"slices"
	"sync"
	"time"
)

// recordTimeout bounds the writes that record a provider's answer, retried while the
// database is unavailable.
const recordTimeout = time.Minute

// Deliver hands one queued or scheduled message to its provider and records the outcome. The
// queue calls it for JobDeliverMessage, at least once per message; it sends at most once:
//
//   - it first takes a slot of the message's provider (ConcurrencyLimiter), waiting at most
//     DeliveryConfig.SlotWait, so the wait for a connection never eats into the send's own
//     deadlines and no more messages are mid-hand-off than the provider has connections;
//   - it then claims the message in its own transaction, with a lease it renews while the
//     provider works; a message that is no longer queued or scheduled (sent, canceled,
//     failed), or whose current job is another one, is left alone;
//   - a claim held by a live attempt makes this one return CodeConflict (try later);
//   - a lapsed claim (its attempt's process died mid-hand-off) is retried with the same
//     dedupe key when the provider deduplicates, and otherwise recorded as sent with
//     OutcomeUnknown rather than risk sending the message twice;
//   - the provider's answer is recorded with the attempt: sent, failed (permanent, or the
//     last attempt), sent with an unknown outcome (Unknown: cut short after the data went
//     out), or deferred to the next retry (transient, throttled).
//
// Errors: CodeProviderThrottled and CodeProviderTransient ask for a retry at Error.Retry;
// CodeConflict asks to look again later (Error.Retry); CodeNotFound means the message does
// not exist; any other error is retryable.
func (c *Client) Deliver(ctx context.Context, id string, opts DeliverOptions) error {
	if len(c.slots) > 0 {
		m, err := c.deliverable(ctx, id, opts)
		if err != nil || m == nil {
			return err
		}
		release, err := c.slots.acquire(ctx, c.provider(m), c.providerName(m), c.delivery.SlotWait)
		if err != nil {
			return err
		}
		defer release()
	}
	m, err := c.claim(ctx, id, opts)
	if err != nil || m == nil {
		return err
	}
	stopRenewing := c.keepClaim(m)
	defer stopRenewing()
	started := time.Now()
	res, sendErr := c.send(ctx, m)
	took := time.Since(started)
	c.observeProviderCall(ctx, m, started, took, sendErr)
	now := c.now()
	// The provider has answered: record its answer even if the job's context ends now (a
	// timeout or a hard stop), or the claim would lapse and the message end unknown.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	var retry *Error
	err = c.retryUnavailable(ctx, func() error {
		// Each try records from the message as claimed: a failed try's changes to it are
		// not carried into the next (an attempt counted twice, say).
		try := *m
		try.DeliveryAttempts = slices.Clone(m.DeliveryAttempts)
		var err error
		retry, err = c.recordAttempt(ctx, &try, res, sendErr, now, took, opts)
		return err
	})
	if err != nil {
		return err
	}
	if retry != nil {
		return retry
	}
	return nil
}

// retryUnavailable runs fn until it succeeds, fails with an error that retrying cannot mend,
// or ctx ends: the answer of a provider must not be lost to a database that blinked.
func (c *Client) retryUnavailable(ctx context.Context, fn func() error) error {
	wait := 50 * time.Millisecond
	for {
		err := fn()
		switch ErrorCode(err) {
		case "":
			return nil
		case CodeUnavailable, CodeInternal:
		default:
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		wait = min(2*wait, 2*time.Second)
		c.log.WarnContext(ctx, "recording a delivery attempt failed; retrying", "error", err)
	}
}

// deliverable reads the message before a slot is taken: nil when there is nothing to do, a
// CodeConflict when a live attempt holds it.
func (c *Client) deliverable(ctx context.Context, id string, opts DeliverOptions) (*Message, error) {
	var m *Message
	err := c.inTx(ctx, func(ctx context.Context, tx Tx) error {
		var err error
		m, err = tx.GetMessage(ctx, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	if !c.mayDeliver(m, opts) {
		return nil, nil
	}
	if err := c.heldByLiveAttempt(m, c.now()); err != nil {
		return nil, err
	}
	return m, nil
}

// mayDeliver reports whether this job should deliver m: it is queued or scheduled, and the
// job is the message's current one (a job an earlier schedule left, or one that recovery
// replaced after it stalled, leaves the message to its successor).
func (c *Client) mayDeliver(m *Message, opts DeliverOptions) bool {
	if m.Status != StatusQueued && m.Status != StatusScheduled {
		return false
	}
	return opts.JobID == 0 || m.JobID == 0 || opts.JobID == m.JobID
}

// heldByLiveAttempt returns CodeConflict, with a hint for when to look again, while another
// attempt's claim on m holds.
func (c *Client) heldByLiveAttempt(m *Message, now time.Time) error {
	if m.ClaimedAt == nil || m.LeaseUntil == nil || !m.LeaseUntil.After(now) {
		return nil
	}
	wait := m.LeaseUntil.Sub(now) + 100*time.Millisecond
	return &Error{Code: CodeConflict, Message: "another attempt is delivering this message",
		RetryAfterSeconds: int(wait.Seconds()) + 1, Retry: wait}
}

// claim takes the message for this attempt. It returns nil, nil when there is nothing to do.
//
// A queued message nobody has claimed, delivered by its own job (the common case), is
// claimed in one statement (Store.ClaimUnclaimed); everything else (a lapsed or live claim,
// a message another job delivers, no message at all) takes the path below, in a
// transaction that reads the message first.
func (c *Client) claim(ctx context.Context, id string, opts DeliverOptions) (*Message, error) {
	now := c.now()
	if opts.JobID != 0 {
		until := now.Add(c.delivery.ClaimLease)
		m, err := c.store.ClaimUnclaimed(ctx, id, opts.JobID, now, until)
		if err != nil {
			return nil, AsError(err)
		}
		if m != nil {
			return c.checkClaimed(ctx, m, now)
		}
	}
	var m *Message
	err := c.inTx(ctx, func(ctx context.Context, tx Tx) error {
		var err error
		if m, err = tx.GetMessage(ctx, id); err != nil {
			return err
		}
		if !c.mayDeliver(m, opts) {
			m = nil
			return nil
		}
		if err := c.heldByLiveAttempt(m, now); err != nil {
			return err
		}
		lapsed := m.ClaimedAt != nil
		if !lapsed {
			// A recipient may have opted out or bounced since the message was accepted.
			// Checked only by the attempt about to hand the message over: one whose claim
			// another live attempt holds must not fail a message that may be on its way.
			if diag, err := suppressedAtDelivery(ctx, tx, m, c.providerName(m), c.now()); err != nil || diag != nil {
				if err == nil {
					err = c.recordFailedTx(ctx, tx, m, diag, now)
				}
				m = nil
				return err
			}
		}
		until := now.Add(c.delivery.ClaimLease)
		ok, err := tx.ClaimMessage(ctx, id, now, until, StatusQueued, StatusScheduled)
		if err != nil {
			return err
		}
		if !ok {
			return &Error{Code: CodeConflict, Message: "another attempt is delivering this message",
				RetryAfterSeconds: 1, Retry: time.Second}
		}
		if lapsed && !c.deduplicates(m) {
			// The attempt that held the claim died mid-hand-off: the provider may have the
			// message. Sending it again could deliver it twice.
			err := c.recordUnknownTx(ctx, tx, m, interruptedDiagnostic(c.providerName(m)), now, nil)
			m = nil
			return err
		}
		// Unclaimed, or the provider deduplicates on the message id: sending is safe.
		m.ClaimedAt, m.LeaseUntil = &now, &until
		return nil
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// checkClaimed gives a message claimed by ClaimUnclaimed its last check before the hand-off:
// a recipient may have opted out or bounced since it was accepted. A message left with no
// recipient fails, and claim returns nil. The claim is committed already, so the check and
// its record are retried while the database is unavailable, as a provider's answer is.
func (c *Client) checkClaimed(ctx context.Context, m *Message, now time.Time) (*Message, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	suppressed := false
	err := c.retryUnavailable(ctx, func() error {
		diag, err := suppressedAtDelivery(ctx, c.store, m, c.providerName(m), c.now())
		if err != nil || diag == nil {
			return err
		}
		suppressed = true
		try := *m
		return c.recordFailed(ctx, &try, diag, now)
	})
	switch {
	case err != nil:
		return nil, AsError(err)
	case suppressed:
		return nil, nil
	}
	return m, nil
}

func interruptedDiagnostic(provider string) *Diagnostic {
	return &Diagnostic{Provider: provider, Code: "outcome_unknown",
		Message: "the delivery attempt stopped (its process ended) while the message was being handed to the provider; " +
			"it may or may not have been delivered, and it was not sent again to avoid a duplicate"}
}

// keepClaim renews m's claim every third of the lease until the returned func is called,
// so that only an attempt whose process died lets its claim lapse.
func (c *Client) keepClaim(m *Message) (stop func()) {
	id, claimedAt, lease := m.ID, *m.ClaimedAt, c.delivery.ClaimLease
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(lease / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			ctx, cancel := context.WithTimeout(context.Background(), lease/3)
			var ok bool
			err := c.inTx(ctx, func(ctx context.Context, tx Tx) error {
				var err error
				ok, err = tx.RenewClaim(ctx, id, claimedAt, c.now().Add(lease))
				return err
			})
			cancel()
			switch {
			case err != nil:
				c.log.Warn("renewing a delivery claim failed", "message_id", id, "error", err)
			case !ok:
				// Recorded already, or taken over by recovery after it lapsed.
				return
			}
		}
	})
	return func() {
		close(done)
		wg.Wait()
	}
}

// recordAttempt records what the provider answered. It returns the error that asks the
// queue for a retry when the message was deferred.
func (c *Client) recordAttempt(ctx context.Context, m *Message, res SendResult, sendErr error, now time.Time, took time.Duration, opts DeliverOptions) (*Error, error) {
	a := DeliveryAttempt{At: now, Provider: m.Provider, DurationMS: took.Milliseconds()}
	if sendErr == nil {
		a.Result = AttemptSent
		c.log.LogAttrs(ctx, slog.LevelInfo, "handed off", slog.String("message_id", m.ID), slog.String("provider", m.Provider),
			slog.String("provider_message_id", res.ProviderMessageID), slog.Int64("duration_ms", a.DurationMS))
		return nil, c.recordSent(ctx, m, res, a, now)
	}
	kind := ProviderErrorKindOf(sendErr)
	diag := diagnosticOf(m.Provider, sendErr)
	a.Diagnostic = diag
	switch {
	case kind == Unknown:
		a.Result = AttemptUnknown
		c.log.WarnContext(ctx, "delivery outcome unknown", "message_id", m.ID, "provider", m.Provider, "error", sendErr)
		return nil, c.inTx(ctx, func(ctx context.Context, tx Tx) error { return c.recordUnknownTx(ctx, tx, m, diag, now, &a) })
	case kind == Permanent:
		a.Result = AttemptPermanent
	case kind == Throttled:
		a.Result = AttemptThrottled
	default:
		a.Result = AttemptTransient
	}
	if kind == Permanent || opts.FinalAttempt || (kind != Throttled && c.transientFailures(m)+1 >= c.delivery.MaxAttempts()) {
		c.log.WarnContext(ctx, "delivery failed", "message_id", m.ID, "provider", m.Provider, "error", sendErr)
		m.Attempts++
		m.DeliveryAttempts = append(m.DeliveryAttempts, a)
		m.ClaimedAt, m.LeaseUntil, m.NextRetryAt = nil, nil, nil
		return nil, c.recordFailed(ctx, m, diag, now)
	}
	return c.recordDeferred(ctx, m, a, sendErr, now)
}

// transientFailures counts m's earlier attempts that count towards the final one.
func (c *Client) transientFailures(m *Message) int {
	n := 0
	for _, a := range m.DeliveryAttempts {
		if a.Result == AttemptTransient {
			n++
		}
	}
	return n
}

// recordDeferred gives the message back for its next attempt, records the attempt and a
// message.deferred event, and returns the retry request for the queue.
func (c *Client) recordDeferred(ctx context.Context, m *Message, a DeliveryAttempt, sendErr error, now time.Time) (*Error, error) {
	wait := c.delivery.ThrottleDelay
	if a.Result == AttemptTransient {
		n := c.transientFailures(m)
		wait = c.delivery.RetryDelays[min(n, len(c.delivery.RetryDelays)-1)]
	}
	var pe *ProviderError
	if errors.As(sendErr, &pe) && pe.RetryAfter > 0 {
		wait = pe.RetryAfter
	}
	next := now.Add(wait)
	a.NextRetryAt = &next
	m.Attempts++
	m.DeliveryAttempts = append(m.DeliveryAttempts, a)
	m.ClaimedAt, m.LeaseUntil, m.NextRetryAt = nil, nil, &next
	m.Diagnostic = a.Diagnostic
	m.UpdatedAt = now
	from := m.Status
	m.Status = StatusQueued // a scheduled message that fired is due: no longer cancelable
	err := c.inTx(ctx, func(ctx context.Context, tx Tx) error {
		ev := c.newEvent(m, EventDeferred, m.Status, a.Diagnostic, now)
		ev.Data = map[string]any{"attempt": m.Attempts, "result": string(a.Result), "next_retry_at": next.Format(time.RFC3339Nano)}
		_, err := c.transition(ctx, tx, m, from, ev)
		return err
	})
	if err != nil {
		return nil, err
	}
	e := &Error{Code: CodeProviderTransient, Message: a.Diagnostic.Message, Err: sendErr,
		RetryAfterSeconds: int(math.Ceil(wait.Seconds())), Retry: wait}
	if a.Result == AttemptThrottled {
		e.Code = CodeProviderThrottled
	}
	return e, nil
}

// recordUnknownTx records a hand-off cut short: sent, with OutcomeUnknown, a diagnostic and a
// message.outcome_unknown event. a is the attempt, when this process saw it end.
func (c *Client) recordUnknownTx(ctx context.Context, tx Tx, m *Message, diag *Diagnostic, now time.Time, a *DeliveryAttempt) error {
	from := m.Status
	if m.Provider == "" {
		m.Provider = c.providerName(m)
	}
	if a == nil {
		a = &DeliveryAttempt{At: now, Provider: m.Provider, Result: AttemptUnknown, Diagnostic: diag}
		if m.ClaimedAt != nil {
			a.At = *m.ClaimedAt
		}
	}
	m.Status, m.Outcome, m.Diagnostic = StatusSent, OutcomeUnknown, diag
	m.Attempts++
	m.DeliveryAttempts = append(m.DeliveryAttempts, *a)
	m.NextRetryAt, m.LeaseUntil = nil, nil
	m.SentAt, m.UpdatedAt = &now, now
	_, err := c.transition(ctx, tx, m, from, c.newEvent(m, EventOutcomeUnknown, StatusSent, diag, now))
	return err
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

func (c *Client) recordSent(ctx context.Context, m *Message, res SendResult, a DeliveryAttempt, now time.Time) error {
	from := m.Status
	m.Status = StatusSent
	m.ProviderMessageID = res.ProviderMessageID
	m.Attempts++
	m.DeliveryAttempts = append(m.DeliveryAttempts, a)
	m.Diagnostic, m.NextRetryAt, m.LeaseUntil = nil, nil, nil
	m.SentAt = &now
	m.UpdatedAt = now
	sent := c.newEvent(m, EventSent, StatusSent, nil, now)
	// Outcomes the provider already knows (the sandbox's simulated delivery) apply with the
	// send when they are due: one UPDATE and one INSERT of the events record both. Later
	// ones (a complaint after the delivery) become jobs that run at their time, so one
	// send's events apply in the order they happen.
	due, later, err := c.splitProviderEvents(m, res, now)
	if err != nil {
		return err
	}
	return c.inTx(ctx, func(ctx context.Context, tx Tx) error {
		try := *m // recorded as sent and as the due events left it
		events := append([]*Event{sent}, c.applyInMemory(&try, due, now)...)
		ok, err := c.transition(ctx, tx, &try, from, events...)
		if err != nil {
			return err
		}
		if ok {
			*m = try
			for _, pe := range due {
				if err := c.suppressOnEvent(ctx, tx, m, pe, now); err != nil {
					return err
				}
			}
		} else {
			// Recovery took the claim after it lapsed (the database was out of reach while
			// the provider worked) and recorded an unknown outcome: the provider's yes
			// settles it, and the due events apply to the settled message.
			if ok, err = c.settleUnknown(ctx, tx, m, res, a, sent); err != nil || !ok {
				return err
			}
			at := now
			for _, pe := range due {
				at = at.Add(time.Microsecond)
				if err := c.applyProviderEvent(ctx, tx, m, pe, at); err != nil {
					return err
				}
			}
		}
		if len(later) > 0 {
			if _, err := c.queue.Enqueue(ctx, tx, later...); err != nil {
				return err
			}
		}
		return nil
	})
}

// splitProviderEvents splits the events a provider reported with a send into those due now
// and jobs for those to come.
func (c *Client) splitProviderEvents(m *Message, res SendResult, now time.Time) (due []ProviderEvent, later []Job, err error) {
	for _, ev := range res.Events {
		ev.MessageID = m.ID
		if ev.ProviderMessageID == "" {
			ev.ProviderMessageID = res.ProviderMessageID
		}
		if ev.OccurredAt.After(now) {
			j, err := providerEventJob(ev, now)
			if err != nil {
				return nil, nil, err
			}
			later = append(later, j)
			continue
		}
		due = append(due, ev)
	}
	return due, later, nil
}

// applyInMemory moves m through the provider events due (as applyProviderEvent would,
// without writing) and returns their events, a microsecond apart after now so a timeline
// lists them after message.sent.
func (c *Client) applyInMemory(m *Message, due []ProviderEvent, now time.Time) []*Event {
	events := make([]*Event, 0, len(due))
	at := now
	for _, pe := range due {
		at = at.Add(time.Microsecond)
		typ, status := providerEventOutcome(pe.Type)
		if typ == "" {
			continue
		}
		ev := c.newEvent(m, typ, status, pe.Diagnostic, at)
		ev.Recipient, ev.Data = pe.Recipient, pe.Data
		switch {
		case status != "" && CanTransition(m.Status, status):
			m.Status = status
			m.UpdatedAt = at
			if status.Terminal() {
				m.CompletedAt = &at
			}
			if pe.Diagnostic != nil {
				m.Diagnostic = pe.Diagnostic
			}
		case status != "":
			ev.Status = ""
			ev.Data = maps.Clone(ev.Data)
			if ev.Data == nil {
				ev.Data = map[string]any{}
			}
			ev.Data["ignored_status"] = string(status)
		}
		events = append(events, ev)
	}
	return events
}

// settleUnknown turns a sent message of unknown outcome into a plain sent one, when the
// attempt that recovery gave up on comes back with the provider's acceptance.
func (c *Client) settleUnknown(ctx context.Context, tx Tx, m *Message, res SendResult, a DeliveryAttempt, ev *Event) (bool, error) {
	cur, err := tx.GetMessage(ctx, m.ID)
	if err != nil || cur.Status != StatusSent || cur.Outcome != OutcomeUnknown {
		return false, err
	}
	cur.Outcome, cur.Diagnostic = "", nil
	cur.ProviderMessageID = res.ProviderMessageID
	cur.DeliveryAttempts = append(cur.DeliveryAttempts, a)
	cur.UpdatedAt = ev.CreatedAt
	ok, err := c.transition(ctx, tx, cur, StatusSent, ev)
	if ok {
		*m = *cur
	}
	return ok, err
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
	ok, err := c.transition(ctx, tx, m, from, c.newEvent(m, EventFailed, StatusFailed, diag, now))
	if err != nil || !ok {
		return err
	}
	// A provider that says the recipient opted out: suppress them, as a STOP would.
	return c.suppressOptedOut(ctx, tx, m, diag, now)
}

func (c *Client) newEvent(m *Message, typ EventType, status Status, diag *Diagnostic, now time.Time) *Event {
	return &Event{
		ID: NewID(PrefixEvent, now), OrgID: m.OrgID, TenantID: m.TenantID, MessageID: m.ID,
		Type: typ, Status: status, Diagnostic: diag, CreatedAt: now, msg: m,
	}
}

func diagnosticOf(provider string, err error) *Diagnostic {
	var pe *ProviderError
	if errors.As(err, &pe) {
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
	case ProviderSoftBounced:
		return EventSoftBounced, ""
	case ProviderDelayed:
		return EventDelayed, ""
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
	if typ, _ := providerEventOutcome(pe.Type); typ == "" {
		return Errorf(CodeValidation, "unknown provider event type %q", pe.Type)
	}
	now := c.now()
	return c.inTx(ctx, func(ctx context.Context, tx Tx) error {
		m, err := tx.GetMessage(ctx, pe.MessageID)
		if err != nil {
			return err
		}
		return c.applyProviderEvent(ctx, tx, m, pe, now)
	})
}

// applyProviderEvent records pe on m, as it is in tx, and moves m's status where the status
// machine allows.
func (c *Client) applyProviderEvent(ctx context.Context, tx Tx, m *Message, pe ProviderEvent, now time.Time) error {
	typ, status := providerEventOutcome(pe.Type)
	if typ == "" {
		return Errorf(CodeValidation, "unknown provider event type %q", pe.Type)
	}
	ev := c.newEvent(m, typ, status, pe.Diagnostic, now)
	ev.Recipient, ev.Data = pe.Recipient, pe.Data
	moved := false
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
		var err error
		if moved, err = c.transition(ctx, tx, m, from, ev); err != nil {
			return err
		}
	}
	if !moved {
		if status != "" {
			// Recorded, but it moves nothing: the event carries no status, and its data
			// says which status the provider reported.
			ev.Status = ""
			if ev.Data == nil {
				ev.Data = map[string]any{}
			}
			ev.Data["ignored_status"] = string(status)
		}
		if err := c.recordEvents(ctx, tx, ev); err != nil {
			return err
		}
	}
	// A bounce or complaint suppresses the address, even when it comes late.
	return c.suppressOnEvent(ctx, tx, m, pe, now)
}
