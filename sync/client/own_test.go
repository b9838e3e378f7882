package client_test

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/favad/favad/inspector"
	"github.com/favad/favad/sync/client"
)

// requireAsPulled checks that each of the device's records of kind is, field
// for field and at the same version, what a full sync on another device of
// the account gets.
func requireAsPulled[T any](t *testing.T, mine, pulled *client.Client, kind string, n int) {
	t.Helper()
	got := mustRecords(t, mine, kind)
	require.Len(t, got, n, kind)
	for _, r := range got {
		want, ok, err := pulled.Record(kind, r.ID)
		require.NoError(t, err)
		require.True(t, ok, "%s %s is in the scope", kind, r.ID)
		assert.Equal(t, want.Version, r.Version, "%s %s", kind, r.ID)
		var a, b T
		require.NoError(t, json.Unmarshal(want.Data, &a))
		require.NoError(t, json.Unmarshal(r.Data, &b))
		assert.Equal(t, a, b, "%s %s as the device built it", kind, r.ID)
	}
}

// requireHoldsTheScope checks that device d holds what a full sync of its
// account gives a new device: the same records at the same versions.
func requireHoldsTheScope(t *testing.T, e *env, d *client.Client) {
	t.Helper()
	fresh := e.device("field")
	_, err := fresh.Sync(ctx)
	require.NoError(t, err)
	held := func(c *client.Client) map[string]uint64 {
		out := map[string]uint64{}
		for _, kind := range []string{client.RecordComplaint, client.RecordOffice, client.RecordAgency, client.RecordVisit,
			client.RecordFinding, client.RecordCall, client.RecordNote, client.RecordConflict, "evidence"} {
			for _, r := range mustRecords(t, c, kind) {
				out[kind+"/"+r.ID] = r.Version
			}
		}
		return out
	}
	assert.Equal(t, held(fresh), held(d), "the device holds its scope")
}

// Regression (issue 12, item 5): after a push the pull brought every note,
// finding and call record the device had just written back in full. The
// client now builds them from the push answers and pulls with
// own_writes=omit: it gets only what the server changed (here the visit,
// and the complaint's removal), and holds the same records a full sync gives.
func TestBugPullBringsTheDevicesOwnWritesBack(t *testing.T) {
	e := newEnv(t)
	c := e.complaint("field")
	d := e.device("field")
	_, err := d.Sync(ctx)
	require.NoError(t, err)

	visitID := offlineWork(t, d, c.ID) // a visit, a finding, a note and an outcome
	now := time.Now()
	for i := range 20 {
		_, _, err := d.AddNote(client.NewID(), client.Note{ComplaintID: c.ID, Text: fmt.Sprint("یادداشت ", i), WrittenAt: now})
		require.NoError(t, err)
	}
	_, _, err = d.RecordCall(client.NewID(), client.Call{ComplaintID: c.ID, CalleeName: "مدیر شعبه", Number: "۰۲۸-۳۳۰۰۰۱۰۱",
		StartedAt: now, DurationS: 95, Outcome: "reached"})
	require.NoError(t, err)
	rep, err := d.Sync(ctx)
	require.NoError(t, err)
	require.Equal(t, 25, rep.Applied)
	assert.Equal(t, 1, rep.Pulled, "only the visit the server merged comes back")
	assert.Equal(t, 1, rep.Removed, "and the complaint's removal (the outcome closed it)")

	tablet := e.device("field")
	_, err = tablet.Sync(ctx)
	require.NoError(t, err)
	requireAsPulled[inspector.Note](t, d, tablet, client.RecordNote, 21)
	requireAsPulled[inspector.Finding](t, d, tablet, client.RecordFinding, 1)
	requireAsPulled[inspector.CallRecord](t, d, tablet, client.RecordCall, 1)
	requireAsPulled[inspector.Visit](t, d, tablet, client.RecordVisit, 1)
	_, ok, err := d.Record(client.RecordVisit, visitID)
	require.NoError(t, err)
	assert.True(t, ok)

	// The tablet, another device of the account, gets the phone's next note.
	_, _, err = d.AddNote(client.NewID(), client.Note{ComplaintID: c.ID, Text: "بعدی", WrittenAt: now})
	require.NoError(t, err)
	rep, err = d.Sync(ctx)
	require.NoError(t, err)
	assert.Zero(t, rep.Pulled)
	rep, err = tablet.Sync(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, rep.Pulled)
	requireAsPulled[inspector.Note](t, d, tablet, client.RecordNote, 22)

	// An app that pulls its own writes back (PullOwnWrites) gets them.
	old := e.device("field", func(cfg *client.Config) { cfg.PullOwnWrites = true })
	_, err = old.Sync(ctx)
	require.NoError(t, err)
	_, _, err = old.AddNote(client.NewID(), client.Note{ComplaintID: c.ID, Text: "از برنامه قدیمی", WrittenAt: now})
	require.NoError(t, err)
	rep, err = old.Sync(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, rep.Pulled, "its note, from the server")
	_, err = tablet.Sync(ctx)
	require.NoError(t, err)
	requireAsPulled[inspector.Note](t, old, tablet, client.RecordNote, 23)
}

