package server

import (
	"time"

	"github.com/favad/favad/inspector"
	favsync "github.com/favad/favad/sync"
)

// The API's JSON shapes. They mirror api-spec/openapi.yaml; domain types never
// go on the wire directly, so that the store's layout can change freely.

type loginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
	DeviceID string `json:"device_id"`
	// Cookie asks for the refresh token in an HttpOnly cookie instead of
	// the body: the web console's way, so that script cannot read it.
	Cookie bool `json:"cookie"`
}

type logoutRequest struct {
	// Everywhere ends every session of the user, on every device.
	Everywhere bool `json:"everywhere"`
}

type refreshRequest struct {
	RefreshToken string `json:"refresh_token"`
}

type tokenResponse struct {
	AccessToken      string    `json:"access_token"`
	TokenType        string    `json:"token_type"`
	ExpiresIn        int       `json:"expires_in"`
	ExpiresAt        time.Time `json:"expires_at"`
	RefreshToken     string    `json:"refresh_token,omitempty"` // absent when it went into the console's cookie
	RefreshExpiresAt time.Time `json:"refresh_expires_at"`
	User             userWire  `json:"user"`
}

type regionWire struct {
	Province string   `json:"province"`
	Cities   []string `json:"cities"`
}

type userWire struct {
	ID          string      `json:"id"`
	Username    string      `json:"username"`
	DisplayName string      `json:"display_name"`
	Role        string      `json:"role"`
	Mode        string      `json:"mode,omitempty"`
	Region      *regionWire `json:"region,omitempty"`
	OfficeCode  string      `json:"office_code,omitempty"`
	AgencyCode  string      `json:"agency_code,omitempty"`
	Disabled    bool        `json:"disabled"`
}

func toUserWire(u inspector.User) userWire {
	w := userWire{ID: u.ID, Username: u.Username, DisplayName: u.DisplayName, Role: string(u.Role), Mode: string(u.Mode),
		OfficeCode: u.OfficeCode, AgencyCode: u.AgencyCode, Disabled: u.Disabled}
	if u.Region != nil {
		w.Region = &regionWire{Province: u.Region.Province, Cities: append([]string{}, u.Region.Cities...)}
	}
	return w
}

// personWire is an account as the console names it: no username, region or office.
type personWire struct {
	ID          string `json:"id"`
	DisplayName string `json:"display_name"`
	Role        string `json:"role"`
	Disabled    bool   `json:"disabled"`
}

func toPersonWire(u inspector.User) personWire {
	return personWire{ID: u.ID, DisplayName: u.DisplayName, Role: string(u.Role), Disabled: u.Disabled}
}

// inspectorWire is an inspector as dispatch chooses one: the account, the
// complaints they hold open and where they last checked in.
type inspectorWire struct {
	userWire
	Open         int           `json:"open"`
	LastPosition *positionWire `json:"last_position,omitempty"`
}

type positionWire struct {
	Lat float64   `json:"lat"`
	Lng float64   `json:"lng"`
	At  time.Time `json:"at"`
}

func toInspectorWire(u inspector.User, l favsync.InspectorLoad) inspectorWire {
	w := inspectorWire{userWire: toUserWire(u), Open: l.Open}
	if p := l.LastCheckIn; p != nil {
		w.LastPosition = &positionWire{Lat: p.Lat, Lng: p.Lng, At: p.DeviceTime}
	}
	return w
}

type callerWire struct {
	Name  string `json:"name"`
	Phone string `json:"phone"`
}

type newComplaintRequest struct {
	CallID      string      `json:"call_id"`
	Category    string      `json:"category"`
	Description string      `json:"description"`
	CallTime    time.Time   `json:"call_time"`
	Caller      *callerWire `json:"caller"`
	OfficeCode  string      `json:"office_code"`
	Priority    string      `json:"priority"`
}

func (r newComplaintRequest) toDomain() inspector.NewComplaint {
	n := inspector.NewComplaint{CallID: r.CallID, Category: inspector.Category(r.Category), Description: r.Description,
		CallTime: r.CallTime, OfficeCode: r.OfficeCode, Priority: inspector.Priority(r.Priority)}
	if r.Caller != nil {
		n.Caller = inspector.Caller{Name: r.Caller.Name, Phone: r.Caller.Phone}
	}
	return n
}

