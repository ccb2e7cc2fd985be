package sendoka

// Fuzz targets for the parsers of untrusted input that live in the core: addresses, webhook
// URLs and the addresses webhooks connect to, signed tokens (tracking, unsubscribe, VERP),
// key CIDRs, cursors, API keys, domain names, custom headers, schedules and the HTML whose
// links are tracked. Each asserts more than "no panic": what a parser accepts is valid by its
// own rules, and what we sign or encode comes back as it went in. Seeds live in
// testdata/fuzz/<FuzzName>; `go test` runs them, `make fuzz` explores from them.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/mail"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/oklog/ulid/v2"
	"github.com/stretchr/testify/require"
	xhtml "golang.org/x/net/html"
)

// FuzzParseMailbox: an accepted address is ASCII, a dot-atom at a lower-case host name, with
// a display name free of control characters; its stored form (formatAddress) parses back to
// the same name and address, holds no line break, and is stable.
func FuzzParseMailbox(f *testing.F) {
	for _, s := range []string{
		"user@example.com", `"Ann Lee" <ann@example.com>`, "Ann <ANN@Example.COM>",
		"=?utf-8?q?Ann=0D=0ABcc:_x@evil.test?= <ann@example.com>", "a@b", "a..b@example.com",
		`"\"" <q@example.com>`, "ann@[127.0.0.1]", "ann@xn--bcher-kva.example", "ann@bücher.example",
		"ann@example.com\r\nBcc: x@evil.test", "<ann@example.com>", "ann@-example.com",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, msg := parseMailbox(s)
		if msg != "" {
			require.Nil(t, a)
			return
		}
		require.NotNil(t, a)
		at := strings.LastIndexByte(a.Address, '@')
		require.Positive(t, at)
		require.True(t, isASCII(a.Address), a.Address)
		require.True(t, validLocalPart(a.Address[:at]), a.Address)
		require.True(t, validHostname(a.Address[at+1:]), a.Address)
		require.LessOrEqual(t, len(a.Name), MaxDisplayNameLen)
		require.True(t, utf8.ValidString(a.Name))
		require.False(t, hasControl(a.Name), "%q", a.Name)
		require.Equal(t, strings.TrimSpace(a.Name), a.Name)

		stored := formatAddress(a)
		require.NotContains(t, stored, "\r")
		require.NotContains(t, stored, "\n")
		again, msg := parseMailbox(stored)
		require.Empty(t, msg, "the stored form %q of %q is refused", stored, s)
		require.Equal(t, *a, *again, "the stored form %q of %q", stored, s)
		require.Equal(t, stored, formatAddress(again))
		require.Equal(t, a.Address, bareAddress(stored))
	})
}

// FuzzParseRecipients: the three lists come out valid, without an address twice across
// them (case ignored), and never more than MaxEmailRecipientsTotal without a field error.
func FuzzParseRecipients(f *testing.F) {
	f.Add("a@example.com\nb@example.com", "A@EXAMPLE.COM", "c@example.com\nb@example.com")
	f.Add("", "x", "Ann <a@example.com>\na@example.com")
	f.Fuzz(func(t *testing.T, to, cc, bcc string) {
		split := func(s string) []string {
			if s == "" {
				return nil
			}
			return strings.Split(s, "\n")
		}
		var v Validation
		outTo, outCc, outBcc := parseRecipients(&v, split(to), split(cc), split(bcc))
		seen := map[string]bool{}
		for _, list := range [][]string{outTo, outCc, outBcc} {
			for _, s := range list {
				a, err := mail.ParseAddress(s)
				require.NoError(t, err, s)
				key := strings.ToLower(a.Address)
				require.False(t, seen[key], "%s twice", key)
				seen[key] = true
			}
		}
		if len(seen) > MaxEmailRecipientsTotal {
			require.Error(t, v.Err())
		}
	})
}

