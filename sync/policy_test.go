package sync

// Tests of the conflict policy (architecture.md, "Conflict policy"), one per
// row, through Push, Pull and the dispatch methods, on a real store.

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

// visit creates a visit to QZ-SSO-01 for complaintID from d and returns its
// id and version.
func (f *fieldFixture) visit(tb testing.TB, d *fieldDevice, complaintID string) (string, uint64) {
	tb.Helper()
	id := f.devIDs.Next()
	fields := map[string]any{"office_code": "QZ-SSO-01", "check_in": geo(f.clock.Now()), "summary": "رسیدم"}
	if complaintID != "" {
		fields["complaint_ids"] = []string{complaintID}
	}
	r := mustPush(tb, f.s, d, d.mut(MutVisitUpsert, id, 0, fields))[0]
	require.Equal(tb, StatusApplied, r.Status, "%s: %s", r.Code, r.Message)
	return id, r.Version
}

func mustVisit(tb testing.TB, s *Store, id string) inspector.Visit {
	tb.Helper()
	var v inspector.Visit
	require.NoError(tb, s.view(func(btx *bolt.Tx) error {
		ok, err := getJSON(btx.Bucket(bucketVisits), []byte(id), &v)
		require.True(tb, ok, "visit %s is stored", id)
		return err
	}))
	return v
}

// requireReplayed pushes muts again and checks that every result is the
// original one, marked as a replay, and that the change log did not move.
func requireReplayed(tb testing.TB, s *Store, d *fieldDevice, muts []Mutation, original []Result) {
	tb.Helper()
	seq := lastSeq(tb, s)
	again := mustPush(tb, s, d, muts...)
	for i, r := range again {
		assert.True(tb, r.Replayed, "mutation %d is answered as a replay", r.DeviceSeq)
		r.Replayed = original[i].Replayed
		assert.Equal(tb, original[i], r, "a replay gets the original result")
	}
	assert.Equal(tb, seq, lastSeq(tb, s), "a replay writes nothing to the change log")
}

// Row "evidence, findings, notes, call records": append-only under client
// ids; an exact replay is a no-op; the same id with different content is
// rejected and the device's version kept.
func TestPolicyAppendOnly(t *testing.T) {
	at := t0.Add(-30 * time.Minute)
	for _, tc := range []struct {
		kind, recordKind string
		payload          func(complaintID, visitID string, variant int) any
		stored           func(tb testing.TB, s *Store, id string) uint64
	}{
		{MutFindingCreate, KindFinding, func(c, v string, n int) any { return findingPayload(v, c, 3+n, at) }, storedVersion(bucketFindings)},
		{MutCallCreate, KindCall, func(c, v string, n int) any { return callPayload(c, 120+n, at) }, storedVersion(bucketCalls)},
		{MutNoteCreate, KindNote, func(c, v string, n int) any {
			return notePayload(c, "", []string{"مدیر شعبه حاضر نبود", "مدیر شعبه حاضر بود"}[n], at)
		}, storedVersion(bucketNotes)},
		{MutEvidenceCreate, KindEvidence, func(c, v string, n int) any {
			return map[string]any{"complaint_id": c, "visit_id": v, "kind": "photo", "content_type": "image/jpeg",
				"size": 1000 + n, "sha256": strings.Repeat("ab", 32), "captured_at": at.Format(time.RFC3339)}
		}, storedVersion(bucketEvidence)},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			f := newFieldFixture(t)
			c := f.complaint(t, "CALL-1", "QZ-SSO-01", &f.ali)
			d := f.device("ali-phone", f.ali)
			visitID, _ := f.visit(t, d, c.ID)
			id := f.devIDs.Next()

			create := d.mut(tc.kind, id, 0, tc.payload(c.ID, visitID, 0))
			seq := lastSeq(t, f.s)
			created := mustPush(t, f.s, d, create)
			r := created[0]
			require.Equal(t, StatusApplied, r.Status, "%s: %s", r.Code, r.Message)
			assert.Equal(t, tc.recordKind, r.RecordKind)
			assert.Equal(t, id, r.RecordID, "the server keeps the client's id")
			assert.Equal(t, seq+1, r.Version)
			assert.Equal(t, seq+1, lastSeq(t, f.s), "one change")
			assert.Equal(t, r.Version, tc.stored(t, f.s, id))

			t.Run("exact replay is a no-op", func(t *testing.T) {
				requireReplayed(t, f.s, d, []Mutation{create}, created)
			})

			t.Run("same content from a new mutation is a no-op", func(t *testing.T) {
				seq := lastSeq(t, f.s)
				same := d.again(create)
				r2 := mustPush(t, f.s, d, same)[0]
				assert.Equal(t, StatusApplied, r2.Status, "%s: %s", r2.Code, r2.Message)
				assert.False(t, r2.Replayed)
				assert.Equal(t, r.Version, r2.Version)
				assert.Equal(t, seq, lastSeq(t, f.s), "no new change")
				requireNothingLost(t, f.s, []Mutation{create, same}, []Result{r, r2})
			})

			t.Run("same id with different content is rejected and kept", func(t *testing.T) {
				other := d.mut(tc.kind, id, 0, tc.payload(c.ID, visitID, 1))
				res := mustPush(t, f.s, d, other)
				r3 := res[0]
				assert.Equal(t, StatusRejected, r3.Status)
				assert.Equal(t, inspector.CodeIdempotencyClash, r3.Code)
				assert.NotEmpty(t, r3.Message, "a reason the device can show")
				require.Len(t, r3.ConflictIDs, 1)
				cf := mustConflict(t, f.s, r3.ConflictIDs[0])
				assert.Equal(t, inspector.LabelRejected, cf.Label)
				assert.Equal(t, inspector.RuleAppendOnly, cf.Rule)
				assert.Equal(t, tc.recordKind, cf.RecordKind)
				assert.Equal(t, id, cf.RecordID)
				assert.JSONEq(t, string(other.Payload), string(cf.DeviceValue), "the device's payload is kept")
				assert.Equal(t, other.ID, cf.MutationID)
				assert.Equal(t, other.DeviceSeq, cf.DeviceSeq)
				assert.Equal(t, f.ali.ID, cf.InspectorID)
				assert.Equal(t, d.id, cf.DeviceID)
				assert.Equal(t, ConflictOpen, cf.Status)
				assert.Equal(t, r.Version, tc.stored(t, f.s, id), "the stored record is untouched")
				requireNothingLost(t, f.s, []Mutation{create, other}, []Result{r, r3})

				requireReplayed(t, f.s, d, []Mutation{other}, res)
				assert.Len(t, conflictsOf(t, f.s, other.ID), 1, "a replay records nothing twice")

				_, err := f.s.ResolveConflict(dispatcher, cf.ID, ResolveOverrule, "")
				requireCode(t, err, inspector.CodeConflict) // nothing to apply
				cf, err = f.s.ResolveConflict(dispatcher, cf.ID, ResolveAccept, "ask the inspector")
				require.NoError(t, err)
				assert.Equal(t, ConflictResolved, cf.Status)
			})
		})
	}
}

