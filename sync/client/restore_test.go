package client_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/favad/favad/inspector"
	"github.com/favad/favad/internal/testkit"
	favsync "github.com/favad/favad/sync"
	"github.com/favad/favad/sync/client"
)

// backupStore writes a hot copy of the env's store to a new file.
func (e *env) backupStore() string {
	e.t.Helper()
	return testkit.BackupFile(e.t, e.store.Backup)
}

// restoreStore stops the server, replaces its store with the backup at
// path, and serves it again (at a new address).
func (e *env) restoreStore(path string) {
	e.t.Helper()
	e.ts.Close()
	require.NoError(e.t, e.store.Close())
	s, err := favsync.Open(path, favsync.Options{Now: e.clock.Now})
	require.NoError(e.t, err)
	e.t.Cleanup(func() { s.Close() })
	e.store, e.cfg.Store = s, s
	e.ts = e.serve()
}

// notesOn counts each note id on the server.
func (e *env) notesOn(complaintID string) map[string]int {
	e.t.Helper()
	fw, err := e.store.ComplaintFieldWork(complaintID)
	require.NoError(e.t, err)
	out := map[string]int{}
	for _, n := range fw.Notes {
		out[n.ID]++
	}
	return out
}

func addNotes(t *testing.T, d *client.Client, complaintID string, n int) []string {
	t.Helper()
	var ids []string
	for range n {
		id := client.NewID()
		_, _, err := d.AddNote(id, client.Note{ComplaintID: complaintID, Text: "یادداشت بازرس", WrittenAt: time.Now()})
		require.NoError(t, err)
		ids = append(ids, id)
	}
	return ids
}

// Regression: after the server was restored from a backup, the device's
// acknowledged work after the snapshot was gone, its next push was blamed
// for a sequence gap, and the client never re-sent its ledger. Now the
// server says it is behind, and the client re-sends what its ledger holds
// above the server's last_device_seq — same ids and sequences — before its
// new work: everything comes back, exactly once, with no gap blamed on the
// device.
func TestRestoredServerGetsTheLedgerBack(t *testing.T) {
	for _, tc := range []struct {
		name string
		keep int // the device's ledger retention (entries)
		lost int // acknowledged after the snapshot and pruned from the device
	}{
		{"ledger holds everything", 0, 0},
		{"ledger pruned one", 4, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			c := e.complaint("field")
			path := filepath.Join(t.TempDir(), "phone.db")
			keep := func(cfg *client.Config) { cfg.LedgerKeep = tc.keep }
			d := e.deviceAt(path, "field", keep)
			_, err := d.Sync(ctx)
			require.NoError(t, err)

			before := addNotes(t, d, c.ID, 3)
			_, err = d.Sync(ctx)
			require.NoError(t, err)
			backup := e.backupStore()
			after := addNotes(t, d, c.ID, 5) // acknowledged, then lost by the restore
			_, err = d.Sync(ctx)
			require.NoError(t, err)
			acked, err := d.AckedThrough()
			require.NoError(t, err)
			require.Equal(t, uint64(8), acked)

			e.restoreStore(backup)
			// Time goes on: with the clock stopped, the restored server's
			// change at the device's cursor could be byte for byte the one
			// the cursor was made at, and the cursor taken for this history.
			e.clock.Advance(time.Minute)
			require.NoError(t, d.Close())
			d = e.deviceAt(path, "field", keep)
			fresh := addNotes(t, d, c.ID, 2)
			rep, err := d.Sync(ctx)
			require.NoError(t, err)
			assert.True(t, rep.ServerBehind)
			assert.Equal(t, len(after)-tc.lost, rep.Resent)
			assert.Equal(t, 2, rep.Applied, "the new work")
			assert.Empty(t, mustQueue(t, d))

			on := e.notesOn(c.ID)
			want := append(append(append([]string{}, before...), after[tc.lost:]...), fresh...)
			for _, id := range want {
				assert.Equal(t, 1, on[id], "note %s is on the server exactly once", id)
			}
			assert.Len(t, on, len(want))
			items, _, err := e.store.Conflicts(favsync.ConflictFilter{})
			require.NoError(t, err)
			var lostRecords int
			for _, k := range items {
				assert.NotEqual(t, inspector.RuleSequenceGap, k.Rule, "no gap is blamed on the device: %s", k.Message)
				if k.Rule == inspector.RuleServerBehind {
					lostRecords++
				}
			}
			assert.Equal(t, min(tc.lost, 1), lostRecords, "what the device no longer held is named as the server's loss")
			last, err := e.store.LastDeviceSeq(e.users["field"].ID, d.DeviceID())
			require.NoError(t, err)
			assert.Equal(t, uint64(10), last)

			// The next sync is an ordinary one.
			rep, err = d.Sync(ctx)
			require.NoError(t, err)
			assert.False(t, rep.ServerBehind)
			assert.Zero(t, rep.Resent)
			requireHoldsTheScope(t, e, d)
		})
	}
}

