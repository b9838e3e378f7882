package sync

// Conflict flooding (issue 11, point 13): one mutation makes at most one
// conflict record.

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