// A lost push answer: the note is left out of the pulls that follow, and the
// device builds it when the resend is answered (a replay).
func TestOwnNoteAfterALostPushAnswer(t *testing.T) {
	e := newEnv(t)
	c := e.complaint("field")
	tp := newTap(e.ts.Client().Transport)
	d := e.device("field", tapped(tp))
	_, err := d.Sync(ctx)
	require.NoError(t, err)
	id := client.NewID()
	_, _, err = d.AddNote(client.NewID(), client.Note{ComplaintID: c.ID, Text: "دیروز", WrittenAt: time.Now()})
	require.NoError(t, err)
	_, err = d.Sync(ctx)
	require.NoError(t, err)
	_, _, err = d.AddNote(id, client.Note{ComplaintID: c.ID, Text: "پاسخ گم شد", WrittenAt: time.Now()})
	require.NoError(t, err)
	tp.loseNext("/v1/sync/push")
	_, err = d.Sync(ctx)
	require.ErrorIs(t, err, errLost)
	rep, err := d.Pull(ctx)
	require.NoError(t, err)
	assert.Zero(t, rep.Pulled, "left out: the device's own write")

	rep, err = d.Sync(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, rep.Replayed)
	r, ok, err := d.Record(client.RecordNote, id)
	require.NoError(t, err)
	require.True(t, ok, "built from the replayed answer")
	assert.Equal(t, rep.Results[0].Version, r.Version)
}

// A phone restored from an older copy of its file no longer holds the notes
// it wrote after the copy, and pulls would leave them out as its own: the
// client notices the restore (the server holds later sequences of the
// device, or refuses a sequence as reused) and makes a full sync.
func TestRestoredDeviceGetsTheNotesItWroteAfterTheCopy(t *testing.T) {
	for _, queued := range []bool{false, true} {
		t.Run(fmt.Sprint("queued before syncing=", queued), func(t *testing.T) {
			e := newEnv(t)
			c := e.complaint("field")
			dir := t.TempDir()
			path, backup := filepath.Join(dir, "phone.db"), filepath.Join(dir, "phone.bak")
			d := e.deviceAt(path, "field")
			_, err := d.Sync(ctx)
			require.NoError(t, err)
			require.NoError(t, d.Close())
			copyFile(t, path, backup)

			d = e.deviceAt(path, "field")
			lost := client.NewID()
			_, _, err = d.AddNote(lost, client.Note{ComplaintID: c.ID, Text: "پس از نسخه پشتیبان", WrittenAt: time.Now()})
			require.NoError(t, err)
			_, err = d.Sync(ctx)
			require.NoError(t, err)
			require.NoError(t, d.Close())

			old := e.deviceAt(backup, "field")
			if queued {
				_, _, err = old.AddNote(client.NewID(), client.Note{ComplaintID: c.ID, Text: "پیش از همگام‌سازی", WrittenAt: time.Now()})
				require.NoError(t, err)
			}
			_, err = old.Sync(ctx)
			require.NoError(t, err)
			_, ok, err := old.Record(client.RecordNote, lost)
			require.NoError(t, err)
			assert.True(t, ok, "the note written after the copy")
			requireHoldsTheScope(t, e, old)
		})
	}
}
