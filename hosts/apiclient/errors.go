package apiclient

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/sendoka/sendoka/hosts/httpapi"
	"github.com/sendoka/sendoka/sendoka"
)

// decodeError turns an error answer into the core's error: the envelope's code, message and
// field errors, Retry-After in RetryAfterSeconds, and the HTTP side in a *ResponseError.
// An answer without the envelope (a proxy's page, say) gets the code its status means.
func decodeError(res *response, now time.Time) *sendoka.Error {
	var env httpapi.ErrorResponse
	re := &ResponseError{StatusCode: res.status, RequestID: res.header.Get("X-Request-Id")}
	e := &sendoka.Error{Err: re}
	if json.Unmarshal(res.body, &env) == nil && env.Error.Code != "" {
		e.Code = sendoka.Code(env.Error.Code)
		e.Message = env.Error.Message
		re.Type = env.Error.Type
		if env.Error.RequestID != "" {
			re.RequestID = env.Error.RequestID
		}
		for _, f := range env.Error.Errors {
			e.Fields = append(e.Fields, sendoka.FieldError{Path: fieldPath(f.Path), Code: f.Code, Message: f.Message})
		}
	} else {
		e.Code = statusCode(res.status)
		e.Message = http.StatusText(res.status)
	}
	if d := parseRetryAfter(res.header.Get("Retry-After"), now); d > 0 {
		e.RetryAfterSeconds = int((d + time.Second - 1) / time.Second)
		e.Retry = d
	}
	return e
}

// fieldPath gives a field error's path the core's types: JSON numbers (array indexes)
// become ints, as in ["to", 3].
func fieldPath(p []any) []any {
	out := make([]any, len(p))
	for i, v := range p {
		if f, ok := v.(float64); ok && f == float64(int(f)) {
			out[i] = int(f)
			continue
		}
		out[i] = v
	}
	return out
}

// statusCode is the code of an error answer that has no envelope.
func statusCode(status int) sendoka.Code {
	switch {
	case status == http.StatusUnauthorized:
		return sendoka.CodeUnauthorized
	case status == http.StatusForbidden:
		return sendoka.CodeInsufficientScope
	case status == http.StatusNotFound:
		return sendoka.CodeNotFound
	case status == http.StatusConflict:
		return sendoka.CodeConflict
	case status == http.StatusUnprocessableEntity:
		return sendoka.CodeValidation
	case status == http.StatusTooManyRequests:
		return sendoka.CodeRateLimited
	case status == http.StatusBadGateway, status == http.StatusServiceUnavailable, status == http.StatusGatewayTimeout:
		return sendoka.CodeUnavailable
	case status >= 500:
		return sendoka.CodeInternal
	}
	return httpapi.CodeInvalidRequest
}
