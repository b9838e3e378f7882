package reports

import (
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/favad/favad/inspector"
)

// truth is what the test knows of one generated complaint, kept apart from
// the aggregator's facts.
type truth struct {
	office, agency        string
	category              inspector.Category
	call, due             time.Time
	routed                time.Duration // after the call; 0: never
	field                 bool
	acted                 time.Duration // first check-in after the call; 0: never
	outcome               inspector.OutcomeValue
	outcomeAfter          time.Duration
	withdrawn             bool
	expected, present, wt int // a finding, when expected > 0
}

var propOffices = [][2]string{{"A-1", "A"}, {"A-2", "A"}, {"B-1", "B"}, {"C-1", "C"}}

// nearestRank is the p-th percentile by the textbook formula, on a sorted copy.
func nearestRank(v []int64, p float64) int64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[int(math.Ceil(p/100*float64(len(s))))-1]
}

func wantDurations(v []int64) Durations {
	if len(v) == 0 {
		return Durations{}
	}
	return Durations{Count: len(v), Median: i64(nearestRank(v, 50)), P90: i64(nearestRank(v, 90))}
}

// TestByAgencyMatchesIndependentCount generates random complaints and
// compares the agency report with figures computed here, directly from
// what was generated.
func TestByAgencyMatchesIndependentCount(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		f := newFeed()
		for _, o := range propOffices {
			f.office(o[0], o[1], "قزوین")
		}
		start := time.Date(2026, 1, 1, 0, 0, 0, 0, inspector.IranTime)
		n := rapid.IntRange(0, 60).Draw(rt, "n")
		var all []truth
		for i := range n {
			o := propOffices[rapid.IntRange(0, len(propOffices)-1).Draw(rt, "office")]
			tr := truth{office: o[0], agency: o[1],
				category: inspector.Categories[rapid.IntRange(0, 3).Draw(rt, "cat")],
				call:     start.Add(time.Duration(rapid.IntRange(0, 60*24).Draw(rt, "callMin")) * time.Minute)}
			prio := inspector.Priorities[rapid.IntRange(0, 3).Draw(rt, "prio")]
			tr.due = inspector.DefaultSLA().DueAt(prio, tr.call)
			id := fmt.Sprintf("c%d", i)
			f.complaint(id, tr.office, tr.category, prio, tr.call, tr.call.Add(time.Minute))
			insp := "insp"
			if rapid.Bool().Draw(rt, "routed") {
				tr.routed = time.Duration(rapid.IntRange(2, 600).Draw(rt, "routeMin")) * time.Minute
				tr.field = rapid.Bool().Draw(rt, "field")
				mode := inspector.ModePhone
				if tr.field {
					mode = inspector.ModeField
				}
				f.assign(id, insp, mode, tr.call.Add(tr.routed))
				if tr.field && rapid.Bool().Draw(rt, "visit") {
					tr.acted = tr.routed + time.Duration(rapid.IntRange(0, 600).Draw(rt, "actMin"))*time.Minute
					f.visit("v"+id, insp, tr.office, []string{id}, ptr(tr.call.Add(tr.acted)), "check_in,complaint_ids,office_code", tr.call.Add(tr.acted+time.Minute))
					if rapid.Bool().Draw(rt, "finding") {
						tr.expected = rapid.IntRange(1, 20).Draw(rt, "expected")
						tr.present = rapid.IntRange(0, tr.expected).Draw(rt, "present")
						tr.wt = rapid.IntRange(0, 30).Draw(rt, "waiting")
						f.finding("f"+id, "v"+id, id, inspector.Finding{StaffExpected: tr.expected, StaffPresent: tr.present, ClientsWaiting: tr.wt,
							ObservedAt: tr.call.Add(tr.acted + time.Minute)}, tr.call.Add(tr.acted+2*time.Minute))
					}
				}
				switch rapid.IntRange(0, 2).Draw(rt, "end") {
				case 1:
					tr.outcome = []inspector.OutcomeValue{inspector.OutcomeSubstantiated, inspector.OutcomeNotSubstantiated,
						inspector.OutcomeResolvedOnSpot, inspector.OutcomeDiscipline}[rapid.IntRange(0, 3).Draw(rt, "outcome")]
					tr.outcomeAfter = max(tr.routed, tr.acted) + time.Duration(rapid.IntRange(1, 3000).Draw(rt, "outMin"))*time.Minute
					f.outcome(id, insp, tr.outcome, tr.call.Add(tr.outcomeAfter), tr.call.Add(tr.outcomeAfter+time.Minute))
				case 2:
					tr.withdrawn = true
					f.route(id, "withdrawn", "disp", inspector.StatusWithdrawn, tr.call.Add(tr.routed+time.Minute), map[string]string{"reason": "x"})
				}
			}
			all = append(all, tr)
		}
		now := start.Add(5 * 24 * time.Hour)
		from := start.Add(time.Duration(rapid.IntRange(0, 30*24).Draw(rt, "fromMin")) * time.Minute)
		to := from.Add(time.Duration(rapid.IntRange(1, 40*24).Draw(rt, "lenMin")) * time.Minute)
		a := newAgg(rt, f.views, now)
		got := a.ByAgency(Filter{From: from, To: to})

		want := map[string]*Figures{}
		durs := map[string]*[3][]int64{}
		waits := map[string][]int64{}
		subst := map[string]int{}
		for _, tr := range all {
			if tr.call.Before(from) || !tr.call.Before(to) {
				continue
			}
			w := want[tr.agency]
			if w == nil {
				w, durs[tr.agency] = &Figures{}, &[3][]int64{}
				want[tr.agency] = w
			}
			d := durs[tr.agency]
			w.Complaints++
			w.ByCategory.add(categoryCode(tr.category))
			switch {
			case tr.routed == 0:
				w.ByChannel.Unrouted++
			case tr.field:
				w.ByChannel.Field++
			default:
				w.ByChannel.Phone++
			}
			if tr.routed > 0 {
				d[0] = append(d[0], int64(tr.routed/time.Second))
			}
			if tr.acted > 0 {
				d[1] = append(d[1], int64(tr.acted/time.Second))
			}
			if tr.outcome != "" {
				w.Outcomes.add(outcomeCode(string(tr.outcome)))
				d[2] = append(d[2], int64(tr.outcomeAfter/time.Second))
				if tr.outcome != inspector.OutcomeNotSubstantiated {
					subst[tr.agency]++
				}
			}
			if !tr.withdrawn && (tr.outcome != "" || !now.Before(tr.due)) {
				w.SLA.Due++
				if tr.outcome != "" && !tr.call.Add(tr.outcomeAfter).After(tr.due) {
					w.SLA.Within++
				}
			}
			// The finding was observed a minute after the check-in; it counts
			// when that falls in the period.
			if obs := tr.call.Add(tr.acted + time.Minute); tr.expected > 0 && !obs.Before(from) && obs.Before(to) {
				w.Attendance.Findings++
				w.Attendance.StaffExpected += tr.expected
				w.Attendance.StaffPresent += tr.present
				waits[tr.agency] = append(waits[tr.agency], int64(tr.wt))
			}
		}
		// Findings observed in the period whose complaint was called before it.
		for _, tr := range all {
			obs := tr.call.Add(tr.acted + time.Minute)
			if tr.expected == 0 || obs.Before(from) || !obs.Before(to) || !tr.call.Before(from) {
				continue
			}
			w := want[tr.agency]
			if w == nil {
				w, durs[tr.agency] = &Figures{}, &[3][]int64{}
				want[tr.agency] = w
			}
			w.Attendance.Findings++
			w.Attendance.StaffExpected += tr.expected
			w.Attendance.StaffPresent += tr.present
			waits[tr.agency] = append(waits[tr.agency], int64(tr.wt))
		}
		if len(got) != len(want) {
			rt.Fatalf("%d rows, want %d", len(got), len(want))
		}
		for i, row := range got {
			if i > 0 && (got[i-1].Complaints < row.Complaints || (got[i-1].Complaints == row.Complaints && got[i-1].AgencyCode > row.AgencyCode)) {
				rt.Fatalf("rows out of order: %s before %s", got[i-1].AgencyCode, row.AgencyCode)
			}
			w := want[row.AgencyCode]
			if w == nil {
				rt.Fatalf("unexpected agency %s", row.AgencyCode)
			}
			d := durs[row.AgencyCode]
			check := func(name string, got, want any) {
				if fmt.Sprint(got) != fmt.Sprint(want) {
					rt.Fatalf("%s %s: got %v, want %v", row.AgencyCode, name, got, want)
				}
			}
			check("complaints", row.Complaints, w.Complaints)
			check("categories", row.ByCategory, w.ByCategory)
			check("channels", row.ByChannel, w.ByChannel)
			check("outcomes", row.Outcomes, w.Outcomes)
			check("to routing", show(row.ToFirstRouting), show(wantDurations(d[0])))
			check("to action", show(row.ToFirstAction), show(wantDurations(d[1])))
			check("to outcome", show(row.ToOutcome), show(wantDurations(d[2])))
			check("sla due", row.SLA.Due, w.SLA.Due)
			check("sla within", row.SLA.Within, w.SLA.Within)
			if n := w.Outcomes.Total(); n > 0 {
				check("substantiated rate", *row.SubstantiatedRate, float64(subst[row.AgencyCode])/float64(n))
			} else if row.SubstantiatedRate != nil {
				rt.Fatalf("%s: a rate without outcomes", row.AgencyCode)
			}
			check("findings", row.Attendance.Findings, w.Attendance.Findings)
			check("expected", row.Attendance.StaffExpected, w.Attendance.StaffExpected)
			check("present", row.Attendance.StaffPresent, w.Attendance.StaffPresent)
			if ws := waits[row.AgencyCode]; len(ws) > 0 {
				check("waiting median", *row.Attendance.ClientsWaitingMedian, nearestRank(ws, 50))
				check("waiting max", *row.Attendance.ClientsWaitingMax, slices.Max(ws))
			}
		}

		// The time series adds up to the same complaints.
		pts, err := a.TimeSeries(Filter{From: from, To: to}, ByDay)
		if err != nil {
			rt.Fatal(err)
		}
		total := 0
		for _, p := range pts {
			total += p.Complaints
		}
		wantTotal := 0
		for _, w := range want {
			wantTotal += w.Complaints
		}
		if total != wantTotal {
			rt.Fatalf("time series counts %d complaints, want %d", total, wantTotal)
		}
	})
}

