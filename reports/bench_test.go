package reports

// Benchmarks of the reports on 1,000,000 generated complaints over one
// Solar Hijri year (1404) across 31 provinces, 10,000 offices and 40
// agencies, fed to the aggregator as the change log would (created,
// assigned or referred, check-ins, calls, findings, outcomes, SLA breaches,
// referral answers). The set is built once, only when a benchmark runs.
// docs/benchmarks.md ("Reports") has the figures.
//
//	go test -run '^$' -bench 'Report|RepeatOffenders|TimeSeries' -benchmem ./reports/
//
// Each query reports scan_ratio: its time over a linear scan computing the
// same answer from every fact without the indexes, timed in the same run;
// the agency reports also report json_ratio: their time over decoding
// 1,000,000 complaint records from JSON, as a store scan would have to
// before computing anything.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	stdsync "sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/favad/favad/inspector"
	favsync "github.com/favad/favad/sync"
)

const (
	benchComplaints = 1_000_000
	benchProvinces  = 31
	benchAgencies   = 40
	benchOffices    = 10_000
)

var (
	benchOnce  stdsync.Once
	benchAgg   *Aggregator
	benchBuilt time.Duration
	// benchYear is Solar Hijri 1404: 2025-03-21 to 2026-03-21, Iran time.
	benchFrom = inspector.JalaliMonthStart(1404, 1)
	benchTo   = inspector.JalaliMonthStart(1405, 1)
	benchNow  = benchTo.Add(24 * time.Hour)
)

// benchAggregator builds the 1M-complaint aggregator once per process.
func benchAggregator(b *testing.B) *Aggregator {
	b.Helper()
	benchOnce.Do(func() {
		start := time.Now()
		benchAgg = benchGenerate()
		benchBuilt = time.Since(start)
	})
	b.Logf("%d complaints, %d findings, %d visits and calls; built in %v",
		len(benchAgg.st.complaints), len(benchAgg.st.findings), len(benchAgg.st.activities), benchBuilt.Round(time.Millisecond))
	return benchAgg
}

