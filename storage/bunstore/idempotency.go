package bunstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"time"

	"github.com/uptrace/bun/dialect"

	"github.com/sendoka/sendoka/sendoka"
)

var (
	_ sendoka.IdempotencyStore = (*DB)(nil)
	_ sendoka.IdempotencyTx    = (*Tx)(nil)
)

// idemWhere selects one record by its key.
const idemWhere = "org_id = ? AND tenant_id = ? AND mode = ? AND route = ? AND key = ?"

func idemKeyArgs(k sendoka.IdempotencyKey) []any {
	return []any{k.OrgID, k.TenantID, string(k.Mode), k.Route, k.Key}
}

// CreateIdempotencyRecord inserts a locked record; an existing one is left alone
// (ON CONFLICT DO NOTHING), which the affected row count tells.
func (db *DB) CreateIdempotencyRecord(ctx context.Context, rec *sendoka.IdempotencyRecord) (_ bool, err error) {
	defer classify(ctx, &err)
	if err := ctx.Err(); err != nil {
		return false, err
	}
	q := bindVars(db.dialect == DialectPostgres, "INSERT INTO idempotency_keys "+
		"(org_id, tenant_id, mode, route, key, request_hash, token, state, locked_at, created_at) "+
		"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (org_id, tenant_id, mode, route, key) DO NOTHING")
	args := append(idemKeyArgs(rec.IdempotencyKey), rec.RequestHash, rec.Token,
		string(sendoka.IdempotencyLocked), ts(rec.LockedAt), ts(rec.CreatedAt))
	res, err := db.bun.DB.ExecContext(ctx, q, args...)
	return affected(res, err)
}

// GetIdempotencyRecord reads one record, or CodeNotFound.
func (db *DB) GetIdempotencyRecord(ctx context.Context, k sendoka.IdempotencyKey) (_ *sendoka.IdempotencyRecord, err error) {
	defer classify(ctx, &err)
	q := bindVars(db.dialect == DialectPostgres, "SELECT request_hash, token, state, locked_at, status, headers, body, created_at "+
		"FROM idempotency_keys WHERE "+idemWhere)
	rec := &sendoka.IdempotencyRecord{IdempotencyKey: k}
	var (
		state             string
		lockedAt, created timestamp
		status            int
		headers           sql.NullString
		body              []byte
	)
	err = db.bun.DB.QueryRowContext(ctx, q, idemKeyArgs(k)...).
		Scan(&rec.RequestHash, &rec.Token, &state, &lockedAt, &status, &headers, &body, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, sendoka.NotFound("idempotency key")
	}
	if err != nil {
		return nil, err
	}
	rec.State, rec.LockedAt, rec.CreatedAt = sendoka.IdempotencyState(state), lockedAt.Time, created.Time
	if rec.State == sendoka.IdempotencyCompleted {
		resp := &sendoka.StoredResponse{Status: status, Body: body}
		if resp.Body == nil {
			resp.Body = []byte{}
		}
		if headers.Valid && headers.String != "" {
			if err := json.Unmarshal([]byte(headers.String), &resp.Header); err != nil {
				return nil, fmt.Errorf("bunstore: idempotency key headers: %w", err)
			}
		}
		rec.Response = resp
	}
	return rec, nil
}

// TakeOverIdempotencyRecord swaps the record's token in one conditional UPDATE: the
// condition is checked on the row as it is when the UPDATE gets it, so of two take-overs
// (or a take-over and the holder's completion) only the first changes it.
func (db *DB) TakeOverIdempotencyRecord(ctx context.Context, rec *sendoka.IdempotencyRecord, from string, lockedBefore, createdBefore time.Time) (_ bool, err error) {
	defer classify(ctx, &err)
	if err := ctx.Err(); err != nil {
		return false, err
	}
	q := bindVars(db.dialect == DialectPostgres, "UPDATE idempotency_keys SET request_hash = ?, token = ?, state = ?, "+
		"locked_at = ?, created_at = ?, status = 0, headers = NULL, body = NULL "+
		"WHERE "+idemWhere+" AND token = ? AND ((state = ? AND locked_at <= ?) OR created_at <= ?)")
	args := []any{rec.RequestHash, rec.Token, string(sendoka.IdempotencyLocked), ts(rec.LockedAt), ts(rec.CreatedAt)}
	args = append(args, idemKeyArgs(rec.IdempotencyKey)...)
	args = append(args, from, string(sendoka.IdempotencyLocked), ts(lockedBefore), ts(createdBefore))
	res, err := db.bun.DB.ExecContext(ctx, q, args...)
	return affected(res, err)
}

// CompleteIdempotencyRecord stores the response if the token still holds the record.
func (db *DB) CompleteIdempotencyRecord(ctx context.Context, k sendoka.IdempotencyKey, token string, resp *sendoka.StoredResponse) (_ bool, err error) {
	defer classify(ctx, &err)
	if err := ctx.Err(); err != nil {
		return false, err
	}
	return completeIdempotency(ctx, db.bun.DB, db.dialect == DialectPostgres, k, token, resp)
}

