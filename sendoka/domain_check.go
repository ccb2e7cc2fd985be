package sendoka

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
)

// checkRecords looks every record of d up through r, in parallel and within timeout, and
// returns the records with what was found (d is not changed), and whether every required
// record was found.
func checkRecords(ctx context.Context, r DNSResolver, d *Domain, cfg DomainConfig) ([]DNSRecord, bool) {
	ctx, cancel := context.WithTimeout(ctx, cfg.LookupTimeout)
	defer cancel()
	out := slices.Clone(d.Records)
	var wg sync.WaitGroup
	for i := range out {
		wg.Go(func() {
			out[i].Status, out[i].Problem = checkRecord(ctx, r, &out[i])
		})
	}
	wg.Wait()
	ok := true
	for _, rec := range out {
		if rec.Required && rec.Status != RecordVerified {
			ok = false
		}
	}
	return out, ok
}

// checkRecord looks one record up and says what it found, with the problem in words to act
// on.
func checkRecord(ctx context.Context, r DNSResolver, rec *DNSRecord) (RecordStatus, string) {
	switch rec.Type {
	case "TXT":
		txts, err := r.LookupTXT(ctx, rec.Name)
		if err != nil {
			return lookupFailure(err, rec)
		}
		return checkTXT(rec, txts)
	case "MX":
		mxs, err := r.LookupMX(ctx, rec.Name)
		if err != nil {
			return lookupFailure(err, rec)
		}
		var hosts []string
		for _, mx := range mxs {
			h := hostName(mx.Host)
			if h == rec.Value {
				return RecordVerified, ""
			}
			hosts = append(hosts, h)
		}
		if len(hosts) == 0 {
			return RecordMissing, missing(rec)
		}
		return RecordMismatch, fmt.Sprintf("the MX record of %s points to %s, not %s: replace it with MX %d %s",
			rec.Name, strings.Join(hosts, ", "), rec.Value, rec.Priority, rec.Value)
	case "CNAME":
		target, err := r.LookupCNAME(ctx, rec.Name)
		if err != nil {
			return lookupFailure(err, rec)
		}
		if t := hostName(target); t != rec.Value {
			if t == "" || t == rec.Name {
				return RecordMissing, missing(rec)
			}
			return RecordMismatch, fmt.Sprintf("%s points to %s, not %s: change the CNAME record to %s", rec.Name, t, rec.Value, rec.Value)
		}
		return RecordVerified, ""
	}
	return RecordMismatch, "unknown record type " + rec.Type
}

// checkTXT compares the TXT records found at a name with the one expected there.
func checkTXT(rec *DNSRecord, txts []string) (RecordStatus, string) {
	switch rec.Purpose {
	case RecordDKIM:
		want := dkimTag(rec.Value, "p")
		var others []string
		for _, t := range txts {
			if p := dkimTag(t, "p"); p != "" {
				if p == want {
					return RecordVerified, ""
				}
				others = append(others, abbreviate(p, 16))
			}
		}
		if len(others) > 0 {
			return RecordMismatch, fmt.Sprintf("the TXT record at %s holds another key (p=%s): replace it with the value shown, exactly",
				rec.Name, strings.Join(others, ", p="))
		}
	case RecordSPF:
		var spf []string
		for _, t := range txts {
			if f := strings.Fields(t); len(f) > 0 && strings.EqualFold(f[0], "v=spf1") {
				spf = append(spf, t)
			}
		}
		include := strings.Fields(rec.Value)[1] // include:<host>
		switch {
		case len(spf) > 1:
			return RecordMismatch, fmt.Sprintf("%s has %d SPF records; it may have only one (receivers treat several as an error): merge them into one that contains %s",
				rec.Name, len(spf), include)
		case len(spf) == 1:
			for _, term := range strings.Fields(spf[0])[1:] {
				if strings.EqualFold(strings.TrimPrefix(term, "+"), include) {
					return RecordVerified, ""
				}
			}
			return RecordMismatch, fmt.Sprintf("the SPF record of %s (%q) does not contain %s: add it before the all mechanism", rec.Name, spf[0], include)
		}
	case RecordDMARC:
		for _, t := range txts {
			if f := strings.Split(t, ";"); strings.EqualFold(strings.TrimSpace(f[0]), "v=DMARC1") {
				return RecordVerified, ""
			}
		}
	default:
		if slices.Contains(txts, rec.Value) {
			return RecordVerified, ""
		}
	}
	return RecordMissing, missing(rec)
}

// missing says that a record is not there and what to publish.
func missing(rec *DNSRecord) string {
	what := "publish"
	if !rec.Required {
		what = "we recommend publishing"
	}
	if rec.Type == "MX" {
		return fmt.Sprintf("no MX record at %s: %s MX %d %s", rec.Name, what, rec.Priority, rec.Value)
	}
	return fmt.Sprintf("no %s record at %s: %s %s %q", rec.Type, rec.Name, what, rec.Type, rec.Value)
}

// lookupFailure classifies a failed lookup: a name or type that does not exist is missing,
// any other failure is a lookup to try again.
func lookupFailure(err error, rec *DNSRecord) (RecordStatus, string) {
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
		return RecordMissing, missing(rec)
	}
	return RecordLookupFailed, fmt.Sprintf("the DNS lookup of %s %s failed (%v); verify again later", rec.Type, rec.Name, err)
}

// dkimTag returns the value of tag in a DKIM tag list ("v=DKIM1; k=rsa; p=..."), with the
// spaces a DNS provider may add removed; "" when absent.
func dkimTag(list, tag string) string {
	for _, part := range strings.Split(list, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if ok && strings.TrimSpace(k) == tag {
			return strings.Join(strings.Fields(v), "")
		}
	}
	return ""
}

// hostName is a DNS name as records are compared: lower case, no trailing dot.
func hostName(s string) string { return strings.TrimSuffix(strings.ToLower(s), ".") }

func abbreviate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