type assignmentWire struct {
	InspectorID string    `json:"inspector_id"`
	Mode        string    `json:"mode"`
	AssignedBy  string    `json:"assigned_by"`
	AssignedAt  time.Time `json:"assigned_at"`
	Note        string    `json:"note,omitempty"`
}

// outcomeWire is the inspector's conclusion on a closed complaint.
type outcomeWire struct {
	Value       string    `json:"value"`
	Statement   string    `json:"statement"`
	InspectorID string    `json:"inspector_id"`
	RecordedAt  time.Time `json:"recorded_at"`
	ClosedBy    string    `json:"closed_by,omitempty"`
}

type historyWire struct {
	Seq      uint64            `json:"seq"`
	Kind     string            `json:"kind"`      // the record changed: the complaint, or its visit, finding, evidence…
	RecordID string            `json:"record_id"` // that record's id
	Action   string            `json:"action"`
	Actor    string            `json:"actor"`
	Device   string            `json:"device,omitempty"`
	At       time.Time         `json:"at"`
	Data     map[string]string `json:"data,omitempty"`
}

type complaintWire struct {
	ID          string          `json:"id"`
	Number      uint64          `json:"number"`
	CallID      string          `json:"call_id"`
	Category    string          `json:"category"`
	Description string          `json:"description"`
	CallTime    time.Time       `json:"call_time"`
	Caller      *callerWire     `json:"caller,omitempty"`
	OfficeCode  string          `json:"office_code"`
	AgencyCode  string          `json:"agency_code"`
	Priority    string          `json:"priority"`
	DueAt       time.Time       `json:"due_at"`
	Overdue     bool            `json:"overdue"`
	Status      string          `json:"status"`
	Assignment  *assignmentWire `json:"assignment,omitempty"`
	Outcome     *outcomeWire    `json:"outcome,omitempty"`
	Referral    *referralWire   `json:"referral,omitempty"`
	// TrackingCode goes with the caller: only roles that see the caller get it.
	TrackingCode   string        `json:"tracking_code,omitempty"`
	SLABreachedDue *time.Time    `json:"sla_breached_due,omitempty"`
	CreatedBy      string        `json:"created_by"`
	CreatedAt      time.Time     `json:"created_at"`
	UpdatedAt      time.Time     `json:"updated_at"`
	Version        uint64        `json:"version"`
	History        []historyWire `json:"history,omitempty"`
}

// toComplaintWire converts c for a caller with role: the caller's identity is
// removed for every role that may not see it, and the assignment (the
// inspector, dispatch's note to them) for an office.
func toComplaintWire(c inspector.Complaint, role inspector.Role, now time.Time) complaintWire {
	c = c.Redacted(role)
	w := complaintWire{ID: c.ID, Number: c.Number, CallID: c.CallID, Category: string(c.Category), Description: c.Description,
		CallTime: c.CallTime, OfficeCode: c.OfficeCode, AgencyCode: c.AgencyCode, Priority: string(c.Priority), DueAt: c.DueAt,
		Overdue: c.Overdue(now), Status: string(c.Status), CreatedBy: c.CreatedBy, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt, Version: c.Version,
		TrackingCode: c.TrackingCode, SLABreachedDue: c.SLABreachedDue}
	if r := c.Referral; r != nil {
		w.Referral = &referralWire{ReferredAt: r.ReferredAt, ReferredBy: r.ReferredBy, Note: r.Note, DueAt: r.DueAt,
			AcknowledgedAt: r.AcknowledgedAt, AcknowledgedBy: r.AcknowledgedBy}
		if a := r.Answer; a != nil {
			w.Referral.Answer = &referralAnswerWire{Action: string(a.Action), Text: a.Text, AnsweredBy: a.AnsweredBy, AnsweredAt: a.AnsweredAt, EvidenceIDs: a.EvidenceIDs}
		}
	}
	if c.Caller != nil {
		// Stored as digits since issue 11; a record from before may hold dashes.
		w.Caller = &callerWire{Name: c.Caller.Name, Phone: inspector.NormalizePhone(c.Caller.Phone)}
	}
	if role == inspector.RoleOffice {
		w.Status = string(c.OfficeStatus()) // dispatch's review of an inspector's outcome is not the office's to see
	}
	if a := c.Assignment; a != nil && role != inspector.RoleOffice { // the inspectors' work is not the office's to see
		w.Assignment = &assignmentWire{InspectorID: a.InspectorID, Mode: string(a.Mode), AssignedBy: a.AssignedBy, AssignedAt: a.AssignedAt, Note: a.Note}
	}
	if o := c.Outcome; o != nil {
		w.Outcome = &outcomeWire{Value: string(o.Value), Statement: o.Statement, InspectorID: o.InspectorID, RecordedAt: o.RecordedAt, ClosedBy: o.ClosedBy}
		if role == inspector.RoleOffice && o.InspectorID != "" {
			// An inspector's conclusion (a complaint referred after it was
			// assigned, whose late outcome dispatch applied): the office
			// learns the result, not who inspected it or what they reported.
			w.Outcome.Statement, w.Outcome.InspectorID = "", ""
		}
	}
	return w
}

