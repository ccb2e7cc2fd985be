package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"
)

// codeStatus is the docs' table of error codes and their HTTP statuses (the developer docs'
// "Common codes" and the README's "Errors"): an error answer must carry one of these codes
// with its status.
var codeStatus = map[string]int{
	"UNAUTHORIZED": 401, "INSUFFICIENT_SCOPE": 403, "IP_NOT_ALLOWED": 403, "TENANT_FORBIDDEN": 403,
	"DOMAIN_NOT_ALLOWED_FOR_KEY": 403, "NOT_FOUND": 404, "IDEMPOTENCY_MISMATCH": 409, "IDEMPOTENCY_IN_FLIGHT": 409,
	"NOT_SCHEDULED": 409, "CONFLICT": 409, "ATTACHMENT_TOO_LARGE": 413, "AUDIENCE_TOO_LARGE": 413,
	"VALIDATION_ERROR": 422, "ALL_SUPPRESSED": 422, "TEMPLATE_MISSING_VARIABLES": 422, "RATE_LIMITED": 429,
	"USAGE_LIMIT_EXCEEDED": 429, "WARMUP_LIMIT_EXCEEDED": 429, "INTERNAL_ERROR": 500, "SERVICE_UNAVAILABLE": 503,
	// The HTTP layer's own (README, "Errors").
	"INVALID_REQUEST": 400, "METHOD_NOT_ALLOWED": 405, "REQUEST_TIMEOUT": 408, "REQUEST_TOO_LARGE": 413, "NOT_READY": 503,
}

var requestIDPattern = regexp.MustCompile(`^req_[0-9A-HJKMNP-TV-Z]{26}$`)

// goStatuses are the answers Go's net/http writes itself, before any handler, to a request
// that is malformed as HTTP (README, "Limits and malformed requests"): plain text, no
// request id, and the connection closed.
var goStatuses = map[int]bool{400: true, 431: true, 501: true, 505: true}

// judge checks answers against the document and the docs' rules.
type judge struct {
	sp *spec
	// hang is how long an answer may take: the server's write timeout and a margin.
	hang time.Duration
}

// check returns what is wrong with res as the answer to r ("" entries are never returned).
func (j *judge) check(r *request, res *result) []string {
	var v []string
	if res.err != nil {
		if res.timedOut {
			return []string{fmt.Sprintf("no answer within %s", j.hang)}
		}
		return []string{"the connection closed without an answer: " + res.err.Error()}
	}
	if r.expect != 0 && res.status != r.expect {
		v = append(v, fmt.Sprintf("status %d, want %d", res.status, r.expect))
	}
	rid := res.header.Get("X-Request-Id")
	if rid == "" && goStatuses[res.status] && !strings.Contains(res.header.Get("Content-Type"), "json") {
		// net/http's own answer: only for requests that are malformed as HTTP.
		if !r.httpLevel {
			v = append(v, fmt.Sprintf("answered %d by net/http, not by the API, to well-formed HTTP", res.status))
		}
		return v
	}
	if !requestIDPattern.MatchString(rid) {
		v = append(v, fmt.Sprintf("X-Request-Id %q", clip(rid, 60)))
	}
	op := r.op
	if op != nil && r.method != op.Method { // methods are case-sensitive: "get" is not GET
		op = nil // another method on the path: no operation's documentation applies
		if res.status < 400 && !(r.method == http.MethodHead && j.hasGet(r.op.Path)) {
			v = append(v, fmt.Sprintf("method %s accepted with %d", clip(r.method, 20), res.status))
		}
	}
	if op != nil && !op.documented(res.status) {
		v = append(v, fmt.Sprintf("status %d is not documented for %s %s", res.status, op.Method, op.Path))
	}
	if res.status >= 500 && !(res.status == 503 && op != nil && op.documented(503)) {
		v = append(v, fmt.Sprintf("server error %d", res.status))
	}
	if res.status < 300 && bytes.Contains(res.body, []byte(`"INTERNAL_ERROR"`)) {
		v = append(v, fmt.Sprintf("a %d answer carries INTERNAL_ERROR (a batch row's error, say)", res.status))
	}
	if res.status < 400 && op != nil && r.method != http.MethodHead {
		if d := op.responseFor(res.status); d != nil && d.Schema != nil {
			var body any
			if err := json.Unmarshal(res.body, &body); err != nil {
				v = append(v, fmt.Sprintf("%d body is not JSON: %q", res.status, clip(string(res.body), 80)))
			} else if msg := j.sp.validate(d.Schema, body, ""); msg != "" {
				v = append(v, fmt.Sprintf("%d does not match its schema: %s", res.status, msg))
			}
		}
	}
	if res.status < 400 || r.method == http.MethodHead {
		return v
	}
	return append(v, j.errorBody(r, op, res)...)
}

