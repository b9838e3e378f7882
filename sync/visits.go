package sync

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/favad/favad/inspector"
)

// setVisitField decodes raw into field f of v.
func setVisitField(v *inspector.Visit, f string, raw json.RawMessage) error {
	var target any
	switch f {
	case "office_code":
		target = &v.OfficeCode
	case "complaint_ids":
		target = &v.ComplaintIDs
	case "check_in":
		v.CheckIn, target = nil, &v.CheckIn // a fresh value: a copy of the visit shares the old one
	case "check_out":
		v.CheckOut, target = nil, &v.CheckOut
	case "summary":
		target = &v.Summary
	default:
		return (&inspector.Problems{{Field: "payload." + f, Code: "unknown", Message: "not a visit field"}}).Err()
	}
	if err := decodeField(raw, target, "payload."+f); err != nil {
		return err
	}
	switch f {
	case "office_code":
		v.OfficeCode = strings.ToUpper(strings.TrimSpace(v.OfficeCode))
	case "complaint_ids":
		if v.ComplaintIDs == nil {
			v.ComplaintIDs = []string{}
		}
	}
	// Device times keep the offset the device sent (the spec promises it back).
	return nil
}

// indexUnder records change seq in the history of each record of kind named
// by ids (each once; empty ids skipped).
func (t *tx) indexUnder(kind string, seq uint64, ids ...[]string) error {
	seen := map[string]bool{}
	for _, list := range ids {
		for _, id := range list {
			if id == "" || seen[id] {
				continue
			}
			seen[id] = true
			if err := t.putIndex(bucketRecordLog, recordLogKey(kind, id, seq), nil); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkVisit validates the fields of visit v named in present, and that its
// office and complaints exist.
func (t *tx) checkVisit(v inspector.Visit, present map[string]bool, creating bool) error {
	var pr inspector.Problems
	if creating && !present["office_code"] {
		pr.Add("payload.office_code", "required", "a new visit needs its office")
	}
	v.Validate(&pr, "payload.", present)
	if err := pr.Err(); err != nil {
		return err
	}
	if present["office_code"] && t.Bucket(bucketOffices).Get([]byte(v.OfficeCode)) == nil {
		return (&inspector.Problems{{Field: "payload.office_code", Code: "unknown", Message: "no office with this code"}}).Err()
	}
	for i, id := range v.ComplaintIDs {
		if !present["complaint_ids"] {
			break
		}
		if t.Bucket(bucketComplaints).Get([]byte(id)) == nil {
			return (&inspector.Problems{{Field: fmt.Sprintf("payload.complaint_ids[%d]", i), Code: "unknown", Message: "no complaint with this id"}}).Err()
		}
		if ok, err := wasAssigned(t.Tx, id, v.InspectorID); err != nil || !ok {
			if err != nil {
				return err
			}
			return inspector.Errorf(inspector.CodeForbidden, "complaint %s was never assigned to you", id)
		}
	}
	return nil
}

// visitField returns field f of v as JSON, for comparison and conflict records.
func visitField(v inspector.Visit, f string) json.RawMessage {
	switch f {
	case "office_code":
		return rawJSON(v.OfficeCode)
	case "complaint_ids":
		return rawJSON(v.ComplaintIDs)
	case "check_in":
		return rawJSON(v.CheckIn)
	case "check_out":
		return rawJSON(v.CheckOut)
	case "summary":
		return rawJSON(v.Summary)
	}
	return nil
}

// visitUpsert applies the policy rows for visits: fields the server changed
// meanwhile and the device did not are merged (parallel update); a field both
// changed is decided by hybrid logical clock, ties by device id (conflict);
// an edit to a visit dispatch deleted is kept as orphaned work.
func (p *pushCtx) visitUpsert() (Result, error) {
	res := p.res
	res.RecordKind, res.RecordID = KindVisit, p.m.RecordID
	var fields map[string]json.RawMessage
	if err := decodeStrict(p.m.Payload, &fields); err != nil {
		return res, err
	}
	if len(fields) == 0 {
		return res, (&inspector.Problems{{Field: "payload", Code: "required", Message: "no visit fields to set"}}).Err()
	}
	names := make([]string, 0, len(fields))
	for f := range fields {
		if !slices.Contains(inspector.VisitFields, f) {
			return res, (&inspector.Problems{{Field: "payload." + f, Code: "unknown", Message: "not a visit field"}}).Err()
		}
		names = append(names, f)
	}
	slices.Sort(names)

	b := p.t.Bucket(bucketVisits)
	var v inspector.Visit
	exists, err := getJSON(b, []byte(p.m.RecordID), &v)
	if err != nil {
		return res, err
	}
	if exists && v.InspectorID != p.u.ID {
		return res, inspector.Errorf(inspector.CodeForbidden, "this visit belongs to another inspector")
	}
	if len(v.ComplaintIDs) > 0 {
		p.complaintID = v.ComplaintIDs[0]
	}
	if exists && v.Deleted {
		c := &Conflict{Label: inspector.LabelConflict, Rule: inspector.RuleOrphaned, RecordKind: KindVisit, RecordID: v.ID,
			ComplaintID: p.complaintID, DeviceValue: rawJSON(fields), Winner: "server", InspectorID: p.u.ID, DeviceID: p.device,
			MutationID: p.m.ID, DeviceSeq: p.m.DeviceSeq, Message: "dispatch deleted this visit; your edits are kept for dispatch to review"}
		if err := p.t.recordConflict(c, p.s.newID); err != nil {
			return res, err
		}
		res.Status, res.Rule, res.Version, res.ConflictIDs, res.Message = StatusResolvedByRule, inspector.RuleOrphaned, c.Version, []string{c.ID}, c.Message
		return res, nil
	}

	cand := v
	if !exists {
		cand = inspector.Visit{ID: p.m.RecordID, InspectorID: p.u.ID, ComplaintIDs: []string{}, CreatedAt: p.t.now}
	}
	cand.ComplaintIDs = slices.Clone(cand.ComplaintIDs)
	present := map[string]bool{}
	for _, f := range names {
		if err := setVisitField(&cand, f, fields[f]); err != nil {
			return res, err
		}
		present[f] = true
	}
	if err := p.t.checkVisit(cand, present, !exists); err != nil {
		return res, err
	}
	if len(cand.ComplaintIDs) > 0 {
		p.complaintID = cand.ComplaintIDs[0]
	}

	out := v
	if !exists {
		out = cand
		out.OfficeCode, out.ComplaintIDs, out.CheckIn, out.CheckOut, out.Summary = "", []string{}, nil, nil, ""
	}
	if out.Stamps == nil {
		out.Stamps = map[string]inspector.Stamp{}
	}
	if out.FieldSeqs == nil {
		out.FieldSeqs = map[string]uint64{}
	}
	if out.DeviceFieldSeqs == nil {
		out.DeviceFieldSeqs = map[string]uint64{}
	}
	var applied, merged []string
	var conflicts []*Conflict
	winning := map[string]json.RawMessage{}
	for _, f := range names {
		mine, theirs := visitField(cand, f), visitField(v, f)
		if v.DeviceFieldSeqs[p.device+"/"+f] > p.m.DeviceSeq {
			// This device already wrote the field later in its own order; this
			// older write arrived late and is superseded, whatever its clock says.
			winning[f] = theirs
			c := p.visitConflict(v, f, theirs, mine, "server")
			c.Message = fmt.Sprintf("%s was changed again later on this device; the later change was kept", f)
			conflicts = append(conflicts, c)
			continue
		}
		own := exists && v.Stamps[f].Device == p.device // the device's own earlier write: its order decides
		concurrent := exists && v.FieldSeqs[f] > p.m.BaseVersion
		switch {
		case !exists, bytes.Equal(mine, theirs), own && inspector.Wins(p.m.HLC, v.Stamps[f]), !own && !concurrent:
			applied = append(applied, f)
		case inspector.Wins(p.m.HLC, v.Stamps[f]):
			applied = append(applied, f)
			winning[f] = mine
			conflicts = append(conflicts, p.visitConflict(v, f, theirs, mine, "device"))
		default:
			winning[f] = theirs
			conflicts = append(conflicts, p.visitConflict(v, f, theirs, mine, "server"))
		}
	}
	if exists && p.m.BaseVersion < v.Version {
		for _, f := range inspector.VisitFields {
			if v.FieldSeqs[f] > p.m.BaseVersion && !present[f] && v.Stamps[f].Device != p.device {
				merged = append(merged, f) // the server changed it, the device did not: both kept
			}
		}
	}
	if len(conflicts) > 0 {
		// One record for the mutation, naming every field it lost or won
		// against a write made elsewhere; fields merged meanwhile are named
		// in its message rather than on a record of their own.
		c := joinVisitConflicts(conflicts)
		if len(merged) > 0 {
			c.Message += "; merged with changes made elsewhere to " + strings.Join(merged, ", ")
		}
		if err := p.t.recordConflict(c, p.s.newID); err != nil {
			return res, err
		}
		res.ConflictIDs = append(res.ConflictIDs, c.ID)
	} else if len(merged) > 0 {
		c := &Conflict{Label: inspector.LabelParallelUpdate, Rule: inspector.RuleMerge, RecordKind: KindVisit, RecordID: v.ID,
			ComplaintID: p.complaintID, Field: strings.Join(append(slices.Clone(applied), merged...), ","), Winner: "both",
			InspectorID: p.u.ID, DeviceID: p.device, MutationID: p.m.ID, DeviceSeq: p.m.DeviceSeq, DeviceValue: rawJSON(fields),
			Message: "the visit changed elsewhere in other fields; both changes were kept"}
		if err := p.t.recordConflict(c, p.s.newID); err != nil {
			return res, err
		}
		res.ConflictIDs = append(res.ConflictIDs, c.ID)
	}
	res.Version = v.Version
	if len(applied) > 0 {
		action := ActionUpdated
		if !exists {
			action = ActionCreated
		}
		data := p.logData()
		data["fields"] = strings.Join(applied, ",")
		seq, err := p.t.log(KindVisit, out.ID, action, data)
		if err != nil {
			return res, err
		}
		for _, f := range applied {
			if err := setVisitField(&out, f, visitField(cand, f)); err != nil {
				return res, err
			}
			out.Stamps[f], out.FieldSeqs[f] = p.m.HLC, seq
			out.DeviceFieldSeqs[p.device+"/"+f] = max(out.DeviceFieldSeqs[p.device+"/"+f], p.m.DeviceSeq)
		}
		out.Version = seq
		// The change belongs to the history of every complaint the visit
		// names, before and after it (one it stops naming sees it leave).
		if err := p.t.indexUnder(KindComplaint, seq, v.ComplaintIDs, out.ComplaintIDs); err != nil {
			return res, err
		}
		if err := p.t.scoped(inspectorScope(p.u.ID), seq, KindVisit, out.ID, OpUpsert, ""); err != nil {
			return res, err
		}
		if err := putJSON(b, []byte(out.ID), out); err != nil {
			return res, err
		}
		res.Version = seq
	}
	switch {
	case len(conflicts) > 0:
		res.Status, res.Rule, res.WinningValue = StatusResolvedByRule, inspector.RuleLastWriterWins, rawJSON(winning)
	case len(merged) > 0:
		res.Status, res.Rule = StatusMerged, inspector.RuleMerge
	default:
		res.Status = StatusApplied
	}
	return res, nil
}

// joinVisitConflicts folds the per-field last-writer-wins records of one
// mutation into one: its Field names them all (comma-separated, in order),
// its values are objects keyed by field, and its Winner is the side that won
// every field, or "mixed" with FieldWinners saying which won each.
func joinVisitConflicts(cs []*Conflict) *Conflict {
	if len(cs) == 1 {
		return cs[0]
	}
	out := *cs[0]
	names, msgs := make([]string, len(cs)), make([]string, len(cs))
	server, device := map[string]json.RawMessage{}, map[string]json.RawMessage{}
	winners := map[string]string{}
	for i, c := range cs {
		names[i], msgs[i] = c.Field, c.Message
		server[c.Field], device[c.Field], winners[c.Field] = c.ServerValue, c.DeviceValue, c.Winner
		if c.Winner != out.Winner {
			out.Winner = "mixed"
		}
	}
	out.Field, out.Message = strings.Join(names, ","), strings.Join(msgs, "; ")
	out.ServerValue, out.DeviceValue = rawJSON(server), rawJSON(device)
	if out.Winner == "mixed" {
		out.FieldWinners = winners
	}
	return &out
}

func (p *pushCtx) visitConflict(v inspector.Visit, f string, server, device json.RawMessage, winner string) *Conflict {
	msg := fmt.Sprintf("%s was changed on another device too; the later change was kept", f)
	return &Conflict{Label: inspector.LabelConflict, Rule: inspector.RuleLastWriterWins, RecordKind: KindVisit, RecordID: v.ID,
		ComplaintID: p.complaintID, Field: f, ServerValue: server, DeviceValue: device, Winner: winner,
		InspectorID: p.u.ID, DeviceID: p.device, MutationID: p.m.ID, DeviceSeq: p.m.DeviceSeq, Message: msg}
}

// DeleteVisit lets dispatch remove a visit recorded in error. Its owner's
// devices receive a removal; later edits from a device become orphaned work
// on a conflict record, never silently applied.
func (s *Store) DeleteVisit(actor Actor, id string) error {
	return s.update(actor, func(t *tx) error {
		b := t.Bucket(bucketVisits)
		var v inspector.Visit
		ok, err := getJSON(b, []byte(id), &v)
		if err != nil {
			return err
		}
		if !ok || v.Deleted {
			return notFound("visit", id)
		}
		v.Deleted, v.DeletedBy = true, actor.UserID
		seq, err := t.log(KindVisit, id, ActionDeleted, map[string]string{"inspector": v.InspectorID})
		if err != nil {
			return err
		}
		v.Version = seq
		if err := t.indexUnder(KindComplaint, seq, v.ComplaintIDs); err != nil {
			return err
		}
		if err := t.scoped(inspectorScope(v.InspectorID), seq, KindVisit, id, OpRemove, ReasonDeleted); err != nil {
			return err
		}
		return putJSON(b, []byte(id), v)
	})
}

// FieldWork is what inspectors recorded for one complaint.
type FieldWork struct {
	Visits   []inspector.Visit
	Findings []inspector.Finding
	Calls    []inspector.CallRecord
	Notes    []inspector.Note
}

// ComplaintFieldWork gathers a complaint's field work: the visits that name
// it now (deleted ones left out); the findings, calls and notes recorded on
// it; and the findings and notes that name no complaint but belong to one of
// those visits. Each list is in the order its records were first recorded.
func (s *Store) ComplaintFieldWork(complaintID string) (FieldWork, error) {
	fw := FieldWork{Visits: []inspector.Visit{}, Findings: []inspector.Finding{}, Calls: []inspector.CallRecord{}, Notes: []inspector.Note{}}
	err := s.view(func(btx *bolt.Tx) error {
		if btx.Bucket(bucketComplaints).Get([]byte(complaintID)) == nil {
			return notFound("complaint", complaintID)
		}
		seen := map[string]bool{}
		// keep adds the field-work record a change is about, once.
		keep := func(ch Change, visitOf string) error {
			if seen[ch.Kind+ch.ID] {
				return nil
			}
			if ch.Kind != KindVisit && ch.Kind != KindFinding && ch.Kind != KindCall && ch.Kind != KindNote {
				return nil
			}
			rec, _, ok, err := loaders[ch.Kind](btx, ch.ID)
			if err != nil || !ok {
				return err
			}
			switch r := rec.(type) {
			case *inspector.Visit:
				if visitOf != "" {
					return nil // a visit's history holds its own changes
				}
				seen[ch.Kind+ch.ID] = true
				if !r.Deleted && slices.Contains(r.ComplaintIDs, complaintID) {
					fw.Visits = append(fw.Visits, *r)
				}
			case *inspector.Finding:
				if visitOf == "" || (r.ComplaintID == "" && r.VisitID == visitOf) {
					seen[ch.Kind+ch.ID] = true
					fw.Findings = append(fw.Findings, *r)
				}
			case *inspector.CallRecord:
				seen[ch.Kind+ch.ID] = true
				fw.Calls = append(fw.Calls, *r)
			case *inspector.Note:
				if visitOf == "" || (r.ComplaintID == "" && r.VisitID == visitOf) {
					seen[ch.Kind+ch.ID] = true
					fw.Notes = append(fw.Notes, *r)
				}
			}
			return nil
		}
		h, err := history(btx, KindComplaint, complaintID)
		if err != nil {
			return err
		}
		for _, ch := range h {
			if err := keep(ch, ""); err != nil {
				return err
			}
		}
		for _, v := range fw.Visits {
			vh, err := history(btx, KindVisit, v.ID)
			if err != nil {
				return err
			}
			for _, ch := range vh {
				if err := keep(ch, v.ID); err != nil {
					return err
				}
			}
		}
		// Append-only records keep the sequence they were created at.
		slices.SortStableFunc(fw.Findings, func(a, b inspector.Finding) int { return cmp.Compare(a.Version, b.Version) })
		slices.SortStableFunc(fw.Notes, func(a, b inspector.Note) int { return cmp.Compare(a.Version, b.Version) })
		return nil
	})
	return fw, err
}

// migrateFieldWorkIndex gives a store from before schema 6 the field-work
// index: each visit's last change in the history of every complaint it names,
// and each finding and note on a visit in the visit's history (and, when it
// names no complaint, in the history of every complaint the visit names).
// Putting a key that is there already changes nothing, so it may run twice.
func migrateFieldWorkIndex(btx *bolt.Tx) error {
	t := &tx{Tx: btx}
	visits := btx.Bucket(bucketVisits)
	err := visits.ForEach(func(k, raw []byte) error {
		var v inspector.Visit
		if err := json.Unmarshal(raw, &v); err != nil {
			return fmt.Errorf("decode visit %q: %w", k, err)
		}
		return t.indexUnder(KindComplaint, v.Version, v.ComplaintIDs)
	})
	if err != nil {
		return err
	}
	onVisit := func(bucket []byte, read func([]byte) (visitID, complaintID string, version uint64, err error)) error {
		return btx.Bucket(bucket).ForEach(func(k, raw []byte) error {
			visitID, complaintID, version, err := read(raw)
			if err != nil {
				return fmt.Errorf("decode %s %q: %w", bucket, k, err)
			}
			if visitID == "" {
				return nil
			}
			if err := t.indexUnder(KindVisit, version, []string{visitID}); err != nil {
				return err
			}
			var v inspector.Visit
			if ok, err := getJSON(visits, []byte(visitID), &v); err != nil || !ok || complaintID != "" {
				return err
			}
			return t.indexUnder(KindComplaint, version, v.ComplaintIDs)
		})
	}
	if err := onVisit(bucketFindings, func(raw []byte) (string, string, uint64, error) {
		var f inspector.Finding
		err := json.Unmarshal(raw, &f)
		return f.VisitID, f.ComplaintID, f.Version, err
	}); err != nil {
		return err
	}
	return onVisit(bucketNotes, func(raw []byte) (string, string, uint64, error) {
		n, err := decodeNote("", raw)
		return n.VisitID, n.ComplaintID, n.Version, err
	})
}
