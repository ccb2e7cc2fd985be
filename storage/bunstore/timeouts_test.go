package bunstore_test

import (
	"context"
	"database/sql"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/storage/bunstore"
	"github.com/sendoka/sendoka/storage/bunstore/bunstoretest"
)

// withParams returns dsn with extra query parameters.
func withParams(t *testing.T, dsn string, kv ...string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	require.NoError(t, err)
	q := u.Query()
	for i := 0; i < len(kv); i += 2 {
		q.Set(kv[i], kv[i+1])
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// show reads a setting of a session of sqldb.
func show(t *testing.T, sqldb *sql.DB, setting string) string {
	t.Helper()
	var v string
	require.NoError(t, sqldb.QueryRowContext(context.Background(), "SHOW "+setting).Scan(&v))
	return v
}

func TestTimeoutsPostgres(t *testing.T) {
	t.Parallel()
	if !containsPostgres(bunstoretest.Dialects(t)) {
		t.Skip("set " + bunstoretest.EnvDatabaseURL + " to run on Postgres")
	}
	// What a session gets from the server alone, without our settings.
	raw, err := sql.Open("pgx", bunstoretest.DSN(t, bunstore.DialectPostgres))
	require.NoError(t, err)
	defer raw.Close()
	serverStatement := show(t, raw, "statement_timeout")
	serverIdle := show(t, raw, "idle_in_transaction_session_timeout")

	for _, tc := range []struct {
		name                    string
		params                  []string
		opts                    *bunstore.Options
		wantStatement, wantIdle string
	}{
		{"defaults", nil, nil, "3s", "30s"},
		{"options", nil, &bunstore.Options{StatementTimeout: 1500 * time.Millisecond, IdleInTransactionTimeout: time.Minute}, "1500ms", "1min"},
		{"negative options leave the server's", nil, &bunstore.Options{StatementTimeout: -1, IdleInTransactionTimeout: -1}, serverStatement, serverIdle},
		{"dsn parameters win", []string{"statement_timeout", "7000", "idle_in_transaction_session_timeout", "0"}, &bunstore.Options{StatementTimeout: time.Second}, "7s", "0"},
		{"dsn options win", []string{"options", "-cstatement_timeout=6000"}, nil, "6s", "30s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dsn := withParams(t, bunstoretest.DSN(t, bunstore.DialectPostgres), tc.params...)
			db, err := bunstore.Open(context.Background(), dsn, tc.opts)
			require.NoError(t, err)
			defer db.Close()
			require.Equal(t, tc.wantStatement, show(t, db.SQLDB(), "statement_timeout"))
			require.Equal(t, tc.wantIdle, show(t, db.SQLDB(), "idle_in_transaction_session_timeout"))
		})
	}

	t.Run("maintenance runs without our timeouts, with the dsn's", func(t *testing.T) {
		t.Parallel()
		db, err := bunstore.Open(context.Background(), bunstoretest.DSN(t, bunstore.DialectPostgres), nil)
		require.NoError(t, err)
		defer db.Close()
		require.NoError(t, db.Maintenance(context.Background(), func(ctx context.Context, sqldb *sql.DB) error {
			require.NotSame(t, db.SQLDB(), sqldb)
			require.Equal(t, 2, sqldb.Stats().MaxOpenConnections)
			require.Equal(t, serverStatement, show(t, sqldb, "statement_timeout"))
			require.Equal(t, serverIdle, show(t, sqldb, "idle_in_transaction_session_timeout"))
			return nil
		}))

		dsn := withParams(t, bunstoretest.DSN(t, bunstore.DialectPostgres), "statement_timeout", "9000")
		db2, err := bunstore.Open(context.Background(), dsn, nil)
		require.NoError(t, err)
		defer db2.Close()
		require.NoError(t, db2.Maintenance(context.Background(), func(ctx context.Context, sqldb *sql.DB) error {
			require.Equal(t, "9s", show(t, sqldb, "statement_timeout"))
			return nil
		}))
	})
}

func TestTimeoutsSQLite(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		opts *bunstore.Options
		want string
	}{
		{"default", nil, "3000"},
		{"option", &bunstore.Options{BusyTimeout: 500 * time.Millisecond}, "500"},
		{"negative: no wait", &bunstore.Options{BusyTimeout: -1}, "0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db, err := bunstore.Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "s.db"), tc.opts)
			require.NoError(t, err)
			defer db.Close()
			var got string
			require.NoError(t, db.SQLDB().QueryRowContext(context.Background(), "PRAGMA busy_timeout").Scan(&got))
			require.Equal(t, tc.want, got)
			require.NoError(t, db.Maintenance(context.Background(), func(ctx context.Context, sqldb *sql.DB) error {
				require.Same(t, db.SQLDB(), sqldb, "SQLite has one connection, and no statement timeouts")
				return nil
			}))
		})
	}
}
