package sendokatest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/sendoka/sendoka/storage/bunstore"
)

// freshSchema creates a schema with a random name on the Postgres server of base and returns
// a dsn whose search_path is that schema, so Sendoka's and River's tables land in it, and a
// function that drops it.
func freshSchema(ctx context.Context, base string) (dsn string, drop func(context.Context) error, err error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", nil, fmt.Errorf("sendokatest: database url: %w", err)
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	schema := "sendokatest_" + hex.EncodeToString(b[:])

	// DROP SCHEMA ... CASCADE over every table may take longer than a request's statement
	// timeout on a busy server: the admin connection has none.
	admin, err := bunstore.Open(ctx, base, &bunstore.Options{MaxOpenConns: 1, StatementTimeout: -1})
	if err != nil {
		return "", nil, fmt.Errorf("sendokatest: %w", err)
	}
	// schema is our own hex name: safe to splice into the statement.
	if _, err := admin.SQLDB().ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		return "", nil, errors.Join(fmt.Errorf("sendokatest: create schema: %w", err), admin.Close())
	}
	drop = func(ctx context.Context) error {
		// Dropping must happen even when the caller's context has ended.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_, err := admin.SQLDB().ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE")
		if err != nil {
			err = fmt.Errorf("sendokatest: drop schema %s: %w", schema, err)
		}
		return errors.Join(err, admin.Close())
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), drop, nil
}