// benchGenerate feeds the changes of a year of complaints to a new
// aggregator, in log order, through the same apply a Run uses. Record
// structs and data maps are reused between changes: apply keeps nothing of
// a ChangeView.
func benchGenerate() *Aggregator {
	a, err := New(Config{Store: newMemStore(nil), Now: func() time.Time { return benchNow }})
	if err != nil {
		panic(err)
	}
	st := a.st
	rng := rand.New(rand.NewPCG(1, 1405))
	offices := make([]inspector.Office, benchOffices)
	for i := range offices {
		offices[i] = inspector.Office{Code: fmt.Sprintf("OF-%05d", i), AgencyCode: fmt.Sprintf("AG-%02d", i%benchAgencies),
			Province: fmt.Sprintf("استان %02d", (i/benchAgencies)%benchProvinces)}
	}
	inspectors := make([]string, 2000)
	for i := range inspectors {
		inspectors[i] = fmt.Sprintf("insp-%04d", i)
	}
	var (
		seq     uint64
		c       inspector.Complaint
		visit   inspector.Visit
		finding inspector.Finding
		call    inspector.CallRecord
		data    = map[string]string{}
	)
	year := benchTo.Sub(benchFrom)
	step := year / benchComplaints
	sla := inspector.DefaultSLA()
	emit := func(kind, id, action, actor string, at time.Time, o *inspector.Office, set func(*favsync.ChangeView)) {
		seq++
		cv := favsync.ChangeView{Change: favsync.Change{Seq: seq, Kind: kind, ID: id, Action: action, Actor: actor, At: at, Data: data},
			Office: o}
		if set != nil {
			set(&cv)
		}
		st.apply(&cv)
		clear(data)
	}
	withComplaint := func(cv *favsync.ChangeView) { cv.Complaint, cv.ComplaintID = &c, c.ID }
	for n := range benchComplaints {
		// Complaints cluster on some offices: the square skews toward low numbers.
		u := rng.Float64()
		o := &offices[int(u*u*benchOffices)]
		created := benchFrom.Add(time.Duration(n) * step)
		callTime := created.Add(-time.Duration(rng.IntN(30)) * time.Minute)
		prio := inspector.Priorities[rng.IntN(4)]
		c = inspector.Complaint{ID: fmt.Sprintf("c%07d", n), Number: uint64(n + 1), Category: inspector.Categories[rng.IntN(4)],
			CallTime: callTime, OfficeCode: o.Code, AgencyCode: o.AgencyCode, Priority: prio, DueAt: sla.DueAt(prio, callTime)}
		data["to"], data["office"] = "received", o.Code
		emit(favsync.KindComplaint, c.ID, favsync.ActionCreated, "disp", created, o, withComplaint)
		r := rng.IntN(100)
		if r >= 85 {
			continue // not routed yet
		}
		routed := created.Add(time.Duration(5+rng.IntN(120)) * time.Minute)
		insp := inspectors[rng.IntN(len(inspectors))]
		switch {
		case r < 10: // referred to the workplace
			data["from"], data["to"], data["due_at"] = "received", "referred_to_workplace", routed.Add(72*time.Hour).UTC().Format(time.RFC3339)
			emit(favsync.KindComplaint, c.ID, favsync.ActionReferred, "disp", routed, o, withComplaint)
			if rng.IntN(10) < 6 {
				data["from"], data["to"], data["action"] = "referred_to_workplace", "referral_answered", "corrected"
				emit(favsync.KindComplaint, c.ID, "referral_answered", "office", routed.Add(time.Duration(rng.IntN(96))*time.Hour), o, withComplaint)
			} else {
				data["sla"], data["status"] = "referral", "referred_to_workplace"
				emit(favsync.KindComplaint, c.ID, "sla_breached", "system", routed.Add(72*time.Hour), o, withComplaint)
			}
			continue
		case r < 60: // field
			data["from"], data["to"], data["inspector"], data["mode"] = "received", "assigned", insp, "field"
			emit(favsync.KindComplaint, c.ID, favsync.ActionAssigned, "disp", routed, o, withComplaint)
			if rng.IntN(10) < 7 {
				checkIn := routed.Add(time.Duration(30+rng.IntN(600)) * time.Minute)
				visit = inspector.Visit{ID: "v" + c.ID, InspectorID: insp, OfficeCode: o.Code, ComplaintIDs: []string{c.ID},
					CheckIn: &inspector.GeoStamp{DeviceTime: checkIn}}
				data["fields"] = "check_in,complaint_ids,office_code"
				emit(favsync.KindVisit, visit.ID, favsync.ActionCreated, insp, checkIn.Add(time.Minute), o, func(cv *favsync.ChangeView) { cv.Visit = &visit })
				if rng.IntN(10) < 3 {
					expected := 3 + rng.IntN(20)
					finding = inspector.Finding{ID: "f" + c.ID, VisitID: visit.ID, ComplaintID: c.ID, InspectorID: insp,
						StaffExpected: expected, StaffPresent: expected - rng.IntN(min(expected, 4)), ClientsWaiting: rng.IntN(40),
						Absentees: []inspector.Absentee{{Reason: inspector.AbsenceUnexcused}}, NonWork: []string{"x"}[:rng.IntN(2)],
						ObservedAt: checkIn.Add(10 * time.Minute)}
					emit(favsync.KindFinding, finding.ID, favsync.ActionCreated, insp, checkIn.Add(11*time.Minute), o, func(cv *favsync.ChangeView) {
						cv.Visit, cv.Finding = &visit, &finding
					})
				}
			}
		default: // phone
			data["from"], data["to"], data["inspector"], data["mode"] = "received", "assigned", insp, "phone"
			emit(favsync.KindComplaint, c.ID, favsync.ActionAssigned, "disp", routed, o, withComplaint)
			if rng.IntN(10) < 8 {
				started := routed.Add(time.Duration(10+rng.IntN(300)) * time.Minute)
				call = inspector.CallRecord{ID: "k" + c.ID, ComplaintID: c.ID, InspectorID: insp, StartedAt: started}
				emit(favsync.KindCall, call.ID, favsync.ActionCreated, insp, started.Add(5*time.Minute), o, func(cv *favsync.ChangeView) { cv.Call = &call })
			}
		}
		if rng.IntN(10) == 0 {
			data["sla"], data["status"] = "complaint", "assigned"
			emit(favsync.KindComplaint, c.ID, "sla_breached", "system", c.DueAt, o, withComplaint)
		}
		if rng.IntN(4) < 3 {
			v := []string{"substantiated", "not_substantiated", "resolved_on_spot", "referred_for_discipline"}[rng.IntN(4)]
			done := routed.Add(time.Duration(60+rng.IntN(3000)) * time.Minute)
			data["from"], data["to"], data["outcome"], data["device_time"] = "assigned", string(inspector.OutcomeValue(v).Status()), v, done.UTC().Format(time.RFC3339)
			emit(favsync.KindComplaint, c.ID, "outcome", insp, done.Add(time.Minute), o, withComplaint)
		}
	}
	a.applied.Store(st.cursor)
	return a
}

