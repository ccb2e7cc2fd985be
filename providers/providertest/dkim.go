package providertest

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"net/mail"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-msgauth/dkim"
	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/sendoka"
)

// dkimKey is one RSA key for the whole suite: making a 2048-bit key takes a while.
var dkimKey = sync.OnceValues(func() (*rsa.PrivateKey, error) { return rsa.GenerateKey(rand.Reader, 2048) })

// dkim: a message that carries a DKIM key is sent like any other; a provider that signs
// (Features.SignsDKIM) hands over a message whose signature verifies against the key.
func (s *emailSuite) dkim(t *testing.T) {
	st := s.setup(t)
	key, err := dkimKey()
	require.NoError(t, err)
	from, err := mail.ParseAddress(s.h.From)
	require.NoError(t, err)
	_, domain, _ := strings.Cut(from.Address, "@")
	m := s.message()
	m.DKIM = &sendoka.DKIMKey{Domain: strings.ToLower(domain), Selector: "conformance", Signer: key}
	s.send(t, st, m)
	if st.Received == nil {
		require.False(t, s.h.Features.SignsDKIM, "Features.SignsDKIM needs EmailSetup.Received")
		return
	}
	got := receivedOnce(t, st, m.MessageID)
	requireSameEmail(t, m, got)
	if !s.h.Features.SignsDKIM {
		return
	}
	require.NotEmpty(t, got.Raw, "Features.SignsDKIM needs ReceivedEmail.Raw")
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	require.NoError(t, err)
	record := "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(pub)
	vs, err := dkim.VerifyWithOptions(bytes.NewReader(got.Raw), &dkim.VerifyOptions{
		LookupTXT: func(name string) ([]string, error) {
			if name == "conformance._domainkey."+m.DKIM.Domain {
				return []string{record}, nil
			}
			return nil, fmt.Errorf("no TXT record at %s", name)
		},
	})
	require.NoError(t, err)
	require.Len(t, vs, 1, "one DKIM-Signature")
	require.NoError(t, vs[0].Err, "the signature verifies")
	require.Equal(t, m.DKIM.Domain, vs[0].Domain)
	require.Contains(t, vs[0].HeaderKeys, "From")
}
