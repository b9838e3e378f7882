package inspector

import (
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Field work: the records an inspector creates, often offline, each with a
// client-generated id (UUIDv7) that the server never renumbers.

// GeoStamp is a moment and place claimed by a device: its clock and its GPS.
type GeoStamp struct {
	DeviceTime time.Time `json:"device_time"`
	Lat        float64   `json:"lat"`
	Lng        float64   `json:"lng"`
	AccuracyM  float64   `json:"accuracy_m"`
}

// Visit is an inspector's presence at one office for one or more complaints.
// Its fields are last-writer-wins by hybrid logical clock, field by field,
// because two devices of one inspector may edit it offline.
type Visit struct {
	ID           string            `json:"id"`
	InspectorID  string            `json:"inspector_id"`
	OfficeCode   string            `json:"office_code"`
	ComplaintIDs []string          `json:"complaint_ids"`
	CheckIn      *GeoStamp         `json:"check_in,omitempty"`
	CheckOut     *GeoStamp         `json:"check_out,omitempty"`
	Summary      string            `json:"summary,omitempty"`
	Stamps       map[string]Stamp  `json:"stamps"`         // per field: the clock of its last write
	FieldSeqs    map[string]uint64 `json:"field_versions"` // per field: the change-log sequence of its last write
	// DeviceFieldSeqs is, per "device/field", the highest device sequence of
	// that device's writes to the field: a device's own later edit always
	// supersedes its earlier one, in whatever order they arrive.
	DeviceFieldSeqs map[string]uint64 `json:"device_field_seqs,omitempty"`
	Deleted         bool              `json:"deleted,omitempty"`
	DeletedBy       string            `json:"deleted_by,omitempty"`
	CreatedAt       time.Time         `json:"created_at"`
	Version         uint64            `json:"version"`
}

// VisitFields are the fields of a visit a device may set.
var VisitFields = []string{"office_code", "complaint_ids", "check_in", "check_out", "summary"}

// AbsenceReason says why a staff member was not at their desk.
type AbsenceReason string

// Absence reasons.
const (
	AbsenceLeave     AbsenceReason = "leave"
	AbsenceMission   AbsenceReason = "mission"
	AbsenceUnexcused AbsenceReason = "unexcused"
	AbsenceUnknown   AbsenceReason = "unknown"
)

// Absentee is one staff member the inspector found absent.
type Absentee struct {
	Name     string        `json:"name"`
	Position string        `json:"position,omitempty"`
	Reason   AbsenceReason `json:"reason"`
}

// Finding is what the inspector saw at the office: attendance, non-work
// activity, clients waiting, desks open. Append-only.
type Finding struct {
	ID             string     `json:"id"`
	VisitID        string     `json:"visit_id"`
	ComplaintID    string     `json:"complaint_id,omitempty"`
	InspectorID    string     `json:"inspector_id"`
	StaffExpected  int        `json:"staff_expected"`
	StaffPresent   int        `json:"staff_present"`
	Absentees      []Absentee `json:"absentees"`
	NonWork        []string   `json:"non_work_activity"`
	ClientsWaiting int        `json:"clients_waiting"`
	DesksOpen      int        `json:"desks_open"`
	ObservedAt     time.Time  `json:"observed_at"` // device time
	Version        uint64     `json:"version"`
}

// CallOutcome is how a phone call went.
type CallOutcome string

// Call outcomes.
const (
	CallReached     CallOutcome = "reached"
	CallNoAnswer    CallOutcome = "no_answer"
	CallBusy        CallOutcome = "busy"
	CallWrongNumber CallOutcome = "wrong_number"
)

// CallRecord is a phone inspector's call to the office. Append-only.
type CallRecord struct {
	ID          string      `json:"id"`
	ComplaintID string      `json:"complaint_id"`
	InspectorID string      `json:"inspector_id"`
	CalleeName  string      `json:"callee_name"`
	CalleeRole  string      `json:"callee_role,omitempty"`
	Number      string      `json:"number"`
	StartedAt   time.Time   `json:"started_at"` // device time
	DurationS   int         `json:"duration_s"`
	Outcome     CallOutcome `json:"outcome"`
	Notes       string      `json:"notes,omitempty"`
	Version     uint64      `json:"version"`
}

// Note is free text on a complaint or a visit. Append-only.
type Note struct {
	ID          string    `json:"id"`
	ComplaintID string    `json:"complaint_id,omitempty"`
	VisitID     string    `json:"visit_id,omitempty"`
	InspectorID string    `json:"inspector_id"`
	Text        string    `json:"text"`
	WrittenAt   time.Time `json:"written_at"` // device time
	Version     uint64    `json:"version"`
}

// OutcomeValue is the inspector's conclusion about a complaint.
type OutcomeValue string

// Outcomes.
const (
	OutcomeSubstantiated    OutcomeValue = "substantiated"
	OutcomeNotSubstantiated OutcomeValue = "not_substantiated"
	OutcomeResolvedOnSpot   OutcomeValue = "resolved_on_spot"
	OutcomeDiscipline       OutcomeValue = "referred_for_discipline"
)

// Valid reports whether o is a known outcome.
func (o OutcomeValue) Valid() bool {
	switch o {
	case OutcomeSubstantiated, OutcomeNotSubstantiated, OutcomeResolvedOnSpot, OutcomeDiscipline:
		return true
	}
	return false
}

// Status is the complaint status an outcome closes it with.
func (o OutcomeValue) Status() Status {
	if o == OutcomeNotSubstantiated {
		return StatusNotSubstantiated
	}
	return StatusResolved
}

// Outcome is the inspector's conclusion and statement, as recorded on the complaint.
type Outcome struct {
	Value       OutcomeValue `json:"value"`
	Statement   string       `json:"statement"`
	InspectorID string       `json:"inspector_id"`
	RecordedAt  time.Time    `json:"recorded_at"` // device time
	MutationID  string       `json:"mutation_id"`
	// ClosedBy is the dispatcher who closed the complaint on the office's
	// answer to a referral; empty for an inspector's outcome.
	ClosedBy string `json:"closed_by,omitempty"`
}

// SubstantiatedOutcome reports whether an outcome confirms the complaint:
// the problem was found (and perhaps put right on the spot, or sent for
// discipline). The reports' substantiated rate counts these.
func SubstantiatedOutcome(v OutcomeValue) bool {
	return v == OutcomeSubstantiated || v == OutcomeResolvedOnSpot || v == OutcomeDiscipline
}

// Validate checks a visit's device-settable fields that are present.
func (v *Visit) Validate(p *Problems, prefix string, present map[string]bool) {
	if present["office_code"] && strings.TrimSpace(v.OfficeCode) == "" {
		p.Add(prefix+"office_code", "required", "the office visited is required")
	}
	for _, g := range []struct {
		name string
		s    *GeoStamp
	}{{"check_in", v.CheckIn}, {"check_out", v.CheckOut}} {
		if !present[g.name] || g.s == nil {
			continue
		}
		validateGeo(p, prefix+g.name, *g.s)
	}
	if present["check_in"] && present["check_out"] && v.CheckIn != nil && v.CheckOut != nil && v.CheckOut.DeviceTime.Before(v.CheckIn.DeviceTime) {
		p.Add(prefix+"check_out.device_time", "before_check_in", "check-out cannot be before check-in")
	}
	if utf8.RuneCountInString(v.Summary) > MaxDescription {
		p.Add(prefix+"summary", "too_long", "at most 4000 characters")
	}
	if len(v.ComplaintIDs) > 50 {
		p.Add(prefix+"complaint_ids", "too_many", "at most 50 complaints in one visit")
	}
}

// checkCoordinates names the coordinate out of range, each under its own
// field (prefix+"lat", prefix+"lng"); NaN is out of range too.
func checkCoordinates(p *Problems, prefix string, lat, lng float64) {
	if !(lat >= -90 && lat <= 90) {
		p.Add(prefix+"lat", "out_of_range", "between -90 and 90")
	}
	if !(lng >= -180 && lng <= 180) {
		p.Add(prefix+"lng", "out_of_range", "between -180 and 180")
	}
}

func validateGeo(p *Problems, field string, g GeoStamp) {
	if g.DeviceTime.IsZero() {
		p.Add(field+".device_time", "required", "the device's time is required")
	}
	checkCoordinates(p, field+".", g.Lat, g.Lng)
	if !(g.AccuracyM >= 0) {
		p.Add(field+".accuracy_m", "out_of_range", "accuracy cannot be negative")
	}
}

// Validate checks a finding.
func (f *Finding) Validate(p *Problems, prefix string) {
	if f.VisitID == "" {
		p.Add(prefix+"visit_id", "required", "a finding belongs to a visit")
	}
	for _, count := range []struct {
		field string
		n     int
	}{{"staff_expected", f.StaffExpected}, {"staff_present", f.StaffPresent}, {"clients_waiting", f.ClientsWaiting}, {"desks_open", f.DesksOpen}} {
		if count.n < 0 {
			p.Add(prefix+count.field, "out_of_range", "counts cannot be negative")
		}
	}
	if f.StaffExpected >= 0 && f.StaffPresent > f.StaffExpected {
		p.Add(prefix+"staff_present", "more_than_expected", "more staff present than expected")
	}
	if len(f.Absentees) > 200 {
		p.Add(prefix+"absentees", "too_many", "at most 200 absentees")
	}
	for i, a := range f.Absentees {
		switch a.Reason {
		case AbsenceLeave, AbsenceMission, AbsenceUnexcused, AbsenceUnknown:
		default:
			p.Add(prefix+"absentees["+strconv.Itoa(i)+"].reason", "invalid", "leave, mission, unexcused or unknown")
		}
		if utf8.RuneCountInString(a.Name) > MaxName {
			p.Add(prefix+"absentees["+strconv.Itoa(i)+"].name", "too_long", "at most 200 characters")
		}
	}
	if f.ObservedAt.IsZero() {
		p.Add(prefix+"observed_at", "required", "when the inspector observed this")
	}
}

// Validate checks a call record.
func (c *CallRecord) Validate(p *Problems, prefix string) {
	if c.ComplaintID == "" {
		p.Add(prefix+"complaint_id", "required", "a call is about a complaint")
	}
	if strings.TrimSpace(c.Number) == "" {
		p.Add(prefix+"number", "required", "the number called")
	}
	if c.StartedAt.IsZero() {
		p.Add(prefix+"started_at", "required", "when the call started")
	}
	if c.DurationS < 0 || c.DurationS > 24*3600 {
		p.Add(prefix+"duration_s", "out_of_range", "0 to 86400 seconds")
	}
	switch c.Outcome {
	case CallReached, CallNoAnswer, CallBusy, CallWrongNumber:
	default:
		p.Add(prefix+"outcome", "invalid", "reached, no_answer, busy or wrong_number")
	}
	if utf8.RuneCountInString(c.Notes) > MaxNote {
		p.Add(prefix+"notes", "too_long", "at most 2000 characters")
	}
}

// Validate checks a note.
func (n *Note) Validate(p *Problems, prefix string) {
	if n.ComplaintID == "" && n.VisitID == "" {
		p.Add(prefix+"complaint_id", "required", "a note belongs to a complaint or a visit")
	}
	if IsBlank(n.Text) {
		p.Add(prefix+"text", "required", "the note is empty")
	} else if utf8.RuneCountInString(n.Text) > MaxNote {
		p.Add(prefix+"text", "too_long", "at most 2000 characters")
	}
}
