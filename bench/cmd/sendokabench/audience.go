package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// audienceSize is the contacts of the audience row: the most one send reaches.
const audienceSize = 10000

// audienceRow uploads a 10,000-contact audience with large data objects, sends a template to
// it, and measures the upload, the send call, and the time until every message has reached
// the (zero-latency) sandbox, on one serve process.
func audienceRow(ctx context.Context, rc *rowContext) (*result, error) {
	// Broadcast messages are delivered on the bulk queue, whose default of 10 workers keeps
	// them from crowding transactional work; the row gives it as many as deliver has.
	bulk := fmt.Sprintf("SENDOKA_QUEUE_WORKERS=bulk=%d", max(rc.o.workers, 100))
	p, err := start(ctx, rc.o, rc.db, roleServe, bulk)
	if err != nil {
		return nil, err
	}
	defer p.stop()
	hc := newClient(rc.o)
	post := func(path string, body any) ([]byte, error) {
		raw, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		code, resp, err := postJSON(ctx, hc, p.base+path, raw)
		if err != nil || code != http.StatusOK {
			return nil, fmt.Errorf("POST %s: %d %s %v", path, code, resp, err)
		}
		return resp, nil
	}
	if _, err := post("/api/v1/templates", map[string]any{"slug": "bench-newsletter", "channel": "email",
		"subject": "News for {{first_name}}", "text": "Hi {{first_name}}, on {{data.plan}}."}); err != nil {
		return nil, err
	}
	resp, err := post("/api/v1/audiences", map[string]any{"name": "bench"})
	if err != nil {
		return nil, err
	}
	var aud struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(resp, &aud); err != nil {
		return nil, err
	}
	contacts := make([]map[string]any, audienceSize)
	bio := strings.Repeat("lorem ipsum ", 85) // about 1 KiB of data per contact
	for i := range contacts {
		contacts[i] = map[string]any{"email": fmt.Sprintf("reader%05d@example.com", i), "first_name": fmt.Sprintf("Reader %d", i),
			"data": map[string]any{"plan": "pro", "bio": bio}}
	}
	start := time.Now()
	if _, err := post("/api/v1/audiences/"+aud.ID+"/contacts", contacts); err != nil {
		return nil, err
	}
	upload := time.Since(start)
	start = time.Now()
	if _, err := post("/api/v1/audiences/"+aud.ID+"/send", map[string]any{"from": "news@sandbox.sendoka.com",
		"channel": "email", "template": "bench-newsletter"}); err != nil {
		return nil, err
	}
	call := time.Since(start)
	wait, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	for {
		var st struct {
			Status   string         `json:"status"`
			Messages map[string]int `json:"messages"`
		}
		if err := getJSON(wait, hc, p.base+"/api/v1/audiences/"+aud.ID+"/status", &st); err != nil {
			return nil, err
		}
		if st.Status == "finished" && st.Messages["sent"]+st.Messages["delivered"]+st.Messages["bounced"]+st.Messages["failed"] == audienceSize {
			break
		}
		select {
		case <-wait.Done():
			return nil, fmt.Errorf("audience send not handed to the sandbox within 5 minutes: %v", st.Messages)
		case <-time.After(50 * time.Millisecond):
		}
	}
	all := time.Since(start)
	res := &result{Role: roleServe, Messages: audienceSize, Requests: 1, Elapsed: all, Latencies: []time.Duration{call}, RSS: p.peakRSS()}
	res.Notes = append(res.Notes, fmt.Sprintf("10,000 contacts with ~1 KiB data each uploaded in one call in %.2f s; the send call returned in %s; "+
		"every message handed to the sandbox %.2f s after the call (%s)", upload.Seconds(), ms(call), all.Seconds(), bulk))
	return res, nil
}
