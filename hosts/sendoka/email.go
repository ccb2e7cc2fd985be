package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"

	"github.com/sendoka/sendoka/providers/sesemail"
	"github.com/sendoka/sendoka/providers/smtpemail"
	"github.com/sendoka/sendoka/sendoka"
)

// emailConfig holds the settings of the live email providers (SENDOKA_EMAIL_PROVIDER) and of
// open and click tracking.
type emailConfig struct {
	publicURL string
	secretKey string

	smtpHost       string
	smtpPort       int
	smtpSecurity   string
	smtpUsername   string
	smtpPassword   string
	smtpAuth       string
	smtpHELO       string
	smtpCAFile     string
	smtpMaxConns   int
	smtpTimeout    time.Duration
	smtpCommand    time.Duration
	smtpData       time.Duration
	smtpFinalReply time.Duration

	sesRegion           string
	sesEndpoint         string
	sesConfigurationSet string
	// sesResolvedRegion is the region SES is used in, once provider has resolved it.
	sesResolvedRegion string
}

func (c *emailConfig) flags(s *settings) {
	s.str(&c.publicURL, "public-url", "", "public base URL of this server, used in open-tracking pixels, click redirects and unsubscribe links; empty = http:// and the listen address (a loopback one only works on this machine: the server warns when a live provider is set); off = no tracking")
	s.secret(&c.secretKey, "secret-key", "", "secret that signs tracking links, at least 32 characters; empty = generated on first start and kept in the database")

	s.str(&c.smtpHost, "smtp-host", "", "SMTP relay host")
	s.int(&c.smtpPort, "smtp-port", 0, "SMTP relay port; 0 = 587 for starttls, 465 for tls, 25 for none")
	s.str(&c.smtpSecurity, "smtp-security", "starttls", "starttls, tls (implicit, SMTPS) or none")
	s.str(&c.smtpUsername, "smtp-username", "", "SMTP login; empty = no authentication")
	s.secret(&c.smtpPassword, "smtp-password", "", "SMTP password")
	s.str(&c.smtpAuth, "smtp-auth", "plain", "plain or login")
	s.str(&c.smtpHELO, "smtp-helo", "", "name given in EHLO; empty = this host's name")
	s.str(&c.smtpCAFile, "smtp-ca-file", "", "PEM file of CA certificates to trust for the relay, instead of the system's")
	s.int(&c.smtpMaxConns, "smtp-max-conns", 4, "connections to the relay open at once")
	s.duration(&c.smtpTimeout, "smtp-timeout", 15*time.Second, "bound on connecting, TLS and login")
	s.duration(&c.smtpCommand, "smtp-command-timeout", 30*time.Second, "bound on the reply to each MAIL, RCPT, DATA and RSET")
	s.duration(&c.smtpData, "smtp-data-timeout", 3*time.Minute, "bound on writing one message's data")
	s.duration(&c.smtpFinalReply, "smtp-final-reply-timeout", 10*time.Minute, "wait for the relay's reply after the final \".\" (RFC 5321: 10m); no reply in time is an unknown outcome, never a resend")

	s.str(&c.sesRegion, "ses-region", "", "AWS region of SES; empty = AWS_REGION or the shared config")
	s.str(&c.sesEndpoint, "ses-endpoint", "", "SES endpoint URL, for a VPC endpoint or a test server; empty = AWS's")
	s.str(&c.sesConfigurationSet, "ses-configuration-set", "", "SES configuration set of every send")
}

// tracking returns the tracking settings: the public URL, by default http:// and the listen
// address addr; "off" turns tracking off.
func (c *emailConfig) tracking(addr string) (sendoka.TrackingConfig, error) {
	switch c.publicURL {
	case "off":
		return sendoka.TrackingConfig{}, nil
	case "":
		c.publicURL = defaultPublicURL(addr)
	}
	u, err := url.Parse(c.publicURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return sendoka.TrackingConfig{}, fmt.Errorf("SENDOKA_PUBLIC_URL=%q: an absolute http(s) URL, for example https://mail.example.com", c.publicURL)
	}
	t := sendoka.TrackingConfig{BaseURL: c.publicURL}
	if c.secretKey != "" {
		if len(c.secretKey) < 32 {
			return t, errors.New("SENDOKA_SECRET_KEY: at least 32 characters (for example: openssl rand -hex 32)")
		}
		t.Secret = []byte(c.secretKey)
	}
	return t, nil
}

