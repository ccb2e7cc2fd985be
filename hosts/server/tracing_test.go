package server_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/sendoka/sendoka/hosts/server"
	"github.com/sendoka/sendoka/storage/bunstore/bunstoretest"
)

// TestTracing: with a TracerProvider, one send is one trace: the HTTP server span of
// POST /api/v1/emails, the SQL queries, the deliver_message job's span (a child, through
// the job's metadata) and the provider call under it.
func TestTracing(t *testing.T) {
	t.Parallel()
	for _, d := range bunstoretest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			exp := tracetest.NewInMemoryExporter()
			tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
			o := openObserved(t, bunstoretest.DSN(t, d), server.Config{TracerProvider: tp})

			o.sendEmail(t, nil)
			find := func(name string) *tracetest.SpanStub {
				for _, s := range exp.GetSpans() {
					if s.Name == name {
						return &s
					}
				}
				return nil
			}
			// A span is exported when it ends: the job's after the provider call's.
			poll(t, 20*time.Second, func() bool {
				return find("sendoka.provider.send") != nil && find("river.work/deliver_message") != nil
			}, "the job's and the provider call's spans")

			req := find("POST /api/v1/emails")
			require.NotNil(t, req, "the request's span is named by its route")
			require.Equal(t, trace.SpanKindServer, req.SpanKind)
			tid := req.SpanContext.TraceID()

			job := find("river.work/deliver_message")
			require.NotNil(t, job)
			require.Equal(t, tid, job.SpanContext.TraceID(), "the job continues the request's trace")
			require.True(t, job.Parent.IsValid())

			call := find("sendoka.provider.send")
			require.Equal(t, tid, call.SpanContext.TraceID())
			require.Equal(t, job.SpanContext.SpanID(), call.Parent.SpanID(), "the provider call is the job's")

			var queries, inRequest int
			for _, s := range exp.GetSpans() {
				if s.SpanKind != trace.SpanKindClient || s.Name == "sendoka.provider.send" {
					continue
				}
				queries++
				if s.SpanContext.TraceID() == tid {
					inRequest++
				}
			}
			require.Positive(t, queries)
			require.Positive(t, inRequest, "the request's SQL is in its trace")

			status, _ := o.call(t, http.MethodGet, "/healthz", "", nil)
			require.Equal(t, http.StatusOK, status)
		})
	}
}
