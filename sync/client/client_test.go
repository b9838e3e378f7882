package client_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/favad/favad/inspector"
	"github.com/favad/favad/server"
	"github.com/favad/favad/server/auth"
	favsync "github.com/favad/favad/sync"
	"github.com/favad/favad/sync/client"
)

var ctx = context.Background()

func ids(recs []client.Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.ID
	}
	return out
}

func mustRecords(t *testing.T, c *client.Client, kind string) []client.Record {
	t.Helper()
	recs, err := c.Records(kind)
	require.NoError(t, err)
	return recs
}

func mustQueue(t *testing.T, c *client.Client) []client.Mutation {
	t.Helper()
	q, err := c.Queue()
	require.NoError(t, err)
	return q
}

func mustLedger(t *testing.T, c *client.Client) []client.Entry {
	t.Helper()
	l, err := c.Ledger()
	require.NoError(t, err)
	return l
}

func geo(at time.Time) client.Geo {
	return client.Geo{DeviceTime: at, Lat: 36.2791, Lng: 50.0041, AccuracyM: 8}
}

// offlineWork queues what an inspector does at the office for complaint:
// check in, a finding, a note, the outcome. It returns the visit's id.
func offlineWork(t *testing.T, d *client.Client, complaintID string) (visitID string) {
	t.Helper()
	now := time.Now()
	visitID = client.NewID()
	_, _, err := d.CheckIn(visitID, "QZ-SSO-01", []string{complaintID}, geo(now))
	require.NoError(t, err)
	_, _, err = d.RecordFinding(client.NewID(), client.Finding{VisitID: visitID, ComplaintID: complaintID,
		StaffExpected: 5, StaffPresent: 3, Absentees: []client.Absentee{{Name: "کارمند باجه ۳", Reason: "unexcused"}, {Name: "معاون شعبه", Reason: "mission"}},
		ClientsWaiting: 14, DesksOpen: 2, ObservedAt: now})
	require.NoError(t, err)
	_, _, err = d.AddNote(client.NewID(), client.Note{ComplaintID: complaintID, VisitID: visitID, Text: "رئیس شعبه در جریان قرار گرفت", WrittenAt: now})
	require.NoError(t, err)
	_, _, err = d.RecordOutcome(complaintID, client.OutcomeSubstantiated, "غیبت کارمند باجه ۳ تایید شد")
	require.NoError(t, err)
	return visitID
}

func TestInitialSyncPullsAssignedComplaintWithoutCallerAndRegionOffices(t *testing.T) {
	e := newEnv(t)
	c := e.complaint("field")
	e.complaint("field2") // someone else's
	d := e.device("field")

	rep, err := d.Sync(ctx)
	require.NoError(t, err)
	assert.True(t, rep.Reset, "the first pull is a full sync")
	assert.Zero(t, rep.Pushed)

	complaints := mustRecords(t, d, client.RecordComplaint)
	require.Equal(t, []string{c.ID}, ids(complaints), "only the inspector's own assignment")
	assert.Equal(t, c.Version, complaints[0].Version)
	raw := string(complaints[0].Data)
	assert.NotContains(t, raw, "caller")
	assert.NotContains(t, raw, "09121234567")
	assert.NotContains(t, raw, "زینب")
	var w struct {
		ID, Status, OfficeCode string
		Assignment             struct {
			InspectorID string `json:"inspector_id"`
		}
	}
	require.NoError(t, json.Unmarshal(complaints[0].Data, &w))
	assert.Equal(t, "assigned", w.Status)
	assert.Equal(t, e.users["field"].ID, w.Assignment.InspectorID)

	assert.ElementsMatch(t, []string{"QZ-SSO-01", "TK-SSO-01"}, ids(mustRecords(t, d, client.RecordOffice)), "the region's offices, not Tehran's")
	assert.Equal(t, []string{"SSO"}, ids(mustRecords(t, d, client.RecordAgency)))
	assert.Equal(t, rep.Pulled, 4)

	cur, err := d.Cursor()
	require.NoError(t, err)
	assert.NotEmpty(t, cur)
	assert.True(t, strings.HasPrefix(d.DeviceID(), "dev-"))

	// Nothing changed: the next sync is an empty delta.
	rep, err = d.Sync(ctx)
	require.NoError(t, err)
	assert.False(t, rep.Reset)
	assert.Zero(t, rep.Pulled+rep.Removed)
}

func TestOfflineWorkIsAppliedAndStoredOnServer(t *testing.T) {
	e := newEnv(t)
	c := e.complaint("field")
	d := e.device("field")
	_, err := d.Sync(ctx)
	require.NoError(t, err)

	// Offline: four mutations, each durable before Enqueue returned.
	visitID := offlineWork(t, d, c.ID)
	q := mustQueue(t, d)
	require.Len(t, q, 4)
	for i, m := range q {
		assert.Equal(t, uint64(i+1), m.DeviceSeq, "device order")
		if i > 0 {
			assert.True(t, q[i-1].HLC.Less(m.HLC), "the clock moves forward")
		}
	}
	assert.Equal(t, c.Version, q[3].BaseVersion, "the outcome names the version the device saw")

	rep, err := d.Sync(ctx)
	require.NoError(t, err)
	assert.Equal(t, 4, rep.Pushed)
	assert.Equal(t, 4, rep.Applied, "results: %+v", rep.Results)
	assert.Zero(t, rep.Rejected+rep.Replayed)
	assert.Empty(t, mustQueue(t, d))

	ledger := mustLedger(t, d)
	require.Len(t, ledger, 4)
	for i, en := range ledger {
		assert.Equal(t, q[i].MutationID, en.Result.MutationID)
		assert.Equal(t, client.StatusApplied, en.Result.Status)
		assert.NotZero(t, en.Result.Version)
	}

	fw, err := e.store.ComplaintFieldWork(c.ID)
	require.NoError(t, err)
	require.Len(t, fw.Visits, 1)
	assert.Equal(t, visitID, fw.Visits[0].ID, "the server keeps the client's id")
	assert.Equal(t, "QZ-SSO-01", fw.Visits[0].OfficeCode)
	require.NotNil(t, fw.Visits[0].CheckIn)
	assert.Len(t, fw.Findings, 1)
	assert.Len(t, fw.Findings[0].Absentees, 2)
	assert.Len(t, fw.Notes, 1)
	got, err := e.store.Complaint(c.ID)
	require.NoError(t, err)
	assert.Equal(t, inspector.StatusResolved, got.Status)
	require.NotNil(t, got.Outcome)
	assert.Equal(t, q[3].MutationID, got.Outcome.MutationID)

	// The pull that followed the push: the closed complaint left the
	// device; its own visit, finding and note came back as records.
	assert.Contains(t, rep.Removals, client.Removal{Kind: client.RecordComplaint, ID: c.ID, Reason: "closed"})
	assert.Empty(t, mustRecords(t, d, client.RecordComplaint))
	assert.Equal(t, []string{visitID}, ids(mustRecords(t, d, client.RecordVisit)))
	assert.Len(t, mustRecords(t, d, client.RecordFinding), 1)
	assert.Len(t, mustRecords(t, d, client.RecordNote), 1)
}

