package sendoka

import (
	"context"
)

// ComposedEmail returns an email as it was composed for its provider, to rebuild its MIME
// message (providers/mimemail.Build): addresses, subject, bodies, headers, tags and
// attachments with their content. It is the message before the hand-off's own steps: links
// are not rewritten for tracking and nothing is DKIM-signed. It reads only. An id that is not
// an email in scope is CodeNotFound, and so is an email whose content retention deleted.
func (c *Client) ComposedEmail(ctx context.Context, p *Principal, id string) (*OutboundEmail, error) {
	if err := p.require(readPermissions(ChannelEmail)...); err != nil {
		return nil, err
	}
	m, err := c.store.GetMessage(ctx, p.Scope(), id)
	if err != nil {
		return nil, AsError(err)
	}
	if m.Channel != ChannelEmail || m.Email == nil {
		return nil, NotFound("message")
	}
	if m.ContentPurgedAt != nil {
		return nil, Errorf(CodeNotFound, "the content of this message was deleted by retention")
	}
	e := m.Email
	out := &OutboundEmail{
		MessageID: m.ID, From: e.From, To: e.To, Cc: e.Cc, Bcc: e.Bcc, ReplyTo: e.ReplyTo,
		Subject: e.Subject, HTML: e.HTML, Text: e.Text, Tags: m.Tags, Headers: e.Headers,
	}
	if len(e.Attachments) == 0 {
		return out, nil
	}
	err = c.inTx(ctx, func(ctx context.Context, tx Tx) error {
		var err error
		out.Attachments, err = attachmentsWithContent(ctx, tx, m)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
