package push

import (
	"context"
	stdsync "sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/favad/favad/inspector"
	favsync "github.com/favad/favad/sync"
)

// recordingCallerNotifier keeps what it is asked to send; failures makes
// the first n sends fail.
type recordingCallerNotifier struct {
	mu       stdsync.Mutex
	sent     []CallerNotice
	failures int
}

func (r *recordingCallerNotifier) NotifyCaller(_ context.Context, n CallerNotice) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failures > 0 {
		r.failures--
		return assert.AnError
	}
	r.sent = append(r.sent, n)
	return nil
}

func (r *recordingCallerNotifier) notices() []CallerNotice {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]CallerNotice(nil), r.sent...)
}

// A caller hears the outcome once, when the complaint is closed: a transient
// failure is retried, a restart does not repeat what was sent, and
// complaints closed before the feature existed are not announced.
func TestCallerNoticesOnClosing(t *testing.T) {
	fx := newFixture(t, "", false)
	old := fx.complaint(officeQZ, inspector.PriorityNormal)
	_, err := fx.store.Refer(fx.disp, old.ID, "")
	require.NoError(t, err)
	liaison, err := fx.store.CreateUser(favsync.System, favsync.NewUser{Username: "liaison", DisplayName: "رابط", Role: inspector.RoleOffice, OfficeCode: officeQZ, PasswordHash: "h"})
	require.NoError(t, err)
	_, err = fx.store.AnswerReferral(favsync.Actor{UserID: liaison.ID}, liaison, old.ID, favsync.ReferralAnswerInput{Action: inspector.ReferralCorrected, Text: "برطرف شد"})
	require.NoError(t, err)
	_, err = fx.store.CloseOnAnswer(fx.disp, old.ID, inspector.OutcomeSubstantiated, "")
	require.NoError(t, err)

	rec := &recordingCallerNotifier{failures: 1}
	w := &CallerNotices{Store: fx.store, Notifier: rec, Logger: discard(), Poll: 20 * time.Millisecond}
	require.NoError(t, w.Settle(), "the first start begins at the head")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); w.Run(ctx) }()

	c := fx.complaint(officeQZ, inspector.PriorityNormal)
	_, err = fx.store.Refer(fx.disp, c.ID, "")
	require.NoError(t, err)
	_, err = fx.store.AnswerReferral(favsync.Actor{UserID: liaison.ID}, liaison, c.ID, favsync.ReferralAnswerInput{Action: inspector.ReferralNotConfirmed, Text: "کارمند در مأموریت بود"})
	require.NoError(t, err)
	closed, err := fx.store.CloseOnAnswer(fx.disp, c.ID, inspector.OutcomeNotSubstantiated, "")
	require.NoError(t, err)

	require.Eventually(t, func() bool { return len(rec.notices()) == 1 }, 5*time.Second, 10*time.Millisecond)
	cancel()
	<-done
	n := rec.notices()[0]
	assert.Equal(t, c.ID, n.ComplaintID)
	assert.Equal(t, callerPhone, n.Phone)
	assert.Contains(t, n.Text, closed.TrackingCode)
	assert.Contains(t, n.Text, inspector.OutcomeTextFa[inspector.OutcomeNotSubstantiated])
	assert.NotContains(t, n.Text, "کارمند در مأموریت بود", "the office's own words stay with dispatch")

	// A restart resumes after what was sent.
	ctx, cancel = context.WithCancel(context.Background())
	done = make(chan struct{})
	go func() { defer close(done); w.Run(ctx) }()
	time.Sleep(100 * time.Millisecond)
	cancel()
	<-done
	assert.Len(t, rec.notices(), 1)
}

func TestMaskPhone(t *testing.T) {
	assert.Equal(t, "*********67", MaskPhone("09121234567"))
	assert.Equal(t, "**", MaskPhone("7"))
}

// An SLA breach reaches the assignee's devices.
func TestSLABreachReachesTheAssignee(t *testing.T) {
	fx := newFixture(t, "", false)
	fcm := newFakeFCM(t)
	ali := fx.inspector("ali", inspector.ModeField)
	fx.device(ali, "ali-android", "android", "tok-ali-android")
	c := fx.complaint(officeQZ, inspector.PriorityUrgent)
	fx.assign(c, ali)
	require.NoError(t, fx.store.SaveNotifierCursor(fx.head()))
	start(t, fx.store, fcm.sender(t), func(n *Notifier) { n.Window = 50 * time.Millisecond })

	fx.clock.Advance(2 * time.Hour)
	breaches, err := fx.store.BreachDue(fx.clock.Now(), 10)
	require.NoError(t, err)
	require.Len(t, breaches, 1)
	fcm.waitTokens(1, 5*time.Second, "tok-ali-android")
	reqs := fcm.requests()
	require.NotEmpty(t, reqs)
	assert.Equal(t, breaches[0].Seq, seqOf(reqs[len(reqs)-1]))
}
