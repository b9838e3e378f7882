package flaky_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	stdsync "sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/favad/favad/inspector"
	"github.com/favad/favad/internal/e2ekit"
	"github.com/favad/favad/internal/testseed"
	"github.com/favad/favad/sync/blob"
	"github.com/favad/favad/sync/client"
)

const (
	photosPerVisit = 3
	// chunkSize is the tus client's chunk: a PATCH carries at most this
	// much, as a phone's app would set it on a mobile network.
	chunkSize = 64 << 10
)

// usage is what one shift cost the device on the wire, through the proxies.
type usage struct {
	visits                           int
	syncUp, syncDown, tusUp, tusDown int64 // bytes sent and received
	payload                          int64 // the mutations as queued (JSON) and the photos' bytes
	photos                           int64
	syncCuts, tusCuts                int64 // connections the profile cut
	syncFailures                     int   // Syncs that failed and were retried
	replayed                         int   // answers to mutations the server already held (a resend after a lost answer)
}

func (u usage) device() int64 { return u.syncUp + u.syncDown + u.tusUp + u.tusDown }

// perVisit is n per visit.
func (u usage) perVisit(n int64) float64 { return float64(n) / float64(u.visits) }

// TestShiftOnFlakyNetworks runs an inspector's shift (sign in, pull the
// assignments, then per visit: check in, a finding, three photos over tus,
// the outcome, check out) through toxiproxy, first on a clean link for a
// baseline and then on EDGE, 3G and a link that cuts its connections. Each
// shift must end with every mutation applied exactly once and every photo
// stored with its hash; on the cutting link, each cut may cost at most one
// chunk of re-sent upload bytes. The device's data use per visit is logged
// as a ratio of the payload (docs/benchmarks.md, "Flaky networks").
func TestShiftOnFlakyNetworks(t *testing.T) {
	tus := findTusClient(t)
	base := runShift(t, baseline, tus) // not a subtest: every -run of a profile needs it
	var mu stdsync.Mutex
	results := map[string]usage{}
	t.Run("profiles", func(t *testing.T) {
		for _, p := range []profile{edge, threeG, cuts} {
			t.Run(p.name, func(t *testing.T) {
				t.Parallel()
				u := runShift(t, p, tus)
				mu.Lock() // read after the group ends
				results[p.name] = u
				mu.Unlock()
				if p.loseAnswers > 0 {
					assert.Positive(t, u.replayed, "a lost push answer was answered again as a replay, not applied twice")
				}
				if p.cutUp == 0 || tus == nil {
					return
				}
				require.Positive(t, u.tusCuts, "the profile cut no upload: the test would prove nothing")
				resent := u.perVisit(u.tusUp) - base.perVisit(base.tusUp)
				perCut := resent * float64(u.visits) / float64(u.tusCuts)
				t.Logf("%s: %d upload cuts, %.0f bytes re-sent per cut (chunk %d)", p.name, u.tusCuts, perCut, chunkSize)
				assert.Less(t, perCut, float64(chunkSize), "a cut costs less than one chunk of re-sent bytes")
			})
		}
	})
	for _, name := range []string{"baseline", edge.name, threeG.name, cuts.name} {
		u, ok := results[name]
		if name == "baseline" {
			u, ok = base, true
		}
		if !ok {
			continue
		}
		t.Logf("%-8s per visit: device sent %5.1f KB and received %5.1f KB for %5.1f KB of payload: ×%.3f of the payload, ×%.3f of the baseline "+
			"(sync %.1f KB, ×%.2f of its mutations; uploads %.1f KB, ×%.3f of the photos); cuts %d sync + %d upload, failed syncs %d, replayed answers %d",
			name, u.perVisit(u.syncUp+u.tusUp)/1024, u.perVisit(u.syncDown+u.tusDown)/1024, u.perVisit(u.payload)/1024,
			float64(u.device())/float64(u.payload), u.perVisit(u.device())/base.perVisit(base.device()),
			u.perVisit(u.syncUp+u.syncDown)/1024, float64(u.syncUp+u.syncDown)/float64(u.payload-u.photos),
			u.perVisit(u.tusUp+u.tusDown)/1024, float64(u.tusUp+u.tusDown)/float64(max(u.photos, 1)),
			u.syncCuts, u.tusCuts, u.syncFailures, u.replayed)
	}
}

