package sendoka

import (
	"encoding/base64"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestCursorRoundTrip(t *testing.T) {
	t.Parallel()
	c := Cursor{CreatedAt: time.Date(2026, 4, 22, 10, 14, 22, 113456000, time.UTC), ID: "msg_01HN"}
	s := EncodeCursor(c)
	raw, err := base64.RawURLEncoding.DecodeString(s)
	require.NoError(t, err)
	require.Equal(t, "2026-04-22T10:14:22.113456Z|msg_01HN", string(raw), "documented form: base64url of {created_at}|{id}")
	got, err := DecodeCursor(s)
	require.NoError(t, err)
	require.Equal(t, c, *got)
	got, err = DecodeCursor(base64.URLEncoding.EncodeToString(raw)) // padded is accepted too
	require.NoError(t, err)
	require.Equal(t, c, *got)
}

func TestDecodeCursorRejects(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "!!", base64.RawURLEncoding.EncodeToString([]byte("nopipe")),
		base64.RawURLEncoding.EncodeToString([]byte("yesterday|msg_1")),
		base64.RawURLEncoding.EncodeToString([]byte("2026-04-22T10:14:22Z|"))} {
		_, err := DecodeCursor(s)
		require.Error(t, err, s)
	}
}

// TestDecodeCursorTimeRange: a cursor dated outside 1970..9999 (in UTC) is malformed, never a
// time the database is asked to compare with (Postgres refuses year 0).
func TestDecodeCursorTimeRange(t *testing.T) {
	t.Parallel()
	cursor := func(ts string) string { return base64.RawURLEncoding.EncodeToString([]byte(ts + "|msg_1")) }
	for _, ts := range []string{
		"0000-01-01T00:00:00Z",
		"0001-01-01T00:00:00Z",
		"0001-01-01T00:30:00+01:00", // year 0 once in UTC
		"1969-12-31T23:59:59.999999999Z",
		"1970-01-01T00:30:00+01:00", // 1969 in UTC
		"9999-12-31T23:59:59-01:00", // year 10000 in UTC
	} {
		_, err := DecodeCursor(cursor(ts))
		require.Error(t, err, ts)
		require.Equal(t, CodeValidation, ErrorCode(err), ts)
	}
	for ts, want := range map[string]time.Time{
		"1970-01-01T00:00:00Z":           time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC),
		"1970-01-01T01:00:00+01:00":      time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC),
		"9999-12-31T23:59:59.999999999Z": time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
	} {
		c, err := DecodeCursor(cursor(ts))
		require.NoError(t, err, ts)
		require.Equal(t, want, c.CreatedAt, ts)
		again, err := DecodeCursor(EncodeCursor(*c))
		require.NoError(t, err, "a cursor in range encodes to one that decodes: %s", ts)
		require.Equal(t, *c, *again)
	}
}

func FuzzDecodeCursor(f *testing.F) {
	f.Add(EncodeCursor(Cursor{CreatedAt: time.Unix(1713820800, 0), ID: "msg_1"}))
	f.Add("eyIyMDI2")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := DecodeCursor(s)
		if err != nil {
			return
		}
		require.True(t, validCursorID(c.ID), "%q", c.ID)
		again, err := DecodeCursor(EncodeCursor(*c))
		require.NoError(t, err)
		require.True(t, c.CreatedAt.Equal(again.CreatedAt))
		require.Equal(t, c.ID, again.ID)
	})
}
