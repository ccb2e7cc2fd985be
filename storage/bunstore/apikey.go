package bunstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/uptrace/bun"

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

// scopedUpdate is scoped for an UPDATE of api_keys.
func scopedUpdate(q *bun.UpdateQuery, scope sendoka.Scope) *bun.UpdateQuery {
	q = q.Where("org_id = ?", scope.OrgID)
	if scope.TenantID != "" {
		q = q.Where("tenant_id = ?", scope.TenantID)
	}
	return q
}

// InsertAPIKey inserts a key. A duplicate id or hash is CodeConflict.
func (t *Tx) InsertAPIKey(ctx context.Context, key *sendoka.APIKey) error {
	row, err := newAPIKeyRow(key)
	if err != nil {
		return err
	}
	_, err = t.tx.NewInsert().Model(row).Returning("NULL").Exec(ctx)
	return conflict(err, "api key")
}

// RevokeAPIKey sets revoked_at on a key in scope unless it is already revoked.
func (t *Tx) RevokeAPIKey(ctx context.Context, scope sendoka.Scope, id string, at time.Time) error {
	res, err := scopedUpdate(t.tx.NewUpdate().Model((*apiKeyRow)(nil)), scope).
		Set("revoked_at = ?", ts(at)).
		Where("id = ?", id).Where("revoked_at IS NULL").
		Exec(ctx)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 1 {
		return nil
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
