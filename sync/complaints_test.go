package sync

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/favad/favad/inspector"
)

func TestCreateComplaint(t *testing.T) {
	clock := newFakeClock()
	s := mustOpenStore(t, Options{Now: clock.Now})
	seedReference(t, s)
	seq := lastSeq(t, s)

	n := intake(" CALL-1 ", "qz-sso-01")
	n.Priority = inspector.PriorityUrgent
	n.Caller.Phone = "۰۹۱۲ ۱۲۳ ۴۵۶۷"
	c, created, err := s.CreateComplaint(dispatcher, n)
	require.NoError(t, err)
	assert.True(t, created)

	assert.NotEmpty(t, c.ID)
	assert.Equal(t, uint64(1), c.Number)
	assert.Equal(t, "CALL-1", c.CallID)
	assert.Equal(t, "QZ-SSO-01", c.OfficeCode)
	assert.Equal(t, "SSO", c.AgencyCode, "the agency comes from the office")
	assert.Equal(t, inspector.StatusReceived, c.Status)
	assert.Equal(t, inspector.PriorityUrgent, c.Priority)
	assert.Equal(t, n.CallTime.Add(time.Hour), c.DueAt, "urgent: due an hour after the call")
	assert.Equal(t, &inspector.Caller{Name: "مریم احمدی", Phone: "09121234567"}, c.Caller, "the phone is stored as digits")
	assert.Equal(t, dispatcher.UserID, c.CreatedBy)
	assert.Equal(t, t0, c.CreatedAt)
	assert.Equal(t, t0, c.UpdatedAt)
	assert.Nil(t, c.Assignment)
	assert.Equal(t, seq+1, c.Version)
	assert.Equal(t, seq+1, lastSeq(t, s), "exactly one change-log entry")

	got, err := s.Complaint(c.ID)
	require.NoError(t, err)
	assert.Equal(t, c, got)

	// Numbers count up per store.
	clock.Advance(time.Minute)
	c2 := mustCreateComplaint(t, s, intake("CALL-2", "QZ-TAX-01"))
	assert.Equal(t, uint64(2), c2.Number)
	assert.Equal(t, "TAX", c2.AgencyCode)
	assert.Equal(t, t0.Add(time.Minute), c2.CreatedAt)
	assert.Greater(t, c2.ID, c.ID, "ids sort by creation")
}

func TestCreateComplaintWithoutCaller(t *testing.T) {
	s := mustOpenStore(t)
	seedReference(t, s)
	n := intake("CALL-1", "QZ-SSO-01")
	n.Caller = inspector.Caller{}
	c := mustCreateComplaint(t, s, n)
	assert.Nil(t, c.Caller, "an anonymous call stores no caller")

	c2, created, err := s.CreateComplaint(dispatcher, n)
	require.NoError(t, err)
	assert.False(t, created)
	assert.Equal(t, c, c2)
}

func TestCreateComplaintDueTimeFromSLA(t *testing.T) {
	sla := inspector.SLA{
		inspector.PriorityUrgent: 30 * time.Minute,
		inspector.PriorityHigh:   2 * time.Hour,
		inspector.PriorityNormal: 8 * time.Hour,
		inspector.PriorityLow:    48 * time.Hour,
	}
	s := mustOpenStore(t, Options{SLA: sla, Now: newFakeClock().Now})
	seedReference(t, s)
	irst := time.FixedZone("IRST", 3*3600+1800)
	for i, p := range inspector.Priorities {
		n := intake(fmt.Sprintf("CALL-%d", i), "QZ-SSO-01")
		n.Priority = p
		n.CallTime = time.Date(2025, 3, 1, 11, 0, 0, 0, irst) // 07:30 UTC
		c := mustCreateComplaint(t, s, n)
		assert.Equal(t, n.CallTime.Add(sla[p]).UTC(), c.DueAt, "%s", p)
		assert.Equal(t, time.UTC, c.DueAt.Location(), "stored in UTC")
		assert.Equal(t, n.CallTime.UTC(), c.CallTime)
	}

	// The zero Options use the default table.
	d := mustOpenStore(t)
	seedReference(t, d)
	n := intake("CALL-D", "QZ-SSO-01")
	n.Priority = inspector.PriorityLow
	c := mustCreateComplaint(t, d, n)
	assert.Equal(t, n.CallTime.Add(72*time.Hour), c.DueAt)
}

