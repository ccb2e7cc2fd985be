package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/sendoka/sendoka/hosts/server"
	"github.com/sendoka/sendoka/sendoka"
)

// routingConfig holds the settings of several providers per channel: the lists that replace
// SENDOKA_EMAIL_PROVIDER and SENDOKA_SMS_PROVIDER, the routes, and the circuit breakers.
type routingConfig struct {
	emailProviders  string
	smsProviders    string
	emailRoutes     string
	smsRoutes       string
	breakerFailures int
	breakerOpenFor  time.Duration
}

func (r *routingConfig) emailFlags(s *settings) {
	s.str(&r.emailProviders, "email-providers", "", "several live email providers in order of preference, comma-separated (ses,smtp): each message goes to the first whose circuit breaker is closed, and to the next when one refuses it without taking it; replaces -email-provider")
	s.str(&r.emailRoutes, "email-routes", "", "routes that pick the email providers by tenant, tag or stream: rules separated by ';', each conditions joined by '&' then ':' and providers (tag=receipts:smtp;tenant=ten_123&stream=broadcast:smtp,ses), or JSON inline or @file: [{\"tenant_id\":\"ten_123\",\"tag\":\"\",\"stream\":\"\",\"providers\":[\"smtp\",\"ses\"]}]; the first that matches wins; empty = every message uses the list's order")
}

func (r *routingConfig) smsFlags(s *settings) {
	s.str(&r.smsProviders, "sms-providers", "", "several live SMS providers in order of preference, comma-separated; replaces -sms-provider (the binary knows sns; embed Sendoka to add any sendoka.SMSSender)")
	s.str(&r.smsRoutes, "sms-routes", "", "routes that pick the SMS providers, as -email-routes")
}

func (r *routingConfig) breakerFlags(s *settings) {
	s.int(&r.breakerFailures, "provider-breaker-failures", sendoka.DefaultBreakerFailures, "consecutive transient failures, throttles or unknown outcomes that open a provider's circuit breaker (with several providers per channel); messages then go to the next provider")
	s.duration(&r.breakerOpenFor, "provider-breaker-open-for", sendoka.DefaultBreakerOpenFor, "how long an open breaker skips its provider before one message probes it; the probe's success closes it")
}

// providerNames returns the provider names of a channel: the list when it is set, else the
// single setting. env names the list's variable for errors.
func providerNames(list, single, env string) ([]string, error) {
	names := splitList(list)
	if len(names) == 0 {
		return []string{single}, nil
	}
	for i, n := range names {
		if n == "sandbox" && len(names) > 1 {
			return nil, fmt.Errorf("%s=%q: the sandbox delivers nothing and cannot be one of several providers", env, list)
		}
		if slices.Contains(names[:i], n) {
			return nil, fmt.Errorf("%s=%q: %s is named twice", env, list, n)
		}
	}
	return names, nil
}

// apply sets cfg's providers, routes and breaker from the settings, with the providers that
// email and sms build by name (nil for the sandbox).
func (r *routingConfig) apply(cfg *server.Config, c *config, log *slog.Logger) error {
	emailNames, err := providerNames(r.emailProviders, c.emailProvider, "SENDOKA_EMAIL_PROVIDERS")
	if err != nil {
		return err
	}
	smsNames, err := providerNames(r.smsProviders, c.smsProvider, "SENDOKA_SMS_PROVIDERS")
	if err != nil {
		return err
	}
	if len(emailNames) == 1 {
		if cfg.Email, err = c.email.provider(emailNames[0], log); err != nil { // email.go
			return err
		}
	} else {
		for _, n := range emailNames {
			p, err := c.email.provider(n, log)
			if err != nil {
				return err
			}
			cfg.EmailProviders = append(cfg.EmailProviders, sendoka.EmailProvider{Name: n, Sender: p})
		}
	}
	if len(smsNames) == 1 {
		if cfg.SMS, err = c.sns.provider(smsNames[0]); err != nil { // sms.go
			return err
		}
	} else {
		for _, n := range smsNames {
			p, err := c.sns.provider(n)
			if err != nil {
				return err
			}
			cfg.SMSProviders = append(cfg.SMSProviders, sendoka.SMSProvider{Name: n, Sender: p})
		}
	}
	cfg.Domains = c.domains.config(emailNames[0], c.email.sesResolvedRegion)
	emailRoutes, err := parseRoutes("SENDOKA_EMAIL_ROUTES", r.emailRoutes, sendoka.ChannelEmail, emailNames)
	if err != nil {
		return err
	}
	smsRoutes, err := parseRoutes("SENDOKA_SMS_ROUTES", r.smsRoutes, sendoka.ChannelSMS, smsNames)
	if err != nil {
		return err
	}
	cfg.Routes = append(emailRoutes, smsRoutes...)
	if r.breakerFailures < 1 {
		return fmt.Errorf("SENDOKA_PROVIDER_BREAKER_FAILURES=%d: 1 or more", r.breakerFailures)
	}
	if r.breakerOpenFor <= 0 {
		return fmt.Errorf("SENDOKA_PROVIDER_BREAKER_OPEN_FOR=%s: more than 0", r.breakerOpenFor)
	}
	cfg.Breaker = sendoka.BreakerConfig{Failures: r.breakerFailures, OpenFor: r.breakerOpenFor}
	return nil
}

