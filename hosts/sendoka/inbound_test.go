package main

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/storage/bunstore/bunstoretest"
)

// TestServeInboundSMTP: with SENDOKA_SMTP_INBOUND_ADDR set, `sendoka serve` takes mail for
// an inbound route over SMTP (it then shows in the API) and refuses to relay.
func TestServeInboundSMTP(t *testing.T) {
	for _, d := range bunstoretest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			smtpAddr := freeAddr(t)
			args := []string{"-data-dir", t.TempDir(), "-bootstrap-keys", liveKey("in1"),
				"-smtp-inbound-addr", smtpAddr, "-smtp-inbound-domains", "in.example.com",
				"-smtp-inbound-bounce-domain", "bounce.example.com", "-smtp-inbound-hostname", "mx.example.com"}
			if d == "postgres" {
				args = append(args, "-database-url", bunstoretest.DSN(t, d))
			}
			srv := startServe(t, args...)
			code, route := srv.do(t, http.MethodPost, "/api/v1/inbound-routes", liveKey("in1"), map[string]any{"match": "*@in.example.com"})
			require.Equal(t, http.StatusOK, code, route)

			c, err := smtp.Dial(smtpAddr)
			require.NoError(t, err)
			defer c.Close()
			require.NoError(t, c.SendMail("ada@example.org", []string{"help@in.example.com"},
				strings.NewReader("From: ada@example.org\r\nTo: help@in.example.com\r\nSubject: Help\r\n\r\nPlease help.\r\n")))
			err = c.SendMail("ada@example.org", []string{"someone@example.net"}, strings.NewReader("Subject: relay\r\n\r\nx\r\n"))
			var se *smtp.SMTPError
			require.True(t, errors.As(err, &se), "%v", err)
			require.Equal(t, 554, se.Code, "no relaying")

			code, list := srv.do(t, http.MethodGet, "/api/v1/inbound-emails", liveKey("in1"), nil)
			require.Equal(t, http.StatusOK, code, list)
			data := list["data"].([]any)
			require.Len(t, data, 1)
			require.Equal(t, "Help", data[0].(map[string]any)["subject"])
			require.NoError(t, srv.stop())
		})
	}
}
