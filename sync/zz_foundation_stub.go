package sync

// TEMPORARY: the foundation API's shapes (see /work/lead/contract.md) so that
// package reports compiles before the foundation commit lands. Removed when
// main is merged.

import (
	"errors"

	"github.com/favad/favad/inspector"
)

// ChangeView is a change with the records it concerns.
type ChangeView struct {
	Change
	ComplaintID string
	Complaint   *inspector.Complaint
	Office      *inspector.Office
	Agency      *inspector.Agency
	Visit       *inspector.Visit
	Finding     *inspector.Finding
	Call        *inspector.CallRecord
	Evidence    *inspector.Evidence
	Conflict    *Conflict
	ActorUser   *inspector.User
}

// Changed is a stub.
func (s *Store) Changed() <-chan struct{} { return make(chan struct{}) }

// ReadChanges is a stub.
func (s *Store) ReadChanges(after uint64, limit int) ([]ChangeView, error) {
	return nil, errors.New("stub")
}
