package inspector

import (
	"strings"
	"time"
)

// Role is what a user may do.
type Role string

// Roles.
const (
	RoleDispatcher Role = "dispatcher"
	RoleInspector  Role = "inspector"
	RoleSupervisor Role = "supervisor"
	RoleAdmin      Role = "admin"
	// RoleOffice is an office liaison: bound to one office or to an agency's
	// offices, it answers the complaints referred to them, never seeing the caller.
	RoleOffice Role = "office"
)

// Roles lists every role, in a stable order.
var Roles = []Role{RoleDispatcher, RoleInspector, RoleSupervisor, RoleAdmin, RoleOffice}

// Valid reports whether r is a known role.
func (r Role) Valid() bool {
	for _, x := range Roles {
		if r == x {
			return true
		}
	}
	return false
}

// SeesCaller reports whether users with role r may see a caller's identity.
// Inspectors never do: a named caller risks retaliation from the office.
func (r Role) SeesCaller() bool {
	return r == RoleDispatcher || r == RoleSupervisor || r == RoleAdmin
}

// Mode is how an inspector resolves complaints, and how dispatch routes one.
type Mode string

// Modes.
const (
	ModeField Mode = "field" // visits the office
	ModePhone Mode = "phone" // resolves by calling
)

// Valid reports whether m is a known mode.
func (m Mode) Valid() bool { return m == ModeField || m == ModePhone }

// Region is the part of the country whose reference data an inspector's
// devices sync. An empty Cities list means the whole province.
type Region struct {
	Province string   `json:"province"`
	Cities   []string `json:"cities,omitempty"`
}

// Covers reports whether the region includes an office in province and city.
func (r Region) Covers(province, city string) bool {
	if NormalizeText(r.Province) != NormalizeText(province) {
		return false
	}
	if len(r.Cities) == 0 {
		return true
	}
	city = NormalizeText(city)
	for _, c := range r.Cities {
		if NormalizeText(c) == city {
			return true
		}
	}
	return false
}

// User is a person who signs in to FAVAD.
type User struct {
	ID          string  `json:"id"`
	Username    string  `json:"username"`
	DisplayName string  `json:"display_name"`
	Role        Role    `json:"role"`
	Mode        Mode    `json:"mode,omitempty"` // inspectors only
	Region      *Region `json:"region,omitempty"`
	// OfficeCode or AgencyCode binds an office account (RoleOffice) to one
	// office, or to every office of one agency (within Region's province, if set).
	OfficeCode string    `json:"office_code,omitempty"`
	AgencyCode string    `json:"agency_code,omitempty"`
	Disabled   bool      `json:"disabled"`
	CreatedAt  time.Time `json:"created_at"`
}

// Agency is a government organisation, such as Social Security or a municipality.
type Agency struct {
	Code    string    `json:"code"`
	NameFa  string    `json:"name_fa"`
	NameEn  string    `json:"name_en,omitempty"`
	Deleted bool      `json:"deleted,omitempty"`
	Version uint64    `json:"version"`
	Updated time.Time `json:"updated_at"`
}

// Location is a point on the map, WGS84.
type Location struct {
	Lat float64 `json:"lat"`
	Lng float64 `json:"lng"`
}

// WorkingHours are an office's opening times, in Iran local time, "HH:MM".
type WorkingHours struct {
	Opens  string   `json:"opens"`
	Closes string   `json:"closes"`
	Days   []string `json:"days"` // e.g. ["sat","sun","mon","tue","wed"]
}

// Office is one branch of an agency at one address.
type Office struct {
	Code       string       `json:"code"`
	AgencyCode string       `json:"agency_code"`
	NameFa     string       `json:"name_fa"`
	Province   string       `json:"province"`
	City       string       `json:"city"`
	Address    string       `json:"address,omitempty"`
	Phone      string       `json:"phone,omitempty"`
	Location   *Location    `json:"location,omitempty"`
	Hours      WorkingHours `json:"hours"`
	Deleted    bool         `json:"deleted,omitempty"`
	Version    uint64       `json:"version"`
	Updated    time.Time    `json:"updated_at"`
}

// Category is what a complaint is about.
type Category string

