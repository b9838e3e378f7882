package server_test

// A finished upload, seen again: a phone whose answer to the final PATCH was
// lost asks HEAD, or starts over with POST, and must learn that the server
// holds its file.

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/favad/favad/server"
	favsync "github.com/favad/favad/sync"
	"github.com/favad/favad/sync/blob"
)

// answerDropProxy relays HTTP/1.1 between a client and the server one
// exchange at a time. Once, for the first request drop matches, it lets the
// server answer in full and then cuts the client's connection instead of
// relaying that answer: the server did the work, the client never hears.
type answerDropProxy struct {
	relayProxy
	drop func(*http.Request) bool

	dropped int
}

func newAnswerDropProxy(t *testing.T, target string, drop func(*http.Request) bool) *answerDropProxy {
	t.Helper()
	p := &answerDropProxy{drop: drop}
	p.start(t, target, func(client, upstream net.Conn) {
		defer client.Close()
		defer upstream.Close()
		p.relay(client, upstream)
	})
	return p
}

func (p *answerDropProxy) stats() (dropped int, methods map[string]int) {
	methods = p.methodCounts()
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.dropped, methods
}

// relay forwards requests and answers in lockstep (a tus client waits for
// each answer before its next request).
func (p *answerDropProxy) relay(client, upstream net.Conn) {
	fromClient, fromServer := bufio.NewReader(client), bufio.NewReader(upstream)
	for {
		req, err := http.ReadRequest(fromClient)
		if err != nil {
			return
		}
		p.mu.Lock()
		p.methods[req.Method]++
		drop := p.dropped == 0 && p.drop(req)
		if drop {
			p.dropped++
		}
		p.mu.Unlock()
		if err := req.Write(upstream); err != nil {
			return
		}
		resp, err := http.ReadResponse(fromServer, req)
		if err != nil {
			return
		}
		if drop {
			// The server has answered (and so committed whatever it did);
			// read its answer to the end, then reset the client's link.
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if tc, ok := client.(*net.TCPConn); ok {
				_ = tc.SetLinger(0)
			}
			return
		}
		err = resp.Write(client)
		resp.Body.Close()
		if err != nil {
			return
		}
	}
}

// finalPatch matches the PATCH that carries the last byte of a size-byte file.
func finalPatch(size int64) func(*http.Request) bool {
	return func(r *http.Request) bool {
		off, err := strconv.ParseInt(r.Header.Get("Upload-Offset"), 10, 64)
		return r.Method == http.MethodPatch && err == nil && off+r.ContentLength == size
	}
}

// storedChanges counts the change-log entries that made evidence id stored.
func (e *evidenceEnv) storedChanges(id string) int {
	e.t.Helper()
	changes, err := e.store.Changes(0, 1<<20)
	require.NoError(e.t, err)
	n := 0
	for _, c := range changes {
		if c.Kind == favsync.KindEvidence && c.ID == id && c.Action == "stored" {
			n++
		}
	}
	return n
}

// TestTusFinishesWhenFinalAnswerIsLost: the server stores the file, but the
// answer to the final PATCH never reaches the phone. tus-js-client retries:
// HEAD on its upload must show the whole file (Upload-Offset equal to
// Upload-Length), so that the client finishes instead of starting over into
// "409 already stored" for ever.
func TestTusFinishesWhenFinalAnswerIsLost(t *testing.T) {
	forEachBlobStore(t, testTusFinishesWhenFinalAnswerIsLost)
}

func testTusFinishesWhenFinalAnswerIsLost(t *testing.T, blobs blob.Store) {
	t.Parallel()
	client := needTusClient(t)
	e := newEvidenceEnvOn(t, blobs)
	complaint := e.assignedComplaint("CALL-TUS-LOST-1")
	field := e.login("field", "android-field-lost1").AccessToken

	photo := noiseJPEG(t, 300, 240, 21)
	sum, size, id := hexSHA256(photo), int64(len(photo)), v7()
	e.pushEvidence(field, 1, id, complaint, size, sum, "image/jpeg")

	proxy := newAnswerDropProxy(t, e.ts.Listener.Addr().String(), finalPatch(size))
	out := client.upload(t, tusRun{Endpoint: proxy.URL() + "/v1/uploads", File: writeTemp(t, "photo.jpg", photo), Token: field,
		Metadata: evidenceMeta(id, sum, "image/jpeg"), ChunkSize: 64 << 10, RetryDelays: []int{0, 200, 500}})
	dropped, methods := proxy.stats()
	require.Equal(t, 1, dropped, "the final PATCH's answer was lost: %v", methods)
	require.True(t, out.OK, "the client finishes although the final answer was lost: %+v (requests %v)", out, methods)
	assert.Equal(t, 1, methods[http.MethodPost], "resumed, not started again: %v", methods)
	assert.GreaterOrEqual(t, methods[http.MethodHead], 1, "the client asked for its offset: %v", methods)
	assert.Equal(t, "stored", out.EvidenceStatus, "HEAD on a finished upload tells what became of the evidence")

	ev, _ := e.evidence(field, id)
	assert.Equal(t, "stored", ev.Status)
	assert.Equal(t, 1, e.storedChanges(id), "the record is stored exactly once")
	assert.True(t, e.blobStored(sum))
}

