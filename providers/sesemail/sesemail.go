// Package sesemail sends email through Amazon SES (API v2, SendEmail with Raw content).
//
// The message is built by providers/mimemail, the same bytes the SMTP provider sends, and
// handed to SES with the envelope (every to, cc and bcc recipient) given explicitly, so
// Bcc never appears in the message. The configuration set, when set, routes SES's events
// (deliveries, bounces, complaints) to where Sendoka can read them.
//
// Errors are classified for the core. When SES answered: throttling
// (TooManyRequestsException, LimitExceededException, HTTP 429) is Throttled, retried
// later; a rejected message or a bad address (MessageRejected, BadRequestException,
// MailFromDomainNotVerifiedException, other 4xx) is Permanent with SES's code and message
// as the diagnostic; an SES server error is Transient. Account-wide conditions (sending
// paused, account suspended, an unknown configuration set) are Transient too: they are not
// the message's fault, and the message can go once the account is fixed.
//
// When SES did not answer, what matters is whether the request left: SES does not
// deduplicate, and a request it received may have been sent even if its answer was lost.
// A failure before the request was written in full (a refused connection, DNS, TLS, a
// context that ended first) is Transient. No answer after it (a timeout, a dropped
// connection, a context that ended while waiting) is sendoka.Unknown, code
// "outcome_unknown": the core records the outcome as unknown and does not send it again.
// The Sender tells the two apart with net/http's client trace (httptrace.WroteRequest),
// since the SDK replaces a canceled request's error with the context's.
//
// The SDK's own retries are off by default (Options.MaxAttempts): the queue retries with
// its backoff, and a throttled send is snoozed rather than hammered. When they are on, the
// SDK still never resends a request that was written and not answered.
//
// The Sender is also a sendoka.DomainProvisioner (domain.go): adding a sender domain makes
// it an SES domain identity with Easy DKIM, and the domain shows SES's three DKIM CNAME
// records; SES signs the domain's mail, so the Sender ignores OutboundEmail.DKIM.
package sesemail

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptrace"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/aws/smithy-go"

	"github.com/sendoka/sendoka/providers/mimemail"
	"github.com/sendoka/sendoka/sendoka"
)

// Options configures a Sender. Every field has a default.
type Options struct {
	// ConfigurationSet names the SES configuration set of every send. Default: none.
	ConfigurationSet string
	// MaxAttempts is how many times the SDK tries one send. Default: 1 (the queue retries).
	// The SDK never tries again after a request that was written and not answered.
	MaxAttempts int
	// Name is the provider name recorded on messages. Default: "ses".
	Name string
}

// Sender is an sendoka.EmailSender over SES. It is safe for concurrent use.
type Sender struct {
	client *sesv2.Client
	opts   Options
}

var (
	_ sendoka.EmailSender = (*Sender)(nil)
	_ sendoka.Namer       = (*Sender)(nil)
)

// New returns a Sender that sends with client. The client carries the region, the
// credentials and, when it is not AWS's, the endpoint (sesv2.Options.BaseEndpoint).
func New(client *sesv2.Client, opts Options) *Sender {
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = 1
	}
	if opts.Name == "" {
		opts.Name = "ses"
	}
	return &Sender{client: client, opts: opts}
}

// NewFromConfig returns a Sender with a client made from cfg (see config.LoadDefaultConfig);
// endpoint, when not empty, replaces AWS's (a VPC endpoint, a test server).
func NewFromConfig(cfg aws.Config, endpoint string, opts Options) *Sender {
	return New(sesv2.NewFromConfig(cfg, func(o *sesv2.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	}), opts)
}

// Name returns the provider name recorded on messages.
func (s *Sender) Name() string { return s.opts.Name }

// SendEmail sends m with SES.
func (s *Sender) SendEmail(ctx context.Context, m *sendoka.OutboundEmail) (sendoka.SendResult, error) {
	if err := ctx.Err(); err != nil {
		return sendoka.SendResult{}, s.fail(sendoka.Transient, "canceled", err.Error(), err)
	}
	raw, err := mimemail.Build(m, nil)
	if err != nil {
		return sendoka.SendResult{}, s.fail(sendoka.Permanent, "invalid_message", err.Error(), err)
	}
	from, _, err := mimemail.Envelope(m)
	if err != nil {
		return sendoka.SendResult{}, s.fail(sendoka.Permanent, "invalid_message", err.Error(), err)
	}
	in := &sesv2.SendEmailInput{
		FromEmailAddress: aws.String(from),
		Destination: &types.Destination{
			ToAddresses: bare(m.To), CcAddresses: bare(m.Cc), BccAddresses: bare(m.Bcc),
		},
		Content: &types.EmailContent{Raw: &types.RawMessage{Data: raw}},
	}
	if s.opts.ConfigurationSet != "" {
		in.ConfigurationSetName = aws.String(s.opts.ConfigurationSet)
	}
	if m.MessageID != "" && validTagValue(m.MessageID) {
		// SES repeats tags in its event notifications: the message id finds the message.
		in.EmailTags = []types.MessageTag{{Name: aws.String("sendoka_message_id"), Value: aws.String(m.MessageID)}}
	}
	// wrote: the current attempt's request went out in full, so SES may act on it whether
	// or not its answer arrives. GetConn starts each attempt (but a reused HTTP/2
	// connection skips it, which leaves wrote set: the cautious side).
	var wrote atomic.Bool
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GetConn: func(string) { wrote.Store(false) },
		WroteRequest: func(info httptrace.WroteRequestInfo) {
			if info.Err == nil {
				wrote.Store(true)
			}
		},
	})
	out, err := s.client.SendEmail(ctx, in, func(o *sesv2.Options) {
		o.RetryMaxAttempts = s.opts.MaxAttempts
		if s.opts.MaxAttempts > 1 {
			o.Retryer = noResend{Retryer: o.Retryer, wrote: &wrote}
		}
	})
	if err != nil {
		return sendoka.SendResult{}, s.classify(err, wrote.Load())
	}
	return sendoka.SendResult{ProviderMessageID: aws.ToString(out.MessageId)}, nil
}