// benchScanAgencies is the baseline: the same agency report computed by
// reading every complaint and finding fact, with no index.
func benchScanAgencies(s *state, f Filter, now time.Time) []AgencyRow {
	sel := s.resolve(f)
	gr := s.newGrouper(false)
	for i := range s.complaints {
		c := &s.complaints[i]
		if c.CallTime >= sel.from && c.CallTime < sel.to && sel.where(c.Office, c.Agency, c.Province) {
			gr.get(c.Office, c.Agency, c.Province).addComplaint(c, now.Unix())
		}
	}
	for i := range s.findings {
		x := &s.findings[i]
		if x.Observed >= sel.from && x.Observed < sel.to && sel.where(x.Office, x.Agency, x.Province) {
			gr.get(x.Office, x.Agency, x.Province).addFinding(x)
		}
	}
	rows := make([]AgencyRow, 0, len(gr.list))
	for _, g := range gr.list {
		rows = append(rows, AgencyRow{AgencyCode: s.strs.str(g.key), Figures: g.finish()})
	}
	return rows
}

// benchMinTime runs fn rounds times and returns the fastest.
func benchMinTime(rounds int, fn func()) time.Duration {
	best := time.Duration(1<<63 - 1)
	for range rounds {
		start := time.Now()
		fn()
		best = min(best, time.Since(start))
	}
	return best
}

// benchVersus times query and baseline in alternation, 15 rounds each, and
// returns their median times. Load from other processes comes and goes;
// alternating makes it fall on both sides alike.
func benchVersus(query, baseline func()) (q, base time.Duration) {
	const rounds = 15
	qs, bs := make([]time.Duration, rounds), make([]time.Duration, rounds)
	for i := range rounds {
		qs[i] = benchMinTime(1, query)
		bs[i] = benchMinTime(1, baseline)
	}
	slices.Sort(qs)
	slices.Sort(bs)
	return qs[rounds/2], bs[rounds/2]
}

var (
	benchJSONOnce stdsync.Once
	benchJSONTime time.Duration
)

// benchJSONDecode is the time to decode 1,000,000 complaint records from
// JSON as the store holds them (a scan of the store must do this before it
// computes anything): 1,000 distinct records, decoded 1,000 times each.
func benchJSONDecode(b *testing.B) time.Duration {
	b.Helper()
	benchJSONOnce.Do(func() {
		recs := make([][]byte, 1000)
		base := time.Date(2025, 6, 1, 9, 0, 0, 0, time.UTC)
		for i := range recs {
			c := inspector.Complaint{ID: fmt.Sprintf("0196f4e8-8a2b-7c3d-9e4f-%012d", i), Number: uint64(i), CallID: fmt.Sprintf("CALL-%d", i),
				Category: inspector.CategoryAbsentEmployee, Description: "کارمند باجه ۳ از ساعت ۹ در محل کار حاضر نیست و مراجعان در صف هستند",
				CallTime: base, Caller: &inspector.Caller{Name: "شهروند", Phone: "09120000000"}, OfficeCode: "OF-00001", AgencyCode: "AG-01",
				Priority: inspector.PriorityNormal, DueAt: base.Add(24 * time.Hour), Status: inspector.StatusResolved,
				Assignment: &inspector.Assignment{InspectorID: "insp-0001", Mode: inspector.ModeField, AssignedBy: "disp", AssignedAt: base},
				Outcome:    &inspector.Outcome{Value: inspector.OutcomeSubstantiated, Statement: "کارمند غایب بود", InspectorID: "insp-0001", RecordedAt: base, MutationID: "m"},
				CreatedBy:  "disp", CreatedAt: base, UpdatedAt: base, Version: 12}
			recs[i], _ = json.Marshal(c)
		}
		benchJSONTime = benchMinTime(1, func() {
			var c inspector.Complaint
			for range benchComplaints / len(recs) {
				for _, r := range recs {
					c = inspector.Complaint{}
					if err := json.Unmarshal(r, &c); err != nil {
						panic(err)
					}
				}
			}
		})
	})
	return benchJSONTime
}

