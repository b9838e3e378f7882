package sync

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/favad/favad/inspector"
)

// Conflict is the record of one automatic resolution, or of a mutation that
// could not be applied: the record and field, both values, the rule, and who
// and when. Nothing a device sent is lost: it is applied or it is here.
type Conflict struct {
	ID          string          `json:"id"`
	Label       inspector.Label `json:"label"`
	Rule        inspector.Rule  `json:"rule"`
	RecordKind  string          `json:"record_kind"`
	RecordID    string          `json:"record_id"`
	ComplaintID string          `json:"complaint_id,omitempty"`
	Field       string          `json:"field,omitempty"`
	ServerValue json.RawMessage `json:"server_value,omitempty"`
	DeviceValue json.RawMessage `json:"device_value,omitempty"`
	Winner      string          `json:"winner"` // "server", "device", "both" (merged) or "none" (rejected)
	Code        string          `json:"code,omitempty"`
	Message     string          `json:"message"`
	InspectorID string          `json:"inspector_id"`
	DeviceID    string          `json:"device_id"`
	MutationID  string          `json:"mutation_id,omitempty"`
	DeviceSeq   uint64          `json:"device_seq,omitempty"`
	// PreviousStatus is the complaint's status before a needs_review rule moved it.
	PreviousStatus inspector.Status `json:"previous_status,omitempty"`
	Status         string           `json:"status"` // open or resolved
	Resolution     *Resolution      `json:"resolution,omitempty"`
	CreatedAt      time.Time        `json:"created_at"`
	Version        uint64           `json:"version"`
}

// Resolution is how a conflict was closed.
type Resolution struct {
	Action string    `json:"action"` // merged (automatic), accept, overrule
	By     string    `json:"by"`
	At     time.Time `json:"at"`
	Note   string    `json:"note,omitempty"`
}

// Conflict statuses.
const (
	ConflictOpen     = "open"
	ConflictResolved = "resolved"
)

// Resolution actions dispatch may take.
const (
	ResolveAccept   = "accept"   // the automatic result stands
	ResolveOverrule = "overrule" // the losing value is applied instead
)

func rawJSON(v any) json.RawMessage {
	if v == nil {
		return nil
	}
	if r, ok := v.(json.RawMessage); ok {
		return r
	}
	b, _ := json.Marshal(v)
	return b
}

// recordConflict stores c, logs it, and puts it in its inspector's scope so
// the device learns the outcome on its next pull.
func (t *tx) recordConflict(c *Conflict, newID func() string) error {
	c.ID, c.CreatedAt = newID(), t.now
	if c.Status == "" {
		c.Status = ConflictOpen
	}
	if c.Label == inspector.LabelParallelUpdate {
		c.Status = ConflictResolved
		c.Resolution = &Resolution{Action: "merged", By: "system", At: t.now}
	}
	return t.saveConflict(c, ActionCreated)
}

func (t *tx) saveConflict(c *Conflict, action string) error {
	seq, err := t.log(KindConflict, c.ID, action, map[string]string{"rule": string(c.Rule), "record": c.RecordKind + "/" + c.RecordID, "inspector": c.InspectorID})
	if err != nil {
		return err
	}
	c.Version = seq
	if c.ComplaintID != "" {
		if err := t.Bucket(bucketRecordLog).Put(recordLogKey(KindComplaint, c.ComplaintID, seq), nil); err != nil {
			return err
		}
	}
	if c.InspectorID != "" {
		if err := t.scoped(inspectorScope(c.InspectorID), seq, KindConflict, c.ID, OpUpsert, ""); err != nil {
			return err
		}
	}
	return putJSON(t.Bucket(bucketConflicts), []byte(c.ID), c)
}

// ConflictFilter selects conflicts. Empty fields match all.
type ConflictFilter struct {
	Status      string // open or resolved
	ComplaintID string
	Limit       int
	Cursor      string
}

// Conflicts lists conflict records, newest first.
func (s *Store) Conflicts(f ConflictFilter) (items []Conflict, next string, err error) {
	if f.Limit <= 0 {
		f.Limit = 50
	}
	err = s.view(func(btx *bolt.Tx) error {
		items, next, err = newestFirst(btx.Bucket(bucketConflicts), f.Cursor, f.Limit, func(x *Conflict) bool {
			return (f.Status == "" || x.Status == f.Status) && (f.ComplaintID == "" || x.ComplaintID == f.ComplaintID)
		}, func(x *Conflict) string { return x.ID })
		return err
	})
	return items, next, err
}

