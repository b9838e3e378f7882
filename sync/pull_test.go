package sync

// Pull tests: an inspector's device receives exactly its scope, as
// tombstones when access changes, in pages that never split a transaction,
// and with a full resync when its cursor is older than what was compacted.

import (
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/favad/favad/inspector"
)

// scopeWorld is a store where ali and reza each have complaints, visits,
// findings, calls, notes and conflict records.
type scopeWorld struct {
	*fieldFixture
	aliPhone, rezaPhone *fieldDevice
	mine, started       inspector.Complaint // ali's, in his scope
	theirs, unassigned  inspector.Complaint
	closed              inspector.Complaint // ali resolved it
}

func newScopeWorld(t *testing.T) *scopeWorld {
	t.Helper()
	w := &scopeWorld{fieldFixture: newFieldFixture(t)}
	f := w.fieldFixture
	w.aliPhone, w.rezaPhone = f.device("ali-phone", f.ali), f.device("reza-phone", f.reza)
	w.mine = f.complaint(t, "CALL-1", "QZ-SSO-01", &f.ali)
	w.theirs = f.complaint(t, "CALL-2", "QZ-TAX-01", &f.reza)
	w.unassigned = f.complaint(t, "CALL-3", "TK-SSO-01", nil)
	w.started = f.complaint(t, "CALL-4", "AB-TAX-01", &f.ali)
	w.closed = f.complaint(t, "CALL-5", "QZ-SSO-01", &f.ali)
	at := t0.Add(-5 * time.Minute)
	for _, x := range []struct {
		d *fieldDevice
		c inspector.Complaint
	}{{w.aliPhone, w.mine}, {w.rezaPhone, w.theirs}} {
		visitID, _ := f.visit(t, x.d, x.c.ID)
		muts := []Mutation{
			x.d.mut(MutFindingCreate, f.devIDs.Next(), 0, findingPayload(visitID, x.c.ID, 4, at)),
			x.d.mut(MutNoteCreate, f.devIDs.Next(), 0, notePayload(x.c.ID, visitID, "یادداشت", at)),
			x.d.mut(MutCallCreate, f.devIDs.Next(), 0, callPayload(x.c.ID, 60, at)),
			x.d.mut(MutComplaintEdit, x.c.ID, x.c.Version, map[string]any{"priority": "urgent"}),
		}
		for i, r := range mustPush(t, f.s, x.d, muts...) {
			require.NotEqual(t, StatusRejected, r.Status, "mutation %d: %s", i, r.Message)
		}
	}
	res := mustPush(t, f.s, w.aliPhone,
		w.aliPhone.mut(MutComplaintStart, w.started.ID, w.started.Version, nil),
		w.aliPhone.mut(MutComplaintOutcome, w.closed.ID, w.closed.Version, outcomeOf(inspector.OutcomeResolvedOnSpot, "حل شد")))
	for _, r := range res {
		require.Equal(t, StatusApplied, r.Status, r.Message)
	}
	return w
}

