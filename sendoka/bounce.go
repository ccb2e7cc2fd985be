package sendoka

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"
)

// VERP: mail sent with Config.Inbound.BounceDomain set leaves with the return path
// bounces+<token>@<bounce domain>. The token is signed and names the message and the
// recipient the transaction went to, so a report that comes back to that address is
// matched to its message and recipient by the token alone, whatever its own text says.
//
// A message with one recipient goes out in one transaction, whose token names that
// recipient. A message with several goes out in one transaction per recipient when its
// provider can send that way (PerRecipientSender: SMTP), each with its own return path
// whose token names its recipient (deliver_recipients.go says how the attempts go and what
// is recorded); a provider that cannot (SES) gets the message in one hand-off, with a token
// that names the message only (the recipient byte is verpAnyRecipient), and the report's
// Final-Recipient then says which recipient it is about.

const (
	tokenVERP = 'b'
	// verpMACLen keeps the address within RFC 5321's 64-octet local part: 1 kind byte, the
	// 16 bytes of the message's ULID, 1 recipient byte and the MAC make 28 bytes, 45 base32
	// characters, 53 with "bounces+".
	verpMACLen = 10
	// verpAnyRecipient in the recipient byte: the token names the message only. Any other
	// value is the recipient's position in recipients(m) (MaxEmailRecipientsTotal is far
	// below it).
	verpAnyRecipient = 0xff
	// VERPPrefix starts the local part of every VERP return path.
	VERPPrefix = "bounces+"
	// UnsubscribeMailPrefix starts the local part of the mailto unsubscribe addresses.
	UnsubscribeMailPrefix = "unsubscribe+"
)

// verpEncoding is lower-case base32: some MTAs fold the case of local parts.
var verpEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// ReturnPath returns the VERP return path of a message sent in one transaction
// (bounces+<token>@<bounce domain>): its token names the message and, when the message has
// one recipient, that recipient. It returns "" when no bounce domain is configured or the id
// is not a message id.
func (c *Client) ReturnPath(ctx context.Context, m *Message) (string, error) {
	rcpt := verpAnyRecipient
	if len(recipients(m)) == 1 {
		rcpt = 0
	}
	return c.returnPath(ctx, m, rcpt)
}

// returnPath returns the VERP return path whose token names m and its recipient at
// position rcpt of recipients(m) (verpAnyRecipient: none), or "" as ReturnPath does.
func (c *Client) returnPath(ctx context.Context, m *Message, rcpt int) (string, error) {
	if c.inbound.BounceDomain == "" || !strings.HasPrefix(m.ID, PrefixMessage) {
		return "", nil
	}
	id, err := ulid.ParseStrict(strings.TrimPrefix(m.ID, PrefixMessage))
	if err != nil {
		return "", nil
	}
	if rcpt < 0 || rcpt > verpAnyRecipient {
		rcpt = verpAnyRecipient
	}
	key, err := c.tracking.hmacKey(ctx, c.store)
	if err != nil {
		return "", err
	}
	b := make([]byte, 0, 1+16+1+verpMACLen)
	b = append(b, tokenVERP)
	b = append(b, id[:]...)
	b = append(b, byte(rcpt))
	mac := hmac.New(sha256.New, key)
	mac.Write(b)
	b = append(b, mac.Sum(nil)[:verpMACLen]...)
	return VERPPrefix + verpEncoding.EncodeToString(b) + "@" + c.inbound.BounceDomain, nil
}

// parseVERP checks the token of a VERP local part (without its prefix) and returns the
// message id and recipient position it names (-1 for any recipient).
func (c *Client) parseVERP(ctx context.Context, token string) (messageID string, rcpt int, ok bool, err error) {
	token = strings.ToLower(token)
	b, derr := verpEncoding.DecodeString(token)
	// The last character holds unused bits, which the decoder ignores: only the encoding
	// we make is a return path, not its variants.
	if derr != nil || len(b) != 1+16+1+verpMACLen || b[0] != tokenVERP || verpEncoding.EncodeToString(b) != token {
		return "", 0, false, nil
	}
	key, err := c.tracking.hmacKey(ctx, c.store)
	if err != nil {
		return "", 0, false, err
	}
	payload, sum := b[:18], b[18:]
	mac := hmac.New(sha256.New, key)
	mac.Write(payload)
	if !hmac.Equal(mac.Sum(nil)[:verpMACLen], sum) {
		return "", 0, false, nil
	}
	var id ulid.ULID
	copy(id[:], payload[1:17])
	rcpt = int(payload[17])
	if payload[17] == verpAnyRecipient {
		rcpt = -1
	}
	return PrefixMessage + id.String(), rcpt, true, nil
}

// CheckVERPAddress reports whether address is a VERP return path of this installation
// with a valid signature: the listener takes mail for it and for no other bounces+ address.
func (c *Client) CheckVERPAddress(ctx context.Context, address string) (bool, error) {
	local, domain, ok := strings.Cut(strings.ToLower(address), "@")
	if !ok || domain != c.inbound.BounceDomain || c.inbound.BounceDomain == "" || !strings.HasPrefix(local, VERPPrefix) {
		return false, nil
	}
	_, _, ok, err := c.parseVERP(ctx, strings.TrimPrefix(local, VERPPrefix))
	return ok, err
}