// runShift runs one shift on profile p and checks that nothing was lost.
func runShift(t *testing.T, p profile, tus *tusClient) usage {
	visits := p.visits
	if testing.Short() {
		visits = p.shortVisits
	}
	srv := e2ekit.Start(t, e2ekit.Options{})
	offices := make([]inspector.Office, visits)
	for i := range offices {
		offices[i] = inspector.Office{Code: fmt.Sprintf("QZ-SSO-%02d", i+1), AgencyCode: "SSO", NameFa: fmt.Sprintf("شعبه %d تامین اجتماعی قزوین", i+1),
			Province: testseed.Province, City: "قزوین", Location: &inspector.Location{Lat: 36.279, Lng: 50.004}}
	}
	srv.Seed([]inspector.Agency{{Code: "SSO", NameFa: "سازمان تامین اجتماعی"}}, offices)
	disp := srv.Token("dispatcher")
	complaints := make([]string, visits)
	for i := range complaints {
		var c struct{ ID string }
		srv.API("POST", "/v1/complaints", disp, map[string]any{"call_id": fmt.Sprintf("CALL-FLAKY-%d", i+1), "category": "absent_employee",
			"description": "کارمند باجه در محل نیست و مراجعان منتظرند", "call_time": time.Now().Add(-20 * time.Minute).Format(time.RFC3339),
			"caller": map[string]string{"name": "فاطمه ذوالفقاری", "phone": "09127654321"}, "office_code": offices[i].Code, "priority": "urgent"}, &c)
		srv.API("POST", "/v1/complaints/"+c.ID+"/assign", disp, map[string]string{"inspector_id": srv.Users["field"].ID, "mode": "field"}, nil)
		complaints[i] = c.ID
	}

	api := newToxiproxy()
	upstream := hostPort(t, srv.TS.URL)
	// A push answer is the one body that opens with its results.
	syncLink := startLink(t, api, "sync", upstream, p, linkCuts{up: p.syncCutUp, down: p.syncCutDown, drop: `{"results":[`, dropTimes: p.loseAnswers})
	tusLink := startLink(t, api, "tus", upstream, p, linkCuts{up: p.cutUp, down: p.cutDown})
	dev, err := client.Open(filepath.Join(t.TempDir(), "phone.db"), client.Config{BaseURL: syncLink.URL(), Username: "field",
		Password: testseed.Password, AppVersion: "flaky-1.0", DeviceID: "phone-field", HTTPClient: &http.Client{Timeout: 30 * time.Second}})
	require.NoError(t, err)
	t.Cleanup(func() { dev.Close() })

	u := usage{visits: visits}
	var sent []string // the mutations the device made
	photos := map[string][]byte{}
	queued := func(id string, _ uint64, err error) {
		t.Helper()
		require.NoError(t, err)
		sent = append(sent, id)
	}
	sync := func() {
		t.Helper()
		q, err := dev.Queue()
		require.NoError(t, err)
		for _, m := range q {
			b, err := json.Marshal(m)
			require.NoError(t, err)
			u.payload += int64(len(b))
		}
		failures, replayed := syncUntilDone(t, dev)
		u.syncFailures += failures
		u.replayed += replayed
	}

	// Sign in and pull the day's assignments.
	sync()
	for _, id := range complaints {
		_, ok, err := dev.Record(client.RecordComplaint, id)
		require.NoError(t, err)
		require.True(t, ok, "the device pulled complaint %s", id)
	}
	uploadToken := srv.Token("field") // the Go client keeps its token to itself: the photos go with a session of their own
	for v, complaintID := range complaints {
		visitID := client.NewID()
		geo := client.Geo{DeviceTime: time.Now(), Lat: 36.2791, Lng: 50.0041, AccuracyM: 6}
		queued(dev.CheckIn(visitID, offices[v].Code, []string{complaintID}, geo))
		queued(dev.RecordFinding(client.NewID(), client.Finding{VisitID: visitID, ComplaintID: complaintID, StaffExpected: 10, StaffPresent: 7,
			Absentees:      []client.Absentee{{Name: "کارمند یک", Reason: "leave"}, {Name: "کارمند دو", Reason: "unexcused"}},
			ClientsWaiting: 25, DesksOpen: 2, ObservedAt: time.Now()}))
		var evidence []string
		for k := range photosPerVisit {
			photo := photoJPEG(t, v*photosPerVisit+k)
			id := client.NewID()
			photos[id] = photo
			evidence = append(evidence, id)
			queued(dev.Enqueue("evidence.create", id, 0, map[string]any{"complaint_id": complaintID, "visit_id": visitID, "kind": "photo",
				"content_type": "image/jpeg", "size": len(photo), "sha256": sha256Hex(photo), "captured_at": time.Now().UTC().Format(time.RFC3339)}))
		}
		sync()
		if tus != nil {
			for _, id := range evidence {
				file := filepath.Join(t.TempDir(), id+".jpg")
				require.NoError(t, os.WriteFile(file, photos[id], 0o600))
				out := tus.upload(t, tusRun{Endpoint: tusLink.URL() + "/v1/uploads", File: file, Token: uploadToken, ChunkSize: chunkSize,
					Metadata:    map[string]string{"evidence_id": id, "sha256": sha256Hex(photos[id]), "filetype": "image/jpeg"},
					RetryDelays: []int{0, 100, 250, 500, 500, 500, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000}})
				require.True(t, out.OK, "photo %s: %+v", id, out)
				u.payload += int64(len(photos[id]))
				u.photos += int64(len(photos[id]))
			}
		}
		queued(dev.RecordOutcome(complaintID, client.OutcomeSubstantiated, "دو نفر غایب بودند"))
		queued(dev.CheckOut(visitID, client.Geo{DeviceTime: time.Now(), Lat: 36.2791, Lng: 50.0041, AccuracyM: 6}, "پایان بازدید"))
		sync()
	}

	// Nothing lost: the device's queue is empty and every mutation it made
	// is in its ledger as applied.
	q, err := dev.Queue()
	require.NoError(t, err)
	require.Empty(t, q, "the device sent everything")
	for _, id := range sent {
		e, ok, err := dev.LedgerEntry(id)
		require.NoError(t, err)
		require.True(t, ok, "mutation %s was acknowledged", id)
		assert.Contains(t, []string{client.StatusApplied, client.StatusMerged}, e.Result.Status, "%s %s: %+v", e.Mutation.Kind, id, e.Result)
	}
	// Applied exactly once: each mutation wrote one change to the log.
	changes, err := srv.Store.Changes(0, 1_000_000)
	require.NoError(t, err)
	writes := map[string]int{}
	for _, c := range changes {
		if m := c.Data["mutation"]; m != "" {
			writes[m]++
		}
	}
	for _, id := range sent {
		assert.Equal(t, 1, writes[id], "mutation %s is in the change log once", id)
	}
	assert.Len(t, writes, len(sent), "the log holds no mutation the device did not make")
	for _, complaintID := range complaints {
		fw, err := srv.Store.ComplaintFieldWork(complaintID)
		require.NoError(t, err)
		require.Len(t, fw.Visits, 1, "one visit")
		assert.NotNil(t, fw.Visits[0].CheckOut, "checked out")
		assert.Len(t, fw.Findings, 1, "one finding")
		c, err := srv.Store.Complaint(complaintID)
		require.NoError(t, err)
		assert.NotNil(t, c.Outcome, "the outcome arrived")
	}
	// Every photo stored, with the bytes the phone took.
	if tus != nil {
		for id, photo := range photos {
			ev, err := srv.Store.Evidence(id)
			require.NoError(t, err)
			assert.Equal(t, inspector.EvidenceStored, ev.Status, "photo %s", id)
			assert.Equal(t, sha256Hex(photo), ev.SHA256)
			r := srv.Do("GET", "/v1/evidence/"+id+"/content", disp, nil)
			require.Equal(t, http.StatusOK, r.Status)
			assert.Equal(t, sha256Hex(photo), sha256Hex(r.Body), "photo %s is stored with its bytes", id)
		}
	}
	rep, err := srv.Store.Verify(&blob.FS{Dir: filepath.Join(filepath.Dir(srv.Store.Path()), "blobs")})
	require.NoError(t, err)
	assert.Empty(t, rep.Problems, "the store verifies")

	u.syncUp, u.syncDown = syncLink.up.bytes.Load(), syncLink.down.bytes.Load()
	u.tusUp, u.tusDown = tusLink.up.bytes.Load(), tusLink.down.bytes.Load()
	u.syncCuts = syncLink.up.cuts.Load() + syncLink.down.cuts.Load()
	u.tusCuts = tusLink.up.cuts.Load() + tusLink.down.cuts.Load()
	return u
}

