package client

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Sentinel errors. Sync and the other network calls wrap them together with
// the server's *APIError, so both errors.Is and errors.As work.
var (
	// ErrUpgradeRequired is returned when the server no longer speaks this
	// client's protocol (HTTP 426, action "upgrade"). Nothing was applied
	// and the queue is kept.
	ErrUpgradeRequired = errors.New("client: the server requires a newer app; the queued work is kept")
	// ErrWiped is returned when the server told the device to wipe (action
	// "wipe": signed out or device revoked). The pulled records, the cursor
	// and the tokens were dropped; the queue too if the device was revoked.
	ErrWiped = errors.New("client: the server told the device to wipe its data")
	// ErrSignInRefused is returned when the configured credentials are
	// refused at sign-in.
	ErrSignInRefused = errors.New("client: sign-in refused")
	// ErrPayloadTooLarge is Enqueue's answer to a payload over MaxPayloadSize: nothing is queued.
	ErrPayloadTooLarge = fmt.Errorf("client: the payload is larger than %d bytes", MaxPayloadSize)
	// ErrIncompleteAnswer is returned when a push response lacks a result for
	// a mutation that was sent; the unanswered mutations stay queued.
	ErrIncompleteAnswer = errors.New("client: the server did not answer every mutation of a push")
	// ErrSchemaTooNew is returned by Open for a file written by a newer client.
	ErrSchemaTooNew = errors.New("client: the local file was written by a newer client")
	// ErrOtherUser is returned by Open when the file belongs to another
	// user and still holds their unsent work.
	ErrOtherUser = errors.New("client: the device holds another user's unsent work")
	// ErrLocked is returned by Open when another Client holds the file.
	ErrLocked = errors.New("client: the local file is in use by another client")
)

// Server error codes and actions the client acts on (server/errors.go).
const (
	ActionRefresh = "refresh"
	ActionSignIn  = "sign_in"
	ActionWipe    = "wipe"
	ActionUpgrade = "upgrade"

	CodeDeviceRevoked = "device_revoked"
	CodeTokenExpired  = "token_expired"
	CodeTooLarge      = "too_large"
	// CodeIdempotencyClash refuses a mutation id or device sequence already
	// used for other content.
	CodeIdempotencyClash = "idempotency_clash"
	// CodeServerBehind: the server lost work it acknowledged to this device
	// (restored from a backup); the client re-sends its ledger.
	CodeServerBehind = "server_behind"
	// CodeTooManyConflicts is a push result's code when the server deferred
	// a mutation (StatusDeferred): the device has too many open conflict
	// records waiting for dispatch.
	CodeTooManyConflicts = "too_many_conflicts"
)

// FieldError names one field the server found at fault.
type FieldError struct {
	Field   string `json:"field"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// APIError is a non-2xx answer from the server, read from its
// application/problem+json body when it has one.
type APIError struct {
	Status    int          `json:"status"`
	Code      string       `json:"code"`
	Action    string       `json:"action,omitempty"`
	Detail    string       `json:"detail"`
	RequestID string       `json:"request_id,omitempty"`
	Fields    []FieldError `json:"errors,omitempty"`
	// LastDeviceSeq is, for server_behind, the highest device sequence the
	// server holds for this device.
	LastDeviceSeq *uint64 `json:"last_device_seq,omitempty"`
	// RetryAfter is the server's Retry-After, if it sent one.
	RetryAfter time.Duration `json:"-"`
}

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "server: %d", e.Status)
	if e.Code != "" {
		fmt.Fprintf(&b, " %s", e.Code)
	}
	if e.Detail != "" {
		fmt.Fprintf(&b, ": %s", e.Detail)
	}
	for i, f := range e.Fields {
		sep := "; "
		if i == 0 {
			sep = " ("
		}
		fmt.Fprintf(&b, "%s%s: %s", sep, f.Field, f.Message)
		if i == len(e.Fields)-1 {
			b.WriteString(")")
		}
	}
	if e.RequestID != "" {
		fmt.Fprintf(&b, " [request %s]", e.RequestID)
	}
	return b.String()
}