// storedVersion reads the version of the record stored under id in bucket.
func storedVersion(bucket []byte) func(tb testing.TB, s *Store, id string) uint64 {
	return func(tb testing.TB, s *Store, id string) uint64 {
		tb.Helper()
		var rec struct {
			Version uint64 `json:"version"`
		}
		require.NoError(tb, s.view(func(btx *bolt.Tx) error {
			raw, err := storedJSON(btx.Bucket(bucket), []byte(id))
			require.NotNil(tb, raw, "record %s is stored", id)
			if err != nil {
				return err
			}
			return json.Unmarshal(raw, &rec)
		}))
		return rec.Version
	}
}

// Devices in Iran write times with their offset, +03:30; re-sending the
// same record under a new mutation is still a no-op.
func TestPolicyAppendOnlyReplayWithDeviceOffset(t *testing.T) {
	f := newFieldFixture(t)
	c := f.complaint(t, "CALL-1", "QZ-SSO-01", &f.ali)
	d := f.device("ali-phone", f.ali)
	visitID, _ := f.visit(t, d, c.ID)
	// Devices in Iran send their local offset, +03:30.
	tehran := time.FixedZone("", 3*3600+1800)
	p := findingPayload(visitID, c.ID, 3, t0.Add(-time.Hour).In(tehran))
	id := f.devIDs.Next()
	m := d.mut(MutFindingCreate, id, 0, p)
	require.Contains(t, string(m.Payload), "+03:30")
	require.Equal(t, StatusApplied, mustPush(t, f.s, d, m)[0].Status)
	// The same finding again under a new mutation (the app re-queued it):
	// an exact replay, so a no-op.
	again := d.again(m)
	r := mustPush(t, f.s, d, again)[0]
	assert.Equal(t, StatusApplied, r.Status, "%s: %s", r.Code, r.Message)
	requireNothingLost(t, f.s, []Mutation{again}, []Result{r})
}

// Row "fields dispatch owns": dispatch wins, the device's values are kept on
// one conflict record naming every field (issue 11, point 13), and dispatch
// may overrule.
func TestPolicyDispatchOwnedFields(t *testing.T) {
	f := newFieldFixture(t)
	c := f.complaint(t, "CALL-1", "QZ-SSO-01", &f.ali)
	d := f.device("ali-phone", f.ali)
	sent := map[string]any{
		"priority": inspector.PriorityUrgent, "category": inspector.CategoryClientCrowding, "office_code": "AB-TAX-01",
		"due_at": t0.Add(48 * time.Hour), "assignee": f.reza.ID,
	}
	edit := d.mut(MutComplaintEdit, c.ID, c.Version, sent)
	seq := lastSeq(t, f.s)
	res := mustPush(t, f.s, d, edit)
	r := res[0]
	require.Equal(t, StatusResolvedByRule, r.Status, "%s: %s", r.Code, r.Message)
	assert.Equal(t, inspector.RuleDispatchWins, r.Rule)
	assert.Equal(t, c.Version, r.Version, "the complaint keeps its version")
	assert.NotEmpty(t, r.Message, "a reason the device can show")
	require.Len(t, r.ConflictIDs, 1, "one conflict record for the mutation")
	current := map[string]any{"priority": c.Priority, "category": c.Category, "office_code": c.OfficeCode, "due_at": c.DueAt, "assignee": c.Assignment.InspectorID}
	assert.JSONEq(t, string(mustJSON(current)), string(r.WinningValue), "the winning values are dispatch's")

	after, err := f.s.Complaint(c.ID)
	require.NoError(t, err)
	assert.Equal(t, c, after, "the complaint is unchanged")
	for _, ch := range allChanges(t, f.s)[seq:] {
		assert.Equal(t, KindConflict, ch.Kind, "only conflict records are written")
	}

	cf := mustConflict(t, f.s, r.ConflictIDs[0])
	assert.Equal(t, inspector.LabelConflict, cf.Label)
	assert.Equal(t, inspector.RuleDispatchWins, cf.Rule)
	assert.Equal(t, KindComplaint, cf.RecordKind)
	assert.Equal(t, c.ID, cf.RecordID)
	assert.Equal(t, c.ID, cf.ComplaintID)
	assert.Equal(t, "server", cf.Winner)
	assert.Equal(t, edit.ID, cf.MutationID)
	assert.Equal(t, ConflictOpen, cf.Status)
	assert.Equal(t, "assignee,category,due_at,office_code,priority", cf.Field, "every field, sorted")
	assert.JSONEq(t, string(mustJSON(current)), string(cf.ServerValue), "dispatch's values, by field")
	assert.JSONEq(t, string(mustJSON(sent)), string(cf.DeviceValue), "the device's values, by field")
	requireNothingLost(t, f.s, []Mutation{edit}, []Result{r})
	requireReplayed(t, f.s, d, []Mutation{edit}, res)

	// Overruling applies the device's priority (and its due time) and
	// category; the routing fields stay as dispatch has them.
	f.clock.Advance(time.Minute)
	resolved, err := f.s.ResolveConflict(dispatcher, cf.ID, ResolveOverrule, "the inspector saw the queue")
	require.NoError(t, err)
	assert.Equal(t, ConflictResolved, resolved.Status)
	assert.Equal(t, ResolveOverrule, resolved.Resolution.Action)
	assert.Equal(t, dispatcher.UserID, resolved.Resolution.By)
	got, err := f.s.Complaint(c.ID)
	require.NoError(t, err)
	assert.Equal(t, inspector.PriorityUrgent, got.Priority)
	assert.Equal(t, c.CallTime.Add(time.Hour), got.DueAt, "urgent: due an hour after the call")
	assert.Greater(t, got.Version, c.Version)
	assert.Equal(t, inspector.CategoryClientCrowding, got.Category)
	assert.Equal(t, c.OfficeCode, got.OfficeCode)
	assert.Equal(t, c.Assignment, got.Assignment)
	_, err = f.s.ResolveConflict(dispatcher, cf.ID, ResolveAccept, "")
	requireCode(t, err, inspector.CodeConflict) // already resolved

	// Accepting leaves the complaint as dispatch had it.
	one := mustPush(t, f.s, d, d.mut(MutComplaintEdit, c.ID, c.Version, map[string]any{"category": inspector.CategoryOther}))[0]
	require.Len(t, one.ConflictIDs, 1)
	v := got.Version
	_, err = f.s.ResolveConflict(dispatcher, one.ConflictIDs[0], ResolveAccept, "")
	require.NoError(t, err)
	got, err = f.s.Complaint(c.ID)
	require.NoError(t, err)
	assert.Equal(t, inspector.CategoryClientCrowding, got.Category)
	assert.Equal(t, v, got.Version)

	// Routing fields are not overruled from a conflict; the record stays open.
	for _, field := range []string{"office_code", "assignee", "due_at"} {
		r := mustPush(t, f.s, d, d.mut(MutComplaintEdit, c.ID, c.Version, map[string]any{field: sent[field]}))[0]
		require.Len(t, r.ConflictIDs, 1)
		_, err = f.s.ResolveConflict(dispatcher, r.ConflictIDs[0], ResolveOverrule, "")
		requireCode(t, err, inspector.CodeConflict)
		assert.Equal(t, ConflictOpen, mustConflict(t, f.s, r.ConflictIDs[0]).Status, field)
	}
}

