package sendoka

import (
	"context"
	"net"
	"time"
)

// DomainStatus is where a sending domain is in its verification.
type DomainStatus string

// Domain statuses. A live key sends only from a verified domain; a test key from any domain
// of its namespace.
const (
	// DomainPending: added, and its required DNS records not all seen yet.
	DomainPending DomainStatus = "pending"
	// DomainVerified: every required record was seen once (or the domain was bootstrapped
	// as verified, Config.VerifiedDomains). A verified domain stays verified: a later check
	// that misses a record updates that record's status, never the domain's.
	DomainVerified DomainStatus = "verified"
)

// SandboxDomainID is the id under which the built-in sandbox domain (Config.SandboxDomain)
// is listed: every org has it, verified, with no records to publish. It cannot be deleted,
// and it is allowed to every key whatever its AllowedDomainIDs, since nothing sent from it
// is delivered.
const SandboxDomainID = "dom_sandbox"

// Domain is a sender domain of an org (or of one tenant of it): mail may come from
// addresses at Name once the domain is verified (live keys) or added (test keys).
type Domain struct {
	ID       string
	OrgID    string
	TenantID string // "" for an org-level domain
	// Name is the domain in lower case, international names in their punycode (A-label)
	// form, without a trailing dot.
	Name   string
	Status DomainStatus
	// BuiltIn marks the sandbox domain's entry (SandboxDomainID); it is never stored.
	BuiltIn bool
	// Provider names the email provider that provisioned the domain (DomainProvisioner) and
	// signs its mail; "" when Sendoka signs with its own key.
	Provider string
	// DKIMSelector and DKIMPrivateKey are Sendoka's own DKIM key of the domain, a 2048-bit
	// RSA key in PKCS #8 PEM: the private key is kept in the database as it is (protect the
	// database and its backups accordingly) and never shown by the API. Both are empty when
	// Provider signs.
	DKIMSelector   string
	DKIMPrivateKey string
	// Records are the DNS records to publish, each with what the last check found.
	Records   []DNSRecord
	CreatedAt time.Time
	UpdatedAt time.Time
	// VerifiedAt is when the domain became verified; CheckedAt when its records were last
	// looked up. Nil when it never happened.
	VerifiedAt *time.Time
	CheckedAt  *time.Time
}

// signsWithOwnKey reports whether mail from d is signed with Sendoka's key: d is verified,
// Sendoka holds its key, and its DKIM record was seen in DNS (a domain bootstrapped as
// verified is signed only once a check found the record: before, receivers could not
// verify the signature).
func (d *Domain) signsWithOwnKey() bool {
	if d.Status != DomainVerified || d.Provider != "" || d.DKIMPrivateKey == "" || d.DKIMSelector == "" {
		return false
	}
	for _, r := range d.Records {
		if r.Purpose == RecordDKIM {
			return r.Status == RecordVerified
		}
	}
	return false
}

// RecordPurpose says what a DNS record of a domain is for.
type RecordPurpose string

// Record purposes.
const (
	// RecordDKIM: the DKIM public key (a TXT record), or with a provider that signs, a CNAME
	// to its key.
	RecordDKIM RecordPurpose = "dkim"
	// RecordSPF: the SPF TXT record of the return-path (MAIL FROM) host.
	RecordSPF RecordPurpose = "spf"
	// RecordReturnPath: the MX record of the return-path host, where bounces go.
	RecordReturnPath RecordPurpose = "return_path"
	// RecordDMARC: a DMARC policy; recommended, not required for verification.
	RecordDMARC RecordPurpose = "dmarc"
)

// RecordStatus is what the last check found for one record.
type RecordStatus string

// Record statuses.
const (
	RecordPending  RecordStatus = "pending"  // not checked yet
	RecordVerified RecordStatus = "verified" // found with the right value
	RecordMissing  RecordStatus = "missing"  // no record of this type at this name
	RecordMismatch RecordStatus = "mismatch" // found, with another value (Problem says which)
	// RecordLookupFailed: DNS did not answer (a timeout, a server failure); check again.
	RecordLookupFailed RecordStatus = "lookup_failed"
)

// DNSRecord is one DNS record to publish for a domain. The JSON form is how stores keep it.
type DNSRecord struct {
	Purpose RecordPurpose `json:"purpose"`
	Type    string        `json:"type"` // TXT, MX or CNAME
	// Name is the fully qualified host name, without a trailing dot.
	Name  string `json:"name"`
	Value string `json:"value"`
	// Priority is an MX record's preference; 0 for other types.
	Priority int `json:"priority,omitempty"`
	// Required records must all be found for the domain to become verified.
	Required bool         `json:"required"`
	Status   RecordStatus `json:"status"`
	// Problem says what the last check found wrong and what to do; "" when the record was
	// found or not checked yet.
	Problem string `json:"problem,omitempty"`
}

