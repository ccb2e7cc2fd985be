package main

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/providers/smtpemail/smtpemailtest"
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

// TestServeBounceRoundTrip: the whole way, through the binary. Live mail goes out through an
// SMTP relay with a VERP return path; a DSN sent back to that return path (it quotes nothing
// of the message) makes the email bounced with the DSN's diagnostic, and the address
// suppressed.
func TestServeBounceRoundTrip(t *testing.T) {
	for _, d := range bunstoretest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			relay := smtpemailtest.Start(t, smtpemailtest.Options{})
			smtpAddr := freeAddr(t)
			srv := startServe(t, relayArgs(t, string(d), relay, t.TempDir(),
				"-smtp-inbound-addr", smtpAddr, "-smtp-inbound-bounce-domain", "bounce.acme.test")...)
			code, sent := srv.do(t, http.MethodPost, "/api/v1/emails", liveKey("dl"), map[string]any{
				"from": "hello@acme.test", "to": []string{"gone@example.org"}, "subject": "Hi", "text": "Hello"})
			require.Equal(t, http.StatusOK, code, sent)
			id := sent["id"].(string)
			waitStatus(t, srv, liveKey("dl"), id, "sent")
			msg := relay.WaitFor(t, 1)[0]
			require.True(t, strings.HasPrefix(msg.From, "bounces+") && strings.HasSuffix(msg.From, "@bounce.acme.test"), msg.From)
			require.Contains(t, string(msg.Data), "From: hello@acme.test")

			dsn := fmt.Sprintf("From: MAILER-DAEMON@mx.example.org\r\nTo: %s\r\nSubject: Undelivered Mail Returned to Sender\r\n"+
				"MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n"+
				"--B\r\nContent-Type: text/plain\r\n\r\nUndeliverable.\r\n\r\n--B\r\nContent-Type: message/delivery-status\r\n\r\n"+
				"Reporting-MTA: dns; mx.example.org\r\n\r\nFinal-Recipient: rfc822; gone@example.org\r\nAction: failed\r\n"+
				"Status: 5.1.1\r\nRemote-MTA: dns; mx1.example.org\r\nDiagnostic-Code: smtp; 550 5.1.1 <gone@example.org>: no such user\r\n\r\n--B--\r\n", msg.From)
			c, err := smtp.Dial(smtpAddr)
			require.NoError(t, err)
			defer c.Close()
			require.NoError(t, c.SendMail("", []string{msg.From}, strings.NewReader(dsn)))

			got := waitStatus(t, srv, liveKey("dl"), id, "bounced")
			diag := got["diagnostic"].(map[string]any)
			require.Equal(t, "5.1.1", diag["enhanced_status"])
			require.Equal(t, "550", diag["smtp_status"])
			require.Equal(t, "mx1.example.org", diag["remote_mta"])
			require.Contains(t, diag["message"], "no such user")
			code, sup := srv.do(t, http.MethodGet, "/api/v1/suppressions/gone@example.org", liveKey("dl"), nil)
			require.Equal(t, http.StatusOK, code, sup)
			require.Equal(t, true, sup["suppressed"])
			require.NoError(t, srv.stop())
		})
	}
}
