package sendoka

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"
)

// Webhook signature headers. Sendoka's own (the docs'), and the Standard Webhooks ones
// (standardwebhooks.com) signed with the same secret.
const (
	HeaderWebhookEvent      = "X-Sendoka-Event"
	HeaderWebhookDeliveryID = "X-Sendoka-Delivery-Id"
	HeaderWebhookSignature  = "X-Sendoka-Signature"
	HeaderStandardID        = "webhook-id"
	HeaderStandardTimestamp = "webhook-timestamp"
	HeaderStandardSignature = "webhook-signature"
)

// DefaultWebhookTolerance is how far a signature's t may be from now for VerifyWebhook when
// it is given no tolerance: the docs' five minutes.
const DefaultWebhookTolerance = 5 * time.Minute

// Errors of VerifyWebhook.
var (
	ErrWebhookHeader    = errors.New("sendoka: malformed X-Sendoka-Signature header")
	ErrWebhookStale     = errors.New("sendoka: webhook timestamp outside the tolerance")
	ErrWebhookSignature = errors.New("sendoka: no webhook signature matches")
)

// SignWebhook returns the X-Sendoka-Signature header for rawBody sent at t: t=<unix
// seconds>, then one v1=<hex HMAC-SHA256 of "t.rawBody"> per secret, in the order given.
// The HMAC key is the secret string itself, whsec_ prefix included, as in the docs' Node
// verifier.
func SignWebhook(rawBody []byte, t time.Time, secrets ...string) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	var b strings.Builder
	b.WriteString("t=")
	b.WriteString(ts)
	for _, s := range secrets {
		b.WriteString(",v1=")
		b.WriteString(hex.EncodeToString(webhookMAC([]byte(s), ts, rawBody)))
	}
	return b.String()
}

func webhookMAC(key []byte, prefix string, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(prefix))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// VerifyWebhook checks the X-Sendoka-Signature header of a delivery against rawBody, the
// request body exactly as received: the header's t must be within tolerance of now
// (DefaultWebhookTolerance when tolerance <= 0), and one of its v1= signatures (there are
// two while a rotated secret overlaps the new one) must be secret's. Comparisons take
// constant time. It returns nil, ErrWebhookHeader, ErrWebhookStale or ErrWebhookSignature.
func VerifyWebhook(rawBody []byte, header string, secret string, tolerance time.Duration) error {
	if tolerance <= 0 {
		tolerance = DefaultWebhookTolerance
	}
	var ts string
	var sigs [][]byte
	for _, part := range strings.Split(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return ErrWebhookHeader
		}
		switch k {
		case "t":
			ts = v
		case "v1":
			sig, err := hex.DecodeString(v)
			if err != nil {
				return ErrWebhookHeader
			}
			sigs = append(sigs, sig)
		}
	}
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return ErrWebhookHeader
	}
	if d := time.Since(time.Unix(unix, 0)); d > tolerance || d < -tolerance {
		return ErrWebhookStale
	}
	want := webhookMAC([]byte(secret), ts, rawBody)
	match := 0
	for _, sig := range sigs {
		match |= hmacEqual(sig, want)
	}
	if match == 0 {
		return ErrWebhookSignature
	}
	return nil
}

func hmacEqual(a, b []byte) int {
	if hmac.Equal(a, b) {
		return 1
	}
	return 0
}

// standardWebhookSignature is the webhook-signature header of the Standard Webhooks spec:
// "v1,<base64 HMAC-SHA256 of id.timestamp.body>" per secret, space-separated, keyed with the
// base64-decoded part of the secret after whsec_.
func standardWebhookSignature(id string, t time.Time, body []byte, secrets ...string) string {
	prefix := id + "." + strconv.FormatInt(t.Unix(), 10)
	parts := make([]string, 0, len(secrets))
	for _, s := range secrets {
		key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, "whsec_"))
		if err != nil {
			continue
		}
		parts = append(parts, "v1,"+base64.StdEncoding.EncodeToString(webhookMAC(key, prefix, body)))
	}
	return strings.Join(parts, " ")
}
