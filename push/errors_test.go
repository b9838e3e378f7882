package push

import (
	"context"
	"fmt"
	"net/http"
	stdsync "sync"
	"testing"
	"time"

	"firebase.google.com/go/v4/messaging"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/favad/favad/inspector"
	favsync "github.com/favad/favad/sync"
)

// classify maps what the real client makes of each FCM answer.
func TestClassifyRealClientErrors(t *testing.T) {
	fcm := newFakeFCM(t)
	client := fcm.client(t)
	future := time.Now().Add(150 * time.Second).UTC().Format(http.TimeFormat)
	for _, c := range []struct {
		name       string
		reply      fcmReply
		outcome    Outcome
		code       string
		retryAfter time.Duration
	}{
		{"success", fcmOK, Sent, "", 0},
		{"unregistered", replyUnregistered, BadToken, "UNREGISTERED", 0},
		{"invalid token", replyBadToken, BadToken, "INVALID_ARGUMENT", 0},
		{"invalid message", replyBadMessage, Failed, "INVALID_ARGUMENT", 0},
		{"sender id mismatch", replySenderID, ConfigError, "SENDER_ID_MISMATCH", 0},
		{"third party auth", replyThirdParty, ConfigError, "THIRD_PARTY_AUTH_ERROR", 0},
		{"internal", replyInternal, Transient, "INTERNAL", 0},
		{"quota", replyQuota.after("7"), Transient, "QUOTA_EXCEEDED", 7 * time.Second},
		// Over the client's own 2-minute cap, so it does not retry by itself.
		{"unavailable", replyUnavailable.after("150"), Transient, "UNAVAILABLE", 150 * time.Second},
		{"unavailable, Retry-After a date", replyUnavailable.after(future), Transient, "UNAVAILABLE", 150 * time.Second},
		{"unknown", fcmReply{status: 418, body: `{"error":{"code":418,"message":"teapot","status":"UNKNOWN"}}`}, Failed, "UNKNOWN", 0},
		// No FCM error detail: a proxy in the way. Worth retrying all the same.
		{"bare 502 from a proxy", fcmReply{status: 502, body: "<html>Bad Gateway</html>"}, Transient, "HTTP_502", 0},
		{"bare 429 from a proxy", fcmReply{status: 429, body: "slow down", retryAfter: "3"}, Transient, "HTTP_429", 3 * time.Second},
	} {
		t.Run(c.name, func(t *testing.T) {
			token := "tok-" + c.name
			fcm.on(token, c.reply)
			_, err := client.Send(context.Background(), &messaging.Message{Token: token, Data: map[string]string{"type": "sync"}})
			r := classify(err)
			assert.Equal(t, c.outcome, r.Outcome, "error: %v", err)
			assert.Equal(t, c.code, r.Code)
			assert.InDelta(t, c.retryAfter.Seconds(), r.RetryAfter.Seconds(), 2)
			assert.Len(t, fcm.to(token), 1, "the client itself retries none of these")
		})
	}
}

