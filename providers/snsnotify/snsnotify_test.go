package snsnotify_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/providers/snsnotify"
	"github.com/sendoka/sendoka/providers/snsnotify/snsnotifytest"
)

const fixtureTopic = "arn:aws:sns:us-east-1:123456789012:sendoka-ses-events"

// fixtureFetcher serves testdata's certificate for any valid URL and counts the fetches.
func fixtureFetcher(t *testing.T, calls *atomic.Int32) snsnotify.CertFetcher {
	pemBytes, err := os.ReadFile(filepath.Join("testdata", "test-signing-cert.pem"))
	require.NoError(t, err)
	return func(context.Context, string) ([]byte, error) {
		calls.Add(1)
		return pemBytes, nil
	}
}

var dialer net.Dialer

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return b
}

// TestFixtures: messages in SNS's format, signed outside Go (see testdata/README.md), verify:
// version 1 and 2, with and without a Subject, a subscription confirmation.
func TestFixtures(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	v := snsnotify.New(snsnotify.Options{TopicARNs: []string{fixtureTopic}, FetchCert: fixtureFetcher(t, &calls)})
	for _, name := range []string{"notification_v1.json", "notification_v2_subject.json", "subscription_confirmation.json"} {
		t.Run(name, func(t *testing.T) {
			m, err := snsnotify.Parse(readFixture(t, name))
			require.NoError(t, err)
			require.NoError(t, v.Verify(context.Background(), m))

			// Any change to a signed field breaks it.
			m.Message += " "
			require.ErrorIs(t, v.Verify(context.Background(), m), snsnotify.ErrSignature)
		})
	}
	require.EqualValues(t, 1, calls.Load(), "the certificate is fetched once and cached")
}

// TestStringToSignTrailingNewline: the string SNS signs ends with a newline after the last
// value; the fixtures were signed over exactly that, so a string without it does not verify.
func TestStringToSignTrailingNewline(t *testing.T) {
	t.Parallel()
	m, err := snsnotify.Parse(readFixture(t, "notification_v1.json"))
	require.NoError(t, err)
	s := string(snsnotify.StringToSign(m))
	require.True(t, strings.HasSuffix(s, "\nType\nNotification\n"), "%q", s)
	require.True(t, strings.HasPrefix(s, "Message\n"+m.Message+"\nMessageId\n"+m.MessageID+"\nTimestamp\n"))
	require.NotContains(t, s, "Subject", "no Subject: not signed")
	m2, err := snsnotify.Parse(readFixture(t, "notification_v2_subject.json"))
	require.NoError(t, err)
	require.Contains(t, string(snsnotify.StringToSign(m2)), "\nSubject\nAmazon SES Email Event Notification\nTimestamp\n")

	// Signed without the trailing newline, a message does not verify.
	signer, err := snsnotifytest.NewSigner()
	require.NoError(t, err)
	v := snsnotify.New(snsnotify.Options{TopicARNs: []string{fixtureTopic}, FetchCert: signer.FetchCert})
	m.SigningCertURL = snsnotifytest.CertURL
	require.NoError(t, signer.SignBytes(m, []byte(strings.TrimSuffix(s, "\n"))))
	require.ErrorIs(t, v.Verify(context.Background(), m), snsnotify.ErrSignature)
	require.NoError(t, signer.SignBytes(m, []byte(s)))
	require.NoError(t, v.Verify(context.Background(), m))
}

// TestVerifyRefusals: a topic off the allow-list, a certificate URL that is not SNS's, an
// unknown signature version, a signature by another key.
func TestVerifyRefusals(t *testing.T) {
	t.Parallel()
	signer, err := snsnotifytest.NewSigner()
	require.NoError(t, err)
	other, err := snsnotifytest.NewSigner()
	require.NoError(t, err)
	const topic = "arn:aws:sns:eu-west-1:123456789012:events"
	fetched := 0
	v := snsnotify.New(snsnotify.Options{TopicARNs: []string{topic}, FetchCert: func(ctx context.Context, u string) ([]byte, error) {
		fetched++
		return signer.FetchCert(ctx, u)
	}})
	good := func() *snsnotify.Message {
		m := &snsnotify.Message{Type: snsnotify.TypeNotification, MessageID: "m1", TopicArn: topic, Message: "{}", Timestamp: "2026-01-01T00:00:00.000Z"}
		require.NoError(t, signer.Sign(m, "2"))
		return m
	}
	ctx := context.Background()
	require.NoError(t, v.Verify(ctx, good()))
	m := good()
	require.NoError(t, signer.Sign(m, "1"))
	require.NoError(t, v.Verify(ctx, m), "SignatureVersion 1")

	m = good()
	m.TopicArn = "arn:aws:sns:eu-west-1:123456789012:other"
	require.NoError(t, signer.Sign(m, "2"))
	require.ErrorIs(t, v.Verify(ctx, m), snsnotify.ErrTopic)

	m = good()
	m.SignatureVersion = "3"
	require.ErrorIs(t, v.Verify(ctx, m), snsnotify.ErrSignature)

	m = good()
	require.NoError(t, other.Sign(m, "2"))
	require.ErrorIs(t, v.Verify(ctx, m), snsnotify.ErrSignature, "another key")

	m = good()
	m.Signature = "!!"
	require.ErrorIs(t, v.Verify(ctx, m), snsnotify.ErrSignature)

	before := fetched
	for _, u := range []string{
		"http://sns.us-east-1.amazonaws.com/cert.pem",
		"https://sns.us-east-1.amazonaws.com.evil.com/cert.pem",
		"https://evil.com/sns.us-east-1.amazonaws.com/cert.pem",
		"https://sns.us-east-1.amazonaws.com/cert.txt",
		"https://sns.us-east-1.amazonaws.com:8443/cert.pem",
		"https://user@sns.us-east-1.amazonaws.com/cert.pem",
		"https://s3.amazonaws.com/cert.pem",
	} {
		m = good()
		m.SigningCertURL = u
		require.ErrorIs(t, v.Verify(ctx, m), snsnotify.ErrSignature, u)
	}
	require.Equal(t, before, fetched, "a bad certificate URL is never fetched")
	require.True(t, snsnotify.ValidCertURL("https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-abc.pem"))

	down := snsnotify.New(snsnotify.Options{TopicARNs: []string{topic}, FetchCert: func(context.Context, string) ([]byte, error) {
		return nil, errors.New("connection refused")
	}})
	require.ErrorIs(t, down.Verify(ctx, good()), snsnotify.ErrCertUnavailable)

	none := snsnotify.New(snsnotify.Options{FetchCert: signer.FetchCert})
	require.ErrorIs(t, none.Verify(ctx, good()), snsnotify.ErrTopic, "an empty allow-list allows nothing")
}