func TestReassignAndWithdrawRemoveComplaintsFromDevice(t *testing.T) {
	e := newEnv(t)
	c1 := e.complaint("field")
	c2 := e.complaint("field")
	d := e.device("field")
	_, err := d.Sync(ctx)
	require.NoError(t, err)
	require.Len(t, mustRecords(t, d, client.RecordComplaint), 2)

	_, err = e.store.Assign(e.dispatcher, c1.ID, inspector.Routing{InspectorID: e.users["field2"].ID, Mode: inspector.ModeField})
	require.NoError(t, err)
	_, err = e.store.Withdraw(e.dispatcher, c2.ID, "تماس تکراری")
	require.NoError(t, err)

	rep, err := d.Sync(ctx)
	require.NoError(t, err)
	assert.Equal(t, 2, rep.Removed)
	assert.ElementsMatch(t, []client.Removal{
		{Kind: client.RecordComplaint, ID: c1.ID, Reason: "reassigned"},
		{Kind: client.RecordComplaint, ID: c2.ID, Reason: "withdrawn"},
	}, rep.Removals)
	assert.Empty(t, mustRecords(t, d, client.RecordComplaint))

	// The other inspector's device now holds c1.
	d2 := e.device("field2")
	_, err = d2.Sync(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{c1.ID}, ids(mustRecords(t, d2, client.RecordComplaint)))
}

func TestOutcomeAfterReassignmentIsKeptForReview(t *testing.T) {
	e := newEnv(t)
	c := e.complaint("field")
	d := e.device("field")
	_, err := d.Sync(ctx)
	require.NoError(t, err)

	_, _, err = d.RecordOutcome(c.ID, client.OutcomeNotSubstantiated, "کارمند در مرخصی بود")
	require.NoError(t, err)
	_, err = e.store.Assign(e.dispatcher, c.ID, inspector.Routing{InspectorID: e.users["field2"].ID, Mode: inspector.ModeField})
	require.NoError(t, err)

	rep, err := d.Sync(ctx)
	require.NoError(t, err)
	require.Len(t, rep.Results, 1)
	r := rep.Results[0]
	assert.Equal(t, client.StatusResolvedByRule, r.Status)
	assert.Equal(t, "needs_review", r.Rule)
	assert.NotEmpty(t, r.ConflictIDs)
	assert.Empty(t, mustQueue(t, d), "a resolution is an answer: the work is kept on the server")
	got, err := e.store.Complaint(c.ID)
	require.NoError(t, err)
	assert.Equal(t, inspector.StatusNeedsReview, got.Status)
}

func TestRejectedMutationLeavesQueueAndBatchGoesOn(t *testing.T) {
	e := newEnv(t)
	c := e.complaint("field")
	d := e.device("field", func(cfg *client.Config) { cfg.BatchSize = 2 })
	_, err := d.Sync(ctx)
	require.NoError(t, err)

	// A finding for a visit the server never heard of, between good work.
	_, _, err = d.AddNote(client.NewID(), client.Note{ComplaintID: c.ID, Text: "یادداشت اول", WrittenAt: time.Now()})
	require.NoError(t, err)
	badID, _, err := d.RecordFinding(client.NewID(), client.Finding{VisitID: client.NewID(), StaffExpected: 1, StaffPresent: 1, ObservedAt: time.Now()})
	require.NoError(t, err)
	_, _, err = d.StartComplaint(c.ID)
	require.NoError(t, err)
	_, _, err = d.Enqueue("complaint.teleport", c.ID, 0, nil) // a kind the server does not know
	require.NoError(t, err)
	_, _, err = d.AddNote(client.NewID(), client.Note{ComplaintID: c.ID, Text: "یادداشت دوم", WrittenAt: time.Now()})
	require.NoError(t, err)

	rep, err := d.Sync(ctx)
	require.NoError(t, err)
	assert.Equal(t, 5, rep.Pushed, "three batches of at most two")
	assert.Equal(t, 3, rep.Applied)
	assert.Equal(t, 2, rep.Rejected)
	assert.Empty(t, mustQueue(t, d), "a rejection is final")

	en, ok, err := d.LedgerEntry(badID)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, client.StatusRejected, en.Result.Status)
	assert.Equal(t, "invalid", en.Result.Code)
	assert.NotEmpty(t, en.Result.ConflictIDs, "the server keeps the rejected work for dispatch")

	got, err := e.store.Complaint(c.ID)
	require.NoError(t, err)
	assert.Equal(t, inspector.StatusInProgress, got.Status)
	fw, err := e.store.ComplaintFieldWork(c.ID)
	require.NoError(t, err)
	assert.Len(t, fw.Notes, 2)
}

