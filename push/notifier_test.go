package push

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	stdsync "sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/favad/favad/inspector"
	favsync "github.com/favad/favad/sync"
)

// FCM refuses a message whose payload exceeds 4096 bytes; the whole request
// body is a stricter bound.
const maxPayload = 4096

// requireAssignment checks the shape of a user-visible assignment message.
func requireAssignment(t *testing.T, r fcmRequest, title string, bodyHas ...string) {
	t.Helper()
	m := r.Msg
	assert.Equal(t, "assignment", path(m, "data", "type"), "data.type")
	assert.NotEmpty(t, path(m, "data", "seq"))
	assert.Equal(t, title, path(m, "notification", "title"))
	body, _ := path(m, "notification", "body").(string)
	for _, s := range bodyHas {
		assert.Contains(t, inspector.NormalizeDigits(body), s, "the notification's body (digits folded: it is written with Persian digits)")
	}
	assert.Equal(t, "high", path(m, "android", "priority"), "a visible notification goes at high priority")
	assert.Equal(t, "86400s", path(m, "android", "ttl"))
	assert.Nil(t, path(m, "android", "collapse_key"), "assignments are not collapsed")
	assert.Equal(t, "10", path(m, "apns", "headers", "apns-priority"))
	assert.Equal(t, "alert", path(m, "apns", "headers", "apns-push-type"))
	assert.NotEmpty(t, path(m, "apns", "headers", "apns-expiration"))
	assert.Equal(t, title, path(m, "apns", "payload", "aps", "alert", "title"))
	assert.Equal(t, body, path(m, "apns", "payload", "aps", "alert", "body"))
	assert.Nil(t, path(m, "apns", "payload", "aps", "content-available"))
	assert.Less(t, len(r.Body), maxPayload)
}

// requireTickle checks the shape of a data-only sync message.
func requireTickle(t *testing.T, r fcmRequest) {
	t.Helper()
	m := r.Msg
	assert.Equal(t, "sync", path(m, "data", "type"), "data.type")
	assert.NotEmpty(t, path(m, "data", "seq"))
	assert.Nil(t, m["notification"], "a tickle shows nothing")
	assert.Nil(t, path(m, "android", "notification"))
	assert.Equal(t, "normal", path(m, "android", "priority"), "a tickle goes at normal priority")
	assert.Equal(t, "favad-sync", path(m, "android", "collapse_key"))
	assert.Equal(t, "3600s", path(m, "android", "ttl"))
	assert.Equal(t, "5", path(m, "apns", "headers", "apns-priority"), "content-available needs apns-priority 5")
	assert.Equal(t, "background", path(m, "apns", "headers", "apns-push-type"))
	assert.Equal(t, "favad-sync", path(m, "apns", "headers", "apns-collapse-id"))
	assert.EqualValues(t, 1, path(m, "apns", "payload", "aps", "content-available"))
	assert.Nil(t, path(m, "apns", "payload", "aps", "alert"), "no alert in a tickle")
	assert.Nil(t, path(m, "apns", "payload", "aps", "sound"))
	assert.Less(t, len(r.Body), maxPayload)
}

func seqOf(r fcmRequest) uint64 {
	s, _ := path(r.Msg, "data", "seq").(string)
	n, _ := strconv.ParseUint(s, 10, 64)
	return n
}

// last returns the last request to token.
func last(t *testing.T, reqs []fcmRequest, token string) fcmRequest {
	t.Helper()
	for i := len(reqs) - 1; i >= 0; i-- {
		if reqs[i].Token == token {
			return reqs[i]
		}
	}
	t.Fatalf("no request to %s", token)
	return fcmRequest{}
}