// FuzzCheckWebhookURL: an accepted endpoint URL is absolute, carries no credentials, and is
// https (plain http only to a loopback host in insecure mode); a host that is an address is
// one webhooks may connect to, and a host that only looks numeric is refused.
func FuzzCheckWebhookURL(f *testing.F) {
	for _, s := range []string{
		"https://hooks.example.com/sendoka", "http://hooks.example.com/x", "https://127.0.0.1/x",
		"https://[::ffff:127.0.0.1]/", "https://[fe80::1%25eth0]/", "https://2130706433/", "https://0x7f.1/",
		"https://localhost./", "https://LOCALHOST/", "https://a.localhost/", "https://user:pw@example.com/",
		"https://169.254.169.254/latest/meta-data/", "https://[::]/", "https://10.0.0.1./", "https:///x",
		"https://example.com:99999/", "//example.com/", "mailto:x@example.com", "https://[2001::1]/",
		"https://[64:ff9b::a00:1]/", "https://[::a00:1]/", "http://localhost:8080/hook",
	} {
		f.Add(s, false)
	}
	f.Add("http://localhost:8080/hook", true)
	f.Add("http://127.0.0.1:9/x", true)
	f.Fuzz(func(t *testing.T, raw string, insecure bool) {
		c := &Client{webhooks: newWebhookRuntime(WebhookConfig{AllowInsecure: insecure})}
		if why := c.checkWebhookURL(raw); why != "" {
			return
		}
		require.LessOrEqual(t, len(raw), MaxWebhookURL)
		u, err := url.Parse(raw)
		require.NoError(t, err)
		require.Nil(t, u.User, raw)
		require.NotEmpty(t, u.Hostname(), raw)
		host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
		loopbackName := host == "localhost" || strings.HasSuffix(host, ".localhost")
		if ip, err := netip.ParseAddr(host); err == nil {
			require.True(t, webhookAddrAllowed(ip, insecure), "%s: %s", raw, ip)
			loopbackName = ip.Unmap().IsLoopback()
		} else {
			require.False(t, numericHost(host), raw)
		}
		if !insecure {
			require.False(t, loopbackName, "a loopback host outside insecure mode: %s", raw)
		}
		switch u.Scheme {
		case "https":
		case "http":
			require.True(t, insecure && loopbackName, "plain http: %s", raw)
		default:
			t.Fatalf("scheme %q accepted: %s", u.Scheme, raw)
		}
	})
}

// notGloballyReachable is the IANA special-purpose address registries' ranges that are not
// globally reachable (plus the deprecated 6to4 relay anycast and IPv4-compatible IPv6): the
// test's own list, kept apart from the implementation's, of where a webhook must never go.
var notGloballyReachable = func() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range []string{
		"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
		"192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15",
		"198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4", "255.255.255.255/32",
		"::/96", "::ffff:0:0/96", "64:ff9b::/96", "64:ff9b:1::/48", "100::/64", "2001::/23",
		"2001:db8::/32", "2002::/16", "3fff::/20", "5f00::/16", "fc00::/7", "fe80::/10", "ff00::/8",
	} {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}()

// FuzzWebhookAddrAllowed: no address of a range that is not globally reachable is allowed
// (loopback only when asked for), an IPv4 address and its IPv4-mapped IPv6 form get the
// same answer, and the dialer's guard agrees with the predicate for any address and port.
func FuzzWebhookAddrAllowed(f *testing.F) {
	for _, s := range []string{"8.8.8.8", "127.0.0.1", "10.1.2.3", "169.254.169.254", "::1", "2001::1",
		"2001:db8::1", "2002:7f00:1::", "64:ff9b::7f00:1", "::7f00:1", "fe80::1", "3fff::1", "5f00::1",
		"2606:4700::1111", "192.88.99.1", "100.64.0.1"} {
		f.Add(netip.MustParseAddr(s).AsSlice(), false)
	}
	f.Add(netip.MustParseAddr("127.0.0.1").AsSlice(), true)
	f.Fuzz(func(t *testing.T, b []byte, loopback bool) {
		ip, ok := netip.AddrFromSlice(b)
		if !ok {
			return
		}
		allowed := webhookAddrAllowed(ip, loopback)
		u := ip.Unmap()
		if allowed {
			for _, p := range notGloballyReachable {
				if p.Contains(u) && !(loopback && u.IsLoopback()) {
					t.Fatalf("%s is allowed, in %s", ip, p)
				}
			}
		}
		if u.Is4() {
			require.Equal(t, allowed, webhookAddrAllowed(netip.AddrFrom16(u.As16()), loopback), "%s", ip)
		}
		err := webhookDialControl(loopback)("tcp", netip.AddrPortFrom(ip, 443).String(), nil)
		require.Equal(t, allowed, err == nil, "%s: %v", ip, err)
	})
}

