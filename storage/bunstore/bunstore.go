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
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
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

// Options tunes Open. A nil *Options means every default.
type Options struct {
	// MaxOpenConns caps the Postgres connection pool. Default: 20. SQLite always uses a
	// single connection (River on SQLite needs it, and SQLite has one writer anyway), so
	// this is ignored there.
	MaxOpenConns int
	// Logger receives failed queries (Warn) and every query (Debug). Default: nil, quiet.
	Logger *slog.Logger
}

// DefaultMaxOpenConns is the Postgres pool size when Options.MaxOpenConns is 0.
const DefaultMaxOpenConns = 20

// DB is an open database: the sendoka.Store, plus what the queue and the tools need (the
// *sql.DB, the dialect, migrations). It is safe for concurrent use.
type DB struct {
	bun     *bun.DB
	dialect Dialect
	log     *slog.Logger
}

var _ sendoka.Store = (*DB)(nil)

// Open connects to the database that dsn names and checks that it answers. It does not
// migrate: call Migrate.
//
// A dsn starting with postgres:// or postgresql:// is Postgres (any parameter pgx accepts,
// for example search_path, is passed on). Anything else is SQLite: "sqlite:PATH",
// "file:PATH?..." (a SQLite URI) or a plain path. SQLite is opened in WAL mode with a 10 s
// busy timeout and foreign keys on, unless the dsn sets those pragmas itself.
func Open(ctx context.Context, dsn string, opts *Options) (*DB, error) {
	if opts == nil {
		opts = &Options{}
	}
	d, driverDSN, err := parseDSN(dsn)
	if err != nil {
		return nil, err
	}
	var db *bun.DB
	switch d {
	case DialectPostgres:
		sqldb, err := sql.Open("pgx", driverDSN)
		if err != nil {
			return nil, fmt.Errorf("bunstore: open postgres: %w", err)
		}
		n := opts.MaxOpenConns
		if n <= 0 {
			n = DefaultMaxOpenConns
		}
		sqldb.SetMaxOpenConns(n)
		sqldb.SetMaxIdleConns(n)
		sqldb.SetConnMaxIdleTime(5 * time.Minute)
		db = bun.NewDB(sqldb, pgdialect.New())
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
		db = bun.NewDB(sqldb, sqlitedialect.New())
	}
	if opts.Logger != nil {
		db.AddQueryHook(&logHook{log: opts.Logger})
	}
	out := &DB{bun: db, dialect: d, log: opts.Logger}
	if out.log == nil {
		out.log = slog.New(slog.DiscardHandler)
	}
	if err := out.Ping(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("bunstore: connect %s: %w", d, err)
	}
	return out, nil
}

// Bun returns the Bun handle, for code that runs its own queries on the same database.
func (db *DB) Bun() *bun.DB { return db.bun }

// SQLDB returns the underlying *sql.DB (River's drivers take it).
func (db *DB) SQLDB() *sql.DB { return db.bun.DB }

// Dialect reports which database this is.
func (db *DB) Dialect() Dialect { return db.dialect }

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error { return db.bun.PingContext(ctx) }

// Close closes the database.
func (db *DB) Close() error { return db.bun.Close() }

// InTx runs fn in one transaction: it commits when fn returns nil and rolls back when fn
// returns an error or panics (the panic goes on after the rollback).
func (db *DB) InTx(ctx context.Context, fn func(ctx context.Context, tx sendoka.Tx) error) error {
	btx, err := db.bun.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("bunstore: begin: %w", err)
	}
	done := false
	defer func() {
		// Runs on error returns and while a panic unwinds; a panic is not recovered, so it
		// continues to the caller once the transaction is rolled back.
		if !done {
			_ = btx.Rollback()
		}
	}()
	if err := fn(ctx, &Tx{tx: btx}); err != nil {
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
