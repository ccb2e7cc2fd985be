package sesemail

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/aws/smithy-go"

	"github.com/sendoka/sendoka/sendoka"
)

var _ sendoka.DomainProvisioner = (*Sender)(nil)

// defaultDKIMZone is where SES publishes Easy DKIM keys when it does not say
// (DkimAttributes.SigningHostedZone).
const defaultDKIMZone = "dkim.amazonses.com"

// ProvisionDomain makes d an SES domain identity with Easy DKIM (CreateEmailIdentity without
// DkimSigningAttributes: SES makes and rotates the keys, and signs every message from the
// domain), and returns the three CNAME records SES asks for, <token>._domainkey.<domain>
// pointing to <token>.<SigningHostedZone>. An identity that already exists (another
// namespace added the same name, or it was set up in SES by hand) is read with
// GetEmailIdentity instead: provisioning is idempotent.
//
// The identity's MAIL FROM domain is then set to d's return-path host (the name of its SPF
// and MX records; PutEmailIdentityMailFromAttributes) with BehaviorOnMxFailure
// USE_DEFAULT_VALUE: until its MX record is published SES sends with its own
// amazonses.com return path rather than refusing mail. Sendoka's return-path settings should
// then be SES's: SPF include amazonses.com, MX feedback-smtp.<region>.amazonses.com.
//
// Errors are *sendoka.ProviderError: Permanent when SES refuses the name
// (BadRequestException), otherwise as for SendEmail (the request is safe to repeat).
func (s *Sender) ProvisionDomain(ctx context.Context, d *sendoka.Domain) ([]sendoka.DNSRecord, error) {
	dkim, err := s.createIdentity(ctx, d.Name)
	if err != nil {
		return nil, err
	}
	if dkim == nil || len(dkim.Tokens) == 0 {
		return nil, s.fail(sendoka.Transient, "no_dkim_tokens", "SES returned no DKIM tokens for "+d.Name, nil)
	}
	for _, r := range d.Records {
		if r.Purpose != sendoka.RecordReturnPath {
			continue
		}
		_, err := s.client.PutEmailIdentityMailFromAttributes(ctx, &sesv2.PutEmailIdentityMailFromAttributesInput{
			EmailIdentity:       aws.String(d.Name),
			MailFromDomain:      aws.String(r.Name),
			BehaviorOnMxFailure: types.BehaviorOnMxFailureUseDefaultValue,
		}, s.apiOptions)
		if err != nil {
			return nil, s.classify(err, false)
		}
		break
	}
	zone := strings.TrimSuffix(aws.ToString(dkim.SigningHostedZone), ".")
	if zone == "" {
		zone = defaultDKIMZone
	}
	recs := make([]sendoka.DNSRecord, len(dkim.Tokens))
	for i, tok := range dkim.Tokens {
		recs[i] = sendoka.DNSRecord{
			Purpose: sendoka.RecordDKIM, Type: "CNAME", Name: tok + "._domainkey." + d.Name,
			Value: tok + "." + zone, Required: true, Status: sendoka.RecordPending,
		}
	}
	return recs, nil
}

// createIdentity creates the identity, or reads it when SES already has it, and returns its
// DKIM attributes.
func (s *Sender) createIdentity(ctx context.Context, name string) (*types.DkimAttributes, error) {
	out, err := s.client.CreateEmailIdentity(ctx, &sesv2.CreateEmailIdentityInput{EmailIdentity: aws.String(name)}, s.apiOptions)
	if err == nil {
		return out.DkimAttributes, nil
	}
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "AlreadyExistsException" {
		return nil, s.classify(err, false)
	}
	got, err := s.client.GetEmailIdentity(ctx, &sesv2.GetEmailIdentityInput{EmailIdentity: aws.String(name)}, s.apiOptions)
	if err != nil {
		return nil, s.classify(err, false)
	}
	if got.IdentityType != "" && got.IdentityType != types.IdentityTypeDomain {
		return nil, s.fail(sendoka.Permanent, "not_a_domain", fmt.Sprintf("SES knows %s as a %s identity", name, got.IdentityType), nil)
	}
	return got.DkimAttributes, nil
}

// apiOptions are the options of the management calls: the SDK may retry them (they change
// nothing when repeated), up to MaxAttempts or 3.
func (s *Sender) apiOptions(o *sesv2.Options) {
	o.RetryMaxAttempts = max(s.opts.MaxAttempts, 3)
}
