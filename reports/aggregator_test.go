package reports

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/favad/favad/inspector"
	favsync "github.com/favad/favad/sync"
)

const (
	absent   = inspector.CategoryAbsentEmployee
	nonWork  = inspector.CategoryNonWork
	crowding = inspector.CategoryClientCrowding
	other    = inspector.CategoryOther
)

func h(n float64) time.Duration { return time.Duration(n * float64(time.Hour)) }

// scenario is a day's work touching every action of the change log. The
// expected figures in the tests below were worked out by hand from it.
func scenario() *feed {
	f := newFeed()
	f.office("QZ-1", "SSO", "قزوین")
	f.office("QZ-2", "SSO", "قزوین")
	f.office("TH-1", "MUN", "تهران")
	f.other(favsync.KindAgency, "SSO", favsync.ActionCreated, t0)
	f.other(favsync.KindUser, "i-field", favsync.ActionCreated, t0)

	// c1: field visit, finding, substantiated within the hour.
	f.complaint("c1", "QZ-1", absent, inspector.PriorityUrgent, t0, t0.Add(5*time.Minute))
	f.assign("c1", "i-field", inspector.ModeField, t0.Add(10*time.Minute))
	f.visit("v1", "i-field", "QZ-1", []string{"c1"}, ptr(t0.Add(40*time.Minute)), "check_in,complaint_ids,office_code", t0.Add(45*time.Minute))
	f.route("c1", "started", "i-field", inspector.StatusInProgress, t0.Add(46*time.Minute), nil)
	f.finding("f1", "v1", "c1", inspector.Finding{StaffExpected: 10, StaffPresent: 7, ClientsWaiting: 12, NonWork: []string{"تلفن", "چای"},
		Absentees:  []inspector.Absentee{{Name: "الف", Reason: inspector.AbsenceLeave}, {Name: "ب", Reason: inspector.AbsenceUnexcused}, {Name: "پ", Reason: inspector.AbsenceUnexcused}},
		ObservedAt: t0.Add(48 * time.Minute)}, t0.Add(49*time.Minute))
	f.other(favsync.KindEvidence, "e1", favsync.ActionCreated, t0.Add(49*time.Minute))
	f.other(favsync.KindEvidence, "e1", "stored", t0.Add(49*time.Minute))
	f.other(favsync.KindNote, "n1", favsync.ActionCreated, t0.Add(49*time.Minute))
	f.outcome("c1", "i-field", inspector.OutcomeSubstantiated, t0.Add(50*time.Minute), t0.Add(55*time.Minute))
	f.visit("v1", "i-field", "QZ-1", nil, nil, "check_out", t0.Add(56*time.Minute))

	// c2: phone, a call, not substantiated.
	f.complaint("c2", "QZ-1", nonWork, inspector.PriorityNormal, t0.Add(h(1)), t0.Add(h(1)+5*time.Minute))
	f.assign("c2", "i-phone", inspector.ModePhone, t0.Add(h(1)+20*time.Minute))
	f.call("k1", "c2", "i-phone", t0.Add(h(2)), t0.Add(h(2)+time.Minute))
	f.outcome("c2", "i-phone", inspector.OutcomeNotSubstantiated, t0.Add(h(3)), t0.Add(h(3)))

	// c3: referred, acknowledged, answered, closed by dispatch.
	f.complaint("c3", "QZ-2", crowding, inspector.PriorityNormal, t0.Add(h(2)), t0.Add(h(2)+time.Minute))
	f.route("c3", favsync.ActionReferred, "disp", inspector.StatusReferredToWorkplace, t0.Add(h(2.5)),
		map[string]string{"due_at": t0.Add(h(2.5) + 72*time.Hour).UTC().Format(time.RFC3339), "note": "پاسخ دهید"})
	f.route("c3", "referral_acknowledged", "office-user", "", t0.Add(h(3)), map[string]string{"office": "QZ-2"})
	f.route("c3", "referral_answered", "office-user", inspector.StatusReferralAnswered, t0.Add(24*time.Hour), map[string]string{"action": "corrected"})
	f.complaints["c3"].Outcome = &inspector.Outcome{Value: inspector.OutcomeResolvedOnSpot, RecordedAt: t0.Add(25 * time.Hour).UTC()}
	f.route("c3", "closed", "disp", inspector.StatusResolved, t0.Add(25*time.Hour), map[string]string{"outcome": "resolved_on_spot"})

	// c4: field, reassigned, breached, withdrawn.
	f.complaint("c4", "TH-1", absent, inspector.PriorityHigh, t0.Add(h(3)), t0.Add(h(3)+time.Minute))
	f.assign("c4", "i-field", inspector.ModeField, t0.Add(h(3)+10*time.Minute))
	f.assign("c4", "i-field2", inspector.ModeField, t0.Add(h(3)+20*time.Minute))
	f.route("c4", "sla_breached", "system", "", t0.Add(h(4)), map[string]string{"due_at": t0.Add(h(7)).UTC().Format(time.RFC3339), "sla": "complaint", "status": "assigned", "inspector": "i-field2"})
	f.route("c4", favsync.ActionWithdrawn, "disp", inspector.StatusWithdrawn, t0.Add(h(5)), map[string]string{"reason": "تکراری", "previous_inspector": "i-field2"})

	// c5: an outcome after a reassignment goes to review; dispatch overrules
	// (applies it). First action is a check-in on a visit that named it later.
	f.complaint("c5", "TH-1", other, inspector.PriorityLow, t0.Add(h(4)), t0.Add(h(4)+time.Minute))
	f.assign("c5", "i-field", inspector.ModeField, t0.Add(h(4.5)))
	f.visit("v2", "i-field", "TH-1", nil, nil, "office_code", t0.Add(h(4.6)))
	f.visit("v2", "i-field", "TH-1", []string{"c5"}, ptr(t0.Add(h(4)+50*time.Minute)), "check_in,complaint_ids", t0.Add(h(4.9)))
	f.finding("f2", "v2", "c5", inspector.Finding{StaffExpected: 5, StaffPresent: 5, Absentees: []inspector.Absentee{}, NonWork: []string{}, ObservedAt: t0.Add(h(4.95))}, t0.Add(h(4.95)))
	f.assign("c5", "i-field2", inspector.ModeField, t0.Add(h(5)))
	f.other(favsync.KindConflict, "x1", favsync.ActionCreated, t0.Add(h(5.2)))
	f.route("c5", "needs_review", "i-field", inspector.StatusNeedsReview, t0.Add(h(5.2)), map[string]string{"conflict": "x1"})
	f.complaints["c5"].Outcome = &inspector.Outcome{Value: inspector.OutcomeSubstantiated, InspectorID: "i-field", RecordedAt: t0.Add(h(5) + 10*time.Minute).UTC()}
	f.route("c5", "review_overrule", "disp", inspector.StatusResolved, t0.Add(h(6)), map[string]string{"conflict": "x1", "outcome": "substantiated", "inspector": "i-field"})
	f.other(favsync.KindConflict, "x1", "resolved", t0.Add(h(6)))
	f.add(favsync.ChangeView{Change: favsync.Change{Kind: favsync.KindVisit, ID: "v2", Action: favsync.ActionDeleted, Actor: "disp", At: t0.Add(h(7)),
		Data: map[string]string{"inspector": "i-field"}}, Visit: f.visits["v2"]})

	// c6: never routed, its category changed by dispatch, breached.
	f.complaint("c6", "QZ-1", absent, inspector.PriorityNormal, t0.Add(24*time.Hour), t0.Add(24*time.Hour+time.Minute))
	f.complaints["c6"].Category = crowding
	f.route("c6", favsync.ActionUpdated, "disp", "", t0.Add(25*time.Hour), map[string]string{"category": "client_crowding", "conflict": "x9"})
	f.route("c6", "sla_breached", "system", "", t0.Add(48*time.Hour), map[string]string{"sla": "complaint", "status": "received"})

	// c7: a referral left to breach.
	f.complaint("c7", "QZ-2", absent, inspector.PriorityNormal, t0.Add(h(26)), t0.Add(h(26)+time.Minute))
	f.route("c7", favsync.ActionReferred, "disp", inspector.StatusReferredToWorkplace, t0.Add(h(27)),
		map[string]string{"due_at": t0.Add(h(27) + 72*time.Hour).UTC().Format(time.RFC3339)})
	f.route("c7", "sla_breached", "system", "", t0.Add(h(27)+72*time.Hour), map[string]string{"sla": "referral", "status": "referred_to_workplace"})

	// c8: an outcome after a reassignment; dispatch accepts its own state.
	f.complaint("c8", "QZ-1", absent, inspector.PriorityNormal, t0.Add(48*time.Hour), t0.Add(48*time.Hour+time.Minute))
	f.assign("c8", "i-field", inspector.ModeField, t0.Add(48*time.Hour+10*time.Minute))
	f.assign("c8", "i-field2", inspector.ModeField, t0.Add(48*time.Hour+20*time.Minute))
	f.route("c8", "needs_review", "i-field", inspector.StatusNeedsReview, t0.Add(48*time.Hour+30*time.Minute), map[string]string{"conflict": "x2"})
	f.route("c8", "review_accept", "disp", inspector.StatusAssigned, t0.Add(48*time.Hour+40*time.Minute), map[string]string{"conflict": "x2", "inspector": "i-field2"})

	// c9, c10: substantiated at QZ-1 a month and more before.
	for i, back := range []time.Duration{40 * 24 * time.Hour, 35 * 24 * time.Hour} {
		id := []string{"c9", "c10"}[i]
		f.complaint(id, "QZ-1", absent, inspector.PriorityNormal, t0.Add(-back), t0.Add(-back))
		f.assign(id, "i-field", inspector.ModeField, t0.Add(-back+time.Hour))
		f.outcome(id, "i-field", inspector.OutcomeSubstantiated, t0.Add(-back+h(2)), t0.Add(-back+h(2)))
	}
	f.other(favsync.KindOffice, "TH-1", favsync.ActionUpdated, t0.Add(h(8)))
	f.other(favsync.KindSession, "s1", favsync.ActionCreated, t0.Add(h(8)))
	return f
}

