package sync

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/favad/favad/inspector"
)

// MutEvidenceCreate records an evidence item; its bytes travel separately,
// over the resumable upload, and may come first or second.
const MutEvidenceCreate = "evidence.create"

// evidencePayload is what a device declares for an evidence record. Two
// records with the same id must agree on all of it.
type evidencePayload struct {
	ComplaintID string                 `json:"complaint_id"`
	VisitID     string                 `json:"visit_id,omitempty"`
	Kind        inspector.EvidenceKind `json:"kind"`
	ContentType string                 `json:"content_type"`
	Size        int64                  `json:"size"`
	SHA256      string                 `json:"sha256"`
	CapturedAt  time.Time              `json:"captured_at"`
	Location    *inspector.Location    `json:"location,omitempty"`
	Note        string                 `json:"note,omitempty"`
}

func declaredOf(e *inspector.Evidence) evidencePayload {
	return evidencePayload{ComplaintID: e.ComplaintID, VisitID: e.VisitID, Kind: e.Kind, ContentType: e.ContentType, Size: e.Size,
		SHA256: e.SHA256, CapturedAt: e.CapturedAt.UTC(), Location: e.Location, Note: e.Note}
}

// uploadedBlob is bytes that were verified and stored before their record came.
type uploadedBlob struct {
	SHA256      string               `json:"sha256"`
	Size        int64                `json:"size"`
	SniffedType string               `json:"sniffed_type"`
	Photo       *inspector.PhotoMeta `json:"photo,omitempty"`
	Uploader    string               `json:"uploader"`
	At          time.Time            `json:"at"`
}

// evidenceCreate applies the policy row for evidence: append-only under its
// client id; an exact replay is a no-op and the same id with other content is
// refused. The record joins its complaint's hash chain.
func (p *pushCtx) evidenceCreate() (Result, error) {
	res := p.res
	res.RecordKind, res.RecordID = KindEvidence, p.m.RecordID
	var in evidencePayload
	if err := decodeStrict(p.m.Payload, &in); err != nil {
		return res, err
	}
	e := inspector.Evidence{ID: p.m.RecordID, ComplaintID: in.ComplaintID, VisitID: in.VisitID, InspectorID: p.u.ID, DeviceID: p.device,
		Kind: in.Kind, ContentType: in.ContentType, Size: in.Size, SHA256: in.SHA256, CapturedAt: in.CapturedAt.UTC(),
		Location: in.Location, Note: in.Note, Status: inspector.EvidenceAwaitingUpload}
	var pr inspector.Problems
	e.Validate(&pr, "payload.", p.s.evidenceMax)
	if err := pr.Err(); err != nil {
		return res, err
	}
	p.complaintID = e.ComplaintID
	b := p.t.Bucket(bucketEvidence)
	var old inspector.Evidence
	exists, err := getJSON(b, []byte(e.ID), &old)
	if err != nil {
		return res, err
	}
	if exists {
		if reflect.DeepEqual(declaredOf(&old), declaredOf(&e)) && old.InspectorID == e.InspectorID {
			res.Status, res.Version = StatusApplied, old.Version
			return res, nil
		}
		return res, &inspector.Error{Code: inspector.CodeIdempotencyClash,
			Message: fmt.Sprintf("evidence %s already exists with different content; evidence is append-only", e.ID)}
	}
	if owner := p.t.Bucket(bucketUploadClaims).Get([]byte(e.ID)); owner != nil && string(owner) != p.u.ID {
		return res, inspector.Errorf(inspector.CodeForbidden, "another inspector uploaded bytes under this evidence id")
	}
	if err := p.requireComplaint(e.ComplaintID); err != nil {
		return res, err
	}
	var visit *inspector.Visit
	if e.VisitID != "" {
		if err := p.requireVisit(e.VisitID); err != nil {
			if err == errOrphaned {
				return res, inspector.Errorf(inspector.CodeConflict, "the visit this evidence belongs to was deleted; send it without the visit")
			}
			return res, err
		}
		visit = &inspector.Visit{}
		if _, err := getJSON(p.t.Bucket(bucketVisits), []byte(e.VisitID), visit); err != nil {
			return res, err
		}
	}
	e.ReceivedAt = p.t.now
	if err := p.t.chain(&e); err != nil {
		return res, err
	}
	if up, ok, err := pendingUpload(p.t, e.ID); err != nil {
		return res, err
	} else if ok {
		p.t.applyUpload(&e, up)
		// Bytes that are not the record's stay pending, to be pruned with
		// other bytes no record claims (and seen by verify till then).
		if up.SHA256 == e.SHA256 {
			if err := p.t.Bucket(bucketEvidenceUploads).Delete([]byte(e.ID)); err != nil {
				return res, err
			}
		}
	}
	e.Flags = inspector.EvidenceFlags(e, visit, p.t.officeOf(e.ComplaintID), p.s.evidenceLim)
	data := p.logData()
	data["status"] = string(e.Status) // stored already if the bytes came first: readers need not guess from the record
	seq, err := p.t.log(KindEvidence, e.ID, ActionCreated, data)
	if err != nil {
		return res, err
	}
	e.Version = seq
	if err := p.t.saveEvidence(&e, seq); err != nil {
		return res, err
	}
	res.Status, res.Version = StatusApplied, seq
	return res, nil
}

