// Package snssms sends SMS through Amazon SNS (sns:Publish to a phone number), with the AWS
// SDK for Go v2.
//
// Each message is one Publish with PhoneNumber set and these message attributes:
//
//   - AWS.SNS.SMS.SMSType: Transactional (Options.SMSType changes it);
//   - AWS.MM.SMS.OriginationNumber: the sender, when it is a number (a long code or toll-free
//     number of the AWS account);
//   - AWS.SNS.SMS.SenderID: the sender, when it is an alphanumeric sender ID.
//
// SNS sends no MMS: the Sender reports it (sendoka.MMSSupporter), so the core refuses
// media_url for the live messages it carries. SNS has no idempotency key for SMS either, so
// the Sender does not claim to deduplicate.
//
// The Sender is also the provisioning step of long codes and toll-free numbers
// (sendoka.SenderProvisioner): a number is active once SNS lists it among the account's
// origination numbers (sns:ListOriginationNumbers) with status ACTIVE.
//
// Errors are classified for the core: throttling is sendoka.Throttled (retry later),
// invalid parameters and opted-out recipients are sendoka.Permanent (the message fails with
// SNS's diagnostic), everything else, network failures included, is sendoka.Transient.
package snssms

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/aws/smithy-go"

	"github.com/sendoka/sendoka/sendoka"
)

// Name is the provider name recorded on the messages the Sender sends.
const Name = "sns"

// Message attribute names SNS reads for SMS.
const (
	AttrSMSType           = "AWS.SNS.SMS.SMSType"
	AttrSenderID          = "AWS.SNS.SMS.SenderID"
	AttrOriginationNumber = "AWS.MM.SMS.OriginationNumber"
)

// Options configures a Sender. Every field is optional.
type Options struct {
	// Region is the AWS region, for example us-east-1. Default: the SDK's default chain
	// (AWS_REGION, the shared config file).
	Region string
	// Endpoint replaces the SNS endpoint (a VPC endpoint, LocalStack, a test server).
	// Default: the region's public SNS endpoint.
	Endpoint string
	// Credentials signs the requests. Default: the SDK's default chain (environment, shared
	// files, the instance or task role).
	Credentials aws.CredentialsProvider
	// SMSType is Transactional (the default: highest delivery reliability, what one-time
	// codes and notifications need) or Promotional.
	SMSType string
	// HTTPClient makes the requests. Default: the SDK's.
	HTTPClient *http.Client
	// MaxAttempts is how many times the SDK tries one request. Default: 1, no retry in the
	// SDK: SNS cannot deduplicate an SMS, so a retried Publish whose first attempt did reach
	// SNS would send twice; the core's queue decides about retries with the classified error.
	MaxAttempts int
}

// Sender sends SMS through SNS. It is safe for concurrent use.
type Sender struct {
	client  *sns.Client
	smsType string
}

var (
	_ sendoka.SMSSender         = (*Sender)(nil)
	_ sendoka.Namer             = (*Sender)(nil)
	_ sendoka.MMSSupporter      = (*Sender)(nil)
	_ sendoka.SenderProvisioner = (*Sender)(nil)
)

// New loads the AWS configuration (the default chain, overridden by opts) and returns a
// Sender.
func New(ctx context.Context, opts Options) (*Sender, error) {
	var loaders []func(*config.LoadOptions) error
	if opts.Region != "" {
		loaders = append(loaders, config.WithRegion(opts.Region))
	}
	if opts.Credentials != nil {
		loaders = append(loaders, config.WithCredentialsProvider(opts.Credentials))
	}
	if opts.HTTPClient != nil {
		loaders = append(loaders, config.WithHTTPClient(opts.HTTPClient))
	}
	cfg, err := config.LoadDefaultConfig(ctx, loaders...)
	if err != nil {
		return nil, fmt.Errorf("snssms: load AWS config: %w", err)
	}
	if cfg.Region == "" {
		return nil, errors.New("snssms: no AWS region: set Options.Region (SENDOKA_SNS_REGION) or AWS_REGION")
	}
	attempts := opts.MaxAttempts
	if attempts <= 0 {
		attempts = 1
	}
	client := sns.NewFromConfig(cfg, func(o *sns.Options) {
		if opts.Endpoint != "" {
			o.BaseEndpoint = aws.String(opts.Endpoint)
		}
		o.RetryMaxAttempts = attempts
	})
	return NewWithClient(client, opts), nil
}

// NewWithClient returns a Sender that uses a client the caller configured. Only
// opts.SMSType applies.
func NewWithClient(client *sns.Client, opts Options) *Sender {
	smsType := opts.SMSType
	if smsType == "" {
		smsType = "Transactional"
	}
	return &Sender{client: client, smsType: smsType}
}

// Name returns "sns".
func (s *Sender) Name() string { return Name }

// SupportsMMS reports false: SNS publishes text only.
func (s *Sender) SupportsMMS() bool { return false }

