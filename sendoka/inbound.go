package sendoka

import (
	"context"
	"strings"
)

// InboundAction is what an inbound SMS did.
type InboundAction string

// Inbound actions.
const (
	// InboundOptOut: the body was an opt-out keyword; the sender's number is now suppressed.
	InboundOptOut InboundAction = "opt_out"
	// InboundOptIn: the body was an opt-in keyword; the suppression is lifted.
	InboundOptIn InboundAction = "opt_in"
	// InboundNone: any other message; nothing changes.
	InboundNone InboundAction = "none"
)

// The keywords carriers and AWS End User Messaging treat as opt-out and opt-in. A message is
// a keyword only when its whole body, trimmed, is the word (in any case): "STOP" opts out,
// "please stop" does not.
var (
	OptOutKeywords = []string{"STOP", "UNSUBSCRIBE", "END", "QUIT", "STOPALL", "REVOKE", "OPTOUT", "CANCEL"}
	OptInKeywords  = []string{"START", "UNSTOP", "YES"}
)

// InboundKeyword classifies an inbound body: InboundOptOut, InboundOptIn or InboundNone.
func InboundKeyword(body string) InboundAction {
	word := strings.TrimSpace(body)
	// The keywords are ASCII; an exact, case-folded comparison keeps "STOP!" or "ＳＴＯＰ"
	// (fullwidth) from counting, as carriers do.
	for _, k := range OptOutKeywords {
		if strings.EqualFold(word, k) && len(word) == len(k) {
			return InboundOptOut
		}
	}
	for _, k := range OptInKeywords {
		if strings.EqualFold(word, k) && len(word) == len(k) {
			return InboundOptIn
		}
	}
	return InboundNone
}

// HandleInboundSMS applies a message that a recipient (from, E.164) sent to one of our
// registered numbers (to, E.164). An opt-out keyword suppresses from for SMS in the scope of
// every registration of to (its org, and its tenant in platform mode); an opt-in keyword lifts
// that suppression. Other bodies change nothing. Provider ingestion (SNS notifications, the
// sandbox's simulated replies) calls it.
//
// Errors: from or to that is not E.164 is CodeValidation; to that no org has registered is
// CodeNotFound.
func (c *Client) HandleInboundSMS(ctx context.Context, from, to, body string) (InboundAction, error) {
	var v Validation
	sender, ok := ParseE164(from)
	if !ok {
		v.Add(FieldInvalidString, "must be an E.164 phone number", "from")
	}
	number, ok := ParseE164(to)
	if !ok {
		v.Add(FieldInvalidString, "must be an E.164 phone number", "to")
	}
	if err := v.Err(); err != nil {
		return "", err
	}
	regs, err := c.store.PhoneNumbersByAddress(ctx, number)
	if err != nil {
		return "", AsError(err)
	}
	if len(regs) == 0 {
		return "", NotFound("phone number")
	}
	action := InboundKeyword(body)
	if action == InboundNone {
		return action, nil
	}
	now := c.now()
	err = c.inTx(ctx, func(ctx context.Context, tx Tx) error {
		for _, r := range regs {
			var err error
			if action == InboundOptOut {
				_, err = tx.InsertSuppression(ctx, &Suppression{
					ID: NewID(PrefixSuppression, now), OrgID: r.OrgID, TenantID: r.TenantID,
					Channel: ChannelSMS, Address: sender, Reason: SuppressionOptOut, CreatedAt: now,
				})
			} else {
				_, err = tx.DeleteSuppression(ctx, r.OrgID, r.TenantID, ChannelSMS, sender, RemovedByInboundStart, now)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	c.log.InfoContext(ctx, "inbound SMS keyword", "action", action, "to", number)
	return action, nil
}
