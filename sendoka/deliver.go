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
	var release func() // the slot held, if any
	defer func() {
		if release != nil {
			release()
		}
	}()
	var held *liveProvider
	if len(c.slots) > 0 {
		m, err := c.deliverable(ctx, id, opts)
		if err != nil || m == nil {
			return err
		}
		if p := firstOpenable(c.routeFor(m), c.now()); p != nil {
			if release, err = c.slots.acquire(ctx, p.sender, p.name, c.delivery.SlotWait); err != nil {
				return err
			}
			held = p
		}
	}
	m, err := c.claim(ctx, id, opts)
	if err != nil || m == nil {
		return err
	}
	stopRenewing := c.keepClaim(m)
	defer stopRenewing()
	h := c.handOff(ctx, m, held, &release)
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
		retry, err = c.recordAttempt(ctx, &try, h, opts)
		return err
	})
	if err != nil {
		return err
	}
	if c.provObs != nil {
		c.observeAttempts(m.Channel, h.attempts())
	}
	if retry != nil {
		return retry
	}
	return nil
}

// attempts lists the round's attempts by provider and result, for the ProviderObserver.
func (h *handOffResult) attempts() []DeliveryAttempt {
	last := DeliveryAttempt{Provider: h.provider, Result: AttemptSent}
	switch {
	case h.recorded != "":
		last.Result = h.recorded
	case h.skipped:
		last.Result = AttemptSkipped
	case h.err != nil:
		last.Result = attemptResultOf(ProviderErrorKindOf(h.err))
	}
	return append(slices.Clip(h.prior), last)
}

// handOff is one delivery attempt's hand-offs: to the first provider of m's route whose
// breaker lets it through and, while a provider refuses the message without taking it
// (transient, throttled), to the next. It stops at the first answer that is not such a
// refusal: an acceptance, a permanent refusal, or an unknown outcome, which may mean the
// provider has the message, so no other provider may get it. *release is the provider
// slot held, which handOff swaps when it moves to a provider with slots of its own.
func (c *Client) handOff(ctx context.Context, m *Message, held *liveProvider, release *func()) *handOffResult {
	h := &handOffResult{}
	route := c.routeFor(m)
	if len(route) == 0 {
		name := c.providerName(m)
		h.provider, h.at = name, c.now()
		h.err = &ProviderError{Kind: Permanent, Provider: name, Code: "no_provider", Message: "no " + providerNoun(m.Channel) + " provider is configured"}
		return h
	}
	var email *OutboundEmail
	var plan *recipientPlan // recipient by recipient (deliver_recipients.go), or nil
	if m.Channel == ChannelEmail {
		var err error
		if email, err = c.outboundEmail(ctx, m); err == nil { // email_outbound.go
			plan, err = c.planRecipients(ctx, m)
		}
		if err != nil {
			h.provider, h.at, h.err = route[0].name, c.now(), err
			return h
		}
		if plan != nil && plan.started && len(plan.envelopes) == 0 {
			// Every recipient is settled already: nothing to hand over, the record settles it.
			h.provider, h.at, h.perRecipient = route[0].name, c.now(), true
			return h
		}
	}
	for i, p := range route {
		now := c.now()
		perRecipient := plan != nil && sendsPerRecipient(p.sender)
		if plan != nil && plan.started && !perRecipient {
			// It would send the message to every recipient again.
			h.skip(p, now, partialDiagnostic(p.name), 0)
			continue
		}
		if !p.breaker.allow(now) {
			h.skip(p, now, circuitOpenDiagnostic(p.name), p.breaker.reopensIn(now))
			continue
		}
		if p != held {
			if *release != nil {
				(*release)()
				*release = nil
			}
			held = nil
			if c.slots.semaphore(p.sender) != nil {
				r, err := c.slots.acquire(ctx, p.sender, p.name, c.delivery.SlotWait)
				if err != nil {
					h.skip(p, now, &Diagnostic{Provider: p.name, Code: "no_connection", Message: err.Error()}, time.Second)
					p.breaker.abandon(now) // the probe it may hold is given back
					continue
				}
				*release, held = r, p
			}
		}
		if h.tried || h.skipped {
			h.failOver()
		}
		out := email
		if perRecipient {
			cp := *email
			cp.Envelopes = plan.envelopes
			out = &cp
		}
		started := time.Now()
		res, err := c.sendTo(ctx, m, p, out)
		took := time.Since(started)
		stop, taken := err, false
		if perRecipient {
			err, taken = recipientsError(res, err), takenByAny(res)
		}
		kind := ProviderErrorKind("")
		if err != nil {
			kind = ProviderErrorKindOf(err)
		}
		p.breaker.record(kind == Transient || kind == Throttled || kind == Unknown, c.now())
		c.observeProviderCall(ctx, m, p.name, started, took, err)
		h.tried, h.skipped = true, false
		h.provider, h.res, h.err, h.at, h.took = p.name, res, err, now, took
		h.perRecipient, h.stop = perRecipient, stop
		// Only a refusal known to leave the message untaken moves it on (recipient by
		// recipient: for every recipient); a job whose context ended stops here (the next
		// provider could not be reached either).
		if taken || !knownNotTaken(err) || i == len(route)-1 || ctx.Err() != nil {
			break
		}
	}
	return h
}

