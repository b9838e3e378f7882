package server_test

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/favad/favad/inspector"
	"github.com/favad/favad/reports"
	"github.com/favad/favad/server"
	favsync "github.com/favad/favad/sync"
)

// newReportsEnv is an env whose server answers the reports from an
// aggregator over its store. Run is not started: a test calls CatchUp,
// so that what the aggregates hold is decided by the test.
func newReportsEnv(t *testing.T) (*env, *reports.Aggregator) {
	t.Helper()
	var agg *reports.Aggregator
	e := newEnv(t, func(cfg *server.Config) {
		a, err := reports.New(reports.Config{Store: cfg.Store, Now: cfg.Now})
		require.NoError(t, err)
		agg, cfg.Reports = a, a
	})
	return e, agg
}

// reportDay is the scenario's morning: 2026-05-10 09:00 in Iran, 20
// Ordibehesht 1405.
var reportDay = time.Date(2026, 5, 10, 9, 0, 0, 0, inspector.IranTime)

type durationsJSON struct {
	Count  int    `json:"count"`
	Median *int64 `json:"median_s"`
	P90    *int64 `json:"p90_s"`
}

type figuresJSON struct {
	AgencyCode        string         `json:"agency_code"`
	OfficeCode        string         `json:"office_code"`
	Province          string         `json:"province"`
	Complaints        int            `json:"complaints"`
	ByCategory        map[string]int `json:"by_category"`
	ByChannel         map[string]int `json:"by_channel"`
	Outcomes          map[string]int `json:"outcomes"`
	SubstantiatedRate *float64       `json:"substantiated_rate"`
	ToFirstRouting    durationsJSON  `json:"to_first_routing"`
	ToFirstAction     durationsJSON  `json:"to_first_action"`
	ToOutcome         durationsJSON  `json:"to_outcome"`
	SLA               struct {
		Breaches    int      `json:"breaches"`
		Due         int      `json:"due"`
		Within      int      `json:"within"`
		WithinShare *float64 `json:"within_share"`
	} `json:"sla"`
	Referrals  map[string]int `json:"referrals"`
	Attendance struct {
		Findings             int            `json:"findings"`
		StaffExpected        int            `json:"staff_expected"`
		StaffPresent         int            `json:"staff_present"`
		AbsenceRate          *float64       `json:"absence_rate"`
		Absentees            map[string]int `json:"absentees"`
		NonWorkActivities    int            `json:"non_work_activities"`
		ClientsWaitingMedian *int64         `json:"clients_waiting_median"`
		ClientsWaitingMax    *int64         `json:"clients_waiting_max"`
	} `json:"attendance"`
}

type reportJSON[T any] struct {
	From       time.Time `json:"from"`
	To         time.Time `json:"to"`
	AsOfSeq    uint64    `json:"as_of_seq"`
	CatchingUp bool      `json:"catching_up"`
	Items      []T       `json:"items"`
	Points     []T       `json:"points"`
}

// nearestRank is the p-th percentile of sorted values, by the textbook formula.
func nearestRank(sorted []int64, p int) int64 {
	k := (p*len(sorted) + 99) / 100
	return sorted[k-1]
}

func durationsOf(sorted ...int64) durationsJSON {
	m, p := nearestRank(sorted, 50), nearestRank(sorted, 90)
	return durationsJSON{Count: len(sorted), Median: &m, P90: &p}
}

func mins(m int) int64 { return int64(m * 60) }

