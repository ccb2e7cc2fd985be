package sendoka

import (
	"context"
	"fmt"
	"net/mail"
	"slices"
	"strings"
	"time"
)

// SuppressionReason says why an address is suppressed.
type SuppressionReason string

// Suppression reasons.
const (
	// SuppressionOptOut: the recipient replied STOP (or another opt-out keyword) to an SMS.
	SuppressionOptOut SuppressionReason = "opt_out"
	// SuppressionBounce: a message to the address bounced.
	SuppressionBounce SuppressionReason = "bounce"
	// SuppressionComplaint: the recipient marked a message as spam.
	SuppressionComplaint SuppressionReason = "complaint"
	// SuppressionManual: added through the API or the library.
	SuppressionManual SuppressionReason = "manual"
	// SuppressionUnsubscribe: the recipient unsubscribed from email (a manual add with this
	// reason, for lists kept outside Sendoka).
	SuppressionUnsubscribe SuppressionReason = "unsubscribe"
)

// SuppressionReasons lists every reason, in the form the core stores. The API shows
// SuppressionOptOut as "stop" (APIReason).
var SuppressionReasons = []SuppressionReason{SuppressionBounce, SuppressionComplaint, SuppressionUnsubscribe, SuppressionOptOut, SuppressionManual}

// APIReason is the reason as the API shows it: "stop" for an SMS opt-out, which the core
// has always stored as "opt_out"; every other reason as it is.
func (r SuppressionReason) APIReason() string {
	if r == SuppressionOptOut {
		return "stop"
	}
	return string(r)
}

// ParseSuppressionReason reads a reason in its API form ("stop" and "opt_out" are the same
// reason), and reports false for an unknown one.
func ParseSuppressionReason(s string) (SuppressionReason, bool) {
	if s == "stop" {
		return SuppressionOptOut, true
	}
	r := SuppressionReason(s)
	return r, slices.Contains(SuppressionReasons, r)
}

// Suppression keeps messages of one channel from reaching one address. Suppressions are
// scoped like everything else: an org-wide suppression (TenantID "") applies to the org's
// org-wide messages, a tenant's to that tenant's messages only, so a bounce under tenant A
// does not suppress the address for tenant B.
type Suppression struct {
	ID       string
	OrgID    string
	TenantID string
	Channel  Channel
	// Address is the normalised address: a lower-cased bare email address, or an E.164 number.
	Address string
	Reason  SuppressionReason
	// MessageID is the message whose bounce or complaint caused the suppression, if any.
	MessageID string
	// CreatedBy is the id of the API key that added the suppression by hand ("" for one the
	// core added on a bounce, complaint or STOP).
	CreatedBy string
	CreatedAt time.Time
	// ExpiresAt, when set, is when the suppression stops suppressing: from then on sends to
	// the address go out again, and a new bounce suppresses it afresh.
	ExpiresAt *time.Time
	// RemovedAt and RemovedBy are set on history entries only (Client.SuppressionDetail): when
	// the suppression was lifted, and by whom: an API key id, "inbound:START" for an SMS
	// opt-in, or "expired" for an expired suppression replaced by a new one.
	RemovedAt *time.Time
	RemovedBy string
}

// Active reports whether s suppresses at now: it is not removed and has not expired.
func (s *Suppression) Active(now time.Time) bool {
	return s.RemovedAt == nil && (s.ExpiresAt == nil || s.ExpiresAt.After(now))
}

// Who lifted a suppression when no API key did (Suppression.RemovedBy).
const (
	RemovedByInboundStart = "inbound:START"
	RemovedByExpiry       = "expired"
)

// DiagnosticOptedOut is the ProviderError.Code (and so the Diagnostic.Code) a provider uses
// when it refuses a message because the recipient opted out with the carrier or the provider.
// The core then suppresses the recipient, as an inbound STOP would.
const DiagnosticOptedOut = "opted_out"

// SuppressionStore reads suppressions.
type SuppressionStore interface {
	// GetSuppressions returns the suppressions of exactly this org and tenant ("" matches only
	// org-wide suppressions) on channel whose address is one of addresses (normalised, compared
	// exactly), in any order. Expired suppressions are returned too (with their ExpiresAt):
	// the core decides what still suppresses.
	GetSuppressions(ctx context.Context, orgID, tenantID string, channel Channel, addresses []string) ([]*Suppression, error)
	// ListSuppressions returns one page of the namespace's current suppressions (scope.TenantID
	// "" is the org-wide namespace only, as for templates; scope.Mode is ignored), newest first:
	// ordered by (CreatedAt, ID) descending, strictly after q.After when it is set. It returns
	// at most q.Limit suppressions, and HasMore tells whether more follow.
	ListSuppressions(ctx context.Context, scope Scope, q SuppressionQuery) (*SuppressionPage, error)
	// SuppressionHistory returns the lifted suppressions of address on channel in exactly this
	// org and tenant, most recently removed first, at most limit of them; each has RemovedAt set.
	SuppressionHistory(ctx context.Context, orgID, tenantID string, channel Channel, address string, limit int) ([]*Suppression, error)
}

