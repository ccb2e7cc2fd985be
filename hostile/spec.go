package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// spec is the part of the served OpenAPI document the attack reads: the operations, and the
// schemas their bodies and answers follow.
type spec struct {
	ops     []*operation
	schemas map[string]*schema
}

// operation is one method on one path of the document.
type operation struct {
	ID       string
	Method   string
	Path     string // the template, /api/v1/emails/{id}
	Params   []*param
	Body     *schema              // the JSON body's schema, nil when the operation takes none
	Examples []any                // example bodies from the document, valid as far as it knows
	Secured  bool                 // takes an API key
	Statuses map[string]*response // by status code ("200", "404") or "default"
	Hidden   bool                 // served but not in the document (listed by hand)
}

type param struct {
	Name     string
	In       string // path, query, header
	Required bool
	Schema   *schema
}

type response struct {
	Schema      *schema // of its JSON body; nil when it has none
	ContentType string  // the first documented media type, "" for none
}

// schema is the subset of JSON Schema (2020-12, as Huma writes it) the checks need.
type schema struct {
	Ref                  string             `json:"$ref"`
	Type                 any                `json:"type"` // a string or a list of strings
	Properties           map[string]*schema `json:"properties"`
	Required             []string           `json:"required"`
	AdditionalProperties any                `json:"additionalProperties"` // bool or schema
	Items                *schema            `json:"items"`
	Enum                 []any              `json:"enum"`
	Format               string             `json:"format"`
	MinLength            *int               `json:"minLength"`
	MaxLength            *int               `json:"maxLength"`
	Minimum              *float64           `json:"minimum"`
	Maximum              *float64           `json:"maximum"`
	MinItems             *int               `json:"minItems"`
	MaxItems             *int               `json:"maxItems"`
	Examples             []any              `json:"examples"`
	Default              any                `json:"default"`
	OneOf                []*schema          `json:"oneOf"`
	AnyOf                []*schema          `json:"anyOf"`
}

