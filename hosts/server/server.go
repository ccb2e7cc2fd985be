// Package server assembles a complete Sendoka: the database (Postgres or embedded SQLite),
// the River queue and its workers, the providers, the core client and the HTTP handler. The
// sendoka binary is a thin command line around it; Go programs that embed Sendoka as a whole
// use it the same way:
//
//	srv, err := server.Open(ctx, server.Config{DataDir: "./sendoka-data"})
//	...
//	defer srv.Close(ctx)
//	srv.Start(ctx)                        // run the delivery workers
//	http.Handle("/mail/", http.StripPrefix("/mail", srv.Handler))
//
// Handler serves the web UI (hosts/dashboard) at its root beside the API, unless
// Config.DisableDashboard.
package server

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/sendoka/sendoka/hosts/dashboard"
	"github.com/sendoka/sendoka/hosts/httpapi"
	"github.com/sendoka/sendoka/hosts/metrics"
	"github.com/sendoka/sendoka/providers/sandbox"
	"github.com/sendoka/sendoka/queue/riverjobs"
	"github.com/sendoka/sendoka/sendoka"
	"github.com/sendoka/sendoka/storage/bunstore"
)

// Config describes a server. The zero value is the embedded default: SQLite under
// ./sendoka-data and the sandbox providers.
type Config struct {
	// DatabaseURL is a postgres:// URL, or sqlite:PATH. Default: SQLite at DataDir/sendoka.db.
	DatabaseURL string
	// DataDir holds the SQLite database when DatabaseURL is empty. Default: ./sendoka-data.
	DataDir string
	// Database tunes the connection pool and the database's timeouts (statement, idle in
	// transaction, connect; SQLite's busy timeout). Zero fields take bunstore's defaults;
	// Database.Logger defaults to Logger.
	Database bunstore.Options

	// Email and SMS are the providers for live keys. Default: the sandbox (nothing leaves the
	// machine). Test keys and the sandbox domain always use the sandbox.
	Email sendoka.EmailSender
	SMS   sendoka.SMSSender
	// EmailProviders and SMSProviders are several live providers per channel, with
	// failover, in place of Email and SMS; Routes pick them per message and Breaker tunes
	// their circuit breakers (sendoka.Config's fields of the same names).
	EmailProviders []sendoka.EmailProvider
	SMSProviders   []sendoka.SMSProvider
	Routes         []sendoka.Route
	Breaker        sendoka.BreakerConfig

	// SandboxDomain is the always-allowed sender domain. Default: sandbox.sendoka.com.
	SandboxDomain string
	// SandboxLatency is how long each of the sandbox's hand-offs takes (sandbox.Options.Latency),
	// to benchmark delivery against a provider that is not instant. Default: 0, none.
	SandboxLatency time.Duration
	// Plans, DefaultPlan, DisableLimits and Warmup are the core's (sendoka.Config): the plans
	// orgs may be on, the first org's plan, limits off, and domain warmup.
	Plans         []sendoka.Plan
	DefaultPlan   string
	DisableLimits bool
	Warmup        sendoka.WarmupConfig
	// Retention says how long message content and messages are kept (sendoka.Config.Retention).
	Retention sendoka.RetentionConfig
	// SMSOptOutHints are the opt-out lines broadcast SMS carry, by sender country
	// (sendoka.Config.SMSOptOutHints).
	SMSOptOutHints sendoka.SMSOptOutHints
	// VerifiedDomains are sender domains for scripted installs: Bootstrap adds them to the
	// default org as verified domains (sendoka.Config.VerifiedDomains).
	VerifiedDomains []string
	// Domains says which DNS records a sender domain publishes (return-path host, SPF
	// include, MX host) and how domains are checked. Zero fields take sendoka's defaults
	// (Amazon SES's values in us-east-1).
	Domains sendoka.DomainConfig
	// DNS looks up domains' records when they are verified. Default: net.DefaultResolver.
	DNS sendoka.DNSResolver
	// Tracking turns on open and click tracking; Handler serves its /t/o/ and /t/c/ routes,
	// and Tracking.BaseURL must reach them. Default: off.
	Tracking sendoka.TrackingConfig

	// Delivery tunes hand-offs: claim leases, provider slots, the retry schedule. Zero
	// fields take sendoka's defaults.
	Delivery sendoka.DeliveryConfig
	// Webhooks tunes outgoing webhooks (sendoka.Config.Webhooks). Zero fields are defaults.
	Webhooks sendoka.WebhookConfig
	// Inbound configures received mail (sendoka.Config.Inbound): the VERP bounce domain and
	// the inbound domains. hosts/smtpin is the listener. Default: none.
	Inbound sendoka.InboundConfig
	// Queue tunes the River workers. Zero fields take riverjobs' defaults, except JobTimeout:
	// when zero it is riverjobs.DefaultJobTimeout or, if longer, what the email provider's
	// slowest send can take (MaxSendDuration) plus the slot wait and a minute.
	Queue riverjobs.Config
	// HTTP tunes the HTTP API. Zero fields take httpapi's defaults.
	HTTP httpapi.Options
	// DisableDashboard leaves the web UI out of Handler. Default: false, Handler serves the
	// dashboard at / beside the API (dashboard.Options.Fallback is set to the API).
	DisableDashboard bool
	// Dashboard tunes the web UI. Zero fields take dashboard's defaults; Logger defaults to
	// Logger.
	Dashboard dashboard.Options

	// Clock tells the time. Default: the system clock.
	Clock sendoka.Clock
	// Logger receives logs. Default: quiet.
	Logger *slog.Logger
	// LogSQL logs every SQL statement at Debug through Logger (Database.LogQueries).
	// Statements can carry recipients' addresses: off by default.
	LogSQL bool

	// Metrics, when set, counts messages, provider calls, HTTP requests and job waits into
	// it, and reads queue depth and quota use from the database on scrape. Serving it is
	// the caller's (Metrics.Handler), or Handler's with MetricsToken. Default: none, at no
	// cost.
	Metrics *metrics.Registry
	// MetricsToken, with Metrics, makes Handler serve GET /metrics to requests that carry
	// "Authorization: Bearer <MetricsToken>" (401 otherwise). Default: "", Handler does not
	// serve metrics.
	MetricsToken string
	// TracerProvider, when set, traces each HTTP request (otelhttp), each job (otelriver:
	// its work continues the trace of the request that enqueued it), each SQL query
	// (bunotel) and each provider call. Default: nil, no tracing at no cost.
	TracerProvider trace.TracerProvider
}

