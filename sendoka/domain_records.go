package sendoka

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"
)

// DomainConfig says which DNS records a new domain must publish, and how domains are checked
// and cached. The return-path values belong to the installation's email provider (where its
// bounces go and which hosts it sends from): the defaults are Amazon SES's in us-east-1;
// set them to your SMTP relay's (or your SES region's) values. They are fixed into a domain's
// records when it is added: a change applies to domains added later.
type DomainConfig struct {
	// ReturnPath is the label of the return-path (MAIL FROM) host under each domain, which
	// gets the SPF and MX records: "bounces" makes bounces.example.com. Default:
	// DefaultReturnPath.
	ReturnPath string
	// SPFInclude is the host of the SPF include: mechanism: "v=spf1 include:<SPFInclude>
	// ~all". Default: DefaultSPFInclude.
	SPFInclude string
	// MXHost is the mail exchanger of the return-path host, where bounces are received.
	// Default: DefaultMXHost.
	MXHost string
	// RecheckWindow is how long after it was added a pending domain is checked again by the
	// periodic job (JobRecheckDomains); after that it is checked only when asked
	// (VerifyDomain). Default: DefaultRecheckWindow.
	RecheckWindow time.Duration
	// LookupTimeout bounds one check of a domain's records (the lookups run in parallel).
	// Default: DefaultLookupTimeout.
	LookupTimeout time.Duration
	// CacheTTL is how long the send path uses a namespace's domains read from the store
	// before reading them again: a domain verified, added or deleted in another process
	// takes effect here within it (at once in the process that made the change). At most
	// DomainCacheTTL, the default; negative: no cache, every send reads the store.
	CacheTTL time.Duration
}

// Defaults of DomainConfig.
const (
	DefaultReturnPath    = "bounces"
	DefaultSPFInclude    = "amazonses.com"
	DefaultMXHost        = "feedback-smtp.us-east-1.amazonses.com"
	DefaultRecheckWindow = 72 * time.Hour
	DefaultLookupTimeout = 2 * time.Second
	// DomainCacheTTL bounds how stale the send path's view of a namespace's domains may be.
	DomainCacheTTL = time.Second
	// DMARCRecommendation is the DMARC record recommended for every domain: monitoring only.
	DMARCRecommendation = "v=DMARC1; p=none;"
	// dkimKeyBits is the size of the RSA keys Sendoka makes.
	dkimKeyBits = 2048
)

func (cfg DomainConfig) withDefaults() (DomainConfig, error) {
	if cfg.ReturnPath == "" {
		cfg.ReturnPath = DefaultReturnPath
	}
	if cfg.SPFInclude == "" {
		cfg.SPFInclude = DefaultSPFInclude
	}
	if cfg.MXHost == "" {
		cfg.MXHost = DefaultMXHost
	}
	if cfg.RecheckWindow <= 0 {
		cfg.RecheckWindow = DefaultRecheckWindow
	}
	if cfg.LookupTimeout <= 0 {
		cfg.LookupTimeout = DefaultLookupTimeout
	}
	if cfg.CacheTTL == 0 || cfg.CacheTTL > DomainCacheTTL {
		cfg.CacheTTL = DomainCacheTTL
	}
	cfg.ReturnPath = strings.ToLower(strings.TrimSpace(cfg.ReturnPath))
	cfg.SPFInclude = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(cfg.SPFInclude)), ".")
	cfg.MXHost = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(cfg.MXHost)), ".")
	if name, why := NormalizeDomainName(cfg.ReturnPath + ".example.com"); why != "" || name != cfg.ReturnPath+".example.com" {
		return cfg, fmt.Errorf("sendoka: DomainConfig.ReturnPath %q: one or more DNS labels (letters, digits, hyphens)", cfg.ReturnPath)
	}
	for field, host := range map[string]string{"SPFInclude": cfg.SPFInclude, "MXHost": cfg.MXHost} {
		if name, why := NormalizeDomainName(host); why != "" || name != host {
			return cfg, fmt.Errorf("sendoka: DomainConfig.%s %q: %s", field, host, why)
		}
	}
	return cfg, nil
}

// returnPathHost is the return-path host of a domain name.
func (cfg DomainConfig) returnPathHost(name string) string { return cfg.ReturnPath + "." + name }

// otherRecords are the records every domain publishes besides its DKIM key: SPF and MX on
// the return-path host, and the DMARC recommendation.
func (cfg DomainConfig) otherRecords(name string) []DNSRecord {
	rp := cfg.returnPathHost(name)
	return []DNSRecord{
		{Purpose: RecordSPF, Type: "TXT", Name: rp, Value: "v=spf1 include:" + cfg.SPFInclude + " ~all", Required: true, Status: RecordPending},
		{Purpose: RecordReturnPath, Type: "MX", Name: rp, Value: cfg.MXHost, Priority: 10, Required: true, Status: RecordPending},
		{Purpose: RecordDMARC, Type: "TXT", Name: "_dmarc." + name, Value: DMARCRecommendation, Required: false, Status: RecordPending},
	}
}

// newDKIMKey makes a domain's own key: the private key in PKCS #8 PEM, and the TXT record
// that publishes its public half at <selector>._domainkey.<name>.
func newDKIMKey(name, selector string) (privatePEM string, rec DNSRecord, err error) {
	key, err := rsa.GenerateKey(rand.Reader, dkimKeyBits)
	if err != nil {
		return "", rec, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", rec, err
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return "", rec, err
	}
	privatePEM = string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	rec = DNSRecord{
		Purpose: RecordDKIM, Type: "TXT", Name: selector + "._domainkey." + name,
		Value:    "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(pub),
		Required: true, Status: RecordPending,
	}
	return privatePEM, rec, nil
}

// dkimSelector is the selector of a domain's own key: "sendoka" and the random tail of its
// id, so the same name added in two namespaces (two tenants) never shares a record name.
func dkimSelector(id string) string {
	return "sendoka-" + strings.ToLower(id[max(len(id)-8, 0):])
}

// parseDKIMKey reads a key newDKIMKey made.
func parseDKIMKey(privatePEM string) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode([]byte(privatePEM))
	if block == nil {
		return nil, errors.New("no PEM block")
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	rsaKey, ok := key.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("a %T, not an RSA key", key)
	}
	return rsaKey, nil
}
