package server_test

// Benchmarks of evidence uploads over tus, against a raw loopback copy to
// disk measured in the same run (docs/benchmarks.md, "Evidence uploads"):
//
//	go test -run '^$' -bench 'Upload' -benchtime=3x ./server/
//
// BenchmarkUploadS3 does the single upload with the evidence in object
// storage (SeaweedFS, see internal/s3test), against a plain PutObject.
//
// BenchmarkUpload/single=64MiB sends one 64 MiB file the way a tus client
// does: a POST, then PATCHes of 8 MiB. BenchmarkUpload/concurrent=50x4MiB
// sends 50 files of 4 MiB at once, each its own evidence record and upload,
// and samples the heap while they run. Each iteration also sends the same
// bytes to the baseline server (an HTTP PUT whose handler io.Copy's the body
// to a file and fsyncs it), before or after the real server in turn. Only the
// uploads to the real server are timed in ns/op; the metrics compare the two.
// Writing the files and pushing their evidence.create records come before,
// untimed.
//
// The client lives in this process too. It streams every body from a file on
// disk (a section of an *os.File, the same way for both servers), so that
// the heap it adds is its connections' and copies' buffers, not the files.

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	stdsync "sync"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	apispec "github.com/favad/favad/api-spec"
	"github.com/favad/favad/inspector"
	"github.com/favad/favad/internal/s3test"
	"github.com/favad/favad/media"
	"github.com/favad/favad/server"
	"github.com/favad/favad/server/auth"
	favsync "github.com/favad/favad/sync"
	"github.com/favad/favad/sync/blob"
	"github.com/favad/favad/sync/blob/s3blob"
)

const (
	benchChunk       = 8 << 20   // PATCH size, as a client would choose
	benchMaxEvidence = 128 << 20 // the store's evidence limit, raised for the 64 MiB file
)

func BenchmarkUpload(b *testing.B) {
	b.Run("single=64MiB", func(b *testing.B) { benchUploads(b, newUploadBench(b, 64<<20), 1, 64<<20) })
	b.Run("concurrent=50x4MiB", func(b *testing.B) { benchUploads(b, newUploadBench(b, 4<<20), 50, 4<<20) })
}

// BenchmarkUploadS3 is BenchmarkUpload/single=64MiB with the evidence in
// object storage (docs/benchmarks.md, "Uploads to object storage"): the
// server keeps the upload in the bucket through tusd's s3store and adopts
// it by a server-side copy; the baseline is a plain PutObject (minio-go's
// defaults) of the same bytes, from this process, to the same SeaweedFS.
func BenchmarkUploadS3(b *testing.B) {
	for _, c := range []struct {
		name  string
		chunk int64
	}{{"single=64MiB", benchChunk}, {"single=64MiB/one_patch", 64 << 20}} {
		b.Run(c.name, func(b *testing.B) { benchUploadS3(b, c.chunk) })
	}
}

// benchUploadS3 is one 64 MiB upload in PATCHes of chunk bytes, to a
// server with its evidence in a bucket, against a plain PutObject.
func benchUploadS3(b *testing.B, chunk int64) {
	{
		const size = 64 << 20
		tg := s3test.New(b)
		blobs, err := s3blob.New(s3blob.Config{Endpoint: tg.Endpoint, Insecure: true, Region: tg.Region, PathStyle: true,
			Bucket: tg.Bucket, Prefix: tg.Prefix, AccessKey: tg.AccessKey, SecretKey: tg.SecretKey})
		if err != nil {
			b.Fatal(err)
		}
		if err := blobs.Check(context.Background()); err != nil {
			b.Fatal(err)
		}
		u := newUploadBenchOn(b, size, blobs)
		u.chunk = chunk
		client := tg.Client(b)
		u.rawSend = func(f srcFile) error {
			_, err := client.FPutObject(context.Background(), tg.Bucket, tg.Prefix+"/raw/"+filepath.Base(f.path), f.path,
				minio.PutObjectOptions{ContentType: "application/octet-stream"})
			return err
		}
		benchUploads(b, u, 1, size)
	}
}

