// Package metrics exposes Sendoka's Prometheus metrics: messages by status, provider calls,
// delivery attempts per provider and result, providers' circuit breakers, HTTP requests, queue depth and job wait, webhook attempts, quota use and build info.
//
// A Registry is the sendoka.Observer the core reports to (sendoka.Config.Observer), the
// request hook of the HTTP API (httpapi.Options.Observe), and a River middleware; the queue
// and quota gauges are read from the database when Prometheus scrapes, behind a short cache.
// hosts/server wires all of it when server.Config.Metrics is set:
//
//	reg := metrics.New(metrics.Options{Version: version})
//	srv, err := server.Open(ctx, server.Config{Metrics: reg})
//	http.Handle("/metrics", reg.Handler())
package metrics

import (
	"context"
	"crypto/subtle"
	"net/http"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sendoka/sendoka/sendoka"
)

// Namespace prefixes every metric of the Registry.
const Namespace = "sendoka"

// DefaultCacheTTL is how long the gauges read from the database are reused between scrapes.
const DefaultCacheTTL = 5 * time.Second

// Options tunes a Registry. The zero value is a working configuration.
type Options struct {
	// Version is the version in sendoka_build_info. Default: the main module's version
	// from the binary's build information, or "devel".
	Version string
	// CacheTTL is how long the queue and quota gauges, which query the database, are
	// reused: scrapes closer together than this cost no query. Default: DefaultCacheTTL (5s).
	CacheTTL time.Duration
	// ReadTimeout bounds one read of those gauges. Default: 2s.
	ReadTimeout time.Duration
}

// Registry holds Sendoka's metrics. It is safe for concurrent use; its methods that count
// take no lock of their own beyond the metric's and allocate nothing for a label set seen
// before.
type Registry struct {
	reg   *prometheus.Registry
	opts  Options
	names []string // every metric name a query may use (histograms: their three series)

	messages        *prometheus.CounterVec
	providerCalls   *prometheus.HistogramVec
	providerErrors  *prometheus.CounterVec
	attempts        *prometheus.CounterVec
	breakers        *prometheus.GaugeVec
	httpRequests    *prometheus.CounterVec
	httpDuration    *prometheus.HistogramVec
	webhookAttempts *prometheus.CounterVec
	webhookDuration prometheus.Histogram
	jobWait         *prometheus.HistogramVec
	readErrors      *prometheus.CounterVec

	statusText [600]string // HTTP status codes as label values, made once
}

var (
	_ sendoka.Observer         = (*Registry)(nil)
	_ sendoka.ProviderObserver = (*Registry)(nil)
)

// latencyBuckets spans a fast API call to a slow SMTP hand-off, in seconds.
var latencyBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}

// waitBuckets spans a job picked at once to one that waited minutes, in seconds.
var waitBuckets = []float64{.01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 900}

// New returns a Registry with every metric registered, Go's runtime and process metrics
// included.
func New(opts Options) *Registry {
	if opts.CacheTTL <= 0 {
		opts.CacheTTL = DefaultCacheTTL
	}
	if opts.ReadTimeout <= 0 {
		opts.ReadTimeout = 2 * time.Second
	}
	if opts.Version == "" {
		opts.Version = buildVersion()
	}
	r := &Registry{reg: prometheus.NewRegistry(), opts: opts}
	for i := range r.statusText {
		r.statusText[i] = strconv.Itoa(i)
	}
	r.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	r.messages = r.counterVec("messages_total",
		"Messages that reached a status (queued or scheduled when accepted, then sent, delivered, bounced, failed, canceled).",
		"channel", "status", "provider", "stream", "mode")
	r.providerCalls = r.histogramVec("provider_call_duration_seconds",
		"Time a provider took to answer a hand-off, whatever the answer.", latencyBuckets, "provider", "channel")
	r.providerErrors = r.counterVec("provider_errors_total",
		"Hand-offs a provider refused or failed, by error class (throttled, transient, permanent, unknown).",
		"provider", "channel", "class")
	r.attempts = r.counterVec("provider_attempts_total",
		"Delivery attempts per provider, by result: sent, transient, throttled, permanent, unknown, or skipped (circuit breaker open, no connection free); failed over to the next provider or not.",
		"provider", "channel", "result")
	r.breakers = prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace, Name: "provider_breaker_state",
		Help: "State of a provider's circuit breaker in this process: 0 closed, 1 half-open (a probe is out), 2 open (skipped). Only providers of a channel with several have one."},
		[]string{"provider", "channel"})
	r.register(r.breakers, "provider_breaker_state", false)
	r.httpRequests = r.counterVec("http_requests_total",
		"HTTP API requests answered, by route pattern, method and status.", "method", "route", "status")
	r.httpDuration = r.histogramVec("http_request_duration_seconds",
		"Time the HTTP API took to answer a request, by route pattern and method.", latencyBuckets, "method", "route")
	r.webhookAttempts = r.counterVec("webhook_attempts_total",
		"Webhook delivery attempts, by outcome (success, failure, dropped).", "outcome")
	r.webhookDuration = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: Namespace,
		Name: "webhook_attempt_duration_seconds", Help: "Time one webhook delivery attempt took.", Buckets: latencyBuckets})
	r.register(r.webhookDuration, "webhook_attempt_duration_seconds", true)
	r.jobWait = r.histogramVec("queue_job_wait_seconds",
		"Time a job waited between being due and a worker starting it, by River queue and kind.", waitBuckets, "queue", "kind")
	r.readErrors = r.counterVec("metrics_read_errors_total",
		"Failed reads of the gauges taken from the database at scrape time, by source (queue, quota).", "source")

	info := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: Namespace, Name: "build_info",
		Help:        "Always 1; its labels say which build is running.",
		ConstLabels: prometheus.Labels{"version": opts.Version, "goversion": runtime.Version()}})
	info.Set(1)
	r.register(info, "build_info", false)
	return r
}