// TestOversizePushesHalveAndALoneOversizeMutationDoesNotJamTheQueue: a
// push over the server's limit is split until it fits; one mutation that
// alone is over the limit can never go, so it moves to the ledger refused
// here (kept on the device) and the work queued after it still goes, and
// the device still pulls.
func TestOversizePushesHalveAndALoneOversizeMutationDoesNotJamTheQueue(t *testing.T) {
	e := newEnv(t, func(c *server.Config) { c.PushLimit = 40 << 10 })
	c := e.complaint("field")
	d := e.device("field")
	_, err := d.Sync(ctx)
	require.NoError(t, err)

	text := strings.Repeat("ی", 1500) // 3 KB: the server's note limit is 4,000 characters
	for range 20 {                    // ~70 KB in one push: over the limit
		_, _, err := d.AddNote(client.NewID(), client.Note{ComplaintID: c.ID, Text: text, WrittenAt: time.Now()})
		require.NoError(t, err)
	}
	huge, _, err := d.Enqueue("note.create", client.NewID(), 0, map[string]any{"complaint_id": c.ID,
		"text": strings.Repeat("x", 100<<10), "written_at": time.Now().UTC()}) // under MaxPayloadSize, over the server's limit
	require.NoError(t, err)
	_, _, err = d.AddNote(client.NewID(), client.Note{ComplaintID: c.ID, Text: "after the big one", WrittenAt: time.Now()})
	require.NoError(t, err)

	rep, err := d.Sync(ctx)
	require.NoError(t, err)
	assert.Equal(t, 21, rep.Applied)
	assert.Equal(t, 1, rep.Rejected)
	assert.Empty(t, mustQueue(t, d), "nothing is stuck in the queue")
	en, ok, err := d.LedgerEntry(huge)
	require.NoError(t, err)
	require.True(t, ok, "the refused mutation is kept on the device")
	assert.Equal(t, client.StatusRejected, en.Result.Status)
	assert.Equal(t, client.CodeTooLarge, en.Result.Code)
	fw, err := e.store.ComplaintFieldWork(c.ID)
	require.NoError(t, err)
	assert.Len(t, fw.Notes, 21)

	// The server notes the sequence the device skipped.
	conflicts, _, err := e.store.Conflicts(favsync.ConflictFilter{Limit: 50})
	require.NoError(t, err)
	gap := false
	for _, cf := range conflicts {
		gap = gap || cf.Code == "sequence_gap"
	}
	assert.True(t, gap, "dispatch learns the device skipped a sequence")
}

func TestEnqueueRefusesAnOversizePayload(t *testing.T) {
	e := newEnv(t)
	d := e.device("field")
	_, _, err := d.Enqueue("note.create", client.NewID(), 0, map[string]string{"text": strings.Repeat("x", client.MaxPayloadSize)})
	require.ErrorIs(t, err, client.ErrPayloadTooLarge)
	assert.Empty(t, mustQueue(t, d), "nothing queued")
}

func TestLostPushAnswerThenCrashIsReplayedWithoutDuplicates(t *testing.T) {
	e := newEnv(t)
	c := e.complaint("field")
	tp := newTap(e.ts.Client().Transport)
	path := filepath.Join(t.TempDir(), "phone.db")
	d := e.deviceAt(path, "field", tapped(tp))
	_, err := d.Sync(ctx)
	require.NoError(t, err)
	deviceID := d.DeviceID()

	offlineWork(t, d, c.ID)
	sent := mustQueue(t, d)

	// The server commits the push, but its answer never reaches the phone.
	tp.loseNext("/v1/sync/push")
	rep, err := d.Sync(ctx)
	require.ErrorIs(t, err, errLost)
	assert.Zero(t, rep.Pushed)
	assert.Equal(t, sent, mustQueue(t, d), "nothing answered, nothing dropped")
	got, err := e.store.Complaint(c.ID)
	require.NoError(t, err)
	require.Equal(t, inspector.StatusResolved, got.Status, "the server did apply the push")

	// The phone dies and restarts.
	require.NoError(t, d.Close())
	d = e.deviceAt(path, "field", tapped(tp))
	assert.Equal(t, deviceID, d.DeviceID())
	assert.Equal(t, sent, mustQueue(t, d))
	last, err := d.LastSeq()
	require.NoError(t, err)
	assert.Equal(t, uint64(4), last)

	rep, err = d.Sync(ctx)
	require.NoError(t, err)
	assert.Equal(t, 4, rep.Pushed)
	assert.Equal(t, 4, rep.Replayed, "the server answers with the original results")
	assert.Equal(t, 4, rep.Applied)
	assert.Empty(t, mustQueue(t, d))
	for _, en := range mustLedger(t, d) {
		assert.True(t, en.Result.Replayed)
		assert.Equal(t, client.StatusApplied, en.Result.Status)
	}
	assert.Equal(t, 1, tp.count("/v1/auth/login"), "the stored refresh token carried the session across the restart")

	fw, err := e.store.ComplaintFieldWork(c.ID)
	require.NoError(t, err)
	assert.Len(t, fw.Visits, 1)
	assert.Len(t, fw.Findings, 1)
	assert.Len(t, fw.Notes, 1)
	hist, err := e.store.ComplaintHistory(c.ID)
	require.NoError(t, err)
	outcomes := 0
	for _, h := range hist {
		if h.Action == "outcome" {
			outcomes++
		}
	}
	assert.Equal(t, 1, outcomes, "the outcome was applied once")

	// The sequence continues after the highest ever assigned.
	_, seq, err := d.AddNote(client.NewID(), client.Note{ComplaintID: c.ID, Text: "پس از راه‌اندازی دوباره", WrittenAt: time.Now()})
	require.NoError(t, err)
	assert.Equal(t, uint64(5), seq)
	rep, err = d.Sync(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, rep.Applied)
	assert.Zero(t, rep.Replayed)
}

func TestRestoredOldFileReplaysAndSkipsAheadOfServerSequence(t *testing.T) {
	e := newEnv(t)
	c := e.complaint("field")
	dir := t.TempDir()
	path, backup := filepath.Join(dir, "phone.db"), filepath.Join(dir, "phone.bak")
	d := e.deviceAt(path, "field")
	_, err := d.Sync(ctx)
	require.NoError(t, err)
	_, _, err = d.AddNote(client.NewID(), client.Note{ComplaintID: c.ID, Text: "اول", WrittenAt: time.Now()})
	require.NoError(t, err)
	require.NoError(t, d.Close())
	copyFile(t, path, backup) // a copy holding one queued note

	d = e.deviceAt(path, "field")
	_, _, err = d.AddNote(client.NewID(), client.Note{ComplaintID: c.ID, Text: "دوم", WrittenAt: time.Now()})
	require.NoError(t, err)
	rep, err := d.Sync(ctx)
	require.NoError(t, err)
	require.Equal(t, 2, rep.Applied)
	require.NoError(t, d.Close())

	// The phone is restored from the older copy.
	old := e.deviceAt(backup, "field")
	rep, err = old.Sync(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, rep.Replayed)
	last, err := old.LastSeq()
	require.NoError(t, err)
	assert.Equal(t, uint64(2), last, "the server's last device sequence moved the counter on")
	_, seq, err := old.AddNote(client.NewID(), client.Note{ComplaintID: c.ID, Text: "سوم", WrittenAt: time.Now()})
	require.NoError(t, err)
	assert.Equal(t, uint64(3), seq)
	rep, err = old.Sync(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, rep.Applied, "a fresh sequence, not a clash: %+v", rep.Results)

	fw, err := e.store.ComplaintFieldWork(c.ID)
	require.NoError(t, err)
	assert.Len(t, fw.Notes, 3)
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(to, b, 0o600))
}