// noResend keeps the SDK's retryer from sending again a request that was written and not
// answered: SES may have taken it.
type noResend struct {
	aws.Retryer
	wrote *atomic.Bool
}

// IsErrorRetryable implements aws.Retryer.
func (r noResend) IsErrorRetryable(err error) bool {
	if r.wrote.Load() && status(err) == 0 {
		return false
	}
	return r.Retryer.IsErrorRetryable(err)
}

// status returns the HTTP status of SES's answer in err, 0 when none came (the SDK then
// puts an empty response in its error).
func status(err error) int {
	var respErr *awshttp.ResponseError
	if errors.As(err, &respErr) && respErr.Response != nil && respErr.Response.Response != nil {
		return respErr.HTTPStatusCode()
	}
	return 0
}

// classify maps an SDK error to the core's kinds. wrote: the last attempt's request was
// written in full.
func (s *Sender) classify(err error, wrote bool) *sendoka.ProviderError {
	var apiErr smithy.APIError
	httpStatus := status(err)
	if !errors.As(err, &apiErr) {
		return s.unanswered(err, wrote, httpStatus)
	}
	code, msg := apiErr.ErrorCode(), apiErr.ErrorMessage()
	if msg == "" {
		msg = code
	}
	switch code {
	case "TooManyRequestsException", "LimitExceededException", "Throttling", "ThrottlingException":
		return s.fail(sendoka.Throttled, code, msg, err)
	case "SendingPausedException", "AccountSuspendedException", "NotFoundException":
		return s.fail(sendoka.Transient, code, msg, err)
	}
	switch {
	case httpStatus == http.StatusTooManyRequests:
		return s.fail(sendoka.Throttled, code, msg, err)
	case httpStatus >= 500 || apiErr.ErrorFault() == smithy.FaultServer:
		return s.fail(sendoka.Transient, code, msg, err)
	}
	// MessageRejected, MailFromDomainNotVerifiedException, BadRequestException and every
	// other refusal of this request: sending it again would be refused again.
	return s.fail(sendoka.Permanent, code, msg, err)
}

// unanswered classifies a failure without an SES error in it: no answer, or one the SDK
// could not read (status is its HTTP status, 0 when none came).
func (s *Sender) unanswered(err error, wrote bool, status int) *sendoka.ProviderError {
	var opErr *net.OpError
	switch {
	case status >= 200 && status < 300:
		// SES said yes, in a body the SDK could not read: the message went, without its id.
		return s.fail(sendoka.Unknown, "outcome_unknown", fmt.Sprintf(
			"SES answered %d but the answer could not be read (%v); SES may have accepted the message", status, err), err)
	case status != 0:
		return s.fail(sendoka.Transient, "bad_response", err.Error(), err)
	case errors.As(err, &opErr) && opErr.Op == "dial":
		// Connection refused, DNS: nothing was sent.
		return s.fail(sendoka.Transient, "network", err.Error(), err)
	case wrote:
		return s.fail(sendoka.Unknown, "outcome_unknown", fmt.Sprintf(
			"no answer from SES after the request was sent (%v); SES may have accepted the message", err), err)
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		return s.fail(sendoka.Transient, "canceled", err.Error(), err)
	}
	// The request did not leave in full (a TLS failure, a write cut off): SES has nothing.
	return s.fail(sendoka.Transient, "network", err.Error(), err)
}

func (s *Sender) fail(kind sendoka.ProviderErrorKind, code, msg string, err error) *sendoka.ProviderError {
	return &sendoka.ProviderError{Kind: kind, Provider: s.opts.Name, Code: code, Message: msg, Err: err}
}

// bare returns the address parts of stored addresses (SES takes display names too, but the
// envelope needs none), or nil for none.
func bare(list []string) []string {
	if len(list) == 0 {
		return nil
	}
	_, rcpts, err := mimemail.Envelope(&sendoka.OutboundEmail{From: "x@x.invalid", To: list})
	if err != nil {
		return list
	}
	return rcpts
}

// validTagValue reports whether SES accepts s as a tag value: letters, digits, _ and -.
func validTagValue(s string) bool {
	if len(s) > 256 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
