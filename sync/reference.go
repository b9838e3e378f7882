package sync

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/favad/favad/inspector"
)

// PutAgency creates or replaces an agency; created reports which.
func (s *Store) PutAgency(actor Actor, a inspector.Agency) (out inspector.Agency, created bool, err error) {
	a.Normalize()
	if err := a.Validate(); err != nil {
		return a, false, err
	}
	err = s.update(actor, func(t *tx) error {
		var err error
		out, created, err = t.putAgency(a)
		return err
	})
	return out, created, err
}

// CreateAgency adds an agency; an agency with that code that is not deleted
// is a CodeConflict.
func (s *Store) CreateAgency(actor Actor, a inspector.Agency) (inspector.Agency, error) {
	a.Normalize()
	if err := a.Validate(); err != nil {
		return a, err
	}
	err := s.update(actor, func(t *tx) error {
		if err := t.mustNotExist(bucketAgencies, "agency", a.Code); err != nil {
			return err
		}
		var err error
		a, _, err = t.putAgency(a)
		return err
	})
	return a, err
}

// mustNotExist returns CodeConflict if bucket holds a live record at code.
func (t *tx) mustNotExist(bucket []byte, what, code string) error {
	var rec struct {
		Deleted bool `json:"deleted"`
	}
	ok, err := getJSON(t.Bucket(bucket), []byte(code), &rec)
	if err != nil {
		return err
	}
	if ok && !rec.Deleted {
		return &inspector.Error{Code: inspector.CodeConflict, Message: fmt.Sprintf("%s %s already exists; use PUT to change it", what, code),
			Fields: []inspector.FieldError{{Field: "code", Code: "taken", Message: "this code is in use"}}}
	}
	return nil
}

func (t *tx) putAgency(a inspector.Agency) (inspector.Agency, bool, error) {
	b := t.Bucket(bucketAgencies)
	var old inspector.Agency
	existed, err := getJSON(b, []byte(a.Code), &old)
	if err != nil {
		return a, false, err
	}
	created := !existed || old.Deleted
	if existed && !old.Deleted && old.NameFa == a.NameFa && old.NameEn == a.NameEn {
		return old, false, nil // unchanged: no change-log entry, so devices pull nothing
	}
	action := ActionUpdated
	if created {
		action = ActionCreated
	}
	a.Deleted, a.Updated = false, t.now
	if a.Version, err = t.log(KindAgency, a.Code, action, nil); err != nil {
		return a, false, err
	}
	if err := t.scoped(scopeAgencies, a.Version, KindAgency, a.Code, OpUpsert, ""); err != nil {
		return a, false, err
	}
	return a, created, putJSON(b, []byte(a.Code), a)
}

// Agency returns the agency with code, deleted or not, or CodeNotFound.
func (s *Store) Agency(code string) (inspector.Agency, error) {
	var a inspector.Agency
	err := s.view(func(btx *bolt.Tx) error {
		ok, err := getJSON(btx.Bucket(bucketAgencies), []byte(strings.ToUpper(code)), &a)
		if err == nil && !ok {
			err = notFound("agency", code)
		}
		return err
	})
	return a, err
}

// Agencies lists agencies by code; deleted ones only if asked.
func (s *Store) Agencies(includeDeleted bool) ([]inspector.Agency, error) {
	out := []inspector.Agency{}
	err := s.view(func(btx *bolt.Tx) error {
		return btx.Bucket(bucketAgencies).ForEach(func(k, v []byte) error {
			var a inspector.Agency
			if err := json.Unmarshal(v, &a); err != nil {
				return fmt.Errorf("decode agency %s: %w", k, err)
			}
			if includeDeleted || !a.Deleted {
				out = append(out, a)
			}
			return nil
		})
	})
	return out, err
}

