package server_test

// The answer to a PATCH matches what the server kept, and a phone that drops
// mid-PATCH is a client's mishap, not a server error.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/favad/favad/server"
)

// photoAwaitingUpload has the field inspector record a photo's evidence on
// a new complaint (callID) from device, and create its upload: it returns
// the inspector's token, the photo, the evidence id and the upload's URL.
func (e *evidenceEnv) photoAwaitingUpload(callID, device string, seed int64) (field string, photo []byte, id, loc string) {
	e.t.Helper()
	complaint := e.assignedComplaint(callID)
	field = e.login("field", device).AccessToken
	photo = noiseJPEG(e.t, 96, 64, seed)
	sum, size := hexSHA256(photo), int64(len(photo))
	id = v7()
	e.pushEvidence(field, 1, id, complaint, size, sum, "image/jpeg")
	r := e.tusCreate(field, size, evidenceMeta(id, sum, "image/jpeg"))
	require.Equal(e.t, http.StatusCreated, r.status, "%s", r.body)
	return field, photo, id, r.header.Get("Location")
}

// TestChunkedPatchOverLengthKeepsNothing: a chunked PATCH (no
// Content-Length) that carries more bytes than the upload's length is
// refused with 413, and then nothing of it is kept: the record still awaits
// its bytes, no blob is stored, and the upload is gone. (It used to be
// answered 413 while the record became stored.)
func TestChunkedPatchOverLengthKeepsNothing(t *testing.T) {
	t.Parallel()
	e := newEvidenceEnv(t)
	field, photo, id, loc := e.photoAwaitingUpload("CALL-TUS-OVER-1", "android-field-over1", 31)
	sum, size := hexSHA256(photo), int64(len(photo))

	for _, c := range []struct {
		name   string
		offset int64
		body   []byte
	}{
		{"whole file and more", 0, append(append([]byte(nil), photo...), "trailing bytes"...)},
		{"the rest and more", 100, append(append([]byte(nil), photo[100:]...), "trailing bytes"...)},
	} {
		if c.offset > 0 {
			// A fresh upload with its first bytes in.
			r := e.tusCreate(field, size, evidenceMeta(id, sum, "image/jpeg"))
			require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
			loc = r.header.Get("Location")
			require.Equal(t, http.StatusNoContent, e.tusPatch(field, loc, 0, photo[:c.offset]).status)
		}
		req, err := http.NewRequest(http.MethodPatch, loc, io.MultiReader(bytes.NewReader(c.body))) // no length: chunked
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+field)
		req.Header.Set("Tus-Resumable", "1.0.0")
		req.Header.Set("Upload-Offset", fmt.Sprint(c.offset))
		req.Header.Set("Content-Type", "application/offset+octet-stream")
		resp, err := e.ts.Client().Do(req)
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		assert.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode, "%s: %s", c.name, body)
		assert.Contains(t, string(body), `"too_large"`, c.name)
		assert.Empty(t, resp.Header.Get("Favad-Evidence-Status"), c.name)

		ev, _ := e.evidence(field, id)
		assert.Equal(t, "awaiting_upload", ev.Status, "%s: refused, so nothing was stored", c.name)
		assert.False(t, e.blobStored(sum), c.name)
		assert.Empty(t, e.uploadFiles(), "%s: the refused upload is dropped", c.name)
		h := e.unchecked(call{method: "HEAD", path: strings.TrimPrefix(loc, e.ts.URL), token: field, header: http.Header{"Tus-Resumable": {"1.0.0"}}})
		assert.Equal(t, http.StatusNotFound, h.status, c.name)
	}

	// The right bytes still go in.
	r := e.tusUpload(field, photo, evidenceMeta(id, sum, "image/jpeg"))
	require.Equal(t, http.StatusNoContent, r.status, "%s", r.body)
	ev, _ := e.evidence(field, id)
	assert.Equal(t, "stored", ev.Status)
}

