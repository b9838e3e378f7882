package server_test

// Evidence uploads over tus, tested with a real tus client (tus-js-client on
// Node.js, from testdata/tusclient) where the client's behaviour is the point
// (resuming after a cut connection, either-order arrival), and with raw tus
// requests for the refusals and the ranged download.

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"image"
	"image/jpeg"
	"io"
	"log/slog"
	"math/rand"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	stdsync "sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/favad/favad/internal/tusjs"
	"github.com/favad/favad/server"
	favsync "github.com/favad/favad/sync"
	"github.com/favad/favad/sync/blob"
)

// --- fixtures ---------------------------------------------------------------

// evidenceEnv is the kit's env plus where the server keeps blobs and uploads
// in progress, so that a test can see what was (not) stored.
type evidenceEnv struct {
	*env
	blobDir, uploadDir string
	blobs              blob.Store // nil: the blobs are files in blobDir
}

func newEvidenceEnv(t *testing.T, opts ...envOption) *evidenceEnv {
	t.Helper()
	blobDir := filepath.Join(t.TempDir(), "blobs")
	return newEvidenceEnvOn(t, &blob.FS{Dir: blobDir}, opts...)
}

// newEvidenceEnvOn is newEvidenceEnv with the blobs in blobs (see blobStores).
func newEvidenceEnvOn(t *testing.T, blobs blob.Store, opts ...envOption) *evidenceEnv {
	t.Helper()
	var uploadDir string
	e := newEnv(t, append([]envOption{func(c *server.Config) {
		c.Blobs = blobs
		uploadDir = c.UploadDir
	}}, opts...)...)
	ev := &evidenceEnv{env: e, uploadDir: uploadDir, blobs: blobs}
	if fs, ok := blobs.(*blob.FS); ok {
		ev.blobDir = fs.Dir
	}
	return ev
}

// assignedComplaint is a complaint dispatch assigned to the inspector "field".
func (e *env) assignedComplaint(callID string) string { return e.assigned(callID).ID }

// assigned is a complaint dispatch assigned to the inspector "field", as
// the assignment answered it.
func (e *env) assigned(callID string) complaintJSON {
	e.t.Helper()
	disp := e.token("dispatcher")
	var c complaintJSON
	r := e.do(newCall("POST", "/v1/complaints", disp, intake(callID, e.clock.Now())))
	require.Equal(e.t, http.StatusCreated, r.status, "%s", r.body)
	r.json(e.t, &c)
	r = e.do(newCall("POST", "/v1/complaints/"+c.ID+"/assign", disp, map[string]string{"inspector_id": e.users["field"].ID, "mode": "field"}))
	require.Equal(e.t, http.StatusOK, r.status, "%s", r.body)
	r.json(e.t, &c)
	return c
}

// pushEvidence syncs an evidence.create for bytes of size and hash sum.
func (e *evidenceEnv) pushEvidence(token string, seq uint64, id, complaintID string, size int64, sum, contentType string) {
	e.t.Helper()
	now := e.clock.Now()
	m := mutation(seq, "evidence.create", id, 0, map[string]any{
		"complaint_id": complaintID, "kind": "photo", "content_type": contentType, "size": size, "sha256": sum,
		"captured_at": now.Add(-time.Minute).Format(time.RFC3339),
	}, now)
	var res pushJSON
	if specKnowsEvidence() {
		res = e.push(token, m)
	} else {
		// The OpenAPI document does not list evidence.create yet, so the
		// kit's contract check would refuse the push itself.
		r := e.unchecked(call{method: "POST", path: "/v1/sync/push", token: token, header: syncHeaders, body: map[string]any{"mutations": []any{m}}})
		require.Equal(e.t, http.StatusOK, r.status, "%s", r.body)
		r.json(e.t, &res)
	}
	require.Len(e.t, res.Results, 1)
	require.Equal(e.t, "applied", res.Results[0].Status, "%+v", res.Results[0])
}

// specKnowsEvidence reports whether the OpenAPI document has evidence.create
// among the mutation kinds (the kit loads it in newEnv).
func specKnowsEvidence() bool {
	if specDoc == nil || specDoc.Components.Schemas["MutationKind"] == nil || specDoc.Components.Schemas["MutationKind"].Value == nil {
		return false
	}
	for _, v := range specDoc.Components.Schemas["MutationKind"].Value.Enum {
		if v == "evidence.create" {
			return true
		}
	}
	return false
}

