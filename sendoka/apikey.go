package sendoka

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"hash/crc32"
	"math/big"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// Permission is what an API key may do. A key with PermissionFullAccess may do everything.
type Permission string

// Key permissions (scopes). The docs name emails:send and sms:send; every resource has a
// :read and a :write scope, and a key with PermissionFullAccess holds them all. Reading a
// channel's messages is allowed to a key that may send on it, or that has its :read scope; a
// :write scope also allows reading its resource.
const (
	PermissionFullAccess Permission = "full_access"

	PermissionEmailsSend Permission = "emails:send"
	PermissionEmailsRead Permission = "emails:read"
	PermissionSMSSend    Permission = "sms:send"
	PermissionSMSRead    Permission = "sms:read"

	PermissionTemplatesRead     Permission = "templates:read"
	PermissionTemplatesWrite    Permission = "templates:write"
	PermissionPhoneNumbersRead  Permission = "phone_numbers:read"
	PermissionPhoneNumbersWrite Permission = "phone_numbers:write"
	PermissionSuppressionsRead  Permission = "suppressions:read"
	PermissionSuppressionsWrite Permission = "suppressions:write"
	PermissionDomainsRead       Permission = "domains:read"
	PermissionDomainsWrite      Permission = "domains:write"
	PermissionAPIKeysRead       Permission = "api_keys:read"
	PermissionAPIKeysWrite      Permission = "api_keys:write"
	PermissionTenantsRead       Permission = "tenants:read"
	PermissionTenantsWrite      Permission = "tenants:write"
	PermissionWebhooksRead      Permission = "webhooks:read"
	PermissionWebhooksWrite     Permission = "webhooks:write"
	PermissionAudiencesRead     Permission = "audiences:read"
	PermissionAudiencesWrite    Permission = "audiences:write"
	PermissionUsageRead         Permission = "usage:read"
	PermissionInboundRead       Permission = "inbound:read"
	PermissionInboundWrite      Permission = "inbound:write"
)

// Permissions lists every permission.
var Permissions = []Permission{
	PermissionFullAccess,
	PermissionEmailsSend, PermissionEmailsRead, PermissionSMSSend, PermissionSMSRead,
	PermissionTemplatesRead, PermissionTemplatesWrite,
	PermissionPhoneNumbersRead, PermissionPhoneNumbersWrite,
	PermissionSuppressionsRead, PermissionSuppressionsWrite,
	PermissionDomainsRead, PermissionDomainsWrite,
	PermissionAPIKeysRead, PermissionAPIKeysWrite,
	PermissionTenantsRead, PermissionTenantsWrite,
	PermissionWebhooksRead, PermissionWebhooksWrite,
	PermissionAudiencesRead, PermissionAudiencesWrite,
	PermissionUsageRead,
	PermissionInboundRead, PermissionInboundWrite,
}

// APIKey is a stored key. The plaintext is shown once, at creation; only its SHA-256 hash and
// a short visible prefix are kept.
type APIKey struct {
	ID       string
	OrgID    string
	TenantID string // "" for an org-wide key
	Name     string
	// Prefix is the start of the plaintext (for example "sok_live_4fQ2"), for recognising a key.
	Prefix      string
	Hash        string // hex SHA-256 of the plaintext
	Mode        Mode
	Permissions []Permission
	// AllowedCIDRs, when not empty, limits the caller's IP address.
	AllowedCIDRs []string
	// AllowedDomainIDs, when not empty, limits the domains the key may send from.
	AllowedDomainIDs []string
	CreatedAt        time.Time
	ExpiresAt        *time.Time
	// RevokedAt is when the key stopped (or stops) working.
	RevokedAt *time.Time
	// LastUsedAt is when the key last authenticated a request, to the minute: it is written
	// at most once a minute per key, and nil for a key never used.
	LastUsedAt *time.Time
}

// Key plaintext format: "sok_live_" or "sok_test_" and at least 24 base62 characters.
const (
	KeyPrefixLive    = "sok_live_"
	KeyPrefixTest    = "sok_test_"
	keySecretLen     = 32
	keyMinSecretLen  = 24
	keyVisiblePrefix = 4 // characters of the secret kept visible after the mode prefix
	base62           = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	maxKeyPlaintext  = 128
	maxKeyNameLen    = 100
)

// HashKey returns the stored form of a key's plaintext.
func HashKey(plaintext string) string {
	sum := sha256.Sum256([]byte(plaintext))
	return hex.EncodeToString(sum[:])
}

