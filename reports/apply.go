package reports

import (
	"slices"
	"strings"
	"time"

	"github.com/favad/favad/inspector"
	favsync "github.com/favad/favad/sync"
)

// state is the aggregator's facts and their indexes. It is not safe for
// concurrent use; the Aggregator guards it.
type state struct {
	cursor uint64 // the last change applied

	strs       *interner
	complaints []complaintFact
	ids        []string // complaint ids, parallel to complaints
	byID       map[string]int32
	findings   []findingFact
	activities []activityFact

	offices map[uint32]officeInfo // office code → its agency and province, as last seen
	days    map[int32]*dayIndex
	open    map[uint32]map[int32]struct{} // inspector → complaints in their open workload
}

// officeInfo is what the aggregator knows of an office.
type officeInfo struct {
	Agency   uint32
	Province uint32
}

func newState() *state {
	return &state{strs: newInterner(), byID: map[string]int32{}, offices: map[uint32]officeInfo{},
		days: map[int32]*dayIndex{}, open: map[uint32]map[int32]struct{}{}}
}

func (s *state) day(d int32) *dayIndex {
	x := s.days[d]
	if x == nil {
		x = &dayIndex{byAgency: map[uint32][]int32{}, byProvince: map[uint32][]int32{}}
		s.days[d] = x
	}
	return x
}

// apply folds one change into the facts. Changes must come in log order;
// a change at or before the cursor is ignored.
func (s *state) apply(cv *favsync.ChangeView) {
	if cv.Seq != 0 && cv.Seq <= s.cursor {
		return
	}
	if cv.Office != nil && cv.Office.Code != "" {
		s.learnOffice(cv.Office)
	}
	switch cv.Kind {
	case favsync.KindComplaint:
		s.applyComplaint(cv)
	case favsync.KindVisit:
		s.applyVisit(cv)
	case favsync.KindFinding:
		if cv.Action == favsync.ActionCreated && cv.Finding != nil {
			s.applyFinding(cv)
		}
	case favsync.KindCall:
		if cv.Action == favsync.ActionCreated && cv.Call != nil {
			s.applyCall(cv)
		}
	case favsync.KindOffice:
		// An office moved to another agency or province: later facts follow;
		// earlier ones keep where they were counted.
	}
	if cv.Seq > s.cursor {
		s.cursor = cv.Seq
	}
}

func (s *state) learnOffice(o *inspector.Office) {
	s.offices[s.strs.id(o.Code)] = officeInfo{Agency: s.strs.id(o.AgencyCode), Province: s.strs.id(o.Province)}
}

// officeOf returns the interned office code with its agency and province.
func (s *state) officeOf(code string) (office uint32, info officeInfo) {
	office = s.strs.id(code)
	return office, s.offices[office]
}

// placeOf is officeOf for the office a visit or finding names, falling back
// to the change's own office when that one was never seen (offices are
// logged before any work on them, so this is a safety net).
func (s *state) placeOf(code string, cv *favsync.ChangeView) (office uint32, info officeInfo) {
	office, info = s.officeOf(code)
	if info.Agency == 0 && cv.Office != nil && cv.Office.Code != "" {
		office, info = s.officeOf(cv.Office.Code)
	}
	return office, info
}

// workTime is when work done on a device happened: the device's time,
// bounded by the moment the server received it.
func workTime(device time.Time, received time.Time) int64 {
	if device.IsZero() || device.After(received) {
		return unix(received)
	}
	return device.Unix()
}

// deviceTime reads a change's device_time, if it has one.
func deviceTime(cv *favsync.ChangeView) time.Time {
	t, _ := time.Parse(time.RFC3339, cv.Data["device_time"])
	return t
}

