package sendoka

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
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

// NewKeyPlaintext returns a fresh random key of the given mode.
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
	return b.String()
}

func keyVisible(plaintext string) string {
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
}

// SystemPrincipal is a full-access principal for an org, for code that calls the Client
// directly rather than through an API key.
func SystemPrincipal(orgID string, mode Mode) *Principal {
	return &Principal{OrgID: orgID, Mode: mode, Permissions: []Permission{PermissionFullAccess}}
}

// Scope is the slice of data the principal may see.
func (p *Principal) Scope() Scope { return Scope{OrgID: p.OrgID, TenantID: p.TenantID} }

// Can reports whether the principal holds any of the permissions (or full access).
func (p *Principal) Can(perms ...Permission) bool {
	if slices.Contains(p.Permissions, PermissionFullAccess) {
		return true
	}
	for _, want := range perms {
		if slices.Contains(p.Permissions, want) {
			return true
		}
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

func (p *CreateKeyParams) validate() error {
	var v Validation
	if p.Mode != ModeLive && p.Mode != ModeTest {
		v.Add(FieldInvalid, "must be live or test", "mode")
	}
	if len(p.Name) > maxKeyNameLen {
		v.Add(FieldTooBig, "at most 100 characters", "name")
	}
	for i, perm := range p.Permissions {
		if !slices.Contains(Permissions, perm) {
			v.Add(FieldInvalid, "unknown permission "+string(perm), "permissions", i)
		}
	}
	for i, c := range p.AllowedCIDRs {
		if _, err := netip.ParsePrefix(c); err != nil {
			v.Add(FieldInvalidString, "not a CIDR", "allowed_cidrs", i)
		}
	}
	if p.Plaintext != "" {
		if mode, ok := ParseKey(p.Plaintext); !ok || mode != p.Mode {
			v.Add(FieldInvalid, "a key is sok_live_ or sok_test_ and 24 or more base62 characters", "key")
		}
	}
	return v.Err()
}

// ipAllowed reports whether ip falls in one of cidrs (an empty list allows every address).
func ipAllowed(cidrs []string, ip netip.Addr) bool {
	if len(cidrs) == 0 {
		return true
	}
	ip = ip.Unmap()
	for _, c := range cidrs {
		if pfx, err := netip.ParsePrefix(c); err == nil && pfx.Contains(ip) {
			return true
		}
	}
	return false
}
