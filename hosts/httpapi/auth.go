package httpapi

import (
	"context"
	"net/netip"
	"strings"

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
		p, err := c.Authenticate(actx, token, clientIP(ctx, opts.TrustProxyHeaders))
		end()
		if err != nil {
			reject(ctx, err)
			return
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

// clientIP is the caller's address: the TCP peer, or with trustProxy the last address of
// X-Forwarded-For, the one the proxy in front of us appended (earlier entries come from the
// client and can be forged). The zero Addr means unknown.
func clientIP(ctx huma.Context, trustProxy bool) netip.Addr {
	if trustProxy {
		var last string
		ctx.EachHeader(func(name, value string) {
			if strings.EqualFold(name, "X-Forwarded-For") {
				last = value
			}
		})
		if last != "" {
			parts := strings.Split(last, ",")
			if ip, ok := parseIP(parts[len(parts)-1]); ok {
				return ip
			}
		}
	}
	ip, _ := parseIP(ctx.RemoteAddr())
	return ip
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
