package sendoka

import (
	"encoding/json"
	"fmt"
	"html"
	"strconv"
	"strings"
)

// compiledTemplate is one template field parsed once: literal text and variable references.
// Rendering walks the parts; nothing is parsed at send time.
type compiledTemplate struct {
	parts []templatePart
}

type templatePart struct {
	text string   // literal text, when path is nil
	path []string // a variable reference: "order.id" is ["order", "id"]
	raw  bool     // {{{name}}}: inserted without HTML escaping
}

// TemplateSyntaxError reports where a template does not parse.
type TemplateSyntaxError struct {
	Offset  int // byte offset of the problem
	Message string
}

// Error implements error.
func (e *TemplateSyntaxError) Error() string {
	return fmt.Sprintf("at offset %d: %s", e.Offset, e.Message)
}

// Template variable limits.
const (
	maxVariableName  = 128
	maxVariableDepth = 8
)

// compileTemplate parses {{name}}, {{ name }}, {{order.id}} and {{{raw}}}. A "{{" that does not
// open a well-formed reference is an error, so a typo is caught when the template is saved.
func compileTemplate(src string) (*compiledTemplate, error) {
	t := &compiledTemplate{}
	for i := 0; ; {
		j := strings.Index(src[i:], "{{")
		if j < 0 {
			if i < len(src) {
				t.parts = append(t.parts, templatePart{text: src[i:]})
			}
			return t, nil
		}
		start := i + j
		if start > i {
			t.parts = append(t.parts, templatePart{text: src[i:start]})
		}
		open, closer, raw := "{{", "}}", false
		if strings.HasPrefix(src[start:], "{{{") {
			open, closer, raw = "{{{", "}}}", true
		}
		k := strings.Index(src[start+len(open):], closer)
		if k < 0 {
			return nil, &TemplateSyntaxError{Offset: start, Message: "unclosed " + open}
		}
		name := strings.TrimSpace(src[start+len(open) : start+len(open)+k])
		path, err := parseVariablePath(name)
		if err != nil {
			return nil, &TemplateSyntaxError{Offset: start, Message: err.Error()}
		}
		t.parts = append(t.parts, templatePart{path: path, raw: raw})
		i = start + len(open) + k + len(closer)
	}
}

func parseVariablePath(name string) ([]string, error) {
	if name == "" {
		return nil, fmt.Errorf("empty variable name")
	}
	if len(name) > maxVariableName {
		return nil, fmt.Errorf("variable name longer than %d characters", maxVariableName)
	}
	path := strings.Split(name, ".")
	if len(path) > maxVariableDepth {
		return nil, fmt.Errorf("variable %q nests deeper than %d", name, maxVariableDepth)
	}
	for _, seg := range path {
		if !validIdentifier(seg) {
			return nil, fmt.Errorf("invalid variable name %q (letters, digits and _; dots between parts)", name)
		}
	}
	return path, nil
}

func validIdentifier(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_', r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
		case r >= '0' && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// variables returns the dotted names the template uses, in order of first use.
func (t *compiledTemplate) variables(seen map[string]bool, out []string) []string {
	for _, p := range t.parts {
		if p.path == nil {
			continue
		}
		name := strings.Join(p.path, ".")
		if !seen[name] {
			seen[name] = true
			out = append(out, name)
		}
	}
	return out
}

// maxRenderedBytes bounds what one template field renders to: the largest field a message
// may have (MaxHTMLBytes). Rendering stops a byte past it, so a template that repeats a
// large variable (100,000 references to a value of a megabyte) cannot make the server build
// a string without bound; the field, over every limit, is then refused as too large.
const maxRenderedBytes = MaxHTMLBytes

// render substitutes vars. With escapeHTML, {{name}} values are HTML-escaped ({{{name}}} never
// is). It returns the dotted names that vars does not supply. The text is cut at
// maxRenderedBytes+1 bytes: longer than any field may be.
func (t *compiledTemplate) render(vars map[string]any, escapeHTML bool) (string, []string) {
	var b strings.Builder
	var missing []string
	write := func(s string) {
		if room := maxRenderedBytes + 1 - b.Len(); len(s) > room {
			s = s[:max(room, 0)]
		}
		b.WriteString(s)
	}
	for _, p := range t.parts {
		full := b.Len() > maxRenderedBytes
		if p.path == nil {
			if !full {
				write(p.text)
			}
			continue
		}
		v, ok := lookupVariable(vars, p.path)
		if !ok {
			missing = append(missing, strings.Join(p.path, "."))
			continue
		}
		if full {
			continue // only the missing names are still looked for
		}
		s := variableString(v)
		if escapeHTML && !p.raw {
			s = html.EscapeString(s)
		}
		write(s)
	}
	return b.String(), missing
}

func lookupVariable(vars map[string]any, path []string) (any, bool) {
	var cur any = vars
	for _, seg := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[seg]; !ok {
			return nil, false
		}
	}
	return cur, true
}

func variableString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	case json.Number:
		return x.String()
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
