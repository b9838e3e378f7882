package sync

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	bolt "go.etcd.io/bbolt"

	"github.com/favad/favad/inspector"
)

// Change-log actions of the referral loop and the SLA watch.
const (
	ActionReferralAcknowledged = "referral_acknowledged"
	ActionReferralAnswered     = "referral_answered"
	ActionClosed               = "closed"
	ActionSLABreached          = "sla_breached"
)

// TrackingCodeDigits is the length of a tracking code. Twelve digits (about
// 40 bits) are easy to read to a caller in Persian, and with the tracking
// route's rate limit a guess finds an existing code about once in a million
// tries — and then learns only a status, never a name.
const TrackingCodeDigits = 12

// newTrackingCode draws a code not yet used from src.
func newTrackingCode(b *bolt.Bucket, src io.Reader) (string, error) {
	if src == nil {
		src = rand.Reader
	}
	limit := new(big.Int).Exp(big.NewInt(10), big.NewInt(TrackingCodeDigits), nil)
	for range 16 {
		n, err := rand.Int(src, limit)
		if err != nil {
			return "", fmt.Errorf("tracking code: %w", err)
		}
		code := fmt.Sprintf("%0*d", TrackingCodeDigits, n)
		if b.Get([]byte(code)) == nil {
			return code, nil
		}
	}
	return "", fmt.Errorf("tracking code: no free code found")
}

// assignTrackingCode gives c a new tracking code and indexes it.
func (t *tx) assignTrackingCode(c *inspector.Complaint) error {
	code, err := newTrackingCode(t.Bucket(bucketTracking), t.rand)
	if err != nil {
		return err
	}
	c.TrackingCode = code
	return t.Bucket(bucketTracking).Put([]byte(code), []byte(c.ID))
}

// NormalizeTrackingCode turns what a caller typed (Persian or Arabic digits,
// spaces, dashes) into a stored code's form.
func NormalizeTrackingCode(s string) string {
	s = inspector.NormalizeDigits(s)
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
}

// ComplaintByTracking returns the complaint a tracking code names, or CodeNotFound.
func (s *Store) ComplaintByTracking(code string) (inspector.Complaint, error) {
	code = NormalizeTrackingCode(code)
	var c inspector.Complaint
	err := s.view(func(btx *bolt.Tx) error {
		id := btx.Bucket(bucketTracking).Get([]byte(code))
		if len(code) != TrackingCodeDigits || id == nil {
			return inspector.Errorf(inspector.CodeNotFound, "no complaint has this tracking code")
		}
		return getRecord(btx.Bucket(bucketComplaints), "complaint", string(id), id, &c)
	})
	return c, err
}

// dueTracked reports whether the SLA watch should look at c: it is open and
// its active due time has not yet been reported as breached. A review of a
// finished complaint (a late outcome) does not reopen its SLA.
func dueTracked(c *inspector.Complaint) bool {
	if c.Status.Terminal() || (c.Status == inspector.StatusNeedsReview && c.ReviewFrom.Terminal()) {
		return false
	}
	return !c.BreachReported(c.ActiveDue())
}

// indexDue keeps the due index in step with a complaint's change from before
// (nil for a new complaint) to after, in the same transaction.
func (t *tx) indexDue(before *inspector.Complaint, after *inspector.Complaint) error {
	b := t.Bucket(bucketDueIndex)
	var oldKey, newKey []byte
	if before != nil && dueTracked(before) {
		oldKey = dueKey(before.ActiveDue(), before.ID)
	}
	if dueTracked(after) {
		newKey = dueKey(after.ActiveDue(), after.ID)
	}
	if oldKey != nil && string(oldKey) != string(newKey) {
		if err := b.Delete(oldKey); err != nil {
			return err
		}
	}
	if newKey != nil {
		return b.Put(newKey, nil)
	}
	return nil
}

