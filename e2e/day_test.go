package e2e_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"image"
	"image/jpeg"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strconv"
	"strings"
	stdsync "sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/xuri/excelize/v2"

	"github.com/favad/favad/inspector"
	"github.com/favad/favad/internal/e2ekit"
	"github.com/favad/favad/internal/testkit"
	"github.com/favad/favad/reports"
	favsync "github.com/favad/favad/sync"
	"github.com/favad/favad/sync/client"
)

// The caller of every complaint in the day: none of it may appear anywhere
// but in dispatch's complaint endpoints.
const (
	callerName  = "فاطمه ذوالفقاری"
	callerPhone = "09127654321"
)

// day is one real server with the feed broker and the report aggregates
// running, as `favad serve` runs them, on a clock the test moves.
type day struct {
	*e2ekit.Server
	t     *testing.T
	clock *testkit.Clock
	store *favsync.Store
	agg   *reports.Aggregator
	ts    *httptest.Server
	users map[string]inspector.User
}

func newDay(t *testing.T) *day {
	t.Helper()
	// Saturday 7 Azar 1405, 09:00 in Iran: a working morning.
	clock := testkit.NewClock(time.Date(2026, 11, 28, 5, 30, 0, 0, time.UTC))
	srv := e2ekit.Start(t, e2ekit.Options{Now: clock.Now, AccessTTL: 200 * time.Hour})
	srv.Seed([]inspector.Agency{
		{Code: "SSO", NameFa: "سازمان تامین اجتماعی"},
		// A name a spreadsheet would run as a formula: exports must neutralise it.
		{Code: "TAX", NameFa: `=HYPERLINK("http://evil.example","مالیات")`},
	}, []inspector.Office{
		{Code: "QZ-SSO-01", AgencyCode: "SSO", NameFa: "شعبه یک تامین اجتماعی قزوین", Province: "قزوین", City: "قزوین", Location: &inspector.Location{Lat: 36.279, Lng: 50.004}},
		{Code: "QZ-SSO-02", AgencyCode: "SSO", NameFa: "شعبه دو تامین اجتماعی قزوین", Province: "قزوین", City: "قزوین"},
		{Code: "QZ-TAX-01", AgencyCode: "TAX", NameFa: "اداره مالیات شمال قزوین", Province: "قزوین", City: "قزوین"},
	})
	return &day{Server: srv, t: t, clock: clock, store: srv.Store, agg: srv.Reports, ts: srv.TS, users: srv.Users}
}

func (d *day) token(username string) string { return d.Token(username) }

type reply = e2ekit.Reply

func (d *day) do(method, path, token string, body any) reply { return d.Do(method, path, token, body) }

func (d *day) json(method, path, token string, body, out any) { d.API(method, path, token, body, out) }

func (d *day) device(username string) *client.Client { return d.Device(username) }

func (d *day) sync(c *client.Client) client.Report { return d.Sync(c) }

// --- the feed, as a dispatcher's board reads it --------------------------------

type feedEvent struct {
	ID   uint64 `json:"id"`
	Type string `json:"type"`
}

// board holds one SSE connection to /v1/feed at a time and records every
// event it gets, reconnecting with Last-Event-ID when told to.
type board struct {
	d      *day
	token  string
	mu     stdsync.Mutex
	events []feedEvent
	raw    bytes.Buffer
	cancel context.CancelFunc
	done   chan struct{}
}

func (b *board) connect(lastID uint64) {
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "GET", b.d.ts.URL+"/v1/feed", nil)
	require.NoError(b.d.t, err)
	req.Header.Set("Authorization", "Bearer "+b.token)
	if lastID > 0 {
		req.Header.Set("Last-Event-ID", strconv.FormatUint(lastID, 10))
	}
	resp, err := b.d.ts.Client().Do(req)
	require.NoError(b.d.t, err)
	require.Equal(b.d.t, http.StatusOK, resp.StatusCode)
	require.Equal(b.d.t, "text/event-stream", strings.Split(resp.Header.Get("Content-Type"), ";")[0])
	b.cancel, b.done = cancel, make(chan struct{})
	go func() {
		defer close(b.done)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		name := ""
		for sc.Scan() {
			line := sc.Text()
			b.mu.Lock()
			b.raw.WriteString(line + "\n")
			b.mu.Unlock()
			switch {
			case strings.HasPrefix(line, "event: "):
				name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: ") && name == "":
				var ev feedEvent
				if json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &ev) == nil {
					b.mu.Lock()
					b.events = append(b.events, ev)
					b.mu.Unlock()
				}
			case line == "":
				name = ""
			}
		}
	}()
}