// reportScenario makes a morning's work through the API: intake at three
// offices of two agencies, a field visit with a finding and an outcome, a
// phone resolution, a referral answered and closed, a referral left to
// breach, a complaint never routed, one left open; then the SLA watch runs
// at T+6h and at T+80h, where the clock stays. Times are minutes from T.
func reportScenario(t *testing.T, e *env) map[string]string {
	t.Helper()
	T := reportDay
	e.clock.Set(T.Add(-15 * time.Minute))
	_, _, err := e.store.PutAgency(systemActor, inspector.Agency{Code: "MUN", NameFa: "شهرداری"})
	require.NoError(t, err)
	_, _, err = e.store.PutOffice(systemActor, inspector.Office{Code: "TH-MUN-01", AgencyCode: "MUN", NameFa: "شهرداری منطقه ۱", Province: "تهران", City: "تهران",
		Hours: inspector.WorkingHours{Opens: "08:00", Closes: "14:00", Days: []string{"sat"}}})
	require.NoError(t, err)
	at := func(m int) { e.clock.Set(T.Add(time.Duration(m) * time.Minute)) }
	disp := func() string { return e.token("dispatcher") } // fresh: the clock moves past a token's 15 minutes
	ids := map[string]string{}
	create := func(name, office, cat, prio string, callMin int) {
		at(callMin + 1)
		body := intake("CALL-R-"+name, T.Add(time.Duration(callMin)*time.Minute))
		body["office_code"], body["category"], body["priority"] = office, cat, prio
		r := e.do(newCall("POST", "/v1/complaints", disp(), body))
		require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
		var c complaintJSON
		r.json(t, &c)
		ids[name] = c.ID
	}
	create("c1", "QZ-SSO-01", "absent_employee", "urgent", -10)
	create("c2", "TK-SSO-01", "non_work_activity", "normal", -5)
	create("c3", "QZ-SSO-01", "client_crowding", "normal", 0)
	create("c4", "TH-MUN-01", "other", "high", 1)
	create("c5", "QZ-SSO-01", "absent_employee", "normal", 2)
	create("c6", "QZ-SSO-01", "client_crowding", "normal", 3)
	version := func(id string) uint64 {
		c, err := e.store.Complaint(id)
		require.NoError(t, err)
		return c.Version
	}
	ok := func(r reply) {
		t.Helper()
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	}

	// c1: the field inspector visits, finds, and substantiates.
	at(5)
	ok(e.do(newCall("POST", "/v1/complaints/"+ids["c1"]+"/assign", disp(), map[string]string{"inspector_id": e.users["field"].ID, "mode": "field"})))
	at(31)
	field := e.login("field", "android-field-01").AccessToken
	visit := v7()
	res := e.push(field,
		mutation(1, "visit.upsert", visit, 0, map[string]any{"office_code": "QZ-SSO-01", "complaint_ids": []string{ids["c1"]},
			"check_in": map[string]any{"device_time": T.Add(20 * time.Minute).Format(time.RFC3339), "lat": 36.279, "lng": 50.004, "accuracy_m": 10}}, T.Add(20*time.Minute)),
		mutation(2, "finding.create", v7(), 0, map[string]any{"visit_id": visit, "complaint_id": ids["c1"], "staff_expected": 8, "staff_present": 5,
			"absentees":         []map[string]string{{"name": "کارمند الف", "reason": "unexcused"}, {"name": "کارمند ب", "reason": "unexcused"}, {"name": "کارمند پ", "reason": "leave"}},
			"non_work_activity": []string{"بازی با تلفن"}, "clients_waiting": 9, "desks_open": 2, "observed_at": T.Add(25 * time.Minute).Format(time.RFC3339)}, T.Add(25*time.Minute)),
		mutation(3, "complaint.outcome", ids["c1"], version(ids["c1"]), map[string]any{"outcome": "substantiated", "statement": "غیبت تایید شد"}, T.Add(30*time.Minute)))
	for _, r := range res.Results {
		require.Equal(t, "applied", r.Status, "%+v", r)
	}

	// c2: the phone inspector calls and does not substantiate.
	at(40)
	ok(e.do(newCall("POST", "/v1/complaints/"+ids["c2"]+"/assign", disp(), map[string]string{"inspector_id": e.users["phone"].ID, "mode": "phone"})))
	at(61)
	phone := e.login("phone", "android-phone-01").AccessToken
	res = e.push(phone,
		mutation(1, "call.create", v7(), 0, map[string]any{"complaint_id": ids["c2"], "callee_name": "مدیر شعبه", "number": "028-35200000",
			"started_at": T.Add(50 * time.Minute).Format(time.RFC3339), "duration_s": 180, "outcome": "reached"}, T.Add(50*time.Minute)),
		mutation(2, "complaint.outcome", ids["c2"], version(ids["c2"]), map[string]any{"outcome": "not_substantiated", "statement": "کارمند در ماموریت بود"}, T.Add(60*time.Minute)))
	for _, r := range res.Results {
		require.Equal(t, "applied", r.Status, "%+v", r)
	}

	// c3: referred, answered by the office, closed by dispatch.
	at(70)
	ok(e.do(newCall("POST", "/v1/complaints/"+ids["c3"]+"/refer", disp(), map[string]string{"note": "رسیدگی شود"})))
	at(80)
	ok(e.do(newCall("POST", "/v1/complaints/"+ids["c3"]+"/referral/answer", e.token("office"), map[string]any{"action": "corrected", "text": "باجه دوم باز شد"})))
	at(90)
	ok(e.do(newCall("POST", "/v1/complaints/"+ids["c3"]+"/close", disp(), map[string]string{"outcome": "resolved_on_spot", "statement": "پاسخ شعبه پذیرفته شد"})))

	// c5: referred and never answered; c6: assigned and left open.
	at(95)
	ok(e.do(newCall("POST", "/v1/complaints/"+ids["c5"]+"/refer", disp(), map[string]string{})))
	at(96)
	ok(e.do(newCall("POST", "/v1/complaints/"+ids["c6"]+"/assign", disp(), map[string]string{"inspector_id": e.users["field2"].ID, "mode": "field"})))

	// The SLA watch: c4 (high, due T+4h01m) at T+6h; c5's referral (due
	// T+95m+72h) and c6 (due T+24h03m) at T+80h.
	at(6 * 60)
	_, err = e.store.BreachDue(e.clock.Now(), 100)
	require.NoError(t, err)
	at(80 * 60)
	_, err = e.store.BreachDue(e.clock.Now(), 100)
	require.NoError(t, err)
	return ids
}