// benchAgencyReport times ByAgency over [from, to) and reports its ratios.
func benchAgencyReport(b *testing.B, from, to time.Time) {
	a := benchAggregator(b)
	f := Filter{From: from, To: to}
	var rows []AgencyRow
	b.ResetTimer()
	for b.Loop() {
		rows = a.ByAgency(f)
	}
	b.StopTimer()
	q, scan := benchVersus(func() { a.ByAgency(f) }, func() { benchScanAgencies(a.st, f, benchNow) })
	total := 0
	for _, r := range rows {
		total += r.Complaints
	}
	b.ReportMetric(float64(total), "complaints/op")
	b.ReportMetric(float64(len(rows)), "rows/op")
	b.ReportMetric(float64(q.Nanoseconds())/1e6, "median_ms")
	b.ReportMetric(float64(scan.Nanoseconds())/1e6, "scan_ms")
	b.ReportMetric(float64(q)/float64(scan), "scan_ratio")
	js := benchJSONDecode(b)
	b.ReportMetric(float64(js.Nanoseconds())/1e6, "json_decode_ms")
	b.ReportMetric(float64(q)/float64(js), "json_ratio")
}

// BenchmarkAgencyReportMonth is the agency report for one Solar Hijri
// month (Mehr 1404, 30 days). The goal is < 100 ms.
func BenchmarkAgencyReportMonth(b *testing.B) {
	benchAgencyReport(b, inspector.JalaliMonthStart(1404, 7), inspector.JalaliMonthStart(1404, 8))
}

// BenchmarkAgencyReportYear is the agency report for the whole year. The
// goal is < 300 ms.
func BenchmarkAgencyReportYear(b *testing.B) {
	benchAgencyReport(b, benchFrom, benchTo)
}

// BenchmarkOfficeReportMonth is the office report (10,000 rows at most) for one month.
func BenchmarkOfficeReportMonth(b *testing.B) {
	a := benchAggregator(b)
	f := Filter{From: inspector.JalaliMonthStart(1404, 7), To: inspector.JalaliMonthStart(1404, 8)}
	var rows []OfficeRow
	for b.Loop() {
		rows = a.ByOffice(f)
	}
	b.ReportMetric(float64(len(rows)), "rows/op")
}

// BenchmarkRepeatOffenders ranks the offices with at least 3 substantiated
// complaints in the 90 days to the year's end, with the 90 days before.
func BenchmarkRepeatOffenders(b *testing.B) {
	a := benchAggregator(b)
	var r RepeatOffenders
	for b.Loop() {
		r = a.RepeatOffenders(Filter{To: benchTo}, 0, 0)
	}
	b.StopTimer()
	q, scan := benchVersus(func() { a.RepeatOffenders(Filter{To: benchTo}, 0, 0) }, func() {
		end, start := benchTo.Unix(), benchTo.Add(-DefaultWindow).Unix()
		prev := benchTo.Add(-2 * DefaultWindow).Unix()
		n := len(a.st.strs.strs)
		complaints, cur, before := make([]int, n), make([]int, n), make([]int, n)
		for i := range a.st.complaints {
			c := &a.st.complaints[i]
			sub := substantiated(c.Outcome)
			switch {
			case c.CallTime >= start && c.CallTime < end:
				complaints[c.Office]++
				if sub {
					cur[c.Office]++
				}
			case sub && c.CallTime >= prev && c.CallTime < start:
				before[c.Office]++
			}
		}
		var ranked []RepeatOffender
		for office, k := range cur {
			if k >= DefaultMinSubstantiated {
				ranked = append(ranked, RepeatOffender{OfficeCode: a.st.strs.str(uint32(office)), Complaints: complaints[office], Substantiated: k, Previous: before[office]})
			}
		}
		slices.SortFunc(ranked, func(x, y RepeatOffender) int { return y.Substantiated - x.Substantiated })
	})
	b.ReportMetric(float64(len(r.Items)), "offices/op")
	b.ReportMetric(float64(q)/float64(scan), "scan_ratio")
}

