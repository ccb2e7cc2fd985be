package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/sendoka/sendoka/sendoka"
)

// generator makes the hostile requests of one operation.
type generator struct {
	sp  *spec
	f   *fixtures
	rng *rand.Rand
	now time.Time
	// maxBody is the server's body limit: one attack sends a byte more.
	maxBody int
	// big says whether the expensive attacks (bodies of megabytes) run.
	big bool
}

// attack is one kind of hostile request; make returns nil when it does not apply to op.
type attack struct {
	name string
	make func(g *generator, op *operation) *request
}

// attacks are tried in this order for each operation, then again at random until the
// operation has its share: the first pass gives every operation one of each kind that
// applies.
var attacks = []attack{
	{"baseline", (*generator).baseline},
	{"no key", (*generator).noKey},
	{"malformed key", (*generator).malformedKey},
	{"unknown key", (*generator).unknownKey},
	{"revoked key", (*generator).revokedKey},
	{"key without scope", (*generator).readOnlyKey},
	{"key from another network", (*generator).cidrKey},
	{"key of another tenant", (*generator).tenantKey},
	{"key limited to another domain", (*generator).domainKey},
	{"oversized key", (*generator).hugeKey},
	{"control bytes in key", (*generator).ctlKey},
	{"path traversal", (*generator).traversal},
	{"very long id", (*generator).longID},
	{"garbage cursor", (*generator).garbageCursor},
	{"wrong-typed query", (*generator).badQuery},
	{"NUL, CRLF, bad UTF-8 in query", (*generator).ctlQuery},
	{"duplicate and unknown query", (*generator).dupQuery},
	{"not JSON", (*generator).notJSON},
	{"wrong type", (*generator).wrongType},
	{"NUL in a string", (*generator).nulString},
	{"invalid UTF-8", (*generator).badUTF8},
	{"CRLF in a string", (*generator).crlfString},
	{"CRLF in every string", (*generator).crlfEverywhere},
	{"unknown field", (*generator).unknownField},
	{"duplicate key", (*generator).duplicateKey},
	{"deep nesting", (*generator).deepNesting},
	{"huge string", (*generator).hugeString},
	{"huge number", (*generator).hugeNumber},
	{"long array", (*generator).longArray},
	{"template amplification", (*generator).amplify},
	{"trailing garbage", (*generator).trailingGarbage},
	{"oversized body", (*generator).oversizedBody},
	{"wrong content type", (*generator).contentType},
	{"bad idempotency key", (*generator).idempotencyKey},
	{"hostile headers", (*generator).hostileHeaders},
	{"wrong method", (*generator).wrongMethod},
	{"chunked garbage", (*generator).chunkedGarbage},
	{"bad framing", (*generator).badFraming},
}

// plan returns n requests for op.
func (g *generator) plan(op *operation, n int) []*request {
	var out []*request
	// The baseline first, then every other kind once in an order of this operation's own
	// (so that a short run still spreads the kinds over the operations).
	order := []attack{attacks[0]}
	for _, i := range g.rng.Perm(len(attacks) - 1) {
		order = append(order, attacks[1+i])
	}
	for _, a := range order {
		if len(out) >= n {
			return out
		}
		if r := a.make(g, op); r != nil {
			r.attack = a.name
			out = append(out, r)
		}
	}
	for tries := 0; len(out) < n && tries < 50*n; tries++ {
		a := attacks[1+g.rng.IntN(len(attacks)-1)] // the baseline once is enough
		if r := a.make(g, op); r != nil {
			r.attack = a.name
			out = append(out, r)
		}
	}
	return out
}

// base is a well-formed request of op: the fixtures' ids, an admin key and the document's
// example body.
func (g *generator) base(op *operation) *request {
	r := &request{op: op, method: op.Method, target: g.fillPath(op, nil)}
	if op.Secured {
		r.set("Authorization", "Bearer "+g.key())
	}
	if op.Body != nil {
		r.set("Content-Type", "application/json")
		r.body = g.encode(g.exampleBody(op))
	}
	return r
}

// key is the admin key of a request: mostly the live one, sometimes the test one, so
// both modes are attacked.
func (g *generator) key() string {
	if g.rng.IntN(4) == 0 {
		return g.f.test
	}
	return g.f.live
}

