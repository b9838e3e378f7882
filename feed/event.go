package feed

import (
	"slices"
	"strings"
	"time"

	"github.com/favad/favad/inspector"
	favsync "github.com/favad/favad/sync"
)

// Event types: stable names clients switch on.
const (
	TypeComplaintCreated     = "complaint.created"
	TypeComplaintRouted      = "complaint.routed" // assigned, reassigned or referred
	TypeComplaintWithdrawn   = "complaint.withdrawn"
	TypeComplaintStarted     = "complaint.started"
	TypeVisitCheckIn         = "visit.check_in"
	TypeVisitCheckOut        = "visit.check_out"
	TypeFindingRecorded      = "finding.recorded"
	TypeCallRecorded         = "call.recorded"
	TypeEvidenceStored       = "evidence.stored"
	TypeEvidenceFlagged      = "evidence.flagged" // stored, with flags
	TypeEvidenceRejected     = "evidence.rejected"
	TypeComplaintOutcome     = "complaint.outcome"
	TypeComplaintNeedsReview = "complaint.needs_review"
	TypeConflictOpened       = "conflict.opened"
	TypeConflictSettled      = "conflict.settled"
	TypeSLABreached          = "complaint.sla_breached"
	TypeReferralAcknowledged = "referral.acknowledged"
	TypeReferralAnswered     = "referral.answered"
	TypeComplaintClosed      = "complaint.closed"
	TypeComplaintReviewed    = "complaint.reviewed"
	// TypeComplaintEscalated: a phone inspector handed the complaint back
	// for routing to a field visit (routing.action "escalated").
	TypeComplaintEscalated = "complaint.escalated"
)

// Types lists every event type, in a stable order.
var Types = []string{
	TypeComplaintCreated, TypeComplaintRouted, TypeComplaintWithdrawn, TypeComplaintStarted,
	TypeVisitCheckIn, TypeVisitCheckOut, TypeFindingRecorded, TypeCallRecorded,
	TypeEvidenceStored, TypeEvidenceFlagged, TypeEvidenceRejected,
	TypeComplaintOutcome, TypeComplaintNeedsReview, TypeConflictOpened, TypeConflictSettled,
	TypeSLABreached, TypeReferralAcknowledged, TypeReferralAnswered, TypeComplaintClosed, TypeComplaintReviewed,
	TypeComplaintEscalated,
}

// Event is one entry of the live feed: what happened, and a summary of the
// complaint it concerns as it stands now, so that a board updates without a
// second request. It never carries the caller, the call center's call id,
// the tracking code, the complaint's description or an absentee's name.
type Event struct {
	ID   uint64    `json:"id"` // the change-log sequence; also the SSE id
	Type string    `json:"type"`
	At   time.Time `json:"at"` // server time of the change

	ComplaintID     string             `json:"complaint_id,omitempty"`
	ComplaintNumber uint64             `json:"complaint_number,omitempty"`
	Status          inspector.Status   `json:"status,omitempty"` // current, not as of the change
	Category        inspector.Category `json:"category,omitempty"`
	Priority        inspector.Priority `json:"priority,omitempty"`
	DueAt           *time.Time         `json:"due_at,omitempty"` // the due time that runs now (the referral's while referred)
	OfficeCode      string             `json:"office_code,omitempty"`
	OfficeName      string             `json:"office_name,omitempty"`
	AgencyCode      string             `json:"agency_code,omitempty"`
	AgencyName      string             `json:"agency_name,omitempty"`
	Province        string             `json:"province,omitempty"`
	Actor           *Actor             `json:"actor,omitempty"`
	Device          string             `json:"device,omitempty"`

	// One of these, according to Type.
	Routing  *Routing               `json:"routing,omitempty"`
	Visit    *VisitMark             `json:"visit,omitempty"`
	Finding  *Attendance            `json:"finding,omitempty"`
	Call     *CallSummary           `json:"call,omitempty"`
	Evidence *EvidenceSummary       `json:"evidence,omitempty"`
	Outcome  inspector.OutcomeValue `json:"outcome,omitempty"` // complaint.outcome and complaint.closed
	Conflict *ConflictSummary       `json:"conflict,omitempty"`
	SLA      *SLABreach             `json:"sla,omitempty"`
	Referral *ReferralStep          `json:"referral,omitempty"`
}

// Actor is who made the change: a user, or "system" with no name.
type Actor struct {
	ID   string         `json:"id"`
	Name string         `json:"name,omitempty"`
	Role inspector.Role `json:"role,omitempty"`
}