// migrateTrackingAndDue gives complaints stored before schema 5 a tracking
// code and builds the due index.
func migrateTrackingAndDue(btx *bolt.Tx) error {
	t := &tx{Tx: btx}
	complaints := btx.Bucket(bucketComplaints)
	var updated []inspector.Complaint
	err := complaints.ForEach(func(k, v []byte) error {
		var c inspector.Complaint
		if err := json.Unmarshal(v, &c); err != nil {
			return fmt.Errorf("decode complaint %s: %w", k, err)
		}
		if c.TrackingCode == "" {
			if err := t.assignTrackingCode(&c); err != nil {
				return err
			}
			updated = append(updated, c)
		}
		return t.indexDue(nil, &c)
	})
	if err != nil {
		return err
	}
	for _, c := range updated { // not inside ForEach: bbolt forbids writing the bucket being iterated
		if err := putJSON(complaints, []byte(c.ID), c); err != nil {
			return err
		}
	}
	return nil
}

// officeCovers reports whether office account u answers for the office with
// code (see inspector.User.Covers).
func officeCovers(btx *bolt.Tx, u inspector.User, code string) (bool, error) {
	var o inspector.Office
	if _, err := getJSON(btx.Bucket(bucketOffices), []byte(code), &o); err != nil {
		return false, err
	}
	return u.Covers(o), nil
}

// referralVisible reports whether office account u may see complaint c: it
// was referred to one of u's offices, and not routed to inspection since.
func referralVisible(btx *bolt.Tx, u inspector.User, c *inspector.Complaint) (bool, error) {
	if !c.ReferralOpenToOffice() || u.Role != inspector.RoleOffice {
		return false, nil
	}
	return officeCovers(btx, u, c.OfficeCode)
}

// requireCovers refuses an office account's action on a complaint not
// referred to one of its offices; it answers "not found", so that ids cannot
// be probed.
func (t *tx) requireCovers(u inspector.User, c *inspector.Complaint) error {
	ok, err := referralVisible(t.Tx, u, c)
	if err == nil && !ok {
		err = notFound("complaint", c.ID)
	}
	return err
}

// ReferralVisible reports whether office account u may see complaint c: it
// was referred to one of u's offices, and not routed to inspection since.
func (s *Store) ReferralVisible(u inspector.User, c inspector.Complaint) (bool, error) {
	var ok bool
	err := s.view(func(btx *bolt.Tx) (err error) {
		ok, err = referralVisible(btx, u, &c)
		return err
	})
	return ok, err
}

// changeComplaint loads complaint id in one write transaction and lets
// change modify it; the complaint is then saved with a change-log entry of
// the action change names, or left as it is if the action is "".
func (s *Store) changeComplaint(actor Actor, id string, change func(t *tx, c *inspector.Complaint) (action string, data map[string]string, err error)) (inspector.Complaint, error) {
	var c inspector.Complaint
	err := s.update(actor, func(t *tx) error {
		if err := getRecord(t.Bucket(bucketComplaints), "complaint", id, []byte(id), &c); err != nil {
			return err
		}
		before := c
		action, data, err := change(t, &c)
		if err != nil || action == "" {
			return err
		}
		return t.saveComplaint(&before, &c, action, data)
	})
	return c, err
}

// AcknowledgeReferral records that the office has seen a referred complaint.
// Acknowledging twice changes nothing.
func (s *Store) AcknowledgeReferral(actor Actor, u inspector.User, id string) (inspector.Complaint, error) {
	return s.changeComplaint(actor, id, func(t *tx, c *inspector.Complaint) (string, map[string]string, error) {
		if err := t.requireCovers(u, c); err != nil {
			return "", nil, err
		}
		if st := c.OfficeStatus(); st != inspector.StatusReferredToWorkplace {
			return "", nil, inspector.Errorf(inspector.CodeIllegalTransition, "the complaint is %s, not awaiting the office's answer", st)
		}
		if c.Referral.AcknowledgedAt != nil {
			return "", nil, nil
		}
		ref := *c.Referral
		at := t.now
		ref.AcknowledgedAt, ref.AcknowledgedBy = &at, u.ID
		c.Referral = &ref
		return ActionReferralAcknowledged, map[string]string{"office": c.OfficeCode}, nil
	})
}

