package metrics

import (
	"context"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// jobWaitMiddleware records, as a worker starts each job, how long it waited since it was
// due (sendoka_queue_job_wait_seconds).
type jobWaitMiddleware struct {
	river.MiddlewareDefaults
	r *Registry
}

var _ rivertype.WorkerMiddleware = (*jobWaitMiddleware)(nil)

// RiverMiddleware returns the River middleware that records job wait times; give it to the
// queue (riverjobs.Config.Middleware).
func (r *Registry) RiverMiddleware() rivertype.Middleware { return &jobWaitMiddleware{r: r} }

// Work records the job's wait and runs it.
func (m *jobWaitMiddleware) Work(ctx context.Context, job *rivertype.JobRow, doInner func(context.Context) error) error {
	m.r.jobWait.WithLabelValues(job.Queue, job.Kind).Observe(max(time.Since(job.ScheduledAt), 0).Seconds())
	return doInner(ctx)
}
