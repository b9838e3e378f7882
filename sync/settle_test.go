package sync

// Tests of how dispatch settles conflict records: several outcomes under
// review at once (issue 11, point 5).

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/favad/favad/inspector"
)

// twoReviews sets up issue 11's scenario: the complaint is reassigned from
// ali to reza; ali's offline outcome goes to review (the first conflict), and
// so does reza's, recorded offline against the version reza pulled (the
// second).
func twoReviews(t *testing.T) (f *fieldFixture, c inspector.Complaint, first, second string) {
	t.Helper()
	f = newFieldFixture(t)
	c = f.complaint(t, "CALL-1", "QZ-SSO-01", &f.ali)
	aliPhone, rezaPhone := f.device("ali-phone", f.ali), f.device("reza-phone", f.reza)
	c, err := f.s.Assign(dispatcher, c.ID, inspector.Routing{InspectorID: f.reza.ID, Mode: inspector.ModeField})
	require.NoError(t, err)
	r1 := mustPush(t, f.s, aliPhone, aliPhone.mut(MutComplaintOutcome, c.ID, c.Version, outcomeOf(inspector.OutcomeSubstantiated, "غایب بود")))[0]
	require.Equal(t, inspector.RuleNeedsReview, r1.Rule)
	r2 := mustPush(t, f.s, rezaPhone, rezaPhone.mut(MutComplaintOutcome, c.ID, c.Version, outcomeOf(inspector.OutcomeNotSubstantiated, "همه حاضر بودند")))[0]
	require.Equal(t, inspector.RuleNeedsReview, r2.Rule, "reza's outcome arrives while the complaint is under review: it is reviewed too")
	got, err := f.s.Complaint(c.ID)
	require.NoError(t, err)
	require.Equal(t, inspector.StatusNeedsReview, got.Status)
	return f, got, r1.ConflictIDs[0], r2.ConflictIDs[0]
}

// Issue 11, point 5: dispatch accepts the first review, the complaint leaves
// review, and the second review (reza's outcome) can no longer be overruled:
// reza's work is held for ever.
func TestBugSecondOutcomeUnderReviewIsStranded(t *testing.T) {
	f, c, first, second := twoReviews(t)
	_, err := f.s.ResolveConflict(dispatcher, first, ResolveAccept, "")
	require.NoError(t, err)
	got, err := f.s.Complaint(c.ID)
	require.NoError(t, err)
	assert.Equal(t, inspector.StatusNeedsReview, got.Status, "the complaint stays under review while another review of it is open")

	_, err = f.s.ResolveConflict(dispatcher, second, ResolveOverrule, "گزارش رضا پذیرفته شد")
	require.NoError(t, err, "the second review can still be overruled")
	got, err = f.s.Complaint(c.ID)
	require.NoError(t, err)
	assert.Equal(t, inspector.StatusNotSubstantiated, got.Status)
	require.NotNil(t, got.Outcome)
	assert.Equal(t, f.reza.ID, got.Outcome.InspectorID)
}

// Every review can be settled, in any order: accepting never fails;
// overruling one while another review of the complaint is open is refused
// with review_pending (that one must be accepted first), and the refusal
// changes nothing; the last one settled decides where the complaint goes.
func TestReviewConflictsSettleInAnyOrder(t *testing.T) {
	type step struct {
		second  bool // the second conflict, else the first
		action  string
		refused inspector.Code
	}
	for _, tc := range []struct {
		name   string
		steps  []step
		status inspector.Status
		by     string // whose outcome the complaint carries: "ali", "reza" or "" (none)
	}{
		{"accept first, overrule second", []step{{false, ResolveAccept, ""}, {true, ResolveOverrule, ""}}, inspector.StatusNotSubstantiated, "reza"},
		{"accept second, overrule first", []step{{true, ResolveAccept, ""}, {false, ResolveOverrule, ""}}, inspector.StatusResolved, "ali"},
		{"overrule first too early", []step{{false, ResolveOverrule, inspector.CodeReviewPending}, {true, ResolveAccept, ""}, {false, ResolveOverrule, ""}}, inspector.StatusResolved, "ali"},
		{"overrule second too early", []step{{true, ResolveOverrule, inspector.CodeReviewPending}, {false, ResolveAccept, ""}, {true, ResolveOverrule, ""}}, inspector.StatusNotSubstantiated, "reza"},
		{"accept both", []step{{true, ResolveAccept, ""}, {false, ResolveAccept, ""}}, inspector.StatusAssigned, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, c, first, second := twoReviews(t)
			for i, s := range tc.steps {
				id := first
				if s.second {
					id = second
				}
				before := dumpStore(t, f.s)
				_, err := f.s.ResolveConflict(dispatcher, id, s.action, "")
				if s.refused != "" {
					requireCode(t, err, s.refused)
					assert.Equal(t, before, dumpStore(t, f.s), "step %d: a refusal changes nothing", i)
					continue
				}
				require.NoError(t, err, "step %d", i)
				if i < len(tc.steps)-1 {
					got, err := f.s.Complaint(c.ID)
					require.NoError(t, err)
					assert.Equal(t, inspector.StatusNeedsReview, got.Status, "step %d: still under review", i)
				}
			}
			got, err := f.s.Complaint(c.ID)
			require.NoError(t, err)
			assert.Equal(t, tc.status, got.Status)
			switch tc.by {
			case "":
				assert.Nil(t, got.Outcome)
				require.NotNil(t, got.Assignment)
				assert.Equal(t, f.reza.ID, got.Assignment.InspectorID, "accepting both restores dispatch's state")
			case "ali":
				require.NotNil(t, got.Outcome)
				assert.Equal(t, f.ali.ID, got.Outcome.InspectorID)
			case "reza":
				require.NotNil(t, got.Outcome)
				assert.Equal(t, f.reza.ID, got.Outcome.InspectorID)
			}
			open, _, err := f.s.Conflicts(ConflictFilter{Status: ConflictOpen, ComplaintID: c.ID})
			require.NoError(t, err)
			assert.Empty(t, open, "every review is settled")
		})
	}
}

