package smtpemail_test

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"github.com/emersion/go-msgauth/dkim"
	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/providers/smtpemail"
	"github.com/sendoka/sendoka/providers/smtpemail/smtpemailtest"
	"github.com/sendoka/sendoka/sendoka"
)

// dkimZone serves one DKIM public key at <selector>._domainkey.<domain>, as DNS would.
func dkimZone(t *testing.T, key *sendoka.DKIMKey) func(string) ([]string, error) {
	t.Helper()
	pub, err := x509.MarshalPKIXPublicKey(key.Signer.Public())
	require.NoError(t, err)
	record := "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(pub)
	return func(name string) ([]string, error) {
		if name == key.Selector+"._domainkey."+key.Domain {
			return []string{record}, nil
		}
		return nil, fmt.Errorf("no TXT record at %s", name)
	}
}

// TestDKIMSigned sends a signed message to a real SMTP server and verifies what arrived
// with go-msgauth's verifier, then shows that a changed body or header fails it.
func TestDKIMSigned(t *testing.T) {
	t.Parallel()
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	key := &sendoka.DKIMKey{Domain: "acme.test", Selector: "sendoka-test1", Signer: rsaKey}
	srv := smtpemailtest.Start(t, smtpemailtest.Options{})
	s := newSender(t, smtpemail.Options{Host: srv.Host, Port: srv.Port, Security: smtpemail.NoTLS})

	m := email("msg_01JDKIM")
	m.ReplyTo = []string{"help@acme.test"}
	m.Headers = map[string]string{"List-Unsubscribe": "<https://acme.test/u/42>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click", "X-Entity-Ref-ID": "42"}
	m.DKIM = key
	_, err = s.SendEmail(ctx(t), m)
	require.NoError(t, err)
	got := srv.WaitFor(t, 1)[0].Data
	require.True(t, bytes.HasPrefix(got, []byte("DKIM-Signature: ")), "the signature is the first field:\n%s", got[:200])

	verify := func(raw []byte) *dkim.Verification {
		t.Helper()
		vs, err := dkim.VerifyWithOptions(bytes.NewReader(raw), &dkim.VerifyOptions{LookupTXT: dkimZone(t, key)})
		require.NoError(t, err)
		require.Len(t, vs, 1)
		return vs[0]
	}
	v := verify(got)
	require.NoError(t, v.Err)
	require.Equal(t, "acme.test", v.Domain)
	require.Equal(t, []string{"From", "To", "Cc", "Subject", "Date", "Message-ID", "Reply-To", "MIME-Version", "Content-Type",
		"List-Unsubscribe", "List-Unsubscribe-Post"}, v.HeaderKeys, "every listed field the message has, and only those")
	sig := string(got[:bytes.Index(got, []byte("\r\nDate:"))])
	require.Contains(t, sig, "c=relaxed/relaxed")
	require.Contains(t, sig, "a=rsa-sha256")
	require.Contains(t, sig, "s=sendoka-test1")

	// The text part says "Hello" (quoted-printable leaves it as it is): change it.
	body := bytes.Index(got, []byte("\r\n\r\n"))
	tampered := append(append([]byte{}, got[:body]...), bytes.Replace(got[body:], []byte("Hello"), []byte("Hellx"), 1)...)
	require.NotEqual(t, got, tampered)
	require.ErrorContains(t, verify(tampered).Err, "body hash did not verify", "a changed body fails")

	tampered = bytes.Replace(got, []byte("\r\nSubject: "), []byte("\r\nSubject: Re: "), 1)
	require.Error(t, verify(tampered).Err, "a changed subject fails")

	// Without a key nothing is signed; with one that cannot sign nothing is sent.
	_, err = s.SendEmail(ctx(t), email("msg_01JNOKEY"))
	require.NoError(t, err)
	require.False(t, strings.Contains(string(srv.WaitFor(t, 2)[1].Data), "DKIM-Signature"))
	bad := email("msg_01JBADKEY")
	bad.DKIM = &sendoka.DKIMKey{Domain: "acme.test", Signer: rsaKey}
	_, err = s.SendEmail(ctx(t), bad)
	requireKind(t, sendoka.Permanent, err)
	require.Len(t, srv.Messages(), 2)
}