func TestReportsAgenciesAndOffices(t *testing.T) {
	e, agg := newReportsEnv(t)
	reportScenario(t, e)
	sup := e.token("supervisor") // signing in writes to the log too
	require.NoError(t, agg.CatchUp())
	from, to := reportDay.Add(-time.Hour), reportDay.Add(24*time.Hour)
	q := "?from=" + url.QueryEscape(from.Format(time.RFC3339)) + "&to=" + url.QueryEscape(to.Format(time.RFC3339))

	r := e.do(newCall("GET", "/v1/reports/agencies"+q, sup, nil))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	var ag reportJSON[figuresJSON]
	r.json(t, &ag)
	assert.True(t, ag.From.Equal(from))
	assert.True(t, ag.To.Equal(to))
	assert.False(t, ag.CatchingUp)
	st, err := e.store.Stats()
	require.NoError(t, err)
	assert.Equal(t, st.Seq, ag.AsOfSeq)
	require.Len(t, ag.Items, 2)
	sso, mun := ag.Items[0], ag.Items[1]
	assert.Equal(t, "SSO", sso.AgencyCode)
	assert.Equal(t, "MUN", mun.AgencyCode)

	// SSO: c1, c2, c3, c5, c6, worked out from the scenario's clock.
	assert.Equal(t, 5, sso.Complaints)
	assert.Equal(t, map[string]int{"absent_employee": 2, "non_work_activity": 1, "client_crowding": 2, "other": 0}, sso.ByCategory)
	assert.Equal(t, map[string]int{"field": 2, "phone": 1, "referral": 2, "unrouted": 0}, sso.ByChannel)
	assert.Equal(t, map[string]int{"substantiated": 1, "not_substantiated": 1, "resolved_on_spot": 1, "referred_for_discipline": 0}, sso.Outcomes)
	assert.InDelta(t, 2.0/3, *sso.SubstantiatedRate, 1e-9)
	// Call → first routing: c1 5-(-10), c2 40-(-5), c3 70-0, c5 95-2, c6 96-3.
	assert.Equal(t, durationsOf(mins(15), mins(45), mins(70), mins(93), mins(93)), sso.ToFirstRouting)
	// Call → first action: c1's check-in at 20, c2's call at 50.
	assert.Equal(t, durationsOf(mins(30), mins(55)), sso.ToFirstAction)
	// Call → outcome: c1 at 30 (device), c2 at 60 (device), c3 closed at 90.
	assert.Equal(t, durationsOf(mins(40), mins(65), mins(90)), sso.ToOutcome)
	// Measured: the three outcomes (in time) and c5, c6 past due without one.
	assert.Equal(t, 2, sso.SLA.Breaches, "c5's referral and c6")
	assert.Equal(t, 5, sso.SLA.Due)
	assert.Equal(t, 3, sso.SLA.Within)
	assert.InDelta(t, 3.0/5, *sso.SLA.WithinShare, 1e-9)
	assert.Equal(t, map[string]int{"referred": 2, "answered": 1, "overdue": 1}, sso.Referrals)
	assert.Equal(t, 1, sso.Attendance.Findings)
	assert.Equal(t, 8, sso.Attendance.StaffExpected)
	assert.Equal(t, 5, sso.Attendance.StaffPresent)
	assert.InDelta(t, 1-5.0/8, *sso.Attendance.AbsenceRate, 1e-9)
	assert.Equal(t, map[string]int{"leave": 1, "mission": 0, "unexcused": 2, "unknown": 0}, sso.Attendance.Absentees)
	assert.Equal(t, 1, sso.Attendance.NonWorkActivities)
	assert.Equal(t, int64(9), *sso.Attendance.ClientsWaitingMedian)
	assert.Equal(t, int64(9), *sso.Attendance.ClientsWaitingMax)

	// MUN: c4, never routed, breached.
	assert.Equal(t, 1, mun.Complaints)
	assert.Equal(t, map[string]int{"field": 0, "phone": 0, "referral": 0, "unrouted": 1}, mun.ByChannel)
	assert.Nil(t, mun.SubstantiatedRate, "no outcomes: no rate")
	assert.Nil(t, mun.ToFirstRouting.Median)
	assert.Equal(t, 1, mun.SLA.Breaches)
	assert.Equal(t, 1, mun.SLA.Due)
	assert.Equal(t, 0.0, *mun.SLA.WithinShare)
	assert.Zero(t, mun.Attendance.Findings)
	assert.Nil(t, mun.Attendance.AbsenceRate)

	r = e.do(newCall("GET", "/v1/reports/offices"+q, e.token("dispatcher"), nil))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	var of reportJSON[figuresJSON]
	r.json(t, &of)
	var codes []string
	for _, row := range of.Items {
		codes = append(codes, row.OfficeCode)
	}
	assert.Equal(t, []string{"QZ-SSO-01", "TH-MUN-01", "TK-SSO-01"}, codes, "by complaints, then by code")
	assert.Equal(t, 4, of.Items[0].Complaints)
	assert.Equal(t, "SSO", of.Items[0].AgencyCode)
	assert.Equal(t, "قزوین", of.Items[0].Province)
	assert.Equal(t, "تهران", of.Items[1].Province)
	assert.Equal(t, durationsOf(mins(65)), of.Items[2].ToOutcome)

	// Filters: a province (Arabic yeh is folded), an agency, a category.
	r = e.do(newCall("GET", "/v1/reports/agencies"+q+"&province="+url.QueryEscape("قزوين"), sup, nil))
	ag = reportJSON[figuresJSON]{}
	r.json(t, &ag)
	require.Len(t, ag.Items, 1)
	assert.Equal(t, "SSO", ag.Items[0].AgencyCode)
	r = e.do(newCall("GET", "/v1/reports/offices"+q+"&agency=sso&category=client_crowding", e.token("admin"), nil))
	of = reportJSON[figuresJSON]{}
	r.json(t, &of)
	require.Len(t, of.Items, 1)
	assert.Equal(t, 2, of.Items[0].Complaints, "c3 and c6")
	assert.Zero(t, of.Items[0].Attendance.Findings, "the finding is about an absent_employee complaint")

	// No caller, call id or tracking code in any report.
	var tracking []string
	for _, id := range reportIDs(t, e) {
		c, err := e.store.Complaint(id)
		require.NoError(t, err)
		require.NotEmpty(t, c.TrackingCode)
		tracking = append(tracking, c.TrackingCode)
	}
	for _, path := range []string{"/v1/reports/agencies", "/v1/reports/offices", "/v1/reports/inspectors", "/v1/reports/repeat-offenders?min=1&window=30d&to=2026-05-11", "/v1/reports/timeseries?by=month&from=2026-04-21&to=2026-05-20"} {
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		p := path
		if !strings.Contains(path, "to=") {
			p += sep + q[1:]
		}
		body := string(e.do(newCall("GET", p, sup, nil)).body)
		for _, secret := range append([]string{"09121234567", "شهروند نمونه", "CALL-R-"}, tracking...) {
			assert.NotContains(t, body, secret, path)
		}
	}
}

