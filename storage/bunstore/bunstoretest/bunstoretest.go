// Package bunstoretest opens fresh, migrated, isolated bunstore databases for tests: a file
// in t.TempDir() on SQLite, a schema of its own on Postgres. Postgres is used only when
// SENDOKA_TEST_DATABASE_URL is set (for example
// postgres://postgres@127.0.0.1:5432/test?sslmode=disable).
package bunstoretest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/sendoka/sendoka/storage/bunstore"
)

// EnvDatabaseURL names the environment variable that points the tests at a Postgres server.
const EnvDatabaseURL = "SENDOKA_TEST_DATABASE_URL"

// MaxOpenConns is the Postgres pool size of a test database: enough for concurrent claims
// and a River client, small enough for many parallel tests on one server.
const MaxOpenConns = 8

// Dialects returns the dialects to test on: SQLite always, Postgres too when
// SENDOKA_TEST_DATABASE_URL is set.
func Dialects(t testing.TB) []bunstore.Dialect {
	t.Helper()
	ds := []bunstore.Dialect{bunstore.DialectSQLite}
	if databaseURL() != "" {
		ds = append(ds, bunstore.DialectPostgres)
	}
	return ds
}

// DSN returns the dsn of a fresh, empty (unmigrated) database of dialect d that is removed
// at cleanup: a file in t.TempDir() for SQLite; for Postgres, a new schema with a random name
// on SENDOKA_TEST_DATABASE_URL, made the search_path so unqualified tables (ours, River's)
// land in it. It skips the test when Postgres is asked for but not configured.
func DSN(t testing.TB, d bunstore.Dialect) string {
	t.Helper()
	switch d {
	case bunstore.DialectSQLite:
		return "sqlite:" + filepath.Join(t.TempDir(), "sendoka.db")
	case bunstore.DialectPostgres:
		return postgresSchema(t)
	}
	t.Fatalf("bunstoretest: unknown dialect %q", d)
	return ""
}

// Open returns a fresh, migrated database of dialect d, closed (and dropped) at cleanup.
func Open(t testing.TB, d bunstore.Dialect) *bunstore.DB {
	t.Helper()
	dsn := DSN(t, d)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db, err := bunstore.Open(ctx, dsn, &bunstore.Options{MaxOpenConns: MaxOpenConns})
	if err != nil {
		t.Fatalf("bunstoretest: open %s: %v", d, err)
	}
	// Registered after DSN's cleanup, so it runs first: the schema is dropped once closed.
	t.Cleanup(func() { _ = db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("bunstoretest: migrate %s: %v", d, err)
	}
	return db
}

// EachDB runs fn as parallel subtests named after the dialects ("sqlite", "postgres"), each
// with its own fresh database. The postgres subtest is skipped when Postgres is not
// configured.
func EachDB(t *testing.T, fn func(t *testing.T, db *bunstore.DB)) {
	t.Helper()
	ds := Dialects(t)
	for _, d := range []bunstore.Dialect{bunstore.DialectSQLite, bunstore.DialectPostgres} {
		t.Run(string(d), func(t *testing.T) {
			if !slices.Contains(ds, d) {
				t.Skip("set " + EnvDatabaseURL + " to run on Postgres")
			}
			t.Parallel()
			fn(t, Open(t, d))
		})
	}
}

func postgresSchema(t testing.TB) string {
	t.Helper()
	base := databaseURL()
	if base == "" {
		t.Skip("set " + EnvDatabaseURL + " to run on Postgres")
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	schema := "sendoka_test_" + hex.EncodeToString(b[:])

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("bunstoretest: %v", err)
	}
	admin.SetMaxOpenConns(1)
	// schema is our own hex name: safe to splice into the statement.
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		_ = admin.Close()
		t.Fatalf("bunstoretest: create schema: %v", err)
	}
	t.Cleanup(func() {
		defer admin.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("bunstoretest: drop schema %s: %v", schema, err)
		}
	})

	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("bunstoretest: %s: %v", EnvDatabaseURL, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func databaseURL() string {
	return os.Getenv(EnvDatabaseURL)
}
