package httpapi

import (
	"net/http"
	"reflect"
	"strconv"
	"strings"

	"github.com/danielgtaylor/huma/v2"
)

// documentTransportErrors completes the error statuses of the operations Register added
// (those not in before) with what any operation of their shape can answer, whatever its
// registration lists: a key-authenticated one 401 (no or a bad key), 403 (a key without the
// scope, or outside its allowed_cidrs) and 429 (the burst limit); one with a body 400 (a
// body whose framing is broken), 408 (a body too slow), 413 (a body too large) and 422 (a
// malformed body); one with constrained parameters 422; one with an id in its path, or a
// tenant_id, 404. Each added answer takes the operation's own error schema (the envelope;
// Resend's error on the drop-in).
func documentTransportErrors(api huma.API, before map[*huma.Operation]bool) {
	for _, pi := range api.OpenAPI().Paths {
		for _, op := range []*huma.Operation{pi.Get, pi.Post, pi.Put, pi.Patch, pi.Delete} {
			if op == nil || before[op] || op.Hidden {
				continue
			}
			var add []int
			if len(op.Security) > 0 {
				add = append(add, http.StatusUnauthorized, http.StatusForbidden, http.StatusTooManyRequests)
			}
			if op.RequestBody != nil {
				add = append(add, http.StatusBadRequest, http.StatusRequestTimeout, http.StatusRequestEntityTooLarge,
					http.StatusUnprocessableEntity)
			}
			for _, p := range op.Parameters {
				if constrained(p) {
					add = append(add, http.StatusUnprocessableEntity)
				}
				if p.In == "path" || p.Name == "tenant_id" {
					add = append(add, http.StatusNotFound)
				}
			}
			addErrorResponses(op, add)
		}
	}
}

// constrained reports whether Huma validates a parameter beyond its presence: a type
// other than string, bounds, an enum, a pattern or a format.
func constrained(p *huma.Param) bool {
	s := p.Schema
	if s == nil {
		return false
	}
	return (s.Type != "" && s.Type != huma.TypeString) || s.MinLength != nil || s.MaxLength != nil ||
		s.Minimum != nil || s.Maximum != nil || len(s.Enum) > 0 || s.Pattern != "" || s.Format != ""
}

// addErrorResponses documents statuses op does not document yet, like its other errors.
func addErrorResponses(op *huma.Operation, statuses []int) {
	var like *huma.Response
	for n := 400; n < 600 && like == nil; n++ { // the lowest: the same document every time
		if r := op.Responses[strconv.Itoa(n)]; r != nil && r.Content != nil {
			like = r
		}
	}
	if like == nil {
		return
	}
	for _, status := range statuses {
		code := strconv.Itoa(status)
		if _, ok := op.Responses[code]; ok {
			continue
		}
		op.Responses[code] = &huma.Response{Description: http.StatusText(status), Headers: like.Headers, Content: like.Content}
	}
}

// documentNulls marks in the document the answer fields that can be null: Huma writes a
// pointer to a struct as a plain $ref and a map as a plain object (it supports null only
// for scalars and arrays), though encoding/json writes null for a nil one that has no
// omitempty. Such a property of a schema of ours that answers use, and no request body
// does, becomes anyOf [the $ref, null], or an object or null: the document then says what
// the descriptions ("…, or null") already do, and a strict client decodes the answers.
func documentNulls(api huma.API) {
	reg := api.OpenAPI().Components.Schemas
	inResponses, inRequests := map[string]bool{}, map[string]bool{}
	for _, pi := range api.OpenAPI().Paths {
		for _, op := range []*huma.Operation{pi.Get, pi.Post, pi.Put, pi.Patch, pi.Delete} {
			if op == nil {
				continue
			}
			for _, r := range op.Responses {
				for _, mt := range r.Content {
					reachable(reg, mt.Schema, inResponses)
				}
			}
			if op.RequestBody != nil {
				for _, mt := range op.RequestBody.Content {
					reachable(reg, mt.Schema, inRequests)
				}
			}
		}
	}
	for name := range inResponses {
		s := reg.Map()[name]
		t := reg.TypeFromRef(schemaRef + name)
		if inRequests[name] || s == nil || t == nil || !strings.HasPrefix(t.PkgPath(), "github.com/sendoka/sendoka/") {
			continue
		}
		nullableFields(t, s)
	}
}

const schemaRef = "#/components/schemas/"

// reachable adds to seen the names of the component schemas s refers to, directly or not.
func reachable(reg huma.Registry, s *huma.Schema, seen map[string]bool) {
	if s == nil {
		return
	}
	if name, ok := strings.CutPrefix(s.Ref, schemaRef); ok {
		if seen[name] {
			return
		}
		seen[name] = true
		reachable(reg, reg.Map()[name], seen)
		return
	}
	for _, ps := range s.Properties {
		reachable(reg, ps, seen)
	}
	reachable(reg, s.Items, seen)
	if ap, ok := s.AdditionalProperties.(*huma.Schema); ok {
		reachable(reg, ap, seen)
	}
	for _, alt := range append(append([]*huma.Schema{}, s.AnyOf...), s.OneOf...) {
		reachable(reg, alt, seen)
	}
}

// nullableFields marks the properties of s (the schema of struct type t) whose fields
// encoding/json can write as null.
func nullableFields(t reflect.Type, s *huma.Schema) {
	if t.Kind() != reflect.Struct {
		return
	}
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous && f.Type.Kind() == reflect.Struct {
			nullableFields(f.Type, s) // Huma flattens embedded structs
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if !f.IsExported() || name == "-" || strings.Contains(opts, "omitempty") || strings.Contains(opts, "omitzero") {
			continue
		}
		if name == "" {
			name = f.Name
		}
		ps := s.Properties[name]
		if ps == nil {
			continue
		}
		switch {
		case f.Type.Kind() == reflect.Pointer && f.Type.Elem().Kind() == reflect.Struct && ps.Ref != "":
			s.Properties[name] = &huma.Schema{Description: ps.Description,
				AnyOf: []*huma.Schema{{Ref: ps.Ref}, {Type: "null"}}}
		case f.Type.Kind() == reflect.Map && ps.Type == huma.TypeObject:
			ps.Nullable = true
		}
	}
}
