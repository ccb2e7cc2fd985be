package sendoka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"
)

// DefaultSandboxDomain is the sender domain every org may use without verifying anything.
// Mail from it only ever reaches the sandbox provider.
const DefaultSandboxDomain = "sandbox.sendoka.com"

// Config assembles a Client. Store and Queue are required; every other field has a default.
type Config struct {
	// Store persists everything. Required.
	Store Store
	// Queue runs deliveries in the background. Required.
	Queue Queue

	// Email is the provider for live mail. Default: SandboxEmail.
	Email EmailSender
	// SMS is the provider for live SMS. Default: SandboxSMS.
	SMS SMSSender
	// SandboxEmail and SandboxSMS take every test-key message and all mail from the sandbox
	// domain: a test key never reaches Email or SMS. Required when a test key or the sandbox
	// domain is used; providers/sandbox is the usual choice.
	SandboxEmail EmailSender
	SandboxSMS   SMSSender

	// SandboxDomain is the always-allowed sender domain. Default: DefaultSandboxDomain.
	SandboxDomain string
	// VerifiedDomains are sender domains for scripted installs: Bootstrap adds each to the
	// default org as a verified domain (org-level), or marks it verified if it is there
	// and pending; on later starts it finds them and changes nothing. Names are normalized
	// as CreateDomain's; an invalid one makes New fail. Default: none.
	VerifiedDomains []string
	// Domains says which DNS records a domain publishes (return path, SPF include, MX host)
	// and how domains are checked and cached. Default: every DomainConfig default.
	Domains DomainConfig
	// DNS looks up the records that verify a domain. Default: net.DefaultResolver.
	DNS DNSResolver

	// Tracking turns on open and click tracking of email (tracking.go). Default: off.
	Tracking TrackingConfig

	// Delivery tunes hand-offs to providers: claim leases, provider slots, retries.
	// Default: every DeliveryConfig default.
	Delivery DeliveryConfig

	// Plans are the plans orgs may be on, with their burst limits and monthly quotas
	// (plan.go). Default: DefaultPlans.
	Plans []Plan
	// DefaultPlan is the plan of the org Bootstrap creates. Default: DefaultPlanName.
	DefaultPlan string
	// DisableLimits turns the burst limit, the monthly quotas and the warmup caps off (to
	// measure what they cost, or for an installation that limits elsewhere). Default: on.
	DisableLimits bool
	// Warmup tunes the daily caps of newly verified domains (warmup.go).
	Warmup WarmupConfig
	// Retention says how long message content and messages are kept (retention.go).
	// Default: 30 days of content, 400 days of messages.
	Retention RetentionConfig

	// GroupCommit tunes how concurrent single sends share transactions (group_commit.go).
	// Default: every GroupCommitConfig default.
	GroupCommit GroupCommitConfig

	// AuthCache tunes the cache of API key lookups (apikey_cache.go). Default: every
	// AuthCacheConfig default.
	AuthCache AuthCacheConfig

	// Webhooks tunes outgoing webhooks (webhook_deliver.go). Default: every WebhookConfig
	// default.
	Webhooks WebhookConfig

	// Inbound configures received mail: the VERP bounce domain and the inbound domains
	// (inbound_email.go, bounce.go). Default: none.
	Inbound InboundConfig

	// Clock tells the time. Default: SystemClock.
	Clock Clock
	// Logger receives operational logs. Default: none.
	Logger *slog.Logger
	// Observer is told of every message status, provider call and webhook attempt, for
	// metrics and traces (observer.go; hosts/metrics implements it). Default: none, at no
	// cost.
	Observer Observer
}

// Client is Sendoka: everything the API does, callable without HTTP.
type Client struct {
	store         Store
	queue         Queue
	email         EmailSender
	sms           SMSSender
	sandboxEmail  EmailSender
	sandboxSMS    SMSSender
	sandboxDomain string
	bootDomains   []string     // Config.VerifiedDomains, normalized (domain_bootstrap.go)
	domainCfg     DomainConfig // with defaults
	dns           DNSResolver
	domains       *domainCache // each namespace's domains, for the send path (domain_cache.go)
	clock         Clock
	log           *slog.Logger
	templates     templateCache // compiled templates (template.go)
	pools         poolCursors   // round-robin turns of the phone pools (pool.go)
	tracking      *tracker      // open and click tracking (tracking.go)
	delivery      DeliveryConfig
	slots         providerSlots   // provider concurrency (provider_slots.go)
	keys          *keyCache       // API key lookups (apikey_cache.go)
	tenants       tenantCache     // tenants ForTenant found (tenant_scope.go)
	group         groupCommitter  // single sends sharing transactions (group_commit.go)
	plans         *plans          // plans and each org's limits (plan.go)
	limitsOff     bool            // Config.DisableLimits
	bursts        burstPockets    // burst-limit tokens taken and not spent (ratelimit.go)
	quotas        quotaPockets    // quota reserved and not handed out (quota.go)
	tenantCaps    tenantCapsCache // tenants' own monthly caps (quota.go)
	warmup        WarmupConfig    // domain warmup (warmup.go)
	retention     RetentionConfig // how long content and messages are kept (retention.go)
	webhooks      *webhookRuntime // outgoing webhooks (webhook_deliver.go)
	obs           Observer        // Config.Observer; nil when none (observer.go)
	inbound       InboundConfig   // Config.Inbound with defaults (inbound_email.go)
}

