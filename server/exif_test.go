package server_test

import (
	"bytes"
	"context"
	"image"
	"image/jpeg"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/favad/favad/media"
	"github.com/favad/favad/server"
)

// TestPhotoEXIFIsReadAndFlagged uploads a real JPEG whose EXIF (written with
// exiftool) says it was taken far from the office and an hour before the
// visit's check-in: the evidence is stored with the EXIF beside the device's
// claims, and flagged — not dropped.
func TestPhotoEXIFIsReadAndFlagged(t *testing.T) {
	if _, err := exec.LookPath("exiftool"); err != nil {
		if os.Getenv("FAVAD_REQUIRE_EXIFTOOL") != "" {
			t.Fatal("exiftool is required (Debian: libimage-exiftool-perl)")
		}
		t.Skip("exiftool not installed (Debian: libimage-exiftool-perl)")
	}
	e := newEvidenceEnv(t, func(c *server.Config) { c.ReadPhotoMeta = media.ReadPhotoMetaAt })
	complaint := e.assignedComplaint("CALL-EXIF-1")
	field := e.login("field", "android-field-exif").AccessToken

	// The visit: checked in at the office now.
	now := e.clock.Now()
	visit := v7()
	res := e.push(field, mutation(1, "visit.upsert", visit, 0, map[string]any{"office_code": "QZ-SSO-01", "complaint_ids": []string{complaint},
		"check_in": map[string]any{"device_time": now.Format(time.RFC3339), "lat": 36.279, "lng": 50.004, "accuracy_m": 8}}, now))
	require.Equal(t, "applied", res.Results[0].Status)

	photo := writeTemp(t, "photo.jpg", noiseJPEG(t, 320, 240, 7))
	taken := now.Add(-2 * time.Hour).In(time.FixedZone("IRST", 3*3600+1800))
	out, err := exec.Command("exiftool", "-overwrite_original", "-DateTimeOriginal="+taken.Format("2006:01:02 15:04:05"),
		"-OffsetTimeOriginal=+03:30", "-GPSLatitude=35.6892", "-GPSLatitudeRef=N", "-GPSLongitude=51.3890", "-GPSLongitudeRef=E",
		"-Make=Samsung", "-Model=SM-A515F", photo).CombinedOutput()
	require.NoError(t, err, "%s", out)
	b, err := os.ReadFile(photo)
	require.NoError(t, err)

	id, sum := v7(), hexSHA256(b)
	m := mutation(2, "evidence.create", id, 0, map[string]any{"complaint_id": complaint, "visit_id": visit, "kind": "photo",
		"content_type": "image/jpeg", "size": len(b), "sha256": sum, "captured_at": now.Format(time.RFC3339),
		"location": map[string]float64{"lat": 36.2791, "lng": 50.0041}}, now)
	res = e.push(field, m)
	require.Equal(t, "applied", res.Results[0].Status, "%+v", res.Results[0])

	r := e.tusUpload(field, b, evidenceMeta(id, sum, "image/jpeg"))
	require.Equal(t, http.StatusNoContent, r.status, "%s", r.body)
	assert.Equal(t, "stored", r.header.Get("Favad-Evidence-Status"))

	var ev struct {
		Status   string   `json:"status"`
		Flags    []string `json:"flags"`
		Location struct{ Lat, Lng float64 }
		Photo    struct {
			CapturedAt time.Time `json:"captured_at"`
			Lat, Lng   float64
			Make       string
			Model      string
		} `json:"photo"`
	}
	r = e.do(newCall("GET", "/v1/evidence/"+id, e.token("dispatcher"), nil))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	r.json(t, &ev)
	assert.Equal(t, "stored", ev.Status)
	assert.Equal(t, "Samsung", ev.Photo.Make)
	assert.Equal(t, "SM-A515F", ev.Photo.Model)
	assert.InDelta(t, 35.6892, ev.Photo.Lat, 1e-4, "EXIF position (Tehran) is kept beside the device's claim")
	assert.InDelta(t, 36.2791, ev.Location.Lat, 1e-6, "the device's claim is kept too")
	assert.WithinDuration(t, taken, ev.Photo.CapturedAt, time.Second)
	assert.Contains(t, ev.Flags, "captured_outside_visit")
	assert.Contains(t, ev.Flags, "far_from_office")
}