func (s *state) applyComplaint(cv *favsync.ChangeView) {
	i, ok := s.byID[cv.ID]
	if !ok {
		if cv.Complaint == nil {
			return // a complaint the store no longer has: nothing to count
		}
		i = s.addComplaint(cv)
	}
	f := &s.complaints[i]
	wasOpen, oldAssignee := f.open(), f.Assignee
	if c := cv.Complaint; c != nil {
		// Dispatch may change the category or the priority (and so the due
		// time); the current values count.
		f.Category, f.DueAt = categoryCode(c.Category), unix(c.DueAt)
		if c.OfficeCode != "" && s.strs.id(c.OfficeCode) != f.Office {
			s.moveComplaint(i, cv)
		}
	}
	at := unix(cv.At)
	switch cv.Action {
	case favsync.ActionAssigned, favsync.ActionReassigned:
		if f.FirstRouting == 0 {
			f.FirstRouting, f.Channel = at, chanPhone
			if cv.Data["mode"] == string(inspector.ModeField) {
				f.Channel = chanField
			}
		}
		f.Assignee, f.AssignedAt = s.strs.id(cv.Data["inspector"]), at
	case favsync.ActionReferred:
		if f.FirstRouting == 0 {
			f.FirstRouting, f.Channel = at, chanReferral
		}
		f.ReferredAt, f.ReferralAnswer, f.ReferralBreach = at, 0, false
		f.ReferralDue = 0
		if due, err := time.Parse(time.RFC3339, cv.Data["due_at"]); err == nil {
			f.ReferralDue = due.Unix()
		}
	case favsync.ActionReferralAnswered:
		if f.ReferralAnswer == 0 {
			f.ReferralAnswer = at
		}
	case "outcome":
		f.Outcome, f.OutcomeAt = outcomeCode(cv.Data["outcome"]), workTime(deviceTime(cv), cv.At)
		s.setOutcomeBy(f, s.strs.id(cv.Actor))
	case favsync.ActionClosed:
		f.Outcome, f.OutcomeAt, f.OutcomeBy, f.AssignToOutcome = outcomeCode(cv.Data["outcome"]), at, 0, -1
	case "review_overrule":
		if v := cv.Data["outcome"]; v != "" {
			t := at
			if c := cv.Complaint; c != nil && c.Outcome != nil && string(c.Outcome.Value) == v {
				t = workTime(c.Outcome.RecordedAt, cv.At)
			}
			f.Outcome, f.OutcomeAt = outcomeCode(v), t
			s.setOutcomeBy(f, s.strs.id(cv.Data["inspector"]))
		}
	case favsync.ActionSLABreached:
		f.Breaches++
		if cv.Data["sla"] == "referral" {
			f.ReferralBreach = true
		}
	}
	if to := cv.Data["to"]; to != "" {
		f.Status = statusCode(to)
	}
	if isOpen := f.open(); isOpen != wasOpen || f.Assignee != oldAssignee {
		if wasOpen {
			delete(s.open[oldAssignee], i)
		}
		if isOpen {
			s.addOpen(f.Assignee, i)
		}
	}
}

// setOutcomeBy records who recorded the outcome and, when it was the
// assignee, how long it took them from the assignment.
func (s *state) setOutcomeBy(f *complaintFact, by uint32) {
	f.OutcomeBy, f.AssignToOutcome = by, -1
	if by != 0 && by == f.Assignee && f.AssignedAt != 0 {
		f.AssignToOutcome = max(0, f.OutcomeAt-f.AssignedAt)
	}
}

func (s *state) addOpen(inspectorID uint32, i int32) {
	m := s.open[inspectorID]
	if m == nil {
		m = map[int32]struct{}{}
		s.open[inspectorID] = m
	}
	m[i] = struct{}{}
}

// addComplaint makes the fact of a complaint seen for the first time.
func (s *state) addComplaint(cv *favsync.ChangeView) int32 {
	c := cv.Complaint
	office, info := s.officeOf(c.OfficeCode)
	agency := s.strs.id(c.AgencyCode)
	if info.Agency == 0 {
		info.Agency = agency
	}
	f := complaintFact{
		Number: c.Number, CallTime: unix(c.CallTime), DueAt: unix(c.DueAt), AssignToOutcome: -1,
		Office: office, Agency: agency, Province: info.Province, Category: categoryCode(c.Category),
		Status: statusCode(string(inspector.StatusReceived)),
	}
	i := int32(len(s.complaints))
	s.complaints = append(s.complaints, f)
	s.ids = append(s.ids, c.ID)
	s.byID[c.ID] = i
	s.index(i)
	return i
}

// index adds complaint i to its call day's lists.
func (s *state) index(i int32) {
	f := &s.complaints[i]
	d := s.day(dayOf(f.CallTime))
	d.complaints = append(d.complaints, i)
	d.byAgency[f.Agency] = append(d.byAgency[f.Agency], i)
	d.byProvince[f.Province] = append(d.byProvince[f.Province], i)
}

// moveComplaint re-files complaint i under the office the complaint has now.
func (s *state) moveComplaint(i int32, cv *favsync.ChangeView) {
	f := &s.complaints[i]
	d := s.day(dayOf(f.CallTime))
	d.byAgency[f.Agency] = remove(d.byAgency[f.Agency], i)
	d.byProvince[f.Province] = remove(d.byProvince[f.Province], i)
	office, info := s.officeOf(cv.Complaint.OfficeCode)
	f.Office, f.Agency, f.Province = office, s.strs.id(cv.Complaint.AgencyCode), info.Province
	d.byAgency[f.Agency] = append(d.byAgency[f.Agency], i)
	d.byProvince[f.Province] = append(d.byProvince[f.Province], i)
}

