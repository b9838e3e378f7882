package push

// Regression tests from the review of push/: each is named after the defect
// it pins and fails until that defect is fixed.

import (
	"context"
	"encoding/json"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/favad/favad/inspector"
	favsync "github.com/favad/favad/sync"
)

// ali recorded an outcome offline; meanwhile dispatch reassigned the
// complaint to reza. The outcome sends the complaint to needs_review, which
// takes it out of reza's scope (reza's device must drop it), but the change's
// log entry names only ali (the author), so reza's device is never told to
// sync and keeps showing work that is no longer his to do.
func TestBugReviewByFormerAssigneeDoesNotTickleCurrentAssignee(t *testing.T) {
	fx := newFixture(t, "", false)
	fcm := newFakeFCM(t)
	ali := fx.inspector("ali", inspector.ModeField)
	reza := fx.inspector("reza", inspector.ModeField)
	fx.device(ali, "ali-a", "android", "tok-ali")
	fx.device(reza, "reza-a", "android", "tok-reza")
	c := fx.complaint(officeQZ, inspector.PriorityNormal)
	fx.assign(c, ali)
	fx.assign(c, reza)
	require.NoError(t, fx.store.SaveNotifierCursor(fx.head()))
	start(t, fx.store, fcm.sender(t), nil)

	payload, _ := json.Marshal(map[string]any{"outcome": "substantiated", "statement": "کارمند غایب بود"})
	res, _, err := fx.store.Push(ali, "ali-a", []favsync.Mutation{{
		ID: uuid.Must(uuid.NewV7()).String(), DeviceSeq: 1, Kind: favsync.MutComplaintOutcome, RecordID: c.ID,
		DeviceTime: time.Now(), Payload: payload, HLC: inspector.Stamp{WallMs: time.Now().UnixMilli()},
	}})
	require.NoError(t, err)
	require.Equal(t, favsync.StatusResolvedByRule, res[0].Status, res[0].Message)
	got, err := fx.store.Complaint(c.ID)
	require.NoError(t, err)
	require.Equal(t, inspector.StatusNeedsReview, got.Status, "the complaint left reza's scope")

	settle(t, fx.store, 5*time.Second)
	assert.NotEmpty(t, fcm.to("tok-reza"), "reza's device holds the complaint and must be told to sync (it is removed)")
}

// The notifier pokes open live streams (SSE) "at once" from the same loop
// that sends FCM messages and sleeps through their retries. While one send is
// slow or backing off (FCM's Retry-After can be minutes), no change reaches
// anyone's open stream: here reza's stream hears nothing of his new
// assignment while a send to ali's device hangs.
func TestBugSlowFCMSendStallsLiveStreamPokes(t *testing.T) {
	fx := newFixture(t, "", false)
	ali := fx.inspector("ali", inspector.ModeField)
	reza := fx.inspector("reza", inspector.ModeField)
	fx.device(ali, "ali-a", "android", "tok-ali")
	c1 := fx.complaint(officeQZ, inspector.PriorityNormal)
	c2 := fx.complaint(officeQZ, inspector.PriorityNormal)
	require.NoError(t, fx.store.SaveNotifierCursor(fx.head()))

	sending := make(chan struct{}, 1)
	release := make(chan struct{})
	defer close(release)
	slow := SenderFunc(func(ctx context.Context, msgs []Message) ([]Result, error) {
		select {
		case sending <- struct{}{}:
		default:
		}
		select { // FCM is slow to answer (or the notifier waits out a Retry-After)
		case <-release:
		case <-ctx.Done():
		}
		return make([]Result, len(msgs)), nil
	})
	poker := &pokes{}
	start(t, fx.store, slow, func(n *Notifier) { n.Poker = poker })

	fx.assign(c1, ali)
	select {
	case <-sending:
	case <-time.After(5 * time.Second):
		t.Fatal("the notifier never sent to ali")
	}
	fx.assign(c2, reza)
	assert.Eventually(t, func() bool { return len(poker.of(reza.ID)) > 0 }, time.Second, 5*time.Millisecond,
		"reza's open stream must be poked at once, whatever FCM is doing")
}

// flakyInspectors fails the first InspectorsOf, as a store under a transient
// read error would.
type flakyInspectors struct {
	*favsync.Store
	failed atomic.Bool
}

func (s *flakyInspectors) InspectorsOf(province string) ([]string, error) {
	if s.failed.CompareAndSwap(false, true) {
		return nil, errors.New("transient read error")
	}
	return s.Store.InspectorsOf(province)
}

// A change to an office concerns the inspectors of its province, looked up
// when the change is read. If that lookup fails, the error is only logged:
// nobody is owed a message, the cursor is saved past the change, and the
// province's devices are never told, although nothing was sent.
func TestBugFailedInspectorLookupLosesTheNotification(t *testing.T) {
	fx := newFixture(t, "", false)
	fcm := newFakeFCM(t)
	ali := fx.inspector("ali", inspector.ModeField) // Qazvin
	fx.device(ali, "ali-a", "android", "tok-a")
	require.NoError(t, fx.store.SaveNotifierCursor(fx.head()))
	start(t, &flakyInspectors{Store: fx.store}, fcm.sender(t), nil)

	o, err := fx.store.Office(officeTK)
	require.NoError(t, err)
	o.Phone = "028-33000999"
	_, _, err = fx.store.PutOffice(favsync.System, o)
	require.NoError(t, err)
	settle(t, fx.store, 5*time.Second)
	assert.NotEmpty(t, fcm.to("tok-a"), "the office changed in ali's province: ali's device must be told once the store answers")
}
