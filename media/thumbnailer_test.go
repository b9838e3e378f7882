package media_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	stdsync "sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/favad/favad/inspector"
	"github.com/favad/favad/media"
	favsync "github.com/favad/favad/sync"
	"github.com/favad/favad/sync/blob"
)

var _ media.Queue = (*favsync.Store)(nil)

// thumbFixture is a real store with one field inspector holding one
// assigned complaint, a blob store and a thumbnails directory, all on disk.
type thumbFixture struct {
	dbPath    string
	store     *favsync.Store
	blobs     *blob.FS
	thumbs    string
	inspector inspector.User
	complaint string
	seq       uint64
	log       *syncBuffer
}

const fixtureDevice = "phone-1"

func newThumbFixture(tb testing.TB) *thumbFixture {
	tb.Helper()
	dir := tb.TempDir()
	f := &thumbFixture{dbPath: filepath.Join(dir, "favad.db"), blobs: &blob.FS{Dir: filepath.Join(dir, "blobs")},
		thumbs: filepath.Join(dir, "thumbs"), log: &syncBuffer{}}
	f.open(tb)
	admin, dispatcher := favsync.Actor{UserID: "admin-1"}, favsync.Actor{UserID: "dispatcher-1"}
	_, _, err := f.store.PutAgency(admin, inspector.Agency{Code: "SSO", NameFa: "سازمان تامین اجتماعی", NameEn: "Social Security Organization"})
	require.NoError(tb, err)
	_, _, err = f.store.PutOffice(admin, inspector.Office{Code: "QZ-SSO-01", AgencyCode: "SSO", NameFa: "شعبه یک تامین اجتماعی قزوین",
		Province: "قزوین", City: "قزوین", Phone: "028-33000101", Location: &inspector.Location{Lat: 36.279, Lng: 50.004},
		Hours: inspector.WorkingHours{Opens: "07:30", Closes: "14:30", Days: []string{"sat", "sun", "mon", "tue", "wed"}}})
	require.NoError(tb, err)
	f.inspector, err = f.store.CreateUser(admin, favsync.NewUser{Username: "ali", DisplayName: "علی", Role: inspector.RoleInspector,
		Mode: inspector.ModeField, Region: &inspector.Region{Province: "قزوین"}, PasswordHash: "$argon2id$v=19$fake"})
	require.NoError(tb, err)
	c, _, err := f.store.CreateComplaint(dispatcher, inspector.NewComplaint{CallID: "128-0001", Category: inspector.CategoryAbsentEmployee,
		Description: "کارمند باجه در محل کار نیست و مراجعین منتظرند", CallTime: time.Now().Add(-time.Hour),
		Caller: inspector.Caller{Name: "مریم احمدی", Phone: "09121234567"}, OfficeCode: "QZ-SSO-01", Priority: inspector.PriorityNormal})
	require.NoError(tb, err)
	_, err = f.store.Assign(dispatcher, c.ID, inspector.Routing{InspectorID: f.inspector.ID, Mode: inspector.ModeField})
	require.NoError(tb, err)
	f.complaint = c.ID
	tb.Cleanup(func() {
		if tb.Failed() {
			tb.Logf("thumbnailer log:\n%s", f.log.String())
		}
	})
	return f
}

// open opens (or reopens) the store; it is closed when the test ends.
func (f *thumbFixture) open(tb testing.TB) {
	tb.Helper()
	s, err := favsync.Open(f.dbPath, favsync.Options{})
	require.NoError(tb, err)
	f.store = s
	tb.Cleanup(func() { _ = s.Close() })
}