var (
	scenarioNow    = t0.Add(10 * 24 * time.Hour)
	scenarioFilter = Filter{From: t0.Add(-24 * time.Hour), To: t0.Add(30 * 24 * time.Hour)}
)

func i64(v int64) *int64 { return &v }

// absence is 1 - present/expected, computed at run time as a report would.
func absence(present, expected int) *float64 {
	r := 1 - float64(present)/float64(expected)
	return &r
}

func TestByAgencyScenario(t *testing.T) {
	a := newAgg(t, scenario().views, scenarioNow)
	rows := a.ByAgency(scenarioFilter)
	require.Len(t, rows, 2)
	sso, mun := rows[0], rows[1]
	assert.Equal(t, "SSO", sso.AgencyCode)
	assert.Equal(t, "MUN", mun.AgencyCode)

	assert.Equal(t, 6, sso.Complaints)
	assert.Equal(t, CategoryCounts{AbsentEmployee: 3, NonWork: 1, ClientCrowding: 2}, sso.ByCategory)
	assert.Equal(t, ChannelCounts{Field: 2, Phone: 1, Referral: 2, Unrouted: 1}, sso.ByChannel)
	assert.Equal(t, OutcomeCounts{Substantiated: 1, NotSubstantiated: 1, ResolvedOnSpot: 1}, sso.Outcomes)
	assert.InDelta(t, 2.0/3, *sso.SubstantiatedRate, 1e-9)
	assert.Equal(t, Durations{Count: 5, Median: i64(1200), P90: i64(3600)}, sso.ToFirstRouting)
	assert.Equal(t, Durations{Count: 2, Median: i64(2400), P90: i64(3600)}, sso.ToFirstAction)
	assert.Equal(t, Durations{Count: 3, Median: i64(7200), P90: i64(82800)}, sso.ToOutcome)
	assert.Equal(t, SLAFigures{Breaches: 2, Due: 6, Within: 3, WithinShare: ptr(0.5)}, sso.SLA)
	assert.Equal(t, ReferralFigures{Referred: 2, Answered: 1, Overdue: 1}, sso.Referrals)
	assert.Equal(t, Attendance{Findings: 1, StaffExpected: 10, StaffPresent: 7, AbsenceRate: absence(7, 10),
		Absentees: AbsenteeCounts{Leave: 1, Unexcused: 2}, NonWorkActivities: 2, ClientsWaitingMedian: i64(12), ClientsWaitingMax: i64(12)}, sso.Attendance)

	assert.Equal(t, 2, mun.Complaints)
	assert.Equal(t, CategoryCounts{AbsentEmployee: 1, Other: 1}, mun.ByCategory)
	assert.Equal(t, ChannelCounts{Field: 2}, mun.ByChannel)
	assert.Equal(t, OutcomeCounts{Substantiated: 1}, mun.Outcomes)
	assert.Equal(t, 1.0, *mun.SubstantiatedRate)
	assert.Equal(t, Durations{Count: 2, Median: i64(600), P90: i64(1800)}, mun.ToFirstRouting)
	assert.Equal(t, Durations{Count: 1, Median: i64(3000), P90: i64(3000)}, mun.ToFirstAction)
	assert.Equal(t, Durations{Count: 1, Median: i64(4200), P90: i64(4200)}, mun.ToOutcome)
	assert.Equal(t, SLAFigures{Breaches: 1, Due: 1, Within: 1, WithinShare: ptr(1.0)}, mun.SLA, "a withdrawn complaint is not measured")
	assert.Equal(t, ReferralFigures{}, mun.Referrals)
	assert.Equal(t, Attendance{Findings: 1, StaffExpected: 5, StaffPresent: 5, AbsenceRate: ptr(0.0), ClientsWaitingMedian: i64(0), ClientsWaitingMax: i64(0)}, mun.Attendance)

	// The caller, the call id never reach a report.
	raw, err := json.Marshal(rows)
	require.NoError(t, err)
	assert.NotContains(t, string(raw), "09120000000")
	assert.NotContains(t, string(raw), "CALL-")
	assert.NotContains(t, string(raw), "شهروند")
}