// TestTusNewUploadOfStoredEvidenceFinishes: a phone that lost its upload's
// URL (or whose finished upload has expired) starts over with POST for
// evidence whose bytes the server holds. It is told so in tus terms: 201 with
// the Location of a finished upload (Upload-Offset equal to Upload-Length),
// and a stock client finishes — through HEAD after its PATCH at offset 0 is
// refused as a mismatch, or at once when it sent data with the POST.
func TestTusNewUploadOfStoredEvidenceFinishes(t *testing.T) {
	forEachBlobStore(t, testTusNewUploadOfStoredEvidenceFinishes)
}

func testTusNewUploadOfStoredEvidenceFinishes(t *testing.T, blobs blob.Store) {
	t.Parallel()
	client := needTusClient(t)
	e := newEvidenceEnvOn(t, blobs)
	complaint := e.assignedComplaint("CALL-TUS-LOST-2")
	field := e.login("field", "android-field-lost2").AccessToken
	endpoint := e.ts.URL + "/v1/uploads"

	photo := noiseJPEG(t, 200, 160, 22)
	sum, size, id := hexSHA256(photo), int64(len(photo)), v7()
	e.pushEvidence(field, 1, id, complaint, size, sum, "image/jpeg")
	r := e.tusUpload(field, photo, evidenceMeta(id, sum, "image/jpeg"))
	require.Equal(t, http.StatusNoContent, r.status, "%s", r.body)

	t.Run("raw", func(t *testing.T) {
		r := e.tusCreate(field, size, evidenceMeta(id, sum, "image/jpeg"))
		require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
		assert.Equal(t, strconv.FormatInt(size, 10), r.header.Get("Upload-Offset"), "the upload is complete from the start")
		assert.Equal(t, "stored", r.header.Get("Favad-Evidence-Status"))
		loc := r.header.Get("Location")
		require.NotEmpty(t, loc)
		h := e.api(call{method: "HEAD", path: strings.TrimPrefix(loc, e.ts.URL), token: field, header: http.Header{"Tus-Resumable": {"1.0.0"}}})
		require.Equal(t, http.StatusOK, h.status)
		assert.Equal(t, strconv.FormatInt(size, 10), h.header.Get("Upload-Offset"))
		assert.Equal(t, strconv.FormatInt(size, 10), h.header.Get("Upload-Length"))
		assert.Equal(t, "stored", h.header.Get("Favad-Evidence-Status"))
		p := e.tusPatch(field, loc, 0, photo)
		assert.Equal(t, http.StatusConflict, p.status, "a PATCH at another offset than the server's is a mismatch (tus 1.0): %s", p.body)
		p = e.unchecked(call{method: "PATCH", path: strings.TrimPrefix(loc, e.ts.URL), token: field, header: http.Header{
			"Tus-Resumable": {"1.0.0"}, "Upload-Offset": {strconv.FormatInt(size, 10)}, "Content-Type": {"application/offset+octet-stream"}}})
		assert.Equal(t, http.StatusNoContent, p.status, "a PATCH at the end changes nothing: %s", p.body)
		assert.Equal(t, strconv.FormatInt(size, 10), p.header.Get("Upload-Offset"))

		// Other bytes for the same evidence are still refused.
		r = e.tusCreate(field, size, evidenceMeta(id, hexSHA256([]byte("other")), "image/jpeg"))
		assert.Equal(t, http.StatusUnprocessableEntity, r.status, "%s", r.body)
		r = e.tusCreate(e.token("field2"), size, evidenceMeta(id, sum, "image/jpeg"))
		assert.Equal(t, http.StatusForbidden, r.status, "%s", r.body)
	})

	t.Run("tus-js-client", func(t *testing.T) {
		out := client.upload(t, tusRun{Endpoint: endpoint, File: writeTemp(t, "again.jpg", photo), Token: field,
			Metadata: evidenceMeta(id, sum, "image/jpeg"), RetryDelays: []int{0, 200}})
		require.True(t, out.OK, "%+v", out)
		assert.Equal(t, "stored", out.EvidenceStatus)
	})

	t.Run("tus-js-client with data in the POST", func(t *testing.T) {
		out := client.upload(t, tusRun{Endpoint: endpoint, File: writeTemp(t, "again2.jpg", photo), Token: field,
			Metadata: evidenceMeta(id, sum, "image/jpeg"), UploadDataDuringCreation: true})
		require.True(t, out.OK, "no retry needed: %+v", out)
		assert.Equal(t, "stored", out.EvidenceStatus)
	})

	t.Run("bytes that wait for their record", func(t *testing.T) {
		early := noiseJPEG(t, 120, 90, 23)
		earlySum, earlyID := hexSHA256(early), v7()
		r := e.tusUpload(field, early, evidenceMeta(earlyID, earlySum, "image/jpeg"))
		require.Equal(t, http.StatusNoContent, r.status, "%s", r.body)
		require.Equal(t, "awaiting_upload", r.header.Get("Favad-Evidence-Status"))
		r = e.tusCreate(field, int64(len(early)), evidenceMeta(earlyID, earlySum, "image/jpeg"))
		require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
		assert.Equal(t, strconv.Itoa(len(early)), r.header.Get("Upload-Offset"), "the bytes are held: nothing to send again")
		assert.Equal(t, "awaiting_upload", r.header.Get("Favad-Evidence-Status"))
	})

	assert.Equal(t, 1, e.storedChanges(id), "the record is stored exactly once")
}

