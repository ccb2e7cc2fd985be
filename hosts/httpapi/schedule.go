package httpapi

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/sendoka/sendoka/sendoka"
)

// registerScheduling adds cancel (DELETE) and reschedule (PATCH) of scheduled messages.
func registerScheduling(api huma.API, r *registrar, h *handlers) {
	registerSchedulingOf(api, r, h, sendoka.ChannelEmail, "/api/v1/emails/{id}", tagEmails, "email", emailMessage)
	registerSchedulingOf(api, r, h, sendoka.ChannelSMS, "/api/v1/sms/{id}", tagSMS, "sms", smsMessage)
}

// messageBody answers with one message of a channel (EmailMessage or SMSMessage).
type messageBody[T any] struct {
	Body T
}

type rescheduleInput struct {
	ID string `path:"id" doc:"Message id" example:"msg_01HN8Z6Q4V3K2J1M0N9P8Q7R6S"`
	jsonBody[sendoka.ScheduleRequest]
}

func registerSchedulingOf[T any](api huma.API, r *registrar, h *handlers, channel sendoka.Channel, path, tag, name string, show func(*sendoka.Message) T) {
	huma.Register(api, r.op(http.MethodDelete, path, "cancel-"+name, tag, "Cancel a scheduled "+name,
		"Flips a scheduled message to canceled and removes its delivery job, in one transaction, and "+
			"returns the message. Anything not scheduled (already sent, failed, canceled, or being handed "+
			"to the provider right now) is 409 NOT_SCHEDULED. A cancel racing the send resolves to exactly "+
			"one of them.",
		http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusConflict, http.StatusTooManyRequests),
		func(ctx context.Context, in *getInput) (*messageBody[T], error) {
			if hasNUL(in.ID) {
				return nil, fail(ctx, sendoka.NotFound("message"))
			}
			m, err := h.c.CancelMessage(ctx, PrincipalFrom(ctx), channel, in.ID)
			if err != nil {
				return nil, fail(ctx, err)
			}
			return &messageBody[T]{Body: show(m)}, nil
		})
	huma.Register(api, r.op(http.MethodPatch, path, "reschedule-"+name, tag, "Reschedule a scheduled "+name,
		"Moves a scheduled message to a new scheduled_at (or scheduled_local with scheduled_at_tz; the "+
			"rules of a send: in the future, at most 30 days ahead) and returns it. A message that is not "+
			"scheduled, or is due within 5 seconds, is 409 NOT_SCHEDULED.",
		http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusConflict,
		http.StatusUnprocessableEntity, http.StatusTooManyRequests),
		func(ctx context.Context, in *rescheduleInput) (*messageBody[T], error) {
			if hasNUL(in.ID) {
				return nil, fail(ctx, sendoka.NotFound("message"))
			}
			if err := rejectNUL(&in.Body); err != nil {
				return nil, fail(ctx, err)
			}
			m, err := h.c.RescheduleMessage(ctx, PrincipalFrom(ctx), channel, in.ID, in.Body)
			if err != nil {
				return nil, fail(ctx, err)
			}
			return &messageBody[T]{Body: show(m)}, nil
		})
}
