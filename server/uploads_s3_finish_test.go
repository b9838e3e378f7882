package server_test

// A phone on a bad network sends the last byte of its upload and goes away
// before the answer. With the evidence in a bucket the finish (reading the
// object back, the server-side copy) is slow enough to outlive the request:
// it must complete anyway, so that the phone's HEAD on resume finds the
// upload finished.

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path"
	"strconv"
	"strings"
	stdsync "sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/favad/favad/internal/s3test"
	"github.com/favad/favad/server"
)

// tusGraceAfterCancel is how long tusd lets the work of a request go on
// after its client went away before it cancels the hooks' context (tusd's
// Config.GracefulRequestCompletionTimeout, which the server leaves at its
// default).
const tusGraceAfterCancel = 10 * time.Second

// stallProxy relays TCP between the server and S3. Once the server sends S3
// the request that marks, it holds every byte S3 sends back, on every
// connection, until release: S3 is as slow as the test wants, from the
// finish hook's first read of the finished object on.
type stallProxy struct {
	relayProxy
	mark []byte // set once, before the marked request is sent

	seen, released        chan struct{}
	seenOnce, releaseOnce stdsync.Once
}

func newStallProxy(t *testing.T, target string) *stallProxy {
	t.Helper()
	p := &stallProxy{seen: make(chan struct{}), released: make(chan struct{})}
	p.start(t, target, func(client, upstream net.Conn) {
		defer client.Close()
		defer upstream.Close()
		go p.answers(client, upstream)
		p.requests(upstream, client)
	})
	t.Cleanup(p.release) // runs before the relays are waited for
	return p
}

func (p *stallProxy) setMark(mark string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mark = []byte(mark)
}

func (p *stallProxy) release() { p.releaseOnce.Do(func() { close(p.released) }) }

func (p *stallProxy) stalled() bool {
	select {
	case <-p.seen:
		return true
	default:
		return false
	}
}

// requests forwards the server's bytes to S3, looking for the mark in them
// (across reads: the tail of the last read is kept).
func (p *stallProxy) requests(upstream io.Writer, client io.Reader) {
	buf, tail := make([]byte, 32<<10), []byte(nil)
	for {
		n, err := client.Read(buf)
		if n > 0 {
			p.mu.Lock()
			mark := p.mark
			p.mu.Unlock()
			if len(mark) > 0 {
				window := append(tail, buf[:n]...)
				if bytes.Contains(window, mark) {
					p.seenOnce.Do(func() { close(p.seen) })
				}
				tail = append([]byte(nil), window[max(0, len(window)-len(mark)+1):]...)
			}
			if _, werr := upstream.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// answers forwards S3's bytes to the server, holding them once stalled.
func (p *stallProxy) answers(client net.Conn, upstream io.Reader) {
	defer client.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := upstream.Read(buf)
		if n > 0 {
			if p.stalled() {
				<-p.released
			}
			if _, werr := client.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// TestS3UploadFinishesAfterThePhoneLeaves: the final PATCH of an upload
// into the bucket arrives whole, and the phone goes away while the finish
// hook reads the object back from S3, which answers only after tusd has
// cancelled the request's work. The finish still completes: the blob is
// sha256/<hash> in the bucket, the evidence is stored, and HEAD on the
// upload answers it complete, which is what the phone asks on resume.
func TestS3UploadFinishesAfterThePhoneLeaves(t *testing.T) {
	t.Parallel()
	tg := s3test.New(t)
	proxy := newStallProxy(t, tg.Endpoint)
	viaProxy := tg
	viaProxy.Endpoint = proxy.ln.Addr().String()
	logs := &lockedBuffer{}
	e := newEvidenceEnvOn(t, newS3BlobsAt(t, viaProxy), func(c *server.Config) { c.Logger = slog.New(slog.NewJSONHandler(logs, nil)) })
	s3e := &s3Env{evidenceEnv: e, tg: tg, logs: logs}
	complaint := e.assignedComplaint("CALL-S3-LEFT-1")
	field := e.login("field", "android-field-s3left1").AccessToken

	photo := noiseJPEG(t, 320, 240, 61)
	sum, size, id := hexSHA256(photo), int64(len(photo)), v7()
	e.pushEvidence(field, 1, id, complaint, size, sum, "image/jpeg")
	r := e.tusCreate(field, size, evidenceMeta(id, sum, "image/jpeg"))
	require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
	loc := r.header.Get("Location")
	upload := path.Base(loc)
	// The finish hook's first read: a GET of the finished object itself (the
	// PATCH before it only reads the upload's .info, .part and state).
	proxy.setMark("GET /" + tg.Bucket + "/" + tg.Prefix + "/uploads/" + upload + " HTTP/1.1\r\n")

	ctx, leave := context.WithCancel(context.Background())
	defer leave()
	req, err := http.NewRequestWithContext(ctx, http.MethodPatch, loc, bytes.NewReader(photo))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+field)
	req.Header.Set("Tus-Resumable", "1.0.0")
	req.Header.Set("Upload-Offset", "0")
	req.Header.Set("Content-Type", "application/offset+octet-stream")
	phone := &http.Client{Transport: &http.Transport{}}
	answered := make(chan error, 1)
	go func() {
		resp, err := phone.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		answered <- err
	}()
	select {
	case <-proxy.seen:
	case err := <-answered:
		t.Fatalf("the final PATCH was answered before the finish read the object: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("the finish hook never read the finished object")
	}
	// Every byte is in; the phone goes away before the answer.
	leave()
	require.ErrorIs(t, <-answered, context.Canceled, "the phone heard no answer")
	// S3 answers once tusd has given up on the request.
	time.Sleep(tusGraceAfterCancel + time.Second)
	proxy.release()

	stored := assert.Eventually(t, func() bool {
		ev, status := e.evidence(field, id)
		return status == http.StatusOK && ev.Status == "stored"
	}, 30*time.Second, 50*time.Millisecond, "the finish completes after the phone left")
	require.True(t, stored, "errors logged: %v", errorLines(logs.String()))
	assert.True(t, s3e.blobObject(sum), "sha256/<hash> is in the bucket")
	assert.Equal(t, 1, e.storedChanges(id), "the record is stored exactly once")
	h := s3e.head(field, loc)
	require.Equal(t, http.StatusOK, h.status)
	assert.Equal(t, strconv.FormatInt(size, 10), h.header.Get("Upload-Length"))
	assert.Equal(t, strconv.FormatInt(size, 10), h.header.Get("Upload-Offset"), "HEAD tells the phone on resume that the upload is complete")
	assert.Equal(t, "stored", h.header.Get("Favad-Evidence-Status"))
	got := e.api(call{method: "GET", path: "/v1/evidence/" + id + "/content", token: field})
	require.Equal(t, http.StatusOK, got.status)
	assert.True(t, bytes.Equal(photo, got.body))

	var line map[string]any
	require.Eventually(t, func() bool { line = patchRequestLine(logs.String(), 0); return line != nil },
		10*time.Second, 10*time.Millisecond, "the final PATCH is logged once it ends")
	// The body arrived whole, the client left before the answer: 499 in
	// the request log and metrics, not the 204 nobody heard.
	assert.EqualValues(t, 499, line["status"], "request log of the final PATCH: %v", line)
	assert.Empty(t, errorLines(logs.String()), "nothing failed on the server")
}

// errorLines are the log lines of level ERROR.
func errorLines(logs string) []string {
	var lines []string
	for _, l := range strings.Split(logs, "\n") {
		if strings.Contains(l, `"level":"ERROR"`) {
			lines = append(lines, l)
		}
	}
	return lines
}
