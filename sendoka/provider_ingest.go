package sendoka

import (
	"context"
	"time"
)

// RecipientStatus is where one recipient of a message is, as its provider reported it.
type RecipientStatus string

// Recipient statuses. delayed and soft_bounced are pending: the provider is still trying.
// delivered, bounced, complained and failed are outcomes; an outcome never goes back to
// pending, and of the outcomes only delivered moves on (to complained, when the recipient
// marks the delivered message as spam).
const (
	RecipientDelayed     RecipientStatus = "delayed"
	RecipientSoftBounced RecipientStatus = "soft_bounced"
	RecipientDelivered   RecipientStatus = "delivered"
	RecipientBounced     RecipientStatus = "bounced"
	RecipientComplained  RecipientStatus = "complained"
	RecipientFailed      RecipientStatus = "failed"
)

// Final reports whether s is an outcome rather than a pending status.
func (s RecipientStatus) Final() bool {
	switch s {
	case RecipientDelivered, RecipientBounced, RecipientComplained, RecipientFailed:
		return true
	}
	return false
}

// recipientMoves reports whether a recipient may go from one status to another: pending
// moves anywhere, delivered only to complained, other outcomes nowhere. A late report never
// takes a recipient back.
func recipientMoves(from, to RecipientStatus) bool {
	switch {
	case from == "" || !from.Final():
		return from != to
	case from == RecipientDelivered:
		return to == RecipientComplained
	}
	return false
}

// MessageRecipient is the provider's latest word on one recipient of a message.
type MessageRecipient struct {
	MessageID string
	// Address is the normalised address (NormalizeSuppressionAddress).
	Address    string
	Status     RecipientStatus
	Diagnostic *Diagnostic
	UpdatedAt  time.Time
}

// ProviderIngestStore reads what provider ingestion wrote.
type ProviderIngestStore interface {
	// ListMessageRecipients returns the per-recipient outcomes of a message in scope, by
	// address. A message outside scope has none.
	ListMessageRecipients(ctx context.Context, scope Scope, messageID string) ([]MessageRecipient, error)
}

// ProviderIngestTx is the part of Tx provider ingestion uses.
type ProviderIngestTx interface {
	// MarkNotification records that the provider notification id was applied, and reports
	// false when it already was (the caller then changes nothing). Two transactions marking
	// the same id never both get true.
	MarkNotification(ctx context.Context, id string, at time.Time) (bool, error)
	// MessagesByProviderID returns the messages (whatever their scope) a provider knows by
	// providerMessageID, oldest first; usually one.
	MessagesByProviderID(ctx context.Context, providerMessageID string) ([]*Message, error)
	// ListMessageRecipients is ProviderIngestStore.ListMessageRecipients for any scope.
	ListMessageRecipients(ctx context.Context, messageID string) ([]MessageRecipient, error)
	// PutMessageRecipient inserts or replaces the row of (r.MessageID, r.Address).
	PutMessageRecipient(ctx context.Context, r *MessageRecipient) error
	// PruneNotifications forgets at most limit notification ids marked before before, and
	// returns how many it forgot.
	PruneNotifications(ctx context.Context, before time.Time, limit int) (int, error)
}

// NotificationRetention is how long a provider notification id is remembered: SNS retries a
// delivery for at most a few hours (its HTTP delivery policy), so a notification seen once
// cannot come back after this.
const NotificationRetention = 7 * 24 * time.Hour

// PruneProviderNotifications forgets provider notification ids older than
// NotificationRetention, a batch per transaction, and returns how many it forgot.
func (c *Client) PruneProviderNotifications(ctx context.Context) (int, error) {
	const batch = 5000
	before := c.now().Add(-NotificationRetention)
	total := 0
	for {
		var n int
		err := c.inTx(ctx, func(ctx context.Context, tx Tx) error {
			var err error
			n, err = tx.PruneNotifications(ctx, before, batch)
			return err
		})
		total += n
		if err != nil || n < batch {
			return total, err
		}
	}
}

// ProviderNotification is one notification of a provider: events about the messages the
// provider knows by ProviderMessageID.
type ProviderNotification struct {
	// ID identifies the notification, so a notification delivered twice is applied once (the
	// source's id, prefixed with the source, for example "sns:<MessageId>").
	ID string
	// ProviderMessageID is the provider's id of the message (SendResult.ProviderMessageID).
	ProviderMessageID string
	// Events are the notification's reports, each about one recipient (Recipient set) or
	// the whole message (Recipient ""). Their MessageID is ignored.
	Events []ProviderEvent
}

// IngestResult says what a notification did.
type IngestResult struct {
	// Duplicate is true when the notification was applied before: nothing changed.
	Duplicate bool
	// Messages are the ids of the messages it concerned; none when the provider id is unknown.
	Messages []string
}