func TestExpiredAccessTokenIsRefreshedTransparently(t *testing.T) {
	e := newEnv(t, func(cfg *server.Config) { cfg.AccessTTL = time.Minute })
	c := e.complaint("field")
	tp := newTap(e.ts.Client().Transport)
	d := e.device("field", tapped(tp))
	_, err := d.Sync(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, tp.count("/v1/auth/login"))

	_, _, err = d.StartComplaint(c.ID)
	require.NoError(t, err)
	e.clock.Advance(2 * time.Minute) // the access token has expired

	rep, err := d.Sync(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, rep.Applied)
	assert.Equal(t, 1, tp.count("/v1/auth/refresh"))
	assert.Equal(t, 1, tp.count("/v1/auth/login"), "no new sign-in was needed")
	assert.Equal(t, 2, tp.count("/v1/sync/push"), "the refused push was retried once")
}

func TestLostRefreshAnswerIsRetriedWithoutSignIn(t *testing.T) {
	e := newEnv(t, func(cfg *server.Config) { cfg.AccessTTL = time.Minute })
	c := e.complaint("field")
	tp := newTap(e.ts.Client().Transport)
	d := e.device("field", tapped(tp))
	_, err := d.Sync(ctx)
	require.NoError(t, err)
	_, _, err = d.StartComplaint(c.ID)
	require.NoError(t, err)
	e.clock.Advance(2 * time.Minute)

	// The server rotates the refresh token, but the phone never hears of it.
	tp.loseNext("/v1/auth/refresh")
	_, err = d.Sync(ctx)
	require.ErrorIs(t, err, errLost)
	require.Len(t, mustQueue(t, d), 1)

	// The phone presents the spent token again at once: within the server's
	// grace, with its successor unused, it is answered; no new sign-in, and
	// the queue goes through.
	rep, err := d.Sync(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, rep.Applied)
	assert.Equal(t, 2, tp.count("/v1/auth/refresh"))
	assert.Equal(t, 1, tp.count("/v1/auth/login"))
}

func TestServerDownKeepsQueue(t *testing.T) {
	e := newEnv(t)
	c := e.complaint("field")
	path := filepath.Join(t.TempDir(), "phone.db")
	d := e.deviceAt(path, "field")
	_, err := d.Sync(ctx)
	require.NoError(t, err)
	offlineWork(t, d, c.ID)
	before := mustQueue(t, d)
	cursor, err := d.Cursor()
	require.NoError(t, err)

	e.ts.Close()
	rep, err := d.Sync(ctx)
	require.Error(t, err)
	assert.Zero(t, rep.Pushed)
	assert.Equal(t, before, mustQueue(t, d))
	after, err := d.Cursor()
	require.NoError(t, err)
	assert.Equal(t, cursor, after)
	assert.Len(t, mustRecords(t, d, client.RecordComplaint), 1, "pulled records stay")

	// The server comes back (at a new address); the same file carries on.
	require.NoError(t, d.Close())
	e.ts = e.serve()
	t.Cleanup(e.ts.Close)
	d = e.deviceAt(path, "field")
	rep, err = d.Sync(ctx)
	require.NoError(t, err)
	assert.Equal(t, 4, rep.Applied)
	assert.Empty(t, mustQueue(t, d))
}

func TestServerErrorKeepsQueue(t *testing.T) {
	e := newEnv(t)
	e.complaint("field")
	srv, err := server.New(e.cfg)
	require.NoError(t, err)
	var fail atomic.Bool
	fail.Store(true)
	e.ts.Close() // replaced by one that fails pushes on demand
	e.ts = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fail.Load() && r.URL.Path == "/v1/sync/push" {
			w.Header().Set("Content-Type", "application/problem+json")
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"type":"urn:favad:problem:internal","title":"Service Unavailable","status":503,"detail":"overloaded","code":"internal"}`))
			return
		}
		srv.ServeHTTP(w, r)
	}))
	t.Cleanup(e.ts.Close)
	d := e.device("field")
	_, _, err = d.AddNote(client.NewID(), client.Note{ComplaintID: client.NewID(), Text: "x", WrittenAt: time.Now()})
	require.NoError(t, err)

	_, err = d.Sync(ctx)
	var apiErr *client.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, http.StatusServiceUnavailable, apiErr.Status)
	assert.Equal(t, 7*time.Second, apiErr.RetryAfter)
	assert.Len(t, mustQueue(t, d), 1)

	fail.Store(false)
	rep, err := d.Sync(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, rep.Rejected, "the note names no known complaint")
	assert.Empty(t, mustQueue(t, d))
}

// upgradeServer answers like a server that no longer speaks this client's
// protocol; with signIn it still hands out tokens.
func upgradeServer(t *testing.T, signIn bool) *httptest.Server {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if signIn && (r.URL.Path == "/v1/auth/login" || r.URL.Path == "/v1/auth/refresh") {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"access_token":"a.b.c","token_type":"Bearer","expires_in":900,"refresh_token":"r1"}`))
			return
		}
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusUpgradeRequired)
		_, _ = w.Write([]byte(`{"type":"urn:favad:problem:upgrade_required","title":"Upgrade Required","status":426,"detail":"update the app — its unsent work stays on the device","code":"upgrade_required","action":"upgrade"}`))
	}))
	t.Cleanup(ts.Close)
	return ts
}

