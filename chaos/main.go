// Command chaos is Sendoka's fault-injection suite: it breaks real `sendoka serve` processes
// on purpose and counts, outside the process under test, what reached the other side.
//
// It builds the sendoka binary (./hosts/sendoka), and for each scenario starts a throw-away
// Postgres cluster of its own (initdb in a temporary directory, on a free port, as the
// postgres user when run as root; the machine's own database is never touched), one or two
// `sendoka serve` processes on it, and the peers a server talks to, all in this process:
// a recording SMTP relay (go-smtp) that counts every message by its Message-ID when the
// final "." arrives, a recording SES endpoint (the API v2 wire protocol) as a second
// provider, and recording webhook receivers. Scenarios run one after the other:
//
//	1   crash       kill -9 the server at random moments during idempotent sends
//	2   handoff     kill -9 while the relay holds the reply to the final "."
//	3   slowrelay   a relay that answers in 3 s, and for a few messages never in time
//	3b  outage      the relay is down for a while during a stream of sends
//	4   dbdown      Postgres stops for a while under load
//	5   webhooks    receivers answering 500, 410, too slowly, or resetting connections
//	6   twoservers  two serve processes on one database: no duplicates, shared limits
//	7   failover    the primary provider goes down mid-stream, the secondary takes over
//	8   diskfull    SQLite locked by another process, then its disk full
//	9   fanout      kill -9 during a 10,000-recipient audience fan-out
//
// Each prints a row: accepted (messages the API answered 200 for), delivered (received by
// a recorder), duplicates (receipts beyond the first), lost (accepted, never received and
// not reported as an unknown outcome), unknown (messages whose hand-off was cut short, which
// Sendoka reports as sent with outcome "unknown" and never resends) and a verdict. The
// command exits non-zero when any row loses or duplicates a message or fails a check.
//
//	go run ./chaos                   # every scenario at full size (make chaos)
//	go run ./chaos -short            # smaller counts and shorter outages (.ci/run; < 5 min)
//	go run ./chaos -only 1,3b -short # some scenarios
//	go run ./chaos -out bench/chaos.md
//
// Run it as root for scenario 8 (it mounts a small tmpfs) and for the clusters (initdb runs
// as the postgres user); everything it starts is stopped on exit, on failure and on Ctrl-C.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"
)

func main() {
	var o options
	flag.BoolVar(&o.short, "short", false, "smaller counts and shorter outages (the CI form, under 5 minutes)")
	flag.StringVar(&o.only, "only", "", "comma-separated scenarios to run ("+strings.Join(scenarioIDs(), ",")+"); empty = all")
	flag.StringVar(&o.out, "out", "", "write the report as Markdown to this file (bench/chaos.md)")
	flag.StringVar(&o.bin, "bin", "", "sendoka binary to test; empty = build ./hosts/sendoka")
	flag.BoolVar(&o.keep, "keep", false, "keep each scenario's directory (logs, data) after the run")
	flag.Parse()
	os.Exit(run(o))
}

// options are the command's flags.
type options struct {
	short bool
	only  string
	out   string
	bin   string
	keep  bool
}

func run(o options) int {
	todo, err := pick(o.only)
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		return 2
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cl := &cleanups{}
	defer cl.run()
	interrupted := make(chan os.Signal, 2)
	signal.Notify(interrupted, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-interrupted
		fmt.Fprintln(os.Stderr, "chaos: interrupted; stopping what it started")
		cancel()
		select {
		case <-interrupted:
		case <-time.After(30 * time.Second):
		}
		cl.run()
		os.Exit(130)
	}()

	started := time.Now()
	bin := o.bin
	if bin == "" {
		fmt.Fprintln(os.Stderr, "chaos: building ./hosts/sendoka")
		if bin, err = buildSendoka(ctx, cl); err != nil {
			fmt.Fprintln(os.Stderr, "chaos:", err)
			return 1
		}
	}
	rep := &report{Command: commandLine(o), Date: started.UTC().Format(time.RFC3339), Machine: machine(), Postgres: postgresVersion(ctx), Short: o.short}
	for _, s := range todo {
		if ctx.Err() != nil {
			break
		}
		fmt.Fprintf(os.Stderr, "chaos: scenario %s (%s): %s\n", s.ID, s.Name, s.What)
		r := runScenario(ctx, o, bin, s, cl)
		rep.Results = append(rep.Results, r)
		fmt.Fprintf(os.Stderr, "chaos: scenario %s: %s in %s\n", s.ID, r.verdict(), r.Took.Round(time.Second))
		for _, f := range r.Failures {
			fmt.Fprintln(os.Stderr, "  FAIL:", f)
		}
	}
	rep.Took = time.Since(started)
	fmt.Print(rep.table())
	if o.out != "" {
		if err := os.WriteFile(o.out, []byte(rep.markdown()), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "chaos:", err)
			return 1
		}
	}
	if ctx.Err() != nil || !rep.passed() {
		return 1
	}
	return 0
}

// runScenario runs s in a directory of its own and returns its row; a scenario that cannot
// run (its setup failed) fails.
func runScenario(ctx context.Context, o options, bin string, s scenario, cl *cleanups) *result {
	r := &result{ID: s.ID, Name: s.Name}
	start := time.Now()
	defer func() { r.Took = time.Since(start) }()
	dir, err := os.MkdirTemp("", "sendoka-chaos-"+s.Name+"-*")
	if err != nil {
		r.fail("setup: %v", err)
		return r
	}
	// Everything the scenario starts registers its own stop on sc; they run when it ends.
	sc := &cleanups{}
	release := cl.add(sc.run)
	defer func() {
		sc.run()
		release()
		if o.keep || len(r.Failures) > 0 && ctx.Err() == nil { // an interrupted run's are no clue
			r.note("files kept in %s", dir)
			return
		}
		os.RemoveAll(dir)
	}()
	env := &env{ctx: ctx, short: o.short, bin: bin, dir: dir, cl: sc, r: r, log: newLogger(s.ID)}
	if err := s.Run(env); err != nil {
		r.fail("%v", err)
	}
	return r
}

// pick returns the scenarios -only names, in the suite's order.
func pick(only string) ([]scenario, error) {
	all := scenarios()
	if strings.TrimSpace(only) == "" {
		return all, nil
	}
	want := map[string]bool{}
	for _, id := range strings.Split(only, ",") {
		id = strings.TrimSpace(id)
		if id == "" {
			continue
		}
		if !slices.Contains(scenarioIDs(), id) {
			return nil, fmt.Errorf("-only: unknown scenario %q (known: %s)", id, strings.Join(scenarioIDs(), ","))
		}
		want[id] = true
	}
	var out []scenario
	for _, s := range all {
		if want[s.ID] {
			out = append(out, s)
		}
	}
	return out, nil
}

func scenarioIDs() []string {
	var ids []string
	for _, s := range scenarios() {
		ids = append(ids, s.ID)
	}
	return ids
}

// commandLine is how this run was started, for the report.
func commandLine(o options) string {
	args := []string{"go run ./chaos"}
	if o.short {
		args = append(args, "-short")
	}
	if o.only != "" {
		args = append(args, "-only", o.only)
	}
	if o.out != "" {
		args = append(args, "-out", o.out)
	}
	return strings.Join(args, " ")
}
