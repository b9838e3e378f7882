package sync

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/favad/favad/inspector"
)

// TestWorkOnAComplaintNeverAssignedIsRefused: an inspector cannot attach work
// to, or provoke reviews of, a complaint that was never theirs.
func TestWorkOnAComplaintNeverAssignedIsRefused(t *testing.T) {
	f := newFieldFixture(t)
	c := f.complaint(t, "CALL-1", "QZ-SSO-01", &f.ali)
	d := f.device("reza-phone", f.reza)
	muts := []Mutation{
		d.mut(MutNoteCreate, f.devIDs.Next(), 0, notePayload(c.ID, "", "حدس شناسه", t0)),
		d.mut(MutComplaintEdit, c.ID, c.Version, map[string]any{"priority": "low"}),
		d.mut(MutComplaintOutcome, c.ID, c.Version, outcomeOf(inspector.OutcomeNotSubstantiated, "نبود")),
	}
	res := mustPush(t, f.s, d, muts...)
	for _, r := range res {
		assert.Equal(t, StatusRejected, r.Status)
		assert.Equal(t, inspector.CodeForbidden, r.Code)
	}
	requireNothingLost(t, f.s, muts, res)
	got, err := f.s.Complaint(c.ID)
	require.NoError(t, err)
	assert.Equal(t, inspector.StatusAssigned, got.Status, "no review was provoked")

	// Once the complaint was reassigned to reza and back, his late outcome is reviewed, not refused.
	_, err = f.s.Assign(dispatcher, c.ID, inspector.Routing{InspectorID: f.reza.ID, Mode: inspector.ModeField})
	require.NoError(t, err)
	_, err = f.s.Assign(dispatcher, c.ID, inspector.Routing{InspectorID: f.ali.ID, Mode: inspector.ModeField})
	require.NoError(t, err)
	r := mustPush(t, f.s, d, d.mut(MutComplaintOutcome, c.ID, c.Version, outcomeOf(inspector.OutcomeSubstantiated, "غایب بود")))[0]
	assert.Equal(t, StatusResolvedByRule, r.Status)
	assert.Equal(t, inspector.RuleNeedsReview, r.Rule)
}

// TestFindingForADeletedVisitIsOrphaned: work that belongs to a visit
// dispatch deleted is kept as orphaned work, not applied and not lost.
func TestFindingForADeletedVisitIsOrphaned(t *testing.T) {
	f := newFieldFixture(t)
	c := f.complaint(t, "CALL-1", "QZ-SSO-01", &f.ali)
	d := f.device("ali-phone", f.ali)
	visit := f.devIDs.Next()
	mustPush(t, f.s, d, d.mut(MutVisitUpsert, visit, 0, map[string]any{"office_code": "QZ-SSO-01", "complaint_ids": []string{c.ID}}))
	require.NoError(t, f.s.DeleteVisit(dispatcher, visit))
	m := d.mut(MutFindingCreate, f.devIDs.Next(), 0, findingPayload(visit, c.ID, 3, t0))
	r := mustPush(t, f.s, d, m)[0]
	assert.Equal(t, StatusResolvedByRule, r.Status)
	assert.Equal(t, inspector.RuleOrphaned, r.Rule)
	requireNothingLost(t, f.s, []Mutation{m}, []Result{r})
	_, err := f.s.ResolveConflict(dispatcher, r.ConflictIDs[0], ResolveOverrule, "")
	requireCode(t, err, inspector.CodeConflict)
	_, err = f.s.ResolveConflict(dispatcher, r.ConflictIDs[0], ResolveAccept, "")
	require.NoError(t, err)
}

// TestFullSyncPagesShowTheScopeAsOfItsStart: changes made while a full sync
// pages through the scope are left to the delta pulls after it, so no page
// shows a record newer than the sync's start, and the device converges.
func TestFullSyncPagesShowTheScopeAsOfItsStart(t *testing.T) {
	f := newFieldFixture(t)
	var cs []inspector.Complaint
	for i := range 4 {
		cs = append(cs, f.complaint(t, fmt.Sprintf("CALL-FS-%d", i), "QZ-SSO-01", &f.ali))
	}
	base := lastSeq(t, f.s)
	rep := newReplica()
	first := rep.pull(t, f.s, f.ali, 2)
	require.True(t, first.Reset)
	require.True(t, first.HasMore)

	// While the phone pages, dispatch reassigns one complaint away and one to ali.
	_, err := f.s.Assign(dispatcher, cs[3].ID, inspector.Routing{InspectorID: f.reza.ID, Mode: inspector.ModeField})
	require.NoError(t, err)
	extra := f.complaint(t, "CALL-FS-X", "QZ-SSO-01", &f.ali)

	// Every later page of the full sync holds only records as of its start.
	for i := 0; ; i++ {
		require.Less(t, i, 1000)
		p := rep.pull(t, f.s, f.ali, 2)
		for _, r := range p.Records {
			if r.Op == OpUpsert && r.Kind == KindComplaint && r.ID == cs[3].ID {
				assert.LessOrEqual(t, r.Version, base, "a reassigned complaint is never shown in its new state by the snapshot")
			}
		}
		if !p.HasMore {
			break
		}
	}
	requireSameRecords(t, expectedScope(t, f.s, f.ali), rep.recs, "after the full sync and its deltas")
	assert.NotContains(t, rep.recs, recKey{KindComplaint, cs[3].ID})
	assert.Contains(t, rep.recs, recKey{KindComplaint, extra.ID})

	// A fresh full sync interrupted by a change converges too.
	fresh := newReplica()
	fresh.pull(t, f.s, f.ali, 1)
	_, err = f.s.Assign(dispatcher, extra.ID, inspector.Routing{InspectorID: f.reza.ID, Mode: inspector.ModeField})
	require.NoError(t, err)
	fresh.sync(t, f.s, f.ali, 1)
	requireSameRecords(t, expectedScope(t, f.s, f.ali), fresh.recs)
	assert.NotContains(t, fresh.recs, recKey{KindComplaint, extra.ID})
}