// chain appends e to its complaint's hash chain.
func (t *tx) chain(e *inspector.Evidence) error {
	c := t.Bucket(bucketEvidenceChain).Cursor()
	prefix := append([]byte(e.ComplaintID), 0)
	// The complaint's last entry is the key just before its largest possible one.
	var k, v []byte
	if k, _ = c.Seek(seqKey(e.ComplaintID, math.MaxUint64)); k == nil {
		k, v = c.Last()
	} else {
		k, v = c.Prev()
	}
	e.ChainSeq, e.ChainPrev = 1, ""
	if k != nil && bytes.HasPrefix(k, prefix) {
		last, _ := btoi(k[len(prefix):])
		var prev inspector.Evidence
		if _, err := getJSON(t.Bucket(bucketEvidence), v, &prev); err != nil {
			return err
		}
		e.ChainSeq, e.ChainPrev = last+1, prev.ChainHash
	}
	e.ChainHash = inspector.ChainEntryHash(e.ChainPrev, *e)
	return t.Bucket(bucketEvidenceChain).Put(seqKey(e.ComplaintID, e.ChainSeq), []byte(e.ID))
}

// saveEvidence writes e changed at seq, into its inspector's scope and its
// complaint's history.
func (t *tx) saveEvidence(e *inspector.Evidence, seq uint64) error {
	if err := t.Bucket(bucketRecordLog).Put(recordLogKey(KindComplaint, e.ComplaintID, seq), nil); err != nil {
		return err
	}
	if err := t.scoped(inspectorScope(e.InspectorID), seq, KindEvidence, e.ID, OpUpsert, ""); err != nil {
		return err
	}
	return putJSON(t.Bucket(bucketEvidence), []byte(e.ID), e)
}

// pendingUpload reads the bytes that arrived for id before its record.
func pendingUpload(t *tx, id string) (uploadedBlob, bool, error) {
	var up uploadedBlob
	ok, err := getJSON(t.Bucket(bucketEvidenceUploads), []byte(id), &up)
	return up, ok, err
}

// applyUpload settles a record with its verified bytes: stored if they are
// the bytes it declared, rejected otherwise.
func (t *tx) applyUpload(e *inspector.Evidence, up uploadedBlob) {
	if up.SHA256 != e.SHA256 {
		e.Status, e.Reason = inspector.EvidenceRejected, fmt.Sprintf("the uploaded bytes hash to %s, not the declared %s", up.SHA256, e.SHA256)
		return
	}
	if up.SniffedType == "" {
		e.Status, e.Reason = inspector.EvidenceRejected, "the file is not a JPEG, PNG, HEIC, WebP or PDF"
		return
	}
	at := t.now
	e.Status, e.Reason, e.StoredAt, e.SniffedType, e.Photo = inspector.EvidenceStored, "", &at, up.SniffedType, up.Photo
	if thumbnailable(up.SniffedType) {
		_ = t.Bucket(bucketThumbQueue).Put([]byte(e.ID), nil)
	}
}

func thumbnailable(contentType string) bool {
	switch contentType {
	case "image/jpeg", "image/png", "image/webp":
		return true
	}
	return false
}

