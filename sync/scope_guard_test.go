package sync

import (
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
