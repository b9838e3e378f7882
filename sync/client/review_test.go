package client_test

// Regression tests from the review of sync/client: each is named after the
// defect it pins and fails until that defect is fixed.

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/favad/favad/sync/client"
)

// A phone restored from a copy taken when its queue was empty never learns
// the server's last device sequence: a push with nothing queued sends no
// request, and a pull does not carry it. So the next piece of work reuses a
// sequence the server already holds for another mutation and is refused as
// an idempotency clash (kept for dispatch, but not applied), although the
// inspector did nothing wrong and the device was online and synced.
func TestBugRestoredFileWithEmptyQueueReusesASequence(t *testing.T) {
	e := newEnv(t)
	c := e.complaint("field")
	dir := t.TempDir()
	path, backup := filepath.Join(dir, "phone.db"), filepath.Join(dir, "phone.bak")
	d := e.deviceAt(path, "field")
	_, err := d.Sync(ctx)
	require.NoError(t, err)
	require.NoError(t, d.Close())
	copyFile(t, path, backup) // a copy with an empty queue

	d = e.deviceAt(path, "field")
	_, _, err = d.AddNote(client.NewID(), client.Note{ComplaintID: c.ID, Text: "اول", WrittenAt: time.Now()})
	require.NoError(t, err)
	rep, err := d.Sync(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, rep.Applied)
	require.NoError(t, d.Close())

	// The phone is restored from the older copy, and syncs while online.
	old := e.deviceAt(backup, "field")
	_, err = old.Sync(ctx)
	require.NoError(t, err)
	_, seq, err := old.AddNote(client.NewID(), client.Note{ComplaintID: c.ID, Text: "دوم", WrittenAt: time.Now()})
	require.NoError(t, err)
	rep, err = old.Sync(ctx)
	require.NoError(t, err)
	require.Len(t, rep.Results, 1)
	assert.Equal(t, client.StatusApplied, rep.Results[0].Status,
		"new work after a restore must not reuse sequence %d: %s %s", seq, rep.Results[0].Code, rep.Results[0].Message)
}