func remove(list []int32, i int32) []int32 {
	if k := slices.Index(list, i); k >= 0 {
		return slices.Delete(list, k, k+1)
	}
	return list
}

// firstAction notes work on complaint id at time t.
func (s *state) firstAction(id string, t int64) {
	i, ok := s.byID[id]
	if !ok {
		return
	}
	if f := &s.complaints[i]; f.FirstAction == 0 || t < f.FirstAction {
		f.FirstAction = t
	}
}

func hasField(fields, name string) bool {
	for f := range strings.SplitSeq(fields, ",") {
		if strings.TrimSpace(f) == name {
			return true
		}
	}
	return false
}

func (s *state) applyVisit(cv *favsync.ChangeView) {
	v := cv.Visit
	if v == nil {
		return
	}
	if cv.Action == favsync.ActionCreated {
		office, info := s.placeOf(v.OfficeCode, cv)
		inspectorID := v.InspectorID
		if inspectorID == "" {
			inspectorID = cv.Actor
		}
		a := activityFact{At: unix(cv.At), Inspector: s.strs.id(inspectorID), Office: office, Agency: info.Agency,
			Province: info.Province, Complaint: -1, Kind: actVisit}
		if len(v.ComplaintIDs) > 0 {
			if i, ok := s.byID[v.ComplaintIDs[0]]; ok {
				a.Complaint = i
			}
		}
		s.addActivity(a)
	}
	// A check-in is first action on every complaint the visit names; a
	// complaint named after the check-in was made counts from the check-in
	// too. Dispatch restoring a visit ("overruled") may bring either.
	fields := cv.Data["fields"]
	if v.CheckIn != nil && (hasField(fields, "check_in") || hasField(fields, "complaint_ids") || cv.Action == "overruled") {
		t := workTime(v.CheckIn.DeviceTime, cv.At)
		for _, id := range v.ComplaintIDs {
			s.firstAction(id, t)
		}
	}
}

func (s *state) addActivity(a activityFact) {
	d := s.day(dayOf(a.At))
	d.activities = append(d.activities, int32(len(s.activities)))
	s.activities = append(s.activities, a)
}

func (s *state) applyCall(cv *favsync.ChangeView) {
	c := cv.Call
	t := workTime(c.StartedAt, cv.At)
	s.firstAction(c.ComplaintID, t)
	a := activityFact{At: unix(cv.At), Inspector: s.strs.id(c.InspectorID), Complaint: -1, Kind: actCall}
	if i, ok := s.byID[c.ComplaintID]; ok {
		f := &s.complaints[i]
		a.Complaint, a.Office, a.Agency, a.Province = i, f.Office, f.Agency, f.Province
	} else if cv.Office != nil {
		a.Office, _ = s.officeOf(cv.Office.Code)
		info := s.offices[a.Office]
		a.Agency, a.Province = info.Agency, info.Province
	}
	s.addActivity(a)
}

func (s *state) applyFinding(cv *favsync.ChangeView) {
	fd := cv.Finding
	code := ""
	if cv.Visit != nil {
		code = cv.Visit.OfficeCode
	}
	office, info := s.placeOf(code, cv)
	f := findingFact{Observed: workTime(fd.ObservedAt, cv.At), Office: office, Agency: info.Agency, Province: info.Province,
		Inspector: s.strs.id(fd.InspectorID), Complaint: -1,
		Expected: int32(fd.StaffExpected), Present: int32(fd.StaffPresent), Waiting: int32(fd.ClientsWaiting), NonWork: int32(len(fd.NonWork))}
	if i, ok := s.byID[fd.ComplaintID]; ok {
		f.Complaint = i
	}
	for _, a := range fd.Absentees {
		k := slices.Index(absenceReasons[:], a.Reason)
		if k < 0 {
			k = 3 // unknown
		}
		f.Absent[k]++
	}
	d := s.day(dayOf(f.Observed))
	d.findings = append(d.findings, int32(len(s.findings)))
	s.findings = append(s.findings, f)
}

// reindex rebuilds the day lists and open workloads from the facts, after
// a snapshot is loaded.
func (s *state) reindex() {
	s.days = map[int32]*dayIndex{}
	s.open = map[uint32]map[int32]struct{}{}
	s.byID = make(map[string]int32, len(s.ids))
	for i, id := range s.ids {
		s.byID[id] = int32(i)
		s.index(int32(i))
		if f := &s.complaints[i]; f.open() {
			s.addOpen(f.Assignee, int32(i))
		}
	}
	for i := range s.findings {
		d := s.day(dayOf(s.findings[i].Observed))
		d.findings = append(d.findings, int32(i))
	}
	for i := range s.activities {
		d := s.day(dayOf(s.activities[i].At))
		d.activities = append(d.activities, int32(i))
	}
}