// evidence records a photo of data through the store's public API, as the
// server would: the device pushes the record, the bytes are adopted into the
// blob store (unless adopt is false) and attached.
func (f *thumbFixture) evidence(tb testing.TB, data []byte, adopt bool) inspector.Evidence {
	tb.Helper()
	sum := sha256.Sum256(data)
	sha := hex.EncodeToString(sum[:])
	if adopt {
		require.NoError(tb, f.blobs.Adopt(sha, writeFile(tb, "upload", data)))
	}
	id := uuid.Must(uuid.NewV7()).String()
	payload, err := json.Marshal(map[string]any{"complaint_id": f.complaint, "kind": "photo", "content_type": "image/jpeg",
		"size": len(data), "sha256": sha, "captured_at": time.Now().Add(-time.Minute)})
	require.NoError(tb, err)
	f.seq++
	res, _, err := f.store.Push(f.inspector, fixtureDevice, []favsync.Mutation{{ID: uuid.Must(uuid.NewV7()).String(), DeviceSeq: f.seq,
		Kind: favsync.MutEvidenceCreate, RecordID: id, DeviceTime: time.Now(), Payload: payload}})
	require.NoError(tb, err)
	require.Equal(tb, favsync.StatusApplied, res[0].Status, "%+v", res[0])
	e, err := f.store.AttachUpload(f.inspector, fixtureDevice, favsync.Upload{EvidenceID: id, SHA256: sha, Size: int64(len(data)),
		SniffedType: inspector.SniffType(data)})
	require.NoError(tb, err)
	require.Equal(tb, inspector.EvidenceStored, e.Status, e.Reason)
	return e
}

func (f *thumbFixture) thumbnailer() *media.Thumbnailer {
	return &media.Thumbnailer{Store: f.store, Blobs: f.blobs, Dir: f.thumbs,
		Logger: slog.New(slog.NewTextHandler(f.log, &slog.HandlerOptions{Level: slog.LevelDebug}))}
}

// run starts th.Run; the returned stop cancels it and waits for it to
// return, and is called when the test ends if not before.
func run(tb testing.TB, th *media.Thumbnailer, interval time.Duration) (stop func()) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		th.Run(ctx, interval)
	}()
	stop = func() {
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			tb.Fatal("Run did not return after its context was cancelled")
		}
	}
	tb.Cleanup(stop)
	return stop
}

// queued is the ids in the store's thumbnail queue.
func (f *thumbFixture) queued(tb testing.TB) []string {
	tb.Helper()
	jobs, err := f.store.ThumbnailJobs(1000)
	require.NoError(tb, err)
	ids := []string{}
	for _, e := range jobs {
		ids = append(ids, e.ID)
	}
	return ids
}

// requireQueueEmpty waits until the thumbnail queue is drained.
func (f *thumbFixture) requireQueueEmpty(tb testing.TB) {
	tb.Helper()
	require.Eventually(tb, func() bool { return len(f.queued(tb)) == 0 }, 10*time.Second, 10*time.Millisecond,
		"the thumbnail queue is drained")
}

func (f *thumbFixture) requireThumbnail(tb testing.TB, th *media.Thumbnailer, e inspector.Evidence, w, h int) {
	tb.Helper()
	got, err := f.store.Evidence(e.ID)
	require.NoError(tb, err)
	require.True(tb, got.Thumbnail, "evidence %s has a thumbnail", e.ID)
	file, err := th.Open(e.SHA256)
	require.NoError(tb, err)
	defer file.Close()
	var b bytes.Buffer
	_, err = b.ReadFrom(file)
	require.NoError(tb, err)
	requireJPEGSize(tb, b.Bytes(), w, h)
	assert.Equal(tb, filepath.Join(f.thumbs, e.SHA256[:2], e.SHA256+".jpg"), th.Path(e.SHA256))
}

func TestThumbnailerMakesThumbnails(t *testing.T) {
	t.Parallel()
	f := newThumbFixture(t)
	landscape := encodeJPEG(t, testImage(1200, 800))
	a := f.evidence(t, landscape, true)
	b := f.evidence(t, encodePNG(t, testImage(600, 900)), true)
	same := f.evidence(t, landscape, true) // the same bytes again: one thumbnail
	require.Len(t, f.queued(t), 3)

	th := f.thumbnailer()
	run(t, th, 20*time.Millisecond)
	f.requireQueueEmpty(t)

	f.requireThumbnail(t, th, a, 320, 213)
	f.requireThumbnail(t, th, b, 213, 320)
	f.requireThumbnail(t, th, same, 320, 213)
	entries, err := os.ReadDir(filepath.Dir(th.Path(a.SHA256)))
	require.NoError(t, err)
	assert.Len(t, entries, 1, "no temporary file is left, and equal bytes share a thumbnail")
}

