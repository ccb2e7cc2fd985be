package dashboard

import (
	"net/http"
	"time"

	"github.com/sendoka/sendoka/sendoka"
)

// Senders' thresholds of Gmail and Yahoo (bulk sender rules, 2024): spam complaints must
// stay under 0.3% (0.1% is the target); bounces are kept under 2% by common practice.
const (
	spamLimit   = 0.003
	spamTarget  = 0.001
	bounceLimit = 0.02
	chartDays   = 14
)

type rate struct {
	N, D  int64
	Limit float64
	// Over is true when the rate is at or past its limit; Warn past the target.
	Over, Warn bool
}

func newRate(n, d int64, limit, target float64) rate {
	r := rate{N: n, D: d, Limit: limit}
	if d > 0 {
		f := float64(n) / float64(d)
		r.Over = f >= limit
		r.Warn = !r.Over && target > 0 && f >= target
	}
	return r
}

type overviewData struct {
	Month                       *sendoka.Usage
	EmailChart, SMSChart        string
	Delivery, Bounce, Complaint rate
	SMSDelivery                 rate
	From                        time.Time
	EmailQuotaPct, SMSQuotaPct  string
}

func (h *handler) overview(x *rq) error {
	ctx := x.r.Context()
	month, err := h.c.Usage(ctx, x.p, sendoka.UsageQuery{})
	if err != nil {
		return err
	}
	now := h.c.Now().UTC()
	from := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC).AddDate(0, 0, -(chartDays - 1))
	days, err := h.c.Usage(ctx, x.p, sendoka.UsageQuery{From: from, To: now.Add(time.Second), GroupBy: "day"})
	if err != nil {
		return err
	}
	e := month.Email
	d := overviewData{Month: month, From: from,
		EmailChart:  stackedBars("Emails per day", barsOf(days, sendoka.ChannelEmail, from, chartDays)),
		SMSChart:    stackedBars("SMS per day", barsOf(days, sendoka.ChannelSMS, from, chartDays)),
		Delivery:    newRate(e.Delivered, e.Sent, 0, 0),
		Bounce:      newRate(e.Bounced, e.Sent, bounceLimit, 0),
		Complaint:   newRate(e.Complained, e.Delivered, spamLimit, spamTarget),
		SMSDelivery: newRate(month.SMS.Delivered, month.SMS.Sent, 0, 0),
	}
	return h.page(x, http.StatusOK, "overview", "Overview", "overview", d)
}
