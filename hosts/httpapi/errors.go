package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/sendoka/sendoka/sendoka"
)

// Transport codes: failures the HTTP layer finds before a request reaches the core. They
// complete the core's codes (sendoka.Codes) in the envelope's code field.
const (
	// CodeMethodNotAllowed: the path exists but not for this method (405, with Allow).
	CodeMethodNotAllowed sendoka.Code = "METHOD_NOT_ALLOWED"
	// CodeRequestTooLarge: the request body is over Options.MaxBodyBytes (413).
	CodeRequestTooLarge sendoka.Code = "REQUEST_TOO_LARGE"
	// CodeRequestTimeout: the client did not send its body in time (408).
	CodeRequestTimeout sendoka.Code = "REQUEST_TIMEOUT"
	// CodeInvalidRequest: any other 4xx the HTTP layer produces (for example 406).
	CodeInvalidRequest sendoka.Code = "INVALID_REQUEST"
	// CodeNotReady: /readyz found a dependency down (503).
	CodeNotReady sendoka.Code = "NOT_READY"
)

// The envelope's error types: a coarse class of the code, for clients that branch on it.
const (
	TypeValidation     = "validation_error"
	TypeAuthentication = "authentication_error"
	TypePermission     = "permission_error"
	TypeNotFound       = "not_found_error"
	TypeConflict       = "conflict_error"
	TypeRateLimit      = "rate_limit_error"
	TypeInvalidRequest = "invalid_request_error"
	TypeAPI            = "api_error"
)

// FieldInvalidJSON is the field error code of a body that is not JSON at all.
const FieldInvalidJSON = "invalid_json"

type codeInfo struct {
	status int
	typ    string
}

// codeTable is THE mapping from error codes to HTTP: the docs' "Common codes" table plus
// the core's internal codes and this package's transport codes. Anything not listed is a
// 500 INTERNAL_ERROR. Only a 500 is masked (envelope): SERVICE_UNAVAILABLE, a database that
// did not answer in time or cannot be reached, keeps its code and gets a Retry-After.
var codeTable = map[sendoka.Code]codeInfo{
	sendoka.CodeUnauthorized:             {http.StatusUnauthorized, TypeAuthentication},
	sendoka.CodeInsufficientScope:        {http.StatusForbidden, TypePermission},
	sendoka.CodeIPNotAllowed:             {http.StatusForbidden, TypePermission},
	sendoka.CodeTenantForbidden:          {http.StatusForbidden, TypePermission},
	sendoka.CodeDomainNotAllowedForKey:   {http.StatusForbidden, TypePermission},
	sendoka.CodeValidation:               {http.StatusUnprocessableEntity, TypeValidation},
	sendoka.CodeIdempotencyMismatch:      {http.StatusConflict, TypeConflict},
	sendoka.CodeIdempotencyInFlight:      {http.StatusConflict, TypeConflict},
	sendoka.CodeAllSuppressed:            {http.StatusUnprocessableEntity, TypeInvalidRequest},
	sendoka.CodeAttachmentTooLarge:       {http.StatusRequestEntityTooLarge, TypeInvalidRequest},
	sendoka.CodeAudienceTooLarge:         {http.StatusRequestEntityTooLarge, TypeInvalidRequest},
	sendoka.CodeTemplateMissingVariables: {http.StatusUnprocessableEntity, TypeValidation},
	sendoka.CodeNotScheduled:             {http.StatusConflict, TypeConflict},
	sendoka.CodeRateLimited:              {http.StatusTooManyRequests, TypeRateLimit},
	sendoka.CodeUsageLimitExceeded:       {http.StatusTooManyRequests, TypeRateLimit},
	sendoka.CodeWarmupLimitExceeded:      {http.StatusTooManyRequests, TypeRateLimit},
	sendoka.CodeNotFound:                 {http.StatusNotFound, TypeNotFound},
	sendoka.CodeInternal:                 {http.StatusInternalServerError, TypeAPI},
	sendoka.CodeUnavailable:              {http.StatusServiceUnavailable, TypeAPI}, // with Retry-After
	sendoka.CodeConflict:                 {http.StatusConflict, TypeConflict},
	// The provider codes are between the core and the queue; one reaching a response is a bug.
	sendoka.CodeProviderThrottled: {http.StatusInternalServerError, TypeAPI},
	sendoka.CodeProviderTransient: {http.StatusInternalServerError, TypeAPI},

	CodeMethodNotAllowed: {http.StatusMethodNotAllowed, TypeInvalidRequest},
	CodeRequestTooLarge:  {http.StatusRequestEntityTooLarge, TypeInvalidRequest},
	CodeRequestTimeout:   {http.StatusRequestTimeout, TypeInvalidRequest},
	CodeInvalidRequest:   {http.StatusBadRequest, TypeInvalidRequest},
	CodeNotReady:         {http.StatusServiceUnavailable, TypeAPI},
}

