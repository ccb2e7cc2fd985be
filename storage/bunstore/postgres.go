package bunstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
)

// postgresConfig parses dsn and returns the connection config of the pool, with Options'
// timeouts, and the same config without the session timeouts, for Maintenance. Both keep
// the connect timeout and whatever the dsn sets itself.
func postgresConfig(dsn string, opts *Options) (cfg, unbounded *pgx.ConnConfig, err error) {
	cfg, err = pgx.ParseConfig(dsn)
	if err != nil {
		// pgx's message names the dsn with its password redacted.
		return nil, nil, fmt.Errorf("bunstore: postgres dsn: %w", err)
	}
	// pgx reads connect_timeout (and PGCONNECT_TIMEOUT) into ConnectTimeout; unset is 0.
	// It bounds the whole connection process, dial to authentication.
	if ct := orDefault(opts.ConnectTimeout, DefaultConnectTimeout); cfg.ConnectTimeout == 0 && ct > 0 {
		cfg.ConnectTimeout = ct
	}
	unbounded = cfg.Copy()
	for _, p := range []struct {
		name string
		d    time.Duration
	}{
		{"statement_timeout", orDefault(opts.StatementTimeout, DefaultStatementTimeout)},
		{"idle_in_transaction_session_timeout", orDefault(opts.IdleInTransactionTimeout, DefaultIdleInTransactionTimeout)},
	} {
		if p.d > 0 && !hasRuntimeParam(cfg.RuntimeParams, p.name) {
			// In milliseconds, the unit both settings take without one; at least 1, since 0
			// would turn the timeout off.
			cfg.RuntimeParams[p.name] = strconv.FormatInt(max(p.d.Milliseconds(), 1), 10)
		}
	}
	return cfg, unbounded, nil
}

// hasRuntimeParam reports whether the dsn sets the setting: as a parameter of its own, or
// as -c name=value (or --name=value) in options.
func hasRuntimeParam(params map[string]string, name string) bool {
	if _, ok := params[name]; ok {
		return true
	}
	return strings.Contains(params["options"], name)
}

// Maintenance runs fn with a *sql.DB on the same database whose sessions carry none of
// Options' session timeouts (a statement_timeout or lock_timeout the dsn sets itself still
// applies): for migrations, Sendoka's and River's, whose statements may wait on another
// process's migration lock or rewrite a large table for longer than a request may take.
// On Postgres it is a pool of its own, of two connections (a migration lock and the
// migration), closed when fn returns; on SQLite, which has no such timeouts, it is SQLDB.
func (db *DB) Maintenance(ctx context.Context, fn func(ctx context.Context, sqldb *sql.DB) error) error {
	if db.unbounded == nil {
		return fn(ctx, db.bun.DB)
	}
	sqldb := stdlib.OpenDB(*db.unbounded.Copy())
	sqldb.SetMaxOpenConns(2)
	sqldb.SetMaxIdleConns(2)
	err := fn(ctx, sqldb)
	return errors.Join(err, sqldb.Close())
}

// ListenerPool returns a small pgx pool on the same Postgres database and schema, for
// River's LISTEN/NOTIFY wake-ups (riverjobs.Config.ListenerPool): with it, an idle worker
// learns of a new job at once instead of at its next poll. Its connections carry none of
// Options' statement timeouts (a LISTEN connection waits by design). The caller closes it
// after the queue stops. On SQLite it returns nil and no error.
func (db *DB) ListenerPool(ctx context.Context) (*pgxpool.Pool, error) {
	if db.unbounded == nil {
		return nil, nil
	}
	cfg, err := pgxpool.ParseConfig("")
	if err != nil {
		return nil, fmt.Errorf("bunstore: listener pool: %w", err)
	}
	cfg.ConnConfig = db.unbounded.Copy()
	cfg.MinConns, cfg.MaxConns = 0, 2
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("bunstore: listener pool: %w", err)
	}
	return pool, nil
}