func TestCreateComplaintIdempotent(t *testing.T) {
	clock := newFakeClock()
	s := mustOpenStore(t, Options{Now: clock.Now})
	seedReference(t, s)
	n := intake("CALL-1", "QZ-SSO-01")
	first := mustCreateComplaint(t, s, n)
	seq := lastSeq(t, s)

	t.Run("exact replay", func(t *testing.T) {
		clock.Advance(time.Minute)
		again, created, err := s.CreateComplaint(Actor{UserID: "dispatcher-2"}, n)
		require.NoError(t, err)
		assert.False(t, created)
		assert.Equal(t, first, again, "same id, number, version, everything")
		assert.Equal(t, seq, lastSeq(t, s), "a replay writes nothing")
	})
	t.Run("replay typed differently", func(t *testing.T) {
		m := n
		m.CallID, m.OfficeCode, m.Description = " CALL-1\t", "qz-sso-01", "  "+n.Description+"\n"
		m.Caller.Phone = "۰۹۱۲۱۲۳۴۵۶۷"
		m.CallTime = n.CallTime.In(time.FixedZone("IRST", 12600))
		again, created, err := s.CreateComplaint(dispatcher, m)
		require.NoError(t, err)
		assert.False(t, created)
		assert.Equal(t, first, again)
	})
	t.Run("replay after the office was deleted", func(t *testing.T) {
		// Set up on a separate store, to keep the others' reference data.
		s2 := mustOpenStore(t)
		seedReference(t, s2)
		c := mustCreateComplaint(t, s2, n)
		require.NoError(t, s2.DeleteOffice(admin, "QZ-SSO-01"))
		again, created, err := s2.CreateComplaint(dispatcher, n)
		require.NoError(t, err, "a retried intake still gets its answer")
		assert.False(t, created)
		assert.Equal(t, c, again)
	})

	clashes := map[string]func(*inspector.NewComplaint){
		"description": func(m *inspector.NewComplaint) { m.Description = "کارمند مشغول کار شخصی است" },
		"category":    func(m *inspector.NewComplaint) { m.Category = inspector.CategoryClientCrowding },
		"call time":   func(m *inspector.NewComplaint) { m.CallTime = m.CallTime.Add(time.Second) },
		"office":      func(m *inspector.NewComplaint) { m.OfficeCode = "QZ-TAX-01" },
		"priority":    func(m *inspector.NewComplaint) { m.Priority = inspector.PriorityLow },
		"caller name": func(m *inspector.NewComplaint) { m.Caller.Name = "علی" },
		"no caller":   func(m *inspector.NewComplaint) { m.Caller = inspector.Caller{} },
	}
	for name, mutate := range clashes {
		t.Run("clash on "+name, func(t *testing.T) {
			m := n
			mutate(&m)
			_, created, err := s.CreateComplaint(dispatcher, m)
			requireField(t, err, inspector.CodeIdempotencyClash, "call_id", "already_used")
			assert.False(t, created)
			assert.Equal(t, seq, lastSeq(t, s), "a clash writes nothing")
		})
	}

	got, err := s.Complaint(first.ID)
	require.NoError(t, err)
	assert.Equal(t, first, got, "the stored complaint is untouched")
	items, _, err := s.ListComplaints(ComplaintFilter{})
	require.NoError(t, err)
	assert.Len(t, items, 1)
}

func TestCreateComplaintRefused(t *testing.T) {
	s := mustOpenStore(t)
	seedReference(t, s)
	seq := lastSeq(t, s)

	t.Run("unknown office", func(t *testing.T) {
		_, created, err := s.CreateComplaint(dispatcher, intake("CALL-1", "QZ-NOPE-01"))
		requireField(t, err, inspector.CodeInvalid, "office_code", "unknown")
		assert.False(t, created)
	})
	t.Run("invalid intake", func(t *testing.T) {
		n := intake("", "QZ-SSO-01")
		n.CallTime = t0.Add(time.Hour)
		_, _, err := s.CreateComplaint(dispatcher, n)
		requireField(t, err, inspector.CodeInvalid, "call_id", "required")
		requireField(t, err, inspector.CodeInvalid, "call_time", "in_future")
	})
	t.Run("the call id of a refused intake stays free", func(t *testing.T) {
		c := mustCreateComplaint(t, s, intake("CALL-1", "QZ-SSO-01"))
		assert.Equal(t, uint64(1), c.Number, "refusals consume no number")
		seq++
	})
	assert.Equal(t, seq, lastSeq(t, s), "only the accepted intake was logged")
}

func TestCreateComplaintDeletedOffice(t *testing.T) {
	s := mustOpenStore(t)
	seedReference(t, s)
	before := mustCreateComplaint(t, s, intake("CALL-1", "QZ-SSO-01"))
	require.NoError(t, s.DeleteOffice(admin, "qz-sso-01"))
	seq := lastSeq(t, s)

	_, _, err := s.CreateComplaint(dispatcher, intake("CALL-2", "QZ-SSO-01"))
	requireField(t, err, inspector.CodeInvalid, "office_code", "unknown")
	assert.Equal(t, seq, lastSeq(t, s))

	got, err := s.Complaint(before.ID)
	require.NoError(t, err)
	assert.Equal(t, "QZ-SSO-01", got.OfficeCode, "complaints about a deleted office keep it")

	// Restoring the office lets intake name it again.
	_, created, err := s.PutOffice(admin, officeSSO1)
	require.NoError(t, err)
	assert.True(t, created)
	mustCreateComplaint(t, s, intake("CALL-2", "QZ-SSO-01"))
}

func TestComplaintNotFound(t *testing.T) {
	s := mustOpenStore(t)
	_, err := s.Complaint("nope")
	requireCode(t, err, inspector.CodeNotFound)
	_, err = s.ComplaintHistory("nope")
	requireCode(t, err, inspector.CodeNotFound)
	_, err = s.Assign(dispatcher, "nope", inspector.Routing{InspectorID: "x", Mode: inspector.ModeField})
	requireCode(t, err, inspector.CodeNotFound)
	_, err = s.Refer(dispatcher, "nope", "")
	requireCode(t, err, inspector.CodeNotFound)
	_, err = s.Withdraw(dispatcher, "nope", "duplicate")
	requireCode(t, err, inspector.CodeNotFound)
}

