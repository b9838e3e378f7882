package reports

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/favad/favad/inspector"
)

// selector is a Filter resolved against the interned strings.
type selector struct {
	from, to  int64 // [from, to), Unix seconds
	agency    uint32
	office    uint32
	provinces map[uint32]bool // nil: any province
	category  uint8           // 0: any
	none      bool            // a code nothing has: the answer is empty
}

func (s *state) resolve(f Filter) selector {
	sel := selector{from: f.From.Unix(), to: f.To.Unix()}
	if code := normalizeCode(f.AgencyCode); code != "" {
		id, ok := s.strs.lookup(code)
		sel.agency, sel.none = id, sel.none || !ok
	}
	if code := normalizeCode(f.OfficeCode); code != "" {
		id, ok := s.strs.lookup(code)
		sel.office, sel.none = id, sel.none || !ok
	}
	if f.Province != "" {
		want := inspector.NormalizeText(f.Province)
		sel.provinces = map[uint32]bool{}
		for _, info := range s.offices {
			if !sel.provinces[info.Province] && inspector.NormalizeText(s.strs.str(info.Province)) == want {
				sel.provinces[info.Province] = true
			}
		}
		sel.none = sel.none || len(sel.provinces) == 0
	}
	if f.Category != "" {
		sel.category = categoryCode(f.Category)
	}
	return sel
}

// where reports whether a fact at office, agency and province matches the
// selector's places.
func (sel *selector) where(office, agency, province uint32) bool {
	return (sel.agency == 0 || agency == sel.agency) &&
		(sel.office == 0 || office == sel.office) &&
		(sel.provinces == nil || sel.provinces[province])
}

// eachDay calls fn for each day index in [from, to) that exists.
func (s *state) eachDay(from, to int64, fn func(*dayIndex)) {
	if to <= from {
		return
	}
	for d, last := dayOf(from), dayOf(to-1); d <= last; d++ {
		if x := s.days[d]; x != nil {
			fn(x)
		}
	}
}

// complaintLists returns the index lists to read for the selector: only
// the days of its period and, within a day, the agency's (or the
// provinces') list when it names one. Not every complaint listed matches:
// see matches.
func (s *state) complaintLists(sel *selector) [][]int32 {
	if sel.none {
		return nil
	}
	// An office alone does not name an agency list: its complaints are
	// filed under the agency each came in under, and an office moved to
	// another agency has them under both.
	var lists [][]int32
	s.eachDay(sel.from, sel.to, func(d *dayIndex) {
		switch {
		case sel.agency != 0:
			lists = append(lists, d.byAgency[sel.agency])
		case sel.provinces != nil:
			for p := range sel.provinces {
				lists = append(lists, d.byProvince[p])
			}
		default:
			lists = append(lists, d.complaints)
		}
	})
	return lists
}

// matches reports whether complaint f is selected.
func (sel *selector) matches(f *complaintFact) bool {
	return f.CallTime >= sel.from && f.CallTime < sel.to && sel.where(f.Office, f.Agency, f.Province) &&
		(sel.category == 0 || f.Category == sel.category)
}

// eachComplaint calls fn for every complaint the selector matches.
func (s *state) eachComplaint(sel *selector, fn func(i int32, f *complaintFact)) {
	for _, list := range s.complaintLists(sel) {
		for _, i := range list {
			if f := &s.complaints[i]; sel.matches(f) {
				fn(i, f)
			}
		}
	}
}

// eachFinding calls fn for every finding observed in the period at a place
// the selector matches; with a category, only findings about a complaint of
// that category.
func (s *state) eachFinding(sel *selector, fn func(f *findingFact)) {
	if sel.none {
		return
	}
	s.eachDay(sel.from, sel.to, func(d *dayIndex) {
		for _, i := range d.findings {
			f := &s.findings[i]
			if f.Observed < sel.from || f.Observed >= sel.to || !sel.where(f.Office, f.Agency, f.Province) {
				continue
			}
			if sel.category != 0 && (f.Complaint < 0 || s.complaints[f.Complaint].Category != sel.category) {
				continue
			}
			fn(f)
		}
	})
}

// group accumulates one row's figures.
type group struct {
	key, agency, province uint32
	fig                   Figures
	toRouting, toAction   []int64
	toOutcome, waiting    []int64
	substantiated         int
}