// reportIDs finds the scenario's complaints by call id.
func reportIDs(t *testing.T, e *env) map[string]string {
	t.Helper()
	items, _, err := e.store.ListComplaints(favsync.ComplaintFilter{Limit: 100})
	require.NoError(t, err)
	out := map[string]string{}
	for _, c := range items {
		if name, ok := strings.CutPrefix(c.CallID, "CALL-R-"); ok {
			out[name] = c.ID
		}
	}
	return out
}

func TestReportsInspectorsRepeatOffendersTimeSeries(t *testing.T) {
	e, agg := newReportsEnv(t)
	reportScenario(t, e)
	sup := e.token("supervisor")
	require.NoError(t, agg.CatchUp())

	r := e.do(newCall("GET", "/v1/reports/inspectors?from=2026-05-10&to=2026-05-10", sup, nil))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	var ins reportJSON[struct {
		InspectorID         string         `json:"inspector_id"`
		Open                int            `json:"open"`
		Visits              int            `json:"visits"`
		Calls               int            `json:"calls"`
		Outcomes            map[string]int `json:"outcomes"`
		AssignmentToOutcome durationsJSON  `json:"assignment_to_outcome"`
	}]
	r.json(t, &ins)
	assert.True(t, ins.From.Equal(time.Date(2026, 5, 10, 0, 0, 0, 0, inspector.IranTime)), "a date is its midnight in Iran")
	assert.True(t, ins.To.Equal(time.Date(2026, 5, 11, 0, 0, 0, 0, inspector.IranTime)), "a date as `to` includes that day")
	byID := map[string]int{}
	for i, row := range ins.Items {
		byID[row.InspectorID] = i
	}
	require.Len(t, ins.Items, 3)
	fieldRow, phoneRow, field2Row := ins.Items[byID[e.users["field"].ID]], ins.Items[byID[e.users["phone"].ID]], ins.Items[byID[e.users["field2"].ID]]
	assert.Equal(t, 1, fieldRow.Visits)
	assert.Equal(t, 1, fieldRow.Outcomes["substantiated"])
	assert.Equal(t, durationsOf(mins(25)), fieldRow.AssignmentToOutcome, "assigned at 5, outcome at 30")
	assert.Equal(t, 1, phoneRow.Calls)
	assert.Equal(t, 1, phoneRow.Outcomes["not_substantiated"])
	assert.Equal(t, durationsOf(mins(20)), phoneRow.AssignmentToOutcome, "assigned at 40, outcome at 60")
	assert.Equal(t, 1, field2Row.Open, "c6")
	assert.Zero(t, fieldRow.Open)

	r = e.do(newCall("GET", "/v1/reports/repeat-offenders?min=1&window=30d&to=2026-05-11", e.token("dispatcher"), nil))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	var ro struct {
		From             time.Time `json:"from"`
		To               time.Time `json:"to"`
		PreviousFrom     time.Time `json:"previous_from"`
		MinSubstantiated int       `json:"min_substantiated"`
		WindowS          int64     `json:"window_s"`
		Items            []struct {
			OfficeCode    string `json:"office_code"`
			Complaints    int    `json:"complaints"`
			Substantiated int    `json:"substantiated"`
			Previous      int    `json:"previous"`
			Change        int    `json:"change"`
		} `json:"items"`
	}
	r.json(t, &ro)
	end := time.Date(2026, 5, 12, 0, 0, 0, 0, inspector.IranTime)
	assert.True(t, ro.To.Equal(end))
	assert.True(t, ro.From.Equal(end.Add(-30*24*time.Hour)))
	assert.True(t, ro.PreviousFrom.Equal(end.Add(-60*24*time.Hour)))
	assert.Equal(t, int64(30*24*3600), ro.WindowS)
	require.Len(t, ro.Items, 1, "QZ-SSO-01: c1 substantiated, c3 resolved on the spot; TK-SSO-01's outcome was not")
	assert.Equal(t, "QZ-SSO-01", ro.Items[0].OfficeCode)
	assert.Equal(t, 4, ro.Items[0].Complaints)
	assert.Equal(t, 2, ro.Items[0].Substantiated)
	assert.Equal(t, 2, ro.Items[0].Change)
	r = e.do(newCall("GET", "/v1/reports/repeat-offenders", sup, nil))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	r.json(t, &ro)
	assert.Equal(t, 3, ro.MinSubstantiated)
	assert.Equal(t, int64(90*24*3600), ro.WindowS)
	assert.Empty(t, ro.Items)

	type pointJSON struct {
		Label      string         `json:"label"`
		Date       string         `json:"date"`
		Jalali     string         `json:"jalali"`
		Complaints int            `json:"complaints"`
		ByCategory map[string]int `json:"by_category"`
		Outcomes   map[string]int `json:"outcomes"`
	}
	r = e.do(newCall("GET", "/v1/reports/timeseries?from=2026-05-09&to=2026-05-11", sup, nil))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	var ts reportJSON[pointJSON]
	r.json(t, &ts)
	require.Len(t, ts.Points, 3)
	assert.Equal(t, []string{"2026-05-09", "2026-05-10", "2026-05-11"}, []string{ts.Points[0].Label, ts.Points[1].Label, ts.Points[2].Label})
	assert.Equal(t, "1405-02-20", ts.Points[1].Jalali)
	assert.Equal(t, []int{0, 6, 0}, []int{ts.Points[0].Complaints, ts.Points[1].Complaints, ts.Points[2].Complaints})
	assert.Equal(t, map[string]int{"substantiated": 1, "not_substantiated": 1, "resolved_on_spot": 1, "referred_for_discipline": 0}, ts.Points[1].Outcomes)

	r = e.do(newCall("GET", "/v1/reports/timeseries?by=month&from=2026-03-21&to=2026-06-21", sup, nil))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	ts = reportJSON[pointJSON]{}
	r.json(t, &ts)
	require.Len(t, ts.Points, 3)
	assert.Equal(t, []string{"1405-01", "1405-02", "1405-03"}, []string{ts.Points[0].Label, ts.Points[1].Label, ts.Points[2].Label})
	assert.Equal(t, "2026-04-21", ts.Points[1].Date)
	assert.Equal(t, 6, ts.Points[1].Complaints)
	assert.Equal(t, map[string]int{"absent_employee": 2, "non_work_activity": 1, "client_crowding": 2, "other": 1}, ts.Points[1].ByCategory)
}