// Conflict returns one conflict record, or CodeNotFound.
func (s *Store) Conflict(id string) (Conflict, error) {
	var c Conflict
	err := s.view(func(btx *bolt.Tx) error {
		ok, err := getJSON(btx.Bucket(bucketConflicts), []byte(id), &c)
		if err == nil && !ok {
			err = notFound("conflict", id)
		}
		return err
	})
	return c, err
}

// ResolveConflict closes an open conflict. accept lets the automatic result
// stand; overrule applies the losing value instead, where the rule has one to
// apply.
func (s *Store) ResolveConflict(actor Actor, id, action, note string) (Conflict, error) {
	var c Conflict
	if action != ResolveAccept && action != ResolveOverrule {
		return c, (&inspector.Problems{{Field: "action", Code: "invalid", Message: "accept or overrule"}}).Err()
	}
	if len([]rune(note)) > inspector.MaxNote {
		return c, (&inspector.Problems{{Field: "note", Code: "too_long", Message: "at most 2000 characters"}}).Err()
	}
	err := s.update(actor, func(t *tx) error {
		if err := getRecord(t.Bucket(bucketConflicts), "conflict", id, []byte(id), &c); err != nil {
			return err
		}
		if c.Status != ConflictOpen {
			return inspector.Errorf(inspector.CodeConflict, "this conflict is already resolved")
		}
		if err := t.applyResolution(&c, action); err != nil {
			return err
		}
		c.Status = ConflictResolved
		c.Resolution = &Resolution{Action: action, By: actor.UserID, At: t.now, Note: strings.TrimSpace(note)}
		return t.saveConflict(&c, "resolved_"+action)
	})
	return c, err
}

func (t *tx) applyResolution(c *Conflict, action string) error {
	switch c.Rule {
	case inspector.RuleNeedsReview:
		return t.resolveReview(c, action)
	case inspector.RuleLastWriterWins, inspector.RuleOrphaned:
		if action == ResolveAccept {
			return nil
		}
		if c.RecordKind != KindVisit {
			return inspector.Errorf(inspector.CodeConflict, "this %s belongs to a deleted visit; overrule the visit's own orphaned edits to restore it, then ask the inspector to resend", c.RecordKind)
		}
		losing := c.DeviceValue
		if c.Winner == "device" {
			losing = c.ServerValue
		}
		return t.overruleVisit(c, losing)
	case inspector.RuleDispatchWins:
		if action == ResolveAccept {
			return nil
		}
		return t.overruleComplaintField(c)
	}
	if action == ResolveOverrule {
		return inspector.Errorf(inspector.CodeConflict, "a %s record has no value to apply; accept it, and ask the inspector to resend", c.Rule)
	}
	return nil
}

// resolveReview settles a complaint sent to needs_review by a field outcome:
// overrule applies the inspector's outcome; accept restores what dispatch had.
func (t *tx) resolveReview(c *Conflict, action string) error {
	b := t.Bucket(bucketComplaints)
	var cp inspector.Complaint
	if err := getRecord(b, "complaint", c.ComplaintID, []byte(c.ComplaintID), &cp); err != nil {
		return err
	}
	if cp.Status != inspector.StatusNeedsReview {
		if action == ResolveAccept {
			return nil // dispatch's state already stands (another review of it was settled)
		}
		return inspector.Errorf(inspector.CodeConflict, "the complaint is %s now, not under review; route it instead", cp.Status)
	}
	before := cp
	to := cp.ReviewFrom // what dispatch had just before this review, newer than the conflict's own record
	if to == "" {
		to = c.PreviousStatus
	}
	var data map[string]string
	if action == ResolveOverrule {
		var o inspector.Outcome
		if err := json.Unmarshal(c.DeviceValue, &o); err != nil {
			return fmt.Errorf("decode held outcome: %w", err)
		}
		cp.Outcome = &o
		to = o.Value.Status()
		data = map[string]string{"outcome": string(o.Value), "inspector": o.InspectorID}
	} else if to == inspector.StatusInProgress || to == inspector.StatusAssigned || to == "" {
		to = inspector.StatusAssigned
		if cp.Assignment == nil {
			to = inspector.StatusReceived
		}
	}
	if to != inspector.StatusReceived {
		if err := inspector.Transition(cp.Status, to); err != nil {
			return err
		}
	}
	if data == nil {
		data = map[string]string{}
	}
	data["from"], data["to"], data["conflict"] = string(cp.Status), string(to), c.ID
	if to == inspector.StatusAssigned && cp.Assignment != nil {
		data["inspector"] = cp.Assignment.InspectorID // back on their devices
	}
	cp.Status, cp.UpdatedAt, cp.ReviewFrom = to, t.now, ""
	seq, err := t.log(KindComplaint, cp.ID, "review_"+action, data)
	if err != nil {
		return err
	}
	cp.Version = seq
	if err := t.complaintScopes(&before, cp, seq); err != nil {
		return err
	}
	return putJSON(b, []byte(cp.ID), cp)
}

