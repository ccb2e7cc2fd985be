// Command sendokabench measures a built sendoka binary and writes a Markdown report with
// each figure next to its target. It is what `make bench` runs; tests never depend on its
// figures.
//
// Every row starts its own server process(es) on a throw-away database (SQLite in a temporary
// data dir; a new Postgres database), so rows do not inherit each other's backlog and each
// reports its own peak RSS (VmHWM). The rows:
//
//	api            single sends, 64 clients, `serve -no-workers`: req/s, p50, p99
//	serve          single sends, 64 clients, one `serve` (API + workers), sustained: req/s and
//	               the backlog still queued when the load stops, in seconds of traffic
//	latency        open-loop single sends at half the serve row's req/s: accept→provider
//	               (each message's sent_at − created_at, read back through the API)
//	delivery       a backlog queued by `serve -no-workers`, then delivered by `sendoka worker`
//	               with the zero-latency sandbox: msg/s
//	delivery-slow  the same, the sandbox taking 100 ms per hand-off (SENDOKA_SANDBOX_LATENCY)
//	batch-items, batch-bulk
//	               batches of 100 in both shapes to the API role: msg/s, against the api row's
//	large, scheduled
//	               200 KB emails with attachments on one serve process, and the lateness of
//	               1,000 sends scheduled for the same second
//	audience, webhooks, inbound
//	               a 10,000-contact audience send, signed webhook deliveries to a local
//	               receiver, and received mail through the SMTP listener
//
// and beside the api row, against it: api-nolimits (limits off), api-idem (an
// Idempotency-Key each), prod (every feature at once: an Idempotency-Key each, a live key
// under a burst limit and a monthly quota that are checked but never reached, a webhook
// endpoint on every event, open and click tracking, a template with variables; the worker
// role then delivers the messages and their webhooks) and, on Postgres, api2 (two API-role
// processes on one database, the clients split); beside the serve row, serve2 (two serve
// processes on one Postgres). A row set against another reports the ratio of their msg/s,
// and -only runs the other row too.
//
// On Postgres it first runs pgbench on a one-row insert with the same number of clients and
// reports each throughput as a ratio of it. -only picks rows (ids, backends, backend/id, or
// a part of a row's name), and -duration, -sustain, -latency-duration and -backlog-* shorten
// a dev run, e.g.
//
//	go run ./bench/cmd/sendokabench -only postgres/api,postgres/serve -duration 3s -sustain 5s -out /tmp/r.md
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"time"
)

func main() {
	var o options
	flag.StringVar(&o.bin, "bin", "./bin/sendoka", "the sendoka binary to measure")
	flag.StringVar(&o.out, "out", "bench/results.md", "where to write the report (a \"## Reading these figures\" section already there is kept)")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "how long each closed-loop row (api, batches, large) and pgbench run")
	flag.DurationVar(&o.sustain, "sustain", 30*time.Second, "how long the sustained serve row runs")
	flag.DurationVar(&o.latencyDuration, "latency-duration", 12*time.Second, "how long the open-loop latency row runs")
	flag.Float64Var(&o.latencyRate, "latency-rate", 0, "req/s of the latency row; 0 = half the serve row's")
	flag.IntVar(&o.clients, "clients", 64, "concurrent keep-alive clients")
	flag.StringVar(&o.from, "from", "you@sandbox.sendoka.com", "sender of the single-email rows (api, serve, latency); another domain than the sandbox's is made a verified domain of the server (SENDOKA_BOOTSTRAP_DOMAINS), so the rows measure the check of a sending domain")
	flag.StringVar(&o.pgURL, "pg", envOr("SENDOKA_BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"), "Postgres admin URL; throw-away databases are created on it (empty: skip Postgres)")
	flag.StringVar(&o.backends, "backends", "sqlite,postgres", "backends to run, in order")
	flag.StringVar(&o.only, "only", "", "comma-separated rows to run: ids ("+strings.Join(rowIDs(), ", ")+"), backends, backend/id, or a part of a row's name")
	flag.IntVar(&o.workers, "workers", 200, "SENDOKA_WORKERS of the server; 0 = the server's default")
	flag.DurationVar(&o.cooldown, "fetch-cooldown", 20*time.Millisecond, "SENDOKA_FETCH_COOLDOWN of the server; 0 = the server's default")
	flag.IntVar(&o.backlogPostgres, "backlog-pg", 30000, "messages the delivery rows queue on Postgres")
	flag.IntVar(&o.backlogSQLite, "backlog-sqlite", 15000, "messages the delivery rows queue on SQLite")
	flag.DurationVar(&o.providerLatency, "provider-latency", 100*time.Millisecond, "SENDOKA_SANDBOX_LATENCY of the delivery-slow row")
	flag.IntVar(&o.slowWorkers, "slow-workers", 400, "SENDOKA_WORKERS of the delivery-slow row")
	flag.Parse()
	ctx := context.Background()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "sendokabench:", err)
		os.Exit(1)
	}
}

