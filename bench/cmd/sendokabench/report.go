package main

import (
	"fmt"
	"strings"
	"time"
)

// report is the Markdown written to bench/results.md.
type report struct {
	Date, Machine, Command string
	Options                options
	Results                []*result
	Notes                  []string
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

func (r *report) markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Sendoka benchmark results\n\n")
	fmt.Fprintf(&b, "- Date: %s\n- Machine: %s\n- Command: `%s`\n", r.Date, r.Machine, r.Command)
	fmt.Fprintf(&b, "- Load: %d concurrent keep-alive clients, %s per scenario, test key (sandbox provider); server with SENDOKA_WORKERS=%d, SENDOKA_FETCH_COOLDOWN=%s\n\n",
		r.Options.clients, r.Options.duration, r.Options.workers, r.Options.cooldown)
	b.WriteString("| Backend | Scenario | req/s | msg/s | p50 | p99 | errors | accept→provider p50 | p99 | max | pgbench one-row insert tps | ratio (msg/s ÷ tps) |\n")
	b.WriteString("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, x := range r.Results {
		pg, ratio := "—", "—"
		if x.PG != nil {
			pg = fmt.Sprintf("%.0f", x.PG.TPS)
			ratio = fmt.Sprintf("%.2f", x.MsgPerSec()/x.PG.TPS)
		}
		fmt.Fprintf(&b, "| %s | %s | %.0f | %.0f | %s | %s | %d | %s | %s | %s | %s | %s |\n",
			x.Backend, x.Scenario, x.ReqPerSec(), x.MsgPerSec(), ms(pct(x.Latencies, 0.5)), ms(pct(x.Latencies, 0.99)),
			x.Errors, ms(pct(x.AcceptToProvider, 0.5)), ms(pct(x.AcceptToProvider, 0.99)), ms(pct(x.AcceptToProvider, 1)), pg, ratio)
	}
	b.WriteString("\naccept→provider is each message's `sent_at − created_at` as the API reports it, over every message of the run.\n")
	for _, x := range r.Results {
		if x.FirstError != "" {
			fmt.Fprintf(&b, "\n%s / %s first error: `%s`\n", x.Backend, x.Scenario, x.FirstError)
		}
		if x.Pending > 0 {
			fmt.Fprintf(&b, "\n%s / %s: %d messages not yet sent when read back\n", x.Backend, x.Scenario, x.Pending)
		}
	}
	for _, x := range r.Results {
		if x.PG != nil {
			fmt.Fprintf(&b, "\npgbench command: `%s`\n", x.PG.Command)
			break
		}
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "\n- %s\n", n)
	}
	return b.String()
}
