package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// webhookDeliveries is how many signed deliveries the webhooks row makes.
const webhookDeliveries = 10000

// webhookRow measures signed webhook deliveries per second to a receiver on loopback (the
// server in insecure development mode), the way the delivery rows measure messages: the
// API role queues webhook.test deliveries (the bench's clients call POST
// /api/v1/webhooks/{id}/test), then the workers-only role drains them, and the receiver
// checks every signature with sendoka.VerifyWebhook. Elapsed runs from the first verified
// delivery to the last.
func webhookRow(ctx context.Context, rc *rowContext) (*result, error) {
	rx, err := newReceiver() // receiver.go
	if err != nil {
		return nil, err
	}
	defer rx.close()

	env := []string{"SENDOKA_ALLOW_INSECURE_WEBHOOKS=true", "SENDOKA_LIMITS=off",
		"SENDOKA_QUEUE_WORKERS=webhooks=200", "SENDOKA_FETCH_COOLDOWN=5ms"}
	p, err := start(ctx, rc.o, rc.db, roleAPI, env...)
	if err != nil {
		return nil, err
	}
	defer p.stop()
	hc := newClient(rc.o)
	req, _ := json.Marshal(map[string]any{"url": rx.url})
	status, body, err := postJSON(ctx, hc, p.base+"/api/v1/webhooks", req)
	if err != nil || status != http.StatusOK {
		return nil, fmt.Errorf("create webhook: %d %s %v", status, body, err)
	}
	var ep struct {
		ID     string `json:"id"`
		Secret string `json:"secret"`
	}
	if err := json.Unmarshal(body, &ep); err != nil {
		return nil, err
	}
	rx.setSecret(ep.Secret)

	res := &result{Role: roleWorker, Delivery: true}
	queueStart := time.Now()
	var next, errs atomic.Int64
	var wg sync.WaitGroup
	for range max(1, rc.o.clients) {
		wg.Go(func() {
			for next.Add(1) <= webhookDeliveries {
				if status, _, err := postJSON(ctx, hc, p.base+"/api/v1/webhooks/"+ep.ID+"/test", nil); err != nil || status != http.StatusOK {
					errs.Add(1)
				}
			}
		})
	}
	wg.Wait()
	res.Notes = append(res.Notes, fmt.Sprintf("%d deliveries queued through the API in %.1f s", webhookDeliveries, time.Since(queueStart).Seconds()))
	if err := p.alive(); err != nil {
		return nil, err
	}
	p.stop()
	res.Requests, res.Errors = webhookDeliveries, errs.Load()
	w, err := start(ctx, rc.o, rc.db, roleWorker, env...)
	if err != nil {
		return nil, err
	}
	defer w.stop()
	begin := time.Now()
	want := webhookDeliveries - errs.Load()
	rx.waitFor(ctx, want, 5*time.Minute, 5*time.Minute)
	first, last := rx.span()
	res.Elapsed = last.Sub(first)
	if !first.IsZero() {
		res.Notes = append(res.Notes, fmt.Sprintf("first delivery %.1f s after the worker process started", first.Sub(begin).Seconds()))
	}
	res.Delivered = max(0, int(rx.ok.Load())-1) // the deliveries after the first, over the time between
	if n := rx.bad.Load(); n > 0 {
		res.Notes = append(res.Notes, fmt.Sprintf("%d deliveries failed verification", n))
	}
	if rx.ok.Load() < want {
		res.Notes = append(res.Notes, fmt.Sprintf("only %d of %d deliveries arrived", rx.ok.Load(), want))
	}
	if err := w.alive(); err != nil {
		return nil, err
	}
	res.RSS = w.peakRSS()
	return res, nil
}