// Routing is dispatch's routing of a complaint.
type Routing struct {
	Action              string         `json:"action"` // assigned, reassigned, referred, or escalated (by the phone inspector, back to dispatch)
	InspectorID         string         `json:"inspector_id,omitempty"`
	Mode                inspector.Mode `json:"mode,omitempty"`
	PreviousInspectorID string         `json:"previous_inspector_id,omitempty"`
	DueAt               *time.Time     `json:"due_at,omitempty"` // a referral's answer is due
}

// VisitMark is a check-in or check-out, at the device's time.
type VisitMark struct {
	VisitID     string `json:"visit_id"`
	InspectorID string `json:"inspector_id"`
	// ComplaintIDs are every complaint the visit covers; the event's
	// complaint_id is the first of them.
	ComplaintIDs []string   `json:"complaint_ids,omitempty"`
	CheckInAt    *time.Time `json:"check_in_at,omitempty"`
	CheckOutAt   *time.Time `json:"check_out_at,omitempty"`
}

// Attendance is what a finding counted. Absentees are counted by reason;
// their names stay in the finding.
type Attendance struct {
	FindingID string `json:"finding_id"`
	VisitID   string `json:"visit_id"`
	// ComplaintIDs are the complaints the finding is about: its own, or
	// when it names none, every complaint its visit covers.
	ComplaintIDs   []string      `json:"complaint_ids,omitempty"`
	StaffExpected  int           `json:"staff_expected"`
	StaffPresent   int           `json:"staff_present"`
	Absentees      AbsenceCounts `json:"absentees"`
	NonWork        int           `json:"non_work"` // non-work activities seen
	ClientsWaiting int           `json:"clients_waiting"`
	DesksOpen      int           `json:"desks_open"`
}

// AbsenceCounts counts absentees by reason.
type AbsenceCounts struct {
	Leave     int `json:"leave"`
	Mission   int `json:"mission"`
	Unexcused int `json:"unexcused"`
	Unknown   int `json:"unknown"`
}

// CallSummary is a phone inspector's call to the office, without the person
// or number called.
type CallSummary struct {
	RecordID  string                `json:"record_id"`
	Outcome   inspector.CallOutcome `json:"outcome"`
	DurationS int                   `json:"duration_s"`
}

// EvidenceSummary is an evidence item whose bytes were stored or refused.
type EvidenceSummary struct {
	EvidenceID  string                 `json:"evidence_id"`
	Kind        inspector.EvidenceKind `json:"kind"`
	ContentType string                 `json:"content_type,omitempty"`
	Flags       []string               `json:"flags,omitempty"`
	Reason      string                 `json:"reason,omitempty"` // why rejected
}

// ConflictSummary names a conflict record; dispatch reads it at /v1/conflicts/{id}.
type ConflictSummary struct {
	ConflictID string          `json:"conflict_id"`
	Label      inspector.Label `json:"label,omitempty"`
	Rule       inspector.Rule  `json:"rule,omitempty"`
	RecordKind string          `json:"record_kind,omitempty"`
	Field      string          `json:"field,omitempty"`
	Resolution string          `json:"resolution,omitempty"` // accept or overrule, once settled
}

// SLABreach is a due time passed without an outcome (or a referral answer).
type SLABreach struct {
	DueAt time.Time `json:"due_at"`
	Kind  string    `json:"kind"` // complaint or referral
}

// ReferralStep is an office's acknowledgement of, or answer to, a referral.
type ReferralStep struct {
	Action string     `json:"action,omitempty"` // the answer's action taken
	DueAt  *time.Time `json:"due_at,omitempty"` // when the answer is (was) due
}

// FromChange derives the feed's event from one change and the records it
// concerns (their current state). It reports false for changes dispatch
// does not watch: users, sessions, devices, notes, thumbnails, reference
// data, a complaint's category or priority edit (the conflict settled in the
// same transaction carries the new values), automatic merges.
func FromChange(v favsync.ChangeView) (Event, bool) {
	e := Event{ID: v.Seq, At: v.At.UTC(), Device: v.Device}
	if !detail(&e, v) {
		return Event{}, false
	}
	summarize(&e, v)
	return e, true
}

