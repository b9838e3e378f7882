package client_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	favsync "github.com/favad/favad/sync"
	"github.com/favad/favad/sync/client"
)

// fixedClock is a device clock a test sets.
type fixedClock struct{ t time.Time }

func (c *fixedClock) Now() time.Time { return c.t }

func TestSameVisitFieldOnTwoDevicesLaterClockWins(t *testing.T) {
	for _, laterPushesFirst := range []bool{false, true} {
		t.Run(map[bool]string{false: "earlier pushes first", true: "later pushes first"}[laterPushesFirst], func(t *testing.T) {
			e := newEnv(t)
			c := e.complaint("field")
			start := e.clock.Now()
			clockA, clockB := &fixedClock{start}, &fixedClock{start}
			a := e.device("field", func(cfg *client.Config) { cfg.Now = clockA.Now })
			b := e.device("field", func(cfg *client.Config) { cfg.Now = clockB.Now })
			visitID := client.NewID()
			_, _, err := a.CheckIn(visitID, "QZ-SSO-01", []string{c.ID}, geo(start))
			require.NoError(t, err)
			_, err = a.Sync(ctx)
			require.NoError(t, err)
			_, err = b.Sync(ctx)
			require.NoError(t, err)
			v, ok, err := b.Record(client.RecordVisit, visitID)
			require.NoError(t, err)
			require.True(t, ok, "the other device of the same inspector pulls the visit")

			// Both devices edit the summary offline; B's edit is later. (The
			// server bounds a stamp by its own clock, so its clock moves on too.)
			clockA.t, clockB.t = start.Add(10*time.Minute), start.Add(20*time.Minute)
			e.clock.Advance(30 * time.Minute)
			_, _, err = a.UpdateVisit(visitID, client.VisitUpdate{Summary: "از دستگاه الف"})
			require.NoError(t, err)
			_, _, err = b.UpdateVisit(visitID, client.VisitUpdate{Summary: "از دستگاه ب"})
			require.NoError(t, err)
			first, second := a, b
			if laterPushesFirst {
				first, second = b, a
			}
			_, err = first.Sync(ctx)
			require.NoError(t, err)
			rep, err := second.Sync(ctx)
			require.NoError(t, err)
			require.Len(t, rep.Results, 1)
			assert.Equal(t, client.StatusResolvedByRule, rep.Results[0].Status)
			assert.Equal(t, "last_writer_wins", rep.Results[0].Rule)
			assert.NotEmpty(t, rep.Results[0].ConflictIDs)

			fw, err := e.store.ComplaintFieldWork(c.ID)
			require.NoError(t, err)
			require.Len(t, fw.Visits, 1)
			assert.Equal(t, "از دستگاه ب", fw.Visits[0].Summary, "the later hybrid logical clock wins, whatever the push order")
			assert.Greater(t, v.Version, uint64(0))
		})
	}
}

func TestDifferentVisitFieldsOnTwoDevicesAreMerged(t *testing.T) {
	e := newEnv(t)
	c := e.complaint("field")
	a, b := e.device("field"), e.device("field")
	visitID := client.NewID()
	now := time.Now()
	_, _, err := a.CheckIn(visitID, "QZ-SSO-01", []string{c.ID}, geo(now.Add(-time.Hour)))
	require.NoError(t, err)
	_, err = a.Sync(ctx)
	require.NoError(t, err)
	_, err = b.Sync(ctx)
	require.NoError(t, err)

	_, _, err = a.UpdateVisit(visitID, client.VisitUpdate{Summary: "دو کارمند غایب بودند"})
	require.NoError(t, err)
	_, _, err = b.CheckOut(visitID, geo(now), "")
	require.NoError(t, err)
	rep, err := a.Sync(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, rep.Applied)
	rep, err = b.Sync(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, rep.Merged, "%+v", rep.Results)

	fw, err := e.store.ComplaintFieldWork(c.ID)
	require.NoError(t, err)
	require.Len(t, fw.Visits, 1)
	assert.Equal(t, "دو کارمند غایب بودند", fw.Visits[0].Summary)
	assert.NotNil(t, fw.Visits[0].CheckOut, "both changes kept")
	v, ok, err := b.Record(client.RecordVisit, visitID)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Contains(t, string(v.Data), "دو کارمند غایب بودند", "the merged visit came back to the device")
}

func TestEditToVisitDeletedByDispatchIsKeptAsOrphanedWork(t *testing.T) {
	e := newEnv(t)
	c := e.complaint("field")
	d := e.device("field")
	visitID := client.NewID()
	_, _, err := d.CheckIn(visitID, "QZ-SSO-01", []string{c.ID}, geo(time.Now()))
	require.NoError(t, err)
	_, err = d.Sync(ctx)
	require.NoError(t, err)

	_, _, err = d.UpdateVisit(visitID, client.VisitUpdate{Summary: "ثبت پس از حذف"}) // offline
	require.NoError(t, err)
	require.NoError(t, e.store.DeleteVisit(e.dispatcher, visitID))

	rep, err := d.Sync(ctx)
	require.NoError(t, err)
	require.Len(t, rep.Results, 1)
	assert.Equal(t, client.StatusResolvedByRule, rep.Results[0].Status)
	assert.Equal(t, "orphaned", rep.Results[0].Rule)
	assert.NotEmpty(t, rep.Results[0].ConflictIDs)
	assert.Contains(t, rep.Removals, client.Removal{Kind: client.RecordVisit, ID: visitID, Reason: "deleted"})
	_, ok, err := d.Record(client.RecordVisit, visitID)
	require.NoError(t, err)
	assert.False(t, ok)
}

