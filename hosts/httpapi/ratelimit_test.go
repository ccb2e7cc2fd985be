package httpapi

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/sendoka"
	"github.com/sendoka/sendoka/storage/bunstore"
	"github.com/sendoka/sendoka/storage/bunstore/bunstoretest"
)

// TestRateLimitHeaders: every response to a key carries its burst limit (the X-RateLimit-*
// fields and the IETF draft's structured fields), errors included; past the burst the
// answer is 429 RATE_LIMITED with Retry-After; a monthly quota's refusal describes the org's
// quota.
func TestRateLimitHeaders(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := setup(t, db, setupConfig{})
		var org OrgObject
		b.do(t, req{method: http.MethodPatch, path: "/api/v1/org", key: b.live, body: map[string]any{
			"plan": "free", "limits": map[string]any{"burst_per_minute": 3, "monthly_emails": 2},
		}}).decode(t, http.StatusOK, &org)
		require.Equal(t, "free", org.Plan)
		require.EqualValues(t, 3, org.Limits.BurstPerMinute)
		require.EqualValues(t, 2, org.Limits.MonthlyEmails)
		require.EqualValues(t, 500, org.Limits.MonthlySMS, "the plan's, not overridden")
		_, key := b.key(t, sendoka.CreateKeyParams{})

		before := time.Now().Unix()
		for i, r := range []req{
			{method: http.MethodGet, path: "/api/v1/emails", key: key},
			{method: http.MethodPost, path: "/api/v1/emails", key: key, body: map[string]any{"from": "x"}}, // a 422
			{method: http.MethodGet, path: "/api/v1/emails/msg_01NOSUCH", key: key},                        // a 404
		} {
			res := b.do(t, r)
			require.NotEqual(t, http.StatusTooManyRequests, res.status)
			h := res.header
			require.Equal(t, "3", h.Get("X-RateLimit-Limit"), "request %d: %s", i, res.body)
			require.Equal(t, strconv.Itoa(2-i), h.Get("X-RateLimit-Remaining"), "request %d", i)
			reset, err := strconv.ParseInt(h.Get("X-RateLimit-Reset"), 10, 64)
			require.NoError(t, err)
			require.GreaterOrEqual(t, reset, before)
			require.LessOrEqual(t, reset, before+61)
			require.Equal(t, "free", h.Get("X-RateLimit-Plan"))
			require.Equal(t, "key", h.Get("X-RateLimit-Scope"))
			require.Equal(t, `"burst";q=3;w=60`, h.Get("RateLimit-Policy"))
			require.Regexp(t, `^"burst";r=`+strconv.Itoa(2-i)+`;t=\d+$`, h.Get("RateLimit"))
		}
		res := b.do(t, req{method: http.MethodGet, path: "/api/v1/emails", key: key})
		res.requireError(t, http.StatusTooManyRequests, sendoka.CodeRateLimited)
		retry, err := strconv.Atoi(res.header.Get("Retry-After"))
		require.NoError(t, err)
		require.True(t, retry >= 1 && retry <= 20, "a token comes back every 20 s: %d", retry)
		require.Equal(t, "0", res.header.Get("X-RateLimit-Remaining"))
		// Another key has its own burst.
		b.do(t, req{method: http.MethodGet, path: "/api/v1/emails", key: b.test}).decode(t, http.StatusOK, &map[string]any{})

		// The monthly quota, on the root key (its burst is the org's 3/min too: one left
		// after the PATCH and the list above).
		_, quotaKey := b.key(t, sendoka.CreateKeyParams{})
		b.do(t, req{method: http.MethodPatch, path: "/api/v1/org", key: b.live, body: map[string]any{
			"limits": map[string]any{"burst_per_minute": nil, "monthly_emails": 0},
		}}).decode(t, http.StatusOK, &org)
		require.EqualValues(t, 60, org.Limits.BurstPerMinute, "null: back to the plan's")
		b.do(t, req{method: http.MethodPatch, path: "/api/v1/org", key: quotaKey, body: map[string]any{
			"limits": map[string]any{"monthly_emails": 1},
		}}).decode(t, http.StatusOK, &org)
		b.publish(b.createDomain(t, quotaKey, "quota.example"))
		var dom DomainList
		b.do(t, req{method: http.MethodGet, path: "/api/v1/domains", key: quotaKey}).decode(t, http.StatusOK, &dom)
		b.do(t, req{method: http.MethodPost, path: "/api/v1/domains/" + dom.Data[0].ID + "/verify", key: quotaKey}).decode(t, http.StatusOK, &Domain{})
		mail := map[string]any{"from": "a@quota.example", "to": []string{"u@example.com"}, "subject": "Hi", "text": "x"}
		b.send(t, "/api/v1/emails", quotaKey, mail)
		res = b.do(t, req{method: http.MethodPost, path: "/api/v1/emails", key: quotaKey, body: mail})
		res.requireError(t, http.StatusTooManyRequests, sendoka.CodeUsageLimitExceeded)
		require.Equal(t, "org", res.header.Get("X-RateLimit-Scope"))
		require.Equal(t, "1", res.header.Get("X-RateLimit-Limit"))
		require.Equal(t, "0", res.header.Get("X-RateLimit-Remaining"))
		require.Equal(t, `"monthly";q=1`, res.header.Get("RateLimit-Policy"))
		require.NotEmpty(t, res.header.Get("Retry-After"))

		// Usage shows it.
		var u UsageObject
		b.do(t, req{method: http.MethodGet, path: "/api/v1/usage?group_by=day", key: quotaKey}).decode(t, http.StatusOK, &u)
		require.EqualValues(t, 1, u.Email.Accepted)
		require.EqualValues(t, 1, u.Email.Quota)
		require.Len(t, u.Series, 1)
		b.do(t, req{method: http.MethodGet, path: "/api/v1/usage?group_by=week", key: quotaKey}).requireError(t, http.StatusUnprocessableEntity, sendoka.CodeValidation)
		b.do(t, req{method: http.MethodGet, path: "/api/v1/usage?from=yesterday", key: quotaKey}).requireError(t, http.StatusUnprocessableEntity, sendoka.CodeValidation)
		// Only an org-wide live full-access key changes the plan.
		b.do(t, req{method: http.MethodPatch, path: "/api/v1/org", key: b.test, body: map[string]any{"plan": "pro"}}).
			requireError(t, http.StatusForbidden, sendoka.CodeInsufficientScope)
		b.do(t, req{method: http.MethodPatch, path: "/api/v1/org", key: quotaKey, body: map[string]any{"limits": map[string]any{"burst": 1}}}).
			requireError(t, http.StatusUnprocessableEntity, sendoka.CodeValidation)
	})
}
