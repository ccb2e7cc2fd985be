// Package bunstore is the sendoka.Store on Bun, for Postgres (pgx through database/sql) and
// SQLite (modernc.org/sqlite, no cgo). One implementation serves both dialects; the
// conformance suite storage/storetest runs on each.
//
// Open a database, migrate it, and hand it to the core:
//
//	db, err := bunstore.Open(ctx, "sqlite:./sendoka.db", nil)
//	...
//	err = db.Migrate(ctx)
//	client, err := sendoka.New(sendoka.Config{Store: db, ...})
//
// The queue (River) shares the same *sql.DB (SQLDB) and joins a store transaction through
// Tx.SQLTx, so a message and the job that delivers it commit together.
package bunstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/sendoka/sendoka/sendoka"
)

// Dialect names a supported database.
type Dialect string

// The supported dialects.
const (
	DialectPostgres Dialect = "postgres"
	DialectSQLite   Dialect = "sqlite"
)

// Options tunes Open. A nil *Options means every default. Every timeout that the dsn sets
// itself (statement_timeout, idle_in_transaction_session_timeout or connect_timeout as a
// parameter, a -c in options, or PGOPTIONS and PGCONNECT_TIMEOUT; a busy_timeout pragma on
// SQLite) is left as the dsn says.
//
// The timeouts are the server's half of a request's deadline: a caller's context ends its
// wait on the client side (httpapi gives every request's database work one), and a
// statement that overruns ends on the server too, its connection kept.
type Options struct {
	// MaxOpenConns caps the Postgres connection pool. Default: 20. SQLite always uses a
	// single connection (River on SQLite needs it, and SQLite has one writer anyway), so
	// this is ignored there.
	MaxOpenConns int
	// StatementTimeout is Postgres's statement_timeout on every connection: the server
	// cancels a statement that runs longer, waits for a lock included (SQLSTATE 57014,
	// reported as sendoka.CodeUnavailable). It stays below httpapi's DatabaseTimeout, so a
	// stuck statement ends on the server, with its connection intact, before the request's
	// deadline. Migrate runs without it (see Maintenance). Default:
	// DefaultStatementTimeout (3 s). Negative: not set, the server's own setting applies.
	StatementTimeout time.Duration
	// IdleInTransactionTimeout is Postgres's idle_in_transaction_session_timeout: the server
	// ends a session that holds a transaction open without running anything for longer (a
	// process frozen or gone mid-transaction), releasing its locks. Default:
	// DefaultIdleInTransactionTimeout (30 s). Negative: not set.
	IdleInTransactionTimeout time.Duration
	// ConnectTimeout bounds opening one Postgres connection: dial, TLS and authentication.
	// A caller's context bounds it too. Default: DefaultConnectTimeout (5 s). Negative: no
	// bound but the caller's context.
	ConnectTimeout time.Duration
	// BusyTimeout is how long a SQLite statement waits for a lock another connection holds
	// (busy_timeout) before failing with SQLITE_BUSY, reported as sendoka.CodeUnavailable.
	// The wait also ends with the caller's context. Default: DefaultBusyTimeout (3 s), so a
	// request that waits the whole of it still answers within httpapi's DatabaseTimeout.
	// Negative: no wait, a held lock fails at once.
	BusyTimeout time.Duration
	// Logger receives the store's own events (migrations, a lost key listener), and, with
	// LogQueries, failed queries (Warn) and every query (Debug). Default: nil, quiet.
	Logger *slog.Logger
	// LogQueries logs SQL statements through Logger. Statements can carry recipients'
	// addresses, so it is off unless asked for (sendoka's SENDOKA_LOG_SQL).
	LogQueries bool
	// QueryHooks are Bun query hooks added to the database, after the query log's: for
	// example bunotel's, which traces every query. Default: none.
	QueryHooks []bun.QueryHook
}

