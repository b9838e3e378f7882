package sync

// Regression tests from the review of sync/: each is named after the defect
// it pins and fails until that defect is fixed.

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/favad/favad/inspector"
)

// A mutation refused for its envelope (here an unknown kind) is stored under
// its device sequence and kept on a conflict record. Its replay (a lost
// answer) must get the original result again, marked replayed; instead the
// server answers a fresh rejection without the conflict id.
func TestBugEnvelopeRejectionReplayGetsADifferentResult(t *testing.T) {
	f := newFieldFixture(t)
	d := f.device("ali-phone", f.ali)
	m := d.mut("visit.teleport", f.devIDs.Next(), 0, map[string]any{"summary": "x"})
	first := mustPush(t, f.s, d, m)[0]
	require.Equal(t, StatusRejected, first.Status)
	require.Len(t, first.ConflictIDs, 1, "the rejected mutation is kept on a conflict record")
	before := dumpStore(t, f.s)

	again := mustPush(t, f.s, d, m)[0]
	assert.Equal(t, before, dumpStore(t, f.s), "a replay writes nothing")
	assert.True(t, again.Replayed, "a replay is marked replayed")
	assert.Equal(t, first.ConflictIDs, again.ConflictIDs, "a replay gets the original result, with its conflict record")
}

// A mutation id reused with other content under a new device sequence is
// refused (idempotency_clash) but its sequence is neither held nor counted:
// the device's next mutation is reported as following a gap, and a
// sequence_gap record tells dispatch that work may be missing from the device
// although the server saw and answered that sequence.
func TestBugMutationIDClashUnderNewSequenceReportsAFalseGap(t *testing.T) {
	f := newFieldFixture(t)
	c := f.complaint(t, "CALL-1", "QZ-SSO-01", &f.ali)
	d := f.device("ali-phone", f.ali)
	m1 := d.mut(MutNoteCreate, f.devIDs.Next(), 0, notePayload(c.ID, "", "یک", t0))
	mustPush(t, f.s, d, m1)

	// The app re-queued the note, edited, under the next sequence but kept its id.
	edited := m1
	d.seq++
	edited.DeviceSeq = d.seq
	edited.Payload = mustJSON(notePayload(c.ID, "", "یک، اصلاح شده", t0))
	r := mustPush(t, f.s, d, edited)[0]
	require.Equal(t, StatusRejected, r.Status)
	require.Equal(t, inspector.CodeIdempotencyClash, r.Code)

	next := d.mut(MutNoteCreate, f.devIDs.Next(), 0, notePayload(c.ID, "", "دو", t0))
	rn := mustPush(t, f.s, d, next)[0]
	assert.Empty(t, rn.GapBefore, "sequence %d was answered; it is not missing", edited.DeviceSeq)
	for _, cf := range allConflicts(t, f.s) {
		assert.NotEqual(t, inspector.RuleSequenceGap, cf.Rule, "no sequence_gap record for a sequence the server answered")
	}
}

