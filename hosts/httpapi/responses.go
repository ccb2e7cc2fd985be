package httpapi

import (
	"net/http"
	"strconv"

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
