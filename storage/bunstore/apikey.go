package bunstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"

	"github.com/sendoka/sendoka/sendoka"
)

// GetAPIKeyByHash returns the key with that hash, revoked or not, or CodeNotFound.
func (db *DB) GetAPIKeyByHash(ctx context.Context, hash string) (_ *sendoka.APIKey, err error) {
	defer classify(ctx, &err)
	var row apiKeyRow
	if err := db.bun.NewSelect().Model(&row).Where("k.hash = ?", hash).Scan(ctx); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, sendoka.NotFound("api key")
		}
		return nil, err
	}
	return row.key()
}

// GetAPIKey returns the key with that id in scope, or CodeNotFound.
func (db *DB) GetAPIKey(ctx context.Context, scope sendoka.Scope, id string) (_ *sendoka.APIKey, err error) {
	defer classify(ctx, &err)
	return getAPIKey(ctx, db.bun, scope, id)
}

// GetAPIKey returns the key with that id in scope, or CodeNotFound.
func (t *Tx) GetAPIKey(ctx context.Context, scope sendoka.Scope, id string) (*sendoka.APIKey, error) {
	return getAPIKey(ctx, t.tx, scope, id)
}

func getAPIKey(ctx context.Context, idb bun.IDB, scope sendoka.Scope, id string) (*sendoka.APIKey, error) {
	var row apiKeyRow
	if err := scoped(idb.NewSelect().Model(&row), "k", scope).Where("k.id = ?", id).Scan(ctx); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, sendoka.NotFound("api key")
		}
		return nil, err
	}
	return row.key()
}

// ListAPIKeys returns the keys in scope, newest first.
func (db *DB) ListAPIKeys(ctx context.Context, scope sendoka.Scope) (_ []*sendoka.APIKey, err error) {
	defer classify(ctx, &err)
	var rows []apiKeyRow
	if err := scoped(db.bun.NewSelect().Model(&rows), "k", scope).
		OrderExpr("k.created_at DESC, k.id DESC").Scan(ctx); err != nil {
		return nil, err
	}
	out := make([]*sendoka.APIKey, 0, len(rows))
	for i := range rows {
		k, err := rows[i].key()
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, nil
}

// TouchAPIKey sets last_used_at in one conditional UPDATE, so that of several processes
// touching the key in the same window only the first writes.
func (db *DB) TouchAPIKey(ctx context.Context, scope sendoka.Scope, id string, at, ifBefore time.Time) (_ bool, err error) {
	defer classify(ctx, &err)
	res, err := scopedUpdate(db.bun.NewUpdate().Model((*apiKeyRow)(nil)), scope).
		Set("last_used_at = ?", ts(at)).
		Where("id = ?", id).
		Where("(last_used_at IS NULL OR last_used_at < ?)", ts(ifBefore)).
		Exec(ctx)
	return affected(res, err)
}

// scopedUpdate is scoped for an UPDATE of api_keys.
func scopedUpdate(q *bun.UpdateQuery, scope sendoka.Scope) *bun.UpdateQuery {
	q = q.Where("org_id = ?", scope.OrgID)
	if scope.TenantID != "" {
		q = q.Where("tenant_id = ?", scope.TenantID)
	}
	return q
}

// InsertAPIKey inserts a key. A duplicate id or hash is CodeConflict. On Postgres it
// notifies the key watchers (keywatch.go) at commit.
func (t *Tx) InsertAPIKey(ctx context.Context, key *sendoka.APIKey) error {
	row, err := newAPIKeyRow(key)
	if err != nil {
		return err
	}
	if _, err := t.tx.NewInsert().Model(row).Returning("NULL").Exec(ctx); err != nil {
		return conflict(err, "api key")
	}
	return t.notifyKeyChanged(ctx, key.Hash)
}

// UpdateAPIKey writes a key's name, permissions, CIDRs, domains and expiry, unless it is
// revoked. On Postgres it notifies the key watchers (keywatch.go) at commit.
func (t *Tx) UpdateAPIKey(ctx context.Context, scope sendoka.Scope, key *sendoka.APIKey) error {
	row, err := newAPIKeyRow(key)
	if err != nil {
		return err
	}
	var hashes []string
	_, err = scopedUpdate(t.tx.NewUpdate().Model(row), scope).
		Column("name", "permissions", "allowed_cidrs", "allowed_domain_ids", "expires_at").
		Where("id = ?", key.ID).Where("revoked_at IS NULL").
		Returning("hash").
		Exec(ctx, &hashes)
	if err != nil {
		return err
	}
	if len(hashes) != 1 {
		return sendoka.NotFound("api key")
	}
	return t.notifyKeyChanged(ctx, hashes[0])
}

// RevokeAPIKey sets revoked_at on a key in scope unless it is already revoked. On Postgres
// it notifies the key watchers (keywatch.go) at commit.
func (t *Tx) RevokeAPIKey(ctx context.Context, scope sendoka.Scope, id string, at time.Time) error {
	var hashes []string
	_, err := scopedUpdate(t.tx.NewUpdate().Model((*apiKeyRow)(nil)), scope).
		Set("revoked_at = ?", ts(at)).
		Where("id = ?", id).Where("revoked_at IS NULL").
		Returning("hash").
		Exec(ctx, &hashes)
	if err != nil {
		return err
	}
	if len(hashes) == 1 {
		return t.notifyKeyChanged(ctx, hashes[0])
	}
	// Nothing changed: either the key is already revoked (fine, the first time stays) or
	// it is not in scope.
	exists, err := scoped(t.tx.NewSelect().Model((*apiKeyRow)(nil)), "k", scope).
		Where("k.id = ?", id).Exists(ctx)
	if err != nil {
		return err
	}
	if !exists {
		return sendoka.NotFound("api key")
	}
	return nil
}

// notifyKeyChanged tells every process that watches keys (keywatch.go) about the key, once
// the transaction commits; nothing is sent if it rolls back. SQLite has no such feed.
func (t *Tx) notifyKeyChanged(ctx context.Context, hash string) error {
	if t.tx.Dialect().Name() != dialect.PG {
		return nil
	}
	_, err := t.tx.ExecContext(ctx, "SELECT pg_notify(?, ?)", keyChannel, hash)
	return err
}
