package sync

// Conflict flooding (issue 11, point 13): one mutation makes at most one
// conflict record.

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/favad/favad/inspector"
)

// editOfSeven is a complaint.edit payload naming all seven fields dispatch owns.
func editOfSeven(f *fieldFixture, i int) map[string]any {
	return map[string]any{
		"assignee": f.reza.ID, "priority": inspector.PriorityUrgent, "category": inspector.CategoryClientCrowding,
		"office_code": "QZ-TAX-01", "due_at": t0.Add(time.Duration(i) * time.Hour), "status": "resolved", "description": "ویرایش " + string(rune('a'+i%26)),
	}
}

// Issue 11, point 13: complaint.edit made one conflict record per field, so
// a push of edits naming seven fields each made seven records per mutation
// for dispatch's queue.
func TestBugComplaintEditMakesOneConflictPerField(t *testing.T) {
	f := newFieldFixture(t)
	c := f.complaint(t, "CALL-1", "QZ-SSO-01", &f.ali)
	d := f.device("ali-phone", f.ali)
	const n = 40
	muts := make([]Mutation, n)
	for i := range muts {
		muts[i] = d.mut(MutComplaintEdit, c.ID, c.Version, editOfSeven(f, i))
	}
	res := mustPush(t, f.s, d, muts...)
	for i, r := range res {
		require.Equal(t, StatusResolvedByRule, r.Status, "%d: %s %s", i, r.Code, r.Message)
		require.Len(t, r.ConflictIDs, 1, "mutation %d: one conflict record, naming all its fields", i)
		cf := mustConflict(t, f.s, r.ConflictIDs[0])
		assert.Equal(t, "assignee,category,description,due_at,office_code,priority,status", cf.Field)
		assert.JSONEq(t, string(muts[i].Payload), string(cf.DeviceValue), "the device's values, by field")
		var server map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(cf.ServerValue, &server))
		assert.Len(t, server, 7, "dispatch's values, by field")
	}
	assert.Len(t, allConflicts(t, f.s), n, "%d mutations, %d records", n, n)
	requireNothingLost(t, f.s, muts, res)
}

// Overruling a record naming several fields applies those dispatch can set
// by overruling (category and priority) and leaves the rest as they are.
func TestOverruleOfAMultiFieldEditAppliesCategoryAndPriority(t *testing.T) {
	f := newFieldFixture(t)
	c := f.complaint(t, "CALL-1", "QZ-SSO-01", &f.ali)
	d := f.device("ali-phone", f.ali)
	r := mustPush(t, f.s, d, d.mut(MutComplaintEdit, c.ID, c.Version, editOfSeven(f, 0)))[0]
	require.Len(t, r.ConflictIDs, 1)
	cf, err := f.s.ResolveConflict(dispatcher, r.ConflictIDs[0], ResolveOverrule, "")
	require.NoError(t, err)
	assert.Equal(t, ConflictResolved, cf.Status)
	got, err := f.s.Complaint(c.ID)
	require.NoError(t, err)
	assert.Equal(t, inspector.PriorityUrgent, got.Priority)
	assert.Equal(t, inspector.CategoryClientCrowding, got.Category)
	assert.Equal(t, c.OfficeCode, got.OfficeCode, "fields set by routing stay")
	assert.Equal(t, c.Description, got.Description)
	assert.Equal(t, c.Status, got.Status)

	// A record naming none of them cannot be overruled.
	r = mustPush(t, f.s, d, d.mut(MutComplaintEdit, c.ID, c.Version, map[string]any{"description": "x", "status": "resolved"}))[0]
	_, err = f.s.ResolveConflict(dispatcher, r.ConflictIDs[0], ResolveOverrule, "")
	requireCode(t, err, inspector.CodeConflict)
}