// Row "complaint status": an outcome recorded offline after dispatch
// reassigned or withdrew the complaint is kept, and the complaint goes to
// needs_review; dispatch then accepts (restoring its own status) or
// overrules (applying the outcome).
func TestPolicyOutcomeAfterDispatchMoved(t *testing.T) {
	for _, tc := range []struct {
		name      string
		move      func(f *fieldFixture, c inspector.Complaint) (inspector.Complaint, error)
		outcome   inspector.OutcomeValue
		accepted  inspector.Status
		overruled inspector.Status
	}{
		{"reassigned", func(f *fieldFixture, c inspector.Complaint) (inspector.Complaint, error) {
			return f.s.Assign(dispatcher, c.ID, inspector.Routing{InspectorID: f.reza.ID, Mode: inspector.ModeField})
		}, inspector.OutcomeSubstantiated, inspector.StatusAssigned, inspector.StatusResolved},
		{"withdrawn", func(f *fieldFixture, c inspector.Complaint) (inspector.Complaint, error) {
			return f.s.Withdraw(dispatcher, c.ID, "تماس تکراری")
		}, inspector.OutcomeNotSubstantiated, inspector.StatusWithdrawn, inspector.StatusNotSubstantiated},
	} {
		for _, action := range []string{ResolveAccept, ResolveOverrule} {
			t.Run(tc.name+"/"+action, func(t *testing.T) {
				f := newFieldFixture(t)
				c := f.complaint(t, "CALL-1", "QZ-SSO-01", &f.ali)
				d := f.device("ali-phone", f.ali)
				start := d.mut(MutComplaintStart, c.ID, c.Version, nil)
				// Offline: the inspector records the outcome.
				f.clock.Advance(10 * time.Minute)
				out := d.mut(MutComplaintOutcome, c.ID, c.Version, outcomeOf(tc.outcome, "  کارمند در محل نبود  "))
				// Meanwhile dispatch moves the complaint.
				moved, err := tc.move(f, c)
				require.NoError(t, err)

				f.clock.Advance(time.Hour)
				muts := []Mutation{start, out}
				res := mustPush(t, f.s, d, muts...)
				assert.Equal(t, StatusRejected, res[0].Status, "the start lost the race: %+v", res[0])
				r := res[1]
				require.Equal(t, StatusResolvedByRule, r.Status, "%s: %s", r.Code, r.Message)
				assert.Equal(t, inspector.RuleNeedsReview, r.Rule)
				require.Len(t, r.ConflictIDs, 1)
				assert.NotEmpty(t, r.WinningValue)
				requireNothingLost(t, f.s, muts, res)

				review, err := f.s.Complaint(c.ID)
				require.NoError(t, err)
				assert.Equal(t, inspector.StatusNeedsReview, review.Status)
				assert.Nil(t, review.Outcome, "the outcome waits on the conflict record")
				assert.Equal(t, moved.Assignment, review.Assignment)

				cf := mustConflict(t, f.s, r.ConflictIDs[0])
				assert.Equal(t, inspector.LabelConflict, cf.Label)
				assert.Equal(t, inspector.RuleNeedsReview, cf.Rule)
				assert.Equal(t, "outcome", cf.Field)
				assert.Equal(t, c.ID, cf.ComplaintID)
				assert.Equal(t, moved.Status, cf.PreviousStatus)
				assert.Equal(t, "server", cf.Winner)
				assert.NotEmpty(t, cf.ServerValue)
				var held inspector.Outcome
				require.NoError(t, json.Unmarshal(cf.DeviceValue, &held))
				assert.Equal(t, tc.outcome, held.Value)
				assert.Equal(t, "کارمند در محل نبود", held.Statement)
				assert.Equal(t, f.ali.ID, held.InspectorID)
				assert.Equal(t, out.ID, held.MutationID)
				assert.True(t, out.DeviceTime.Equal(held.RecordedAt), "the device's time is kept as a claim")

				requireReplayed(t, f.s, d, muts, res)

				f.clock.Advance(time.Minute)
				_, err = f.s.ResolveConflict(dispatcher, cf.ID, action, "بررسی شد")
				require.NoError(t, err)
				got, err := f.s.Complaint(c.ID)
				require.NoError(t, err)
				if action == ResolveAccept {
					assert.Equal(t, tc.accepted, got.Status)
					assert.Nil(t, got.Outcome)
				} else {
					assert.Equal(t, tc.overruled, got.Status)
					require.NotNil(t, got.Outcome)
					assert.Equal(t, held, *got.Outcome)
				}
				assert.Equal(t, moved.Assignment, got.Assignment, "resolving does not reroute")
				h, err := f.s.ComplaintHistory(c.ID)
				require.NoError(t, err)
				var last Change
				for _, ch := range h {
					if ch.Kind == KindComplaint {
						last = ch
					}
				}
				assert.Equal(t, "review_"+action, last.Action)
				assert.Equal(t, got.Version, last.Seq)
			})
		}
	}
}

