package server_test

// Uploads in progress with the evidence in object storage: tusd's s3store
// keeps them in the bucket as multipart uploads, the server hashes them as
// they arrive with its state in the bucket, and a verified upload becomes a
// blob by a server-side copy. Against a real S3 server (SeaweedFS, see
// internal/s3test).

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"math/rand"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"strconv"
	"strings"
	stdsync "sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	tusd "github.com/tus/tusd/v2/pkg/handler"

	"github.com/favad/favad/internal/s3test"
	"github.com/favad/favad/server"
)

// s3Env is an evidence env whose blobs (and so uploads) are in a prefix of
// the test S3 server, with the server's configuration and log.
type s3Env struct {
	*evidenceEnv
	tg   s3test.Target
	cfg  server.Config
	logs *lockedBuffer
}

// newS3Env starts the env; with viaProxy, the server reaches S3 through a
// proxy that counts the bytes the server sends it.
func newS3Env(t *testing.T, viaProxy bool) (*s3Env, *countingProxy) {
	t.Helper()
	tg := s3test.New(t)
	var proxy *countingProxy
	serverTarget := tg
	if viaProxy {
		proxy = newCountingProxy(t, tg.Endpoint)
		serverTarget.Endpoint = proxy.ln.Addr().String()
	}
	blobs := newS3BlobsAt(t, serverTarget)
	logs := &lockedBuffer{}
	var cfg server.Config
	e := newEvidenceEnvOn(t, blobs, func(c *server.Config) { c.Logger = slog.New(slog.NewJSONHandler(logs, nil)) },
		func(c *server.Config) { cfg = *c })
	return &s3Env{evidenceEnv: e, tg: tg, cfg: cfg, logs: logs}, proxy
}

// countingProxy relays TCP to the S3 server and counts the bytes sent to it.
type countingProxy struct {
	relayProxy
	mu   stdsync.Mutex
	sent int64
}

func newCountingProxy(t *testing.T, target string) *countingProxy {
	t.Helper()
	p := &countingProxy{}
	p.start(t, target, func(client, upstream net.Conn) {
		defer client.Close()
		defer upstream.Close()
		go func() { _, _ = io.Copy(client, upstream); client.Close() }()
		_, _ = io.Copy(upstream, &countingReader{r: client, p: p})
	})
	return p
}

func (p *countingProxy) bytesSent() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.sent
}

type countingReader struct {
	r io.Reader
	p *countingProxy
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.p.mu.Lock()
	c.p.sent += int64(n)
	c.p.mu.Unlock()
	return n, err
}

// bigJPEG is a JPEG padded to size bytes with noise: it sniffs as a JPEG.
func bigJPEG(t *testing.T, size int, seed int64) []byte {
	t.Helper()
	b := noiseJPEG(t, 320, 240, seed)
	require.Less(t, len(b), size)
	pad := make([]byte, size-len(b))
	rand.New(rand.NewSource(seed)).Read(pad)
	return append(b, pad...)
}

// localFiles lists the local upload directory.
func (e *s3Env) localFiles() []string {
	e.t.Helper()
	entries, err := os.ReadDir(e.uploadDir)
	require.NoError(e.t, err)
	var names []string
	for _, d := range entries {
		names = append(names, d.Name())
	}
	return names
}

func (e *s3Env) head(token, loc string) reply {
	e.t.Helper()
	return e.api(call{method: "HEAD", path: strings.TrimPrefix(loc, e.ts.URL), token: token, header: http.Header{"Tus-Resumable": {"1.0.0"}}})
}

// blobObject reports whether the bucket holds sha256/<sum> under the prefix.
func (e *s3Env) blobObject(sum string) bool {
	_, err := e.tg.Client(e.t).StatObject(context.Background(), e.tg.Bucket, e.tg.Prefix+"/sha256/"+sum, minio.StatObjectOptions{})
	return err == nil
}

