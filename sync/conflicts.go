package sync

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
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
	Winner      string          `json:"winner"` // "server", "device", "both" (merged), "mixed" (see FieldWinners) or "none" (rejected)
	// FieldWinners says, for a record naming several fields whose winners
	// differ (Winner "mixed"), which side won each field.
	FieldWinners map[string]string `json:"field_winners,omitempty"`
	Code         string            `json:"code,omitempty"`
	Message      string            `json:"message"`
	InspectorID  string            `json:"inspector_id"`
	DeviceID     string            `json:"device_id"`
	MutationID   string            `json:"mutation_id,omitempty"`
	DeviceSeq    uint64            `json:"device_seq,omitempty"`
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

// errConflictCap stops a device's mutation that would open a conflict record
// past the device's cap; Push answers it StatusDeferred.
var errConflictCap = errors.New("sync: the device has too many open conflict records")

// conflictCap holds the conflict records one mutation of device may open to
// the device's cap. mark is the change log's sequence when the mutation
// began: a mutation that has written something already is let through, so
// that a refusal never leaves half a mutation behind.
type conflictCap struct {
	device string
	mark   uint64
}

// capConflicts holds the conflict records of the mutation device is about to
// apply to the device's cap, until the returned function is called.
func (t *tx) capConflicts(device string) func() {
	t.capped = &conflictCap{device: device, mark: t.Bucket(bucketLog).Sequence()}
	return func() { t.capped = nil }
}

// openConflicts counts the open conflict records of device's mutations, up
// to limit.
func (t *tx) openConflicts(device string, limit int) int {
	prefix := joinKey(device, "")
	n := 0
	c := t.Bucket(bucketOpenConflicts).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && n < limit; k, _ = c.Next() {
		n++
	}
	return n
}

// recordConflict stores c, logs it, and puts it in its inspector's scope so
// the device learns the outcome on its next pull. It returns errConflictCap,
// writing nothing, if c would be an open record past its device's cap.
func (t *tx) recordConflict(c *Conflict, newID func() string) error {
	if c.Status == "" {
		c.Status = ConflictOpen
	}
	if c.Label == inspector.LabelParallelUpdate {
		c.Status = ConflictResolved
		c.Resolution = &Resolution{Action: "merged", By: "system", At: t.now}
	}
	if g := t.capped; g != nil && c.Status == ConflictOpen && c.DeviceID == g.device && t.Bucket(bucketLog).Sequence() == g.mark &&
		t.openConflicts(g.device, MaxOpenConflictsPerDevice) >= MaxOpenConflictsPerDevice {
		return errConflictCap
	}
	c.ID, c.CreatedAt = newID(), t.now
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
	if err := indexOpenConflict(t.Bucket(bucketOpenConflicts), c); err != nil {
		return err
	}
	return putJSON(t.Bucket(bucketConflicts), []byte(c.ID), c)
}

// indexOpenConflict keeps c's entry in the open_conflicts index in step
// with its status.
func indexOpenConflict(b *bolt.Bucket, c *Conflict) error {
	key, open := openConflictKey(c)
	switch {
	case key == nil:
		return nil
	case open:
		return b.Put(key, nil)
	}
	return b.Delete(key)
}

// openConflictKey is c's key in open_conflicts, nil for a conflict of no
// device, and whether c belongs in the index (it is open).
func openConflictKey(c *Conflict) (key []byte, open bool) {
	if c.DeviceID == "" {
		return nil, false
	}
	return joinKey(c.DeviceID, c.ID), c.Status == ConflictOpen
}

// indexOpenConflicts builds the open_conflicts index of a store written
// before it existed.
func indexOpenConflicts(btx *bolt.Tx) error {
	idx := btx.Bucket(bucketOpenConflicts)
	return btx.Bucket(bucketConflicts).ForEach(func(_, v []byte) error {
		var c Conflict
		if err := json.Unmarshal(v, &c); err != nil {
			return fmt.Errorf("decode conflict: %w", err)
		}
		return indexOpenConflict(idx, &c)
	})
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
		if err := t.applyResolution(s, &c, action); err != nil {
			return err
		}
		c.Status = ConflictResolved
		c.Resolution = &Resolution{Action: action, By: actor.UserID, At: t.now, Note: strings.TrimSpace(note)}
		return t.saveConflict(&c, "resolved_"+action)
	})
	return c, err
}

// MaxSettleBatch bounds the conflict records one SettleConflicts call settles.
const MaxSettleBatch = 100

// Settled is the answer for one id of SettleConflicts: the resolved record,
// or the error that ResolveConflict gave for it.
type Settled struct {
	ID       string
	Conflict *Conflict
	Err      error
}

