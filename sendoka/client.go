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

	// Email is the provider for live mail. Default: SandboxEmail. For several providers
	// with failover, set EmailProviders instead.
	Email EmailSender
	// SMS is the provider for live SMS. Default: SandboxSMS. For several, set SMSProviders.
	SMS SMSSender
	// EmailProviders are several live email providers, in the default order of preference;
	// each message goes to the first of its route (Routes) whose circuit breaker is closed,
	// and moves on to the next when one refuses it without taking it (provider_route.go).
	// The first one also provisions domains (DomainProvisioner). Set it or Email, not both.
	EmailProviders []EmailProvider
	// SMSProviders are several live SMS providers, as EmailProviders. The first one also
	// provisions senders (SenderProvisioner). Set it or SMS, not both.
	SMSProviders []SMSProvider
	// Routes pick the providers of live messages by tenant, tag or stream: the first that
	// matches a message gives its providers in order. Default: none, every message tries
	// its channel's providers in the order they are configured.
	Routes []Route
	// Breaker tunes the circuit breaker each provider has when its channel has more than
	// one (breaker.go). Default: every BreakerConfig default.
	Breaker BreakerConfig
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

	// SMSOptOutHints are the opt-out instructions appended to broadcast SMS, by sender
	// country (sms_opt_out.go). Default: none.
	SMSOptOutHints SMSOptOutHints

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
	optOutHints SMSOptOutHints              // Config.SMSOptOutHints (sms_opt_out.go)
	records     gatherer[*record, struct{}] // shared record transactions (deliver_shared.go)
	claims      gatherer[Claim, claimed]    // shared fast claims (deliver_shared.go)
	store       Store
	queue       Queue
	email       EmailSender // the first live email provider (domain provisioning)
	sms         SMSSender   // the first live SMS provider (sender provisioning, MMS)
	emailSet    *providerSet
	smsSet      *providerSet
	// sandboxEmailRoute and sandboxSMSRoute are the sandbox as a route of one provider.
	sandboxEmailRoute []*liveProvider
	sandboxSMSRoute   []*liveProvider
	sandboxEmail      EmailSender
	sandboxSMS        SMSSender
	sandboxDomain     string
	bootDomains       []string     // Config.VerifiedDomains, normalized (domain_bootstrap.go)
	domainCfg         DomainConfig // with defaults
	dns               DNSResolver
	domains           *domainCache // each namespace's domains, for the send path (domain_cache.go)
	clock             Clock
	log               *slog.Logger
	templates         templateCache // compiled templates (template.go)
	pools             poolCursors   // round-robin turns of the phone pools (pool.go)
	tracking          *tracker      // open and click tracking (tracking.go)
	delivery          DeliveryConfig
	fanouts           fanoutWatch      // unfinished audience sends' progress, for recovery (recover_fanout.go)
	slots             providerSlots    // provider concurrency (provider_slots.go)
	keys              *keyCache        // API key lookups (apikey_cache.go)
	tenants           tenantCache      // tenants ForTenant found (tenant_scope.go)
	group             groupCommitter   // single sends sharing transactions (group_commit.go)
	plans             *plans           // plans and each org's limits (plan.go)
	limitsOff         bool             // Config.DisableLimits
	bursts            burstPockets     // burst-limit tokens taken and not spent (ratelimit.go)
	quotas            quotaPockets     // quota reserved and not handed out (quota.go)
	tenantCaps        tenantCapsCache  // tenants' own monthly caps (quota.go)
	warmup            WarmupConfig     // domain warmup (warmup.go)
	retention         RetentionConfig  // how long content and messages are kept (retention.go)
	webhooks          *webhookRuntime  // outgoing webhooks (webhook_deliver.go)
	obs               Observer         // Config.Observer; nil when none (observer.go)
	inbound           InboundConfig    // Config.Inbound with defaults (inbound_email.go)
	provObs           ProviderObserver // Config.Observer as a ProviderObserver, or nil
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
	if err := c.setProviders(cfg); err != nil {
		return nil, err
	}
	if c.clock == nil {
		c.clock = SystemClock{}
	}
	c.slots = newProviderSlots(append(append(c.emailSet.senders(), c.smsSet.senders()...), c.sandboxEmail, c.sandboxSMS)...)
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
	c.initWebhookTrips()
	c.initRecordTxs()
	if err := cfg.SMSOptOutHints.validate(); err != nil {
		return nil, err
	}
	c.optOutHints = cfg.SMSOptOutHints
	return c, nil
}

// setProviders builds each channel's live providers and routes, and the sandbox's routes.
func (c *Client) setProviders(cfg Config) error {
	bc, err := cfg.Breaker.withDefaults()
	if err != nil {
		return err
	}
	c.provObs, _ = cfg.Observer.(ProviderObserver)
	var report func(Channel, string, BreakerState)
	if c.provObs != nil {
		report = c.provObs.BreakerState
	}
	for i, r := range cfg.Routes {
		if r.Channel != ChannelEmail && r.Channel != ChannelSMS {
			return fmt.Errorf("sendoka: Config.Routes[%d]: channel %q: email or sms", i, r.Channel)
		}
	}
	var single any
	if cfg.Email != nil {
		single = cfg.Email
	} else if len(cfg.EmailProviders) == 0 && cfg.SandboxEmail != nil {
		single = cfg.SandboxEmail
	}
	names, senders := make([]string, len(cfg.EmailProviders)), make([]any, len(cfg.EmailProviders))
	for i, p := range cfg.EmailProviders {
		names[i] = p.Name
		if p.Sender != nil {
			senders[i] = p.Sender
		}
	}
	if c.emailSet, err = newProviderSet(ChannelEmail, single, names, senders, cfg.Routes, bc, report); err != nil {
		return err
	}
	single = nil
	if cfg.SMS != nil {
		single = cfg.SMS
	} else if len(cfg.SMSProviders) == 0 && cfg.SandboxSMS != nil {
		single = cfg.SandboxSMS
	}
	names, senders = make([]string, len(cfg.SMSProviders)), make([]any, len(cfg.SMSProviders))
	for i, p := range cfg.SMSProviders {
		names[i] = p.Name
		if p.Sender != nil {
			senders[i] = p.Sender
		}
	}
	if c.smsSet, err = newProviderSet(ChannelSMS, single, names, senders, cfg.Routes, bc, report); err != nil {
		return err
	}
	c.email, _ = c.emailSet.primary().(EmailSender)
	c.sms, _ = c.smsSet.primary().(SMSSender)
	if c.sandboxEmail != nil {
		c.sandboxEmailRoute = []*liveProvider{{name: sandboxName(c.sandboxEmail), sender: c.sandboxEmail}}
	}
	if c.sandboxSMS != nil {
		c.sandboxSMSRoute = []*liveProvider{{name: sandboxName(c.sandboxSMS), sender: c.sandboxSMS}}
	}
	if report != nil {
		for _, s := range []*providerSet{c.emailSet, c.smsSet} {
			for _, p := range s.list {
				if p.breaker != nil {
					report(map[*providerSet]Channel{c.emailSet: ChannelEmail, c.smsSet: ChannelSMS}[s], p.name, BreakerClosed)
				}
			}
		}
	}
	return nil
}

func sandboxName(p any) string {
	if n, ok := p.(Namer); ok {
		return n.Name()
	}
	return "sandbox"
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
