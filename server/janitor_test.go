package server_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/favad/favad/server"
)

// sweepOnce runs the upload janitor until its first sweep is done.
func sweepOnce(srv *server.Server, maxAge time.Duration) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { srv.RunUploadJanitor(ctx, maxAge, time.Hour); close(done) }()
	time.Sleep(50 * time.Millisecond) // the first sweep runs at once
	cancel()
	<-done
}

// TestStaleUploadsAreRemoved: an incomplete upload idle longer than the
// configured age is removed; a fresh one stays.
func TestStaleUploadsAreRemoved(t *testing.T) {
	e := newEvidenceEnv(t)
	complaint := e.assignedComplaint("CALL-JAN-1")
	field := e.login("field", "android-field-jan").AccessToken
	photo := noiseJPEG(t, 64, 64, 3)
	id, sum := v7(), hexSHA256(photo)
	e.pushEvidence(field, 1, id, complaint, int64(len(photo)), sum, "image/jpeg")
	r := e.tusCreate(field, int64(len(photo)), evidenceMeta(id, sum, "image/jpeg"))
	require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
	r = e.tusPatch(field, r.header.Get("Location"), 0, photo[:100]) // half-done, then the phone goes away
	require.Equal(t, http.StatusNoContent, r.status, "%s", r.body)
	infos, _ := filepath.Glob(filepath.Join(e.uploadDir, "*.info"))
	require.Len(t, infos, 1)

	sweep := func(maxAge time.Duration) { sweepOnce(e.srv, maxAge) }
	sweep(time.Hour)
	infos, _ = filepath.Glob(filepath.Join(e.uploadDir, "*.info"))
	assert.Len(t, infos, 1, "a fresh incomplete upload is kept: the phone may resume it")

	old := time.Now().Add(-3 * time.Hour)
	for _, f := range []string{infos[0], infos[0][:len(infos[0])-len(".info")]} {
		require.NoError(t, os.Chtimes(f, old, old))
	}
	sweep(time.Hour)
	left, _ := os.ReadDir(e.uploadDir)
	assert.Empty(t, left, "a stale incomplete upload is removed")
}

// TestMediaMissingAfterThreshold: a record whose bytes never came shows as
// media missing to dispatch once the threshold passes.
func TestMediaMissingAfterThreshold(t *testing.T) {
	e := newEvidenceEnv(t)
	complaint := e.assignedComplaint("CALL-MISS-1")
	field := e.login("field", "android-field-miss").AccessToken
	id := v7()
	e.pushEvidence(field, 1, id, complaint, 1234, hexSHA256([]byte("never uploaded")), "image/jpeg")
	ev, status := e.evidence(e.token("dispatcher"), id)
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, "awaiting_upload", ev.Status)
	assert.False(t, ev.MediaMissing)
	e.clock.Advance(25 * time.Hour)
	ev, _ = e.evidence(e.token("dispatcher"), id)
	assert.True(t, ev.MediaMissing)

	r := e.do(newCall("GET", "/v1/complaints/"+complaint+"/evidence", e.token("dispatcher"), nil))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	assert.Contains(t, string(r.body), `"media_missing":true`)
}