// FuzzTrackingToken: a token we sign parses back to what it names; changed in any way, or
// checked with another key, it is refused.
func FuzzTrackingToken(f *testing.F) {
	f.Add([]byte("0123456789abcdef0123456789abcdef"), byte(tokenClick), "msg_01JABCDEFGHJKMNPQRSTVWXYZ0", uint16(137), uint16(0), "A")
	f.Add([]byte("k"), byte(tokenOpen), "msg_01JABCDEFGHJKMNPQRSTVWXYZ0", uint16(0), uint16(61), "B")
	f.Add([]byte("k"), byte(tokenUnsubscribe), "aud_01JABCDEFGHJKMNPQRSTVWXYZ0/con_01JABCDEFGHJKMNPQRSTVWXYZ0", uint16(0), uint16(106), "x")
	f.Fuzz(func(t *testing.T, key []byte, kind byte, id string, pos, at uint16, edit string) {
		p := int(pos) % (MaxTrackedLinks + 1)
		tok := makeToken(key, kind, id, p)
		if len(id) <= 64 {
			require.LessOrEqual(t, len(tok), 200, "a token of an id of up to 64 bytes fits the parser's bound")
		}
		k, gotID, gotPos, ok := parseToken(key, tok)
		if len(tok) <= 200 {
			require.True(t, ok, "our own token %q", tok)
			require.Equal(t, kind, k)
			require.Equal(t, id, gotID)
			require.Equal(t, p, gotPos)
		}
		other := append(bytes.Clone(key), 'x')
		_, _, _, ok = parseToken(other, tok)
		require.False(t, ok, "another key")

		// Any other string: splice edit in at a position (replacing as many bytes).
		i := int(at) % (len(tok) + 1)
		tampered := tok[:i] + edit + tok[min(len(tok), i+len(edit)):]
		if tampered == tok {
			return
		}
		_, _, _, ok = parseToken(key, tampered)
		require.False(t, ok, "tampered %q -> %q", tok, tampered)
	})
}

// fuzzClient is a Client with what the token parsers need: a tracking secret (so no Store
// is asked for one) and a bounce domain.
func fuzzClient() *Client {
	return &Client{
		tracking: &tracker{base: "https://mail.example.com", secret: []byte("fuzz secret fuzz secret fuzz secret")},
		inbound:  InboundConfig{BounceDomain: "bounces.example.com"},
	}
}

// FuzzUnsubscribeToken: an unsubscribe link names the audience and contact it was made for;
// its token tampered, or a tracking token over the same text, is refused.
func FuzzUnsubscribeToken(f *testing.F) {
	f.Add("aud_01JABCDEFGHJKMNPQRSTVWXYZ0", "con_01JABCDEFGHJKMNPQRSTVWXYZ0", uint16(3), "_")
	f.Add("a", "b/c", uint16(0), "")
	f.Fuzz(func(t *testing.T, audienceID, contactID string, at uint16, edit string) {
		if strings.Contains(audienceID, "/") || len(audienceID)+len(contactID) > 120 {
			return // our ids have no slash and are short; the token's bound is 200 characters
		}
		ctx := context.Background()
		c := fuzzClient()
		link, err := c.UnsubscribeURL(ctx, audienceID, contactID)
		require.NoError(t, err)
		token, ok := strings.CutPrefix(link, "https://mail.example.com/u/")
		require.True(t, ok, link)
		aud, con, err := c.parseUnsubscribeToken(ctx, token)
		require.NoError(t, err)
		require.Equal(t, audienceID, aud)
		require.Equal(t, contactID, con)

		key, err := c.tracking.hmacKey(ctx, nil)
		require.NoError(t, err)
		for _, kind := range []byte{tokenOpen, tokenClick, tokenVERP} {
			_, _, err := c.parseUnsubscribeToken(ctx, makeToken(key, kind, audienceID+"/"+contactID, 0))
			require.Equal(t, CodeNotFound, ErrorCode(err), "a %c token is no unsubscribe token", kind)
		}
		i := int(at) % (len(token) + 1)
		tampered := token[:i] + edit + token[min(len(token), i+len(edit)):]
		if tampered != token {
			_, _, err := c.parseUnsubscribeToken(ctx, tampered)
			require.Equal(t, CodeNotFound, ErrorCode(err), "tampered %q", tampered)
		}
	})
}