func (g *group) addComplaint(f *complaintFact, now int64) {
	fig := &g.fig
	fig.Complaints++
	fig.ByCategory.add(f.Category)
	fig.ByChannel.add(f.Channel)
	if f.FirstRouting != 0 {
		g.toRouting = append(g.toRouting, max(0, f.FirstRouting-f.CallTime))
	}
	if f.FirstAction != 0 {
		g.toAction = append(g.toAction, max(0, f.FirstAction-f.CallTime))
	}
	due := f.due()
	if f.Outcome != 0 {
		fig.Outcomes.add(f.Outcome)
		if substantiated(f.Outcome) {
			g.substantiated++
		}
		g.toOutcome = append(g.toOutcome, max(0, f.OutcomeAt-f.CallTime))
	}
	if f.Status != stWithdrawn && (f.Outcome != 0 || (due != 0 && now >= due)) {
		fig.SLA.Due++
		if f.Outcome != 0 && f.OutcomeAt <= due {
			fig.SLA.Within++
		}
	}
	fig.SLA.Breaches += int(f.Breaches)
	if f.ReferredAt != 0 {
		fig.Referrals.Referred++
		if f.ReferralAnswer != 0 {
			fig.Referrals.Answered++
		}
		// Overdue: breached, or past due and still owed (not yet seen by the
		// SLA watch); a referral dispatch pulled back is owed no more.
		if f.ReferralBreach || (f.Status == stReferred && f.ReferralAnswer == 0 && f.ReferralDue != 0 && now > f.ReferralDue) {
			fig.Referrals.Overdue++
		}
	}
}

func (g *group) addFinding(f *findingFact) {
	a := &g.fig.Attendance
	a.Findings++
	a.StaffExpected += int(f.Expected)
	a.StaffPresent += int(f.Present)
	a.Absentees.Leave += int(f.Absent[0])
	a.Absentees.Mission += int(f.Absent[1])
	a.Absentees.Unexcused += int(f.Absent[2])
	a.Absentees.Unknown += int(f.Absent[3])
	a.NonWorkActivities += int(f.NonWork)
	g.waiting = append(g.waiting, int64(f.Waiting))
}

// finish computes the rates and percentiles.
func (g *group) finish() Figures {
	fig := g.fig
	if n := fig.Outcomes.Total(); n > 0 {
		fig.SubstantiatedRate = ratio(g.substantiated, n)
	}
	if fig.SLA.Due > 0 {
		fig.SLA.WithinShare = ratio(fig.SLA.Within, fig.SLA.Due)
	}
	fig.ToFirstRouting, fig.ToFirstAction, fig.ToOutcome = durations(g.toRouting), durations(g.toAction), durations(g.toOutcome)
	a := &fig.Attendance
	if a.StaffExpected > 0 {
		r := 1 - float64(a.StaffPresent)/float64(a.StaffExpected)
		a.AbsenceRate = &r
	}
	if m, _, ok := percentiles(g.waiting); ok {
		top := slices.Max(g.waiting)
		a.ClientsWaitingMedian, a.ClientsWaitingMax = &m, &top
	}
	return fig
}

func ratio(a, b int) *float64 {
	r := float64(a) / float64(b)
	return &r
}

// grouper finds a row's group by key (an agency or an office), by
// interned id: a slice, not a map, since ids are dense.
type grouper struct {
	byKey    []*group
	list     []*group
	byOffice bool
}

func (s *state) newGrouper(byOffice bool) *grouper {
	return &grouper{byKey: make([]*group, len(s.strs.strs)), byOffice: byOffice}
}

func (gr *grouper) get(office, agency, province uint32) *group {
	k := agency
	if gr.byOffice {
		k = office
	}
	g := gr.byKey[k]
	if g == nil {
		g = &group{key: k, agency: agency, province: province}
		gr.byKey[k] = g
		gr.list = append(gr.list, g)
	}
	return g
}

// groups computes figures per key (an agency or an office) for the
// selector, complaints and findings alike. A group's agency and province are
// those of its first fact.
func (s *state) groups(sel *selector, now int64, byOffice bool) []*group {
	gr := s.newGrouper(byOffice)
	for _, list := range s.complaintLists(sel) { // the hot loop, without a callback
		for _, i := range list {
			if f := &s.complaints[i]; sel.matches(f) {
				gr.get(f.Office, f.Agency, f.Province).addComplaint(f, now)
			}
		}
	}
	s.eachFinding(sel, func(f *findingFact) { gr.get(f.Office, f.Agency, f.Province).addFinding(f) })
	return gr.list
}

