package main

import (
	"bytes"
	"encoding/base64"
	"log/slog"
	"net/http"
	"net/mail"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/providers/providertest"
	"github.com/sendoka/sendoka/providers/sesemail"
	"github.com/sendoka/sendoka/providers/smtpemail"
	"github.com/sendoka/sendoka/providers/smtpemail/smtpemailtest"
	"github.com/sendoka/sendoka/sendoka"
	"github.com/sendoka/sendoka/storage/bunstore/bunstoretest"
)

// TestServeSMTPEndToEnd runs `sendoka serve` with the SMTP provider pointed at a real SMTP
// server (STARTTLS with its own CA, a login), a live key and a bootstrap domain: the message
// arrives with the right headers, parts and attachments; tracked links redirect and show up
// on the message; a refused recipient fails the message with the relay's diagnostic; a test
// key never reaches the relay. On SQLite, and on Postgres when configured.
func TestServeSMTPEndToEnd(t *testing.T) {
	for _, d := range bunstoretest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			relay := smtpemailtest.Start(t, smtpemailtest.Options{
				TLS: smtpemailtest.StartTLS, Username: "relay-user", Password: "relay pass",
				Rcpt: func(to string) error {
					if strings.HasPrefix(to, "nobody@") {
						return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user here"}
					}
					return nil
				},
			})
			ca := filepath.Join(t.TempDir(), "relay-ca.pem")
			require.NoError(t, os.WriteFile(ca, relay.CertPEM(), 0o600))
			live, test := liveKey("smtp"), testKey("smtp")
			args := []string{
				"-data-dir", t.TempDir(), "-bootstrap-keys", live + "," + test, "-bootstrap-domains", "acme.test",
				"-email-provider", "smtp", "-smtp-host", relay.Host, "-smtp-port", strconv.Itoa(relay.Port),
				"-smtp-username", "relay-user", "-smtp-password", "relay pass", "-smtp-ca-file", ca,
				"-public-url", "https://mail.acme.test",
			}
			if d == "postgres" {
				args = append(args, "-database-url", bunstoretest.DSN(t, d))
			}
			srv := startServe(t, args...)

			pdf := []byte("%PDF-1.7\n" + strings.Repeat("\x00\x01\xfe\xff binary ", 2000))
			png := []byte("\x89PNG\r\n\x1a\n" + strings.Repeat("\x00", 64))
			code, sent := srv.do(t, http.MethodPost, "/api/v1/emails", live, map[string]any{
				"from":    `"Acme Café" <hello@acme.test>`,
				"to":      []string{`"Ada Lovelace" <ada@example.com>`, "bob@example.com"},
				"cc":      []string{"carol@example.com"},
				"bcc":     []string{"dave@example.com", "ada@example.com"},
				"subject": "Your receipt — Grüße",
				"text":    "Thanks for your order.",
				"html":    `<html><body><p>Thanks! <img src="cid:logo"> <a href="https://acme.test/orders/42">Your order</a></p></body></html>`,
				"headers": map[string]string{"X-Entity-Ref-ID": "order-42"},
				"attachments": []map[string]string{
					{"filename": "receipt ü.pdf", "content": base64.StdEncoding.EncodeToString(pdf)},
					{"filename": "logo.png", "content": base64.StdEncoding.EncodeToString(png), "content_id": "logo"},
				},
			})
			require.Equal(t, http.StatusOK, code, sent)
			id := sent["id"].(string)

			got := relay.WaitFor(t, 1)[0]
			require.True(t, got.TLS, "STARTTLS")
			require.Equal(t, "relay-user", got.User)
			require.Equal(t, "hello@acme.test", got.From)
			require.ElementsMatch(t, []string{"ada@example.com", "bob@example.com", "carol@example.com", "dave@example.com"}, got.To,
				"bcc in the envelope, the duplicate ada dropped")
			msg := providertest.ParseMessage(t, got.Data, got.To)
			require.Equal(t, `"Acme Café" <hello@acme.test>`, decodeAddress(t, msg.From))
			require.Equal(t, []string{`"Ada Lovelace" <ada@example.com>`, "<bob@example.com>"}, msg.To)
			require.Equal(t, []string{"<carol@example.com>"}, msg.Cc)
			require.Equal(t, []string{"dave@example.com"}, msg.Bcc, "named by no header")
			require.Equal(t, "Your receipt — Grüße", msg.Subject)
			require.Equal(t, "<"+id+"@acme.test>", msg.Header.Get("Message-Id"))
			require.NotEmpty(t, msg.Header.Get("Date"))
			require.Equal(t, "order-42", msg.Header.Get("X-Entity-Ref-ID"))
			require.Empty(t, msg.Header.Get("Bcc"))
			require.Equal(t, "Thanks for your order.", msg.Text)
			require.Len(t, msg.Attachments, 2)
			byName := map[string]providertest.ReceivedAttachment{}
			for _, a := range msg.Attachments {
				byName[a.Filename] = a
			}
			require.Equal(t, pdf, byName["receipt ü.pdf"].Content)
			require.False(t, byName["receipt ü.pdf"].Inline)
			require.Equal(t, png, byName["logo.png"].Content)
			require.Equal(t, "logo", byName["logo.png"].ContentID)
			require.True(t, byName["logo.png"].Inline)
			raw, err := mail.ReadMessage(bytes.NewReader(got.Data))
			require.NoError(t, err)
			require.True(t, strings.HasPrefix(raw.Header.Get("Content-Type"), "multipart/mixed"))

			// Tracking: the link points at the public URL, and redirects to the order page.
			links := regexp.MustCompile(`https://mail\.acme\.test/t/c/([A-Za-z0-9_-]+)`).FindStringSubmatch(msg.HTML)
			require.NotNil(t, links, msg.HTML)
			require.Regexp(t, `https://mail\.acme\.test/t/o/[A-Za-z0-9_-]+`, msg.HTML, "open pixel")
			noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			res, err := noRedirect.Get(srv.base + "/t/c/" + links[1])
			require.NoError(t, err)
			res.Body.Close()
			require.Equal(t, http.StatusFound, res.StatusCode)
			require.Equal(t, "https://acme.test/orders/42", res.Header.Get("Location"))

			detail := waitStatus(t, srv, live, id, "sent")
			require.Equal(t, "smtp", detail["provider"])
			require.Equal(t, id+"@acme.test", detail["provider_message_id"])
			require.Len(t, detail["attachments"], 2)
			require.Contains(t, eventTypes(detail), "message.clicked")

			// A recipient the relay refuses: failed, with the relay's diagnostic.
			code, sent = srv.do(t, http.MethodPost, "/api/v1/emails", live, map[string]any{
				"from": "hello@acme.test", "to": []string{"nobody@example.com"}, "subject": "x", "text": "x",
			})
			require.Equal(t, http.StatusOK, code, sent)
			failed := waitStatus(t, srv, live, sent["id"].(string), "failed")
			require.Equal(t, map[string]any{"provider": "smtp", "code": "550 5.1.1",
				"message": "RCPT TO <nobody@example.com>: No such user here"}, failed["diagnostic"])

			// A test key from the same domain never reaches the relay.
			code, sent = srv.do(t, http.MethodPost, "/api/v1/emails", test, map[string]any{
				"from": "hello@acme.test", "to": []string{"ada@example.com"}, "subject": "test", "text": "x",
			})
			require.Equal(t, http.StatusOK, code, sent)
			sandboxed := waitStatus(t, srv, test, sent["id"].(string), "delivered")
			require.Equal(t, "sandbox", sandboxed["provider"])
			require.Len(t, relay.Messages(), 1)
			require.NoError(t, srv.stop())
		})
	}
}