// ErrorStatus returns the HTTP status and envelope type of an error code. Unknown codes are
// 500 "api_error".
func ErrorStatus(code sendoka.Code) (status int, typ string) {
	if ci, ok := codeTable[code]; ok {
		return ci.status, ci.typ
	}
	return http.StatusInternalServerError, TypeAPI
}

// ErrorResponse is the body of every error response.
type ErrorResponse struct {
	Error ErrorObject `json:"error"`
}

// ErrorObject describes one failed request.
type ErrorObject struct {
	Type      string       `json:"type" enum:"validation_error,authentication_error,permission_error,not_found_error,conflict_error,rate_limit_error,invalid_request_error,api_error" doc:"Coarse class of the error"`
	Code      string       `json:"code" doc:"Stable code for programmatic handling" example:"VALIDATION_ERROR"`
	Message   string       `json:"message" doc:"Human-readable explanation" example:"subject: Required"`
	RequestID string       `json:"request_id" doc:"Also in the X-Request-Id header; quote it in support tickets" example:"req_01HN8Z6Q4V3K2J1M0N9P8Q7R6S"`
	Errors    []FieldError `json:"errors" nullable:"false" doc:"Per-field problems of a VALIDATION_ERROR; empty otherwise"`
}

// FieldError is one problem with one field of the request.
type FieldError struct {
	Path    []any  `json:"path" nullable:"false" doc:"Where the problem is: object keys as strings, array indexes as numbers" example:"[\"to\",0]"`
	Code    string `json:"code" doc:"What is wrong" example:"invalid_string"`
	Message string `json:"message" example:"invalid email address"`
}

// internalMessage is the only message a 5xx ever carries: causes are logged, never shown.
const internalMessage = "An internal error occurred. Retry with backoff, and quote the request id if it persists."

// envelope turns a core error into its status and response body. The message of a 5xx is
// always internalMessage, and an unknown code becomes INTERNAL_ERROR.
func envelope(e *sendoka.Error, requestID string) (int, *ErrorResponse) {
	status, typ := ErrorStatus(e.Code)
	code, msg := string(e.Code), e.Message
	if _, known := codeTable[e.Code]; !known || status == http.StatusInternalServerError {
		code, msg = string(sendoka.CodeInternal), internalMessage
	}
	if msg == "" {
		msg = http.StatusText(status)
	}
	fields := make([]FieldError, 0, len(e.Fields))
	if status < 500 {
		for _, f := range e.Fields {
			path := f.Path
			if path == nil {
				path = []any{}
			}
			fields = append(fields, FieldError{Path: path, Code: f.Code, Message: f.Message})
		}
	}
	return status, &ErrorResponse{Error: ErrorObject{
		Type: typ, Code: code, Message: msg, RequestID: requestID, Errors: fields,
	}}
}