// New returns a Client for cfg.
func New(cfg Config) (*Client, error) {
	if cfg.Store == nil || cfg.Queue == nil {
		return nil, errors.New("sendoka: Config.Store and Config.Queue are required")
	}
	c := &Client{
		store:         cfg.Store,
		queue:         cfg.Queue,
		email:         cfg.Email,
		sms:           cfg.SMS,
		sandboxEmail:  cfg.SandboxEmail,
		sandboxSMS:    cfg.SandboxSMS,
		sandboxDomain: strings.ToLower(cfg.SandboxDomain),
		dns:           cfg.DNS,
		clock:         cfg.Clock,
		log:           cfg.Logger,
		retention:     cfg.Retention.withDefaults(),
		obs:           cfg.Observer,
	}
	if c.sandboxDomain == "" {
		c.sandboxDomain = DefaultSandboxDomain
	}
	var err error
	if c.tracking, err = newTracker(cfg.Tracking); err != nil {
		return nil, err
	}
	if c.delivery, err = cfg.Delivery.withDefaults(); err != nil {
		return nil, err
	}
	if c.inbound, err = cfg.Inbound.withDefaults(); err != nil {
		return nil, err
	}
	if c.domainCfg, err = cfg.Domains.withDefaults(); err != nil {
		return nil, err
	}
	for i, d := range cfg.VerifiedDomains {
		if strings.TrimSpace(d) == "" {
			continue
		}
		name, why := NormalizeDomainName(strings.TrimSpace(d))
		if why != "" {
			return nil, fmt.Errorf("sendoka: Config.VerifiedDomains[%d] %q: %s", i, d, why)
		}
		c.bootDomains = append(c.bootDomains, name)
	}
	if c.dns == nil {
		c.dns = net.DefaultResolver
	}
	if c.email == nil {
		c.email = c.sandboxEmail
	}
	if c.sms == nil {
		c.sms = c.sandboxSMS
	}
	if c.clock == nil {
		c.clock = SystemClock{}
	}
	c.slots = newProviderSlots(c.email, c.sms, c.sandboxEmail, c.sandboxSMS)
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	c.group = newGroupCommitter(cfg.GroupCommit)
	if c.plans, err = newPlans(cfg.Plans, cfg.DefaultPlan); err != nil {
		return nil, err
	}
	c.limitsOff = cfg.DisableLimits
	c.warmup = cfg.Warmup
	if c.warmup.Schedule == nil {
		c.warmup.Schedule = DefaultWarmupSchedule
	}
	c.keys = newKeyCache(c.store, c.clock, c.log, cfg.AuthCache)
	c.domains = newDomainCache(c.store, c.clock, c.domainCfg.CacheTTL)
	c.webhooks = newWebhookRuntime(cfg.Webhooks)
	return c, nil
}

// SandboxDomain returns the always-allowed sender domain.
func (c *Client) SandboxDomain() string { return c.sandboxDomain }

// now is the clock's time in UTC, at the microsecond precision every store keeps.
func (c *Client) now() time.Time {
	return c.clock.Now().UTC().Truncate(time.Microsecond)
}

// inTx runs fn in a store transaction and wraps any unclassified error once.
// With an Observer, the statuses fn records are reported once the transaction commits.
func (c *Client) inTx(ctx context.Context, fn func(ctx context.Context, tx Tx) error) error {
	var seen *seenStatuses
	if c.obs != nil {
		ctx, seen = c.observeTx(ctx)
	}
	if err := c.store.InTx(ctx, fn); err != nil {
		return AsError(err)
	}
	if seen != nil {
		c.flush(seen)
	}
	return nil
}

// Now returns the client's current time (its Clock's), as the core uses it: a host shows
// whether something has expired by the same clock the core decides with.
func (c *Client) Now() time.Time { return c.now() }