func TestUpgradeRequiredKeepsQueue(t *testing.T) {
	for _, signIn := range []bool{true, false} {
		name := map[bool]string{true: "on sync", false: "on sign-in"}[signIn]
		t.Run(name, func(t *testing.T) {
			ts := upgradeServer(t, signIn)
			d, err := client.Open(filepath.Join(t.TempDir(), "phone.db"), client.Config{BaseURL: ts.URL, Username: "field", Password: testPassword})
			require.NoError(t, err)
			defer d.Close()
			mid, _, err := d.StartComplaint(client.NewID())
			require.NoError(t, err)

			rep, err := d.Sync(ctx)
			require.ErrorIs(t, err, client.ErrUpgradeRequired)
			var apiErr *client.APIError
			require.ErrorAs(t, err, &apiErr)
			assert.Equal(t, "upgrade_required", apiErr.Code)
			assert.Zero(t, rep.Pushed)
			q := mustQueue(t, d)
			require.Len(t, q, 1)
			assert.Equal(t, mid, q[0].MutationID)
		})
	}
}

func TestSignOutWipesRecordsButKeepsQueue(t *testing.T) {
	e := newEnv(t)
	c := e.complaint("field")
	tp := newTap(e.ts.Client().Transport)
	d := e.device("field", tapped(tp))
	_, err := d.Sync(ctx)
	require.NoError(t, err)
	_, _, err = d.StartComplaint(c.ID)
	require.NoError(t, err)

	// The session is signed out elsewhere (POST /v1/auth/logout with the device's token).
	req, err := http.NewRequest(http.MethodPost, e.ts.URL+"/v1/auth/logout", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+tp.lastBearer())
	resp, err := e.ts.Client().Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNoContent, resp.StatusCode)

	_, err = d.Sync(ctx)
	require.ErrorIs(t, err, client.ErrWiped)
	var apiErr *client.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, "signed_out", apiErr.Code)
	assert.Empty(t, mustRecords(t, d, client.RecordComplaint))
	assert.Empty(t, mustRecords(t, d, client.RecordOffice))
	cur, err := d.Cursor()
	require.NoError(t, err)
	assert.Empty(t, cur)
	assert.Len(t, mustQueue(t, d), 1, "the inspector's unsent work survives a sign-out")

	// The inspector signs in again: the work goes through and the scope returns.
	rep, err := d.Sync(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, rep.Applied)
	assert.True(t, rep.Reset)
	assert.Len(t, mustRecords(t, d, client.RecordComplaint), 1)
	assert.Equal(t, 2, tp.count("/v1/auth/login"))
}

func TestRevokedDeviceWipesRecordsAndQueue(t *testing.T) {
	e := newEnv(t)
	c := e.complaint("field")
	d := e.device("field")
	_, _, err := d.AddNote(client.NewID(), client.Note{ComplaintID: c.ID, Text: "پیش از ابطال", WrittenAt: time.Now()})
	require.NoError(t, err)
	_, err = d.Sync(ctx)
	require.NoError(t, err)
	require.Len(t, mustLedger(t, d), 1)
	_, _, err = d.StartComplaint(c.ID)
	require.NoError(t, err)

	_, err = e.store.RevokeDevice(e.dispatcher, d.DeviceID())
	require.NoError(t, err)

	_, err = d.Sync(ctx)
	require.ErrorIs(t, err, client.ErrWiped)
	var apiErr *client.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, client.CodeDeviceRevoked, apiErr.Code)
	assert.Empty(t, mustRecords(t, d, client.RecordComplaint))
	assert.Empty(t, mustQueue(t, d), "a revoked device drops its queue")
	assert.Len(t, mustLedger(t, d), 1, "the ledger of what the server holds is kept")

	// It stays refused: signing in again is a wipe too.
	_, err = d.Sync(ctx)
	require.ErrorIs(t, err, client.ErrWiped)
}

func TestWrongPasswordIsReported(t *testing.T) {
	e := newEnv(t)
	d := e.device("field", func(c *client.Config) { c.Password = "wrong" })
	_, err := d.Sync(ctx)
	require.ErrorIs(t, err, client.ErrSignInRefused)
}

func TestMultiPagePull(t *testing.T) {
	e := newEnv(t)
	var want []string
	for range 5 {
		want = append(want, e.complaint("field").ID)
	}
	d := e.device("field", func(c *client.Config) { c.PullLimit = 2 })
	rep, err := d.Sync(ctx)
	require.NoError(t, err)
	assert.Greater(t, rep.Pages, 3)
	assert.True(t, rep.Reset)
	assert.ElementsMatch(t, want, ids(mustRecords(t, d, client.RecordComplaint)))
	assert.Len(t, mustRecords(t, d, client.RecordOffice), 2)

	// A pull cut off after its second page resumes from the stored cursor.
	for _, c := range []string{e.complaint("field").ID, e.complaint("field").ID, e.complaint("field").ID} {
		want = append(want, c)
	}
	tp := newTap(e.ts.Client().Transport)
	d2 := e.device("field", tapped(tp), func(c *client.Config) { c.PullLimit = 2 })
	tp.loseAfter("/v1/sync/pull", 2)
	rep, err = d2.Sync(ctx)
	require.ErrorIs(t, err, errLost)
	assert.Equal(t, 2, rep.Pages)
	held := mustRecords(t, d2, client.RecordComplaint)
	assert.Len(t, held, 3, "page 1: the agency and a complaint; page 2: two complaints")
	cursor, err := d2.Cursor()
	require.NoError(t, err)
	assert.NotEmpty(t, cursor)
	rep, err = d2.Sync(ctx)
	require.NoError(t, err)
	assert.False(t, rep.Reset, "resumed, not restarted")
	assert.ElementsMatch(t, want, ids(mustRecords(t, d2, client.RecordComplaint)))
	assert.Equal(t, 3+rep.Pages, tp.count("/v1/sync/pull"), "pages already stored were not fetched again")

	// Deltas page too.
	for _, id := range want[:3] {
		_, err := e.store.Withdraw(e.dispatcher, id, "تکراری")
		require.NoError(t, err)
	}
	rep, err = d.Sync(ctx)
	require.NoError(t, err)
	assert.Equal(t, 3, rep.Removed)
	assert.ElementsMatch(t, want[3:], ids(mustRecords(t, d, client.RecordComplaint)))
}

