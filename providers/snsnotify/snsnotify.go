// Package snsnotify reads the messages Amazon SNS posts to an HTTP(S) subscriber and checks
// that SNS sent them: the signature (SignatureVersion 1, SHA1withRSA, or 2, SHA256withRSA)
// made with the certificate at SigningCertURL, which must be an https URL on an SNS host of
// AWS (sns.<region>.amazonaws.com, or .amazonaws.com.cn) ending in .pem; and the topic, which
// must be one of an allow-list.
//
// Use:
//
//	v := snsnotify.New(snsnotify.Options{TopicARNs: []string{"arn:aws:sns:us-east-1:123456789012:ses-events"}})
//	m, err := snsnotify.Parse(body)
//	if err == nil {
//		err = v.Verify(ctx, m)
//	}
//	switch {
//	case err != nil: // refuse the request (errors.Is ErrMalformed, ErrSignature, ErrTopic)
//	case m.Type == snsnotify.TypeSubscriptionConfirmation:
//		err = v.Confirm(ctx, m)
//	case m.Type == snsnotify.TypeNotification:
//		// m.Message is the payload
//	}
package snsnotify

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
)

// The three message types SNS posts.
const (
	TypeNotification             = "Notification"
	TypeSubscriptionConfirmation = "SubscriptionConfirmation"
	TypeUnsubscribeConfirmation  = "UnsubscribeConfirmation"
)

// Errors. Every error of Parse wraps ErrMalformed; Verify's wrap ErrSignature (no valid
// signature: a bad certificate URL, a certificate that does not read, a signature that does
// not match), ErrTopic (a topic not on the allow-list) or ErrCertUnavailable (the
// certificate could not be fetched: the message may be fine, and worth taking again).
var (
	ErrMalformed       = errors.New("snsnotify: malformed SNS message")
	ErrSignature       = errors.New("snsnotify: SNS signature not valid")
	ErrTopic           = errors.New("snsnotify: SNS topic not allowed")
	ErrCertUnavailable = errors.New("snsnotify: SNS signing certificate unavailable")
)

// MaxMessageBytes bounds the body Parse reads: SNS messages are at most 256 KiB, plus the
// envelope.
const MaxMessageBytes = 512 << 10

// Message is one message SNS posted.
type Message struct {
	Type      string `json:"Type"`
	MessageID string `json:"MessageId"`
	TopicArn  string `json:"TopicArn"`
	// Subject is nil when the message has none: it is signed only when present.
	Subject   *string `json:"Subject"`
	Message   string  `json:"Message"`
	Timestamp string  `json:"Timestamp"`
	// Token and SubscribeURL are set on subscription and unsubscribe confirmations.
	Token            string `json:"Token"`
	SubscribeURL     string `json:"SubscribeURL"`
	UnsubscribeURL   string `json:"UnsubscribeURL"`
	SignatureVersion string `json:"SignatureVersion"`
	Signature        string `json:"Signature"`
	SigningCertURL   string `json:"SigningCertURL"`
}

// Parse reads a message from the body SNS posted. It checks the shape only (a known type and
// the fields that type is signed with); Verify checks the signature.
func Parse(body []byte) (*Message, error) {
	if len(body) > MaxMessageBytes {
		return nil, fmt.Errorf("%w: body larger than %d bytes", ErrMalformed, MaxMessageBytes)
	}
	var m Message
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	var missing []string
	need := func(name, v string) {
		if v == "" {
			missing = append(missing, name)
		}
	}
	need("MessageId", m.MessageID)
	need("TopicArn", m.TopicArn)
	need("Timestamp", m.Timestamp)
	need("SignatureVersion", m.SignatureVersion)
	need("Signature", m.Signature)
	need("SigningCertURL", m.SigningCertURL)
	switch m.Type {
	case TypeNotification:
	case TypeSubscriptionConfirmation, TypeUnsubscribeConfirmation:
		need("Token", m.Token)
		need("SubscribeURL", m.SubscribeURL)
	default:
		return nil, fmt.Errorf("%w: unknown Type %q", ErrMalformed, m.Type)
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%w: missing %s", ErrMalformed, strings.Join(missing, ", "))
	}
	return &m, nil
}