func TestPayloadPerKind(t *testing.T) {
	fx := newFixture(t, "", false)
	fcm := newFakeFCM(t)
	ali := fx.inspector("ali", inspector.ModeField)
	fx.device(ali, "ali-android", "android", "tok-ali-android")
	fx.device(ali, "ali-iphone", "ios", "tok-ali-iphone")
	fx.device(ali, "ali-tablet", "android", "") // signed in, never registered for push
	hasan := fx.inspector("hasan", inspector.ModeField)
	fx.device(hasan, "hasan-android", "android", "tok-hasan")
	normal := fx.complaint(officeQZ, inspector.PriorityNormal)
	urgent := fx.complaint(officeTK, inspector.PriorityUrgent)
	require.NoError(t, fx.store.SaveNotifierCursor(fx.head()))
	poker := &pokes{}
	start(t, fx.store, fcm.sender(t), func(n *Notifier) { n.Poker = poker })

	t.Run("assignment", func(t *testing.T) {
		fx.assign(normal, ali)
		reqs := fcm.waitTokens(1, 5*time.Second, "tok-ali-android", "tok-ali-iphone")
		for _, tk := range []string{"tok-ali-android", "tok-ali-iphone"} {
			requireAssignment(t, last(t, reqs, tk), "ماموریت جدید بازرسی", officeQZFa, fmt.Sprint(normal.Number))
		}
		assert.Empty(t, fcm.to("tok-hasan"), "the other inspector is told nothing")
		assert.NotEmpty(t, poker.of(ali.ID), "ali's live streams are poked")
	})
	t.Run("urgent assignment", func(t *testing.T) {
		fx.assign(urgent, ali)
		reqs := fcm.waitTokens(2, 5*time.Second, "tok-ali-android", "tok-ali-iphone")
		requireAssignment(t, last(t, reqs, "tok-ali-android"), "ماموریت فوری بازرسی", officeTKFa)
	})
	t.Run("reassignment", func(t *testing.T) {
		_, err := fx.store.Assign(fx.disp, urgent.ID, inspector.Routing{InspectorID: hasan.ID, Mode: inspector.ModeField})
		require.NoError(t, err)
		reqs := fcm.waitTokens(3, 5*time.Second, "tok-ali-android", "tok-ali-iphone")
		reqs = fcm.waitTokens(1, 5*time.Second, "tok-hasan")
		requireAssignment(t, last(t, reqs, "tok-hasan"), "ماموریت فوری بازرسی", officeTKFa)
		requireTickle(t, last(t, reqs, "tok-ali-android")) // it left ali's list
		requireTickle(t, last(t, reqs, "tok-ali-iphone"))
	})
	t.Run("withdrawal", func(t *testing.T) {
		c, err := fx.store.Withdraw(fx.disp, normal.ID, "تماس تکراری")
		require.NoError(t, err)
		reqs := fcm.waitTokens(4, 5*time.Second, "tok-ali-android", "tok-ali-iphone")
		for _, tk := range []string{"tok-ali-android", "tok-ali-iphone"} {
			r := last(t, reqs, tk)
			requireTickle(t, r)
			assert.Equal(t, c.Version, seqOf(r), "the tickle names the change")
		}
	})
	t.Run("conflict record", func(t *testing.T) {
		// The tablet pushes a note with no text: it is rejected and kept on a conflict record.
		res, _, err := fx.store.Push(ali, "ali-tablet", []favsync.Mutation{noteMutation(1, normal.ID, "  ")})
		require.NoError(t, err)
		require.Equal(t, favsync.StatusRejected, res[0].Status)
		require.Len(t, res[0].ConflictIDs, 1)
		reqs := fcm.waitTokens(5, 5*time.Second, "tok-ali-android", "tok-ali-iphone")
		requireTickle(t, last(t, reqs, "tok-ali-android"))
		requireTickle(t, last(t, reqs, "tok-ali-iphone"))

		// Dispatch settles it: the inspector's devices learn of the decision.
		cf, err := fx.store.ResolveConflict(fx.disp, res[0].ConflictIDs[0], favsync.ResolveAccept, "متن یادداشت را بنویسید")
		require.NoError(t, err)
		require.Equal(t, favsync.ConflictResolved, cf.Status)
		reqs = fcm.waitTokens(6, 5*time.Second, "tok-ali-android", "tok-ali-iphone")
		for _, tk := range []string{"tok-ali-android", "tok-ali-iphone"} {
			r := last(t, reqs, tk)
			requireTickle(t, r)
			assert.Equal(t, cf.Version, seqOf(r), "the tickle names the resolution")
		}
	})
	t.Run("office change", func(t *testing.T) {
		o, err := fx.store.Office(officeQZ)
		require.NoError(t, err)
		o.Phone = "028-33000199"
		_, _, err = fx.store.PutOffice(favsync.System, o)
		require.NoError(t, err)
		reqs := fcm.waitTokens(7, 5*time.Second, "tok-ali-android", "tok-ali-iphone")
		reqs = fcm.waitTokens(2, 5*time.Second, "tok-hasan")
		for _, tk := range []string{"tok-ali-android", "tok-ali-iphone", "tok-hasan"} {
			requireTickle(t, last(t, reqs, tk))
		}
	})
}

