package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"time"
)

// batchSize is how many messages one batch call of the bench carries: the documented maximum.
const batchSize = 100

// batchScenarios drive POST /api/v1/emails/batch with 100 messages per call, in both shapes.
func batchScenarios() []scenario {
	return []scenario{
		{
			Name: "batch email, per-item shape (100/call)", Path: "/api/v1/emails/batch", ListPath: "/api/v1/emails",
			Messages: batchSize, Tag: "bench-batch-items", Check: allRowsAccepted,
			Body: func(i int) []byte {
				var b bytes.Buffer
				b.WriteByte('[')
				for j := range batchSize {
					if j > 0 {
						b.WriteByte(',')
					}
					fmt.Fprintf(&b, `{"from":"you@sandbox.sendoka.com","to":["user%d-%d@example.com"],"subject":"Hello %d","html":"<p>It works.</p>","tags":["bench-batch-items"]}`, i, j, j)
				}
				b.WriteByte(']')
				return b.Bytes()
			},
		},
		{
			Name: "batch email, bulk shape (100 recipients/call)", Path: "/api/v1/emails/batch", ListPath: "/api/v1/emails",
			Messages: batchSize, Tag: "bench-batch-bulk", Check: allRowsAccepted,
			Body: func(i int) []byte {
				to := make([]string, batchSize)
				for j := range to {
					to[j] = fmt.Sprintf("user%d-%d@example.com", i, j)
				}
				b, _ := json.Marshal(map[string]any{
					"from": "you@sandbox.sendoka.com", "to": to, "subject": "Hello", "html": "<p>It works.</p>",
					"tags": []string{"bench-batch-bulk"},
				})
				return b
			},
		},
	}
}

// allRowsAccepted checks a batch response: every row must have been accepted.
func allRowsAccepted(body []byte) error {
	var r struct {
		Total     int `json:"total"`
		Succeeded int `json:"succeeded"`
		Failed    int `json:"failed"`
		Data      []struct {
			Error *struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return err
	}
	if r.Failed > 0 || r.Succeeded != r.Total || r.Total == 0 {
		for _, row := range r.Data {
			if row.Error != nil {
				return fmt.Errorf("%d of %d rows failed, first: %s %s", r.Failed, r.Total, row.Error.Code, row.Error.Message)
			}
		}
		return fmt.Errorf("%d of %d rows accepted", r.Succeeded, r.Total)
	}
	return nil
}

// lateness is how late scheduled sends reached the provider: sent_at - scheduled_at.
type lateness struct {
	Messages int
	Late     []time.Duration // sorted
}

// scheduledLateness schedules n emails (one bulk batch call each 100) a few seconds ahead,
// waits until every one is sent, and returns how late each reached the provider. The docs
// promise minute granularity: within 60 s of scheduled_at.
func scheduledLateness(ctx context.Context, hc *http.Client, base string, n int) (*lateness, error) {
	const tag = "bench-scheduled"
	due := time.Now().Add(5 * time.Second).UTC()
	for sent := 0; sent < n; sent += batchSize {
		to := make([]string, min(batchSize, n-sent))
		for j := range to {
			to[j] = fmt.Sprintf("sched%d@example.com", sent+j)
		}
		body, _ := json.Marshal(map[string]any{
			"from": "you@sandbox.sendoka.com", "to": to, "subject": "Scheduled", "text": "On time?",
			"tags": []string{tag}, "scheduled_at": due.Format(time.RFC3339Nano),
		})
		code, resp, err := postJSON(ctx, hc, base+"/api/v1/emails/batch", body)
		if err != nil || code != http.StatusOK {
			return nil, fmt.Errorf("schedule: %d %s %v", code, resp, err)
		}
		if err := allRowsAccepted(resp); err != nil {
			return nil, err
		}
	}
	wait, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	for {
		var p listPage
		if err := getJSON(wait, hc, base+"/api/v1/emails?limit=1&status=scheduled&tag="+tag, &p); err != nil {
			return nil, err
		}
		if len(p.Data) == 0 {
			break
		}
		select {
		case <-wait.Done():
			return nil, fmt.Errorf("scheduled messages still waiting 3 minutes after their time")
		case <-time.After(250 * time.Millisecond):
		}
	}
	res := &lateness{}
	cursor := ""
	for {
		var p struct {
			Data []struct {
				ScheduledAt *time.Time `json:"scheduled_at"`
				SentAt      *time.Time `json:"sent_at"`
			} `json:"data"`
			HasMore    bool    `json:"has_more"`
			NextCursor *string `json:"next_cursor"`
		}
		url := base + "/api/v1/emails?limit=100&tag=" + tag
		if cursor != "" {
			url += "&cursor=" + cursor
		}
		if err := getJSON(ctx, hc, url, &p); err != nil {
			return nil, err
		}
		for _, m := range p.Data {
			res.Messages++
			if m.ScheduledAt != nil && m.SentAt != nil {
				res.Late = append(res.Late, m.SentAt.Sub(*m.ScheduledAt))
			}
		}
		if !p.HasMore || p.NextCursor == nil {
			break
		}
		cursor = *p.NextCursor
	}
	slices.Sort(res.Late)
	return res, nil
}
