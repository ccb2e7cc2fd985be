package bunstore

import (
	"database/sql/driver"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun/dialect/sqlitedialect"
)

// TestRowColumns holds each hand-written column list and values() to the Bun model: every
// column of the struct is listed once, and values() puts each field's value at its column.
func TestRowColumns(t *testing.T) {
	t.Parallel()
	tables := sqlitedialect.New().Tables()
	cases := []struct {
		name string
		row  any
		cols []string
	}{
		{"messages", &messageRow{}, messageColumns},
		{"message_tags", &messageTagRow{}, messageTagColumns},
		{"events", &eventRow{}, eventColumns},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rv := reflect.ValueOf(tc.row).Elem()
			table := tables.Get(rv.Type())
			require.Equal(t, tc.name, table.Name)
			// A distinct value in every field.
			for i, f := range table.Fields {
				fv := f.Value(rv)
				switch fv.Kind() {
				case reflect.String:
					fv.SetString(fmt.Sprintf("v%d", i))
				case reflect.Int, reflect.Int64:
					fv.SetInt(int64(i + 1))
				case reflect.Struct: // timestamp
					fv.Set(reflect.ValueOf(ts(time.Unix(int64(i)*1000, 0).UTC())))
				default:
					t.Fatalf("field %s: kind %s not covered", f.Name, fv.Kind())
				}
			}
			var values []any
			switch r := tc.row.(type) {
			case *messageRow:
				values = r.values()
			case *messageTagRow:
				values = r.values()
			case *eventRow:
				values = r.values()
			}
			require.Len(t, tc.cols, len(table.Fields), "one column per field")
			require.Len(t, values, len(tc.cols), "one value per column")
			for _, f := range table.Fields {
				i := indexOf(tc.cols, f.Name)
				require.GreaterOrEqual(t, i, 0, "column %s is listed", f.Name)
				got := values[i]
				if v, ok := got.(nullString); ok {
					got = string(v)
				}
				require.Equal(t, f.Value(rv).Interface(), got, "value of column %s", f.Name)
			}
			// scanDest points at the same fields, in the same order.
			if r, ok := tc.row.(*messageRow); ok {
				dest := r.scanDest()
				require.Len(t, dest, len(tc.cols))
				for _, f := range table.Fields {
					i := indexOf(tc.cols, f.Name)
					require.Equal(t, f.Value(rv).Addr().UnsafePointer(), reflect.ValueOf(dest[i]).UnsafePointer(), "scan target of column %s", f.Name)
				}
				vals := r.deliveryValues()
				require.Len(t, vals, len(deliveryColumns))
				for i, col := range deliveryColumns {
					require.Equal(t, values[indexOf(tc.cols, col)], vals[i], "delivery value of %s", col)
				}
			}
		})
	}
}

// TestSuppressionColumns holds suppressionColumns and scanDest to the Bun model.
func TestSuppressionColumns(t *testing.T) {
	t.Parallel()
	var r suppressionRow
	rv := reflect.ValueOf(&r).Elem()
	table := sqlitedialect.New().Tables().Get(rv.Type())
	require.Len(t, suppressionColumns, len(table.Fields))
	dest := r.scanDest()
	require.Len(t, dest, len(suppressionColumns))
	for _, f := range table.Fields {
		i := indexOf(suppressionColumns, f.Name)
		require.GreaterOrEqual(t, i, 0, "column %s is listed", f.Name)
		require.Equal(t, f.Value(rv).Addr().UnsafePointer(), reflect.ValueOf(dest[i]).UnsafePointer(), "scan target of column %s", f.Name)
	}
}

func TestBindVars(t *testing.T) {
	t.Parallel()
	require.Equal(t, "a = $1 AND b IN ($2, $3)", bindVars(true, "a = ? AND b IN ("+placeholders(2)+")"))
	require.Equal(t, "a = ? AND b IN (?, ?)", bindVars(false, "a = ? AND b IN ("+placeholders(2)+")"))
}

func indexOf(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}

func TestNullString(t *testing.T) {
	t.Parallel()
	v, err := nullString("").Value()
	require.NoError(t, err)
	require.Nil(t, v, "empty is NULL")
	v, err = nullString("x").Value()
	require.NoError(t, err)
	require.Equal(t, driver.Value("x"), v)
}

func TestInsertSQL(t *testing.T) {
	t.Parallel()
	require.Equal(t, "INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4)", insertSQL("t", []string{"a", "b"}, 2, true))
	require.Equal(t, "INSERT INTO t (a, b) VALUES (?, ?)", insertSQL("t", []string{"a", "b"}, 1, false))
}

// TestStatementSizes: statements stay under the parameter and byte limits, and a row larger
// than the byte limit still gets a statement of its own.
func TestStatementSizes(t *testing.T) {
	t.Parallel()
	row := func(n int) []any { return []any{"id", strings.Repeat("x", n)} }
	var small [][]any
	for range 20000 {
		small = append(small, row(1))
	}
	require.Equal(t, []int{15000, 5000}, statementSizes(small, 2), "at most maxParams values each")

	big := [][]any{row(400 << 10), row(400 << 10), row(400 << 10), row(2 << 20), row(10)}
	require.Equal(t, []int{2, 1, 1, 1}, statementSizes(big, 2), "at most 1 MiB of values, an oversized row alone")
	require.Empty(t, statementSizes(nil, 2))
}
