package riverjobs

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivertype"

	"github.com/sendoka/sendoka/sendoka"
)

// Handler runs the work behind every job kind. *sendoka.Client is the Handler; it is given
// to Start rather than New because the client is itself built with the Queue.
type Handler interface {
	// RunJob runs one job (sendoka.Client.RunJob).
	RunJob(ctx context.Context, j sendoka.Job, run sendoka.JobRun) error
}

var (
	_ sendoka.Queue        = (*Queue)(nil)
	_ sendoka.JobCompleter = (*Queue)(nil)
	_ Handler              = (*sendoka.Client)(nil)
)

// sqlTxer is what a sendoka.Tx must offer for its jobs to join it (storage/bunstore's Tx
// does). It keeps the queue and the storage packages from importing each other.
type sqlTxer interface {
	SQLTx() *sql.Tx
}

// Queue is the sendoka.Queue on River. It is safe for concurrent use.
type Queue struct {
	cfg     Config
	dialect string
	client  *river.Client[*sql.Tx]
	specs   map[sendoka.JobKind]sendoka.JobSpec

	mu      sync.RWMutex
	handler Handler
	run     *run // the workers since the last Start; nil when never started or stopped
}

// run is one Start..Stop span of the workers. Its supervise goroutine alone stops River:
// River's Stop and StopAndCancel hold a lock until the client has stopped, whatever their
// context says, so two concurrent stops would let the second wait unbounded.
type run struct {
	stopOnce, hardOnce sync.Once
	stop               chan struct{} // closed to ask for a graceful stop
	hard               chan struct{} // closed to cancel the running jobs
	done               chan struct{} // closed once River has stopped
}

