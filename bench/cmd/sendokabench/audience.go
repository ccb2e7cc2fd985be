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

	// First send: nothing else runs; the time until every message reaches the sandbox.
	call, all, fan, _, err := audienceSend(ctx, hc, p, post, aud.ID, nil)
	if err != nil {
		return nil, err
	}
	// Second send to the same contacts, with a password reset every 20 ms meanwhile:
	// transactional sends made while the fan-out runs, whose accept→provider is read back.
	tx := singleEmail("bench-tx-during-fanout", "you@sandbox.sendoka.com")
	call2, all2, fan2, txSent, err := audienceSend(ctx, hc, p, post, aud.ID, &tx)
	if err != nil {
		return nil, err
	}
	res := &result{Role: roleServe, Messages: audienceSize, Requests: 1, Elapsed: all, Latencies: []time.Duration{call, call2}, RSS: p.peakRSS()}
	if err := acceptToProvider(ctx, hc, p.base, tx, res); err != nil {
		res.Notes = append(res.Notes, "transactional accept→provider not measured: "+err.Error())
	}
	res.Notes = append(res.Notes, fmt.Sprintf("10,000 contacts with ~1 KiB data each uploaded in one call in %.2f s; the send call returned in %s; "+
		"its fan-out had created every message %.2f s after the call, and every message was handed to the sandbox %.2f s after the call (%s)",
		upload.Seconds(), ms(call), fan.Seconds(), all.Seconds(), bulk))
	res.Notes = append(res.Notes, fmt.Sprintf("a second send to the same audience ran with %d transactional emails made during its fan-out (one every 20 ms): "+
		"the accept→provider columns are theirs; that send's fan-out ended %.2f s and its messages all reached the sandbox %.2f s after its call", txSent, fan2.Seconds(), all2.Seconds()))
	return res, nil
}

// audienceSend sends the bench template to the audience and waits until every message has
// reached the sandbox; with probe, it makes a transactional send every 20 ms meanwhile. It
// returns the call's latency, the time from the call to the last hand-off, the time from the
// call to the end of the fan-out, and the probes accepted. The send's status is polled every
// 100 ms: the times are that precise.
func audienceSend(ctx context.Context, hc *http.Client, p *process, post func(string, any) ([]byte, error), audienceID string, probe *scenario) (call, all, fanout time.Duration, probes int, err error) {
	start := time.Now()
	resp, err := post("/api/v1/audiences/"+audienceID+"/send", map[string]any{"from": "news@sandbox.sendoka.com",
		"channel": "email", "template": "bench-newsletter"})
	if err != nil {
		return 0, 0, 0, 0, err
	}
	call = time.Since(start)
	var sent struct {
		SendID string `json:"send_id"`
	}
	if err := json.Unmarshal(resp, &sent); err != nil {
		return 0, 0, 0, 0, err
	}
	wait, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	over, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		if probe == nil {
			return
		}
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-wait.Done():
				return
			case <-over:
				return
			case <-tick.C:
			}
			if code, _, err := postJSON(wait, hc, p.base+probe.Path, probe.Body(i)); err == nil && code == http.StatusOK {
				probes++
			}
		}
	}()
	defer func() {
		close(over)
		<-done
	}()
	for {
		var st struct {
			Status   string         `json:"status"`
			Messages map[string]int `json:"messages"`
		}
		if err := getJSON(wait, hc, p.base+"/api/v1/audiences/"+audienceID+"/sends/"+sent.SendID, &st); err != nil {
			return 0, 0, 0, 0, err
		}
		if st.Status == "finished" && fanout == 0 {
			fanout = time.Since(start)
		}
		if st.Status == "finished" && st.Messages["sent"]+st.Messages["delivered"]+st.Messages["bounced"]+st.Messages["failed"] == audienceSize {
			return call, time.Since(start), fanout, probes, nil
		}
		select {
		case <-wait.Done():
			return 0, 0, 0, 0, fmt.Errorf("audience send not handed to the sandbox within 5 minutes: %v", st.Messages)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