func TestComplaintDurable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "favad.db")
	s := mustOpenStoreAt(t, path)
	seedReference(t, s)
	u := mustCreateUser(t, s, "ali", inspector.RoleInspector, inspector.ModeField)
	c := mustCreateComplaint(t, s, intake("CALL-1", "QZ-SSO-01"))
	c, err := s.Assign(dispatcher, c.ID, inspector.Routing{InspectorID: u.ID, Mode: inspector.ModeField})
	require.NoError(t, err)
	hist, err := s.ComplaintHistory(c.ID)
	require.NoError(t, err)
	changes := allChanges(t, s)
	require.NoError(t, s.Close())

	s = mustOpenStoreAt(t, path)
	got, err := s.Complaint(c.ID)
	require.NoError(t, err)
	assert.Equal(t, c, got)
	gotHist, err := s.ComplaintHistory(c.ID)
	require.NoError(t, err)
	assert.Equal(t, hist, gotHist)
	assert.Equal(t, changes, allChanges(t, s))

	// Sequences and numbers carry on where they stopped.
	c2 := mustCreateComplaint(t, s, intake("CALL-2", "QZ-SSO-01"))
	assert.Equal(t, uint64(2), c2.Number)
	assert.Equal(t, changes[len(changes)-1].Seq+1, c2.Version)
	// And the call id is still known after the reopen.
	_, created, err := s.CreateComplaint(dispatcher, intake("CALL-1", "QZ-SSO-01"))
	require.NoError(t, err)
	assert.False(t, created)
}

// workflow sets up a store with reference data, a field inspector (ali), a
// phone inspector (sara), a dispatcher account, a disabled inspector and one
// received complaint.
type workflow struct {
	s                     *Store
	clock                 *fakeClock
	ali, sara, disp, gone inspector.User
	c                     inspector.Complaint
}

func newWorkflow(t *testing.T) *workflow {
	t.Helper()
	w := &workflow{clock: newFakeClock()}
	w.s = mustOpenStore(t, Options{Now: w.clock.Now})
	seedReference(t, w.s)
	w.ali = mustCreateUser(t, w.s, "ali", inspector.RoleInspector, inspector.ModeField)
	w.sara = mustCreateUser(t, w.s, "sara", inspector.RoleInspector, inspector.ModePhone)
	w.disp = mustCreateUser(t, w.s, "disp", inspector.RoleDispatcher, "")
	w.gone = mustCreateUser(t, w.s, "gone", inspector.RoleInspector, inspector.ModeField)
	_, err := w.s.SetUserDisabled(admin, "gone", true)
	require.NoError(t, err)
	w.c = mustCreateComplaint(t, w.s, intake("CALL-1", "QZ-SSO-01"))
	return w
}

func (w *workflow) history(t *testing.T) []Change {
	t.Helper()
	h, err := w.s.ComplaintHistory(w.c.ID)
	require.NoError(t, err)
	return h
}

// requireVersionIsLastChange checks the invariant: a record's version is the
// Seq of its last change, in its history and in the global log.
func requireVersionIsLastChange(t *testing.T, s *Store, c inspector.Complaint) {
	t.Helper()
	h, err := s.ComplaintHistory(c.ID)
	require.NoError(t, err)
	require.NotEmpty(t, h)
	require.Equal(t, h[len(h)-1].Seq, c.Version)
	var last uint64
	for _, ch := range allChanges(t, s) {
		if ch.Kind == KindComplaint && ch.ID == c.ID {
			last = ch.Seq
		}
	}
	require.Equal(t, last, c.Version)
	stored, err := s.Complaint(c.ID)
	require.NoError(t, err)
	require.Equal(t, c, stored, "the returned complaint is what was stored")
}

