package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/validation"

	"github.com/sendoka/sendoka/sendoka"
)

// A NUL character is valid JSON ("\u0000") and valid Go, but Postgres stores it in neither
// text nor jsonb: letting one through turns bad input into a database error (a 500). The
// HTTP layer turns it away first, whatever field it is in.

// rejectNUL returns a VALIDATION_ERROR naming every string of body (a decoded request body),
// keys included, that contains a NUL character, or nil.
func rejectNUL(body any) error {
	raw, err := json.Marshal(body)
	if err != nil || !bytes.Contains(raw, []byte(`\u0000`)) {
		return nil // the common case: one scan of the encoding and no walk
	}
	var doc any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil
	}
	var v sendoka.Validation
	walkNUL(&v, doc, []any{})
	return v.Err()
}

func walkNUL(v *sendoka.Validation, x any, path []any) {
	switch x := x.(type) {
	case string:
		if hasNUL(x) {
			v.Add(sendoka.FieldInvalidString, "must not contain NUL characters", path...)
		}
	case []any:
		for i, e := range x {
			walkNUL(v, e, append(slices.Clip(path), i))
		}
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(x)) {
			p := append(slices.Clip(path), k)
			if hasNUL(k) {
				v.Add(sendoka.FieldInvalidString, "keys must not contain NUL characters", p...)
			}
			walkNUL(v, x[k], p)
		}
	}
}

func hasNUL(s string) bool { return strings.IndexByte(s, 0) >= 0 }

// checkListQuery rejects list parameters that can match nothing because no stored value
// may contain them.
func checkListQuery(in *listInput) error {
	var v sendoka.Validation
	if hasNUL(in.Tag) {
		v.Add(sendoka.FieldInvalidString, "must not contain NUL characters", "tag")
	}
	if hasNUL(in.Recipient) {
		v.Add(sendoka.FieldInvalidString, "must not contain NUL characters", "recipient")
	}
	if in.Cursor != "" {
		if cur, err := sendoka.DecodeCursor(in.Cursor); err == nil && hasNUL(cur.ID) {
			v.Add(sendoka.FieldInvalid, "malformed cursor", "cursor")
		}
	}
	return v.Err()
}

// Go's encoding/json, and Huma's validation with it, match object keys to fields without
// regard to case: {"Bcc": [...]} would fill bcc, and a "To" after "to" would replace it. The
// API's field names are exact. Every JSON body is checked against its Go type, and a key
// that names a field only when case is ignored is an unknown field (unrecognized_keys at its
// path), as a key that names no field already is.

// jsonBody is the input of an operation that takes a JSON body of type T: Huma decodes Body
// and keeps the raw bytes in RawBody for Resolve.
type jsonBody[T any] struct {
	Body    T
	RawBody []byte
}

// Resolve refuses keys that match a field of T only when case is ignored. Huma calls it
// after validating and decoding the body; its errors join Huma's own (a 422).
func (b *jsonBody[T]) Resolve(huma.Context) []error {
	return caseErrors(b.RawBody, reflect.TypeFor[T]())
}

// caseErrors reports the miscased keys of raw (decoded into a t) as Huma reports an unknown
// property, so they reach the envelope like any schema error: unrecognized_keys at the path.
func caseErrors(raw []byte, t reflect.Type) []error {
	var errs []error
	for _, p := range miscasedKeys(raw, t) {
		errs = append(errs, &huma.ErrorDetail{Location: location(p), Message: validation.MsgUnexpectedProperty})
	}
	return errs
}

// location writes a path as Huma does ("body.attachments[0].Filename"); parseLocation reads it
// back. Keys that reach it match a Go field name, so they hold no '.' or '['.
func location(path []any) string {
	var b strings.Builder
	b.WriteString("body")
	for _, p := range path {
		switch p := p.(type) {
		case int:
			b.WriteString("[" + strconv.Itoa(p) + "]")
		default:
			b.WriteString("." + fmt.Sprint(p))
		}
	}
	return b.String()
}

// miscasedKeys returns the path of every object key of raw, a JSON document decoded into a
// value of type t, that is not the name of a field of its struct but matches one when case
// is ignored (strings.EqualFold, as encoding/json folds). Keys that match no field at all are
// left to the schema, and the keys of maps are free. Anything that is not JSON yields nil:
// the decoder reports it.
func miscasedKeys(raw []byte, t reflect.Type) [][]any {
	if lowerCaseFields(t) && plainKeys(raw) {
		// Every field name is lower-case ASCII and so is every key: a key that folds to a
		// name is that name. (The usual body: no walk.)
		return nil
	}
	return walkMiscased(raw, t)
}

// walkMiscased is miscasedKeys without its shortcut: it walks every key of raw.
func walkMiscased(raw []byte, t reflect.Type) [][]any {
	dec := json.NewDecoder(bytes.NewReader(raw))
	var out [][]any
	if err := walkKeys(dec, t, []any{}, &out); err != nil {
		return nil
	}
	return out
}

var unmarshalerType = reflect.TypeFor[json.Unmarshaler]()