// TestS3UploadKeepsNoFileOnTheLocalDisk: a 12 MiB photo sent in three
// PATCHes goes into the bucket as a multipart upload: the local upload
// directory stays empty between chunks and after, HEAD answers the offset
// S3 holds, the bytes are hashed as they arrive, and the finished upload
// becomes sha256/<hash> by a server-side copy: the server sent S3 the
// photo's bytes as parts, not a second time as a whole file, and
// the upload's objects are gone but for the finished-upload marker.
func TestS3UploadKeepsNoFileOnTheLocalDisk(t *testing.T) {
	t.Parallel()
	e, proxy := newS3Env(t, true)
	complaint := e.assignedComplaint("CALL-S3-UP-1")
	field := e.login("field", "android-field-s3up1").AccessToken
	const size, chunk = 12 << 20, 4 << 20
	photo := bigJPEG(t, size, 51)
	sum, id := hexSHA256(photo), v7()
	e.pushEvidence(field, 1, id, complaint, size, sum, "image/jpeg")
	sentBefore := proxy.bytesSent()

	r := e.tusCreate(field, size, evidenceMeta(id, sum, "image/jpeg"))
	require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
	loc := r.header.Get("Location")
	upload := path.Base(loc)
	assert.Regexp(t, `^[0-9a-f]{32}$`, upload, "the upload's id says nothing of the multipart upload's")
	for off := int64(0); off < size-chunk; off += chunk {
		p := e.tusPatch(field, loc, off, photo[off:off+chunk])
		require.Equal(t, http.StatusNoContent, p.status, "%s", p.body)
		assert.Empty(t, e.localFiles(), "nothing of the upload stays on the local disk")
		objects, multipart := bucketUploads(t, e.tg)
		assert.Equal(t, []string{upload}, multipart, "a multipart upload in progress")
		assert.Contains(t, objects, upload+".info")
		assert.Contains(t, objects, upload+".sha256", "the hash state is kept in the bucket")
		h := e.head(field, loc)
		require.Equal(t, http.StatusOK, h.status)
		assert.Equal(t, strconv.FormatInt(off+chunk, 10), h.header.Get("Upload-Offset"), "HEAD answers what S3 holds")
	}
	p := e.tusPatch(field, loc, size-chunk, photo[size-chunk:])
	require.Equal(t, http.StatusNoContent, p.status, "%s", p.body)
	assert.Equal(t, "stored", p.header.Get("Favad-Evidence-Status"))
	assert.Equal(t, "arrival", storedLine(t, e.logs.String(), id)["hashed_from"])

	assert.Empty(t, e.localFiles())
	objects, multipart := bucketUploads(t, e.tg)
	assert.Empty(t, multipart)
	assert.Equal(t, []string{upload + ".done"}, objects, "the upload's object was copied, then removed; its marker stays")
	assert.True(t, e.blobObject(sum), "sha256/<hash> is in the bucket")
	sent := proxy.bytesSent() - sentBefore
	t.Logf("server sent S3 %d bytes for a %d-byte photo (%.2fx)", sent, size, float64(sent)/size)
	// The parts carry the photo once, and a chunk's tail shorter than a
	// part is stored as .part and sent again with the next chunk (here 4 +
	// 3 MiB of the 12): a PUT of the whole file on top would pass 2x.
	assert.GreaterOrEqual(t, sent, int64(size), "the parts went through the server")
	assert.Less(t, sent, int64(2*size), "but the blob was not PUT through it: a server-side copy")

	got := e.api(call{method: "GET", path: "/v1/evidence/" + id + "/content", token: field})
	require.Equal(t, http.StatusOK, got.status)
	assert.True(t, bytes.Equal(photo, got.body))
	h := e.head(field, loc)
	require.Equal(t, http.StatusOK, h.status)
	assert.Equal(t, strconv.Itoa(size), h.header.Get("Upload-Offset"), "HEAD shows it finished")
}

// TestS3UploadResumesOnAnotherServer: an upload begun on one server is
// resumed on another (a promoted standby: its own process, its own empty
// local directory, the same bucket): HEAD there answers the offset S3
// holds, and the rest finishes it, hashed from the state the first server
// left in the bucket.
func TestS3UploadResumesOnAnotherServer(t *testing.T) {
	t.Parallel()
	e, _ := newS3Env(t, false)
	complaint := e.assignedComplaint("CALL-S3-UP-2")
	field := e.login("field", "android-field-s3up2").AccessToken
	const size, first = 10 << 20, 7 << 20
	photo := bigJPEG(t, size, 52)
	sum, id := hexSHA256(photo), v7()
	e.pushEvidence(field, 1, id, complaint, size, sum, "image/jpeg")
	r := e.tusCreate(field, size, evidenceMeta(id, sum, "image/jpeg"))
	require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
	loc := r.header.Get("Location")
	require.Equal(t, http.StatusNoContent, e.tusPatch(field, loc, 0, photo[:first]).status)

	cfg2 := e.cfg
	cfg2.UploadDir = t.TempDir()
	cfg2.Blobs = newS3BlobsAt(t, e.tg)
	logs2 := &lockedBuffer{}
	cfg2.Logger = slog.New(slog.NewJSONHandler(logs2, nil))
	srv2, err := server.New(cfg2)
	require.NoError(t, err)
	ts2 := httptest.NewServer(srv2)
	t.Cleanup(ts2.Close)
	other := &env{t: t, store: e.store, ts: ts2, router: e.router, users: e.users, clock: e.clock}
	loc2 := ts2.URL + strings.TrimPrefix(loc, e.ts.URL)

	h := other.api(call{method: "HEAD", path: strings.TrimPrefix(loc2, ts2.URL), token: field, header: http.Header{"Tus-Resumable": {"1.0.0"}}})
	require.Equal(t, http.StatusOK, h.status)
	assert.Equal(t, strconv.Itoa(first), h.header.Get("Upload-Offset"), "the other server sees the offset in the bucket")
	p := other.tusPatch(field, loc2, first, photo[first:])
	require.Equal(t, http.StatusNoContent, p.status, "%s", p.body)
	assert.Equal(t, "stored", p.header.Get("Favad-Evidence-Status"))
	assert.Equal(t, "arrival", storedLine(t, logs2.String(), id)["hashed_from"], "hashed from the state the first server left")
	entries, err := os.ReadDir(cfg2.UploadDir)
	require.NoError(t, err)
	assert.Empty(t, entries)
	ev, _ := e.evidence(field, id)
	assert.Equal(t, "stored", ev.Status)
	assert.True(t, e.blobObject(sum))
}

