package sync

import (
	"fmt"
	"math"

	bolt "go.etcd.io/bbolt"

	"github.com/favad/favad/inspector"
)

// ChangeView is a change-log entry with the records it concerns, read in the
// same transaction, for the readers of the log that show or count what
// happened (the live feed, the reports). The records are in their current
// state, not as of the change.
//
// Complaint carries the caller: a reader must never copy Caller, CallID or
// TrackingCode into anything but output for roles that may see the caller.
type ChangeView struct {
	Change
	ComplaintID string               // the complaint the change concerns, "" if none
	Complaint   *inspector.Complaint // its current state
	Office      *inspector.Office    // the complaint's office, else the visit's
	Agency      *inspector.Agency    // that office's agency
	Visit       *inspector.Visit     // a visit change, or the visit of a finding or evidence item
	Finding     *inspector.Finding
	Call        *inspector.CallRecord
	Evidence    *inspector.Evidence
	Conflict    *Conflict
	ActorUser   *inspector.User // the actor's account; nil for the system
}

// ReadChanges returns up to limit changes after seq, oldest first, each with
// the records it concerns. A record removed since is simply absent.
func (s *Store) ReadChanges(after uint64, limit int) ([]ChangeView, error) {
	if after == math.MaxUint64 || limit <= 0 {
		return nil, nil
	}
	var out []ChangeView
	err := s.view(func(btx *bolt.Tx) error {
		r := changeReader{btx: btx, users: map[string]*inspector.User{}, offices: map[string]*inspector.Office{},
			agencies: map[string]*inspector.Agency{}, complaints: map[string]*inspector.Complaint{}}
		c := btx.Bucket(bucketLog).Cursor()
		for k, v := c.Seek(itob(after + 1)); k != nil && len(out) < limit; k, v = c.Next() {
			ch, err := decodeChange(v)
			if err != nil {
				return fmt.Errorf("decode change %x: %w", k, err)
			}
			view, err := r.view(ch)
			if err != nil {
				return fmt.Errorf("change %d: %w", ch.Seq, err)
			}
			out = append(out, view)
		}
		return nil
	})
	return out, err
}

// changeReader loads the records of changes, caching what many changes share.
type changeReader struct {
	btx        *bolt.Tx
	users      map[string]*inspector.User
	offices    map[string]*inspector.Office
	agencies   map[string]*inspector.Agency
	complaints map[string]*inspector.Complaint
}

func load[T any](btx *bolt.Tx, bucket []byte, key string) (*T, error) {
	if key == "" {
		return nil, nil
	}
	var v T
	ok, err := getStored(btx.Bucket(bucket), []byte(key), &v)
	if err != nil || !ok {
		return nil, err
	}
	return &v, nil
}

func cached[T any](r *changeReader, m map[string]*T, bucket []byte, key string) (*T, error) {
	if v, ok := m[key]; ok {
		return v, nil
	}
	v, err := load[T](r.btx, bucket, key)
	if err == nil {
		m[key] = v
	}
	return v, err
}

func (r *changeReader) view(ch Change) (ChangeView, error) {
	v := ChangeView{Change: ch}
	var err error
	officeCode := ""
	switch ch.Kind {
	case KindComplaint:
		v.ComplaintID = ch.ID
	case KindVisit:
		v.Visit, err = load[inspector.Visit](r.btx, bucketVisits, ch.ID)
	case KindFinding:
		if v.Finding, err = load[inspector.Finding](r.btx, bucketFindings, ch.ID); err == nil && v.Finding != nil {
			v.ComplaintID = v.Finding.ComplaintID
			v.Visit, err = load[inspector.Visit](r.btx, bucketVisits, v.Finding.VisitID)
		}
	case KindCall:
		if v.Call, err = load[inspector.CallRecord](r.btx, bucketCalls, ch.ID); err == nil && v.Call != nil {
			v.ComplaintID = v.Call.ComplaintID
		}
	case KindNote:
		var n *inspector.Note
		if n, err = load[inspector.Note](r.btx, bucketNotes, ch.ID); err == nil && n != nil {
			v.ComplaintID = n.ComplaintID
			if n.VisitID != "" {
				v.Visit, err = load[inspector.Visit](r.btx, bucketVisits, n.VisitID)
			}
		}
	case KindEvidence:
		if v.Evidence, err = load[inspector.Evidence](r.btx, bucketEvidence, ch.ID); err == nil && v.Evidence != nil {
			v.ComplaintID = v.Evidence.ComplaintID
			if v.Evidence.VisitID != "" {
				v.Visit, err = load[inspector.Visit](r.btx, bucketVisits, v.Evidence.VisitID)
			}
		}
	case KindConflict:
		if v.Conflict, err = load[Conflict](r.btx, bucketConflicts, ch.ID); err == nil && v.Conflict != nil {
			v.ComplaintID = v.Conflict.ComplaintID
		}
	case KindOffice:
		officeCode = ch.ID
	case KindAgency:
		v.Agency, err = cached(r, r.agencies, bucketAgencies, ch.ID)
	}
	if err != nil {
		return v, err
	}
	if v.ComplaintID == "" && v.Visit != nil && len(v.Visit.ComplaintIDs) > 0 {
		v.ComplaintID = v.Visit.ComplaintIDs[0]
	}
	if v.ComplaintID != "" {
		// Cached within one page: a burst of changes to one complaint reads it once.
		if v.Complaint, err = cached(r, r.complaints, bucketComplaints, v.ComplaintID); err != nil {
			return v, err
		}
	}
	switch {
	case v.Complaint != nil:
		officeCode = v.Complaint.OfficeCode
	case v.Visit != nil:
		officeCode = v.Visit.OfficeCode
	}
	if officeCode != "" {
		if v.Office, err = cached(r, r.offices, bucketOffices, officeCode); err != nil {
			return v, err
		}
	}
	if v.Agency == nil {
		agency := ""
		if v.Office != nil {
			agency = v.Office.AgencyCode
		} else if v.Complaint != nil {
			agency = v.Complaint.AgencyCode
		}
		if agency != "" {
			if v.Agency, err = cached(r, r.agencies, bucketAgencies, agency); err != nil {
				return v, err
			}
		}
	}
	if ch.Actor != "" && ch.Actor != System.UserID {
		u, err := cached(r, r.users, bucketUsers, ch.Actor)
		if err != nil {
			return v, err
		}
		if u != nil {
			v.ActorUser = u
		}
	}
	return v, nil
}
