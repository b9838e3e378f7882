package sync

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/favad/favad/inspector"
)

// Change-log actions on complaints.
const (
	ActionCreated    = "created"
	ActionAssigned   = "assigned"
	ActionReassigned = "reassigned"
	ActionReferred   = "referred"
	ActionWithdrawn  = "withdrawn"
	// ActionEscalated: a phone inspector handed the complaint back to
	// dispatch for a field visit (complaint.escalate).
	ActionEscalated = "escalated"
	ActionUpdated   = "updated"
	ActionDeleted   = "deleted"
)

// CreateComplaint records a new complaint from a 128 call. It is idempotent on
// the call id: the same call entered twice returns the stored complaint and
// created=false; the same call id with different content is refused with
// CodeIdempotencyClash.
func (s *Store) CreateComplaint(actor Actor, n inspector.NewComplaint) (c inspector.Complaint, created bool, err error) {
	n.Normalize()
	if err := n.Validate(s.now()); err != nil {
		return c, false, err
	}
	err = s.update(actor, func(t *tx) error {
		complaints := t.Bucket(bucketComplaints)
		if id := t.Bucket(bucketCallIDs).Get([]byte(n.CallID)); id != nil {
			if _, err := getJSON(complaints, id, &c); err != nil {
				return err
			}
			if !sameIntake(c, n) {
				return &inspector.Error{Code: inspector.CodeIdempotencyClash,
					Message: fmt.Sprintf("call %q was already entered as complaint %d with different content", n.CallID, c.Number),
					Fields:  []inspector.FieldError{{Field: "call_id", Code: "already_used", Message: "this call id belongs to another complaint"}}}
			}
			return nil
		}
		var office inspector.Office
		ok, err := getJSON(t.Bucket(bucketOffices), []byte(n.OfficeCode), &office)
		if err != nil {
			return err
		}
		if !ok || office.Deleted {
			return &inspector.Error{Code: inspector.CodeInvalid, Message: "the request has invalid fields",
				Fields: []inspector.FieldError{{Field: "office_code", Code: "unknown", Message: fmt.Sprintf("no office with code %q", n.OfficeCode)}}}
		}
		number, err := complaints.NextSequence()
		if err != nil {
			return err
		}
		caller := n.Caller
		c = inspector.Complaint{
			ID: s.newID(), Number: number, CallID: n.CallID, Category: n.Category,
			Description: n.Description, CallTime: n.CallTime.UTC(), OfficeCode: office.Code,
			AgencyCode: office.AgencyCode, Priority: n.Priority, DueAt: s.sla.DueAt(n.Priority, n.CallTime).UTC(),
			Status: inspector.StatusReceived, CreatedBy: actor.UserID, CreatedAt: t.now, UpdatedAt: t.now,
		}
		if caller != (inspector.Caller{}) {
			c.Caller = &caller
		}
		if err := t.assignTrackingCode(&c); err != nil {
			return err
		}
		if c.Version, err = t.log(KindComplaint, c.ID, ActionCreated, map[string]string{"to": string(c.Status), "office": c.OfficeCode,
			"agency": c.AgencyCode, "category": string(c.Category), "priority": string(c.Priority)}); err != nil {
			return err
		}
		if err := t.indexDue(nil, &c); err != nil {
			return err
		}
		if err := putJSON(complaints, []byte(c.ID), c); err != nil {
			return err
		}
		created = true
		return t.Bucket(bucketCallIDs).Put([]byte(n.CallID), []byte(c.ID))
	})
	return c, created, err
}

// sameIntake reports whether stored complaint c came from the same intake as n.
func sameIntake(c inspector.Complaint, n inspector.NewComplaint) bool {
	caller := inspector.Caller{}
	if c.Caller != nil {
		caller = *c.Caller
	}
	return c.Category == n.Category && c.Description == n.Description &&
		c.CallTime.Equal(n.CallTime) && c.OfficeCode == n.OfficeCode &&
		c.Priority == n.Priority && reflect.DeepEqual(caller, n.Caller)
}

