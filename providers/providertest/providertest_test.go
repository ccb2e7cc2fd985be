package providertest

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// The helpers below decide what counts as "arrived intact"; a lax one would let every
// provider pass.

func TestNormalizeText(t *testing.T) {
	t.Parallel()
	cases := []struct{ in, want string }{
		{"a\r\nb\r\n", "a\nb"},
		{"a\nb\n\n", "a\nb"},
		{"a\rb", "a\rb"}, // a lone CR is content, not a line end
		{"  a  ", "  a  "},
		{"", ""},
	}
	for _, c := range cases {
		require.Equal(t, c.want, normalizeText(c.in), "%q", c.in)
	}
}

func TestAddressKey(t *testing.T) {
	t.Parallel()
	cases := []struct{ a, b string }{
		{"a@Example.COM", "a@example.com"},
		{`"Zoë" <z@example.com>`, "=?utf-8?q?Zo=C3=AB?= <z@example.com>"},
		{`"Carol \"CJ\" Jones" <c@example.net>`, `"Carol \"CJ\" Jones" <c@EXAMPLE.net>`},
	}
	for _, c := range cases {
		require.Equal(t, addressKey(t, c.a), addressKey(t, c.b))
	}
	// Local parts are case-sensitive, and display names count.
	require.NotEqual(t, addressKey(t, "A@example.com"), addressKey(t, "a@example.com"))
	require.NotEqual(t, addressKey(t, `"Ann" <a@example.com>`), addressKey(t, "a@example.com"))
	require.Equal(t, "a@example.com", bareAddress(`"Ann" <a@EXAMPLE.com>`))
}

func TestAttachmentBytes(t *testing.T) {
	t.Parallel()
	var seen [256]bool
	for _, c := range attachmentBytes("x") {
		seen[c] = true
	}
	for i, ok := range seen {
		require.True(t, ok, "byte %#x missing: a lossy transfer encoding could go unnoticed", i)
	}
}