// TestEvidenceThumbnailDownload: the worker's thumbnail is served with the
// record's authorization, ranges and its own ETag; before it exists the
// route answers 404.
func TestEvidenceThumbnailDownload(t *testing.T) {
	var th *media.Thumbnailer
	e := newEvidenceEnv(t, func(c *server.Config) {
		th = &media.Thumbnailer{Store: c.Store, Blobs: c.Blobs, Dir: filepath.Join(t.TempDir(), "thumbs"), Logger: c.Logger}
		c.Thumbnails = th
	})
	complaint := e.assignedComplaint("CALL-THUMB-1")
	field := e.login("field", "android-field-thumb").AccessToken
	photo := noiseJPEG(t, 640, 480, 9)
	sum, id := hexSHA256(photo), v7()
	e.pushEvidence(field, 1, id, complaint, int64(len(photo)), sum, "image/jpeg")
	r := e.tusUpload(field, photo, evidenceMeta(id, sum, "image/jpeg"))
	require.Equal(t, http.StatusNoContent, r.status, "%s", r.body)

	path := "/v1/evidence/" + id + "/thumbnail"
	r = e.api(call{method: "GET", path: path, token: field})
	require.Equal(t, http.StatusNotFound, r.status, "no thumbnail before the worker runs: %s", r.body)
	assert.Equal(t, "not_found", problemCode(t, r))

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { th.Run(ctx, 10*time.Millisecond); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	require.Eventually(t, func() bool {
		ev, _ := e.evidence(field, id)
		return ev.Thumbnail
	}, 10*time.Second, 10*time.Millisecond, "the worker makes the thumbnail")

	r = e.api(call{method: "GET", path: path, token: field})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	assert.Equal(t, "image/jpeg", r.header.Get("Content-Type"))
	assert.Equal(t, `"`+sum+`-thumb"`, r.header.Get("ETag"))
	img, err := jpeg.Decode(bytes.NewReader(r.body))
	require.NoError(t, err)
	assert.Equal(t, image.Rect(0, 0, 320, 240), img.Bounds(), "the longer side is 320 px")
	full := r.body

	r = e.api(call{method: "GET", path: path, token: e.token("dispatcher"), header: http.Header{"Range": {"bytes=0-9"}}})
	require.Equal(t, http.StatusPartialContent, r.status, "%s", r.body)
	assert.Equal(t, full[:10], r.body)
	r = e.api(call{method: "GET", path: path, token: field, header: http.Header{"If-None-Match": {`"` + sum + `-thumb"`}}})
	assert.Equal(t, http.StatusNotModified, r.status)
	r = e.api(call{method: "GET", path: path, token: e.token("field2")})
	assert.Equal(t, http.StatusNotFound, r.status, "another inspector does not learn it exists")

	// A node that never made it (a promoted standby: its thumbnail
	// directory starts empty) makes it again from the evidence when asked.
	cancel()
	<-done
	require.NoError(t, os.Remove(th.Path(sum)))
	r = e.api(call{method: "GET", path: path, token: e.token("dispatcher")})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	assert.Equal(t, full, r.body, "the same thumbnail, made again")
	assert.FileExists(t, th.Path(sum))

	// A thumbnail directory that cannot be written (here a file stands where
	// its shard's directory goes; a full disk is the same): the thumbnail is
	// shown all the same, made again at each request, not blamed on the
	// blob store.
	shard := filepath.Dir(th.Path(sum))
	require.NoError(t, os.RemoveAll(shard))
	require.NoError(t, os.WriteFile(shard, []byte("not a directory"), 0o600))
	for range 2 {
		r = e.api(call{method: "GET", path: path, token: e.token("dispatcher")})
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		assert.Equal(t, full, r.body, "the same thumbnail, made again")
	}
}