// ReportKind is what a delivery report says of one recipient.
type ReportKind string

// Report kinds.
const (
	ReportHardBounce ReportKind = "hard"
	ReportSoftBounce ReportKind = "soft"
	ReportDelayed    ReportKind = "delayed"
	ReportDelivered  ReportKind = "delivered"
	ReportComplaint  ReportKind = "complaint"
)

// DeliveryReport is a report that came back about a message Sendoka sent: a DSN, a
// free-text bounce or an ARF complaint, as the inbound listener read it (package bounce).
type DeliveryReport struct {
	// ID identifies the report, so one delivered twice is applied once.
	ID string
	// ReturnPath is the address the report was sent to (a VERP return path), or "".
	ReturnPath string
	// OriginalMessageID is the Message-ID of the message reported on, when the report
	// quotes it; Sendoka's own are <msg_…@domain>.
	OriginalMessageID string
	// Format is the report's format (dsn, arf, nonstd), recorded on its events.
	Format string
	// ReportingMTA is the host that wrote the report.
	ReportingMTA string
	// FeedbackType is an ARF report's Feedback-Type.
	FeedbackType string
	Recipients   []ReportRecipient
}

// ReportRecipient is what a report says of one recipient.
type ReportRecipient struct {
	// Address is the recipient named by the report. The recipient the VERP token names,
	// when it names one, wins over it (that return path went out to that recipient alone);
	// otherwise "" or an address that is not one of the message's recipients (a redacted
	// complaint) falls back to the message's only recipient.
	Address    string
	Kind       ReportKind
	Action     string
	Status     string // RFC 3463, "5.1.1"
	SMTPCode   string // "550"
	Diagnostic string
	RemoteMTA  string
	// Reason is the classifier's reason (user_unknown, mailbox_full, ...).
	Reason string
}

// ReportResult says what a report did.
type ReportResult struct {
	// MessageID is the message it was matched to; "" when it matched none.
	MessageID string
	// Duplicate is true when the report was applied before.
	Duplicate bool
	// Applied counts the recipients it recorded events for.
	Applied int
}

// HandleDeliveryReport applies a report about a message Sendoka sent, in one transaction.
// The message is the one the VERP token of ReturnPath names (checked), else the one whose
// id is the left part of OriginalMessageID; the recipient is the one the token names, when
// it names one (ReportRecipient.Address). Each recipient's report becomes an event:
//
//   - hard: message.bounced for the recipient; the message becomes bounced once every
//     recipient has an outcome (IngestProviderNotification's rules), and the address is
//     suppressed (live messages only);
//   - soft and delayed: message.soft_bounced or message.delayed; the status stays;
//   - delivered: message.delivered, as a provider's delivery report;
//   - complaint: message.complained, the recipient marked complained and suppressed; the
//     status stays.
//
// The diagnostic (status code, SMTP reply, text, remote MTA) is kept on the event, on the
// recipient and, for a bounce, on the message. A report that matches no message is
// CodeNotFound; one applied before changes nothing.
func (c *Client) HandleDeliveryReport(ctx context.Context, r *DeliveryReport) (ReportResult, error) {
	msgID, rcptPos := "", -1
	if r.ReturnPath != "" {
		local, _, _ := strings.Cut(strings.ToLower(r.ReturnPath), "@")
		if strings.HasPrefix(local, VERPPrefix) {
			id, pos, ok, err := c.parseVERP(ctx, strings.TrimPrefix(local, VERPPrefix))
			if err != nil {
				return ReportResult{}, AsError(err)
			}
			if ok {
				msgID, rcptPos = id, pos
			}
		}
	}
	if msgID == "" {
		left, _, _ := strings.Cut(strings.Trim(strings.TrimSpace(r.OriginalMessageID), "<>"), "@")
		if strings.HasPrefix(left, PrefixMessage) && plausibleID(left) {
			msgID = left
		}
	}
	if msgID == "" {
		return ReportResult{}, NotFound("message")
	}
	now := c.now()
	var res ReportResult
	err := c.inTx(ctx, func(ctx context.Context, tx Tx) error {
		res = ReportResult{}
		m, err := tx.GetMessage(ctx, msgID)
		if err != nil {
			return err
		}
		if r.ID != "" {
			fresh, err := tx.MarkNotification(ctx, r.ID, now)
			if err != nil {
				return err
			}
			if !fresh {
				res.Duplicate, res.MessageID = true, m.ID
				return nil
			}
		}
		res.MessageID = m.ID
		all := recipients(m)
		for _, rr := range r.Recipients {
			addr := c.reportAddress(m, all, rr.Address, rcptPos)
			if err := c.applyReport(ctx, tx, m, r, rr, addr, now); err != nil {
				return err
			}
			res.Applied++
		}
		return nil
	})
	if err != nil {
		return ReportResult{}, err
	}
	return res, nil
}