// Accepting a review restores dispatch's state. A review conflict left open
// while dispatch re-routed the complaint carries a stale PreviousStatus:
// accepting it later, once a newer outcome put the complaint under review
// again, restores that stale status (withdrawn) instead of what dispatch has
// now (assigned to reza), and reza loses the complaint.
func TestBugAcceptingAnOldReviewRestoresAStaleStatus(t *testing.T) {
	f := newFieldFixture(t)
	c := f.complaint(t, "CALL-1", "QZ-SSO-01", &f.ali)
	phone, tablet := f.device("ali-phone", f.ali), f.device("ali-tablet", f.ali)
	_, err := f.s.Withdraw(dispatcher, c.ID, "تماس تکراری")
	require.NoError(t, err)
	// ali's phone recorded an outcome offline: the complaint goes to review.
	r1 := mustPush(t, f.s, phone, phone.mut(MutComplaintOutcome, c.ID, c.Version, outcomeOf(inspector.OutcomeSubstantiated, "غایب بود")))[0]
	require.Equal(t, inspector.RuleNeedsReview, r1.Rule)
	// Dispatch decides by routing: the complaint goes to reza. The review stays open.
	_, err = f.s.Assign(dispatcher, c.ID, inspector.Routing{InspectorID: f.reza.ID, Mode: inspector.ModeField})
	require.NoError(t, err)
	// ali's tablet, also offline, recorded another outcome: review again.
	r2 := mustPush(t, f.s, tablet, tablet.mut(MutComplaintOutcome, c.ID, c.Version, outcomeOf(inspector.OutcomeResolvedOnSpot, "حل شد")))[0]
	require.Equal(t, inspector.RuleNeedsReview, r2.Rule)
	got, err := f.s.Complaint(c.ID)
	require.NoError(t, err)
	require.Equal(t, inspector.StatusNeedsReview, got.Status)

	// Dispatch accepts both reviews (the complaint stays under review while
	// one is open): dispatch's state (assigned to reza) stands.
	_, err = f.s.ResolveConflict(dispatcher, r1.ConflictIDs[0], ResolveAccept, "")
	require.NoError(t, err)
	_, err = f.s.ResolveConflict(dispatcher, r2.ConflictIDs[0], ResolveAccept, "")
	require.NoError(t, err)
	got, err = f.s.Complaint(c.ID)
	require.NoError(t, err)
	assert.Equal(t, inspector.StatusAssigned, got.Status, "accept restores dispatch's current state, not the one before an earlier routing")
	require.NotNil(t, got.Assignment)
	assert.Equal(t, f.reza.ID, got.Assignment.InspectorID)
}

// An import row whose latitude is "NaN" passes validation (NaN compares false
// with both bounds), and then the store cannot encode the office: the import
// fails with an internal error (a 500 that names no line) instead of a field
// error on that line's latitude.
func TestBugNaNCoordinateInImportIsAnInternalError(t *testing.T) {
	s := mustOpenStore(t)
	csv := "office_code,agency_code,agency_name_fa,agency_name_en,office_name_fa,city_fa,city_en,latitude,longitude,phone,opens,closes,workdays\n" +
		"QZ-SSO-09,SSO,سازمان تامین اجتماعی,SSO,شعبه نه,قزوین,Qazvin,NaN,50.0,028-33000101,07:30,14:30,Sat-Wed\n"
	rows, err := inspector.ParseOfficeCSV(strings.NewReader(csv), "قزوین")
	if err != nil {
		requireField(t, err, inspector.CodeInvalid, "line 2: latitude", "out_of_range")
		return
	}
	_, err = s.ImportOffices(admin, rows)
	requireCode(t, err, inspector.CodeInvalid)
}

// After `favad restore` the change log restarts from the backup's head, but
// devices keep cursors from the lost future. Pull takes such a cursor as a
// plain position: new changes get sequences at or below it and are never
// delivered (a silent gap), and the device keeps records the server no
// longer has. A cursor ahead of the log's head must get a full resync.
func TestBugCursorFromBeforeARestoreSilentlyMissesChanges(t *testing.T) {
	f := newFieldFixture(t)
	rep := newReplica()
	rep.sync(t, f.s, f.ali, 0)
	var backup bytes.Buffer
	_, err := f.s.Backup(&backup)
	require.NoError(t, err)

	// Work the backup does not hold: the device pulls it.
	lost := f.complaint(t, "CALL-1", "QZ-SSO-01", &f.ali)
	rep.sync(t, f.s, f.ali, 0)
	require.Contains(t, rep.recs, recKey{KindComplaint, lost.ID})

	// The store is restored from the backup; dispatch assigns new work.
	path := filepath.Join(t.TempDir(), "restored.db")
	require.NoError(t, os.WriteFile(path, backup.Bytes(), 0o600))
	restored := mustOpenStoreAt(t, path, Options{Now: f.clock.Now, NewID: f.ids.Next})
	c, _, err := restored.CreateComplaint(dispatcher, intake("CALL-2", "QZ-TAX-01"))
	require.NoError(t, err)
	_, err = restored.Assign(dispatcher, c.ID, inspector.Routing{InspectorID: f.ali.ID, Mode: inspector.ModeField})
	require.NoError(t, err)

	rep.sync(t, restored, f.ali, 0)
	requireSameRecords(t, expectedScope(t, restored, f.ali), rep.recs, "after a restore the device holds exactly its scope")
}

