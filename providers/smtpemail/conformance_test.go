package smtpemail_test

import (
	"bytes"
	"net/mail"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-smtp"

	"github.com/sendoka/sendoka/providers/providertest"
	"github.com/sendoka/sendoka/providers/smtpemail"
	"github.com/sendoka/sendoka/providers/smtpemail/smtpemailtest"
	"github.com/sendoka/sendoka/sendoka"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	providertest.RunEmail(t, providertest.EmailHarness{
		Features: providertest.Features{ReportsName: true, CanForceFailures: true, Attachments: true, InlineImages: true, Headers: true,
			SignsDKIM: true, SendsPerRecipient: true},
		New: func(t *testing.T) *providertest.EmailSetup {
			var (
				mu      sync.Mutex
				failing sendoka.ProviderErrorKind
				stalled bool
				reached []string
			)
			release := make(chan struct{})
			t.Cleanup(func() { close(release) }) // runs before the server stops
			srv := smtpemailtest.Start(t, smtpemailtest.Options{
				TLS: smtpemailtest.StartTLS, Username: "conformance", Password: "secret",
				Rcpt: func(string) error {
					mu.Lock()
					kind := failing
					failing = ""
					mu.Unlock()
					switch kind {
					case sendoka.Throttled:
						return &smtp.SMTPError{Code: 450, EnhancedCode: smtp.EnhancedCode{4, 7, 0}, Message: "Too many messages, slow down"}
					case sendoka.Transient:
						return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Temporary local problem"}
					case sendoka.Permanent:
						return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user"}
					}
					return nil
				},
				Data: func(m smtpemailtest.Message) error {
					mu.Lock()
					stall := stalled
					if stall {
						reached = append(reached, messageIDOf(m.Data))
					}
					mu.Unlock()
					if stall {
						<-release
						return &smtp.SMTPError{Code: 451, Message: "gave up"}
					}
					return nil
				},
			})
			sender, err := smtpemail.New(smtpemail.Options{
				Host: srv.Host, Port: srv.Port, TLSConfig: srv.ClientTLS(), Username: "conformance", Password: "secret",
			})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = sender.Close() })
			return &providertest.EmailSetup{
				Sender: sender,
				Received: func(t *testing.T, id string) []providertest.ReceivedEmail {
					var out []providertest.ReceivedEmail
					for _, m := range srv.Messages() {
						if messageIDOf(m.Data) == id {
							got := providertest.ParseMessage(t, m.Data, m.To)
							got.ReturnPath = m.From
							out = append(out, got)
						}
					}
					return out
				},
				FailNext: func(t *testing.T, kind sendoka.ProviderErrorKind) {
					mu.Lock()
					defer mu.Unlock()
					failing = kind
				},
				Stall: func(t *testing.T) func(string) bool {
					mu.Lock()
					defer mu.Unlock()
					stalled = true
					return func(id string) bool {
						mu.Lock()
						defer mu.Unlock()
						return slices.Contains(reached, id)
					}
				},
			}
		},
	})
}

// messageIDOf returns the Sendoka id in a raw message's Message-ID (<id@domain>).
func messageIDOf(raw []byte) string {
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return ""
	}
	id, _, _ := strings.Cut(strings.Trim(msg.Header.Get("Message-Id"), "<>"), "@")
	return id
}