// writeEnvelope writes an error response straight to w, for the paths Huma never sees
// (unknown routes, panics, health checks).
func writeEnvelope(w http.ResponseWriter, e *sendoka.Error, requestID string) {
	status, body := envelope(e, requestID)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Del("Content-Length")
	if e.Code == sendoka.CodeUnauthorized {
		h.Set("WWW-Authenticate", `Bearer realm="sendoka"`)
	}
	if secs := retryAfter(e); secs > 0 {
		h.Set("Retry-After", strconv.Itoa(secs))
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

// defaultUnavailableRetry is the Retry-After of a SERVICE_UNAVAILABLE that names no hint.
const defaultUnavailableRetry = 1

// retryAfter is the Retry-After header of e in seconds, 0 for none. SERVICE_UNAVAILABLE
// always has one.
func retryAfter(e *sendoka.Error) int {
	if e.RetryAfterSeconds > 0 {
		return e.RetryAfterSeconds
	}
	if e.Code == sendoka.CodeUnavailable {
		return defaultUnavailableRetry
	}
	return 0
}

// statusError is what the operations return to Huma for a failure. Huma only uses its
// status; the envelope middleware writes the body from the request's state.
type statusError struct {
	err    *sendoka.Error
	status int
}

func (e *statusError) Error() string  { return e.err.Error() }
func (e *statusError) GetStatus() int { return e.status }
func (e *statusError) Unwrap() error  { return e.err }

// humaError is the part of Huma's error model (RFC 9457 plus errors[]) the conversion reads.
// It is decoded from the JSON Huma wrote, so it works whatever Huma's error type is.
type humaError struct {
	Status int    `json:"status"`
	Title  string `json:"title"`
	Detail string `json:"detail"`
	Errors []struct {
		Message  string `json:"message"`
		Location string `json:"location"`
	} `json:"errors"`
}

// fromHuma converts an error response Huma produced itself (bad JSON, schema validation,
// body too large...) into a core error. Its 400 for unparseable JSON and 415 for a foreign
// Content-Type become VALIDATION_ERROR (422), as the docs promise for every malformed body.
func fromHuma(status int, body []byte) *sendoka.Error {
	he := decodeHumaError(body) // best effort: the status alone still gives a sound envelope
	switch status {
	case http.StatusBadRequest:
		if strings.Contains(he.Detail, "body is required") {
			e := &sendoka.Error{Code: sendoka.CodeValidation, Message: "Request body is required"}
			e.Fields = []sendoka.FieldError{{Path: []any{}, Code: sendoka.FieldRequired, Message: "Required"}}
			return e
		}
		if len(he.Errors) == 0 || he.Errors[0].Location == "body" {
			msg := "malformed JSON"
			if len(he.Errors) > 0 && he.Errors[0].Message != "" {
				msg = he.Errors[0].Message
			}
			return &sendoka.Error{Code: sendoka.CodeValidation, Message: "Request body is not valid JSON",
				Fields: []sendoka.FieldError{{Path: []any{}, Code: FieldInvalidJSON, Message: msg}}}
		}
		return validationFromHuma(he)
	case http.StatusUnsupportedMediaType:
		return &sendoka.Error{Code: sendoka.CodeValidation, Message: "Content-Type must be application/json",
			Fields: []sendoka.FieldError{{Path: []any{}, Code: sendoka.FieldInvalid, Message: "Content-Type must be application/json"}}}
	case http.StatusUnprocessableEntity:
		return validationFromHuma(he)
	case http.StatusRequestEntityTooLarge:
		return &sendoka.Error{Code: CodeRequestTooLarge, Message: "Request body is too large"}
	case http.StatusRequestTimeout:
		return &sendoka.Error{Code: CodeRequestTimeout, Message: "Timed out reading the request body"}
	case http.StatusUnauthorized:
		return &sendoka.Error{Code: sendoka.CodeUnauthorized, Message: "invalid API key"}
	case http.StatusForbidden:
		return &sendoka.Error{Code: sendoka.CodeInsufficientScope, Message: he.Detail}
	case http.StatusNotFound:
		return sendoka.NotFound("resource")
	case http.StatusMethodNotAllowed:
		return &sendoka.Error{Code: CodeMethodNotAllowed, Message: "Method not allowed"}
	case http.StatusConflict:
		return &sendoka.Error{Code: sendoka.CodeConflict, Message: he.Detail}
	case http.StatusTooManyRequests:
		return &sendoka.Error{Code: sendoka.CodeRateLimited, Message: he.Detail}
	}
	if status >= 400 && status < 500 {
		return &sendoka.Error{Code: CodeInvalidRequest, Message: http.StatusText(status)}
	}
	if status == http.StatusInternalServerError && he.Detail == humaBodyReadFailed {
		// The body stopped short of its framing (broken chunked encoding, a client that hung
		// up mid-body): the request is malformed, nothing failed here.
		return &sendoka.Error{Code: CodeInvalidRequest, Message: "Request body could not be read: its framing is broken or it ended early"}
	}
	return sendoka.Internal(fmt.Errorf("huma error %d: %s", status, he.Detail))
}

// humaBodyReadFailed is Huma's detail when reading a request body fails other than by
// timing out (a 500 in Huma's eyes).
const humaBodyReadFailed = "cannot read request body"

// decodeHumaError reads Huma's error model from its JSON by tokens, skipping each error's
// "value": Huma echoes the request's value at the error's location, which can be nested
// deeper than json.Unmarshal takes (10,000 levels), and the envelope never shows it.
func decodeHumaError(body []byte) humaError {
	var he humaError
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return he
	}
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return he
		}
		switch key {
		case "status":
			err = dec.Decode(&he.Status)
		case "title":
			err = dec.Decode(&he.Title)
		case "detail":
			err = dec.Decode(&he.Detail)
		case "errors":
			err = decodeHumaDetails(dec, &he)
		default:
			err = skipAny(dec)
		}
		if err != nil {
			return he
		}
	}
	return he
}