// Defaults of Options.
const (
	// DefaultMaxOpenConns is the Postgres pool size when Options.MaxOpenConns is 0.
	DefaultMaxOpenConns             = 20
	DefaultStatementTimeout         = 3 * time.Second
	DefaultIdleInTransactionTimeout = 30 * time.Second
	DefaultConnectTimeout           = 5 * time.Second
	DefaultBusyTimeout              = 3 * time.Second
)

// DB is an open database: the sendoka.Store, plus what the queue and the tools need (the
// *sql.DB, the dialect, migrations). It is safe for concurrent use.
//
// Every error that leaves the Store (InTx, whatever its callback's Tx calls returned, and the
// reads) says when the database could not be reached or did not answer in time: it is then
// a *sendoka.Error with sendoka.CodeUnavailable and a RetryAfterSeconds hint. A failure of a
// call whose context the caller cancelled is left as it is.
type DB struct {
	bun     *bun.DB
	dialect Dialect
	log     *slog.Logger
	// hook logs queries for Options.Logger; nil when there is none.
	hook *logHook
	// unbounded is the Postgres connection config without Options' timeouts, for
	// Maintenance and the key listener; nil on SQLite.
	unbounded *pgx.ConnConfig
	// keys is the API key listener (keywatch.go).
	keys keyWatch
	// observeInsert, when set (by tests), sees every multi-row INSERT of insertValuesOn
	// before it runs.
	observeInsert func(query string, args []any)
	// deliveryAndEndpointSQL is GetWebhookDeliveryAndEndpoint's statement, made once.
	deliveryAndEndpointOnce sync.Once
	deliveryAndEndpointSQL  string
}

var _ sendoka.Store = (*DB)(nil)

// Open connects to the database that dsn names and checks that it answers. It does not
// migrate: call Migrate.
//
// A dsn starting with postgres:// or postgresql:// is Postgres (any parameter pgx accepts,
// for example search_path, is passed on). Anything else is SQLite: "sqlite:PATH",
// "file:PATH?..." (a SQLite URI) or a plain path. SQLite is opened in WAL mode with a
// 3 s busy timeout (Options.BusyTimeout) and foreign keys on, unless the dsn sets those
// pragmas itself. On Postgres every connection carries Options' timeouts.
func Open(ctx context.Context, dsn string, opts *Options) (*DB, error) {
	if opts == nil {
		opts = &Options{}
	}
	d, driverDSN, err := parseDSN(dsn, orDefault(opts.BusyTimeout, DefaultBusyTimeout))
	if err != nil {
		return nil, err
	}
	out := &DB{dialect: d, log: opts.Logger}
	switch d {
	case DialectPostgres:
		cfg, unbounded, err := postgresConfig(driverDSN, opts) // postgres.go
		if err != nil {
			return nil, err
		}
		out.unbounded = unbounded
		sqldb := stdlib.OpenDB(*cfg)
		n := opts.MaxOpenConns
		if n <= 0 {
			n = DefaultMaxOpenConns
		}
		sqldb.SetMaxOpenConns(n)
		sqldb.SetMaxIdleConns(n)
		sqldb.SetConnMaxIdleTime(5 * time.Minute)
		out.bun = bun.NewDB(sqldb, pgdialect.New())
	case DialectSQLite:
		sqldb, err := sql.Open("sqlite", driverDSN)
		if err != nil {
			return nil, fmt.Errorf("bunstore: open sqlite: %w", err)
		}
		// One connection: River's SQLite driver requires it, and it turns SQLite's
		// one-writer rule into queueing on the pool instead of SQLITE_BUSY errors.
		sqldb.SetMaxOpenConns(1)
		sqldb.SetMaxIdleConns(1)
		// A closed idle connection of an in-memory database would lose the database.
		sqldb.SetConnMaxLifetime(0)
		sqldb.SetConnMaxIdleTime(0)
		out.bun = bun.NewDB(sqldb, sqlitedialect.New())
	}
	if opts.Logger != nil && opts.LogQueries {
		out.hook = &logHook{log: opts.Logger}
		out.bun.AddQueryHook(out.hook)
	}
	for _, h := range opts.QueryHooks {
		out.bun.AddQueryHook(h)
	}
	if out.log == nil {
		out.log = slog.New(slog.DiscardHandler)
	}
	if err := out.Ping(ctx); err != nil {
		_ = out.bun.Close()
		return nil, fmt.Errorf("bunstore: connect %s: %w", d, err)
	}
	return out, nil
}

