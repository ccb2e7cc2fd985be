package dashboard

import (
	"fmt"
	"html"
	"strings"
	"time"

	"github.com/sendoka/sendoka/sendoka"
)

// dayBar is one day of the sends chart: a channel's messages by outcome.
type dayBar struct {
	Day                                     string // 2006-01-02
	Delivered, Sent, Bounced, Failed, Other int64
}

func (b dayBar) total() int64 { return b.Delivered + b.Sent + b.Bounced + b.Failed + b.Other }

// barsOf turns a usage series by day into one bar per day of [from, to) for a channel.
// "Sent" here is handed over and not yet delivered or bounced; "Other" is accepted and not
// handed over (queued, scheduled, canceled).
func barsOf(u *sendoka.Usage, ch sendoka.Channel, from time.Time, days int) []dayBar {
	byDay := map[string]sendoka.UsageCounts{}
	for _, g := range u.Series {
		if ch == sendoka.ChannelSMS {
			byDay[g.Key] = g.SMS
		} else {
			byDay[g.Key] = g.Email
		}
	}
	out := make([]dayBar, days)
	for i := range out {
		day := from.AddDate(0, 0, i).Format("2006-01-02")
		c := byDay[day]
		b := dayBar{Day: day, Delivered: c.Delivered, Bounced: c.Bounced, Failed: c.Failed}
		b.Sent = max(c.Sent-c.Delivered-c.Bounced, 0)
		b.Other = max(c.Accepted-c.Sent-c.Failed, 0)
		out[i] = b
	}
	return out
}

// stackedBars draws the bars as a server-rendered SVG: no script, no inline style (colours
// come from classes in app.css), text escaped.
func stackedBars(title string, bars []dayBar) string {
	const w, h, left, bottom, top = 720, 220, 40, 30, 10
	var peak int64 = 4
	for _, b := range bars {
		peak = max(peak, b.total())
	}
	peak = (peak + 3) / 4 * 4 // four grid steps of whole messages
	plotH := float64(h - bottom - top)
	slot := float64(w-left-10) / float64(max(len(bars), 1))
	bw := slot * 0.7
	var s strings.Builder
	fmt.Fprintf(&s, `<svg class="chart" viewBox="0 0 %d %d" role="img" aria-label="%s" xmlns="http://www.w3.org/2000/svg">`, w, h, html.EscapeString(title))
	fmt.Fprintf(&s, `<title>%s</title>`, html.EscapeString(title))
	for i := 0; i <= 4; i++ { // grid lines and their values
		y := float64(top) + plotH*float64(i)/4
		v := peak - peak*int64(i)/4
		fmt.Fprintf(&s, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#e3e6ea"/>`, left, w-10, y, y)
		fmt.Fprintf(&s, `<text x="%d" y="%.1f" text-anchor="end">%d</text>`, left-4, y+3, v)
	}
	for i, b := range bars {
		x := float64(left) + slot*float64(i) + (slot-bw)/2
		y := float64(h - bottom)
		for _, part := range []struct {
			class string
			n     int64
		}{{"c-delivered", b.Delivered}, {"c-sent", b.Sent}, {"c-bounced", b.Bounced}, {"c-failed", b.Failed}, {"c-other", b.Other}} {
			if part.n == 0 {
				continue
			}
			ph := plotH * float64(part.n) / float64(peak)
			y -= ph
			fmt.Fprintf(&s, `<rect class="%s" x="%.1f" y="%.1f" width="%.1f" height="%.1f"><title>%s %s: %d</title></rect>`,
				part.class, x, y, bw, ph, b.Day, strings.TrimPrefix(part.class, "c-"), part.n)
		}
		if len(bars) <= 16 || i%2 == 0 {
			fmt.Fprintf(&s, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`, x+bw/2, h-bottom+14, b.Day[5:])
		}
	}
	s.WriteString(`</svg>`)
	return s.String()
}