// walkKeys reads one JSON value from dec, checking the keys of the objects in it against t.
// It recurses only as deep as t does (a nil t is skipped without recursion), so a deeply
// nested body cannot exhaust the stack.
func walkKeys(dec *json.Decoder, t reflect.Type, path []any, out *[][]any) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	delim, ok := tok.(json.Delim)
	if !ok {
		return nil // a scalar
	}
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t != nil && (t.Kind() == reflect.Interface || reflect.PointerTo(t).Implements(unmarshalerType)) {
		t = nil // decoded as anything, or by its own rules
	}
	if t == nil {
		return skipValue(dec)
	}
	switch delim {
	case '[':
		var elem reflect.Type
		if t.Kind() == reflect.Slice || t.Kind() == reflect.Array {
			elem = t.Elem()
		}
		for i := 0; dec.More(); i++ {
			if err := walkKeys(dec, elem, append(slices.Clip(path), i), out); err != nil {
				return err
			}
		}
	case '{':
		var fields map[string]reflect.Type
		var elem reflect.Type
		switch t.Kind() {
		case reflect.Struct:
			fields = jsonFields(t)
		case reflect.Map:
			elem = t.Elem()
		}
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				return err
			}
			key, _ := tok.(string)
			p := append(slices.Clip(path), key)
			next := elem
			if fields != nil {
				var exact bool
				next, exact = fields[key]
				if !exact && foldsToField(fields, key) {
					*out = append(*out, p)
				}
			}
			if err := walkKeys(dec, next, p, out); err != nil {
				return err
			}
		}
	}
	_, err = dec.Token() // the closing ']' or '}'
	return err
}

// skipValue reads the rest of a value whose opening '[' or '{' was just read.
func skipValue(dec *json.Decoder) error {
	for depth := 1; depth > 0; {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('['), json.Delim('{'):
			depth++
		case json.Delim(']'), json.Delim('}'):
			depth--
		}
	}
	return nil
}

func foldsToField(fields map[string]reflect.Type, key string) bool {
	for name := range fields {
		if strings.EqualFold(name, key) {
			return true
		}
	}
	return false
}

// plainKeys reports whether every object key of raw, a JSON document, is lower-case ASCII
// written without escapes. It reads strings only: a string followed by ':' is a key.
func plainKeys(raw []byte) bool {
	for i := 0; i < len(raw); i++ {
		if raw[i] != '"' {
			continue
		}
		plain := true
		j := i + 1
		for ; j < len(raw) && raw[j] != '"'; j++ {
			switch c := raw[j]; {
			case c == '\\':
				plain = false
				j++ // the escaped byte, '"' included
			case c >= 0x80 || ('A' <= c && c <= 'Z'):
				plain = false
			}
		}
		k := j + 1
		for k < len(raw) && (raw[k] == ' ' || raw[k] == '\t' || raw[k] == '\n' || raw[k] == '\r') {
			k++
		}
		if !plain && k < len(raw) && raw[k] == ':' {
			return false
		}
		i = j
	}
	return true
}

// lowerCase caches lowerCaseFields per type.
var lowerCase sync.Map // reflect.Type -> bool

// lowerCaseFields reports whether every field name that the keys of a JSON document decoded
// into a t are checked against (t's fields, those of the structs in them, at any depth) is
// lower-case ASCII.
func lowerCaseFields(t reflect.Type) bool {
	if v, ok := lowerCase.Load(t); ok {
		return v.(bool)
	}
	ok := lowerCaseWalk(t, map[reflect.Type]bool{})
	lowerCase.Store(t, ok)
	return ok
}

func lowerCaseWalk(t reflect.Type, seen map[reflect.Type]bool) bool {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || seen[t] || t.Kind() == reflect.Interface || reflect.PointerTo(t).Implements(unmarshalerType) {
		return true
	}
	seen[t] = true
	switch t.Kind() {
	case reflect.Slice, reflect.Array, reflect.Map:
		return lowerCaseWalk(t.Elem(), seen)
	case reflect.Struct:
		for name, ft := range jsonFields(t) {
			for _, c := range []byte(name) {
				if c >= 0x80 || ('A' <= c && c <= 'Z') {
					return false
				}
			}
			if !lowerCaseWalk(ft, seen) {
				return false
			}
		}
	}
	return true
}

// fieldsOf caches jsonFields per struct type.
var fieldsOf sync.Map // reflect.Type -> map[string]reflect.Type

// jsonFields returns the JSON names of a struct's fields and their types, as encoding/json
// sees them: the tag's name or the Go name, "-" skipped, untagged embedded structs flattened
// (a shallower field wins over a deeper one of the same name). The map is shared: read only.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	if v, ok := fieldsOf.Load(t); ok {
		return v.(map[string]reflect.Type)
	}
	out := structFields(t)
	fieldsOf.Store(t, out)
	return out
}

func structFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	seen := map[reflect.Type]bool{}
	for level := []reflect.Type{t}; len(level) > 0; {
		var next []reflect.Type // the embedded structs one level down
		found := map[string]reflect.Type{}
		for _, st := range level {
			if seen[st] {
				continue
			}
			seen[st] = true
			for i := range st.NumField() {
				f := st.Field(i)
				tag := f.Tag.Get("json")
				if tag == "-" {
					continue
				}
				name, _, _ := strings.Cut(tag, ",")
				ft := f.Type
				if f.Anonymous && name == "" {
					if ft.Kind() == reflect.Pointer {
						ft = ft.Elem()
					}
					if ft.Kind() == reflect.Struct {
						next = append(next, ft)
						continue
					}
				}
				if !f.IsExported() {
					continue
				}
				if name == "" {
					name = f.Name
				}
				if _, ok := found[name]; !ok {
					found[name] = ft
				}
			}
		}
		for name, ft := range found {
			if _, ok := out[name]; !ok {
				out[name] = ft
			}
		}
		level = next
	}
	return out
}
