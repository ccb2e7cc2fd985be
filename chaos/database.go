package main

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the clusters' reads
	_ "modernc.org/sqlite"             // scenario 8's reads of the server's file
)

// database reads what the servers stored, for the checks: the suite counts deliveries at
// its recorders, and reads each message's status where Sendoka keeps it.
type database struct {
	db *sql.DB
}

// openPostgres opens the cluster's database; cl closes it.
func openPostgres(e *env, url string) (*database, error) {
	db, err := sql.Open("pgx", url)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(2)
	e.cl.add(func() { db.Close() })
	return &database{db: db}, nil
}

// openSQLite opens a server's SQLite file read-only (WAL: it never blocks the server).
func openSQLite(e *env, path string) (*database, error) {
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	e.cl.add(func() { db.Close() })
	return &database{db: db}, nil
}

// messageRow is one stored message.
type messageRow struct {
	ID, Recipient, Status, Outcome, Provider string
	Attempts                                 int
}

// messages returns the live email messages.
func (d *database) messages(ctx context.Context) ([]messageRow, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT id, recipient, status, outcome, provider, attempts
		FROM messages WHERE channel = 'email' AND mode = 'live' ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []messageRow
	for rows.Next() {
		var m messageRow
		if err := rows.Scan(&m.ID, &m.Recipient, &m.Status, &m.Outcome, &m.Provider, &m.Attempts); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// pending counts the live messages still queued or scheduled.
func (d *database) pending(ctx context.Context) (int, error) {
	var n int
	err := d.db.QueryRowContext(ctx, `SELECT count(*) FROM messages
		WHERE channel = 'email' AND mode = 'live' AND status IN ('queued', 'scheduled')`).Scan(&n)
	return n, err
}

// waitSettled polls until no live message is queued or scheduled, for at most limit. A
// database that does not answer (stopped on purpose, or a file being written) is asked
// again.
func (d *database) waitSettled(e *env, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	var n int
	var err error
	for {
		ctx, cancel := context.WithTimeout(e.ctx, 10*time.Second)
		n, err = d.pending(ctx)
		cancel()
		if err == nil && n == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			if err != nil {
				return fmt.Errorf("messages not settled after %s: %v", limit, err)
			}
			return fmt.Errorf("%d messages still queued %s after the load", n, limit)
		}
		if err := e.sleep(250 * time.Millisecond); err != nil {
			return err
		}
	}
}
