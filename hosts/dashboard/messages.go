package dashboard

import (
	"net/http"
	"strings"
	"time"

	"github.com/sendoka/sendoka/providers/mimemail"
	"github.com/sendoka/sendoka/sendoka"
)

type messagesData struct {
	Channel, Status, Tag string
	Recipient, Stream    string
	// From and To are days (2006-01-02, UTC), To included.
	From, To string
	Statuses []sendoka.Status
	List     *sendoka.MessageList
	// Next is the query of the next page.
	Next string
}

var listStatuses = []sendoka.Status{sendoka.StatusQueued, sendoka.StatusScheduled, sendoka.StatusSent,
	sendoka.StatusDelivered, sendoka.StatusBounced, sendoka.StatusFailed, sendoka.StatusCanceled}

func (h *handler) messages(x *rq) error {
	q := x.r.URL.Query()
	d := messagesData{Channel: q.Get("channel"), Status: q.Get("status"), Tag: q.Get("tag"), Statuses: listStatuses,
		Recipient: q.Get("recipient"), Stream: q.Get("stream"), From: q.Get("from"), To: q.Get("to")}
	ch := sendoka.Channel(d.Channel)
	if ch != sendoka.ChannelEmail && ch != sendoka.ChannelSMS {
		ch, d.Channel = "", ""
	}
	lp := sendoka.ListParams{Status: sendoka.Status(d.Status), Tag: d.Tag, Cursor: q.Get("cursor"), Limit: 50,
		Recipient: d.Recipient, Stream: d.Stream}
	if t, err := time.Parse(time.DateOnly, d.From); err == nil {
		lp.CreatedAfter = &t
	}
	if t, err := time.Parse(time.DateOnly, d.To); err == nil {
		end := t.AddDate(0, 0, 1)
		lp.CreatedBefore = &end
	}
	list, err := h.c.ListMessages(x.r.Context(), x.p, ch, lp)
	if err != nil {
		return err
	}
	d.List = list
	if list.NextCursor != "" {
		nq := x.r.URL.Query()
		nq.Set("cursor", list.NextCursor)
		d.Next = nq.Encode()
	}
	if x.r.Header.Get("HX-Request") != "" {
		h.pages.fragment(x.w, http.StatusOK, "messages", "rows", x.layout(h, "", ""), d)
		return nil
	}
	return h.page(x, http.StatusOK, "messages", "Messages", "messages", d)
}

// getMessage finds a message by id whatever its channel.
func (h *handler) getMessage(x *rq, id string) (*sendoka.Message, error) {
	ch := sendoka.ChannelEmail
	if strings.HasPrefix(id, sendoka.PrefixMessage) {
		m, err := h.c.GetMessage(x.r.Context(), x.p, ch, id)
		if sendoka.ErrorCode(err) != sendoka.CodeNotFound {
			return m, err
		}
	}
	return h.c.GetMessage(x.r.Context(), x.p, sendoka.ChannelSMS, id)
}

type messageData struct {
	M      *sendoka.Message
	Images bool
}

func (h *handler) message(x *rq) error {
	m, err := h.getMessage(x, x.r.PathValue("id"))
	if err != nil {
		return err
	}
	return h.page(x, http.StatusOK, "message", "Message "+m.ID, "messages", messageData{M: m, Images: x.r.URL.Query().Get("images") == "1"})
}

// previewCSP is the policy of a message or template preview: no script at all, no remote
// loads (images only from data: URLs, or from anywhere once the user asks), inline styles
// (mail is styled inline), and the document sandboxed even when opened outside its iframe.
func previewCSP(images bool) string {
	img := "data:"
	if images {
		img = "data: https: http:"
	}
	return "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src " + img + "; font-src data:; frame-ancestors 'self'; form-action 'none'; base-uri 'none'"
}

// writePreview sends stored HTML as its own document with the preview policy. It must only
// ever be shown in a sandboxed iframe: the policy's sandbox is the second lock.
func writePreview(w http.ResponseWriter, html string, images bool) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", previewCSP(images))
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(html))
}

func (h *handler) messagePreview(x *rq) error {
	m, err := h.getMessage(x, x.r.PathValue("id"))
	if err != nil {
		return err
	}
	var body string
	switch {
	case m.Email != nil && m.Email.HTML != "":
		body = m.Email.HTML
	case m.Email != nil:
		body = "<pre>" + htmlEscape(m.Email.Text) + "</pre>"
	case m.SMS != nil:
		body = "<pre>" + htmlEscape(m.SMS.Body) + "</pre>"
	}
	writePreview(x.w, body, x.r.URL.Query().Get("images") == "1")
	return nil
}

func (h *handler) cancelMessage(x *rq) error {
	m, err := h.getMessage(x, x.r.PathValue("id"))
	if err != nil {
		return err
	}
	if _, err := h.c.CancelMessage(x.r.Context(), x.p, m.Channel, m.ID); err != nil {
		return err
	}
	return h.redirect(x, "/messages/"+m.ID, "The message was canceled.")
}

func (h *handler) rescheduleMessage(x *rq) error {
	m, err := h.getMessage(x, x.r.PathValue("id"))
	if err != nil {
		return err
	}
	at := strings.TrimSpace(x.r.PostFormValue("scheduled_at"))
	if len(at) == len("2006-01-02T15:04") { // a datetime-local input, read as UTC
		at += ":00Z"
	}
	if _, err := h.c.RescheduleMessage(x.r.Context(), x.p, m.Channel, m.ID, sendoka.ScheduleRequest{ScheduledAt: at}); err != nil {
		return err
	}
	return h.redirect(x, "/messages/"+m.ID, "The message was rescheduled.")
}

// messageRaw downloads an email as a MIME message (.eml), rebuilt from what was composed:
// the bytes a provider got, but for tracked links and the DKIM signature.
func (h *handler) messageRaw(x *rq) error {
	m, err := h.c.GetMessage(x.r.Context(), x.p, sendoka.ChannelEmail, x.r.PathValue("id"))
	if err != nil {
		return err
	}
	e, err := h.c.ComposedEmail(x.r.Context(), x.p, m.ID)
	if err != nil {
		return err
	}
	date := m.CreatedAt
	if m.SentAt != nil {
		date = *m.SentAt
	}
	raw, err := mimemail.Build(e, &mimemail.Options{Date: date})
	if err != nil {
		return sendoka.Errorf(sendoka.CodeValidation, "this email cannot be written as MIME: %v", err)
	}
	x.w.Header().Set("Content-Type", "message/rfc822")
	x.w.Header().Set("Content-Disposition", `attachment; filename="`+e.MessageID+`.eml"`)
	_, _ = x.w.Write(raw)
	return nil
}