func TestByAgencyFilters(t *testing.T) {
	a := newAgg(t, scenario().views, scenarioNow)
	f := scenarioFilter
	f.Province = "تهران"
	rows := a.ByAgency(f)
	require.Len(t, rows, 1)
	assert.Equal(t, "MUN", rows[0].AgencyCode)

	f = scenarioFilter
	f.Category = crowding
	rows = a.ByAgency(f)
	require.Len(t, rows, 1)
	assert.Equal(t, 2, rows[0].Complaints, "c3 and c6, whose category dispatch changed")
	assert.Equal(t, 0, rows[0].Attendance.Findings, "the only SSO finding is about an absent_employee complaint")

	f = scenarioFilter
	f.AgencyCode = "sso" // codes compare case-insensitively
	rows = a.ByAgency(f)
	require.Len(t, rows, 1)
	assert.Equal(t, 6, rows[0].Complaints)

	f = scenarioFilter
	f.OfficeCode = "QZ-2"
	rows = a.ByAgency(f)
	require.Len(t, rows, 1)
	assert.Equal(t, 2, rows[0].Complaints)

	f = scenarioFilter
	f.OfficeCode = "NOPE"
	assert.Empty(t, a.ByAgency(f))
	f = scenarioFilter
	f.Province = "کرمان"
	assert.Empty(t, a.ByAgency(f))

	// [From, To) by call time: c1 at t0 is in, c2 at t0+1h is out.
	rows = a.ByAgency(Filter{From: t0, To: t0.Add(time.Hour)})
	require.Len(t, rows, 1)
	assert.Equal(t, 1, rows[0].Complaints)
	assert.Equal(t, 1, rows[0].Attendance.Findings, "f1 was observed at t0+48m")
}