// Issue 11, point 20: a review whose complaint left review (dispatch routed
// it) is accepted as a no-op (the conflict closes, the complaint is
// untouched); overruling it is refused with conflict, as the spec says.
func TestAcceptingAReviewWhoseComplaintLeftReviewIsANoOp(t *testing.T) {
	f, c, first, second := twoReviews(t)
	_, err := f.s.Withdraw(dispatcher, c.ID, "تماس تکراری")
	require.NoError(t, err)
	before, err := f.s.Complaint(c.ID)
	require.NoError(t, err)

	_, err = f.s.ResolveConflict(dispatcher, second, ResolveOverrule, "")
	requireCode(t, err, inspector.CodeConflict)
	cf, err := f.s.ResolveConflict(dispatcher, first, ResolveAccept, "")
	require.NoError(t, err)
	assert.Equal(t, ConflictResolved, cf.Status)
	cf, err = f.s.ResolveConflict(dispatcher, second, ResolveAccept, "")
	require.NoError(t, err)
	assert.Equal(t, ConflictResolved, cf.Status)
	after, err := f.s.Complaint(c.ID)
	require.NoError(t, err)
	assert.Equal(t, before, after, "the complaint is untouched")
}

// Issue 11, point 13: dispatch settles conflict records in bulk. Each id is
// settled in its own transaction, in the order given, and answered on its
// own: one refusal does not hold the others back.
func TestSettleConflictsOneByOne(t *testing.T) {
	f, c, first, second := twoReviews(t)
	d := f.device("ali-phone", f.ali)
	d.seq = 10
	var edits []string
	for i := range 3 {
		r := mustPush(t, f.s, d, d.mut(MutComplaintEdit, c.ID, c.Version, editOfSeven(f, i)))[0]
		edits = append(edits, r.ConflictIDs[0])
	}
	_, err := f.s.ResolveConflict(dispatcher, edits[1], ResolveAccept, "")
	require.NoError(t, err)

	ids := []string{edits[0], edits[1], "no-such-conflict", first, second, edits[2]}
	out, err := f.s.SettleConflicts(dispatcher, ids, ResolveAccept, "یکجا")
	require.NoError(t, err)
	require.Len(t, out, len(ids))
	for i, r := range out {
		assert.Equal(t, ids[i], r.ID, "answers in the order asked")
	}
	wantCode := []inspector.Code{"", inspector.CodeConflict, inspector.CodeNotFound, "", "", ""}
	for i, r := range out {
		if wantCode[i] == "" {
			require.NoError(t, r.Err, "%s", ids[i])
			require.NotNil(t, r.Conflict)
			assert.Equal(t, ConflictResolved, r.Conflict.Status)
			assert.Equal(t, "یکجا", r.Conflict.Resolution.Note)
		} else {
			assert.Equal(t, wantCode[i], inspector.ErrorCode(r.Err), "%s", ids[i])
			assert.Nil(t, r.Conflict)
		}
	}
	got, err := f.s.Complaint(c.ID)
	require.NoError(t, err)
	assert.Equal(t, inspector.StatusAssigned, got.Status, "both reviews accepted, in order: dispatch's state stands")

	// Overruling both reviews of a complaint at once: each is refused while
	// the other is open, and nothing changes.
	f2, c2, a, b := twoReviews(t)
	out, err = f2.s.SettleConflicts(dispatcher, []string{a, b}, ResolveOverrule, "")
	require.NoError(t, err)
	for _, r := range out {
		assert.Equal(t, inspector.CodeReviewPending, inspector.ErrorCode(r.Err))
	}
	got, err = f2.s.Complaint(c2.ID)
	require.NoError(t, err)
	assert.Equal(t, inspector.StatusNeedsReview, got.Status)
}

// A bulk request is bounded and well formed, or refused whole before
// anything is settled.
func TestSettleConflictsRefusesABadRequest(t *testing.T) {
	f, _, first, second := twoReviews(t)
	many := make([]string, MaxSettleBatch+1)
	for i := range many {
		many[i] = f.ids.Next()
	}
	for _, tc := range []struct {
		name   string
		ids    []string
		action string
		field  string
	}{
		{"no ids", nil, ResolveAccept, "ids"},
		{"too many", many, ResolveAccept, "ids"},
		{"the same id twice", []string{first, second, first}, ResolveAccept, "ids"},
		{"an empty id", []string{first, ""}, ResolveAccept, "ids"},
		{"no action", []string{first}, "", "action"},
	} {
		_, err := f.s.SettleConflicts(dispatcher, tc.ids, tc.action, "")
		e := requireCode(t, err, inspector.CodeInvalid)
		require.NotEmpty(t, e.Fields, tc.name)
		assert.Equal(t, tc.field, e.Fields[0].Field, tc.name)
	}
	assert.Equal(t, ConflictOpen, mustConflict(t, f.s, first).Status, "nothing settled")
}