var reportPaths = []string{"/v1/reports/agencies", "/v1/reports/offices", "/v1/reports/repeat-offenders", "/v1/reports/inspectors", "/v1/reports/timeseries"}

func TestReportsRefuseInspectorsAndOffices(t *testing.T) {
	e, _ := newReportsEnv(t)
	for _, user := range []string{"field", "phone", "office"} {
		token := e.token(user)
		for _, path := range reportPaths {
			r := e.do(newCall("GET", path, token, nil))
			require.Equal(t, http.StatusForbidden, r.status, "%s %s: %s", user, path, r.body)
			assert.Equal(t, "forbidden", string(r.problem(t).Code))
		}
	}
}

func TestReportsRefuseBadParameters(t *testing.T) {
	e, _ := newReportsEnv(t)
	sup := e.token("supervisor")
	for _, tc := range []struct {
		path, field, code string
	}{
		{"/v1/reports/agencies?from=yesterday", "from", "invalid"},
		{"/v1/reports/offices?to=2026-13-01", "to", "invalid"},
		{"/v1/reports/agencies?from=2026-05-10&to=2026-05-01", "to", "before_from"},
		{"/v1/reports/inspectors?from=2023-01-01&to=2026-01-01", "to", "range_too_long"},
		{"/v1/reports/agencies?category=bribery", "category", "invalid"},
		{"/v1/reports/timeseries?from=0001-01-01", "from", "out_of_range"},
		{"/v1/reports/timeseries?from=0001-01-01&to=0001-06-01", "from", "out_of_range"},
		{"/v1/reports/repeat-offenders?to=9999-01-01", "to", "out_of_range"},
		{"/v1/reports/timeseries?by=week", "by", "invalid"},
		{"/v1/reports/repeat-offenders?window=ninety", "window", "invalid"},
		{"/v1/reports/repeat-offenders?window=800d", "window", "invalid"},
		{"/v1/reports/repeat-offenders?window=-5h", "window", "invalid"},
		{"/v1/reports/repeat-offenders?min=0", "min", "out_of_range"},
		{"/v1/reports/repeat-offenders?min=many", "min", "out_of_range"},
	} {
		r := e.do(call{method: "GET", path: tc.path, token: sup, invalidRequest: true})
		require.Equal(t, http.StatusUnprocessableEntity, r.status, "%s: %s", tc.path, r.body)
		p := r.problem(t)
		assert.Equal(t, "invalid", string(p.Code), tc.path)
		require.NotEmpty(t, p.Errors, tc.path)
		assert.Equal(t, tc.field, p.Errors[0].Field, tc.path)
		assert.Equal(t, tc.code, p.Errors[0].Code, tc.path)
	}
	// Accepted: Persian digits, a Go duration, a window in days, an RFC 3339 time.
	for _, path := range []string{
		"/v1/reports/agencies?from=" + url.QueryEscape("۲۰۲۶-۰۵-۰۱") + "&to=2026-05-10",
		"/v1/reports/repeat-offenders?window=720h&min=2",
		"/v1/reports/repeat-offenders?window=731d",
		"/v1/reports/timeseries?by=month&to=" + url.QueryEscape("2026-05-10T12:00:00+03:30"),
	} {
		r := e.do(newCall("GET", path, sup, nil))
		assert.Equal(t, http.StatusOK, r.status, "%s: %s", path, r.body)
	}
}