func TestAssignReassignReferWithdraw(t *testing.T) {
	w := newWorkflow(t)
	s := w.s
	step := func(t *testing.T, fn func() (inspector.Complaint, error)) inspector.Complaint {
		t.Helper()
		w.clock.Advance(time.Minute)
		seq := lastSeq(t, s)
		c, err := fn()
		require.NoError(t, err)
		assert.Equal(t, seq+1, lastSeq(t, s), "one change-log entry per write")
		assert.Equal(t, w.clock.Now(), c.UpdatedAt)
		requireVersionIsLastChange(t, s, c)
		return c
	}

	c := step(t, func() (inspector.Complaint, error) {
		return s.Assign(dispatcher, w.c.ID, inspector.Routing{InspectorID: w.ali.ID, Mode: inspector.ModeField, Note: "امروز قبل از ظهر"})
	})
	assert.Equal(t, inspector.StatusAssigned, c.Status)
	assert.Equal(t, &inspector.Assignment{InspectorID: w.ali.ID, Mode: inspector.ModeField, AssignedBy: dispatcher.UserID,
		AssignedAt: w.clock.Now(), Note: "امروز قبل از ظهر"}, c.Assignment)

	c = step(t, func() (inspector.Complaint, error) {
		return s.Assign(dispatcher, w.c.ID, inspector.Routing{InspectorID: w.sara.ID, Mode: inspector.ModePhone})
	})
	assert.Equal(t, inspector.StatusAssigned, c.Status)
	assert.Equal(t, w.sara.ID, c.Assignment.InspectorID)
	assert.Equal(t, inspector.ModePhone, c.Assignment.Mode)
	assert.Empty(t, c.Assignment.Note, "a reassignment replaces the note")

	c = step(t, func() (inspector.Complaint, error) {
		return s.Refer(dispatcher, w.c.ID, "به مدیر شعبه ارجاع شد")
	})
	assert.Equal(t, inspector.StatusReferredToWorkplace, c.Status)

	// The office's answer brings it back to an inspector.
	c = step(t, func() (inspector.Complaint, error) {
		return s.Assign(dispatcher, w.c.ID, inspector.Routing{InspectorID: w.ali.ID, Mode: inspector.ModeField})
	})
	assert.Equal(t, inspector.StatusAssigned, c.Status)

	c = step(t, func() (inspector.Complaint, error) { return s.Withdraw(dispatcher, w.c.ID, "تماس تکراری") })
	assert.Equal(t, inspector.StatusWithdrawn, c.Status)
	assert.True(t, c.Status.Terminal())

	h := w.history(t)
	require.Len(t, h, 6)
	type entry struct {
		action string
		data   map[string]string
	}
	var got []entry
	for _, ch := range h {
		assert.Equal(t, KindComplaint, ch.Kind)
		assert.Equal(t, w.c.ID, ch.ID)
		got = append(got, entry{ch.Action, ch.Data})
	}
	assert.Equal(t, []entry{
		{ActionCreated, map[string]string{"to": "received", "office": "QZ-SSO-01", "agency": "SSO", "category": "absent_employee", "priority": "normal"}},
		{ActionAssigned, map[string]string{"from": "received", "to": "assigned", "inspector": w.ali.ID, "mode": "field", "note": "امروز قبل از ظهر"}},
		{ActionReassigned, map[string]string{"from": "assigned", "to": "assigned", "inspector": w.sara.ID, "mode": "phone", "previous_inspector": w.ali.ID}},
		{ActionReferred, map[string]string{"from": "assigned", "to": "referred_to_workplace", "note": "به مدیر شعبه ارجاع شد", "previous_inspector": w.sara.ID,
			"due_at": h[3].At.Add(DefaultReferralSLA).Format(time.RFC3339)}},
		{ActionReassigned, map[string]string{"from": "referred_to_workplace", "to": "assigned", "inspector": w.ali.ID, "mode": "field", "previous_inspector": w.sara.ID}},
		{ActionWithdrawn, map[string]string{"from": "assigned", "to": "withdrawn", "reason": "تماس تکراری", "previous_inspector": w.ali.ID}},
	}, got)
	for i := 1; i < len(h); i++ {
		assert.Greater(t, h[i].Seq, h[i-1].Seq, "history is oldest first")
		assert.Equal(t, dispatcher.UserID, h[i].Actor)
	}
}

func TestReferAndWithdrawFromReceived(t *testing.T) {
	w := newWorkflow(t)
	c, err := w.s.Refer(dispatcher, w.c.ID, "")
	require.NoError(t, err)
	assert.Equal(t, inspector.StatusReferredToWorkplace, c.Status)
	h := w.history(t)
	assert.Equal(t, map[string]string{"from": "received", "to": "referred_to_workplace", "due_at": h[len(h)-1].At.Add(DefaultReferralSLA).Format(time.RFC3339)}, h[len(h)-1].Data,
		"no note and no previous inspector to record")

	c, err = w.s.Withdraw(dispatcher, w.c.ID, "اشتباه")
	require.NoError(t, err)
	assert.Equal(t, inspector.StatusWithdrawn, c.Status)
}

func TestAssignRefused(t *testing.T) {
	w := newWorkflow(t)
	s := w.s
	seq := lastSeq(t, s)
	tests := []struct {
		name             string
		r                inspector.Routing
		field, fieldCode string
	}{
		{"no inspector", inspector.Routing{Mode: inspector.ModeField}, "inspector_id", "required"},
		{"no mode", inspector.Routing{InspectorID: w.ali.ID}, "mode", "invalid"},
		{"unknown user", inspector.Routing{InspectorID: "nobody", Mode: inspector.ModeField}, "inspector_id", "unknown"},
		{"a dispatcher", inspector.Routing{InspectorID: w.disp.ID, Mode: inspector.ModeField}, "inspector_id", "unknown"},
		{"a disabled inspector", inspector.Routing{InspectorID: w.gone.ID, Mode: inspector.ModeField}, "inspector_id", "unknown"},
		{"field inspector by phone", inspector.Routing{InspectorID: w.ali.ID, Mode: inspector.ModePhone}, "mode", "inspector_mode"},
		{"phone inspector in the field", inspector.Routing{InspectorID: w.sara.ID, Mode: inspector.ModeField}, "mode", "inspector_mode"},
		{"note too long", inspector.Routing{InspectorID: w.ali.ID, Mode: inspector.ModeField, Note: strings.Repeat("ن", inspector.MaxNote+1)}, "note", "too_long"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.Assign(dispatcher, w.c.ID, tt.r)
			requireField(t, err, inspector.CodeInvalid, tt.field, tt.fieldCode)
		})
	}
	assert.Equal(t, seq, lastSeq(t, s), "refusals write nothing")
	got, err := s.Complaint(w.c.ID)
	require.NoError(t, err)
	assert.Equal(t, w.c, got)

	// Assigning to the inspector who already has it is a conflict, not a no-op entry.
	_, err = s.Assign(dispatcher, w.c.ID, inspector.Routing{InspectorID: w.ali.ID, Mode: inspector.ModeField})
	require.NoError(t, err)
	seq = lastSeq(t, s)
	_, err = s.Assign(dispatcher, w.c.ID, inspector.Routing{InspectorID: w.ali.ID, Mode: inspector.ModeField, Note: "again"})
	requireCode(t, err, inspector.CodeConflict)
	assert.Equal(t, seq, lastSeq(t, s))
}