// Row "the same visit field from two devices of one inspector": the last
// writer by hybrid logical clock wins whichever arrives first; ties on the
// clock go to the greater device id. The losing value is on the conflict
// record.
func TestPolicyVisitSameFieldLastWriterWins(t *testing.T) {
	w := t0.Add(-20 * time.Minute).UnixMilli()
	for _, tc := range []struct {
		name          string
		phone, tablet inspector.Stamp
		winner        string // device id
	}{
		{"later wall clock", inspector.Stamp{WallMs: w}, inspector.Stamp{WallMs: w + 5}, "ali-tablet"},
		{"later wall clock, other device", inspector.Stamp{WallMs: w + 9, Logical: 0}, inspector.Stamp{WallMs: w + 5, Logical: 7}, "ali-phone"},
		{"same wall, higher counter", inspector.Stamp{WallMs: w, Logical: 3}, inspector.Stamp{WallMs: w, Logical: 1}, "ali-phone"},
		{"same clock, greater device id", inspector.Stamp{WallMs: w, Logical: 2}, inspector.Stamp{WallMs: w, Logical: 2}, "ali-tablet"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			finals := map[string]inspector.Visit{}
			for _, phoneFirst := range []bool{true, false} {
				f := newFieldFixture(t)
				c := f.complaint(t, "CALL-1", "QZ-SSO-01", &f.ali)
				phone, tablet := f.device("ali-phone", f.ali), f.device("ali-tablet", f.ali)
				id, base := f.visit(t, phone, c.ID)
				// Both devices hold the visit at base, then edit it offline.
				f.clock.Advance(time.Hour)
				mp := phone.mut(MutVisitUpsert, id, base, map[string]any{"summary": "از گوشی"})
				mp.HLC = tc.phone
				mt := tablet.mut(MutVisitUpsert, id, base, map[string]any{"summary": "از تبلت"})
				mt.HLC = tc.tablet
				first, firstDev, second, secondDev := mp, phone, mt, tablet
				if !phoneFirst {
					first, firstDev, second, secondDev = mt, tablet, mp, phone
				}
				r1 := mustPush(t, f.s, firstDev, first)[0]
				require.Equal(t, StatusApplied, r1.Status, "%s: %s", r1.Code, r1.Message)
				r2 := mustPush(t, f.s, secondDev, second)[0]
				require.Equal(t, StatusResolvedByRule, r2.Status, "%s: %s", r2.Code, r2.Message)
				assert.Equal(t, inspector.RuleLastWriterWins, r2.Rule)
				require.Len(t, r2.ConflictIDs, 1)

				v := mustVisit(t, f.s, id)
				want := map[string]string{"ali-phone": "از گوشی", "ali-tablet": "از تبلت"}[tc.winner]
				assert.Equal(t, want, v.Summary, "the later writer wins")
				assert.Equal(t, tc.winner, v.Stamps["summary"].Device)
				assert.JSONEq(t, string(mustJSON(map[string]string{"summary": want})), string(r2.WinningValue))

				cf := mustConflict(t, f.s, r2.ConflictIDs[0])
				assert.Equal(t, inspector.LabelConflict, cf.Label)
				assert.Equal(t, inspector.RuleLastWriterWins, cf.Rule)
				assert.Equal(t, KindVisit, cf.RecordKind)
				assert.Equal(t, id, cf.RecordID)
				assert.Equal(t, c.ID, cf.ComplaintID)
				assert.Equal(t, "summary", cf.Field)
				assert.JSONEq(t, string(mustJSON(map[string]string{"ali-phone": "از گوشی", "ali-tablet": "از تبلت"}[firstDev.id])), string(cf.ServerValue))
				assert.JSONEq(t, string(second.Payload), `{"summary":`+string(cf.DeviceValue)+`}`)
				if tc.winner == secondDev.id {
					assert.Equal(t, "device", cf.Winner)
					assert.Greater(t, r2.Version, r1.Version, "the later write is applied")
				} else {
					assert.Equal(t, "server", cf.Winner)
					assert.Equal(t, r1.Version, v.Version, "the visit is unchanged")
				}
				requireNothingLost(t, f.s, []Mutation{first, second}, []Result{r1, r2})
				finals[firstDev.id] = v
			}
			assert.Equal(t, finals["ali-phone"].Summary, finals["ali-tablet"].Summary, "the order of arrival does not matter")
			assert.Equal(t, finals["ali-phone"].Stamps, finals["ali-tablet"].Stamps)
		})
	}
}

// TestPolicyFastDeviceClockIsClamped: a device whose clock runs three hours
// ahead is held to the server's time when its write arrives, so the honest
// device that writes the same field afterwards wins, and the push reports
// the skew.
func TestPolicyFastDeviceClockIsClamped(t *testing.T) {
	f := newFieldFixture(t)
	c := f.complaint(t, "CALL-1", "QZ-SSO-01", &f.ali)
	fast, honest := f.device("ali-fast", f.ali), f.device("ali-honest", f.ali)
	fast.skew = 3 * time.Hour
	id, base := f.visit(t, honest, c.ID)

	r1 := mustPush(t, f.s, fast, fast.mut(MutVisitUpsert, id, base, map[string]any{"summary": "ساعت جلو"}))[0]
	require.Equal(t, StatusApplied, r1.Status, "%s: %s", r1.Code, r1.Message)
	assert.InDelta(t, 3*3600, r1.ClockSkewS, 5, "the push reports the device's skew")
	f.clock.Advance(time.Minute)
	r2 := mustPush(t, f.s, honest, honest.mut(MutVisitUpsert, id, base, map[string]any{"summary": "ساعت درست"}))[0]
	require.Equal(t, StatusResolvedByRule, r2.Status, "%s %s", r2.Code, r2.Message)
	assert.Equal(t, inspector.RuleLastWriterWins, r2.Rule)
	assert.Equal(t, "ساعت درست", mustVisit(t, f.s, id).Summary, "the later honest write wins over the fast clock")
}

// Overruling a last-writer-wins conflict applies the losing value.
func TestPolicyVisitOverruleAppliesLoser(t *testing.T) {
	f := newFieldFixture(t)
	phone, tablet := f.device("ali-phone", f.ali), f.device("ali-tablet", f.ali)
	id, base := f.visit(t, phone, "")
	f.clock.Advance(time.Minute)
	mt := tablet.mut(MutVisitUpsert, id, base, map[string]any{"summary": "دیرتر"})
	mp := phone.mut(MutVisitUpsert, id, base, map[string]any{"summary": "زودتر"})
	mp.HLC = inspector.Stamp{WallMs: mt.HLC.WallMs - 1000}
	rt := mustPush(t, f.s, tablet, mt)[0]
	r := mustPush(t, f.s, phone, mp)[0]
	require.Equal(t, StatusResolvedByRule, r.Status)
	requireNothingLost(t, f.s, []Mutation{mt, mp}, []Result{rt, r})
	cf := mustConflict(t, f.s, r.ConflictIDs[0])
	require.Equal(t, "server", cf.Winner)
	require.Equal(t, "دیرتر", mustVisit(t, f.s, id).Summary)

	before := mustVisit(t, f.s, id)
	_, err := f.s.ResolveConflict(dispatcher, cf.ID, ResolveOverrule, "")
	require.NoError(t, err)
	v := mustVisit(t, f.s, id)
	assert.Equal(t, "زودتر", v.Summary)
	assert.Greater(t, v.Version, before.Version)
	assert.Equal(t, v.Version, v.FieldSeqs["summary"])
	assert.Equal(t, "dispatch:"+dispatcher.UserID, v.Stamps["summary"].Device)
	assert.Equal(t, before.OfficeCode, v.OfficeCode)
}

