package push

// A local stand-in for FCM's HTTP v1 API, driven by the real firebase-admin-go
// client through option.WithEndpoint. It records every request and answers
// from a per-token script.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	stdsync "sync"
	"sync/atomic"
	"testing"
	"time"

	firebase "firebase.google.com/go/v4"
	"firebase.google.com/go/v4/messaging"
	"google.golang.org/api/option"
)

const fakeProject = "favad-test"

// fcmReply is one scripted answer.
type fcmReply struct {
	status     int
	body       string
	retryAfter string // the Retry-After header, if any
}

var fcmOK = fcmReply{status: http.StatusOK}

// fcmError is an error in the shape FCM v1 answers, with an FcmError detail
// carrying the messaging error code, as the real service sends it.
func fcmError(status int, grpcStatus, errorCode, message string) fcmReply {
	body, _ := json.Marshal(map[string]any{"error": map[string]any{
		"code": status, "message": message, "status": grpcStatus,
		"details": []any{map[string]any{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": errorCode}},
	}})
	return fcmReply{status: status, body: string(body)}
}

var (
	replyUnregistered = fcmError(404, "NOT_FOUND", "UNREGISTERED", "Requested entity was not found.")
	replyBadToken     = fcmError(400, "INVALID_ARGUMENT", "INVALID_ARGUMENT", "The registration token is not a valid FCM registration token")
	replyBadMessage   = fcmError(400, "INVALID_ARGUMENT", "INVALID_ARGUMENT", "Invalid value at 'message.android.ttl' (type.googleapis.com/google.protobuf.Duration), Field 'ttl', Illegal duration format")
	replySenderID     = fcmError(403, "PERMISSION_DENIED", "SENDER_ID_MISMATCH", "SenderId mismatch")
	replyThirdParty   = fcmError(401, "UNAUTHENTICATED", "THIRD_PARTY_AUTH_ERROR", "Auth error from APNS or Web Push Service")
	replyUnavailable  = fcmError(503, "UNAVAILABLE", "UNAVAILABLE", "The service is currently unavailable.")
	replyInternal     = fcmError(500, "INTERNAL", "INTERNAL", "Internal error encountered.")
	replyQuota        = fcmError(429, "RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED", "Quota exceeded for quota metric 'Send requests'.")
)

func (r fcmReply) after(retryAfter string) fcmReply { r.retryAfter = retryAfter; return r }

// fcmRequest is one request the fake received.
type fcmRequest struct {
	At    time.Time
	Token string
	Body  []byte
	Msg   map[string]any // the "message" object
}

type fakeFCM struct {
	t  testing.TB
	ts *httptest.Server

	mu      stdsync.Mutex
	reqs    []fcmRequest
	script  map[string][]fcmReply // by token: answers in turn, then success
	always  map[string]fcmReply   // by token: the answer every time
	count   atomic.Int64
	light   bool // count only (benchmarks): no recording, no script
	watcher chan struct{}
}

func newFakeFCM(tb testing.TB) *fakeFCM {
	f := &fakeFCM{t: tb, script: map[string][]fcmReply{}, always: map[string]fcmReply{}, watcher: make(chan struct{}, 1)}
	f.ts = httptest.NewServer(http.HandlerFunc(f.serve))
	tb.Cleanup(f.ts.Close)
	return f
}

const sendPath = "/projects/" + fakeProject + "/messages:send"

func (f *fakeFCM) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if r.Method != http.MethodPost || r.URL.Path != sendPath || err != nil {
		http.Error(w, "unexpected request "+r.Method+" "+r.URL.Path, http.StatusNotFound)
		return
	}
	var env struct {
		Message map[string]any `json:"message"`
	}
	if err := json.Unmarshal(body, &env); err != nil || env.Message == nil {
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	n := f.count.Add(1)
	reply := fcmOK
	if !f.light {
		token, _ := env.Message["token"].(string)
		f.mu.Lock()
		f.reqs = append(f.reqs, fcmRequest{At: time.Now(), Token: token, Body: body, Msg: env.Message})
		if a, ok := f.always[token]; ok {
			reply = a
		} else if s := f.script[token]; len(s) > 0 {
			reply, f.script[token] = s[0], s[1:]
		}
		f.mu.Unlock()
	}
	select {
	case f.watcher <- struct{}{}:
	default:
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	if reply.retryAfter != "" {
		w.Header().Set("Retry-After", reply.retryAfter)
	}
	if reply.status == http.StatusOK {
		fmt.Fprintf(w, `{"name":"projects/%s/messages/%d"}`, fakeProject, n)
		return
	}
	w.WriteHeader(reply.status)
	io.WriteString(w, reply.body)
}

// on scripts the answers to token, in turn; afterwards it succeeds.
func (f *fakeFCM) on(token string, replies ...fcmReply) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.script[token] = append(f.script[token], replies...)
}

// onAlways makes token always get reply.
func (f *fakeFCM) onAlways(token string, reply fcmReply) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.always[token] = reply
}

func (f *fakeFCM) requests() []fcmRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fcmRequest(nil), f.reqs...)
}

func (f *fakeFCM) to(token string) []fcmRequest {
	var out []fcmRequest
	for _, r := range f.requests() {
		if r.Token == token {
			out = append(out, r)
		}
	}
	return out
}

// waitFor waits until cond holds over the requests, or fails the test.
func (f *fakeFCM) waitFor(what string, timeout time.Duration, cond func([]fcmRequest) bool) []fcmRequest {
	f.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		reqs := f.requests()
		if cond(reqs) {
			return reqs
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("timed out after %v waiting for %s; FCM got %d requests: %s", timeout, what, len(reqs), summary(reqs))
		}
		select {
		case <-f.watcher:
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// waitTokens waits until every token got at least n requests.
func (f *fakeFCM) waitTokens(n int, timeout time.Duration, tokens ...string) []fcmRequest {
	f.t.Helper()
	return f.waitFor(fmt.Sprintf("%d request(s) to each of %v", n, tokens), timeout, func(reqs []fcmRequest) bool {
		got := map[string]int{}
		for _, r := range reqs {
			got[r.Token]++
		}
		for _, tk := range tokens {
			if got[tk] < n {
				return false
			}
		}
		return true
	})
}

func summary(reqs []fcmRequest) string {
	var b strings.Builder
	for _, r := range reqs {
		data, _ := r.Msg["data"].(map[string]any)
		fmt.Fprintf(&b, "[%s %v] ", r.Token, data["type"])
	}
	return b.String()
}

// fcmClient is the real firebase-admin-go messaging client pointed at the fake.
func (f *fakeFCM) client(tb testing.TB) *messaging.Client {
	tb.Helper()
	ctx := context.Background()
	app, err := firebase.NewApp(ctx, &firebase.Config{ProjectID: fakeProject}, option.WithEndpoint(f.ts.URL), option.WithoutAuthentication())
	if err != nil {
		tb.Fatal(err)
	}
	c, err := app.Messaging(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

func (f *fakeFCM) sender(tb testing.TB) *FCMSender {
	return &FCMSender{Client: f.client(tb), TTLs: DefaultTTLs()}
}

// path walks nested JSON objects.
func path(m map[string]any, keys ...string) any {
	var v any = m
	for _, k := range keys {
		o, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = o[k]
	}
	return v
}