// TestUploadCompletedBeforeACrashIsFinishedOnResume: the server wrote an
// upload's last bytes and died before its finish hook stored them. After the
// restart HEAD must not show the upload complete (the phone would believe the
// server holds its photo while the record waits for ever): it shows it one
// byte short, and the phone's resume sends that byte, which finishes it.
func TestUploadCompletedBeforeACrashIsFinishedOnResume(t *testing.T) {
	t.Parallel()
	client := needTusClient(t)
	var cfg server.Config
	e := newEvidenceEnv(t, func(c *server.Config) { cfg = *c })
	complaint := e.assignedComplaint("CALL-TUS-CRASH-1")
	field := e.login("field", "android-field-crash1").AccessToken
	photo := noiseJPEG(t, 200, 150, 24)
	sum, size, id := hexSHA256(photo), int64(len(photo)), v7()
	e.pushEvidence(field, 1, id, complaint, size, sum, "image/jpeg")
	r := e.tusCreate(field, size, evidenceMeta(id, sum, "image/jpeg"))
	require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
	loc := r.header.Get("Location")
	half := size / 2
	require.Equal(t, http.StatusNoContent, e.tusPatch(field, loc, 0, photo[:half]).status)
	// The rest reaches the file; the process dies before the hook runs.
	f, err := os.OpenFile(filepath.Join(e.uploadDir, path.Base(loc)), os.O_WRONLY|os.O_APPEND, 0)
	require.NoError(t, err)
	_, err = f.Write(photo[half:])
	require.NoError(t, err)
	require.NoError(t, f.Close())

	restarted, err := server.New(cfg)
	require.NoError(t, err)
	ts := httptest.NewServer(restarted)
	t.Cleanup(ts.Close)
	loc = ts.URL + strings.TrimPrefix(loc, e.ts.URL)

	out := client.upload(t, tusRun{UploadURL: loc, Endpoint: ts.URL + "/v1/uploads", File: writeTemp(t, "photo.jpg", photo), Token: field,
		Metadata: evidenceMeta(id, sum, "image/jpeg")})
	require.True(t, out.OK, "%+v", out)
	assert.Equal(t, "stored", out.EvidenceStatus, "the resume finished the upload")
	ev, _ := e.evidence(field, id)
	assert.Equal(t, "stored", ev.Status)
	assert.True(t, e.blobStored(sum))
}
