package main

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// target is one figure a row should reach, from the issue that set it.
type target struct {
	Label string
	// Check returns whether r meets the target and, when it misses, the figure that missed;
	// known is false when r lacks the figure (no pgbench, say).
	Check func(r *result) (met, known bool, got string)
}

// maxRSS is the memory target of every row.
const maxRSS = 200 << 20

func minReqPerSec(want float64) target {
	return target{Label: fmt.Sprintf("≥ %s req/s", thousands(want)), Check: func(r *result) (bool, bool, string) {
		return r.ReqPerSec() >= want, true, fmt.Sprintf("%s req/s", thousands(r.ReqPerSec()))
	}}
}

func minMsgPerSec(want float64) target {
	return target{Label: fmt.Sprintf("≥ %s msg/s", thousands(want)), Check: func(r *result) (bool, bool, string) {
		return r.MsgPerSec() >= want, true, fmt.Sprintf("%s msg/s", thousands(r.MsgPerSec()))
	}}
}

// minRatio is a throughput of at least want times pgbench's one-row insert.
func minRatio(want float64) target {
	return target{Label: fmt.Sprintf("≥ %.2f× pgbench", want), Check: func(r *result) (bool, bool, string) {
		if r.PG == nil {
			return false, false, ""
		}
		got := r.MsgPerSec() / r.PG.TPS
		return got >= want, true, fmt.Sprintf("%.2f× pgbench", got)
	}}
}

func maxRequestP99(want time.Duration) target {
	return target{Label: "request p99 ≤ " + short(want), Check: func(r *result) (bool, bool, string) {
		got := pct(r.Latencies, 0.99)
		return got <= want, len(r.Latencies) > 0, "request p99 " + ms(got)
	}}
}

// maxElapsed bounds how long the row's work took (Elapsed).
func maxElapsed(name string, want time.Duration) target {
	return target{Label: name + " ≤ " + short(want), Check: func(r *result) (bool, bool, string) {
		return r.Elapsed <= want, r.Elapsed > 0, fmt.Sprintf("%s in %.2f s", name, r.Elapsed.Seconds())
	}}
}

// maxDelay bounds the p-th percentile of the row's delays (accept→provider, or lateness).
func maxDelay(name string, p float64, want time.Duration) target {
	return target{Label: name + " ≤ " + short(want), Check: func(r *result) (bool, bool, string) {
		got := pct(r.Delay, p)
		return got <= want && r.Pending == 0, len(r.Delay) > 0, fmt.Sprintf("%s %s", name, ms(got))
	}}
}

func maxBacklogSeconds(want float64) target {
	return target{Label: fmt.Sprintf("backlog < %g s", want), Check: func(r *result) (bool, bool, string) {
		got := r.BacklogSeconds()
		return got < want, r.BacklogKnown, fmt.Sprintf("backlog %.1f s", got)
	}}
}

// relative sets a row's msg/s against another row's of the same backend and run: a
// target of at least Want times it (more than, with Above), or with Want 0 a ratio the
// report shows without a target.
type relative struct {
	To    string // the other row's id
	Want  float64
	Above bool
}

// ratio is a relative with the result it was measured against: nil when that row did not
// run or failed.
type ratio struct {
	relative
	ref *result
}

// value is r's msg/s over the other row's, and whether both were measured.
func (q ratio) value(r *result) (float64, bool) {
	if q.ref == nil || q.ref.MsgPerSec() <= 0 || r.MsgPerSec() <= 0 {
		return 0, false
	}
	return r.MsgPerSec() / q.ref.MsgPerSec(), true
}

// label is the target, "≥ 10× api" or "> 1× serve"; "" for a ratio without a target.
func (q ratio) label() string {
	switch {
	case q.Want <= 0:
		return ""
	case q.Above:
		return fmt.Sprintf("> %g× %s", q.Want, q.To)
	}
	return fmt.Sprintf("≥ %g× %s", q.Want, q.To)
}

// met reports whether got reaches the target.
func (q ratio) met(got float64) bool {
	if q.Above {
		return got > q.Want
	}
	return got >= q.Want
}

// target is q as one of the row's targets.
func (q ratio) target() target {
	return target{Label: q.label(), Check: func(r *result) (bool, bool, string) {
		got, ok := q.value(r)
		if !ok {
			return false, false, ""
		}
		return q.met(got), true, ratioText(got) + " " + q.To
	}}
}

// ratioText is a ratio to two decimals, rounded down, so that a ratio shown as reaching a
// target does: 0.698 is "0.69×".
func ratioText(v float64) string { return fmt.Sprintf("%.2f×", math.Floor(v*100)/100) }

func rssTarget() target {
	return target{Label: "RSS ≤ 200 MB", Check: func(r *result) (bool, bool, string) {
		return r.RSS <= maxRSS, r.RSS > 0, "RSS " + mb(r.RSS)
	}}
}

// verdict is "met", or "missed: " and the figures that missed, or "not measured: ".
func (r *result) verdict() string {
	var missed, unknown []string
	for _, t := range r.Targets {
		met, known, got := t.Check(r)
		switch {
		case !known:
			unknown = append(unknown, t.Label)
		case !met:
			missed = append(missed, got)
		}
	}
	switch {
	case len(missed) > 0:
		return "**missed**: " + strings.Join(missed, ", ")
	case len(unknown) > 0:
		return "not measured: " + strings.Join(unknown, ", ")
	}
	return "met"
}

// thousands formats a rate with a thousands separator: 12,345.
func thousands(f float64) string {
	s := fmt.Sprintf("%.0f", f)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 && s[i-1] != '-' {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func short(d time.Duration) string {
	if d >= time.Second && d%time.Second == 0 {
		return fmt.Sprintf("%d s", d/time.Second)
	}
	return fmt.Sprintf("%d ms", d.Milliseconds())
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

func mb(b int64) string {
	if b == 0 {
		return "—"
	}
	return fmt.Sprintf("%.0f MB", float64(b)/(1<<20))
}