// DeleteAgency marks an agency deleted. It is refused while live offices belong to it.
func (s *Store) DeleteAgency(actor Actor, code string) error {
	code = strings.ToUpper(code)
	return s.update(actor, func(t *tx) error {
		b := t.Bucket(bucketAgencies)
		var a inspector.Agency
		ok, err := getJSON(b, []byte(code), &a)
		if err != nil {
			return err
		}
		if !ok || a.Deleted {
			return notFound("agency", code)
		}
		n := 0
		err = t.Bucket(bucketOffices).ForEach(func(k, v []byte) error {
			var o inspector.Office
			if err := json.Unmarshal(v, &o); err != nil {
				return err
			}
			if o.AgencyCode == code && !o.Deleted {
				n++
			}
			return nil
		})
		if err != nil {
			return err
		}
		if n > 0 {
			return inspector.Errorf(inspector.CodeConflict, "agency %s still has %d offices; delete or move them first", code, n)
		}
		a.Deleted, a.Updated = true, t.now
		if a.Version, err = t.log(KindAgency, code, ActionDeleted, nil); err != nil {
			return err
		}
		if err := t.scoped(scopeAgencies, a.Version, KindAgency, code, OpRemove, ReasonDeleted); err != nil {
			return err
		}
		return putJSON(b, []byte(code), a)
	})
}

// PutOffice creates or replaces an office; its agency must exist.
func (s *Store) PutOffice(actor Actor, o inspector.Office) (out inspector.Office, created bool, err error) {
	o.Normalize()
	if err := o.Validate(); err != nil {
		return o, false, err
	}
	err = s.update(actor, func(t *tx) error {
		var err error
		out, created, err = t.putOffice(o, "agency_code")
		return err
	})
	return out, created, err
}

// CreateOffice adds an office; an office with that code that is not deleted
// is a CodeConflict.
func (s *Store) CreateOffice(actor Actor, o inspector.Office) (inspector.Office, error) {
	o.Normalize()
	if err := o.Validate(); err != nil {
		return o, err
	}
	err := s.update(actor, func(t *tx) error {
		if err := t.mustNotExist(bucketOffices, "office", o.Code); err != nil {
			return err
		}
		var err error
		o, _, err = t.putOffice(o, "agency_code")
		return err
	})
	return o, err
}

func (t *tx) putOffice(o inspector.Office, agencyField string) (inspector.Office, bool, error) {
	var a inspector.Agency
	ok, err := getJSON(t.Bucket(bucketAgencies), []byte(o.AgencyCode), &a)
	if err != nil {
		return o, false, err
	}
	if !ok || a.Deleted {
		return o, false, &inspector.Error{Code: inspector.CodeInvalid, Message: "the request has invalid fields",
			Fields: []inspector.FieldError{{Field: agencyField, Code: "unknown", Message: fmt.Sprintf("no agency with code %q", o.AgencyCode)}}}
	}
	b := t.Bucket(bucketOffices)
	var old inspector.Office
	existed, err := getJSON(b, []byte(o.Code), &old)
	if err != nil {
		return o, false, err
	}
	created := !existed || old.Deleted
	if existed && !old.Deleted {
		cmp := old
		cmp.Version, cmp.Updated = o.Version, o.Updated
		if reflect.DeepEqual(cmp, o) {
			return old, false, nil
		}
	}
	action := ActionUpdated
	if created {
		action = ActionCreated
	}
	o.Deleted, o.Updated = false, t.now
	data := map[string]string{"agency": o.AgencyCode, "province": o.Province}
	if existed && !old.Deleted && provinceScope(old.Province) != provinceScope(o.Province) {
		data["previous_province"] = old.Province // its inspectors must drop it
	}
	if o.Version, err = t.log(KindOffice, o.Code, action, data); err != nil {
		return o, false, err
	}
	if existed && !old.Deleted && provinceScope(old.Province) != provinceScope(o.Province) {
		if err := t.scoped(provinceScope(old.Province), o.Version, KindOffice, o.Code, OpRemove, "moved"); err != nil {
			return o, false, err
		}
	}
	if err := t.scoped(provinceScope(o.Province), o.Version, KindOffice, o.Code, OpUpsert, ""); err != nil {
		return o, false, err
	}
	return o, created, putJSON(b, []byte(o.Code), o)
}

// Office returns the office with code, deleted or not, or CodeNotFound.
func (s *Store) Office(code string) (inspector.Office, error) {
	var o inspector.Office
	err := s.view(func(btx *bolt.Tx) error {
		ok, err := getJSON(btx.Bucket(bucketOffices), []byte(strings.ToUpper(code)), &o)
		if err == nil && !ok {
			err = notFound("office", code)
		}
		return err
	})
	return o, err
}