type options struct {
	bin, out, pgURL, only, backends  string
	from                             string
	duration, sustain, cooldown      time.Duration
	latencyDuration, providerLatency time.Duration
	latencyRate                      float64
	clients, workers, slowWorkers    int
	backlogPostgres, backlogSQLite   int
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func rowIDs() []string {
	var ids []string
	for _, r := range rows() {
		ids = append(ids, r.ID)
	}
	return ids
}

// selected reports whether -only picks row r on backend b. A known id or backend matches
// exactly; anything else matches a part of the row's name.
func (o options) selected(b string, r row) bool {
	if o.only == "" {
		return true
	}
	ids := rowIDs()
	for _, item := range strings.Split(o.only, ",") {
		item = strings.TrimSpace(item)
		bk, id, hasSlash := strings.Cut(item, "/")
		switch {
		case item == "":
		case hasSlash && (bk == sqliteBackend || bk == postgresBackend):
			if bk == b && id == r.ID {
				return true
			}
		case item == sqliteBackend || item == postgresBackend:
			if item == b {
				return true
			}
		case slices.Contains(ids, item):
			if item == r.ID {
				return true
			}
		case strings.Contains(r.Name, item):
			return true
		}
	}
	return false
}

// plan is the rows to run on backend b, in order: those -only picks, and the earlier rows
// they are set against (a ratio needs both figures of the same run).
func (o options) plan(b string) []row {
	need := map[string]bool{}
	for _, r := range rows() {
		if r.runsOn(b) && o.selected(b, r) {
			for _, rel := range r.Relative {
				need[rel.To] = true
			}
		}
	}
	var todo []row
	for _, r := range rows() {
		if !r.runsOn(b) {
			continue
		}
		if o.selected(b, r) {
			todo = append(todo, r)
		} else if need[r.ID] {
			fmt.Fprintf(os.Stderr, "%s %s: added, rows of -only are set against it\n", b, r.ID)
			todo = append(todo, r)
		}
	}
	return todo
}

func run(ctx context.Context, o options) error {
	rep := &report{
		Date:    time.Now().UTC().Format(time.RFC3339),
		Machine: machine(),
		Binary:  binaryVersion(o.bin),
		Command: "make bench  # sendokabench " + strings.Join(os.Args[1:], " "),
		Options: o,
	}
	for _, name := range strings.Split(o.backends, ",") {
		b := &backend{name: strings.TrimSpace(name)}
		todo := o.plan(b.name)
		if len(todo) == 0 {
			continue
		}
		switch b.name {
		case sqliteBackend:
		case postgresBackend:
			if o.pgURL == "" {
				rep.Notes = append(rep.Notes, "Postgres skipped: no -pg URL")
				continue
			}
			b.adminURL = o.pgURL
			_, drop, err := createDatabase(ctx, o.pgURL)
			if err != nil {
				rep.Notes = append(rep.Notes, "Postgres skipped: "+err.Error())
				continue
			}
			drop()
			fmt.Fprintln(os.Stderr, "postgres: pgbench")
			if b.pg, err = pgbench(ctx, o.pgURL, o); err != nil {
				rep.Notes = append(rep.Notes, "pgbench failed: "+err.Error())
			}
			rep.PG = b.pg
		default:
			return fmt.Errorf("unknown backend %q", b.name)
		}
		prior := map[string]*result{}
		for _, r := range todo {
			fmt.Fprintf(os.Stderr, "%s %s: running\n", b.name, r.ID)
			res, err := runRow(ctx, o, b, r, prior)
			if err != nil {
				rep.Notes = append(rep.Notes, fmt.Sprintf("%s / %s failed: %v", b.name, r.ID, err))
				fmt.Fprintf(os.Stderr, "%s %s: %v\n", b.name, r.ID, err)
				continue
			}
			prior[r.ID] = res
			rep.Results = append(rep.Results, res)
			fmt.Fprintf(os.Stderr, "%s %s: %.0f req/s, %.0f msg/s, RSS %s: %s\n", b.name, r.ID, res.ReqPerSec(), res.MsgPerSec(), mb(res.RSS), res.verdict())
		}
	}
	md := rep.markdown()
	if old, err := os.ReadFile(o.out); err == nil {
		// The hand-written reading of the figures outlives a run; update it by hand.
		if i := strings.Index(string(old), "\n"+readingHeading); i >= 0 {
			md += string(old[i:])
		}
	}
	if err := os.WriteFile(o.out, []byte(md), 0o644); err != nil {
		return err
	}
	fmt.Print(md)
	return nil
}

// runRow runs r on a database of its own.
func runRow(ctx context.Context, o options, b *backend, r row, prior map[string]*result) (*result, error) {
	db, err := b.newDatabase(ctx)
	if err != nil {
		return nil, err
	}
	defer db.close()
	res, err := r.Run(ctx, &rowContext{o: o, b: b, db: db, prior: prior})
	if err != nil {
		return nil, err
	}
	res.ID, res.Backend, res.PG = r.ID, b.name, b.pg
	if res.Name == "" || res.Name == "single email" {
		res.Name = r.Name
	}
	if r.Targets != nil {
		res.Targets = r.Targets(b.name)
	}
	for _, rel := range r.Relative {
		q := ratio{relative: rel, ref: prior[rel.To]}
		res.Ratios = append(res.Ratios, q)
		if q.label() != "" {
			res.Targets = append(res.Targets, q.target())
		}
	}
	res.Targets = append(res.Targets, rssTarget())
	return res, nil
}

// binaryVersion is what the measured binary says it is (git describe, -dirty included).
func binaryVersion(bin string) string {
	out, err := exec.Command(bin, "version").Output()
	if err != nil {
		return bin
	}
	return strings.TrimSpace(string(out))
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