// knownNotTaken reports whether err says the provider did not take the message: a
// *ProviderError the provider classified Transient or Throttled. An unclassified error is
// retried as transient, but it says nothing of where the message is, so it never moves the
// message to another provider.
func knownNotTaken(err error) bool {
	var pe *ProviderError
	return errors.As(err, &pe) && (pe.Kind == Transient || pe.Kind == Throttled)
}

func providerNoun(ch Channel) string {
	if ch == ChannelEmail {
		return "email"
	}
	return "SMS"
}

func circuitOpenDiagnostic(provider string) *Diagnostic {
	return &Diagnostic{Provider: provider, Code: "circuit_open",
		Message: "not tried: the provider's circuit breaker is open after consecutive failures"}
}

// handOffResult is what handOff saw: the last provider's answer, and the attempts before it
// in the same round (providers that refused the message or were skipped).
type handOffResult struct {
	prior []DeliveryAttempt
	// The last provider tried (or skipped, when skipped is true) and its answer.
	provider string
	res      SendResult
	err      error
	at       time.Time
	took     time.Duration
	tried    bool
	// skipped: no provider took part in the last step (breaker open, no free connection);
	// retryIn is when one may (the breaker's probe).
	skipped bool
	retryIn time.Duration
	diag    *Diagnostic
	// perRecipient: the last provider got the message recipient by recipient
	// (OutboundEmail.Envelopes); err then stands for every recipient's answer
	// (recipientsError), and stop is the provider's own error, the one it stopped with.
	perRecipient bool
	stop         error
	// recorded is the result recordRecipientAttempt recorded for the last step, when it
	// differs from what err says.
	recorded AttemptResult
}

// skip records that provider p was not tried.
func (h *handOffResult) skip(p *liveProvider, now time.Time, diag *Diagnostic, retryIn time.Duration) {
	if h.tried || h.skipped {
		h.failOver()
	}
	h.tried, h.skipped = false, true
	h.provider, h.at, h.took, h.res, h.err = p.name, now, 0, SendResult{}, nil
	h.perRecipient, h.stop = false, nil
	h.diag = diag
	if h.retryIn == 0 || retryIn < h.retryIn {
		h.retryIn = retryIn
	}
}

// failOver moves the last step into prior: the round goes on with the next provider.
func (h *handOffResult) failOver() {
	a := DeliveryAttempt{At: h.at, Provider: h.provider, DurationMS: h.took.Milliseconds(), FailedOver: true}
	if h.skipped {
		a.Result, a.Diagnostic = AttemptSkipped, h.diag
	} else {
		a.Result, a.Diagnostic = attemptResultOf(ProviderErrorKindOf(h.err)), diagnosticOf(h.provider, h.err)
	}
	h.prior = append(h.prior, a)
	h.tried, h.skipped = false, false
	h.perRecipient, h.stop = false, nil
}

