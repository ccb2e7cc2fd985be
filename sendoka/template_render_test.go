package sendoka

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCompileAndRender(t *testing.T) {
	t.Parallel()
	vars := map[string]any{
		"name":  "Ada <Lovelace>",
		"order": map[string]any{"id": "ord_1", "total": 12.5, "paid": true},
		"html":  "<b>bold</b>",
		"n":     float64(3),
	}
	cases := []struct {
		src, html, raw string
		missing        []string
	}{
		{"Hi {{name}}", "Hi Ada &lt;Lovelace&gt;", "Hi Ada <Lovelace>", nil},
		{"Hi {{ name }}!", "Hi Ada &lt;Lovelace&gt;!", "Hi Ada <Lovelace>!", nil},
		{"{{order.id}} {{order.total}} {{order.paid}} {{n}}", "ord_1 12.5 true 3", "ord_1 12.5 true 3", nil},
		{"{{{html}}} vs {{html}}", "<b>bold</b> vs &lt;b&gt;bold&lt;/b&gt;", "<b>bold</b> vs <b>bold</b>", nil},
		{"{{missing}} and {{order.nope}}", " and ", " and ", []string{"missing", "order.nope"}},
		{"no vars", "no vars", "no vars", nil},
		{"", "", "", nil},
		{"a } b }} c", "a } b }} c", "a } b }} c", nil},
	}
	for _, tc := range cases {
		ct, err := compileTemplate(tc.src)
		require.NoError(t, err, tc.src)
		got, missing := ct.render(vars, true)
		require.Equal(t, tc.html, got, tc.src)
		require.Equal(t, tc.missing, missing, tc.src)
		got, _ = ct.render(vars, false)
		require.Equal(t, tc.raw, got, tc.src)
	}
}

func TestCompileErrors(t *testing.T) {
	t.Parallel()
	for _, src := range []string{"{{", "Hi {{name", "{{}}", "{{ }}", "{{1abc}}", "{{a..b}}", "{{a-b}}", "{{{raw}}", "{{a b}}"} {
		_, err := compileTemplate(src)
		var se *TemplateSyntaxError
		require.ErrorAs(t, err, &se, src)
	}
}

func TestVariablesInOrder(t *testing.T) {
	t.Parallel()
	ct, err := compileTemplate("{{b}} {{a}} {{b}} {{{c.d}}}")
	require.NoError(t, err)
	require.Equal(t, []string{"b", "a", "c.d"}, ct.variables(map[string]bool{}, nil))
}

func FuzzCompileTemplate(f *testing.F) {
	for _, s := range []string{"Hi {{name}}", "{{{raw}}}", "{{a.b.c}}", "{{", "}}{{x}}{{"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		ct, err := compileTemplate(src)
		if err != nil {
			return
		}
		// Supplying every variable leaves nothing missing.
		vars := map[string]any{}
		for _, name := range ct.variables(map[string]bool{}, nil) {
			setPath(vars, name)
		}
		_, missing := ct.render(vars, true)
		if len(missing) > 0 {
			// A variable that is both a leaf and a parent ("a" and "a.b") can't be satisfied at once.
			return
		}
	})
}

func setPath(m map[string]any, dotted string) {
	path, _ := parseVariablePath(dotted)
	for i, seg := range path {
		if i == len(path)-1 {
			if _, ok := m[seg]; !ok {
				m[seg] = "v"
			}
			return
		}
		next, ok := m[seg].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[seg] = next
		}
		m = next
	}
}

// TestRenderStopsPastTheLimit: a template that repeats a large value renders a byte past
// maxRenderedBytes, no further, and still names every missing variable.
func TestRenderStopsPastTheLimit(t *testing.T) {
	t.Parallel()
	ct, err := compileTemplate(strings.Repeat("<p>{{a}}</p>", 100000) + "{{b}} {{{c}}}")
	require.NoError(t, err)
	out, missing := ct.render(map[string]any{"a": strings.Repeat("é<", 1000)}, true)
	require.Len(t, out, maxRenderedBytes+1)
	require.Equal(t, []string{"b", "c"}, missing)
	small, missing := ct.render(map[string]any{"a": "x", "b": 1, "c": "<i>"}, true)
	require.Empty(t, missing)
	require.True(t, strings.HasSuffix(small, "<p>x</p>1 <i>"), "under the limit nothing is cut")
}
