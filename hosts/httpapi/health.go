package httpapi

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/sendoka/sendoka/sendoka"
)

const tagHealth = "Health"

// HealthStatus answers the health probes.
type HealthStatus struct {
	Status string `json:"status" enum:"ok,ready" doc:"ok from /healthz, ready from /readyz" example:"ok"`
}

type healthOutput struct{ Body *HealthStatus }

// registerHealth adds the probes New serves beside the API: /healthz, always 200 while the
// process serves, and /readyz, 200 while Options.Ready says so and 503 NOT_READY otherwise
// (within Options.ReadyTimeout, even when Ready does not return). They take no API key and
// do no database work of their own.
func registerHealth(api huma.API, opts Options) {
	op := func(path, id, summary, description string, errors ...int) huma.Operation {
		o := huma.Operation{
			OperationID: id, Method: http.MethodGet, Path: path, Summary: summary, Description: description,
			Tags: []string{tagHealth}, Security: []map[string][]string{},
			Middlewares: huma.Middlewares{envelopeMiddleware(opts.Logger)},
			Responses:   errorResponses(api, errors...),
		}
		return o
	}
	huma.Register(api, op("/healthz", "get-health", "Liveness probe",
		"200 {\"status\":\"ok\"} while the process serves. It checks nothing else: use it to restart a stuck process, "+
			"and /readyz to route traffic.", http.StatusInternalServerError),
		func(ctx context.Context, _ *struct{}) (*healthOutput, error) {
			return &healthOutput{Body: &HealthStatus{Status: "ok"}}, nil
		})
	huma.Register(api, op("/readyz", "get-readiness", "Readiness probe",
		"200 {\"status\":\"ready\"} when the server can take traffic (its database answers); 503 NOT_READY "+
			"within a second otherwise.", http.StatusInternalServerError, http.StatusServiceUnavailable),
		func(ctx context.Context, _ *struct{}) (*healthOutput, error) {
			if opts.Ready != nil {
				rctx, cancel := context.WithTimeout(ctx, opts.ReadyTimeout)
				defer cancel()
				if err := ready(rctx, opts.Ready); err != nil {
					opts.Logger.WarnContext(ctx, "not ready", "error", err)
					return nil, fail(ctx, &sendoka.Error{Code: CodeNotReady, Message: "not ready"})
				}
			}
			return &healthOutput{Body: &HealthStatus{Status: "ready"}}, nil
		})
}