// Complaint returns the complaint with id, or a CodeNotFound error.
func (s *Store) Complaint(id string) (inspector.Complaint, error) {
	var c inspector.Complaint
	err := s.view(func(btx *bolt.Tx) error {
		ok, err := getJSON(btx.Bucket(bucketComplaints), []byte(id), &c)
		if err == nil && !ok {
			err = notFound("complaint", id)
		}
		return err
	})
	return c, err
}

// ComplaintHistory returns every change made to the complaint, oldest first.
func (s *Store) ComplaintHistory(id string) ([]Change, error) {
	var out []Change
	err := s.view(func(btx *bolt.Tx) error {
		if btx.Bucket(bucketComplaints).Get([]byte(id)) == nil {
			return notFound("complaint", id)
		}
		var err error
		out, err = history(btx, KindComplaint, id)
		return err
	})
	return out, err
}

// ComplaintFilter selects complaints for a list. Empty fields match all.
type ComplaintFilter struct {
	Status      []inspector.Status
	OfficeCode  string
	AgencyCode  string
	Category    inspector.Category
	InspectorID string
	Overdue     bool
	Query       string // every word must appear, normalised, in description, office name and city, number or call id
	// QueryCaller lets Query's words match the tracking code and the
	// caller's phone number too (digits alone: "0912-123 4567" finds
	// 09121234567); set it only for a role that sees callers.
	QueryCaller bool
	Referred    bool // only complaints that were referred to the workplace
	// ReferredTo keeps only complaints referred to the offices an office
	// account answers for, and not routed to inspection since.
	ReferredTo *inspector.User
	Limit      int
	Cursor     string // opaque; from the previous page
}

// ListComplaints returns complaints matching f, newest first, and the cursor
// of the next page ("" when this is the last).
func (s *Store) ListComplaints(f ComplaintFilter) (items []inspector.Complaint, next string, err error) {
	if f.Limit <= 0 {
		f.Limit = 50
	}
	query := inspector.NormalizeText(f.Query)
	now := s.now()
	err = s.view(func(btx *bolt.Tx) error {
		var officeNames map[string]string
		if query != "" {
			if officeNames, err = normalizedOfficeNames(btx); err != nil {
				return err
			}
		}
		covered := map[string]bool{}
		items, next, err = newestFirst(btx.Bucket(bucketComplaints), f.Cursor, f.Limit, func(x *inspector.Complaint) bool {
			if f.ReferredTo != nil && x.Referral != nil {
				ok, seen := covered[x.OfficeCode]
				if !seen {
					ok, _ = officeCovers(btx, *f.ReferredTo, x.OfficeCode) // an unreadable office covers nothing
					covered[x.OfficeCode] = ok
				}
				if !ok {
					return false
				}
			}
			return f.matches(x, now, query, officeNames)
		}, func(x *inspector.Complaint) string { return x.ID })
		return err
	})
	return items, next, err
}