// CompleteIdempotencyRecord stores the response in the transaction.
func (t *Tx) CompleteIdempotencyRecord(ctx context.Context, k sendoka.IdempotencyKey, token string, resp *sendoka.StoredResponse) (bool, error) {
	return completeIdempotency(ctx, t.tx.Tx, t.tx.Dialect().Name() == dialect.PG, k, token, resp)
}

func completeIdempotency(ctx context.Context, db boundQuerier, pg bool, k sendoka.IdempotencyKey, token string, resp *sendoka.StoredResponse) (bool, error) {
	if resp == nil {
		return false, errors.New("bunstore: CompleteIdempotencyRecord of no response")
	}
	var headers any // NULL when there are none
	if len(resp.Header) > 0 {
		raw, err := json.Marshal(resp.Header)
		if err != nil {
			return false, err
		}
		headers = string(raw)
	}
	body := resp.Body
	if body == nil {
		body = []byte{}
	}
	q := bindVars(pg, "UPDATE idempotency_keys SET state = ?, status = ?, headers = ?, body = ? WHERE "+idemWhere+" AND token = ?")
	args := append([]any{string(sendoka.IdempotencyCompleted), resp.Status, headers, body}, idemKeyArgs(k)...)
	res, err := db.ExecContext(ctx, q, append(args, token)...)
	return affected(res, err)
}

// idemColumns are the columns InsertCompletedIdempotencyRecords writes.
var idemColumns = []string{"org_id", "tenant_id", "mode", "route", "key", "request_hash", "token", "state",
	"locked_at", "created_at", "status", "headers", "body"}

// InsertCompletedIdempotencyRecords inserts completed records in the transaction with
// multi-row INSERTs that skip existing keys (ON CONFLICT DO NOTHING: a concurrent inserter
// of the same key is waited for, and wins if it commits); the affected row counts tell
// whether every record went in.
func (t *Tx) InsertCompletedIdempotencyRecords(ctx context.Context, recs ...*sendoka.IdempotencyRecord) (bool, error) {
	rows := make([][]any, len(recs))
	for i, rec := range recs {
		if rec.Response == nil {
			return false, errors.New("bunstore: InsertCompletedIdempotencyRecords of no response")
		}
		var headers any // NULL when there are none
		if len(rec.Response.Header) > 0 {
			raw, err := json.Marshal(rec.Response.Header)
			if err != nil {
				return false, err
			}
			headers = string(raw)
		}
		body := rec.Response.Body
		if body == nil {
			body = []byte{}
		}
		rows[i] = append(idemKeyArgs(rec.IdempotencyKey), rec.RequestHash, rec.Token,
			string(sendoka.IdempotencyCompleted), ts(rec.LockedAt), ts(rec.CreatedAt), rec.Response.Status, headers, body)
	}
	pg := t.tx.Dialect().Name() == dialect.PG
	var inserted int64
	for _, n := range statementSizes(rows, len(idemColumns)) {
		query := insertSQL("idempotency_keys", idemColumns, n, pg) + " ON CONFLICT (org_id, tenant_id, mode, route, key) DO NOTHING"
		args := make([]any, 0, n*len(idemColumns))
		for _, r := range rows[:n] {
			args = append(args, r...)
		}
		res, err := t.tx.Tx.ExecContext(ctx, query, args...)
		if err != nil {
			return false, err
		}
		k, err := res.RowsAffected()
		if err != nil {
			return false, err
		}
		inserted += k
		rows = rows[n:]
	}
	return inserted == int64(len(recs)), nil
}

// ReleaseIdempotencyRecord deletes a record its holder gives up, unless it is completed.
func (db *DB) ReleaseIdempotencyRecord(ctx context.Context, k sendoka.IdempotencyKey, token string) (_ bool, err error) {
	defer classify(ctx, &err)
	if err := ctx.Err(); err != nil {
		return false, err
	}
	q := bindVars(db.dialect == DialectPostgres, "DELETE FROM idempotency_keys WHERE "+idemWhere+" AND token = ? AND state = ?")
	args := append(idemKeyArgs(k), token, string(sendoka.IdempotencyLocked))
	res, err := db.bun.DB.ExecContext(ctx, q, args...)
	return affected(res, err)
}

// DeleteIdempotencyRecords deletes expired records in one statement (created_at is
// indexed).
func (db *DB) DeleteIdempotencyRecords(ctx context.Context, before time.Time) (_ int64, err error) {
	defer classify(ctx, &err)
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	q := bindVars(db.dialect == DialectPostgres, "DELETE FROM idempotency_keys WHERE created_at <= ?")
	res, err := db.bun.DB.ExecContext(ctx, q, ts(before))
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
