package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	bolt "go.etcd.io/bbolt"
)

// Mutation kinds the server accepts (sync/push.go).
const (
	KindVisitUpsert      = "visit.upsert"
	KindFindingCreate    = "finding.create"
	KindCallCreate       = "call.create"
	KindNoteCreate       = "note.create"
	KindComplaintStart   = "complaint.start"
	KindComplaintOutcome = "complaint.outcome"
	KindComplaintEdit    = "complaint.edit"
	// KindComplaintEscalate: a phone inspector hands the complaint back to
	// dispatch because it needs a field visit.
	KindComplaintEscalate = "complaint.escalate"
)

// Record kinds a pull delivers.
const (
	RecordComplaint = "complaint"
	RecordOffice    = "office"
	RecordAgency    = "agency"
	RecordVisit     = "visit"
	RecordFinding   = "finding"
	RecordCall      = "call"
	RecordNote      = "note"
	RecordConflict  = "conflict"
)

// NewID returns a new client record id (a UUIDv7), for visits, findings,
// calls and notes created on the device.
func NewID() string { return uuid.Must(uuid.NewV7()).String() }

// MaxPayloadSize bounds one mutation's payload. Field records are a few
// kilobytes (photos travel as evidence uploads, not in mutations); the bound
// keeps every mutation far below the server's push limit, so that none can
// jam the queue.
const MaxPayloadSize = 256 << 10

// LoneRefusalSize is how large a mutation must be for a 413 to it alone to
// be taken as final (it moves to the ledger as too_large). A smaller one
// refused alone means the server's limit is wrong for now: it stays queued.
const LoneRefusalSize = 64 << 10

// Enqueue adds a mutation to the durable queue and returns its id and
// device sequence. It assigns the next device sequence, a UUIDv7 mutation
// id, the device time and a hybrid logical clock stamp, and returns only
// after the mutation is committed to disk. payload is encoded as JSON; a
// json.RawMessage or []byte is sent as is (it must be valid JSON), and nil
// becomes {}. baseVersion is the version of the record the device last saw
// (0 for a record it creates).
//
// Enqueue does not validate the mutation: the server answers an invalid one
// with a rejection, which is how a test can exercise one.
func (c *Client) Enqueue(kind, recordID string, baseVersion uint64, payload any) (mutationID string, seq uint64, err error) {
	if kind == "" {
		return "", 0, errors.New("client: enqueue: the mutation needs a kind")
	}
	raw, err := encodePayload(payload)
	if err != nil {
		return "", 0, fmt.Errorf("client: enqueue %s: %w", kind, err)
	}
	if len(raw) > MaxPayloadSize {
		return "", 0, fmt.Errorf("client: enqueue %s: %w (%d bytes)", kind, ErrPayloadTooLarge, len(raw))
	}
	id, err := uuid.NewV7()
	if err != nil {
		return "", 0, fmt.Errorf("client: enqueue: %w", err)
	}
	now := c.cfg.Now()
	m := Mutation{MutationID: id.String(), Kind: kind, RecordID: recordID, BaseVersion: baseVersion,
		DeviceTime: now.UTC(), Payload: raw}
	err = c.db.Update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		m.DeviceSeq = btoi(meta.Get(keyLastSeq)) + 1
		var h HLC
		if _, err := getJSON(meta, keyHLC, &h); err != nil {
			return err
		}
		m.HLC = h.tick(now.UnixMilli())
		if err := putJSON(tx.Bucket(bucketQueue), itob(m.DeviceSeq), m); err != nil {
			return err
		}
		if err := putJSON(meta, keyHLC, m.HLC); err != nil {
			return err
		}
		return meta.Put(keyLastSeq, itob(m.DeviceSeq))
	})
	if err != nil {
		return "", 0, fmt.Errorf("client: enqueue %s: %w", kind, err)
	}
	c.log.Debug("enqueued", "kind", kind, "record", recordID, "seq", m.DeviceSeq, "mutation", m.MutationID)
	return m.MutationID, m.DeviceSeq, nil
}