func TestByOfficeScenario(t *testing.T) {
	a := newAgg(t, scenario().views, scenarioNow)
	rows := a.ByOffice(scenarioFilter)
	var codes []string
	for _, r := range rows {
		codes = append(codes, r.OfficeCode)
	}
	assert.Equal(t, []string{"QZ-1", "QZ-2", "TH-1"}, codes, "by complaints, then code")
	assert.Equal(t, 4, rows[0].Complaints)
	assert.Equal(t, "SSO", rows[0].AgencyCode)
	assert.Equal(t, "قزوین", rows[0].Province)
	assert.Equal(t, 1, rows[0].Attendance.Findings)
	assert.Equal(t, ReferralFigures{Referred: 2, Answered: 1, Overdue: 1}, rows[1].Referrals)
	assert.Equal(t, "تهران", rows[2].Province)
}

func TestByInspectorScenario(t *testing.T) {
	a := newAgg(t, scenario().views, scenarioNow)
	rows := a.ByInspector(scenarioFilter)
	require.Len(t, rows, 3)
	assert.Equal(t, InspectorRow{InspectorID: "i-field", Visits: 2, Outcomes: OutcomeCounts{Substantiated: 2},
		AssignmentToOutcome: Durations{Count: 1, Median: i64(2400), P90: i64(2400)}}, rows[0],
		"c5's outcome was recorded after the reassignment: no assignment time of theirs")
	assert.Equal(t, InspectorRow{InspectorID: "i-phone", Calls: 1, Outcomes: OutcomeCounts{NotSubstantiated: 1},
		AssignmentToOutcome: Durations{Count: 1, Median: i64(6000), P90: i64(6000)}}, rows[1])
	assert.Equal(t, InspectorRow{InspectorID: "i-field2", Open: 1}, rows[2], "c8, back with them after review")

	// The open workload is now, whatever the dates; the places filter it.
	rows = a.ByInspector(Filter{From: t0.Add(-time.Hour), To: t0, Province: "قزوین"})
	require.Len(t, rows, 1)
	assert.Equal(t, InspectorRow{InspectorID: "i-field2", Open: 1}, rows[0])
	rows = a.ByInspector(Filter{From: t0.Add(-time.Hour), To: t0, Province: "تهران"})
	assert.Empty(t, rows)
}

