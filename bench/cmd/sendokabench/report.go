package main

import (
	"fmt"
	"strings"
)

// readingHeading opens the hand-written part of bench/results.md, which a run keeps.
const readingHeading = "## Reading these figures"

// report is the Markdown written to bench/results.md.
type report struct {
	Date, Machine, Binary string
	Command               string
	Options               options
	PG                    *pgbenchResult
	Results               []*result
	Notes                 []string
}

func (r *report) markdown() string {
	o := r.Options
	var b strings.Builder
	fmt.Fprintf(&b, "# Sendoka benchmark results\n\n")
	fmt.Fprintf(&b, "- Date: %s\n- Machine: %s\n- Binary: `%s`\n- Command: `%s`\n", r.Date, r.Machine, r.Binary, r.Command)
	fmt.Fprintf(&b, "- Load: %d concurrent keep-alive clients; closed-loop rows %s, the sustained serve row %s, the open-loop latency row %s; test key (sandbox provider)\n",
		o.clients, o.duration, o.sustain, o.latencyDuration)
	fmt.Fprintf(&b, "- Server: %s, %s; delivery rows queue %s messages on Postgres, %s on SQLite; the slow-provider row runs with SENDOKA_SANDBOX_LATENCY=%s and SENDOKA_WORKERS=%d\n",
		setting("SENDOKA_WORKERS", o.workers), setting("SENDOKA_FETCH_COOLDOWN", o.cooldown), thousands(float64(o.backlogPostgres)), thousands(float64(o.backlogSQLite)), o.providerLatency, o.slowWorkers)
	if r.PG != nil {
		fmt.Fprintf(&b, "- pgbench one-row insert, the Postgres yardstick of this run: **%s tps** (`%s`; the script: `%s`)\n", thousands(r.PG.TPS), r.PG.Command, r.PG.Script)
	}
	b.WriteString("- Each row runs its own server process(es) on a fresh database; peak RSS is the measured process's VmHWM.\n\n")

	met, total := 0, 0
	for _, x := range r.Results {
		total++
		if x.verdict() == "met" {
			met++
		}
	}
	fmt.Fprintf(&b, "Targets met in %d of %d rows.\n\n", met, total)
	b.WriteString("| Backend | Row | Process | req/s | msg/s | request p50 | request p99 | errors | accept→provider p50 | accept→provider p99 | backlog at end | × pgbench | peak RSS | target | verdict |\n")
	b.WriteString("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|\n")
	for _, x := range r.Results {
		reqs, p50, p99 := "—", "—", "—"
		if x.Requests > 0 {
			reqs, p50, p99 = thousands(x.ReqPerSec()), ms(pct(x.Latencies, 0.5)), ms(pct(x.Latencies, 0.99))
		}
		msgs := "—"
		if x.MsgPerSec() > 0 {
			msgs = thousands(x.MsgPerSec())
		}
		d50, d99 := "—", "—"
		if len(x.Delay) > 0 {
			d50, d99 = ms(pct(x.Delay, 0.5)), ms(pct(x.Delay, 0.99))
		}
		backlog := "—"
		if x.BacklogKnown {
			backlog = fmt.Sprintf("%s msgs = %.2f s", thousands(float64(x.Backlog)), x.BacklogSeconds())
		}
		ratio := "—"
		if x.PG != nil && x.MsgPerSec() > 0 && !x.Paced {
			ratio = fmt.Sprintf("%.2f", x.MsgPerSec()/x.PG.TPS)
		}
		var targets []string
		for _, t := range x.Targets {
			targets = append(targets, t.Label)
		}
		fmt.Fprintf(&b, "| %s | %s | `%s` | %s | %s | %s | %s | %d | %s | %s | %s | %s | %s | %s | %s |\n",
			x.Backend, x.Name, x.Role, reqs, msgs, p50, p99, x.Errors, d50, d99, backlog, ratio, mb(x.RSS),
			strings.Join(targets, ", "), x.verdict())
	}
	b.WriteString("\n- accept→provider is each message's `sent_at − created_at` as the API reports it, over every message of the row; for the scheduled row it is the lateness, `sent_at − scheduled_at`.\n")
	b.WriteString("- backlog at end is the messages still `queued` the moment the load stopped, and the same in seconds of the row's traffic (backlog ÷ req/s).\n")
	b.WriteString("- For delivery rows msg/s is messages delivered (leaving `queued`) per second by `sendoka worker`, and errors counts messages that ended `failed`.\n")
	b.WriteString("- × pgbench is msg/s ÷ the pgbench tps above. MB are MiB.\n")
	b.WriteString("- Targets: the benchmark issue's figures apply to Postgres (its single-send row is set against pgbench); SQLite rows keep the SQLite targets of earlier issues; a target against another row of the same run (\"≥ 10× api\") holds on both.\n")
	r.ratios(&b)

	b.WriteString("\n### Notes per row\n")
	for _, x := range r.Results {
		var lines []string
		lines = append(lines, x.Notes...)
		if x.FirstError != "" {
			lines = append(lines, fmt.Sprintf("first error: `%s`", strings.TrimSpace(strings.ReplaceAll(x.FirstError, "\n", " "))))
		}
		if x.Pending > 0 {
			lines = append(lines, fmt.Sprintf("%d messages not yet sent when read back", x.Pending))
		}
		if len(lines) > 0 {
			fmt.Fprintf(&b, "\n- %s / %s: %s\n", x.Backend, x.Name, strings.Join(lines, "; "))
		}
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "\n- %s\n", n)
	}
	b.WriteString("\n")
	return b.String()
}

// setting renders a server setting the bench passes, or notes the server's default.
func setting(name string, v any) string {
	if fmt.Sprint(v) == "0" || fmt.Sprint(v) == "0s" {
		return name + " at the server's default"
	}
	return fmt.Sprintf("%s=%v", name, v)
}

// ratios writes the table of rows set against other rows of the same backend and run.
func (r *report) ratios(b *strings.Builder) {
	var lines []string
	for _, x := range r.Results {
		for _, q := range x.Ratios {
			against, ref, got, verdict := q.To, "—", "—", "no target"
			if q.ref != nil {
				against, ref = q.ref.Name, thousands(q.ref.MsgPerSec())
			}
			v, ok := q.value(x)
			if ok {
				got = ratioText(v)
			}
			switch {
			case q.label() == "":
			case !ok:
				verdict = "not measured"
			case q.met(v):
				verdict = "met"
			default:
				verdict = "**missed**"
			}
			target := q.label()
			if target == "" {
				target = "—"
			}
			lines = append(lines, fmt.Sprintf("| %s | %s | %s | %s | %s | %s | %s | %s |\n",
				x.Backend, x.Name, thousands(x.MsgPerSec()), against, ref, got, target, verdict))
		}
	}
	if len(lines) == 0 {
		return
	}
	b.WriteString("\n### Rows against rows of the same run\n\n")
	b.WriteString("Each ratio is the row's msg/s over the other row's, on the same backend in the same run (for single sends msg/s is req/s).\n\n")
	b.WriteString("| Backend | Row | msg/s | against | its msg/s | ratio | target | verdict |\n")
	b.WriteString("|---|---|---:|---|---:|---:|---|---|\n")
	for _, l := range lines {
		b.WriteString(l)
	}
}