// Row "the same visit, different fields": merged, with a parallel_update
// record that is resolved automatically.
func TestPolicyVisitDifferentFieldsMerged(t *testing.T) {
	for _, phoneFirst := range []bool{true, false} {
		f := newFieldFixture(t)
		phone, tablet := f.device("ali-phone", f.ali), f.device("ali-tablet", f.ali)
		id, base := f.visit(t, phone, "")
		f.clock.Advance(time.Hour)
		mp := phone.mut(MutVisitUpsert, id, base, map[string]any{"summary": "سه نفر غایب"})
		mt := tablet.mut(MutVisitUpsert, id, base, map[string]any{"check_out": geo(f.clock.Now())})
		first, firstDev, second, secondDev := mp, phone, mt, tablet
		if !phoneFirst {
			first, firstDev, second, secondDev = mt, tablet, mp, phone
		}
		r1 := mustPush(t, f.s, firstDev, first)[0]
		require.Equal(t, StatusApplied, r1.Status, "%s: %s", r1.Code, r1.Message)
		r2 := mustPush(t, f.s, secondDev, second)[0]
		require.Equal(t, StatusMerged, r2.Status, "%s: %s", r2.Code, r2.Message)
		assert.Equal(t, inspector.RuleMerge, r2.Rule)
		require.Len(t, r2.ConflictIDs, 1)
		cf := mustConflict(t, f.s, r2.ConflictIDs[0])
		assert.Equal(t, inspector.LabelParallelUpdate, cf.Label)
		assert.Equal(t, inspector.RuleMerge, cf.Rule)
		assert.Equal(t, "both", cf.Winner)
		assert.Equal(t, ConflictResolved, cf.Status, "a merge needs no one")
		require.NotNil(t, cf.Resolution)
		assert.Equal(t, "merged", cf.Resolution.Action)
		assert.JSONEq(t, string(second.Payload), string(cf.DeviceValue))

		v := mustVisit(t, f.s, id)
		assert.Equal(t, "سه نفر غایب", v.Summary, "phone first: %v", phoneFirst)
		require.NotNil(t, v.CheckOut, "phone first: %v", phoneFirst)
		require.NotNil(t, v.CheckIn)
		assert.Equal(t, "QZ-SSO-01", v.OfficeCode)
		assert.Equal(t, r2.Version, v.Version)
		requireNothingLost(t, f.s, []Mutation{first, second}, []Result{r1, r2})
	}
}

// Row "edits to a record deleted on the server": not applied, kept as
// orphaned work; overruling restores the visit with the edits.
func TestPolicyEditDeletedVisitIsOrphaned(t *testing.T) {
	f := newFieldFixture(t)
	c := f.complaint(t, "CALL-1", "QZ-SSO-01", &f.ali)
	d := f.device("ali-phone", f.ali)
	id, base := f.visit(t, d, c.ID)
	rep := newReplica()
	rep.sync(t, f.s, f.ali, 3)
	require.Contains(t, rep.recs, recKey{KindVisit, id})

	require.NoError(t, f.s.DeleteVisit(dispatcher, id))
	requireCode(t, f.s.DeleteVisit(dispatcher, id), inspector.CodeNotFound)
	p := rep.pull(t, f.s, f.ali, 10)
	assert.Contains(t, p.Records, PullRecord{Kind: KindVisit, ID: id, Op: OpRemove, Reason: ReasonDeleted})
	deleted := mustVisit(t, f.s, id)
	require.True(t, deleted.Deleted)

	f.clock.Advance(time.Minute)
	edits := map[string]any{"summary": "بعد از حذف", "check_out": geo(f.clock.Now())}
	m := d.mut(MutVisitUpsert, id, base, edits)
	res := mustPush(t, f.s, d, m)
	r := res[0]
	require.Equal(t, StatusResolvedByRule, r.Status, "%s: %s", r.Code, r.Message)
	assert.Equal(t, inspector.RuleOrphaned, r.Rule)
	require.Len(t, r.ConflictIDs, 1)
	assert.Equal(t, deleted, mustVisit(t, f.s, id), "the deleted visit is untouched")
	cf := mustConflict(t, f.s, r.ConflictIDs[0])
	assert.Equal(t, inspector.LabelConflict, cf.Label)
	assert.Equal(t, inspector.RuleOrphaned, cf.Rule)
	assert.Equal(t, KindVisit, cf.RecordKind)
	assert.Equal(t, id, cf.RecordID)
	assert.Equal(t, c.ID, cf.ComplaintID)
	assert.JSONEq(t, string(m.Payload), string(cf.DeviceValue), "the edits are kept")
	assert.Equal(t, ConflictOpen, cf.Status)
	requireNothingLost(t, f.s, []Mutation{m}, []Result{r})
	requireReplayed(t, f.s, d, []Mutation{m}, res)
	rep.sync(t, f.s, f.ali, 10)
	assert.NotContains(t, rep.recs, recKey{KindVisit, id})
	assert.Contains(t, rep.recs, recKey{KindConflict, cf.ID}, "the device learns what became of its edit")

	_, err := f.s.ResolveConflict(dispatcher, cf.ID, ResolveOverrule, "حذف اشتباه بود")
	require.NoError(t, err)
	v := mustVisit(t, f.s, id)
	assert.False(t, v.Deleted)
	assert.Empty(t, v.DeletedBy)
	assert.Equal(t, "بعد از حذف", v.Summary)
	require.NotNil(t, v.CheckOut)
	assert.Equal(t, "QZ-SSO-01", v.OfficeCode)
	assert.Greater(t, v.Version, deleted.Version)
	rep.sync(t, f.s, f.ali, 10)
	assert.Equal(t, v.Version, rep.recs[recKey{KindVisit, id}], "the restored visit returns to the device")
	requireSameRecords(t, expectedScope(t, f.s, f.ali), rep.recs)
}

// A finding and a note that came for a deleted visit are kept as orphaned
// work. Overruling them while the visit is deleted is refused; once dispatch
// restores the visit (overruling its orphaned edit), overruling them records
// them as the device sent them, and the device receives them.
func TestPolicyOrphanedFindingAndNoteApplyOnceTheVisitIsRestored(t *testing.T) {
	f := newFieldFixture(t)
	c := f.complaint(t, "CALL-1", "QZ-SSO-01", &f.ali)
	d := f.device("ali-phone", f.ali)
	visit, base := f.visit(t, d, c.ID)
	require.NoError(t, f.s.DeleteVisit(dispatcher, visit))

	f.clock.Advance(time.Minute)
	edit := d.mut(MutVisitUpsert, visit, base, map[string]any{"summary": "بعد از حذف"})
	finding := d.mut(MutFindingCreate, f.devIDs.Next(), 0, findingPayload(visit, c.ID, 3, f.clock.Now()))
	note := d.mut(MutNoteCreate, f.devIDs.Next(), 0, notePayload(c.ID, visit, "یادداشت بازدید", f.clock.Now()))
	res := mustPush(t, f.s, d, edit, finding, note)
	conflictOf := map[string]string{}
	for i, m := range []Mutation{edit, finding, note} {
		require.Equal(t, StatusResolvedByRule, res[i].Status, "%s: %s", m.Kind, res[i].Message)
		require.Equal(t, inspector.RuleOrphaned, res[i].Rule)
		conflictOf[m.Kind] = res[i].ConflictIDs[0]
	}

	_, err := f.s.ResolveConflict(dispatcher, conflictOf[MutFindingCreate], ResolveOverrule, "")
	e := requireCode(t, err, inspector.CodeConflict)
	assert.Contains(t, e.Message, "restore it first")

	_, err = f.s.ResolveConflict(dispatcher, conflictOf[MutVisitUpsert], ResolveOverrule, "حذف اشتباه بود")
	require.NoError(t, err)
	for _, kind := range []string{MutFindingCreate, MutNoteCreate} {
		cf, err := f.s.ResolveConflict(dispatcher, conflictOf[kind], ResolveOverrule, "")
		require.NoError(t, err, kind)
		assert.Equal(t, ConflictResolved, cf.Status)
	}
	rep := newReplica()
	rep.sync(t, f.s, f.ali, 10)
	assert.Contains(t, rep.recs, recKey{KindFinding, finding.RecordID}, "the finding reaches the device")
	assert.Contains(t, rep.recs, recKey{KindNote, note.RecordID})
	requireSameRecords(t, expectedScope(t, f.s, f.ali), rep.recs)

	// The device sending them again later changes nothing: they are its records, as sent.
	again := d.mut(MutFindingCreate, finding.RecordID, 0, findingPayload(visit, c.ID, 3, f.clock.Now()))
	again.Payload = finding.Payload
	r := mustPush(t, f.s, d, again)[0]
	assert.Equal(t, StatusApplied, r.Status, "%s: %s", r.Code, r.Message)
}