// FuzzVERP: a message's return path is accepted (in any letter case: MTAs fold it) and
// names the message; changed in any other way it is refused; and any address accepted is
// the return path of some message, in its one encoding.
func FuzzVERP(f *testing.F) {
	f.Add(bytes.Repeat([]byte{1}, 16), true, "bounces+aaaa@bounces.example.com", uint16(0), "")
	f.Add(bytes.Repeat([]byte{0xff}, 16), false, "BOUNCES+x@BOUNCES.EXAMPLE.COM", uint16(52), "b")
	f.Fuzz(func(t *testing.T, idBytes []byte, single bool, address string, at uint16, edit string) {
		ctx := context.Background()
		c := fuzzClient()
		if ok, err := c.CheckVERPAddress(ctx, address); err == nil && ok {
			local, _, _ := strings.Cut(strings.ToLower(address), "@")
			id, _, ok, err := c.parseVERP(ctx, strings.TrimPrefix(local, VERPPrefix))
			require.NoError(t, err)
			require.True(t, ok)
			b, err := verpEncoding.DecodeString(strings.TrimPrefix(local, VERPPrefix))
			require.NoError(t, err)
			require.Equal(t, strings.TrimPrefix(local, VERPPrefix), verpEncoding.EncodeToString(b),
				"%q is accepted for %s but is not its encoding", address, id)
		}
		if len(idBytes) != 16 {
			return
		}
		var u ulid.ULID
		copy(u[:], idBytes)
		m := &Message{ID: PrefixMessage + u.String(), Channel: ChannelEmail, Email: &EmailContent{To: []string{"a@example.com"}}}
		if !single {
			m.Email.Cc = []string{"b@example.com"}
		}
		rp, err := c.ReturnPath(ctx, m)
		require.NoError(t, err)
		if rp == "" {
			return // not a ULID a message could have
		}
		require.LessOrEqual(t, strings.IndexByte(rp, '@'), 64, "RFC 5321's local part limit")
		for _, a := range []string{rp, strings.ToUpper(rp)} {
			ok, err := c.CheckVERPAddress(ctx, a)
			require.NoError(t, err)
			require.True(t, ok, a)
		}
		local, _, _ := strings.Cut(rp, "@")
		id, rcpt, ok, err := c.parseVERP(ctx, strings.TrimPrefix(local, VERPPrefix))
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, m.ID, id)
		if single {
			require.Equal(t, 0, rcpt)
		} else {
			require.Equal(t, -1, rcpt)
		}
		i := int(at) % (len(rp) + 1)
		tampered := rp[:i] + edit + rp[min(len(rp), i+len(edit)):]
		if !strings.EqualFold(tampered, rp) {
			ok, err := c.CheckVERPAddress(ctx, tampered)
			require.NoError(t, err)
			require.False(t, ok, "tampered %q -> %q", rp, tampered)
		}
	})
}

// FuzzKeyCIDRs: a key's allowed_cidrs entry that validation accepts lets in exactly the
// addresses inside it, whichever of the IPv4 and IPv4-mapped IPv6 forms the entry and the
// caller's address are written in.
func FuzzKeyCIDRs(f *testing.F) {
	for _, s := range []string{"203.0.113.0/24", "2001:db8::/32", "::ffff:10.0.0.0/104", "10.0.0.1/8",
		"0.0.0.0/0", "::/0", "10.0.0.0/33", "fe80::/10%eth0", " 10.0.0.0/8", "10.0.0.0", "::ffff:0:0/96"} {
		f.Add(s, netip.MustParseAddr("10.0.0.7").AsSlice())
		f.Add(s, netip.MustParseAddr("::ffff:203.0.113.9").AsSlice())
	}
	now := time.Unix(1_700_000_000, 0)
	f.Fuzz(func(t *testing.T, cidr string, ipBytes []byte) {
		var v Validation
		cidrs := []string{cidr}
		validateKeyLimits(&v, nil, nil, &cidrs, nil, nil, now)
		ip, ok := netip.AddrFromSlice(ipBytes)
		if v.Err() != nil || !ok {
			return
		}
		pfx := netip.MustParsePrefix(cidr)
		// The prefix in its plain form: an IPv4-mapped prefix of at least 96 bits is IPv4.
		if pfx.Addr().Is4In6() && pfx.Bits() >= 96 {
			pfx = netip.PrefixFrom(pfx.Addr().Unmap(), pfx.Bits()-96)
		}
		want := pfx.Masked().Contains(ip.Unmap())
		require.Equal(t, want, ipAllowed(cidrs, ip), "%s in %s", ip, cidr)
	})
}