// officeOf returns the office of a complaint, or nil.
func (t *tx) officeOf(complaintID string) *inspector.Office {
	var c inspector.Complaint
	if ok, err := getJSON(t.Bucket(bucketComplaints), []byte(complaintID), &c); err != nil || !ok {
		return nil
	}
	var o inspector.Office
	if ok, err := getJSON(t.Bucket(bucketOffices), []byte(c.OfficeCode), &o); err != nil || !ok {
		return nil
	}
	return &o
}

// Upload is what the server learned of uploaded bytes.
type Upload struct {
	EvidenceID  string
	SHA256      string // computed by the server
	Size        int64
	SniffedType string // from the bytes; "" if not an allowed type
	Photo       *inspector.PhotoMeta
}

// ClaimUpload checks, before any byte is stored, that u may upload bytes for
// the evidence id with this declared hash, size and type: the record, if it
// exists, is u's and declares the same; otherwise the id is claimed for u.
//
// held is not empty when the server already holds these very bytes, so that
// nothing needs uploading: EvidenceStored (the record has them) or
// EvidenceAwaitingUpload (they came first and wait for their record).
func (s *Store) ClaimUpload(u inspector.User, evidenceID, sha string, size int64, contentType string) (held inspector.EvidenceStatus, err error) {
	if u.Role != inspector.RoleInspector && u.Role != inspector.RoleOffice {
		return "", inspector.Errorf(inspector.CodeForbidden, "only inspectors and offices upload evidence")
	}
	// Most claims only read (the record came first, or the id is claimed
	// already): no commit, so the upload does not wait for a disk flush.
	var claim bool
	err = s.view(func(btx *bolt.Tx) error {
		held, claim, err = checkClaim(btx, u, evidenceID, sha, size, contentType)
		return err
	})
	if err != nil || !claim {
		return held, err
	}
	// Group commit: many phones start uploads at once when coverage returns.
	err = s.batch(Actor{UserID: u.ID}, func(t *tx) error {
		var err error // Batch may run this twice
		if held, claim, err = checkClaim(t.Tx, u, evidenceID, sha, size, contentType); err != nil || !claim {
			return err
		}
		return t.Bucket(bucketUploadClaims).Put([]byte(evidenceID), []byte(u.ID))
	})
	return held, err
}

// checkClaim is ClaimUpload's check; claim says the id is to be claimed for u.
func checkClaim(btx *bolt.Tx, u inspector.User, evidenceID, sha string, size int64, contentType string) (held inspector.EvidenceStatus, claim bool, err error) {
	var e inspector.Evidence
	ok, err := getJSON(btx.Bucket(bucketEvidence), []byte(evidenceID), &e)
	if err != nil {
		return "", false, err
	}
	if ok {
		if e.InspectorID != u.ID {
			return "", false, inspector.Errorf(inspector.CodeForbidden, "this evidence belongs to another inspector")
		}
		var p inspector.Problems
		if e.SHA256 != sha {
			p.Add("sha256", "mismatch", "the record declares another SHA-256")
		}
		if e.Size != size {
			p.Add("size", "mismatch", fmt.Sprintf("the record declares %d bytes", e.Size))
		}
		if e.ContentType != contentType {
			p.Add("filetype", "mismatch", "the record declares "+e.ContentType)
		}
		if err := p.Err(); err != nil {
			return "", false, err
		}
		if e.Status == inspector.EvidenceStored {
			held = inspector.EvidenceStored
		}
		return held, false, nil
	}
	if u.Role == inspector.RoleOffice {
		// An office declares its files in its answer first; it has no
		// offline queue that could send the record after the bytes.
		return "", false, inspector.Errorf(inspector.CodeForbidden, "attach the file to the referral's answer before uploading it")
	}
	owner := btx.Bucket(bucketUploadClaims).Get([]byte(evidenceID))
	if owner == nil {
		return "", true, nil
	}
	if string(owner) != u.ID {
		return "", false, inspector.Errorf(inspector.CodeForbidden, "this evidence id belongs to another inspector")
	}
	var up uploadedBlob
	ok, err = getJSON(btx.Bucket(bucketEvidenceUploads), []byte(evidenceID), &up)
	if ok && up.SHA256 == sha && up.Size == size && up.SniffedType != "" {
		held = inspector.EvidenceAwaitingUpload
	}
	return held, false, err
}