// types returns the schema's types ("string", "null", ...).
func (s *schema) types() []string {
	switch t := s.Type.(type) {
	case string:
		return []string{t}
	case []any:
		var out []string
		for _, v := range t {
			if s, ok := v.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// mainType is the schema's first type other than null, or "".
func (s *schema) mainType() string {
	for _, t := range s.types() {
		if t != "null" {
			return t
		}
	}
	return ""
}

// loadSpec fetches the OpenAPI document the server serves.
func loadSpec(client *http.Client, base string) (*spec, error) {
	resp, err := client.Get(base + "/api/v1/openapi.json")
	if err != nil {
		return nil, fmt.Errorf("openapi: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("openapi: status %d: %v", resp.StatusCode, err)
	}
	return parseSpec(b)
}

func parseSpec(b []byte) (*spec, error) {
	var doc struct {
		Security   []map[string][]string `json:"security"`
		Components struct {
			Schemas map[string]*schema `json:"schemas"`
		} `json:"components"`
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("openapi: %w", err)
	}
	sp := &spec{schemas: doc.Components.Schemas}
	for path, methods := range doc.Paths {
		for method, raw := range methods {
			if !slices.Contains([]string{"get", "post", "put", "patch", "delete"}, method) {
				continue
			}
			var o struct {
				OperationID string                `json:"operationId"`
				Security    []map[string][]string `json:"security"`
				Parameters  []struct {
					Name     string  `json:"name"`
					In       string  `json:"in"`
					Required bool    `json:"required"`
					Schema   *schema `json:"schema"`
				} `json:"parameters"`
				RequestBody *struct {
					Content map[string]struct {
						Schema   *schema `json:"schema"`
						Example  any     `json:"example"`
						Examples map[string]struct {
							Value any `json:"value"`
						} `json:"examples"`
					} `json:"content"`
				} `json:"requestBody"`
				Responses map[string]struct {
					Content map[string]struct {
						Schema *schema `json:"schema"`
					} `json:"content"`
				} `json:"responses"`
			}
			if err := json.Unmarshal(raw, &o); err != nil {
				return nil, fmt.Errorf("openapi %s %s: %w", method, path, err)
			}
			op := &operation{ID: o.OperationID, Method: strings.ToUpper(method), Path: path,
				Statuses: map[string]*response{}}
			sec := o.Security
			if sec == nil {
				sec = doc.Security
			}
			op.Secured = len(sec) > 0
			for _, p := range o.Parameters {
				s := p.Schema
				if s == nil {
					s = &schema{Type: "string"}
				}
				op.Params = append(op.Params, &param{Name: p.Name, In: p.In, Required: p.Required || p.In == "path", Schema: s})
			}
			if o.RequestBody != nil {
				if mt, ok := o.RequestBody.Content["application/json"]; ok {
					op.Body = sp.resolve(mt.Schema)
					if mt.Example != nil {
						op.Examples = append(op.Examples, mt.Example)
					}
					names := make([]string, 0, len(mt.Examples))
					for n := range mt.Examples {
						names = append(names, n)
					}
					sort.Strings(names)
					for _, n := range names {
						op.Examples = append(op.Examples, mt.Examples[n].Value)
					}
				}
			}
			for code, r := range o.Responses {
				resp := &response{}
				types := make([]string, 0, len(r.Content))
				for ct := range r.Content {
					types = append(types, ct)
				}
				sort.Strings(types)
				if len(types) > 0 {
					resp.ContentType = types[0]
					if mt := r.Content["application/json"]; mt.Schema != nil {
						resp.Schema = mt.Schema
					}
				}
				op.Statuses[code] = resp
			}
			sp.ops = append(sp.ops, op)
		}
	}
	sort.Slice(sp.ops, func(i, j int) bool { return opOrder(sp.ops[i]) < opOrder(sp.ops[j]) })
	return sp, nil
}

// opOrder sorts operations so that those that remove things run last: a DELETE that an
// attack lets through (a header mutated, the id intact) must not take the fixtures the
// other operations attack.
func opOrder(op *operation) string {
	rank := map[string]string{"GET": "0", "POST": "1", "PATCH": "2", "PUT": "2", "DELETE": "3"}[op.Method]
	if strings.HasSuffix(op.Path, "/rotate-secret") {
		rank = "2" // it changes the webhook's secret: harmless, but after the reads
	}
	return rank + op.Path + " " + op.Method
}

// resolve follows a $ref to the named component schema.
func (sp *spec) resolve(s *schema) *schema {
	for i := 0; s != nil && s.Ref != "" && i < 10; i++ {
		name, ok := strings.CutPrefix(s.Ref, "#/components/schemas/")
		if !ok {
			return s
		}
		s = sp.schemas[name]
	}
	return s
}

// match returns the operation a request to path with method reaches, or nil.
func (sp *spec) match(method, path string) *operation {
	segs := strings.Split(path, "/")
	for _, op := range sp.ops {
		tmpl := strings.Split(op.Path, "/")
		if op.Method != method || len(tmpl) != len(segs) {
			continue
		}
		ok := true
		for i, t := range tmpl {
			if t != segs[i] && !strings.HasPrefix(t, "{") {
				ok = false
				break
			}
		}
		if ok {
			return op
		}
	}
	return nil
}

// documented reports whether status is one of the operation's documented answers.
func (op *operation) documented(status int) bool {
	_, ok := op.Statuses[strconv.Itoa(status)]
	if !ok {
		_, ok = op.Statuses["default"]
	}
	return ok
}

// responseFor returns the documented answer for status, or the default one.
func (op *operation) responseFor(status int) *response {
	if r, ok := op.Statuses[strconv.Itoa(status)]; ok {
		return r
	}
	return op.Statuses["default"]
}

// validate checks v (decoded JSON) against s, and returns the first problem, or "".
func (sp *spec) validate(s *schema, v any, path string) string {
	s = sp.resolve(s)
	if s == nil {
		return ""
	}
	if len(s.OneOf) > 0 || len(s.AnyOf) > 0 {
		for _, alt := range append(slices.Clone(s.OneOf), s.AnyOf...) {
			if sp.validate(alt, v, path) == "" {
				return ""
			}
		}
		return path + ": matches none of the alternatives"
	}
	types := s.types()
	if len(types) > 0 && !slices.ContainsFunc(types, func(t string) bool { return jsonIs(t, v) }) {
		return fmt.Sprintf("%s: %s is not %s", pathOr(path), jsonKind(v), strings.Join(types, "|"))
	}
	if len(s.Enum) > 0 && v != nil && !slices.ContainsFunc(s.Enum, func(e any) bool { return fmt.Sprint(e) == fmt.Sprint(v) }) {
		return fmt.Sprintf("%s: %v is not one of %v", pathOr(path), v, s.Enum)
	}
	switch x := v.(type) {
	case map[string]any:
		for _, req := range s.Required {
			if _, ok := x[req]; !ok {
				return fmt.Sprintf("%s: required property %q missing", pathOr(path), req)
			}
		}
		for k, val := range x {
			if ps, ok := s.Properties[k]; ok {
				if msg := sp.validate(ps, val, path+"."+k); msg != "" {
					return msg
				}
				continue
			}
			switch ap := s.AdditionalProperties.(type) {
			case bool:
				if !ap {
					return fmt.Sprintf("%s: unexpected property %q", pathOr(path), k)
				}
			case map[string]any:
				b, _ := json.Marshal(ap)
				var as schema
				if json.Unmarshal(b, &as) == nil {
					if msg := sp.validate(&as, val, path+"."+k); msg != "" {
						return msg
					}
				}
			}
		}
	case []any:
		if s.Items != nil {
			for i, it := range x {
				if msg := sp.validate(s.Items, it, fmt.Sprintf("%s[%d]", path, i)); msg != "" {
					return msg
				}
			}
		}
	case string:
		if s.Format == "date-time" && x != "" {
			if _, err := time.Parse(time.RFC3339Nano, x); err != nil {
				return fmt.Sprintf("%s: %q is not a date-time", pathOr(path), x)
			}
		}
		if !utf8.ValidString(x) {
			return fmt.Sprintf("%s: invalid UTF-8", pathOr(path))
		}
	}
	return ""
}

func pathOr(p string) string {
	if p == "" {
		return "body"
	}
	return "body" + p
}

func jsonIs(t string, v any) bool {
	switch t {
	case "null":
		return v == nil
	case "string":
		_, ok := v.(string)
		return ok
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "number":
		_, ok := v.(float64)
		return ok
	case "integer":
		f, ok := v.(float64)
		return ok && f == math.Trunc(f)
	case "array":
		_, ok := v.([]any)
		return ok
	case "object":
		_, ok := v.(map[string]any)
		return ok
	}
	return true
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case float64:
		return "a number"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}