// unchecked sends a request without checking it or its response against the spec.
func (e *env) unchecked(c call) reply {
	e.t.Helper()
	var body io.Reader
	if c.body != nil {
		b, err := json.Marshal(c.body)
		require.NoError(e.t, err)
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(c.method, e.ts.URL+c.path, body)
	require.NoError(e.t, err)
	for k, vs := range c.header {
		req.Header[k] = vs
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := e.ts.Client().Do(req)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(e.t, err)
	return reply{status: resp.StatusCode, header: resp.Header, body: b}
}

type evidenceJSON struct {
	ID           string     `json:"id"`
	Status       string     `json:"status"`
	Reason       string     `json:"reason"`
	SHA256       string     `json:"sha256"`
	Size         int64      `json:"size"`
	SniffedType  string     `json:"sniffed_type"`
	StoredAt     *time.Time `json:"stored_at"`
	MediaMissing bool       `json:"media_missing"`
	Thumbnail    bool       `json:"thumbnail"`
}

func (e *evidenceEnv) evidence(token, id string) (evidenceJSON, int) {
	e.t.Helper()
	r := e.api(call{method: "GET", path: "/v1/evidence/" + id, token: token})
	var ev evidenceJSON
	if r.status == http.StatusOK {
		r.json(e.t, &ev)
	}
	return ev, r.status
}

// api is the kit's do for routes the OpenAPI document may not describe yet
// (/v1/uploads, /v1/evidence): described ones are checked against it.
func (e *env) api(c call) reply {
	e.t.Helper()
	req, err := http.NewRequest(c.method, e.ts.URL+c.path, nil)
	require.NoError(e.t, err)
	if _, _, err := e.router.FindRoute(req); err != nil {
		c.invalidRequest = true
	}
	return e.do(c)
}

// tusCreate is a raw tus creation request.
func (e *env) tusCreate(token string, length int64, meta map[string]string) reply {
	e.t.Helper()
	h := http.Header{"Tus-Resumable": {"1.0.0"}, "Upload-Length": {strconv.FormatInt(length, 10)}, "Upload-Metadata": {tusMetadata(meta)}}
	return e.api(call{method: "POST", path: "/v1/uploads", token: token, header: h})
}

// tusPatch sends body at offset to the upload at location.
func (e *env) tusPatch(token, location string, offset int64, body []byte) reply {
	e.t.Helper()
	u, err := url.Parse(location)
	require.NoError(e.t, err)
	path := u.Path
	h := http.Header{"Tus-Resumable": {"1.0.0"}, "Upload-Offset": {strconv.FormatInt(offset, 10)}}
	// A binary body is nothing a JSON contract validator decodes: the response is still checked.
	return e.do(call{method: "PATCH", path: path, token: token, raw: string(body), contentType: "application/offset+octet-stream", header: h, invalidRequest: true})
}

// tusUpload creates an upload and sends all of b in one PATCH; it returns the
// PATCH's reply (or the creation's, if that was refused).
func (e *env) tusUpload(token string, b []byte, meta map[string]string) reply {
	e.t.Helper()
	r := e.tusCreate(token, int64(len(b)), meta)
	if r.status != http.StatusCreated {
		return r
	}
	loc := r.header.Get("Location")
	require.NotEmpty(e.t, loc)
	return e.tusPatch(token, loc, 0, b)
}

func tusMetadata(meta map[string]string) string {
	keys := make([]string, 0, len(meta))
	for k := range meta {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+" "+base64.StdEncoding.EncodeToString([]byte(meta[k])))
	}
	return strings.Join(parts, ",")
}

func evidenceMeta(id, sum, filetype string) map[string]string {
	return map[string]string{"evidence_id": id, "sha256": sum, "filetype": filetype}
}

func hexSHA256(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// noiseJPEG is a real, decodable JPEG of random noise: noise does not
// compress, so a quality-100 encoding is about 2 bytes a pixel.
func noiseJPEG(t *testing.T, w, h int, seed int64) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	rand.New(rand.NewSource(seed)).Read(img.Pix)
	var b bytes.Buffer
	require.NoError(t, jpeg.Encode(&b, img, &jpeg.Options{Quality: 100}))
	return b.Bytes()
}

func writeTemp(t *testing.T, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(p, b, 0o600))
	return p
}

// blobStored reports whether the blob store holds a blob named sum.
func (e *evidenceEnv) blobStored(sum string) bool {
	if e.blobs != nil {
		return e.blobs.Exists(sum)
	}
	found := false
	_ = filepath.WalkDir(e.blobDir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasPrefix(d.Name(), sum) {
			found = true
		}
		return nil
	})
	return found
}

// uploadFiles lists what the tus store holds (uploads in progress): the
// files of the upload directory, and with the blobs in S3 the objects of
// the bucket's uploads area, its multipart uploads in progress (as
// "multipart:<id>") and any file left in the local directory (as
// "local:<name>", where nothing should stay).
func (e *evidenceEnv) uploadFiles() []string {
	e.t.Helper()
	entries, err := os.ReadDir(e.uploadDir)
	require.NoError(e.t, err)
	var names []string
	tg, inBucket := s3TargetOf(e.blobs)
	for _, d := range entries {
		if inBucket {
			names = append(names, "local:"+d.Name())
		} else {
			names = append(names, d.Name())
		}
	}
	if inBucket {
		objects, multipart := bucketUploads(e.t, tg)
		names = append(names, objects...)
		for _, m := range multipart {
			names = append(names, "multipart:"+m)
		}
	}
	return names
}

// unfinishedUploadFiles lists what the tus store holds but the marks of
// finished uploads.
func (e *evidenceEnv) unfinishedUploadFiles() []string {
	e.t.Helper()
	var names []string
	for _, n := range e.uploadFiles() {
		if !strings.HasSuffix(n, ".done") {
			names = append(names, n)
		}
	}
	return names
}

func problemCode(t *testing.T, r reply) string {
	t.Helper()
	return string(r.problem(t).Code)
}

// --- the Node.js client --------------------------------------------------------

// tusClient runs testdata/tusclient/upload.mjs (see internal/tusjs).
type tusClient struct{ *tusjs.Client }

type tusRun = tusjs.Run