func TestPullScopeIsExactlyTheInspectorsWork(t *testing.T) {
	w := newScopeWorld(t)
	want := expectedScope(t, w.s, w.ali)
	for _, limit := range []int{1, 2, 3, 7, 0} {
		t.Run(fmt.Sprint("limit ", limit), func(t *testing.T) {
			rep := newReplica()
			rep.sync(t, w.s, w.ali, limit)
			requireSameRecords(t, want, rep.recs)
		})
	}

	page, err := w.s.Pull(w.ali, "", MaxPullLimit)
	require.NoError(t, err)
	assert.True(t, page.Reset, "a first pull is a full sync")
	assert.False(t, page.HasMore)
	kinds := map[string][]string{}
	for _, rec := range page.Records {
		require.Equal(t, OpUpsert, rec.Op)
		kinds[rec.Kind] = append(kinds[rec.Kind], rec.ID)
		switch r := rec.Record.(type) {
		case *inspector.Complaint:
			require.NotNil(t, r.Assignment)
			assert.Equal(t, w.ali.ID, r.Assignment.InspectorID)
			assert.Contains(t, []inspector.Status{inspector.StatusAssigned, inspector.StatusInProgress}, r.Status)
		case *inspector.Visit:
			assert.Equal(t, w.ali.ID, r.InspectorID)
		case *inspector.Finding:
			assert.Equal(t, w.ali.ID, r.InspectorID)
		case *inspector.CallRecord:
			assert.Equal(t, w.ali.ID, r.InspectorID)
		case *inspector.Note:
			assert.Equal(t, w.ali.ID, r.InspectorID)
		case *Conflict:
			assert.Equal(t, w.ali.ID, r.InspectorID)
		case *inspector.Office, *inspector.Agency:
		default:
			t.Errorf("unexpected record %T", r)
		}
	}
	assert.ElementsMatch(t, []string{w.mine.ID, w.started.ID}, kinds[KindComplaint], "assigned and open only")
	assert.Len(t, kinds[KindVisit], 1)
	assert.Len(t, kinds[KindFinding], 1)
	assert.Len(t, kinds[KindCall], 1)
	assert.Len(t, kinds[KindNote], 1)
	assert.Len(t, kinds[KindConflict], 1, "the dispatch_wins record about ali's edit")
	assert.ElementsMatch(t, []string{"QZ-SSO-01", "TK-SSO-01", "QZ-TAX-01", "AB-TAX-01"}, kinds[KindOffice])
	assert.ElementsMatch(t, []string{"SSO", "TAX"}, kinds[KindAgency])

	rep := newReplica()
	rep.sync(t, w.s, w.reza, 2)
	requireSameRecords(t, expectedScope(t, w.s, w.reza), rep.recs)
	assert.Contains(t, rep.recs, recKey{KindComplaint, w.theirs.ID})
	assert.NotContains(t, rep.recs, recKey{KindComplaint, w.mine.ID})
}

func TestPullRegionCities(t *testing.T) {
	f := newFieldFixture(t)
	hamid, err := f.s.CreateUser(admin, NewUser{Username: "hamid", DisplayName: "حمید", Role: inspector.RoleInspector,
		Mode: inspector.ModeField, Region: &inspector.Region{Province: "قزوين", Cities: []string{"قزوین"}}, PasswordHash: "x"})
	require.NoError(t, err)
	rep := newReplica()
	rep.sync(t, f.s, hamid, 1)
	assert.Equal(t, map[recKey]uint64{
		{KindOffice, "QZ-SSO-01"}: mustOffice(t, f.s, "QZ-SSO-01").Version,
		{KindOffice, "QZ-TAX-01"}: mustOffice(t, f.s, "QZ-TAX-01").Version,
		{KindAgency, "SSO"}:       mustAgency(t, f.s, "SSO").Version,
		{KindAgency, "TAX"}:       mustAgency(t, f.s, "TAX").Version,
	}, rep.recs, "the offices of the region's cities and every agency")

	// An office that moves into the region arrives.
	moved := officeSSO2
	moved.City = "قزوین"
	_, _, err = f.s.PutOffice(admin, moved)
	require.NoError(t, err)
	rep.sync(t, f.s, hamid, 1)
	assert.Contains(t, rep.recs, recKey{KindOffice, "TK-SSO-01"})
	requireSameRecords(t, expectedScope(t, f.s, hamid), rep.recs)
}

func mustOffice(tb testing.TB, s *Store, code string) inspector.Office {
	tb.Helper()
	o, err := s.Office(code)
	require.NoError(tb, err)
	return o
}

func mustAgency(tb testing.TB, s *Store, code string) inspector.Agency {
	tb.Helper()
	a, err := s.Agency(code)
	require.NoError(tb, err)
	return a
}