// benchUploads runs b.N rounds of n concurrent uploads of size bytes, each
// round against the raw baseline and the real server, in alternating order.
func benchUploads(b *testing.B, u *uploadBench, n int, size int64) {
	var rawTime, srvTime time.Duration
	var rawHeap, srvHeap float64
	b.ResetTimer()
	b.StopTimer()
	for i := range b.N {
		files := u.makeFiles(n, size)
		u.pushEvidence(files)
		var rawD, srvD time.Duration
		raw := func() {
			var heap float64
			rawD, heap = u.round(files, u.rawSend, false)
			rawTime += rawD
			rawHeap = max(rawHeap, heap)
			u.clearRaw()
		}
		srv := func() {
			var heap float64
			srvD, heap = u.round(files, u.tusUpload, true)
			srvTime += srvD
			srvHeap = max(srvHeap, heap)
		}
		if i%2 == 0 {
			raw()
			srv()
		} else {
			srv()
			raw()
		}
		u.checkStored(files)
		mb := float64(int64(n)*size) / 1e6
		b.Logf("round %d of %d: raw %.0f MB/s, server %.0f MB/s, ratio %.2f", i+1, b.N, mb/rawD.Seconds(), mb/srvD.Seconds(), rawD.Seconds()/srvD.Seconds())
	}
	total := float64(int64(b.N) * int64(n) * size)
	srvRate, rawRate := total/1e6/srvTime.Seconds(), total/1e6/rawTime.Seconds()
	b.ReportMetric(srvRate, "MB/s")
	b.ReportMetric(rawRate, "raw_MB/s")
	b.ReportMetric(srvRate/rawRate, "ratio")
	if n > 1 {
		b.ReportMetric(srvHeap, "peak_heap_MiB")
		b.ReportMetric(rawHeap, "raw_peak_heap_MiB")
	}
}

// uploadBench is a real server on a real bbolt file, as in the kit's newEnv
// but with the evidence limit raised and EXIF reading on (as cmd/favad
// serves), beside the raw baseline server, both on 127.0.0.1.
type uploadBench struct {
	b         *testing.B
	store     *favsync.Store
	ts, raw   *httptest.Server
	rawDir    string
	srcDir    string
	client    *http.Client
	token     string // the field inspector's, on one device
	complaint string
	seq       uint64              // the device's last push sequence
	made      int                 // files made so far, for unique bytes
	head      []byte              // a real JPEG the files start with
	padding   []byte              // random bytes after it
	rawSend   func(srcFile) error // the baseline: rawUpload unless set
	chunk     int64               // PATCH size: benchChunk unless set
}

func newUploadBench(b *testing.B, size int64) *uploadBench {
	b.Helper()
	return newUploadBenchOn(b, size, &blob.FS{Dir: filepath.Join(b.TempDir(), "blobs")})
}

// newUploadBenchOn is newUploadBench with the evidence in blobs.
func newUploadBenchOn(b *testing.B, size int64, blobs blob.Store) *uploadBench {
	b.Helper()
	dir := b.TempDir()
	store, err := favsync.Open(filepath.Join(dir, "favad.db"), favsync.Options{EvidenceMaxSize: benchMaxEvidence})
	if err != nil {
		b.Fatal(err)
	}
	srv, err := server.New(server.Config{Store: store, Keys: auth.NewKeySet(), Spec: apispec.YAML,
		Blobs: blobs, UploadDir: filepath.Join(dir, "uploads"),
		ReadPhotoMeta: media.ReadPhotoMetaAt, Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)),
		LoginPerAccount: 1000, LoginPerAddress: 1000})
	if err != nil {
		b.Fatal(err)
	}
	u := &uploadBench{b: b, store: store, ts: httptest.NewServer(srv), rawDir: filepath.Join(dir, "raw"), srcDir: filepath.Join(dir, "src"),
		client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 100, DisableCompression: true}}}
	for _, d := range []string{u.rawDir, u.srcDir} {
		if err := os.Mkdir(d, 0o700); err != nil {
			b.Fatal(err)
		}
	}
	u.raw = httptest.NewServer(http.HandlerFunc(u.rawCopy))
	u.rawSend, u.chunk = u.rawUpload, benchChunk
	b.Cleanup(func() {
		u.client.CloseIdleConnections()
		u.ts.Close()
		u.raw.Close()
		store.Close()
	})

	u.head = benchJPEG(64, 48)
	u.padding = make([]byte, size)
	if _, err := crand.Read(u.padding); err != nil {
		b.Fatal(err)
	}
	u.seed()
	return u
}