func TestConcurrentEnqueueDuringSync(t *testing.T) {
	e := newEnv(t)
	c := e.complaint("field")
	d := e.device("field", func(cfg *client.Config) { cfg.BatchSize = 7 })
	const writers, each = 4, 15
	done := make(chan error, writers)
	for w := range writers {
		go func() {
			for i := range each {
				_, _, err := d.AddNote(client.NewID(), client.Note{ComplaintID: c.ID, Text: strings.Repeat("ن", w+i+1), WrittenAt: time.Now()})
				if err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	syncErr := make(chan error, 1)
	go func() {
		for range 5 {
			if _, err := d.Sync(ctx); err != nil {
				syncErr <- err
				return
			}
		}
		syncErr <- nil
	}()
	for range writers {
		require.NoError(t, <-done)
	}
	require.NoError(t, <-syncErr)
	_, err := d.Sync(ctx)
	require.NoError(t, err)

	assert.Empty(t, mustQueue(t, d))
	ledger := mustLedger(t, d)
	require.Len(t, ledger, writers*each)
	for i, en := range ledger {
		assert.Equal(t, uint64(i+1), en.Mutation.DeviceSeq, "sequences are dense and unique")
		assert.Equal(t, client.StatusApplied, en.Result.Status)
		assert.Empty(t, en.Result.GapBefore)
	}
	fw, err := e.store.ComplaintFieldWork(c.ID)
	require.NoError(t, err)
	assert.Len(t, fw.Notes, writers*each)
}

func TestRunSyncsUntilCancelled(t *testing.T) {
	e := newEnv(t)
	c := e.complaint("field")
	synced := make(chan client.Report, 100)
	d := e.device("field", func(cfg *client.Config) {
		cfg.OnSync = func(r client.Report, err error) {
			if err == nil {
				synced <- r
			}
		}
	})
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	stopped := make(chan error, 1)
	go func() { stopped <- d.Run(runCtx, time.Hour) }()
	<-synced // the first sync runs at once

	_, _, err := d.StartComplaint(c.ID)
	require.NoError(t, err)
	d.Kick() // as a push notification would
	select {
	case r := <-synced:
		assert.Equal(t, 1, r.Applied)
	case <-time.After(5 * time.Second):
		t.Fatal("Kick did not wake Run")
	}
	cancel()
	select {
	case err := <-stopped:
		require.ErrorIs(t, err, context.Canceled)
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not stop")
	}
}

func TestRunBacksOffWhileServerIsDown(t *testing.T) {
	e := newEnv(t)
	url := e.ts.URL
	e.ts.Close()
	var attempts []time.Time
	done := make(chan struct{})
	d := e.device("field", func(cfg *client.Config) {
		cfg.BaseURL = url
		cfg.BackoffBase, cfg.BackoffCap = 2*time.Millisecond, 20*time.Millisecond
		cfg.OnSync = func(_ client.Report, err error) {
			if err == nil {
				t.Error("sync succeeded against a closed server")
			}
			attempts = append(attempts, time.Now())
			if len(attempts) == 8 {
				close(done)
			}
		}
	})
	_, _, err := d.StartComplaint(client.NewID())
	require.NoError(t, err)
	runCtx, cancel := context.WithCancel(ctx)
	stopped := make(chan error, 1)
	go func() { stopped <- d.Run(runCtx, time.Millisecond) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run stopped retrying")
	}
	cancel()
	require.ErrorIs(t, <-stopped, context.Canceled)
	for i := 1; i < len(attempts); i++ {
		assert.Less(t, attempts[i].Sub(attempts[i-1]), 2*time.Second, "waits are capped")
	}
	assert.Len(t, mustQueue(t, d), 1)
}

func TestOpenRefusesSecondClientOnSameFile(t *testing.T) {
	e := newEnv(t)
	path := filepath.Join(t.TempDir(), "phone.db")
	e.deviceAt(path, "field")
	_, err := client.Open(path, client.Config{BaseURL: e.ts.URL, Username: "field"})
	require.ErrorIs(t, err, client.ErrLocked)
}

func TestConfigValidation(t *testing.T) {
	dir := t.TempDir()
	for _, cfg := range []client.Config{
		{Username: "field"},
		{BaseURL: "relative/path", Username: "field"},
		{BaseURL: "http://127.0.0.1:1"},
		{BaseURL: "http://127.0.0.1:1", Username: "field", BatchSize: 501},
	} {
		_, err := client.Open(filepath.Join(dir, "x.db"), cfg)
		assert.Error(t, err, "%+v", cfg)
	}
}

func TestEnqueueIsDurableAndOrdered(t *testing.T) {
	e := newEnv(t)
	path := filepath.Join(t.TempDir(), "phone.db")
	now := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	d := e.deviceAt(path, "field", func(c *client.Config) { c.Now = clock })
	var mids []string
	for range 3 {
		id, _, err := d.Enqueue("note.create", client.NewID(), 0, json.RawMessage(`{"complaint_id":"x","text":"t"}`))
		require.NoError(t, err)
		mids = append(mids, id)
	}
	_, _, err := d.Enqueue("note.create", client.NewID(), 0, json.RawMessage(`{not json`))
	require.Error(t, err)
	require.NoError(t, d.Close())

	// Reopened, the queue is intact; the clock stalled, so the counter moved.
	d = e.deviceAt(path, "field", func(c *client.Config) { c.Now = clock })
	q := mustQueue(t, d)
	require.Len(t, q, 3)
	for i, m := range q {
		assert.Equal(t, mids[i], m.MutationID)
		assert.Equal(t, uint64(i+1), m.DeviceSeq)
		assert.Equal(t, client.HLC{WallMs: now.UnixMilli(), Logical: uint32(i)}, m.HLC)
		assert.True(t, m.DeviceTime.Equal(now))
	}
	assert.True(t, slices.IsSortedFunc(mids, strings.Compare), "UUIDv7 ids sort by creation")

	// A clock that jumps back does not move the HLC back.
	now = now.Add(-time.Hour)
	_, _, err = d.Enqueue("note.create", client.NewID(), 0, nil)
	require.NoError(t, err)
	q = mustQueue(t, d)
	assert.Equal(t, client.HLC{WallMs: now.Add(time.Hour).UnixMilli(), Logical: 3}, q[3].HLC)
}

func TestAnotherUserTakesDeviceOnlyWithEmptyQueue(t *testing.T) {
	e := newEnv(t)
	c := e.complaint("field")
	path := filepath.Join(t.TempDir(), "phone.db")
	d := e.deviceAt(path, "field")
	_, err := d.Sync(ctx)
	require.NoError(t, err)
	_, _, err = d.StartComplaint(c.ID)
	require.NoError(t, err)
	require.NoError(t, d.Close())

	_, err = client.Open(path, client.Config{BaseURL: e.ts.URL, Username: "field2", Password: testPassword})
	require.ErrorIs(t, err, client.ErrOtherUser)

	d = e.deviceAt(path, "field")
	_, err = d.Sync(ctx)
	require.NoError(t, err)
	deviceID := d.DeviceID()
	require.NoError(t, d.SignOut(ctx), "the phone changes hands: its user signs out first")
	require.NoError(t, d.Close())

	d2 := e.deviceAt(path, "field2")
	assert.Equal(t, deviceID, d2.DeviceID())
	assert.Empty(t, mustRecords(t, d2, client.RecordOffice), "the previous user's scope is gone")
	rep, err := d2.Sync(ctx)
	require.NoError(t, err)
	assert.True(t, rep.Reset)
	assert.Empty(t, mustRecords(t, d2, client.RecordComplaint), "field2 has no assignments")
	assert.Len(t, mustLedger(t, d2), 1, "the ledger is the device's history")
}

func TestPhoneInspectorRecordsCallAndOutcome(t *testing.T) {
	e := newEnv(t)
	c := e.complaint("phone")
	d := e.device("phone")
	_, err := d.Sync(ctx)
	require.NoError(t, err)
	require.Len(t, mustRecords(t, d, client.RecordComplaint), 1)

	callID := client.NewID()
	_, _, err = d.StartComplaint(c.ID)
	require.NoError(t, err)
	_, _, err = d.RecordCall(callID, client.Call{ComplaintID: c.ID, CalleeName: "رئیس شعبه", CalleeRole: "رئیس", Number: "۰۲۸-۳۳۰۰۰۱۰۱",
		StartedAt: time.Now().Add(-5 * time.Minute), DurationS: 240, Outcome: "reached", Notes: "قول پیگیری داد"})
	require.NoError(t, err)
	_, _, err = d.RecordOutcome(c.ID, client.OutcomeResolvedOnSpot, "کارمند به باجه بازگشت")
	require.NoError(t, err)

	rep, err := d.Sync(ctx)
	require.NoError(t, err)
	assert.Equal(t, 3, rep.Applied, "%+v", rep.Results)
	fw, err := e.store.ComplaintFieldWork(c.ID)
	require.NoError(t, err)
	require.Len(t, fw.Calls, 1)
	assert.Equal(t, callID, fw.Calls[0].ID)
	assert.Equal(t, "028-33000101", fw.Calls[0].Number, "the server folds Persian digits")
	got, err := e.store.Complaint(c.ID)
	require.NoError(t, err)
	assert.Equal(t, inspector.StatusResolved, got.Status)
	assert.Len(t, mustRecords(t, d, client.RecordCall), 1)
}

// An inspector whose region is limited to some cities holds the offices of
// those cities. When an office moves to another city of the same province the
// device must receive a removal: access changes are data, "never by
// filtering alone". (Regression: the pull used to filter the change out, so
// the device kept a stale office outside its region.)
func TestOfficeMovedOutOfCityRegionIsRemovedFromDevice(t *testing.T) {
	e := newEnv(t)
	hash, err := auth.HashPassword(testPassword)
	require.NoError(t, err)
	_, err = e.store.CreateUser(favsync.System, favsync.NewUser{Username: "city", DisplayName: "بازرس شهر قزوین",
		Role: inspector.RoleInspector, Mode: inspector.ModeField, PasswordHash: hash,
		Region: &inspector.Region{Province: "قزوین", Cities: []string{"قزوین"}}})
	require.NoError(t, err)
	d := e.device("city")
	_, err = d.Sync(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"QZ-SSO-01"}, ids(mustRecords(t, d, client.RecordOffice)), "only the city's office")

	o, err := e.store.Office("QZ-SSO-01")
	require.NoError(t, err)
	o.City = "تاکستان"
	_, _, err = e.store.PutOffice(favsync.System, o)
	require.NoError(t, err)

	rep, err := d.Sync(ctx)
	require.NoError(t, err)
	assert.Contains(t, rep.Removals, client.Removal{Kind: client.RecordOffice, ID: "QZ-SSO-01", Reason: "out_of_region"})
	assert.Empty(t, mustRecords(t, d, client.RecordOffice))
}

// oldProtocol makes a device claim a sync protocol the server no longer speaks.
type oldProtocol struct{ base http.RoundTripper }

func (o oldProtocol) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Favad-Protocol", "0")
	return o.base.RoundTrip(r)
}

func TestRealServerRefusesOldProtocolAndQueueIsKept(t *testing.T) {
	e := newEnv(t)
	c := e.complaint("field")
	d := e.device("field", func(cfg *client.Config) {
		cfg.HTTPClient = &http.Client{Transport: oldProtocol{e.ts.Client().Transport}}
	})
	_, _, err := d.StartComplaint(c.ID)
	require.NoError(t, err)
	_, err = d.Sync(ctx)
	require.ErrorIs(t, err, client.ErrUpgradeRequired)
	var apiErr *client.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, http.StatusUpgradeRequired, apiErr.Status)
	assert.Equal(t, client.ActionUpgrade, apiErr.Action)
	assert.Len(t, mustQueue(t, d), 1)
	got, err := e.store.Complaint(c.ID)
	require.NoError(t, err)
	assert.Equal(t, inspector.StatusAssigned, got.Status, "nothing was applied")
}