// OfficeFilter selects offices. Empty fields match all.
type OfficeFilter struct {
	AgencyCode     string
	Province       string
	City           string
	Query          string
	IncludeDeleted bool
}

// Offices lists offices matching f, by code.
func (s *Store) Offices(f OfficeFilter) ([]inspector.Office, error) {
	out := []inspector.Office{}
	q := inspector.NormalizeText(f.Query)
	err := s.view(func(btx *bolt.Tx) error {
		return btx.Bucket(bucketOffices).ForEach(func(k, v []byte) error {
			var o inspector.Office
			if err := json.Unmarshal(v, &o); err != nil {
				return fmt.Errorf("decode office %s: %w", k, err)
			}
			switch {
			case o.Deleted && !f.IncludeDeleted,
				f.AgencyCode != "" && !strings.EqualFold(o.AgencyCode, f.AgencyCode),
				f.Province != "" && inspector.NormalizeText(o.Province) != inspector.NormalizeText(f.Province),
				f.City != "" && inspector.NormalizeText(o.City) != inspector.NormalizeText(f.City),
				q != "" && !strings.Contains(inspector.NormalizeText(o.Code+" "+o.NameFa+" "+o.City+" "+o.Address), q):
				return nil
			}
			out = append(out, o)
			return nil
		})
	})
	return out, err
}

// DeleteOffice marks an office deleted; complaints about it keep their
// reference, and new complaints cannot name it.
func (s *Store) DeleteOffice(actor Actor, code string) error {
	code = strings.ToUpper(code)
	return s.update(actor, func(t *tx) error {
		b := t.Bucket(bucketOffices)
		var o inspector.Office
		ok, err := getJSON(b, []byte(code), &o)
		if err != nil {
			return err
		}
		if !ok || o.Deleted {
			return notFound("office", code)
		}
		o.Deleted, o.Updated = true, t.now
		if o.Version, err = t.log(KindOffice, code, ActionDeleted, map[string]string{"agency": o.AgencyCode, "province": o.Province}); err != nil {
			return err
		}
		if err := t.scoped(provinceScope(o.Province), o.Version, KindOffice, code, OpRemove, ReasonDeleted); err != nil {
			return err
		}
		return putJSON(b, []byte(code), o)
	})
}

// ImportResult counts what an import changed.
type ImportResult struct {
	AgenciesCreated int `json:"agencies_created"`
	AgenciesUpdated int `json:"agencies_updated"`
	OfficesCreated  int `json:"offices_created"`
	OfficesUpdated  int `json:"offices_updated"`
	Unchanged       int `json:"unchanged"`
}

// ImportOffices creates or updates the agencies and offices of rows in one
// transaction: all rows are applied, or none. Field errors name the line, as
// "line 7: office_code".
func (s *Store) ImportOffices(actor Actor, rows []inspector.OfficeRow) (ImportResult, error) {
	var res ImportResult
	var p inspector.Problems
	for i := range rows {
		r := &rows[i]
		r.Agency.Normalize()
		r.Office.Normalize()
		r.Office.AgencyCode = r.Agency.Code
		for _, err := range []error{r.Agency.Validate(), r.Office.Validate()} {
			var e *inspector.Error
			if errors.As(err, &e) {
				for _, f := range e.Fields {
					p.Add(fmt.Sprintf("line %d: %s", r.Line, f.Field), f.Code, f.Message)
				}
			}
		}
	}
	if err := p.Err(); err != nil {
		return res, err
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].Line < rows[j].Line })
	err := s.update(actor, func(t *tx) error {
		res = ImportResult{}
		for _, r := range rows {
			before := t.Bucket(bucketLog).Sequence()
			a, created, err := t.putAgency(r.Agency)
			if err != nil {
				return err
			}
			if a.Version > before {
				if created {
					res.AgenciesCreated++
				} else {
					res.AgenciesUpdated++
				}
			}
			before = t.Bucket(bucketLog).Sequence()
			o, created, err := t.putOffice(r.Office, fmt.Sprintf("line %d: agency_code", r.Line))
			if err != nil {
				return err
			}
			switch {
			case o.Version <= before:
				res.Unchanged++
			case created:
				res.OfficesCreated++
			default:
				res.OfficesUpdated++
			}
		}
		return nil
	})
	return res, err
}