// IngestProviderNotification applies a provider's notification, in one transaction: a
// notification already applied changes nothing; each event is recorded on every message the
// provider knows by the id, and moves the recipient it names where the recipient status
// machine allows (recipientMoves), then the message where its status machine allows:
//
//   - a report about the whole message (no recipient) moves it as HandleProviderEvent does;
//   - otherwise the message stays sent until every recipient has an outcome, then becomes
//     delivered when at least one recipient was delivered (or complained after delivery),
//     else bounced when at least one bounced, else failed.
//
// A bounce or complaint suppresses its recipient in the message's org and tenant (live
// messages only). A notification whose provider id matches no message changes nothing but is
// not marked applied, so its redelivery may still match (the provider's id is recorded just
// after the provider accepts the message, and a fast report can come first).
func (c *Client) IngestProviderNotification(ctx context.Context, n ProviderNotification) (IngestResult, error) {
	var res IngestResult
	now := c.now()
	err := c.inTx(ctx, func(ctx context.Context, tx Tx) error {
		res = IngestResult{}
		msgs, err := tx.MessagesByProviderID(ctx, n.ProviderMessageID)
		if err != nil || len(msgs) == 0 {
			return err
		}
		fresh, err := tx.MarkNotification(ctx, n.ID, now)
		if err != nil {
			return err
		}
		if !fresh {
			res.Duplicate = true
			return nil
		}
		for _, m := range msgs {
			res.Messages = append(res.Messages, m.ID)
			for _, pe := range n.Events {
				pe.MessageID = m.ID
				if err := c.applyRecipientEvent(ctx, tx, m, pe, now); err != nil {
					return err
				}
			}
		}
		return nil
	})
	return res, err
}

// recipientStatusOf is the recipient status a provider event reports ("" for none).
func recipientStatusOf(t ProviderEventType) RecipientStatus {
	switch t {
	case ProviderDelivered:
		return RecipientDelivered
	case ProviderBounced:
		return RecipientBounced
	case ProviderComplaint:
		return RecipientComplained
	case ProviderFailed:
		return RecipientFailed
	case ProviderSoftBounced:
		return RecipientSoftBounced
	case ProviderDelayed:
		return RecipientDelayed
	}
	return ""
}

// applyRecipientEvent records pe on m (as it is in tx), moving its recipient and then the
// message as IngestProviderNotification says.
func (c *Client) applyRecipientEvent(ctx context.Context, tx Tx, m *Message, pe ProviderEvent, now time.Time) error {
	addr, ok := NormalizeSuppressionAddress(m.Channel, pe.Recipient)
	rs := recipientStatusOf(pe.Type)
	if pe.Recipient == "" || !ok || rs == "" {
		// About the whole message (an SES Reject), or not about delivery (opens, clicks).
		return c.applyProviderEvent(ctx, tx, m, pe, now)
	}
	typ, _ := providerEventOutcome(pe.Type)
	rows, err := tx.ListMessageRecipients(ctx, m.ID)
	if err != nil {
		return err
	}
	byAddr := make(map[string]RecipientStatus, len(rows))
	for _, r := range rows {
		byAddr[r.Address] = r.Status
	}
	ev := c.newEvent(m, typ, "", pe.Diagnostic, now)
	ev.Recipient, ev.Data = addr, pe.Data
	if ev.Data == nil {
		ev.Data = map[string]any{}
	}
	if recipientMoves(byAddr[addr], rs) {
		if err := tx.PutMessageRecipient(ctx, &MessageRecipient{MessageID: m.ID, Address: addr, Status: rs, Diagnostic: pe.Diagnostic, UpdatedAt: now}); err != nil {
			return err
		}
		byAddr[addr] = rs
		ev.Data["recipient_status"] = string(rs)
	} else {
		ev.Data["ignored_recipient_status"] = string(rs)
	}
	moved := false
	if status := aggregateStatus(recipients(m), byAddr); status != "" && CanTransition(m.Status, status) {
		from := m.Status
		m.Status, m.UpdatedAt, m.CompletedAt = status, now, &now
		if status != StatusDelivered && pe.Diagnostic != nil {
			m.Diagnostic = pe.Diagnostic
		}
		ev.Status = status
		if moved, err = c.transition(ctx, tx, m, from, ev); err != nil {
			return err
		}
	}
	if !moved {
		ev.Status = ""
		if err := c.recordEvents(ctx, tx, ev); err != nil {
			return err
		}
	}
	return c.suppressOnEvent(ctx, tx, m, pe, now)
}

// aggregateStatus is the message status its recipients' outcomes call for, "" while one of
// all is still pending: delivered when one was delivered (complained counts: it was
// delivered), else bounced when one bounced, else failed.
func aggregateStatus(all []string, byAddr map[string]RecipientStatus) Status {
	if len(all) == 0 {
		return ""
	}
	var delivered, bounced bool
	for _, a := range all {
		s := byAddr[a]
		if !s.Final() {
			return ""
		}
		delivered = delivered || s == RecipientDelivered || s == RecipientComplained
		bounced = bounced || s == RecipientBounced
	}
	switch {
	case delivered:
		return StatusDelivered
	case bounced:
		return StatusBounced
	}
	return StatusFailed
}

// Addresses returns the normalised addresses m goes to: to, cc and bcc of an email (each
// once), the number of an SMS.
func (m *Message) Addresses() []string { return recipients(m) }