// Categories, from the 128 hotline's remit.
const (
	CategoryAbsentEmployee Category = "absent_employee"
	CategoryNonWork        Category = "non_work_activity"
	CategoryClientCrowding Category = "client_crowding"
	CategoryOther          Category = "other"
)

// Categories lists every category.
var Categories = []Category{CategoryAbsentEmployee, CategoryNonWork, CategoryClientCrowding, CategoryOther}

// Valid reports whether c is a known category.
func (c Category) Valid() bool {
	for _, x := range Categories {
		if c == x {
			return true
		}
	}
	return false
}

// Priority decides a complaint's due time.
type Priority string

// Priorities, most urgent first.
const (
	PriorityUrgent Priority = "urgent"
	PriorityHigh   Priority = "high"
	PriorityNormal Priority = "normal"
	PriorityLow    Priority = "low"
)

// Priorities lists every priority, most urgent first.
var Priorities = []Priority{PriorityUrgent, PriorityHigh, PriorityNormal, PriorityLow}

// Valid reports whether p is a known priority.
func (p Priority) Valid() bool {
	for _, x := range Priorities {
		if p == x {
			return true
		}
	}
	return false
}

// Caller is the citizen who called 128. Only roles for which SeesCaller is
// true ever see it.
type Caller struct {
	Name  string `json:"name,omitempty"`
	Phone string `json:"phone,omitempty"`
}

// Assignment is dispatch's routing of a complaint to an inspector.
type Assignment struct {
	InspectorID string    `json:"inspector_id"`
	Mode        Mode      `json:"mode"`
	AssignedBy  string    `json:"assigned_by"`
	AssignedAt  time.Time `json:"assigned_at"`
	Note        string    `json:"note,omitempty"`
}

// Complaint is one 128 call about one office.
type Complaint struct {
	ID          string      `json:"id"`
	Number      uint64      `json:"number"` // short, human-readable, per store
	CallID      string      `json:"call_id"`
	Category    Category    `json:"category"`
	Description string      `json:"description"`
	CallTime    time.Time   `json:"call_time"`
	Caller      *Caller     `json:"caller,omitempty"`
	OfficeCode  string      `json:"office_code"`
	AgencyCode  string      `json:"agency_code"`
	Priority    Priority    `json:"priority"`
	DueAt       time.Time   `json:"due_at"`
	Status      Status      `json:"status"`
	Assignment  *Assignment `json:"assignment,omitempty"`
	Outcome     *Outcome    `json:"outcome,omitempty"`
	ReviewFrom  Status      `json:"review_from,omitempty"` // the status before needs_review, restored if dispatch accepts its own state
	// TrackingCode is what the caller is told, to ask after the complaint at
	// /v1/track: short, not guessable, and redacted with the caller.
	TrackingCode string    `json:"tracking_code,omitempty"`
	Referral     *Referral `json:"referral,omitempty"`
	// SLABreachedDue is the due time last reported as breached, and
	// SLABreachedEarlier those reported before it (a complaint's own due time
	// applies again when a referral is routed back to inspection), so that a
	// breach is reported once per complaint per due time (see BreachReported).
	SLABreachedDue     *time.Time  `json:"sla_breached_due,omitempty"`
	SLABreachedEarlier []time.Time `json:"sla_breached_earlier,omitempty"`
	CreatedBy          string      `json:"created_by"`
	CreatedAt          time.Time   `json:"created_at"`
	UpdatedAt          time.Time   `json:"updated_at"`
	Version            uint64      `json:"version"`
}

// ActiveDue is the due time that applies now: the office's answer is due
// while the complaint is referred to the workplace (under dispatch's review
// of a late outcome too: OfficeStatus); once the office has answered,
// dispatch decides by the later of the two due times (a referral answered
// in time is not a breach of the complaint's own due time); otherwise the
// complaint's due time.
func (c *Complaint) ActiveDue() time.Time {
	if c.Referral != nil {
		switch c.OfficeStatus() {
		case StatusReferredToWorkplace:
			return c.Referral.DueAt
		case StatusReferralAnswered:
			if c.Referral.DueAt.After(c.DueAt) {
				return c.Referral.DueAt
			}
		}
	}
	return c.DueAt
}

// BreachReported reports whether due was already reported as breached.
func (c *Complaint) BreachReported(due time.Time) bool {
	if c.SLABreachedDue != nil && c.SLABreachedDue.Equal(due) {
		return true
	}
	for _, t := range c.SLABreachedEarlier {
		if t.Equal(due) {
			return true
		}
	}
	return false
}

