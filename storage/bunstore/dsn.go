package bunstore

import (
	"errors"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// sqlitePragmas are set on every SQLite connection unless the dsn sets the same pragma.
// WAL lets readers run beside the writer; busy_timeout waits for a lock instead of failing
// (another process may hold it), but no longer than a request can wait (Options.BusyTimeout;
// none when it is negative); foreign_keys is off by default in SQLite.
func sqlitePragmas(busy time.Duration) []struct{ name, value string } {
	return []struct{ name, value string }{
		{"busy_timeout", strconv.FormatInt(max(busy.Milliseconds(), 0), 10)},
		{"journal_mode", "WAL"},
		{"foreign_keys", "1"},
	}
}

// parseDSN tells the dialect of dsn and returns what the database/sql driver gets; busy is
// SQLite's busy timeout.
func parseDSN(dsn string, busy time.Duration) (Dialect, string, error) {
	switch {
	case dsn == "":
		return "", "", errors.New("bunstore: empty dsn")
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		return DialectPostgres, dsn, nil
	}
	path := dsn
	if rest, ok := strings.CutPrefix(dsn, "sqlite://"); ok {
		path = rest
	} else if rest, ok := strings.CutPrefix(dsn, "sqlite:"); ok {
		path = rest
	}
	// modernc treats what precedes "?" as a plain file name unless it starts with "file:",
	// so a plain path needs no URI escaping.
	name, query, _ := strings.Cut(path, "?")
	if name == "" {
		return "", "", errors.New("bunstore: sqlite dsn has no path")
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return "", "", errors.New("bunstore: sqlite dsn: bad query: " + err.Error())
	}
	for _, p := range sqlitePragmas(busy) {
		if !hasPragma(q, p.name) {
			q.Add("_pragma", p.name+"("+p.value+")")
		}
	}
	// BEGIN IMMEDIATE takes the write lock when a transaction starts, where busy_timeout
	// waits for it. A deferred BEGIN upgrades later, and a failed upgrade in WAL mode
	// (SQLITE_BUSY_SNAPSHOT, another process wrote first) fails at once, busy_timeout or not.
	if !q.Has("_txlock") {
		q.Set("_txlock", "immediate")
	}
	return DialectSQLite, name + "?" + q.Encode(), nil
}

// hasPragma reports whether the query sets the pragma, through _pragma or modernc's
// shorthand parameters (_busy_timeout, _journal_mode, _foreign_keys and their aliases).
func hasPragma(q url.Values, name string) bool {
	for _, v := range q["_pragma"] {
		v = strings.ToLower(strings.TrimSpace(v))
		if strings.HasPrefix(v, name+"(") || strings.HasPrefix(v, name+"=") || strings.HasPrefix(v, name+" ") {
			return true
		}
	}
	aliases := map[string][]string{
		"busy_timeout": {"_busy_timeout", "_timeout"},
		"journal_mode": {"_journal_mode", "_journal"},
		"foreign_keys": {"_foreign_keys", "_fk"},
	}
	for _, k := range aliases[name] {
		if q.Has(k) {
			return true
		}
	}
	return false
}