// A malformed mutation (here an unknown kind) under a device sequence that
// another mutation already holds is answered "rejected" but kept nowhere:
// refuseEnvelope returns early when the key is taken, so dispatch never sees
// the work ("the rejected item is kept where dispatch can see it").
func TestBugEnvelopeRejectionOnATakenSequenceIsKeptNowhere(t *testing.T) {
	f := newFieldFixture(t)
	c := f.complaint(t, "CALL-1", "QZ-SSO-01", &f.ali)
	d := f.device("ali-phone", f.ali)
	mustPush(t, f.s, d, d.mut(MutNoteCreate, f.devIDs.Next(), 0, notePayload(c.ID, "", "یک", t0)))
	// The app lost its counter and numbers its next (malformed) mutation 1 again.
	d.seq = 0
	bad := d.mut("note.append", f.devIDs.Next(), 0, map[string]any{"text": "یادداشت تازه"})
	r := mustPush(t, f.s, d, bad)[0]
	require.Equal(t, StatusRejected, r.Status)
	requireNothingLost(t, f.s, []Mutation{bad}, []Result{r})
}

// A mutation replayed under a new sequence, then sent again under that
// sequence with a field the server could not read, gets the stored answer
// for the sequence it was sent with (it made Push panic).
func TestReplayUnderNewSequenceThenUnreadableGetsItsAnswer(t *testing.T) {
	f := newFieldFixture(t)
	c := f.complaint(t, "CALL-1", "QZ-SSO-01", &f.ali)
	d := f.device("ali-phone", f.ali)
	x := d.mut(MutNoteCreate, f.devIDs.Next(), 0, notePayload(c.ID, "", "یادداشت", t0))
	require.Equal(t, StatusApplied, mustPush(t, f.s, d, x)[0].Status)
	again := x
	again.DeviceSeq = 2
	r := mustPush(t, f.s, d, again)[0]
	require.True(t, r.Replayed)
	unreadable := again
	unreadable.Malformed = []inspector.FieldError{{Field: "device_time", Code: "wrong_type", Message: "not RFC 3339"}}
	res, _, err := f.s.Push(f.ali, d.id, []Mutation{unreadable})
	require.NoError(t, err)
	require.Len(t, res, 1)
	assert.Equal(t, uint64(2), res[0].DeviceSeq)
	assert.True(t, res[0].Replayed)
}

// A refused mutation replayed under a new sequence holds that sequence: the
// next one is no gap.
func TestRefusalReplayedUnderNewSequenceIsNoGap(t *testing.T) {
	f := newFieldFixture(t)
	c := f.complaint(t, "CALL-1", "QZ-SSO-01", &f.ali)
	d := f.device("ali-phone", f.ali)
	bad := d.mut(MutNoteCreate, f.devIDs.Next(), 0, notePayload(c.ID, "", "یادداشت", t0))
	bad.Malformed = []inspector.FieldError{{Field: "device_time", Code: "wrong_type", Message: "not RFC 3339"}}
	res, last, err := f.s.Push(f.ali, d.id, []Mutation{bad})
	require.NoError(t, err)
	require.Equal(t, StatusRejected, res[0].Status)
	require.Equal(t, uint64(1), last)
	bad.DeviceSeq = 2
	d.seq = 2
	res, last, err = f.s.Push(f.ali, d.id, []Mutation{bad})
	require.NoError(t, err)
	assert.True(t, res[0].Replayed)
	assert.Equal(t, uint64(2), last, "the new sequence is held")
	next := d.mut(MutNoteCreate, f.devIDs.Next(), 0, notePayload(c.ID, "", "یادداشت دوم", t0))
	r := mustPush(t, f.s, d, next)[0]
	require.Equal(t, StatusApplied, r.Status)
	assert.Empty(t, r.GapBefore, "no false gap")
}