// rawCopy is the baseline: the body copied to a new file, fsynced.
func (u *uploadBench) rawCopy(w http.ResponseWriter, r *http.Request) {
	f, err := os.CreateTemp(u.rawDir, "put-*")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	n, err := io.Copy(f, r.Body)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && n != r.ContentLength {
		err = fmt.Errorf("got %d of %d bytes", n, r.ContentLength)
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (u *uploadBench) clearRaw() {
	entries, err := os.ReadDir(u.rawDir)
	if err != nil {
		u.b.Fatal(err)
	}
	for _, e := range entries {
		os.Remove(filepath.Join(u.rawDir, e.Name()))
	}
}

// seed creates a dispatcher, a field inspector, an office and a complaint
// assigned to the inspector, and signs the inspector in.
func (u *uploadBench) seed() {
	b := u.b
	hash, err := auth.HashPassword(testPassword)
	if err != nil {
		b.Fatal(err)
	}
	region := &inspector.Region{Province: "قزوین"}
	users := map[string]inspector.User{}
	for _, n := range []favsync.NewUser{
		{Username: "dispatcher", DisplayName: "مریم احمدی", Role: inspector.RoleDispatcher, PasswordHash: hash},
		{Username: "field", DisplayName: "علی رضایی", Role: inspector.RoleInspector, Mode: inspector.ModeField, Region: region, PasswordHash: hash},
	} {
		usr, err := u.store.CreateUser(favsync.System, n)
		if err != nil {
			b.Fatal(err)
		}
		users[usr.Username] = usr
	}
	if _, _, err := u.store.PutAgency(favsync.System, inspector.Agency{Code: "SSO", NameFa: "سازمان تامین اجتماعی", NameEn: "Social Security Organization"}); err != nil {
		b.Fatal(err)
	}
	if _, _, err := u.store.PutOffice(favsync.System, inspector.Office{Code: "QZ-SSO-01", AgencyCode: "SSO", NameFa: "شعبه یک تامین اجتماعی قزوین",
		Province: "قزوین", City: "قزوین", Location: &inspector.Location{Lat: 36.279, Lng: 50.004},
		Hours: inspector.WorkingHours{Opens: "07:30", Closes: "14:30", Days: []string{"sat", "sun", "mon", "tue", "wed"}}}); err != nil {
		b.Fatal(err)
	}
	login := func(username string) string {
		var tk tokens
		u.jsonCall("POST", "/v1/auth/login", "", nil, map[string]string{"username": username, "password": testPassword, "device_id": "bench-" + username}, http.StatusOK, &tk)
		return tk.AccessToken
	}
	disp := login("dispatcher")
	u.token = login("field")
	var c struct {
		ID string `json:"id"`
	}
	u.jsonCall("POST", "/v1/complaints", disp, nil, intake("BENCH-UPLOAD", time.Now()), http.StatusCreated, &c)
	u.jsonCall("POST", "/v1/complaints/"+c.ID+"/assign", disp, nil, map[string]string{"inspector_id": users["field"].ID, "mode": "field"}, http.StatusOK, nil)
	u.complaint = c.ID
}

// jsonCall sends a JSON request to the real server and decodes the answer into out.
func (u *uploadBench) jsonCall(method, path, token string, header http.Header, body any, want int, out any) {
	u.b.Helper()
	payload, err := json.Marshal(body)
	if err != nil {
		u.b.Fatal(err)
	}
	req, err := http.NewRequest(method, u.ts.URL+path, bytes.NewReader(payload))
	if err != nil {
		u.b.Fatal(err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := u.client.Do(req)
	if err != nil {
		u.b.Fatal(err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		u.b.Fatal(err)
	}
	if resp.StatusCode != want {
		u.b.Fatalf("%s %s: %d, want %d: %s", method, path, resp.StatusCode, want, got)
	}
	if out != nil {
		if err := json.Unmarshal(got, out); err != nil {
			u.b.Fatalf("%s %s: %v: %s", method, path, err, got)
		}
	}
}

// srcFile is one file to upload, and its evidence record.
type srcFile struct {
	path, sum, id string
	size          int64
}

// makeFiles writes n files of size bytes: the JPEG, 8 bytes that make each
// file's hash its own, then random padding. It flushes them to disk, so that
// their writeback does not fall in a timed round.
func (u *uploadBench) makeFiles(n int, size int64) []srcFile {
	u.b.Helper()
	files := make([]srcFile, n)
	for i := range files {
		u.made++
		tag := binary.BigEndian.AppendUint64(nil, uint64(u.made))
		pad := u.padding[:size-int64(len(u.head)+len(tag))]
		h := sha256.New()
		h.Write(u.head)
		h.Write(tag)
		h.Write(pad)
		path := filepath.Join(u.srcDir, fmt.Sprintf("photo-%d.jpg", u.made))
		out, err := os.Create(path)
		if err != nil {
			u.b.Fatal(err)
		}
		for _, part := range [][]byte{u.head, tag, pad} {
			if _, err := out.Write(part); err != nil {
				u.b.Fatal(err)
			}
		}
		if err := out.Close(); err != nil {
			u.b.Fatal(err)
		}
		files[i] = srcFile{path: path, sum: hex.EncodeToString(h.Sum(nil)), id: v7(), size: size}
	}
	syscall.Sync()
	return files
}

// pushEvidence syncs the files' evidence.create records, in one push.
func (u *uploadBench) pushEvidence(files []srcFile) {
	u.b.Helper()
	now := time.Now()
	muts := make([]map[string]any, len(files))
	for i, f := range files {
		u.seq++
		muts[i] = mutation(u.seq, "evidence.create", f.id, 0, map[string]any{
			"complaint_id": u.complaint, "kind": "photo", "content_type": "image/jpeg", "size": f.size, "sha256": f.sum,
			"captured_at": now.Add(-time.Minute).UTC().Format(time.RFC3339),
		}, now)
	}
	var res pushJSON
	u.jsonCall("POST", "/v1/sync/push", u.token, syncHeaders, map[string]any{"mutations": muts}, http.StatusOK, &res)
	for _, r := range res.Results {
		if r.Status != "applied" {
			u.b.Fatalf("evidence.create: %+v", r)
		}
	}
}

// round sends the files at once with send, sampling the heap every 2 ms
// meanwhile; it returns the wall time and the peak growth of HeapInuse over
// its value after a GC before the round, in MiB. (Sys is not reported: it
// only grows, so after the first round it shows nothing.) A timed round runs
// under the benchmark's timer.
func (u *uploadBench) round(files []srcFile, send func(srcFile) error, timed bool) (time.Duration, float64) {
	u.b.Helper()
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	peak := before.HeapInuse
	stop, sampled := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(sampled)
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			peak = max(peak, m.HeapInuse)
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()

	errs := make([]error, len(files))
	var wg stdsync.WaitGroup
	if timed {
		u.b.StartTimer()
	}
	start := time.Now()
	for i, f := range files {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = send(f)
		}()
	}
	wg.Wait()
	d := time.Since(start)
	if timed {
		u.b.StopTimer()
	}
	close(stop)
	<-sampled
	for _, err := range errs {
		if err != nil {
			u.b.Fatal(err)
		}
	}
	return d, float64(peak-before.HeapInuse) / (1 << 20)
}

// send makes a request whose body is n bytes of the file at path from off,
// streamed from the file.
func (u *uploadBench) send(method, url string, header http.Header, path string, off, n int64) (*http.Response, error) {
	var body io.Reader
	if path != "" {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		// Read through a section, as a chunking client does: the transport
		// copies it through a buffer, for the baseline's PUT as for the
		// PATCHes (a bare *os.File would go out by sendfile).
		body = struct {
			io.Reader
			io.Closer
		}{io.NewSectionReader(f, off, n), f} // closed by the transport
	}
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		return nil, err
	}
	req.Header = header
	req.ContentLength = n
	resp, err := u.client.Do(req)
	if err != nil {
		return nil, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp, err
}

// rawUpload is the baseline: one PUT of the whole file.
func (u *uploadBench) rawUpload(f srcFile) error {
	resp, err := u.send("PUT", u.raw.URL+"/"+filepath.Base(f.path), http.Header{"Content-Type": {"application/octet-stream"}}, f.path, 0, f.size)
	if err == nil && resp.StatusCode != http.StatusNoContent {
		err = fmt.Errorf("raw PUT: %s", resp.Status)
	}
	return err
}

// tusUpload is what a tus client does: create the upload, then PATCH it in
// chunks. The last PATCH answers once the server has stored the bytes.
func (u *uploadBench) tusUpload(f srcFile) error {
	h := http.Header{"Authorization": {"Bearer " + u.token}, "Tus-Resumable": {"1.0.0"},
		"Upload-Length": {strconv.FormatInt(f.size, 10)}, "Upload-Metadata": {tusMetadata(evidenceMeta(f.id, f.sum, "image/jpeg"))}}
	resp, err := u.send("POST", u.ts.URL+"/v1/uploads", h, "", 0, 0)
	if err != nil {
		return err
	}
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusCreated || loc == "" {
		return fmt.Errorf("tus POST: %s, Location %q", resp.Status, loc)
	}
	for off := int64(0); off < f.size; off += u.chunk {
		n := min(u.chunk, f.size-off)
		h := http.Header{"Authorization": {"Bearer " + u.token}, "Tus-Resumable": {"1.0.0"},
			"Upload-Offset": {strconv.FormatInt(off, 10)}, "Content-Type": {"application/offset+octet-stream"}}
		resp, err := u.send("PATCH", loc, h, f.path, off, n)
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Upload-Offset") != strconv.FormatInt(off+n, 10) {
			return fmt.Errorf("tus PATCH at %d: %s, Upload-Offset %q", off, resp.Status, resp.Header.Get("Upload-Offset"))
		}
		if last := off+n == f.size; last && resp.Header.Get("Favad-Evidence-Status") != "stored" {
			return fmt.Errorf("last PATCH: Favad-Evidence-Status %q", resp.Header.Get("Favad-Evidence-Status"))
		}
	}
	return nil
}

// checkStored fails unless every file's evidence ended stored, with its hash.
func (u *uploadBench) checkStored(files []srcFile) {
	u.b.Helper()
	for _, f := range files {
		e, err := u.store.Evidence(f.id)
		if err != nil {
			u.b.Fatal(err)
		}
		if e.Status != inspector.EvidenceStored || e.SHA256 != f.sum || e.SniffedType != "image/jpeg" {
			u.b.Fatalf("evidence %s: status %s, sha256 %s, sniffed %q", f.id, e.Status, e.SHA256, e.SniffedType)
		}
		os.Remove(f.path)
	}
}

// benchJPEG is a small real JPEG of noise.
func benchJPEG(w, h int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	if _, err := crand.Read(img.Pix); err != nil {
		panic(err)
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); err != nil {
		panic(err)
	}
	return buf.Bytes()
}