func encodePayload(p any) (json.RawMessage, error) {
	var raw []byte
	switch v := p.(type) {
	case nil:
		return json.RawMessage("{}"), nil
	case json.RawMessage:
		raw = v
	case []byte:
		raw = v
	default:
		var err error
		if raw, err = json.Marshal(p); err != nil {
			return nil, err
		}
	}
	if !json.Valid(raw) {
		return nil, errors.New("the payload is not valid JSON")
	}
	return append(json.RawMessage(nil), raw...), nil
}

// localVersion is the version of the device's copy of a record, 0 if none.
func (c *Client) localVersion(kind, id string) (uint64, error) {
	r, ok, err := c.Record(kind, id)
	if err != nil || !ok {
		return 0, err
	}
	return r.Version, nil
}

// Geo is a moment and place claimed by the device: its clock and its GPS.
type Geo struct {
	DeviceTime time.Time `json:"device_time"`
	Lat        float64   `json:"lat"`
	Lng        float64   `json:"lng"`
	AccuracyM  float64   `json:"accuracy_m"`
}

func (g *Geo) utc() *Geo {
	if g == nil {
		return nil
	}
	out := *g
	out.DeviceTime = out.DeviceTime.UTC()
	return &out
}

// VisitUpdate sets fields of a visit; zero fields are not sent (use Enqueue
// with a raw payload to clear one).
type VisitUpdate struct {
	OfficeCode   string   `json:"office_code,omitempty"`
	ComplaintIDs []string `json:"complaint_ids,omitempty"`
	CheckIn      *Geo     `json:"check_in,omitempty"`
	CheckOut     *Geo     `json:"check_out,omitempty"`
	Summary      string   `json:"summary,omitempty"`
}

// UpdateVisit queues a visit.upsert of visitID with the device's last seen
// version of the visit as its base.
func (c *Client) UpdateVisit(visitID string, v VisitUpdate) (mutationID string, seq uint64, err error) {
	base, err := c.localVersion(RecordVisit, visitID)
	if err != nil {
		return "", 0, err
	}
	v.CheckIn, v.CheckOut = v.CheckIn.utc(), v.CheckOut.utc()
	return c.Enqueue(KindVisitUpsert, visitID, base, v)
}

// CheckIn queues the start of a visit (made with NewID) to an office for
// complaints, at the place and time at.
func (c *Client) CheckIn(visitID, officeCode string, complaintIDs []string, at Geo) (mutationID string, seq uint64, err error) {
	return c.UpdateVisit(visitID, VisitUpdate{OfficeCode: officeCode, ComplaintIDs: complaintIDs, CheckIn: &at})
}

// CheckOut queues the end of a visit, with an optional summary.
func (c *Client) CheckOut(visitID string, at Geo, summary string) (mutationID string, seq uint64, err error) {
	return c.UpdateVisit(visitID, VisitUpdate{CheckOut: &at, Summary: summary})
}

// Absentee is a staff member found absent. Reason is leave, mission,
// unexcused or unknown.
type Absentee struct {
	Name     string `json:"name"`
	Position string `json:"position,omitempty"`
	Reason   string `json:"reason"`
}

// Finding is what the inspector saw at the office during a visit.
type Finding struct {
	VisitID        string     `json:"visit_id"`
	ComplaintID    string     `json:"complaint_id,omitempty"`
	StaffExpected  int        `json:"staff_expected"`
	StaffPresent   int        `json:"staff_present"`
	Absentees      []Absentee `json:"absentees,omitempty"`
	NonWork        []string   `json:"non_work_activity,omitempty"`
	ClientsWaiting int        `json:"clients_waiting"`
	DesksOpen      int        `json:"desks_open"`
	ObservedAt     time.Time  `json:"observed_at"`
}