func toHistoryWire(h []favsync.Change) []historyWire {
	out := make([]historyWire, len(h))
	for i, ch := range h {
		out[i] = historyWire{Seq: ch.Seq, Kind: ch.Kind, RecordID: ch.ID, Action: ch.Action, Actor: ch.Actor, Device: ch.Device, At: ch.At, Data: ch.Data}
	}
	return out
}

type complaintPage struct {
	Items      []complaintWire `json:"items"`
	NextCursor string          `json:"next_cursor,omitempty"`
}

type assignRequest struct {
	InspectorID string `json:"inspector_id"`
	Mode        string `json:"mode"`
	Note        string `json:"note"`
}

type referRequest struct {
	Note string `json:"note"`
}

type referralWire struct {
	ReferredAt     time.Time           `json:"referred_at"`
	ReferredBy     string              `json:"referred_by"`
	Note           string              `json:"note,omitempty"`
	DueAt          time.Time           `json:"due_at"`
	AcknowledgedAt *time.Time          `json:"acknowledged_at,omitempty"`
	AcknowledgedBy string              `json:"acknowledged_by,omitempty"`
	Answer         *referralAnswerWire `json:"answer,omitempty"`
}

type referralAnswerWire struct {
	Action      string    `json:"action"`
	Text        string    `json:"text"`
	AnsweredBy  string    `json:"answered_by"`
	AnsweredAt  time.Time `json:"answered_at"`
	EvidenceIDs []string  `json:"evidence_ids,omitempty"`
}

type referralAnswerRequest struct {
	Action      string           `json:"action"`
	Text        string           `json:"text"`
	Attachments []attachmentWire `json:"attachments"`
}