// fillPath builds the path with the fixtures' ids, and override's raw values (already
// escaped as they are to be sent) for the parameters it names.
func (g *generator) fillPath(op *operation, override map[string]string) string {
	p := op.Path
	for _, prm := range op.Params {
		if prm.In != "path" {
			continue
		}
		v, ok := override[prm.Name]
		if !ok {
			v = url.PathEscape(g.f.pathValue(op.Path, prm.Name))
		}
		p = strings.ReplaceAll(p, "{"+prm.Name+"}", v)
	}
	return p
}

func (op *operation) paramsIn(in string) []*param {
	var out []*param
	for _, p := range op.Params {
		if p.In == in {
			out = append(out, p)
		}
	}
	return out
}

// exampleBody is a valid body of op, as far as the document knows: one of its examples,
// pointed at the fixtures; or one made from the schema.
func (g *generator) exampleBody(op *operation) any {
	if len(op.Examples) > 0 {
		return g.fixup(deepCopy(op.Examples[g.rng.IntN(len(op.Examples))]))
	}
	return g.fromSchema(op.Body, 0)
}

// fixup points an example at what exists here: the sandbox domain for senders, the
// fixtures' sender and template, a time in the future.
func (g *generator) fixup(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			x[k] = g.fixup(val)
		}
		if _, ok := x["template"].(string); ok {
			x["template"] = "hostile-welcome"
		}
	case []any:
		for i, val := range x {
			x[i] = g.fixup(val)
		}
	case string:
		switch {
		case strings.HasSuffix(x, "@yourdomain.com"):
			return strings.TrimSuffix(x, "@yourdomain.com") + "@sandbox.sendoka.com"
		case strings.HasPrefix(x, "pn_"):
			if id := g.f.ids["phone-numbers"]; id != "" {
				return id
			}
		case strings.HasPrefix(x, "20") && len(x) == len("2026-05-01T12:00:00Z") && strings.HasSuffix(x, "Z"):
			if _, err := time.Parse(time.RFC3339, x); err == nil {
				return g.now.Add(48 * time.Hour).UTC().Format(time.RFC3339)
			}
		}
	}
	return v
}

// fromSchema makes a value of s: its example, default or first enum value, else a value
// of its type with the required properties.
func (g *generator) fromSchema(s *schema, depth int) any {
	if s == nil || depth > 6 {
		return nil
	}
	switch {
	case len(s.Examples) > 0:
		return g.fixup(deepCopy(s.Examples[0]))
	case s.Default != nil:
		return s.Default
	case len(s.Enum) > 0:
		return s.Enum[0]
	}
	switch s.mainType() {
	case "object":
		m := map[string]any{}
		for _, name := range s.Required {
			m[name] = g.fromSchema(g.sp.resolve(s.Properties[name]), depth+1)
		}
		return m
	case "array":
		return []any{g.fromSchema(g.sp.resolve(s.Items), depth+1)}
	case "integer", "number":
		if s.Minimum != nil {
			return *s.Minimum
		}
		return 1
	case "boolean":
		return true
	case "string":
		return "hostile"
	}
	return nil
}

// rawMarker stands for a raw JSON fragment in an encoded body (see encodeWith).
const rawMarker = "\u0001HOSTILE\u0001"

