package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	apispec "github.com/favad/favad/api-spec"
	"github.com/favad/favad/inspector"
	"github.com/favad/favad/internal/testkit"
	"github.com/favad/favad/internal/testseed"
	"github.com/favad/favad/server/auth"
	favsync "github.com/favad/favad/sync"
	"github.com/favad/favad/sync/blob"
)

// The fuzz targets' world: a real store whose ids are predictable, so that
// committed seeds can name its records.

// fuzzEpoch is the fuzzed store's clock: the seeds' device times are near it.
var fuzzEpoch = time.Date(2026, 11, 28, 6, 0, 0, 0, time.UTC)

// Ids the fuzzed store holds (see newFuzzStore): two complaints assigned to
// the field inspector, a visit to the first, and an evidence record
// announced for it whose bytes are not uploaded.
const (
	fuzzComplaint1 = "0193c000-0000-7000-8000-000000000008"
	fuzzComplaint2 = "0193c000-0000-7000-8000-000000000009"
	fuzzVisit      = "0193d000-0000-7000-8000-0000000000e1"
	fuzzEvidence   = "0193d000-0000-7000-8000-0000000000e2"
)

// fuzzEvidenceSHA is the SHA-256 announced for fuzzEvidence.
var fuzzEvidenceSHA = fmt.Sprintf("%064x", 1)

// fuzzID makes the store's ids predictable (UUIDv7-shaped, counting from
// 1): 0193c000-0000-7000-8000-000000000001 is the first id the store hands out.
func fuzzID() func() string {
	n := 0
	return func() string {
		n++
		return fmt.Sprintf("0193c000-0000-7000-8000-%012d", n)
	}
}

// fuzzDir is a temporary directory for a fuzzed store: in memory (/dev/shm)
// where there is one, since every write waits for an fsync.
func fuzzDir(f *testing.F) string {
	f.Helper()
	dir, err := os.MkdirTemp("/dev/shm", "favad-fuzz-")
	if err != nil {
		return f.TempDir()
	}
	f.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

type fuzzStore struct {
	dir   string
	clock *testkit.Clock
	store *favsync.Store
	blobs *blob.FS
	users map[string]inspector.User
}

// newFuzzStore opens the fuzz targets' store: an office, the seeded
// accounts, fuzzComplaint1 and fuzzComplaint2 assigned to "field", and on
// the device "fuzz-setup" a check-in (fuzzVisit) and an evidence.create
// (fuzzEvidence).
func newFuzzStore(f *testing.F) *fuzzStore {
	f.Helper()
	dir := fuzzDir(f)
	clock := testkit.NewClock(fuzzEpoch)
	store, err := favsync.Open(filepath.Join(dir, "favad.db"), favsync.Options{Now: clock.Now, NewID: fuzzID()})
	require.NoError(f, err)
	f.Cleanup(func() { store.Close() })
	_, _, err = store.PutAgency(favsync.System, inspector.Agency{Code: "SSO", NameFa: "سازمان تامین اجتماعی"})
	require.NoError(f, err)
	_, _, err = store.PutOffice(favsync.System, inspector.Office{Code: testseed.OfficeCode, AgencyCode: "SSO", NameFa: "شعبه یک",
		Province: testseed.Province, City: "قزوین", Hours: inspector.WorkingHours{Opens: "07:30", Closes: "14:30", Days: []string{"sat", "sun"}}})
	require.NoError(f, err)
	users := testseed.Users(f, store)
	field := users["field"]
	for i, want := range []string{fuzzComplaint1, fuzzComplaint2} {
		c, _, err := store.CreateComplaint(favsync.System, inspector.NewComplaint{CallID: fmt.Sprintf("CALL-FUZZ-%d", i),
			Category: inspector.CategoryAbsentEmployee, Description: "کارمند باجه در محل نیست", CallTime: fuzzEpoch.Add(-time.Hour),
			Caller: inspector.Caller{Name: "مریم احمدی", Phone: "09121234567"}, OfficeCode: testseed.OfficeCode, Priority: inspector.PriorityNormal})
		require.NoError(f, err)
		require.Equal(f, want, c.ID, "the seeds name the complaints by these ids")
		_, err = store.Assign(favsync.System, c.ID, inspector.Routing{InspectorID: field.ID, Mode: inspector.ModeField})
		require.NoError(f, err)
	}
	raw := func(v any) json.RawMessage { b, _ := json.Marshal(v); return b }
	at := fuzzEpoch.Add(time.Minute)
	results, _, err := store.Push(field, "fuzz-setup", []favsync.Mutation{
		{ID: "0193d001-0000-7000-8000-0000000000e1", DeviceSeq: 1, Kind: favsync.MutVisitUpsert, RecordID: fuzzVisit, DeviceTime: at,
			Payload: raw(map[string]any{"office_code": testseed.OfficeCode, "complaint_ids": []string{fuzzComplaint1},
				"check_in": map[string]any{"device_time": at, "lat": 36.2791, "lng": 50.0041, "accuracy_m": 6}})},
		{ID: "0193d001-0000-7000-8000-0000000000e2", DeviceSeq: 2, Kind: favsync.MutEvidenceCreate, RecordID: fuzzEvidence, DeviceTime: at,
			Payload: raw(map[string]any{"complaint_id": fuzzComplaint1, "visit_id": fuzzVisit, "kind": "photo", "content_type": "image/jpeg",
				"size": 1234, "sha256": fuzzEvidenceSHA, "captured_at": at})},
	})
	require.NoError(f, err)
	for _, r := range results {
		require.Equal(f, favsync.StatusApplied, r.Status, "%+v", r)
	}
	return &fuzzStore{dir: dir, clock: clock, store: store, blobs: &blob.FS{Dir: filepath.Join(dir, "blobs")}, users: users}
}

// newFuzzServer is a Server on a fuzz store, called in process (no sockets),
// and the field inspector's access token.
func newFuzzServer(f *testing.F) (*fuzzStore, *Server, string) {
	f.Helper()
	fz := newFuzzStore(f)
	srv, err := New(Config{Store: fz.store, Keys: auth.NewKeySet(), Spec: apispec.YAML, Now: fz.clock.Now, Blobs: fz.blobs,
		UploadDir: filepath.Join(fz.dir, "uploads"), Logger: slog.New(slog.DiscardHandler), LoginPerAccount: 1000, LoginPerAddress: 1000})
	require.NoError(f, err)
	body, _ := json.Marshal(map[string]string{"username": "field", "password": testseed.Password, "device_id": "fuzz-phone"})
	req := httptest.NewRequest(http.MethodPost, "/v1/auth/login", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, req)
	require.Equal(f, http.StatusOK, rec.Code, "%s", rec.Body)
	var tk struct {
		AccessToken string `json:"access_token"`
	}
	require.NoError(f, json.Unmarshal(rec.Body.Bytes(), &tk))
	return fz, srv, tk.AccessToken
}

// requireProblem fails unless rec is a problem document with a code, and
// not a server error.
func requireProblem(t *testing.T, rec *httptest.ResponseRecorder) Problem {
	t.Helper()
	if rec.Code >= 500 {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	var p Problem
	body, _ := io.ReadAll(rec.Body)
	if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("status %d answered as %q, not a problem document: %s", rec.Code, ct, body)
	}
	if err := json.Unmarshal(body, &p); err != nil || p.Code == "" || p.Status != rec.Code {
		t.Fatalf("status %d: not a problem with a code and the status (%v): %s", rec.Code, err, body)
	}
	return p
}