// TestReportDatesNameEveryFieldAtFault: from and to are checked each on its
// own, so a supervisor who sends two Solar Hijri years as times is told of
// both, with a hint; a bad to does not hide a bad from; a Solar Hijri date
// that does not exist (month 13, Azar 31) is invalid.
func TestReportDatesNameEveryFieldAtFault(t *testing.T) {
	e := newEnv(t)
	sup := e.token("supervisor")
	for _, tc := range []struct {
		path  string
		codes map[string]string
	}{
		{"/v1/reports/agencies?from=1405-09-01T00:00:00Z&to=1405-09-14T00:00:00Z", map[string]string{"from": "out_of_range", "to": "out_of_range"}},
		{"/v1/reports/agencies?from=1405-09-01T00:00:00Z&to=garbage", map[string]string{"from": "out_of_range", "to": "invalid"}},
		{"/v1/reports/agencies?from=garbage&to=1405-09-14T00:00:00Z", map[string]string{"from": "invalid", "to": "out_of_range"}},
		{"/v1/reports/agencies?from=1405/13/01&to=1405/09/31", map[string]string{"from": "invalid", "to": "invalid"}},
	} {
		r := e.do(call{method: "GET", path: tc.path, token: sup, invalidRequest: true})
		require.Equal(t, http.StatusUnprocessableEntity, r.status, "%s: %s", tc.path, r.body)
		got := map[string]string{}
		for _, fe := range r.problem(t).Errors {
			got[fe.Field] = fe.Code
			if fe.Code == "out_of_range" {
				assert.Contains(t, fe.Message, "Solar Hijri", tc.path)
			}
		}
		assert.Equal(t, tc.codes, got, tc.path)
	}
}