// SuppressionQuery selects suppressions for ListSuppressions. Zero fields do not filter.
type SuppressionQuery struct {
	Channel Channel
	Reason  SuppressionReason
	// CreatedAfter and CreatedBefore bound CreatedAt: CreatedAfter <= CreatedAt < CreatedBefore.
	CreatedAfter, CreatedBefore *time.Time
	Limit                       int // 1..100; the core always sets it
	After                       *Cursor
}

// SuppressionPage is one page of ListSuppressions.
type SuppressionPage struct {
	Suppressions []*Suppression
	HasMore      bool
}

// SuppressionTx reads and writes suppressions in a transaction.
type SuppressionTx interface {
	// GetSuppressions is SuppressionStore.GetSuppressions inside the transaction.
	GetSuppressions(ctx context.Context, orgID, tenantID string, channel Channel, addresses []string) ([]*Suppression, error)
	// InsertSuppression adds s unless the org and tenant already suppress that address on
	// that channel (the first suppression, and its reason, stay), and reports whether it did.
	// A stored suppression that expired at or before s.CreatedAt does not count: it moves to
	// the history (RemovedAt s.CreatedAt, RemovedBy RemovedByExpiry) and s takes its place.
	InsertSuppression(ctx context.Context, s *Suppression) (bool, error)
	// InsertSuppressions is InsertSuppression for many, in few statements (a manual add of up
	// to MaxSuppressionBatch): for each it returns nil when it was added, or the suppression
	// already in force that kept it out. Of two with the same namespace, channel and address,
	// the first is added.
	InsertSuppressions(ctx context.Context, ss []*Suppression) ([]*Suppression, error)
	// DeleteSuppression lifts the suppression of address on channel for exactly this org and
	// tenant, and reports whether there was one. The lifted suppression is kept in the history
	// (SuppressionStore.SuppressionHistory) with RemovedAt at and RemovedBy by.
	DeleteSuppression(ctx context.Context, orgID, tenantID string, channel Channel, address, by string, at time.Time) (bool, error)
}

// NormalizeSuppressionAddress returns the form of an address that suppressions compare: for
// email the bare address, lower-cased (a display name is dropped); for SMS the E.164 number.
// It reports false for an address of neither form.
func NormalizeSuppressionAddress(ch Channel, address string) (string, bool) {
	switch ch {
	case ChannelEmail:
		a, err := mail.ParseAddress(address)
		if err != nil || !strings.Contains(a.Address, "@") {
			return "", false
		}
		return strings.ToLower(a.Address), true
	case ChannelSMS:
		return ParseE164(address)
	}
	return "", false
}

// recipients returns the normalised addresses a message goes to: to, cc and bcc for email.
func recipients(m *Message) []string {
	var out []string
	add := func(list ...string) {
		for _, a := range list {
			if n, ok := NormalizeSuppressionAddress(m.Channel, a); ok && !slices.Contains(out, n) {
				out = append(out, n)
			}
		}
	}
	switch {
	case m.Email != nil:
		for _, r := range emailRecipients(m.Email) { // deliver_recipients.go
			out = append(out, r.addr)
		}
	case m.SMS != nil:
		add(m.SMS.To)
	}
	return out
}

// checkSuppressed applies the suppression list to a message about to be accepted: when every
// recipient is suppressed it fails with CodeAllSuppressed (an SMS has one recipient, so a
// suppressed SMS recipient always does); otherwise it drops the suppressed recipients of an
// email from to, cc and bcc, and the message goes to the others. The rows of a batch (bc set)
// are checked later, all with one query (batch.go), then each with applySuppressions.
func (c *Client) checkSuppressed(ctx context.Context, m *Message, bc *batchCache) error {
	all := recipients(m)
	if len(all) == 0 {
		return nil
	}
	if bc != nil {
		bc.deferred = append(bc.deferred, m)
		return nil
	}
	found, err := c.store.GetSuppressions(ctx, m.OrgID, m.TenantID, m.Channel, all)
	if err != nil {
		return AsError(err)
	}
	return applySuppressions(m, all, activeOnly(found, c.now()))
}

// activeOnly keeps the suppressions that still suppress at now (not expired).
func activeOnly(found []*Suppression, now time.Time) []*Suppression {
	out := found[:0:0]
	for _, s := range found {
		if s.Active(now) {
			out = append(out, s)
		}
	}
	return out
}