// needTusClient finds node and the installed tus-js-client, or skips the test
// (fails it when FAVAD_REQUIRE_NODE is set, as in CI).
func needTusClient(t *testing.T) tusClient {
	t.Helper()
	c, err := tusjs.Find(filepath.Join("testdata", "tusclient"))
	if err != nil {
		if os.Getenv("FAVAD_REQUIRE_NODE") != "" {
			t.Fatal("FAVAD_REQUIRE_NODE is set but " + err.Error())
		}
		t.Skip("skipping the real-client tus test: " + err.Error())
	}
	return tusClient{c}
}

func (c tusClient) upload(t *testing.T, run tusRun) tusjs.Outcome {
	t.Helper()
	out := c.Upload(t, 20*time.Second, run)
	assert.Equal(t, out.OK, out.ExitOK, "exit status agrees with the outcome")
	return out
}

// --- proxies between the client and the server ------------------------------

// relayProxy listens on loopback and, for each connection it accepts, dials
// the server and hands the pair to serve. It keeps what the proxies of these
// tests share: the requests counted by method, and a close that cuts every
// connection and waits for the relays.
type relayProxy struct {
	ln     net.Listener
	target string
	serve  func(client, upstream net.Conn)

	mu      stdsync.Mutex // guards methods and conns, and the proxy's own counts
	methods map[string]int
	conns   []net.Conn
	wg      stdsync.WaitGroup
}

// start listens and begins accepting; the test's end closes the proxy.
func (p *relayProxy) start(t *testing.T, target string, serve func(client, upstream net.Conn)) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p.ln, p.target, p.serve, p.methods = ln, target, serve, map[string]int{}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
}

func (p *relayProxy) URL() string { return "http://" + p.ln.Addr().String() }

// methodCounts returns how many requests of each method went through.
func (p *relayProxy) methodCounts() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	m := map[string]int{}
	for k, v := range p.methods {
		m[k] = v
	}
	return m
}

func (p *relayProxy) close() {
	p.ln.Close()
	p.mu.Lock()
	for _, c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *relayProxy) accept() {
	defer p.wg.Done()
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		upstream, err := net.Dial("tcp", p.target)
		if err != nil {
			client.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, client, upstream)
		p.mu.Unlock()
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.serve(client, upstream)
		}()
	}
}

// cutProxy relays TCP between the client and the server, reading the HTTP/1.1
// requests it carries just enough to count the bytes of PATCH bodies; once,
// after cutAt of them, it kills the connection mid-body, like a mobile
// network dropping.
type cutProxy struct {
	relayProxy
	cutAt int64

	patched int64 // PATCH body bytes forwarded to the server
	cuts    int
}

var errCut = errors.New("cut")

func newCutProxy(t *testing.T, target string, cutAt int64) *cutProxy {
	t.Helper()
	p := &cutProxy{cutAt: cutAt}
	p.start(t, target, p.relay)
	return p
}

func (p *cutProxy) stats() (patched int64, cuts int, methods map[string]int) {
	methods = p.methodCounts()
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.patched, p.cuts, methods
}

func (p *cutProxy) relay(client, upstream net.Conn) {
	p.wg.Add(1)
	go func() { // responses: relayed as they are
		defer p.wg.Done()
		_, _ = io.Copy(client, upstream)
		client.Close()
		upstream.Close()
	}()
	err := p.relayRequests(bufio.NewReaderSize(client, 64<<10), upstream)
	if errors.Is(err, errCut) {
		// The bytes already relayed reach the server, then the end of
		// the stream; the client's side is reset under its feet.
		_ = upstream.(*net.TCPConn).CloseWrite()
		client.Close()
		return
	}
	client.Close()
	upstream.Close()
}

// relayRequests copies requests from client to server one at a time.
func (p *cutProxy) relayRequests(client *bufio.Reader, server net.Conn) error {
	for {
		var head bytes.Buffer
		method, length, chunked := "", int64(0), false
		for {
			line, err := client.ReadString('\n')
			if err != nil {
				return err
			}
			head.WriteString(line)
			if method == "" {
				method, _, _ = strings.Cut(line, " ")
				continue
			}
			field := strings.TrimRight(line, "\r\n")
			if field == "" {
				break
			}
			name, value, _ := strings.Cut(field, ":")
			switch strings.ToLower(strings.TrimSpace(name)) {
			case "content-length":
				if length, err = strconv.ParseInt(strings.TrimSpace(value), 10, 64); err != nil {
					return err
				}
			case "transfer-encoding":
				chunked = strings.Contains(strings.ToLower(value), "chunked")
			}
		}
		p.mu.Lock()
		p.methods[method]++
		p.mu.Unlock()
		if _, err := server.Write(head.Bytes()); err != nil {
			return err
		}
		patch := method == http.MethodPatch
		if !chunked {
			if err := p.relayBody(client, server, length, patch); err != nil {
				return err
			}
			continue
		}
		for { // chunked: size line, data, CRLF; a zero size ends it, then trailers
			line, err := client.ReadString('\n')
			if err != nil {
				return err
			}
			if _, err := io.WriteString(server, line); err != nil {
				return err
			}
			hexSize, _, _ := strings.Cut(strings.TrimRight(line, "\r\n"), ";")
			n, err := strconv.ParseInt(strings.TrimSpace(hexSize), 16, 64)
			if err != nil {
				return err
			}
			if n == 0 {
				break
			}
			if err := p.relayBody(client, server, n, patch); err != nil {
				return err
			}
			if err := p.relayBody(client, server, 2, false); err != nil {
				return err
			}
		}
		for {
			line, err := client.ReadString('\n')
			if err != nil {
				return err
			}
			if _, err := io.WriteString(server, line); err != nil {
				return err
			}
			if strings.TrimRight(line, "\r\n") == "" {
				break
			}
		}
	}
}