// Issue 11, point 13: a visit.upsert whose fields all lose to later writes
// made one last_writer_wins record per field.
func TestBugVisitUpsertMakesOneConflictPerField(t *testing.T) {
	f := newFieldFixture(t)
	phone := f.device("ali-phone", f.ali)
	id, base := f.visit(t, phone, "")
	f.clock.Advance(time.Minute)
	older := phone.mut(MutVisitUpsert, id, base, map[string]any{"summary": "اول", "check_out": geo(f.clock.Now())})
	f.clock.Advance(time.Minute)
	newer := phone.mut(MutVisitUpsert, id, base, map[string]any{"summary": "دوم", "check_out": geo(f.clock.Now())})
	rn := mustPush(t, f.s, phone, newer)[0]
	require.Equal(t, StatusApplied, rn.Status)
	ro := mustPush(t, f.s, phone, older)[0] // arrives late: the device's own later write stands
	require.Equal(t, StatusResolvedByRule, ro.Status)
	require.Len(t, ro.ConflictIDs, 1, "one record for the mutation")
	cf := mustConflict(t, f.s, ro.ConflictIDs[0])
	assert.Equal(t, "check_out,summary", cf.Field)
	assert.Equal(t, "server", cf.Winner)
	assert.JSONEq(t, string(older.Payload), string(cf.DeviceValue))
	requireNothingLost(t, f.s, []Mutation{older, newer}, []Result{ro, rn})

	_, err := f.s.ResolveConflict(dispatcher, cf.ID, ResolveOverrule, "")
	require.NoError(t, err)
	v := mustVisit(t, f.s, id)
	assert.Equal(t, "اول", v.Summary, "overrule applies every losing value")
	require.NotNil(t, v.CheckOut)
}

// A visit.upsert that wins some fields and loses others makes one record,
// which says who won each field; overruling it writes back each field's
// losing value.
func TestVisitConflictWithMixedWinnersIsOneRecord(t *testing.T) {
	f := newFieldFixture(t)
	phone, tablet := f.device("ali-phone", f.ali), f.device("ali-tablet", f.ali)
	id, base := f.visit(t, phone, "")
	w := f.clock.Now().UnixMilli()
	early := tablet.mut(MutVisitUpsert, id, base, map[string]any{"check_out": geo(f.clock.Now())})
	early.HLC = inspector.Stamp{WallMs: w - 10}
	late := tablet.mut(MutVisitUpsert, id, base, map[string]any{"summary": "از تبلت"})
	late.HLC = inspector.Stamp{WallMs: w + 10}
	for _, r := range mustPush(t, f.s, tablet, early, late) {
		require.Equal(t, StatusApplied, r.Status, "%s %s", r.Code, r.Message)
	}
	f.clock.Advance(time.Minute)
	mine := phone.mut(MutVisitUpsert, id, base, map[string]any{"summary": "از گوشی", "check_out": geo(f.clock.Now())})
	mine.HLC = inspector.Stamp{WallMs: w}
	r := mustPush(t, f.s, phone, mine)[0]
	require.Equal(t, StatusResolvedByRule, r.Status)
	require.Len(t, r.ConflictIDs, 1)
	cf := mustConflict(t, f.s, r.ConflictIDs[0])
	assert.Equal(t, "check_out,summary", cf.Field)
	assert.Equal(t, "mixed", cf.Winner)
	assert.Equal(t, map[string]string{"check_out": "device", "summary": "server"}, cf.FieldWinners)
	v := mustVisit(t, f.s, id)
	require.Equal(t, "از تبلت", v.Summary)
	phoneOut := v.CheckOut

	_, err := f.s.ResolveConflict(dispatcher, cf.ID, ResolveOverrule, "")
	require.NoError(t, err)
	v = mustVisit(t, f.s, id)
	assert.Equal(t, "از گوشی", v.Summary, "the phone's losing summary is applied")
	assert.NotEqual(t, phoneOut, v.CheckOut, "the tablet's losing check_out is applied")
	assert.True(t, strings.Contains(cf.Message, "check_out") && strings.Contains(cf.Message, "summary"), cf.Message)
}

