package metrics

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sendoka/sendoka/sendoka"
)

// cached runs read at most once per ttl and hands every scrape in between the last result.
// A failed read keeps no result: the next scrape tries again.
type cached[T any] struct {
	ttl  time.Duration
	read func(ctx context.Context) (T, error)

	mu   sync.Mutex
	at   time.Time
	last T
}

func (c *cached[T]) get(ctx context.Context) (T, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.at.IsZero() && time.Since(c.at) < c.ttl {
		return c.last, nil
	}
	v, err := c.read(ctx)
	if err != nil {
		var zero T
		return zero, err
	}
	c.last, c.at = v, time.Now()
	return v, nil
}

// jobCount is one row of the queue query.
type jobCount struct {
	queue, kind, state string
	count              int64
	oldestSeconds      float64 // age of the group's oldest job past its scheduled time
}

// queueCollector reads River's job table on scrape: jobs waiting or running per queue,
// kind and state, and how long the oldest available job has been due.
type queueCollector struct {
	r      *Registry
	jobs   *prometheus.Desc
	oldest *prometheus.Desc
	cache  cached[[]jobCount]
}

// The queue query counts the jobs not yet finished. Both dialects keep River's table as
// river_job; SQLite keeps its times as text, which julianday reads.
const (
	queueQueryPostgres = `SELECT queue, kind, state::text, count(*),
	COALESCE(EXTRACT(EPOCH FROM (now() - min(scheduled_at)))::float8, 0)
	FROM river_job WHERE state IN ('available', 'scheduled', 'retryable', 'running', 'pending')
	GROUP BY queue, kind, state`
	queueQuerySQLite = `SELECT queue, kind, state, count(*),
	COALESCE((julianday('now') - julianday(min(scheduled_at))) * 86400.0, 0)
	FROM river_job WHERE state IN ('available', 'scheduled', 'retryable', 'running', 'pending')
	GROUP BY queue, kind, state`
)

// WatchQueue adds the queue gauges, sendoka_queue_jobs and
// sendoka_queue_oldest_job_age_seconds, read from River's river_job table in db on scrape.
// dialect is "postgres" or "sqlite" (storage/bunstore's names).
func (r *Registry) WatchQueue(db *sql.DB, dialect string) error {
	query := queueQueryPostgres
	switch dialect {
	case "postgres":
	case "sqlite":
		query = queueQuerySQLite
	default:
		return fmt.Errorf("metrics: unknown dialect %q", dialect)
	}
	qc := &queueCollector{
		r: r,
		jobs: prometheus.NewDesc(Namespace+"_queue_jobs",
			"Jobs not finished, by River queue, kind and state (available: due and waiting for a worker).",
			[]string{"queue", "kind", "state"}, nil),
		oldest: prometheus.NewDesc(Namespace+"_queue_oldest_job_age_seconds",
			"How long the oldest available job of a River queue and kind has been due.",
			[]string{"queue", "kind"}, nil),
	}
	qc.cache = cached[[]jobCount]{ttl: r.opts.CacheTTL, read: func(ctx context.Context) ([]jobCount, error) {
		rows, err := db.QueryContext(ctx, query)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		var out []jobCount
		for rows.Next() {
			var j jobCount
			if err := rows.Scan(&j.queue, &j.kind, &j.state, &j.count, &j.oldestSeconds); err != nil {
				return nil, err
			}
			out = append(out, j)
		}
		return out, rows.Err()
	}}
	if err := r.reg.Register(qc); err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	r.addNames("queue_jobs", false)
	r.addNames("queue_oldest_job_age_seconds", false)
	return nil
}

func (qc *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- qc.jobs
	ch <- qc.oldest
}

func (qc *queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), qc.r.opts.ReadTimeout)
	defer cancel()
	rows, err := qc.cache.get(ctx)
	if err != nil {
		qc.r.readErrors.WithLabelValues("queue").Inc()
		return
	}
	for _, j := range rows {
		ch <- prometheus.MustNewConstMetric(qc.jobs, prometheus.GaugeValue, float64(j.count), j.queue, j.kind, j.state)
		if j.state == "available" {
			ch <- prometheus.MustNewConstMetric(qc.oldest, prometheus.GaugeValue, max(j.oldestSeconds, 0), j.queue, j.kind)
		}
	}
}

// QuotaReader reports orgs' monthly quota use; *sendoka.Client is one.
type QuotaReader interface {
	QuotaUsage(ctx context.Context) ([]sendoka.QuotaUse, error)
}

// quotaCollector reads orgs' quota use on scrape.
type quotaCollector struct {
	r     *Registry
	used  *prometheus.Desc
	limit *prometheus.Desc
	cache cached[[]sendoka.QuotaUse]
}

// WatchQuota adds the quota gauges, sendoka_quota_used_messages and
// sendoka_quota_limit_messages, per org and channel this month, read from q on scrape.
func (r *Registry) WatchQuota(q QuotaReader) error {
	qc := &quotaCollector{
		r: r,
		used: prometheus.NewDesc(Namespace+"_quota_used_messages",
			"Live messages counted against an org's monthly quota this month (UTC), per channel.",
			[]string{"org_id", "channel"}, nil),
		limit: prometheus.NewDesc(Namespace+"_quota_limit_messages",
			"An org's monthly quota, per channel (orgs whose plan has one and no overage).",
			[]string{"org_id", "channel"}, nil),
		cache: cached[[]sendoka.QuotaUse]{ttl: r.opts.CacheTTL, read: q.QuotaUsage},
	}
	if err := r.reg.Register(qc); err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	r.addNames("quota_used_messages", false)
	r.addNames("quota_limit_messages", false)
	return nil
}

func (qc *quotaCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- qc.used
	ch <- qc.limit
}

func (qc *quotaCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), qc.r.opts.ReadTimeout)
	defer cancel()
	uses, err := qc.cache.get(ctx)
	if err != nil {
		qc.r.readErrors.WithLabelValues("quota").Inc()
		return
	}
	for _, u := range uses {
		ch <- prometheus.MustNewConstMetric(qc.used, prometheus.GaugeValue, float64(u.Used), u.OrgID, string(u.Channel))
		ch <- prometheus.MustNewConstMetric(qc.limit, prometheus.GaugeValue, float64(u.Limit), u.OrgID, string(u.Channel))
	}
}
