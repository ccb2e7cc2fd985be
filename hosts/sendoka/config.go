package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/sendoka/sendoka/hosts/httpapi"
	"github.com/sendoka/sendoka/hosts/metrics"
	"github.com/sendoka/sendoka/hosts/server"
	"github.com/sendoka/sendoka/providers/snsnotify"
	"github.com/sendoka/sendoka/queue/riverjobs"
	"github.com/sendoka/sendoka/sendoka"
)

// config is everything the commands read from SENDOKA_* variables and flags.
type config struct {
	addr            string
	databaseURL     string
	dataDir         string
	databaseTimeout time.Duration
	sandboxDomain   string
	sandboxLatency  time.Duration
	// insecureWebhooks allows http:// webhook URLs to loopback, for development.
	insecureWebhooks bool
	// webhookConns bounds the attempts to one webhook endpoint a process makes at once.
	webhookConns  int
	bootstrapKeys string
	// dashboard serves the web UI at /; dashboardEmail is its first owner's email.
	dashboard       bool
	dashboardEmail  string
	dashboardSecure bool
	bootstrapDomain string
	domains         domainSettings
	emailProvider   string
	smsProvider     string
	routing         routingConfig // routing.go
	sns             snsConfig
	email           emailConfig
	logLevel        string
	logFormat       string
	logSQL          bool
	keepContent     string
	keepMessages    string
	workers         int
	queueWorkers    string
	dbPool          int
	fetchCooldown   time.Duration
	fetchPoll       time.Duration
	jobTimeout      time.Duration
	claimLease      time.Duration
	slotWait        time.Duration
	recovery        time.Duration
	fanoutStall     time.Duration
	shutdownTimeout time.Duration
	noWorkers       bool
	pprofAddr       string
	metricsAddr     string
	metricsToken    string
	trustedProxies  string
	snsTopics       string
	plans           string
	smsOptOutHints  string
	memoryLimit     string
	defaultPlan     string
	limits          string
	warmupSchedule  string
	http            httpConfig
	inbound         inboundSettings
}

// inboundSettings are the inbound SMTP listener's (hosts/smtpin) and the bounce domain.
type inboundSettings struct {
	addr         string
	hostname     string
	bounceDomain string
	domains      string
	tlsCert      string
	tlsKey       string
	maxBytes     int
	timeout      time.Duration
}

func (in *inboundSettings) flags(s *settings) {
	s.str(&in.addr, "smtp-inbound-addr", "", "listen address of the inbound SMTP listener (bounces, complaints, inbound routes), e.g. :25; empty = off (serve only)")
	s.str(&in.hostname, "smtp-inbound-hostname", "", "name in the listener's greeting; empty = this machine's host name")
	s.str(&in.bounceDomain, "smtp-inbound-bounce-domain", "", "domain of the VERP return paths (bounces+<token>@it) and mailto unsubscribe addresses; its MX must point at the listener; empty = mail leaves with the sender's own return path")
	s.str(&in.domains, "smtp-inbound-domains", "", "comma-separated domains (and their subdomains) whose mail the listener takes for inbound routes of any org; routes may also use their org's verified domains")
	s.str(&in.tlsCert, "smtp-inbound-tls-cert", "", "PEM certificate file: the listener offers STARTTLS with it (with -smtp-inbound-tls-key)")
	s.str(&in.tlsKey, "smtp-inbound-tls-key", "", "PEM private key file of the STARTTLS certificate")
	s.int(&in.maxBytes, "smtp-inbound-max-bytes", sendoka.DefaultInboundMaxMessageBytes, "largest message the listener takes (SIZE); larger is refused with 552")
	s.duration(&in.timeout, "smtp-inbound-timeout", time.Minute, "time allowed for each read and write of an inbound SMTP connection")
}

// httpConfig is the HTTP server's limits (serve.go builds the server with them).
type httpConfig struct {
	readHeaderTimeout time.Duration
	readTimeout       time.Duration
	bodyReadTimeout   time.Duration
	writeTimeout      time.Duration
	idleTimeout       time.Duration
	maxHeaderBytes    int
}