// sameAnswer reports whether in is the answer on record sent again: the same
// action, text and attachments (by their ids, which the office's client
// keeps across retries).
func sameAnswer(a *inspector.ReferralAnswer, in ReferralAnswerInput) bool {
	if a.Action != in.Action || a.Text != in.Text || len(a.EvidenceIDs) != len(in.Attachments) {
		return false
	}
	for i, at := range in.Attachments {
		if a.EvidenceIDs[i] != at.ID {
			return false
		}
	}
	return true
}

// ReferralAnswerInput is what an office sends to answer a referral.
type ReferralAnswerInput struct {
	Action      inspector.ReferralAction
	Text        string
	Attachments []Attachment
}

// Attachment declares a file an office attaches to its answer; its bytes
// follow through the resumable upload (tus) under ID, and are checked
// against the declared hash, size and type like an inspector's evidence.
type Attachment struct {
	ID          string // a UUID made by the client
	Kind        inspector.EvidenceKind
	ContentType string
	Size        int64
	SHA256      string
	Note        string
}

// MaxAttachments bounds the files on one referral answer.
const MaxAttachments = 10

// AnswerReferral records the office's answer; the complaint goes to
// referral_answered, for dispatch to close or route to inspection.
func (s *Store) AnswerReferral(actor Actor, u inspector.User, id string, in ReferralAnswerInput) (inspector.Complaint, error) {
	in.Text = strings.TrimSpace(in.Text)
	var p inspector.Problems
	if !in.Action.Valid() {
		p.Add("action", "invalid", "one of corrected, disciplinary, not_confirmed, other")
	}
	if inspector.IsBlank(in.Text) {
		p.Add("text", "required", "say what the office found and did")
	} else if utf8.RuneCountInString(in.Text) > inspector.MaxDescription {
		p.Add("text", "too_long", "at most 4000 characters")
	}
	if len(in.Attachments) > MaxAttachments {
		p.Add("attachments", "too_many", fmt.Sprintf("at most %d files", MaxAttachments))
	}
	seen := map[string]bool{}
	for i, a := range in.Attachments {
		prefix := fmt.Sprintf("attachments[%d].", i)
		if id, err := uuid.Parse(a.ID); err != nil || id.String() != a.ID {
			p.Add(prefix+"id", "invalid", "a UUID in lower-case canonical form")
		} else if seen[a.ID] {
			p.Add(prefix+"id", "duplicate", "each file needs its own id")
		}
		seen[a.ID] = true
		e := inspector.Evidence{ComplaintID: id, Kind: a.Kind, ContentType: a.ContentType, Size: a.Size, SHA256: a.SHA256, CapturedAt: time.Unix(1, 0), Note: a.Note}
		e.Validate(&p, prefix, s.evidenceMax)
	}
	if err := p.Err(); err != nil {
		return inspector.Complaint{}, err
	}
	return s.changeComplaint(actor, id, func(t *tx, c *inspector.Complaint) (string, map[string]string, error) {
		if err := t.requireCovers(u, c); err != nil {
			return "", nil, err
		}
		if a := c.Referral.Answer; a != nil {
			if sameAnswer(a, in) {
				return "", nil, nil // sent again after a lost reply: the answer on record
			}
			return "", nil, inspector.Errorf(inspector.CodeIllegalTransition, "the referral was answered already, at %s", a.AnsweredAt.In(inspector.IranTime).Format("2006-01-02 15:04"))
		}
		from := c.OfficeStatus()
		if err := inspector.Transition(from, inspector.StatusReferralAnswered); err != nil {
			return "", nil, err
		}
		ref := *c.Referral
		if ref.AcknowledgedAt == nil { // answering is acknowledging
			at := t.now
			ref.AcknowledgedAt, ref.AcknowledgedBy = &at, u.ID
		}
		ref.Answer = &inspector.ReferralAnswer{Action: in.Action, Text: in.Text, AnsweredBy: u.ID, AnsweredAt: t.now}
		for _, a := range in.Attachments {
			if t.Bucket(bucketEvidence).Get([]byte(a.ID)) != nil || t.Bucket(bucketUploadClaims).Get([]byte(a.ID)) != nil {
				return "", nil, (&inspector.Problems{{Field: "attachments", Code: "id_taken", Message: "an evidence id is already used; make a new one"}}).Err()
			}
			e := inspector.Evidence{ID: a.ID, ComplaintID: c.ID, InspectorID: u.ID, DeviceID: t.actor.DeviceID, Kind: a.Kind,
				ContentType: strings.ToLower(strings.TrimSpace(a.ContentType)), Size: a.Size, SHA256: strings.ToLower(strings.TrimSpace(a.SHA256)),
				CapturedAt: t.now, Note: a.Note, Status: inspector.EvidenceAwaitingUpload, ReceivedAt: t.now}
			if err := t.chain(&e); err != nil {
				return "", nil, err
			}
			seq, err := t.log(KindEvidence, e.ID, ActionCreated, map[string]string{"office": c.OfficeCode, "status": string(e.Status)})
			if err != nil {
				return "", nil, err
			}
			e.Version = seq
			if err := t.saveEvidence(&e, seq); err != nil {
				return "", nil, err
			}
			ref.Answer.EvidenceIDs = append(ref.Answer.EvidenceIDs, e.ID)
		}
		c.Referral = &ref
		data := map[string]string{"from": string(from), "to": string(inspector.StatusReferralAnswered), "action": string(in.Action), "text": in.Text}
		if c.Status == inspector.StatusNeedsReview {
			// Dispatch is reviewing an inspector's late outcome: the answer
			// is kept, and is what accepting dispatch's own state returns to.
			c.ReviewFrom = inspector.StatusReferralAnswered
			data["from"], data["to"], data["review_from"] = string(c.Status), string(c.Status), string(c.ReviewFrom)
		} else {
			c.Status = inspector.StatusReferralAnswered
		}
		// The text goes into the log too: a later referral replaces the
		// complaint's answer, and history keeps every one.
		return ActionReferralAnswered, data, nil
	})
}

