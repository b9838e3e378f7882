package inspector

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestStampBoundClampsAFastDeviceClock(t *testing.T) {
	now := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	ahead := Stamp{WallMs: now.Add(3 * time.Hour).UnixMilli(), Logical: 4, Device: "fast"}
	got := ahead.Bound(now)
	assert.Equal(t, now.UnixMilli(), got.WallMs, "a device three hours ahead is held to the server's time")
	assert.Equal(t, uint32(4), got.Logical)
	assert.Equal(t, "fast", got.Device)

	behind := Stamp{WallMs: now.Add(-time.Minute).UnixMilli(), Device: "slow"}
	assert.Equal(t, behind, behind.Bound(now), "a clock behind the server is left alone")

	// Clamped, the fast device no longer beats a later honest write.
	honest := Stamp{WallMs: now.UnixMilli(), Logical: 5, Device: "honest"}
	assert.True(t, Wins(honest, ahead.Bound(now)))
	assert.False(t, Wins(honest, ahead), "unclamped, the fast clock would win")
}

func TestWins(t *testing.T) {
	at := func(ms int64, logical uint32, device string, seq uint64) Stamp {
		return Stamp{WallMs: ms, Logical: logical, Device: device, DeviceSeq: seq}
	}
	for _, c := range []struct {
		name string
		a, b Stamp
	}{
		{"later clock", at(2000, 0, "a", 1), at(1000, 9, "z", 9)},
		{"same clock, higher counter", at(1000, 2, "a", 1), at(1000, 1, "z", 9)},
		{"same clock and counter, greater device id", at(1000, 1, "b", 1), at(1000, 1, "a", 1)},
		{"one device: its own order, whatever its clock says", at(1000, 0, "a", 7), at(5000, 0, "a", 6)},
	} {
		t.Run(c.name, func(t *testing.T) {
			assert.True(t, Wins(c.a, c.b))
			assert.False(t, Wins(c.b, c.a), "exactly one of two different stamps wins")
		})
	}
}

func TestDecideOutcome(t *testing.T) {
	mine := &Assignment{InspectorID: "ali"}
	other := &Assignment{InspectorID: "reza"}
	out := Outcome{Value: "substantiated", InspectorID: "ali", MutationID: "m1"}
	for _, c := range []struct {
		name string
		c    Complaint
		want OutcomeDecision
	}{
		{"assigned to me", Complaint{Status: StatusAssigned, Assignment: mine}, OutcomeApply},
		{"in progress with me", Complaint{Status: StatusInProgress, Assignment: mine}, OutcomeApply},
		{"reassigned meanwhile", Complaint{Status: StatusAssigned, Assignment: other}, OutcomeReview},
		{"withdrawn meanwhile", Complaint{Status: StatusWithdrawn, Assignment: mine}, OutcomeReview},
		{"referred meanwhile", Complaint{Status: StatusReferredToWorkplace, Assignment: mine}, OutcomeReview},
		{"closed meanwhile by another outcome", Complaint{Status: StatusResolved, Assignment: mine,
			Outcome: &Outcome{MutationID: "m0"}}, OutcomeReview},
		{"this very outcome again", Complaint{Status: StatusResolved, Assignment: mine, Outcome: &Outcome{MutationID: "m1"}}, OutcomeReplay},
		{"never assigned", Complaint{Status: StatusReceived}, OutcomeReview},
	} {
		t.Run(c.name, func(t *testing.T) {
			assert.Equal(t, c.want, DecideOutcome(c.c, "ali", out))
		})
	}
}

func TestInScope(t *testing.T) {
	mine := &Assignment{InspectorID: "ali"}
	assert.True(t, InScope(Complaint{Status: StatusAssigned, Assignment: mine}, "ali"))
	assert.True(t, InScope(Complaint{Status: StatusInProgress, Assignment: mine}, "ali"))
	assert.False(t, InScope(Complaint{Status: StatusInProgress, Assignment: mine}, "reza"), "another inspector's")
	for _, st := range []Status{StatusResolved, StatusNotSubstantiated, StatusReferredToWorkplace, StatusNeedsReview, StatusWithdrawn} {
		assert.False(t, InScope(Complaint{Status: st, Assignment: mine}, "ali"), st)
	}
	assert.False(t, InScope(Complaint{Status: StatusReceived}, "ali"))
}

func TestSettleReview(t *testing.T) {
	for _, c := range []struct {
		overrule bool
		others   int
		want     ReviewSettlement
		code     Code
	}{
		{false, 0, ReviewRestores, ""},
		{true, 0, ReviewApplies, ""},
		{false, 1, ReviewStays, ""},
		{false, 3, ReviewStays, ""},
		{true, 1, ReviewStays, CodeReviewPending},
	} {
		got, err := SettleReview(c.overrule, c.others)
		assert.Equal(t, c.want, got, "%+v", c)
		if c.code == "" {
			assert.NoError(t, err, "%+v", c)
		} else {
			assert.Equal(t, c.code, ErrorCode(err), "%+v", c)
		}
	}
}