// orDefault is d, or def when d is zero.
func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// Bun returns the Bun handle, for code that runs its own queries on the same database.
func (db *DB) Bun() *bun.DB { return db.bun }

// SQLDB returns the underlying *sql.DB (River's drivers take it).
func (db *DB) SQLDB() *sql.DB { return db.bun.DB }

// Dialect reports which database this is.
func (db *DB) Dialect() Dialect { return db.dialect }

// OneWriter reports whether the database takes one write at a time: SQLite does
// (sendoka.OneWriter).
func (db *DB) OneWriter() bool { return db.dialect == DialectSQLite }

// Ping checks that the database answers. It waits as long as ctx lets it: give it a deadline.
func (db *DB) Ping(ctx context.Context) error { return db.bun.PingContext(ctx) }

// Close stops the API key listener, if it runs, and closes the database.
func (db *DB) Close() error {
	db.stopKeyWatch()
	return db.bun.Close()
}

// InTx runs fn in one transaction: it commits when fn returns nil and rolls back when fn
// returns an error or panics (the panic goes on after the rollback). Its error, fn's
// included, is classified as the DB comment says.
func (db *DB) InTx(ctx context.Context, fn func(ctx context.Context, tx sendoka.Tx) error) (err error) {
	defer classify(ctx, &err)
	btx, err := db.bun.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("bunstore: begin: %w", err)
	}
	done := false
	defer func() {
		// Runs on error returns and while a panic unwinds; a panic is not recovered, so it
		// continues to the caller once the transaction is rolled back. A rollback on a
		// connection that is gone fails at once; on one that hangs, ctx's deadline ends it.
		if !done {
			_ = btx.Rollback()
		}
	}()
	if err := fn(ctx, &Tx{tx: btx, observeInsert: db.observeInsert}); err != nil {
		return err
	}
	done = true
	if err := btx.Commit(); err != nil {
		return fmt.Errorf("bunstore: commit: %w", err)
	}
	return nil
}

// logHook logs queries for Options.Logger.
type logHook struct{ log *slog.Logger }

func (h *logHook) BeforeQuery(ctx context.Context, _ *bun.QueryEvent) context.Context { return ctx }

func (h *logHook) AfterQuery(ctx context.Context, ev *bun.QueryEvent) {
	d := time.Since(ev.StartTime)
	if ev.Err != nil && !errors.Is(ev.Err, sql.ErrNoRows) {
		h.log.WarnContext(ctx, "query failed", "query", ev.Query, "duration", d, "error", ev.Err)
		return
	}
	h.log.DebugContext(ctx, "query", "query", ev.Query, "duration", d)
}

// Backup writes a consistent copy of a SQLite database to path while it is in use (VACUUM
// INTO: one read transaction, so writers carry on). path must not exist. On Postgres it is
// an error: use pg_dump, which does the same for a server.
func (db *DB) Backup(ctx context.Context, path string) error {
	if db.dialect != DialectSQLite {
		return errors.New("bunstore: backup copies SQLite databases; for Postgres use pg_dump")
	}
	if _, err := os.Stat(path); err == nil {
		return fmt.Errorf("bunstore: backup: %s exists", path)
	}
	if _, err := db.bun.ExecContext(ctx, "VACUUM INTO ?", path); err != nil {
		return fmt.Errorf("bunstore: backup: %w", err)
	}
	return nil
}