type attachmentWire struct {
	ID          string `json:"id"`
	Kind        string `json:"kind"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
	SHA256      string `json:"sha256"`
	Note        string `json:"note"`
}

type closeRequest struct {
	Outcome   string `json:"outcome"`
	Statement string `json:"statement"`
}

type withdrawRequest struct {
	Reason string `json:"reason"`
}

type agencyWire struct {
	Code      string    `json:"code"`
	NameFa    string    `json:"name_fa"`
	NameEn    string    `json:"name_en"`
	Deleted   bool      `json:"deleted,omitempty"`
	Version   uint64    `json:"version,omitempty"`
	UpdatedAt time.Time `json:"updated_at,omitzero"`
}

func toAgencyWire(a inspector.Agency) agencyWire {
	return agencyWire{Code: a.Code, NameFa: a.NameFa, NameEn: a.NameEn, Deleted: a.Deleted, Version: a.Version, UpdatedAt: a.Updated}
}

// agencyRequest is what an admin sends to create or replace an agency.
type agencyRequest struct {
	Code   string `json:"code"`
	NameFa string `json:"name_fa"`
	NameEn string `json:"name_en"`
}

func (w agencyRequest) toDomain() inspector.Agency {
	return inspector.Agency{Code: w.Code, NameFa: w.NameFa, NameEn: w.NameEn}
}

type locationWire struct {
	Lat float64 `json:"lat"`
	Lng float64 `json:"lng"`
}

type hoursWire struct {
	Opens  string   `json:"opens"`
	Closes string   `json:"closes"`
	Days   []string `json:"days"`
}

type officeWire struct {
	Code       string        `json:"code"`
	AgencyCode string        `json:"agency_code"`
	NameFa     string        `json:"name_fa"`
	Province   string        `json:"province"`
	City       string        `json:"city"`
	Address    string        `json:"address"`
	Phone      string        `json:"phone"`
	Location   *locationWire `json:"location,omitempty"`
	Hours      hoursWire     `json:"hours"`
	Deleted    bool          `json:"deleted,omitempty"`
	Liaison    *bool         `json:"liaison,omitempty"` // listed and read offices only: an office account answers for it
	Version    uint64        `json:"version,omitempty"`
	UpdatedAt  time.Time     `json:"updated_at,omitzero"`
}

func toOfficeWire(o inspector.Office) officeWire {
	w := officeWire{Code: o.Code, AgencyCode: o.AgencyCode, NameFa: o.NameFa, Province: o.Province, City: o.City,
		Address: o.Address, Phone: o.Phone, Hours: hoursWire{Opens: o.Hours.Opens, Closes: o.Hours.Closes, Days: append([]string{}, o.Hours.Days...)},
		Deleted: o.Deleted, Version: o.Version, UpdatedAt: o.Updated}
	if o.Location != nil {
		w.Location = &locationWire{Lat: o.Location.Lat, Lng: o.Location.Lng}
	}
	return w
}

// officeRequest is what an admin sends to create or replace an office.
type officeRequest struct {
	Code       string        `json:"code"`
	AgencyCode string        `json:"agency_code"`
	NameFa     string        `json:"name_fa"`
	Province   string        `json:"province"`
	City       string        `json:"city"`
	Address    string        `json:"address"`
	Phone      string        `json:"phone"`
	Location   *locationWire `json:"location"`
	Hours      hoursWire     `json:"hours"`
}

func (w officeRequest) toDomain() inspector.Office {
	o := inspector.Office{Code: w.Code, AgencyCode: w.AgencyCode, NameFa: w.NameFa, Province: w.Province, City: w.City,
		Address: w.Address, Phone: w.Phone, Hours: inspector.WorkingHours{Opens: w.Hours.Opens, Closes: w.Hours.Closes, Days: append([]string{}, w.Hours.Days...)}}
	if w.Location != nil {
		o.Location = &inspector.Location{Lat: w.Location.Lat, Lng: w.Location.Lng}
	}
	return o
}

type deviceWire struct {
	ID        string     `json:"id"`
	UserID    string     `json:"user_id"`
	FirstSeen time.Time  `json:"first_seen"`
	LastSeen  time.Time  `json:"last_seen"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
	RevokedBy string     `json:"revoked_by,omitempty"`
	Push      *pushWire  `json:"push,omitempty"`
}

// pushWire describes a device's push registration; the token itself is not shown.
type pushWire struct {
	Platform    string    `json:"platform"`
	AppVersion  string    `json:"app_version"`
	Locale      string    `json:"locale"`
	ConfirmedAt time.Time `json:"confirmed_at"`
}

func toDeviceWire(d favsync.Device) deviceWire {
	w := deviceWire{ID: d.ID, UserID: d.UserID, FirstSeen: d.FirstSeen, LastSeen: d.LastSeen, RevokedAt: d.RevokedAt, RevokedBy: d.RevokedBy}
	if p := d.Push; p != nil {
		w.Push = &pushWire{Platform: p.Platform, AppVersion: p.AppVersion, Locale: p.Locale, ConfirmedAt: p.ConfirmedAt}
	}
	return w
}

type listWire[T any] struct {
	Items []T `json:"items"`
}

func mapSlice[T, U any](xs []T, f func(T) U) []U {
	out := make([]U, len(xs))
	for i, x := range xs {
		out[i] = f(x)
	}
	return out
}