// A later check_out from another device replaced the stored one with no
// conflict record: the edit decoded into a copy of the visit that shared
// its check_out, so the server's value looked equal to the device's and the
// losing value was lost.
func TestBugConcurrentCheckOutOverwritesWithoutARecord(t *testing.T) {
	f := newFieldFixture(t)
	phone, tablet := f.device("ali-phone", f.ali), f.device("ali-tablet", f.ali)
	id, base := f.visit(t, phone, "")
	first := tablet.mut(MutVisitUpsert, id, base, map[string]any{"check_out": geo(f.clock.Now())})
	first.HLC = inspector.Stamp{WallMs: f.clock.Now().UnixMilli() - 10}
	rf := mustPush(t, f.s, tablet, first)[0]
	require.Equal(t, StatusApplied, rf.Status)
	f.clock.Advance(time.Minute)
	second := phone.mut(MutVisitUpsert, id, base, map[string]any{"check_out": geo(f.clock.Now())})
	r := mustPush(t, f.s, phone, second)[0]
	require.Equal(t, StatusResolvedByRule, r.Status, "both devices set check_out: a conflict")
	require.Len(t, r.ConflictIDs, 1)
	cf := mustConflict(t, f.s, r.ConflictIDs[0])
	assert.Equal(t, "device", cf.Winner)
	assert.JSONEq(t, string(first.Payload), `{"check_out":`+string(cf.ServerValue)+`}`, "the tablet's check_out is kept")
}

// Issue 11, point 13: a device could open any number of conflict records for
// dispatch. Past MaxOpenConflictsPerDevice, a mutation that would open one is
// deferred (too_many_conflicts): nothing is applied or kept, its id and
// sequence stay free, and the device sends it again once dispatch settles;
// work that opens no record still goes.
func TestBugOpenConflictsPerDeviceAreUnbounded(t *testing.T) {
	f := newFieldFixture(t)
	c := f.complaint(t, "CALL-1", "QZ-SSO-01", &f.ali)
	d := f.device("ali-phone", f.ali)
	const over = 30
	var muts []Mutation
	for i := range MaxOpenConflictsPerDevice + over {
		muts = append(muts, d.mut(MutComplaintEdit, c.ID, c.Version, editOfSeven(f, i)))
	}
	note := d.mut(MutNoteCreate, f.devIDs.Next(), 0, notePayload(c.ID, "", "یادداشت", t0))
	muts = append(muts, note)
	res, last, err := f.s.Push(f.ali, d.id, muts)
	require.NoError(t, err)
	var deferred []Mutation
	for i, r := range res[:len(res)-1] {
		if i < MaxOpenConflictsPerDevice {
			require.Equal(t, StatusResolvedByRule, r.Status, "%d", i)
			continue
		}
		require.Equal(t, StatusDeferred, r.Status, "%d: past the cap", i)
		assert.Equal(t, inspector.CodeTooManyConflicts, r.Code)
		assert.NotEmpty(t, r.Message)
		assert.Empty(t, r.ConflictIDs, "nothing kept for dispatch")
		deferred = append(deferred, muts[i])
	}
	assert.Equal(t, StatusApplied, res[len(res)-1].Status, "work that opens no record still goes")
	assert.Empty(t, res[len(res)-1].GapBefore, "a deferred sequence is no gap")
	assert.Equal(t, note.DeviceSeq, last)
	open, _, err := f.s.Conflicts(ConflictFilter{Status: ConflictOpen, Limit: 1000})
	require.NoError(t, err)
	assert.Len(t, open, MaxOpenConflictsPerDevice, "dispatch's queue holds at most the cap from one device")
	requireNothingLost(t, f.s, muts, res)

	// Another device of the same inspector has its own allowance.
	tablet := f.device("ali-tablet", f.ali)
	rt := mustPush(t, f.s, tablet, tablet.mut(MutComplaintEdit, c.ID, c.Version, editOfSeven(f, 0)))[0]
	assert.Equal(t, StatusResolvedByRule, rt.Status)

	// A deferred mutation sent again while the device is at its cap is deferred again.
	again := mustPush(t, f.s, d, deferred[0])[0]
	assert.Equal(t, StatusDeferred, again.Status)
	assert.False(t, again.Replayed, "it was never stored")

	// Dispatch settles some; the device sends its deferred work again (same
	// ids and sequences) and it is taken.
	for _, cf := range open[:over] {
		_, err := f.s.ResolveConflict(dispatcher, cf.ID, ResolveAccept, "")
		require.NoError(t, err)
	}
	retried := mustPush(t, f.s, d, deferred...)
	for i, r := range retried {
		assert.Equal(t, StatusResolvedByRule, r.Status, "%d: %s %s", i, r.Code, r.Message)
		assert.False(t, r.Replayed)
	}
	requireNothingLost(t, f.s, deferred, retried)
	requireReplayed(t, f.s, d, deferred, retried)
}