// New returns a Queue on db, a database already migrated with Migrate. dialect is
// DialectPostgres (River's riverdatabasesql driver) or DialectSQLite (riversqlite; the
// *sql.DB should have a single open connection, as storage/bunstore's has).
//
// db is the same *sql.DB the store uses, so Enqueue can join the store's transactions. The
// caller keeps ownership of db: Stop does not close it.
func New(db *sql.DB, dialect string, cfg Config) (*Queue, error) {
	if db == nil {
		return nil, errors.New("riverjobs: nil *sql.DB")
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	q := &Queue{cfg: cfg, dialect: dialect, specs: map[sendoka.JobKind]sendoka.JobSpec{}}

	// Workers are registered even on an insert-only queue, so River checks at insert time
	// that every kind has a worker somewhere.
	workers := river.NewWorkers()
	for _, spec := range sendoka.JobSpecs(cfg.RecoveryInterval, cfg.JobTimeout) {
		q.specs[spec.Kind] = spec
		if err := addWorker(workers, spec, &jobWorker{q: q, spec: spec}); err != nil {
			return nil, fmt.Errorf("riverjobs: %w", err)
		}
	}
	rc := &river.Config{
		FetchCooldown:        cfg.FetchCooldown,
		FetchPollInterval:    cfg.FetchPollInterval,
		JobTimeout:           cfg.JobTimeout,
		Logger:               riverLogger(cfg.Logger),
		MaxAttempts:          cfg.MaxAttempts,
		Middleware:           cfg.Middleware,
		RescueStuckJobsAfter: cfg.RescueStuckJobsAfter,
		TestOnly:             cfg.testOnly,
		Workers:              workers,
	}
	if !cfg.InsertOnly {
		// One River queue per Sendoka queue, each with its own workers: recovery, events or
		// webhooks never wait behind a backlog of deliveries (and the other way round).
		rc.Queues = map[string]river.QueueConfig{}
		for _, name := range sendoka.Queues {
			rc.Queues[cfg.riverQueue(name)] = river.QueueConfig{MaxWorkers: cfg.workers(name)}
		}
		// Only the elected leader enqueues periodic jobs, so one node runs each at a time.
		for _, spec := range q.specs {
			if spec.Every <= 0 {
				continue
			}
			spec := spec
			rc.PeriodicJobs = append(rc.PeriodicJobs, river.NewPeriodicJob(river.PeriodicInterval(spec.Every),
				func() (river.JobArgs, *river.InsertOpts) {
					return jobArgs{kind: spec.Kind}, &river.InsertOpts{Queue: cfg.riverQueue(spec.Queue), MaxAttempts: spec.MaxAttempts}
				}, &river.PeriodicJobOpts{ID: string(spec.Kind), RunOnStart: true}))
		}
	}
	switch dialect {
	case DialectPostgres:
		// Inserts stay on the store's *sql.Tx; a pgx listener, when given, wakes idle
		// workers on new jobs (otherwise the client polls).
		driver := riverdatabasesql.New(db)
		if cfg.ListenerPool != nil {
			driver = riverdatabasesql.NewWithPgxListener(db, cfg.ListenerPool)
		}
		q.client, err = river.NewClient(driver, rc)
	case DialectSQLite:
		q.client, err = river.NewClient(riversqlite.New(db), rc)
	default:
		return nil, fmt.Errorf("riverjobs: unknown dialect %q (want %q or %q)", dialect, DialectPostgres, DialectSQLite)
	}
	if err != nil {
		return nil, fmt.Errorf("riverjobs: %w", err)
	}
	return q, nil
}

// Enqueue inserts jobs in tx with one InsertManyTx: they become visible to workers only if
// tx commits. It returns River's job ids, in the order of jobs. tx must expose its *sql.Tx
// (SQLTx() *sql.Tx), as storage/bunstore's Tx does.
func (q *Queue) Enqueue(ctx context.Context, tx sendoka.Tx, jobs ...sendoka.Job) ([]int64, error) {
	if len(jobs) == 0 {
		return nil, nil
	}
	stx, err := sqlTxOf(tx)
	if err != nil {
		return nil, err
	}
	params := make([]river.InsertManyParams, len(jobs))
	for i, j := range jobs {
		spec, ok := q.specs[j.Kind]
		if !ok {
			return nil, fmt.Errorf("riverjobs: job %d: unknown kind %q", i, j.Kind)
		}
		if j.SubjectID == "" && spec.Every <= 0 {
			return nil, fmt.Errorf("riverjobs: job %d: %s without a subject", i, j.Kind)
		}
		if j.Kind == sendoka.JobProviderEvent && len(j.Payload) == 0 {
			return nil, fmt.Errorf("riverjobs: job %d: %s without an event", i, j.Kind)
		}
		queue := spec.Queue
		if j.Queue != "" {
			queue = j.Queue
		}
		opts := &river.InsertOpts{Queue: q.cfg.riverQueue(queue), ScheduledAt: j.RunAt, MaxAttempts: spec.MaxAttempts} // 0: Config.MaxAttempts
		if j.UniqueKey != "" {
			// Unique by kind and the args' unique fields (subject and key) among jobs not yet
			// finished.
			opts.UniqueOpts = river.UniqueOpts{ByArgs: true}
		}
		params[i] = river.InsertManyParams{Args: jobArgs{kind: j.Kind, SubjectID: j.SubjectID, Payload: j.Payload, UniqueKey: j.UniqueKey}, InsertOpts: opts}
	}
	res, err := q.client.InsertManyTx(ctx, stx, params)
	if err != nil {
		return nil, fmt.Errorf("riverjobs: insert jobs: %w", err)
	}
	return idsInOrder(jobs, res)
}

// idsInOrder returns the id of each job's row. River returns rows in insertion order in
// practice, but does not document it; matching rows to jobs by (kind, subject) costs little
// and keeps a message from ever pointing at another message's job.
func idsInOrder(jobs []sendoka.Job, res []*rivertype.JobInsertResult) ([]int64, error) {
	if len(res) != len(jobs) {
		return nil, fmt.Errorf("riverjobs: inserted %d jobs, River returned %d", len(jobs), len(res))
	}
	type key struct{ kind, subject string }
	rows := make(map[key][]int64, len(res))
	for _, r := range res {
		var a jobArgs
		if err := json.Unmarshal(r.Job.EncodedArgs, &a); err != nil {
			return nil, fmt.Errorf("riverjobs: job %d args: %w", r.Job.ID, err)
		}
		k := key{r.Job.Kind, a.SubjectID}
		rows[k] = append(rows[k], r.Job.ID)
	}
	ids := make([]int64, len(jobs))
	for i, j := range jobs {
		k := key{string(j.Kind), j.SubjectID}
		if len(rows[k]) == 0 {
			return nil, fmt.Errorf("riverjobs: no inserted job matches job %d (%s %s)", i, j.Kind, j.SubjectID)
		}
		ids[i], rows[k] = rows[k][0], rows[k][1:]
	}
	return ids, nil
}

// Cancel cancels a job in tx (River's JobCancelTx): a job that has not started never runs;
// a running one has its context cancelled and is not retried. An unknown or finished job is
// not an error.
func (q *Queue) Cancel(ctx context.Context, tx sendoka.Tx, jobID int64) error {
	stx, err := sqlTxOf(tx)
	if err != nil {
		return err
	}
	if _, err := q.client.JobCancelTx(ctx, stx, jobID); err != nil && !errors.Is(err, river.ErrNotFound) {
		return fmt.Errorf("riverjobs: cancel job %d: %w", jobID, err)
	}
	return nil
}

// runningJobKey carries the River job a worker is running in its context, for CompleteTx.
type runningJobKey struct{}

// CompleteTx completes, in tx, the job that ctx's worker is running, so the job's completion
// commits with the core's record of its result: one commit instead of two. It reports false
// when ctx carries no running job of this Queue, or River found the job no longer running
// (then River completes it as usual when the worker returns).
func (q *Queue) CompleteTx(ctx context.Context, tx sendoka.Tx) (bool, error) {
	job, ok := ctx.Value(runningJobKey{}).(*river.Job[jobArgs])
	if !ok || job == nil {
		return false, nil
	}
	stx, err := sqlTxOf(tx)
	if err != nil {
		return false, err
	}
	switch q.dialect {
	case DialectPostgres:
		_, err = river.JobCompleteTx[*riverdatabasesql.Driver](ctx, stx, job)
	default:
		_, err = river.JobCompleteTx[*riversqlite.Driver](ctx, stx, job)
	}
	if err != nil {
		q.cfg.Logger.DebugContext(ctx, "riverjobs: completing the job in the core's transaction failed; River completes it later", "job_id", job.ID, "error", err)
		return false, nil
	}
	return true, nil
}

// addWorker registers w for spec's kind. River takes a worker's kind from its args type;
// one args type serves every Sendoka kind, so the kind is given as a value
// (river.AddWorkerArgs, which panics where AddWorkerSafely would return an error).
func addWorker(workers *river.Workers, spec sendoka.JobSpec, w *jobWorker) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("register %s: %v", spec.Kind, r)
		}
	}()
	river.AddWorkerArgs(workers, jobArgs{kind: spec.Kind}, w)
	return nil
}