// TestS3UploadHashedFromTheObjectWithoutItsState: when the hash state in
// the bucket is gone, the finish hook hashes the finished object as it
// streams it (hashed_from "object"), and a mismatch is still refused.
func TestS3UploadHashedFromTheObjectWithoutItsState(t *testing.T) {
	t.Parallel()
	e, _ := newS3Env(t, false)
	complaint := e.assignedComplaint("CALL-S3-UP-3")
	field := e.login("field", "android-field-s3up3").AccessToken
	for i, declared := range []string{"", hexSHA256([]byte("other"))} {
		photo := bigJPEG(t, 6<<20, int64(53+i))
		sum, id := hexSHA256(photo), v7()
		if declared == "" {
			declared = sum
		}
		e.pushEvidence(field, uint64(i+1), id, complaint, int64(len(photo)), declared, "image/jpeg")
		r := e.tusCreate(field, int64(len(photo)), evidenceMeta(id, declared, "image/jpeg"))
		require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
		loc := r.header.Get("Location")
		half := int64(len(photo) / 2)
		require.Equal(t, http.StatusNoContent, e.tusPatch(field, loc, 0, photo[:half]).status)
		require.NoError(t, e.tg.Client(t).RemoveObject(context.Background(), e.tg.Bucket,
			e.tg.Prefix+"/uploads/"+path.Base(loc)+".sha256", minio.RemoveObjectOptions{}))
		p := e.tusPatch(field, loc, half, photo[half:])
		if declared != sum {
			assert.Equal(t, 460, p.status, "%s", p.body)
			assert.False(t, e.blobObject(sum))
			continue
		}
		require.Equal(t, http.StatusNoContent, p.status, "%s", p.body)
		assert.Equal(t, "object", storedLine(t, e.logs.String(), id)["hashed_from"])
		assert.True(t, e.blobObject(sum))
	}
	assert.Empty(t, e.unfinishedUploadFiles(), "finished and refused uploads leave nothing in the bucket")
}

// TestS3JanitorAbortsAbandonedMultipartUploads: an upload left half-sent is
// a multipart upload with parts, .info, .part and hash state in the bucket;
// the janitor keeps it while it is younger than the limit, then aborts the
// multipart upload and deletes its objects (and a finished upload's marker
// as old), so that HEAD answers 404.
func TestS3JanitorAbortsAbandonedMultipartUploads(t *testing.T) {
	t.Parallel()
	e, _ := newS3Env(t, false)
	complaint := e.assignedComplaint("CALL-S3-JAN-1")
	field := e.login("field", "android-field-s3jan1").AccessToken
	photo := bigJPEG(t, 10<<20, 55)
	sum, id := hexSHA256(photo), v7()
	e.pushEvidence(field, 1, id, complaint, int64(len(photo)), sum, "image/jpeg")
	r := e.tusCreate(field, int64(len(photo)), evidenceMeta(id, sum, "image/jpeg"))
	require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
	loc := r.header.Get("Location")
	upload := path.Base(loc)
	require.Equal(t, http.StatusNoContent, e.tusPatch(field, loc, 0, photo[:6<<20]).status, "one part and a .part, then the phone goes away")

	small := noiseJPEG(t, 64, 64, 56)
	smallID, smallSum := v7(), hexSHA256(small)
	done := e.tusUpload(field, small, evidenceMeta(smallID, smallSum, "image/jpeg"))
	require.Equal(t, http.StatusNoContent, done.status, "%s", done.body)

	objects, multipart := bucketUploads(t, e.tg)
	require.Equal(t, []string{upload}, multipart)
	assert.Subset(t, objects, []string{upload + ".info", upload + ".part", upload + ".sha256"})
	assert.Len(t, objects, 4, "and the finished upload's marker: %v", objects)

	sweepOnce(e.srv, time.Hour)
	objects, multipart = bucketUploads(t, e.tg)
	assert.Equal(t, []string{upload}, multipart, "a fresh upload is kept: the phone may resume it")
	assert.Len(t, objects, 4)

	time.Sleep(1100 * time.Millisecond) // S3 times are in whole seconds
	sweepOnce(e.srv, time.Nanosecond)
	objects, multipart = bucketUploads(t, e.tg)
	assert.Empty(t, multipart, "the abandoned multipart upload is aborted")
	assert.Empty(t, objects, "its objects and the old marker are deleted")
	assert.Equal(t, http.StatusNotFound, e.head(field, loc).status)
	assert.True(t, e.blobObject(smallSum), "blobs are not the janitor's")
}