func decodeAddress(t *testing.T, s string) string {
	t.Helper()
	a, err := mail.ParseAddress(s)
	require.NoError(t, err)
	return `"` + a.Name + `" <` + a.Address + ">"
}

// waitStatus polls GET /api/v1/emails/{id} until the message has status.
func waitStatus(t *testing.T, srv *running, key, id, status string) map[string]any {
	t.Helper()
	var got map[string]any
	pollUntil(t, 20*time.Second, func() bool {
		var code int
		code, got = srv.do(t, http.MethodGet, "/api/v1/emails/"+id, key, nil)
		require.Equal(t, http.StatusOK, code, got)
		return got["status"] == status
	}, "message %s never reached %s", id, status)
	return got
}

func eventTypes(m map[string]any) []string {
	var out []string
	evs, _ := m["events"].([]any)
	for _, e := range evs {
		if ev, ok := e.(map[string]any); ok {
			out = append(out, ev["type"].(string))
		}
	}
	return out
}

func TestEmailProviderSetting(t *testing.T) {
	parse := parseConfig
	log := slog.New(slog.DiscardHandler)

	cfg, err := parse(t).serverConfig(log)
	require.NoError(t, err)
	require.Nil(t, cfg.Email, "the sandbox is the default")
	require.Equal(t, "http://127.0.0.1:8080", cfg.Tracking.BaseURL, "tracking on by default, on the listen address")
	cfg, err = parse(t, "-addr", ":9000").serverConfig(log)
	require.NoError(t, err)
	require.Equal(t, "http://127.0.0.1:9000", cfg.Tracking.BaseURL, "an unspecified host is this machine")
	cfg, err = parse(t, "-public-url", "off").serverConfig(log)
	require.NoError(t, err)
	require.Empty(t, cfg.Tracking.BaseURL, "off turns tracking off")
	var warned bytes.Buffer
	wlog := slog.New(slog.NewTextHandler(&warned, nil))
	_, err = parse(t).serverConfig(wlog)
	require.NoError(t, err)
	require.Empty(t, warned.String(), "the sandbox sends nothing out: no warning")
	_, err = parse(t, "-email-provider", "smtp", "-smtp-host", "smtp.example.com").serverConfig(wlog)
	require.NoError(t, err)
	require.Contains(t, warned.String(), "level=WARN", "a live provider with a loopback public URL is warned about")
	warned.Reset()
	_, err = parse(t, "-email-provider", "smtp", "-smtp-host", "smtp.example.com", "-public-url", "https://mail.example.com").serverConfig(wlog)
	require.NoError(t, err)
	require.Empty(t, warned.String())
	require.True(t, publicURLIsLoopback("http://localhost:8080"))
	require.True(t, publicURLIsLoopback("http://[::1]:8080"))
	require.False(t, publicURLIsLoopback("https://mail.example.com"))

	cfg, err = parse(t, "-email-provider", "smtp", "-smtp-host", "smtp.example.com", "-smtp-security", "tls").serverConfig(log)
	require.NoError(t, err)
	require.IsType(t, &smtpemail.Sender{}, cfg.Email)

	cfg, err = parse(t, "-email-provider", "ses", "-ses-region", "eu-west-1", "-ses-configuration-set", "events").serverConfig(log)
	require.NoError(t, err)
	require.IsType(t, &sesemail.Sender{}, cfg.Email)
	// Sender domains publish the MX of the SES region in use.
	require.Equal(t, sendoka.DomainConfig{ReturnPath: "bounces", SPFInclude: "amazonses.com", MXHost: "feedback-smtp.eu-west-1.amazonses.com"}, cfg.Domains)
	cfg, err = parse(t, "-email-provider", "ses", "-ses-region", "eu-west-1", "-domain-mx-host", "mx.example.net").serverConfig(log)
	require.NoError(t, err)
	require.Equal(t, "mx.example.net", cfg.Domains.MXHost, "a setting wins")
	cfg, err = parse(t, "-email-provider", "smtp", "-smtp-host", "smtp.example.com", "-domain-return-path", "mail",
		"-domain-spf-include", "spf.relay.example").serverConfig(log)
	require.NoError(t, err)
	require.Equal(t, sendoka.DomainConfig{ReturnPath: "mail", SPFInclude: "spf.relay.example"}, cfg.Domains, "the core's MX default")

	cfg, err = parse(t, "-public-url", "https://mail.example.com", "-secret-key", strings.Repeat("s", 32)).serverConfig(log)
	require.NoError(t, err)
	require.Equal(t, "https://mail.example.com", cfg.Tracking.BaseURL)
	require.Equal(t, []byte(strings.Repeat("s", 32)), cfg.Tracking.Secret)

	for _, bad := range []struct {
		args []string
		want string
	}{
		{[]string{"-email-provider", "mailgun"}, "sandbox, smtp, ses"},
		{[]string{"-email-provider", "smtp"}, "SENDOKA_SMTP_HOST"},
		{[]string{"-email-provider", "smtp", "-smtp-host", "h", "-smtp-security", "ssl"}, "SENDOKA_SMTP_SECURITY"},
		{[]string{"-email-provider", "smtp", "-smtp-host", "h", "-smtp-auth", "cram-md5"}, "SENDOKA_SMTP_AUTH"},
		{[]string{"-email-provider", "smtp", "-smtp-host", "h", "-smtp-ca-file", "/nonexistent"}, "SENDOKA_SMTP_CA_FILE"},
		{[]string{"-public-url", "mail.example.com"}, "SENDOKA_PUBLIC_URL"},
		{[]string{"-public-url", "https://mail.example.com", "-secret-key", "short"}, "SENDOKA_SECRET_KEY"},
	} {
		_, err := parse(t, bad.args...).serverConfig(log)
		require.ErrorContains(t, err, bad.want, "%v", bad.args)
	}
	require.Equal(t, "starttls", parse(t).email.smtpSecurity, "STARTTLS by default")

	cfg, err = parse(t).serverConfig(log)
	require.NoError(t, err)
	require.Equal(t, sendoka.RetentionConfig{Content: 30 * 24 * time.Hour, Messages: 400 * 24 * time.Hour}, cfg.Retention)
	cfg, err = parse(t, "-retention-content", "720h", "-retention-messages", "off").serverConfig(log)
	require.NoError(t, err)
	require.Equal(t, sendoka.RetentionConfig{Content: 720 * time.Hour, Messages: -1}, cfg.Retention)
	for _, bad := range []string{"0d", "30", "1m", "-3d", "forever"} {
		_, err = parse(t, "-retention-content", bad).serverConfig(log)
		require.ErrorContains(t, err, "SENDOKA_RETENTION_CONTENT", bad)
	}
}
