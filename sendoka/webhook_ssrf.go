package sendoka

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// ErrWebhookAddressRefused is the error of a webhook connection to an address Sendoka never
// connects to (see webhookAddrAllowed).
var ErrWebhookAddressRefused = errors.New("sendoka: webhook address refused")

// refusedPrefixes are ranges no webhook may reach beyond what netip's predicates name: the
// IANA special-purpose registries' ranges that are not globally reachable ("this network",
// CGNAT, IETF protocol assignments (2001::/23, Teredo among them), benchmarking, the
// reserved class E and broadcast, documentation, SRv6 SIDs), the deprecated 6to4 relay
// anycast, and the IPv6 forms that can embed any IPv4 address (NAT64, 6to4, and the
// deprecated IPv4-compatible ::/96, which a sit tunnel would carry).
var refusedPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("192.0.2.0/24"),
	netip.MustParsePrefix("192.88.99.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("198.51.100.0/24"),
	netip.MustParsePrefix("203.0.113.0/24"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("::/96"),
	netip.MustParsePrefix("64:ff9b::/96"),
	netip.MustParsePrefix("64:ff9b:1::/48"),
	netip.MustParsePrefix("2002::/16"),
	netip.MustParsePrefix("2001::/23"),
	netip.MustParsePrefix("2001:db8::/32"),
	netip.MustParsePrefix("3fff::/20"),
	netip.MustParsePrefix("5f00::/16"),
	netip.MustParsePrefix("100::/64"),
}

// webhookAddrAllowed reports whether a webhook may connect to ip: never to private
// (RFC 1918, fc00::/7), link-local, multicast, unspecified or reserved addresses, nor to
// the IPv4-mapped IPv6 forms of those; loopback only when allowLoopback (insecure
// development mode).
func webhookAddrAllowed(ip netip.Addr, allowLoopback bool) bool {
	ip = ip.Unmap().WithZone("")
	if !ip.IsValid() {
		return false
	}
	if ip.IsLoopback() {
		return allowLoopback
	}
	if ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() || ip.IsMulticast() ||
		ip.IsInterfaceLocalMulticast() || ip.IsUnspecified() || !ip.IsGlobalUnicast() {
		return false
	}
	for _, p := range refusedPrefixes {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

// webhookDialControl returns the dialer's Control function: it runs after the name was
// resolved and before the connection is made, for every address tried, so a name that
// resolves (or re-resolves, DNS rebinding) to a refused address never gets a connection.
func webhookDialControl(allowLoopback bool) func(network, address string, _ syscall.RawConn) error {
	return func(network, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return fmt.Errorf("%w: %s", ErrWebhookAddressRefused, address)
		}
		if !webhookAddrAllowed(ap.Addr(), allowLoopback) {
			return fmt.Errorf("%w: %s", ErrWebhookAddressRefused, ap.Addr())
		}
		return nil
	}
}

// newWebhookHTTPClient is the client every delivery uses: no proxy (a proxy would connect
// for us, past the guard), the guard at every connection, no redirects followed (a 3xx is
// an answer, and a failure), and timeout on the whole exchange.
func newWebhookHTTPClient(control func(network, address string, c syscall.RawConn) error, timeout time.Duration, perHost int) *http.Client {
	dialer := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second, Control: control}
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          1000,
		MaxIdleConnsPerHost:   perHost,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
	}
	return &http.Client{
		Transport: tr,
		Timeout:   timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}