// ReferralOpenToOffice reports whether c is before its office: referred to
// the workplace and not routed to an inspector since, for an inspection is
// not announced to the office it inspects.
func (c *Complaint) ReferralOpenToOffice() bool {
	return c.Referral != nil && (c.Assignment == nil || !c.Assignment.AssignedAt.After(c.Referral.ReferredAt))
}

// OfficeStatus is c's status as its office sees it. While dispatch reviews
// an inspector's late outcome on a complaint referred to the workplace, that
// is the referral's own status: the review is dispatch's business, and the
// office's answer is still expected, and taken.
func (c *Complaint) OfficeStatus() Status {
	if c.Status == StatusNeedsReview && (c.ReviewFrom == StatusReferredToWorkplace || c.ReviewFrom == StatusReferralAnswered) {
		return c.ReviewFrom
	}
	return c.Status
}

// AssignedTo reports whether c is with inspector inspectorID now: assigned
// to them, in progress, or their outcome held for review, and not referred
// to the workplace since. The assignment stays on a complaint referred or
// closed later, as its history; it does not make it theirs.
func (c *Complaint) AssignedTo(inspectorID string) bool {
	if c.Assignment == nil || c.Assignment.InspectorID != inspectorID || c.ReferralOpenToOffice() {
		return false
	}
	switch c.Status {
	case StatusAssigned, StatusInProgress, StatusNeedsReview:
		return true
	}
	return false
}

// Overdue reports whether c is still open after its active due time.
func (c *Complaint) Overdue(now time.Time) bool {
	return !c.Status.Terminal() && now.After(c.ActiveDue())
}

// Redacted returns a copy of c fit for a user with role r: the caller is
// removed for every role that may not see it.
func (c Complaint) Redacted(r Role) Complaint {
	if !r.SeesCaller() {
		// The call center's call id is a key to the call's record, which
		// holds the caller's number: it goes with the caller.
		c.Caller, c.CallID, c.TrackingCode = nil, "", ""
	}
	return c
}

// ReferralAction is what the office says it did about a referred complaint.
type ReferralAction string

// Referral actions.
const (
	ReferralCorrected    ReferralAction = "corrected"     // the problem was put right
	ReferralDisciplinary ReferralAction = "disciplinary"  // action was taken against the staff concerned
	ReferralNotConfirmed ReferralAction = "not_confirmed" // the office found no such problem
	ReferralOther        ReferralAction = "other"
)

// Valid reports whether a is a known referral action.
func (a ReferralAction) Valid() bool {
	switch a {
	case ReferralCorrected, ReferralDisciplinary, ReferralNotConfirmed, ReferralOther:
		return true
	}
	return false
}

// Referral is dispatch's sending of a complaint to the office itself, and
// the office's acknowledgement and answer.
type Referral struct {
	ReferredAt     time.Time       `json:"referred_at"`
	ReferredBy     string          `json:"referred_by"`
	Note           string          `json:"note,omitempty"`
	DueAt          time.Time       `json:"due_at"`
	AcknowledgedAt *time.Time      `json:"acknowledged_at,omitempty"`
	AcknowledgedBy string          `json:"acknowledged_by,omitempty"`
	Answer         *ReferralAnswer `json:"answer,omitempty"`
}

// ReferralAnswer is the office's answer to a referred complaint.
type ReferralAnswer struct {
	Action      ReferralAction `json:"action"`
	Text        string         `json:"text"`
	AnsweredBy  string         `json:"answered_by"`
	AnsweredAt  time.Time      `json:"answered_at"`
	EvidenceIDs []string       `json:"evidence_ids,omitempty"`
}

// Covers reports whether an office account u answers for office o: its own
// office, or any office of its agency (within its region, if it has one).
func (u *User) Covers(o Office) bool {
	if u.Role != RoleOffice {
		return false
	}
	if u.OfficeCode != "" {
		return strings.EqualFold(u.OfficeCode, o.Code)
	}
	if u.AgencyCode == "" || !strings.EqualFold(u.AgencyCode, o.AgencyCode) {
		return false
	}
	return u.Region == nil || u.Region.Covers(o.Province, o.City)
}