// reconnect cuts the stream as a lost connection would, and resumes.
func (b *board) reconnect() {
	b.cancel()
	<-b.done
	b.mu.Lock()
	last := uint64(0)
	if n := len(b.events); n > 0 {
		last = b.events[n-1].ID
	}
	b.mu.Unlock()
	b.connect(last)
}

func (b *board) received() []feedEvent {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.events)
}

// --- the day --------------------------------------------------------------------

type complaintJSON struct {
	ID           string `json:"id"`
	Number       uint64 `json:"number"`
	Status       string `json:"status"`
	TrackingCode string `json:"tracking_code"`
	CallID       string `json:"call_id"`
}

// TestADay drives one day of the 128 line end to end and checks that the
// live feed delivered every event exactly once across a reconnect, and that
// the reports and their exports match figures computed here from the same
// day.
func TestADay(t *testing.T) {
	d := newDay(t)
	disp, sup, office := d.token("dispatcher"), d.token("supervisor"), d.token("office")
	start, err := d.store.Stats()
	require.NoError(t, err)
	day0 := d.clock.Now()

	b := &board{d: d, token: disp}
	b.connect(0)
	t.Cleanup(func() { b.cancel(); <-b.done })

	// Intake: six calls, each ten minutes before dispatch enters it.
	type call struct {
		office   string
		category inspector.Category
		priority inspector.Priority
	}
	calls := []call{
		{"QZ-SSO-01", inspector.CategoryAbsentEmployee, inspector.PriorityUrgent}, // C1: field visit, substantiated
		{"QZ-SSO-02", inspector.CategoryClientCrowding, inspector.PriorityHigh},   // C2: field visit, not substantiated
		{"QZ-TAX-01", inspector.CategoryNonWork, inspector.PriorityNormal},        // C3: phone, resolved on the spot
		{"QZ-SSO-01", inspector.CategoryOther, inspector.PriorityNormal},          // C4: referred, answered, closed
		{"QZ-SSO-01", inspector.CategoryAbsentEmployee, inspector.PriorityUrgent}, // C5: referred, never answered
		{"QZ-TAX-01", inspector.CategoryAbsentEmployee, inspector.PriorityNormal}, // C6: left with dispatch
	}
	cs := make([]complaintJSON, len(calls))
	callTime := make([]time.Time, len(calls))
	routedAt := make([]time.Time, len(calls))
	for i, c := range calls {
		d.clock.Advance(time.Minute)
		callTime[i] = d.clock.Now().Add(-10 * time.Minute)
		d.json("POST", "/v1/complaints", disp, map[string]any{"call_id": fmt.Sprintf("CALL-DAY-%d", i+1), "category": c.category,
			"description": "کارمند باجه در محل نیست و مراجعان منتظرند", "call_time": callTime[i].Format(time.RFC3339),
			"caller": map[string]string{"name": callerName, "phone": callerPhone}, "office_code": c.office, "priority": c.priority}, &cs[i])
		require.Len(t, cs[i].TrackingCode, 12)
	}
	route := func(i int, path string, body any) {
		d.clock.Advance(2 * time.Minute)
		routedAt[i] = d.clock.Now()
		d.json("POST", "/v1/complaints/"+cs[i].ID+path, disp, body, nil)
	}
	route(0, "/assign", map[string]string{"inspector_id": d.users["field"].ID, "mode": "field"})
	route(1, "/assign", map[string]string{"inspector_id": d.users["field2"].ID, "mode": "field"})
	route(2, "/assign", map[string]string{"inspector_id": d.users["phone"].ID, "mode": "phone"})
	route(3, "/refer", map[string]string{"note": "به مدیر شعبه"})
	route(4, "/refer", map[string]string{})

	field, field2, phone := d.device("field"), d.device("field2"), d.device("phone")
	for _, dev := range []*client.Client{field, field2, phone} {
		d.sync(dev)
	}
	actionAt := make([]time.Time, len(calls))
	outcomeAt := make([]time.Time, len(calls))

	// C1: the field inspector visits, records attendance and a photo, and concludes.
	d.clock.Advance(15 * time.Minute)
	actionAt[0] = d.clock.Now()
	visit1 := client.NewID()
	_, _, err = field.CheckIn(visit1, "QZ-SSO-01", []string{cs[0].ID}, client.Geo{DeviceTime: d.clock.Now(), Lat: 36.2791, Lng: 50.0041, AccuracyM: 6})
	require.NoError(t, err)
	_, _, err = field.RecordFinding(client.NewID(), client.Finding{VisitID: visit1, ComplaintID: cs[0].ID, StaffExpected: 10, StaffPresent: 7,
		Absentees: []client.Absentee{{Name: "کارمند یک", Reason: "leave"}, {Name: "کارمند دو", Reason: "unexcused"}, {Name: "کارمند سه", Reason: "unexcused"}},
		NonWork:   []string{"تماس تلفنی شخصی"}, ClientsWaiting: 25, DesksOpen: 2, ObservedAt: d.clock.Now()})
	require.NoError(t, err)
	photo := smallJPEG(t)
	photoID := client.NewID()
	_, _, err = field.Enqueue("evidence.create", photoID, 0, map[string]any{"complaint_id": cs[0].ID, "visit_id": visit1, "kind": "photo",
		"content_type": "image/jpeg", "size": len(photo), "sha256": e2ekit.SHA256Hex(photo), "captured_at": d.clock.Now().Format(time.RFC3339)})
	require.NoError(t, err)
	d.sync(field)
	d.TusUpload(d.token("field"), photoID, photo)
	b.reconnect() // the dispatcher's connection drops mid-day and resumes
	d.clock.Advance(5 * time.Minute)
	outcomeAt[0] = d.clock.Now()
	_, _, err = field.RecordOutcome(cs[0].ID, "substantiated", "سه نفر غایب بودند")
	require.NoError(t, err)
	_, _, err = field.CheckOut(visit1, client.Geo{DeviceTime: d.clock.Now(), Lat: 36.2791, Lng: 50.0041, AccuracyM: 6}, "پایان بازدید")
	require.NoError(t, err)
	d.sync(field)

	// C2: the second field inspector finds everyone at work.
	d.clock.Advance(10 * time.Minute)
	actionAt[1] = d.clock.Now()
	visit2 := client.NewID()
	_, _, err = field2.CheckIn(visit2, "QZ-SSO-02", []string{cs[1].ID}, client.Geo{DeviceTime: d.clock.Now(), Lat: 36.265, Lng: 49.988, AccuracyM: 9})
	require.NoError(t, err)
	_, _, err = field2.RecordFinding(client.NewID(), client.Finding{VisitID: visit2, ComplaintID: cs[1].ID, StaffExpected: 5, StaffPresent: 5,
		ClientsWaiting: 8, DesksOpen: 5, ObservedAt: d.clock.Now()})
	require.NoError(t, err)
	d.clock.Advance(4 * time.Minute)
	outcomeAt[1] = d.clock.Now()
	_, _, err = field2.RecordOutcome(cs[1].ID, "not_substantiated", "همه حاضر بودند")
	require.NoError(t, err)
	d.sync(field2)

	// C3: the phone inspector calls the office and the problem is put right.
	d.clock.Advance(6 * time.Minute)
	actionAt[2] = d.clock.Now()
	_, _, err = phone.RecordCall(client.NewID(), client.Call{ComplaintID: cs[2].ID, CalleeName: "مدیر اداره", Number: "028-33000201",
		StartedAt: d.clock.Now(), DurationS: 180, Outcome: "reached"})
	require.NoError(t, err)
	d.clock.Advance(3 * time.Minute)
	outcomeAt[2] = d.clock.Now()
	_, _, err = phone.RecordOutcome(cs[2].ID, "resolved_on_spot", "مدیر کارمند را به باجه برگرداند")
	require.NoError(t, err)
	d.sync(phone)

	// C4: the office answers its referral; dispatch closes it on the answer.
	d.clock.Advance(30 * time.Minute)
	d.json("POST", "/v1/complaints/"+cs[3].ID+"/referral/acknowledge", office, nil, nil)
	d.json("POST", "/v1/complaints/"+cs[3].ID+"/referral/answer", office, map[string]string{"action": "disciplinary", "text": "به کارمند تذکر کتبی داده شد"}, nil)
	d.clock.Advance(5 * time.Minute)
	outcomeAt[3] = d.clock.Now()
	d.json("POST", "/v1/complaints/"+cs[3].ID+"/close", disp, map[string]string{"outcome": "substantiated"}, nil)

	// C5's office never answers, and C6 stays with dispatch: three days on,
	// the SLA watch reports both, once each.
	d.clock.Advance(73 * time.Hour)
	breaches, err := d.store.BreachDue(d.clock.Now(), 100)
	require.NoError(t, err)
	require.Len(t, breaches, 2)
	breached := map[string]string{}
	for _, br := range breaches {
		breached[br.ComplaintID] = br.Kind
	}
	assert.Equal(t, map[string]string{cs[4].ID: "referral", cs[5].ID: "complaint"}, breached)
	again, err := d.store.BreachDue(d.clock.Now().Add(time.Hour), 100)
	require.NoError(t, err)
	assert.Empty(t, again, "once per due time")

	// --- the feed: every event once, in order, across the reconnect ---
	head, err := d.store.Stats()
	require.NoError(t, err)
	var page []feedEvent
	after := start.Seq
	for {
		var p struct {
			Items     []feedEvent `json:"items"`
			NextAfter uint64      `json:"next_after"`
			Head      uint64      `json:"head"`
		}
		d.json("GET", fmt.Sprintf("/v1/feed/changes?after=%d&limit=1000", after), sup, nil, &p)
		page = append(page, p.Items...)
		if p.NextAfter <= after || p.NextAfter >= head.Seq {
			break
		}
		after = p.NextAfter
	}
	require.NotEmpty(t, page)
	require.Eventually(t, func() bool {
		got := b.received()
		return len(got) > 0 && got[len(got)-1].ID >= page[len(page)-1].ID
	}, 10*time.Second, 20*time.Millisecond, "the live feed catches up")
	got := b.received()
	assert.Equal(t, page, got, "the stream delivered exactly the events of the log, each once, in order, across the reconnect")
	types := map[string]int{}
	for _, ev := range got {
		types[ev.Type]++
	}
	for _, want := range []string{"complaint.created", "complaint.routed", "visit.check_in", "visit.check_out", "finding.recorded",
		"call.recorded", "evidence.flagged", "complaint.outcome", "referral.acknowledged", "referral.answered", "complaint.closed", "complaint.sla_breached"} {
		assert.Positive(t, types[want], "the feed shows %s: %v", want, types)
	}
	assert.Equal(t, 6, types["complaint.created"])
	assert.Equal(t, 2, types["complaint.sla_breached"])

	// --- the reports, against figures computed here ---
	require.Eventually(t, func() bool { applied, h := d.agg.Behind(); return applied == h && h >= head.Seq }, 10*time.Second, 10*time.Millisecond)
	period := fmt.Sprintf("from=%s&to=%s", day0.Add(-24*time.Hour).Format(time.RFC3339), d.clock.Now().Add(time.Hour).Format(time.RFC3339))
	var agencies struct {
		Items []reports.AgencyRow `json:"items"`
	}
	d.json("GET", "/v1/reports/agencies?"+period, sup, nil, &agencies)
	rows := map[string]reports.AgencyRow{}
	for _, r := range agencies.Items {
		rows[r.AgencyCode] = r
	}
	require.Len(t, rows, 2)
	secs := func(is []int, to []time.Time) []int64 {
		var out []int64
		for _, i := range is {
			out = append(out, int64(to[i].Sub(callTime[i])/time.Second))
		}
		return out
	}
	sso, tax := rows["SSO"], rows["TAX"]
	assert.Equal(t, 4, sso.Complaints)
	assert.Equal(t, reports.CategoryCounts{AbsentEmployee: 2, ClientCrowding: 1, Other: 1}, sso.ByCategory)
	assert.Equal(t, reports.ChannelCounts{Field: 2, Referral: 2}, sso.ByChannel)
	assert.Equal(t, reports.OutcomeCounts{Substantiated: 2, NotSubstantiated: 1}, sso.Outcomes)
	requireRate(t, 2.0/3, sso.SubstantiatedRate)
	requireDurations(t, secs([]int{0, 1, 3, 4}, routedAt), sso.ToFirstRouting)
	requireDurations(t, secs([]int{0, 1}, actionAt), sso.ToFirstAction)
	requireDurations(t, secs([]int{0, 1, 3}, outcomeAt), sso.ToOutcome)
	assert.Equal(t, 1, sso.SLA.Breaches)
	assert.Equal(t, reports.ReferralFigures{Referred: 2, Answered: 1, Overdue: 1}, sso.Referrals)
	att := sso.Attendance
	assert.Equal(t, 2, att.Findings)
	assert.Equal(t, 15, att.StaffExpected)
	assert.Equal(t, 12, att.StaffPresent)
	requireRate(t, 1-12.0/15, att.AbsenceRate)
	assert.Equal(t, reports.AbsenteeCounts{Leave: 1, Unexcused: 2}, att.Absentees)
	assert.Equal(t, 1, att.NonWorkActivities)
	require.NotNil(t, att.ClientsWaitingMedian)
	assert.Equal(t, int64(8), *att.ClientsWaitingMedian, "nearest rank of [8 25]")
	assert.Equal(t, int64(25), *att.ClientsWaitingMax)

	assert.Equal(t, 2, tax.Complaints)
	assert.Equal(t, reports.ChannelCounts{Phone: 1, Unrouted: 1}, tax.ByChannel)
	assert.Equal(t, reports.OutcomeCounts{ResolvedOnSpot: 1}, tax.Outcomes)
	requireRate(t, 1, tax.SubstantiatedRate)
	requireDurations(t, secs([]int{2}, actionAt), tax.ToFirstAction)
	assert.Equal(t, 1, tax.SLA.Breaches)
	assert.Equal(t, 2, tax.SLA.Due, "C3 concluded, C6 past its due time")
	assert.Equal(t, 1, tax.SLA.Within)

	// Repeat offenders: QZ-SSO-01 has two substantiated complaints (C1, C4).
	var offenders struct {
		Items []reports.RepeatOffender `json:"items"`
	}
	d.json("GET", "/v1/reports/repeat-offenders?min=2&window=30d", sup, nil, &offenders)
	require.Len(t, offenders.Items, 1)
	assert.Equal(t, "QZ-SSO-01", offenders.Items[0].OfficeCode)
	assert.Equal(t, 2, offenders.Items[0].Substantiated)

	var inspectors struct {
		Items []reports.InspectorRow `json:"items"`
	}
	d.json("GET", "/v1/reports/inspectors?"+period, sup, nil, &inspectors)
	byInspector := map[string]reports.InspectorRow{}
	for _, r := range inspectors.Items {
		byInspector[r.InspectorID] = r
	}
	assert.Equal(t, 1, byInspector[d.users["field"].ID].Visits)
	assert.Equal(t, reports.OutcomeCounts{Substantiated: 1}, byInspector[d.users["field"].ID].Outcomes)
	assert.Equal(t, 1, byInspector[d.users["phone"].ID].Calls)
	assert.Equal(t, reports.OutcomeCounts{ResolvedOnSpot: 1}, byInspector[d.users["phone"].ID].Outcomes)
	assert.Zero(t, byInspector[d.users["field2"].ID].Open)

	var series struct {
		Points []reports.Point `json:"points"`
	}
	d.json("GET", "/v1/reports/timeseries?by=month&"+period, sup, nil, &series)
	total := 0
	for _, p := range series.Points {
		total += p.Complaints
	}
	assert.Equal(t, 6, total)
	require.NotEmpty(t, series.Points)
	assert.True(t, strings.HasPrefix(series.Points[0].Label, "1405-"), "Solar Hijri months: %s", series.Points[0].Label)

	// --- exports: CSV with BOM and neutralised formulas; xlsx read back ---
	r := d.do("GET", "/v1/reports/agencies?format=csv&lang=en&"+period, sup, nil)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	require.True(t, bytes.HasPrefix(r.Body, []byte("\uFEFF")), "UTF-8 with a BOM")
	recs, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(r.Body, []byte("\uFEFF")))).ReadAll()
	require.NoError(t, err)
	require.Len(t, recs, 3)
	col := func(name string) int { return slices.Index(recs[0], name) }
	csvRows := map[string][]string{recs[1][0]: recs[1], recs[2][0]: recs[2]}
	assert.Equal(t, "4", csvRows["SSO"][col("Complaints")])
	assert.Equal(t, "'"+`=HYPERLINK("http://evil.example","مالیات")`, csvRows["TAX"][col("Agency")], "a formula is neutralised")
	r = d.do("GET", "/v1/reports/agencies?format=xlsx&"+period, sup, nil)
	require.Equal(t, http.StatusOK, r.Status)
	f, err := excelize.OpenReader(bytes.NewReader(r.Body))
	require.NoError(t, err)
	sheet := f.GetSheetName(0)
	xrows, err := f.GetRows(sheet)
	require.NoError(t, err)
	require.Len(t, xrows, 3)
	for i, row := range xrows[1:] {
		want := rows[row[0]]
		require.NotEmpty(t, want.AgencyCode, "row %d", i)
		cell, err := excelize.CoordinatesToCellName(3, i+2) // the complaints column
		require.NoError(t, err)
		typ, err := f.GetCellType(sheet, cell)
		require.NoError(t, err)
		assert.NotEqual(t, excelize.CellTypeSharedString, typ, "numbers are numbers")
		assert.Equal(t, strconv.Itoa(want.Complaints), row[2])
	}
	view, err := f.GetSheetView(sheet, 0)
	require.NoError(t, err)
	require.NotNil(t, view.RightToLeft)
	assert.True(t, *view.RightToLeft, "a Persian sheet reads right to left")

	// --- tracking: the caller asks with the code dispatch read to them ---
	var tr struct{ Status, Outcome string }
	d.json("GET", "/v1/track/"+cs[0].TrackingCode, "", nil, &tr)
	assert.Equal(t, "resolved", tr.Status)
	assert.Equal(t, "substantiated", tr.Outcome)

	// --- no caller data outside dispatch's complaint endpoints ---
	secrets := []string{callerName, callerPhone, "CALL-DAY-"}
	for _, c := range cs {
		secrets = append(secrets, c.TrackingCode)
	}
	b.mu.Lock()
	stream := b.raw.String()
	b.mu.Unlock()
	scan := func(what, body string) {
		for _, s := range secrets {
			assert.NotContains(t, body, s, "%s shows caller data", what)
		}
	}
	scan("the live feed", stream)
	for _, path := range []string{"/v1/feed/changes?after=0&limit=1000", "/v1/reports/agencies?" + period, "/v1/reports/offices?" + period,
		"/v1/reports/inspectors?" + period, "/v1/reports/repeat-offenders?min=1", "/v1/reports/timeseries?" + period,
		"/v1/reports/offices?format=csv&" + period, "/v1/reports/inspectors?format=csv&" + period} {
		r := d.do("GET", path, sup, nil)
		require.Equal(t, http.StatusOK, r.Status, "%s: %s", path, r.Body)
		scan(path, string(r.Body))
	}
	for _, who := range []string{"field", "phone", "office"} {
		tk := d.token(who)
		for _, path := range []string{"/v1/feed/changes?after=0", "/v1/reports/agencies", "/v1/reports/offices?format=csv", "/v1/complaints/export"} {
			r := d.do("GET", path, tk, nil)
			assert.Equal(t, http.StatusForbidden, r.Status, "%s %s", who, path)
			scan(who+" "+path, string(r.Body))
		}
	}
	r = d.do("GET", "/v1/referrals", office, nil)
	require.Equal(t, http.StatusOK, r.Status)
	scan("the office's referrals", string(r.Body))
	for _, c := range cs {
		r := d.do("GET", "/v1/track/"+c.TrackingCode, "", nil)
		require.Equal(t, http.StatusOK, r.Status)
		for _, s := range []string{callerName, callerPhone, "CALL-DAY-", d.users["field"].DisplayName, d.users["office"].DisplayName, "تذکر کتبی"} {
			assert.NotContains(t, string(r.Body), s, "tracking names no one")
		}
	}
}

func requireRate(t *testing.T, want float64, got *float64) {
	t.Helper()
	require.NotNil(t, got)
	assert.InDelta(t, want, *got, 1e-9)
}

// requireDurations checks a report's median and p90 against values computed
// here by nearest rank.
func requireDurations(t *testing.T, values []int64, got reports.Durations) {
	t.Helper()
	require.Equal(t, len(values), got.Count)
	sort.Slice(values, func(i, j int) bool { return values[i] < values[j] })
	rank := func(p float64) int64 { return values[int(math.Ceil(p*float64(len(values))))-1] }
	require.NotNil(t, got.Median)
	assert.Equal(t, rank(0.5), *got.Median, "median of %v", values)
	assert.Equal(t, rank(0.9), *got.P90, "p90 of %v", values)
}

// smallJPEG is a real, decodable photo.
func smallJPEG(t *testing.T) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 16, 12))
	for i := range img.Pix {
		img.Pix[i] = byte(i * 7)
	}
	var b bytes.Buffer
	require.NoError(t, jpeg.Encode(&b, img, nil))
	return b.Bytes()
}
