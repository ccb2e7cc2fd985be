package main

import (
	"fmt"
	"sort"
	"strings"
)

// tally fills r's counts from what was accepted (message ids the API answered 200 for),
// what the database holds and what the recorders received (receipts by message id), and
// fails r for each message that breaks the rules every scenario shares:
//
//   - every accepted message is stored, and reached a recorder once, unless Sendoka
//     reports its outcome as unknown (then at most once);
//   - nothing reached a recorder twice, and nothing reached one that was not stored;
//   - no stored message is left queued or scheduled, none failed (no scenario gives a
//     message a reason to fail), and every stored message was accepted: a client that
//     retried with its idempotency key got the first message, never a second one.
func tally(r *result, accepted []string, rows []messageRow, receipts map[string]int) {
	byID := make(map[string]messageRow, len(rows))
	for _, m := range rows {
		byID[m.ID] = m
	}
	isAccepted := make(map[string]bool, len(accepted))
	var missing, lost []string
	for _, id := range accepted {
		if id == "" {
			continue
		}
		isAccepted[id] = true
		r.Accepted++
		m, stored := byID[id]
		switch {
		case receipts[id] > 0:
			r.Delivered++
		case stored && m.Outcome == "unknown":
		default:
			r.Lost++
			lost = append(lost, id)
		}
		if !stored {
			missing = append(missing, id)
		}
	}
	var twice, phantom []string
	for id, n := range receipts {
		if n > 1 {
			r.Duplicates += n - 1
			twice = append(twice, fmt.Sprintf("%s×%d", id, n))
		}
		if _, ok := byID[id]; !ok {
			phantom = append(phantom, id)
		}
	}
	var pending, failed, extra []string
	for _, m := range rows {
		if m.Outcome == "unknown" {
			r.Unknown++
			if receipts[m.ID] == 0 {
				r.UnknownUnreceived++
			}
		}
		switch m.Status {
		case "queued", "scheduled":
			pending = append(pending, m.ID)
		case "failed":
			failed = append(failed, m.ID)
		}
		if !isAccepted[m.ID] {
			extra = append(extra, m.ID+" to "+m.Recipient)
		}
	}
	r.check(len(lost) == 0, "%d accepted messages never reached the relay and are not reported unknown: %s", len(lost), sample(lost))
	r.check(len(missing) == 0, "%d accepted messages are not in the database: %s", len(missing), sample(missing))
	r.check(len(twice) == 0, "%d messages reached the relay more than once: %s", len(twice), sample(twice))
	r.check(len(phantom) == 0, "%d messages reached the relay that the database does not hold: %s", len(phantom), sample(phantom))
	r.check(len(pending) == 0, "%d messages are still queued or scheduled: %s", len(pending), sample(pending))
	r.check(len(failed) == 0, "%d messages failed: %s", len(failed), sample(failed))
	r.check(len(extra) == 0, "%d stored messages no client was answered for (a second message for one idempotency key?): %s", len(extra), sample(extra))
	if len(extra) > 0 {
		r.Duplicates += len(extra)
	}
}

// sample lists the first few items.
func sample(items []string) string {
	sort.Strings(items)
	if len(items) > 5 {
		return strings.Join(items[:5], ", ") + ", …"
	}
	return strings.Join(items, ", ")
}