// TestCertCacheExpiry: a cached certificate past its NotAfter is fetched again (and refused).
func TestCertCacheExpiry(t *testing.T) {
	t.Parallel()
	signer, err := snsnotifytest.NewSigner()
	require.NoError(t, err)
	now := time.Now()
	fetched := 0
	v := snsnotify.New(snsnotify.Options{TopicARNs: []string{"t"}, Now: func() time.Time { return now },
		FetchCert: func(ctx context.Context, u string) ([]byte, error) { fetched++; return signer.FetchCert(ctx, u) }})
	m := &snsnotify.Message{Type: snsnotify.TypeNotification, MessageID: "m1", TopicArn: "t", Message: "x", Timestamp: "2026-01-01T00:00:00Z"}
	require.NoError(t, signer.Sign(m, "2"))
	require.NoError(t, v.Verify(context.Background(), m))
	require.NoError(t, v.Verify(context.Background(), m))
	require.Equal(t, 1, fetched)
	now = now.Add(2 * 365 * 24 * time.Hour)
	require.ErrorIs(t, v.Verify(context.Background(), m), snsnotify.ErrSignature)
	require.Equal(t, 2, fetched)
}

func TestParse(t *testing.T) {
	t.Parallel()
	for name, body := range map[string]string{
		"not json":      "nope",
		"unknown type":  `{"Type":"Other","MessageId":"1","TopicArn":"t","Timestamp":"x","SignatureVersion":"1","Signature":"x","SigningCertURL":"u"}`,
		"no signature":  `{"Type":"Notification","MessageId":"1","TopicArn":"t","Timestamp":"x","SignatureVersion":"1","SigningCertURL":"u"}`,
		"no token":      `{"Type":"SubscriptionConfirmation","MessageId":"1","TopicArn":"t","Timestamp":"x","SignatureVersion":"1","Signature":"x","SigningCertURL":"u","SubscribeURL":"u"}`,
		"array":         `[]`,
		"too large":     `{"Message":"` + strings.Repeat("x", snsnotify.MaxMessageBytes) + `"}`,
		"wrong json ty": `{"Type":1}`,
	} {
		_, err := snsnotify.Parse([]byte(body))
		require.ErrorIs(t, err, snsnotify.ErrMalformed, name)
	}
	m, err := snsnotify.Parse(readFixture(t, "notification_v1.json"))
	require.NoError(t, err)
	require.Nil(t, m.Subject)
	var ses map[string]any
	require.NoError(t, json.Unmarshal([]byte(m.Message), &ses), "the payload is the Message string")
}

// TestConfirm: a verified SubscriptionConfirmation is confirmed by GETting its SubscribeURL
// through the injected client; a SubscribeURL off AWS's SNS hosts is never fetched.
func TestConfirm(t *testing.T) {
	t.Parallel()
	var got []string
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.Host+r.URL.RequestURI())
		_, _ = w.Write([]byte("<ConfirmSubscriptionResponse/>"))
	}))
	t.Cleanup(srv.Close)
	client := srv.Client()
	// Every request goes to the test server, whatever its URL's host says.
	client.Transport.(*http.Transport).DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return dialer.DialContext(ctx, network, srv.Listener.Addr().String())
	}
	client.Transport.(*http.Transport).TLSClientConfig.InsecureSkipVerify = true
	var calls atomic.Int32
	v := snsnotify.New(snsnotify.Options{TopicARNs: []string{fixtureTopic}, FetchCert: fixtureFetcher(t, &calls), HTTPClient: client})
	m, err := snsnotify.Parse(readFixture(t, "subscription_confirmation.json"))
	require.NoError(t, err)
	require.NoError(t, v.Verify(context.Background(), m))
	require.NoError(t, v.Confirm(context.Background(), m))
	require.Len(t, got, 1)
	require.True(t, strings.HasPrefix(got[0], "sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn="), got[0])

	m.SubscribeURL = "https://evil.example.com/?Action=ConfirmSubscription"
	require.ErrorIs(t, v.Confirm(context.Background(), m), snsnotify.ErrMalformed)
	require.Len(t, got, 1, "never fetched")

	n, err := snsnotify.Parse(readFixture(t, "notification_v1.json"))
	require.NoError(t, err)
	require.True(t, errors.Is(v.Confirm(context.Background(), n), snsnotify.ErrMalformed))
}