// relayBody copies n body bytes, counting them if they are a PATCH's, and
// returns errCut once the cut point is reached.
func (p *cutProxy) relayBody(client *bufio.Reader, server net.Conn, n int64, count bool) error {
	buf := make([]byte, 32<<10)
	for n > 0 {
		m, err := client.Read(buf[:min(int64(len(buf)), n)])
		chunk := buf[:m]
		cut := false
		if count && m > 0 {
			p.mu.Lock()
			if p.cuts == 0 && p.patched+int64(m) >= p.cutAt {
				chunk, cut = chunk[:p.cutAt-p.patched], true
				p.cuts++
			}
			p.patched += int64(len(chunk))
			p.mu.Unlock()
		}
		if _, werr := server.Write(chunk); werr != nil {
			return werr
		}
		if cut {
			return errCut
		}
		n -= int64(m)
		if err != nil {
			return err
		}
	}
	return nil
}

// --- the tests ---------------------------------------------------------------

// TestTusResumesAfterCutConnection: a ~3 MiB photo goes up in 1 MiB chunks
// through a link that drops once, 40% in; tus-js-client asks the server for
// its offset and sends only the rest.
func TestTusResumesAfterCutConnection(t *testing.T) {
	forEachBlobStore(t, testTusResumesAfterCutConnection)
}

func testTusResumesAfterCutConnection(t *testing.T, blobs blob.Store) {
	t.Parallel()
	client := needTusClient(t)
	logs := &lockedBuffer{}
	e := newEvidenceEnvOn(t, blobs, func(c *server.Config) { c.Logger = slog.New(slog.NewJSONHandler(logs, nil)) })
	complaint := e.assignedComplaint("CALL-TUS-1")
	field := e.login("field", "android-field-tus1").AccessToken

	photo := noiseJPEG(t, 1400, 1120, 1)
	require.Greater(t, len(photo), 5<<19, "the photo must be big enough for a few chunks")
	sum, size := hexSHA256(photo), int64(len(photo))
	id := v7()
	e.pushEvidence(field, 1, id, complaint, size, sum, "image/jpeg")
	ev, _ := e.evidence(field, id)
	require.Equal(t, "awaiting_upload", ev.Status)

	const chunk = 1 << 20
	proxy := newCutProxy(t, e.ts.Listener.Addr().String(), size*4/10)
	out := client.upload(t, tusRun{Endpoint: proxy.URL() + "/v1/uploads", File: writeTemp(t, "photo.jpg", photo), Token: field,
		Metadata: evidenceMeta(id, sum, "image/jpeg"), ChunkSize: chunk, RetryDelays: []int{0, 200, 500}})
	patched, cuts, methods := proxy.stats()
	require.True(t, out.OK, "the upload survives the cut: %+v", out)
	require.Equal(t, 1, cuts, "the link dropped once")
	assert.Equal(t, "stored", out.EvidenceStatus, "Favad-Evidence-Status on the last PATCH")
	assert.Equal(t, 1, methods[http.MethodPost], "one upload, resumed, not started again: %v", methods)
	assert.GreaterOrEqual(t, methods[http.MethodHead], 1, "the client asked the server for its offset: %v", methods)

	resent := patched - size
	t.Logf("resume: %d-byte photo in %d-byte chunks, cut after %d PATCH bytes; PATCH bytes forwarded %d, sent twice %d (%.2f%% of a chunk); requests %v",
		size, chunk, size*4/10, patched, resent, 100*float64(resent)/chunk, methods)
	assert.GreaterOrEqual(t, resent, int64(0))
	assert.Less(t, resent, int64(chunk), "a resume re-sends less than one chunk")

	ev, _ = e.evidence(field, id)
	assert.Equal(t, "stored", ev.Status)
	assert.Equal(t, "image/jpeg", ev.SniffedType)
	r := e.api(call{method: "GET", path: "/v1/evidence/" + id + "/content", token: field})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	assert.True(t, bytes.Equal(photo, r.body), "the stored bytes are the photo's (got %d bytes)", len(r.body))
	assert.True(t, e.blobStored(sum))
	assert.Equal(t, "arrival", storedLine(t, logs.String(), id)["hashed_from"], "the hash state outlived the cut")
	assert.Empty(t, e.unfinishedUploadFiles(), "the finished upload left nothing behind")
	assert.Len(t, e.uploadFiles(), 1, "but the mark that lets HEAD show it complete")
}

// TestTusUploadEitherOrder: the bytes may come before their record (the
// record is then stored on arrival) or after it.
func TestTusUploadEitherOrder(t *testing.T) {
	forEachBlobStore(t, testTusUploadEitherOrder)
}

