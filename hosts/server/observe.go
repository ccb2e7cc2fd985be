package server

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/riverqueue/rivercontrib/otelriver"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/extra/bunotel"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/sendoka/sendoka/hosts/metrics"
	"github.com/sendoka/sendoka/sendoka"
)

// propagator reads and writes W3C trace context and baggage: on incoming requests
// (traceparent from a caller) and in River job metadata (otelriver writes traceparent).
var propagator = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})

// observers is what Config.Metrics and Config.TracerProvider add to the parts: nil fields
// when neither is set, so nothing is observed and nothing costs.
type observers struct {
	core       sendoka.Observer
	httpHook   func(r *http.Request, route string, status int, d time.Duration)
	middleware []rivertype.Middleware
	queryHooks []bun.QueryHook
	wrap       func(http.Handler) http.Handler
}

func newObservers(cfg Config) observers {
	var o observers
	reg, tp := cfg.Metrics, cfg.TracerProvider
	var core []sendoka.Observer
	if tp != nil {
		// The parent middleware goes first (outermost), so otelriver's work span is a child
		// of the span that enqueued the job: one trace from the request to the provider.
		o.middleware = append(o.middleware, &traceParent{},
			otelriver.NewMiddleware(&otelriver.MiddlewareConfig{TracerProvider: tp,
				EnableTracePropagation: true, EnableWorkSpanJobKindSuffix: true}))
		o.queryHooks = append(o.queryHooks, bunotel.NewQueryHook(bunotel.WithTracerProvider(tp)))
		core = append(core, &providerSpans{tracer: tp.Tracer("github.com/sendoka/sendoka")})
		o.wrap = func(h http.Handler) http.Handler {
			return otelhttp.NewHandler(h, "sendoka.http", otelhttp.WithTracerProvider(tp), otelhttp.WithPropagators(propagator))
		}
	}
	if reg != nil {
		o.middleware = append(o.middleware, reg.RiverMiddleware())
		core = append(core, reg)
	}
	switch len(core) {
	case 1:
		o.core = core[0]
	case 2:
		o.core = fanOut(core)
	}
	if reg != nil || tp != nil {
		o.httpHook = func(r *http.Request, route string, status int, d time.Duration) {
			if reg != nil {
				reg.HTTPRequest(r.Method, route, status, d)
			}
			if tp != nil {
				// otelhttp named the span before the route was known.
				span := trace.SpanFromContext(r.Context())
				span.SetName(route)
				span.SetAttributes(attribute.String("http.route", route))
			}
		}
	}
	return o
}

// withMetricsRoute serves GET /metrics behind the token beside h, when both are set.
func withMetricsRoute(h http.Handler, reg *metrics.Registry, token string) http.Handler {
	if reg == nil || token == "" {
		return h
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", reg.HandlerWithToken(token))
	mux.Handle("/", h)
	return mux
}

// fanOut tells every observer.
type fanOut []sendoka.Observer

func (f fanOut) MessageStatus(ch sendoka.Channel, st sendoka.Status, provider, stream string, mode sendoka.Mode) {
	for _, o := range f {
		o.MessageStatus(ch, st, provider, stream, mode)
	}
}

func (f fanOut) ProviderCall(ctx context.Context, provider string, ch sendoka.Channel, start time.Time, d time.Duration, errClass string) {
	for _, o := range f {
		o.ProviderCall(ctx, provider, ch, start, d, errClass)
	}
}

func (f fanOut) WebhookAttempt(outcome string, d time.Duration) {
	for _, o := range f {
		o.WebhookAttempt(outcome, d)
	}
}

// ProviderAttempt tells the observers that count attempts (sendoka.ProviderObserver).
func (f fanOut) ProviderAttempt(ch sendoka.Channel, provider string, result sendoka.AttemptResult) {
	for _, o := range f {
		if po, ok := o.(sendoka.ProviderObserver); ok {
			po.ProviderAttempt(ch, provider, result)
		}
	}
}

// BreakerState tells the observers that follow breakers (sendoka.ProviderObserver).
func (f fanOut) BreakerState(ch sendoka.Channel, provider string, state sendoka.BreakerState) {
	for _, o := range f {
		if po, ok := o.(sendoka.ProviderObserver); ok {
			po.BreakerState(ch, provider, state)
		}
	}
}

// providerSpans records each provider call as a span of the delivery's trace, after the
// fact, with the call's own start and end.
type providerSpans struct {
	tracer trace.Tracer
}

func (p *providerSpans) MessageStatus(sendoka.Channel, sendoka.Status, string, string, sendoka.Mode) {
}

func (p *providerSpans) ProviderCall(ctx context.Context, provider string, ch sendoka.Channel, start time.Time, d time.Duration, errClass string) {
	_, span := p.tracer.Start(ctx, "sendoka.provider.send", trace.WithTimestamp(start), trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("sendoka.provider", provider), attribute.String("sendoka.channel", string(ch))))
	if errClass != "" {
		span.SetAttributes(attribute.String("sendoka.error_class", errClass))
		span.SetStatus(codes.Error, errClass)
	}
	span.End(trace.WithTimestamp(start.Add(d)))
}

func (p *providerSpans) WebhookAttempt(string, time.Duration) {}

// traceParent makes the trace context that otelriver wrote into a job's metadata the
// parent of the job's work, so the work continues the trace of the request that enqueued
// it (otelriver alone only links the two).
type traceParent struct {
	river.MiddlewareDefaults
}

func (*traceParent) Work(ctx context.Context, job *rivertype.JobRow, doInner func(context.Context) error) error {
	if len(job.Metadata) > 0 && !trace.SpanContextFromContext(ctx).IsValid() {
		var meta map[string]any
		if json.Unmarshal(job.Metadata, &meta) == nil {
			carrier := propagation.MapCarrier{}
			for _, k := range propagator.Fields() {
				if v, ok := meta[k].(string); ok {
					carrier[k] = v
				}
			}
			if len(carrier) > 0 {
				ctx = propagator.Extract(ctx, carrier)
			}
		}
	}
	return doInner(ctx)
}