// overruleVisit writes the losing value of a visit field, or restores an
// orphaned visit with the device's edits.
func (t *tx) overruleVisit(c *Conflict, value json.RawMessage) error {
	b := t.Bucket(bucketVisits)
	var v inspector.Visit
	if err := getRecord(b, "visit", c.RecordID, []byte(c.RecordID), &v); err != nil {
		return err
	}
	named := slices.Clone(v.ComplaintIDs)
	stamp := inspector.Stamp{WallMs: t.now.UnixMilli(), Device: "dispatch:" + t.actor.UserID}
	present := map[string]bool{}
	if c.Rule == inspector.RuleOrphaned {
		v.Deleted, v.DeletedBy = false, ""
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(c.DeviceValue, &fields); err != nil {
			return fmt.Errorf("decode orphaned edits: %w", err)
		}
		for f, raw := range fields {
			if err := setVisitField(&v, f, raw); err != nil {
				return err
			}
			v.Stamps[f], present[f] = stamp, true
		}
	} else {
		if v.Deleted {
			return inspector.Errorf(inspector.CodeConflict, "the visit was deleted since; nothing to apply the value to")
		}
		if err := setVisitField(&v, c.Field, value); err != nil {
			return err
		}
		v.Stamps[c.Field], present[c.Field] = stamp, true
	}
	if err := t.checkVisit(v, present, false); err != nil {
		return inspector.Errorf(inspector.CodeConflict, "the kept value cannot be applied now: %v", err)
	}
	seq, err := t.log(KindVisit, v.ID, "overruled", map[string]string{"conflict": c.ID})
	if err != nil {
		return err
	}
	if err := t.indexUnder(KindComplaint, seq, named, v.ComplaintIDs); err != nil {
		return err
	}
	v.Version = seq
	for f := range present {
		v.FieldSeqs[f] = seq
	}
	if err := t.scoped(inspectorScope(v.InspectorID), seq, KindVisit, v.ID, OpUpsert, ""); err != nil {
		return err
	}
	return putJSON(b, []byte(v.ID), v)
}

// overruleComplaintField applies a device's edit of a dispatch-owned field,
// for the fields dispatch can set directly (category, priority).
func (t *tx) overruleComplaintField(c *Conflict) error {
	b := t.Bucket(bucketComplaints)
	var cp inspector.Complaint
	if err := getRecord(b, "complaint", c.RecordID, []byte(c.RecordID), &cp); err != nil {
		return err
	}
	var value string
	if err := json.Unmarshal(c.DeviceValue, &value); err != nil {
		return inspector.Errorf(inspector.CodeConflict, "the device's %s cannot be applied", c.Field)
	}
	switch c.Field {
	case "category":
		if !inspector.Category(value).Valid() {
			return inspector.Errorf(inspector.CodeConflict, "the device's category %q is not valid", value)
		}
		cp.Category = inspector.Category(value)
	case "priority":
		p := inspector.Priority(value)
		if !p.Valid() {
			return inspector.Errorf(inspector.CodeConflict, "the device's priority %q is not valid", value)
		}
		cp.Priority = p
		cp.DueAt = t.sla.DueAt(p, cp.CallTime).UTC()
	default:
		return inspector.Errorf(inspector.CodeConflict, "%s is changed by routing or editing the complaint, not by overruling", c.Field)
	}
	before := cp
	cp.UpdatedAt = t.now
	data := map[string]string{c.Field: value, "conflict": c.ID}
	if cp.Assignment != nil {
		data["assignee"] = cp.Assignment.InspectorID
	}
	seq, err := t.log(KindComplaint, cp.ID, ActionUpdated, data)
	if err != nil {
		return err
	}
	cp.Version = seq
	if err := t.complaintScopes(&before, cp, seq); err != nil {
		return err
	}
	return putJSON(b, []byte(cp.ID), cp)
}
