package inspector

import (
	"errors"
	"fmt"
	"strings"
)

// Code is a stable, machine-readable error code. Clients switch on it; it
// never changes once published. The server maps each code to an HTTP status.
type Code string

// Application error codes.
const (
	CodeInvalid           Code = "invalid"            // input fails validation; see Fields
	CodeNotFound          Code = "not_found"          // the named record does not exist
	CodeConflict          Code = "conflict"           // the request collides with stored state
	CodeIdempotencyClash  Code = "idempotency_clash"  // same idempotency key, different payload
	CodeIllegalTransition Code = "illegal_transition" // the state machine refuses the step
	CodeReviewPending     Code = "review_pending"     // another review of the complaint is open; settle it first
	CodeTooManyConflicts  Code = "too_many_conflicts" // the device has too many open conflict records; retry once dispatch settles them
	CodeUnauthorized      Code = "unauthorized"       // no valid credentials
	CodeForbidden         Code = "forbidden"          // credentials valid, role not allowed
	CodeTokenExpired      Code = "token_expired"      // access token past its expiry
	CodeRefreshReused     Code = "refresh_reused"     // a spent refresh token was presented
	CodeDeviceRevoked     Code = "device_revoked"     // the device was revoked by an admin
	CodeSessionRevoked    Code = "session_revoked"    // the session was revoked (reuse, password reset)
	CodeSignedOut         Code = "signed_out"         // the user signed out of this session
	CodeAccountDisabled   Code = "account_disabled"   // the user account is disabled
	CodeRateLimited       Code = "rate_limited"       // too many attempts; retry later
	CodeStorageFull       Code = "storage_full"       // the server's disk is full or read-only: writes wait for an operator; reads work
	CodeInternal          Code = "internal"           // anything unexpected; details are logged, not shown
	// CodeServerBehind: the server holds fewer of a device's sequences than
	// it acknowledged to the device (it was restored from a backup since);
	// the device re-sends what it still holds first.
	CodeServerBehind Code = "server_behind"
)

// FieldError names one field at fault and why.
type FieldError struct {
	Field   string `json:"field"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Error is FAVAD's one application error type. Every error meant for a client
// is an *Error; anything else is reported as CodeInternal with no detail.
type Error struct {
	Code    Code
	Message string
	Fields  []FieldError
}

func (e *Error) Error() string {
	if len(e.Fields) == 0 {
		return fmt.Sprintf("%s: %s", e.Code, e.Message)
	}
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Field + ": " + f.Message
	}
	return fmt.Sprintf("%s: %s (%s)", e.Code, e.Message, strings.Join(parts, "; "))
}

// Errorf returns an *Error with the given code and formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err if it is an *Error, and CodeInternal otherwise.
func ErrorCode(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// Problems collects field errors during validation.
type Problems []FieldError

// Add records a problem with field.
func (p *Problems) Add(field, code, message string) {
	*p = append(*p, FieldError{Field: field, Code: code, Message: message})
}

// Err returns nil if no problem was recorded, and a CodeInvalid *Error otherwise.
func (p Problems) Err() error {
	if len(p) == 0 {
		return nil
	}
	return &Error{Code: CodeInvalid, Message: "the request has invalid fields", Fields: p}
}