func TestPullTombstonesWhenAccessChanges(t *testing.T) {
	f := newFieldFixture(t)
	reassigned := f.complaint(t, "CALL-1", "QZ-SSO-01", &f.ali)
	withdrawn := f.complaint(t, "CALL-2", "QZ-SSO-01", &f.ali)
	referred := f.complaint(t, "CALL-3", "QZ-SSO-01", &f.ali)
	ali, reza := newReplica(), newReplica()
	ali.sync(t, f.s, f.ali, 2)
	reza.sync(t, f.s, f.reza, 2)
	for _, c := range []inspector.Complaint{reassigned, withdrawn, referred} {
		require.Contains(t, ali.recs, recKey{KindComplaint, c.ID})
	}

	_, err := f.s.Assign(dispatcher, reassigned.ID, inspector.Routing{InspectorID: f.reza.ID, Mode: inspector.ModeField})
	require.NoError(t, err)
	_, err = f.s.Withdraw(dispatcher, withdrawn.ID, "تکراری")
	require.NoError(t, err)
	_, err = f.s.Refer(dispatcher, referred.ID, "")
	require.NoError(t, err)

	p := ali.pull(t, f.s, f.ali, 10)
	assert.False(t, p.Reset)
	assert.ElementsMatch(t, []PullRecord{
		{Kind: KindComplaint, ID: reassigned.ID, Op: OpRemove, Reason: ReasonReassigned},
		{Kind: KindComplaint, ID: withdrawn.ID, Op: OpRemove, Reason: ReasonWithdrawn},
		{Kind: KindComplaint, ID: referred.ID, Op: OpRemove, Reason: ReasonClosed},
	}, p.Records, "access changes arrive as removals with a reason")
	requireSameRecords(t, expectedScope(t, f.s, f.ali), ali.recs)

	p = reza.pull(t, f.s, f.reza, 10)
	require.Len(t, p.Records, 1)
	assert.Equal(t, OpUpsert, p.Records[0].Op)
	assert.Equal(t, reassigned.ID, p.Records[0].ID)
	requireSameRecords(t, expectedScope(t, f.s, f.reza), reza.recs)

	// Reassigning back returns it to ali and takes it from reza.
	_, err = f.s.Assign(dispatcher, reassigned.ID, inspector.Routing{InspectorID: f.ali.ID, Mode: inspector.ModeField})
	require.NoError(t, err)
	ali.sync(t, f.s, f.ali, 1)
	reza.sync(t, f.s, f.reza, 1)
	assert.Contains(t, ali.recs, recKey{KindComplaint, reassigned.ID})
	assert.NotContains(t, reza.recs, recKey{KindComplaint, reassigned.ID})
	requireSameRecords(t, expectedScope(t, f.s, f.ali), ali.recs)
	requireSameRecords(t, expectedScope(t, f.s, f.reza), reza.recs)
}

// scopeHistory records the scope an inspector should see after each write, so
// that a device's copy at any page boundary can be matched against the
// states the scope went through.
type scopeHistory struct {
	states []map[recKey]uint64
}

func (h *scopeHistory) snap(tb kitT, s *Store, u inspector.User) {
	tb.Helper()
	h.states = append(h.states, expectedScope(tb, s, u))
}

// requirePagesConsistent pulls from start with limit and checks that after
// every page the device holds exactly a state the scope was in, never going
// back, and ends in the last state.
func requirePagesConsistent(t *testing.T, s *Store, u inspector.User, start *replica, h *scopeHistory, limit int) {
	t.Helper()
	rep := &replica{cursor: start.cursor, recs: maps.Clone(start.recs)}
	at := 0
	for page := 1; ; page++ {
		require.Less(t, page, 1000)
		p := rep.pull(t, s, u, limit)
		found := -1
		for i := at; i < len(h.states); i++ {
			if maps.Equal(h.states[i], rep.recs) {
				found = i
				break
			}
		}
		if found < 0 {
			requireSameRecords(t, h.states[at], rep.recs, "page %d (limit %d) shows no state the scope was ever in; the nearest earlier state is shown", page, limit)
		}
		at = found
		if !p.HasMore {
			break
		}
	}
	require.Equal(t, len(h.states)-1, at, "the last page ends in the current state")
}

