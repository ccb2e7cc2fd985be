package bunstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/sendoka/sendoka/sendoka"
)

// conflict turns a unique violation into CodeConflict and leaves any other error alone.
func conflict(err error, what string) error {
	if err == nil || !isUniqueViolation(err) {
		return err
	}
	return &sendoka.Error{Code: sendoka.CodeConflict, Message: what + " already exists", Err: err}
}

func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "23505" // unique_violation
	}
	var liteErr *sqlite.Error
	if errors.As(err, &liteErr) {
		// modernc turns on extended result codes, which tell unique from other constraints.
		switch liteErr.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return true
		}
	}
	return false
}

// unavailableMessage is the Message of the CodeUnavailable errors the store returns.
const unavailableMessage = "database unavailable; retry"

// The RetryAfterSeconds of the store's CodeUnavailable errors.
const (
	// retryBusy: the database answered that it is busy (a lock, a statement or connection
	// limit), or did not answer within the caller's deadline.
	retryBusy = 1
	// retryDown: the database cannot be reached, dropped the connection, or is shutting
	// down or starting up.
	retryDown = 5
)

// classify replaces *err with unavailable(ctx, *err). InTx and every read of the Store on DB
// defer it, so no raw outage leaves the store (storetest's DeadlinePassed checks each
// method); Ping and Migrate, which are not the Store's, return their errors as they are.
func classify(ctx context.Context, err *error) {
	*err = unavailable(ctx, *err)
}

// unavailable returns err as a *sendoka.Error with CodeUnavailable when it says that the
// database cannot be reached or did not answer in time, and err itself otherwise: nil, an
// error the database answered with (a constraint, a syntax error), an *sendoka.Error of a
// code other than CodeInternal, or any error once ctx was cancelled by its caller (a client
// that went away did not meet an outage). ctx is the context of the failed call; nil is
// treated as one that was not cancelled.
//
// Outages are: ctx's deadline passing during the call; a connection refused, reset or
// cut (EOF); a failed pgx connect; Postgres SQLSTATE class 08 (connection exception),
// 57P01-57P03 (shutdown, crash, starting up), class 53 (insufficient resources, too many
// connections, disk full), 57014 (statement_timeout) and 55P03 (lock_timeout); SQLite's
// SQLITE_BUSY and SQLITE_LOCKED ("database is locked") and SQLITE_FULL ("database or disk
// is full").
func unavailable(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if ctx != nil && errors.Is(ctx.Err(), context.Canceled) {
		return err
	}
	var e *sendoka.Error
	if errors.As(err, &e) && e.Code != sendoka.CodeInternal {
		return err
	}
	retry, ok := unavailableRetry(err)
	if !ok {
		return err
	}
	return &sendoka.Error{Code: sendoka.CodeUnavailable, Message: unavailableMessage, RetryAfterSeconds: retry, Err: err}
}

// unavailableRetry tells whether err is an outage (see unavailable), and its retry hint.
func unavailableRetry(err error) (int, bool) {
	var connectErr *pgconn.ConnectError
	if errors.As(err, &connectErr) {
		return retryDown, true // whatever failed (dial, TLS, a deadline), there is no connection
	}
	if errors.Is(err, context.DeadlineExceeded) || pgconn.Timeout(err) {
		return retryBusy, true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		// The server answered: only these answers say that it cannot serve us now.
		switch code := pgErr.Code; {
		case strings.HasPrefix(code, "08"), code == "57P01", code == "57P02", code == "57P03":
			return retryDown, true
		case strings.HasPrefix(code, "53"), code == "57014", code == "55P03":
			return retryBusy, true
		}
		return 0, false
	}
	var liteErr *sqlite.Error
	if errors.As(err, &liteErr) {
		// The low byte is the primary code: SQLITE_BUSY_SNAPSHOT and the like are busy too.
		switch liteErr.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			return retryBusy, true
		case sqlite3.SQLITE_FULL:
			// The disk (or max_page_count) is full: nothing can be written until space
			// returns, which the database does not tell; the write did not happen.
			return retryDown, true
		}
		return 0, false
	}
	var netErr net.Error
	switch {
	case errors.As(err, &netErr),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, driver.ErrBadConn), errors.Is(err, sql.ErrConnDone):
		return retryDown, true
	}
	// A driver above us (River's, for one) may have flattened a SQLite error into text.
	msg := err.Error()
	if strings.Contains(msg, "database is locked") || strings.Contains(msg, "SQLITE_BUSY") {
		return retryBusy, true
	}
	if strings.Contains(msg, "database or disk is full") {
		return retryDown, true
	}
	return 0, false
}