// No message ever carries the caller, nor the complaint itself.
func TestNoCallerInAnySend(t *testing.T) {
	fx := newFixture(t, "", false)
	fcm := newFakeFCM(t)
	ali := fx.inspector("ali", inspector.ModeField)
	fx.device(ali, "ali-android", "android", "tok-ali-android")
	fx.device(ali, "ali-iphone", "ios", "tok-ali-iphone")
	zahra := fx.inspector("zahra", inspector.ModePhone)
	fx.device(zahra, "zahra-android", "android", "tok-zahra")
	require.NoError(t, fx.store.SaveNotifierCursor(fx.head()))
	start(t, fx.store, fcm.sender(t), nil)

	one := fx.complaint(officeQZ, inspector.PriorityNormal)
	fx.assign(one, ali)
	fcm.waitTokens(1, 5*time.Second, "tok-ali-android")
	for range 3 { // several in one window: the plural text
		fx.assign(fx.complaint(officeTK, inspector.PriorityUrgent), ali)
	}
	fcm.waitTokens(2, 5*time.Second, "tok-ali-android")
	fx.assign(fx.complaint(officeTK, inspector.PriorityUrgent), zahra)
	fcm.waitTokens(1, 5*time.Second, "tok-zahra")
	_, _, err := fx.store.Push(ali, "ali-android", []favsync.Mutation{noteMutation(1, one.ID, "تماس با "+callerName+" "+callerPhone)})
	require.NoError(t, err)
	fcm.waitTokens(3, 5*time.Second, "tok-ali-iphone")
	_, err = fx.store.Withdraw(fx.disp, one.ID, "تماس تکراری")
	require.NoError(t, err)
	fcm.waitTokens(4, 5*time.Second, "tok-ali-iphone")
	fcm.waitTokens(3, 5*time.Second, "tok-ali-android")

	reqs := fcm.requests()
	require.GreaterOrEqual(t, len(reqs), 8)
	persianPhone := strings.NewReplacer("0", "۰", "1", "۱", "2", "۲", "3", "۳", "4", "۴", "5", "۵", "6", "۶", "7", "۷", "8", "۸", "9", "۹").Replace(callerPhone)
	for _, r := range reqs {
		// json.Marshal may escape non-ASCII; compare on the decoded text too.
		var decoded any
		require.NoError(t, json.Unmarshal(r.Body, &decoded))
		text, _ := json.Marshal(decoded)
		for _, body := range [][]byte{r.Body, []byte(fmt.Sprint(decoded)), text} {
			for _, secret := range []string{callerName, callerPhone, persianPhone, callerText, "مریم", "1234567"} {
				assert.False(t, bytes.Contains(body, []byte(secret)), "a message to %s carries %q: %s", r.Token, secret, r.Body)
			}
		}
		assert.Less(t, len(r.Body), maxPayload)
	}
}

// A burst of assignments within the window is one message per device.
func TestCoalescing(t *testing.T) {
	fx := newFixture(t, "", false)
	fcm := newFakeFCM(t)
	ali := fx.inspector("ali", inspector.ModeField)
	fx.device(ali, "ali-android", "android", "tok-ali-android")
	fx.device(ali, "ali-iphone", "ios", "tok-ali-iphone")
	var complaints []inspector.Complaint
	for range 5 {
		complaints = append(complaints, fx.complaint(officeQZ, inspector.PriorityNormal))
	}
	require.NoError(t, fx.store.SaveNotifierCursor(fx.head()))
	const window = 700 * time.Millisecond
	r := start(t, fx.store, fcm.sender(t), func(n *Notifier) { n.Window = window })

	began := time.Now()
	for _, c := range complaints {
		fx.assign(c, ali)
	}
	require.Less(t, time.Since(began), window, "the burst must fit in the window for this test to mean anything")
	fcm.waitTokens(1, 5*time.Second, "tok-ali-android", "tok-ali-iphone")
	time.Sleep(2 * window)
	settle(t, fx.store, 5*time.Second)
	reqs := fcm.requests()
	require.Len(t, reqs, 2, "one message per device: %s", summary(reqs))
	for _, req := range reqs {
		requireAssignment(t, req, "ماموریت جدید بازرسی", "5 شکایت")
		assert.Equal(t, fx.head(), seqOf(req), "the message covers the last change")
	}
	assert.Equal(t, 2.0, counter(r.n.Metrics.Sent.WithLabelValues("assignment")))
}

