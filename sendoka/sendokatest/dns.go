package sendokatest

import (
	"context"
	"net"
	"slices"
	"strings"
	"sync"

	"github.com/sendoka/sendoka/sendoka"
)

// DNS is an in-memory DNS zone, a sendoka.DNSResolver for tests: domains are verified
// against what the test published, never against the network. Names compare without case
// or trailing dot. A name with no record of the asked type answers as net.Resolver does for
// a name that does not exist (*net.DNSError with IsNotFound), so the core reports the record
// missing. It is safe for concurrent use.
//
//	dns := sendokatest.NewDNS()
//	client, _ := sendoka.New(sendoka.Config{..., DNS: dns})
//	d, _ := client.CreateDomain(ctx, p, &sendoka.DomainRequest{Name: "acme.example"})
//	dns.Publish(d)                      // every record, as shown
//	d, _ = client.VerifyDomain(ctx, p, d.ID) // d.Status == sendoka.DomainVerified
type DNS struct {
	mu    sync.Mutex
	txt   map[string][]string
	mx    map[string][]*net.MX
	cname map[string]string
	fail  map[string]error
}

var _ sendoka.DNSResolver = (*DNS)(nil)

// NewDNS returns an empty zone.
func NewDNS() *DNS {
	return &DNS{txt: map[string][]string{}, mx: map[string][]*net.MX{}, cname: map[string]string{}, fail: map[string]error{}}
}

func dnsName(s string) string { return strings.TrimSuffix(strings.ToLower(s), ".") }

// SetTXT replaces the TXT records of name (none: removes them).
func (z *DNS) SetTXT(name string, values ...string) {
	z.mu.Lock()
	defer z.mu.Unlock()
	z.txt[dnsName(name)] = slices.Clone(values)
}

// SetMX replaces the MX records of name with hosts, at preference 10 (none: removes them).
func (z *DNS) SetMX(name string, hosts ...string) {
	z.mu.Lock()
	defer z.mu.Unlock()
	mxs := make([]*net.MX, len(hosts))
	for i, h := range hosts {
		mxs[i] = &net.MX{Host: dnsName(h) + ".", Pref: 10}
	}
	z.mx[dnsName(name)] = mxs
}

// SetCNAME points name at target ("" removes it).
func (z *DNS) SetCNAME(name, target string) {
	z.mu.Lock()
	defer z.mu.Unlock()
	if target == "" {
		delete(z.cname, dnsName(name))
		return
	}
	z.cname[dnsName(name)] = dnsName(target)
}

// Fail makes every lookup of name fail with err, as a DNS server that fails or times out
// (nil: answer again).
func (z *DNS) Fail(name string, err error) {
	z.mu.Lock()
	defer z.mu.Unlock()
	if err == nil {
		delete(z.fail, dnsName(name))
		return
	}
	z.fail[dnsName(name)] = err
}

// Remove drops every record of name.
func (z *DNS) Remove(name string) {
	z.mu.Lock()
	defer z.mu.Unlock()
	n := dnsName(name)
	delete(z.txt, n)
	delete(z.mx, n)
	delete(z.cname, n)
}

// Publish publishes every record of d as d shows it (what a user following the
// instructions does). TXT records at the same name are kept side by side.
func (z *DNS) Publish(d *sendoka.Domain) {
	for _, r := range d.Records {
		switch r.Type {
		case "TXT":
			z.mu.Lock()
			n := dnsName(r.Name)
			if !slices.Contains(z.txt[n], r.Value) {
				z.txt[n] = append(z.txt[n], r.Value)
			}
			z.mu.Unlock()
		case "MX":
			z.SetMX(r.Name, r.Value)
		case "CNAME":
			z.SetCNAME(r.Name, r.Value)
		}
	}
}

// lookup returns what fn finds for name, or the error the name is set to fail with, or
// not-found when fn finds nothing.
func lookup[T any](z *DNS, name string, fn func(n string) (T, bool)) (T, error) {
	z.mu.Lock()
	defer z.mu.Unlock()
	n := dnsName(name)
	var zero T
	if err := z.fail[n]; err != nil {
		return zero, err
	}
	v, ok := fn(n)
	if !ok {
		return zero, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
	}
	return v, nil
}

// LookupTXT returns the TXT records of name.
func (z *DNS) LookupTXT(_ context.Context, name string) ([]string, error) {
	return lookup(z, name, func(n string) ([]string, bool) {
		v := z.txt[n]
		return slices.Clone(v), len(v) > 0
	})
}

// LookupMX returns the MX records of name.
func (z *DNS) LookupMX(_ context.Context, name string) ([]*net.MX, error) {
	return lookup(z, name, func(n string) ([]*net.MX, bool) {
		v := z.mx[n]
		return slices.Clone(v), len(v) > 0
	})
}

// LookupCNAME returns the name a CNAME at host points to, with a trailing dot; for a name
// that has records but no CNAME, the name itself (as net.Resolver does).
func (z *DNS) LookupCNAME(_ context.Context, host string) (string, error) {
	return lookup(z, host, func(n string) (string, bool) {
		if t, ok := z.cname[n]; ok {
			return t + ".", true
		}
		if len(z.txt[n]) > 0 || len(z.mx[n]) > 0 {
			return n + ".", true
		}
		return "", false
	})
}
