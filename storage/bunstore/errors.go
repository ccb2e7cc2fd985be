package bunstore

import (
	"errors"

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
