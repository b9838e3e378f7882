package server_test

import (
	"errors"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/favad/favad/server"
	favsync "github.com/favad/favad/sync"
	"github.com/favad/favad/sync/blob"
)

// TestStorageFullAnswers507AndRecovers pins issue 11 item 24 through the
// store's write seam (a commit failing with ENOSPC): writes are refused with
// 507 storage_full (a problem document, no detail of the disk), reads keep
// working, a device's push is refused whole and succeeds when sent again,
// an upload's final chunk leaves the evidence awaiting its bytes (no
// half-stored record), and everything works again once space returns.
func TestStorageFullAnswers507AndRecovers(t *testing.T) {
	var full atomic.Bool
	dir := t.TempDir()
	e := newEnvIn(t, dir, favsync.Options{WriteFault: func() error {
		if full.Load() {
			return &os.PathError{Op: "write", Path: "/data/favad.db", Err: syscall.ENOSPC}
		}
		return nil
	}})
	ev := &evidenceEnv{env: e, blobDir: filepath.Join(dir, "blobs"), uploadDir: filepath.Join(dir, "uploads")}
	disp := e.token("dispatcher")
	complaintID := ev.assignedComplaint("CALL-FULL-HTTP-1")
	field := e.login("field", "android-full-01").AccessToken
	photo := noiseJPEG(t, 64, 64, 7)
	sum, evidenceID := hexSHA256(photo), v7()
	ev.pushEvidence(field, 1, evidenceID, complaintID, int64(len(photo)), sum, "image/jpeg")
	created := e.tusCreate(field, int64(len(photo)), evidenceMeta(evidenceID, sum, "image/jpeg"))
	require.Equal(t, http.StatusCreated, created.status, "%s", created.body)

	full.Store(true)
	r := e.do(newCall("POST", "/v1/complaints", disp, intake("CALL-FULL-HTTP-2", e.clock.Now())))
	require.Equal(t, http.StatusInsufficientStorage, r.status, "%s", r.body)
	p := r.problem(t)
	assert.Equal(t, "storage_full", string(p.Code))
	assert.NotContains(t, string(r.body), "favad.db", "no path reaches the client")
	assert.NotContains(t, string(r.body), "no space left")

	visit := v7()
	visitMut := mutation(2, "visit.upsert", visit, 0, map[string]any{"office_code": "QZ-SSO-01", "complaint_ids": []string{complaintID}}, e.clock.Now())
	r = e.do(call{method: "POST", path: "/v1/sync/push", token: field, header: syncHeaders, body: map[string]any{"mutations": []any{visitMut}}})
	require.Equal(t, http.StatusInsufficientStorage, r.status, "%s", r.body)

	// The final chunk arrives: the bytes are checked and kept, the record cannot be written.
	r = e.tusPatch(field, created.header.Get("Location"), 0, photo)
	require.Equal(t, http.StatusInsufficientStorage, r.status, "%s", r.body)
	assert.Equal(t, "storage_full", problemCode(t, r))

	// Reads work.
	r = e.do(newCall("GET", "/v1/complaints", disp, nil))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	got, status := ev.evidence(disp, evidenceID)
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, "awaiting_upload", got.Status, "no half-stored record")
	assert.Equal(t, http.StatusOK, e.do(newCall("GET", "/v1/complaints/"+complaintID+"/fieldwork", disp, nil)).status)

	// Space returns: the same requests succeed, without a restart.
	full.Store(false)
	r = e.do(newCall("POST", "/v1/complaints", disp, intake("CALL-FULL-HTTP-2", e.clock.Now())))
	require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
	res := e.push(field, visitMut)
	assert.Equal(t, "applied", res.Results[0].Status, "%+v", res.Results[0])
	r = e.tusUpload(field, photo, evidenceMeta(evidenceID, sum, "image/jpeg"))
	require.Equal(t, http.StatusNoContent, r.status, "%s", r.body)
	got, _ = ev.evidence(disp, evidenceID)
	assert.Equal(t, "stored", got.Status)
}