// TestPatchOverLengthWithContentLengthKeepsTheUpload: a PATCH whose
// Content-Length goes past the upload's length is refused (413) before any
// of its bytes is read, so what the upload held before stays at its offset
// and the right bytes finish it. (A chunked body shows its length only at
// its end: TestChunkedPatchOverLengthKeepsNothing.)
func TestPatchOverLengthWithContentLengthKeepsTheUpload(t *testing.T) {
	t.Parallel()
	e := newEvidenceEnv(t)
	field, photo, id, loc := e.photoAwaitingUpload("CALL-TUS-OVER-2", "android-field-over2", 33)
	require.Equal(t, http.StatusNoContent, e.tusPatch(field, loc, 0, photo[:100]).status)

	r := e.tusPatch(field, loc, 100, append(append([]byte(nil), photo[100:]...), "trailing bytes"...))
	require.Equal(t, http.StatusRequestEntityTooLarge, r.status, "%s", r.body)
	assert.Equal(t, "too_large", string(r.problem(t).Code))
	h := e.unchecked(call{method: "HEAD", path: strings.TrimPrefix(loc, e.ts.URL), token: field, header: http.Header{"Tus-Resumable": {"1.0.0"}}})
	require.Equal(t, http.StatusOK, h.status)
	assert.Equal(t, "100", h.header.Get("Upload-Offset"), "nothing of the refused request was kept, and nothing before it lost")
	ev, _ := e.evidence(field, id)
	assert.Equal(t, "awaiting_upload", ev.Status)

	require.Equal(t, http.StatusNoContent, e.tusPatch(field, loc, 100, photo[100:]).status, "the right bytes finish it")
	ev, _ = e.evidence(field, id)
	assert.Equal(t, "stored", ev.Status)
}

// TestPatchCutMidBodyIsAClientDisconnect: a phone that loses its link in
// the middle of a PATCH is normal on a field network. The server logs it as
// a client disconnect (a warning, no error), counts it with status 499
// rather than as a server error, and keeps what arrived for the resume.
func TestPatchCutMidBodyIsAClientDisconnect(t *testing.T) {
	t.Parallel()
	logs := &lockedBuffer{}
	e := newEvidenceEnv(t, func(c *server.Config) { c.Logger = slog.New(slog.NewJSONHandler(logs, nil)) })
	complaint := e.assignedComplaint("CALL-TUS-CUT-1")
	field := e.login("field", "android-field-cut1").AccessToken
	photo := noiseJPEG(t, 400, 300, 32)
	sum, size, id := hexSHA256(photo), int64(len(photo)), v7()
	e.pushEvidence(field, 1, id, complaint, size, sum, "image/jpeg")

	for i, how := range []string{"reset", "close"} {
		r := e.tusCreate(field, size, evidenceMeta(id, sum, "image/jpeg"))
		require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
		loc := strings.TrimPrefix(r.header.Get("Location"), e.ts.URL)

		conn, err := net.Dial("tcp", e.ts.Listener.Addr().String())
		require.NoError(t, err)
		head := fmt.Sprintf("PATCH %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\n"+
			"Content-Type: application/offset+octet-stream\r\nContent-Length: %d\r\n\r\n", loc, e.ts.Listener.Addr(), field, size)
		_, err = conn.Write(append([]byte(head), photo[:size/2]...))
		require.NoError(t, err)
		// Let the server read what was sent before the link drops.
		require.Eventually(t, func() bool { return e.uploadedBytes(loc) == size/2 }, 10*time.Second, 10*time.Millisecond)
		if how == "reset" {
			require.NoError(t, conn.(*net.TCPConn).SetLinger(0))
		}
		require.NoError(t, conn.Close())

		var line map[string]any
		require.Eventually(t, func() bool {
			line = patchRequestLine(logs.String(), i)
			return line != nil
		}, 10*time.Second, 10*time.Millisecond, "the PATCH is logged once it ends")
		assert.EqualValues(t, 499, line["status"], "%s: a client that went away, not a server error", how)
		assert.Equal(t, "INFO", line["level"])

		h := e.api(call{method: "HEAD", path: loc, token: field, header: http.Header{"Tus-Resumable": {"1.0.0"}}})
		require.Equal(t, http.StatusOK, h.status)
		assert.Equal(t, fmt.Sprint(size/2), h.header.Get("Upload-Offset"), "%s: what arrived is kept for the resume", how)
	}

	var errorLines []string
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, `"level":"ERROR"`) {
			errorLines = append(errorLines, l)
		}
	}
	assert.Empty(t, errorLines, "nothing went wrong on the server")
	assert.Equal(t, 2, strings.Count(logs.String(), `"msg":"upload interrupted: the client went away mid-PATCH"`))

	m := e.do(call{method: "GET", path: "/metrics"})
	require.Equal(t, http.StatusOK, m.status)
	var counted []string
	for _, l := range strings.Split(string(m.body), "\n") {
		if strings.HasPrefix(l, `favad_http_requests_total{method="PATCH"`) {
			counted = append(counted, l)
		}
	}
	assert.Equal(t, []string{`favad_http_requests_total{method="PATCH",route="/v1/uploads/:id",status="499"} 2`}, counted,
		"counted apart from server errors")
}