func TestThumbnailerDropsImagesItCannotRead(t *testing.T) {
	t.Parallel()
	f := newThumbFixture(t)
	corrupt := f.evidence(t, append([]byte{0xFF, 0xD8, 0xFF, 0xE0}, bytes.Repeat([]byte("not a photo "), 100)...), true)
	missing := f.evidence(t, encodeJPEG(t, testImage(64, 64)), false) // bytes never reached the blob store
	good := f.evidence(t, encodeJPEG(t, testImage(100, 80)), true)

	th := f.thumbnailer()
	run(t, th, 20*time.Millisecond)
	f.requireQueueEmpty(t)

	for _, e := range []inspector.Evidence{corrupt, missing} {
		got, err := f.store.Evidence(e.ID)
		require.NoError(t, err)
		assert.False(t, got.Thumbnail, "evidence %s", e.ID)
		_, err = th.Open(e.SHA256)
		assert.ErrorIs(t, err, media.ErrNoThumbnail)
	}
	assert.Contains(t, f.log.String(), "bytes are missing from the blob store")
	f.requireThumbnail(t, th, good, 100, 80)
}

func TestThumbnailerRetriesPassingFailures(t *testing.T) {
	t.Parallel()
	f := newThumbFixture(t)
	data := encodeJPEG(t, testImage(640, 480))
	e := f.evidence(t, data, true)
	// Break the blob store: its shard directory becomes a file, so opening
	// the blob fails with "not a directory", which is no "not found".
	shard := filepath.Join(f.blobs.Dir, e.SHA256[:2])
	require.NoError(t, os.Rename(shard, shard+".away"))
	require.NoError(t, os.WriteFile(shard, nil, 0o600))

	th := f.thumbnailer()
	stop := run(t, th, 10*time.Millisecond)
	require.Eventually(t, func() bool { return bytes.Count([]byte(f.log.String()), []byte("will retry")) >= 3 },
		5*time.Second, 5*time.Millisecond, "the job is tried round after round")
	stop()
	assert.Equal(t, []string{e.ID}, f.queued(t), "the job stays queued")
	got, err := f.store.Evidence(e.ID)
	require.NoError(t, err)
	assert.False(t, got.Thumbnail)

	// The disk is repaired; the next Run makes the thumbnail.
	require.NoError(t, os.Remove(shard))
	require.NoError(t, os.Rename(shard+".away", shard))
	run(t, th, 10*time.Millisecond)
	f.requireQueueEmpty(t)
	f.requireThumbnail(t, th, e, 320, 240)
}

func TestThumbnailerStopsWhenCancelled(t *testing.T) {
	t.Parallel()
	f := newThumbFixture(t)
	th := f.thumbnailer()
	stop := run(t, th, time.Hour)
	time.Sleep(20 * time.Millisecond) // let it settle into waiting
	start := time.Now()
	stop()
	assert.Less(t, time.Since(start), time.Second)

	// A context already done: Run returns at once and takes no job.
	e := f.evidence(t, encodeJPEG(t, testImage(64, 64)), true)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	th.Run(ctx, time.Hour)
	assert.Equal(t, []string{e.ID}, f.queued(t))
}

func TestThumbnailerRestartPicksUpTheQueue(t *testing.T) {
	t.Parallel()
	f := newThumbFixture(t)
	var jobs []inspector.Evidence
	for _, w := range []int{400, 800, 1200} {
		jobs = append(jobs, f.evidence(t, encodeJPEG(t, testImage(w, w*3/4)), true))
	}
	require.NoError(t, f.store.Close()) // the server stops before any thumbnail is made

	f.open(t)
	th := f.thumbnailer()
	assert.Len(t, f.queued(t), 3, "the queue survived the restart")
	run(t, th, 20*time.Millisecond)
	f.requireQueueEmpty(t)
	for _, e := range jobs {
		f.requireThumbnail(t, th, e, 320, 240)
	}
}

func TestThumbnailerManyJobsAndConcurrentRuns(t *testing.T) {
	t.Parallel()
	// More jobs than one batch, worked by two Runs of one Thumbnailer.
	f := newThumbFixture(t)
	var jobs []inspector.Evidence
	for i := range 20 {
		jobs = append(jobs, f.evidence(t, encodePNG(t, testImage(32+i, 32)), true))
	}
	th := f.thumbnailer()
	th.MaxSide = 16
	run(t, th, time.Hour) // no waiting between full batches
	run(t, th, time.Hour)
	f.requireQueueEmpty(t)
	for _, e := range jobs {
		got, err := f.store.Evidence(e.ID)
		require.NoError(t, err)
		assert.True(t, got.Thumbnail)
	}
	f.requireThumbnail(t, th, jobs[0], 16, 16)
}