// applySuppressions applies the suppressions found for m's recipients (all) to m.
func applySuppressions(m *Message, all []string, found []*Suppression) error {
	if len(found) == 0 {
		return nil
	}
	if len(found) == len(all) {
		return &Error{Code: CodeAllSuppressed, Message: suppressedMessage(m.Channel, found)}
	}
	dropped := make(map[string]bool, len(found))
	for _, s := range found {
		dropped[s.Address] = true
	}
	// Each dropped recipient gets a message.suppressed event when the message is stored.
	m.suppressed = found
	keep := func(list []string) []string {
		out := list[:0:0]
		for _, a := range list {
			if n, ok := NormalizeSuppressionAddress(ChannelEmail, a); !ok || !dropped[n] {
				out = append(out, a)
			}
		}
		if len(out) == 0 {
			return nil
		}
		return out
	}
	m.Email.To, m.Email.Cc, m.Email.Bcc = keep(m.Email.To), keep(m.Email.Cc), keep(m.Email.Bcc)
	return nil
}

func suppressedMessage(ch Channel, found []*Suppression) string {
	if ch == ChannelSMS {
		s := found[0]
		if s.Reason == SuppressionOptOut {
			return fmt.Sprintf("%s opted out (replied STOP); a reply of START opts them back in", s.Address)
		}
		return fmt.Sprintf("%s is on the suppression list (%s)", s.Address, s.Reason)
	}
	if len(found) == 1 {
		return fmt.Sprintf("%s is on the suppression list (%s)", found[0].Address, found[0].Reason)
	}
	return fmt.Sprintf("all %d recipients are on the suppression list", len(found))
}

// suppressedAtDelivery is the last check before a message reaches its provider, run in the
// claiming transaction: a recipient may have opted out (or bounced) after the message was
// accepted, for example while it waited for its scheduled time. It returns the diagnostic to
// fail the message with when every recipient is now suppressed, or nil. An email that still
// has a recipient goes out as accepted, and so does one an earlier attempt already sent to
// some of its recipients (deliver_recipients.go): a suppression that the bounce of one of
// those caused must not fail a message on its way.
func suppressedAtDelivery(ctx context.Context, r suppressionReader, m *Message, provider string, now time.Time) (*Diagnostic, error) {
	all := recipients(m)
	if len(all) == 0 || sentToSome(m) {
		return nil, nil
	}
	found, err := r.GetSuppressions(ctx, m.OrgID, m.TenantID, m.Channel, all)
	if err != nil {
		return nil, err
	}
	return suppressedDiagnostic(m, provider, all, activeOnly(found, now)), nil
}

// suppressedDiagnostic is the failure of m when its active suppressions (found, among the
// suppressions of its recipients all) cover every recipient, and nil otherwise.
func suppressedDiagnostic(m *Message, provider string, all []string, found []*Suppression) *Diagnostic {
	if len(all) == 0 || sentToSome(m) || len(found) < len(all) {
		return nil
	}
	return &Diagnostic{Provider: provider, Code: "suppressed", Message: suppressedMessage(m.Channel, found)}
}

// suppressionReader is what reads suppressions: the Store, or a Tx.
type suppressionReader interface {
	GetSuppressions(ctx context.Context, orgID, tenantID string, channel Channel, addresses []string) ([]*Suppression, error)
}

// suppressOnEvent adds the suppression that a bounce or a complaint calls for, scoped to the
// message's org and tenant. The recipient is the event's, or the message's only recipient when
// the event names none; a report that cannot be tied to one address suppresses nothing.
func (c *Client) suppressOnEvent(ctx context.Context, tx Tx, m *Message, pe ProviderEvent, now time.Time) error {
	if m.Mode == ModeTest {
		// A test key's bounces are simulated: they must not block the org's live sends, nor
		// make a sandbox magic address unusable for the next test run.
		return nil
	}
	var reason SuppressionReason
	switch pe.Type {
	case ProviderBounced:
		reason = SuppressionBounce
	case ProviderComplaint:
		reason = SuppressionComplaint
	default:
		return nil
	}
	addr, ok := NormalizeSuppressionAddress(m.Channel, pe.Recipient)
	if pe.Recipient == "" {
		all := recipients(m)
		addr, ok = "", len(all) == 1
		if ok {
			addr = all[0]
		}
	}
	if !ok {
		return nil
	}
	_, err := tx.InsertSuppression(ctx, &Suppression{
		ID: NewID(PrefixSuppression, now), OrgID: m.OrgID, TenantID: m.TenantID, Channel: m.Channel,
		Address: addr, Reason: reason, MessageID: m.ID, CreatedAt: now,
	})
	return err
}

// suppressOptedOut adds an opt-out suppression when a provider failed a message because its
// recipient opted out.
func (c *Client) suppressOptedOut(ctx context.Context, tx Tx, m *Message, diag *Diagnostic, now time.Time) error {
	if diag == nil || diag.Code != DiagnosticOptedOut || m.Mode == ModeTest {
		return nil
	}
	all := recipients(m)
	if len(all) != 1 {
		return nil
	}
	_, err := tx.InsertSuppression(ctx, &Suppression{
		ID: NewID(PrefixSuppression, now), OrgID: m.OrgID, TenantID: m.TenantID, Channel: m.Channel,
		Address: all[0], Reason: SuppressionOptOut, MessageID: m.ID, CreatedAt: now,
	})
	return err
}
