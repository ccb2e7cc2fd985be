// Command sendokabench measures a built sendoka binary: it starts the server on SQLite and on
// Postgres, drives scenarios with concurrent keep-alive clients for a fixed time, and writes a
// Markdown report. It is what `make bench` runs; tests never depend on its figures.
//
// Per scenario it reports requests/s, messages/s, p50/p99 request latency, and
// accept-to-provider latency (a message's sent_at minus its created_at, read back through the
// API). On Postgres it also runs pgbench on a one-row insert against the same server, and
// reports Sendoka's throughput as a ratio of it.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

func main() {
	var o options
	flag.StringVar(&o.bin, "bin", "./bin/sendoka", "the sendoka binary to measure")
	flag.StringVar(&o.out, "out", "bench/results.md", "where to write the report")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "how long each scenario runs")
	flag.IntVar(&o.clients, "clients", 64, "concurrent keep-alive clients")
	flag.StringVar(&o.pgURL, "pg", envOr("SENDOKA_BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"), "Postgres admin URL; a throw-away database is created on it (empty: skip Postgres)")
	flag.StringVar(&o.only, "only", "", "run only scenarios whose name contains this")
	flag.IntVar(&o.workers, "workers", 200, "SENDOKA_WORKERS for the server")
	flag.DurationVar(&o.cooldown, "fetch-cooldown", 20*time.Millisecond, "SENDOKA_FETCH_COOLDOWN for the server")
	flag.Parse()
	ctx := context.Background()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "sendokabench:", err)
		os.Exit(1)
	}
}

type options struct {
	bin, out, pgURL, only string
	duration, cooldown    time.Duration
	clients, workers      int
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func run(ctx context.Context, o options) error {
	rep := &report{
		Date:    time.Now().UTC().Format(time.RFC3339),
		Machine: machine(),
		Command: "make bench  # " + strings.Join(os.Args, " "),
		Options: o,
	}
	// SQLite.
	if err := runBackend(ctx, o, rep, "sqlite", "", nil); err != nil {
		return err
	}
	// Postgres, with pgbench as the yardstick.
	if o.pgURL != "" {
		db, drop, err := createDatabase(ctx, o.pgURL)
		if err != nil {
			rep.Notes = append(rep.Notes, "Postgres skipped: "+err.Error())
		} else {
			defer drop()
			pg, err := pgbench(ctx, db, o)
			if err != nil {
				rep.Notes = append(rep.Notes, "pgbench failed: "+err.Error())
			}
			if err := runBackend(ctx, o, rep, "postgres", db, pg); err != nil {
				return err
			}
		}
	}
	if err := os.WriteFile(o.out, []byte(rep.markdown()), 0o644); err != nil {
		return err
	}
	fmt.Print(rep.markdown())
	return nil
}

func machine() string {
	cpu := ""
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "model name") {
				_, cpu, _ = strings.Cut(line, ": ")
				break
			}
		}
	}
	pg := ""
	if out, err := exec.Command("psql", "--version").Output(); err == nil {
		pg = strings.TrimSpace(string(out))
	}
	return fmt.Sprintf("%s/%s, %d cores (%s), %s, %s", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), cpu, runtime.Version(), pg)
}