// DomainRequest is the body of POST /api/v1/domains.
type DomainRequest struct {
	Name string `json:"name" doc:"The domain to send from: lower case (upper case is folded), an international name in Unicode or punycode, no trailing dot, at most 253 characters" example:"example.com"`
}

// DomainList is one page of domains with the cursor of the next.
type DomainList struct {
	Domains    []*Domain
	HasMore    bool
	NextCursor string
}

// DomainPage is one page of Store.ListDomains.
type DomainPage struct {
	Domains []*Domain
	HasMore bool
}

// DomainStore is the part of the Store that reads domains.
type DomainStore interface {
	// GetDomain returns a domain in scope (org-wide scopes see every tenant's), or
	// CodeNotFound.
	GetDomain(ctx context.Context, scope Scope, id string) (*Domain, error)
	// ListDomains returns one page of domains in scope, newest first ((CreatedAt, ID)
	// descending), strictly after q.After when it is set.
	ListDomains(ctx context.Context, scope Scope, q PageQuery) (*DomainPage, error)
	// NamespaceDomains returns every domain of exactly one namespace, in any order: the
	// org-level domains (tenantID "", tenant_id NULL) or one tenant's. The send path reads
	// it, through a cache, to find the domain of a sender address.
	NamespaceDomains(ctx context.Context, orgID, tenantID string) ([]*Domain, error)
	// PendingDomains returns at most limit pending domains of every org created at or
	// after createdSince, those never checked first, then the least recently checked.
	PendingDomains(ctx context.Context, createdSince time.Time, limit int) ([]*Domain, error)
}

// DomainTx is the part of the Tx that writes domains.
type DomainTx interface {
	// InsertDomain inserts a domain. A name already in the namespace (the org, or the
	// tenant) is CodeConflict.
	InsertDomain(ctx context.Context, d *Domain) error
	// UpdateDomainCheck writes Status, Records, VerifiedAt, CheckedAt and UpdatedAt of the
	// domain with d.ID, whatever its scope; CodeNotFound when it no longer exists. A stored
	// verified status, and a stored VerifiedAt, are kept whatever d says: two checks that
	// race never turn a verified domain back to pending.
	UpdateDomainCheck(ctx context.Context, d *Domain) error
	// DeleteDomain deletes a domain in scope; CodeNotFound when it is not in scope.
	DeleteDomain(ctx context.Context, scope Scope, id string) error
}

// DomainProvisioner is implemented by email providers that must know a domain before they
// send from it, and that sign its mail themselves (SES with Easy DKIM). When the live email
// provider (Config.Email) implements it, CreateDomain calls ProvisionDomain before the
// domain is stored, and shows the records it returns instead of Sendoka's own DKIM record;
// Sendoka then holds no key for the domain and never signs its mail.
//
// d is validated and not stored yet: d.Name is a lower-case A-label name, d.ID set, and
// d.Records holds the return-path records (SPF and MX on the return-path host) and the
// DMARC recommendation, which the provider may use (to set its MAIL FROM domain) but must
// not change. ProvisionDomain must be idempotent: a name the provider already knows is not
// an error, it returns that identity's records. It returns the DKIM records to publish
// (Purpose RecordDKIM, Required, Status RecordPending). An error should be a
// *ProviderError: Permanent when the provider refuses the name (shown as a 422 on
// ["name"]), anything else when it could not be asked (shown as 503; nothing is stored).
type DomainProvisioner interface {
	ProvisionDomain(ctx context.Context, d *Domain) ([]DNSRecord, error)
}

// DNSResolver looks up the records that verify a domain. *net.Resolver implements it
// (net.DefaultResolver is Config.DNS's default); tests use an in-memory one
// (sendokatest.DNS).
//
// An error for a name or type that does not exist must be a *net.DNSError with IsNotFound
// set, as net.Resolver's is: the record is then reported missing. Any other error reports
// the lookup failed (try again later). LookupTXT joins the strings of one TXT record into one
// string, as net.Resolver does; LookupCNAME returns the canonical name a CNAME chain ends
// at.
type DNSResolver interface {
	LookupTXT(ctx context.Context, name string) ([]string, error)
	LookupMX(ctx context.Context, name string) ([]*net.MX, error)
	LookupCNAME(ctx context.Context, host string) (string, error)
}