// StalledDeliveries lists deliver_message jobs of this queue that have been running for
// longer than runningFor, by River's attempted_at, oldest first.
func (q *Queue) StalledDeliveries(ctx context.Context, runningFor time.Duration, limit int) ([]sendoka.StalledJob, error) {
	params := river.NewJobListParams().Kinds(string(sendoka.JobDeliverMessage)).
		States(rivertype.JobStateRunning).OrderBy(river.JobListOrderByTime, river.SortOrderAsc).First(limit)
	res, err := q.client.JobList(ctx, params)
	if err != nil {
		return nil, fmt.Errorf("riverjobs: list running jobs: %w", err)
	}
	cutoff := time.Now().Add(-runningFor)
	var out []sendoka.StalledJob
	for _, j := range res.Jobs {
		if j.AttemptedAt == nil || j.AttemptedAt.After(cutoff) {
			break // oldest first: the rest are younger
		}
		var a jobArgs
		if err := json.Unmarshal(j.EncodedArgs, &a); err != nil || a.SubjectID == "" {
			continue
		}
		out = append(out, sendoka.StalledJob{JobID: j.ID, MessageID: a.SubjectID})
	}
	return out, nil
}

func sqlTxOf(tx sendoka.Tx) (*sql.Tx, error) {
	t, ok := tx.(sqlTxer)
	if !ok {
		return nil, fmt.Errorf("riverjobs: the store's transaction (%T) has no SQLTx() *sql.Tx method, so jobs cannot join it; use storage/bunstore", tx)
	}
	stx := t.SQLTx()
	if stx == nil {
		return nil, errors.New("riverjobs: the store's transaction returned a nil *sql.Tx")
	}
	return stx, nil
}