// CloseOnAnswer is dispatch's decision on an answered referral: the
// complaint is closed with an outcome (resolved or not substantiated).
func (s *Store) CloseOnAnswer(actor Actor, id string, value inspector.OutcomeValue, statement string) (inspector.Complaint, error) {
	statement = strings.TrimSpace(statement)
	var p inspector.Problems
	if !value.Valid() {
		p.Add("outcome", "invalid", "substantiated, not_substantiated, resolved_on_spot or referred_for_discipline")
	}
	if utf8.RuneCountInString(statement) > inspector.MaxDescription {
		p.Add("statement", "too_long", "at most 4000 characters")
	}
	if err := p.Err(); err != nil {
		return inspector.Complaint{}, err
	}
	return s.changeComplaint(actor, id, func(t *tx, c *inspector.Complaint) (string, map[string]string, error) {
		if c.Status != inspector.StatusReferralAnswered {
			return "", nil, inspector.Errorf(inspector.CodeIllegalTransition, "only a complaint whose referral was answered is closed this way (it is %s)", c.Status)
		}
		from, to := c.Status, value.Status()
		if err := inspector.Transition(from, to); err != nil {
			return "", nil, err
		}
		c.Status = to
		c.Outcome = &inspector.Outcome{Value: value, Statement: statement, RecordedAt: t.now, ClosedBy: t.actor.UserID}
		return ActionClosed, map[string]string{"from": string(from), "to": string(to), "outcome": string(value)}, nil
	})
}

// saveComplaint writes a complaint changed by dispatch, an office or the
// server, with its change-log entry, scopes and due index, in t.
func (t *tx) saveComplaint(before, c *inspector.Complaint, action string, data map[string]string) error {
	return t.writeComplaint(before, c, action, data, t.complaintScopes)
}

// writeComplaint logs and stores c, with scopes written by scopes.
func (t *tx) writeComplaint(before, c *inspector.Complaint, action string, data map[string]string,
	scopes func(*inspector.Complaint, inspector.Complaint, uint64) error) error {
	c.UpdatedAt = t.now
	seq, err := t.log(KindComplaint, c.ID, action, data)
	if err != nil {
		return err
	}
	c.Version = seq
	if err := scopes(before, *c, seq); err != nil {
		return err
	}
	return putJSON(t.Bucket(bucketComplaints), []byte(c.ID), c)
}

// SLABreach is one complaint the SLA watch reported.
type SLABreach struct {
	ComplaintID string
	DueAt       time.Time
	Kind        string // "complaint" or "referral"
	Seq         uint64
}

