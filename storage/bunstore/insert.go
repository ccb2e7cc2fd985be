package bunstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"strconv"
	"strings"

	"github.com/uptrace/bun/dialect"
)

// Limits of one multi-row INSERT with bound parameters.
const (
	// maxParams stays under SQLite's default of 32,766 variables per statement (Postgres
	// allows 65,535).
	maxParams = 30000
	// maxStatementBytes bounds one statement: its SQL text and its bound parameters
	// together stay under 1 MB (Neon's cap on a statement). A row larger than this on its
	// own still goes in a statement of its own: neither database limits a parameter to it.
	maxStatementBytes = 1_000_000
	// placeholderBytes is the SQL text a value adds: its placeholder ("$12345") and ", ".
	placeholderBytes = 8
	// statementOverhead is room for the rest of the text: INSERT INTO, the columns, an ON
	// CONFLICT clause.
	statementOverhead = 1 << 10
)

// insertValues inserts rows (each a value per column of cols) into table with multi-row
// INSERT statements whose values are bound parameters. Bun's own inserts inline every value
// into the SQL text: a 200 KB body becomes 200 KB of SQL for the database to parse, and
// every statement text differs, so none can be prepared once and reused. Here the text
// depends only on the table, columns and row count.
//
// Values are driver values or driver.Valuers (a timestamp, a nullable string from nullStr).
func (t *Tx) insertValues(ctx context.Context, table string, cols []string, rows [][]any) error {
	return t.insertValuesOn(ctx, table, cols, rows, "")
}

// insertValuesOn is insertValues with a clause after the values, such as
// "ON CONFLICT (...) DO NOTHING" (which both databases understand).
func (t *Tx) insertValuesOn(ctx context.Context, table string, cols []string, rows [][]any, on string) error {
	pg := t.tx.Dialect().Name() == dialect.PG
	for _, n := range statementSizes(rows, len(cols)) {
		query := insertSQL(table, cols, n, pg)
		if on != "" {
			query += " " + on
		}
		args := make([]any, 0, n*len(cols))
		for _, r := range rows[:n] {
			args = append(args, r...)
		}
		if t.observeInsert != nil {
			t.observeInsert(query, args)
		}
		if _, err := t.tx.Tx.ExecContext(ctx, query, args...); err != nil {
			return err
		}
		rows = rows[n:]
	}
	return nil
}

// statementSizes splits rows into statements, giving the row count of each: at most
// maxParams values, and at most maxStatementBytes unless a single row is larger.
func statementSizes(rows [][]any, ncols int) []int {
	perStatement := max(1, maxParams/max(1, ncols))
	var sizes []int
	for len(rows) > 0 {
		n, size := 0, statementOverhead
		for n < len(rows) && n < perStatement {
			s := rowBytes(rows[n])
			if n > 0 && size+s > maxStatementBytes {
				break
			}
			size += s
			n++
		}
		sizes = append(sizes, n)
		rows = rows[n:]
	}
	return sizes
}

// insertSQL is "INSERT INTO table (cols) VALUES (...), (...)" with n rows of placeholders:
// $1, $2, ... on Postgres, ? on SQLite.
func insertSQL(table string, cols []string, n int, pg bool) string {
	var b strings.Builder
	b.WriteString("INSERT INTO ")
	b.WriteString(table)
	b.WriteString(" (")
	b.WriteString(strings.Join(cols, ", "))
	b.WriteString(") VALUES ")
	p := 0
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for j := range cols {
			if j > 0 {
				b.WriteString(", ")
			}
			p++
			if pg {
				b.WriteByte('$')
				b.WriteString(strconv.Itoa(p))
			} else {
				b.WriteByte('?')
			}
		}
		b.WriteByte(')')
	}
	return b.String()
}

// rowBytes estimates what a row adds to a statement: its values on the wire and their
// placeholders in the SQL text.
func rowBytes(row []any) int {
	n := 4 // "(", ")" and ", " around the row
	for _, v := range row {
		n += placeholderBytes
		switch v := v.(type) {
		case string:
			n += len(v)
		case []byte:
			n += len(v)
		case nullString:
			n += len(v)
		case timestamp:
			n += len("2006-01-02T15:04:05.000000Z")
		default:
			n += 8
		}
	}
	return n
}

// nullString is a string column whose empty value is stored as NULL (Bun's nullzero).
type nullString string

// Value implements driver.Valuer.
func (s nullString) Value() (driver.Value, error) {
	if s == "" {
		return nil, nil
	}
	return string(s), nil
}

// Scan implements sql.Scanner: NULL is "".
func (s *nullString) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*s = ""
	case string:
		*s = nullString(v)
	case []byte:
		*s = nullString(v)
	default:
		return fmt.Errorf("bunstore: cannot scan %T into a string", src)
	}
	return nil
}

// boundQuerier runs SQL with bound parameters: the store's *sql.DB or a transaction's
// *sql.Tx. Statements whose text does not change with their values are prepared once per
// connection (pgx's statement cache) instead of parsed and planned on every call, which is
// why the hot statements of delivery are written here rather than with Bun, which inlines
// values into the text.
type boundQuerier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// bindVars turns the ? placeholders of q into Postgres' $1, $2, ... (q holds no ? of its
// own: no literals, no JSON operators).
func bindVars(pg bool, q string) string {
	if !pg {
		return q
	}
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// placeholders returns "?, ?, ?" for n values.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}