// provider returns the live email provider that name selects: nil for the sandbox (the
// server's default), an SMTP relay, or SES with credentials from AWS's default chain.
func (c *emailConfig) provider(name string, log *slog.Logger) (sendoka.EmailSender, error) {
	switch name {
	case "", "sandbox":
		return nil, nil
	case "smtp":
		return c.smtp(log)
	case "ses":
		var loaders []func(*awsconfig.LoadOptions) error
		if c.sesRegion != "" {
			loaders = append(loaders, awsconfig.WithRegion(c.sesRegion))
		}
		cfg, err := awsconfig.LoadDefaultConfig(context.Background(), loaders...)
		if err != nil {
			return nil, fmt.Errorf("SENDOKA_EMAIL_PROVIDER=ses: load AWS config: %w", err)
		}
		if cfg.Region == "" {
			return nil, errors.New("SENDOKA_EMAIL_PROVIDER=ses: no AWS region: set SENDOKA_SES_REGION or AWS_REGION")
		}
		c.sesResolvedRegion = cfg.Region
		return sesemail.NewFromConfig(cfg, c.sesEndpoint, sesemail.Options{ConfigurationSet: c.sesConfigurationSet}), nil
	}
	return nil, fmt.Errorf("SENDOKA_EMAIL_PROVIDER=%q: supported: sandbox, smtp, ses", name)
}

func (c *emailConfig) smtp(log *slog.Logger) (sendoka.EmailSender, error) {
	if c.smtpHost == "" {
		return nil, errors.New("SENDOKA_EMAIL_PROVIDER=smtp: set SENDOKA_SMTP_HOST")
	}
	sec := smtpemail.Security(c.smtpSecurity)
	switch sec {
	case smtpemail.StartTLS, smtpemail.ImplicitTLS, smtpemail.NoTLS:
	default:
		return nil, fmt.Errorf("SENDOKA_SMTP_SECURITY=%q: starttls, tls or none", c.smtpSecurity)
	}
	auth := smtpemail.Auth(c.smtpAuth)
	if auth != smtpemail.AuthPlain && auth != smtpemail.AuthLogin {
		return nil, fmt.Errorf("SENDOKA_SMTP_AUTH=%q: plain or login", c.smtpAuth)
	}
	opts := smtpemail.Options{
		Host: c.smtpHost, Port: c.smtpPort, Security: sec, Username: c.smtpUsername, Password: c.smtpPassword,
		Auth: auth, HELO: c.smtpHELO, MaxConns: c.smtpMaxConns, DialTimeout: c.smtpTimeout,
		CommandTimeout: c.smtpCommand, DataTimeout: c.smtpData, FinalReplyTimeout: c.smtpFinalReply, Logger: log,
	}
	if c.smtpCAFile != "" {
		pemData, err := os.ReadFile(c.smtpCAFile)
		if err != nil {
			return nil, fmt.Errorf("SENDOKA_SMTP_CA_FILE: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pemData) {
			return nil, fmt.Errorf("SENDOKA_SMTP_CA_FILE=%s: no PEM certificate in it", c.smtpCAFile)
		}
		opts.TLSConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	s, err := smtpemail.New(opts)
	if err != nil {
		return nil, fmt.Errorf("SENDOKA_EMAIL_PROVIDER=smtp: %w", err)
	}
	return s, nil
}

// defaultPublicURL is http:// and the listen address, with an unspecified host (":8080",
// "0.0.0.0:8080") read as this machine's loopback.
func defaultPublicURL(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://" + addr
	}
	if ip, err := netip.ParseAddr(host); host == "" || (err == nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// publicURLIsLoopback reports whether the public URL names this machine only, so links in
// mail sent to others would not work.
func publicURLIsLoopback(publicURL string) bool {
	u, err := url.Parse(publicURL)
	if err != nil {
		return false
	}
	if u.Hostname() == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(u.Hostname())
	return err == nil && ip.IsLoopback()
}