// errorBody checks an error answer's body: the operation's documented schema (the docs'
// envelope, or Resend's error for the drop-in), and for the envelope its rules.
func (j *judge) errorBody(r *request, op *operation, res *result) []string {
	var v []string
	if ct := res.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		v = append(v, fmt.Sprintf("error %d with Content-Type %q", res.status, ct))
	}
	var body any
	if err := json.Unmarshal(res.body, &body); err != nil {
		return append(v, fmt.Sprintf("error %d body is not JSON: %q", res.status, clip(string(res.body), 80)))
	}
	resend := strings.HasPrefix(requestPath(r), "/resend/") || requestPath(r) == "/resend"
	var s *schema
	if op != nil {
		if d := op.responseFor(res.status); d != nil {
			s = d.Schema
		}
	}
	if s == nil {
		name := "ErrorResponse"
		if resend {
			name = "ResendError"
		}
		s = j.sp.schemas[name]
	}
	if msg := j.sp.validate(s, body, ""); msg != "" {
		return append(v, fmt.Sprintf("error %d does not match its schema: %s", res.status, msg))
	}
	if resend {
		if m, _ := body.(map[string]any); m != nil {
			if sc, _ := m["statusCode"].(float64); int(sc) != res.status {
				v = append(v, fmt.Sprintf("statusCode %v with status %d", m["statusCode"], res.status))
			}
		}
		return v
	}
	var env struct {
		Error struct {
			Type      string            `json:"type"`
			Code      string            `json:"code"`
			Message   string            `json:"message"`
			RequestID string            `json:"request_id"`
			Errors    []json.RawMessage `json:"errors"`
		} `json:"error"`
	}
	if err := json.Unmarshal(res.body, &env); err != nil {
		return append(v, "not the envelope: "+err.Error())
	}
	e := env.Error
	if want, ok := codeStatus[e.Code]; !ok {
		v = append(v, fmt.Sprintf("code %q is not in the docs' table", clip(e.Code, 40)))
	} else if want != res.status {
		v = append(v, fmt.Sprintf("code %s with status %d (the docs say %d)", e.Code, res.status, want))
	}
	if e.RequestID != res.header.Get("X-Request-Id") {
		v = append(v, fmt.Sprintf("request_id %q is not X-Request-Id %q", clip(e.RequestID, 40), clip(res.header.Get("X-Request-Id"), 40)))
	}
	if e.Message == "" {
		v = append(v, "empty message")
	}
	if e.Code == "VALIDATION_ERROR" && len(e.Errors) == 0 {
		v = append(v, "VALIDATION_ERROR without errors[]")
	}
	if res.status == 503 && res.header.Get("Retry-After") == "" {
		v = append(v, "503 without Retry-After")
	}
	return v
}

// hasGet reports whether the path has a GET operation (which HEAD gets too).
func (j *judge) hasGet(path string) bool {
	for _, op := range j.sp.ops {
		if op.Path == path && op.Method == http.MethodGet {
			return true
		}
	}
	return false
}

// requestPath is the path of r's request-target, without its query.
func requestPath(r *request) string {
	p, _, _ := strings.Cut(r.target, "?")
	return p
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
