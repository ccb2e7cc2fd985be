package bunstore

// Unavailable exposes the store's outage classification to the external tests.
var Unavailable = unavailable

// ObserveInserts makes db report every multi-row INSERT of insertValuesOn to fn.
func ObserveInserts(db *DB, fn func(query string, args []any)) { db.observeInsert = fn }
