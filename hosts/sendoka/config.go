package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sendoka/sendoka/hosts/httpapi"
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
	bootstrapKeys   string
	bootstrapDomain string
	domains         domainSettings
	emailProvider   string
	smsProvider     string
	sns             snsConfig
	email           emailConfig
	logLevel        string
	logFormat       string
	workers         int
	queueWorkers    string
	dbPool          int
	fetchCooldown   time.Duration
	fetchPoll       time.Duration
	jobTimeout      time.Duration
	claimLease      time.Duration
	slotWait        time.Duration
	recovery        time.Duration
	shutdownTimeout time.Duration
	noWorkers       bool
	pprofAddr       string
	trustedProxies  string
	snsTopics       string
	plans           string
	defaultPlan     string
	limits          string
	warmupSchedule  string
	http            httpConfig
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

func (h *httpConfig) flags(fs *flag.FlagSet) {
	fs.DurationVar(&h.readHeaderTimeout, "read-header-timeout", envDuration("SENDOKA_READ_HEADER_TIMEOUT", defaultReadHeaderTimeout), "time allowed to read a request's headers; 0 = no limit (SENDOKA_READ_HEADER_TIMEOUT)")
	fs.DurationVar(&h.readTimeout, "read-timeout", envDuration("SENDOKA_READ_TIMEOUT", defaultReadTimeout), "time allowed to read a whole request, headers and body; 0 = no limit (SENDOKA_READ_TIMEOUT)")
	fs.DurationVar(&h.bodyReadTimeout, "body-read-timeout", envDuration("SENDOKA_BODY_READ_TIMEOUT", httpapi.DefaultBodyReadTimeout), "time allowed to receive a request body once the API reads it; slower is 408 (SENDOKA_BODY_READ_TIMEOUT)")
	fs.DurationVar(&h.writeTimeout, "write-timeout", envDuration("SENDOKA_WRITE_TIMEOUT", defaultWriteTimeout), "time allowed to handle a request and write the answer, from the end of its headers; 0 = no limit (SENDOKA_WRITE_TIMEOUT)")
	fs.DurationVar(&h.idleTimeout, "idle-timeout", envDuration("SENDOKA_IDLE_TIMEOUT", defaultIdleTimeout), "how long an idle keep-alive connection stays open (SENDOKA_IDLE_TIMEOUT)")
	fs.IntVar(&h.maxHeaderBytes, "max-header-bytes", envInt("SENDOKA_MAX_HEADER_BYTES", defaultMaxHeaderBytes), "largest request header block; larger is 431 (SENDOKA_MAX_HEADER_BYTES)")
}

// env returns the variable's value, or def when it is unset or empty.
func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return n
	}
	return def
}

func envDuration(name string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(os.Getenv(name)); err == nil {
		return d
	}
	return def
}