// The cap counts open records of every kind a device's mutation opens,
// including rejections: a refused mutation past the cap is deferred rather
// than kept.
func TestRejectionPastTheCapIsDeferred(t *testing.T) {
	f := newFieldFixture(t)
	c := f.complaint(t, "CALL-1", "QZ-SSO-01", &f.ali)
	d := f.device("ali-phone", f.ali)
	var muts []Mutation
	for range MaxOpenConflictsPerDevice {
		muts = append(muts, d.mut(MutNoteCreate, f.devIDs.Next(), 0, map[string]any{"text": ""}))
	}
	bad := d.mut(MutNoteCreate, f.devIDs.Next(), 0, map[string]any{"complaint_id": c.ID, "text": ""})
	unreadable := d.mut(MutNoteCreate, f.devIDs.Next(), 0, notePayload(c.ID, "", "x", t0))
	unreadable.Malformed = []inspector.FieldError{{Field: "device_time", Code: "wrong_type", Message: "not RFC 3339"}}
	res := mustPush(t, f.s, d, append(muts, bad, unreadable)...)
	for i, r := range res[:MaxOpenConflictsPerDevice] {
		require.Equal(t, StatusRejected, r.Status, "%d", i)
	}
	assert.Equal(t, StatusDeferred, res[len(res)-2].Status)
	assert.Equal(t, StatusDeferred, res[len(res)-1].Status)
}

// A store written before the open_conflicts index existed has it built on
// open, so that the cap counts the records already waiting.
func TestOpenConflictIndexIsBuiltForAnOlderFile(t *testing.T) {
	f := newFieldFixture(t)
	c := f.complaint(t, "CALL-1", "QZ-SSO-01", &f.ali)
	d := f.device("ali-phone", f.ali)
	var muts []Mutation
	for i := range MaxOpenConflictsPerDevice {
		muts = append(muts, d.mut(MutComplaintEdit, c.ID, c.Version, editOfSeven(f, i)))
	}
	mustPush(t, f.s, d, muts...)
	path := f.s.Path()
	require.NoError(t, f.s.Close())
	db, err := bolt.Open(path, 0o600, nil)
	require.NoError(t, err)
	require.NoError(t, db.Update(func(btx *bolt.Tx) error { return btx.DeleteBucket(bucketOpenConflicts) }))
	require.NoError(t, db.Close())

	f.s = mustOpenStoreAt(t, path, Options{Now: f.clock.Now, NewID: f.ids.Next})
	r := mustPush(t, f.s, d, d.mut(MutComplaintEdit, c.ID, c.Version, editOfSeven(f, 0)))[0]
	assert.Equal(t, StatusDeferred, r.Status, "the records from before count")
}

// BenchmarkPushEditFlood pushes issue 11's flood, 500 complaint.edit
// mutations naming seven fields each, from a fresh device per push, and
// reports the conflict records it leaves (records/push) and the mutations
// deferred past the cap (deferred/push); "notes" pushes 500 note.create
// mutations that open no record, as the baseline of the same run.
func BenchmarkPushEditFlood(b *testing.B) {
	for _, kind := range []string{"edits", "notes"} {
		b.Run(kind, func(b *testing.B) {
			f := newFieldFixture(b)
			c := f.complaint(b, "CALL-1", "QZ-SSO-01", &f.ali)
			records, deferred := 0, 0
			for i := 0; b.Loop(); i++ {
				b.StopTimer()
				d := f.device(fmt.Sprintf("flood-%d", i), f.ali)
				muts := make([]Mutation, MaxPushBatch)
				for j := range muts {
					if kind == "edits" {
						muts[j] = d.mut(MutComplaintEdit, c.ID, c.Version, editOfSeven(f, j))
					} else {
						muts[j] = d.mut(MutNoteCreate, f.devIDs.Next(), 0, notePayload(c.ID, "", "یادداشت", t0))
					}
				}
				b.StartTimer()
				res, _, err := f.s.Push(f.ali, d.id, muts)
				if err != nil {
					b.Fatal(err)
				}
				for _, r := range res {
					records += len(r.ConflictIDs)
					if r.Status == StatusDeferred {
						deferred++
					}
				}
			}
			b.ReportMetric(float64(records)/float64(b.N), "records/push")
			b.ReportMetric(float64(deferred)/float64(b.N), "deferred/push")
		})
	}
}
