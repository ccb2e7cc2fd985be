package sendoka

import (
	"context"
	"time"
)

// Accepted is what a single send answers: the message is durable and queued (or
// scheduled), and ID finds it later. It is the same whether the send went through a
// *Client in this process or through the HTTP API (hosts/apiclient).
type Accepted struct {
	ID        string
	Channel   Channel
	Status    Status // queued, or scheduled for a future send
	CreatedAt time.Time
}

// MessageSender sends single messages on one caller's behalf. Code that only sends takes
// a MessageSender, and works the same against the core in its own process (Client.As) and
// against a remote Sendoka (hosts/apiclient's *Client).
//
// Both implementations validate the request and return an *Error with the documented code
// when it is refused (VALIDATION_ERROR with Fields, RATE_LIMITED with RetryAfterSeconds...).
// req is not changed. A nil error means the message is stored and will be delivered.
type MessageSender interface {
	SendEmail(ctx context.Context, req *EmailRequest) (*Accepted, error)
	SendSMS(ctx context.Context, req *SMSRequest) (*Accepted, error)
}

// As returns a MessageSender that sends through c as p: every send is
// c.SendEmail(ctx, p, req) or c.SendSMS(ctx, p, req).
func (c *Client) As(p *Principal) *PrincipalSender {
	return &PrincipalSender{Client: c, Principal: p}
}

// PrincipalSender is the MessageSender of a Client acting for one Principal (Client.As).
type PrincipalSender struct {
	Client    *Client
	Principal *Principal
}

var _ MessageSender = (*PrincipalSender)(nil)

// SendEmail sends an email as s.Principal.
func (s *PrincipalSender) SendEmail(ctx context.Context, req *EmailRequest) (*Accepted, error) {
	m, err := s.Client.SendEmail(ctx, s.Principal, req)
	if err != nil {
		return nil, err
	}
	return accepted(m), nil
}

// SendSMS sends an SMS as s.Principal.
func (s *PrincipalSender) SendSMS(ctx context.Context, req *SMSRequest) (*Accepted, error) {
	m, err := s.Client.SendSMS(ctx, s.Principal, req)
	if err != nil {
		return nil, err
	}
	return accepted(m), nil
}

func accepted(m *Message) *Accepted {
	return &Accepted{ID: m.ID, Channel: m.Channel, Status: m.Status, CreatedAt: m.CreatedAt}
}
