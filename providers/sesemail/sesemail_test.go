package sesemail_test

import (
	"bytes"
	"context"
	"net/http"
	"net/mail"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/providers/sesemail"
	"github.com/sendoka/sendoka/providers/sesemail/sesemailtest"
	"github.com/sendoka/sendoka/sendoka"
)

func email() *sendoka.OutboundEmail {
	return &sendoka.OutboundEmail{
		MessageID: "msg_01JSES", From: `"Acme" <hello@acme.test>`, To: []string{`"Ada" <ada@example.com>`},
		Cc: []string{"cc@example.com"}, Bcc: []string{"secret@example.com"}, ReplyTo: []string{"help@acme.test"},
		Subject: "Grüße", Text: "Hello", HTML: "<p>Hello</p>",
		Attachments: []sendoka.Attachment{{Filename: "a.pdf", ContentType: "application/pdf", Content: []byte("%PDF")}},
	}
}

func ctx(t *testing.T) context.Context {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestSendEmail(t *testing.T) {
	t.Parallel()
	srv := sesemailtest.Start(t)
	s := sesemail.New(srv.Client(), sesemail.Options{ConfigurationSet: "sendoka-events"})
	require.Equal(t, "ses", s.Name())

	res, err := s.SendEmail(ctx(t), email())
	require.NoError(t, err)
	require.Equal(t, "0102018f00000001-fake-ses-message", res.ProviderMessageID)

	reqs := srv.Requests()
	require.Len(t, reqs, 1)
	req := reqs[0]
	require.Regexp(t, `^AWS4-HMAC-SHA256 Credential=AKIDSENDOKATEST/\d{8}/eu-west-1/ses/aws4_request, SignedHeaders=\S+, Signature=[0-9a-f]{64}$`, req.Authorization)
	require.Equal(t, "application/json", req.ContentType)
	require.Equal(t, "hello@acme.test", req.From)
	require.Equal(t, []string{"ada@example.com"}, req.To)
	require.Equal(t, []string{"cc@example.com"}, req.Cc)
	require.Equal(t, []string{"secret@example.com"}, req.Bcc)
	require.Equal(t, "sendoka-events", req.ConfigurationSet)
	require.Equal(t, map[string]string{"sendoka_message_id": "msg_01JSES"}, req.Tags)

	msg, err := mail.ReadMessage(bytes.NewReader(req.Raw))
	require.NoError(t, err, "the raw content is an RFC 5322 message")
	require.Equal(t, "<msg_01JSES@acme.test>", msg.Header.Get("Message-Id"))
	require.Equal(t, `"Acme" <hello@acme.test>`, msg.Header.Get("From"))
	require.Equal(t, "help@acme.test", msg.Header.Get("Reply-To"))
	require.Empty(t, msg.Header.Get("Bcc"))
	require.NotContains(t, string(req.Raw), "secret@example.com")
	require.Contains(t, msg.Header.Get("Content-Type"), "multipart/mixed")

	// Without a configuration set, none is sent.
	s = sesemail.New(srv.Client(), sesemail.Options{Name: "ses-eu"})
	_, err = s.SendEmail(ctx(t), email())
	require.NoError(t, err)
	require.Empty(t, srv.Requests()[1].ConfigurationSet)
	require.Equal(t, "ses-eu", s.Name())
}

func TestErrorClassification(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		fail    sesemailtest.Failure
		kind    sendoka.ProviderErrorKind
		code    string
		message string
	}{
		{"message rejected", sesemailtest.Failure{Status: 400, Type: "MessageRejected", Message: "Email address is not verified. The following identities failed the check in region EU-WEST-1: hello@acme.test"},
			sendoka.Permanent, "MessageRejected", "Email address is not verified."},
		{"bad address", sesemailtest.Failure{Status: 400, Type: "BadRequestException", Message: "Missing final '@domain'"},
			sendoka.Permanent, "BadRequestException", "Missing final '@domain'"},
		{"mail from not verified", sesemailtest.Failure{Status: 400, Type: "MailFromDomainNotVerifiedException", Message: "not verified"},
			sendoka.Permanent, "MailFromDomainNotVerifiedException", "not verified"},
		{"throttled", sesemailtest.Failure{Status: 429, Type: "TooManyRequestsException", Message: "Maximum sending rate exceeded."},
			sendoka.Throttled, "TooManyRequestsException", "Maximum sending rate exceeded."},
		{"daily quota", sesemailtest.Failure{Status: 400, Type: "LimitExceededException", Message: "Daily message quota exceeded."},
			sendoka.Throttled, "LimitExceededException", "Daily message quota exceeded."},
		{"sending paused", sesemailtest.Failure{Status: 400, Type: "SendingPausedException", Message: "Sending is paused for this account."},
			sendoka.Transient, "SendingPausedException", "paused"},
		{"server error", sesemailtest.Failure{Status: 500, Type: "InternalFailure", Message: "oops"},
			sendoka.Transient, "InternalFailure", "oops"},
		{"unavailable", sesemailtest.Failure{Status: 503, Type: "ServiceUnavailable", Message: "try later"},
			sendoka.Transient, "ServiceUnavailable", "try later"},
		// The request arrived: SES may have taken it.
		{"hang up after the request", sesemailtest.Failure{Hangup: true}, sendoka.Unknown, "outcome_unknown", "EOF"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := sesemailtest.Start(t)
			var calls atomic.Int32
			srv.FailWith(func(context.Context, sesemailtest.Request) *sesemailtest.Failure { calls.Add(1); return &tc.fail })
			_, err := sesemail.New(srv.Client(), sesemail.Options{}).SendEmail(ctx(t), email())
			require.Error(t, err)
			pe, ok := err.(*sendoka.ProviderError)
			require.True(t, ok, "%T %v", err, err)
			require.Equal(t, tc.kind, pe.Kind, "%v", err)
			require.Equal(t, "ses", pe.Provider)
			require.Equal(t, tc.code, pe.Code)
			require.Contains(t, pe.Message, tc.message)
			require.Equal(t, int32(1), calls.Load(), "the SDK does not retry: the queue does")
		})
	}
}

