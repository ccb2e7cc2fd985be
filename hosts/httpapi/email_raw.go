package httpapi

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/sendoka/sendoka/providers/mimemail"
	"github.com/sendoka/sendoka/sendoka"
)

// registerRawEmail adds GET /api/v1/emails/{id}/raw: an email as a MIME message.
func registerRawEmail(api huma.API, r *registrar, h *handlers) {
	op := r.op(http.MethodGet, "/api/v1/emails/{id}/raw", "get-email-raw", tagEmails, "Download an email as MIME",
		"The email as an RFC 5322 message (message/rfc822, a .eml file), rebuilt from what was composed: "+
			"the bytes an SMTP or SES provider is handed, except that links are not rewritten for tracking and "+
			"there is no DKIM signature. An id unknown in your org (or tenant), the id of an SMS, or an email "+
			"whose content retention deleted is 404 NOT_FOUND.",
		http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusTooManyRequests)
	ok := op.Responses["200"]
	ok.Description = "The MIME message"
	ok.Content = map[string]*huma.MediaType{"message/rfc822": {Schema: &huma.Schema{Type: huma.TypeString, Format: "binary"}}}
	huma.Register(api, op, h.getEmailRaw)
}

type rawEmailOutput struct {
	ContentType        string `header:"Content-Type"`
	ContentDisposition string `header:"Content-Disposition"`
	Body               []byte
}

func (h *handlers) getEmailRaw(ctx context.Context, in *getInput) (*rawEmailOutput, error) {
	if hasNUL(in.ID) {
		return nil, fail(ctx, sendoka.NotFound("message"))
	}
	p := PrincipalFrom(ctx)
	m, err := h.c.GetMessage(ctx, p, sendoka.ChannelEmail, in.ID)
	if err != nil {
		return nil, fail(ctx, err)
	}
	e, err := h.c.ComposedEmail(ctx, p, m.ID)
	if err != nil {
		return nil, fail(ctx, err)
	}
	date := m.CreatedAt
	if m.SentAt != nil {
		date = *m.SentAt
	}
	raw, err := mimemail.Build(e, &mimemail.Options{Date: date})
	if err != nil {
		return nil, fail(ctx, &sendoka.Error{Code: sendoka.CodeInternal, Message: "the email cannot be written as MIME", Err: err})
	}
	return &rawEmailOutput{ContentType: "message/rfc822", ContentDisposition: `attachment; filename="` + m.ID + `.eml"`, Body: raw}, nil
}