func TestRepeatOffendersScenario(t *testing.T) {
	a := newAgg(t, scenario().views, scenarioNow)
	r := a.RepeatOffenders(Filter{To: scenarioNow}, 1, 30*24*time.Hour)
	assert.Equal(t, scenarioNow.Add(-30*24*time.Hour).UTC(), r.From)
	assert.Equal(t, scenarioNow.Add(-60*24*time.Hour).UTC(), r.PreviousFrom)
	assert.Equal(t, []RepeatOffender{
		{OfficeCode: "QZ-1", AgencyCode: "SSO", Province: "قزوین", Complaints: 4, Substantiated: 1, Previous: 2, Change: -1},
		{OfficeCode: "QZ-2", AgencyCode: "SSO", Province: "قزوین", Complaints: 2, Substantiated: 1, Previous: 0, Change: 1},
		{OfficeCode: "TH-1", AgencyCode: "MUN", Province: "تهران", Complaints: 2, Substantiated: 1, Previous: 0, Change: 1},
	}, r.Items)

	// Defaults: 3 in 90 days. QZ-1 has c9, c10, c1.
	r = a.RepeatOffenders(Filter{}, 0, 0)
	assert.Equal(t, DefaultMinSubstantiated, r.MinSubstantiated)
	assert.Equal(t, scenarioNow.UTC(), r.To, "the window ends now")
	require.Len(t, r.Items, 1)
	assert.Equal(t, RepeatOffender{OfficeCode: "QZ-1", AgencyCode: "SSO", Province: "قزوین", Complaints: 6, Substantiated: 3, Change: 3}, r.Items[0])

	r = a.RepeatOffenders(Filter{To: scenarioNow, AgencyCode: "MUN"}, 1, 30*24*time.Hour)
	require.Len(t, r.Items, 1)
	assert.Equal(t, "TH-1", r.Items[0].OfficeCode)
}