// TestStorageFullOnARealFullDisk fills a small tmpfs holding the whole data
// directory (store, uploads, blobs): writes get 507 storage_full, never a
// 500; reads work; an upload's chunk is refused and resumes from its offset
// once space returns; the store file is consistent and verifies clean.
// It needs root (mount); otherwise it skips.
func TestStorageFullOnARealFullDisk(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() { // after the server and store are closed (cleanups run last first)
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	var blobs *blob.FS
	e := newEnvIn(t, dir, favsync.Options{}, func(c *server.Config) { blobs = c.Blobs.(*blob.FS) })
	ev := &evidenceEnv{env: e, blobDir: filepath.Join(dir, "blobs"), uploadDir: filepath.Join(dir, "uploads")}
	disp := e.token("dispatcher")
	complaintID := ev.assignedComplaint("CALL-TMPFS-1")
	field := e.login("field", "android-tmpfs-01").AccessToken
	photo := noiseJPEG(t, 256, 256, 9) // about 130 KB
	sum, evidenceID := hexSHA256(photo), v7()
	ev.pushEvidence(field, 1, evidenceID, complaintID, int64(len(photo)), sum, "image/jpeg")
	created := e.tusCreate(field, int64(len(photo)), evidenceMeta(evidenceID, sum, "image/jpeg"))
	require.Equal(t, http.StatusCreated, created.status, "%s", created.body)
	loc := created.header.Get("Location")

	filler := fill(t, filepath.Join(dir, "filler"))

	// The upload's chunk cannot be kept.
	r := e.tusPatch(field, loc, 0, photo)
	require.Equal(t, http.StatusInsufficientStorage, r.status, "%s", r.body)
	assert.Equal(t, "storage_full", problemCode(t, r))

	// Writes: refused with 507 once bbolt needs a page it does not have (it
	// may first reuse pages it freed); never a 500.
	refused := 0
	for i := 0; i < 400 && refused == 0; i++ {
		body := intake("CALL-TMPFS-W"+strconv.Itoa(i), e.clock.Now())
		body["description"] = "کارمند باجه ۳ از ساعت ۹ در محل کار حاضر نیست و مراجعان در صف هستند " + strconv.Itoa(i)
		r := e.do(newCall("POST", "/v1/complaints", disp, body))
		switch r.status {
		case http.StatusCreated:
		case http.StatusInsufficientStorage:
			refused++
			assert.Equal(t, "storage_full", problemCode(t, r))
		default:
			t.Fatalf("a write on a full disk answered %d: %s", r.status, r.body)
		}
	}
	require.Equal(t, 1, refused, "a full disk refuses writes")
	r = e.do(newCall("GET", "/v1/complaints?limit=5", disp, nil))
	require.Equal(t, http.StatusOK, r.status, "reads work on a full disk: %s", r.body)
	got, status := ev.evidence(disp, evidenceID)
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, "awaiting_upload", got.Status)

	// Space returns.
	require.NoError(t, os.Remove(filler))
	r = e.do(newCall("POST", "/v1/complaints", disp, intake("CALL-TMPFS-AFTER", e.clock.Now())))
	require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
	head := e.unchecked(call{method: "HEAD", path: mustPath(t, loc), token: field, header: http.Header{"Tus-Resumable": {"1.0.0"}}})
	require.Equal(t, http.StatusOK, head.status)
	offset, err := strconv.ParseInt(head.header.Get("Upload-Offset"), 10, 64)
	require.NoError(t, err)
	r = e.tusPatch(field, loc, offset, photo[offset:])
	require.Equal(t, http.StatusNoContent, r.status, "%s", r.body)
	got, _ = ev.evidence(disp, evidenceID)
	assert.Equal(t, "stored", got.Status, "resumed from offset %d", offset)

	report, err := e.store.Verify(blobs)
	require.NoError(t, err)
	assert.Empty(t, report.Problems)
	path := e.store.Path()
	require.NoError(t, e.store.Close())
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	require.NoError(t, err)
	defer db.Close()
	require.NoError(t, db.View(func(tx *bolt.Tx) error {
		var errs []error
		for err := range tx.Check() {
			errs = append(errs, err)
		}
		return errors.Join(errs...)
	}), "the store file is consistent after the full disk")
}

// fill writes a file at path until the file system is full and returns its path.
func fill(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Create(path)
	require.NoError(t, err)
	defer f.Close()
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			require.ErrorIs(t, err, syscall.ENOSPC)
			return path
		}
	}
}

func mustPath(t *testing.T, location string) string {
	t.Helper()
	u, err := url.Parse(location)
	require.NoError(t, err)
	return u.Path
}