// attemptResultOf is the result of an attempt that failed with an error of kind k.
func attemptResultOf(k ProviderErrorKind) AttemptResult {
	switch k {
	case Unknown:
		return AttemptUnknown
	case Permanent:
		return AttemptPermanent
	case Throttled:
		return AttemptThrottled
	}
	return AttemptTransient
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
		cl, err := c.claimFast(ctx, id, opts.JobID)
		if err != nil {
			return nil, err
		}
		if cl.m != nil {
			return c.checkClaimed(ctx, cl, *cl.m.ClaimedAt)
		}
		now = c.now()
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
func (c *Client) checkClaimed(ctx context.Context, cl claimed, now time.Time) (*Message, error) {
	m := cl.m
	if cl.checked && cl.suppressed == nil {
		return m, nil // the shared claim read the suppressions: none applies
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	suppressed := false
	err := c.retryUnavailable(ctx, func() error {
		diag, err := cl.suppressed, error(nil)
		if !cl.checked {
			diag, err = suppressedAtDelivery(ctx, c.store, m, c.providerName(m), c.now())
		}
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

// recordAttempt records what the providers of one round answered. It returns the error
// that asks the queue for a retry when the message was deferred.
func (c *Client) recordAttempt(ctx context.Context, m *Message, h *handOffResult, opts DeliverOptions) (*Error, error) {
	now := h.at
	for _, a := range h.prior {
		if a.Result != AttemptSkipped {
			m.Attempts++
		}
		m.DeliveryAttempts = append(m.DeliveryAttempts, a)
	}
	m.Provider = h.provider
	a := DeliveryAttempt{At: now, Provider: h.provider, DurationMS: h.took.Milliseconds()}
	if h.perRecipient || len(settledRecipients(m)) > 0 {
		return c.recordRecipientAttempt(ctx, m, h, a, opts) // deliver_recipients.go
	}
	sendErr := h.err
	if h.skipped {
		// No provider could be tried: the round counts as a transient failure, and the next
		// one waits at least until a breaker lets a probe through.
		m.Attempts-- // recordDeferred counts attempts that reached a provider
		a.Result, a.Diagnostic = AttemptSkipped, h.diag
		wait := c.delivery.RetryDelays[min(c.transientFailures(m), len(c.delivery.RetryDelays)-1)]
		sendErr = &ProviderError{Kind: Transient, Provider: h.provider, Code: h.diag.Code, Message: h.diag.Message,
			RetryAfter: max(wait, h.retryIn)}
		if opts.FinalAttempt || c.transientFailures(m)+1 >= c.delivery.MaxAttempts() {
			c.log.WarnContext(ctx, "delivery failed: no provider could be tried", "message_id", m.ID, "provider", m.Provider)
			m.Attempts++
			m.DeliveryAttempts = append(m.DeliveryAttempts, a)
			m.ClaimedAt, m.LeaseUntil, m.NextRetryAt = nil, nil, nil
			return nil, c.recordFailed(ctx, m, a.Diagnostic, now)
		}
		return c.recordDeferred(ctx, m, a, sendErr, now)
	}
	if sendErr == nil {
		a.Result = AttemptSent
		c.log.LogAttrs(ctx, slog.LevelInfo, "handed off", slog.String("message_id", m.ID), slog.String("provider", m.Provider),
			slog.String("provider_message_id", h.res.ProviderMessageID), slog.Int64("duration_ms", a.DurationMS))
		return nil, c.recordSent(ctx, m, h.res, a, now, nil)
	}
	kind := ProviderErrorKindOf(sendErr)
	diag := diagnosticOf(m.Provider, sendErr)
	a.Diagnostic = diag
	a.Result = attemptResultOf(kind)
	switch {
	case kind == Unknown:
		c.log.WarnContext(ctx, "delivery outcome unknown", "message_id", m.ID, "provider", m.Provider, "error", sendErr)
		return nil, c.inTx(ctx, func(ctx context.Context, tx Tx) error { return c.recordUnknownTx(ctx, tx, m, diag, now, &a) })
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

// transientFailures counts m's earlier attempts that count towards the final one: the
// rounds that ended with a transient failure, or with no provider to try. An attempt that
// failed over to the next provider is part of its round and does not count; nor does one
// that settled some recipient of a message sent recipient by recipient: it made progress
// (each such attempt settles one recipient at least, so they are few), and the recipients
// left get as many tries as a message of their own would.
func (c *Client) transientFailures(m *Message) int {
	n := 0
	for _, a := range m.DeliveryAttempts {
		if !a.FailedOver && (a.Result == AttemptTransient || a.Result == AttemptSkipped) && !settledSome(a) {
			n++
		}
	}
	return n
}

// settledSome reports whether attempt a settled a recipient (deliver_recipients.go).
func settledSome(a DeliveryAttempt) bool {
	for _, r := range a.Recipients {
		if settles(r.Result) {
			return true
		}
	}
	return false
}

// recordDeferred gives the message back for its next attempt, records the attempt and a
// message.deferred event, and returns the retry request for the queue.
func (c *Client) recordDeferred(ctx context.Context, m *Message, a DeliveryAttempt, sendErr error, now time.Time) (*Error, error) {
	wait := c.delivery.ThrottleDelay
	if a.Result == AttemptTransient || a.Result == AttemptSkipped {
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

// sendTo hands m to provider p; email is m's outbound form (nil for SMS).
func (c *Client) sendTo(ctx context.Context, m *Message, p *liveProvider, email *OutboundEmail) (SendResult, error) {
	if m.Channel == ChannelEmail {
		return p.sender.(EmailSender).SendEmail(ctx, email)
	}
	s := m.SMS
	return p.sender.(SMSSender).SendSMS(ctx, &OutboundSMS{MessageID: m.ID, From: s.From, To: s.To, Body: s.Body, MediaURLs: s.MediaURLs})
}

// smsSender is the provider m goes to first, as emailSender.
func (c *Client) smsSender(m *Message) SMSSender {
	if r := c.routeFor(m); len(r) > 0 {
		return r[0].sender.(SMSSender)
	}
	return nil
}

// providerName is the name of the provider m goes to first.
func (c *Client) providerName(m *Message) string {
	if r := c.routeFor(m); len(r) > 0 {
		return r[0].name
	}
	if c.isSandboxSender(m) {
		return "sandbox"
	}
	return "unknown"
}

// deduplicates reports whether a hand-off of m whose outcome is unknown may be retried: m
// has one provider, and it deduplicates on the message id. With several, the interrupted
// hand-off may have been with any of them, and another one would not know the message.
func (c *Client) deduplicates(m *Message) bool {
	r := c.routeFor(m)
	if len(r) != 1 {
		return false
	}
	d, ok := r[0].sender.(Deduplicator)
	return ok && d.Deduplicates()
}

// recordSent records m as sent. after, when not nil, records more in the same transaction,
// on m as sent.
func (c *Client) recordSent(ctx context.Context, m *Message, res SendResult, a DeliveryAttempt, now time.Time,
	after func(ctx context.Context, tx Tx, m *Message) error) error {
	from := m.Status
	m.Status = StatusSent
	if res.ProviderMessageID != "" {
		m.ProviderMessageID = res.ProviderMessageID
	}
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
	// Due means stamped by the time the answer is recorded: a provider that reports an
	// outcome with its answer (the sandbox's delivery) stamps it during the hand-off, after
	// the attempt began; only later-dated ones (a complaint to come) wait for a job.
	due, later, err := c.splitProviderEvents(m, res, c.now())
	if err != nil {
		return err
	}
	snap := *m
	snap.DeliveryAttempts = slices.Clone(m.DeliveryAttempts)
	r := &record{fn: func(ctx context.Context, tx Tx) error {
		// Each run starts from the message as it was before the first (a shared
		// transaction that rolled back runs this again, alone).
		*m = snap
		m.DeliveryAttempts = slices.Clone(snap.DeliveryAttempts)
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
		if after != nil {
			if err := after(ctx, tx, m); err != nil {
				return err
			}
		}
		if len(later) > 0 {
			if _, err := c.queue.Enqueue(ctx, tx, later...); err != nil {
				return err
			}
		}
		return nil
	}}
	if after == nil && len(later) == 0 && !suppressing(m, due) {
		// The usual answer (sent, and the deliveries the provider already reported) has a
		// plain form: a shared transaction writes it with the others' in one statement each.
		try := snap
		try.DeliveryAttempts = slices.Clone(snap.DeliveryAttempts)
		events := append([]*Event{sent}, c.applyInMemory(&try, due, now)...)
		if from == try.Status || canReach(from, try.Status) {
			r.plain = &plainRecord{update: MessageUpdate{Message: &try, From: from}, events: events, written: func(ctx context.Context) {
				*m = try
				c.sawTransition(ctx, m, from)
			}}
		}
	}
	return c.inRecordTx(ctx, r)
}

// suppressing reports whether any of the due events of m suppresses an address
// (suppressOnEvent): a bounce or a complaint of a live message.
func suppressing(m *Message, due []ProviderEvent) bool {
	if m.Mode == ModeTest {
		return false
	}
	for _, pe := range due {
		if pe.Type == ProviderBounced || pe.Type == ProviderComplaint {
			return true
		}
	}
	return false
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