// routeJSON is one route of SENDOKA_*_ROUTES in JSON.
type routeJSON struct {
	TenantID  string   `json:"tenant_id"`
	Tag       string   `json:"tag"`
	Stream    string   `json:"stream"`
	Providers []string `json:"providers"`
}

// parseRoutes reads SENDOKA_EMAIL_ROUTES or SENDOKA_SMS_ROUTES: JSON (inline, or in the file
// after "@"), or the short form "tag=x&tenant=ten_1:smtp,ses;stream=broadcast:ses". Every
// provider must be one of names, the channel's providers.
func parseRoutes(env, s string, ch sendoka.Channel, names []string) ([]sendoka.Route, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	var raw []routeJSON
	switch {
	case strings.HasPrefix(s, "@") || strings.HasPrefix(s, "["):
		data, err := inlineOrFile(env, s)
		if err != nil {
			return nil, err
		}
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&raw); err != nil {
			return nil, fmt.Errorf("%s: a JSON list of routes: %v", env, err)
		}
	default:
		for _, rule := range strings.Split(s, ";") {
			rule = strings.TrimSpace(rule)
			if rule == "" {
				continue
			}
			conds, providers, ok := strings.Cut(rule, ":")
			if !ok {
				return nil, fmt.Errorf("%s: rule %q: conditions, ':', then providers (tag=receipts:smtp)", env, rule)
			}
			var rt routeJSON
			for _, cond := range strings.Split(conds, "&") {
				k, v, _ := strings.Cut(strings.TrimSpace(cond), "=")
				v = strings.TrimSpace(v)
				switch k = strings.TrimSpace(k); {
				case v == "":
					return nil, fmt.Errorf("%s: rule %q: condition %q: key=value with tenant, tag or stream", env, rule, cond)
				case k == "tenant":
					rt.TenantID = v
				case k == "tag":
					rt.Tag = v
				case k == "stream":
					rt.Stream = v
				default:
					return nil, fmt.Errorf("%s: rule %q: unknown condition %q: tenant, tag or stream", env, rule, k)
				}
			}
			rt.Providers = splitList(providers)
			raw = append(raw, rt)
		}
	}
	out := make([]sendoka.Route, 0, len(raw))
	for i, r := range raw {
		if len(r.Providers) == 0 {
			return nil, fmt.Errorf("%s: route %d: no providers", env, i+1)
		}
		for _, p := range r.Providers {
			if !slices.Contains(names, p) {
				return nil, fmt.Errorf("%s: route %d: %q is not one of the configured providers (%s)", env, i+1, p, strings.Join(names, ","))
			}
		}
		if r.Stream != "" && r.Stream != sendoka.StreamTransactional && r.Stream != sendoka.StreamBroadcast {
			return nil, fmt.Errorf("%s: route %d: stream %q: transactional or broadcast", env, i+1, r.Stream)
		}
		out = append(out, sendoka.Route{Channel: ch, TenantID: r.TenantID, Tag: r.Tag, Stream: r.Stream, Providers: r.Providers})
	}
	if len(out) == 0 {
		return nil, errors.New(env + ": no route in it")
	}
	return out, nil
}