func TestPullPagesNeverSplitATransaction(t *testing.T) {
	f := newFieldFixture(t)
	d := f.device("ali-phone", f.ali)
	c1 := f.complaint(t, "CALL-1", "QZ-SSO-01", &f.ali)
	c2 := f.complaint(t, "CALL-2", "QZ-TAX-01", nil)
	start := newReplica()
	start.sync(t, f.s, f.ali, 0)
	h := &scopeHistory{}
	h.snap(t, f.s, f.ali)
	at := t0.Add(-time.Minute)

	// One push: a visit, its finding and a note (and a conflict record).
	visitID := f.devIDs.Next()
	res := mustPush(t, f.s, d,
		d.mut(MutVisitUpsert, visitID, 0, map[string]any{"office_code": "QZ-SSO-01", "complaint_ids": []string{c1.ID}}),
		d.mut(MutFindingCreate, f.devIDs.Next(), 0, findingPayload(visitID, c1.ID, 2, at)),
		d.mut(MutNoteCreate, f.devIDs.Next(), 0, notePayload(c1.ID, visitID, "ورود", at)),
		d.mut(MutComplaintEdit, c1.ID, c1.Version, map[string]any{"category": "other"}))
	for _, r := range res {
		require.NotEqual(t, StatusRejected, r.Status, r.Message)
	}
	h.snap(t, f.s, f.ali)
	// Dispatch assigns another complaint.
	_, err := f.s.Assign(dispatcher, c2.ID, inspector.Routing{InspectorID: f.ali.ID, Mode: inspector.ModeField})
	require.NoError(t, err)
	h.snap(t, f.s, f.ali)
	// One push: start it, a finding and a call about it.
	res = mustPush(t, f.s, d,
		d.mut(MutComplaintStart, c2.ID, 0, nil),
		d.mut(MutFindingCreate, f.devIDs.Next(), 0, findingPayload(visitID, c2.ID, 1, at)),
		d.mut(MutCallCreate, f.devIDs.Next(), 0, callPayload(c2.ID, 30, at)))
	for _, r := range res {
		require.Equal(t, StatusApplied, r.Status, r.Message)
	}
	h.snap(t, f.s, f.ali)
	// Dispatch withdraws the first complaint.
	_, err = f.s.Withdraw(dispatcher, c1.ID, "تکراری")
	require.NoError(t, err)
	h.snap(t, f.s, f.ali)

	for limit := 1; limit <= 6; limit++ {
		requirePagesConsistent(t, f.s, f.ali, start, h, limit)
	}
}

func TestBugPullPageSplitsATransactionWhenARecordChangesLater(t *testing.T) {
	f := newFieldFixture(t)
	d := f.device("ali-phone", f.ali)
	c := f.complaint(t, "CALL-1", "QZ-SSO-01", &f.ali)
	start := newReplica()
	start.sync(t, f.s, f.ali, 0)
	h := &scopeHistory{}
	h.snap(t, f.s, f.ali)

	// One push creates a visit and its finding; a later push edits the visit.
	visitID := f.devIDs.Next()
	res := mustPush(t, f.s, d,
		d.mut(MutVisitUpsert, visitID, 0, map[string]any{"office_code": "QZ-SSO-01", "complaint_ids": []string{c.ID}}),
		d.mut(MutFindingCreate, f.devIDs.Next(), 0, findingPayload(visitID, c.ID, 2, t0)))
	require.Equal(t, StatusApplied, res[1].Status, res[1].Message)
	h.snap(t, f.s, f.ali)
	f.clock.Advance(time.Minute)
	r := mustPush(t, f.s, d, d.mut(MutVisitUpsert, visitID, res[0].Version, map[string]any{"summary": "خروج"}))[0]
	require.Equal(t, StatusApplied, r.Status, r.Message)
	h.snap(t, f.s, f.ali)

	// With a limit of 1, the first page holds the first push; it must not
	// deliver the finding without its visit.
	requirePagesConsistent(t, f.s, f.ali, start, h, 1)
}

func TestBugPullPageShowsADeletionBeforeEarlierChanges(t *testing.T) {
	f := newFieldFixture(t)
	d := f.device("ali-phone", f.ali)
	c1 := f.complaint(t, "CALL-1", "QZ-SSO-01", &f.ali)
	c2 := f.complaint(t, "CALL-2", "QZ-TAX-01", nil)
	start := newReplica()
	start.sync(t, f.s, f.ali, 0)
	h := &scopeHistory{}
	h.snap(t, f.s, f.ali)

	// One push: a visit and its finding. Then dispatch assigns another
	// complaint, then deletes the visit.
	visitID := f.devIDs.Next()
	res := mustPush(t, f.s, d,
		d.mut(MutVisitUpsert, visitID, 0, map[string]any{"office_code": "QZ-SSO-01", "complaint_ids": []string{c1.ID}}),
		d.mut(MutFindingCreate, f.devIDs.Next(), 0, findingPayload(visitID, c1.ID, 2, t0)))
	require.Equal(t, StatusApplied, res[1].Status, res[1].Message)
	h.snap(t, f.s, f.ali)
	_, err := f.s.Assign(dispatcher, c2.ID, inspector.Routing{InspectorID: f.ali.ID, Mode: inspector.ModeField})
	require.NoError(t, err)
	h.snap(t, f.s, f.ali)
	require.NoError(t, f.s.DeleteVisit(dispatcher, visitID))
	h.snap(t, f.s, f.ali)

	// The first page holds the push; it may not show the deletion that came
	// after the assignment without showing the assignment.
	requirePagesConsistent(t, f.s, f.ali, start, h, 1)
}