// Start starts working jobs with h, in the background, and returns once the workers run.
// Jobs run with contexts that carry ctx's values. Cancelling ctx begins a graceful stop, as
// Stop does (so a signal context works), but does not wait for it: call Stop to wait and to
// bound the wait. Start fails on an InsertOnly queue and on one already running.
func (q *Queue) Start(ctx context.Context, h Handler) error {
	if q.cfg.InsertOnly {
		return errors.New("riverjobs: an InsertOnly queue does not run jobs")
	}
	if h == nil {
		return errors.New("riverjobs: Start needs a Handler")
	}
	r := &run{stop: make(chan struct{}), hard: make(chan struct{}), done: make(chan struct{})}
	q.mu.Lock()
	if q.run != nil {
		q.mu.Unlock()
		return errors.New("riverjobs: already started")
	}
	q.handler, q.run = h, r
	q.mu.Unlock()
	// River would treat ctx's cancellation as a hard stop, cancelling running jobs mid-send;
	// supervise turns it into a graceful one instead.
	if err := q.client.Start(context.WithoutCancel(ctx)); err != nil {
		q.mu.Lock()
		q.run = nil
		q.mu.Unlock()
		return fmt.Errorf("riverjobs: start: %w", err)
	}
	go q.supervise(ctx, r)
	return nil
}

// supervise stops River when asked (Stop, or ctx cancelled): gracefully, then by cancelling
// the running jobs if Stop's context ends first.
func (q *Queue) supervise(ctx context.Context, r *run) {
	defer close(r.done)
	select {
	case <-r.stop:
	case <-ctx.Done():
		q.cfg.Logger.InfoContext(ctx, "riverjobs: start context ended; stopping gracefully")
	}
	stopCtx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-r.hard:
			cancel()
		case <-stopCtx.Done():
		}
	}()
	if err := q.client.Stop(stopCtx); err != nil {
		// Asked to hurry: cancel the jobs' contexts and wait for them to return.
		if err := q.client.StopAndCancel(context.Background()); err != nil {
			q.cfg.Logger.Error("riverjobs: stop", "error", err)
		}
	}
}

// Stop shuts the workers down gracefully: it stops fetching jobs and waits for running ones
// to finish. If ctx ends first, it cancels the running jobs' contexts and returns ctx's
// error without waiting for them (a later Stop waits for them to return). A job cut short
// is retried later; the core's claim keeps it from being sent twice. Stop on a queue never
// started, or already stopped, does nothing. After Stop returns nil, Start may run again.
func (q *Queue) Stop(ctx context.Context) error {
	q.mu.RLock()
	r := q.run
	q.mu.RUnlock()
	if r == nil {
		return nil
	}
	r.stopOnce.Do(func() { close(r.stop) })
	select {
	case <-r.done:
		q.mu.Lock()
		if q.run == r {
			q.run = nil
		}
		q.mu.Unlock()
		return nil
	case <-ctx.Done():
		r.hardOnce.Do(func() { close(r.hard) })
		return ctx.Err()
	}
}

func (q *Queue) currentHandler() Handler {
	q.mu.RLock()
	defer q.mu.RUnlock()
	return q.handler
}