// Without the aggregates the routes answer 503 unavailable (after the role check).
func TestReportsUnavailableWithoutAggregates(t *testing.T) {
	e := newEnv(t)
	sup := e.token("supervisor")
	for _, path := range reportPaths {
		r := e.do(newCall("GET", path, sup, nil))
		require.Equal(t, http.StatusServiceUnavailable, r.status, "%s: %s", path, r.body)
		assert.Equal(t, "unavailable", string(r.problem(t).Code))
	}
	r := e.do(newCall("GET", "/v1/reports/agencies", e.token("field"), nil))
	assert.Equal(t, http.StatusForbidden, r.status)
}

// An answer says how far the aggregates have read, and whether they are
// behind the log.
func TestReportsSayWhenCatchingUp(t *testing.T) {
	e, agg := newReportsEnv(t)
	sup := e.token("supervisor")
	require.NoError(t, agg.CatchUp())
	r := e.do(newCall("GET", "/v1/reports/agencies", sup, nil))
	var ag reportJSON[figuresJSON]
	r.json(t, &ag)
	assert.False(t, ag.CatchingUp)
	assert.Empty(t, ag.Items)
	seen := ag.AsOfSeq

	disp := e.token("dispatcher")
	for i := range 3 {
		r := e.do(newCall("POST", "/v1/complaints", disp, intake(fmt.Sprintf("CALL-CU-%d", i), e.clock.Now().Add(-time.Hour))))
		require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
	}
	r = e.do(newCall("GET", "/v1/reports/agencies", sup, nil))
	ag = reportJSON[figuresJSON]{}
	r.json(t, &ag)
	assert.True(t, ag.CatchingUp)
	assert.Equal(t, seen, ag.AsOfSeq)
	assert.Empty(t, ag.Items, "not read yet")

	require.NoError(t, agg.CatchUp())
	r = e.do(newCall("GET", "/v1/reports/agencies", sup, nil))
	ag = reportJSON[figuresJSON]{}
	r.json(t, &ag)
	assert.False(t, ag.CatchingUp)
	assert.Greater(t, ag.AsOfSeq, seen)
	require.Len(t, ag.Items, 1)
	assert.Equal(t, 3, ag.Items[0].Complaints)
	assert.True(t, ag.To.Equal(e.clock.Now()), "the default period ends now")
	assert.True(t, ag.From.Equal(e.clock.Now().Add(-30*24*time.Hour)), "and starts 30 days before")
}