func TestBugOfficeLeavingRegionCitiesStaysOnDevice(t *testing.T) {
	f := newFieldFixture(t)
	hamid, err := f.s.CreateUser(admin, NewUser{Username: "hamid", DisplayName: "حمید", Role: inspector.RoleInspector,
		Mode: inspector.ModeField, Region: &inspector.Region{Province: "قزوین", Cities: []string{"قزوین"}}, PasswordHash: "x"})
	require.NoError(t, err)
	rep := newReplica()
	rep.sync(t, f.s, hamid, 0)
	require.Contains(t, rep.recs, recKey{KindOffice, "QZ-TAX-01"})

	// The office moves to Abyek, outside hamid's cities (same province).
	moved := officeTAX1
	moved.City = "آبیک"
	_, _, err = f.s.PutOffice(admin, moved)
	require.NoError(t, err)
	rep.sync(t, f.s, hamid, 0)
	assert.NotContains(t, rep.recs, recKey{KindOffice, "QZ-TAX-01"}, "the device must be told to drop it")
	requireSameRecords(t, expectedScope(t, f.s, hamid), rep.recs)
}

func TestPullCompactedCursorGetsFullResync(t *testing.T) {
	w := newScopeWorld(t)
	old := newReplica()
	old.sync(t, w.s, w.ali, 3)

	// Changes the old device has not seen, then more time than retention.
	_, err := w.s.Assign(dispatcher, w.mine.ID, inspector.Routing{InspectorID: w.reza.ID, Mode: inspector.ModeField})
	require.NoError(t, err)
	c := w.complaint(t, "CALL-9", "TK-SSO-01", &w.ali)
	res := mustPush(t, w.s, w.aliPhone, w.aliPhone.mut(MutNoteCreate, w.devIDs.Next(), 0, notePayload(c.ID, "", "نو", t0)))
	require.Equal(t, StatusApplied, res[0].Status)
	current := newReplica()
	current.sync(t, w.s, w.ali, 3)

	w.clock.Advance(30 * 24 * time.Hour)
	pruned, err := w.s.CompactScopes(w.clock.Now())
	require.NoError(t, err)
	assert.Positive(t, pruned)

	p := old.pull(t, w.s, w.ali, 3)
	assert.True(t, p.Reset, "a cursor older than the tombstones kept gets a full resync, not a gap")
	old.sync(t, w.s, w.ali, 3)
	requireSameRecords(t, expectedScope(t, w.s, w.ali), old.recs)
	assert.NotContains(t, old.recs, recKey{KindComplaint, w.mine.ID}, "the reassignment is not lost with its tombstone")

	p = current.pull(t, w.s, w.ali, 3)
	assert.False(t, p.Reset, "an up-to-date cursor needs no resync")
	assert.Empty(t, p.Records)
	assert.False(t, p.HasMore)

	// After compaction, new changes flow as usual.
	_, err = w.s.Withdraw(dispatcher, c.ID, "تکراری")
	require.NoError(t, err)
	p = current.pull(t, w.s, w.ali, 3)
	assert.False(t, p.Reset)
	assert.Equal(t, []PullRecord{{Kind: KindComplaint, ID: c.ID, Op: OpRemove, Reason: ReasonWithdrawn}}, p.Records)
	requireSameRecords(t, expectedScope(t, w.s, w.ali), current.recs)
	old.sync(t, w.s, w.ali, 3)
	requireSameRecords(t, current.recs, old.recs)
}

func TestPullBadCursor(t *testing.T) {
	f := newFieldFixture(t)
	for _, cursor := range []string{"garbage", "eyJ2IjoyfQ", "!!"} {
		_, err := f.s.Pull(f.ali, cursor, 10)
		requireField(t, err, inspector.CodeInvalid, "cursor", "invalid")
	}
}
