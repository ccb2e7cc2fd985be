package httpapi

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/sendoka/sendoka/providers/sesemail/sesevent"
	"github.com/sendoka/sendoka/providers/snsnotify"
	"github.com/sendoka/sendoka/providers/snssms/smsevent"
	"github.com/sendoka/sendoka/sendoka"
)

// unmatchedRetryWindow is how long after a provider event's time a report about a message we
// do not know yet is answered 503, so SNS delivers it again: the provider's id of a message is
// recorded just after the provider accepts it, and a fast report can come first. Older reports
// about unknown messages (mail sent by another application on the same topic) are answered 200
// and dropped.
const unmatchedRetryWindow = 10 * time.Minute

// registerProviderEvents adds the routes Amazon SNS posts to: SES email events and SMS events
// (delivery statuses and inbound two-way SMS). They take no API key: the SNS signature and
// the topic allow-list (Options.SNS) are the authentication, and a message that fails them is
// 401 UNAUTHORIZED. They are left out of the OpenAPI document: AWS calls them, not API callers.
func registerProviderEvents(r *registrar, c *sendoka.Client) {
	p := &providerEvents{c: c, sns: r.opts.SNS, log: r.opts}
	op := func(path, id, summary string) huma.Operation {
		return huma.Operation{
			OperationID: id, Method: http.MethodPost, Path: path, Summary: summary, Hidden: true,
			MaxBodyBytes: snsnotify.MaxMessageBytes, BodyReadTimeout: r.opts.BodyReadTimeout,
			// The envelope, but no API key.
			Middlewares: huma.Middlewares{envelopeMiddleware(r.opts.Logger), deadlineMiddleware(r.opts)},
		}
	}
	huma.Register(r.api, op("/api/v1/providers/ses/events", "ingest-ses-events", "SES events via SNS"), p.ses)
	huma.Register(r.api, op("/api/v1/providers/sns/sms-events", "ingest-sms-events", "SMS events via SNS"), p.sms)
}

type providerEvents struct {
	c   *sendoka.Client
	sns *snsnotify.Verifier
	log Options
}

type snsInput struct {
	RawBody []byte
}

// IngestResponse answers SNS.
type IngestResponse struct {
	Status   string   `json:"status" enum:"applied,duplicate,ignored,unmatched,confirmed" doc:"What the message did"`
	Messages []string `json:"messages" nullable:"false" doc:"Ids of the messages it concerned"`
}

type ingestOutput struct {
	Body *IngestResponse
}

func ingested(status string, msgs ...string) *ingestOutput {
	if msgs == nil {
		msgs = []string{}
	}
	return &ingestOutput{Body: &IngestResponse{Status: status, Messages: msgs}}
}

// verified parses and verifies an SNS message, and handles the subscription messages: it
// returns the notification to apply, or the answer to give.
func (p *providerEvents) verified(ctx context.Context, body []byte) (*snsnotify.Message, *ingestOutput, error) {
	m, err := snsnotify.Parse(body)
	if err != nil {
		return nil, nil, &sendoka.Error{Code: sendoka.CodeValidation, Message: err.Error()}
	}
	if p.sns == nil {
		return nil, nil, sendoka.Errorf(sendoka.CodeUnauthorized, "SNS messages are not accepted: no topics are configured (SENDOKA_SNS_TOPIC_ARNS)")
	}
	if err := p.sns.Verify(ctx, m); err != nil {
		if errors.Is(err, snsnotify.ErrCertUnavailable) {
			// Not the message's fault: a 5xx makes SNS deliver it again.
			p.log.Logger.ErrorContext(ctx, "SNS signing certificate unavailable", "error", err)
			e := sendoka.Errorf(sendoka.CodeUnavailable, "the SNS signing certificate could not be fetched; deliver again")
			e.RetryAfterSeconds = 30
			return nil, nil, e
		}
		msg := "the SNS signature does not verify"
		if errors.Is(err, snsnotify.ErrTopic) {
			msg = "the SNS topic is not on the allow-list (SENDOKA_SNS_TOPIC_ARNS)"
		}
		p.log.Logger.WarnContext(ctx, "SNS message refused", "error", err, "topic", m.TopicArn)
		return nil, nil, &sendoka.Error{Code: sendoka.CodeUnauthorized, Message: msg}
	}
	switch m.Type {
	case snsnotify.TypeSubscriptionConfirmation:
		if err := p.sns.Confirm(ctx, m); err != nil {
			p.log.Logger.ErrorContext(ctx, "confirming an SNS subscription failed", "error", err, "topic", m.TopicArn)
			return nil, nil, &sendoka.Error{Code: sendoka.CodeUnavailable, Message: "confirming the subscription failed; SNS may send the confirmation again"}
		}
		p.log.Logger.InfoContext(ctx, "SNS subscription confirmed", "topic", m.TopicArn)
		return nil, ingested("confirmed"), nil
	case snsnotify.TypeUnsubscribeConfirmation:
		p.log.Logger.WarnContext(ctx, "SNS subscription ended", "topic", m.TopicArn)
		return nil, ingested("ignored"), nil
	}
	return m, nil, nil
}