func TestIllegalTransitions(t *testing.T) {
	w := newWorkflow(t)
	s := w.s
	ali := inspector.Routing{InspectorID: w.ali.ID, Mode: inspector.ModeField}

	_, err := s.Withdraw(dispatcher, w.c.ID, "تکراری")
	require.NoError(t, err)
	seq := lastSeq(t, s)

	_, err = s.Withdraw(dispatcher, w.c.ID, "تکراری")
	requireCode(t, err, inspector.CodeIllegalTransition)
	_, err = s.Assign(dispatcher, w.c.ID, ali)
	requireCode(t, err, inspector.CodeIllegalTransition)
	_, err = s.Refer(dispatcher, w.c.ID, "")
	requireCode(t, err, inspector.CodeIllegalTransition)
	assert.Equal(t, seq, lastSeq(t, s), "illegal steps write nothing")

	got, err := s.Complaint(w.c.ID)
	require.NoError(t, err)
	assert.Equal(t, inspector.StatusWithdrawn, got.Status)

	// A referred complaint cannot be referred again.
	c := mustCreateComplaint(t, s, intake("CALL-2", "QZ-SSO-01"))
	_, err = s.Refer(dispatcher, c.ID, "")
	require.NoError(t, err)
	_, err = s.Refer(dispatcher, c.ID, "")
	requireCode(t, err, inspector.CodeIllegalTransition)
}

func TestWithdrawAndReferValidation(t *testing.T) {
	w := newWorkflow(t)
	s := w.s
	seq := lastSeq(t, s)
	for _, reason := range []string{"", "   ", "\t\n"} {
		_, err := s.Withdraw(dispatcher, w.c.ID, reason)
		requireField(t, err, inspector.CodeInvalid, "reason", "required")
	}
	_, err := s.Withdraw(dispatcher, w.c.ID, strings.Repeat("د", inspector.MaxNote+1))
	requireField(t, err, inspector.CodeInvalid, "reason", "too_long")
	_, err = s.Refer(dispatcher, w.c.ID, strings.Repeat("د", inspector.MaxNote+1))
	requireField(t, err, inspector.CodeInvalid, "note", "too_long")
	assert.Equal(t, seq, lastSeq(t, s))

	_, err = s.Withdraw(dispatcher, w.c.ID, strings.Repeat("د", inspector.MaxNote))
	require.NoError(t, err, "exactly at the limit is fine")
}

// listFixture is a store with 12 complaints of varied office, category,
// priority and status, numbered 1..12 in creation order.
type listFixture struct {
	s     *Store
	clock *fakeClock
	ali   inspector.User
	sara  inspector.User
	byNum map[uint64]inspector.Complaint
}

