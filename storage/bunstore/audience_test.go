package bunstore_test

import (
	"context"
	"database/sql/driver"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/sendoka"
	"github.com/sendoka/sendoka/storage/bunstore"
	"github.com/sendoka/sendoka/storage/bunstore/bunstoretest"
)

// TestContactUploadStatementsUnderCap: a 10,000-contact upload whose data objects are
// large (about 1 KiB each, 10 MB in all) is written in several statements, each of them,
// SQL text and bound values together, under the 1 MB statement cap (Neon's).
func TestContactUploadStatementsUnderCap(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		ctx := context.Background()
		now := time.Now().UTC().Truncate(time.Microsecond)
		a := &sendoka.Audience{ID: sendoka.NewID(sendoka.PrefixAudience, now), OrgID: "org_cap", Name: "cap", CreatedAt: now, UpdatedAt: now}
		require.NoError(t, db.InTx(ctx, func(ctx context.Context, tx sendoka.Tx) error { return tx.InsertAudience(ctx, a) }))

		var mu sync.Mutex
		var sizes []int
		bunstore.ObserveInserts(db, func(query string, args []any) {
			if !strings.Contains(query, "audience_contacts") {
				return
			}
			n := len(query)
			for _, arg := range args {
				n += argBytes(t, arg)
			}
			mu.Lock()
			sizes = append(sizes, n)
			mu.Unlock()
		})
		cs := make([]*sendoka.Contact, sendoka.MaxContactBatch)
		total := 0
		for i := range cs {
			cs[i] = &sendoka.Contact{ID: sendoka.NewID(sendoka.PrefixContact, now), AudienceID: a.ID,
				Email: fmt.Sprintf("reader%05d@example.com", i), FirstName: "Reader", LastName: fmt.Sprint(i),
				Data: map[string]any{"plan": "pro", "bio": strings.Repeat("lorem ipsum ", 85)}, CreatedAt: now, UpdatedAt: now}
			total += 1000
		}
		var created []bool
		require.NoError(t, db.InTx(ctx, func(ctx context.Context, tx sendoka.Tx) error {
			var err error
			_, created, err = tx.UpsertContacts(ctx, a.ID, cs)
			return err
		}))
		require.Len(t, created, len(cs))
		require.Greater(t, len(sizes), total/1_000_000, "the upload needs several statements")
		for i, n := range sizes {
			require.Less(t, n, 1_000_000, "statement %d of %d is %d bytes", i, len(sizes), n)
		}
		got, err := db.GetAudience(ctx, sendoka.Scope{OrgID: "org_cap"}, a.ID)
		require.NoError(t, err)
		require.Equal(t, len(cs), got.Contacts)
	})
}

// argBytes is the size of a bound value as the database receives it.
func argBytes(t *testing.T, v any) int {
	if vr, ok := v.(driver.Valuer); ok {
		var err error
		v, err = vr.Value()
		require.NoError(t, err)
	}
	switch v := v.(type) {
	case nil:
		return 0
	case string:
		return len(v)
	case []byte:
		return len(v)
	case time.Time:
		return len(v.Format(time.RFC3339Nano))
	}
	return 8
}
