package push

import (
	"context"
	"encoding/json"
	"fmt"
	stdsync "sync"
	"testing"
	"time"

	"github.com/google/uuid"
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

// TestBugCallerToldTwiceWhenDispatchAcceptsAReview: reza resolves the
// complaint and the caller hears the outcome. ali, who had it before, then
// syncs an outcome recorded offline: the complaint goes to review, and
// dispatch accepts its own state — resolved, with reza's outcome. Nothing
// changed for the caller, who was sent the same outcome a second time. A
// worker that reads all of it late must still tell the caller once.
func TestBugCallerToldTwiceWhenDispatchAcceptsAReview(t *testing.T) {
	for _, live := range []bool{true, false} {
		t.Run(map[bool]string{true: "live", false: "late"}[live], func(t *testing.T) {
			fx := newFixture(t, "", false)
			ali := fx.inspector("ali", inspector.ModeField)
			reza := fx.inspector("reza", inspector.ModeField)
			c := fx.complaint(officeQZ, inspector.PriorityNormal)
			fx.assign(c, ali)
			fx.assign(c, reza)
			rec := &recordingCallerNotifier{}
			w := &CallerNotices{Store: fx.store, Notifier: rec, Logger: discard(), Poll: 20 * time.Millisecond}
			require.NoError(t, w.Settle())
			run := func() {
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan struct{})
				go func() { defer close(done); w.Run(ctx) }()
				t.Cleanup(func() { cancel(); <-done })
			}
			if live {
				run()
			}

			outcome := func(u inspector.User, device string, value inspector.OutcomeValue) favsync.Result {
				payload, _ := json.Marshal(map[string]any{"outcome": value, "statement": "بررسی شد"})
				res, _, err := fx.store.Push(u, device, []favsync.Mutation{{
					ID: uuid.Must(uuid.NewV7()).String(), DeviceSeq: 1, Kind: favsync.MutComplaintOutcome, RecordID: c.ID,
					DeviceTime: fx.clock.Now(), Payload: payload, HLC: inspector.Stamp{WallMs: fx.clock.Now().UnixMilli()},
				}})
				require.NoError(t, err)
				return res[0]
			}
			require.Equal(t, favsync.StatusApplied, outcome(reza, "reza-a", inspector.OutcomeSubstantiated).Status)
			if live {
				require.Eventually(t, func() bool { return len(rec.notices()) == 1 }, 5*time.Second, 10*time.Millisecond)
			}
			r := outcome(ali, "ali-a", inspector.OutcomeNotSubstantiated)
			require.Equal(t, inspector.RuleNeedsReview, r.Rule, r.Message)
			caughtUp := func() {
				head := fx.head()
				require.Eventually(t, func() bool {
					cur, err := fx.store.ReaderCursor(callerNoticesCursor)
					return err == nil && cur >= head
				}, 5*time.Second, 10*time.Millisecond, "the worker read to the head")
			}
			if !live {
				run() // it reads reza's outcome while the complaint is under review
				caughtUp()
			}
			_, err := fx.store.ResolveConflict(fx.disp, r.ConflictIDs[0], favsync.ResolveAccept, "")
			require.NoError(t, err)
			got, err := fx.store.Complaint(c.ID)
			require.NoError(t, err)
			require.Equal(t, inspector.StatusResolved, got.Status)
			caughtUp()
			require.Len(t, rec.notices(), 1, "the caller is told once; accepting dispatch's own state tells nothing new")
			assert.Contains(t, rec.notices()[0].Text, inspector.OutcomeTextFa[inspector.OutcomeSubstantiated])
		})
	}
}

// wrappingNotifier refuses the first number it is given as unreachable,
// wrapping the sentinel as an SMS adapter would, and records the rest.
type wrappingNotifier struct {
	recordingCallerNotifier
	refuse string
}

func (w *wrappingNotifier) NotifyCaller(ctx context.Context, n CallerNotice) error {
	if n.ComplaintID == w.refuse {
		return fmt.Errorf("sms gateway: status 21211: %w", ErrCallerUnreachable)
	}
	return w.recordingCallerNotifier.NotifyCaller(ctx, n)
}

// TestBugWrappedUnreachableBlocksEveryLaterNotice: an SMS adapter that
// wraps ErrCallerUnreachable with its gateway's reason (as Go errors are
// wrapped) had its notice retried for ever, and no caller after it was
// ever told anything: the worker compared the error with ==.
func TestBugWrappedUnreachableBlocksEveryLaterNotice(t *testing.T) {
	fx := newFixture(t, "", false)
	liaison, err := fx.store.CreateUser(favsync.System, favsync.NewUser{Username: "liaison", DisplayName: "رابط", Role: inspector.RoleOffice, OfficeCode: officeQZ, PasswordHash: "h"})
	require.NoError(t, err)
	rec := &wrappingNotifier{}
	w := &CallerNotices{Store: fx.store, Notifier: rec, Logger: discard(), Poll: 20 * time.Millisecond}
	require.NoError(t, w.Settle())
	var ids []string
	for range 2 {
		c := fx.complaint(officeQZ, inspector.PriorityNormal)
		_, err = fx.store.Refer(fx.disp, c.ID, "")
		require.NoError(t, err)
		_, err = fx.store.AnswerReferral(favsync.Actor{UserID: liaison.ID}, liaison, c.ID, favsync.ReferralAnswerInput{Action: inspector.ReferralCorrected, Text: "برطرف شد"})
		require.NoError(t, err)
		_, err = fx.store.CloseOnAnswer(fx.disp, c.ID, inspector.OutcomeSubstantiated, "")
		require.NoError(t, err)
		ids = append(ids, c.ID)
	}
	rec.refuse = ids[0]
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); w.Run(ctx) }()
	defer func() { cancel(); <-done }()
	require.Eventually(t, func() bool { return len(rec.notices()) == 1 }, 3*time.Second, 10*time.Millisecond,
		"the unreachable caller is skipped, and the next one told")
	assert.Equal(t, ids[1], rec.notices()[0].ComplaintID)
}
