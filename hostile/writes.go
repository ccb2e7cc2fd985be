package main

import (
	"context"
	"database/sql"
	"fmt"
	"hash/fnv"
	"slices"
	"sort"
	"strings"

	"github.com/sendoka/sendoka/storage/bunstore"
)

// unwatched are the tables a refused request may legitimately write: the record of a
// refused request's Idempotency-Key (its answer is replayed, as the docs promise), the
// burst limiter's window, the tracking secret made on first use, and the bookkeeping of
// River and of the migrations.
var unwatched = []string{"idempotency_keys", "rate_limits", "instance_secrets", "river_leader", "river_queue",
	"river_migration", "river_notification", "river_client", "river_client_queue", "sendoka_migrations",
	"sendoka_migration_locks"}

// unwatchedColumns are columns a refused request may touch: a key's last use is recorded
// whether or not what it asked for is allowed.
var unwatchedColumns = map[string][]string{"api_keys": {"last_used_at"}}

// watch tells whether the database changed between two looks: what a refused request must
// never do.
type watch struct {
	db      *bunstore.DB
	conn    *sql.Conn // one connection: SQLite's data_version is per connection
	sqlite  bool
	tables  []string
	columns map[string][]string
	version int64
	sums    map[string]string
}

func newWatch(ctx context.Context, dsn string) (*watch, error) {
	db, err := bunstore.Open(ctx, dsn, &bunstore.Options{MaxOpenConns: 2})
	if err != nil {
		return nil, err
	}
	conn, err := db.SQLDB().Conn(ctx)
	if err != nil {
		db.Close()
		return nil, err
	}
	w := &watch{db: db, conn: conn, sqlite: db.Dialect() == bunstore.DialectSQLite, columns: map[string][]string{}}
	if err := w.loadTables(ctx); err != nil {
		w.Close()
		return nil, err
	}
	if _, err := w.changed(ctx); err != nil {
		w.Close()
		return nil, err
	}
	return w, nil
}

func (w *watch) Close() {
	_ = w.conn.Close()
	_ = w.db.Close()
}

func (w *watch) loadTables(ctx context.Context) error {
	q := `SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position`
	if w.sqlite {
		q = `SELECT m.name, p.name FROM sqlite_master m JOIN pragma_table_info(m.name) p WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' ORDER BY m.name, p.cid`
	}
	rows, err := w.conn.QueryContext(ctx, q)
	if err != nil {
		return fmt.Errorf("watch: list tables: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var t, c string
		if err := rows.Scan(&t, &c); err != nil {
			return err
		}
		if slices.Contains(unwatched, t) || slices.Contains(unwatchedColumns[t], c) {
			continue
		}
		if _, ok := w.columns[t]; !ok {
			w.tables = append(w.tables, t)
		}
		w.columns[t] = append(w.columns[t], c)
	}
	sort.Strings(w.tables)
	return rows.Err()
}

// changed returns the watched tables whose content changed since the last call.
func (w *watch) changed(ctx context.Context) ([]string, error) {
	if w.sqlite {
		// Cheap: data_version moves only when another connection committed a change.
		var v int64
		if err := w.conn.QueryRowContext(ctx, "PRAGMA data_version").Scan(&v); err != nil {
			return nil, err
		}
		if v == w.version && w.sums != nil {
			return nil, nil
		}
		w.version = v
	}
	sums := make(map[string]string, len(w.tables))
	var out []string
	for _, t := range w.tables {
		s, err := w.sum(ctx, t)
		if err != nil {
			return nil, fmt.Errorf("watch %s: %w", t, err)
		}
		sums[t] = s
		if w.sums != nil && w.sums[t] != s {
			out = append(out, t)
		}
	}
	w.sums = sums
	return out, nil
}

// sum is a digest of a table's rows (the watched columns), whatever their order.
func (w *watch) sum(ctx context.Context, table string) (string, error) {
	cols := w.columns[table]
	quoted := make([]string, len(cols))
	for i, c := range cols {
		quoted[i] = `"` + c + `"`
	}
	if !w.sqlite {
		// Postgres digests on its side: one row back per table.
		var n, h int64
		q := fmt.Sprintf(`SELECT count(*), coalesce(sum(hashtext(ROW(%s)::text)::bigint), 0) FROM "%s"`, strings.Join(quoted, ","), table)
		if err := w.conn.QueryRowContext(ctx, q).Scan(&n, &h); err != nil {
			return "", err
		}
		return fmt.Sprintf("%d/%d", n, h), nil
	}
	rows, err := w.conn.QueryContext(ctx, fmt.Sprintf(`SELECT %s FROM "%s"`, strings.Join(quoted, ","), table))
	if err != nil {
		return "", err
	}
	defer rows.Close()
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var n int
	var total uint64
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return "", err
		}
		h := fnv.New64a()
		for _, v := range vals {
			fmt.Fprintf(h, "%T:%v\x00", v, v)
		}
		total += h.Sum64() // a sum: the rows' order does not matter
		n++
	}
	return fmt.Sprintf("%d/%d", n, total), rows.Err()
}