// TestS3UploadCompletedBeforeACrashIsFinishedOnResume: every byte of an
// upload reached the bucket (its parts stored, or its multipart upload
// completed too) and the server died before verifying it. A server loading
// it shows it one byte short, and the phone's resume finishes it.
func TestS3UploadCompletedBeforeACrashIsFinishedOnResume(t *testing.T) {
	t.Parallel()
	client := needTusClient(t)
	e, _ := newS3Env(t, false)
	complaint := e.assignedComplaint("CALL-S3-CRASH-1")
	field := e.login("field", "android-field-s3crash1").AccessToken
	type uploadStorer interface {
		UploadStore(tempDir string) tusd.DataStore
	}
	for i, completed := range []bool{false, true} {
		photo := bigJPEG(t, 7<<20, int64(57+i))
		sum, size, id := hexSHA256(photo), int64(len(photo)), v7()
		e.pushEvidence(field, uint64(i+1), id, complaint, size, sum, "image/jpeg")
		r := e.tusCreate(field, size, evidenceMeta(id, sum, "image/jpeg"))
		require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
		loc := r.header.Get("Location")
		half := size / 2
		require.Equal(t, http.StatusNoContent, e.tusPatch(field, loc, 0, photo[:half]).status)
		// The rest reaches the bucket; the process dies before the hook runs.
		ctx := context.Background()
		up, err := e.blobs.(uploadStorer).UploadStore(t.TempDir()).GetUpload(ctx, path.Base(loc))
		require.NoError(t, err)
		n, err := up.WriteChunk(ctx, half, bytes.NewReader(photo[half:]))
		require.NoError(t, err)
		require.Equal(t, size-half, n)
		if completed {
			require.NoError(t, up.FinishUpload(ctx))
		}
		h := e.head(field, loc)
		require.Equal(t, http.StatusOK, h.status)
		assert.Equal(t, strconv.FormatInt(size-1, 10), h.header.Get("Upload-Offset"), "one byte short: the phone resumes")

		out := client.upload(t, tusRun{UploadURL: loc, Endpoint: e.ts.URL + "/v1/uploads", File: writeTemp(t, "photo.jpg", photo), Token: field,
			Metadata: evidenceMeta(id, sum, "image/jpeg")})
		require.True(t, out.OK, "%+v", out)
		assert.Equal(t, "stored", out.EvidenceStatus, "the resume finished the upload")
		ev, _ := e.evidence(field, id)
		assert.Equal(t, "stored", ev.Status)
		assert.True(t, e.blobObject(sum))
	}
	assert.Empty(t, e.unfinishedUploadFiles())
}

// TestS3UploadWhoseMultipartUploadTheBucketRemovedIsGone: the bucket itself
// aborted an upload's multipart upload (a lifecycle rule, MinIO's stale
// uploads): HEAD answers 404, so that the phone starts again, rather than
// showing the upload complete or one byte short.
func TestS3UploadWhoseMultipartUploadTheBucketRemovedIsGone(t *testing.T) {
	t.Parallel()
	e, _ := newS3Env(t, false)
	complaint := e.assignedComplaint("CALL-S3-GONE-1")
	field := e.login("field", "android-field-s3gone1").AccessToken
	photo := bigJPEG(t, 6<<20, 59)
	sum, id := hexSHA256(photo), v7()
	e.pushEvidence(field, 1, id, complaint, int64(len(photo)), sum, "image/jpeg")
	r := e.tusCreate(field, int64(len(photo)), evidenceMeta(id, sum, "image/jpeg"))
	require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
	loc := r.header.Get("Location")
	require.Equal(t, http.StatusNoContent, e.tusPatch(field, loc, 0, photo[:1<<20]).status)
	require.NoError(t, e.tg.Client(t).RemoveIncompleteUpload(context.Background(), e.tg.Bucket, e.tg.Prefix+"/uploads/"+path.Base(loc)))

	assert.Equal(t, http.StatusNotFound, e.head(field, loc).status)
	r = e.tusUpload(field, photo, evidenceMeta(id, sum, "image/jpeg"))
	require.Equal(t, http.StatusNoContent, r.status, "started again, it is stored: %s", r.body)
	assert.True(t, e.blobObject(sum))
}
