package bunstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/sendoka/sendoka/sendoka"
)

var _ sendoka.LimitStore = (*DB)(nil)

// sqlMax and sqlMin are the two-argument maximum and minimum of the dialect.
func (db *DB) sqlMax() string {
	if db.dialect == DialectPostgres {
		return "GREATEST"
	}
	return "MAX"
}

func (db *DB) sqlMin() string {
	if db.dialect == DialectPostgres {
		return "LEAST"
	}
	return "MIN"
}

// TakeTokens runs GCRA in one upsert: the row's theoretical arrival time (tat) moves by one
// interval per token taken, and a key may run at most tolerance ahead of now. Every SET
// expression reads the row as it was, so granted and the new tat agree.
func (db *DB) TakeTokens(ctx context.Context, key string, n int64, interval, tolerance time.Duration, now time.Time) (_ int64, _ time.Time, err error) {
	defer classify(ctx, &err)
	if err := ctx.Err(); err != nil {
		return 0, time.Time{}, err
	}
	if n < 1 || interval < time.Microsecond {
		return 0, time.Time{}, fmt.Errorf("bunstore: TakeTokens needs n >= 1 and an interval of at least a microsecond")
	}
	nowUS, iv, tol := now.UnixMicro(), interval.Microseconds(), tolerance.Microseconds()
	first := min(n, tol/iv) // a new key starts full
	mx, mn := db.sqlMax(), db.sqlMin()
	const p = "CAST(? AS BIGINT)" // untyped parameters in arithmetic need a type on Postgres
	base := mx + "(rate_limits.tat_us, " + p + ")"
	grant := mx + "(0, " + mn + "(" + p + ", ((" + p + " + " + p + ") - " + base + ") / " + p + "))"
	q := bindVars(db.dialect == DialectPostgres, "INSERT INTO rate_limits (key, tat_us, granted) VALUES (?, ?, ?) "+
		"ON CONFLICT (key) DO UPDATE SET granted = "+grant+", tat_us = "+base+" + "+grant+" * "+p+" "+
		"RETURNING granted, tat_us")
	var granted, tat int64
	err = db.bun.DB.QueryRowContext(ctx, q, key, nowUS+first*iv, first,
		n, nowUS, tol, nowUS, iv, // granted
		nowUS, n, nowUS, tol, nowUS, iv, iv, // tat_us
	).Scan(&granted, &tat)
	if err != nil {
		return 0, time.Time{}, err
	}
	return max(granted, 0), time.UnixMicro(tat).UTC(), nil
}

// ReturnTokens moves the key's tat back by n intervals.
func (db *DB) ReturnTokens(ctx context.Context, key string, n int64, interval time.Duration) (err error) {
	defer classify(ctx, &err)
	q := bindVars(db.dialect == DialectPostgres, "UPDATE rate_limits SET tat_us = tat_us - CAST(? AS BIGINT) WHERE key = ?")
	_, err = db.bun.DB.ExecContext(ctx, q, n*interval.Microseconds(), key)
	return err
}

// GetOrg returns an org with its limits, or CodeNotFound.
func (db *DB) GetOrg(ctx context.Context, id string) (_ *sendoka.Org, err error) {
	defer classify(ctx, &err)
	var row orgRow
	if err := db.bun.NewSelect().Model(&row).Where("o.id = ?", id).Scan(ctx); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, sendoka.NotFound("org")
		}
		return nil, err
	}
	return row.org(), nil
}

// UpdateOrg writes an org's plan and limits.
func (db *DB) UpdateOrg(ctx context.Context, org *sendoka.Org) (err error) {
	defer classify(ctx, &err)
	if err := ctx.Err(); err != nil {
		return err
	}
	if org == nil {
		return errors.New("bunstore: UpdateOrg of no org")
	}
	row := newOrgRow(org)
	res, err := db.bun.NewUpdate().Model(row).Column("plan", "burst_per_minute", "monthly_emails", "monthly_sms").
		Where("id = ?", org.ID).Exec(ctx)
	if ok, err := affected(res, err); err != nil || !ok {
		if err == nil {
			err = sendoka.NotFound("org")
		}
		return err
	}
	return nil
}

