package sync

import (
	"errors"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/favad/favad/inspector"
)

// TestFullDiskRefusesWritesKeepsReadsAndRecovers pins issue 11 item 24: a
// write the disk refuses (ENOSPC, EROFS, through the store's write seam) is
// a storage_full error wrapping the cause, leaves nothing behind (no change,
// no record), for a lone write and for a group commit of device pushes
// alike; reads go on; writes work again once space returns.
func TestFullDiskRefusesWritesKeepsReadsAndRecovers(t *testing.T) {
	for _, cause := range []syscall.Errno{syscall.ENOSPC, syscall.EROFS, syscall.EDQUOT} {
		t.Run(cause.Error(), func(t *testing.T) {
			var full atomic.Bool
			f := &fieldFixture{clock: newFakeClock(), ids: newIDGen(1), devIDs: newIDGen(2)}
			f.s = mustOpenStore(t, Options{Now: f.clock.Now, NewID: f.ids.Next, WriteFault: func() error {
				if full.Load() {
					return &writeError{cause}
				}
				return nil
			}})
			f.setUp(t)
			c := f.complaint(t, "CALL-FULL-1", officeSSO1.Code, &f.ali)
			d := f.device("ali-phone", f.ali)
			before := lastSeq(t, f.s)

			full.Store(true)
			_, _, err := f.s.CreateComplaint(dispatcher, intake("CALL-FULL-2", officeSSO1.Code))
			requireStorageFull(t, err, cause)
			visit := d.ids.Next()
			_, _, err = f.s.Push(d.user, d.id, []Mutation{d.mut(MutVisitUpsert, visit, 0, map[string]any{"office_code": officeSSO1.Code, "complaint_ids": []string{c.ID}})})
			requireStorageFull(t, err, cause)
			assert.Equal(t, before, lastSeq(t, f.s), "nothing was written")

			got, err := f.s.Complaint(c.ID)
			require.NoError(t, err, "reads work on a full disk")
			assert.Equal(t, c.Version, got.Version)
			items, _, err := f.s.ListComplaints(ComplaintFilter{})
			require.NoError(t, err)
			assert.Len(t, items, 1, "the refused complaint is not there")

			full.Store(false)
			_, created, err := f.s.CreateComplaint(dispatcher, intake("CALL-FULL-2", officeSSO1.Code))
			require.NoError(t, err, "writes work again once space returns")
			assert.True(t, created)
			d.seq = 0 // the device sends its queue again, from where the server stands
			res := mustPush(t, f.s, d, d.mut(MutVisitUpsert, visit, 0, map[string]any{"office_code": officeSSO1.Code, "complaint_ids": []string{c.ID}}))
			assert.Equal(t, StatusApplied, res[0].Status, "%+v", res[0])
		})
	}
}

// writeError is what a failing write system call returns.
type writeError struct{ errno syscall.Errno }

func (e *writeError) Error() string { return "write /data/favad.db: " + e.errno.Error() }
func (e *writeError) Unwrap() error { return e.errno }

func requireStorageFull(t *testing.T, err error, cause syscall.Errno) {
	t.Helper()
	require.Error(t, err)
	assert.Equal(t, inspector.CodeStorageFull, inspector.ErrorCode(err), "%v", err)
	assert.True(t, errors.Is(err, ErrStorageFull), "%v", err)
	assert.True(t, errors.Is(err, cause), "the cause is kept for the logs: %v", err)
}