// TestAbandonedBytesArePruned: bytes uploaded for a record that never came
// are removed after the retention; bytes a record holds stay.
func TestAbandonedBytesArePruned(t *testing.T) {
	e := newEvidenceEnv(t)
	complaint := e.assignedComplaint("CALL-JAN-2")
	field := e.login("field", "android-field-jan2").AccessToken

	orphan := noiseJPEG(t, 48, 48, 5)
	r := e.tusUpload(field, orphan, evidenceMeta(v7(), hexSHA256(orphan), "image/jpeg")) // the record never comes
	require.Equal(t, http.StatusNoContent, r.status, "%s", r.body)
	kept := noiseJPEG(t, 48, 48, 6)
	id := v7()
	e.pushEvidence(field, 1, id, complaint, int64(len(kept)), hexSHA256(kept), "image/jpeg")
	r = e.tusUpload(field, kept, evidenceMeta(id, hexSHA256(kept), "image/jpeg"))
	require.Equal(t, http.StatusNoContent, r.status, "%s", r.body)
	require.True(t, e.blobStored(hexSHA256(orphan)))

	sweep := func() { sweepOnce(e.srv, time.Hour) }
	sweep()
	assert.True(t, e.blobStored(hexSHA256(orphan)), "bytes may wait for their record a while")
	e.clock.Advance(31 * 24 * time.Hour)
	sweep()
	assert.False(t, e.blobStored(hexSHA256(orphan)), "abandoned bytes are removed")
	assert.True(t, e.blobStored(hexSHA256(kept)), "a record's bytes stay")
}

// TestUnclaimedUploadRetentionIsConfigurable: --unclaimed-upload-retention
// sets how long bytes wait for their record.
func TestUnclaimedUploadRetentionIsConfigurable(t *testing.T) {
	e := newEvidenceEnv(t, func(c *server.Config) { c.UnclaimedUploadRetention = 2 * time.Hour })
	field := e.login("field", "android-field-ret").AccessToken
	orphan := noiseJPEG(t, 48, 48, 7)
	r := e.tusUpload(field, orphan, evidenceMeta(v7(), hexSHA256(orphan), "image/jpeg"))
	require.Equal(t, http.StatusNoContent, r.status, "%s", r.body)
	sweep := func() { sweepOnce(e.srv, time.Hour) }
	e.clock.Advance(time.Hour)
	sweep()
	assert.True(t, e.blobStored(hexSHA256(orphan)))
	e.clock.Advance(90 * time.Minute)
	sweep()
	assert.False(t, e.blobStored(hexSHA256(orphan)), "gone after the configured 2h")
}

// TestFinishedUploadsAnswerHEADUntilTheyExpire: a finished upload answers
// HEAD with its whole length (a phone that lost the final answer finishes
// from it) until it has been idle as long as an unfinished upload may be;
// then it is gone like one.
func TestFinishedUploadsAnswerHEADUntilTheyExpire(t *testing.T) {
	e := newEvidenceEnv(t)
	complaint := e.assignedComplaint("CALL-JAN-2")
	field := e.login("field", "android-field-jan2").AccessToken
	photo := noiseJPEG(t, 64, 64, 4)
	id, sum, size := v7(), hexSHA256(photo), strconv.Itoa(len(photo))
	e.pushEvidence(field, 1, id, complaint, int64(len(photo)), sum, "image/jpeg")
	r := e.tusCreate(field, int64(len(photo)), evidenceMeta(id, sum, "image/jpeg"))
	require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
	loc := strings.TrimPrefix(r.header.Get("Location"), e.ts.URL)
	require.Equal(t, http.StatusNoContent, e.tusPatch(field, loc, 0, photo).status)
	head := func() reply {
		return e.api(call{method: "HEAD", path: loc, token: field, header: http.Header{"Tus-Resumable": {"1.0.0"}}})
	}

	sweepOnce(e.srv, time.Hour)
	h := head()
	require.Equal(t, http.StatusOK, h.status)
	assert.Equal(t, size, h.header.Get("Upload-Offset"))
	assert.Equal(t, size, h.header.Get("Upload-Length"))
	assert.Equal(t, "stored", h.header.Get("Favad-Evidence-Status"))

	marks, _ := filepath.Glob(filepath.Join(e.uploadDir, "*.done"))
	require.Len(t, marks, 1)
	old := time.Now().Add(-3 * time.Hour)
	require.NoError(t, os.Chtimes(marks[0], old, old))
	sweepOnce(e.srv, time.Hour)
	assert.Equal(t, http.StatusNotFound, head().status, "expired like an unfinished upload")
	left, _ := os.ReadDir(e.uploadDir)
	assert.Empty(t, left)
}
