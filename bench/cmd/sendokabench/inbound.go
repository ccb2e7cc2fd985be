package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"
)

// inboundMessages is how many messages the inbound row pushes through the SMTP listener.
const inboundMessages = 4000

// inboundSent is how many emails the inbound row sends first, for its DSNs to be about.
const inboundSent = 100

// inboundRow measures received messages parsed and stored per second: a serve process with
// the inbound SMTP listener on loopback, and SMTP clients (one connection each, many
// messages per connection) that deliver into it, alternately, a reply to an inbound route
// (parsed into an inbound email with an attachment, and stored) and a DSN about an email the
// server sent (parsed, matched by the Message-ID it quotes, and recorded as a bounce on the
// message). The listener answers each message's final "." only once it is stored, so
// Elapsed, from the first connection to the last answer, covers every message's work.
func inboundRow(ctx context.Context, rc *rowContext) (*result, error) {
	smtpAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	p, err := start(ctx, rc.o, rc.db, roleServe, "SENDOKA_LIMITS=off", "SENDOKA_SMTP_INBOUND_ADDR="+smtpAddr,
		"SENDOKA_SMTP_INBOUND_DOMAINS=in.bench.test", "SENDOKA_SMTP_INBOUND_BOUNCE_DOMAIN=bounce.bench.test")
	if err != nil {
		return nil, err
	}
	defer p.stop()
	hc := newClient(rc.o)
	if status, body, err := postJSON(ctx, hc, p.base+"/api/v1/inbound-routes", []byte(`{"match":"*@in.bench.test","forward_webhook":false}`)); err != nil || status != http.StatusOK {
		return nil, fmt.Errorf("create inbound route: %d %s %v", status, body, err)
	}
	ids := make([]string, 0, inboundSent)
	for i := range inboundSent {
		body := fmt.Sprintf(`{"from":"app@sandbox.sendoka.com","to":["user%d@example.com"],"subject":"Hi","text":"Hello"}`, i)
		status, out, err := postJSON(ctx, hc, p.base+"/api/v1/emails", []byte(body))
		if err != nil || status != http.StatusOK {
			return nil, fmt.Errorf("send: %d %s %v", status, out, err)
		}
		var m struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(out, &m); err != nil {
			return nil, err
		}
		ids = append(ids, m.ID)
	}

	res := &result{Role: roleServe + " + SMTP listener", Delivery: true}
	var next, okN, errN atomic.Int64
	var firstErr atomic.Value
	clients := min(max(1, rc.o.clients), 32)
	var wg sync.WaitGroup
	begin := time.Now()
	for range clients {
		wg.Go(func() {
			c, err := smtp.Dial(smtpAddr)
			if err != nil {
				errN.Add(1)
				firstErr.CompareAndSwap(nil, err.Error())
				return
			}
			defer c.Close()
			for {
				i := next.Add(1)
				if i > inboundMessages {
					return
				}
				from, to, raw := inboundMessage(int(i), ids)
				if err := c.SendMail(from, []string{to}, strings.NewReader(raw)); err != nil {
					errN.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				okN.Add(1)
			}
		})
	}
	wg.Wait()
	res.Elapsed = time.Since(begin)
	res.Requests, res.Errors, res.Delivered = inboundMessages, errN.Load(), int(okN.Load())
	if v, ok := firstErr.Load().(string); ok {
		res.FirstError = v
	}
	res.Notes = append(res.Notes, fmt.Sprintf("%d SMTP clients; half replies to a route (text, HTML, a 2 KB attachment), half DSNs about %d sent emails", clients, inboundSent))
	if err := p.alive(); err != nil {
		return nil, err
	}
	res.RSS = p.peakRSS()
	return res, nil
}

// inboundMessage is the i-th message of the inbound row: a reply to the route, or a DSN.
func inboundMessage(i int, ids []string) (from, to, raw string) {
	if i%2 == 0 {
		att := strings.Repeat("QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=\r\n", 56) // ~2 KB
		return "ada@example.org", fmt.Sprintf("support%d@in.bench.test", i%10), fmt.Sprintf("From: Ada <ada@example.org>\r\n"+
			"To: support@in.bench.test\r\nSubject: Re: order %d\r\nMessage-ID: <r%d@example.org>\r\nMIME-Version: 1.0\r\n"+
			"Content-Type: multipart/mixed; boundary=\"M\"\r\n\r\n--M\r\nContent-Type: multipart/alternative; boundary=\"A\"\r\n\r\n"+
			"--A\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nThanks, the order arrived.\r\n--A\r\nContent-Type: text/html\r\n\r\n"+
			"<p>Thanks, the order arrived.</p>\r\n--A--\r\n--M\r\nContent-Type: application/octet-stream; name=\"a.bin\"\r\n"+
			"Content-Disposition: attachment; filename=\"a.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\n%s--M--\r\n", i, i, att)
	}
	id := ids[i%len(ids)]
	return "", "fbl@bounce.bench.test", fmt.Sprintf("From: MAILER-DAEMON@mx.example.com\r\nTo: fbl@bounce.bench.test\r\n"+
		"Subject: Undelivered Mail Returned to Sender\r\nMIME-Version: 1.0\r\n"+
		"Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\n"+
		"Your message could not be delivered (%d).\r\n\r\n--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.com\r\n\r\n"+
		"Final-Recipient: rfc822; user@example.com\r\nAction: failed\r\nStatus: 5.1.1\r\nRemote-MTA: dns; mx2.example.com\r\n"+
		"Diagnostic-Code: smtp; 550 5.1.1 user unknown\r\n\r\n--B\r\nContent-Type: text/rfc822-headers\r\n\r\n"+
		"From: app@sandbox.sendoka.com\r\nTo: user@example.com\r\nMessage-ID: <%s@sandbox.sendoka.com>\r\nSubject: Hi\r\n\r\n--B--\r\n", i, id)
}
