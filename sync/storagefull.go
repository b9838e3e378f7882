package sync

import (
	"errors"
	"fmt"
	"syscall"

	bolt "go.etcd.io/bbolt"

	"github.com/favad/favad/inspector"
)

// ErrStorageFull is the cause of a write refused because the data
// directory's file system is full (ENOSPC), over quota (EDQUOT) or
// read-only (EROFS). Writes fail with an *inspector.Error of code
// CodeStorageFull that wraps it (and the system's error); nothing is half
// written, since bbolt's commit is all or nothing, and reads go on. Writes
// work again once space returns, without a restart.
var ErrStorageFull = errors.New("sync: the data directory is full or read-only")

// IsNoSpace reports whether err is the file system refusing a write for
// want of space or because it is read-only.
func IsNoSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) || errors.Is(err, syscall.EROFS) || errors.Is(err, ErrStorageFull)
}

// StorageFull returns the application error for a write refused by a full or
// read-only disk, wrapping cause for the logs.
func StorageFull(cause error) error {
	appErr := inspector.Errorf(inspector.CodeStorageFull,
		"the server's storage is full or read-only, so nothing was saved; reading works, and the same request will succeed once an operator frees space")
	return fmt.Errorf("%w: %w: %w", appErr, ErrStorageFull, cause)
}

// classifyWrite turns a write's failure for want of space into StorageFull.
func classifyWrite(err error) error {
	if err != nil && IsNoSpace(err) && inspector.ErrorCode(err) != inspector.CodeStorageFull {
		return StorageFull(err)
	}
	return err
}

// writeFault runs Options.WriteFault, if set, as the last step of a write
// transaction: its error fails the commit.
func (s *Store) writeFault() error {
	if s.fault == nil {
		return nil
	}
	return s.fault()
}

// dbUpdate is bbolt's Update with the write fault seam and the storage-full
// classification; every write transaction of the store goes through it or
// through the group commit, which does the same.
func (s *Store) dbUpdate(fn func(*bolt.Tx) error) error {
	err := s.db.Update(func(btx *bolt.Tx) error {
		if err := fn(btx); err != nil {
			return err
		}
		// Index puts made here wait behind what waits already; settle as
		// a group commit does, so that what waits is bounded even while
		// no group commit succeeds.
		if err := s.settleBehind(btx, s.group.busy()); err != nil {
			return err
		}
		return s.writeFault()
	})
	return classifyWrite(err)
}
