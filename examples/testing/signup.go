// Package signup is a stand-in for your application: it sends a welcome email through
// Sendoka when a user signs up. Its test (signup_test.go) shows how to test such code with
// sendoka/sendokatest: the real Sendoka on SQLite, with the memsend fake in place of every
// provider, so whatever key and sender the code uses, the test sees what went out.
package signup

import (
	"context"

	"github.com/sendoka/sendoka/sendoka"
)

// Service signs users up.
type Service struct {
	// Mail sends the welcome email.
	Mail *sendoka.Client
	// Caller is who sends it: the principal of an API key (Client.Authenticate), or
	// sendoka.SystemPrincipal for code that uses no keys.
	Caller *sendoka.Principal
	// From is the sender: an address at a verified domain, or at the sandbox domain.
	From string
}

// SignUp registers a user and sends the welcome email; it returns the message id.
func (s *Service) SignUp(ctx context.Context, name, email string) (string, error) {
	msg, err := s.Mail.SendEmail(ctx, s.Caller, &sendoka.EmailRequest{
		From:    s.From,
		To:      []string{email},
		Subject: "Welcome, " + name,
		Text:    "Hi " + name + ", thanks for signing up.",
		Tags:    []string{"signup"},
	})
	if err != nil {
		return "", err
	}
	return msg.ID, nil
}