// buildVersion is the main module's version, or "devel" for a build from a work tree.
func buildVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}

func (r *Registry) counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	v := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: name, Help: help}, labels)
	r.register(v, name, false)
	return v
}

func (r *Registry) histogramVec(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
	v := prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Name: name, Help: help, Buckets: buckets}, labels)
	r.register(v, name, true)
	return v
}

func (r *Registry) register(c prometheus.Collector, name string, histogram bool) {
	r.reg.MustRegister(c)
	r.addNames(name, histogram)
}

func (r *Registry) addNames(name string, histogram bool) {
	full := Namespace + "_" + name
	if histogram {
		r.names = append(r.names, full+"_bucket", full+"_sum", full+"_count")
		return
	}
	r.names = append(r.names, full)
}

// Names returns the name of every Sendoka series the Registry can expose (a histogram's
// _bucket, _sum and _count), for checking dashboards and alerts against it. Go's runtime
// and process metrics are not listed.
func (r *Registry) Names() []string { return append([]string(nil), r.names...) }

// Gatherer returns the registry, for tests and for serving it some other way.
func (r *Registry) Gatherer() prometheus.Gatherer { return r.reg }

// MessageStatus counts a message that reached a status (sendoka.Observer).
func (r *Registry) MessageStatus(channel sendoka.Channel, status sendoka.Status, provider, stream string, mode sendoka.Mode) {
	r.messages.WithLabelValues(string(channel), string(status), provider, stream, string(mode)).Inc()
}

// ProviderCall records a hand-off's duration and, when it failed, its error class
// (sendoka.Observer).
func (r *Registry) ProviderCall(_ context.Context, provider string, channel sendoka.Channel, _ time.Time, d time.Duration, errClass string) {
	r.providerCalls.WithLabelValues(provider, string(channel)).Observe(d.Seconds())
	if errClass != "" {
		r.providerErrors.WithLabelValues(provider, string(channel), errClass).Inc()
	}
}

// ProviderAttempt counts a delivery attempt's result for a provider
// (sendoka.ProviderObserver).
func (r *Registry) ProviderAttempt(channel sendoka.Channel, provider string, result sendoka.AttemptResult) {
	r.attempts.WithLabelValues(provider, string(channel), string(result)).Inc()
}

// BreakerState sets a provider's breaker gauge: 0 closed, 1 half-open, 2 open
// (sendoka.ProviderObserver).
func (r *Registry) BreakerState(channel sendoka.Channel, provider string, state sendoka.BreakerState) {
	v := 0.0
	switch state {
	case sendoka.BreakerHalfOpen:
		v = 1
	case sendoka.BreakerOpen:
		v = 2
	}
	r.breakers.WithLabelValues(provider, string(channel)).Set(v)
}

// WebhookAttempt counts a webhook delivery attempt by outcome and records its duration
// (sendoka.Observer).
func (r *Registry) WebhookAttempt(outcome string, d time.Duration) {
	r.webhookAttempts.WithLabelValues(outcome).Inc()
	r.webhookDuration.Observe(d.Seconds())
}

// HTTPRequest counts an answered request and records its latency; route is the route's
// pattern ("POST /api/v1/emails"), never the raw path. It fits httpapi.Options.Observe.
func (r *Registry) HTTPRequest(method, route string, status int, d time.Duration) {
	code := "other"
	if status >= 0 && status < len(r.statusText) {
		code = r.statusText[status]
	}
	r.httpRequests.WithLabelValues(method, route, code).Inc()
	r.httpDuration.WithLabelValues(method, route).Observe(d.Seconds())
}

// Handler serves the metrics in Prometheus' text format (or OpenMetrics, when asked).
func (r *Registry) Handler() http.Handler {
	return promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{EnableOpenMetrics: true})
}

// HandlerWithToken is Handler behind a bearer token: a request without
// "Authorization: Bearer <token>" gets 401. An empty token refuses every request.
func (r *Registry) HandlerWithToken(token string) http.Handler {
	h := r.Handler()
	want := []byte(token)
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		got, ok := strings.CutPrefix(req.Header.Get("Authorization"), "Bearer ")
		if !ok || token == "" || subtle.ConstantTimeCompare([]byte(got), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="metrics"`)
			http.Error(w, "metrics need the bearer token (SENDOKA_METRICS_TOKEN)", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, req)
	})
}
