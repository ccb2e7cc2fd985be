package main

import (
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/providers/snssms"
)

func TestSMSProviderSetting(t *testing.T) {
	t.Setenv("SENDOKA_SNS_REGION", "eu-west-1")
	t.Setenv("SENDOKA_SNS_ENDPOINT", "http://127.0.0.1:4566")
	parse := parseConfig
	log := slog.New(slog.DiscardHandler)

	cfg, err := parse(t).serverConfig(log)
	require.NoError(t, err)
	require.Nil(t, cfg.SMS, "the sandbox is the default")

	cfg, err = parse(t, "-sms-provider", "sns").serverConfig(log)
	require.NoError(t, err)
	require.IsType(t, &snssms.Sender{}, cfg.SMS)

	_, err = parse(t, "-sms-provider", "sns", "-sns-sms-type", "Marketing").serverConfig(log)
	require.ErrorContains(t, err, "SENDOKA_SNS_SMS_TYPE")
	_, err = parse(t, "-sms-provider", "twilio").serverConfig(log)
	require.ErrorContains(t, err, "sandbox, sns")
}
