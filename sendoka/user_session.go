package sendoka

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// TokenKind tells a session from a sign-in link.
type TokenKind string

// Token kinds.
const (
	// TokenSession is a signed-in browser's session.
	TokenSession TokenKind = "session"
	// TokenSignInLink is a one-time link that lets a user set a password and sign in (the
	// first owner's, and invitations).
	TokenSignInLink TokenKind = "signin"
)

// UserToken is a session or a sign-in link of a user. Only its hash is stored: the
// plaintext is in the browser's cookie or the link alone.
type UserToken struct {
	Hash      string
	UserID    string
	OrgID     string
	Kind      TokenKind
	CreatedAt time.Time
	ExpiresAt time.Time
	// EndedAt is when the session was signed out or revoked, or the link used.
	EndedAt *time.Time
}

// Session and link lifetimes.
const (
	SessionTTL    = 7 * 24 * time.Hour
	SignInLinkTTL = 72 * time.Hour
)

// Session is a signed-in user's session: Token goes in the cookie and is shown nowhere else.
type Session struct {
	Token     string
	User      *User
	ExpiresAt time.Time
}

// hashToken is how tokens are stored.
func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

func newToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// dummyHash is compared against when the email is unknown, so a sign-in takes as long
// whether or not the user exists.
var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("sendoka-no-such-user"), bcryptCost)

// errSignIn is the one answer to every failed sign-in: it never tells which part was wrong.
func errSignIn() error { return Errorf(CodeUnauthorized, "invalid email or password") }

// SignIn checks an email and password and starts a session. Every failure is the same
// CodeUnauthorized, whatever was wrong (rate limiting is the host's).
func (c *Client) SignIn(ctx context.Context, email, password string) (*Session, error) {
	u, err := c.store.GetUserByEmail(ctx, normEmail(email))
	if err != nil && ErrorCode(err) != CodeNotFound {
		return nil, AsError(err)
	}
	if u == nil || u.PasswordHash == "" {
		_ = bcrypt.CompareHashAndPassword(dummyHash, []byte(password))
		return nil, errSignIn()
	}
	if bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte(password)) != nil {
		return nil, errSignIn()
	}
	return c.startSession(ctx, u, nil)
}

// startSession inserts a session for u (and, in the same transaction, runs extra).
func (c *Client) startSession(ctx context.Context, u *User, extra func(ctx context.Context, tx Tx) error) (*Session, error) {
	now := c.now()
	token := newToken()
	t := &UserToken{Hash: hashToken(token), UserID: u.ID, OrgID: u.OrgID, Kind: TokenSession,
		CreatedAt: now, ExpiresAt: now.Add(SessionTTL)}
	err := c.inTx(ctx, func(ctx context.Context, tx Tx) error {
		if extra != nil {
			if err := extra(ctx, tx); err != nil {
				return err
			}
		}
		return tx.InsertUserToken(ctx, t)
	})
	if err != nil {
		return nil, err
	}
	return &Session{Token: token, User: u, ExpiresAt: t.ExpiresAt}, nil
}

func normEmail(s string) string {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		b := s[i]
		if b >= 'A' && b <= 'Z' {
			b += 'a' - 'A'
		}
		if b != ' ' && b != '\t' && b != '\n' && b != '\r' {
			out = append(out, b)
		}
	}
	return string(out)
}

// userToken returns the live token of kind with that plaintext, and its user. Every store
// read is fresh: a session that was signed out or revoked, by any process, is refused on
// the next request.
func (c *Client) userToken(ctx context.Context, token string, kind TokenKind) (*UserToken, *User, error) {
	if token == "" {
		return nil, nil, Errorf(CodeUnauthorized, "not signed in")
	}
	t, err := c.store.GetUserToken(ctx, hashToken(token))
	if ErrorCode(err) == CodeNotFound {
		return nil, nil, Errorf(CodeUnauthorized, "not signed in")
	}
	if err != nil {
		return nil, nil, AsError(err)
	}
	if t.Kind != kind || t.EndedAt != nil || !t.ExpiresAt.After(c.now()) {
		return nil, nil, Errorf(CodeUnauthorized, "not signed in")
	}
	u, err := c.store.GetUser(ctx, Scope{OrgID: t.OrgID}, t.UserID)
	if ErrorCode(err) == CodeNotFound {
		return nil, nil, Errorf(CodeUnauthorized, "not signed in")
	}
	if err != nil {
		return nil, nil, AsError(err)
	}
	return t, u, nil
}

