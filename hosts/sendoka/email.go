package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"log/slog"
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

func (c *emailConfig) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.publicURL, "public-url", env("SENDOKA_PUBLIC_URL", ""), "public base URL of this server, used in open-tracking pixels and click redirects; empty = no tracking (SENDOKA_PUBLIC_URL)")
	fs.StringVar(&c.secretKey, "secret-key", env("SENDOKA_SECRET_KEY", ""), "secret that signs tracking links, at least 32 characters; empty = generated on first start and kept in the database (SENDOKA_SECRET_KEY)")

	fs.StringVar(&c.smtpHost, "smtp-host", env("SENDOKA_SMTP_HOST", ""), "SMTP relay host (SENDOKA_SMTP_HOST)")
	fs.IntVar(&c.smtpPort, "smtp-port", envInt("SENDOKA_SMTP_PORT", 0), "SMTP relay port; 0 = 587 for starttls, 465 for tls, 25 for none (SENDOKA_SMTP_PORT)")
	fs.StringVar(&c.smtpSecurity, "smtp-security", env("SENDOKA_SMTP_SECURITY", "starttls"), "starttls, tls (implicit, SMTPS) or none (SENDOKA_SMTP_SECURITY)")
	fs.StringVar(&c.smtpUsername, "smtp-username", env("SENDOKA_SMTP_USERNAME", ""), "SMTP login; empty = no authentication (SENDOKA_SMTP_USERNAME)")
	fs.StringVar(&c.smtpPassword, "smtp-password", env("SENDOKA_SMTP_PASSWORD", ""), "SMTP password (SENDOKA_SMTP_PASSWORD)")
	fs.StringVar(&c.smtpAuth, "smtp-auth", env("SENDOKA_SMTP_AUTH", "plain"), "plain or login (SENDOKA_SMTP_AUTH)")
	fs.StringVar(&c.smtpHELO, "smtp-helo", env("SENDOKA_SMTP_HELO", ""), "name given in EHLO; empty = this host's name (SENDOKA_SMTP_HELO)")
	fs.StringVar(&c.smtpCAFile, "smtp-ca-file", env("SENDOKA_SMTP_CA_FILE", ""), "PEM file of CA certificates to trust for the relay, instead of the system's (SENDOKA_SMTP_CA_FILE)")
	fs.IntVar(&c.smtpMaxConns, "smtp-max-conns", envInt("SENDOKA_SMTP_MAX_CONNS", 4), "connections to the relay open at once (SENDOKA_SMTP_MAX_CONNS)")
	fs.DurationVar(&c.smtpTimeout, "smtp-timeout", envDuration("SENDOKA_SMTP_TIMEOUT", 15*time.Second), "bound on connecting, TLS and login (SENDOKA_SMTP_TIMEOUT)")
	fs.DurationVar(&c.smtpCommand, "smtp-command-timeout", envDuration("SENDOKA_SMTP_COMMAND_TIMEOUT", 30*time.Second), "bound on the reply to each MAIL, RCPT, DATA and RSET (SENDOKA_SMTP_COMMAND_TIMEOUT)")
	fs.DurationVar(&c.smtpData, "smtp-data-timeout", envDuration("SENDOKA_SMTP_DATA_TIMEOUT", 3*time.Minute), "bound on writing one message's data (SENDOKA_SMTP_DATA_TIMEOUT)")
	fs.DurationVar(&c.smtpFinalReply, "smtp-final-reply-timeout", envDuration("SENDOKA_SMTP_FINAL_REPLY_TIMEOUT", 10*time.Minute), "wait for the relay's reply after the final \".\" (RFC 5321: 10m); no reply in time is an unknown outcome, never a resend (SENDOKA_SMTP_FINAL_REPLY_TIMEOUT)")

	fs.StringVar(&c.sesRegion, "ses-region", env("SENDOKA_SES_REGION", ""), "AWS region of SES; empty = AWS_REGION or the shared config (SENDOKA_SES_REGION)")
	fs.StringVar(&c.sesEndpoint, "ses-endpoint", env("SENDOKA_SES_ENDPOINT", ""), "SES endpoint URL, for a VPC endpoint or a test server; empty = AWS's (SENDOKA_SES_ENDPOINT)")
	fs.StringVar(&c.sesConfigurationSet, "ses-configuration-set", env("SENDOKA_SES_CONFIGURATION_SET", ""), "SES configuration set of every send (SENDOKA_SES_CONFIGURATION_SET)")
}

// tracking returns the tracking settings: off without a public URL.
func (c *emailConfig) tracking() (sendoka.TrackingConfig, error) {
	if c.publicURL == "" {
		return sendoka.TrackingConfig{}, nil
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
