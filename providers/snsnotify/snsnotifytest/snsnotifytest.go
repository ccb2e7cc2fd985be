// Package snsnotifytest signs SNS messages the way SNS does, with a locally generated RSA key
// and self-signed certificate, for tests of SNS subscribers: give the Verifier the Signer's
// FetchCert and the messages it signs verify, with no network.
package snsnotifytest

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"time"

	"github.com/sendoka/sendoka/providers/snsnotify"
)

// CertURL is the SigningCertURL of the messages a Signer signs: a valid SNS certificate URL.
const CertURL = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0000000000000000000000.pem"

// Signer signs SNS messages.
type Signer struct {
	key     *rsa.PrivateKey
	certPEM []byte
}

// NewSigner makes a 2048-bit RSA key and a self-signed certificate for it, valid from an hour
// ago for a year.
func NewSigner() (*Signer, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sns.amazonaws.com"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(365 * 24 * time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	return &Signer{key: key, certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}, nil
}

// CertPEM returns the certificate, PEM-encoded.
func (s *Signer) CertPEM() []byte { return s.certPEM }

// FetchCert serves the certificate for CertURL, and fails for any other URL.
func (s *Signer) FetchCert(_ context.Context, certURL string) ([]byte, error) {
	if certURL != CertURL {
		return nil, fmt.Errorf("snsnotifytest: no certificate at %s", certURL)
	}
	return s.certPEM, nil
}

// Sign sets m's SignatureVersion ("1" or "2"), SigningCertURL (CertURL when empty) and
// Signature.
func (s *Signer) Sign(m *snsnotify.Message, version string) error {
	m.SignatureVersion = version
	if m.SigningCertURL == "" {
		m.SigningCertURL = CertURL
	}
	return s.SignBytes(m, snsnotify.StringToSign(m))
}

// SignBytes signs msg (whatever it is) as m's signature, with m's SignatureVersion: a test
// of the string to sign itself signs a variant of it.
func (s *Signer) SignBytes(m *snsnotify.Message, msg []byte) error {
	var digest []byte
	hash := crypto.SHA256
	if m.SignatureVersion == "1" {
		hash = crypto.SHA1
		d := sha1.Sum(msg)
		digest = d[:]
	} else {
		d := sha256.Sum256(msg)
		digest = d[:]
	}
	sig, err := rsa.SignPKCS1v15(rand.Reader, s.key, hash, digest)
	if err != nil {
		return err
	}
	m.Signature = base64.StdEncoding.EncodeToString(sig)
	return nil
}

// Notification returns a signed (version 2) Notification of topic carrying message, as JSON.
func (s *Signer) Notification(topic, messageID, message string) ([]byte, error) {
	m := &snsnotify.Message{Type: snsnotify.TypeNotification, MessageID: messageID, TopicArn: topic,
		Message: message, Timestamp: time.Now().UTC().Format("2006-01-02T15:04:05.000Z"),
		UnsubscribeURL: "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe"}
	if err := s.Sign(m, "2"); err != nil {
		return nil, err
	}
	return json.Marshal(m)
}