// ParseKey checks the shape of a key's plaintext and returns its mode. It does not look the
// key up.
func ParseKey(plaintext string) (Mode, bool) {
	var mode Mode
	var secret string
	switch {
	case strings.HasPrefix(plaintext, KeyPrefixLive):
		mode, secret = ModeLive, plaintext[len(KeyPrefixLive):]
	case strings.HasPrefix(plaintext, KeyPrefixTest):
		mode, secret = ModeTest, plaintext[len(KeyPrefixTest):]
	default:
		return "", false
	}
	if len(plaintext) > maxKeyPlaintext || len(secret) < keyMinSecretLen {
		return "", false
	}
	for i := 0; i < len(secret); i++ {
		if strings.IndexByte(base62, secret[i]) < 0 {
			return "", false
		}
	}
	return mode, true
}

// NewKeyPlaintext returns a fresh random key of the given mode: the mode's prefix, 32
// random base62 characters (190 bits) and a 6-character checksum (KeyChecksumValid), so a
// leak scanner can tell a real key from look-alike text without asking us.
func NewKeyPlaintext(mode Mode) string {
	var b strings.Builder
	if mode == ModeTest {
		b.WriteString(KeyPrefixTest)
	} else {
		b.WriteString(KeyPrefixLive)
	}
	max := big.NewInt(int64(len(base62)))
	for range keySecretLen {
		n, err := rand.Int(rand.Reader, max)
		if err != nil {
			panic(err) // crypto/rand never fails on supported platforms
		}
		b.WriteByte(base62[n.Int64()])
	}
	b.WriteString(keyChecksum(b.String()))
	return b.String()
}

// keyChecksumLen is the length of a key's checksum: base62 of a CRC-32, zero-padded.
const keyChecksumLen = 6

// keyChecksum is the CRC-32 (IEEE) of body in base62, 6 characters, most significant first.
func keyChecksum(body string) string {
	n := crc32.ChecksumIEEE([]byte(body))
	var out [keyChecksumLen]byte
	for i := keyChecksumLen - 1; i >= 0; i-- {
		out[i] = base62[n%62]
		n /= 62
	}
	return string(out[:])
}

// KeyChecksumValid reports whether plaintext is a key in the shape NewKeyPlaintext makes,
// sok_live_ or sok_test_ and 38 base62 characters, whose last 6 are the CRC-32 (IEEE) of
// everything before them in base62: a leaked key can be recognised offline. Keys made
// before checksums existed (and keys given to SENDOKA_BOOTSTRAP_KEYS) still work without one.
func KeyChecksumValid(plaintext string) bool {
	mode, ok := ParseKey(plaintext)
	prefixLen := len(KeyPrefixLive)
	if mode == ModeTest {
		prefixLen = len(KeyPrefixTest)
	}
	if !ok || len(plaintext) != prefixLen+keySecretLen+keyChecksumLen {
		return false
	}
	cut := len(plaintext) - keyChecksumLen
	return plaintext[cut:] == keyChecksum(plaintext[:cut])
}

// KeyVisible is the part of a key the API shows of it, its Prefix ("sok_live_4fQ2"): enough
// to recognise the key in a list or a log, never enough to use it. plaintext is a key that
// ParseKey accepts.
func KeyVisible(plaintext string) string {
	if len(plaintext) < 5 {
		return ""
	}
	i := strings.IndexByte(plaintext[4:], '_') + 5 // after "sok_live_"
	return plaintext[:min(len(plaintext), i+keyVisiblePrefix)]
}

// Principal is the authenticated caller of a request: the org (and tenant) it acts for and
// what it may do. Library callers that do not use keys build one with SystemPrincipal.
type Principal struct {
	OrgID            string
	TenantID         string
	KeyID            string
	Mode             Mode
	Permissions      []Permission
	AllowedCIDRs     []string
	AllowedDomainIDs []string
	// ExpiresAt is when the principal's key expires (nil: never). Keys it creates expire no
	// later.
	ExpiresAt *time.Time
	// UserID and Role are set when a dashboard user acts (UserPrincipal); "" for API keys.
	UserID string
	Role   Role
}

// SystemPrincipal is a full-access principal for an org, for code that calls the Client
// directly rather than through an API key.
func SystemPrincipal(orgID string, mode Mode) *Principal {
	return &Principal{OrgID: orgID, Mode: mode, Permissions: []Permission{PermissionFullAccess}}
}

// Scope is the slice of data the principal may see.
func (p *Principal) Scope() Scope { return Scope{OrgID: p.OrgID, TenantID: p.TenantID, Mode: p.Mode} }

// Can reports whether the principal holds any of the permissions: full access holds every
// one, and a resource's :write scope holds its :read scope.
func (p *Principal) Can(perms ...Permission) bool {
	for _, want := range perms {
		if p.holds(want) {
			return true
		}
	}
	return false
}

func (p *Principal) holds(want Permission) bool {
	if slices.Contains(p.Permissions, PermissionFullAccess) || slices.Contains(p.Permissions, want) {
		return true
	}
	if res, ok := strings.CutSuffix(string(want), ":read"); ok {
		return slices.Contains(p.Permissions, Permission(res+":write"))
	}
	return false
}

