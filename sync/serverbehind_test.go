package sync

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/favad/favad/inspector"
	"github.com/favad/favad/internal/testkit"
)

// Regression: a push that skipped sequences made a sequence_gap conflict
// record whose id was missing from the result's conflict_ids.
func TestSequenceGapConflictIsInConflictIDs(t *testing.T) {
	f := newFieldFixture(t)
	c := f.complaint(t, "CALL-1", "QZ-SSO-01", &f.ali)
	d := f.device("ali-phone", f.ali)
	d.seq = 3
	r := mustPush(t, f.s, d, d.mut(MutNoteCreate, f.devIDs.Next(), 0, notePayload(c.ID, "", "یادداشت", t0)))[0]
	require.Equal(t, StatusApplied, r.Status, "%s", r.Message)
	assert.Equal(t, []uint64{1, 2, 3}, r.GapBefore)
	require.Len(t, r.ConflictIDs, 1, "the gap's conflict record is named")
	gap := mustConflict(t, f.s, r.ConflictIDs[0])
	assert.Equal(t, inspector.RuleSequenceGap, gap.Rule)
}

// Regression: after a restore from a backup, a device's next push was
// answered as if the device had skipped sequences (gap_before and a
// sequence_gap conflict blaming it), although the server had lost what it
// acknowledged. A device that says which sequences were acknowledged
// (acked_through) is told the server is behind: a push of new work only is
// refused whole, so that the device re-sends its ledger first; a re-send
// fills the hole, and what the device no longer holds is named as the
// server's loss (server_behind), never as the device's gap.
func TestServerBehindAfterRestoreIsNotBlamedOnTheDevice(t *testing.T) {
	f := newFieldFixture(t)
	c := f.complaint(t, "CALL-1", "QZ-SSO-01", &f.ali)
	d := f.device("ali-phone", f.ali)
	var sent []Mutation
	for i := range 8 {
		sent = append(sent, d.mut(MutNoteCreate, f.devIDs.Next(), 0, notePayload(c.ID, "", "یادداشت "+string(rune('a'+i)), t0)))
	}
	mustPush(t, f.s, d, sent[:5]...)
	backup := testkit.BackupFile(t, f.s.Backup)
	mustPush(t, f.s, d, sent[5:]...) // acknowledged, then lost by the restore
	restored := mustOpenStoreAt(t, backup, Options{Now: f.clock.Now, NewID: f.ids.Next})

	// New work alone, beyond the hole: refused whole, nothing applied.
	next := d.mut(MutNoteCreate, f.devIDs.Next(), 0, notePayload(c.ID, "", "کار تازه", t0))
	_, err := restored.PushAcked(f.ali, d.id, 8, []Mutation{next})
	var behind *ServerBehindError
	require.True(t, errors.As(err, &behind), "got %v", err)
	assert.Equal(t, uint64(5), behind.LastDeviceSeq)
	var appErr *inspector.Error
	require.True(t, errors.As(err, &appErr))
	assert.Equal(t, inspector.CodeServerBehind, appErr.Code)
	last, err := restored.LastDeviceSeq(f.ali.ID, d.id)
	require.NoError(t, err)
	assert.Equal(t, uint64(5), last, "nothing was applied")

	// The device re-sends what it still holds (it pruned seq 6), then the new work.
	ans, err := restored.PushAcked(f.ali, d.id, 8, []Mutation{sent[6], sent[7], next})
	require.NoError(t, err)
	assert.True(t, ans.ServerBehind)
	assert.Equal(t, uint64(9), ans.LastDeviceSeq)
	require.Len(t, ans.Results, 3)
	for _, r := range ans.Results {
		assert.Equal(t, StatusApplied, r.Status, "%s", r.Message)
	}
	first := ans.Results[0]
	assert.Equal(t, []uint64{6}, first.GapBefore)
	require.Len(t, first.ConflictIDs, 1)
	lost := mustConflict(t, restored, first.ConflictIDs[0])
	assert.Equal(t, inspector.RuleServerBehind, lost.Rule)
	assert.Equal(t, "server_behind", lost.Code)
	assert.JSONEq(t, `[6]`, string(lost.DeviceValue))
	for _, k := range allConflicts(t, restored) {
		assert.NotEqual(t, inspector.RuleSequenceGap, k.Rule, "no gap is blamed on the device")
	}

	// Up to date again: a push is an ordinary one.
	ans, err = restored.PushAcked(f.ali, d.id, 9, []Mutation{d.mut(MutNoteCreate, f.devIDs.Next(), 0, notePayload(c.ID, "", "بعدی", t0))})
	require.NoError(t, err)
	assert.False(t, ans.ServerBehind)
	assert.Empty(t, ans.Results[0].GapBefore)
}