// StringToSign returns the bytes SNS signs for m: for a notification Message, MessageId,
// Subject (only when present), Timestamp, TopicArn and Type; for a confirmation Message,
// MessageId, SubscribeURL, Timestamp, Token, TopicArn and Type. Each is the key, a newline,
// the value and a newline, so the string ends with a newline.
func StringToSign(m *Message) []byte {
	var b bytes.Buffer
	add := func(k, v string) {
		b.WriteString(k)
		b.WriteByte('\n')
		b.WriteString(v)
		b.WriteByte('\n')
	}
	add("Message", m.Message)
	add("MessageId", m.MessageID)
	if m.Type == TypeNotification {
		if m.Subject != nil {
			add("Subject", *m.Subject)
		}
		add("Timestamp", m.Timestamp)
	} else {
		add("SubscribeURL", m.SubscribeURL)
		add("Timestamp", m.Timestamp)
		add("Token", m.Token)
	}
	add("TopicArn", m.TopicArn)
	add("Type", m.Type)
	return b.Bytes()
}

// snsHost is the host of every SNS endpoint: the signing certificates and the subscription
// confirmation URLs live there.
var snsHost = regexp.MustCompile(`^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$`)

// IsSNSURL reports whether raw is an https URL on an SNS host of AWS (no user info, no
// port), as SigningCertURL and SubscribeURL must be.
func IsSNSURL(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && u.Scheme == "https" && u.User == nil && u.Port() == "" && snsHost.MatchString(u.Hostname()) && u.Opaque == ""
}

// ValidCertURL reports whether raw may be a SigningCertURL: an SNS URL whose path ends in .pem.
func ValidCertURL(raw string) bool {
	if !IsSNSURL(raw) {
		return false
	}
	u, _ := url.Parse(raw)
	return strings.HasSuffix(u.Path, ".pem") && u.RawQuery == "" && u.Fragment == ""
}

// CertFetcher gets the PEM-encoded certificate at a SigningCertURL (already checked with
// ValidCertURL). Tests inject one; the default GETs the URL with Options.HTTPClient.
type CertFetcher func(ctx context.Context, certURL string) ([]byte, error)

// Options configures a Verifier.
type Options struct {
	// TopicARNs is the allow-list: a message of any other topic is ErrTopic. Empty: every
	// message is ErrTopic (a subscriber must say which topics it expects).
	TopicARNs []string
	// HTTPClient fetches certificates (unless FetchCert is set) and confirms subscriptions.
	// Default: a client with a 10 s timeout.
	HTTPClient *http.Client
	// FetchCert gets certificates. Default: GET with HTTPClient.
	FetchCert CertFetcher
	// Now tells the time, to drop cached certificates that expired. Default: time.Now.
	Now func() time.Time
	// MaxCachedCerts bounds the certificate cache. Default: 32. SNS signs with few.
	MaxCachedCerts int
}

// Verifier checks SNS messages. It caches the certificates it fetched. It is safe for
// concurrent use.
type Verifier struct {
	opts  Options
	mu    sync.Mutex
	certs map[string]*x509.Certificate
}

// New returns a Verifier.
func New(opts Options) *Verifier {
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxCachedCerts <= 0 {
		opts.MaxCachedCerts = 32
	}
	v := &Verifier{opts: opts, certs: map[string]*x509.Certificate{}}
	if v.opts.FetchCert == nil {
		v.opts.FetchCert = v.httpFetch
	}
	return v
}

// TopicAllowed reports whether arn is on the allow-list.
func (v *Verifier) TopicAllowed(arn string) bool { return slices.Contains(v.opts.TopicARNs, arn) }