// TestReportsTakeSolarHijriDates: a date whose year is from 1300 to 1499 is
// Solar Hijri, with - or / and Persian digits: the same period as its
// Gregorian dates.
func TestReportsTakeSolarHijriDates(t *testing.T) {
	e, _ := newReportsEnv(t)
	sup := e.token("supervisor")
	period := func(query string) (from, to time.Time) {
		t.Helper()
		r := e.do(call{method: "GET", path: "/v1/reports/agencies?" + query, token: sup})
		require.Equal(t, http.StatusOK, r.status, "%s: %s", query, r.body)
		var ans struct {
			From time.Time `json:"from"`
			To   time.Time `json:"to"`
		}
		r.json(t, &ans)
		return ans.From, ans.To
	}
	wantFrom, wantTo := period("from=2026-11-22&to=2026-12-05")
	for _, q := range []string{"from=1405-09-01&to=1405-09-14", "from=1405/09/01&to=1405/09/14",
		"from=" + url.QueryEscape("۱۴۰۵/۰۹/۰۱") + "&to=" + url.QueryEscape("۱۴۰۵/۰۹/۱۴")} {
		from, to := period(q)
		assert.True(t, from.Equal(wantFrom) && to.Equal(wantTo), "%s: %s to %s, want %s to %s", q, from, to, wantFrom, wantTo)
	}
}

// TestReportExportsReadInTheirLanguage: an agencies export has no two
// columns of one heading in Persian (the first routing and all referrals
// were both «ارجاع به دستگاه»), and in English names the agencies in English.
func TestReportExportsReadInTheirLanguage(t *testing.T) {
	e, agg := newReportsEnv(t)
	reportScenario(t, e)
	sup := e.token("supervisor")
	require.NoError(t, agg.CatchUp())
	q := "&from=" + url.QueryEscape(reportDay.Add(-time.Hour).Format(time.RFC3339)) + "&to=" + url.QueryEscape(reportDay.Add(24*time.Hour).Format(time.RFC3339))
	read := func(lang string) [][]string {
		r := e.do(newCall("GET", "/v1/reports/agencies?format=csv&lang="+lang+q, sup, nil))
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		records, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(r.body, []byte("\uFEFF")))).ReadAll()
		require.NoError(t, err)
		require.Greater(t, len(records), 1)
		return records
	}
	for _, lang := range []string{"fa", "en"} {
		seen := map[string]bool{}
		for _, h := range read(lang)[0] {
			assert.False(t, seen[h], "%s: the heading %q twice", lang, h)
			seen[h] = true
		}
	}
	en := read("en")
	var names []string
	for _, row := range en[1:] {
		names = append(names, strings.Join(row, "|"))
	}
	assert.Contains(t, strings.Join(names, "\n"), "Social Security Organization")
	assert.NotContains(t, strings.Join(names, "\n"), "سازمان تامین اجتماعی")
}
