package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"time"
)

// scenario is one fault and what must hold under it.
type scenario struct {
	ID   string // what -only names
	Name string
	What string // one line for the log
	Run  func(*env) error
}

// scenarios lists the suite in the order it runs.
func scenarios() []scenario {
	return []scenario{
		{"1", "crash", "kill -9 at random moments during idempotent sends", runCrash},
		{"2", "handoff", "kill -9 between the hand-off and the job's completion", runHandoff},
		{"3", "slowrelay", "a relay that answers in seconds, and for a few messages too late", runSlowRelay},
		{"3b", "outage", "the relay goes down during a stream of sends, then comes back", runProviderOutage},
		{"4", "dbdown", "Postgres stops under load, then starts again", runDBOutage},
		{"5", "webhooks", "webhook receivers answering 500, 410, too slowly, or resetting", runWebhooks},
		{"6", "twoservers", "two serve processes on one database under load", runTwoServers},
		{"7", "failover", "the primary provider goes down mid-stream", runFailover},
		{"8", "diskfull", "SQLite locked by another process, then its disk full", runDiskFull},
		{"9", "fanout", "kill -9 during an audience fan-out", runFanout},
	}
}

// env is what a scenario runs with.
type env struct {
	ctx   context.Context
	short bool
	bin   string
	dir   string    // the scenario's own directory
	cl    *cleanups // stops what the scenario started, when it ends
	r     *result
	log   *logger
}

// sized returns short in the -short form and full otherwise.
func sized[T any](e *env, full, short T) T {
	if e.short {
		return short
	}
	return full
}

// sleep waits d or until the run is interrupted.
func (e *env) sleep(d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-e.ctx.Done():
		return e.ctx.Err()
	}
}

// randomDuration is uniform in [lo, hi).
func randomDuration(lo, hi time.Duration) time.Duration {
	return lo + time.Duration(rand.Int64N(int64(hi-lo)))
}

// logger prints a scenario's progress on stderr.
type logger struct {
	id    string
	start time.Time
}

func newLogger(id string) *logger { return &logger{id: id, start: time.Now()} }

func (l *logger) printf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "  [%s %5.1fs] %s\n", l.id, time.Since(l.start).Seconds(), fmt.Sprintf(format, args...))
}

func itoa(n int) string { return strconv.Itoa(n) }