func newListFixture(t *testing.T) *listFixture {
	t.Helper()
	f := &listFixture{clock: newFakeClock(), byNum: map[uint64]inspector.Complaint{}}
	f.s = mustOpenStore(t, Options{Now: f.clock.Now})
	seedReference(t, f.s)
	f.ali = mustCreateUser(t, f.s, "ali", inspector.RoleInspector, inspector.ModeField)
	f.sara = mustCreateUser(t, f.s, "sara", inspector.RoleInspector, inspector.ModePhone)
	specs := []struct {
		office   string
		category inspector.Category
		priority inspector.Priority
		desc     string
	}{
		{"QZ-SSO-01", inspector.CategoryAbsentEmployee, inspector.PriorityUrgent, "کارمند باجه یک حاضر نیست"},   // 1
		{"QZ-SSO-01", inspector.CategoryClientCrowding, inspector.PriorityNormal, "صف طولانی مراجعین در سالن"},  // 2
		{"TK-SSO-01", inspector.CategoryNonWork, inspector.PriorityUrgent, "کارمند با تلفن همراه بازی می‌کند"},  // 3
		{"QZ-TAX-01", inspector.CategoryAbsentEmployee, inspector.PriorityLow, "مسئول پرونده در اداره نیست"},    // 4
		{"AB-TAX-01", inspector.CategoryOther, inspector.PriorityHigh, "برخورد نامناسب با ارباب رجوع"},          // 5
		{"QZ-SSO-01", inspector.CategoryAbsentEmployee, inspector.PriorityNormal, "رئیس شعبه در جلسه است"},      // 6
		{"QZ-TAX-01", inspector.CategoryNonWork, inspector.PriorityUrgent, "کارمندان مشغول صرف صبحانه"},         // 7
		{"TK-SSO-01", inspector.CategoryClientCrowding, inspector.PriorityHigh, "ازدحام جمعیت جلوی در"},         // 8
		{"AB-TAX-01", inspector.CategoryAbsentEmployee, inspector.PriorityNormal, "کارشناس مالیاتی غایب است"},   // 9
		{"QZ-SSO-01", inspector.CategoryOther, inspector.PriorityLow, "سیستم قطع است و کسی پاسخگو نیست"},        // 10
		{"QZ-TAX-01", inspector.CategoryClientCrowding, inspector.PriorityUrgent, "مراجعین از صبح منتظرند"},     // 11
		{"TK-SSO-01", inspector.CategoryAbsentEmployee, inspector.PriorityNormal, "کارمند پیشخوان هنوز نیامده"}, // 12
	}
	for i, sp := range specs {
		n := intake(fmt.Sprintf("CALL-%c", 'a'+i), sp.office)
		n.Category, n.Priority, n.Description = sp.category, sp.priority, sp.desc
		c := mustCreateComplaint(t, f.s, n)
		require.Equal(t, uint64(i+1), c.Number)
		f.byNum[c.Number] = c
	}
	assign := func(num uint64, u inspector.User) {
		c, err := f.s.Assign(dispatcher, f.byNum[num].ID, inspector.Routing{InspectorID: u.ID, Mode: u.Mode})
		require.NoError(t, err)
		f.byNum[num] = c
	}
	assign(1, f.ali)
	assign(3, f.ali)
	assign(5, f.sara)
	assign(8, f.ali)
	c, err := f.s.Withdraw(dispatcher, f.byNum[7].ID, "تکراری")
	require.NoError(t, err)
	f.byNum[7] = c
	c, err = f.s.Refer(dispatcher, f.byNum[10].ID, "")
	require.NoError(t, err)
	f.byNum[10] = c
	return f
}

// numbers lists the complaints' numbers in order.
func numbers(cs []inspector.Complaint) []uint64 {
	out := make([]uint64, len(cs))
	for i, c := range cs {
		out[i] = c.Number
	}
	return out
}

// The inspector filter lists what is with the inspector now: a complaint
// assigned to them and then referred to the workplace or withdrawn keeps
// its assignment as history, and is not listed.
func TestInspectorFilterIsWhatTheInspectorHoldsNow(t *testing.T) {
	f := newListFixture(t)
	ali := func() []uint64 {
		t.Helper()
		items, _, err := f.s.ListComplaints(ComplaintFilter{InspectorID: f.ali.ID})
		require.NoError(t, err)
		return numbers(items)
	}
	require.Equal(t, []uint64{8, 3, 1}, ali())
	_, err := f.s.Refer(dispatcher, f.byNum[8].ID, "")
	require.NoError(t, err)
	_, err = f.s.Withdraw(dispatcher, f.byNum[3].ID, "تکراری")
	require.NoError(t, err)
	_, err = f.s.Assign(dispatcher, f.byNum[5].ID, inspector.Routing{InspectorID: f.ali.ID, Mode: inspector.ModeField})
	require.NoError(t, err)
	assert.Equal(t, []uint64{5, 1}, ali())
	f.clock.Advance(time.Minute)
	_, err = f.s.Assign(dispatcher, f.byNum[8].ID, inspector.Routing{InspectorID: f.ali.ID, Mode: inspector.ModeField})
	require.NoError(t, err)
	assert.Equal(t, []uint64{8, 5, 1}, ali(), "routed back from the workplace to ali")
}