// BytesHeld reports whether the server holds the bytes sha (size bytes) of
// evidence id: EvidenceStored if its record has them, EvidenceAwaitingUpload
// if they came first and wait for their record, "" otherwise. It checks
// nothing about who asks; ClaimUpload does.
func (s *Store) BytesHeld(evidenceID, sha string, size int64) (inspector.EvidenceStatus, error) {
	var held inspector.EvidenceStatus
	err := s.view(func(btx *bolt.Tx) error {
		var e inspector.Evidence
		ok, err := getJSON(btx.Bucket(bucketEvidence), []byte(evidenceID), &e)
		if err != nil || ok {
			if ok && e.Status == inspector.EvidenceStored && e.SHA256 == sha && e.Size == size {
				held = inspector.EvidenceStored
			}
			return err
		}
		var up uploadedBlob
		ok, err = getJSON(btx.Bucket(bucketEvidenceUploads), []byte(evidenceID), &up)
		if ok && up.SHA256 == sha && up.Size == size && up.SniffedType != "" {
			held = inspector.EvidenceAwaitingUpload
		}
		return err
	})
	return held, err
}

// AttachUpload records verified bytes: their record becomes stored (or
// rejected, with the reason), or, if the record has not arrived, the bytes
// wait for it.
func (s *Store) AttachUpload(u inspector.User, deviceID string, up Upload) (inspector.Evidence, error) {
	var e inspector.Evidence
	err := s.batch(Actor{UserID: u.ID, DeviceID: deviceID}, func(t *tx) error {
		e = inspector.Evidence{} // Batch may run this twice
		blob := uploadedBlob{SHA256: up.SHA256, Size: up.Size, SniffedType: up.SniffedType, Photo: up.Photo, Uploader: u.ID, At: t.now}
		ok, err := getJSON(t.Bucket(bucketEvidence), []byte(up.EvidenceID), &e)
		if err != nil {
			return err
		}
		if !ok {
			e = inspector.Evidence{ID: up.EvidenceID, Status: inspector.EvidenceAwaitingUpload}
			return putJSON(t.Bucket(bucketEvidenceUploads), []byte(up.EvidenceID), blob)
		}
		if e.InspectorID != u.ID {
			return inspector.Errorf(inspector.CodeForbidden, "this evidence belongs to another inspector")
		}
		if e.Status == inspector.EvidenceStored {
			return nil
		}
		t.applyUpload(&e, blob)
		if blob.SHA256 != e.SHA256 {
			// Not the record's bytes: kept as unclaimed, so that the janitor
			// prunes them like any bytes no record claims.
			if err := putJSON(t.Bucket(bucketEvidenceUploads), []byte(up.EvidenceID), blob); err != nil {
				return err
			}
		}
		var visit *inspector.Visit
		if e.VisitID != "" {
			visit = &inspector.Visit{}
			if _, err := getJSON(t.Bucket(bucketVisits), []byte(e.VisitID), visit); err != nil {
				return err
			}
		}
		e.Flags = inspector.EvidenceFlags(e, visit, t.officeOf(e.ComplaintID), s.evidenceLim)
		seq, err := t.log(KindEvidence, e.ID, string(e.Status), map[string]string{"sha256": up.SHA256})
		if err != nil {
			return err
		}
		e.Version = seq
		return t.saveEvidence(&e, seq)
	})
	return e, err
}

// Evidence returns one evidence record, or CodeNotFound.
func (s *Store) Evidence(id string) (inspector.Evidence, error) {
	var e inspector.Evidence
	err := s.view(func(btx *bolt.Tx) error {
		ok, err := getJSON(btx.Bucket(bucketEvidence), []byte(id), &e)
		if err == nil && !ok {
			err = notFound("evidence", id)
		}
		return err
	})
	return e, err
}