// BenchmarkTimeSeriesYear is the year by Solar Hijri month (and by day).
func BenchmarkTimeSeriesYear(b *testing.B) {
	for _, by := range []string{ByMonth, ByDay} {
		b.Run("by="+by, func(b *testing.B) {
			a := benchAggregator(b)
			f := Filter{From: benchFrom, To: benchTo}
			var pts []Point
			for b.Loop() {
				var err error
				if pts, err = a.TimeSeries(f, by); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(pts)), "points/op")
		})
	}
}

// benchPushDevices is the number of devices pushing at once, one per inspector.
const benchPushDevices = 64

// benchNote is a note's text: about 300 bytes, as in sync's BenchmarkPush.
var benchNote = func() string {
	s := ""
	for len(s) < 280 {
		s += "مدیر شعبه حاضر نبود؛ "
	}
	return s
}()

// benchPushRig is a store with 64 inspectors, each with an assigned
// complaint, and their devices' mutation counters.
type benchPushRig struct {
	k    *storeKit
	devs []benchPushDevice
}

type benchPushDevice struct {
	user      inspector.User
	id        string
	complaint string
	seq       uint64
}

func newBenchPushRig(b *testing.B) *benchPushRig {
	b.Helper()
	k := openStoreKit(b, benchPushDevices)
	r := &benchPushRig{k: k}
	for i, u := range k.inspectors {
		c := k.complaint(b, fmt.Sprintf("PUSH-%d", i), &u)
		r.devs = append(r.devs, benchPushDevice{user: u, id: fmt.Sprintf("device-%03d", i), complaint: c.ID})
	}
	return r
}

// notes builds n note.create mutations per device, perPush to a push.
func (r *benchPushRig) notes(total int) [][][]favsync.Mutation {
	at := time.Now().UTC().Truncate(time.Second)
	out := make([][][]favsync.Mutation, len(r.devs))
	for d := range r.devs {
		dev := &r.devs[d]
		n := total / len(r.devs)
		if d < total%len(r.devs) {
			n++
		}
		for range n {
			dev.seq++
			out[d] = append(out[d], []favsync.Mutation{mutation(dev.seq, favsync.MutNoteCreate, uuid.Must(uuid.NewV7()).String(), 0,
				map[string]any{"complaint_id": dev.complaint, "text": benchNote, "written_at": at}, at)})
		}
	}
	return out
}