func TestSignInRateLimitIsReportedWithRetryAfter(t *testing.T) {
	e := newEnv(t, func(cfg *server.Config) { cfg.LoginPerAddress = 1 }) // every sign-in counts against its address
	_, err := e.device("field").Sync(ctx)
	require.NoError(t, err)
	d := e.device("field") // a second phone of the same inspector, at once
	_, _, err = d.AddNote(client.NewID(), client.Note{ComplaintID: client.NewID(), Text: "x", WrittenAt: time.Now()})
	require.NoError(t, err)
	_, err = d.Sync(ctx)
	var apiErr *client.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, http.StatusTooManyRequests, apiErr.Status)
	assert.Positive(t, apiErr.RetryAfter)
	assert.Len(t, mustQueue(t, d), 1)
}

// TestFullResyncDropsWhatTheServerNoLongerSends: a device offline longer
// than the tombstone retention gets a full resync (reset); the removal it
// missed was pruned, so only the reset can take the record off the device.
func TestFullResyncDropsWhatTheServerNoLongerSends(t *testing.T) {
	e := newEnv(t)
	c1 := e.complaint("field")
	c2 := e.complaint("field")
	d := e.device("field")
	_, err := d.Sync(ctx)
	require.NoError(t, err)
	require.Len(t, mustRecords(t, d, client.RecordComplaint), 2)

	_, err = e.store.Assign(e.dispatcher, c1.ID, inspector.Routing{InspectorID: e.users["field2"].ID, Mode: inspector.ModeField})
	require.NoError(t, err)
	e.clock.Advance(favsync.DefaultTombstoneRetention + 24*time.Hour) // the phone stays in a drawer
	pruned, err := e.store.CompactScopes(e.clock.Now().Add(-favsync.DefaultTombstoneRetention))
	require.NoError(t, err)
	require.NotZero(t, pruned, "the removal was pruned")

	rep, err := d.Sync(ctx)
	require.NoError(t, err)
	assert.True(t, rep.Reset, "a cursor older than the pruned floor gets a full resync")
	assert.Equal(t, []string{c2.ID}, ids(mustRecords(t, d, client.RecordComplaint)), "the reassigned complaint is gone from the device")
}