// reportAddress is the recipient of m a report's line is about: the one the VERP token
// names (the transaction that return path went out with had that recipient alone, so the
// report is about mail for it, whatever address it names: a forwarded one, say), else the
// address it names when that is a recipient, else m's only recipient, else "".
func (c *Client) reportAddress(m *Message, all []string, named string, rcptPos int) string {
	if rcptPos >= 0 && rcptPos < len(all) {
		return all[rcptPos]
	}
	if a, ok := NormalizeSuppressionAddress(m.Channel, named); ok && named != "" {
		for _, r := range all {
			if r == a {
				return a
			}
		}
	}
	if len(all) == 1 {
		return all[0]
	}
	return ""
}

// reportDiagnostic is the Diagnostic of one recipient's report, in the shape SES bounces
// have (sesevent): the status as code, the text as message.
func reportDiagnostic(m *Message, rr ReportRecipient) *Diagnostic {
	// Everything here came from the network: cut, valid UTF-8, no NUL (jsonb refuses \u0000).
	d := &Diagnostic{Provider: m.Provider, Code: clean(rr.Status, 32), Message: rr.Diagnostic, SMTPStatus: clean(rr.SMTPCode, 8),
		EnhancedStatus: clean(rr.Status, 32), BounceSubType: clean(rr.Reason, 64), RemoteMTA: clean(rr.RemoteMTA, 255)}
	if d.Provider == "" {
		d.Provider = "smtp"
	}
	switch rr.Kind {
	case ReportHardBounce:
		d.BounceType = "Permanent"
	case ReportSoftBounce:
		d.BounceType = "Transient"
	case ReportComplaint:
		d.Code, d.BounceSubType = "complaint", ""
	}
	if d.Code == "" {
		d.Code = rr.Reason
	}
	if d.Message == "" {
		d.Message = strings.TrimSpace(rr.Action + " " + rr.Reason)
	}
	d.Message = clean(d.Message, 2000)
	return d
}

// applyReport records one recipient's report on m.
func (c *Client) applyReport(ctx context.Context, tx Tx, m *Message, r *DeliveryReport, rr ReportRecipient, addr string, now time.Time) error {
	diag := reportDiagnostic(m, rr)
	data := map[string]any{"report": clean(r.Format, 32)}
	for k, v := range map[string]string{"action": rr.Action, "status": rr.Status, "smtp_code": rr.SMTPCode,
		"remote_mta": rr.RemoteMTA, "reason": rr.Reason, "reporting_mta": r.ReportingMTA, "feedback_type": r.FeedbackType} {
		if v != "" {
			data[k] = clean(v, 500)
		}
	}
	if rr.Address != "" && addr != strings.ToLower(rr.Address) {
		data["reported_recipient"] = clean(rr.Address, 320)
	}
	if rr.Kind == ReportComplaint {
		return c.applyComplaint(ctx, tx, m, addr, diag, data, now)
	}
	var typ ProviderEventType
	switch rr.Kind {
	case ReportHardBounce:
		typ = ProviderBounced
	case ReportSoftBounce:
		typ = ProviderSoftBounced
	case ReportDelayed:
		typ = ProviderDelayed
	case ReportDelivered:
		typ = ProviderDelivered
	default:
		return nil
	}
	if addr == "" {
		// Several recipients and none named: the report is kept as an event, and moves
		// nothing.
		evType, _ := providerEventOutcome(typ)
		ev := c.newEvent(m, evType, "", diag, now)
		ev.Data = data
		return c.recordEvents(ctx, tx, ev)
	}
	return c.applyRecipientEvent(ctx, tx, m, ProviderEvent{MessageID: m.ID, Type: typ, Recipient: addr,
		Diagnostic: diag, Data: data, OccurredAt: now}, now)
}

// applyComplaint records a complaint: message.complained, the recipient complained, and a
// complaint suppression (live messages only).
func (c *Client) applyComplaint(ctx context.Context, tx Tx, m *Message, addr string, diag *Diagnostic, data map[string]any, now time.Time) error {
	ev := c.newEvent(m, EventComplained, "", diag, now)
	ev.Recipient, ev.Data = addr, data
	if addr != "" {
		rows, err := tx.ListMessageRecipients(ctx, m.ID)
		if err != nil {
			return err
		}
		var from RecipientStatus
		for _, r := range rows {
			if r.Address == addr {
				from = r.Status
			}
		}
		if recipientMoves(from, RecipientComplained) {
			if err := tx.PutMessageRecipient(ctx, &MessageRecipient{MessageID: m.ID, Address: addr, Status: RecipientComplained, Diagnostic: diag, UpdatedAt: now}); err != nil {
				return err
			}
		}
	}
	if err := c.recordEvents(ctx, tx, ev); err != nil {
		return err
	}
	if addr == "" {
		return nil
	}
	return c.suppressOnEvent(ctx, tx, m, ProviderEvent{Type: ProviderComplaint, Recipient: addr}, now)
}
