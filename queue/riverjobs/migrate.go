package riverjobs

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
)

// Migrate creates or updates River's tables (river_job and friends) in db with River's own
// migrations for the dialect. It does nothing on an up-to-date database, so every process
// may run it at start.
//
// Concurrent calls are safe. On Postgres an advisory lock on the current schema serialises
// them; it is held on a connection of its own, so db needs two open connections (a pool
// limited to one runs unlocked). On SQLite, River applies each migration in a transaction
// with its version record, and a run that lost a race to another process starts over from
// the versions now recorded.
func Migrate(ctx context.Context, db *sql.DB, dialect string) error {
	quiet := slog.New(slog.DiscardHandler)
	switch dialect {
	case DialectPostgres:
		m, err := rivermigrate.New(riverdatabasesql.New(db), &rivermigrate.Config{Logger: quiet})
		if err != nil {
			return fmt.Errorf("riverjobs: migrate: %w", err)
		}
		if db.Stats().MaxOpenConnections != 1 {
			unlock, err := lockMigrations(ctx, db)
			if err != nil {
				return err
			}
			defer unlock()
		}
		if err := migrateUp(ctx, m); err != nil {
			return fmt.Errorf("riverjobs: migrate postgres: %w", err)
		}
		return nil
	case DialectSQLite:
		m, err := rivermigrate.New(riversqlite.New(db), &rivermigrate.Config{Logger: quiet})
		if err != nil {
			return fmt.Errorf("riverjobs: migrate: %w", err)
		}
		if err := migrateUp(ctx, m); err != nil {
			return fmt.Errorf("riverjobs: migrate sqlite: %w", err)
		}
		return nil
	}
	return fmt.Errorf("riverjobs: unknown dialect %q (want %q or %q)", dialect, DialectPostgres, DialectSQLite)
}

// migrateUp applies River's pending migrations. A run that fails because a concurrent one
// applied the same migration first is retried: each migration commits with its version
// record, so the next run reads what is left to do. A real failure fails every try.
func migrateUp(ctx context.Context, m *rivermigrate.Migrator[*sql.Tx]) error {
	const tries = 5
	var err error
	for range tries {
		if _, err = m.Migrate(ctx, rivermigrate.DirectionUp, nil); err == nil || ctx.Err() != nil {
			return err
		}
	}
	return err
}

// lockMigrations takes a session advisory lock keyed on the current schema (so tests and
// tenants in other schemas do not wait for each other) and returns its release.
func lockMigrations(ctx context.Context, db *sql.DB) (func(), error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("riverjobs: migrate: %w", err)
	}
	const key = "hashtext('sendoka_river_migrate:' || current_schema())"
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock("+key+")"); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("riverjobs: migrate: lock: %w", err)
	}
	return func() {
		// The release must run even when ctx has ended.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_unlock("+key+")"); err != nil {
			// A pooled connection is reused, lock and all: ErrBadConn makes database/sql
			// close it instead, and closing the session releases the lock.
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		}
		_ = conn.Close()
	}, nil
}