// byComplaintsThen orders rows by complaints, most first, then by code.
func byComplaintsThen(a, b Figures, codeA, codeB string) int {
	if c := cmp.Compare(b.Complaints, a.Complaints); c != 0 {
		return c
	}
	return cmp.Compare(codeA, codeB)
}

func (s *state) byAgency(f Filter, now time.Time) []AgencyRow {
	sel := s.resolve(f)
	gs := s.groups(&sel, now.Unix(), false)
	rows := make([]AgencyRow, 0, len(gs))
	for _, g := range gs {
		rows = append(rows, AgencyRow{AgencyCode: s.strs.str(g.key), Figures: g.finish()})
	}
	slices.SortFunc(rows, func(a, b AgencyRow) int { return byComplaintsThen(a.Figures, b.Figures, a.AgencyCode, b.AgencyCode) })
	return rows
}

func (s *state) byOffice(f Filter, now time.Time) []OfficeRow {
	sel := s.resolve(f)
	gs := s.groups(&sel, now.Unix(), true)
	rows := make([]OfficeRow, 0, len(gs))
	for _, g := range gs {
		rows = append(rows, OfficeRow{OfficeCode: s.strs.str(g.key), AgencyCode: s.strs.str(g.agency), Province: s.strs.str(g.province), Figures: g.finish()})
	}
	slices.SortFunc(rows, func(a, b OfficeRow) int { return byComplaintsThen(a.Figures, b.Figures, a.OfficeCode, b.OfficeCode) })
	return rows
}

// Defaults of the repeat-offenders report.
const (
	DefaultMinSubstantiated = 3
	DefaultWindow           = 90 * 24 * time.Hour
)

func (s *state) repeatOffenders(f Filter, minSubstantiated int, window time.Duration, now time.Time) RepeatOffenders {
	if minSubstantiated <= 0 {
		minSubstantiated = DefaultMinSubstantiated
	}
	if window <= 0 {
		window = DefaultWindow
	}
	end := f.To
	if end.IsZero() {
		end = now
	}
	start := end.Add(-window)
	out := RepeatOffenders{From: start.UTC(), To: end.UTC(), PreviousFrom: start.Add(-window).UTC(), MinSubstantiated: minSubstantiated, Items: []RepeatOffender{}}
	// Counts by office, in a slice by interned id: offices are dense.
	type counts struct {
		agency, province                  uint32
		complaints, substantiated, before int
	}
	byOffice := make([]counts, len(s.strs.strs))
	seen := make([]bool, len(s.strs.strs))
	count := func(from, to time.Time, current bool) {
		f.From, f.To = from, to
		sel := s.resolve(f)
		for _, list := range s.complaintLists(&sel) {
			for _, i := range list {
				c := &s.complaints[i]
				if !sel.matches(c) {
					continue
				}
				x := &byOffice[c.Office]
				sub := substantiated(c.Outcome)
				switch {
				case current:
					if !seen[c.Office] {
						seen[c.Office] = true
						x.agency, x.province = c.Agency, c.Province
					}
					x.complaints++
					if sub {
						x.substantiated++
					}
				case sub:
					x.before++
				}
			}
		}
	}
	count(start, end, true)
	count(start.Add(-window), start, false)
	for office := range byOffice {
		x := &byOffice[office]
		if !seen[office] || x.substantiated < minSubstantiated {
			continue
		}
		out.Items = append(out.Items, RepeatOffender{OfficeCode: s.strs.str(uint32(office)), AgencyCode: s.strs.str(x.agency), Province: s.strs.str(x.province),
			Complaints: x.complaints, Substantiated: x.substantiated, Previous: x.before, Change: x.substantiated - x.before})
	}
	slices.SortFunc(out.Items, func(a, b RepeatOffender) int {
		if c := cmp.Compare(b.Substantiated, a.Substantiated); c != 0 {
			return c
		}
		return cmp.Compare(a.OfficeCode, b.OfficeCode)
	})
	return out
}

