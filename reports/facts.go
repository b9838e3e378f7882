package reports

import (
	"slices"
	"strings"
	"time"

	"github.com/favad/favad/inspector"
)

// Facts are kept compact: strings (codes, provinces, inspector ids) are
// interned to uint32 (0 is ""), enumerations are small integers, times are
// Unix seconds (0 is "never").

// Channels: how a complaint was first routed.
const (
	chanNone uint8 = iota // not routed yet
	chanField
	chanPhone
	chanReferral
)

// outcomeValues are the outcome codes; index 0 is "no outcome". Their
// order is OutcomeCounts.add's.
var outcomeValues = []inspector.OutcomeValue{"", inspector.OutcomeSubstantiated, inspector.OutcomeNotSubstantiated,
	inspector.OutcomeResolvedOnSpot, inspector.OutcomeDiscipline}

func outcomeCode(v string) uint8 {
	for i, x := range outcomeValues {
		if i > 0 && string(x) == v {
			return uint8(i)
		}
	}
	return 0
}

// substantiated reports whether outcome code o counts as substantiated.
func substantiated(o uint8) bool {
	return o != 0 && inspector.SubstantiatedOutcome(outcomeValues[o])
}

// categoryCode is 1 + the category's index in inspector.Categories; an
// unknown category (a newer FAVAD's) is counted as "other".
func categoryCode(c inspector.Category) uint8 {
	if i := slices.Index(inspector.Categories, c); i >= 0 {
		return uint8(i + 1)
	}
	return categoryCode(inspector.CategoryOther)
}

// statuses are the complaint status codes; index 0 is unknown.
var statuses = []inspector.Status{"", inspector.StatusReceived, inspector.StatusAssigned, inspector.StatusInProgress,
	inspector.StatusResolved, inspector.StatusNotSubstantiated, inspector.StatusReferredToWorkplace,
	inspector.StatusNeedsReview, inspector.StatusWithdrawn, inspector.StatusReferralAnswered}

func statusCode(s string) uint8 {
	for i, x := range statuses {
		if i > 0 && string(x) == s {
			return uint8(i)
		}
	}
	return 0
}

var (
	stAssigned   = statusCode(string(inspector.StatusAssigned))
	stInProgress = statusCode(string(inspector.StatusInProgress))
	stWithdrawn  = statusCode(string(inspector.StatusWithdrawn))
	stReferred   = statusCode(string(inspector.StatusReferredToWorkplace))
)

// complaintFact is what the reports need of one complaint. Fields are
// exported for the snapshot's encoding only.
type complaintFact struct {
	Number       uint64
	CallTime     int64
	DueAt        int64 // the complaint's due time (by priority)
	FirstRouting int64
	FirstAction  int64 // first check-in naming it, or first call record on it
	OutcomeAt    int64
	AssignedAt   int64 // when the current assignee got it
	// AssignToOutcome is seconds from the assignment to the outcome of the
	// inspector who recorded it; -1 when there is none.
	AssignToOutcome int64
	ReferredAt      int64
	ReferralDue     int64
	ReferralAnswer  int64
	Office          uint32
	Agency          uint32
	Province        uint32
	Assignee        uint32 // the current assignee (interned user id)
	OutcomeBy       uint32 // the inspector who recorded the outcome; 0 for dispatch
	Breaches        uint16 // sla_breached entries
	Category        uint8
	Channel         uint8
	Outcome         uint8
	Status          uint8
	ReferralBreach  bool // an sla_breached entry for the referral SLA
}

// open reports whether the complaint counts in its assignee's open workload.
func (f *complaintFact) open() bool {
	return f.Assignee != 0 && (f.Status == stAssigned || f.Status == stInProgress)
}

// due is the time the complaint had to be handled by: its own due time, or
// the referral's when it was referred later (a referral gives the office its
// own time to answer).
func (f *complaintFact) due() int64 { return max(f.DueAt, f.ReferralDue) }

// findingFact is one finding's attendance figures.
type findingFact struct {
	Observed  int64
	Office    uint32
	Agency    uint32
	Province  uint32
	Inspector uint32
	Complaint int32 // index of its complaint, -1 if none
	Expected  int32
	Present   int32
	Waiting   int32
	NonWork   int32
	Absent    [4]int32 // by reason: leave, mission, unexcused, unknown
}

// absenceReasons orders findingFact.Absent.
var absenceReasons = [4]inspector.AbsenceReason{inspector.AbsenceLeave, inspector.AbsenceMission, inspector.AbsenceUnexcused, inspector.AbsenceUnknown}

// Activity kinds.
const (
	actVisit uint8 = iota + 1
	actCall
)

// activityFact is one visit created or one call record, for the inspectors' report.
type activityFact struct {
	At        int64
	Inspector uint32
	Office    uint32
	Agency    uint32
	Province  uint32
	Complaint int32 // -1 if none
	Kind      uint8
}

// dayIndex lists what happened on one Iran-local day, by position in the
// fact slices.
type dayIndex struct {
	complaints []int32
	byAgency   map[uint32][]int32
	byProvince map[uint32][]int32
	findings   []int32
	activities []int32
}

// iranOffset is Iran time's offset from UTC, in seconds (no daylight saving).
const iranOffset = 3*3600 + 30*60

// dayOf is the Iran-local day number of Unix time sec (day 0 began at
// 1970-01-01 00:00 Iran time).
func dayOf(sec int64) int32 {
	s := sec + iranOffset
	d := s / 86400
	if s%86400 < 0 {
		d--
	}
	return int32(d)
}

// dayStart is the Unix time of the start of Iran-local day d.
func dayStart(d int32) int64 { return int64(d)*86400 - iranOffset }

// unix is t as Unix seconds, 0 for the zero time.
func unix(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

// interner maps strings to small integers; 0 is "".
type interner struct {
	strs []string
	ids  map[string]uint32
}

func newInterner() *interner {
	return &interner{strs: []string{""}, ids: map[string]uint32{"": 0}}
}

func (in *interner) id(s string) uint32 {
	if id, ok := in.ids[s]; ok {
		return id
	}
	id := uint32(len(in.strs))
	in.strs = append(in.strs, s)
	in.ids[s] = id
	return id
}

// lookup returns the id of s and whether it was ever interned.
func (in *interner) lookup(s string) (uint32, bool) {
	id, ok := in.ids[s]
	return id, ok
}

func (in *interner) str(id uint32) string { return in.strs[id] }

// normalizeCode is how agency and office codes are compared: the store
// keeps them in upper case.
func normalizeCode(s string) string { return strings.ToUpper(strings.TrimSpace(s)) }