func (p *Principal) require(perms ...Permission) error {
	if p == nil {
		return Errorf(CodeUnauthorized, "missing API key")
	}
	if p.Can(perms...) {
		return nil
	}
	return Errorf(CodeInsufficientScope, "this key lacks the %s scope", perms[0])
}

// CreateKeyParams describes a new API key. The org it belongs to is the creating
// principal's.
type CreateKeyParams struct {
	// TenantID binds the key to a tenant of the org, which must exist and not be deleted
	// (CodeNotFound otherwise). A tenant-bound principal creates keys of its own tenant only:
	// empty means its tenant, another is CodeNotFound.
	TenantID    string
	Name        string
	Mode        Mode
	Permissions []Permission // empty means full access
	// Plaintext, when set, is used instead of a random key (bootstrap); it must have the
	// documented shape and match Mode.
	Plaintext        string
	AllowedCIDRs     []string
	AllowedDomainIDs []string
	ExpiresAt        *time.Time
}

func (p *CreateKeyParams) validate(now time.Time) error {
	var v Validation
	if p.Mode != ModeLive && p.Mode != ModeTest {
		v.Add(FieldInvalid, "must be live or test", "mode")
	}
	validateKeyLimits(&v, &p.Name, &p.Permissions, &p.AllowedCIDRs, &p.AllowedDomainIDs, p.ExpiresAt, now)
	if p.Plaintext != "" {
		if mode, ok := ParseKey(p.Plaintext); !ok || mode != p.Mode {
			v.Add(FieldInvalid, "a key is sok_live_ or sok_test_ and 24 or more base62 characters", "key")
		}
	}
	return v.Err()
}

func (p *UpdateKeyParams) validate(now time.Time) error {
	var v Validation
	var expires *time.Time
	if p.ExpiresAt != nil {
		expires = *p.ExpiresAt
	}
	validateKeyLimits(&v, p.Name, p.Permissions, p.AllowedCIDRs, p.AllowedDomainIDs, expires, now)
	if p.Permissions != nil && len(*p.Permissions) == 0 {
		v.Add(FieldInvalid, "a key needs at least one scope", "scopes")
	}
	return v.Err()
}

// Limits of a key's lists.
const (
	maxKeyScopes  = 32
	maxKeyCIDRs   = 50
	maxKeyDomains = 100
)

// validateKeyLimits checks the fields a key is created or updated with; nil ones are absent.
func validateKeyLimits(v *Validation, name *string, perms *[]Permission, cidrs, domains *[]string, expires *time.Time, now time.Time) {
	if name != nil {
		if len(*name) > maxKeyNameLen {
			v.Add(FieldTooBig, "at most 100 characters", "name")
		} else if hasControl(*name) {
			v.Add(FieldInvalidString, "must not contain control characters", "name")
		}
	}
	if perms != nil {
		if len(*perms) > maxKeyScopes {
			v.Add(FieldTooBig, "too many scopes", "scopes")
		}
		for i, perm := range *perms {
			if !slices.Contains(Permissions, perm) {
				v.Add(FieldInvalid, "unknown scope "+string(perm), "scopes", i)
			}
		}
	}
	if cidrs != nil {
		if len(*cidrs) > maxKeyCIDRs {
			v.Add(FieldTooBig, "at most 50 CIDRs", "allowed_cidrs")
		}
		for i, c := range *cidrs {
			if _, err := netip.ParsePrefix(c); err != nil {
				v.Add(FieldInvalidString, "not a CIDR such as 203.0.113.0/24 or 2001:db8::/32", "allowed_cidrs", i)
			}
		}
	}
	if domains != nil {
		if len(*domains) > maxKeyDomains {
			v.Add(FieldTooBig, "at most 100 domain ids", "allowed_domain_ids")
		}
		for i, d := range *domains {
			if !strings.HasPrefix(d, PrefixDomain) || len(d) > 64 {
				v.Add(FieldInvalidString, "not a domain id (dom_...)", "allowed_domain_ids", i)
			}
		}
	}
	if expires != nil && !expires.After(now) {
		v.Add(FieldInvalid, "must be in the future", "expires_at")
	}
}

// plainPrefix is an allowed_cidrs entry in the form callers' addresses are compared in
// (they are unmapped): an IPv4-mapped IPv6 prefix of 96 bits or more
// (::ffff:10.0.0.0/104) is the IPv4 prefix it maps (10.0.0.0/8).
func plainPrefix(p netip.Prefix) netip.Prefix {
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		return netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p
}

// ipAllowed reports whether ip falls in one of cidrs (an empty list allows every address).
func ipAllowed(cidrs []string, ip netip.Addr) bool {
	if len(cidrs) == 0 {
		return true
	}
	ip = ip.Unmap()
	for _, c := range cidrs {
		if pfx, err := netip.ParsePrefix(c); err == nil && plainPrefix(pfx).Contains(ip) {
			return true
		}
	}
	return false
}