// flags binds the shared settings to fs, with the environment as defaults.
func (c *config) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.addr, "addr", env("SENDOKA_ADDR", "127.0.0.1:8080"), "listen address (SENDOKA_ADDR)")
	fs.StringVar(&c.plans, "plans", env("SENDOKA_PLANS", ""), "plans as JSON, inline or @file: [{\"name\":\"pro\",\"burst_per_minute\":600,\"monthly_emails\":10000,\"monthly_sms\":1000,\"overage\":true}]; a plan named like a default replaces it, others are added (SENDOKA_PLANS)")
	fs.StringVar(&c.defaultPlan, "default-plan", env("SENDOKA_DEFAULT_PLAN", sendoka.DefaultPlanName), "plan of the org created at first start (SENDOKA_DEFAULT_PLAN)")
	fs.StringVar(&c.limits, "limits", env("SENDOKA_LIMITS", "on"), "on, or off to turn burst limits, monthly quotas and warmup caps off (SENDOKA_LIMITS)")
	fs.StringVar(&c.warmupSchedule, "warmup-schedule", env("SENDOKA_WARMUP_SCHEDULE", ""), "daily caps of a newly verified domain, comma-separated (day 0 first), or off; empty = 50,100,200,500,1000,2000,5000,10000 (SENDOKA_WARMUP_SCHEDULE)")
	fs.StringVar(&c.snsTopics, "sns-topic-arns", env("SENDOKA_SNS_TOPIC_ARNS", ""), "comma-separated ARNs of the SNS topics whose signed messages the provider event routes accept (SES events, SMS events); empty = they accept none (SENDOKA_SNS_TOPIC_ARNS)")
	fs.StringVar(&c.trustedProxies, "trusted-proxies", env("SENDOKA_TRUSTED_PROXIES", ""), "comma-separated addresses or CIDRs of the proxies in front of the server, whose X-Forwarded-For names the caller; empty = the TCP peer is the caller (SENDOKA_TRUSTED_PROXIES)")
	fs.StringVar(&c.databaseURL, "database-url", env("SENDOKA_DATABASE_URL", ""), "postgres:// URL or sqlite:PATH; empty = SQLite in the data dir (SENDOKA_DATABASE_URL)")
	fs.StringVar(&c.dataDir, "data-dir", env("SENDOKA_DATA_DIR", "./sendoka-data"), "SQLite data directory (SENDOKA_DATA_DIR)")
	fs.DurationVar(&c.databaseTimeout, "database-timeout", envDuration("SENDOKA_DATABASE_TIMEOUT", httpapi.DefaultDatabaseTimeout), "how long one API request may wait for the database before it answers 503 (SENDOKA_DATABASE_TIMEOUT)")
	fs.StringVar(&c.sandboxDomain, "sandbox-domain", env("SENDOKA_SANDBOX_DOMAIN", "sandbox.sendoka.com"), "always-allowed sender domain (SENDOKA_SANDBOX_DOMAIN)")
	fs.DurationVar(&c.sandboxLatency, "sandbox-latency", envDuration("SENDOKA_SANDBOX_LATENCY", 0), "how long each sandbox hand-off takes, standing in for a provider's API call in benchmarks and development; 0 = none (SENDOKA_SANDBOX_LATENCY)")
	fs.StringVar(&c.bootstrapKeys, "bootstrap-keys", env("SENDOKA_BOOTSTRAP_KEYS", ""), "comma-separated API keys to create on start instead of random ones (SENDOKA_BOOTSTRAP_KEYS)")
	fs.StringVar(&c.bootstrapDomain, "bootstrap-domains", env("SENDOKA_BOOTSTRAP_DOMAINS", ""), "comma-separated sender domains to add to the default org as verified, at every start (SENDOKA_BOOTSTRAP_DOMAINS)")
	c.domains.flags(fs)
	fs.StringVar(&c.emailProvider, "email-provider", env("SENDOKA_EMAIL_PROVIDER", "sandbox"), "provider for live email: sandbox, smtp or ses (SENDOKA_EMAIL_PROVIDER)")
	fs.StringVar(&c.smsProvider, "sms-provider", env("SENDOKA_SMS_PROVIDER", "sandbox"), "provider for live SMS: sandbox or sns (SENDOKA_SMS_PROVIDER)")
	c.sns.flags(fs)
	c.email.flags(fs)
	c.http.flags(fs)
	fs.StringVar(&c.logLevel, "log-level", env("SENDOKA_LOG_LEVEL", "info"), "debug, info, warn or error (SENDOKA_LOG_LEVEL)")
	fs.StringVar(&c.logFormat, "log-format", env("SENDOKA_LOG_FORMAT", "text"), "text or json (SENDOKA_LOG_FORMAT)")
	fs.IntVar(&c.workers, "workers", envInt("SENDOKA_WORKERS", 100), "concurrent delivery workers (SENDOKA_WORKERS)")
	fs.DurationVar(&c.fetchCooldown, "fetch-cooldown", envDuration("SENDOKA_FETCH_COOLDOWN", 50*time.Millisecond), "minimum time between job fetches (SENDOKA_FETCH_COOLDOWN)")
	fs.DurationVar(&c.fetchPoll, "fetch-poll-interval", envDuration("SENDOKA_FETCH_POLL_INTERVAL", 0), "how often idle workers look for new jobs; 0 = 200ms or the cooldown if longer (SENDOKA_FETCH_POLL_INTERVAL)")
	fs.StringVar(&c.queueWorkers, "queue-workers", env("SENDOKA_QUEUE_WORKERS", ""), "workers of the other queues, e.g. events=20,webhooks=20,bulk=10,maintenance=2 (SENDOKA_QUEUE_WORKERS)")
	fs.IntVar(&c.dbPool, "db-pool", envInt("SENDOKA_DB_POOL", 0), "Postgres connections open at once; 0 = 20 (SENDOKA_DB_POOL)")
	fs.DurationVar(&c.jobTimeout, "job-timeout", envDuration("SENDOKA_JOB_TIMEOUT", 0), "bound on one delivery job; 0 = 15m, or longer if the email provider's slowest send needs it (SENDOKA_JOB_TIMEOUT)")
	fs.DurationVar(&c.claimLease, "claim-lease", envDuration("SENDOKA_CLAIM_LEASE", sendoka.DefaultClaimLease), "lease of a delivery claim, renewed while the provider works; a lapsed one marks its message's outcome unknown (SENDOKA_CLAIM_LEASE)")
	fs.DurationVar(&c.slotWait, "slot-wait", envDuration("SENDOKA_SLOT_WAIT", sendoka.DefaultSlotWait), "longest wait for a free provider connection before a job is put back (SENDOKA_SLOT_WAIT)")
	fs.DurationVar(&c.recovery, "recovery-interval", envDuration("SENDOKA_RECOVERY_INTERVAL", riverjobs.DefaultRecoveryInterval), "how often the leader recovers deliveries a dead process left (SENDOKA_RECOVERY_INTERVAL)")
	fs.StringVar(&c.pprofAddr, "pprof-addr", env("SENDOKA_PPROF_ADDR", ""), "serve Go's net/http/pprof profiles on this address; empty = off (SENDOKA_PPROF_ADDR)")
	fs.DurationVar(&c.shutdownTimeout, "shutdown-timeout", envDuration("SENDOKA_SHUTDOWN_TIMEOUT", 30*time.Second), "how long SIGTERM waits for requests and jobs in flight (SENDOKA_SHUTDOWN_TIMEOUT)")
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
	}
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
	email, err := c.email.provider(c.emailProvider, log) // email.go
	if err != nil {
		return cfg, err
	}
	cfg.Email = email
	cfg.Domains = c.domains.config(c.emailProvider, c.email.sesResolvedRegion)
	if cfg.Tracking, err = c.email.tracking(); err != nil {
		return cfg, err
	}
	sms, err := c.sns.provider(c.smsProvider)
	if err != nil {
		return cfg, err
	}
	cfg.SMS = sms
	return cfg, nil
}