func (f *ComplaintFilter) matches(c *inspector.Complaint, now time.Time, query string, officeNames map[string]string) bool {
	if len(f.Status) > 0 {
		status := c.Status
		if f.ReferredTo != nil {
			status = c.OfficeStatus() // as the office is shown it
		}
		ok := false
		for _, s := range f.Status {
			ok = ok || status == s
		}
		if !ok {
			return false
		}
	}
	switch {
	case f.Referred && c.Referral == nil,
		f.ReferredTo != nil && !c.ReferralOpenToOffice(),
		f.OfficeCode != "" && !strings.EqualFold(c.OfficeCode, f.OfficeCode),
		f.AgencyCode != "" && !strings.EqualFold(c.AgencyCode, f.AgencyCode),
		f.Category != "" && c.Category != f.Category,
		f.InspectorID != "" && !c.AssignedTo(f.InspectorID),
		f.Overdue && !c.Overdue(now):
		return false
	}
	if query == "" {
		return true
	}
	hay := inspector.NormalizeText(c.Description) + "\n" + officeNames[c.OfficeCode] + "\n" +
		strings.ToLower(c.OfficeCode) + "\n" + strconv.FormatUint(c.Number, 10) + "\n" + strings.ToLower(c.CallID)
	var callerDigits string
	if f.QueryCaller {
		callerDigits = c.TrackingCode
		if c.Caller != nil {
			phone := strings.TrimPrefix(inspector.NormalizePhone(c.Caller.Phone), "+")
			callerDigits += "\n" + phone + "\n" + inspector.NationalNumber(phone)
		}
	}
	words := strings.Fields(query)
	if joined := strings.Join(words, ""); len(words) > 1 && (strings.HasPrefix(joined, "+") || strings.HasPrefix(joined, "0")) {
		if d := digitsOf(joined); len(d) >= 10 && len(d) <= 14 {
			words = []string{joined} // a phone number typed in groups: "+98 912 765 4321", "0912 765 4321"
		}
	}
	for _, word := range words {
		if strings.Contains(hay, word) {
			continue
		}
		if d := digitsOf(word); callerDigits != "" && len(d) >= 4 &&
			(strings.Contains(callerDigits, d) || len(d) >= 10 && strings.Contains(callerDigits, inspector.NationalNumber(d))) {
			continue // four digits at least: a code's or a number's part, not any digit; +98… finds 09…
		}
		return false
	}
	return true
}

// digitsOf keeps the ASCII digits of a normalised word that holds only
// digits and separators (a phone number typed with dashes); "" otherwise.
func digitsOf(word string) string {
	var b strings.Builder
	for _, r := range word {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '-' || r == '.' || r == '/' || r == '(' || r == ')' || r == '+':
		default:
			return ""
		}
	}
	return b.String()
}

func normalizedOfficeNames(btx *bolt.Tx) (map[string]string, error) {
	names := map[string]string{}
	err := btx.Bucket(bucketOffices).ForEach(func(k, v []byte) error {
		var o inspector.Office
		if err := json.Unmarshal(v, &o); err != nil {
			return fmt.Errorf("decode office %s: %w", k, err)
		}
		names[o.Code] = inspector.NormalizeText(o.NameFa + " " + o.City)
		return nil
	})
	return names, err
}

// Assign routes a complaint to an inspector for a field visit or a phone
// resolution; on an assigned complaint it is a reassignment.
func (s *Store) Assign(actor Actor, id string, r inspector.Routing) (inspector.Complaint, error) {
	if err := r.Validate(); err != nil {
		return inspector.Complaint{}, err
	}
	return s.route(actor, id, inspector.StatusAssigned, func(t *tx, c *inspector.Complaint) (string, map[string]string, error) {
		var u userRecord
		ok, err := getJSON(t.Bucket(bucketUsers), []byte(r.InspectorID), &u)
		if err != nil {
			return "", nil, err
		}
		if !ok || u.Role != inspector.RoleInspector || u.Disabled {
			return "", nil, &inspector.Error{Code: inspector.CodeInvalid, Message: "the request has invalid fields",
				Fields: []inspector.FieldError{{Field: "inspector_id", Code: "unknown", Message: "no active inspector with this id"}}}
		}
		if u.Mode != r.Mode {
			return "", nil, &inspector.Error{Code: inspector.CodeInvalid, Message: "the request has invalid fields",
				Fields: []inspector.FieldError{{Field: "mode", Code: "inspector_mode", Message: fmt.Sprintf("this inspector works by %s", u.Mode)}}}
		}
		action := ActionAssigned
		data := map[string]string{"inspector": r.InspectorID, "mode": string(r.Mode)}
		if c.Assignment != nil {
			if c.Assignment.InspectorID == r.InspectorID && c.Assignment.Mode == r.Mode && c.Status == inspector.StatusAssigned {
				return "", nil, inspector.Errorf(inspector.CodeConflict, "the complaint is already assigned to this inspector")
			}
			action = ActionReassigned
			data["previous_inspector"] = c.Assignment.InspectorID
		}
		if r.Note != "" {
			data["note"] = r.Note
		}
		c.Assignment = &inspector.Assignment{InspectorID: r.InspectorID, Mode: r.Mode, AssignedBy: t.actor.UserID, AssignedAt: t.now, Note: r.Note}
		return action, data, nil
	})
}