func TestTimeSeriesScenario(t *testing.T) {
	a := newAgg(t, scenario().views, scenarioNow)
	day0 := time.Date(2026, 5, 10, 0, 0, 0, 0, inspector.IranTime)
	pts, err := a.TimeSeries(Filter{From: day0, To: day0.AddDate(0, 0, 3)}, ByDay)
	require.NoError(t, err)
	require.Len(t, pts, 3)
	assert.Equal(t, Point{Label: "2026-05-10", Date: "2026-05-10", Jalali: "1405-02-20", Start: day0.UTC(), Complaints: 5,
		ByCategory: CategoryCounts{AbsentEmployee: 2, NonWork: 1, ClientCrowding: 1, Other: 1},
		Outcomes:   OutcomeCounts{Substantiated: 2, NotSubstantiated: 1, ResolvedOnSpot: 1}}, pts[0])
	assert.Equal(t, 2, pts[1].Complaints)
	assert.Equal(t, "1405-02-21", pts[1].Jalali)
	assert.Equal(t, 1, pts[2].Complaints)

	from := inspector.JalaliMonthStart(1405, 1)
	pts, err = a.TimeSeries(Filter{From: from, To: inspector.JalaliMonthStart(1405, 4)}, ByMonth)
	require.NoError(t, err)
	require.Len(t, pts, 3)
	assert.Equal(t, []string{"1405-01", "1405-02", "1405-03"}, []string{pts[0].Label, pts[1].Label, pts[2].Label})
	assert.Equal(t, []int{2, 8, 0}, []int{pts[0].Complaints, pts[1].Complaints, pts[2].Complaints})
	assert.Equal(t, "2026-03-21", pts[0].Date)
	assert.Equal(t, "2026-04-21", pts[1].Date)
	assert.Equal(t, from.UTC(), pts[0].Start)
	assert.Equal(t, OutcomeCounts{Substantiated: 2}, pts[0].Outcomes)

	// A period starting mid-month: its first point is that month.
	pts, err = a.TimeSeries(Filter{From: t0, To: t0.Add(time.Hour)}, ByMonth)
	require.NoError(t, err)
	require.Len(t, pts, 1)
	assert.Equal(t, "1405-02", pts[0].Label)
	assert.Equal(t, 1, pts[0].Complaints)

	_, err = a.TimeSeries(scenarioFilter, "week")
	assert.Error(t, err)
	_, err = a.TimeSeries(Filter{To: t0}, ByDay) // from the year 1: no calendar for it
	assert.Error(t, err)
}

// Every action of the scenario's log is applied in one pass or in batches
// of any size with the same result: the cursor alone says where to resume.
func TestApplyInBatchesIsTheSame(t *testing.T) {
	f := scenario()
	want := newAgg(t, f.views, scenarioNow).ByOffice(scenarioFilter)
	for _, batch := range []int{1, 3, 7} {
		a, err := New(Config{Store: newMemStore(f.views), BatchSize: batch, Now: func() time.Time { return scenarioNow }})
		require.NoError(t, err)
		require.NoError(t, a.CatchUp())
		applied, head := a.Behind()
		assert.Equal(t, head, applied)
		assert.Equal(t, uint64(len(f.views)), applied)
		assert.Equal(t, want, a.ByOffice(scenarioFilter), "batch %d", batch)
	}
	// A change applied twice (a replay below the cursor) changes nothing.
	a := newAgg(t, f.views, scenarioNow)
	a.st.apply(&f.views[len(f.views)/2])
	assert.Equal(t, want, a.ByOffice(scenarioFilter))
}

func TestHasField(t *testing.T) {
	assert.True(t, hasField("check_in,office_code", "check_in"))
	assert.True(t, hasField("office_code, check_in", "check_in"))
	assert.False(t, hasField("check_out", "check_in"))
	assert.False(t, hasField("", "check_in"))
	assert.False(t, strings.Contains("", "x"))
}

// A visit or finding at an office the log never described is counted at
// the office of the change (its complaint's), never under an empty agency.
func TestUnknownVisitOfficeFallsBackToTheComplaints(t *testing.T) {
	f := newFeed()
	f.office("QZ-1", "SSO", "قزوین")
	f.complaint("c1", "QZ-1", absent, inspector.PriorityNormal, t0, t0)
	f.assign("c1", "i-field", inspector.ModeField, t0.Add(time.Minute))
	f.offices["XX-9"] = &inspector.Office{Code: "XX-9"} // never logged
	f.visit("v1", "i-field", "XX-9", []string{"c1"}, ptr(t0.Add(h(1))), "check_in,complaint_ids,office_code", t0.Add(h(1)))
	f.views[len(f.views)-1].Office = f.offices["QZ-1"] // ReadChanges gives the complaint's office
	f.finding("f1", "v1", "c1", inspector.Finding{StaffExpected: 3, StaffPresent: 3, ObservedAt: t0.Add(h(1))}, t0.Add(h(1)))
	f.views[len(f.views)-1].Office = f.offices["QZ-1"]
	a := newAgg(t, f.views, scenarioNow)
	rows := a.ByAgency(scenarioFilter)
	require.Len(t, rows, 1)
	assert.Equal(t, "SSO", rows[0].AgencyCode)
	assert.Equal(t, 1, rows[0].Attendance.Findings)
	ins := a.ByInspector(Filter{From: t0, To: t0.Add(h(2)), Province: "قزوین"})
	require.Len(t, ins, 1)
	assert.Equal(t, 1, ins[0].Visits)
}
