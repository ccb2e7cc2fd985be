// Package signup is a stand-in for your application: it sends a welcome email through
// Sendoka when a user signs up. Its test (signup_test.go) shows how to test such code with
// the memsend fake in place of a real provider.
package signup

import (
	"context"

	"github.com/sendoka/sendoka/sendoka"
)

// Service signs users up.
type Service struct {
	Mail   *sendoka.Client
	Caller *sendoka.Principal
}

// SignUp registers a user and sends the welcome email; it returns the message id.
func (s *Service) SignUp(ctx context.Context, name, email string) (string, error) {
	msg, err := s.Mail.SendEmail(ctx, s.Caller, &sendoka.EmailRequest{
		From:    "Acme <hello@acme.example>",
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