// Sequence numbers: a jump ahead is applied and reported; the missing
// number is applied when it comes; a number reused for other content is
// rejected.
func TestPolicySequenceGap(t *testing.T) {
	f := newFieldFixture(t)
	c := f.complaint(t, "CALL-1", "QZ-SSO-01", &f.ali)
	d := f.device("ali-phone", f.ali)
	at := t0.Add(-time.Minute)
	m1 := d.mut(MutNoteCreate, f.devIDs.Next(), 0, notePayload(c.ID, "", "یک", at))
	m2 := d.mut(MutNoteCreate, f.devIDs.Next(), 0, notePayload(c.ID, "", "دو", at))
	m3 := d.mut(MutNoteCreate, f.devIDs.Next(), 0, notePayload(c.ID, "", "سه", at))
	m4 := d.mut(MutNoteCreate, f.devIDs.Next(), 0, notePayload(c.ID, "", "چهار", at))
	m5 := d.mut(MutNoteCreate, f.devIDs.Next(), 0, notePayload(c.ID, "", "پنج", at))

	r1 := mustPush(t, f.s, d, m1)[0]
	require.Equal(t, StatusApplied, r1.Status)
	assert.Empty(t, r1.GapBefore)

	res3, last, err := f.s.Push(d.user, d.id, []Mutation{m3})
	require.NoError(t, err)
	r3 := res3[0]
	assert.Equal(t, uint64(3), last)
	assert.Equal(t, StatusApplied, r3.Status, "a jump is applied")
	assert.Equal(t, []uint64{2}, r3.GapBefore, "and reported")
	gaps := conflictsOf(t, f.s, m3.ID)
	require.Len(t, gaps, 1)
	assert.Equal(t, inspector.RuleSequenceGap, gaps[0].Rule)
	assert.Equal(t, KindDevice, gaps[0].RecordKind)
	assert.Equal(t, d.id, gaps[0].RecordID)
	assert.Equal(t, f.ali.ID, gaps[0].InspectorID)
	assert.JSONEq(t, `[2]`, string(gaps[0].DeviceValue))
	requireReplayed(t, f.s, d, []Mutation{m3}, res3)

	res2, last, err := f.s.Push(d.user, d.id, []Mutation{m2})
	require.NoError(t, err)
	r2 := res2[0]
	assert.Equal(t, uint64(3), last, "the highest sequence stays")
	assert.Equal(t, StatusApplied, r2.Status, "the missing one is applied late")
	assert.Empty(t, r2.GapBefore)

	// Out of order within one batch: applied in device order, answered in
	// the order sent, and no gap.
	res54 := mustPush(t, f.s, d, m5, m4)
	assert.Equal(t, StatusApplied, res54[0].Status)
	assert.Equal(t, StatusApplied, res54[1].Status)
	assert.Empty(t, res54[0].GapBefore)
	assert.Empty(t, res54[1].GapBefore)
	assert.Less(t, res54[1].Version, res54[0].Version, "seq 4 is applied before seq 5")
	assert.Len(t, conflictsOf(t, f.s, m5.ID), 0)

	requireNothingLost(t, f.s, []Mutation{m1, m2, m3, m4, m5}, []Result{r1, r2, r3, res54[1], res54[0]})

	// A sequence number reused for other content.
	seq := lastSeq(t, f.s)
	clash := m2
	clash.ID = f.devIDs.Next()
	clash.Payload = mustJSON(notePayload(c.ID, "", "دو، ویرایش", at))
	clash.RecordID = f.devIDs.Next()
	rc := mustPush(t, f.s, d, clash)[0]
	assert.Equal(t, StatusRejected, rc.Status)
	assert.Equal(t, inspector.CodeIdempotencyClash, rc.Code)
	requireField(t, &inspector.Error{Code: rc.Code, Fields: rc.Fields}, inspector.CodeIdempotencyClash, "device_seq", "reused")
	requireNothingLost(t, f.s, []Mutation{clash}, []Result{rc})
	requireReplayed(t, f.s, d, []Mutation{clash}, []Result{rc})
	// The same mutation id with other content at its own sequence.
	changed := m2
	changed.Payload = mustJSON(notePayload(c.ID, "", "دو؟", at))
	rx := mustPush(t, f.s, d, changed)[0]
	assert.Equal(t, StatusRejected, rx.Status)
	assert.Equal(t, inspector.CodeIdempotencyClash, rx.Code)
	assert.Equal(t, r2.Version, storedVersion(bucketNotes)(t, f.s, m2.RecordID), "a clash applies nothing")
	for _, ch := range allChanges(t, f.s)[seq:] {
		assert.NotEqual(t, KindNote, ch.Kind, "a clash applies nothing")
	}

	// Within one batch: the same mutation twice is one write and a replay;
	// a sequence number used twice is a clash for the second.
	m6 := d.mut(MutNoteCreate, f.devIDs.Next(), 0, notePayload(c.ID, "", "شش", at))
	dup := m6
	dup.ID, dup.RecordID = f.devIDs.Next(), f.devIDs.Next()
	dup.Payload = mustJSON(notePayload(c.ID, "", "شش؟", at))
	seq = lastSeq(t, f.s)
	res := mustPush(t, f.s, d, m6, m6, dup)
	assert.Equal(t, StatusApplied, res[0].Status)
	assert.False(t, res[0].Replayed)
	assert.True(t, res[1].Replayed, "the same mutation twice in a batch is applied once")
	res[1].Replayed = false
	assert.Equal(t, res[0], res[1])
	assert.Equal(t, StatusRejected, res[2].Status)
	assert.Equal(t, inspector.CodeIdempotencyClash, res[2].Code)
	notes := 0
	for _, ch := range allChanges(t, f.s)[seq:] {
		if ch.Kind == KindNote {
			notes++
		}
	}
	assert.Equal(t, 1, notes, "one note written")
	requireNothingLost(t, f.s, []Mutation{m6, dup}, []Result{res[0], res[2]})
}