// HTTP server defaults. A request's headers must arrive within 10 s and the whole request
// within a minute; an operation reads its body within 5 s of starting to (httpapi's
// default); writing the answer may take a minute from the end of the headers; an idle
// keep-alive connection is closed after 2 minutes; headers are at most 1 MiB (Go's default),
// more is net/http's 431.
const (
	defaultReadHeaderTimeout = 10 * time.Second
	defaultReadTimeout       = time.Minute
	defaultWriteTimeout      = time.Minute
	defaultIdleTimeout       = 2 * time.Minute
	defaultMaxHeaderBytes    = 1 << 20
)

func (h *httpConfig) flags(s *settings) {
	s.duration(&h.readHeaderTimeout, "read-header-timeout", defaultReadHeaderTimeout, "time allowed to read a request's headers; 0 = no limit")
	s.duration(&h.readTimeout, "read-timeout", defaultReadTimeout, "time allowed to read a whole request, headers and body; 0 = no limit")
	s.duration(&h.bodyReadTimeout, "body-read-timeout", httpapi.DefaultBodyReadTimeout, "time allowed to receive a request body once the API reads it; slower is 408")
	s.duration(&h.writeTimeout, "write-timeout", defaultWriteTimeout, "time allowed to handle a request and write the answer, from the end of its headers; 0 = no limit")
	s.duration(&h.idleTimeout, "idle-timeout", defaultIdleTimeout, "how long an idle keep-alive connection stays open")
	s.int(&h.maxHeaderBytes, "max-header-bytes", defaultMaxHeaderBytes, "largest request header block; larger is 431")
}