// What happens to a token per FCM error code, and the notifier's own retries.
func TestTokenErrors(t *testing.T) {
	fx := newFixture(t, "", false)
	fcm := newFakeFCM(t)
	const retries = 4
	cases := []struct {
		code     string
		replies  []fcmReply
		always   bool
		requests int
		kept     bool
	}{
		{"UNREGISTERED", []fcmReply{replyUnregistered}, false, 1, false},
		{"INVALID_ARGUMENT-token", []fcmReply{replyBadToken}, false, 1, false},
		{"INVALID_ARGUMENT-message", []fcmReply{replyBadMessage}, false, 1, true},
		{"SENDER_ID_MISMATCH", []fcmReply{replySenderID}, false, 1, true},
		{"THIRD_PARTY_AUTH_ERROR", []fcmReply{replyThirdParty}, false, 1, true},
		{"INTERNAL-twice", []fcmReply{replyInternal, replyInternal}, false, 3, true},
		{"QUOTA_EXCEEDED-once", []fcmReply{replyQuota}, false, 2, true},
		{"INTERNAL-always", []fcmReply{replyInternal}, true, retries, true},
		{"ok", nil, false, 1, true},
	}
	var tokens []string
	for i, c := range cases {
		u := fx.inspector(fmt.Sprintf("insp%d", i), inspector.ModeField)
		token := "tok-" + c.code
		fx.device(u, "dev-"+c.code, "android", token)
		if c.always {
			fcm.onAlways(token, c.replies[0])
		} else {
			fcm.on(token, c.replies...)
		}
		tokens = append(tokens, token)
	}
	require.NoError(t, fx.store.SaveNotifierCursor(fx.head()))
	r := start(t, fx.store, fcm.sender(t), func(n *Notifier) { n.Retries = retries })
	m := r.n.Metrics

	touchOffice := func(phone string) {
		o, err := fx.store.Office(officeQZ)
		require.NoError(t, err)
		o.Phone = phone
		_, _, err = fx.store.PutOffice(favsync.System, o)
		require.NoError(t, err)
	}
	touchOffice("028-33000111") // every inspector of Qazvin is owed a tickle
	fcm.waitTokens(1, 5*time.Second, tokens...)
	settle(t, fx.store, 10*time.Second)
	time.Sleep(50 * time.Millisecond)
	for _, c := range cases {
		t.Run(c.code, func(t *testing.T) {
			assert.Len(t, fcm.to("tok-"+c.code), c.requests, "requests")
			if c.kept {
				assert.NotNil(t, fx.devicePush("dev-"+c.code), "the token is kept")
			} else {
				assert.Nil(t, fx.devicePush("dev-"+c.code), "the token is removed")
			}
		})
	}
	assert.Equal(t, 1.0, counter(m.TokensRemoved.WithLabelValues("UNREGISTERED")))
	assert.Equal(t, 1.0, counter(m.TokensRemoved.WithLabelValues("INVALID_ARGUMENT")))
	assert.Equal(t, 2.0, counter(m.Failed.WithLabelValues("INVALID_ARGUMENT")))
	assert.Equal(t, 2.0, counter(m.ConfigErrors), "SENDER_ID_MISMATCH and THIRD_PARTY_AUTH_ERROR blame the configuration")
	assert.Equal(t, float64(2+retries), counter(m.Failed.WithLabelValues("INTERNAL")))
	assert.Equal(t, float64(2+1+retries-1), counter(m.Retries))
	assert.Equal(t, 3.0, counter(m.Sent.WithLabelValues("sync")), "ok, INTERNAL-twice and QUOTA_EXCEEDED-once got through")

	// A removed token gets nothing more; the kept ones get the next tickle.
	touchOffice("028-33000112")
	fcm.waitTokens(2, 5*time.Second, "tok-ok", "tok-SENDER_ID_MISMATCH")
	settle(t, fx.store, 10*time.Second)
	assert.Len(t, fcm.to("tok-UNREGISTERED"), 1)
	assert.Len(t, fcm.to("tok-INVALID_ARGUMENT-token"), 1)
}

// sleeps records the notifier's long sleeps; ones over 100s return at once.
type sleeps struct {
	mu  stdsync.Mutex
	got []time.Duration
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	if d >= 500*time.Millisecond {
		s.mu.Lock()
		s.got = append(s.got, d)
		s.mu.Unlock()
	}
	if d >= 100*time.Second {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// after is the notifier's retry timer: recorded like sleep, and at once for
// delays over 100s.
func (s *sleeps) after(d time.Duration) <-chan time.Time {
	if d >= 500*time.Millisecond {
		s.mu.Lock()
		s.got = append(s.got, d)
		s.mu.Unlock()
	}
	if d >= 100*time.Second {
		c := make(chan time.Time, 1)
		c <- time.Now()
		return c
	}
	return time.After(d)
}

func (s *sleeps) all() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.got...)
}