// dropLastResult answers the first push with its last result missing, as a
// broken proxy or server might.
type dropLastResult struct {
	base http.RoundTripper
	done bool
}

func (d *dropLastResult) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := d.base.RoundTrip(req)
	if err != nil || d.done || req.URL.Path != "/v1/sync/push" || resp.StatusCode != http.StatusOK {
		return resp, err
	}
	d.done = true
	var ans map[string]json.RawMessage
	if err := json.NewDecoder(resp.Body).Decode(&ans); err != nil {
		return nil, err
	}
	resp.Body.Close()
	var results []json.RawMessage
	if err := json.Unmarshal(ans["results"], &results); err != nil {
		return nil, err
	}
	ans["results"], _ = json.Marshal(results[:len(results)-1])
	body, _ := json.Marshal(ans)
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	resp.Header.Del("Content-Length")
	return resp, nil
}

// TestIncompleteAnswerKeepsTheUnansweredQueued: a push answer that leaves
// out a mutation settles the answered ones only; the other stays queued and
// goes with the next sync, once.
func TestIncompleteAnswerKeepsTheUnansweredQueued(t *testing.T) {
	e := newEnv(t)
	c := e.complaint("field")
	d := e.device("field", func(cfg *client.Config) {
		cfg.HTTPClient = &http.Client{Transport: &dropLastResult{base: e.ts.Client().Transport}, Timeout: 10 * time.Second}
	})
	_, err := d.Sync(ctx)
	require.NoError(t, err)
	var notes []string
	for i := range 3 {
		id := client.NewID()
		notes = append(notes, id)
		_, _, err := d.AddNote(id, client.Note{ComplaintID: c.ID, Text: fmt.Sprintf("یادداشت %d", i+1), WrittenAt: time.Now()})
		require.NoError(t, err)
	}
	_, err = d.Sync(ctx)
	require.ErrorIs(t, err, client.ErrIncompleteAnswer)
	q := mustQueue(t, d)
	require.Len(t, q, 1, "the unanswered mutation stays queued")
	assert.Equal(t, notes[2], q[0].RecordID)

	rep, err := d.Sync(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, rep.Pushed)
	assert.Empty(t, mustQueue(t, d))
	fw, err := e.store.ComplaintFieldWork(c.ID)
	require.NoError(t, err)
	assert.Len(t, fw.Notes, 3, "each note once")
}

// TestTooLowServerLimitKeepsOrdinaryMutationsQueued: a server (or proxy)
// whose limit refuses even ordinary mutations gets them again later; they
// are not written off as too large.
func TestTooLowServerLimitKeepsOrdinaryMutationsQueued(t *testing.T) {
	e := newEnv(t, func(c *server.Config) { c.PushLimit = 200 })
	c := e.complaint("field")
	d := e.device("field")
	_, err := d.Sync(ctx) // pulls; nothing to push
	require.NoError(t, err)
	for i := range 3 {
		_, _, err := d.AddNote(client.NewID(), client.Note{ComplaintID: c.ID, Text: fmt.Sprintf("یادداشت %d", i+1), WrittenAt: time.Now()})
		require.NoError(t, err)
	}
	_, err = d.Sync(ctx)
	var apiErr *client.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, http.StatusRequestEntityTooLarge, apiErr.Status)
	assert.Len(t, mustQueue(t, d), 3, "ordinary mutations stay queued")
}

// TestAccessTokenAfterReopenUsesRefreshToken pins the token an app uses for
// uploads outside the sync protocol: after the app restarts, it comes from
// the stored refresh token, not a new sign-in, and it authorizes requests.
func TestAccessTokenAfterReopenUsesRefreshToken(t *testing.T) {
	e := newEnv(t)
	e.complaint("field")
	path := filepath.Join(t.TempDir(), "device.db")
	tp := newTap(e.ts.Client().Transport)
	d := e.deviceAt(path, "field", tapped(tp))
	_, err := d.Sync(ctx)
	require.NoError(t, err)
	require.NoError(t, d.Close())

	d = e.deviceAt(path, "field", tapped(tp))
	token, err := d.AccessToken(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, tp.count("/v1/auth/login"), "no second sign-in")
	assert.Equal(t, 1, tp.count("/v1/auth/refresh"))
	again, err := d.AccessToken(ctx)
	require.NoError(t, err)
	assert.Equal(t, token, again, "kept in memory")

	req, err := http.NewRequest(http.MethodGet, e.ts.URL+"/v1/me", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := e.ts.Client().Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
}
