package dashboard

import (
	"net/http"
	"strings"
	"time"

	"github.com/sendoka/sendoka/sendoka"
)

// stopPolling is the status that tells htmx to stop polling an element (and still swap).
const stopPolling = 286

type webhooksData struct {
	List   *sendoka.WebhookEndpointList
	URL    string
	Events []sendoka.EventType
}

// webhookEvents are the event types a new endpoint may subscribe to (none ticked: all).
var webhookEvents = []sendoka.EventType{sendoka.EventSent, sendoka.EventDelivered, sendoka.EventBounced,
	sendoka.EventFailed, sendoka.EventOpened, sendoka.EventClicked, sendoka.EventScheduled, sendoka.EventCanceled}

func (h *handler) webhooks(x *rq) error {
	list, err := h.c.ListWebhookEndpoints(x.r.Context(), x.p, sendoka.ListParams{Limit: 100, Cursor: x.r.URL.Query().Get("cursor")})
	if err != nil {
		return err
	}
	return h.page(x, http.StatusOK, "webhooks", "Webhooks", "webhooks", webhooksData{List: list, Events: webhookEvents})
}

type webhookData struct {
	E          *sendoka.WebhookEndpoint
	Deliveries *sendoka.WebhookDeliveryList
	// Secret is shown once: after creation or rotation.
	Secret string
	Since  string
}

func (h *handler) createWebhook(x *rq) error {
	if err := x.r.ParseForm(); err != nil {
		return sendoka.Errorf(sendoka.CodeValidation, "the form could not be read")
	}
	req := &sendoka.WebhookEndpointRequest{URL: strings.TrimSpace(x.r.PostFormValue("url")), Description: x.r.PostFormValue("description")}
	for _, e := range x.r.PostForm["events"] {
		req.Events = append(req.Events, sendoka.EventType(e))
	}
	e, err := h.c.CreateWebhookEndpoint(x.r.Context(), x.p, req)
	if err != nil {
		if statusOf(err) != http.StatusUnprocessableEntity {
			return err
		}
		list, lerr := h.c.ListWebhookEndpoints(x.r.Context(), x.p, sendoka.ListParams{Limit: 100})
		if lerr != nil {
			return lerr
		}
		l := x.layout(h, "Webhooks", "webhooks")
		l.Error = userMessage(err)
		h.pages.render(x.w, http.StatusUnprocessableEntity, "webhooks", l, webhooksData{List: list, URL: req.URL, Events: webhookEvents})
		return nil
	}
	return h.showWebhook(x, e, e.Secret, "Endpoint created. Copy its signing secret now: it is not shown again.")
}

func (h *handler) showWebhook(x *rq, e *sendoka.WebhookEndpoint, secret, flash string) error {
	d := webhookData{E: e, Secret: secret, Since: time.Now().UTC().Add(-time.Hour).Format("2006-01-02T15:04")}
	var err error
	if d.Deliveries, err = h.c.ListWebhookDeliveries(x.r.Context(), x.p, e.ID, sendoka.ListParams{Limit: 50}); err != nil {
		return err
	}
	l := x.layout(h, "Webhook endpoint", "webhooks")
	if flash != "" {
		l.Flash = flash
	}
	h.pages.render(x.w, http.StatusOK, "webhook", l, d)
	return nil
}

func (h *handler) webhook(x *rq) error {
	e, err := h.c.GetWebhookEndpoint(x.r.Context(), x.p, x.r.PathValue("id"))
	if err != nil {
		return err
	}
	return h.showWebhook(x, e, "", "")
}

// webhookDeliveries is the delivery log alone, which the page refreshes with htmx.
func (h *handler) webhookDeliveries(x *rq) error {
	e, err := h.c.GetWebhookEndpoint(x.r.Context(), x.p, x.r.PathValue("id"))
	if err != nil {
		return err
	}
	list, err := h.c.ListWebhookDeliveries(x.r.Context(), x.p, e.ID, sendoka.ListParams{Limit: 50})
	if err != nil {
		return err
	}
	// Polling stops (htmx's 286) once no delivery is waiting for an attempt; any action on
	// the page reloads it, and with it the polling.
	status := stopPolling
	for _, d := range list.Deliveries {
		if d.Status == sendoka.WebhookPending {
			status = http.StatusOK
		}
	}
	h.pages.fragment(x.w, status, "webhook", "deliveries", x.layout(h, "", ""), webhookData{E: e, Deliveries: list})
	return nil
}

func (h *handler) rotateWebhook(x *rq) error {
	e, err := h.c.RotateWebhookSecret(x.r.Context(), x.p, x.r.PathValue("id"))
	if err != nil {
		return err
	}
	return h.showWebhook(x, e, e.Secret, "Secret rotated: the previous one stays valid for a while. Copy the new one now.")
}

func (h *handler) enableWebhook(x *rq) error {
	on := x.r.PostFormValue("enabled") == "true"
	e, err := h.c.UpdateWebhookEndpoint(x.r.Context(), x.p, x.r.PathValue("id"), &sendoka.WebhookEndpointUpdate{Enabled: &on})
	if err != nil {
		return err
	}
	msg := "Endpoint disabled."
	if on {
		msg = "Endpoint enabled."
	}
	return h.redirect(x, "/webhooks/"+e.ID, msg)
}

func (h *handler) testWebhook(x *rq) error {
	id := x.r.PathValue("id")
	if _, err := h.c.SendTestWebhook(x.r.Context(), x.p, id); err != nil {
		return err
	}
	return h.redirect(x, "/webhooks/"+id, "A webhook.test event is on its way.")
}

func (h *handler) replayWebhook(x *rq) error {
	id := x.r.PathValue("id")
	if _, err := h.c.ReplayWebhookDelivery(x.r.Context(), x.p, id, x.r.PathValue("did")); err != nil {
		return err
	}
	return h.redirect(x, "/webhooks/"+id, "Delivery replayed.")
}

func (h *handler) replayWebhooks(x *rq) error {
	id := x.r.PathValue("id")
	since, err := time.Parse("2006-01-02T15:04", x.r.PostFormValue("since"))
	if err != nil {
		var v sendoka.Validation
		v.Add(sendoka.FieldInvalid, "a date and time", "since")
		return v.Err()
	}
	ds, err := h.c.ReplayFailedWebhookDeliveries(x.r.Context(), x.p, id, since.UTC())
	if err != nil {
		return err
	}
	return h.redirect(x, "/webhooks/"+id, "Replayed "+itoa(len(ds))+" failed deliveries.")
}

func (h *handler) deleteWebhook(x *rq) error {
	if err := h.c.DeleteWebhookEndpoint(x.r.Context(), x.p, x.r.PathValue("id")); err != nil {
		return err
	}
	return h.redirect(x, "/webhooks", "Endpoint deleted.")
}