// uploadedBytes is how many bytes the upload at loc holds on disk (read from
// the file: a HEAD would ask tusd to interrupt the PATCH holding the upload).
func (e *evidenceEnv) uploadedBytes(loc string) int64 {
	st, err := os.Stat(filepath.Join(e.uploadDir, path.Base(loc)))
	if err != nil {
		return -1
	}
	return st.Size()
}

// patchRequestLine returns the n-th request log line of a PATCH, or nil.
func patchRequestLine(logs string, n int) map[string]any {
	sc := bufio.NewScanner(strings.NewReader(logs))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var line map[string]any
		if json.Unmarshal(sc.Bytes(), &line) != nil || line["msg"] != "request" || line["method"] != "PATCH" {
			continue
		}
		if n == 0 {
			return line
		}
		n--
	}
	return nil
}

// TestPatchTakenOverByAnotherRequestIsToldToResume: a PATCH whose body
// still arrives when another request for its upload comes (the same phone
// after a timeout, or its other device) is cut by tusd. It is answered 409
// (a tus client asks HEAD and resumes), not tusd's 400 (final: the client
// gives the upload up), and logged as taken over, not as a client gone.
func TestPatchTakenOverByAnotherRequestIsToldToResume(t *testing.T) {
	logs := &lockedBuffer{}
	e := newEvidenceEnv(t, func(c *server.Config) { c.Logger = slog.New(slog.NewJSONHandler(logs, nil)) })
	complaint := e.assignedComplaint("CALL-TUS-TAKEN-1")
	field := e.login("field", "android-field-taken1").AccessToken
	photo := noiseJPEG(t, 400, 300, 33)
	sum, size, id := hexSHA256(photo), int64(len(photo)), v7()
	e.pushEvidence(field, 1, id, complaint, size, sum, "image/jpeg")
	r := e.tusCreate(field, size, evidenceMeta(id, sum, "image/jpeg"))
	require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
	loc := strings.TrimPrefix(r.header.Get("Location"), e.ts.URL)

	conn, err := net.Dial("tcp", e.ts.Listener.Addr().String())
	require.NoError(t, err)
	defer conn.Close()
	head := fmt.Sprintf("PATCH %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\n"+
		"Content-Type: application/offset+octet-stream\r\nContent-Length: %d\r\n\r\n", loc, e.ts.Listener.Addr(), field, size)
	_, err = conn.Write(append([]byte(head), photo[:size/2]...))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return e.uploadedBytes(loc) == size/2 }, 10*time.Second, 10*time.Millisecond)

	h := e.api(call{method: "HEAD", path: loc, token: field, header: http.Header{"Tus-Resumable": {"1.0.0"}}})
	require.Equal(t, http.StatusOK, h.status, "%s", h.body)
	assert.Equal(t, fmt.Sprint(size/2), h.header.Get("Upload-Offset"))

	require.NoError(t, conn.SetReadDeadline(time.Now().Add(10*time.Second)))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err, "the cut PATCH is answered")
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	assert.Equal(t, http.StatusConflict, resp.StatusCode, "%s", body)
	assert.Contains(t, string(body), `"code":"conflict"`)
	assert.Contains(t, string(body), "ask HEAD for the offset and resume")

	p := e.tusPatch(field, e.ts.URL+loc, size/2, photo[size/2:])
	require.Equal(t, http.StatusNoContent, p.status, "%s", p.body)
	assert.Equal(t, "stored", p.header.Get("Favad-Evidence-Status"))
	var line map[string]any
	require.Eventually(t, func() bool { line = patchRequestLine(logs.String(), 0); return line != nil }, 10*time.Second, 10*time.Millisecond)
	assert.EqualValues(t, 409, line["status"])
	assert.NotContains(t, logs.String(), "the client went away mid-PATCH")
	assert.Contains(t, logs.String(), "upload taken over by another request mid-PATCH")
}