// detail sets e's type and its type's detail; false if v is not watched.
func detail(e *Event, v favsync.ChangeView) bool {
	switch v.Kind {
	case favsync.KindComplaint:
		return complaintDetail(e, v)
	case favsync.KindVisit:
		if v.Visit == nil || (v.Action != favsync.ActionCreated && v.Action != favsync.ActionUpdated) {
			return false
		}
		fields := strings.Split(v.Data["fields"], ",")
		in, out := has(fields, "check_in"), has(fields, "check_out")
		switch {
		case out: // a change writing both is the later of the two moments
			e.Type = TypeVisitCheckOut
		case in:
			e.Type = TypeVisitCheckIn
		default:
			return false
		}
		m := &VisitMark{VisitID: v.Visit.ID, InspectorID: v.Visit.InspectorID, ComplaintIDs: slices.Clone(v.Visit.ComplaintIDs)}
		if s := v.Visit.CheckIn; s != nil {
			m.CheckInAt = utc(s.DeviceTime)
		}
		if s := v.Visit.CheckOut; s != nil {
			m.CheckOutAt = utc(s.DeviceTime)
		}
		e.Visit = m
		return true
	case favsync.KindFinding:
		f := v.Finding
		if f == nil || v.Action != favsync.ActionCreated {
			return false
		}
		a := &Attendance{FindingID: f.ID, VisitID: f.VisitID, StaffExpected: f.StaffExpected, StaffPresent: f.StaffPresent,
			NonWork: len(f.NonWork), ClientsWaiting: f.ClientsWaiting, DesksOpen: f.DesksOpen}
		switch {
		case f.ComplaintID != "":
			a.ComplaintIDs = []string{f.ComplaintID}
		case v.Visit != nil:
			a.ComplaintIDs = slices.Clone(v.Visit.ComplaintIDs)
		}
		for _, ab := range f.Absentees {
			switch ab.Reason {
			case inspector.AbsenceLeave:
				a.Absentees.Leave++
			case inspector.AbsenceMission:
				a.Absentees.Mission++
			case inspector.AbsenceUnexcused:
				a.Absentees.Unexcused++
			default:
				a.Absentees.Unknown++
			}
		}
		e.Type, e.Finding = TypeFindingRecorded, a
		return true
	case favsync.KindCall:
		c := v.Call
		if c == nil || v.Action != favsync.ActionCreated {
			return false
		}
		e.Type, e.Call = TypeCallRecorded, &CallSummary{RecordID: c.ID, Outcome: c.Outcome, DurationS: c.DurationS}
		return true
	case favsync.KindEvidence:
		return evidenceDetail(e, v)
	case favsync.KindConflict:
		c := v.Conflict
		if c == nil {
			return false
		}
		s := &ConflictSummary{ConflictID: c.ID, Label: c.Label, Rule: c.Rule, RecordKind: c.RecordKind, Field: c.Field}
		switch {
		case v.Action == favsync.ActionCreated:
			if c.Label == inspector.LabelParallelUpdate {
				return false // merged automatically, both changes kept: nothing to review
			}
			e.Type = TypeConflictOpened
		case v.Action == "resolved" || strings.HasPrefix(v.Action, "resolved_"):
			e.Type = TypeConflictSettled
			if s.Resolution = strings.TrimPrefix(v.Action, "resolved_"); s.Resolution == "resolved" && c.Resolution != nil {
				s.Resolution = c.Resolution.Action
			}
		default:
			return false
		}
		e.Conflict = s
		return true
	}
	return false
}

func complaintDetail(e *Event, v favsync.ChangeView) bool {
	d := v.Data
	switch v.Action {
	case favsync.ActionCreated:
		e.Type = TypeComplaintCreated
	case favsync.ActionAssigned, favsync.ActionReassigned, favsync.ActionReferred:
		e.Type = TypeComplaintRouted
		e.Routing = &Routing{Action: v.Action, InspectorID: d["inspector"], Mode: inspector.Mode(d["mode"]),
			PreviousInspectorID: d["previous_inspector"], DueAt: parseTime(d["due_at"])}
	case favsync.ActionWithdrawn:
		e.Type = TypeComplaintWithdrawn // the reason is free text, kept off the feed
	case favsync.ActionEscalated:
		// Back to dispatch for a field visit; the reason (free text) is in the history.
		e.Type = TypeComplaintEscalated
		e.Routing = &Routing{Action: v.Action, Mode: inspector.Mode(d["mode"]), PreviousInspectorID: d["previous_inspector"]}
	case "started":
		e.Type = TypeComplaintStarted
	case "outcome":
		e.Type, e.Outcome = TypeComplaintOutcome, inspector.OutcomeValue(d["outcome"])
	case favsync.ActionClosed:
		e.Type, e.Outcome = TypeComplaintClosed, inspector.OutcomeValue(d["outcome"])
	case "needs_review":
		e.Type, e.Conflict = TypeComplaintNeedsReview, &ConflictSummary{ConflictID: d["conflict"]}
	case "review_accept", "review_overrule":
		e.Type = TypeComplaintReviewed
		e.Conflict = &ConflictSummary{ConflictID: d["conflict"], Resolution: strings.TrimPrefix(v.Action, "review_")}
	case favsync.ActionSLABreached:
		due := parseTime(d["due_at"])
		if due == nil {
			return false
		}
		kind := d["sla"]
		if kind == "" {
			kind = "complaint"
		}
		e.Type, e.SLA = TypeSLABreached, &SLABreach{DueAt: *due, Kind: kind}
	case favsync.ActionReferralAcknowledged, favsync.ActionReferralAnswered:
		e.Type = TypeReferralAcknowledged
		r := &ReferralStep{}
		if v.Action == favsync.ActionReferralAnswered {
			e.Type, r.Action = TypeReferralAnswered, d["action"]
		}
		if c := v.Complaint; c != nil && c.Referral != nil {
			r.DueAt = utc(c.Referral.DueAt)
		}
		e.Referral = r
	default:
		return false
	}
	return true
}