// Regression tests, each named after a bug these tests found. The ones
// still open are skipped with the bug and its fix described; the others were
// fixed in 4e4cc00 and keep the bug from returning.

func TestBugSequenceClashIsKeptNowhere(t *testing.T) {
	f := newFieldFixture(t)
	c := f.complaint(t, "CALL-1", "QZ-SSO-01", &f.ali)
	d := f.device("ali-phone", f.ali)
	at := t0.Add(-time.Minute)
	m1 := d.mut(MutNoteCreate, f.devIDs.Next(), 0, notePayload(c.ID, "", "یک", at))
	mustPush(t, f.s, d, m1)
	// The app lost its counter (reinstall, restored backup) and numbers a new
	// note 1 again: the server refuses it, and must keep it for dispatch.
	d.seq = 0
	m := d.mut(MutNoteCreate, f.devIDs.Next(), 0, notePayload(c.ID, "", "یادداشت تازه", at))
	r := mustPush(t, f.s, d, m)[0]
	require.Equal(t, StatusRejected, r.Status)
	require.Equal(t, inspector.CodeIdempotencyClash, r.Code)
	requireNothingLost(t, f.s, []Mutation{m}, []Result{r})
}

func TestBugMutationIDReusedAtAnotherSequencePanics(t *testing.T) {
	f := newFieldFixture(t)
	c := f.complaint(t, "CALL-1", "QZ-SSO-01", &f.ali)
	d := f.device("ali-phone", f.ali)
	m := d.mut(MutNoteCreate, f.devIDs.Next(), 0, notePayload(c.ID, "", "یک", t0))
	mustPush(t, f.s, d, m)
	// The same mutation queued again under a new sequence number (or sent by
	// another device) is a replay by its id.
	again := m
	d.seq++
	again.DeviceSeq = d.seq
	require.NotPanics(t, func() {
		res, _, err := f.s.Push(d.user, d.id, []Mutation{again})
		require.NoError(t, err)
		require.Len(t, res, 1)
		assert.Equal(t, again.DeviceSeq, res[0].DeviceSeq, "the answer names the sequence it answers")
	})
	other := f.device("ali-tablet", f.ali)
	require.NotPanics(t, func() {
		_, _, err := f.s.Push(other.user, other.id, []Mutation{m})
		require.NoError(t, err)
	})
}

func TestBugOwnSequentialVisitEditsConflict(t *testing.T) {
	t.Run("spurious conflict", func(t *testing.T) {
		f := newFieldFixture(t)
		d := f.device("ali-phone", f.ali)
		// Offline, the device creates a visit and later edits it. It has
		// never pulled the visit, so both carry base version 0.
		id := f.devIDs.Next()
		create := d.mut(MutVisitUpsert, id, 0, map[string]any{"office_code": "QZ-SSO-01", "summary": "رسیدم"})
		f.clock.Advance(time.Minute)
		edit := d.mut(MutVisitUpsert, id, 0, map[string]any{"summary": "سه نفر غایب"})
		res := mustPush(t, f.s, d, create, edit)
		assert.Equal(t, StatusApplied, res[0].Status)
		assert.Equal(t, StatusApplied, res[1].Status, "one device's edits follow each other; no other device wrote")
		assert.Empty(t, allConflicts(t, f.s), "no conflict record for a device's own earlier write")
	})
	t.Run("own later edit lost", func(t *testing.T) {
		f := newFieldFixture(t)
		d := f.device("ali-phone", f.ali)
		d.skew = time.Hour // the phone's clock runs an hour fast
		id := f.devIDs.Next()
		create := d.mut(MutVisitUpsert, id, 0, map[string]any{"office_code": "QZ-SSO-01", "summary": "رسیدم"})
		f.clock.Advance(time.Minute)
		edit := d.mut(MutVisitUpsert, id, 0, map[string]any{"summary": "سه نفر غایب"})
		require.Greater(t, edit.HLC.WallMs, create.HLC.WallMs)
		mustPush(t, f.s, d, create, edit)
		assert.Equal(t, "سه نفر غایب", mustVisit(t, f.s, id).Summary, "the device's later edit wins over its earlier one")
	})
}

func TestBugComplaintEditWithUnknownFieldLeavesConflicts(t *testing.T) {
	f := newFieldFixture(t)
	c := f.complaint(t, "CALL-1", "QZ-SSO-01", &f.ali)
	d := f.device("ali-phone", f.ali)
	m := d.mut(MutComplaintEdit, c.ID, c.Version, map[string]any{"priority": "urgent", "zone": "3"})
	r := mustPush(t, f.s, d, m)[0]
	require.Equal(t, StatusRejected, r.Status)
	for _, cf := range conflictsOf(t, f.s, m.ID) {
		assert.NotEqual(t, inspector.RuleDispatchWins, cf.Rule,
			"a rejected edit must not leave a dispatch_wins record that dispatch could overrule (field %s)", cf.Field)
	}
	assert.Len(t, conflictsOf(t, f.s, m.ID), 1, "only the rejection is recorded")
}

func TestBugSecondReviewOutcomeCannotBeAccepted(t *testing.T) {
	f := newFieldFixture(t)
	c := f.complaint(t, "CALL-1", "QZ-SSO-01", &f.ali)
	phone, tablet := f.device("ali-phone", f.ali), f.device("ali-tablet", f.ali)
	_, err := f.s.Withdraw(dispatcher, c.ID, "تماس تکراری")
	require.NoError(t, err)
	// Both devices recorded an outcome offline.
	r1 := mustPush(t, f.s, phone, phone.mut(MutComplaintOutcome, c.ID, c.Version, outcomeOf(inspector.OutcomeSubstantiated, "غایب بود")))[0]
	r2 := mustPush(t, f.s, tablet, tablet.mut(MutComplaintOutcome, c.ID, c.Version, outcomeOf(inspector.OutcomeResolvedOnSpot, "حل شد")))[0]
	require.Equal(t, StatusResolvedByRule, r1.Status)
	require.Equal(t, StatusResolvedByRule, r2.Status)
	// Dispatch keeps the withdrawal: accepting each review must work.
	_, err = f.s.ResolveConflict(dispatcher, r2.ConflictIDs[0], ResolveAccept, "")
	assert.NoError(t, err, "accepting the second review")
	_, err = f.s.ResolveConflict(dispatcher, r1.ConflictIDs[0], ResolveAccept, "")
	assert.NoError(t, err, "accepting the first review")
	got, err := f.s.Complaint(c.ID)
	require.NoError(t, err)
	assert.Equal(t, inspector.StatusWithdrawn, got.Status)
	open, _, err := f.s.Conflicts(ConflictFilter{Status: ConflictOpen, ComplaintID: c.ID})
	require.NoError(t, err)
	assert.Empty(t, open, "every review can be closed")
}