// Server is an assembled Sendoka.
type Server struct {
	DB      *bunstore.DB
	Queue   *riverjobs.Queue
	Client  *sendoka.Client
	Handler http.Handler
	// Sandbox is the provider that takes test-key and sandbox-domain messages.
	Sandbox *sandbox.Sender
	// DatabaseURL is the database in use (it may hold a password: see Redacted).
	DatabaseURL string

	log      *slog.Logger
	started  bool
	listener interface{ Close() } // River's LISTEN pool (Postgres), closed after the queue
}

// Open connects to the database, applies every migration (Sendoka's and River's) and wires
// the parts together. Workers do not run until Start.
func Open(ctx context.Context, cfg Config) (*Server, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	dsn, err := databaseURL(cfg)
	if err != nil {
		return nil, err
	}
	dbopts := cfg.Database
	if dbopts.Logger == nil {
		dbopts.Logger = log
	}
	dbopts.LogQueries = dbopts.LogQueries || cfg.LogSQL
	obs := newObservers(cfg)
	dbopts.QueryHooks = append(dbopts.QueryHooks, obs.queryHooks...)
	db, err := bunstore.Open(ctx, dsn, &dbopts)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	s := &Server{DB: db, DatabaseURL: dsn, log: log}
	if err := s.open(ctx, cfg, obs); err != nil {
		if s.listener != nil {
			s.listener.Close()
		}
		db.Close()
		return nil, err
	}
	return s, nil
}

func (s *Server) open(ctx context.Context, cfg Config, obs observers) error {
	if err := Migrate(ctx, s.DB); err != nil {
		return err
	}
	qcfg := cfg.Queue
	if qcfg.Logger == nil {
		qcfg.Logger = s.log
	}
	if qcfg.JobTimeout == 0 {
		qcfg.JobTimeout = jobTimeout(cfg)
	}
	qcfg.Middleware = append(obs.middleware, qcfg.Middleware...)
	if qcfg.ListenerPool == nil && !qcfg.InsertOnly {
		// Postgres: LISTEN/NOTIFY wake-ups, so a new job starts without waiting for a poll.
		pool, err := s.DB.ListenerPool(ctx)
		if err != nil {
			return err
		}
		if pool != nil {
			qcfg.ListenerPool, s.listener = pool, pool
		}
	}
	q, err := riverjobs.New(s.DB.SQLDB(), string(s.DB.Dialect()), qcfg)
	if err != nil {
		return fmt.Errorf("queue: %w", err)
	}
	s.Queue = q
	s.Sandbox = sandbox.New(sandbox.Options{Domain: cfg.SandboxDomain, Latency: cfg.SandboxLatency,
		// The sandbox's simulated replies (a STOP) reach the core as a provider's inbound would.
		Inbound: func(ctx context.Context, from, to, body string) error {
			_, err := s.Client.HandleInboundSMS(ctx, from, to, body)
			return err
		}})
	s.Client, err = sendoka.New(sendoka.Config{
		Store: s.DB, Queue: q,
		Email: cfg.Email, SMS: cfg.SMS,
		EmailProviders: cfg.EmailProviders, SMSProviders: cfg.SMSProviders, Routes: cfg.Routes, Breaker: cfg.Breaker,
		SandboxEmail: s.Sandbox, SandboxSMS: s.Sandbox,
		SandboxDomain: cfg.SandboxDomain, VerifiedDomains: cfg.VerifiedDomains,
		Domains: cfg.Domains, DNS: cfg.DNS,
		Plans: cfg.Plans, DefaultPlan: cfg.DefaultPlan, DisableLimits: cfg.DisableLimits, Warmup: cfg.Warmup,
		Retention: cfg.Retention, SMSOptOutHints: cfg.SMSOptOutHints,
		Tracking: cfg.Tracking, Delivery: cfg.Delivery, Webhooks: cfg.Webhooks, Clock: cfg.Clock, Logger: s.log,
		Inbound:  cfg.Inbound,
		Observer: obs.core,
	})
	if err != nil {
		return err
	}
	hopts := cfg.HTTP
	if hopts.Logger == nil {
		hopts.Logger = s.log
	}
	if hopts.Ready == nil {
		hopts.Ready = s.DB.Ping
	}
	if hopts.Observe == nil {
		hopts.Observe = obs.httpHook
	}
	s.Handler = httpapi.New(s.Client, hopts)
	if obs.wrap != nil {
		s.Handler = obs.wrap(s.Handler)
	}
	if !cfg.DisableDashboard {
		dopts := cfg.Dashboard
		dopts.Fallback = s.Handler
		if dopts.Logger == nil {
			dopts.Logger = s.log
		}
		s.Handler = dashboard.New(s.Client, dopts)
	}
	s.Handler = withMetricsRoute(s.Handler, cfg.Metrics, cfg.MetricsToken)
	if cfg.Metrics != nil {
		if err := cfg.Metrics.WatchQueue(s.DB.SQLDB(), string(s.DB.Dialect())); err != nil {
			return err
		}
		if err := cfg.Metrics.WatchQuota(s.Client); err != nil {
			return err
		}
	}
	return nil
}

