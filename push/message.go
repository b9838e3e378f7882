package push

import (
	"context"
	"time"
)

// Kind is what a message asks of a device.
type Kind int

// Message kinds.
const (
	// KindSync is a data-only tickle: sync when you can. Normal priority,
	// collapsed per device, so a burst is one wake-up.
	KindSync Kind = iota
	// KindAssignment is a user-visible notification of new work: high
	// priority, with a Persian title and body naming the office.
	KindAssignment
)

func (k Kind) String() string {
	if k == KindAssignment {
		return "assignment"
	}
	return "sync"
}

// Message is one send to one device.
type Message struct {
	DeviceID string
	Token    string
	Platform string
	Kind     Kind
	Title    string // assignments only
	Body     string // assignments only
	Seq      uint64 // the last change it covers
}

// Outcome classes of a send, from FCM's error codes.
type Outcome int

// Outcomes.
const (
	Sent        Outcome = iota
	BadToken            // UNREGISTERED, or INVALID_ARGUMENT naming the token: remove the token
	ConfigError         // SENDER_ID_MISMATCH, THIRD_PARTY_AUTH_ERROR: the server's setup is wrong; keep the token
	Transient           // UNAVAILABLE, INTERNAL, QUOTA_EXCEEDED: retry with backoff
	Failed              // anything else: give up on this message
)

// Result is what happened to one message.
type Result struct {
	Outcome    Outcome
	Code       string        // FCM's error code, for metrics and logs
	RetryAfter time.Duration // from FCM's Retry-After, if any
	Err        error
}

// Sender delivers messages. Send takes at most MaxBatch messages and returns
// one result per message, in order; its error is for a failure of the whole
// batch (the messages are then all treated as transient).
type Sender interface {
	Send(ctx context.Context, msgs []Message) ([]Result, error)
}

// MaxBatch is FCM's limit for SendEach.
const MaxBatch = 500
