package sync

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/favad/favad/inspector"
)

// pullKinds counts a page's upserts by kind.
func pullKinds(p PullPage) map[string]int {
	out := map[string]int{}
	for _, r := range p.Records {
		if r.Op == OpUpsert {
			out[r.Kind]++
		}
	}
	return out
}

// ownWorld is ali's phone after a full sync, with a visit of its own, and
// ali's tablet, which pulls the same scope.
type ownWorld struct {
	f             *fieldFixture
	cmp           inspector.Complaint
	phone, tablet *fieldDevice
	phoneRep      *replica
	tabletCursor  string
	visitID       string
}

func newOwnWorld(t *testing.T) *ownWorld {
	t.Helper()
	f := newFieldFixture(t)
	w := &ownWorld{f: f, cmp: f.complaint(t, "CALL-OWN-1", "QZ-SSO-01", &f.ali),
		phone: f.device("ali-phone", f.ali), tablet: f.device("ali-tablet", f.ali)}
	w.visitID, _ = f.visit(t, w.phone, w.cmp.ID)
	w.phoneRep = newOwnReplica(w.phone.id)
	w.phoneRep.sync(t, f.s, f.ali, MaxPullLimit)
	p, err := f.s.Pull(f.ali, "", MaxPullLimit)
	require.NoError(t, err)
	require.False(t, p.HasMore)
	w.tabletCursor = p.Cursor
	return w
}

// Regression (issue 12, item 5): a delta pull sent a device every note,
// finding and call record it had just pushed, in full, although the push
// answer had given it their versions. With PullOptions.OwnDevice they are
// left out and the cursor moves past them; the device builds them itself.
func TestBugDeltaPullSendsADeviceItsOwnWritesBack(t *testing.T) {
	w := newOwnWorld(t)
	f, d := w.f, w.phone
	now := f.clock.Now()
	call := callPayload(w.cmp.ID, 90, now)
	call["number"] = "۰۲۸-۳۳۰۰۰۱۰۱" // stored with ASCII digits
	var muts []Mutation
	for i := range 100 {
		muts = append(muts, d.mut(MutNoteCreate, f.devIDs.Next(), 0, notePayload(w.cmp.ID, "", fmt.Sprint("یادداشت ", i), now)))
	}
	muts = append(muts, d.mut(MutFindingCreate, f.devIDs.Next(), 0, findingPayload(w.visitID, w.cmp.ID, 4, now)),
		d.mut(MutCallCreate, f.devIDs.Next(), 0, call))
	res := mustPush(t, f.s, d, muts...)
	for _, r := range res {
		require.Equal(t, StatusApplied, r.Status, "%s: %s", r.Code, r.Message)
	}
	w.phoneRep.answered(t, f.ali, muts, res)

	before := w.phoneRep.cursor
	p := w.phoneRep.pull(t, f.s, f.ali, 500)
	assert.Empty(t, p.Records, "the device's own writes are not sent back")
	assert.Equal(t, 102, p.Omitted)
	assert.False(t, p.HasMore)
	assert.NotEqual(t, before, p.Cursor, "the cursor moves past what was left out")
	again := w.phoneRep.pull(t, f.s, f.ali, 500)
	assert.Empty(t, again.Records)
	assert.Zero(t, again.Omitted, "nothing is left out twice")
	requireSameRecords(t, expectedScope(t, f.s, f.ali), w.phoneRep.recs, "the phone holds its scope")
	w.phoneRep.requireBuiltAsStored(t, f.s)

	// Without the option (an old app) the page is what it always was.
	old, err := f.s.Pull(f.ali, before, 500)
	require.NoError(t, err)
	assert.Equal(t, map[string]int{KindNote: 100, KindFinding: 1, KindCall: 1}, pullKinds(old))
	assert.Zero(t, old.Omitted)

	// Ali's tablet, another device of the same account, gets them all.
	tab, err := f.s.PullWith(f.ali, w.tabletCursor, 500, PullOptions{OwnDevice: w.tablet.id})
	require.NoError(t, err)
	assert.Equal(t, map[string]int{KindNote: 100, KindFinding: 1, KindCall: 1}, pullKinds(tab))

	// A full sync sends everything, the device's own writes too.
	full, err := f.s.PullWith(f.ali, "", MaxPullLimit, PullOptions{OwnDevice: d.id})
	require.NoError(t, err)
	assert.True(t, full.Reset)
	assert.Equal(t, 100, pullKinds(full)[KindNote])
	assert.Zero(t, full.Omitted)
}