// flags registers the settings of every group; a command's settings take only its groups.
func (c *config) flags(s *settings) {
	s.group(groupServer)
	s.str(&c.addr, "addr", "127.0.0.1:8080", "listen address")
	s.str(&c.trustedProxies, "trusted-proxies", "", "comma-separated addresses or CIDRs of the proxies in front of the server, whose X-Forwarded-For names the caller; empty = the TCP peer is the caller")
	s.secret(&c.bootstrapKeys, "bootstrap-keys", "", "comma-separated API keys to create on start instead of random ones")
	s.str(&c.snsTopics, "sns-topic-arns", "", "comma-separated ARNs of the SNS topics whose signed messages the provider event routes accept (SES events, SMS events); empty = they accept none")
	s.str(&c.bootstrapDomain, "bootstrap-domains", "", "comma-separated sender domains to add to the default org as verified, at every start")
	s.bool(&c.noWorkers, "no-workers", false, "serve the API only; run sendoka worker elsewhere")
	s.bool(&c.dashboard, "dashboard", true, "serve the web dashboard at /; false = the API only")
	s.str(&c.dashboardEmail, "dashboard-email", "owner@localhost", "email of the dashboard's first owner, created with a one-time sign-in link on the first start")
	s.bool(&c.dashboardSecure, "dashboard-secure-cookies", false, "mark the dashboard's cookies Secure even on plain http (behind a proxy that terminates TLS); they are Secure over https anyway")
	c.http.flags(s)

	s.group(groupDatabase)
	s.str(&c.databaseURL, "database-url", "", "postgres://… for production and several nodes, or sqlite:PATH; empty = SQLite in the data dir")
	s.str(&c.dataDir, "data-dir", "./sendoka-data", "SQLite data directory")
	s.duration(&c.databaseTimeout, "database-timeout", httpapi.DefaultDatabaseTimeout, "how long one API request may wait for the database before it answers 503")
	s.int(&c.dbPool, "db-pool", 0, "Postgres connections open at once; 0 = 20")

	s.group(groupEmail)
	s.str(&c.sandboxDomain, "sandbox-domain", "sandbox.sendoka.com", "always-allowed sender domain")
	s.str(&c.emailProvider, "email-provider", "sandbox", "provider for live keys' email: sandbox, smtp or ses (test keys and the sandbox domain always use the sandbox)")
	s.duration(&c.sandboxLatency, "sandbox-latency", 0, "how long each sandbox hand-off takes, standing in for a provider's API call in benchmarks and development; 0 = none")
	c.routing.emailFlags(s)
	c.email.flags(s)
	c.domains.flags(s)

	s.group(groupSMS)
	s.str(&c.smsProvider, "sms-provider", "sandbox", "provider for live keys' SMS: sandbox or sns (test keys always use the sandbox)")
	s.str(&c.smsOptOutHints, "sms-opt-out-hints", "", "opt-out line appended to audience (broadcast) SMS by sender country, JSON inline or @file: {\"US\":\"Reply STOP to opt out.\",\"FR\":\"STOP au 36180\",\"*\":\"Reply STOP to opt out.\"}; empty = none")
	c.routing.smsFlags(s)
	c.sns.flags(s)

	s.group(groupInbound)
	c.inbound.flags(s)

	s.group(groupQueue)
	s.int(&c.workers, "workers", 100, "concurrent delivery workers")
	s.str(&c.queueWorkers, "queue-workers", "", "workers of the other queues, e.g. events=20,webhooks=20,bulk=10,maintenance=2")
	s.duration(&c.fetchCooldown, "fetch-cooldown", 50*time.Millisecond, "minimum time between job fetches")
	s.duration(&c.fetchPoll, "fetch-poll-interval", 0, "how often idle workers look for new jobs; 0 = 200ms or the cooldown if longer")
	s.duration(&c.jobTimeout, "job-timeout", 0, "bound on one delivery job; 0 = 15m, or longer if the email provider's slowest send needs it")
	s.duration(&c.claimLease, "claim-lease", sendoka.DefaultClaimLease, "lease of a delivery claim, renewed while the provider works; a lapsed one marks its message's outcome unknown")
	s.duration(&c.slotWait, "slot-wait", sendoka.DefaultSlotWait, "longest wait for a free provider connection before a job is put back")
	c.routing.breakerFlags(s)
	s.int(&c.webhookConns, "webhook-endpoint-concurrency", 16, "webhook attempts to one endpoint a process makes at once; a delivery that finds them all busy waits a moment, so a slow endpoint never takes every webhook worker")
	s.bool(&c.insecureWebhooks, "allow-insecure-webhooks", false, "development only: allow http:// webhook URLs to loopback, and webhook connections to loopback; private and link-local addresses stay refused")
	s.duration(&c.recovery, "recovery-interval", riverjobs.DefaultRecoveryInterval, "how often the leader recovers deliveries a dead process left")
	s.duration(&c.fanoutStall, "fanout-stall", sendoka.DefaultFanoutStall, "how long an audience send's fan-out may make no progress before the leader takes it for one a dead process left and runs it again")

	s.group(groupLimits)
	s.str(&c.plans, "plans", "", "plans as JSON, inline or @file: [{\"name\":\"pro\",\"burst_per_minute\":600,\"monthly_emails\":10000,\"monthly_sms\":1000,\"overage\":true}]; a plan named like a default replaces it, others are added")
	s.str(&c.defaultPlan, "default-plan", sendoka.DefaultPlanName, "plan of the org created at first start")
	s.str(&c.limits, "limits", "on", "on, or off to turn burst limits, monthly quotas and warmup caps off")
	s.str(&c.warmupSchedule, "warmup-schedule", "", "daily caps of a newly verified domain, comma-separated (day 0 first), or off; empty = 50,100,200,500,1000,2000,5000,10000")

	s.group(groupData)
	s.str(&c.keepContent, "retention-content", "30d", "how long a finished message keeps its body and attachments (30d, 720h), or off to keep them as long as the message")
	s.str(&c.keepMessages, "retention-messages", "400d", "how long messages are kept, with their events (400d), or off to keep them for ever")

	s.group(groupProcess)
	s.str(&c.logLevel, "log-level", "info", "debug, info, warn or error")
	s.str(&c.logFormat, "log-format", "text", "text or json")
	s.bool(&c.logSQL, "log-sql", false, "log every SQL statement at debug level (statements can hold recipients' addresses)")
	s.str(&c.pprofAddr, "pprof-addr", "", "serve Go's net/http/pprof profiles on this address; empty = off")
	s.str(&c.metricsAddr, "metrics-addr", "", "serve Prometheus metrics at /metrics on this address of their own (behind the metrics token when one is set); empty = off")
	s.secret(&c.metricsToken, "metrics-token", "", "bearer token that serves Prometheus metrics at /metrics on the API's listener too; empty = not there")
	s.duration(&c.shutdownTimeout, "shutdown-timeout", 30*time.Second, "how long SIGTERM waits for requests and jobs in flight")
	s.str(&c.memoryLimit, "memory-limit", defaultMemoryLimit, "soft limit on the Go runtime's memory (150MiB, 1GiB, or off): the garbage collector works harder near it instead of letting the heap double; GOMEMLIMIT, when set, wins")
}