// FuzzCursorRoundTrip: a cursor we encode, for any time in the accepted range and any id
// of up to 64 bytes without NUL, decodes to itself.
func FuzzCursorRoundTrip(f *testing.F) {
	f.Add(int64(1713820800), int64(113000000), "msg_01HN8Z6Q4V3K2J1M0N9P8Q7R6S")
	f.Add(int64(0), int64(0), "a|b")
	f.Add(int64(253402300799), int64(999999999), "x")
	f.Fuzz(func(t *testing.T, sec, nsec int64, id string) {
		ts := time.Unix(sec, nsec).UTC()
		if ts.Before(minCursorTime) || ts.After(maxCursorTime) || id == "" || len(id) > 64 {
			return
		}
		c := Cursor{CreatedAt: ts, ID: id}
		enc := EncodeCursor(c)
		got, err := DecodeCursor(enc)
		if !validCursorID(id) {
			require.Error(t, err, "a cursor with id %q", id)
			return
		}
		require.NoError(t, err, "%q", enc)
		require.True(t, ts.Equal(got.CreatedAt))
		require.Equal(t, id, got.ID)
	})
}

// FuzzParseKey: a key ParseKey accepts has a known prefix and at most 128 base62
// characters; a checksummed key is a well-formed one; its visible prefix is a strict
// prefix of it; fresh keys pass every check.
func FuzzParseKey(f *testing.F) {
	for _, s := range []string{NewKeyPlaintext(ModeLive), NewKeyPlaintext(ModeTest), "sok_live_", "sok_test_short",
		"sok_live_" + strings.Repeat("a", 200), "sok_live_abc-def_ghijklmnopqrstuvwxyz0123456789", "Bearer sok_live_x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		mode, ok := ParseKey(s)
		if KeyChecksumValid(s) {
			require.True(t, ok)
		}
		if !ok {
			return
		}
		require.Contains(t, []Mode{ModeLive, ModeTest}, mode)
		require.LessOrEqual(t, len(s), maxKeyPlaintext)
		prefix := KeyPrefixLive
		if mode == ModeTest {
			prefix = KeyPrefixTest
		}
		require.True(t, strings.HasPrefix(s, prefix))
		require.Equal(t, "", strings.Trim(s[len(prefix):], base62))
		vis := KeyVisible(s)
		require.True(t, strings.HasPrefix(s, vis) && len(vis) < len(s), "visible %q of %q", vis, s)
		fresh := NewKeyPlaintext(mode)
		require.True(t, KeyChecksumValid(fresh), fresh)
	})
}

// FuzzNormalizeDomainName: an accepted name is a lower-case ASCII host name of two or more
// labels within the DNS limits, and normalising it again changes nothing.
func FuzzNormalizeDomainName(f *testing.F) {
	for _, s := range []string{"example.com", "Bücher.Example", "xn--bcher-kva.example", "xn--a.example", "a..b",
		"example.com.", "-a.example", "a.b.c.d.e", strings.Repeat("a", 64) + ".com", "exa mple.com", "1.2.3.4",
		"ex\u200dample.com", "ＥＸＡＭＰＬＥ.com", "example.com\x00", "xn--ls8h.la"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		name, why := NormalizeDomainName(s)
		if why != "" {
			require.Empty(t, name)
			return
		}
		require.True(t, validHostname(name), "%q from %q", name, s)
		again, why := NormalizeDomainName(name)
		require.Empty(t, why, "%q from %q", name, s)
		require.Equal(t, name, again)
	})
}

