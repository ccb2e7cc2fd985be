package bunstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/uptrace/bun"

	"github.com/sendoka/sendoka/sendoka"
)

var (
	_ sendoka.UserStore = (*DB)(nil)
	_ sendoka.UserTx    = (*Tx)(nil)
)

type userRow struct {
	bun.BaseModel `bun:"table:dashboard_users,alias:du"`

	ID           string    `bun:"id,pk"`
	OrgID        string    `bun:"org_id"`
	TenantID     string    `bun:"tenant_id"`
	Email        string    `bun:"email"`
	Role         string    `bun:"role"`
	PasswordHash string    `bun:"password_hash"`
	CreatedAt    timestamp `bun:"created_at"`
	UpdatedAt    timestamp `bun:"updated_at"`
}

func (r *userRow) user() *sendoka.User {
	return &sendoka.User{ID: r.ID, OrgID: r.OrgID, TenantID: r.TenantID, Email: r.Email, Role: sendoka.Role(r.Role),
		PasswordHash: r.PasswordHash, CreatedAt: r.CreatedAt.Time, UpdatedAt: r.UpdatedAt.Time}
}

type userTokenRow struct {
	bun.BaseModel `bun:"table:dashboard_tokens,alias:dt"`

	Hash      string    `bun:"hash,pk"`
	UserID    string    `bun:"user_id"`
	OrgID     string    `bun:"org_id"`
	Kind      string    `bun:"kind"`
	CreatedAt timestamp `bun:"created_at"`
	ExpiresAt timestamp `bun:"expires_at"`
	EndedAt   timestamp `bun:"ended_at,nullzero"`
}

func scopedUsers(q *bun.SelectQuery, scope sendoka.Scope) *bun.SelectQuery {
	q = q.Where("du.org_id = ?", scope.OrgID)
	if scope.TenantID != "" {
		q = q.Where("du.tenant_id = ?", scope.TenantID)
	}
	return q
}

// GetUser returns a user in scope, or CodeNotFound.
func (db *DB) GetUser(ctx context.Context, scope sendoka.Scope, id string) (_ *sendoka.User, err error) {
	defer classify(ctx, &err)
	var row userRow
	if err := scopedUsers(db.bun.NewSelect().Model(&row), scope).Where("du.id = ?", id).Scan(ctx); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, sendoka.NotFound("user")
		}
		return nil, err
	}
	return row.user(), nil
}

// GetUserByEmail returns the user with that email, or CodeNotFound.
func (db *DB) GetUserByEmail(ctx context.Context, email string) (_ *sendoka.User, err error) {
	defer classify(ctx, &err)
	var row userRow
	if err := db.bun.NewSelect().Model(&row).Where("du.email = ?", email).Scan(ctx); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, sendoka.NotFound("user")
		}
		return nil, err
	}
	return row.user(), nil
}

// ListUsers returns the users in scope, oldest first.
func (db *DB) ListUsers(ctx context.Context, scope sendoka.Scope) (_ []*sendoka.User, err error) {
	defer classify(ctx, &err)
	var rows []userRow
	if err := scopedUsers(db.bun.NewSelect().Model(&rows), scope).OrderExpr("du.created_at, du.id").Scan(ctx); err != nil {
		return nil, err
	}
	out := make([]*sendoka.User, len(rows))
	for i := range rows {
		out[i] = rows[i].user()
	}
	return out, nil
}

// CountUsers counts an org's users.
func (db *DB) CountUsers(ctx context.Context, orgID string) (_ int, err error) {
	defer classify(ctx, &err)
	n, err := db.bun.NewSelect().Model((*userRow)(nil)).Where("du.org_id = ?", orgID).Count(ctx)
	return int(n), err
}

// GetUserToken returns a token by hash, or CodeNotFound.
func (db *DB) GetUserToken(ctx context.Context, hash string) (_ *sendoka.UserToken, err error) {
	defer classify(ctx, &err)
	var row userTokenRow
	if err := db.bun.NewSelect().Model(&row).Where("dt.hash = ?", hash).Scan(ctx); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, sendoka.NotFound("session")
		}
		return nil, err
	}
	t := &sendoka.UserToken{Hash: row.Hash, UserID: row.UserID, OrgID: row.OrgID, Kind: sendoka.TokenKind(row.Kind),
		CreatedAt: row.CreatedAt.Time, ExpiresAt: row.ExpiresAt.Time}
	if !row.EndedAt.IsZero() {
		end := row.EndedAt.Time
		t.EndedAt = &end
	}
	return t, nil
}

// InsertUser inserts a user; a taken email is CodeConflict.
func (t *Tx) InsertUser(ctx context.Context, u *sendoka.User) error {
	_, err := t.tx.NewInsert().Model(&userRow{ID: u.ID, OrgID: u.OrgID, TenantID: u.TenantID, Email: u.Email,
		Role: string(u.Role), PasswordHash: u.PasswordHash, CreatedAt: ts(u.CreatedAt), UpdatedAt: ts(u.UpdatedAt)}).
		Returning("NULL").Exec(ctx)
	return conflict(err, "user")
}

// UpdateUser writes a user's role, password hash and update time.
func (t *Tx) UpdateUser(ctx context.Context, u *sendoka.User) error {
	res, err := t.tx.NewUpdate().Table("dashboard_users").
		Set("role = ?", string(u.Role)).Set("password_hash = ?", u.PasswordHash).Set("updated_at = ?", ts(u.UpdatedAt)).
		Where("id = ?", u.ID).Where("org_id = ?", u.OrgID).Exec(ctx)
	return foundOrNotFound(res, err, "user") // sender.go
}

// DeleteUser deletes a user of the org and its tokens.
func (t *Tx) DeleteUser(ctx context.Context, orgID, id string) (bool, error) {
	res, err := t.tx.NewDelete().Table("dashboard_users").Where("id = ?", id).Where("org_id = ?", orgID).Exec(ctx)
	n, err := rowsAffected(res, err)
	if err != nil || n == 0 {
		return false, err
	}
	_, err = t.tx.NewDelete().Table("dashboard_tokens").Where("user_id = ?", id).Exec(ctx)
	return err == nil, err
}

// InsertUserToken inserts a session or sign-in link.
func (t *Tx) InsertUserToken(ctx context.Context, tok *sendoka.UserToken) error {
	_, err := t.tx.NewInsert().Model(&userTokenRow{Hash: tok.Hash, UserID: tok.UserID, OrgID: tok.OrgID,
		Kind: string(tok.Kind), CreatedAt: ts(tok.CreatedAt), ExpiresAt: ts(tok.ExpiresAt)}).Returning("NULL").Exec(ctx)
	return conflict(err, "token")
}

// EndUserToken ends a live token, once.
func (t *Tx) EndUserToken(ctx context.Context, hash string, at time.Time) (bool, error) {
	res, err := t.tx.NewUpdate().Table("dashboard_tokens").Set("ended_at = ?", ts(at)).
		Where("hash = ?", hash).Where("ended_at IS NULL").Where("expires_at > ?", ts(at)).Exec(ctx)
	n, err := rowsAffected(res, err)
	return n > 0, err
}

// EndUserTokens ends every live token of a user.
func (t *Tx) EndUserTokens(ctx context.Context, userID string, at time.Time) error {
	_, err := t.tx.NewUpdate().Table("dashboard_tokens").Set("ended_at = ?", ts(at)).
		Where("user_id = ?", userID).Where("ended_at IS NULL").Exec(ctx)
	return err
}