// SendSMS publishes one SMS.
func (s *Sender) SendSMS(ctx context.Context, m *sendoka.OutboundSMS) (sendoka.SendResult, error) {
	if len(m.MediaURLs) > 0 {
		return sendoka.SendResult{}, &sendoka.ProviderError{Kind: sendoka.Permanent, Provider: Name,
			Code: "mms_unsupported", Message: "SNS does not send MMS"}
	}
	attrs := map[string]types.MessageAttributeValue{
		AttrSMSType: {DataType: aws.String("String"), StringValue: aws.String(s.smsType)},
	}
	switch {
	case strings.HasPrefix(m.From, "+"):
		attrs[AttrOriginationNumber] = types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(m.From)}
	case m.From != "":
		attrs[AttrSenderID] = types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(m.From)}
	}
	out, err := s.client.Publish(ctx, &sns.PublishInput{
		PhoneNumber:       aws.String(m.To),
		Message:           aws.String(m.Body),
		MessageAttributes: attrs,
	})
	if err != nil {
		return sendoka.SendResult{}, classify(err)
	}
	id := aws.ToString(out.MessageId)
	if id == "" {
		return sendoka.SendResult{}, &sendoka.ProviderError{Kind: sendoka.Transient, Provider: Name,
			Code: "no_message_id", Message: "SNS accepted the request but returned no message id"}
	}
	return sendoka.SendResult{ProviderMessageID: id}, nil
}

// ProvisionSender checks that a number is an origination number of the AWS account and
// whether SNS lists it as ACTIVE.
func (s *Sender) ProvisionSender(ctx context.Context, n *sendoka.PhoneNumber) (sendoka.ProvisionResult, error) {
	in := &sns.ListOriginationNumbersInput{MaxResults: aws.Int32(30)}
	for {
		out, err := s.client.ListOriginationNumbers(ctx, in)
		if err != nil {
			return sendoka.ProvisionResult{}, classify(err)
		}
		for _, info := range out.PhoneNumbers {
			if aws.ToString(info.PhoneNumber) != n.PhoneNumber {
				continue
			}
			return provisionResult(n, info), nil
		}
		if aws.ToString(out.NextToken) == "" {
			break
		}
		in.NextToken = out.NextToken
	}
	return sendoka.ProvisionResult{Status: sendoka.SenderFailed, Diagnostic: &sendoka.Diagnostic{
		Provider: Name, Code: "not_an_origination_number",
		Message: n.PhoneNumber + " is not an origination number of this AWS account: request or port it in AWS End User Messaging SMS, then provision it again",
	}}, nil
}

func provisionResult(n *sendoka.PhoneNumber, info types.PhoneNumberInformation) sendoka.ProvisionResult {
	status := aws.ToString(info.Status)
	if len(info.NumberCapabilities) > 0 && !containsCapability(info.NumberCapabilities, types.NumberCapabilitySms) {
		return sendoka.ProvisionResult{Status: sendoka.SenderFailed, Diagnostic: &sendoka.Diagnostic{
			Provider: Name, Code: "no_sms_capability", Message: n.PhoneNumber + " cannot send SMS"}}
	}
	if c := aws.ToString(info.Iso2CountryCode); c != "" && !strings.EqualFold(c, n.ISOCountry) {
		return sendoka.ProvisionResult{Status: sendoka.SenderFailed, Diagnostic: &sendoka.Diagnostic{
			Provider: Name, Code: "country_mismatch", Message: fmt.Sprintf("AWS has %s in %s, not %s", n.PhoneNumber, c, n.ISOCountry)}}
	}
	if strings.EqualFold(status, "ACTIVE") {
		return sendoka.ProvisionResult{Status: sendoka.SenderActive}
	}
	return sendoka.ProvisionResult{Status: sendoka.SenderPending, Diagnostic: &sendoka.Diagnostic{
		Provider: Name, Code: status, Message: "AWS reports the number as " + status}}
}

func containsCapability(caps []types.NumberCapability, want types.NumberCapability) bool {
	for _, c := range caps {
		if strings.EqualFold(string(c), string(want)) {
			return true
		}
	}
	return false
}

// throttlingCodes are the error codes AWS uses for rate limiting.
var throttlingCodes = map[string]bool{
	"Throttled": true, "Throttling": true, "ThrottlingException": true, "ThrottledException": true,
	"RequestThrottled": true, "TooManyRequestsException": true, "KMSThrottling": true,
	"RequestLimitExceeded": true,
}

// permanentCodes are refusals that a retry cannot fix: the message itself is at fault.
var permanentCodes = map[string]bool{
	"InvalidParameter": true, "InvalidParameterValue": true, "ValidationException": true,
	"OptedOut": true, "EndpointDisabled": true, "NotFound": true,
}

// classify turns an SDK error into a *sendoka.ProviderError the core understands.
func classify(err error) error {
	pe := &sendoka.ProviderError{Kind: sendoka.Transient, Provider: Name, Err: err}
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		// No answer from SNS: a network failure, a timeout, a canceled context.
		pe.Code = "network"
		pe.Message = err.Error()
		return pe
	}
	pe.Code, pe.Message = ae.ErrorCode(), ae.ErrorMessage()
	var optedOut *types.OptedOutException
	switch {
	case throttlingCodes[pe.Code]:
		pe.Kind = sendoka.Throttled
	case errors.As(err, &optedOut) || strings.Contains(strings.ToLower(pe.Message), "opted out"):
		pe.Kind, pe.Code = sendoka.Permanent, sendoka.DiagnosticOptedOut
		if pe.Message == "" {
			pe.Message = "the recipient opted out of SMS from this account"
		}
	case permanentCodes[pe.Code]:
		pe.Kind = sendoka.Permanent
	}
	return pe
}