// FuzzValidateHeaders: a custom header that validation accepts has a name of letters,
// digits and hyphens that is not reserved, and a non-empty value of valid UTF-8 without a
// line break or control character: nothing it carries can start another header.
func FuzzValidateHeaders(f *testing.F) {
	for _, kv := range [][2]string{{"X-Campaign", "spring"}, {"X-A", "a\r\nBcc: x@evil.test"}, {"Bcc", "x"},
		{"X-Sendoka-Id", "x"}, {"Content-Type", "text/html"}, {"X-A", "\u2028"}, {"X-A", " "}, {"X A", "x"},
		{"Resent-To", "x@evil.test"}, {"X-\u212a", "x"}, {"X-A", "\xff"}} {
		f.Add(kv[0], kv[1])
	}
	f.Fuzz(func(t *testing.T, name, value string) {
		var v Validation
		validateHeaders(&v, map[string]string{name: value})
		if v.Err() != nil {
			return
		}
		require.NotEmpty(t, name)
		require.LessOrEqual(t, len(name), MaxHeaderNameLen)
		require.Equal(t, "", strings.Trim(name, customHeaderNameChars), name)
		require.False(t, reservedHeader(strings.ToLower(name)), name)
		require.True(t, utf8.ValidString(value))
		require.False(t, hasControl(value), "%q", value)
		require.NotContains(t, value, "\n")
		require.NotContains(t, value, "\r")
		require.NotEmpty(t, strings.TrimSpace(value))
	})
}

var hhmm = regexp.MustCompile(`^([01][0-9]|2[0-3]):[0-5][0-9]$`)

// FuzzScheduleRequest: an accepted schedule is in the future and at most 30 days ahead; a
// local time accepted is written HH:MM, 24-hour, and falls at that wall time in its zone.
func FuzzScheduleRequest(f *testing.F) {
	f.Add("2026-05-01T12:00:00Z", "", "", int64(1777000000))
	f.Add("", "09:00", "America/New_York", int64(1777000000))
	f.Add("", "+9:+5", "UTC", int64(1777000000))
	f.Add("", "02:30", "Europe/Berlin", int64(1774746000))
	f.Add("", "09:00", "../../etc/passwd", int64(0))
	f.Add("", "09:00", "Local", int64(0))
	f.Add("9999-12-31T23:59:59+23:59", "", "", int64(253402300000))
	f.Fuzz(func(t *testing.T, at, local, tz string, nowSec int64) {
		now := time.Unix(nowSec%(1<<36), 0).UTC()
		s := ScheduleRequest{ScheduledAt: at, ScheduledLocal: local, ScheduledAtTZ: tz}
		var v Validation
		due := s.resolve(now, &v)
		if v.Err() != nil || due == nil {
			return
		}
		require.True(t, due.After(now), "%v is not after %v", due, now)
		require.LessOrEqual(t, due.Sub(now), MaxScheduleAhead)
		if local != "" {
			require.Regexp(t, hhmm, local)
			loc, err := time.LoadLocation(tz)
			require.NoError(t, err)
			require.LessOrEqual(t, due.Sub(now), 3*24*time.Hour)
			_ = loc
		}
	})
}

// FuzzRewriteLinks: on any HTML, tracking rewrites at most MaxTrackedLinks links, and
// parsing the result again finds the rewritten links where they were, in order: the
// rewrite never changes how the rest of the document reads.
func FuzzRewriteLinks(f *testing.F) {
	for _, s := range []string{
		`<p><a href="https://example.com/a">a</a> <a href='http://x.test/b' data-sendoka-notrack>b</a></p>`,
		`<a href="https://example.com/?a=1&amp;b=2">x</a>`, `<a href=https://example.com/ <script>alert(1)</script>`,
		`<area href="https://example.com/map">`, `<a href="https://e.com/"/><a href="https://e.com/2"`,
		`<a href="https://e.com/" href="https://other.test/">`, `<svg><a href="https://e.com/">x</a></svg>`,
		`<!-- <a href="https://e.com/"> -->`, `<textarea><a href="https://e.com/"></textarea>`,
		`<a href="https://e.com/"` + "\x00" + `x>`, `<A HREF="HTTPS://E.COM/">`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		var urls []string
		out := rewriteLinks(src, func(pos int, u string) string {
			require.Equal(t, len(urls), pos)
			urls = append(urls, u)
			return fmt.Sprintf("https://t.test/c/%d", pos)
		})
		require.LessOrEqual(t, len(urls), MaxTrackedLinks)
		if len(urls) == 0 {
			require.Equal(t, src, out)
			return
		}
		// Re-tokenize: the first len(urls) trackable links are ours, in order.
		z := xhtml.NewTokenizer(strings.NewReader(out))
		n := 0
		for n < len(urls) {
			tt := z.Next()
			if tt == xhtml.ErrorToken {
				require.ErrorIs(t, z.Err(), io.EOF)
				break
			}
			if tt != xhtml.StartTagToken && tt != xhtml.SelfClosingTagToken {
				continue
			}
			tok := z.Token()
			if tok.Data != "a" && tok.Data != "area" {
				continue
			}
			if i := trackableHref(tok.Attr); i >= 0 {
				require.Equal(t, fmt.Sprintf("https://t.test/c/%d", n), tok.Attr[i].Val, "link %d of %q in %q", n, src, out)
				n++
			}
		}
		require.Equal(t, len(urls), n, "rewritten links found again in %q", out)
	})
}