// syncUntilDone syncs until a Sync succeeds, as a phone retries on a bad
// network, and returns how many failed first and how many answers, over
// all tries, were replays. A refusal the device cannot cure by retrying
// fails the test.
func syncUntilDone(t *testing.T, dev *client.Client) (failures, replayed int) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for ; ; failures++ {
		rep, err := dev.Sync(context.Background())
		replayed += rep.Replayed
		if err == nil {
			require.Zero(t, rep.Rejected, "%+v", rep.Results)
			return failures, replayed
		}
		var apiErr *client.APIError
		if errors.As(err, &apiErr) && apiErr.Status < 500 && apiErr.Status != http.StatusTooManyRequests {
			require.NoError(t, err, "a refusal, not the network")
		}
		require.True(t, time.Now().Before(deadline), "sync still failing after %d tries: %v", failures+1, err)
		time.Sleep(min(time.Duration(failures+1)*50*time.Millisecond, time.Second))
	}
}

// photoJPEG is the n-th photo of the shift: a real JPEG of about 115 KB,
// the same bytes in every run.
func photoJPEG(t *testing.T, n int) []byte {
	t.Helper()
	rng := rand.New(rand.NewPCG(uint64(n), 128))
	img := image.NewRGBA(image.Rect(0, 0, 480, 360))
	for y := range 360 {
		for x := range 480 {
			img.Set(x, y, color.RGBA{uint8(rng.IntN(256)), uint8(x), uint8(y), 255})
		}
	}
	var b bytes.Buffer
	require.NoError(t, jpeg.Encode(&b, img, &jpeg.Options{Quality: 90}))
	return b.Bytes()
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