// SettleConflicts resolves the conflict records ids (1 to MaxSettleBatch,
// each once) with one action and note, one by one in the order given, each
// in its own transaction as ResolveConflict does: a refusal (not found,
// already resolved, review_pending, nothing to overrule) is that id's answer
// and the others go on. A request out of bounds is a CodeInvalid *Error and
// settles nothing.
func (s *Store) SettleConflicts(actor Actor, ids []string, action, note string) ([]Settled, error) {
	var pr inspector.Problems
	seen := make(map[string]bool, len(ids))
	switch {
	case len(ids) == 0:
		pr.Add("ids", "required", "name at least one conflict record")
	case len(ids) > MaxSettleBatch:
		pr.Add("ids", "too_many", fmt.Sprintf("at most %d conflict records at once", MaxSettleBatch))
	default:
		for _, id := range ids {
			if id == "" || seen[id] {
				pr.Add("ids", "invalid", "each conflict record's id, once")
				break
			}
			seen[id] = true
		}
	}
	if action != ResolveAccept && action != ResolveOverrule {
		pr.Add("action", "invalid", "accept or overrule")
	}
	if len([]rune(note)) > inspector.MaxNote {
		pr.Add("note", "too_long", "at most 2000 characters")
	}
	if err := pr.Err(); err != nil {
		return nil, err
	}
	out := make([]Settled, len(ids))
	for i, id := range ids {
		c, err := s.ResolveConflict(actor, id, action, note)
		out[i] = Settled{ID: id, Err: err}
		if err == nil {
			out[i].Conflict = &c
		}
	}
	return out, nil
}