// FuzzRenderTemplate: a template without "{{" renders to itself; with every variable given
// a value, HTML rendering adds no markup character of the value's (no "<", ">", quote or
// apostrophe beyond the template's own text and raw {{{…}}} parts), and a value that looks
// like a reference is inserted as it is, never rendered again.
func FuzzRenderTemplate(f *testing.F) {
	for _, s := range [][2]string{{"Hi {{name}}", "<script>alert(1)</script>"}, {"{{{raw}}} {{a.b}}", `"'&`},
		{"plain text", "x"}, {"{{a}}{{a}}", "{{a}}"}, {"<p title=\"{{t}}\">", `" onload="x`}, {"{{ a }} and {{a.b}}", "v"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, src, value string) {
		ct, err := compileTemplate(src)
		if err != nil {
			return
		}
		if !strings.Contains(src, "{{") {
			out, missing := ct.render(nil, true)
			require.Equal(t, src, out)
			require.Empty(t, missing)
			return
		}
		vars := map[string]any{}
		names := ct.variables(map[string]bool{}, nil)
		for _, name := range names {
			setPathTo(vars, name, value)
		}
		_, missing := ct.render(map[string]any{}, true)
		require.ElementsMatch(t, names, dedupeStrings(missing), "with no values, every variable is missing")
		for _, a := range names {
			for _, b := range names {
				if strings.HasPrefix(b, a+".") {
					return // a name that is both a leaf and a parent ("a" and "a.b"): one of them is a map
				}
			}
		}
		out, missing := ct.render(vars, true)
		require.Empty(t, missing)
		var literal strings.Builder
		refs, raw := 0, false
		for _, p := range ct.parts {
			if p.path == nil {
				literal.WriteString(p.text)
				continue
			}
			refs++
			raw = raw || p.raw
		}
		if !raw {
			for _, c := range []string{"<", ">", `"`, "'"} {
				require.Equal(t, strings.Count(literal.String(), c), strings.Count(out, c), "%q in %q from %q with %q", c, out, src, value)
			}
		}
		// Without escaping, each reference is the value as it is: rendering with a marker and
		// then putting the value in the marker's place gives the same text.
		const marker = "\x00MARK\x00"
		if strings.Contains(src, marker) {
			return
		}
		marked := map[string]any{}
		for _, name := range names {
			setPathTo(marked, name, marker)
		}
		withMarker, _ := ct.render(marked, false)
		require.Equal(t, refs, strings.Count(withMarker, marker))
		plain, _ := ct.render(vars, false)
		require.Equal(t, strings.ReplaceAll(withMarker, marker, value), plain, "from %q with %q", src, value)
	})
}

func setPathTo(m map[string]any, dotted string, v any) {
	path, _ := parseVariablePath(dotted)
	for i, seg := range path {
		if i == len(path)-1 {
			if _, ok := m[seg]; !ok {
				m[seg] = v
			}
			return
		}
		next, ok := m[seg].(map[string]any)
		if !ok {
			if _, taken := m[seg]; taken {
				return
			}
			next = map[string]any{}
			m[seg] = next
		}
		m = next
	}
}

func dedupeStrings(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, v := range s {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}