func show(d Durations) string {
	if d.Median == nil {
		return fmt.Sprint(d.Count)
	}
	return fmt.Sprint(d.Count, *d.Median, *d.P90)
}

func TestPercentilesNearestRank(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		v := rapid.SliceOfN(rapid.Int64Range(-5, 50), 1, 300).Draw(t, "v")
		m, p, ok := percentiles(slices.Clone(v))
		if !ok || m != nearestRank(v, 50) || p != nearestRank(v, 90) {
			t.Fatalf("percentiles(%v) = %d, %d; want %d, %d", v, m, p, nearestRank(v, 50), nearestRank(v, 90))
		}
	})
	_, _, ok := percentiles(nil)
	if ok {
		t.Fatal("percentiles of nothing")
	}
}

// selectK leaves v partitioned around the k-th smallest value.
func TestSelectKPartitions(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		v := rapid.SliceOfN(rapid.Int64Range(-3, 20), 1, 200).Draw(t, "v")
		k := rapid.IntRange(0, len(v)-1).Draw(t, "k")
		sorted := slices.Clone(v)
		slices.Sort(sorted)
		if got := selectK(v, k); got != sorted[k] || v[k] != got {
			t.Fatalf("selectK(k=%d) = %d, want %d", k, got, sorted[k])
		}
		for i := range v {
			if (i < k && v[i] > v[k]) || (i > k && v[i] < v[k]) {
				t.Fatalf("not partitioned at %d: %v (k=%d)", i, v, k)
			}
		}
	})
}
