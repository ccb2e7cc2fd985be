package httpapi

import (
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/sendoka/sendoka/sendoka"
)

// Rate-limit headers. Every response to an authenticated request carries the key's burst
// limit in two forms: the common X-RateLimit-* fields (with the plan and the scope, "key"),
// and the IETF draft's structured fields (draft-ietf-httpapi-ratelimit-headers):
// RateLimit-Policy: "burst";q=<limit>;w=60 and RateLimit: "burst";r=<remaining>;t=<seconds
// to reset>. A refusal by the monthly quota or a domain's warmup cap describes that limit
// instead, with X-RateLimit-Scope "org" or "domain". Every 429 has Retry-After.
const (
	headerLimit     = "X-RateLimit-Limit"
	headerRemaining = "X-RateLimit-Remaining"
	headerReset     = "X-RateLimit-Reset"
	headerPlan      = "X-RateLimit-Plan"
	headerScope     = "X-RateLimit-Scope"
	headerPolicy    = "RateLimit-Policy"
	headerRateLimit = "RateLimit"
)

// setRateHeaders writes the burst limiter's decision. Unlimited keys get the plan alone.
func setRateHeaders(ctx huma.Context, d sendoka.RateDecision, now time.Time) {
	if d.Plan != "" {
		ctx.SetHeader(headerPlan, d.Plan)
	}
	if d.Limit <= 0 {
		return
	}
	reset := laterOf(d.Reset, now)
	ctx.SetHeader(headerLimit, strconv.FormatInt(d.Limit, 10))
	ctx.SetHeader(headerRemaining, strconv.FormatInt(d.Remaining, 10))
	ctx.SetHeader(headerReset, strconv.FormatInt(reset.Unix(), 10))
	ctx.SetHeader(headerScope, "key")
	ctx.SetHeader(headerPolicy, `"burst";q=`+strconv.FormatInt(d.Limit, 10)+";w=60")
	ctx.SetHeader(headerRateLimit, `"burst";r=`+strconv.FormatInt(d.Remaining, 10)+";t="+strconv.Itoa(int(reset.Sub(now).Round(time.Second).Seconds())))
}

// setQuotaHeaders describes, on its refusal, the monthly quota or warmup cap that was
// reached: nothing remains until the Retry-After.
func setQuotaHeaders(set func(name, value string), e *sendoka.Error, now time.Time) {
	scope, policy, window := "org", "monthly", ""
	if e.Code == sendoka.CodeWarmupLimitExceeded {
		scope, policy, window = "domain", "warmup", ";w=86400"
	}
	if e.LimitScope != "" {
		scope = e.LimitScope
	}
	reset := now.Add(e.Retry)
	set(headerLimit, strconv.FormatInt(e.Limit, 10))
	set(headerRemaining, "0")
	set(headerReset, strconv.FormatInt(reset.Unix(), 10))
	set(headerScope, scope)
	set(headerPolicy, `"`+policy+`";q=`+strconv.FormatInt(e.Limit, 10)+window)
	set(headerRateLimit, `"`+policy+`";r=0;t=`+strconv.Itoa(sendoka.RetryAfterSeconds(e.Retry)))
}

func laterOf(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
