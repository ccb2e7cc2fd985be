package sendoka

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRewriteLinks(t *testing.T) {
	t.Parallel()
	src := `<!doctype html><html><head><style>a{color:red}</style><script>var s='<a href="https://in.script/">';</script></head>
<body><p>Ünïcode — <A HREF = "https://example.com/a?x=1&amp;y=2" class=btn>one</A>
<a href="mailto:x@example.com">mail</a> <a href="#top">top</a> <a href="/relative">rel</a>
<a href='HTTP://Example.com/b'>two</a><a href="https://example.com/u" data-sendoka-notrack>unsub</a>
<area href="http://example.com/map" alt=""><a name="no-href">x</a><a href="  https://example.com/c  ">three</a>
</body></html>`
	var got []string
	out := rewriteLinks(src, func(pos int, u string) string {
		got = append(got, fmt.Sprintf("%d %s", pos, u))
		return fmt.Sprintf("https://t.test/c/%d?a=1&b=2", pos)
	})
	require.Equal(t, []string{
		"0 https://example.com/a?x=1&y=2", // entities decoded: the stored URL is the real one
		"1 HTTP://Example.com/b",
		"2 http://example.com/map",
		"3 https://example.com/c",
	}, got)
	require.Contains(t, out, `<a href="https://t.test/c/0?a=1&amp;b=2" class="btn">one</A>`, "the new href is escaped")
	require.Contains(t, out, `<a href="https://t.test/c/1?a=1&amp;b=2">two</a>`)
	for _, kept := range []string{
		`<script>var s='<a href="https://in.script/">';</script>`, `<a href="mailto:x@example.com">mail</a>`,
		`<a href="#top">top</a>`, `<a href="/relative">rel</a>`, `<a href="https://example.com/u" data-sendoka-notrack>unsub</a>`,
		`<p>Ünïcode — `, `<a name="no-href">x</a>`,
	} {
		require.Contains(t, out, kept, "everything else is kept byte for byte")
	}

	require.Equal(t, "plain <b>text</b>", rewriteLinks("plain <b>text</b>", func(int, string) string { panic("no links") }))

	many := strings.Repeat(`<a href="https://example.com/">x</a>`, MaxTrackedLinks+5)
	n := 0
	rewriteLinks(many, func(int, string) string { n++; return "https://t.test/" })
	require.Equal(t, MaxTrackedLinks, n)
}

func TestAddPixel(t *testing.T) {
	t.Parallel()
	const u = "https://t.test/t/o/abc?x=1&y=2"
	img := `<img src="https://t.test/t/o/abc?x=1&amp;y=2" width="1" height="1"`
	out := addPixel("<html><body><p>hi</p></BODY></html>", u)
	require.True(t, strings.HasPrefix(out, "<html><body><p>hi</p>"+img), out)
	require.True(t, strings.HasSuffix(out, "</BODY></html>"))
	out = addPixel("<p>İstanbul</p>", u) // no body; İ changes length when lower-cased
	require.True(t, strings.HasPrefix(out, "<p>İstanbul</p>"+img), out)
}

func TestTrackingTokens(t *testing.T) {
	t.Parallel()
	key := []byte("0123456789abcdef0123456789abcdef")
	tok := makeToken(key, tokenClick, "msg_01JABCDEFGHJKMNPQRSTVWXYZ0", 137)
	kind, id, pos, ok := parseToken(key, tok)
	require.True(t, ok)
	require.Equal(t, byte(tokenClick), kind)
	require.Equal(t, "msg_01JABCDEFGHJKMNPQRSTVWXYZ0", id)
	require.Equal(t, 137, pos)
	require.NotContains(t, tok, "/")
	require.NotContains(t, tok, "+")

	_, _, _, ok = parseToken([]byte("another key"), tok)
	require.False(t, ok, "another key")
	for i := range tok {
		for _, c := range []byte{'A', 'b', '0', '_'} {
			if tok[i] == c {
				continue
			}
			tampered := tok[:i] + string(c) + tok[i+1:]
			_, _, _, ok := parseToken(key, tampered)
			require.False(t, ok, "tampered at %d", i)
		}
	}
	for _, bad := range []string{"", "x", "%%%", strings.Repeat("A", 300), tok + "A", tok[:len(tok)-1]} {
		_, _, _, ok := parseToken(key, bad)
		require.False(t, ok, bad)
	}
}