func testTusUploadEitherOrder(t *testing.T, blobs blob.Store) {
	t.Parallel()
	client := needTusClient(t)
	e := newEvidenceEnvOn(t, blobs)
	complaint := e.assignedComplaint("CALL-TUS-2")
	field := e.login("field", "android-field-tus2").AccessToken
	endpoint := e.ts.URL + "/v1/uploads"

	t.Run("blob first", func(t *testing.T) {
		photo := noiseJPEG(t, 240, 180, 2)
		sum, id := hexSHA256(photo), v7()
		out := client.upload(t, tusRun{Endpoint: endpoint, File: writeTemp(t, "a.jpg", photo), Token: field, Metadata: evidenceMeta(id, sum, "image/jpeg")})
		require.True(t, out.OK, "%+v", out)
		assert.Equal(t, "awaiting_upload", out.EvidenceStatus, "the bytes wait for their record")
		assert.True(t, e.blobStored(sum))
		_, status := e.evidence(field, id)
		assert.Equal(t, http.StatusNotFound, status, "no record yet")

		e.pushEvidence(field, 1, id, complaint, int64(len(photo)), sum, "image/jpeg")
		ev, _ := e.evidence(field, id)
		assert.Equal(t, "stored", ev.Status, "the record finds its bytes")
		assert.NotNil(t, ev.StoredAt)
		assert.Equal(t, "image/jpeg", ev.SniffedType)
		r := e.api(call{method: "GET", path: "/v1/evidence/" + id + "/content", token: field})
		require.Equal(t, http.StatusOK, r.status)
		assert.True(t, bytes.Equal(photo, r.body))
	})

	t.Run("record first", func(t *testing.T) {
		photo := noiseJPEG(t, 240, 180, 3)
		sum, id := hexSHA256(photo), v7()
		e.pushEvidence(field, 2, id, complaint, int64(len(photo)), sum, "image/jpeg")
		ev, _ := e.evidence(field, id)
		assert.Equal(t, "awaiting_upload", ev.Status)
		assert.False(t, ev.MediaMissing)
		assert.Nil(t, ev.StoredAt)
		r := e.api(call{method: "GET", path: "/v1/evidence/" + id + "/content", token: field})
		assert.Equal(t, http.StatusNotFound, r.status, "no bytes to serve yet")

		out := client.upload(t, tusRun{Endpoint: endpoint, File: writeTemp(t, "b.jpg", photo), Token: field, Metadata: evidenceMeta(id, sum, "image/jpeg"),
			ChunkSize: 8 << 10})
		require.True(t, out.OK, "%+v", out)
		assert.Equal(t, "stored", out.EvidenceStatus)
		ev, _ = e.evidence(field, id)
		assert.Equal(t, "stored", ev.Status)
		assert.NotNil(t, ev.StoredAt)
		r = e.api(call{method: "GET", path: "/v1/evidence/" + id + "/content", token: field})
		require.Equal(t, http.StatusOK, r.status)
		assert.True(t, bytes.Equal(photo, r.body))
	})

	t.Run("checksum mismatch seen by the client", func(t *testing.T) {
		photo := noiseJPEG(t, 240, 180, 4)
		declared, id := hexSHA256([]byte("other bytes")), v7()
		e.pushEvidence(field, 3, id, complaint, int64(len(photo)), declared, "image/jpeg")
		out := client.upload(t, tusRun{Endpoint: endpoint, File: writeTemp(t, "c.jpg", photo), Token: field, Metadata: evidenceMeta(id, declared, "image/jpeg"),
			RetryDelays: []int{0, 100}})
		require.False(t, out.OK)
		assert.Equal(t, 460, out.Status, "%+v", out)
		assert.Contains(t, out.Body, "checksum_mismatch")
		ev, _ := e.evidence(field, id)
		assert.Equal(t, "rejected", ev.Status)
		assert.Contains(t, ev.Reason, hexSHA256(photo))
		assert.False(t, e.blobStored(hexSHA256(photo)))
		assert.False(t, e.blobStored(declared))
	})
	assert.Empty(t, e.unfinishedUploadFiles(), "finished and refused uploads leave nothing behind")
	assert.Len(t, e.uploadFiles(), 2, "but the marks of the two finished ones")
}