func TestRetryAfter(t *testing.T) {
	future := func() string { return time.Now().Add(150 * time.Second).UTC().Format(http.TimeFormat) }
	for _, c := range []struct {
		name     string
		reply    fcmReply
		minGap   time.Duration // between the two requests, measured
		minSleep time.Duration // the notifier's sleep, recorded
		retries  float64       // the notifier's own retries
	}{
		{"QUOTA_EXCEEDED, Retry-After 1", replyQuota.after("1"), time.Second, time.Second, 1},
		// The firebase client retries 503 itself, honouring Retry-After.
		{"UNAVAILABLE, Retry-After 1", replyUnavailable.after("1"), time.Second, 0, 0},
		// Over the client's 2-minute cap: the notifier retries, after Retry-After.
		{"UNAVAILABLE, Retry-After 150", replyUnavailable.after("150"), 0, 150 * time.Second, 1},
		{"UNAVAILABLE, Retry-After a date", replyUnavailable.after(future()), 0, 140 * time.Second, 1},
		{"INTERNAL, no Retry-After", replyInternal, 0, 0, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			fx := newFixture(t, "", false)
			fcm := newFakeFCM(t)
			ali := fx.inspector("ali", inspector.ModeField)
			fx.device(ali, "ali-a", "android", "tok-a")
			fcm.on("tok-a", c.reply)
			require.NoError(t, fx.store.SaveNotifierCursor(fx.head()))
			sl := &sleeps{}
			r := start(t, fx.store, fcm.sender(t), func(n *Notifier) { n.sleep, n.after = sl.sleep, sl.after })
			fx.assign(fx.complaint(officeQZ, inspector.PriorityNormal), ali)
			reqs := fcm.waitTokens(2, 10*time.Second, "tok-a")
			settle(t, fx.store, 5*time.Second)
			reqs = fcm.to("tok-a")
			require.Len(t, reqs, 2)
			assert.GreaterOrEqual(t, reqs[1].At.Sub(reqs[0].At), c.minGap, "the delay between attempts")
			if c.minSleep > 0 {
				got := sl.all()
				require.NotEmpty(t, got, "the notifier waited")
				// The timer is set for the due time a moment after it was planned.
				assert.GreaterOrEqual(t, got[0], c.minSleep-50*time.Millisecond, "the notifier honours Retry-After")
			}
			assert.Equal(t, c.retries, counter(r.n.Metrics.Retries))
			assert.Equal(t, 1.0, counter(r.n.Metrics.Sent.WithLabelValues("assignment")))
			assert.NotNil(t, fx.devicePush("ali-a"), "a transient error keeps the token")
		})
	}
}

// A connection that fails outright (nothing listening) is retried too.
func TestClassifyNetworkError(t *testing.T) {
	t.Parallel() // the client's own retries take seconds
	fcm := newFakeFCM(t)
	client := fcm.client(t)
	fcm.ts.Close() // FCM unreachable
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := client.Send(ctx, &messaging.Message{Token: "tok-net", Data: map[string]string{"type": "sync"}})
	require.Error(t, err)
	r := classify(err)
	assert.Equal(t, Transient, r.Outcome, "error: %v", err)
	assert.Equal(t, "NETWORK", r.Code)
}