// Refer sends a complaint to the office itself to answer, within the
// referral SLA; the office's liaison accounts see it (never the caller).
func (s *Store) Refer(actor Actor, id, note string) (inspector.Complaint, error) {
	if len([]rune(note)) > inspector.MaxNote {
		return inspector.Complaint{}, (&inspector.Problems{{Field: "note", Code: "too_long", Message: "at most 2000 characters"}}).Err()
	}
	return s.route(actor, id, inspector.StatusReferredToWorkplace, func(t *tx, c *inspector.Complaint) (string, map[string]string, error) {
		due := t.now.Add(t.referralSLA)
		c.Referral = &inspector.Referral{ReferredAt: t.now, ReferredBy: t.actor.UserID, Note: note, DueAt: due}
		data := map[string]string{"due_at": due.Format(time.RFC3339)}
		if note != "" {
			data["note"] = note
		}
		if c.Assignment != nil {
			data["previous_inspector"] = c.Assignment.InspectorID
		}
		return ActionReferred, data, nil
	})
}

// Withdraw ends a complaint that needs no action (a duplicate, a mistaken call).
func (s *Store) Withdraw(actor Actor, id, reason string) (inspector.Complaint, error) {
	if inspector.IsBlank(reason) {
		return inspector.Complaint{}, (&inspector.Problems{{Field: "reason", Code: "required", Message: "say why the complaint is withdrawn"}}).Err()
	}
	return s.closeBy(actor, id, inspector.StatusWithdrawn, ActionWithdrawn, "reason", reason)
}

func (s *Store) closeBy(actor Actor, id string, to inspector.Status, action, key, text string) (inspector.Complaint, error) {
	if len([]rune(text)) > inspector.MaxNote {
		return inspector.Complaint{}, (&inspector.Problems{{Field: key, Code: "too_long", Message: "at most 2000 characters"}}).Err()
	}
	return s.route(actor, id, to, func(t *tx, c *inspector.Complaint) (string, map[string]string, error) {
		data := map[string]string{}
		if text != "" {
			data[key] = text
		}
		if c.Assignment != nil {
			data["previous_inspector"] = c.Assignment.InspectorID
		}
		return action, data, nil
	})
}

// route moves complaint id to status to, letting apply change the complaint
// and name the action, all in one transaction with its change-log entry.
func (s *Store) route(actor Actor, id string, to inspector.Status, apply func(*tx, *inspector.Complaint) (string, map[string]string, error)) (inspector.Complaint, error) {
	var c inspector.Complaint
	err := s.update(actor, func(t *tx) error {
		b := t.Bucket(bucketComplaints)
		if err := getRecord(b, "complaint", id, []byte(id), &c); err != nil {
			return err
		}
		if err := inspector.Transition(c.Status, to); err != nil {
			return err
		}
		before := c
		action, data, err := apply(t, &c)
		if err != nil {
			return err
		}
		data["from"], data["to"] = string(c.Status), string(to)
		c.Status, c.UpdatedAt = to, t.now
		if to != inspector.StatusNeedsReview {
			c.ReviewFrom = ""
		}
		if c.Version, err = t.log(KindComplaint, c.ID, action, data); err != nil {
			return err
		}
		if err := t.complaintScopes(&before, c, c.Version); err != nil {
			return err
		}
		return putJSON(b, []byte(c.ID), c)
	})
	return c, err
}

func encodeCursor(id string) string { return "c1." + id }

func decodeCursor(s string) ([]byte, error) {
	id, ok := strings.CutPrefix(s, "c1.")
	if !ok || id == "" || bytes.ContainsAny([]byte(id), "\x00") {
		return nil, &inspector.Error{Code: inspector.CodeInvalid, Message: "the request has invalid fields",
			Fields: []inspector.FieldError{{Field: "cursor", Code: "invalid", Message: "use the next_cursor of a previous page"}}}
	}
	return []byte(id), nil
}