func TestBugOverruleOnDeletedVisitSendsItBack(t *testing.T) {
	f := newFieldFixture(t)
	phone, tablet := f.device("ali-phone", f.ali), f.device("ali-tablet", f.ali)
	id, base := f.visit(t, phone, "")
	f.clock.Advance(time.Minute)
	mustPush(t, f.s, phone, phone.mut(MutVisitUpsert, id, base, map[string]any{"summary": "گوشی"}))
	r := mustPush(t, f.s, tablet, tablet.mut(MutVisitUpsert, id, base, map[string]any{"summary": "تبلت"}))[0]
	require.Equal(t, inspector.RuleLastWriterWins, r.Rule)
	rep := newReplica()
	rep.sync(t, f.s, f.ali, 0)

	require.NoError(t, f.s.DeleteVisit(dispatcher, id))
	rep.sync(t, f.s, f.ali, 0)
	require.NotContains(t, rep.recs, recKey{KindVisit, id})

	// Dispatch then overrules the old conflict about the deleted visit.
	_, err := f.s.ResolveConflict(dispatcher, r.ConflictIDs[0], ResolveOverrule, "")
	v := mustVisit(t, f.s, id)
	if err == nil {
		assert.False(t, v.Deleted, "an overrule that succeeds must not write into a deleted visit")
	} else {
		requireCode(t, err, inspector.CodeConflict)
	}
	rep.sync(t, f.s, f.ali, 0)
	requireSameRecords(t, expectedScope(t, f.s, f.ali), rep.recs, "the device never holds a deleted visit")
	full := newReplica()
	full.sync(t, f.s, f.ali, 0)
	requireSameRecords(t, expectedScope(t, f.s, f.ali), full.recs, "a full sync never delivers a deleted visit")
}

func TestBugMutationIDClashIsKeptNowhere(t *testing.T) {
	f := newFieldFixture(t)
	c := f.complaint(t, "CALL-1", "QZ-SSO-01", &f.ali)
	d := f.device("ali-phone", f.ali)
	m := d.mut(MutNoteCreate, f.devIDs.Next(), 0, notePayload(c.ID, "", "یک", t0))
	mustPush(t, f.s, d, m)
	// The app edited the queued note in place after a lost response and
	// resent it under the same mutation id and sequence.
	edited := m
	edited.Payload = mustJSON(notePayload(c.ID, "", "یک، اصلاح شده", t0))
	r := mustPush(t, f.s, d, edited)[0]
	require.Equal(t, StatusRejected, r.Status)
	require.Equal(t, inspector.CodeIdempotencyClash, r.Code)
	requireNothingLost(t, f.s, []Mutation{edited}, []Result{r})
}

func TestBugSupersededOwnEditWinsWhenQueueArrivesOutOfOrder(t *testing.T) {
	f := newFieldFixture(t)
	phone, tablet := f.device("ali-phone", f.ali), f.device("ali-tablet", f.ali)
	tablet.skew = time.Hour // the tablet's clock runs an hour fast
	id, base := f.visit(t, phone, "")
	// Offline, the tablet writes the summary twice.
	first := tablet.mut(MutVisitUpsert, id, base, map[string]any{"summary": "نسخه اول"})
	f.clock.Advance(time.Second)
	second := tablet.mut(MutVisitUpsert, id, base, map[string]any{"summary": "نسخه دوم"})
	// Its queue arrives out of order: the second edit first (the gap is
	// reported), the phone's edit, then the first edit. Bounding by server
	// time gives the first edit the later clock.
	f.clock.Advance(5 * time.Minute)
	require.Equal(t, []uint64{1}, mustPush(t, f.s, tablet, second)[0].GapBefore)
	f.clock.Advance(5 * time.Minute)
	mustPush(t, f.s, phone, phone.mut(MutVisitUpsert, id, base, map[string]any{"summary": "از گوشی"}))
	f.clock.Advance(10 * time.Minute)
	mustPush(t, f.s, tablet, first)
	assert.NotEqual(t, "نسخه اول", mustVisit(t, f.s, id).Summary,
		"an edit its own device replaced never wins")
}

func TestBugRejectedOutcomeLeavesAReviewConflict(t *testing.T) {
	f := newFieldFixture(t)
	c := f.complaint(t, "CALL-1", "QZ-SSO-01", nil)
	d := f.device("ali-phone", f.ali)
	m := d.mut(MutComplaintOutcome, c.ID, 0, outcomeOf(inspector.OutcomeSubstantiated, "غایب بود"))
	r := mustPush(t, f.s, d, m)[0]
	require.Equal(t, StatusRejected, r.Status)
	kept := conflictsOf(t, f.s, m.ID)
	require.Len(t, kept, 1, "only the rejection is recorded")
	assert.Equal(t, inspector.LabelRejected, kept[0].Label)
	assert.Equal(t, r.ConflictIDs, []string{kept[0].ID})
}

// TestConflictsFilterByComplaintAndStatus: dispatch reads the conflicts of
// one complaint, open or resolved.
func TestConflictsFilterByComplaintAndStatus(t *testing.T) {
	f := newFieldFixture(t)
	d := f.device("ali-phone", f.ali)
	var complaints []inspector.Complaint
	for i := range 2 {
		c := f.complaint(t, fmt.Sprintf("CALL-%d", i+1), "QZ-SSO-01", &f.ali)
		complaints = append(complaints, c)
		r := mustPush(t, f.s, d, d.mut(MutComplaintEdit, c.ID, c.Version, map[string]any{"priority": inspector.PriorityUrgent}))[0]
		require.Equal(t, StatusResolvedByRule, r.Status, "%s: %s", r.Code, r.Message)
	}
	ids := func(filter ConflictFilter) []string {
		filter.Limit = 50
		items, _, err := f.s.Conflicts(filter)
		require.NoError(t, err)
		var out []string
		for _, cf := range items {
			out = append(out, cf.ComplaintID)
		}
		return out
	}
	first, second := complaints[0].ID, complaints[1].ID
	assert.ElementsMatch(t, []string{first, second}, ids(ConflictFilter{}))
	assert.Equal(t, []string{first}, ids(ConflictFilter{ComplaintID: first}))
	assert.Equal(t, []string{second}, ids(ConflictFilter{ComplaintID: second, Status: ConflictOpen}))

	items, _, err := f.s.Conflicts(ConflictFilter{ComplaintID: first, Limit: 50})
	require.NoError(t, err)
	_, err = f.s.ResolveConflict(dispatcher, items[0].ID, ResolveAccept, "")
	require.NoError(t, err)
	assert.Empty(t, ids(ConflictFilter{ComplaintID: first, Status: ConflictOpen}))
	assert.Equal(t, []string{first}, ids(ConflictFilter{ComplaintID: first, Status: ConflictResolved}))
	assert.Equal(t, []string{second}, ids(ConflictFilter{Status: ConflictOpen}))
}
