package sesemail_test

import (
	"bytes"
	"context"
	"net/mail"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/sendoka/sendoka/providers/providertest"
	"github.com/sendoka/sendoka/providers/sesemail"
	"github.com/sendoka/sendoka/providers/sesemail/sesemailtest"
	"github.com/sendoka/sendoka/sendoka"
)

var _ sendoka.EmailSender = (*sesemail.Sender)(nil)

func TestConformance(t *testing.T) {
	t.Parallel()
	providertest.RunEmail(t, providertest.EmailHarness{
		Features: providertest.Features{ReportsName: true, CanForceFailures: true, Attachments: true, InlineImages: true, Headers: true},
		New: func(t *testing.T) *providertest.EmailSetup {
			srv := sesemailtest.Start(t)
			var (
				mu      sync.Mutex
				failing sendoka.ProviderErrorKind
				stalled bool
				reached []string
			)
			srv.FailWith(func(ctx context.Context, r sesemailtest.Request) *sesemailtest.Failure {
				mu.Lock()
				kind := failing
				failing = ""
				stall := stalled
				if stall {
					reached = append(reached, messageIDOf(r.Raw))
				}
				mu.Unlock()
				if stall {
					<-ctx.Done() // the client gave up
					return &sesemailtest.Failure{Hangup: true}
				}
				switch kind {
				case sendoka.Throttled:
					return &sesemailtest.Failure{Status: 429, Type: "TooManyRequestsException", Message: "Maximum sending rate exceeded."}
				case sendoka.Transient:
					return &sesemailtest.Failure{Status: 500, Type: "InternalFailure", Message: "internal failure"}
				case sendoka.Permanent:
					return &sesemailtest.Failure{Status: 400, Type: "MessageRejected", Message: "Email address is not verified."}
				}
				return nil
			})
			return &providertest.EmailSetup{
				Sender: sesemail.New(srv.Client(), sesemail.Options{ConfigurationSet: "conformance"}),
				Received: func(t *testing.T, id string) []providertest.ReceivedEmail {
					var out []providertest.ReceivedEmail
					for _, r := range srv.Requests() {
						if messageIDOf(r.Raw) == id {
							out = append(out, providertest.ParseMessage(t, r.Raw, slices.Concat(r.To, r.Cc, r.Bcc)))
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