func TestSDKRetriesWhenAsked(t *testing.T) {
	t.Parallel()
	srv := sesemailtest.Start(t)
	var calls atomic.Int32
	srv.FailWith(func(context.Context, sesemailtest.Request) *sesemailtest.Failure {
		if calls.Add(1) == 1 {
			return &sesemailtest.Failure{Status: http.StatusInternalServerError, Type: "InternalFailure", Message: "blip"}
		}
		return nil
	})
	_, err := sesemail.New(srv.Client(), sesemail.Options{MaxAttempts: 3}).SendEmail(ctx(t), email())
	require.NoError(t, err)
	require.Equal(t, int32(2), calls.Load())
}

func TestInvalidMessageIsPermanent(t *testing.T) {
	t.Parallel()
	srv := sesemailtest.Start(t)
	m := email()
	m.Subject = "x\r\nBcc: x@evil.test"
	_, err := sesemail.New(srv.Client(), sesemail.Options{}).SendEmail(ctx(t), m)
	pe, ok := err.(*sendoka.ProviderError)
	require.True(t, ok, "%v", err)
	require.Equal(t, sendoka.Permanent, pe.Kind)
	require.Equal(t, "invalid_message", pe.Code)
	require.Empty(t, srv.Requests(), "nothing reached SES")
}

// A request that reached SES and got no answer may have been sent: the core must not send
// it again, and neither may the SDK.
func TestNoAnswerIsUnknown(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		sender func(srv *sesemailtest.Server) *sesemail.Sender
		ctx    func(t *testing.T) context.Context
		cause  error
	}{
		{"context deadline", func(srv *sesemailtest.Server) *sesemail.Sender {
			return sesemail.New(srv.Client(), sesemail.Options{})
		}, func(t *testing.T) context.Context {
			c, cancel := context.WithTimeout(ctx(t), 300*time.Millisecond)
			t.Cleanup(cancel)
			return c
		}, context.DeadlineExceeded},
		{"http client timeout", func(srv *sesemailtest.Server) *sesemail.Sender {
			return sesemail.New(srv.Client(func(o *sesv2.Options) {
				o.HTTPClient = &http.Client{Timeout: 300 * time.Millisecond}
			}), sesemail.Options{})
		}, ctx, nil},
		{"SDK retries on", func(srv *sesemailtest.Server) *sesemail.Sender {
			return sesemail.New(srv.Client(func(o *sesv2.Options) {
				o.HTTPClient = &http.Client{Timeout: 300 * time.Millisecond}
			}), sesemail.Options{MaxAttempts: 3})
		}, ctx, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := sesemailtest.Start(t)
			var calls atomic.Int32
			srv.FailWith(func(ctx context.Context, _ sesemailtest.Request) *sesemailtest.Failure {
				calls.Add(1)
				<-ctx.Done() // read the whole request, then hang until the client gives up
				return &sesemailtest.Failure{Hangup: true}
			})
			start := time.Now()
			_, err := tc.sender(srv).SendEmail(tc.ctx(t), email())
			var pe *sendoka.ProviderError
			require.ErrorAs(t, err, &pe)
			require.Equal(t, sendoka.Unknown, pe.Kind, "%v", err)
			require.Equal(t, "outcome_unknown", pe.Code)
			require.Contains(t, pe.Message, "SES may have accepted the message")
			if tc.cause != nil {
				require.ErrorIs(t, err, tc.cause)
			}
			require.Less(t, time.Since(start), 10*time.Second)
			require.Equal(t, int32(1), calls.Load(), "sent once, never again")
		})
	}
}

// Nothing was sent when the connection was refused: the queue may retry.
func TestRefusedIsTransient(t *testing.T) {
	t.Parallel()
	for _, attempts := range []int{1, 2} {
		srv := sesemailtest.Start(t)
		client := srv.Client()
		srv.Close()
		_, err := sesemail.New(client, sesemail.Options{MaxAttempts: attempts}).SendEmail(ctx(t), email())
		var pe *sendoka.ProviderError
		require.ErrorAs(t, err, &pe)
		require.Equal(t, sendoka.Transient, pe.Kind, "%v", err)
		require.Equal(t, "network", pe.Code)
		require.Contains(t, pe.Message, "refused")
	}

	// A context that ended before the request left is Transient too.
	srv := sesemailtest.Start(t)
	c, cancel := context.WithCancel(ctx(t))
	cancel()
	_, err := sesemail.New(srv.Client(), sesemail.Options{}).SendEmail(c, email())
	var pe *sendoka.ProviderError
	require.ErrorAs(t, err, &pe)
	require.Equal(t, sendoka.Transient, pe.Kind, "%v", err)
	require.Empty(t, srv.Requests())
}