// counterTable returns the table and key columns of a counter.
func counterTable(c sendoka.Counter) (table, countCol string, keys []string, vals []any, err error) {
	switch c.Kind {
	case sendoka.CounterQuota:
		return "quota_counters", "used", []string{"org_id", "channel", "period"}, []any{c.Subject, string(c.Channel), c.Period}, nil
	case sendoka.CounterWarmup:
		return "warmup_counters", "sent", []string{"domain_id", "day"}, []any{c.Subject, c.Period}, nil
	case sendoka.CounterSenderDay:
		// Daily counters share a table: a sender's id (pn_…) never equals a domain's (dom_…).
		return "warmup_counters", "sent", []string{"domain_id", "day"}, []any{c.Subject, c.Period}, nil
	}
	return "", "", nil, nil, fmt.Errorf("bunstore: unknown counter kind %q", c.Kind)
}

// ReserveCount adds min(n, limit - count) in one upsert.
func (db *DB) ReserveCount(ctx context.Context, c sendoka.Counter, n, limit int64) (_, _ int64, err error) {
	defer classify(ctx, &err)
	if err := ctx.Err(); err != nil {
		return 0, 0, err
	}
	table, col, keys, vals, err := counterTable(c)
	if err != nil {
		return 0, 0, err
	}
	mx, mn := db.sqlMax(), db.sqlMin()
	grant := mx + "(0, " + mn + "(CAST(? AS BIGINT), CAST(? AS BIGINT) - " + table + "." + col + "))"
	cols, marks := "", ""
	for _, k := range keys {
		cols += k + ", "
		marks += "?, "
	}
	q := bindVars(db.dialect == DialectPostgres, "INSERT INTO "+table+" ("+cols+col+", granted) VALUES ("+marks+"?, ?) "+
		"ON CONFLICT ("+joinCols(keys)+") DO UPDATE SET granted = "+grant+", "+col+" = "+table+"."+col+" + "+grant+
		" RETURNING granted, "+col)
	first := max(0, min(n, limit))
	args := append(append([]any{}, vals...), first, first, n, limit, n, limit)
	var granted, used int64
	if err := db.bun.DB.QueryRowContext(ctx, q, args...).Scan(&granted, &used); err != nil {
		return 0, 0, err
	}
	return granted, used, nil
}

// ReleaseCount subtracts n, never below 0.
func (db *DB) ReleaseCount(ctx context.Context, c sendoka.Counter, n int64) (err error) {
	defer classify(ctx, &err)
	if err := ctx.Err(); err != nil {
		return err
	}
	table, col, keys, vals, err := counterTable(c)
	if err != nil {
		return err
	}
	where := ""
	for i, k := range keys {
		if i > 0 {
			where += " AND "
		}
		where += k + " = ?"
	}
	q := bindVars(db.dialect == DialectPostgres, "UPDATE "+table+" SET "+col+" = "+db.sqlMax()+"(0, "+col+" - CAST(? AS BIGINT)) WHERE "+where)
	_, err = db.bun.DB.ExecContext(ctx, q, append([]any{n}, vals...)...)
	return err
}

// GetCount reads a counter.
func (db *DB) GetCount(ctx context.Context, c sendoka.Counter) (_ int64, err error) {
	defer classify(ctx, &err)
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	table, col, keys, vals, err := counterTable(c)
	if err != nil {
		return 0, err
	}
	where := ""
	for i, k := range keys {
		if i > 0 {
			where += " AND "
		}
		where += k + " = ?"
	}
	var n int64
	err = db.bun.DB.QueryRowContext(ctx, bindVars(db.dialect == DialectPostgres, "SELECT "+col+" FROM "+table+" WHERE "+where), vals...).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return n, err
}

func joinCols(cols []string) string {
	out := ""
	for i, c := range cols {
		if i > 0 {
			out += ", "
		}
		out += c
	}
	return out
}