// A tickle is not echoed to the device that made the change; the inspector's
// other devices get it.
func TestOwnChangeNotEchoed(t *testing.T) {
	fx := newFixture(t, "", false)
	fcm := newFakeFCM(t)
	ali := fx.inspector("ali", inspector.ModeField)
	fx.device(ali, "ali-a", "android", "tok-a")
	fx.device(ali, "ali-b", "ios", "tok-b")
	c := fx.complaint(officeQZ, inspector.PriorityNormal)
	fx.assign(c, ali)
	require.NoError(t, fx.store.SaveNotifierCursor(fx.head()))
	start(t, fx.store, fcm.sender(t), nil)

	_, _, err := fx.store.Push(ali, "ali-a", []favsync.Mutation{noteMutation(1, c.ID, "یادداشت از گوشی اول")})
	require.NoError(t, err)
	fcm.waitTokens(1, 5*time.Second, "tok-b")
	settle(t, fx.store, 5*time.Second)
	assert.Empty(t, fcm.to("tok-a"), "the device that wrote the note knows of it")
	requireTickle(t, fcm.to("tok-b")[0])
}

// Two devices of one inspector each write within one window: each must hear
// of the other's work.
func TestBothDevicesChangeInOneWindow(t *testing.T) {
	fx := newFixture(t, "", false)
	fcm := newFakeFCM(t)
	ali := fx.inspector("ali", inspector.ModeField)
	fx.device(ali, "ali-a", "android", "tok-a")
	fx.device(ali, "ali-b", "ios", "tok-b")
	c := fx.complaint(officeQZ, inspector.PriorityNormal)
	fx.assign(c, ali)
	require.NoError(t, fx.store.SaveNotifierCursor(fx.head()))
	start(t, fx.store, fcm.sender(t), func(n *Notifier) { n.Window = 500 * time.Millisecond })

	_, _, err := fx.store.Push(ali, "ali-a", []favsync.Mutation{noteMutation(1, c.ID, "یادداشت از گوشی اول")})
	require.NoError(t, err)
	_, _, err = fx.store.Push(ali, "ali-b", []favsync.Mutation{noteMutation(1, c.ID, "یادداشت از گوشی دوم")})
	require.NoError(t, err)
	time.Sleep(time.Second)
	settle(t, fx.store, 5*time.Second)
	assert.Len(t, fcm.to("tok-a"), 1, "A must hear of B's note")
	assert.Len(t, fcm.to("tok-b"), 1, "B must hear of A's note")
}

// A device's own change followed by dispatch's change in the same window: the
// device must hear of dispatch's change.
func TestOwnChangeThenDispatchChange(t *testing.T) {
	fx := newFixture(t, "", false)
	fcm := newFakeFCM(t)
	ali := fx.inspector("ali", inspector.ModeField)
	fx.device(ali, "ali-a", "android", "tok-a")
	c := fx.complaint(officeQZ, inspector.PriorityNormal)
	fx.assign(c, ali)
	require.NoError(t, fx.store.SaveNotifierCursor(fx.head()))
	start(t, fx.store, fcm.sender(t), func(n *Notifier) { n.Window = 500 * time.Millisecond })

	_, _, err := fx.store.Push(ali, "ali-a", []favsync.Mutation{noteMutation(1, c.ID, "یادداشت")})
	require.NoError(t, err)
	_, err = fx.store.Withdraw(fx.disp, c.ID, "تماس تکراری")
	require.NoError(t, err)
	time.Sleep(time.Second)
	settle(t, fx.store, 5*time.Second)
	assert.Len(t, fcm.to("tok-a"), 1, "the withdrawal must reach the device")
}