// ComplaintEvidence returns a complaint's evidence in chain order.
func (s *Store) ComplaintEvidence(complaintID string) ([]inspector.Evidence, error) {
	out := []inspector.Evidence{}
	err := s.view(func(btx *bolt.Tx) error {
		if btx.Bucket(bucketComplaints).Get([]byte(complaintID)) == nil {
			return notFound("complaint", complaintID)
		}
		prefix := append([]byte(complaintID), 0)
		c := btx.Bucket(bucketEvidenceChain).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			var e inspector.Evidence
			if _, err := getJSON(btx.Bucket(bucketEvidence), v, &e); err != nil {
				return err
			}
			out = append(out, e)
		}
		return nil
	})
	return out, err
}

// ThumbnailJobs returns up to n evidence records waiting for a thumbnail.
func (s *Store) ThumbnailJobs(n int) ([]inspector.Evidence, error) {
	var out []inspector.Evidence
	err := s.view(func(btx *bolt.Tx) error {
		c := btx.Bucket(bucketThumbQueue).Cursor()
		for k, _ := c.First(); k != nil && len(out) < n; k, _ = c.Next() {
			var e inspector.Evidence
			ok, err := getJSON(btx.Bucket(bucketEvidence), k, &e)
			if err != nil {
				return err
			}
			if ok {
				out = append(out, e)
			}
		}
		return nil
	})
	return out, err
}

// ThumbnailDone takes a job off the queue; made reports whether a thumbnail
// now exists (false: the image could not be decoded, and no retry will help).
func (s *Store) ThumbnailDone(id string, made bool) error {
	return s.update(System, func(t *tx) error {
		if err := t.Bucket(bucketThumbQueue).Delete([]byte(id)); err != nil {
			return err
		}
		var e inspector.Evidence
		ok, err := getJSON(t.Bucket(bucketEvidence), []byte(id), &e)
		if err != nil || !ok || !made {
			return err
		}
		e.Thumbnail = true
		seq, err := t.log(KindEvidence, e.ID, "thumbnail", nil)
		if err != nil {
			return err
		}
		e.Version = seq
		return t.saveEvidence(&e, seq)
	})
}

// ChainBreak is one inconsistency in a complaint's evidence chain.
type ChainBreak struct {
	ComplaintID string
	Seq         uint64
	EvidenceID  string
	Problem     string
}

// VerifyChains recomputes every complaint's evidence chain and reports each
// break: an entry whose hash does not cover its content and predecessor, a
// missing entry, or an item no chain holds.
func (s *Store) VerifyChains() (checked int, breaks []ChainBreak, err error) {
	err = s.view(func(btx *bolt.Tx) error {
		evidence := btx.Bucket(bucketEvidence)
		if evidence == nil {
			return nil // a store from before evidence (opened read-only, not upgraded) holds none
		}
		inChain := map[string]bool{}
		var (
			complaint string
			want      uint64
			prevHash  string
		)
		c := btx.Bucket(bucketEvidenceChain).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			i := bytes.IndexByte(k, 0)
			cid := string(k[:i])
			seq, _ := btoi(k[i+1:])
			if cid != complaint {
				complaint, want, prevHash = cid, 1, ""
			}
			id := string(v)
			inChain[id] = true
			checked++
			var e inspector.Evidence
			ok, err := getJSON(evidence, v, &e)
			switch {
			case err != nil:
				breaks = append(breaks, ChainBreak{cid, seq, id, "unreadable: " + err.Error()})
			case !ok:
				breaks = append(breaks, ChainBreak{cid, seq, id, "the evidence record is missing"})
			case seq != want:
				breaks = append(breaks, ChainBreak{cid, seq, id, fmt.Sprintf("entry %d is missing", want)})
			case e.ChainPrev != prevHash:
				breaks = append(breaks, ChainBreak{cid, seq, id, "does not follow the previous entry's hash"})
			case inspector.ChainEntryHash(e.ChainPrev, e) != e.ChainHash:
				breaks = append(breaks, ChainBreak{cid, seq, id, "its content no longer matches its hash"})
			}
			want, prevHash = seq+1, e.ChainHash
		}
		return evidence.ForEach(func(k, v []byte) error {
			if !inChain[string(k)] {
				var e inspector.Evidence
				_ = json.Unmarshal(v, &e)
				breaks = append(breaks, ChainBreak{e.ComplaintID, e.ChainSeq, string(k), "in no chain"})
			}
			return nil
		})
	})
	return checked, breaks, err
}