// push sends the pushes from all devices at once and returns the time it took.
func (r *benchPushRig) push(b *testing.B, pushes [][][]favsync.Mutation) time.Duration {
	var wg stdsync.WaitGroup
	start := time.Now()
	for d := range r.devs {
		wg.Go(func() {
			dev := &r.devs[d]
			for _, muts := range pushes[d] {
				res, _, err := r.k.store.Push(dev.user, dev.id, muts)
				if err != nil {
					b.Error(err)
					return
				}
				for _, x := range res {
					if x.Status != favsync.StatusApplied || x.Replayed {
						b.Errorf("mutation %s: %s %s", x.MutationID, x.Status, x.Message)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	if b.Failed() {
		b.FailNow()
	}
	return time.Since(start)
}

// timedStore counts the time the aggregator spends reading the log.
type timedStore struct {
	*favsync.Store
	busy *atomic.Int64 // nanoseconds in ReadChanges
}

func (t timedStore) ReadChanges(after uint64, limit int) ([]favsync.ChangeView, error) {
	start := time.Now()
	defer func() { t.busy.Add(int64(time.Since(start))) }()
	return t.Store.ReadChanges(after, limit)
}

// tail starts an aggregator's Run on the rig's store and returns a stop
// that waits for it. busy accumulates the time it spends reading.
func (r *benchPushRig) tail(b *testing.B, busy *atomic.Int64) (*Aggregator, func()) {
	a, err := New(Config{Store: timedStore{Store: r.k.store, busy: busy}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	if err := a.CatchUp(); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- a.Run(ctx) }()
	return a, func() {
		cancel()
		if err := <-done; err != nil {
			b.Error(err)
		}
	}
}

// BenchmarkPushWithAggregator has 64 devices push note.create mutations
// (one a push, b.N in all, as sync's BenchmarkPush at 64 devices) to a real
// store, fsync on, without (aggregator=off) and with (aggregator=on) an
// aggregator's Run tailing the same store. Both report mutations/s; "on"
// also reports lag_ms, how long after the last push the aggregator had read
// everything. alternating pushes 2 s without and 2 s with, five rounds
// each way in turn on one store, and reports the median rates and their
// ratio (on ÷ off; the goal is ≥ 0.90, a cost under 10 %). read_busy_% is
// the share of the pushing time the aggregator spent reading the log (in
// ReadChanges), what it takes from the writers at most.
func BenchmarkPushWithAggregator(b *testing.B) {
	for _, on := range []bool{false, true} {
		b.Run(fmt.Sprintf("aggregator=%s", map[bool]string{false: "off", true: "on"}[on]), func(b *testing.B) {
			rig := newBenchPushRig(b)
			pushes := rig.notes(b.N)
			var a *Aggregator
			var busy atomic.Int64
			stop := func() {}
			if on {
				a, stop = rig.tail(b, &busy)
				busy.Store(0) // what the pushes cost it, not the catch-up
			}
			b.ResetTimer()
			elapsed := rig.push(b, pushes)
			b.StopTimer()
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "mutations/s")
			if on {
				b.ReportMetric(100*float64(busy.Load())/float64(elapsed), "read_busy_%")
				pushed := time.Now()
				for {
					applied, head := a.Behind()
					if applied == head {
						break
					}
					time.Sleep(time.Millisecond)
				}
				b.ReportMetric(float64(time.Since(pushed).Microseconds())/1000, "lag_ms")
			}
			stop()
		})
	}
	b.Run("alternating", func(b *testing.B) {
		rig := newBenchPushRig(b)
		const rounds, window = 7, 2 * time.Second
		rate := func() float64 {
			// Pushes in slices of 640 until the window is spent.
			start, n := time.Now(), 0
			for time.Since(start) < window {
				rig.push(b, rig.notes(10*benchPushDevices))
				n += 10 * benchPushDevices
			}
			return float64(n) / time.Since(start).Seconds()
		}
		var off, on []float64
		var onTime, reading time.Duration
		for b.Loop() { // one op is the whole comparison
			off, on = off[:0], on[:0]
			for range rounds {
				off = append(off, rate())
				var busy atomic.Int64
				_, stop := rig.tail(b, &busy)
				busy.Store(0) // not the catch-up
				start := time.Now()
				on = append(on, rate())
				onTime += time.Since(start)
				reading += time.Duration(busy.Load())
				stop()
			}
		}
		slices.Sort(off)
		slices.Sort(on)
		b.ReportMetric(off[rounds/2], "off_mutations/s")
		b.ReportMetric(on[rounds/2], "on_mutations/s")
		b.ReportMetric(on[rounds/2]/off[rounds/2], "ratio")
		b.ReportMetric(100*float64(reading)/float64(onTime), "read_busy_%")
	})
}

// BenchmarkSnapshot writes the 1M-complaint facts to a snapshot file and
// loads them back (decode and re-index), as a shutdown and a start do.
func BenchmarkSnapshot(b *testing.B) {
	a := benchAggregator(b)
	path := filepath.Join(b.TempDir(), "reports.snapshot")
	a.cfg.SnapshotPath = path
	defer func() { a.cfg.SnapshotPath = "" }()
	var save, load time.Duration
	for b.Loop() {
		start := time.Now()
		if err := a.Snapshot(); err != nil {
			b.Fatal(err)
		}
		save += time.Since(start)
		start = time.Now()
		if _, err := loadSnapshot(path); err != nil {
			b.Fatal(err)
		}
		load += time.Since(start)
	}
	st, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(st.Size())/(1<<20), "MiB")
	b.ReportMetric(float64(save.Milliseconds())/float64(b.N), "save_ms")
	b.ReportMetric(float64(load.Milliseconds())/float64(b.N), "load_ms")
}