// logger builds the structured logger.
func (c *config) logger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.logLevel)); err != nil {
		return nil, fmt.Errorf("log level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: level}
	if c.logFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return slog.New(slog.NewTextHandler(w, opts)), nil
}

// serverConfig turns the settings into a server.Config.
func (c *config) serverConfig(log *slog.Logger) (server.Config, error) {
	cfg := server.Config{
		DatabaseURL:     c.databaseURL,
		DataDir:         c.dataDir,
		HTTP:            httpapi.Options{DatabaseTimeout: c.databaseTimeout},
		SandboxDomain:   c.sandboxDomain,
		SandboxLatency:  c.sandboxLatency,
		VerifiedDomains: splitList(c.bootstrapDomain),
		Logger:          log,
		LogSQL:          c.logSQL,
	}
	cfg.DisableDashboard = !c.dashboard
	cfg.Dashboard.SecureCookies = c.dashboardSecure
	cfg.Queue.MaxWorkers = c.workers
	cfg.Queue.FetchCooldown = c.fetchCooldown
	cfg.Queue.FetchPollInterval = c.fetchPoll
	cfg.Database.MaxOpenConns = c.dbPool
	qw, err := parseQueueWorkers(c.queueWorkers)
	if err != nil {
		return cfg, err
	}
	cfg.Queue.QueueWorkers = qw
	cfg.Queue.JobTimeout = c.jobTimeout
	cfg.Queue.RecoveryInterval = c.recovery
	cfg.Delivery.ClaimLease = c.claimLease
	cfg.Delivery.SlotWait = c.slotWait
	cfg.Delivery.FanoutStalledAfter = c.fanoutStall
	cfg.Webhooks.AllowInsecure = c.insecureWebhooks
	cfg.Inbound = sendoka.InboundConfig{BounceDomain: c.inbound.bounceDomain, Domains: splitList(c.inbound.domains),
		MaxMessageBytes: int64(c.inbound.maxBytes)}
	if c.webhookConns < 1 {
		return cfg, fmt.Errorf("SENDOKA_WEBHOOK_ENDPOINT_CONCURRENCY=%d: 1 or more", c.webhookConns)
	}
	cfg.Webhooks.MaxConcurrentPerEndpoint = c.webhookConns
	cfg.HTTP.BodyReadTimeout = c.http.bodyReadTimeout
	if topics := splitList(c.snsTopics); len(topics) > 0 {
		cfg.HTTP.SNS = snsnotify.New(snsnotify.Options{TopicARNs: topics})
	}
	if cfg.HTTP.TrustedProxies, err = parseProxies(c.trustedProxies); err != nil {
		return cfg, err
	}
	if cfg.Plans, err = parsePlans(c.plans); err != nil {
		return cfg, err
	}
	if cfg.SMSOptOutHints, err = parseOptOutHints(c.smsOptOutHints); err != nil {
		return cfg, err
	}
	cfg.DefaultPlan = c.defaultPlan
	switch c.limits {
	case "on", "":
	case "off":
		cfg.DisableLimits = true
	default:
		return cfg, fmt.Errorf("SENDOKA_LIMITS=%q: on or off", c.limits)
	}
	if cfg.Warmup, err = parseWarmup(c.warmupSchedule); err != nil {
		return cfg, err
	}
	if cfg.Retention.Content, err = parseRetention("SENDOKA_RETENTION_CONTENT", c.keepContent); err != nil {
		return cfg, err
	}
	if cfg.Retention.Messages, err = parseRetention("SENDOKA_RETENTION_MESSAGES", c.keepMessages); err != nil {
		return cfg, err
	}
	if err := c.routing.apply(&cfg, c, log); err != nil { // routing.go
		return cfg, err
	}
	if cfg.Tracking, err = c.email.tracking(c.addr); err != nil {
		return cfg, err
	}
	live := cfg.Email != nil || cfg.SMS != nil || len(cfg.EmailProviders) > 0 || len(cfg.SMSProviders) > 0
	if cfg.Tracking.BaseURL != "" && live && publicURLIsLoopback(cfg.Tracking.BaseURL) {
		log.Warn("a live provider is set but the public URL is a loopback address: tracking and unsubscribe links in sent mail will not work for recipients; set SENDOKA_PUBLIC_URL", "public_url", cfg.Tracking.BaseURL)
	}
	return cfg, nil
}

// inlineOrFile returns a setting's value, or the content of the file it names after "@".
func inlineOrFile(name, s string) ([]byte, error) {
	path, ok := strings.CutPrefix(s, "@")
	if !ok {
		return []byte(s), nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return b, nil
}

// parsePlans reads SENDOKA_PLANS: a JSON list of plans, inline or in the file after "@".
// A plan named like one of sendoka.DefaultPlans replaces it; others are added.
func parsePlans(s string) ([]sendoka.Plan, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	raw, err := inlineOrFile("SENDOKA_PLANS", s)
	if err != nil {
		return nil, err
	}
	var given []sendoka.Plan
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&given); err != nil {
		return nil, fmt.Errorf("SENDOKA_PLANS: not a JSON list of plans: %w", err)
	}
	out := slices.Clone(sendoka.DefaultPlans)
	for _, p := range given {
		i := slices.IndexFunc(out, func(d sendoka.Plan) bool { return d.Name == p.Name })
		if i >= 0 {
			out[i] = p
		} else {
			out = append(out, p)
		}
	}
	return out, nil
}

// parseOptOutHints reads SENDOKA_SMS_OPT_OUT_HINTS: a JSON object of country to hint,
// inline or in the file after "@".
func parseOptOutHints(s string) (sendoka.SMSOptOutHints, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	raw, err := inlineOrFile("SENDOKA_SMS_OPT_OUT_HINTS", s)
	if err != nil {
		return nil, err
	}
	var h sendoka.SMSOptOutHints
	if err := json.Unmarshal(raw, &h); err != nil {
		return nil, fmt.Errorf("SENDOKA_SMS_OPT_OUT_HINTS: not a JSON object of country to hint: %w", err)
	}
	return h, nil
}

// parseWarmup reads SENDOKA_WARMUP_SCHEDULE: "off", or daily caps "50,100,200".
func parseWarmup(s string) (sendoka.WarmupConfig, error) {
	switch s = strings.TrimSpace(s); s {
	case "":
		return sendoka.WarmupConfig{}, nil
	case "off":
		return sendoka.WarmupConfig{Off: true}, nil
	}
	var w sendoka.WarmupConfig
	for _, part := range splitList(s) {
		n, err := strconv.ParseInt(part, 10, 64)
		if err != nil || n < 1 {
			return w, fmt.Errorf("SENDOKA_WARMUP_SCHEDULE=%q: off, or daily caps of 1 or more separated by commas", s)
		}
		w.Schedule = append(w.Schedule, n)
	}
	return w, nil
}

// parseRetention reads a retention period: "30d", a Go duration ("720h"), or "off" (kept
// for ever: a negative period for the core).
func parseRetention(name, s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "off" {
		return -1, nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(days); err == nil && n >= 1 {
			return time.Duration(n) * 24 * time.Hour, nil
		}
	} else if d, err := time.ParseDuration(s); err == nil && d >= time.Hour {
		return d, nil
	}
	return 0, fmt.Errorf("%s=%q: a number of days (30d), a duration of an hour or more (720h), or off", name, s)
}

// parseProxies reads "10.0.0.1, 192.168.0.0/16, fd00::/8": addresses are single-address
// prefixes.
func parseProxies(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, part := range splitList(s) {
		if p, err := netip.ParsePrefix(part); err == nil {
			out = append(out, p.Masked())
			continue
		}
		ip, err := netip.ParseAddr(part)
		if err != nil {
			return nil, fmt.Errorf("SENDOKA_TRUSTED_PROXIES: %q is not an address or a CIDR", part)
		}
		out = append(out, netip.PrefixFrom(ip.Unmap(), ip.Unmap().BitLen()))
	}
	return out, nil
}

// parseQueueWorkers reads "events=20,webhooks=5": workers per queue other than deliver.
func parseQueueWorkers(s string) (map[sendoka.QueueName]int, error) {
	out := map[sendoka.QueueName]int{}
	for _, part := range splitList(s) {
		name, n, ok := strings.Cut(part, "=")
		count, err := strconv.Atoi(strings.TrimSpace(n))
		q := sendoka.QueueName(strings.TrimSpace(name))
		if !ok || err != nil || count < 1 || q == sendoka.QueueDeliver || !slices.Contains(sendoka.Queues, q) {
			return nil, fmt.Errorf("SENDOKA_QUEUE_WORKERS=%q: want name=count pairs for events, webhooks, bulk or maintenance (deliver's is SENDOKA_WORKERS)", s)
		}
		out[q] = count
	}
	return out, nil
}

func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

// open builds the logger and the server configuration and opens the server (migrating the
// database), as every command that touches the database does first.
func (c *config) open(ctx context.Context, stderr io.Writer) (*server.Server, server.Config, *slog.Logger, error) {
	return c.openObserved(ctx, stderr, nil, nil)
}

// openObserved is open with metrics and a tracer provider (nil: none).
func (c *config) openObserved(ctx context.Context, stderr io.Writer, reg *metrics.Registry, tp trace.TracerProvider) (*server.Server, server.Config, *slog.Logger, error) {
	log, err := c.logger(stderr)
	if err != nil {
		return nil, server.Config{}, nil, err
	}
	cfg, err := c.serverConfig(log)
	if err != nil {
		return nil, cfg, nil, err
	}
	cfg.Metrics, cfg.TracerProvider = reg, tp
	if reg != nil {
		cfg.MetricsToken = c.metricsToken
	}
	srv, err := server.Open(ctx, cfg)
	if err != nil {
		return nil, cfg, nil, err
	}
	return srv, cfg, log, nil
}

// domainSettings are the DNS records a sender domain is told to publish for its return path.
type domainSettings struct {
	returnPath string
	spfInclude string
	mxHost     string
}

func (d *domainSettings) flags(s *settings) {
	s.str(&d.returnPath, "domain-return-path", sendoka.DefaultReturnPath, "label of each sender domain's return-path (MAIL FROM) host, which gets the SPF and MX records")
	s.str(&d.spfInclude, "domain-spf-include", sendoka.DefaultSPFInclude, "host of the include: in the return path's SPF record, your email provider's")
	s.str(&d.mxHost, "domain-mx-host", "", "MX of the return-path host, where bounces go; empty = feedback-smtp.<region>.amazonses.com with SES, else "+sendoka.DefaultMXHost+"")
}

// config returns the core's settings: with SES and no MX host set, SES's feedback host of
// the region in use.
func (d *domainSettings) config(provider, sesRegion string) sendoka.DomainConfig {
	cfg := sendoka.DomainConfig{ReturnPath: d.returnPath, SPFInclude: d.spfInclude, MXHost: d.mxHost}
	if cfg.MXHost == "" && provider == "ses" && sesRegion != "" {
		cfg.MXHost = "feedback-smtp." + sesRegion + ".amazonses.com"
	}
	return cfg
}