// StoredBlobs calls fn with the hash of every stored evidence item, so that
// a verifier can check the bytes exist.
func (s *Store) StoredBlobs(fn func(evidenceID, sha string)) error {
	return s.view(func(btx *bolt.Tx) error {
		b := btx.Bucket(bucketEvidence)
		if b == nil {
			return nil // a store from before evidence, opened read-only
		}
		return b.ForEach(func(k, v []byte) error {
			var e inspector.Evidence
			if err := json.Unmarshal(v, &e); err != nil {
				return err
			}
			if e.Status == inspector.EvidenceStored {
				fn(e.ID, e.SHA256)
			}
			return nil
		})
	})
}

// RejectUpload records that bytes uploaded for an evidence record failed
// verification. The record, if it exists, becomes rejected with the reason
// (a later good upload still stores it); nothing of the bytes is kept.
func (s *Store) RejectUpload(u inspector.User, deviceID, evidenceID, reason string) error {
	return s.update(Actor{UserID: u.ID, DeviceID: deviceID}, func(t *tx) error {
		var e inspector.Evidence
		ok, err := getJSON(t.Bucket(bucketEvidence), []byte(evidenceID), &e)
		if err != nil || !ok || e.InspectorID != u.ID || e.Status == inspector.EvidenceStored {
			return err
		}
		e.Status, e.Reason = inspector.EvidenceRejected, reason
		seq, err := t.log(KindEvidence, e.ID, string(e.Status), map[string]string{"reason": reason})
		if err != nil {
			return err
		}
		e.Version = seq
		return t.saveEvidence(&e, seq)
	})
}

// PendingUploadRetention is how long verified bytes wait for their evidence
// record before they are taken to be abandoned (an app uninstalled with its
// queue, a record rejected on the device).
const PendingUploadRetention = 30 * 24 * time.Hour

// PrunePendingUploads forgets bytes whose record never came within
// retention, and their upload claims. It returns the hashes no evidence
// record refers to, which the caller removes from the blob store.
func (s *Store) PrunePendingUploads(retention time.Duration) ([]string, error) {
	var orphans []string
	err := s.update(System, func(t *tx) error {
		orphans = nil
		cutoff := t.now.Add(-retention)
		uploads := t.Bucket(bucketEvidenceUploads)
		var stale []string
		candidates := map[string]bool{}
		err := uploads.ForEach(func(k, v []byte) error {
			var up uploadedBlob
			if err := json.Unmarshal(v, &up); err != nil {
				return fmt.Errorf("decode pending upload %s: %w", k, err)
			}
			if up.At.Before(cutoff) {
				stale = append(stale, string(k))
				candidates[up.SHA256] = true
			}
			return nil
		})
		if err != nil || len(stale) == 0 {
			return err
		}
		for _, id := range stale {
			if err := uploads.Delete([]byte(id)); err != nil {
				return err
			}
			if err := t.Bucket(bucketUploadClaims).Delete([]byte(id)); err != nil {
				return err
			}
		}
		// Bytes shared with a record, or with a pending upload still waiting, stay.
		referenced, err := referencedBlobs(t.Tx)
		if err != nil {
			return err
		}
		for sha := range candidates {
			if !referenced[sha] {
				orphans = append(orphans, sha)
			}
		}
		return nil
	})
	return orphans, err
}

// referencedBlobs is the set of hashes that an evidence record, or an upload
// waiting for its record, refers to.
func referencedBlobs(btx *bolt.Tx) (map[string]bool, error) {
	referenced := map[string]bool{}
	if b := btx.Bucket(bucketEvidence); b != nil { // nil: a store from before evidence, opened read-only
		if err := b.ForEach(func(_, v []byte) error {
			var e inspector.Evidence
			if err := json.Unmarshal(v, &e); err != nil {
				return err
			}
			referenced[e.SHA256] = true
			return nil
		}); err != nil {
			return nil, err
		}
	}
	if b := btx.Bucket(bucketEvidenceUploads); b != nil {
		if err := b.ForEach(func(_, v []byte) error {
			var up uploadedBlob
			if err := json.Unmarshal(v, &up); err != nil {
				return err
			}
			referenced[up.SHA256] = true
			return nil
		}); err != nil {
			return nil, err
		}
	}
	return referenced, nil
}