// RecordFinding queues a finding.create with the client id findingID (made
// with NewID). Findings are append-only.
func (c *Client) RecordFinding(findingID string, f Finding) (mutationID string, seq uint64, err error) {
	f.ObservedAt = f.ObservedAt.UTC()
	return c.Enqueue(KindFindingCreate, findingID, 0, f)
}

// Call is a phone inspector's call to an office. Outcome is reached,
// no_answer, busy or wrong_number.
type Call struct {
	ComplaintID string    `json:"complaint_id"`
	CalleeName  string    `json:"callee_name"`
	CalleeRole  string    `json:"callee_role,omitempty"`
	Number      string    `json:"number"`
	StartedAt   time.Time `json:"started_at"`
	DurationS   int       `json:"duration_s"`
	Outcome     string    `json:"outcome"`
	Notes       string    `json:"notes,omitempty"`
}

// RecordCall queues a call.create with the client id callID. Append-only.
func (c *Client) RecordCall(callID string, call Call) (mutationID string, seq uint64, err error) {
	call.StartedAt = call.StartedAt.UTC()
	return c.Enqueue(KindCallCreate, callID, 0, call)
}

// Note is free text on a complaint or a visit.
type Note struct {
	ComplaintID string    `json:"complaint_id,omitempty"`
	VisitID     string    `json:"visit_id,omitempty"`
	Text        string    `json:"text"`
	WrittenAt   time.Time `json:"written_at"`
}

// AddNote queues a note.create with the client id noteID. Append-only.
func (c *Client) AddNote(noteID string, n Note) (mutationID string, seq uint64, err error) {
	n.WrittenAt = n.WrittenAt.UTC()
	return c.Enqueue(KindNoteCreate, noteID, 0, n)
}

// StartComplaint queues complaint.start: the inspector begins work on an
// assigned complaint.
func (c *Client) StartComplaint(complaintID string) (mutationID string, seq uint64, err error) {
	base, err := c.localVersion(RecordComplaint, complaintID)
	if err != nil {
		return "", 0, err
	}
	return c.Enqueue(KindComplaintStart, complaintID, base, struct{}{})
}

// Outcomes an inspector may record.
const (
	OutcomeSubstantiated    = "substantiated"
	OutcomeNotSubstantiated = "not_substantiated"
	OutcomeResolvedOnSpot   = "resolved_on_spot"
	OutcomeDiscipline       = "referred_for_discipline"
)

// RecordOutcome queues complaint.outcome: the inspector's conclusion and
// statement. An outcome that arrives after dispatch moved the complaint is
// kept by the server for review (resolved_by_rule, rule needs_review).
func (c *Client) RecordOutcome(complaintID, outcome, statement string) (mutationID string, seq uint64, err error) {
	base, err := c.localVersion(RecordComplaint, complaintID)
	if err != nil {
		return "", 0, err
	}
	return c.Enqueue(KindComplaintOutcome, complaintID, base, struct {
		Outcome   string `json:"outcome"`
		Statement string `json:"statement"`
	}{outcome, statement})
}

// Escalate queues complaint.escalate: a phone inspector hands the complaint
// back to dispatch because it needs a field visit, saying why. Once applied,
// the complaint leaves the inspector's scope (a removal, reason reassigned).
func (c *Client) Escalate(complaintID, reason string) (mutationID string, seq uint64, err error) {
	base, err := c.localVersion(RecordComplaint, complaintID)
	if err != nil {
		return "", 0, err
	}
	return c.Enqueue(KindComplaintEscalate, complaintID, base, struct {
		Reason string `json:"reason"`
	}{reason})
}

// EditComplaint queues complaint.edit of fields dispatch owns. The server
// always keeps dispatch's values (resolved_by_rule, rule dispatch_wins) and
// stores the device's for review.
func (c *Client) EditComplaint(complaintID string, fields map[string]any) (mutationID string, seq uint64, err error) {
	base, err := c.localVersion(RecordComplaint, complaintID)
	if err != nil {
		return "", 0, err
	}
	return c.Enqueue(KindComplaintEdit, complaintID, base, fields)
}
