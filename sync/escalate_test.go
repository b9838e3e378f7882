package sync

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/favad/favad/inspector"
)

// phoneFixture is a field fixture with a phone inspector, sara, and a
// complaint assigned to her by phone.
type phoneFixture struct {
	*fieldFixture
	sara inspector.User
	c    inspector.Complaint
	dev  *fieldDevice
}

func newPhoneFixture(t *testing.T) *phoneFixture {
	t.Helper()
	f := &phoneFixture{fieldFixture: newFieldFixture(t)}
	f.sara = mustCreateUser(t, f.s, "sara", inspector.RoleInspector, inspector.ModePhone)
	f.c = f.phoneComplaint(t, "call-phone-1")
	f.dev = f.device("sara-phone", f.sara)
	return f
}

func (f *phoneFixture) phoneComplaint(t *testing.T, callID string) inspector.Complaint {
	t.Helper()
	c := mustCreateComplaint(t, f.s, intake(callID, "QZ-SSO-01"))
	c, err := f.s.Assign(dispatcher, c.ID, inspector.Routing{InspectorID: f.sara.ID, Mode: inspector.ModePhone})
	require.NoError(t, err)
	return c
}

func escalation(reason string) map[string]any { return map[string]any{"reason": reason} }

// TestEscalateReturnsComplaintToDispatch: a phone inspector's escalation,
// from assigned or in progress, puts the complaint back in received without
// an assignment, says why in the history, removes it from the inspector's
// devices as a reassignment, is idempotent, and leaves it for dispatch to
// route to a field inspector.
func TestEscalateReturnsComplaintToDispatch(t *testing.T) {
	for _, started := range []bool{false, true} {
		name := map[bool]string{false: "assigned", true: "in progress"}[started]
		t.Run(name, func(t *testing.T) {
			f := newPhoneFixture(t)
			rep := newReplica()
			rep.sync(t, f.s, f.sara, 500)
			require.Contains(t, rep.recs, recKey{KindComplaint, f.c.ID})
			from := inspector.StatusAssigned
			if started {
				r := mustPush(t, f.s, f.dev, f.dev.mut(MutComplaintStart, f.c.ID, f.c.Version, map[string]any{}))[0]
				require.Equal(t, StatusApplied, r.Status)
				from = inspector.StatusInProgress
			}
			m := f.dev.mut(MutComplaintEscalate, f.c.ID, f.c.Version, escalation("  نیاز به بازدید حضوری؛ تلفن پاسخ نمی‌دهد  "))
			res := mustPush(t, f.s, f.dev, m)
			r := res[0]
			require.Equal(t, StatusApplied, r.Status, "%s: %s", r.Code, r.Message)
			assert.Equal(t, KindComplaint, r.RecordKind)

			c, err := f.s.Complaint(f.c.ID)
			require.NoError(t, err)
			assert.Equal(t, inspector.StatusReceived, c.Status)
			assert.Nil(t, c.Assignment, "the assignment is cleared: dispatch routes it again")
			assert.Equal(t, r.Version, c.Version)

			h, err := f.s.ComplaintHistory(f.c.ID)
			require.NoError(t, err)
			last := h[len(h)-1]
			assert.Equal(t, ActionEscalated, last.Action)
			assert.Equal(t, f.sara.ID, last.Actor)
			assert.Equal(t, "sara-phone", last.Device)
			assert.Equal(t, map[string]string{"from": string(from), "to": "received", "reason": "نیاز به بازدید حضوری؛ تلفن پاسخ نمی‌دهد",
				"previous_inspector": f.sara.ID, "mode": "phone"}, withoutDeviceData(last.Data))

			p := rep.pull(t, f.s, f.sara, 500)
			var removal *PullRecord
			for i := range p.Records {
				if p.Records[i].ID == f.c.ID {
					removal = &p.Records[i]
				}
			}
			require.NotNil(t, removal, "the inspector's devices hear of it")
			assert.Equal(t, OpRemove, removal.Op)
			assert.Equal(t, ReasonReassigned, removal.Reason)
			assert.NotContains(t, rep.recs, recKey{KindComplaint, f.c.ID})
			requireSameRecords(t, expectedScope(t, f.s, f.sara), rep.recs)

			requireReplayed(t, f.s, f.dev, []Mutation{m}, res)

			// Sent again under a new id (another device of hers, say): no longer hers.
			again := mustPush(t, f.s, f.dev, f.dev.again(m))[0]
			assert.Equal(t, StatusRejected, again.Status)
			assert.Equal(t, inspector.CodeIllegalTransition, again.Code)

			// Dispatch routes it to a field inspector: a fresh assignment.
			c, err = f.s.Assign(dispatcher, f.c.ID, inspector.Routing{InspectorID: f.ali.ID, Mode: inspector.ModeField})
			require.NoError(t, err)
			assert.Equal(t, inspector.StatusAssigned, c.Status)
			h, err = f.s.ComplaintHistory(f.c.ID)
			require.NoError(t, err)
			assert.Equal(t, ActionAssigned, h[len(h)-1].Action)
		})
	}
}

// withoutDeviceData drops what every device change logs (mutation id,
// sequence, device time), to compare what the escalation itself wrote.
func withoutDeviceData(d map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range d {
		switch k {
		case "mutation", "device_seq", "device_time", "clock_skew_s":
		default:
			out[k] = v
		}
	}
	return out
}