// encode writes v as JSON, HTML characters as they are.
func (g *generator) encode(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// encodeWith writes v with the value at path replaced by the raw JSON fragment raw (bytes
// a JSON encoder would never write: invalid UTF-8, lone surrogates, 1e999, nesting).
func (g *generator) encodeWith(v any, path []any, raw []byte) []byte {
	v = setAt(deepCopy(v), path, rawMarker)
	b := g.encode(v)
	marker := g.encode(rawMarker)
	return bytes.Replace(b, marker, raw, 1)
}

// --- keys ---

func (g *generator) withKey(op *operation, auth string) *request {
	if !op.Secured {
		return nil
	}
	r := g.base(op)
	if auth == "" {
		r.del("Authorization")
	} else {
		r.set("Authorization", auth)
	}
	return r
}

func (g *generator) baseline(op *operation) *request {
	if op.Method == http.MethodDelete {
		return nil // it would remove the fixture the other attacks aim at
	}
	return g.base(op)
}

func (g *generator) noKey(op *operation) *request { return g.withKey(op, "") }

func (g *generator) malformedKey(op *operation) *request {
	auths := []string{"Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Bearer sok_live_", "Bearer sok_live_!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!",
		"Bearer sok_prod_abcdefghijklmnopqrstuvwxyz0123456789AB", "Token " + g.f.live, "Bearer " + g.f.live + " extra",
		"Bearer \"" + g.f.live + "\"", "Bearer " + strings.ToUpper(g.f.live), "Bearer " + g.f.live[:len(g.f.live)-1],
		"Bearer sok_live_\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669\u0660abcdefghijklmnopqrstuvwx"}
	return g.withKey(op, auths[g.rng.IntN(len(auths))])
}

func (g *generator) unknownKey(op *operation) *request {
	return g.withKey(op, "Bearer "+sendoka.NewKeyPlaintext(sendoka.ModeLive))
}

func (g *generator) revokedKey(op *operation) *request {
	if g.f.revoked == "" {
		return nil
	}
	return g.withKey(op, "Bearer "+g.f.revoked)
}

func (g *generator) readOnlyKey(op *operation) *request {
	if g.f.readOnly == "" {
		return nil
	}
	return g.withKey(op, "Bearer "+g.f.readOnly)
}

func (g *generator) cidrKey(op *operation) *request {
	if g.f.cidr == "" {
		return nil
	}
	return g.withKey(op, "Bearer "+g.f.cidr)
}

func (g *generator) tenantKey(op *operation) *request {
	if g.f.tenant == "" {
		return nil
	}
	return g.withKey(op, "Bearer "+g.f.tenant)
}

func (g *generator) domainKey(op *operation) *request {
	if g.f.domain == "" {
		return nil
	}
	return g.withKey(op, "Bearer "+g.f.domain)
}

func (g *generator) hugeKey(op *operation) *request {
	n := []int{4097, 8192, 64 << 10}[g.rng.IntN(3)]
	return g.withKey(op, "Bearer sok_live_"+strings.Repeat("A", n))
}

// ctlKey puts bytes no header value may hold in the Authorization header.
func (g *generator) ctlKey(op *operation) *request {
	bad := []string{"\x00", "\r", "\n", "\x7f", "\xff", "\r\nX-Injected: 1", "\t"}[g.rng.IntN(7)]
	r := g.withKey(op, "Bearer "+g.f.live[:12]+bad+g.f.live[12:])
	if r != nil {
		r.httpLevel = true
	}
	return r
}

// --- paths ---

// traversalValues are path parameter values, escaped as sent.
var traversalValues = []string{
	"..", "../..", "../../api-keys", "..%2F..%2Fapi-keys", "%2e%2e", "%2e%2e%2f%2e%2e", "..%5c..%5c", ".%2e",
	"%252e%252e", ".", "%2F", "%00", "x%00y", "%0d%0aX-Injected:%201", "%ff%fe", "%c0%ae%c0%ae", "%27%20OR%20%271%27%3D%271",
	"*", "%25", "_", "%20", "%E2%80%AE", "con", "msg_..%2F..%2F..%2Fetc%2Fpasswd", "%3Cscript%3E", ";", "%3F", "%23",
	"tpl_01HN8Z6Q4V3K2J1M0N9P8Q7R6S", "key_" + strings.Repeat("0", 26), "%u002e%u002e",
}

func (g *generator) pathParam(op *operation) *param {
	ps := op.paramsIn("path")
	if len(ps) == 0 {
		return nil
	}
	return ps[g.rng.IntN(len(ps))]
}

func (g *generator) traversal(op *operation) *request {
	p := g.pathParam(op)
	if p == nil {
		return nil
	}
	r := g.base(op)
	v := traversalValues[g.rng.IntN(len(traversalValues))]
	r.target = g.fillPath(op, map[string]string{p.Name: v})
	_, err := url.PathUnescape(v)
	r.httpLevel = err != nil // "%u002e" is no escape: the request-target does not parse
	return r
}

func (g *generator) longID(op *operation) *request {
	p := g.pathParam(op)
	if p == nil {
		return nil
	}
	r := g.base(op)
	n := []int{65, 257, 4096, 60 << 10}[g.rng.IntN(4)]
	r.target = g.fillPath(op, map[string]string{p.Name: "msg_" + strings.Repeat("A", n)})
	return r
}

// --- queries ---

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func (g *generator) garbageCursor(op *operation) *request {
	if !slices.ContainsFunc(op.Params, func(p *param) bool { return p.Name == "cursor" && p.In == "query" }) {
		return nil
	}
	cursors := []string{"", "!!!", "%00", "%ff%fe", "eyIyMDI2", b64("x|y"), b64("2024-04-22T10:14:22.113Z|msg_\x00"),
		b64("2024-04-22T10:14:22.113Z|msg_\xff\xfe"), b64("0000-01-01T00:00:00Z|msg_1"), b64("9999-12-31T23:59:59Z|msg_1"),
		b64("2024-04-22T10:14:22Z|" + strings.Repeat("A", 100)), b64("2024-04-22T10:14:22Z|' OR '1'='1"),
		b64("2024-04-22T10:14:22+25:00|msg_1"), b64("2024-04-22T10:14:22Z"), b64("|msg_1"), b64("2024-04-22T10:14:22Z|"),
		strings.Repeat("A", 600), strings.Repeat("QUFB", 30000), b64("2024-04-22T10:14:22Z|msg_1") + "==",
		b64("2024-04-22T10:14:22Z|msg_1") + "%3D%3D%3D", url.QueryEscape(b64("2024-04-22T10:14:22Z|msg_1") + "+/"),
		b64(strings.Repeat("2024-04-22T10:14:22Z|", 20)), b64("1e999|x"), b64("2024-02-30T00:00:00Z|msg_1"),
	}
	r := g.base(op)
	r.target += "?cursor=" + cursors[g.rng.IntN(len(cursors))]
	return r
}

// badQuery sends a value of the wrong type or out of range to a query parameter.
func (g *generator) badQuery(op *operation) *request {
	qs := op.paramsIn("query")
	if len(qs) == 0 {
		return nil
	}
	p := qs[g.rng.IntN(len(qs))]
	var vals []string
	switch p.Schema.mainType() {
	case "integer", "number":
		vals = []string{"abc", "-1", "0", "101", "1e9", "99999999999999999999999", "1.5", "NaN", "0x10", "+5", "", "%20", "-0", "1,2"}
	case "boolean":
		vals = []string{"maybe", "2", "", "TRUE", "yes%00"}
	default:
		vals = []string{"definitely-not-an-enum", "yesterday", "0000-00-00", "9999-99-99T99:99:99Z", "2024-01-01T00:00:00%2B99:00",
			"-1", strings.Repeat("x", 70000), "%E2%80%AE", url.QueryEscape("' OR 1=1 --")}
	}
	r := g.base(op)
	r.target += "?" + p.Name + "=" + vals[g.rng.IntN(len(vals))]
	return r
}

func (g *generator) ctlQuery(op *operation) *request {
	qs := op.paramsIn("query")
	if len(qs) == 0 {
		return nil
	}
	p := qs[g.rng.IntN(len(qs))]
	vals := []string{"%00", "a%00b", "%0d%0aX-Injected:%201", "%ff", "%c3%28", "%ed%a0%80", "%zz", "%", "a%0Ab", "%E2%80%A8"}
	r := g.base(op)
	r.target += "?" + p.Name + "=" + vals[g.rng.IntN(len(vals))]
	return r
}

func (g *generator) dupQuery(op *operation) *request {
	r := g.base(op)
	extras := []string{"limit=1&limit=2", "bogus=1", "cursor[]=x", "a=1;b=2", "=&&=", "limit", strings.Repeat("x=1&", 5000),
		"tenant_id=ten_01HN8Z6Q4V3K2J1M0N9P8Q7R6S&tenant_id=", "__proto__=1", "%00=%00"}
	r.target += "?" + extras[g.rng.IntN(len(extras))]
	return r
}

// --- bodies ---

var notJSONBodies = []string{"", "{", "}", "[", "nul\x00l", "\xff\xfe{\x00}\x00", "<xml/>", "a=1&b=2", "\ufeff{}", "null", "[]", "1e999999",
	`"just a string"`, "true", "{'single':'quotes'}", "{\"a\":1,}", "{\"a\" 1}", "\x00", strings.Repeat(" ", 1000), "{\"a\":\"\\x41\"}",
	"{\"a\":\"\\ud800\"}", "{\"a\":01}", "{\"a\":NaN}", "{\"a\":Infinity}", "/* c */ {}", "{\"a\":\"\n\"}"}

func (g *generator) notJSON(op *operation) *request {
	if op.Body == nil {
		return nil
	}
	r := g.base(op)
	r.body = []byte(notJSONBodies[g.rng.IntN(len(notJSONBodies))])
	return r
}

// bodyPath picks a path into the example body: a leaf most of the time, a container
// (or the whole body) sometimes.
func (g *generator) bodyPath(v any) []any {
	paths := allPaths(v, nil)
	if len(paths) == 0 {
		return []any{}
	}
	return paths[g.rng.IntN(len(paths))]
}

func (g *generator) bodyAttack(op *operation, fn func(v any, path []any) []byte) *request {
	if op.Body == nil {
		return nil
	}
	r := g.base(op)
	v := g.exampleBody(op)
	r.body = fn(v, g.bodyPath(v))
	return r
}

var wrongTypes = []any{0, -1, 1e308, true, false, nil, []any{}, map[string]any{}, "str", []any{[]any{}}, map[string]any{"a": map[string]any{}}, 3.5}

func (g *generator) wrongType(op *operation) *request {
	return g.bodyAttack(op, func(v any, path []any) []byte {
		return g.encode(setAt(deepCopy(v), path, wrongTypes[g.rng.IntN(len(wrongTypes))]))
	})
}

func (g *generator) stringAttack(op *operation, vals []string) *request {
	return g.bodyAttack(op, func(v any, path []any) []byte {
		return g.encodeWith(v, path, []byte(vals[g.rng.IntN(len(vals))]))
	})
}

func (g *generator) nulString(op *operation) *request {
	return g.stringAttack(op, []string{`"\u0000"`, `"a\u0000b"`, `"user\u0000@example.com"`, `"\u0000\u0000\u0000"`, `["\u0000"]`, `{"\u0000":"x"}`})
}

func (g *generator) badUTF8(op *operation) *request {
	return g.stringAttack(op, []string{"\"\xff\xfe\xfd\"", "\"\xc0\xaf\"", `"\ud800"`, `"\udfff\ud800"`, "\"a\xedb\"", "\"\xf4\x90\x80\x80\"",
		"[\"\xff\"]", "{\"\xff\":\"x\"}", `"\ufeff"`, `"\u202e"`, `"\u2028\u2029"`})
}

func (g *generator) crlfString(op *operation) *request {
	return g.stringAttack(op, []string{`"x\r\nBcc: victim@evil.test"`, `"\r\n\r\n<html>"`, `"a\rb"`, `"a\nb"`, `"user@example.com\r\nX-Injected: 1"`,
		`"Hostile <user@example.com>\r\nBcc: x@evil.test"`, `"\u0085"`, `["a\r\nb"]`})
}

// crlfEverywhere puts a line break and a header into every string of the body.
func (g *generator) crlfEverywhere(op *operation) *request {
	if op.Body == nil {
		return nil
	}
	r := g.base(op)
	r.body = g.encode(mapStrings(g.exampleBody(op), func(s string) string { return s + "\r\nBcc: victim@evil.test" }))
	return r
}

func (g *generator) unknownField(op *operation) *request {
	if op.Body == nil {
		return nil
	}
	r := g.base(op)
	v := g.exampleBody(op)
	obj := findObject(v, g.rng)
	if obj == nil {
		r.body = g.encode(map[string]any{"bogus": v})
		return r
	}
	keys := sortedKeys(obj)
	switch n := g.rng.IntN(4); {
	case n == 0 && len(keys) > 0:
		k := keys[g.rng.IntN(len(keys))]
		obj[strings.ToUpper(k[:1])+k[1:]] = obj[k] // a key that differs only in case
	case n == 1:
		obj["__proto__"] = map[string]any{"admin": true}
	case n == 2:
		obj["id"] = "msg_01HN8Z6Q4V3K2J1M0N9P8Q7R6S"
		obj["org_id"] = "org_01HN8Z6Q4V3K2J1M0N9P8Q7R6S"
	default:
		obj["bogus"] = nil
	}
	r.body = g.encode(v)
	return r
}

// duplicateKey repeats a key of the body's top object with another value.
func (g *generator) duplicateKey(op *operation) *request {
	if op.Body == nil {
		return nil
	}
	r := g.base(op)
	v := g.exampleBody(op)
	m, ok := v.(map[string]any)
	if !ok || len(m) == 0 {
		return nil
	}
	keys := sortedKeys(m)
	k := keys[g.rng.IntN(len(keys))]
	b := g.encode(v)
	extra := fmt.Sprintf(`,%s:%s}`, g.encode(k), g.encode(wrongTypes[g.rng.IntN(len(wrongTypes))]))
	r.body = append(bytes.TrimSuffix(b, []byte("}")), extra...)
	return r
}

func (g *generator) deepNesting(op *operation) *request {
	return g.bodyAttack(op, func(v any, path []any) []byte {
		depth := []int{100, 1000, 9999, 10001, 100000}[g.rng.IntN(5)]
		var b bytes.Buffer
		if g.rng.IntN(2) == 0 {
			b.WriteString(strings.Repeat("[", depth))
			b.WriteString(strings.Repeat("]", depth))
		} else {
			b.WriteString(strings.Repeat(`{"a":`, depth))
			b.WriteString("1")
			b.WriteString(strings.Repeat("}", depth))
		}
		if g.rng.IntN(3) == 0 {
			path = []any{"metadata"}
			if m, ok := v.(map[string]any); !ok || m == nil {
				path = nil
			}
		}
		return g.encodeWith(v, path, b.Bytes())
	})
}

func (g *generator) hugeString(op *operation) *request {
	return g.bodyAttack(op, func(v any, path []any) []byte {
		n := 1 << 20
		if g.big && g.rng.IntN(4) == 0 {
			n = 12 << 20
		}
		return g.encode(setAt(deepCopy(v), path, strings.Repeat("A", n)))
	})
}

func (g *generator) hugeNumber(op *operation) *request {
	nums := []string{"1e999", "-1e999", "99999999999999999999999999999999", "-0", "1e-999", "0.00000000000000000000001", "9223372036854775808",
		"-9223372036854775809", "1" + strings.Repeat("0", 10000), "4.9e-324"}
	return g.stringAttack(op, nums)
}

func (g *generator) longArray(op *operation) *request {
	return g.bodyAttack(op, func(v any, path []any) []byte {
		n := []int{51, 101, 1001, 100000}[g.rng.IntN(4)]
		items := make([]string, n)
		for i := range items {
			items[i] = fmt.Sprintf(`"u%d@example.com"`, i)
		}
		return g.encodeWith(v, path, []byte("["+strings.Join(items, ",")+"]"))
	})
}

// amplify sends a template that repeats a variable 100,000 times (the preview's draft, or
// the fixture template) with a value of 10 KB: a gigabyte, were it rendered whole.
func (g *generator) amplify(op *operation) *request {
	if op.Body == nil || op.Body.Properties["variables"] == nil {
		return nil
	}
	v, ok := g.exampleBody(op).(map[string]any)
	if !ok {
		return nil
	}
	r := g.base(op)
	v["variables"] = map[string]any{"a": strings.Repeat("x", 10<<10)}
	if _, draft := op.Body.Properties["html"]; draft && op.Body.Properties["template"] == nil {
		v["channel"], v["subject"], v["html"] = "email", "{{a}}", strings.Repeat("{{a}}", 100000)
		delete(v, "body")
		delete(v, "text")
	} else {
		v["template"] = amplifyingTemplate
		for _, k := range []string{"subject", "html", "text", "body"} {
			delete(v, k)
		}
	}
	r.body = g.encode(v)
	return r
}

func (g *generator) trailingGarbage(op *operation) *request {
	if op.Body == nil {
		return nil
	}
	r := g.base(op)
	tails := []string{"garbage", "{}", "\x00", "\n\n\n{", " ]"}
	r.body = append(r.body, tails[g.rng.IntN(len(tails))]...)
	return r
}

// oversizedBody sends a byte more than the server takes.
func (g *generator) oversizedBody(op *operation) *request {
	if op.Body == nil || !g.big {
		return nil
	}
	r := g.base(op)
	r.body = g.encode(map[string]any{"html": strings.Repeat("A", g.maxBody)})
	return r
}

func (g *generator) contentType(op *operation) *request {
	if op.Body == nil {
		return nil
	}
	r := g.base(op)
	types := []string{"", "text/plain", "application/xml", "application/json; charset=utf-16", "multipart/form-data; boundary=x",
		"application/x-www-form-urlencoded", "application/json, text/plain", "application/merge-patch+json", "*/*", "application/jsonx",
		"application/json; charset=\"" + strings.Repeat("x", 5000) + "\""}
	ct := types[g.rng.IntN(len(types))]
	if ct == "" {
		r.del("Content-Type")
	} else {
		r.set("Content-Type", ct)
	}
	return r
}

func (g *generator) idempotencyKey(op *operation) *request {
	if op.Method != http.MethodPost {
		return nil
	}
	r := g.base(op)
	keys := []string{"", strings.Repeat("k", 256), "caf\xc3\xa9", `"unterminated`, `"bad \x escape"`, "\x7f", strings.Repeat("k", 100<<10)}
	switch n := g.rng.IntN(len(keys) + 2); {
	case n < len(keys):
		r.set("Idempotency-Key", keys[n])
		r.httpLevel = keys[n] == "\x7f" // no header value holds a control character
	case n == len(keys):
		r.header = append(r.header, headerField{"Idempotency-Key", "a"}, headerField{"Idempotency-Key", "b"})
	default:
		r.set("Idempotency-Key", "a\x00b")
		r.httpLevel = true
	}
	return r
}

// hostileHeaders sends odd but well-framed headers: forwarded addresses, request ids,
// Accept, many headers, a large one under the limit.
func (g *generator) hostileHeaders(op *operation) *request {
	r := g.base(op)
	switch g.rng.IntN(9) {
	case 0:
		r.set("X-Forwarded-For", "127.0.0.1, 203.0.113.9, unknown, ::1%eth0, "+strings.Repeat("1.1.1.1,", 2000))
	case 1:
		r.set("X-Request-Id", "req_"+strings.Repeat("Z", 10000))
	case 2:
		r.set("Accept", []string{"application/xml", "text/html", "image/*", "application/json;q=0", "*/*;q=abc"}[g.rng.IntN(5)])
	case 3:
		for i := range 2000 {
			r.header = append(r.header, headerField{fmt.Sprintf("X-H-%d", i), "v"})
		}
	case 4:
		r.set("X-Big", strings.Repeat("b", 512<<10))
	case 5:
		r.set("Accept-Encoding", "gzip;q=1e999, br, "+strings.Repeat("x,", 1000))
	case 6:
		r.set("Expect", "100-continue")
	case 7:
		r.set("X-Forwarded-Host", "evil.test")
		r.set("Forwarded", "for=127.0.0.1;host=evil.test;proto=https")
		r.set("X-HTTP-Method-Override", "DELETE")
	default:
		r.set("Cookie", "sendoka_session="+strings.Repeat("A", 3000)+"; "+strings.Repeat("c=1; ", 500))
	}
	return r
}

// wrongMethod sends a method the path does not have, or one written oddly.
func (g *generator) wrongMethod(op *operation) *request {
	r := g.base(op)
	methods := []string{"PUT", "TRACE", "OPTIONS", "FOO", strings.ToLower(op.Method), "CONNECT", "PROPFIND", "HEAD"}
	r.method = methods[g.rng.IntN(len(methods))]
	if r.method == "CONNECT" {
		r.httpLevel = true
	}
	return r
}

// chunkedGarbage sends a chunked body whose framing is broken.
func (g *generator) chunkedGarbage(op *operation) *request {
	if op.Body == nil {
		return nil
	}
	r := g.base(op)
	r.noContentLength = true
	r.set("Transfer-Encoding", "chunked")
	chunks := []string{"zz\r\n{}\r\n0\r\n\r\n", "2\r\n{}\r\n", "ffffffffffffffff\r\n{}\r\n0\r\n\r\n", "2;ext=" + strings.Repeat("x", 10000) + "\r\n{}\r\n0\r\n\r\n",
		"2\r\n{}0\r\n\r\n", "-1\r\n{}\r\n0\r\n\r\n", "2\r\n{}\r\n0\r\nX-Trailer: " + strings.Repeat("t", 5000) + "\r\n\r\n"}
	r.body = []byte(chunks[g.rng.IntN(len(chunks))])
	r.httpLevel = true
	return r
}

// badFraming sends requests whose HTTP framing is wrong or ambiguous.
func (g *generator) badFraming(op *operation) *request {
	r := g.base(op)
	r.httpLevel = true
	switch g.rng.IntN(6) {
	case 0: // both lengths: request smuggling
		r.set("Transfer-Encoding", "chunked")
		r.set("Content-Length", "4")
		r.noContentLength = true
		r.body = []byte("0\r\n\r\nGET /api/v1/org HTTP/1.1\r\nHost: x\r\n\r\n")
	case 1:
		r.set("Content-Length", "-1")
		r.noContentLength = true
	case 2:
		r.header = append(r.header, headerField{"Content-Length", "2"}, headerField{"Content-Length", "3"})
		r.noContentLength = true
		r.body = []byte("{}")
	case 3:
		r.set("Transfer-Encoding", "gzip")
		r.noContentLength = true
	case 4:
		r.raw = []byte(fmt.Sprintf("%s %s HTTP/1.0\r\n\r\n", op.Method, g.fillPath(op, nil)))
		r.httpLevel = false // valid HTTP/1.0: the API answers it
	default:
		r.raw = []byte(fmt.Sprintf("%s %s HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n", op.Method, g.fillPath(op, nil)))
	}
	return r
}

// --- JSON values ---

func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, val := range x {
			m[k] = deepCopy(val)
		}
		return m
	case []any:
		s := make([]any, len(x))
		for i, val := range x {
			s[i] = deepCopy(val)
		}
		return s
	}
	return v
}

