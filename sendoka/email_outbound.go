package sendoka

import (
	"context"
	"fmt"
)

// outboundEmail prepares m for its provider: the HTML with tracking applied, the
// attachments with their content, and the DKIM key of its domain when the provider signs
// for Sendoka. The tracked links are stored before the message leaves,
// in the same transaction that reads the attachments, so a click can never come before its
// link is known.
func (c *Client) outboundEmail(ctx context.Context, m *Message) (*OutboundEmail, error) {
	e := m.Email
	html, links, err := c.applyTracking(ctx, m)
	if err != nil {
		return nil, err
	}
	out := &OutboundEmail{
		MessageID: m.ID, From: e.From, To: e.To, Cc: e.Cc, Bcc: e.Bcc, ReplyTo: e.ReplyTo,
		Subject: e.Subject, HTML: html, Text: e.Text, Tags: m.Tags, Headers: e.Headers,
	}
	if out.DKIM, err = c.dkimKey(ctx, m); err != nil { // domain_send.go
		return nil, err
	}
	if out.ReturnPath, err = c.ReturnPath(ctx, m); err != nil { // bounce.go
		return nil, err
	}
	if len(links) == 0 && len(e.Attachments) == 0 {
		return out, nil
	}
	err = c.inTx(ctx, func(ctx context.Context, tx Tx) error {
		if err := tx.InsertLinks(ctx, links...); err != nil {
			return err
		}
		if len(e.Attachments) == 0 {
			return nil
		}
		out.Attachments, err = attachmentsWithContent(ctx, tx, m)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// attachmentsWithContent returns m's attachments with their stored content, read in tx.
func attachmentsWithContent(ctx context.Context, tx Tx, m *Message) ([]Attachment, error) {
	e := m.Email
	contents, err := tx.AttachmentContents(ctx, m.ID)
	if err != nil {
		return nil, err
	}
	if len(contents) != len(e.Attachments) {
		return nil, fmt.Errorf("message %s: %d attachments described, %d stored", m.ID, len(e.Attachments), len(contents))
	}
	out := make([]Attachment, len(e.Attachments))
	for i, a := range e.Attachments {
		a.Content = contents[i]
		out[i] = a
	}
	return out, nil
}