func TestListComplaintsFilters(t *testing.T) {
	f := newListFixture(t)
	// Urgent complaints are due 50 minutes after t0; two hours on, the open
	// urgent ones are overdue, the withdrawn one (7) is not.
	f.clock.Advance(2 * time.Hour)

	tests := []struct {
		name   string
		filter ComplaintFilter
		want   []uint64
	}{
		{"all, newest first", ComplaintFilter{}, []uint64{12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1}},
		{"status assigned", ComplaintFilter{Status: []inspector.Status{inspector.StatusAssigned}}, []uint64{8, 5, 3, 1}},
		{"status received or withdrawn", ComplaintFilter{Status: []inspector.Status{inspector.StatusReceived, inspector.StatusWithdrawn}}, []uint64{12, 11, 9, 7, 6, 4, 2}},
		{"status nobody has", ComplaintFilter{Status: []inspector.Status{inspector.StatusResolved}}, nil},
		{"office", ComplaintFilter{OfficeCode: "QZ-SSO-01"}, []uint64{10, 6, 2, 1}},
		{"office, lower case", ComplaintFilter{OfficeCode: "tk-sso-01"}, []uint64{12, 8, 3}},
		{"agency", ComplaintFilter{AgencyCode: "tax"}, []uint64{11, 9, 7, 5, 4}},
		{"category", ComplaintFilter{Category: inspector.CategoryClientCrowding}, []uint64{11, 8, 2}},
		{"inspector", ComplaintFilter{InspectorID: f.ali.ID}, []uint64{8, 3, 1}},
		{"phone inspector", ComplaintFilter{InspectorID: f.sara.ID}, []uint64{5}},
		{"overdue", ComplaintFilter{Overdue: true}, []uint64{11, 3, 1}},
		{"combined: SSO agency, absent employee", ComplaintFilter{AgencyCode: "SSO", Category: inspector.CategoryAbsentEmployee}, []uint64{12, 6, 1}},
		{"combined: overdue and assigned to ali", ComplaintFilter{Overdue: true, InspectorID: f.ali.ID}, []uint64{3, 1}},
		{"query, Persian text", ComplaintFilter{Query: "مراجعین"}, []uint64{11, 2}},
		{"query, Arabic yeh and kaf typed", ComplaintFilter{Query: "كارمند"}, []uint64{12, 7, 3, 1}},
		{"query, Arabic yeh", ComplaintFilter{Query: "مراجعين"}, []uint64{11, 2}},
		{"query, ZWNJ typed as space", ComplaintFilter{Query: "مي كند"}, []uint64{3}},
		{"query, office name with Arabic letters", ComplaintFilter{Query: "تاكستان"}, []uint64{12, 8, 3}},
		{"query, office name", ComplaintFilter{Query: "مالیاتی آبیک"}, []uint64{9, 5}},
		{"query, office code", ComplaintFilter{Query: "ab-tax"}, []uint64{9, 5}},
		{"query, call id", ComplaintFilter{Query: "call-k"}, []uint64{11}},
		{"query, number in ASCII", ComplaintFilter{Query: "11"}, []uint64{11}},
		{"query, number in Persian digits", ComplaintFilter{Query: "۱۱"}, []uint64{11}},
		{"query, number in Arabic-Indic digits", ComplaintFilter{Query: "١٢"}, []uint64{12}},
		{"query, extra spaces", ComplaintFilter{Query: "  صف   طولانی "}, []uint64{2}},
		{"query, no match", ComplaintFilter{Query: "هیچ چیز"}, nil},
		{"query with filter", ComplaintFilter{Query: "كارمند", Status: []inspector.Status{inspector.StatusAssigned}}, []uint64{3, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			items, next, err := f.s.ListComplaints(tt.filter)
			require.NoError(t, err)
			assert.Equal(t, tt.want, nilIfEmpty(numbers(items)))
			assert.Empty(t, next, "one page holds everything")
			for _, c := range items {
				assert.Equal(t, f.byNum[c.Number], c)
			}
		})
	}
}

func nilIfEmpty(xs []uint64) []uint64 {
	if len(xs) == 0 {
		return nil
	}
	return xs
}

func TestListComplaintsPagination(t *testing.T) {
	s := mustOpenStore(t)
	seedReference(t, s)
	const total = 23
	for i := range total {
		office := "QZ-SSO-01"
		if i%3 == 0 {
			office = "QZ-TAX-01"
		}
		mustCreateComplaint(t, s, intake(fmt.Sprintf("CALL-%02d", i), office))
	}

	walk := func(t *testing.T, f ComplaintFilter) (pages [][]uint64) {
		t.Helper()
		for range total + 2 {
			items, next, err := s.ListComplaints(f)
			require.NoError(t, err)
			pages = append(pages, numbers(items))
			if next == "" {
				return pages
			}
			assert.Len(t, items, f.Limit, "only the last page is short")
			f.Cursor = next
		}
		t.Fatal("pagination does not end")
		return nil
	}
	flat := func(pages [][]uint64) []uint64 {
		var out []uint64
		for _, p := range pages {
			out = append(out, p...)
		}
		return out
	}
	var everything []uint64
	for n := uint64(total); n >= 1; n-- {
		everything = append(everything, n)
	}

	t.Run("limit 5", func(t *testing.T) {
		pages := walk(t, ComplaintFilter{Limit: 5})
		assert.Equal(t, [][]uint64{
			{23, 22, 21, 20, 19}, {18, 17, 16, 15, 14}, {13, 12, 11, 10, 9}, {8, 7, 6, 5, 4}, {3, 2, 1},
		}, pages)
	})
	t.Run("limit divides the total", func(t *testing.T) {
		s2 := mustOpenStore(t)
		seedReference(t, s2)
		for i := range 6 {
			mustCreateComplaint(t, s2, intake(fmt.Sprintf("C-%d", i), "QZ-SSO-01"))
		}
		items, next, err := s2.ListComplaints(ComplaintFilter{Limit: 3})
		require.NoError(t, err)
		assert.Equal(t, []uint64{6, 5, 4}, numbers(items))
		require.NotEmpty(t, next)
		items, next, err = s2.ListComplaints(ComplaintFilter{Limit: 3, Cursor: next})
		require.NoError(t, err)
		assert.Equal(t, []uint64{3, 2, 1}, numbers(items))
		assert.Empty(t, next, "no cursor to an empty page")
	})
	t.Run("limit 1", func(t *testing.T) {
		assert.Equal(t, everything, flat(walk(t, ComplaintFilter{Limit: 1})))
	})
	t.Run("default limit", func(t *testing.T) {
		items, next, err := s.ListComplaints(ComplaintFilter{})
		require.NoError(t, err)
		assert.Len(t, items, total)
		assert.Empty(t, next)
	})
	t.Run("with a filter", func(t *testing.T) {
		got := flat(walk(t, ComplaintFilter{Limit: 2, OfficeCode: "QZ-TAX-01"}))
		assert.Equal(t, []uint64{22, 19, 16, 13, 10, 7, 4, 1}, got)
	})
	t.Run("new complaints do not disturb a walk", func(t *testing.T) {
		items, next, err := s.ListComplaints(ComplaintFilter{Limit: 10})
		require.NoError(t, err)
		require.Equal(t, everything[:10], numbers(items))
		mustCreateComplaint(t, s, intake("CALL-LATE", "QZ-SSO-01"))
		items, _, err = s.ListComplaints(ComplaintFilter{Limit: 10, Cursor: next})
		require.NoError(t, err)
		assert.Equal(t, everything[10:20], numbers(items), "the next page continues below the cursor")
	})
}