// jobTimeout is a delivery job's bound: longer than a hand-off can take, so a send is never
// cut short by its own job (a cut-short send ends with an unknown outcome).
func jobTimeout(cfg Config) time.Duration {
	d := riverjobs.DefaultJobTimeout
	wait := cfg.Delivery.SlotWait
	if wait == 0 {
		wait = sendoka.DefaultSlotWait
	}
	// One job may try each provider of a channel in turn (failover), each after its own
	// wait for a connection.
	email := []any{cfg.Email}
	for _, p := range cfg.EmailProviders {
		email = append(email, p.Sender)
	}
	sms := []any{cfg.SMS}
	for _, p := range cfg.SMSProviders {
		sms = append(sms, p.Sender)
	}
	for _, ps := range [][]any{email, sms} {
		var sum time.Duration
		for _, p := range ps {
			if l, ok := p.(interface{ MaxSendDuration() time.Duration }); ok {
				sum += wait + l.MaxSendDuration()
			}
		}
		if sum > 0 {
			d = max(d, sum+time.Minute)
		}
	}
	return d
}

// Migrate applies Sendoka's and River's migrations to db. It is idempotent. Both run without
// the database's request timeouts (bunstore's Maintenance): a migration may wait for another
// process's, or rewrite a large table.
func Migrate(ctx context.Context, db *bunstore.DB) error {
	if err := db.Migrate(ctx); err != nil {
		return fmt.Errorf("migrate sendoka: %w", err)
	}
	err := db.Maintenance(ctx, func(ctx context.Context, sqldb *sql.DB) error {
		return riverjobs.Migrate(ctx, sqldb, string(db.Dialect()))
	})
	if err != nil {
		return fmt.Errorf("migrate river: %w", err)
	}
	return nil
}

// Start runs the delivery workers until Close.
func (s *Server) Start(ctx context.Context) error {
	if err := s.Queue.Start(ctx, s.Client); err != nil {
		return fmt.Errorf("start workers: %w", err)
	}
	s.started = true
	return nil
}

// Close stops the workers, letting jobs in flight finish within ctx, and closes the database.
func (s *Server) Close(ctx context.Context) error {
	var errs []error
	if s.started {
		errs = append(errs, s.Queue.Stop(ctx))
	}
	if s.listener != nil {
		s.listener.Close()
	}
	errs = append(errs, s.DB.Close())
	return errors.Join(errs...)
}

// databaseURL resolves the configured database, creating the data directory for SQLite.
func databaseURL(cfg Config) (string, error) {
	if cfg.DatabaseURL != "" {
		return cfg.DatabaseURL, nil
	}
	dir := cfg.DataDir
	if dir == "" {
		dir = "./sendoka-data"
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("data dir: %w", err)
	}
	return "sqlite:" + filepath.Join(dir, "sendoka.db"), nil
}

// Redacted returns a database URL safe to log (no password).
func Redacted(dsn string) string {
	if i := strings.Index(dsn, "://"); i >= 0 {
		rest := dsn[i+3:]
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			if colon := strings.Index(rest[:at], ":"); colon >= 0 {
				return dsn[:i+3] + rest[:colon] + ":***" + rest[at:]
			}
		}
	}
	return dsn
}