// A first start notifies of nothing from before it; from then on, everything.
func TestFirstStartBeginsAtTheHead(t *testing.T) {
	fx := newFixture(t, "", false)
	fcm := newFakeFCM(t)
	ali := fx.inspector("ali", inspector.ModeField)
	fx.device(ali, "ali-a", "android", "tok-a")
	fx.assign(fx.complaint(officeQZ, inspector.PriorityNormal), ali) // before the notifier ever ran
	ss := &startedStore{Store: fx.store, started: make(chan struct{})}
	start(t, ss, fcm.sender(t), nil)
	select { // until it has settled its starting point, the head is still moving
	case <-ss.started:
	case <-time.After(5 * time.Second):
		t.Fatal("the notifier did not start")
	}
	c := fx.complaint(officeTK, inspector.PriorityNormal)
	fx.assign(c, ali)
	reqs := fcm.waitTokens(1, 5*time.Second, "tok-a")
	time.Sleep(100 * time.Millisecond)
	settle(t, fx.store, 5*time.Second)
	reqs = fcm.requests()
	require.Len(t, reqs, 1)
	requireAssignment(t, reqs[0], "ماموریت جدید بازرسی", officeTKFa)
}

// Tokens not confirmed for 30 days get no sends; at 270 days they are removed.
func TestStaleTokens(t *testing.T) {
	fx := newFixture(t, "", false)
	fcm := newFakeFCM(t)
	ali := fx.inspector("ali", inspector.ModeField)
	fx.device(ali, "ali-old", "android", "tok-old")
	fx.clock.Advance(31 * 24 * time.Hour)
	fx.device(ali, "ali-new", "ios", "tok-new")
	fx.device(ali, "ali-revoked", "android", "tok-revoked")
	_, err := fx.store.RevokeDevice(fx.disp, "ali-revoked")
	require.NoError(t, err)

	targets, err := fx.store.PushTargets([]string{ali.ID}, favsync.DefaultTokenStaleAfter)
	require.NoError(t, err)
	require.Len(t, targets, 1)
	assert.Equal(t, "ali-new", targets[0].DeviceID)

	require.NoError(t, fx.store.SaveNotifierCursor(fx.head()))
	r := start(t, fx.store, fcm.sender(t), nil)
	fx.assign(fx.complaint(officeQZ, inspector.PriorityNormal), ali)
	fcm.waitTokens(1, 5*time.Second, "tok-new")
	settle(t, fx.store, 5*time.Second)
	assert.Empty(t, fcm.to("tok-old"), "a token stale for 31 days gets no sends")
	assert.Empty(t, fcm.to("tok-revoked"), "a revoked device gets no sends")
	assert.NotNil(t, fx.devicePush("ali-old"), "a stale token is kept until 270 days")
	r.stop(t)

	n, err := fx.store.PrunePushTokens(favsync.DefaultTokenRemoveAfter)
	require.NoError(t, err)
	assert.Zero(t, n)
	fx.clock.Advance(240 * 24 * time.Hour) // ali-old: 271 days; ali-new: 240 days
	// The notifier prunes when it starts.
	r = start(t, fx.store, fcm.sender(t), nil)
	require.Eventually(t, func() bool { return fx.devicePush("ali-old") == nil }, 5*time.Second, 5*time.Millisecond)
	// The metric follows the removal, on the notifier's goroutine.
	require.Eventually(t, func() bool { return counter(r.n.Metrics.TokensRemoved.WithLabelValues("stale")) == 1 }, 5*time.Second, 5*time.Millisecond)
	assert.NotNil(t, fx.devicePush("ali-new"), "a token 240 days old stays")
	n, err = fx.store.PrunePushTokens(favsync.DefaultTokenRemoveAfter)
	require.NoError(t, err)
	assert.Zero(t, n, "pruning is idempotent")
}

// An office moved to another province leaves the scope of the first
// province's inspectors: they must be told, as well as the new province's.
func TestOfficeMovedTellsBothProvinces(t *testing.T) {
	fx := newFixture(t, "", false)
	fcm := newFakeFCM(t)
	ali := fx.inspector("ali", inspector.ModeField) // Qazvin
	fx.device(ali, "ali-a", "android", "tok-a")
	require.NoError(t, fx.store.SaveNotifierCursor(fx.head()))
	start(t, fx.store, fcm.sender(t), nil)
	o, err := fx.store.Office(officeTK)
	require.NoError(t, err)
	o.Province, o.City = "زنجان", "زنجان"
	_, _, err = fx.store.PutOffice(favsync.System, o)
	require.NoError(t, err)
	time.Sleep(200 * time.Millisecond)
	settle(t, fx.store, 5*time.Second)
	require.Len(t, fcm.to("tok-a"), 1, "the office left ali's province: ali's device must sync")
	requireTickle(t, fcm.to("tok-a")[0])
}