// evidenceDetail maps the moments an evidence item's bytes were settled:
// "stored" and "rejected" when the bytes came after the record, and
// "created" when they came first (the record is stored at once).
func evidenceDetail(e *Event, v favsync.ChangeView) bool {
	x := v.Evidence
	if x == nil {
		return false
	}
	var status inspector.EvidenceStatus
	switch v.Action {
	case string(inspector.EvidenceStored), string(inspector.EvidenceRejected):
		status = inspector.EvidenceStatus(v.Action)
	case favsync.ActionCreated:
		// The change says whether the bytes were already there.
		switch inspector.EvidenceStatus(v.Data["status"]) {
		case inspector.EvidenceStored, inspector.EvidenceRejected:
			status = inspector.EvidenceStatus(v.Data["status"])
		case inspector.EvidenceAwaitingUpload:
			return false // the upload makes the event
		}
		if status != "" {
			break
		}
		// Entries written before the status was logged: the record tells.
		// Stored in this very change: its StoredAt is the change's time.
		// Rejected in it: nothing changed the record since.
		switch {
		case x.Status == inspector.EvidenceStored && x.StoredAt != nil && x.StoredAt.Equal(v.At):
			status = inspector.EvidenceStored
		case x.Status == inspector.EvidenceRejected && x.Version == v.Seq:
			status = inspector.EvidenceRejected
		default:
			return false // awaiting its bytes; the upload makes the event
		}
	default:
		return false // thumbnails
	}
	s := &EvidenceSummary{EvidenceID: x.ID, Kind: x.Kind, ContentType: x.SniffedType}
	if s.ContentType == "" {
		s.ContentType = x.ContentType
	}
	if status == inspector.EvidenceRejected {
		e.Type, s.Reason = TypeEvidenceRejected, v.Data["reason"]
		if s.Reason == "" {
			s.Reason = x.Reason
		}
	} else {
		e.Type = TypeEvidenceStored
		if len(x.Flags) > 0 {
			e.Type, s.Flags = TypeEvidenceFlagged, append([]string(nil), x.Flags...)
		}
	}
	e.Evidence = s
	return true
}

// summarize fills the complaint, office, agency and actor summary.
func summarize(e *Event, v favsync.ChangeView) {
	e.ComplaintID = v.ComplaintID
	if c := v.Complaint; c != nil {
		// Named fields only: the caller, call id, tracking code and
		// description never leave the complaint.
		e.ComplaintID, e.ComplaintNumber = c.ID, c.Number
		e.Status, e.Category, e.Priority = c.Status, c.Category, c.Priority
		if due := c.ActiveDue(); !due.IsZero() {
			e.DueAt = utc(due)
		}
		e.OfficeCode, e.AgencyCode = c.OfficeCode, c.AgencyCode
	}
	if o := v.Office; o != nil {
		e.OfficeCode, e.OfficeName, e.Province = o.Code, o.NameFa, o.Province
		if e.AgencyCode == "" {
			e.AgencyCode = o.AgencyCode
		}
	}
	if e.OfficeCode == "" && v.Visit != nil {
		e.OfficeCode = v.Visit.OfficeCode
	}
	if a := v.Agency; a != nil {
		e.AgencyCode, e.AgencyName = a.Code, a.NameFa
	}
	switch {
	case v.ActorUser != nil:
		e.Actor = &Actor{ID: v.ActorUser.ID, Name: v.ActorUser.DisplayName, Role: v.ActorUser.Role}
	case v.Actor != "":
		e.Actor = &Actor{ID: v.Actor}
	}
}

func has(list []string, s string) bool {
	for _, x := range list {
		if strings.TrimSpace(x) == s {
			return true
		}
	}
	return false
}

func utc(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

func parseTime(s string) *time.Time {
	if s == "" {
		return nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return nil
	}
	return utc(t)
}
