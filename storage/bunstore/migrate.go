package bunstore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/migrate"
)

//go:embed migrations
var migrationFiles embed.FS

// Names of Bun's bookkeeping tables, prefixed so they do not collide with an embedding app's
// own Bun migrations in the same database.
const (
	migrationsTable      = "sendoka_migrations"
	migrationsLocksTable = "sendoka_migration_locks"
)

// Migrations returns the schema migrations of a dialect. Each dialect has its own SQL (types
// and time storage differ); both build the same tables.
func Migrations(d Dialect) (*migrate.Migrations, error) {
	sub, err := fs.Sub(migrationFiles, "migrations/"+string(d))
	if err != nil {
		return nil, err
	}
	ms := migrate.NewMigrations()
	if err := ms.Discover(sub); err != nil {
		return nil, fmt.Errorf("bunstore: migrations of %s: %w", d, err)
	}
	if len(ms.Sorted()) == 0 {
		return nil, fmt.Errorf("bunstore: no migrations for dialect %q", d)
	}
	return ms, nil
}

// errAlreadyApplied stops a migration that another process applied after this one read
// the list of applied migrations.
var errAlreadyApplied = errors.New("bunstore: migration applied concurrently")

// Migrate applies the migrations that have not run yet; it does nothing on an up-to-date
// database. Each migration runs in a transaction that also records it, so a migration is
// applied and recorded together or not at all, and a failed one is retried by the next
// Migrate. Concurrent Migrate calls (several processes starting at once) are safe: on
// Postgres an advisory lock on the current schema serialises them; on SQLite each migration
// transaction holds the write lock (BEGIN IMMEDIATE) and re-checks the record first.
//
// On Postgres it runs on connections of its own without Options' timeouts (Maintenance): a
// migration may wait for another process's lock, or rewrite a large table, for longer.
func (db *DB) Migrate(ctx context.Context) error {
	return db.Maintenance(ctx, func(ctx context.Context, sqldb *sql.DB) error {
		idb := db.bun
		if sqldb != db.bun.DB {
			idb = bun.NewDB(sqldb, pgdialect.New()) // closed with sqldb by Maintenance
			if db.hook != nil {
				idb.AddQueryHook(db.hook)
			}
		}
		return db.migrate(ctx, idb)
	})
}

func (db *DB) migrate(ctx context.Context, idb *bun.DB) error {
	ms, err := Migrations(db.dialect)
	if err != nil {
		return err
	}
	if db.dialect == DialectPostgres {
		unlock, err := lockMigrations(ctx, idb)
		if err != nil {
			return err
		}
		defer unlock()
	}
	m := migrate.NewMigrator(idb, ms,
		migrate.WithTableName(migrationsTable),
		migrate.WithLocksTableName(migrationsLocksTable),
		migrate.WithMarkAppliedOnSuccess(true),
		// Bun records a migration after its transaction commits; recordInTx has already
		// recorded it inside, so Bun's own record must be an upsert.
		migrate.WithUpsert(true),
		migrate.BeforeMigration(skipIfApplied),
		migrate.AfterMigration(recordInTx),
	)
	if err := m.Init(ctx); err != nil {
		return fmt.Errorf("bunstore: init migrations: %w", err)
	}
	for attempt := 0; ; attempt++ {
		group, err := m.Migrate(ctx)
		if errors.Is(err, errAlreadyApplied) && attempt < 10 {
			continue // another process got there first: read the applied list again
		}
		if err != nil {
			return fmt.Errorf("bunstore: migrate: %w", err)
		}
		if !group.IsZero() {
			db.log.InfoContext(ctx, "migrated database", "dialect", db.dialect, "migrations", group.Migrations.String())
		}
		return nil
	}
}

// skipIfApplied runs first in a migration's transaction: once the transaction holds the
// write lock, a record written by a concurrent Migrate is visible.
func skipIfApplied(ctx context.Context, idb bun.IConn, mig *migrate.Migration) error {
	// Bun's Tx formats the ? placeholders for the dialect.
	var n int
	if err := idb.QueryRowContext(ctx, "SELECT count(*) FROM "+migrationsTable+" WHERE name = ?", mig.Name).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return errAlreadyApplied
	}
	return nil
}

// recordInTx records the migration in its own transaction.
func recordInTx(ctx context.Context, idb bun.IConn, mig *migrate.Migration) error {
	_, err := idb.ExecContext(ctx, "INSERT INTO "+migrationsTable+" (name, group_id, migrated_at) VALUES (?, ?, ?)",
		mig.Name, mig.GroupID, time.Now().UTC())
	return err
}

// unlockTimeout bounds the release of the migration lock.
const unlockTimeout = 5 * time.Second

// lockMigrations takes a session advisory lock rather than Bun's lock table: a lock row left
// by a crashed process would block every later start, a session lock dies with its session.
func lockMigrations(ctx context.Context, idb *bun.DB) (func(), error) {
	conn, err := idb.DB.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("bunstore: migration lock: %w", err)
	}
	const key = "hashtext('sendoka_migrate:' || current_schema())"
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock("+key+")"); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("bunstore: migration lock: %w", err)
	}
	return func() {
		// A fresh context: the caller's may be done, and the lock must still be released. It
		// is bounded all the same, so a database that stopped answering cannot hang the
		// caller here; the lock dies with the session when the pool closes (Maintenance).
		ctx, cancel := context.WithTimeout(context.Background(), unlockTimeout)
		defer cancel()
		_, _ = conn.ExecContext(ctx, "SELECT pg_advisory_unlock("+key+")")
		_ = conn.Close()
	}, nil
}