// TestUploadRefusals: what the server refuses, and that a refusal stores nothing.
func TestUploadRefusals(t *testing.T) {
	t.Parallel()
	e := newEvidenceEnv(t)
	complaint := e.assignedComplaint("CALL-TUS-3")
	field := e.login("field", "android-field-tus3").AccessToken
	field2 := e.login("field2", "android-field2-tus3").AccessToken
	photo := noiseJPEG(t, 64, 48, 5)
	sum, size := hexSHA256(photo), int64(len(photo))
	seq := uint64(0)
	next := func() uint64 { seq++; return seq }

	// refusedAtCreate: nothing reached the tus store.
	refusedAtCreate := func(t *testing.T, before []string) {
		t.Helper()
		assert.Equal(t, before, e.uploadFiles(), "a refusal at creation stores nothing")
	}

	t.Run("hash mismatch", func(t *testing.T) {
		declared, id := hexSHA256([]byte("not these bytes")), v7()
		e.pushEvidence(field, next(), id, complaint, size, declared, "image/jpeg")
		before := e.uploadFiles()
		r := e.tusUpload(field, photo, evidenceMeta(id, declared, "image/jpeg"))
		require.Equal(t, 460, r.status, "%s", r.body)
		assert.Equal(t, "checksum_mismatch", problemCode(t, r))
		assert.Empty(t, r.header.Get("Favad-Evidence-Status"))
		ev, _ := e.evidence(field, id)
		assert.Equal(t, "rejected", ev.Status)
		assert.Contains(t, ev.Reason, sum, "the reason names what the bytes hash to")
		assert.False(t, e.blobStored(sum))
		assert.False(t, e.blobStored(declared))
		assert.Equal(t, before, e.uploadFiles(), "the refused bytes are discarded")
	})

	t.Run("type refused at create", func(t *testing.T) {
		text := []byte("not a photo at all\n")
		id := v7()
		before := e.uploadFiles()
		r := e.tusCreate(field, int64(len(text)), evidenceMeta(id, hexSHA256(text), "text/plain"))
		require.Equal(t, http.StatusUnsupportedMediaType, r.status, "%s", r.body)
		assert.Equal(t, "unsupported_media_type", problemCode(t, r))
		refusedAtCreate(t, before)
		// The id was not claimed: another inspector may still use it.
		r = e.tusCreate(field2, size, evidenceMeta(id, sum, "image/jpeg"))
		assert.Equal(t, http.StatusCreated, r.status, "%s", r.body)
	})

	t.Run("type refused at finish", func(t *testing.T) {
		fake := append([]byte("GIF89a"), photo[6:]...) // declared a JPEG, is not one (nor anything allowed)
		fakeSum, id := hexSHA256(fake), v7()
		e.pushEvidence(field, next(), id, complaint, int64(len(fake)), fakeSum, "image/jpeg")
		before := e.uploadFiles()
		r := e.tusUpload(field, fake, evidenceMeta(id, fakeSum, "image/jpeg"))
		require.Equal(t, http.StatusUnsupportedMediaType, r.status, "%s", r.body)
		assert.Equal(t, "unsupported_media_type", problemCode(t, r))
		ev, _ := e.evidence(field, id)
		assert.Equal(t, "rejected", ev.Status)
		assert.NotEmpty(t, ev.Reason)
		assert.False(t, e.blobStored(fakeSum))
		assert.Equal(t, before, e.uploadFiles(), "the refused bytes are discarded")
	})

	t.Run("over the size limit", func(t *testing.T) {
		before := e.uploadFiles()
		r := e.tusCreate(field, favsync.DefaultEvidenceMaxSize+1, evidenceMeta(v7(), sum, "image/jpeg"))
		require.Equal(t, http.StatusRequestEntityTooLarge, r.status, "%s", r.body)
		assert.Equal(t, "too_large", problemCode(t, r))
		refusedAtCreate(t, before)
		r = e.tusCreate(field, favsync.DefaultEvidenceMaxSize, evidenceMeta(v7(), sum, "image/jpeg"))
		assert.Equal(t, http.StatusCreated, r.status, "at the limit is allowed: %s", r.body)
	})

	t.Run("another inspector's evidence", func(t *testing.T) {
		id := v7()
		e.pushEvidence(field, next(), id, complaint, size, sum, "image/jpeg")
		before := e.uploadFiles()
		r := e.tusCreate(field2, size, evidenceMeta(id, sum, "image/jpeg"))
		require.Equal(t, http.StatusForbidden, r.status, "%s", r.body)
		assert.Equal(t, "forbidden", problemCode(t, r))
		refusedAtCreate(t, before)

		// An id claimed by an upload whose record has not come is just as taken.
		claimed := v7()
		require.Equal(t, http.StatusCreated, e.tusCreate(field, size, evidenceMeta(claimed, sum, "image/jpeg")).status)
		before = e.uploadFiles()
		r = e.tusCreate(field2, size, evidenceMeta(claimed, sum, "image/jpeg"))
		require.Equal(t, http.StatusForbidden, r.status, "%s", r.body)
		refusedAtCreate(t, before)

		ev, _ := e.evidence(field, id)
		assert.Equal(t, "awaiting_upload", ev.Status)
	})

	t.Run("metadata", func(t *testing.T) {
		id := v7()
		for _, c := range []struct {
			name, field string
			meta        map[string]string
		}{
			{"no evidence_id", "Upload-Metadata", map[string]string{"sha256": sum, "filetype": "image/jpeg"}},
			{"no sha256", "Upload-Metadata", map[string]string{"evidence_id": id, "filetype": "image/jpeg"}},
			{"no filetype", "Upload-Metadata", map[string]string{"evidence_id": id, "sha256": sum}},
			{"evidence_id not a UUID", "evidence_id", evidenceMeta("photo-1", sum, "image/jpeg")},
			{"evidence_id in upper case", "evidence_id", evidenceMeta(strings.ToUpper(id), sum, "image/jpeg")},
			{"sha256 not 64 hex digits", "sha256", evidenceMeta(id, sum[:63], "image/jpeg")},
		} {
			before := e.uploadFiles()
			r := e.tusCreate(field, size, c.meta)
			require.Equal(t, http.StatusBadRequest, r.status, "%s: %s", c.name, r.body)
			p := r.problem(t)
			assert.Equal(t, "malformed", string(p.Code), c.name)
			require.Len(t, p.Errors, 1, c.name)
			assert.Equal(t, c.field, p.Errors[0].Field, c.name)
			refusedAtCreate(t, before)
		}
	})

	t.Run("record declares other bytes", func(t *testing.T) {
		id := v7()
		e.pushEvidence(field, next(), id, complaint, size, sum, "image/jpeg")
		other := hexSHA256([]byte("other bytes"))
		for _, c := range []struct {
			field  string
			length int64
			meta   map[string]string
		}{
			{"sha256", size, evidenceMeta(id, other, "image/jpeg")},
			{"size", size + 1, evidenceMeta(id, sum, "image/jpeg")},
			{"filetype", size, evidenceMeta(id, sum, "image/png")},
		} {
			before := e.uploadFiles()
			r := e.tusCreate(field, c.length, c.meta)
			require.Equal(t, http.StatusUnprocessableEntity, r.status, "%s: %s", c.field, r.body)
			p := r.problem(t)
			assert.Equal(t, "invalid", string(p.Code))
			require.NotEmpty(t, p.Errors)
			assert.Equal(t, c.field, p.Errors[0].Field)
			assert.NotEqual(t, p.Detail, p.Errors[0].Message, "the field says what is wrong with it, not the whole answer again")
			refusedAtCreate(t, before)
		}
	})

	t.Run("already stored", func(t *testing.T) {
		// Not refused: created finished (TestTusNewUploadOfStoredEvidenceFinishes).
		stored := noiseJPEG(t, 64, 48, 12) // its own bytes: the later cases check sum is not stored
		storedSum, storedSize, id := hexSHA256(stored), int64(len(stored)), v7()
		e.pushEvidence(field, next(), id, complaint, storedSize, storedSum, "image/jpeg")
		r := e.tusUpload(field, stored, evidenceMeta(id, storedSum, "image/jpeg"))
		require.Equal(t, http.StatusNoContent, r.status, "%s", r.body)
		before := e.unfinishedUploadFiles()
		r = e.tusCreate(field, storedSize, evidenceMeta(id, storedSum, "image/jpeg"))
		require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
		assert.Equal(t, strconv.FormatInt(storedSize, 10), r.header.Get("Upload-Offset"))
		assert.Equal(t, before, e.unfinishedUploadFiles(), "no upload waits for bytes")
	})

	t.Run("deferred length", func(t *testing.T) {
		before := e.uploadFiles()
		h := http.Header{"Tus-Resumable": {"1.0.0"}, "Upload-Defer-Length": {"1"}, "Upload-Metadata": {tusMetadata(evidenceMeta(v7(), sum, "image/jpeg"))}}
		r := e.do(call{method: "POST", path: "/v1/uploads", token: field, header: h, invalidRequest: true}) // the spec requires Upload-Length
		require.Equal(t, http.StatusBadRequest, r.status, "%s", r.body)
		p := r.problem(t)
		assert.Equal(t, "malformed", string(p.Code))
		require.Len(t, p.Errors, 1)
		assert.Equal(t, "Upload-Length", p.Errors[0].Field)
		refusedAtCreate(t, before)
	})

	t.Run("concatenation", func(t *testing.T) {
		for _, concat := range []string{"partial", "final;/v1/uploads/0123456789abcdef0123456789abcdef", "bogus"} {
			before := e.uploadFiles()
			h := http.Header{"Tus-Resumable": {"1.0.0"}, "Upload-Length": {strconv.FormatInt(size, 10)}, "Upload-Concat": {concat},
				"Upload-Metadata": {tusMetadata(evidenceMeta(v7(), sum, "image/jpeg"))}}
			r := e.api(call{method: "POST", path: "/v1/uploads", token: field, header: h})
			require.Equal(t, http.StatusBadRequest, r.status, "%s: %s", concat, r.body)
			p := r.problem(t)
			assert.Equal(t, "malformed", string(p.Code))
			require.Len(t, p.Errors, 1)
			assert.Equal(t, "Upload-Concat", p.Errors[0].Field)
			refusedAtCreate(t, before)
		}
	})

	t.Run("missing token", func(t *testing.T) {
		before := e.uploadFiles()
		r := e.tusCreate("", size, evidenceMeta(v7(), sum, "image/jpeg"))
		require.Equal(t, http.StatusUnauthorized, r.status, "%s", r.body)
		assert.Equal(t, "unauthorized", problemCode(t, r))
		refusedAtCreate(t, before)
	})

	t.Run("expired token", func(t *testing.T) { // last: it moves the clock
		id := v7()
		e.pushEvidence(field, next(), id, complaint, size, sum, "image/jpeg")
		e.clock.Advance(16 * time.Minute)
		before := e.uploadFiles()
		r := e.tusCreate(field, size, evidenceMeta(id, sum, "image/jpeg"))
		require.Equal(t, http.StatusUnauthorized, r.status, "%s", r.body)
		assert.Equal(t, "token_expired", problemCode(t, r))
		refusedAtCreate(t, before)
		ev, _ := e.evidence(e.token("field"), id)
		assert.Equal(t, "awaiting_upload", ev.Status)
		assert.False(t, e.blobStored(sum))
	})
}

