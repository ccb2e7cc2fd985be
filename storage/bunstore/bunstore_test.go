package bunstore_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/sendoka"
	"github.com/sendoka/sendoka/storage/bunstore"
	"github.com/sendoka/sendoka/storage/bunstore/bunstoretest"
	"github.com/sendoka/sendoka/storage/storetest"
)

var (
	_ sendoka.Store                = (*bunstore.DB)(nil)
	_ sendoka.Tx                   = (*bunstore.Tx)(nil)
	_ interface{ SQLTx() *sql.Tx } = (*bunstore.Tx)(nil)
)

func TestStore(t *testing.T) {
	t.Parallel()
	for _, d := range bunstoretest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			storetest.Run(t, func(t *testing.T) sendoka.Store { return bunstoretest.Open(t, d) })
		})
	}
}

func TestMigrateIdempotent(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		ctx := context.Background()
		// bunstoretest.Open migrated once already.
		require.NoError(t, db.Migrate(ctx))
		require.NoError(t, db.Migrate(ctx))
		var n int
		require.NoError(t, db.SQLDB().QueryRowContext(ctx, "SELECT count(*) FROM sendoka_migrations").Scan(&n))
		ms, err := bunstore.Migrations(db.Dialect())
		require.NoError(t, err)
		require.Equal(t, len(ms.Sorted()), n, "each migration recorded once")
		// The schema works after the repeated runs.
		require.NoError(t, db.InTx(ctx, func(ctx context.Context, tx sendoka.Tx) error {
			return tx.InsertOrg(ctx, &sendoka.Org{ID: "org_1", Name: "x", CreatedAt: time.Now().UTC()})
		}))
	})
}

func TestMigrateConcurrent(t *testing.T) {
	t.Parallel()
	for _, d := range bunstoretest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			// Two processes starting at once on an empty database: both succeed.
			dsn := bunstoretest.DSN(t, d)
			ctx := context.Background()
			errs := make(chan error, 2)
			for range 2 {
				go func() {
					db, err := bunstore.Open(ctx, dsn, &bunstore.Options{MaxOpenConns: 2})
					if err != nil {
						errs <- err
						return
					}
					defer db.Close()
					errs <- db.Migrate(ctx)
				}()
			}
			require.NoError(t, <-errs)
			require.NoError(t, <-errs)
		})
	}
}

func TestTxSQLTx(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		ctx := context.Background()
		// A write through the *sql.Tx commits and rolls back with the store's transaction.
		exec := func(tx sendoka.Tx, id string) error {
			_, err := tx.(interface{ SQLTx() *sql.Tx }).SQLTx().ExecContext(ctx,
				"INSERT INTO orgs (id, name, plan, created_at) VALUES ('"+id+"', 'n', '', '2025-01-01T00:00:00.000000Z')")
			return err
		}
		require.NoError(t, db.InTx(ctx, func(ctx context.Context, tx sendoka.Tx) error { return exec(tx, "org_commit") }))
		require.Error(t, db.InTx(ctx, func(ctx context.Context, tx sendoka.Tx) error {
			require.NoError(t, exec(tx, "org_rollback"))
			return sql.ErrTxDone
		}))
		orgs, err := db.ListOrgs(ctx)
		require.NoError(t, err)
		require.Len(t, orgs, 1)
		require.Equal(t, "org_commit", orgs[0].ID)
	})
}

func TestOpenDSN(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cases := []struct {
		name string
		dsn  string
	}{
		{"sqlite scheme", "sqlite:" + dir + "/a.db"},
		{"sqlite scheme with slashes", "sqlite://" + dir + "/b.db"},
		{"plain path", dir + "/c.db"},
		{"file uri", "file:" + dir + "/d.db"},
		{"file uri with params", "file:" + dir + "/e.db?cache=private"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db, err := bunstore.Open(ctx, c.dsn, nil)
			require.NoError(t, err)
			defer db.Close()
			require.Equal(t, bunstore.DialectSQLite, db.Dialect())
			require.Equal(t, 1, db.SQLDB().Stats().MaxOpenConnections)
			for pragma, want := range map[string]string{"journal_mode": "wal", "busy_timeout": "3000", "foreign_keys": "1"} {
				var got string
				require.NoError(t, db.SQLDB().QueryRowContext(ctx, "PRAGMA "+pragma).Scan(&got))
				require.Equal(t, want, got, pragma)
			}
		})
	}

	t.Run("sqlite pragmas from the dsn win", func(t *testing.T) {
		t.Parallel()
		ctx := context.Background()
		db, err := bunstore.Open(ctx, "sqlite:"+dir+"/f.db?_pragma=busy_timeout(1234)&_pragma=journal_mode(delete)", nil)
		require.NoError(t, err)
		defer db.Close()
		var timeout, mode string
		require.NoError(t, db.SQLDB().QueryRowContext(ctx, "PRAGMA busy_timeout").Scan(&timeout))
		require.NoError(t, db.SQLDB().QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode))
		require.Equal(t, "1234", timeout)
		require.Equal(t, "delete", mode)
	})

	t.Run("errors", func(t *testing.T) {
		t.Parallel()
		for _, dsn := range []string{"", "sqlite:", "sqlite:?_pragma=x", "postgres://nobody@127.0.0.1:1/none?connect_timeout=1"} {
			_, err := bunstore.Open(context.Background(), dsn, nil)
			require.Error(t, err, "dsn %q", dsn)
		}
	})

	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		if !containsPostgres(bunstoretest.Dialects(t)) {
			t.Skip("set " + bunstoretest.EnvDatabaseURL + " to run on Postgres")
		}
		dsn := bunstoretest.DSN(t, bunstore.DialectPostgres)
		for _, scheme := range []string{"postgres://", "postgresql://"} {
			db, err := bunstore.Open(context.Background(), scheme+dsn[len("postgres://"):], &bunstore.Options{MaxOpenConns: 3})
			require.NoError(t, err)
			require.Equal(t, bunstore.DialectPostgres, db.Dialect())
			require.Equal(t, 3, db.SQLDB().Stats().MaxOpenConnections)
			require.NoError(t, db.Close())
		}
		db, err := bunstore.Open(context.Background(), dsn, nil)
		require.NoError(t, err)
		defer db.Close()
		require.Equal(t, bunstore.DefaultMaxOpenConns, db.SQLDB().Stats().MaxOpenConnections)
	})
}

func containsPostgres(ds []bunstore.Dialect) bool {
	for _, d := range ds {
		if d == bunstore.DialectPostgres {
			return true
		}
	}
	return false
}