// startedStore tells when the notifier has saved its starting cursor.
type startedStore struct {
	*favsync.Store
	once    stdsync.Once
	started chan struct{}
}

func (s *startedStore) SaveNotifierCursor(seq uint64) error {
	err := s.Store.SaveNotifierCursor(seq)
	s.once.Do(func() { close(s.started) })
	return err
}

// An assignment taken back within the window is not announced: the device is
// only told to sync.
func TestWithdrawnWithinTheWindowIsNotAnnounced(t *testing.T) {
	fx := newFixture(t, "", false)
	fcm := newFakeFCM(t)
	ali := fx.inspector("ali", inspector.ModeField)
	fx.device(ali, "ali-a", "android", "tok-a")
	require.NoError(t, fx.store.SaveNotifierCursor(fx.head()))
	start(t, fx.store, fcm.sender(t), func(n *Notifier) { n.Window = 500 * time.Millisecond })

	c := fx.complaint(officeQZ, inspector.PriorityNormal)
	fx.assign(c, ali)
	_, err := fx.store.Withdraw(fx.disp, c.ID, "تماس تکراری")
	require.NoError(t, err)
	time.Sleep(time.Second)
	settle(t, fx.store, 5*time.Second)
	reqs := fcm.to("tok-a")
	require.Len(t, reqs, 1)
	assert.Equal(t, "sync", path(reqs[0].Msg, "data", "type"))
	assert.Nil(t, path(reqs[0].Msg, "notification"), "nothing to show: the complaint is no longer theirs")
}

// TestTokenRotationAndConfirmation: a device that sends its token again
// confirms it (its age starts over); a device that sends a new token
// replaces the old one, which gets nothing more.
func TestTokenRotationAndConfirmation(t *testing.T) {
	fx := newFixture(t, "", false)
	fcm := newFakeFCM(t)
	ali := fx.inspector("ali", inspector.ModeField)
	fx.device(ali, "ali-phone", "android", "tok-first")
	fx.device(ali, "ali-tablet", "android", "tok-tablet")
	registered := fx.devicePush("ali-phone").ConfirmedAt

	fx.clock.Advance(20 * 24 * time.Hour)
	_, err := fx.store.RegisterPush(favsync.Actor{UserID: ali.ID, DeviceID: "ali-phone"},
		favsync.PushRegistration{Token: "tok-first", Platform: "android", AppVersion: "1.4.1", Locale: "fa-IR"})
	require.NoError(t, err)
	p := fx.devicePush("ali-phone")
	assert.Equal(t, "tok-first", p.Token)
	assert.Equal(t, registered.Add(20*24*time.Hour), p.ConfirmedAt, "sending the token again confirms it")
	assert.Equal(t, "1.4.1", p.AppVersion)

	fx.clock.Advance(15 * 24 * time.Hour) // the tablet's token is now 35 days old, the phone's 15
	targets, err := fx.store.PushTargets([]string{ali.ID}, favsync.DefaultTokenStaleAfter)
	require.NoError(t, err)
	require.Len(t, targets, 1, "the unconfirmed tablet token is stale")
	assert.Equal(t, "tok-first", targets[0].Token)

	_, err = fx.store.RegisterPush(favsync.Actor{UserID: ali.ID, DeviceID: "ali-phone"},
		favsync.PushRegistration{Token: "tok-rotated", Platform: "android", AppVersion: "1.4.1", Locale: "fa-IR"})
	require.NoError(t, err)
	require.NoError(t, fx.store.SaveNotifierCursor(fx.head()))
	start(t, fx.store, fcm.sender(t), nil)
	fx.assign(fx.complaint(officeQZ, inspector.PriorityNormal), ali)
	fcm.waitTokens(1, 5*time.Second, "tok-rotated")
	settle(t, fx.store, 5*time.Second)
	assert.Empty(t, fcm.to("tok-first"), "the rotated-out token gets nothing")
	assert.Empty(t, fcm.to("tok-tablet"), "the stale token gets nothing")
}