// TestEvidenceRangeDownload: stored bytes are served in ranges, with their
// SHA-256 as the ETag.
func TestEvidenceRangeDownload(t *testing.T) {
	forEachBlobStore(t, testEvidenceRangeDownload)
}

func testEvidenceRangeDownload(t *testing.T, blobs blob.Store) {
	t.Parallel()
	e := newEvidenceEnvOn(t, blobs)
	complaint := e.assignedComplaint("CALL-TUS-4")
	field := e.login("field", "android-field-tus4").AccessToken
	photo := noiseJPEG(t, 120, 90, 6)
	sum, id := hexSHA256(photo), v7()
	e.pushEvidence(field, 1, id, complaint, int64(len(photo)), sum, "image/jpeg")
	r := e.tusUpload(field, photo, evidenceMeta(id, sum, "image/jpeg"))
	require.Equal(t, http.StatusNoContent, r.status, "%s", r.body)
	assert.Equal(t, "stored", r.header.Get("Favad-Evidence-Status"))

	path := "/v1/evidence/" + id + "/content"
	r = e.api(call{method: "GET", path: path, token: field, header: http.Header{"Range": {"bytes=100-199"}}})
	require.Equal(t, http.StatusPartialContent, r.status, "%s", r.body)
	assert.Equal(t, photo[100:200], r.body)
	assert.Equal(t, "bytes 100-199/"+strconv.Itoa(len(photo)), r.header.Get("Content-Range"))
	assert.Equal(t, `"`+sum+`"`, r.header.Get("ETag"))
	assert.Equal(t, "image/jpeg", r.header.Get("Content-Type"))

	r = e.api(call{method: "GET", path: path, token: field, header: http.Header{"If-None-Match": {`"` + sum + `"`}}})
	assert.Equal(t, http.StatusNotModified, r.status)

	// Dispatch reads it too; another inspector does not learn it exists.
	r = e.api(call{method: "GET", path: path, token: e.token("dispatcher"), header: http.Header{"Range": {"bytes=0-2"}}})
	require.Equal(t, http.StatusPartialContent, r.status)
	assert.Equal(t, photo[:3], r.body)
	r = e.api(call{method: "GET", path: path, token: e.token("field2")})
	assert.Equal(t, http.StatusNotFound, r.status)

	// HEAD answers GET's headers without the bytes (download managers
	// probe first); the same rules.
	r = e.api(call{method: "HEAD", path: path, token: field})
	require.Equal(t, http.StatusOK, r.status)
	assert.Empty(t, r.body)
	assert.Equal(t, strconv.Itoa(len(photo)), r.header.Get("Content-Length"))
	assert.Equal(t, `"`+sum+`"`, r.header.Get("ETag"))
	assert.Equal(t, "image/jpeg", r.header.Get("Content-Type"))
	r = e.api(call{method: "HEAD", path: path, token: e.token("field2")})
	assert.Equal(t, http.StatusNotFound, r.status)

	// Answers that are not the bytes are not cached as the bytes are.
	for _, h := range []http.Header{
		{"Range": {"bytes=-0"}}, // a zero-length suffix: unsatisfiable (RFC 9110 14.1.3)
		{"Range": {"bytes=-00, -0"}},
		{"Range": {"bytes=999999-"}},
		{"If-Match": {`"not-its-hash"`}},
	} {
		r = e.unchecked(call{method: "GET", path: path, token: field, header: h})
		want := http.StatusRequestedRangeNotSatisfiable
		if h.Get("If-Match") != "" {
			want = http.StatusPreconditionFailed
		}
		assert.Equal(t, want, r.status, "%v", h)
		assert.Equal(t, "no-store", r.header.Get("Cache-Control"), "%v", h)
		assert.Empty(t, r.header.Get("Content-Disposition"), "%v", h)
		if want == http.StatusRequestedRangeNotSatisfiable {
			assert.Equal(t, "bytes */"+strconv.Itoa(len(photo)), r.header.Get("Content-Range"), "%v", h)
		} else {
			assert.NotEqual(t, "image/jpeg", r.header.Get("Content-Type"), "no body: not the photo's type")
		}
	}
}