// TestEscalateRefused: what escalation refuses, each kept for dispatch like
// any refused mutation, and the complaint unchanged.
func TestEscalateRefused(t *testing.T) {
	for _, tc := range []struct {
		name      string
		setUp     func(t *testing.T, f *phoneFixture) (string, inspector.User)
		payload   any
		code      inspector.Code
		field     string
		fieldCode string
	}{
		{name: "no reason", payload: map[string]any{}, code: inspector.CodeInvalid, field: "payload.reason", fieldCode: "required"},
		{name: "blank reason", payload: escalation(" \n\t "), code: inspector.CodeInvalid, field: "payload.reason", fieldCode: "required"},
		{name: "reason too long", payload: escalation(strings.Repeat("ب", 2001)), code: inspector.CodeInvalid, field: "payload.reason", fieldCode: "too_long"},
		{name: "unknown field", payload: map[string]any{"reason": "x", "mode": "field"}, code: inspector.CodeInvalid, field: "payload.mode", fieldCode: "unknown_field"},
		{name: "another inspector's complaint", payload: escalation("بازدید لازم است"), code: inspector.CodeIllegalTransition,
			setUp: func(t *testing.T, f *phoneFixture) (string, inspector.User) {
				other := mustCreateUser(t, f.s, "nima", inspector.RoleInspector, inspector.ModePhone)
				return f.c.ID, other
			}},
		{name: "assigned for a field visit", payload: escalation("بازدید لازم است"), code: inspector.CodeIllegalTransition,
			setUp: func(t *testing.T, f *phoneFixture) (string, inspector.User) {
				c := f.complaint(t, "call-field-1", "QZ-SSO-01", &f.ali)
				return c.ID, f.ali
			}},
		{name: "withdrawn meanwhile", payload: escalation("بازدید لازم است"), code: inspector.CodeIllegalTransition,
			setUp: func(t *testing.T, f *phoneFixture) (string, inspector.User) {
				_, err := f.s.Withdraw(dispatcher, f.c.ID, "تکراری")
				require.NoError(t, err)
				return f.c.ID, f.sara
			}},
		{name: "referred to the workplace meanwhile", payload: escalation("بازدید لازم است"), code: inspector.CodeIllegalTransition,
			setUp: func(t *testing.T, f *phoneFixture) (string, inspector.User) {
				_, err := f.s.Refer(dispatcher, f.c.ID, "")
				require.NoError(t, err)
				return f.c.ID, f.sara
			}},
		{name: "unknown complaint", payload: escalation("بازدید لازم است"), code: inspector.CodeNotFound,
			setUp: func(t *testing.T, f *phoneFixture) (string, inspector.User) { return f.devIDs.Next(), f.sara }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newPhoneFixture(t)
			id, who := f.c.ID, f.sara
			if tc.setUp != nil {
				id, who = tc.setUp(t, f)
			}
			before, _ := f.s.Complaint(id)
			d := f.device("dev-"+who.Username, who)
			r := mustPush(t, f.s, d, d.mut(MutComplaintEscalate, id, 0, tc.payload))[0]
			require.Equal(t, StatusRejected, r.Status)
			assert.Equal(t, tc.code, r.Code, r.Message)
			if tc.field != "" {
				require.NotEmpty(t, r.Fields)
				assert.Equal(t, tc.field, r.Fields[0].Field)
				assert.Equal(t, tc.fieldCode, r.Fields[0].Code)
			}
			assert.Len(t, r.ConflictIDs, 1, "kept for dispatch")
			after, _ := f.s.Complaint(id)
			assert.Equal(t, before, after, "the complaint is unchanged")
		})
	}
}

// TestPhoneInspectorsDoNotVisit: visits and findings are field work; a
// phone inspector's are refused (forbidden) and kept for dispatch, while a
// field inspector's go through.
func TestPhoneInspectorsDoNotVisit(t *testing.T) {
	f := newPhoneFixture(t)
	now := f.clock.Now()
	visitID := f.devIDs.Next()
	seq := lastSeq(t, f.s)
	res := mustPush(t, f.s, f.dev,
		f.dev.mut(MutVisitUpsert, visitID, 0, map[string]any{"office_code": "QZ-SSO-01", "complaint_ids": []string{f.c.ID}, "check_in": geo(now)}),
		f.dev.mut(MutFindingCreate, f.devIDs.Next(), 0, findingPayload(visitID, f.c.ID, 3, now)),
		f.dev.mut(MutCallCreate, f.devIDs.Next(), 0, callPayload(f.c.ID, 90, now)))
	for _, r := range res[:2] {
		assert.Equal(t, StatusRejected, r.Status)
		assert.Equal(t, inspector.CodeForbidden, r.Code)
		assert.Contains(t, r.Message, "complaint.escalate")
		assert.Len(t, r.ConflictIDs, 1)
	}
	assert.Equal(t, StatusApplied, res[2].Status, "a phone inspector records calls")
	for _, ch := range allChanges(t, f.s) {
		if ch.Seq > seq {
			assert.NotEqual(t, KindVisit, ch.Kind, "no visit was stored")
			assert.NotEqual(t, KindFinding, ch.Kind, "no finding was stored")
		}
	}

	field := f.device("ali-phone", f.ali)
	c := f.complaint(t, "call-field-2", "QZ-SSO-01", &f.ali)
	v := field.mut(MutVisitUpsert, f.devIDs.Next(), 0, map[string]any{"office_code": "QZ-SSO-01", "complaint_ids": []string{c.ID}, "check_in": geo(now)})
	r := mustPush(t, f.s, field, v, field.mut(MutFindingCreate, f.devIDs.Next(), 0, findingPayload(v.RecordID, c.ID, 3, now)))
	assert.Equal(t, StatusApplied, r[0].Status)
	assert.Equal(t, StatusApplied, r[1].Status, "%s", r[1].Message)
}
