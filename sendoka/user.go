package sendoka

import (
	"context"
	"net/mail"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Role is what a dashboard user may do in its org (or tenant).
type Role string

// Dashboard roles. Owners do everything, users included; admins everything but users;
// viewers read only.
const (
	RoleOwner  Role = "owner"
	RoleAdmin  Role = "admin"
	RoleViewer Role = "viewer"
)

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r == RoleOwner || r == RoleAdmin || r == RoleViewer }

// User is a person who signs in to the dashboard. A tenant-bound user (TenantID set) sees
// only that tenant's data. Emails are unique across the install (sign-in is by email).
type User struct {
	ID       string
	OrgID    string
	TenantID string // "" for the whole org
	Email    string
	Role     Role
	// PasswordHash is the bcrypt hash of the password, "" until one is set through a
	// sign-in link. Never shown.
	PasswordHash string
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// PrefixUser is the id prefix of dashboard users.
const PrefixUser = "usr_"

// viewerPermissions are the read scopes: a viewer's principal holds these and nothing else,
// so every write the core offers refuses it with CodeInsufficientScope.
var viewerPermissions = []Permission{
	PermissionEmailsRead, PermissionSMSRead, PermissionTemplatesRead, PermissionPhoneNumbersRead,
	PermissionSuppressionsRead, PermissionDomainsRead, PermissionAPIKeysRead, PermissionTenantsRead,
	PermissionWebhooksRead, PermissionAudiencesRead, PermissionUsageRead,
}

// UserPrincipal is the principal a dashboard user acts as, in the given mode: the same
// scopes as an API key's, so the dashboard can do nothing the API cannot. Owners and admins
// hold full access; viewers only the read scopes.
func UserPrincipal(u *User, mode Mode) *Principal {
	p := &Principal{OrgID: u.OrgID, TenantID: u.TenantID, Mode: mode, UserID: u.ID, Role: u.Role}
	if u.Role == RoleViewer {
		p.Permissions = append([]Permission(nil), viewerPermissions...)
	} else {
		p.Permissions = []Permission{PermissionFullAccess}
	}
	return p
}

// UserStore reads dashboard users and their tokens (embedded in Store).
type UserStore interface {
	// GetUser returns a user of the org (and of the scope's tenant when it names one), or
	// CodeNotFound.
	GetUser(ctx context.Context, scope Scope, id string) (*User, error)
	// GetUserByEmail returns the user with that (lower-case) email in any org, or
	// CodeNotFound.
	GetUserByEmail(ctx context.Context, email string) (*User, error)
	// ListUsers returns the users in scope (a tenant scope: that tenant's only), oldest
	// first.
	ListUsers(ctx context.Context, scope Scope) ([]*User, error)
	// CountUsers counts the users of an org.
	CountUsers(ctx context.Context, orgID string) (int, error)
	// GetUserToken returns the token with that hash, or CodeNotFound.
	GetUserToken(ctx context.Context, hash string) (*UserToken, error)
}

// UserTx writes dashboard users and their tokens (embedded in Tx).
type UserTx interface {
	// InsertUser inserts a user; an email already taken is CodeConflict.
	InsertUser(ctx context.Context, u *User) error
	// UpdateUser writes a user's Role, PasswordHash and UpdatedAt.
	UpdateUser(ctx context.Context, u *User) error
	// DeleteUser deletes a user of the org and every token of theirs, and reports whether
	// it did.
	DeleteUser(ctx context.Context, orgID, id string) (bool, error)
	// InsertUserToken inserts a token.
	InsertUserToken(ctx context.Context, t *UserToken) error
	// EndUserToken sets EndedAt = at on the token if it is not ended and not expired at at,
	// and reports whether it did: two concurrent calls never both succeed.
	EndUserToken(ctx context.Context, hash string, at time.Time) (bool, error)
	// EndUserTokens ends every token of a user that is not ended yet.
	EndUserTokens(ctx context.Context, userID string, at time.Time) error
}

// UserRequest describes a new dashboard user.
type UserRequest struct {
	Email    string
	Role     Role
	TenantID string // a tenant of the org, or "" for the whole org
	// Password, when set, is the user's password (at least MinPasswordLength characters);
	// otherwise the user sets one through a sign-in link.
	Password string
}

// MinPasswordLength is the shortest password a user may set.
const MinPasswordLength = 10

// bcryptCost is the cost of password hashes (bcrypt's default).
const bcryptCost = bcrypt.DefaultCost

// canManageUsers: owners of the dashboard, and full-access callers that are not dashboard
// users (API keys, the command line's system principal).
func (p *Principal) canManageUsers() error {
	if p == nil {
		return Errorf(CodeUnauthorized, "missing API key")
	}
	if p.UserID != "" && p.Role != RoleOwner {
		return Errorf(CodeInsufficientScope, "only owners manage users")
	}
	return p.require(PermissionFullAccess)
}

// CreateUser adds a dashboard user to the principal's org. Only owners (and full-access
// callers that are not users) may; a tenant-bound caller creates users of its own tenant.
func (c *Client) CreateUser(ctx context.Context, p *Principal, req UserRequest) (*User, error) {
	if err := p.canManageUsers(); err != nil {
		return nil, err
	}
	var v Validation
	email := strings.ToLower(strings.TrimSpace(req.Email))
	if a, err := mail.ParseAddress(email); err != nil || a.Address != email || len(email) > 254 {
		v.Add(FieldInvalid, "not an email address", "email")
	}
	if !req.Role.Valid() {
		v.Add(FieldInvalid, "owner, admin or viewer", "role")
	}
	if req.Password != "" && len(req.Password) < MinPasswordLength {
		v.Add(FieldInvalid, "at least 10 characters", "password")
	}
	if len(req.Password) > 72 {
		v.Add(FieldInvalid, "at most 72 bytes", "password")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	tenant := req.TenantID
	if p.TenantID != "" {
		if tenant != "" && tenant != p.TenantID {
			return nil, NotFound("tenant")
		}
		tenant = p.TenantID
	} else if tenant != "" {
		if _, err := c.store.GetTenant(ctx, Scope{OrgID: p.OrgID}, tenant); err != nil {
			return nil, AsError(err)
		}
	}
	now := c.now()
	u := &User{ID: NewID(PrefixUser, now), OrgID: p.OrgID, TenantID: tenant, Email: email, Role: req.Role,
		CreatedAt: now, UpdatedAt: now}
	if req.Password != "" {
		h, err := bcrypt.GenerateFromPassword([]byte(req.Password), bcryptCost)
		if err != nil {
			return nil, AsError(err)
		}
		u.PasswordHash = string(h)
	}
	err := c.inTx(ctx, func(ctx context.Context, tx Tx) error { return tx.InsertUser(ctx, u) })
	if ErrorCode(err) == CodeConflict {
		return nil, &Error{Code: CodeConflict, Message: "a user with this email already exists", Err: err}
	}
	if err != nil {
		return nil, err
	}
	return u, nil
}

// ListUsers lists the dashboard users the principal sees (a tenant-bound one: its tenant's).
func (c *Client) ListUsers(ctx context.Context, p *Principal) ([]*User, error) {
	if err := p.require(PermissionTenantsRead); err != nil {
		return nil, err
	}
	us, err := c.store.ListUsers(ctx, p.Scope())
	if err != nil {
		return nil, AsError(err)
	}
	return us, nil
}

// DeleteUser removes a dashboard user and ends every session of theirs at once. Owners
// only; a user cannot delete itself.
func (c *Client) DeleteUser(ctx context.Context, p *Principal, id string) error {
	if err := p.canManageUsers(); err != nil {
		return err
	}
	if id == p.UserID {
		return Errorf(CodeValidation, "you cannot delete yourself")
	}
	if _, err := c.store.GetUser(ctx, p.Scope(), id); err != nil {
		return AsError(err)
	}
	return c.inTx(ctx, func(ctx context.Context, tx Tx) error {
		ok, err := tx.DeleteUser(ctx, p.OrgID, id)
		if err == nil && !ok {
			err = NotFound("user")
		}
		return err
	})
}

// UserCount counts the dashboard users of an org (the binary creates the first owner when
// there is none).
func (c *Client) UserCount(ctx context.Context, orgID string) (int, error) {
	n, err := c.store.CountUsers(ctx, orgID)
	if err != nil {
		return 0, AsError(err)
	}
	return n, nil
}