func (p *providerEvents) ses(ctx context.Context, in *snsInput) (*ingestOutput, error) {
	m, out, err := p.verified(ctx, in.RawBody)
	if err != nil || out != nil {
		return out, failOrNil(ctx, err)
	}
	ev, err := sesevent.Parse([]byte(m.Message))
	if err != nil {
		p.log.Logger.WarnContext(ctx, "SES event dropped", "error", err, "sns_message_id", m.MessageID)
		return ingested("ignored"), nil // SNS would only deliver it again, as malformed
	}
	events := ev.ProviderEvents()
	if len(events) == 0 {
		return ingested("ignored"), nil
	}
	return p.apply(ctx, sendoka.ProviderNotification{ID: "sns:" + m.MessageID, ProviderMessageID: ev.MessageID, Events: events}, ev.Timestamp)
}

func (p *providerEvents) sms(ctx context.Context, in *snsInput) (*ingestOutput, error) {
	m, out, err := p.verified(ctx, in.RawBody)
	if err != nil || out != nil {
		return out, failOrNil(ctx, err)
	}
	ev, err := smsevent.Parse([]byte(m.Message))
	if err != nil {
		p.log.Logger.WarnContext(ctx, "SMS event dropped", "error", err, "sns_message_id", m.MessageID)
		return ingested("ignored"), nil
	}
	if in := ev.Inbound; in != nil {
		action, err := p.c.HandleInboundSMS(ctx, in.From, in.To, in.Body)
		switch sendoka.ErrorCode(err) {
		case "":
			status := "applied"
			if action == sendoka.InboundNone {
				status = "ignored"
			}
			return ingested(status), nil
		case sendoka.CodeValidation, sendoka.CodeNotFound:
			// Not a number of ours, or not E.164: nothing to do, and nothing to retry.
			p.log.Logger.WarnContext(ctx, "inbound SMS dropped", "error", err)
			return ingested("ignored"), nil
		}
		return nil, fail(ctx, err)
	}
	pe, ok := ev.Status.ProviderEvent()
	if !ok {
		return ingested("ignored"), nil
	}
	return p.apply(ctx, sendoka.ProviderNotification{ID: "sns:" + m.MessageID, ProviderMessageID: pe.ProviderMessageID,
		Events: []sendoka.ProviderEvent{pe}}, pe.OccurredAt)
}

// apply hands a notification to the core and answers SNS.
func (p *providerEvents) apply(ctx context.Context, n sendoka.ProviderNotification, at time.Time) (*ingestOutput, error) {
	res, err := p.c.IngestProviderNotification(ctx, n)
	switch {
	case err != nil:
		return nil, fail(ctx, err)
	case res.Duplicate:
		return ingested("duplicate", res.Messages...), nil
	case len(res.Messages) > 0:
		return ingested("applied", res.Messages...), nil
	case !at.IsZero() && p.c.Now().Sub(at) < unmatchedRetryWindow:
		e := sendoka.Errorf(sendoka.CodeUnavailable, "no message with provider id %q yet; deliver again", n.ProviderMessageID)
		e.RetryAfterSeconds = 30
		return nil, fail(ctx, e)
	}
	p.log.Logger.InfoContext(ctx, "provider event for an unknown message", "provider_message_id", n.ProviderMessageID)
	return ingested("unmatched"), nil
}

func failOrNil(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	return fail(ctx, err)
}
