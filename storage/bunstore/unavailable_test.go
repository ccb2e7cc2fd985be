package bunstore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/sendoka/sendoka/sendoka"
	"github.com/sendoka/sendoka/storage/bunstore"
	"github.com/sendoka/sendoka/storage/bunstore/bunstoretest"
)

// The real failures of each driver, as the store returns them.

// openPostgres opens and migrates a fresh schema's dsn (with extra parameters), or skips.
func openPostgres(t *testing.T, opts *bunstore.Options, kv ...string) (*bunstore.DB, string) {
	t.Helper()
	dsn := withParams(t, bunstoretest.DSN(t, bunstore.DialectPostgres), kv...)
	db, err := bunstore.Open(context.Background(), dsn, opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	require.NoError(t, db.Migrate(context.Background()))
	return db, dsn
}

// exec runs a statement in the transaction of InTx's callback.
func exec(ctx context.Context, tx sendoka.Tx, query string, args ...any) error {
	_, err := tx.(*bunstore.Tx).Bun().ExecContext(ctx, query, args...)
	return err
}

func TestUnavailablePostgres(t *testing.T) {
	t.Parallel()
	if !containsPostgres(bunstoretest.Dialects(t)) {
		t.Skip("set " + bunstoretest.EnvDatabaseURL + " to run on Postgres")
	}

	t.Run("statement_timeout", func(t *testing.T) {
		t.Parallel()
		db, _ := openPostgres(t, &bunstore.Options{StatementTimeout: 50 * time.Millisecond})
		err := db.InTx(context.Background(), func(ctx context.Context, tx sendoka.Tx) error {
			return exec(ctx, tx, "SELECT pg_sleep(5)")
		})
		requireUnavailable(t, err, 1)
		requirePgCode(t, err, "57014")
	})

	t.Run("lock_timeout from the dsn", func(t *testing.T) {
		t.Parallel()
		db, dsn := openPostgres(t, nil, "lock_timeout", "50")
		ctx := context.Background()
		require.NoError(t, db.InTx(ctx, func(ctx context.Context, tx sendoka.Tx) error {
			return tx.InsertOrg(ctx, &sendoka.Org{ID: "org_lock", Name: "n", CreatedAt: time.Now().UTC()})
		}))
		holder, err := sql.Open("pgx", dsn)
		require.NoError(t, err)
		defer holder.Close()
		htx, err := holder.BeginTx(ctx, nil)
		require.NoError(t, err)
		defer htx.Rollback()
		_, err = htx.ExecContext(ctx, "SELECT 1 FROM orgs WHERE id = 'org_lock' FOR UPDATE")
		require.NoError(t, err)

		err = db.InTx(ctx, func(ctx context.Context, tx sendoka.Tx) error {
			return exec(ctx, tx, "UPDATE orgs SET name = 'm' WHERE id = 'org_lock'")
		})
		requireUnavailable(t, err, 1)
		requirePgCode(t, err, "55P03")
	})

	t.Run("session terminated", func(t *testing.T) {
		t.Parallel()
		db, dsn := openPostgres(t, nil)
		admin, err := sql.Open("pgx", dsn)
		require.NoError(t, err)
		defer admin.Close()
		err = db.InTx(context.Background(), func(ctx context.Context, tx sendoka.Tx) error {
			var pid int
			if err := tx.(*bunstore.Tx).Bun().QueryRowContext(ctx, "SELECT pg_backend_pid()").Scan(&pid); err != nil {
				return err
			}
			if _, err := admin.ExecContext(ctx, "SELECT pg_terminate_backend($1)", pid); err != nil {
				return err
			}
			return exec(ctx, tx, "SELECT 1")
		})
		requireUnavailable(t, err, 5)
	})

	t.Run("deadline on a frozen server", func(t *testing.T) {
		t.Parallel()
		dsn := bunstoretest.DSN(t, bunstore.DialectPostgres)
		proxy := bunstoretest.NewProxy(t, bunstoretest.PostgresTarget(t, dsn))
		db, err := bunstore.Open(context.Background(), bunstoretest.ProxyDSN(t, dsn, proxy), nil)
		require.NoError(t, err)
		defer db.Close()
		require.NoError(t, db.Migrate(context.Background()))
		proxy.Freeze()
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err = db.ListOrgs(ctx)
		requireUnavailable(t, err, 1)
		require.Less(t, time.Since(start), 2*time.Second, "the deadline ends the wait")
		proxy.Thaw()
		_, err = db.ListOrgs(context.Background())
		require.NoError(t, err, "a new connection once the server answers again")
	})

	t.Run("connect timeout on a frozen server", func(t *testing.T) {
		t.Parallel()
		dsn := bunstoretest.DSN(t, bunstore.DialectPostgres)
		proxy := bunstoretest.NewProxy(t, bunstoretest.PostgresTarget(t, dsn))
		proxy.Freeze()
		start := time.Now()
		_, err := bunstore.Open(context.Background(), bunstoretest.ProxyDSN(t, dsn, proxy), &bunstore.Options{ConnectTimeout: 200 * time.Millisecond})
		require.Error(t, err)
		require.Less(t, time.Since(start), 3*time.Second, "ConnectTimeout bounds the connection without a caller's deadline")
		var ce *pgconn.ConnectError
		require.ErrorAs(t, err, &ce)
		requireUnavailable(t, bunstore.Unavailable(context.Background(), err), 5)
	})

	t.Run("refused", func(t *testing.T) {
		t.Parallel()
		dsn := bunstoretest.DSN(t, bunstore.DialectPostgres)
		proxy := bunstoretest.NewProxy(t, bunstoretest.PostgresTarget(t, dsn))
		db, err := bunstore.Open(context.Background(), bunstoretest.ProxyDSN(t, dsn, proxy), nil)
		require.NoError(t, err)
		defer db.Close()
		proxy.Stop()
		start := time.Now()
		_, err = db.ListOrgs(context.Background())
		requireUnavailable(t, err, 5)
		err = db.InTx(context.Background(), func(context.Context, sendoka.Tx) error { return nil })
		requireUnavailable(t, err, 5)
		require.Less(t, time.Since(start), 2*time.Second, "refused is fast")
	})
}

func TestUnavailableSQLite(t *testing.T) {
	t.Parallel()
	// lock opens a second connection on the file and takes the write lock, as another
	// process would; it is released at cleanup.
	lock := func(t *testing.T, path string) {
		t.Helper()
		other, err := sql.Open("sqlite", path)
		require.NoError(t, err)
		t.Cleanup(func() { _ = other.Close() })
		other.SetMaxOpenConns(1)
		conn, err := other.Conn(context.Background())
		require.NoError(t, err)
		t.Cleanup(func() { _ = conn.Close() })
		_, err = conn.ExecContext(context.Background(), "BEGIN EXCLUSIVE")
		require.NoError(t, err)
		t.Cleanup(func() { _, _ = conn.ExecContext(context.Background(), "ROLLBACK") })
	}
	open := func(t *testing.T, opts *bunstore.Options) (*bunstore.DB, string) {
		t.Helper()
		path := filepath.Join(t.TempDir(), "sendoka.db")
		db, err := bunstore.Open(context.Background(), "sqlite:"+path, opts)
		require.NoError(t, err)
		t.Cleanup(func() { _ = db.Close() })
		require.NoError(t, db.Migrate(context.Background()))
		return db, path
	}
	insertOrg := func(ctx context.Context, tx sendoka.Tx) error {
		return tx.InsertOrg(ctx, &sendoka.Org{ID: sendoka.NewID(sendoka.PrefixOrg, time.Now()), Name: "n", CreatedAt: time.Now().UTC()})
	}

	t.Run("busy after the busy timeout", func(t *testing.T) {
		t.Parallel()
		db, path := open(t, &bunstore.Options{BusyTimeout: 100 * time.Millisecond})
		lock(t, path)
		start := time.Now()
		err := db.InTx(context.Background(), insertOrg)
		requireUnavailable(t, err, 1)
		var liteErr *sqlite.Error
		require.ErrorAs(t, err, &liteErr)
		require.Equal(t, sqlite3.SQLITE_BUSY, liteErr.Code()&0xff)
		require.Less(t, time.Since(start), 2*time.Second)
	})

	t.Run("the caller's deadline ends the busy wait", func(t *testing.T) {
		t.Parallel()
		db, path := open(t, &bunstore.Options{BusyTimeout: time.Minute})
		lock(t, path)
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		err := db.InTx(ctx, insertOrg)
		requireUnavailable(t, err, 1)
		require.True(t, errors.Is(err, context.DeadlineExceeded), "error: %v", err)
		require.Less(t, time.Since(start), 2*time.Second, "not the minute of the busy timeout")
	})

	// The chaos suite (scenario 8) found a full disk answered 500: SQLITE_FULL was no outage.
	t.Run("full", func(t *testing.T) {
		t.Parallel()
		_, path := open(t, nil)
		// The database may not grow past its size now (max_page_count): SQLite's own disk
		// full, without filling a disk.
		probe, err := sql.Open("sqlite", path)
		require.NoError(t, err)
		var pages int
		require.NoError(t, probe.QueryRow("PRAGMA page_count").Scan(&pages))
		require.NoError(t, probe.Close())
		db, err := bunstore.Open(context.Background(), fmt.Sprintf("sqlite:%s?_pragma=max_page_count(%d)", path, pages), nil)
		require.NoError(t, err)
		t.Cleanup(func() { _ = db.Close() })
		big := strings.Repeat("x", 4000) // an org a page long fills the last free pages fast
		for i := 0; ; i++ {
			require.Less(t, i, 1000, "the database never filled up")
			err = db.InTx(context.Background(), func(ctx context.Context, tx sendoka.Tx) error {
				return tx.InsertOrg(ctx, &sendoka.Org{ID: sendoka.NewID(sendoka.PrefixOrg, time.Now()), Name: big, CreatedAt: time.Now().UTC()})
			})
			if err != nil {
				break
			}
		}
		requireUnavailable(t, err, 5)
		var liteErr *sqlite.Error
		require.ErrorAs(t, err, &liteErr)
		require.Equal(t, sqlite3.SQLITE_FULL, liteErr.Code()&0xff)
		_, err = db.ListOrgs(context.Background())
		require.NoError(t, err, "a full database still reads")
	})

	t.Run("reads go on beside a writer", func(t *testing.T) {
		t.Parallel()
		db, path := open(t, nil)
		lock(t, path)
		_, err := db.ListOrgs(context.Background())
		require.NoError(t, err, "WAL: a held write lock does not block readers")
	})
}

// requirePgCode checks that err's chain holds a Postgres error of that SQLSTATE.
func requirePgCode(t *testing.T, err error, code string) {
	t.Helper()
	var pgErr *pgconn.PgError
	require.ErrorAs(t, err, &pgErr)
	require.Equal(t, code, pgErr.Code)
}