// decodeHumaDetails reads Huma's errors array: the message and location of each.
func decodeHumaDetails(dec *json.Decoder, he *humaError) error {
	if tok, err := dec.Token(); err != nil || tok != json.Delim('[') {
		return fmt.Errorf("errors: not an array")
	}
	for dec.More() {
		if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
			return fmt.Errorf("errors: not an object")
		}
		var d struct{ Message, Location string }
		for dec.More() {
			key, err := dec.Token()
			if err != nil {
				return err
			}
			switch key {
			case "message":
				err = dec.Decode(&d.Message)
			case "location":
				err = dec.Decode(&d.Location)
			default:
				err = skipAny(dec)
			}
			if err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil { // '}'
			return err
		}
		he.Errors = append(he.Errors, struct {
			Message  string `json:"message"`
			Location string `json:"location"`
		}{d.Message, d.Location})
	}
	_, err := dec.Token() // ']'
	return err
}

// skipAny reads one value of any kind, however deep, without decoding it.
func skipAny(dec *json.Decoder) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if tok == json.Delim('[') || tok == json.Delim('{') {
		return skipValue(dec)
	}
	return nil
}

// validationFromHuma converts Huma's schema validation errors into field errors.
func validationFromHuma(he humaError) *sendoka.Error {
	var v sendoka.Validation
	for _, d := range he.Errors {
		path := parseLocation(d.Location)
		code, msg := classify(d.Message)
		if prop, ok := requiredProperty(d.Message); ok {
			path = append(path, prop)
		}
		v.Add(code, msg, path...)
	}
	if err := v.Err(); err != nil {
		return err.(*sendoka.Error)
	}
	return &sendoka.Error{Code: sendoka.CodeValidation, Message: "validation failed"}
}

// parseLocation turns Huma's "body.to[3]" (or "query.limit", "path.id") into ["to", 3]:
// the location's first segment names the request part and is dropped, so paths look like
// the core's own.
func parseLocation(loc string) []any {
	path := []any{}
	first := true
	for seg := range strings.SplitSeq(loc, ".") {
		name, rest, _ := strings.Cut(seg, "[")
		if first {
			first = false
		} else if name != "" {
			path = append(path, name)
		}
		for rest != "" {
			idx, after, ok := strings.Cut(rest, "]")
			if !ok {
				break
			}
			if n, err := strconv.Atoi(idx); err == nil {
				path = append(path, n)
			} else {
				path = append(path, idx)
			}
			rest = strings.TrimPrefix(after, "[")
		}
	}
	return path
}

// requiredProperty extracts X from Huma's "expected required property X to be present",
// which Huma reports at the location of the enclosing object.
func requiredProperty(msg string) (string, bool) {
	rest, ok := strings.CutPrefix(msg, "expected required property ")
	if !ok {
		return "", false
	}
	prop, ok := strings.CutSuffix(rest, " to be present")
	return prop, ok
}

// classify maps one of Huma's validation messages to a field error code and the message
// shown to the caller.
func classify(msg string) (code, shown string) {
	switch {
	case strings.HasPrefix(msg, "expected required property "):
		return sendoka.FieldRequired, "Required"
	case msg == "unexpected property":
		return sendoka.FieldUnrecognized, "Unknown field"
	case msg == "expected string", msg == "expected array", msg == "expected object",
		msg == "expected number", msg == "expected integer", msg == "expected boolean",
		strings.HasPrefix(msg, "invalid integer"), strings.HasPrefix(msg, "invalid float"),
		strings.HasPrefix(msg, "invalid bool"):
		return sendoka.FieldInvalidType, msg
	case strings.Contains(msg, "<="), strings.Contains(msg, "< "), strings.Contains(msg, "at most"):
		return sendoka.FieldTooBig, msg
	case strings.Contains(msg, ">="), strings.Contains(msg, "> "), strings.Contains(msg, "at least"):
		return sendoka.FieldTooSmall, msg
	case strings.HasPrefix(msg, "expected string to "):
		return sendoka.FieldInvalidString, msg
	}
	return sendoka.FieldInvalid, msg
}