// What the server decides, merges or changes reaches the device that caused
// it: a visit (merged), the complaint it started, a conflict record (an
// append-only clash, a note on a visit dispatch deleted), and the removal
// of a complaint dispatch reassigned; replays add nothing.
func TestDeltaPullSendsWhatTheServerChanged(t *testing.T) {
	w := newOwnWorld(t)
	f, d := w.f, w.phone
	now := f.clock.Now()
	noteID := f.devIDs.Next()
	batch := []Mutation{
		d.mut(MutNoteCreate, noteID, 0, notePayload(w.cmp.ID, "", "اول", now)),
		d.mut(MutComplaintStart, w.cmp.ID, w.cmp.Version, nil),
		d.mut(MutVisitUpsert, w.visitID, w.phoneRep.recs[recKey{KindVisit, w.visitID}], map[string]any{"summary": "بازدید تمام شد"}),
	}
	res := mustPush(t, f.s, d, batch...)
	for _, r := range res {
		require.Equal(t, StatusApplied, r.Status, "%s: %s", r.Code, r.Message)
	}
	w.phoneRep.answered(t, f.ali, batch, res)
	// The answer is lost and the batch sent again: a replay changes nothing.
	again := mustPush(t, f.s, d, batch...)
	for i, r := range again {
		require.True(t, r.Replayed)
		require.Equal(t, res[i].Version, r.Version)
	}
	p := w.phoneRep.pull(t, f.s, f.ali, 500)
	assert.Equal(t, map[string]int{KindComplaint: 1, KindVisit: 1}, pullKinds(p), "the server's state of what it merged or changed")
	assert.Equal(t, 1, p.Omitted, "only the note")

	// The same note id with other content is refused and kept on a
	// conflict record; a note on a visit dispatch deleted is kept on one too.
	clash := d.mut(MutNoteCreate, noteID, 0, notePayload(w.cmp.ID, "", "دیگر", now))
	require.NoError(t, f.s.DeleteVisit(dispatcher, w.visitID))
	orphan := d.mut(MutNoteCreate, f.devIDs.Next(), 0, notePayload("", w.visitID, "پس از حذف", now))
	res = mustPush(t, f.s, d, clash, orphan)
	assert.Equal(t, StatusRejected, res[0].Status)
	assert.Equal(t, StatusResolvedByRule, res[1].Status)
	w.phoneRep.answered(t, f.ali, []Mutation{clash, orphan}, res)
	// Dispatch gives the complaint to reza.
	_, err := f.s.Assign(dispatcher, w.cmp.ID, inspector.Routing{InspectorID: f.reza.ID, Mode: inspector.ModeField})
	require.NoError(t, err)

	p = w.phoneRep.pull(t, f.s, f.ali, 500)
	assert.Equal(t, map[string]int{KindConflict: 2}, pullKinds(p), "both conflict records")
	var removed []string
	for _, r := range p.Records {
		if r.Op == OpRemove {
			removed = append(removed, r.Kind+":"+r.Reason)
		}
	}
	assert.ElementsMatch(t, []string{KindVisit + ":" + ReasonDeleted, KindComplaint + ":" + ReasonReassigned}, removed)
	assert.Zero(t, p.Omitted)
	requireSameRecords(t, expectedScope(t, f.s, f.ali), w.phoneRep.recs, "the phone holds its scope")
	w.phoneRep.requireBuiltAsStored(t, f.s)
}

// A page that leaves records out still ends within its limit of records
// sent, and a long run of the device's own writes takes more than one page
// (at most maxOmittedFactor × limit left out a page), never losing a record
// another device wrote between.
func TestDeltaPullLeavesOutByPages(t *testing.T) {
	w := newOwnWorld(t)
	f, d := w.f, w.phone
	now := f.clock.Now()
	var tabletNotes []string
	for round := range 6 {
		var muts []Mutation
		for i := range 5 {
			muts = append(muts, d.mut(MutNoteCreate, f.devIDs.Next(), 0, notePayload(w.cmp.ID, "", fmt.Sprint(round, "/", i), now)))
		}
		w.phoneRep.answered(t, f.ali, muts, mustPush(t, f.s, d, muts...))
		m := w.tablet.mut(MutNoteCreate, f.devIDs.Next(), 0, notePayload(w.cmp.ID, "", fmt.Sprint("تبلت ", round), now))
		mustPush(t, f.s, w.tablet, m)
		tabletNotes = append(tabletNotes, m.RecordID)
	}
	var got []string
	omitted, pages := 0, 0
	for {
		p := w.phoneRep.pull(t, f.s, f.ali, 1)
		pages++
		require.LessOrEqual(t, len(p.Records), 1)
		require.LessOrEqual(t, p.Omitted, maxOmittedFactor)
		omitted += p.Omitted
		for _, r := range p.Records {
			got = append(got, r.ID)
		}
		if !p.HasMore {
			break
		}
	}
	assert.Equal(t, tabletNotes, got, "the tablet's notes, in order")
	assert.Equal(t, 30, omitted)
	assert.Equal(t, 6, pages)
	requireSameRecords(t, expectedScope(t, f.s, f.ali), w.phoneRep.recs, "the phone holds its scope")
}
