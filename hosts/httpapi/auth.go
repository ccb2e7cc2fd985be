package httpapi

import (
	"context"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/sendoka/sendoka/sendoka"
)

// securityScheme names the bearer scheme in the OpenAPI document.
const securityScheme = "bearerAuth"

type principalKey struct{}

// PrincipalFrom returns the authenticated caller of a request that went through this
// package's authentication, or nil.
func PrincipalFrom(ctx context.Context) *sendoka.Principal {
	p, _ := ctx.Value(principalKey{}).(*sendoka.Principal)
	return p
}

// MaxAuthorizationBytes bounds the Authorization header: a key is at most 128 characters,
// so anything longer is refused with 401 UNAUTHORIZED before it is parsed or looked up.
// (A header block over the server's MaxHeaderBytes never gets here: net/http answers 431.)
const MaxAuthorizationBytes = 4 << 10

// authMiddleware authenticates "Authorization: Bearer <key>" before Huma reads or
// validates the body, so an anonymous caller learns nothing about the schema and never
// makes us read a large body. A key lookup that misses the core's cache draws on the
// request's database budget; the key's last-use time is written off the request's path.
func authMiddleware(c *sendoka.Client, opts Options) func(huma.Context, func(huma.Context)) {
	return func(ctx huma.Context, next func(huma.Context)) {
		header := ctx.Header("Authorization")
		if len(header) > MaxAuthorizationBytes {
			reject(ctx, sendoka.Errorf(sendoka.CodeUnauthorized, "Authorization header is longer than %d bytes", MaxAuthorizationBytes))
			return
		}
		token, ok := bearerToken(header)
		if !ok {
			reject(ctx, sendoka.Errorf(sendoka.CodeUnauthorized, "Authorization header must be \"Bearer <API key>\""))
			return
		}
		actx, end := requestBudget(ctx.Context(), opts.DatabaseTimeout).span(ctx.Context())
		p, err := c.Authenticate(actx, token, clientIP(ctx, opts))
		if err != nil {
			end()
			reject(ctx, err)
			return
		}
		// The burst limit of the key (ratelimit.go). A limiter that cannot reach the
		// database lets the request through: the operation meets the outage itself.
		d, err := c.TakeRequest(actx, p)
		end()
		setRateHeaders(ctx, d, time.Now())
		if err == nil && !d.Allowed {
			reject(ctx, &sendoka.Error{Code: sendoka.CodeRateLimited,
				Message:           "this key made more than " + strconv.FormatInt(d.Limit, 10) + " requests in the last minute; retry after the Retry-After",
				RetryAfterSeconds: sendoka.RetryAfterSeconds(d.RetryAfter), Retry: d.RetryAfter})
			return
		}
		if st := stateFrom(ctx.Context()); st != nil {
			st.orgID, st.keyPrefix = p.OrgID, sendoka.KeyVisible(token)
		}
		next(huma.WithValue(ctx, principalKey{}, p))
	}
}

// bearerToken extracts the token of a Bearer Authorization header. A missing header yields
// "" and true, so the core reports the missing key in its own words.
func bearerToken(header string) (string, bool) {
	header = strings.TrimSpace(header)
	if header == "" {
		return "", true
	}
	scheme, token, _ := strings.Cut(header, " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// reject answers the request with err's envelope (written by envelopeMiddleware).
func reject(ctx huma.Context, err error) {
	e := sendoka.AsError(err)
	if st := stateFrom(ctx.Context()); st != nil {
		st.err = e
	}
	status, _ := ErrorStatus(e.Code)
	ctx.SetStatus(status)
}

// clientIP is the caller's address, checked against a key's allowed_cidrs. It is the TCP
// peer, unless that peer is a trusted proxy (Options.TrustedProxies): then X-Forwarded-For
// is read from the right, skipping the trusted proxies' own addresses, and the first address
// that is not one is the caller (entries further left come from the client and can be
// forged). An entry that is not an address stops the walk with the zero Addr, "unknown",
// which no CIDR allows. With the older TrustProxyHeaders, every peer is trusted and the last
// entry is the caller.
func clientIP(ctx huma.Context, opts Options) netip.Addr {
	peer, _ := parseIP(ctx.RemoteAddr())
	var hops []string
	if opts.TrustProxyHeaders || (peer.IsValid() && trustedProxy(opts.TrustedProxies, peer)) {
		ctx.EachHeader(func(name, value string) {
			if strings.EqualFold(name, "X-Forwarded-For") {
				hops = append(hops, strings.Split(value, ",")...)
			}
		})
	}
	if len(hops) == 0 {
		return peer
	}
	if opts.TrustProxyHeaders && len(opts.TrustedProxies) == 0 {
		ip, _ := parseIP(hops[len(hops)-1])
		return ip
	}
	for i := len(hops) - 1; i >= 0; i-- {
		ip, ok := parseIP(hops[i])
		if !ok {
			return netip.Addr{}
		}
		if !trustedProxy(opts.TrustedProxies, ip) || i == 0 {
			return ip
		}
	}
	return peer
}

// trustedProxy reports whether ip is one of the trusted proxies.
func trustedProxy(proxies []netip.Prefix, ip netip.Addr) bool {
	for _, p := range proxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// parseIP accepts "1.2.3.4", "1.2.3.4:5678", "[::1]:5678" and "::1".
func parseIP(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	if ip, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		return ip.Unmap(), true
	}
	return netip.Addr{}, false
}