// TestUploadBelongsToItsCreator: an upload in progress is its creator's; its
// URL in another inspector's hands opens nothing.
func TestUploadBelongsToItsCreator(t *testing.T) {
	e := newEvidenceEnv(t)
	complaint := e.assignedComplaint("CALL-TUS-5")
	field := e.login("field", "android-field-tus5").AccessToken
	field2 := e.login("field2", "android-field2-tus5").AccessToken
	photo := noiseJPEG(t, 64, 48, 7)
	sum, id, size := hexSHA256(photo), v7(), int64(len(photo))
	r := e.tusCreate(field, size, evidenceMeta(id, sum, "image/jpeg"))
	require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
	loc := r.header.Get("Location")

	r = e.unchecked(call{method: "HEAD", path: strings.TrimPrefix(loc, e.ts.URL), token: field2, header: http.Header{"Tus-Resumable": {"1.0.0"}}})
	assert.Contains(t, []int{http.StatusForbidden, http.StatusNotFound}, r.status, "HEAD by another inspector")
	r = e.tusPatch(field2, loc, 0, photo[:10])
	assert.Contains(t, []int{http.StatusForbidden, http.StatusNotFound}, r.status, "PATCH by another inspector: %s", r.body)
	assert.Empty(t, r.header.Get("Favad-Evidence-Status"))

	// The creator's upload is untouched and completes.
	r = e.tusPatch(field, loc, 0, photo)
	require.Equal(t, http.StatusNoContent, r.status, "%s", r.body)
	e.pushEvidence(field, 1, id, complaint, size, sum, "image/jpeg")
	ev, _ := e.evidence(field, id)
	assert.Equal(t, "stored", ev.Status)
}
