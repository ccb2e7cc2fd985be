package bunstore_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/sendoka"
	"github.com/sendoka/sendoka/storage/bunstore"
)

// TestUnavailable pins the classification of every error class: an outage is
// CodeUnavailable with its retry hint, anything else comes back as it went in.
func TestUnavailable(t *testing.T) {
	t.Parallel()
	const busy, down = 1, 5
	pg := func(code string) error { return &pgconn.PgError{Severity: "ERROR", Code: code, Message: "x"} }
	for _, tc := range []struct {
		name  string
		err   error
		retry int // 0: not an outage, err is returned unchanged
	}{
		{"deadline", fmt.Errorf("bunstore: begin: %w", context.DeadlineExceeded), busy},
		{"pg connection failure 08006", pg("08006"), down},
		{"pg cannot connect 08001", pg("08001"), down},
		{"pg admin shutdown 57P01", pg("57P01"), down},
		{"pg crash shutdown 57P02", pg("57P02"), down},
		{"pg starting up 57P03", pg("57P03"), down},
		{"pg too many connections 53300", pg("53300"), busy},
		{"pg out of memory 53200", pg("53200"), busy},
		{"pg statement_timeout 57014", pg("57014"), busy},
		{"pg lock_timeout 55P03", pg("55P03"), busy},
		{"pg statement_timeout inside Internal", sendoka.Internal(fmt.Errorf("insert: %w", pg("57014"))), busy},
		{"connection refused", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, down},
		{"connection reset", fmt.Errorf("read: %w", syscall.ECONNRESET), down},
		{"broken pipe", fmt.Errorf("write: %w", syscall.EPIPE), down},
		{"unexpected EOF", fmt.Errorf("receive message failed: %w", io.ErrUnexpectedEOF), down},
		{"EOF", fmt.Errorf("read: %w", io.EOF), down},
		{"bad conn", driver.ErrBadConn, down},
		{"conn done", sql.ErrConnDone, down},
		{"sqlite locked, as text", errors.New("riversqlite: database is locked (5) (SQLITE_BUSY)"), busy},
		{"sqlite full, as text", errors.New("Error committing transaction: database or disk is full (13)"), down},

		{"pg unique violation", pg("23505"), 0},
		{"pg syntax error", pg("42601"), 0},
		{"pg serialization failure", pg("40001"), 0},
		{"no rows", sql.ErrNoRows, 0},
		{"not found", sendoka.NotFound("message"), 0},
		{"conflict wrapping a timeout", &sendoka.Error{Code: sendoka.CodeConflict, Message: "x", Err: pg("57014")}, 0},
		{"internal of a plain error", sendoka.Internal(errors.New("boom")), 0},
		{"plain error", errors.New("boom"), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := bunstore.Unavailable(context.Background(), tc.err)
			if tc.retry == 0 {
				require.Same(t, tc.err, got)
				return
			}
			requireUnavailable(t, got, tc.retry)
			require.ErrorIs(t, got, tc.err, "the cause stays in the chain")
		})
	}

	t.Run("nil", func(t *testing.T) {
		t.Parallel()
		require.NoError(t, bunstore.Unavailable(context.Background(), nil))
		require.NoError(t, bunstore.Unavailable(nil, nil))
	})
	t.Run("caller cancelled", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		for _, err := range []error{context.Canceled, pg("57014"), driver.ErrBadConn} {
			require.Same(t, err, bunstore.Unavailable(ctx, err), "a client that went away is not an outage")
		}
	})
	t.Run("caller deadline", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithTimeout(context.Background(), 0)
		defer cancel()
		requireUnavailable(t, bunstore.Unavailable(ctx, pg("57014")), busy)
	})
}

// requireUnavailable checks err is the store's CodeUnavailable with that retry hint.
func requireUnavailable(t *testing.T, err error, retry int) {
	t.Helper()
	var e *sendoka.Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, sendoka.CodeUnavailable, e.Code, "error: %v", err)
	require.Equal(t, "database unavailable; retry", e.Message)
	require.Equal(t, retry, e.RetryAfterSeconds, "error: %v", err)
	require.Same(t, e, sendoka.AsError(err), "the core keeps it as it is")
}