// BreachDue reports every open complaint whose active due time is at or
// before now and not yet reported: an sla_breached change-log entry each,
// once per complaint per due time, at most limit in one call. The due index
// is the watch's durable timer: a restart finds every breach it missed.
func (s *Store) BreachDue(now time.Time, limit int) ([]SLABreach, error) {
	var out []SLABreach
	err := s.update(System, func(t *tx) error {
		out = out[:0]
		cur := t.Bucket(bucketDueIndex).Cursor()
		complaints := t.Bucket(bucketComplaints)
		var stale, reindex [][]byte
		for k, _ := cur.First(); k != nil && len(out) < limit; k, _ = cur.Next() {
			if len(k) < 9 {
				stale = append(stale, append([]byte(nil), k...))
				continue
			}
			due := time.Unix(0, int64(btoiUnchecked(k[:8]))).UTC()
			if due.After(now) {
				break
			}
			id := string(k[9:])
			var c inspector.Complaint
			ok, err := getJSON(complaints, []byte(id), &c)
			if err != nil {
				return err
			}
			if !ok || !dueTracked(&c) || !c.ActiveDue().Equal(due) {
				stale = append(stale, append([]byte(nil), k...))
				if ok && dueTracked(&c) && !c.BreachReported(c.ActiveDue()) {
					// Indexed under a due time an older build judged by (one
					// under review of a referred complaint): watched from now
					// under the one that applies.
					reindex = append(reindex, dueKey(c.ActiveDue(), c.ID))
				}
				continue
			}
			kind := "complaint"
			if c.OfficeStatus() == inspector.StatusReferredToWorkplace {
				kind = "referral"
			}
			data := map[string]string{"due_at": due.Format(time.RFC3339), "sla": kind, "status": string(c.Status)}
			if c.Assignment != nil && inspector.InScope(c, c.Assignment.InspectorID) {
				data["inspector"] = c.Assignment.InspectorID // their devices hear of it
			}
			before := c
			breached := due
			if c.SLABreachedDue != nil {
				c.SLABreachedEarlier = append(c.SLABreachedEarlier, *c.SLABreachedDue)
			}
			c.SLABreachedDue = &breached
			// complaintScopes (through saveComplaint) drops the index entry:
			// the due time is now reported. Deleting under a cursor is not
			// safe in bbolt, so the key goes through the same path as stale ones.
			stale = append(stale, append([]byte(nil), k...))
			if err := t.saveComplaintKeepIndex(&before, &c, ActionSLABreached, data); err != nil {
				return err
			}
			out = append(out, SLABreach{ComplaintID: c.ID, DueAt: due, Kind: kind, Seq: c.Version})
		}
		for _, k := range stale {
			if err := t.Bucket(bucketDueIndex).Delete(k); err != nil {
				return err
			}
		}
		for _, k := range reindex {
			if err := t.Bucket(bucketDueIndex).Put(k, nil); err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

// saveComplaintKeepIndex is saveComplaint for the SLA watch, which removes
// the due index entry it is iterating itself, after the iteration.
func (t *tx) saveComplaintKeepIndex(before, c *inspector.Complaint, action string, data map[string]string) error {
	return t.writeComplaint(before, c, action, data, t.complaintScopesOnly)
}

func btoiUnchecked(b []byte) uint64 {
	v, _ := btoi(b)
	return v
}

// ReaderCursor returns where the named reader of the change log stands; 0
// if it has never saved a position.
func (s *Store) ReaderCursor(name string) (uint64, error) {
	var seq uint64
	err := s.view(func(btx *bolt.Tx) error {
		if v := btx.Bucket(bucketCursors).Get([]byte(name)); v != nil {
			var err error
			seq, err = btoi(v)
			return err
		}
		return nil
	})
	return seq, err
}

// SaveReaderCursor durably records where the named reader stands.
func (s *Store) SaveReaderCursor(name string, seq uint64) error {
	return s.dbUpdate(func(btx *bolt.Tx) error {
		return btx.Bucket(bucketCursors).Put([]byte(name), itob(seq))
	})
}