func (s *state) byInspector(f Filter) []InspectorRow {
	sel := s.resolve(f)
	type acc struct {
		row       InspectorRow
		durations []int64
	}
	rows := map[uint32]*acc{}
	get := func(k uint32) *acc {
		a := rows[k]
		if a == nil {
			a = &acc{row: InspectorRow{InspectorID: s.strs.str(k)}}
			rows[k] = a
		}
		return a
	}
	if !sel.none {
		for insp, set := range s.open {
			n := 0
			for i := range set {
				c := &s.complaints[i]
				if sel.where(c.Office, c.Agency, c.Province) && (sel.category == 0 || c.Category == sel.category) {
					n++
				}
			}
			if n > 0 {
				get(insp).row.Open = n
			}
		}
	}
	s.eachComplaint(&sel, func(_ int32, c *complaintFact) {
		if c.Outcome == 0 || c.OutcomeBy == 0 {
			return
		}
		a := get(c.OutcomeBy)
		a.row.Outcomes.add(c.Outcome)
		if c.AssignToOutcome >= 0 {
			a.durations = append(a.durations, c.AssignToOutcome)
		}
	})
	if !sel.none {
		s.eachDay(sel.from, sel.to, func(d *dayIndex) {
			for _, i := range d.activities {
				x := &s.activities[i]
				if x.At < sel.from || x.At >= sel.to || !sel.where(x.Office, x.Agency, x.Province) {
					continue
				}
				if x.Kind == actCall && sel.category != 0 && (x.Complaint < 0 || s.complaints[x.Complaint].Category != sel.category) {
					continue
				}
				switch x.Kind {
				case actVisit:
					get(x.Inspector).row.Visits++
				case actCall:
					get(x.Inspector).row.Calls++
				}
			}
		})
	}
	out := make([]InspectorRow, 0, len(rows))
	for _, a := range rows {
		a.row.AssignmentToOutcome = durations(a.durations)
		out = append(out, a.row)
	}
	slices.SortFunc(out, func(a, b InspectorRow) int {
		if c := cmp.Compare(b.Outcomes.Total(), a.Outcomes.Total()); c != 0 {
			return c
		}
		if c := cmp.Compare(b.Open, a.Open); c != 0 {
			return c
		}
		return cmp.Compare(a.InspectorID, b.InspectorID)
	})
	return out
}

// timeSeries counts complaints per Iran-local day or Solar Hijri month of
// [f.From, f.To); every period is present, empty or not. The first and last
// periods may be partial: only [From, To) is counted.
func (s *state) timeSeries(f Filter, by string) ([]Point, error) {
	if by != ByDay && by != ByMonth {
		return nil, fmt.Errorf("reports: time series by %q: by day or month", by)
	}
	if y0, y1 := f.From.Year(), f.To.Year(); y0 < 1800 || y1 > 2800 {
		return nil, fmt.Errorf("reports: time series from %d to %d: outside the years 1800 to 2800", y0, y1)
	}
	sel := s.resolve(f)
	points := []Point{}
	if sel.to <= sel.from {
		return points, nil
	}
	// pointOf maps a day number to its point's index.
	first, last := dayOf(sel.from), dayOf(sel.to-1)
	pointOf := make([]int, last-first+1)
	for d := first; d <= last; d++ {
		start := time.Unix(dayStart(d), 0).In(inspector.IranTime)
		y, m, dd := inspector.ToJalali(start)
		if by == ByDay {
			date := start.Format(time.DateOnly)
			points = append(points, Point{Label: date, Date: date, Jalali: fmt.Sprintf("%s-%02d", inspector.JalaliLabel(y, m), dd), Start: start.UTC()})
		} else if d == first || dd == 1 {
			ms := inspector.JalaliMonthStart(y, m)
			label := inspector.JalaliLabel(y, m)
			points = append(points, Point{Label: label, Date: ms.Format(time.DateOnly), Jalali: label, Start: ms.UTC()})
		}
		pointOf[d-first] = len(points) - 1
	}
	s.eachComplaint(&sel, func(_ int32, c *complaintFact) {
		p := &points[pointOf[dayOf(c.CallTime)-first]]
		p.Complaints++
		p.ByCategory.add(c.Category)
		if c.Outcome != 0 {
			p.Outcomes.add(c.Outcome)
		}
	})
	return points, nil
}