func TestThumbnailerOpen(t *testing.T) {
	t.Parallel()
	th := &media.Thumbnailer{Dir: t.TempDir()}
	for _, sha := range []string{"", "../../etc/passwd", "ABCDEF", "a1b2"} {
		assert.Equal(t, "", th.Path(sha), sha)
		_, err := th.Open(sha)
		assert.ErrorIs(t, err, media.ErrNoThumbnail, sha)
	}
	sha := hex.EncodeToString(make([]byte, 32))
	_, err := th.Open(sha)
	assert.ErrorIs(t, err, media.ErrNoThumbnail)
	assert.True(t, errors.Is(err, fs.ErrNotExist), "a missing thumbnail is fs.ErrNotExist too")
}

func TestThumbnailerValidate(t *testing.T) {
	t.Parallel()
	f := newThumbFixture(t)
	assert.NoError(t, f.thumbnailer().Validate())
	for name, th := range map[string]*media.Thumbnailer{
		"no store":     {Blobs: f.blobs, Dir: f.thumbs},
		"no blobs":     {Store: f.store, Dir: f.thumbs},
		"no dir":       {Store: f.store, Blobs: f.blobs},
		"negative max": {Store: f.store, Blobs: f.blobs, Dir: f.thumbs, MaxSide: -1},
	} {
		assert.Error(t, th.Validate(), name)
		th.Logger = slog.New(slog.NewTextHandler(f.log, nil))
		th.Run(context.Background(), time.Millisecond) // returns at once
	}
	assert.Contains(t, f.log.String(), "thumbnailer not started")
}

// syncBuffer is a log sink safe for the worker and the test to share.
type syncBuffer struct {
	mu stdsync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestThumbnailerRemovesHalfWrittenLeftovers: a crash while a thumbnail is
// written leaves a temporary file; the next Run removes it once it is old
// enough not to be another Run's work in progress.
func TestThumbnailerRemovesHalfWrittenLeftovers(t *testing.T) {
	t.Parallel()
	f := newThumbFixture(t)
	dir := filepath.Join(f.thumbs, "ab")
	require.NoError(t, os.MkdirAll(dir, 0o700))
	old, fresh, kept := filepath.Join(dir, ".tmp-123"), filepath.Join(dir, ".tmp-456"), filepath.Join(dir, strings.Repeat("ab", 32)+".jpg")
	for _, p := range []string{old, fresh, kept} {
		require.NoError(t, os.WriteFile(p, []byte("half"), 0o600))
	}
	long := time.Now().Add(-2 * time.Hour)
	require.NoError(t, os.Chtimes(old, long, long))
	require.NoError(t, os.Chtimes(kept, long, long))

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	f.thumbnailer().Run(ctx, time.Hour)
	assert.NoFileExists(t, old)
	assert.FileExists(t, fresh, "a recent temporary file may be another Run's")
	assert.FileExists(t, kept, "thumbnails stay")
}

// openCounter counts the opens of a blob store's bytes.
type openCounter struct {
	blob.Store
	opens atomic.Int32
}

func (o *openCounter) Open(sha string) (blob.File, int64, time.Time, error) {
	o.opens.Add(1)
	return o.Store.Open(sha)
}

// TestRemakeWithoutAWritableDirectory: a thumbnail that cannot be written
// (a file stands where its directory goes; a full disk is the same) is
// returned all the same, and kept in memory: asked again, it is not made
// from the photo again.
func TestRemakeWithoutAWritableDirectory(t *testing.T) {
	t.Parallel()
	f := newThumbFixture(t)
	e := f.evidence(t, encodeJPEG(t, testImage(1200, 800)), true)
	counter := &openCounter{Store: f.blobs}
	th := f.thumbnailer()
	th.Blobs = counter
	shard := filepath.Dir(th.Path(e.SHA256))
	require.NoError(t, os.MkdirAll(filepath.Dir(shard), 0o700))
	require.NoError(t, os.WriteFile(shard, []byte("not a directory"), 0o600))
	first, err := th.Remake(t.Context(), e)
	require.NoError(t, err)
	require.NotEmpty(t, first)
	again, err := th.Remake(t.Context(), e)
	require.NoError(t, err)
	assert.Equal(t, first, again)
	assert.EqualValues(t, 1, counter.opens.Load(), "made from the photo once")
	assert.Contains(t, f.log.String(), "thumbnail made again but not kept")
}