// Walking every page of any filter with any limit yields exactly the items
// of one unlimited listing, in the same order.
func TestListComplaintsPaginationProperty(t *testing.T) {
	f := newListFixture(t)
	f.clock.Advance(2 * time.Hour)
	filters := []ComplaintFilter{
		{},
		{OfficeCode: "QZ-SSO-01"},
		{AgencyCode: "TAX"},
		{Status: []inspector.Status{inspector.StatusReceived}},
		{Overdue: true},
		{Query: "كارمند"},
		{InspectorID: f.ali.ID},
	}
	rapid.Check(t, func(t *rapid.T) {
		filter := rapid.SampledFrom(filters).Draw(t, "filter")
		limit := rapid.IntRange(1, 13).Draw(t, "limit")
		whole := filter
		whole.Limit = 1000
		want, _, err := f.s.ListComplaints(whole)
		require.NoError(t, err)

		var got []inspector.Complaint
		page := filter
		page.Limit = limit
		for i := 0; ; i++ {
			require.Less(t, i, 20, "pagination does not end")
			items, next, err := f.s.ListComplaints(page)
			require.NoError(t, err)
			require.LessOrEqual(t, len(items), limit)
			got = append(got, items...)
			if next == "" {
				break
			}
			require.Len(t, items, limit)
			page.Cursor = next
		}
		require.Equal(t, numbers(want), numbers(got))
	})
}

func TestListComplaintsBadCursor(t *testing.T) {
	s := mustOpenStore(t)
	for _, cursor := range []string{"garbage", "c1.", "c2.0190f0d2", "C1.abc", "c1.ab\x00cd"} {
		_, _, err := s.ListComplaints(ComplaintFilter{Cursor: cursor})
		requireField(t, err, inspector.CodeInvalid, "cursor", "invalid")
	}
}

// TestListComplaintsFindsACallerPhoningBack: the tracking code read out to
// a caller (as they read it back: in groups, in Persian digits) and their
// phone number (with dashes) find their complaint, for a role that sees
// callers; for another they find nothing.
func TestListComplaintsFindsACallerPhoningBack(t *testing.T) {
	f := newListFixture(t)
	n := intake("CALL-PHONING-BACK", "QZ-SSO-01")
	n.Caller.Phone = "0913 555 7788"
	c := mustCreateComplaint(t, f.s, n)
	code := inspector.NormalizeDigits(c.TrackingCode)
	require.Len(t, code, 12)
	persian := strings.NewReplacer("0", "۰", "1", "۱", "2", "۲", "3", "۳", "4", "۴", "5", "۵", "6", "۶", "7", "۷", "8", "۸", "9", "۹")
	spaced := persian.Replace(code[:4] + " " + code[4:8] + " " + code[8:])
	// Caller ID gives +98…, dispatch types 0…: either finds the other.
	intl := intake("CALL-PHONING-BACK-2", "QZ-SSO-01")
	intl.Caller.Phone = "+98 912 765 4321"
	c2 := mustCreateComplaint(t, f.s, intl)
	for _, q := range []string{"09127654321", "00989127654321", "+989127654321", "9127654321", "0912 765 4321"} {
		items, _, err := f.s.ListComplaints(ComplaintFilter{Query: q, QueryCaller: true})
		require.NoError(t, err)
		assert.Equal(t, []uint64{c2.Number}, numbers(items), "%q", q)
	}
	for _, q := range []string{code, spaced, "0913-555-7788", "۰۹۱۳۵۵۵۷۷۸۸", "+989135557788", "+98 913 555 7788"} {
		items, _, err := f.s.ListComplaints(ComplaintFilter{Query: q, QueryCaller: true})
		require.NoError(t, err)
		assert.Equal(t, []uint64{c.Number}, numbers(items), "%q", q)
		items, _, err = f.s.ListComplaints(ComplaintFilter{Query: q})
		require.NoError(t, err)
		assert.Empty(t, items, "%q: not for a role that does not see callers", q)
	}
}