// parsePlans reads SENDOKA_PLANS: a JSON list of plans, inline or in the file after "@".
// A plan named like one of sendoka.DefaultPlans replaces it; others are added.
func parsePlans(s string) ([]sendoka.Plan, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	raw := []byte(s)
	if path, ok := strings.CutPrefix(s, "@"); ok {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("SENDOKA_PLANS: %w", err)
		}
		raw = b
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
	log, err := c.logger(stderr)
	if err != nil {
		return nil, server.Config{}, nil, err
	}
	cfg, err := c.serverConfig(log)
	if err != nil {
		return nil, cfg, nil, err
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

func (d *domainSettings) flags(fs *flag.FlagSet) {
	fs.StringVar(&d.returnPath, "domain-return-path", env("SENDOKA_DOMAIN_RETURN_PATH", sendoka.DefaultReturnPath), "label of each sender domain's return-path (MAIL FROM) host, which gets the SPF and MX records (SENDOKA_DOMAIN_RETURN_PATH)")
	fs.StringVar(&d.spfInclude, "domain-spf-include", env("SENDOKA_DOMAIN_SPF_INCLUDE", sendoka.DefaultSPFInclude), "host of the include: in the return path's SPF record, your email provider's (SENDOKA_DOMAIN_SPF_INCLUDE)")
	fs.StringVar(&d.mxHost, "domain-mx-host", env("SENDOKA_DOMAIN_MX_HOST", ""), "MX of the return-path host, where bounces go; empty = feedback-smtp.<region>.amazonses.com with SES, else "+sendoka.DefaultMXHost+" (SENDOKA_DOMAIN_MX_HOST)")
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
