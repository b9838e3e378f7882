package push

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"firebase.google.com/go/v4/errorutils"
	"firebase.google.com/go/v4/messaging"
)

// TTLs of messages: a tickle older than SyncTTL is pointless (the device will
// have synced); an assignment matters for longer.
type TTLs struct {
	Sync       time.Duration
	Assignment time.Duration
}

// DefaultTTLs are the defaults.
func DefaultTTLs() TTLs { return TTLs{Sync: time.Hour, Assignment: 24 * time.Hour} }

// FCMSender sends through firebase-admin-go's messaging client.
type FCMSender struct {
	Client *messaging.Client
	TTLs   TTLs
}

var _ Sender = (*FCMSender)(nil)

// Send sends msgs with SendEach.
func (s *FCMSender) Send(ctx context.Context, msgs []Message) ([]Result, error) {
	if len(msgs) > MaxBatch {
		return nil, fmt.Errorf("push: %d messages, at most %d", len(msgs), MaxBatch)
	}
	out := make([]*messaging.Message, len(msgs))
	for i, m := range msgs {
		out[i] = s.build(m)
	}
	resp, err := s.Client.SendEach(ctx, out)
	if err != nil {
		return nil, fmt.Errorf("push: send: %w", err)
	}
	results := make([]Result, len(msgs))
	for i, r := range resp.Responses {
		results[i] = classify(r.Error)
	}
	return results, nil
}

// build makes the FCM message. A tickle is data-only with a collapse key and
// APNs content-available; an assignment is a notification at high priority
// with an APNs alert, so that Android does not demote the app for high
// priority messages that show nothing.
func (s *FCMSender) build(m Message) *messaging.Message {
	data := map[string]string{"type": m.Kind.String(), "seq": strconv.FormatUint(m.Seq, 10)}
	if m.Kind == KindAssignment {
		ttl := s.TTLs.Assignment
		return &messaging.Message{
			Token:        m.Token,
			Data:         data,
			Notification: &messaging.Notification{Title: m.Title, Body: m.Body},
			Android: &messaging.AndroidConfig{Priority: "high", TTL: &ttl,
				Notification: &messaging.AndroidNotification{ChannelID: "assignments", Tag: "favad-assignment"}},
			APNS: &messaging.APNSConfig{
				Headers: map[string]string{"apns-priority": "10", "apns-push-type": "alert",
					"apns-expiration": strconv.FormatInt(time.Now().Add(ttl).Unix(), 10)},
				Payload: &messaging.APNSPayload{Aps: &messaging.Aps{Alert: &messaging.ApsAlert{Title: m.Title, Body: m.Body}, Sound: "default"}},
			},
		}
	}
	ttl := s.TTLs.Sync
	collapse := "favad-sync"
	return &messaging.Message{
		Token:   m.Token,
		Data:    data,
		Android: &messaging.AndroidConfig{Priority: "normal", CollapseKey: collapse, TTL: &ttl},
		APNS: &messaging.APNSConfig{
			Headers: map[string]string{"apns-priority": "5", "apns-push-type": "background", "apns-collapse-id": collapse,
				"apns-expiration": strconv.FormatInt(time.Now().Add(ttl).Unix(), 10)},
			Payload: &messaging.APNSPayload{Aps: &messaging.Aps{ContentAvailable: true}},
		},
	}
}

// classify maps an FCM error to what FAVAD does about it.
func classify(err error) Result {
	if err == nil {
		return Result{Outcome: Sent}
	}
	r := Result{Err: err, Outcome: Failed, Code: "UNKNOWN"}
	resp := errorutils.HTTPResponse(err) // nil when there was no answer
	switch {
	case messaging.IsUnregistered(err):
		r.Outcome, r.Code = BadToken, "UNREGISTERED"
	case messaging.IsInvalidArgument(err):
		// INVALID_ARGUMENT is a bad token only when FCM says so; otherwise the message is at fault.
		r.Outcome, r.Code = Failed, "INVALID_ARGUMENT"
		if mentionsToken(err) {
			r.Outcome = BadToken
		}
	case messaging.IsSenderIDMismatch(err):
		r.Outcome, r.Code = ConfigError, "SENDER_ID_MISMATCH"
	case messaging.IsThirdPartyAuthError(err):
		r.Outcome, r.Code = ConfigError, "THIRD_PARTY_AUTH_ERROR"
	case messaging.IsUnavailable(err):
		r.Outcome, r.Code = Transient, "UNAVAILABLE"
	case messaging.IsInternal(err):
		r.Outcome, r.Code = Transient, "INTERNAL"
	case messaging.IsQuotaExceeded(err):
		r.Outcome, r.Code = Transient, "QUOTA_EXCEEDED"
	default:
		// No FCM error code: a proxy's or load balancer's 5xx or 429, or no
		// answer at all (a connection refused or cut) — all worth retrying.
		switch {
		case resp == nil:
			r.Outcome, r.Code = Transient, "NETWORK"
		case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests:
			r.Outcome, r.Code = Transient, "HTTP_"+strconv.Itoa(resp.StatusCode)
		}
	}
	if resp != nil {
		if ra := resp.Header.Get("Retry-After"); ra != "" {
			if secs, perr := strconv.Atoi(ra); perr == nil {
				r.RetryAfter = time.Duration(secs) * time.Second
			} else if t, perr := time.Parse(time.RFC1123, ra); perr == nil {
				r.RetryAfter = time.Until(t)
			}
		}
	}
	return r
}

func mentionsToken(err error) bool {
	var msg string
	for e := err; e != nil; e = errors.Unwrap(e) {
		msg += e.Error()
	}
	msg = strings.ToLower(msg)
	return strings.Contains(msg, "registration token") || strings.Contains(msg, "message.token")
}

// LogSender logs what it would send. It is the sender when no Firebase
// credentials are configured, so that the server runs without an account.
type LogSender struct{ Logger *slog.Logger }

var _ Sender = (*LogSender)(nil)

// Send logs each message and reports it sent.
func (s *LogSender) Send(_ context.Context, msgs []Message) ([]Result, error) {
	out := make([]Result, len(msgs))
	for _, m := range msgs {
		s.Logger.Info("push (log only: no Firebase credentials)", "device", m.DeviceID, "kind", m.Kind.String(), "seq", m.Seq, "title", m.Title)
	}
	return out, nil
}