// Verify checks that SNS sent m: its topic is allowed, its certificate URL is an SNS one, and
// its signature verifies with that certificate.
func (v *Verifier) Verify(ctx context.Context, m *Message) error {
	if !v.TopicAllowed(m.TopicArn) {
		return fmt.Errorf("%w: %q", ErrTopic, m.TopicArn)
	}
	var hash crypto.Hash
	switch m.SignatureVersion {
	case "1":
		hash = crypto.SHA1
	case "2":
		hash = crypto.SHA256
	default:
		return fmt.Errorf("%w: unknown SignatureVersion %q", ErrSignature, m.SignatureVersion)
	}
	if !ValidCertURL(m.SigningCertURL) {
		return fmt.Errorf("%w: SigningCertURL %q is not an SNS certificate URL", ErrSignature, m.SigningCertURL)
	}
	sig, err := base64.StdEncoding.DecodeString(m.Signature)
	if err != nil {
		return fmt.Errorf("%w: Signature is not base64", ErrSignature)
	}
	cert, err := v.cert(ctx, m.SigningCertURL)
	if err != nil {
		return err
	}
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return fmt.Errorf("%w: the signing certificate has no RSA key", ErrSignature)
	}
	msg := StringToSign(m)
	var digest []byte
	if hash == crypto.SHA1 {
		d := sha1.Sum(msg)
		digest = d[:]
	} else {
		d := sha256.Sum256(msg)
		digest = d[:]
	}
	if err := rsa.VerifyPKCS1v15(pub, hash, digest, sig); err != nil {
		return fmt.Errorf("%w: %v", ErrSignature, err)
	}
	return nil
}

// cert returns the certificate at certURL, from the cache when it is there and not expired.
func (v *Verifier) cert(ctx context.Context, certURL string) (*x509.Certificate, error) {
	now := v.opts.Now()
	v.mu.Lock()
	c := v.certs[certURL]
	v.mu.Unlock()
	if c != nil && now.Before(c.NotAfter) {
		return c, nil
	}
	raw, err := v.opts.FetchCert(ctx, certURL)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCertUnavailable, err)
	}
	block, _ := pem.Decode(raw)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("%w: the signing certificate is not PEM", ErrSignature)
	}
	c, err = x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: the signing certificate does not parse: %v", ErrSignature, err)
	}
	if now.Before(c.NotBefore) || !now.Before(c.NotAfter) {
		return nil, fmt.Errorf("%w: the signing certificate is not valid now", ErrSignature)
	}
	v.mu.Lock()
	if len(v.certs) >= v.opts.MaxCachedCerts {
		clear(v.certs) // SNS rotates rarely: starting over is cheaper than tracking use
	}
	v.certs[certURL] = c
	v.mu.Unlock()
	return c, nil
}

func (v *Verifier) httpFetch(ctx context.Context, certURL string) ([]byte, error) {
	return v.get(ctx, certURL, 64<<10)
}

func (v *Verifier) get(ctx context.Context, raw string, limit int64) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, raw, nil)
	if err != nil {
		return nil, err
	}
	res, err := v.opts.HTTPClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, limit))
	if err != nil {
		return nil, err
	}
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", raw, res.Status)
	}
	return body, nil
}

// Confirm confirms a subscription: it GETs m.SubscribeURL, which must be an SNS URL of AWS
// (IsSNSURL; otherwise ErrMalformed), with Options.HTTPClient. Call it only for a verified
// SubscriptionConfirmation.
func (v *Verifier) Confirm(ctx context.Context, m *Message) error {
	if m.Type != TypeSubscriptionConfirmation {
		return fmt.Errorf("%w: %s is not a subscription confirmation", ErrMalformed, m.Type)
	}
	if !IsSNSURL(m.SubscribeURL) {
		return fmt.Errorf("%w: SubscribeURL %q is not an SNS URL", ErrMalformed, m.SubscribeURL)
	}
	if _, err := v.get(ctx, m.SubscribeURL, 64<<10); err != nil {
		return fmt.Errorf("snsnotify: confirming the subscription: %w", err)
	}
	return nil
}
