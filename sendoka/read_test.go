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

func FuzzDecodeCursor(f *testing.F) {
	f.Add(EncodeCursor(Cursor{CreatedAt: time.Unix(1713820800, 0), ID: "msg_1"}))
	f.Add("eyIyMDI2")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := DecodeCursor(s)
		if err != nil {
			return
		}
		again, err := DecodeCursor(EncodeCursor(*c))
		require.NoError(t, err)
		require.True(t, c.CreatedAt.Equal(again.CreatedAt))
		require.Equal(t, c.ID, again.ID)
	})
}
