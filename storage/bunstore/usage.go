package bunstore

import (
	"context"
	"time"

	"github.com/sendoka/sendoka/sendoka"
)

var _ sendoka.UsageStore = (*DB)(nil)

// CountUsage counts messages in scope created in [from, to) by group, channel and status.
func (db *DB) CountUsage(ctx context.Context, scope sendoka.Scope, from, to time.Time, groupBy string) (_ []sendoka.UsageCount, err error) {
	defer classify(ctx, &err)
	pg := db.dialect == DialectPostgres
	group, join := "''", ""
	switch groupBy {
	case "day":
		group = "substr(m.created_at, 1, 10)" // SQLite keeps fixed-width UTC text
		if pg {
			group = "to_char(m.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
		}
	case "tag":
		group, join = "t.tag", " JOIN message_tags AS t ON t.message_id = m.id"
	case "tenant":
		group = "COALESCE(m.tenant_id, '')"
	}
	where, args := usageScope(scope, "m")
	groupCols := "m.channel, m.status"
	if groupBy != "" {
		groupCols = group + ", " + groupCols
	}
	q := "SELECT " + group + " AS g, m.channel, m.status, COUNT(*) FROM messages AS m" + join +
		" WHERE " + where + " AND m.created_at >= ? AND m.created_at < ? GROUP BY " + groupCols
	args = append(args, ts(from), ts(to))
	rows, err := db.bun.DB.QueryContext(ctx, bindVars(pg, q), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []sendoka.UsageCount
	for rows.Next() {
		var c sendoka.UsageCount
		var ch, st string
		if err := rows.Scan(&c.Group, &ch, &st, &c.Count); err != nil {
			return nil, err
		}
		c.Channel, c.Status = sendoka.Channel(ch), sendoka.Status(st)
		out = append(out, c)
	}
	return out, rows.Err()
}

// CountComplaints counts complaint suppressions in scope created in [from, to).
func (db *DB) CountComplaints(ctx context.Context, scope sendoka.Scope, from, to time.Time) (_ map[sendoka.Channel]int64, err error) {
	defer classify(ctx, &err)
	where, args := usageScope(sendoka.Scope{OrgID: scope.OrgID, TenantID: scope.TenantID}, "su")
	q := "SELECT su.channel, COUNT(*) FROM suppressions AS su WHERE " + where +
		" AND su.reason = ? AND su.created_at >= ? AND su.created_at < ? GROUP BY su.channel"
	args = append(args, string(sendoka.SuppressionComplaint), ts(from), ts(to))
	rows, err := db.bun.DB.QueryContext(ctx, bindVars(db.dialect == DialectPostgres, q), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[sendoka.Channel]int64{}
	for rows.Next() {
		var ch string
		var n int64
		if err := rows.Scan(&ch, &n); err != nil {
			return nil, err
		}
		out[sendoka.Channel(ch)] = n
	}
	return out, rows.Err()
}

// usageScope is the WHERE of a scope on alias: org, tenant when set, mode when set.
func usageScope(scope sendoka.Scope, alias string) (string, []any) {
	where, args := alias+".org_id = ?", []any{scope.OrgID}
	if scope.TenantID != "" {
		where += " AND " + alias + ".tenant_id = ?"
		args = append(args, scope.TenantID)
	}
	if scope.Mode != "" {
		where += " AND " + alias + ".mode = ?"
		args = append(args, string(scope.Mode))
	}
	return where, args
}
