package server_test

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/favad/favad/internal/s3test"
	"github.com/favad/favad/sync/blob/s3blob"
)

// failingS3 relays HTTP to the test S3 server and, while a rule is set,
// answers the requests it matches 503 SlowDown, as throttled or restarting
// object storage does.
type failingS3 struct {
	ts   *httptest.Server
	rule atomic.Pointer[func(*http.Request) bool]
	hits atomic.Int64
}

func newFailingS3(t *testing.T, target string) *failingS3 {
	t.Helper()
	f := &failingS3{}
	relay := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: target})
	f.ts = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rule := f.rule.Load(); rule != nil && (*rule)(r) {
			f.hits.Add(1)
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>`))
			return
		}
		relay.ServeHTTP(w, r)
	}))
	t.Cleanup(f.ts.Close)
	return f
}

// fewAttempts keeps the clients' retries of a failing request short.
func fewAttempts(c *s3blob.Config) { c.MaxAttempts = 2 }

func (f *failingS3) fail(rule func(*http.Request) bool) { f.rule.Store(&rule) }
func (f *failingS3) heal()                              { f.rule.Store(nil) }

// outageEnv is an evidence env whose S3 store is reached through a
// failingS3, with a field inspector's token and a photo of size declared
// for an evidence record of an assigned complaint.
type outageEnv struct {
	*evidenceEnv
	proxy   *failingS3
	field   string
	photo   []byte
	sum, id string
	size    int64
}

func newOutageEnv(t *testing.T, callID string, size int, seed int64) *outageEnv {
	t.Helper()
	tg := s3test.New(t)
	proxy := newFailingS3(t, tg.Endpoint)
	serverTarget := tg
	serverTarget.Endpoint = strings.TrimPrefix(proxy.ts.URL, "http://")
	e := newEvidenceEnvOn(t, newS3BlobsAt(t, serverTarget, fewAttempts))
	complaint := e.assignedComplaint(callID)
	field := e.login("field", "android-"+strings.ToLower(callID)).AccessToken
	photo := bigJPEG(t, size, seed)
	o := &outageEnv{evidenceEnv: e, proxy: proxy, field: field, photo: photo, sum: hexSHA256(photo), id: v7(), size: int64(size)}
	e.pushEvidence(field, 1, o.id, complaint, o.size, o.sum, "image/jpeg")
	return o
}

// create starts an upload of the photo and returns its URL.
func (o *outageEnv) create(t *testing.T) string {
	t.Helper()
	r := o.tusCreate(o.field, o.size, evidenceMeta(o.id, o.sum, "image/jpeg"))
	require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
	return r.header.Get("Location")
}

// TestS3OutageIsNotAGoneUpload: while object storage fails, HEAD and PATCH
// of an upload in progress answer 503 blob_store_unavailable with
// Retry-After (a tus client retries the same upload), never 404 (which has
// the phone start over from byte 0 and leaves the multipart upload behind);
// once storage is back, the upload resumes at its offset and finishes.
func TestS3OutageIsNotAGoneUpload(t *testing.T) {
	t.Parallel()
	o := newOutageEnv(t, "CALL-S3-OUTAGE", 6<<20, 61)
	const first = 5 << 20
	loc := o.create(t)
	require.Equal(t, http.StatusNoContent, o.tusPatch(o.field, loc, 0, o.photo[:first]).status)

	upload := path.Base(loc)
	o.proxy.fail(func(r *http.Request) bool { return strings.Contains(r.URL.Path, upload) })
	for _, method := range []string{"HEAD", "PATCH"} {
		var got reply
		if method == "HEAD" {
			got = o.head(loc)
		} else {
			got = o.tusPatch(o.field, loc, first, o.photo[first:])
		}
		assert.Equal(t, http.StatusServiceUnavailable, got.status, "%s while storage fails: %s", method, got.body)
		assert.Equal(t, strconv.Itoa(10), got.header.Get("Retry-After"), method)
		if method == "PATCH" {
			assert.Contains(t, string(got.body), `"code":"blob_store_unavailable"`)
		}
	}
	require.Positive(t, o.proxy.hits.Load(), "the outage was met")

	o.proxy.heal()
	h := o.head(loc)
	require.Equal(t, http.StatusOK, h.status, "the upload was there all along")
	assert.Equal(t, strconv.Itoa(first), h.header.Get("Upload-Offset"))
	p := o.tusPatch(o.field, loc, first, o.photo[first:])
	require.Equal(t, http.StatusNoContent, p.status, "%s", p.body)
	assert.Equal(t, "stored", p.header.Get("Favad-Evidence-Status"))
}

// head asks an upload's offset.
func (o *outageEnv) head(loc string) reply {
	return o.api(call{method: "HEAD", path: strings.TrimPrefix(loc, o.ts.URL), token: o.field, header: http.Header{"Tus-Resumable": {"1.0.0"}}})
}

// TestS3OutageAtTheLastStepAsksForARetry: when the server-side copy that
// makes a verified upload a blob fails, the phone is told 503 with
// Retry-After (not a 500 "internal"), and its upload again after that is
// stored.
func TestS3OutageAtTheLastStepAsksForARetry(t *testing.T) {
	t.Parallel()
	o := newOutageEnv(t, "CALL-S3-COPY", 1<<20, 62)
	o.proxy.fail(func(r *http.Request) bool {
		return r.Method == http.MethodPut && r.Header.Get("X-Amz-Copy-Source") != ""
	})
	p := o.tusPatch(o.field, o.create(t), 0, o.photo)
	assert.Equal(t, http.StatusServiceUnavailable, p.status, "%s", p.body)
	assert.Contains(t, string(p.body), `"code":"blob_store_unavailable"`)
	assert.Equal(t, "10", p.header.Get("Retry-After"))
	require.Positive(t, o.proxy.hits.Load(), "the copy failed")
	ev, _ := o.evidence(o.field, o.id)
	assert.Equal(t, "awaiting_upload", ev.Status)

	o.proxy.heal()
	p = o.tusPatch(o.field, o.create(t), 0, o.photo)
	require.Equal(t, http.StatusNoContent, p.status, "%s", p.body)
	assert.Equal(t, "stored", p.header.Get("Favad-Evidence-Status"))
}

// TestS3OutageWhileAPartIsSentAsksForARetry: object storage failing while a
// PATCH's bytes go to it as a part is 503 blob_store_unavailable with
// Retry-After (tus clients retry; it was a hidden 500), and once storage is
// back the upload resumes from the offset HEAD gives and is stored.
func TestS3OutageWhileAPartIsSentAsksForARetry(t *testing.T) {
	t.Parallel()
	o := newOutageEnv(t, "CALL-S3-PART", 6<<20, 63)
	loc := o.create(t)
	o.proxy.fail(func(r *http.Request) bool { return r.Method == http.MethodPut && r.URL.Query().Has("partNumber") })
	p := o.tusPatch(o.field, loc, 0, o.photo)
	assert.Equal(t, http.StatusServiceUnavailable, p.status, "%s", p.body)
	assert.Contains(t, string(p.body), `"code":"blob_store_unavailable"`)
	assert.Equal(t, "10", p.header.Get("Retry-After"))
	require.Positive(t, o.proxy.hits.Load(), "a part failed")

	o.proxy.heal()
	h := o.head(loc)
	require.Equal(t, http.StatusOK, h.status)
	off, err := strconv.ParseInt(h.header.Get("Upload-Offset"), 10, 64)
	require.NoError(t, err)
	p = o.tusPatch(o.field, loc, off, o.photo[off:])
	require.Equal(t, http.StatusNoContent, p.status, "%s", p.body)
	assert.Equal(t, "stored", p.header.Get("Favad-Evidence-Status"))
}
