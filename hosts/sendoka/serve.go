package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"

	"github.com/emersion/go-smtp"

	"github.com/sendoka/sendoka/hosts/metrics"
	"github.com/sendoka/sendoka/hosts/server"
	"github.com/sendoka/sendoka/hosts/smtpin"
	"github.com/sendoka/sendoka/sendoka"
)

// serve runs the HTTP API (unless workers only) and the workers (unless -no-workers) until
// ctx ends, then shuts down gracefully: it stops taking requests, finishes those in flight,
// and lets running jobs finish.
func serve(ctx context.Context, c *config, stdout, stderr io.Writer, withHTTP bool) error {
	if err := applyMemoryLimit(c.memoryLimit); err != nil {
		return err
	}
	var reg *metrics.Registry
	if c.metricsAddr != "" || c.metricsToken != "" {
		reg = metrics.New(metrics.Options{Version: version})
	}
	tp, stopTracing, err := tracerProvider(ctx, version)
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), c.shutdownTimeout)
		defer cancel()
		_ = stopTracing(sctx) // flushes the spans still buffered
	}()
	srv, cfg, log, err := c.openObserved(ctx, stderr, reg, tp)
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), c.shutdownTimeout)
		defer cancel()
		if err := srv.Close(sctx); err != nil {
			log.Error("shutdown", "error", err)
		}
		if closer, ok := cfg.Email.(io.Closer); ok { // the SMTP connection pool
			_ = closer.Close()
		}
		log.Info("stopped")
	}()
	log.Info("database ready", "dialect", srv.DB.Dialect(), "url", server.Redacted(srv.DatabaseURL))

	if withHTTP {
		if err := bootstrap(ctx, srv, c, stdout); err != nil {
			return err
		}
	}
	if !c.noWorkers {
		if err := srv.Start(ctx); err != nil {
			return err
		}
		log.Info("workers started", "max_workers", c.workers)
	}
	if c.pprofAddr != "" {
		if err := servePprof(ctx, c.pprofAddr); err != nil {
			return err
		}
		log.Info("profiling", "addr", "http://"+c.pprofAddr+"/debug/pprof/")
	}
	if c.metricsAddr != "" {
		addr, err := serveMetrics(ctx, c.metricsAddr, reg, c.metricsToken)
		if err != nil {
			return err
		}
		log.Info("metrics", "addr", "http://"+addr+"/metrics", "token", c.metricsToken != "")
	}
	if tp != nil {
		log.Info("tracing", "exporter", "otlp")
	}
	if withHTTP && c.inbound.addr != "" {
		stop, err := serveInbound(c.inbound, srv, log)
		if err != nil {
			return err
		}
		defer stop()
	}
	if !withHTTP {
		<-ctx.Done()
		return nil
	}

	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		return err
	}
	hs := c.http.server(srv.Handler)
	hs.ErrorLog = slog.NewLogLogger(log.Handler(), slog.LevelWarn) // net/http's own complaints, in the log's format
	log.Info("listening", "addr", "http://"+ln.Addr().String())
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), c.shutdownTimeout)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// serveMetrics serves reg at /metrics on a listener of its own (behind token when it is
// set) until ctx ends, and returns the address it listens on.
func serveMetrics(ctx context.Context, addr string, reg *metrics.Registry, token string) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("metrics: %w", err)
	}
	h := reg.Handler()
	if token != "" {
		h = reg.HandlerWithToken(token)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", h)
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: defaultReadHeaderTimeout}
	go func() {
		<-ctx.Done()
		hs.Close()
	}()
	go hs.Serve(ln)
	return ln.Addr().String(), nil
}

// server is the HTTP server of the API, with the configured limits. ReadTimeout is a
// backstop: the API reads each body under its own deadline (-body-read-timeout) and cuts the
// bodies no route reads, so a slow client holds a connection only so long, behind any
// server; the idle and header timeouts and the header size limit are the server's alone.
func (h *httpConfig) server(handler http.Handler) *http.Server {
	return &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: h.readHeaderTimeout,
		ReadTimeout:       h.readTimeout,
		WriteTimeout:      h.writeTimeout,
		IdleTimeout:       h.idleTimeout,
		MaxHeaderBytes:    h.maxHeaderBytes,
	}
}

// bootstrap creates the default org and keys on first start and prints new keys once.
func bootstrap(ctx context.Context, srv *server.Server, c *config, stdout io.Writer) error {
	res, err := srv.Client.Bootstrap(ctx, sendoka.BootstrapOptions{Keys: splitList(c.bootstrapKeys)})
	if err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	if res.CreatedOrg {
		fmt.Fprintf(stdout, "Created org %s (%s).\n", res.Org.Name, res.Org.ID)
	}
	if len(res.NewKeys) > 0 {
		fmt.Fprintln(stdout, "API keys (shown once; store them now):")
		for _, k := range res.NewKeys {
			fmt.Fprintln(stdout, "  "+k)
		}
		fmt.Fprintf(stdout, "Try: export SENDOKA_API_KEY=%s\n", res.NewKeys[len(res.NewKeys)-1])
	}
	if c.dashboard {
		link, err := srv.Client.BootstrapOwner(ctx, res.Org.ID, c.dashboardEmail)
		if err != nil {
			return fmt.Errorf("dashboard owner: %w", err)
		}
		if link != "" {
			fmt.Fprintf(stdout, "Dashboard: open this one-time link to set the password of %s (valid %s):\n  %s/signin/%s\n",
				c.dashboardEmail, sendoka.SignInLinkTTL, dashboardURL(c.addr), link)
		}
	}
	return nil
}

// migrate applies every migration and exits.
func migrate(ctx context.Context, c *config, _ *settings, _ []string, stdout, stderr io.Writer) error {
	srv, _, _, err := c.open(ctx, stderr) // Open migrates
	if err != nil {
		return err
	}
	defer srv.Close(ctx)
	fmt.Fprintln(stdout, "migrations applied:", server.Redacted(srv.DatabaseURL))
	return nil
}

// serveInbound starts the inbound SMTP listener (hosts/smtpin) and returns what stops it.
func serveInbound(in inboundSettings, srv *server.Server, log *slog.Logger) (func(), error) {
	var tlsConfig *tls.Config
	switch {
	case in.tlsCert != "" && in.tlsKey != "":
		cert, err := tls.LoadX509KeyPair(in.tlsCert, in.tlsKey)
		if err != nil {
			return nil, fmt.Errorf("SENDOKA_SMTP_INBOUND_TLS_CERT/KEY: %w", err)
		}
		tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	case in.tlsCert != "" || in.tlsKey != "":
		return nil, errors.New("SENDOKA_SMTP_INBOUND_TLS_CERT and SENDOKA_SMTP_INBOUND_TLS_KEY go together")
	}
	ln, err := net.Listen("tcp", in.addr)
	if err != nil {
		return nil, fmt.Errorf("inbound SMTP: %w", err)
	}
	s := smtpin.New(srv.Client, smtpin.Options{Hostname: in.hostname, TLSConfig: tlsConfig,
		MaxMessageBytes: int64(in.maxBytes), ReadTimeout: in.timeout, WriteTimeout: in.timeout, Logger: log})
	go func() {
		if err := s.Serve(ln); err != nil && !errors.Is(err, smtp.ErrServerClosed) {
			log.Error("inbound SMTP", "error", err)
		}
	}()
	log.Info("inbound SMTP listening", "addr", ln.Addr().String(), "starttls", tlsConfig != nil,
		"bounce_domain", srv.Client.InboundConfig().BounceDomain)
	return func() { _ = s.Close() }, nil
}
