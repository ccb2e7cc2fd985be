package sesemail_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/providers/sesemail"
	"github.com/sendoka/sendoka/providers/sesemail/sesemailtest"
	"github.com/sendoka/sendoka/sendoka"
)

func domain(name string) *sendoka.Domain {
	return &sendoka.Domain{ID: "dom_01JSES", OrgID: "org_1", Name: name, Status: sendoka.DomainPending,
		Records: []sendoka.DNSRecord{
			{Purpose: sendoka.RecordSPF, Type: "TXT", Name: "bounces." + name, Value: "v=spf1 include:amazonses.com ~all", Required: true},
			{Purpose: sendoka.RecordReturnPath, Type: "MX", Name: "bounces." + name, Value: "feedback-smtp.eu-west-1.amazonses.com", Priority: 10, Required: true},
		}}
}

func TestProvisionDomain(t *testing.T) {
	t.Parallel()
	srv := sesemailtest.Start(t)
	s := sesemail.New(srv.Client(), sesemail.Options{})

	recs, err := s.ProvisionDomain(ctx(t), domain("acme.test"))
	require.NoError(t, err)
	tokens := sesemailtest.Tokens("acme.test")
	require.Len(t, recs, 3)
	for i, r := range recs {
		require.Equal(t, sendoka.DNSRecord{Purpose: sendoka.RecordDKIM, Type: "CNAME", Name: tokens[i] + "._domainkey.acme.test",
			Value: tokens[i] + ".dkim.amazonses.com", Required: true, Status: sendoka.RecordPending}, r)
	}
	id := srv.Identities()["acme.test"]
	require.Equal(t, "bounces.acme.test", id.MailFromDomain, "the return-path host becomes the MAIL FROM domain")
	require.Equal(t, "USE_DEFAULT_VALUE", id.BehaviorOnMxFailure)
	calls := srv.IdentityCalls()
	require.Equal(t, []string{"CreateEmailIdentity", "PutEmailIdentityMailFromAttributes"}, []string{calls[0].Operation, calls[1].Operation})
	require.Equal(t, map[string]any{"EmailIdentity": "acme.test"}, calls[0].Body, "Easy DKIM: no DkimSigningAttributes")

	// Again (another namespace adds the same name): SES says it exists, the records are read.
	again, err := s.ProvisionDomain(ctx(t), domain("acme.test"))
	require.NoError(t, err)
	require.Equal(t, recs, again)
	calls = srv.IdentityCalls()[2:]
	require.Equal(t, []string{"CreateEmailIdentity", "GetEmailIdentity", "PutEmailIdentityMailFromAttributes"},
		[]string{calls[0].Operation, calls[1].Operation, calls[2].Operation})

	// SES refuses the name: permanent, with SES's words.
	_, err = s.ProvisionDomain(ctx(t), domain("nodots"))
	requireKind(t, sendoka.Permanent, err)
	require.Contains(t, err.Error(), "Invalid domain name")

	// SES is down: not permanent.
	srv.FailIdentityWith(func(sesemailtest.IdentityCall) *sesemailtest.Failure {
		return &sesemailtest.Failure{Status: http.StatusInternalServerError, Type: "InternalFailure", Message: "boom"}
	})
	_, err = s.ProvisionDomain(ctx(t), domain("other.test"))
	requireKind(t, sendoka.Transient, err)
	require.NotContains(t, srv.Identities(), "other.test")

	// Throttled on the MAIL FROM call: the error is the provider's, the identity stays.
	srv.FailIdentityWith(func(c sesemailtest.IdentityCall) *sesemailtest.Failure {
		if c.Operation == "PutEmailIdentityMailFromAttributes" {
			return &sesemailtest.Failure{Status: http.StatusTooManyRequests, Type: "TooManyRequestsException", Message: "slow down"}
		}
		return nil
	})
	_, err = s.ProvisionDomain(ctx(t), domain("third.test"))
	requireKind(t, sendoka.Throttled, err)
}

func requireKind(t *testing.T, want sendoka.ProviderErrorKind, err error) {
	t.Helper()
	require.Error(t, err)
	require.Equal(t, want, sendoka.ProviderErrorKindOf(err), "error: %v", err)
}