// AuthenticateSession returns the user of a live session, or CodeUnauthorized for a token
// that is unknown, expired, signed out or revoked, or whose user was deleted.
func (c *Client) AuthenticateSession(ctx context.Context, token string) (*User, error) {
	_, u, err := c.userToken(ctx, token, TokenSession)
	return u, err
}

// SignOut ends a session at once. An unknown or ended session is not an error.
func (c *Client) SignOut(ctx context.Context, token string) error {
	if token == "" {
		return nil
	}
	return c.inTx(ctx, func(ctx context.Context, tx Tx) error {
		_, err := tx.EndUserToken(ctx, hashToken(token), c.now())
		return err
	})
}

// RevokeSessions ends every session and unused sign-in link of a user at once. Owners may
// revoke anyone's in their scope; any user may revoke their own.
func (c *Client) RevokeSessions(ctx context.Context, p *Principal, userID string) error {
	if p == nil || userID != p.UserID {
		if err := p.canManageUsers(); err != nil {
			return err
		}
	}
	if _, err := c.store.GetUser(ctx, p.Scope(), userID); err != nil {
		return AsError(err)
	}
	return c.inTx(ctx, func(ctx context.Context, tx Tx) error { return tx.EndUserTokens(ctx, userID, c.now()) })
}

// CreateSignInLink returns the token of a one-time sign-in link for a user of the
// principal's scope (an invitation): whoever opens it sets the user's password and is
// signed in. Owners only. The token is shown once.
func (c *Client) CreateSignInLink(ctx context.Context, p *Principal, userID string) (string, error) {
	if err := p.canManageUsers(); err != nil {
		return "", err
	}
	u, err := c.store.GetUser(ctx, p.Scope(), userID)
	if err != nil {
		return "", AsError(err)
	}
	now := c.now()
	token := newToken()
	t := &UserToken{Hash: hashToken(token), UserID: u.ID, OrgID: u.OrgID, Kind: TokenSignInLink,
		CreatedAt: now, ExpiresAt: now.Add(SignInLinkTTL)}
	if err := c.inTx(ctx, func(ctx context.Context, tx Tx) error { return tx.InsertUserToken(ctx, t) }); err != nil {
		return "", err
	}
	return token, nil
}

// SignInLinkUser returns the user a live sign-in link is for (the page that redeems it
// shows the email), or CodeUnauthorized.
func (c *Client) SignInLinkUser(ctx context.Context, token string) (*User, error) {
	_, u, err := c.userToken(ctx, token, TokenSignInLink)
	return u, err
}

// RedeemSignInLink uses a sign-in link once: it sets the user's password and starts a
// session, in one transaction. A link that is unknown, expired or used is CodeUnauthorized.
func (c *Client) RedeemSignInLink(ctx context.Context, token, password string) (*Session, error) {
	t, u, err := c.userToken(ctx, token, TokenSignInLink)
	if err != nil {
		return nil, err
	}
	if len(password) < MinPasswordLength || len(password) > 72 {
		var v Validation
		v.Add(FieldInvalid, "10 to 72 characters", "password")
		return nil, v.Err()
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcryptCost)
	if err != nil {
		return nil, AsError(err)
	}
	now := c.now()
	u.PasswordHash, u.UpdatedAt = string(h), now
	return c.startSession(ctx, u, func(ctx context.Context, tx Tx) error {
		ok, err := tx.EndUserToken(ctx, t.Hash, now)
		if err != nil {
			return err
		}
		if !ok {
			return Errorf(CodeUnauthorized, "this link was used already")
		}
		return tx.UpdateUser(ctx, u)
	})
}

// BootstrapOwner makes sure the org has a dashboard user: when it has none, it creates an
// owner with the email and returns a sign-in link's token for them ("" when users exist).
func (c *Client) BootstrapOwner(ctx context.Context, orgID, email string) (string, error) {
	n, err := c.UserCount(ctx, orgID)
	if err != nil || n > 0 {
		return "", err
	}
	sys := SystemPrincipal(orgID, ModeLive)
	u, err := c.CreateUser(ctx, sys, UserRequest{Email: email, Role: RoleOwner})
	if err != nil {
		return "", err
	}
	return c.CreateSignInLink(ctx, sys, u.ID)
}