// allPaths lists the paths of every value inside v (v itself is []).
func allPaths(v any, prefix []any) [][]any {
	out := [][]any{slices.Clone(prefix)}
	switch x := v.(type) {
	case map[string]any:
		for _, k := range sortedKeys(x) {
			out = append(out, allPaths(x[k], append(slices.Clone(prefix), k))...)
		}
	case []any:
		for i, val := range x {
			out = append(out, allPaths(val, append(slices.Clone(prefix), i))...)
		}
	}
	return out
}

// setAt returns v with the value at path replaced (v itself when path is empty).
func setAt(v any, path []any, val any) any {
	if len(path) == 0 {
		return val
	}
	switch x := v.(type) {
	case map[string]any:
		if k, ok := path[0].(string); ok {
			x[k] = setAt(x[k], path[1:], val)
		}
	case []any:
		if i, ok := path[0].(int); ok && i < len(x) {
			x[i] = setAt(x[i], path[1:], val)
		}
	}
	return v
}

func mapStrings(v any, fn func(string) string) any {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			x[k] = mapStrings(val, fn)
		}
	case []any:
		for i, val := range x {
			x[i] = mapStrings(val, fn)
		}
	case string:
		return fn(x)
	}
	return v
}

// findObject returns a random object inside v (v itself, or one of its items).
func findObject(v any, rng *rand.Rand) map[string]any {
	var objs []map[string]any
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			objs = append(objs, x)
			for _, k := range sortedKeys(x) {
				walk(x[k])
			}
		case []any:
			for _, val := range x {
				walk(val)
			}
		}
	}
	walk(v)
	if len(objs) == 0 {
		return nil
	}
	return objs[rng.IntN(len(objs))]
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