func (t *tx) applyResolution(s *Store, c *Conflict, action string) error {
	switch c.Rule {
	case inspector.RuleNeedsReview:
		return t.resolveReview(c, action)
	case inspector.RuleLastWriterWins, inspector.RuleOrphaned:
		if action == ResolveAccept {
			return nil
		}
		switch {
		case c.RecordKind == KindVisit:
			return t.overruleVisit(c)
		case c.Rule == inspector.RuleOrphaned && (c.RecordKind == KindFinding || c.RecordKind == KindNote):
			return t.overruleOrphanedRecord(s, c)
		}
		return inspector.Errorf(inspector.CodeConflict, "a %s record of a %s has no value to apply; accept it", c.Rule, c.RecordKind)
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

// overruleOrphanedRecord records a finding or note that came for a deleted
// visit, once the visit is restored (by overruling the visit's own orphaned
// edits): the device's record as it was sent, under its id and the
// inspector's, applied as its push would be now, so dispatch need not ask
// the inspector to send it again.
func (t *tx) overruleOrphanedRecord(s *Store, c *Conflict) error {
	var ref struct {
		VisitID string `json:"visit_id"`
	}
	if err := json.Unmarshal(c.DeviceValue, &ref); err != nil {
		return fmt.Errorf("decode orphaned %s: %w", c.RecordKind, err)
	}
	var v inspector.Visit
	if ok, err := getJSON(t.Bucket(bucketVisits), []byte(ref.VisitID), &v); err != nil {
		return err
	} else if !ok || v.Deleted {
		return inspector.Errorf(inspector.CodeConflict, "this %s belongs to a deleted visit; overrule the visit's own orphaned edits to restore it first", c.RecordKind)
	}
	var u userRecord
	if err := getRecord(t.Bucket(bucketUsers), "user", c.InspectorID, []byte(c.InspectorID), &u); err != nil {
		return err
	}
	kind := map[string]string{KindFinding: MutFindingCreate, KindNote: MutNoteCreate}[c.RecordKind]
	p := &pushCtx{s: s, t: t, u: u.User, device: c.DeviceID,
		m:   Mutation{ID: c.MutationID, DeviceSeq: c.DeviceSeq, Kind: kind, RecordID: c.RecordID, Payload: c.DeviceValue},
		res: Result{MutationID: c.MutationID, DeviceSeq: c.DeviceSeq}}
	res, err := p.apply()
	var appErr *inspector.Error
	switch {
	case errors.As(err, &appErr):
		return inspector.Errorf(inspector.CodeConflict, "the kept %s cannot be applied now: %v", c.RecordKind, appErr)
	case err != nil:
		return err
	case res.Status != StatusApplied:
		return inspector.Errorf(inspector.CodeConflict, "the kept %s cannot be applied now: %s", c.RecordKind, res.Message)
	}
	return nil
}

// resolveReview settles a complaint sent to needs_review by a field outcome:
// overrule applies the inspector's outcome; accept restores what dispatch had.
// While other reviews of the complaint are open, accept only closes this
// one and overrule is refused with CodeReviewPending.
func (t *tx) resolveReview(c *Conflict, action string) error {
	b := t.Bucket(bucketComplaints)
	var cp inspector.Complaint
	if err := getRecord(b, "complaint", c.ComplaintID, []byte(c.ComplaintID), &cp); err != nil {
		return err
	}
	if cp.Status != inspector.StatusNeedsReview {
		if action == ResolveAccept {
			return nil // dispatch routed it out of review: its state stands, the complaint is untouched
		}
		return inspector.Errorf(inspector.CodeConflict, "the complaint is %s now, not under review; route it instead", cp.Status)
	}
	// The complaint stays under review while any other review of it is open
	// (inspector.SettleReview).
	others, err := t.openReviews(cp.ID, c.ID)
	if err != nil {
		return err
	}
	settle, err := inspector.SettleReview(action == ResolveOverrule, len(others))
	if err != nil {
		var e *inspector.Error
		if errors.As(err, &e) {
			e.Message += " (open: " + strings.Join(others, ", ") + ")"
		}
		return err
	}
	if settle == inspector.ReviewStays {
		return nil // the record closes; the complaint waits for the others
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

// openReviews lists the ids of the open needs_review conflicts on complaint
// id other than except, oldest first, from the complaint's record log.
func (t *tx) openReviews(id, except string) ([]string, error) {
	h, err := history(t.Tx, KindComplaint, id)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{except: true}
	var out []string
	for _, ch := range h {
		if ch.Kind != KindConflict || seen[ch.ID] {
			continue
		}
		seen[ch.ID] = true
		var c Conflict
		ok, err := getJSON(t.Bucket(bucketConflicts), []byte(ch.ID), &c)
		if err != nil {
			return nil, err
		}
		if ok && c.Rule == inspector.RuleNeedsReview && c.Status == ConflictOpen && c.ComplaintID == id {
			out = append(out, c.ID)
		}
	}
	return out, nil
}

// conflictFields lists the fields a record names with their values on each
// side: one field and its two values, or, for a record naming several
// (comma-separated), the values held in objects keyed by field.
func conflictFields(c *Conflict) (names []string, server, device map[string]json.RawMessage, err error) {
	names = strings.Split(c.Field, ",")
	if len(names) == 1 {
		return names, map[string]json.RawMessage{c.Field: c.ServerValue}, map[string]json.RawMessage{c.Field: c.DeviceValue}, nil
	}
	server, device = map[string]json.RawMessage{}, map[string]json.RawMessage{}
	if len(c.ServerValue) > 0 {
		if err := json.Unmarshal(c.ServerValue, &server); err != nil {
			return nil, nil, nil, fmt.Errorf("decode server values: %w", err)
		}
	}
	if err := json.Unmarshal(c.DeviceValue, &device); err != nil {
		return nil, nil, nil, fmt.Errorf("decode device values: %w", err)
	}
	return names, server, device, nil
}

// overruleVisit writes the losing value of each visit field a
// last-writer-wins record names, or restores an orphaned visit with the
// device's edits.
func (t *tx) overruleVisit(c *Conflict) error {
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
		names, server, device, err := conflictFields(c)
		if err != nil {
			return err
		}
		for _, f := range names {
			losing := device[f]
			if winner := cmp.Or(c.FieldWinners[f], c.Winner); winner == "device" {
				losing = server[f]
			}
			if err := setVisitField(&v, f, losing); err != nil {
				return err
			}
			v.Stamps[f], present[f] = stamp, true
		}
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

// overruleComplaintField applies a device's edit of dispatch-owned fields,
// for the fields dispatch can set directly (category, priority); the other
// fields a record names stay as they are. A record naming neither is a
// CodeConflict *Error.
func (t *tx) overruleComplaintField(c *Conflict) error {
	b := t.Bucket(bucketComplaints)
	var cp inspector.Complaint
	if err := getRecord(b, "complaint", c.RecordID, []byte(c.RecordID), &cp); err != nil {
		return err
	}
	names, _, device, err := conflictFields(c)
	if err != nil {
		return err
	}
	before := cp
	data := map[string]string{"conflict": c.ID}
	for _, f := range names {
		if f != "category" && f != "priority" {
			continue // set by routing or by editing the complaint
		}
		var value string
		if err := json.Unmarshal(device[f], &value); err != nil {
			return inspector.Errorf(inspector.CodeConflict, "the device's %s cannot be applied", f)
		}
		if f == "category" {
			if !inspector.Category(value).Valid() {
				return inspector.Errorf(inspector.CodeConflict, "the device's category %q is not valid", value)
			}
			cp.Category = inspector.Category(value)
		} else {
			p := inspector.Priority(value)
			if !p.Valid() {
				return inspector.Errorf(inspector.CodeConflict, "the device's priority %q is not valid", value)
			}
			cp.Priority = p
			cp.DueAt = t.sla.DueAt(p, cp.CallTime).UTC()
		}
		data[f] = value
	}
	if len(data) == 1 {
		return inspector.Errorf(inspector.CodeConflict, "%s is changed by routing or editing the complaint, not by overruling", strings.Join(names, ", "))
	}
	cp.UpdatedAt = t.now
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
