package snsnotify_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/sendoka/sendoka/providers/snsnotify"
)

// FuzzParseVerify: no body makes Parse or Verify panic, and whatever Parse accepts has the
// fields its type is signed with. Seeds: the fixtures in testdata.
func FuzzParseVerify(f *testing.F) {
	for _, name := range []string{"notification_v1.json", "notification_v2_subject.json", "subscription_confirmation.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"Type":"Notification"}`))
	f.Add([]byte(`null`))
	pemBytes, err := os.ReadFile(filepath.Join("testdata", "test-signing-cert.pem"))
	if err != nil {
		f.Fatal(err)
	}
	v := snsnotify.New(snsnotify.Options{TopicARNs: []string{fixtureTopic},
		FetchCert: func(context.Context, string) ([]byte, error) { return pemBytes, nil }})
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := snsnotify.Parse(body)
		if err != nil {
			return
		}
		if m.MessageID == "" || m.TopicArn == "" || m.Signature == "" {
			t.Fatalf("Parse accepted a message without its signed fields: %+v", m)
		}
		_ = v.Verify(context.Background(), m)
		_ = snsnotify.StringToSign(m)
	})
}
