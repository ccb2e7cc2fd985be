package main

import (
	"context"
	"fmt"

	"github.com/sendoka/sendoka/providers/snssms"
	"github.com/sendoka/sendoka/sendoka"
)

// snsConfig holds the settings of the SNS SMS provider (SENDOKA_SMS_PROVIDER=sns).
type snsConfig struct {
	region   string
	endpoint string
	smsType  string
}

func (c *snsConfig) flags(s *settings) {
	s.str(&c.region, "sns-region", "", "AWS region of SNS; empty = AWS_REGION or the shared config")
	s.str(&c.endpoint, "sns-endpoint", "", "SNS endpoint URL, for a VPC endpoint or LocalStack; empty = AWS's")
	s.str(&c.smsType, "sns-sms-type", "Transactional", "Transactional or Promotional")
}

// provider returns the live SMS provider that name selects: nil for the sandbox (the
// server's default), or an SNS sender with credentials from AWS's default chain.
func (c *snsConfig) provider(name string) (sendoka.SMSSender, error) {
	switch name {
	case "", "sandbox":
		return nil, nil
	case "sns":
		if c.smsType != "Transactional" && c.smsType != "Promotional" {
			return nil, fmt.Errorf("SENDOKA_SNS_SMS_TYPE=%q: Transactional or Promotional", c.smsType)
		}
		s, err := snssms.New(context.Background(), snssms.Options{Region: c.region, Endpoint: c.endpoint, SMSType: c.smsType})
		if err != nil {
			return nil, fmt.Errorf("SENDOKA_SMS_PROVIDER=sns: %w", err)
		}
		return s, nil
	}
	return nil, fmt.Errorf("SENDOKA_SMS_PROVIDER=%q: supported: sandbox, sns", name)
}
