package sendoka

import (
	"errors"
	"fmt"
	"time"
)

// Code is the stable, documented error code of a failure. The HTTP host maps each code to
// a status and the documented envelope; the queue maps codes to retry, cancel or snooze.
type Code string

// The documented error codes, plus a few internal ones used between the core and the
// queue (the Provider* codes never reach an API response).
const (
	CodeUnauthorized             Code = "UNAUTHORIZED"
	CodeInsufficientScope        Code = "INSUFFICIENT_SCOPE"
	CodeIPNotAllowed             Code = "IP_NOT_ALLOWED"
	CodeTenantForbidden          Code = "TENANT_FORBIDDEN"
	CodeDomainNotAllowedForKey   Code = "DOMAIN_NOT_ALLOWED_FOR_KEY"
	CodeValidation               Code = "VALIDATION_ERROR"
	CodeIdempotencyMismatch      Code = "IDEMPOTENCY_MISMATCH"
	CodeIdempotencyInFlight      Code = "IDEMPOTENCY_IN_FLIGHT"
	CodeAllSuppressed            Code = "ALL_SUPPRESSED"
	CodeAttachmentTooLarge       Code = "ATTACHMENT_TOO_LARGE"
	CodeAudienceTooLarge         Code = "AUDIENCE_TOO_LARGE"
	CodeTemplateMissingVariables Code = "TEMPLATE_MISSING_VARIABLES"
	CodeNotScheduled             Code = "NOT_SCHEDULED"
	CodeRateLimited              Code = "RATE_LIMITED"
	CodeUsageLimitExceeded       Code = "USAGE_LIMIT_EXCEEDED"
	CodeWarmupLimitExceeded      Code = "WARMUP_LIMIT_EXCEEDED"
	CodeNotFound                 Code = "NOT_FOUND"
	CodeInternal                 Code = "INTERNAL_ERROR"
	// CodeUnavailable: the database (or another dependency) did not answer in time or
	// cannot be reached. Nothing was written; retry after RetryAfterSeconds (HTTP 503 with
	// Retry-After).
	CodeUnavailable Code = "SERVICE_UNAVAILABLE"

	// CodeConflict is a write that lost to a concurrent one (for example a unique key).
	CodeConflict Code = "CONFLICT"
	// CodeProviderThrottled: the provider asked us to slow down; retry later, do not fail.
	CodeProviderThrottled Code = "PROVIDER_THROTTLED"
	// CodeProviderTransient: a retryable provider or network failure.
	CodeProviderTransient Code = "PROVIDER_TRANSIENT"
)

// Codes lists every code, in documentation order.
var Codes = []Code{
	CodeUnauthorized, CodeInsufficientScope, CodeIPNotAllowed, CodeTenantForbidden,
	CodeDomainNotAllowedForKey, CodeValidation, CodeIdempotencyMismatch, CodeIdempotencyInFlight,
	CodeAllSuppressed, CodeAttachmentTooLarge, CodeAudienceTooLarge, CodeTemplateMissingVariables,
	CodeNotScheduled, CodeRateLimited, CodeUsageLimitExceeded, CodeWarmupLimitExceeded,
	CodeNotFound, CodeInternal, CodeUnavailable, CodeConflict, CodeProviderThrottled, CodeProviderTransient,
}

// FieldError is one problem with one field of a request. Path locates the field: object
// keys are strings, array indexes are ints, as in ["to", 3].
type FieldError struct {
	Path    []any  `json:"path"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Field error codes used in FieldError.Code.
const (
	FieldInvalidType = "invalid_type"
	// FieldRequired is the docs' code for a missing field: {"code":"invalid_type","message":"Required"}.
	FieldRequired      = "invalid_type"
	FieldInvalid       = "invalid"
	FieldTooBig        = "too_big"
	FieldTooSmall      = "too_small"
	FieldUnrecognized  = "unrecognized_keys"
	FieldInvalidString = "invalid_string"
)

// Error is the core's one error type. Code says what kind of failure it is; Message is safe
// to show to the caller; Fields lists per-field problems for CodeValidation; Err is the
// underlying cause, which is logged but never shown.
type Error struct {
	Code    Code
	Message string
	Fields  []FieldError
	// RetryAfterSeconds, when set, hints how long to wait before trying again (throttling),
	// in whole seconds for an HTTP Retry-After header.
	RetryAfterSeconds int
	// Retry, when set, is the same hint at full precision, for the queue: a delivery's next
	// attempt runs exactly then.
	Retry time.Duration
	// Limit, for CodeUsageLimitExceeded and CodeWarmupLimitExceeded, is the limit that was
	// reached (the month's or the day's), for rate-limit headers; LimitScope says whose it
	// is: "org", "tenant", "domain" or "sender".
	Limit      int64
	LimitScope string
	Err        error
}

// Error implements error.
func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Errorf builds an *Error with a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// NotFound is the error every lookup returns for an id that is unknown in the caller's scope.
func NotFound(what string) *Error {
	return &Error{Code: CodeNotFound, Message: what + " not found"}
}

// Internal wraps an unexpected error. Its message never reveals the cause.
func Internal(err error) *Error {
	return &Error{Code: CodeInternal, Message: "internal error", Err: err}
}

// ErrorCode returns the Code of err: the code of the first *Error in its chain, CodeInternal
// for any other non-nil error, and "" for nil.
func ErrorCode(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// AsError returns err as an *Error, wrapping anything else as CodeInternal. It returns a nil
// *Error for nil: do not return its result as an error without checking err first.
func AsError(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return Internal(err)
}

// Validation collects field errors while a request is checked.
type Validation struct {
	Fields []FieldError
}

// Add records a problem at path.
func (v *Validation) Add(code, message string, path ...any) {
	v.Fields = append(v.Fields, FieldError{Path: path, Code: code, Message: message})
}

// Err returns a CodeValidation *Error carrying every recorded problem, or nil if none.
// The message is the first problem's, prefixed with its field.
func (v *Validation) Err() error {
	if len(v.Fields) == 0 {
		return nil
	}
	f := v.Fields[0]
	msg := f.Message
	if len(f.Path) > 0 {
		msg = fmt.Sprintf("%v: %s", f.Path[0], f.Message)
	}
	return &Error{Code: CodeValidation, Message: msg, Fields: v.Fields}
}