func TestComplaintEditFromDeviceLosesToDispatch(t *testing.T) {
	e := newEnv(t)
	c := e.complaint("field")
	d := e.device("field")
	_, err := d.Sync(ctx)
	require.NoError(t, err)
	_, _, err = d.EditComplaint(c.ID, map[string]any{"priority": "low"})
	require.NoError(t, err)
	rep, err := d.Sync(ctx)
	require.NoError(t, err)
	require.Len(t, rep.Results, 1)
	r := rep.Results[0]
	assert.Equal(t, client.StatusResolvedByRule, r.Status)
	assert.Equal(t, "dispatch_wins", r.Rule)
	var win map[string]string
	require.NoError(t, json.Unmarshal(r.WinningValue, &win))
	assert.Equal(t, "high", win["priority"])
	got, err := e.store.Complaint(c.ID)
	require.NoError(t, err)
	assert.EqualValues(t, "high", got.Priority)
}

// A device that checks in and later checks out, both offline, has seen no
// version of the visit: both mutations carry base_version 0. Its own earlier
// write is not a change "on the server": the check-out is applied, with no
// parallel_update conflict record. (Regression: the server used to answer
// "merged" and record a conflict for dispatch on every offline visit.)
func TestOwnOfflineVisitEditsAreNotParallelUpdates(t *testing.T) {
	e := newEnv(t)
	c := e.complaint("field")
	d := e.device("field")
	visitID := client.NewID()
	now := time.Now()
	_, _, err := d.CheckIn(visitID, "QZ-SSO-01", []string{c.ID}, geo(now.Add(-time.Hour)))
	require.NoError(t, err)
	_, _, err = d.CheckOut(visitID, geo(now), "")
	require.NoError(t, err)
	_, _, err = d.UpdateVisit(visitID, client.VisitUpdate{Summary: "نسخه اول"})
	require.NoError(t, err)
	_, _, err = d.UpdateVisit(visitID, client.VisitUpdate{Summary: "نسخه نهایی"})
	require.NoError(t, err)

	rep, err := d.Sync(ctx)
	require.NoError(t, err)
	assert.Equal(t, 4, rep.Applied, "%+v", rep.Results)
	conflicts, _, err := e.store.Conflicts(favsync.ConflictFilter{ComplaintID: c.ID})
	require.NoError(t, err)
	assert.Empty(t, conflicts)
	fw, err := e.store.ComplaintFieldWork(c.ID)
	require.NoError(t, err)
	require.Len(t, fw.Visits, 1)
	assert.Equal(t, "نسخه نهایی", fw.Visits[0].Summary, "the device's own order decides")
	assert.NotNil(t, fw.Visits[0].CheckOut)
}

// A device at its cap of open conflict records (issue 11, point 13) gets
// the mutations that would open more deferred (too_many_conflicts): they stay
// in its queue, not in the ledger, and the next Sync after dispatch settles
// records sends them again, unchanged, and they are taken.
func TestDeferredMutationsStayQueuedUntilDispatchSettles(t *testing.T) {
	e := newEnv(t)
	c := e.complaint("field")
	d := e.device("field")
	_, err := d.Sync(ctx)
	require.NoError(t, err)
	const over = 3
	for range favsync.MaxOpenConflictsPerDevice + over {
		_, _, err = d.EditComplaint(c.ID, map[string]any{"priority": "low", "category": "other"})
		require.NoError(t, err)
	}
	rep, err := d.Sync(ctx)
	require.NoError(t, err, "a deferral is an answer, not a failure")
	assert.Equal(t, favsync.MaxOpenConflictsPerDevice, rep.ResolvedByRule)
	assert.Equal(t, over, rep.Deferred)
	queued, err := d.Queue()
	require.NoError(t, err)
	require.Len(t, queued, over, "deferred mutations stay queued")
	ledger, err := d.Ledger()
	require.NoError(t, err)
	assert.Len(t, ledger, favsync.MaxOpenConflictsPerDevice, "and out of the ledger")

	rep, err = d.Sync(ctx)
	require.NoError(t, err)
	assert.Equal(t, over, rep.Deferred, "still at the cap: deferred again")

	open, _, err := e.store.Conflicts(favsync.ConflictFilter{Status: favsync.ConflictOpen, Limit: over})
	require.NoError(t, err)
	for _, cf := range open {
		_, err := e.store.ResolveConflict(e.dispatcher, cf.ID, favsync.ResolveAccept, "")
		require.NoError(t, err)
	}
	rep, err = d.Sync(ctx)
	require.NoError(t, err)
	assert.Equal(t, over, rep.ResolvedByRule)
	assert.Zero(t, rep.Deferred)
	for _, q := range queued {
		entry, ok, err := d.LedgerEntry(q.MutationID)
		require.NoError(t, err)
		require.True(t, ok, "the once deferred mutation is in the ledger")
		assert.Equal(t, client.StatusResolvedByRule, entry.Result.Status)
	}
	queued, err = d.Queue()
	require.NoError(t, err)
	assert.Empty(t, queued)
}