// A device whose queue is empty learns from a pull that the server is
// behind, and re-sends its ledger in the same Sync.
func TestPullShowingTheServerBehindResendsTheLedger(t *testing.T) {
	e := newEnv(t)
	c := e.complaint("field")
	path := filepath.Join(t.TempDir(), "phone.db")
	d := e.deviceAt(path, "field")
	_, err := d.Sync(ctx)
	require.NoError(t, err)
	backup := e.backupStore()
	after := addNotes(t, d, c.ID, 3)
	_, err = d.Sync(ctx)
	require.NoError(t, err)

	e.restoreStore(backup)
	require.NoError(t, d.Close())
	d = e.deviceAt(path, "field")
	rep, err := d.Sync(ctx)
	require.NoError(t, err)
	assert.True(t, rep.ServerBehind)
	assert.Equal(t, 3, rep.Resent)
	on := e.notesOn(c.ID)
	for _, id := range after {
		assert.Equal(t, 1, on[id])
	}
	_, err = d.Sync(ctx)
	require.NoError(t, err)
	requireHoldsTheScope(t, e, d)
}

// The ledger keeps at most LedgerKeep acknowledged mutations per account,
// the newest; the newest acknowledged one is always kept.
func TestLedgerRetentionIsBounded(t *testing.T) {
	e := newEnv(t)
	c := e.complaint("field")
	d := e.device("field", func(cfg *client.Config) { cfg.LedgerKeep = 3 })
	addNotes(t, d, c.ID, 7)
	_, err := d.Sync(ctx)
	require.NoError(t, err)
	ledger := mustLedger(t, d)
	require.Len(t, ledger, 3)
	assert.Equal(t, uint64(5), ledger[0].Mutation.DeviceSeq)
	assert.Equal(t, uint64(7), ledger[2].Mutation.DeviceSeq)
}

// Sequences belong to (account, device): the account that takes a device
// over numbers its work from its own position (1 for an account new to the
// device), and the previous account finds its own again when it comes back.
func TestHandedOverDeviceNumbersEachAccountApart(t *testing.T) {
	e := newEnv(t)
	c, c2 := e.complaint("field"), e.complaint("field2")
	path := filepath.Join(t.TempDir(), "phone.db")
	d := e.deviceAt(path, "field")
	addNotes(t, d, c.ID, 2)
	_, err := d.Sync(ctx)
	require.NoError(t, err)
	require.NoError(t, d.SignOut(ctx))
	require.NoError(t, d.Close())

	d = e.deviceAt(path, "field2")
	_, seq, err := d.AddNote(client.NewID(), client.Note{ComplaintID: c2.ID, Text: "یادداشت", WrittenAt: time.Now()})
	require.NoError(t, err)
	assert.Equal(t, uint64(1), seq, "field2's first mutation on this device")
	rep, err := d.Sync(ctx)
	require.NoError(t, err)
	require.Len(t, rep.Results, 1)
	assert.Equal(t, client.StatusApplied, rep.Results[0].Status, "%s", rep.Results[0].Message)
	assert.Empty(t, rep.Results[0].GapBefore)
	require.NoError(t, d.SignOut(ctx))
	require.NoError(t, d.Close())

	d = e.deviceAt(path, "field")
	_, seq, err = d.AddNote(client.NewID(), client.Note{ComplaintID: c.ID, Text: "باز هم", WrittenAt: time.Now()})
	require.NoError(t, err)
	assert.Equal(t, uint64(3), seq, "field continues its own sequence")
	rep, err = d.Sync(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, rep.Applied)
	assert.Empty(t, rep.Results[0].GapBefore)
	assert.False(t, rep.ServerBehind)
}
