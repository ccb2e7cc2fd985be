package dashboard

import (
	"net/http"
	"strings"

	"github.com/sendoka/sendoka/sendoka"
)

type suppressionsData struct {
	List    *sendoka.SuppressionList
	Channel string
	Reason  string
	Query   string
	// Found is the result of a search by address (nil: none, or no search).
	Found    *sendoka.Suppression
	Searched bool
	Next     string
}

func channelOf(address string) sendoka.Channel {
	if strings.Contains(address, "@") {
		return sendoka.ChannelEmail
	}
	return sendoka.ChannelSMS
}

func (h *handler) suppressions(x *rq) error {
	q := x.r.URL.Query()
	d := suppressionsData{Channel: q.Get("channel"), Reason: q.Get("reason"), Query: strings.TrimSpace(q.Get("q"))}
	if d.Query != "" {
		d.Searched = true
		s, err := h.c.GetSuppression(x.r.Context(), x.p, channelOf(d.Query), d.Query)
		if err != nil && sendoka.ErrorCode(err) != sendoka.CodeNotFound {
			if statusOf(err) != http.StatusUnprocessableEntity {
				return err
			}
		}
		d.Found = s
	}
	list, err := h.c.ListSuppressions(x.r.Context(), x.p, sendoka.SuppressionListParams{Limit: 50, Cursor: q.Get("cursor"),
		Channel: sendoka.Channel(d.Channel), Reason: d.Reason})
	if err != nil {
		return err
	}
	d.List = list
	if list.NextCursor != "" {
		nq := x.r.URL.Query()
		nq.Set("cursor", list.NextCursor)
		d.Next = nq.Encode()
	}
	return h.page(x, http.StatusOK, "suppressions", "Suppressions", "suppressions", d)
}

func (h *handler) addSuppression(x *rq) error {
	addr := strings.TrimSpace(x.r.PostFormValue("address"))
	res, err := h.c.AddSuppressions(x.r.Context(), x.p, []sendoka.SuppressionInput{{Address: addr, Reason: "manual"}})
	if err != nil {
		return err
	}
	if len(res) == 1 && res[0].Err != nil {
		return res[0].Err
	}
	return h.redirect(x, "/suppressions?q="+urlQueryEscape(addr), addr+" is suppressed.")
}

type confirmData struct {
	Channel, Address string
	S                *sendoka.Suppression
}

// confirmRemoveSuppression is the confirmation step before a removal.
func (h *handler) confirmRemoveSuppression(x *rq) error {
	q := x.r.URL.Query()
	ch, addr := sendoka.Channel(q.Get("channel")), q.Get("address")
	s, err := h.c.GetSuppression(x.r.Context(), x.p, ch, addr)
	if err != nil {
		return err
	}
	return h.page(x, http.StatusOK, "suppression_remove", "Remove a suppression", "suppressions", confirmData{Channel: string(ch), Address: addr, S: s})
}

func (h *handler) removeSuppression(x *rq) error {
	ch, addr := sendoka.Channel(x.r.PostFormValue("channel")), x.r.PostFormValue("address")
	ok, err := h.c.Unsuppress(x.r.Context(), x.p, ch, addr)
	if err != nil {
		return err
	}
	if !ok {
		return sendoka.NotFound("suppression")
	}
	return h.redirect(x, "/suppressions", addr+" may receive messages again.")
}