// TestOneFailingDeviceDelaysNobody: a device whose sends keep failing (its
// own quota) is retried on its own schedule while the others' messages go
// out at once; the notifier's cursor stays behind the message still being
// retried, so a restart would send it again; once it goes through, the
// cursor catches up.
func TestOneFailingDeviceDelaysNobody(t *testing.T) {
	t.Parallel()
	fx := newFixture(t, "", false)
	fcm := newFakeFCM(t)
	ali, reza := fx.inspector("ali", inspector.ModeField), fx.inspector("reza", inspector.ModeField)
	fx.device(ali, "ali-a", "android", "tok-ali")
	fx.device(reza, "reza-a", "android", "tok-reza")
	quota := replyQuota.after("3")
	fcm.on("tok-ali", quota, quota) // two refusals, then through
	require.NoError(t, fx.store.SaveNotifierCursor(fx.head()))
	r := start(t, fx.store, fcm.sender(t), nil)

	fx.assign(fx.complaint(officeQZ, inspector.PriorityNormal), ali)
	fcm.waitTokens(1, 5*time.Second, "tok-ali")
	aliWindow := fx.head()
	fx.assign(fx.complaint(officeQZ, inspector.PriorityNormal), reza)
	start := time.Now()
	fcm.waitTokens(1, 2*time.Second, "tok-reza")
	require.Len(t, fcm.to("tok-reza"), 1)
	assert.Less(t, time.Since(start), 2*time.Second, "reza's message waited for ali's retries")
	saved, err := fx.store.NotifierCursor()
	require.NoError(t, err)
	assert.Less(t, saved, aliWindow, "the cursor stays before ali's message while it is retried")
	require.Eventually(t, func() bool { return counter(r.n.Metrics.LagSeqs) >= 1 }, 2*time.Second, 10*time.Millisecond,
		"the lag counts the changes whose message is still being retried")

	fcm.waitTokens(3, 15*time.Second, "tok-ali")
	reqs := fcm.to("tok-ali")
	assert.GreaterOrEqual(t, reqs[1].At.Sub(reqs[0].At), 3*time.Second-50*time.Millisecond, "Retry-After is honoured")
	settle(t, fx.store, 10*time.Second)
	require.Eventually(t, func() bool { return counter(r.n.Metrics.LagSeqs) == 0 }, 2*time.Second, 10*time.Millisecond)
	assert.Equal(t, 2.0, counter(r.n.Metrics.Retries))
	assert.Equal(t, 2.0, counter(r.n.Metrics.Sent.WithLabelValues("assignment")))
	assert.Zero(t, counter(r.n.Metrics.GaveUp))
}

// TestRetriesStopAfterRetryFor: a message that keeps failing is given up
// once RetryFor has passed since its first attempt; the cursor then moves on.
func TestRetriesStopAfterRetryFor(t *testing.T) {
	fx := newFixture(t, "", false)
	fcm := newFakeFCM(t)
	ali := fx.inspector("ali", inspector.ModeField)
	fx.device(ali, "ali-a", "android", "tok-ali")
	fcm.onAlways("tok-ali", replyInternal)
	require.NoError(t, fx.store.SaveNotifierCursor(fx.head()))
	r := start(t, fx.store, fcm.sender(t), func(n *Notifier) { n.RetryFor = 300 * time.Millisecond })
	fx.assign(fx.complaint(officeQZ, inspector.PriorityNormal), ali)
	settle(t, fx.store, 10*time.Second)
	assert.Equal(t, 1.0, counter(r.n.Metrics.GaveUp))
	assert.GreaterOrEqual(t, len(fcm.to("tok-ali")), 2, "retried before giving up")
	assert.Zero(t, counter(r.n.Metrics.Sent.WithLabelValues("assignment")))
}

// TestBatchesOfAtMost500: a change owed to 1,201 devices goes out in SendEach
// calls of at most 500 messages.
func TestBatchesOfAtMost500(t *testing.T) {
	fx := newFixture(t, "", false)
	rec := &recordingSender{}
	ali := fx.inspector("ali", inspector.ModeField)
	for i := range 1201 {
		fx.device(ali, fmt.Sprintf("ali-%04d", i), "android", fmt.Sprintf("tok-%04d", i))
	}
	require.NoError(t, fx.store.SaveNotifierCursor(fx.head()))
	start(t, fx.store, rec, nil)
	fx.assign(fx.complaint(officeQZ, inspector.PriorityNormal), ali)
	settle(t, fx.store, 20*time.Second)
	sizes := rec.sizes()
	assert.Equal(t, []int{500, 500, 201}, sizes)
}

// recordingSender accepts every message and records the size of each call.
type recordingSender struct {
	mu    stdsync.Mutex
	calls []int
}

func (s *recordingSender) Send(_ context.Context, msgs []Message) ([]Result, error) {
	s.mu.Lock()
	s.calls = append(s.calls, len(msgs))
	s.mu.Unlock()
	return make([]Result, len(msgs)), nil // the zero Result is Sent
}

func (s *recordingSender) sizes() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int(nil), s.calls...)
}
