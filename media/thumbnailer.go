package media

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/favad/favad/inspector"
	"github.com/favad/favad/sync/blob"
)

// Queue is the thumbnail queue a Thumbnailer drains. The store's queue
// (*sync.Store) survives restarts: a job stays queued until ThumbnailDone.
type Queue interface {
	// ThumbnailJobs returns up to n evidence records waiting for a
	// thumbnail, always the same ones first while they wait.
	ThumbnailJobs(n int) ([]inspector.Evidence, error)
	// ThumbnailDone takes a job off the queue; made reports whether a
	// thumbnail now exists (false: none can be made, and no retry will help).
	ThumbnailDone(id string, made bool) error
}

const (
	// DefaultThumbnailInterval is how often Run looks for new jobs when it
	// is given no interval.
	DefaultThumbnailInterval = 10 * time.Second
	// thumbnailBatch is how many jobs one round takes.
	thumbnailBatch = 16
	// maxDeferred bounds the jobs left queued by failures that a round looks
	// past, so that a few jobs that keep failing cannot starve the rest.
	maxDeferred = 256
)

// ErrNoThumbnail is returned by Thumbnailer.Open when there is no thumbnail
// for the hash (or it is not a SHA-256). It matches fs.ErrNotExist.
var ErrNoThumbnail = fmt.Errorf("media: no thumbnail: %w", fs.ErrNotExist)

// Thumbnailer makes the thumbnails of stored photo evidence in the
// background: Run drains Store's thumbnail queue, reading each image from
// Blobs by its SHA-256 and writing <Dir>/<sha[:2]>/<sha>.jpg. A thumbnail is
// named by the hash of the bytes it shows, so evidence items with the same
// bytes share one, and one made before a crash is not made again.
//
// Store, Blobs and Dir are required; MaxSide defaults to DefaultMaxSide and
// Logger to slog.Default(). A Thumbnailer must not be copied after first use.
type Thumbnailer struct {
	Store   Queue
	Blobs   blob.Store
	Dir     string // thumbnails directory
	MaxSide int    // the longer side of a thumbnail, in pixels
	Logger  *slog.Logger

	mu      sync.Mutex
	busy    map[string]bool // hashes being worked on
	remakes chan struct{}   // slots of Remake, made at its first call
	// unkept holds the newest thumbnails Remake made but could not write (a
	// full or read-only disk), so that a page of photos asked for again is
	// not decoded again; at most unkeptMax, the oldest dropped first.
	unkept      map[string][]byte
	unkeptOrder []string
}

// unkeptMax bounds the thumbnails kept in memory (about 20 KB each).
const unkeptMax = 128

func (t *Thumbnailer) keepUnwritten(sha string, jpg []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.unkept == nil {
		t.unkept = map[string][]byte{}
	}
	if _, ok := t.unkept[sha]; ok {
		return
	}
	if len(t.unkeptOrder) == unkeptMax {
		delete(t.unkept, t.unkeptOrder[0])
		t.unkeptOrder = t.unkeptOrder[1:]
	}
	t.unkept[sha] = jpg
	t.unkeptOrder = append(t.unkeptOrder, sha)
}

func (t *Thumbnailer) unwritten(sha string) []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.unkept[sha]
}

// remakeSlots bounds the thumbnails Remake makes at once: a console opening
// a page of photos whose thumbnails were lost asks for many together.
const remakeSlots = 2

// Remake makes the thumbnail of e, one made before but missing now (the
// thumbnail directory stays on the node that made it, and a standby
// promoted after a failover has none), and returns it. It is kept in the
// directory for the next request if it can be; one that cannot be written
// (a full or read-only disk) is logged, kept in memory among the newest
// unkeptMax, and returned all the same. It waits
// its turn behind at most remakeSlots others and behind a Run working on
// the same bytes, until ctx is done. An image that cannot be thumbnailed,
// or bytes missing from the blob store, give an error matching
// ErrNoThumbnail; any other error is the blob store's.
func (t *Thumbnailer) Remake(ctx context.Context, e inspector.Evidence) ([]byte, error) {
	if err := t.Validate(); err != nil {
		return nil, err
	}
	p := t.Path(e.SHA256)
	if p == "" {
		return nil, fmt.Errorf("%w: evidence hash %q is not a SHA-256", ErrNoThumbnail, e.SHA256)
	}
	if jpg := t.unwritten(e.SHA256); jpg != nil {
		return jpg, nil
	}
	t.mu.Lock()
	if t.remakes == nil {
		t.remakes = make(chan struct{}, remakeSlots)
	}
	slots := t.remakes
	t.mu.Unlock()
	select {
	case slots <- struct{}{}:
		defer func() { <-slots }()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	for !t.claim(e.SHA256) { // Run is making it: it will be there
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	defer t.release(e.SHA256)
	if jpg, err := os.ReadFile(p); err == nil {
		return jpg, nil // made while this one waited
	}
	jpg, err := t.make(ctx, e)
	if err != nil {
		if permanent(err) {
			return nil, fmt.Errorf("%w: %w", ErrNoThumbnail, err)
		}
		return nil, err
	}
	if err := writeFileAtomic(p, jpg); err != nil {
		t.logger().Error("thumbnail made again but not kept", "evidence", e.ID, "sha256", e.SHA256, "err", err)
		t.keepUnwritten(e.SHA256, jpg)
		return jpg, nil
	}
	t.logger().Info("thumbnail made again", "evidence", e.ID, "sha256", e.SHA256)
	return jpg, nil
}

// Validate reports a Thumbnailer that lacks a required field.
func (t *Thumbnailer) Validate() error {
	switch {
	case t.Store == nil:
		return errors.New("media: thumbnailer: no queue (Store)")
	case t.Blobs == nil:
		return errors.New("media: thumbnailer: no blob store (Blobs)")
	case t.Dir == "":
		return errors.New("media: thumbnailer: no thumbnail directory (Dir)")
	case t.MaxSide < 0:
		return fmt.Errorf("media: thumbnailer: MaxSide %d is negative", t.MaxSide)
	}
	return nil
}

// Path returns where the thumbnail of the bytes with hash sha is kept, or ""
// if sha is not a lower-case hex SHA-256.
func (t *Thumbnailer) Path(sha string) string {
	if !inspector.ValidSHA256(sha) {
		return ""
	}
	return filepath.Join(t.Dir, sha[:2], sha+".jpg")
}

// Open opens the thumbnail (a JPEG) of the bytes with hash sha. It returns
// ErrNoThumbnail if there is none yet, or none can be made.
func (t *Thumbnailer) Open(sha string) (*os.File, error) {
	p := t.Path(sha)
	if p == "" {
		return nil, ErrNoThumbnail
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNoThumbnail
	}
	if err != nil {
		return nil, fmt.Errorf("media: open thumbnail: %w", err)
	}
	return f, nil
}

// Run makes thumbnails until ctx is done, looking for jobs every interval
// (DefaultThumbnailInterval if interval <= 0) and at once again after a full
// batch. A job whose image cannot be thumbnailed (an unsupported type, a
// corrupt or oversized image, missing bytes) is taken off the queue with no
// thumbnail; one that failed for a passing reason (the blob store or the disk
// failing) stays queued for the next round. Run returns promptly when ctx is
// done, leaving unfinished jobs queued; the caller waits for it before
// closing the store. If the Thumbnailer is invalid Run logs why and returns.
//
// Run may be called more than once at a time; no two calls work on the same
// bytes at once.
func (t *Thumbnailer) Run(ctx context.Context, interval time.Duration) {
	if err := t.Validate(); err != nil {
		t.logger().Error("thumbnailer not started", "error", err)
		return
	}
	if interval <= 0 {
		interval = DefaultThumbnailInterval
	}
	t.removeStaleTemps(time.Now().Add(-staleTempAge))
	tick := time.NewTicker(interval)
	defer tick.Stop()
	deferred := 0
	for {
		var more bool
		more, deferred = t.round(ctx, deferred)
		if ctx.Err() != nil {
			return
		}
		if more {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// staleTempAge is how old a temporary file in the thumbnail directory must be
// to be taken for a crash's leftover: another Run may be writing a newer one.
const staleTempAge = time.Hour

// removeStaleTemps removes the temporary files that a crash in the middle of
// writeFileAtomic left behind, modified before cutoff.
func (t *Thumbnailer) removeStaleTemps(cutoff time.Time) {
	err := filepath.WalkDir(t.Dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && path == t.Dir {
				return filepath.SkipDir // no thumbnails yet
			}
			return err
		}
		if d.IsDir() || !strings.HasPrefix(d.Name(), tempPrefix) {
			return nil
		}
		info, err := d.Info()
		if err != nil || info.ModTime().After(cutoff) {
			return nil
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		t.logger().Info("removed a thumbnail left half-written", "file", path)
		return nil
	})
	if err != nil {
		t.logger().Warn("look for half-written thumbnails", "error", err)
	}
}

// outcome is what became of one job.
type outcome int

const (
	jobDone  outcome = iota // off the queue
	jobRetry                // left queued after a passing failure
	jobBusy                 // another Run has its bytes
)

// round works through one batch of jobs. It asks for as many more jobs as
// the last round left queued, so that those cannot hold back new ones. It
// returns whether the batch was full and made progress (more may be
// waiting) and how many jobs it left queued.
func (t *Thumbnailer) round(ctx context.Context, deferred int) (more bool, left int) {
	n := thumbnailBatch + min(deferred, maxDeferred)
	jobs, err := t.Store.ThumbnailJobs(n)
	if err != nil {
		t.logger().Error("read thumbnail queue", "error", err)
		return false, deferred
	}
	done := 0
	for _, e := range jobs {
		if ctx.Err() != nil {
			return false, left
		}
		switch t.job(ctx, e) {
		case jobDone:
			done++
		case jobRetry:
			left++
		}
	}
	return len(jobs) == n && done > 0, left
}

// job makes the thumbnail of one evidence item and settles its job.
func (t *Thumbnailer) job(ctx context.Context, e inspector.Evidence) outcome {
	if !t.claim(e.SHA256) {
		return jobBusy
	}
	defer t.release(e.SHA256)
	log := t.logger().With("evidence", e.ID, "sha256", e.SHA256)
	made, err := t.thumbnail(ctx, e)
	switch {
	case err != nil && ctx.Err() != nil:
		return jobRetry
	case err != nil && !permanent(err):
		log.Warn("thumbnail failed; will retry", "error", err)
		return jobRetry
	case errors.Is(err, blob.ErrNotFound):
		log.Error("no thumbnail: the evidence's bytes are missing from the blob store", "error", err)
	case err != nil:
		log.Warn("no thumbnail for this evidence", "type", e.SniffedType, "error", err)
	}
	if err := t.Store.ThumbnailDone(e.ID, made); err != nil {
		log.Error("settle thumbnail job; will retry", "error", err)
		return jobRetry
	}
	return jobDone
}

// permanent reports whether a job that failed with err can never succeed.
func permanent(err error) bool {
	return errors.Is(err, ErrUnsupported) || errors.Is(err, ErrTooLarge) || errors.Is(err, ErrMalformed) ||
		errors.Is(err, blob.ErrNotFound)
}

// thumbnail writes the thumbnail of e unless it exists, and reports whether it
// does now.
func (t *Thumbnailer) thumbnail(ctx context.Context, e inspector.Evidence) (bool, error) {
	p := t.Path(e.SHA256)
	if p == "" {
		return false, fmt.Errorf("%w: evidence hash %q is not a SHA-256", ErrMalformed, e.SHA256)
	}
	if _, err := os.Stat(p); err == nil {
		return true, nil
	}
	jpg, err := t.make(ctx, e)
	if err != nil {
		return false, err
	}
	if err := writeFileAtomic(p, jpg); err != nil {
		return false, fmt.Errorf("write thumbnail: %w", err)
	}
	return true, nil
}

// make makes the thumbnail of e from its bytes in the blob store.
func (t *Thumbnailer) make(ctx context.Context, e inspector.Evidence) ([]byte, error) {
	f, _, _, err := t.Blobs.Open(e.SHA256)
	if err != nil {
		return nil, fmt.Errorf("open blob: %w", err)
	}
	defer f.Close()
	ct := e.SniffedType
	if ct == "" {
		ct = e.ContentType
	}
	maxSide := t.MaxSide
	if maxSide <= 0 {
		maxSide = DefaultMaxSide
	}
	return Thumbnail(ctxReader{ctx, f}, ct, maxSide)
}

// claim marks the bytes with hash sha as being worked on; false if they are.
func (t *Thumbnailer) claim(sha string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.busy[sha] {
		return false
	}
	if t.busy == nil {
		t.busy = map[string]bool{}
	}
	t.busy[sha] = true
	return true
}

func (t *Thumbnailer) release(sha string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.busy, sha)
}

func (t *Thumbnailer) logger() *slog.Logger {
	if t.Logger != nil {
		return t.Logger
	}
	return slog.Default()
}

// ctxReader stops reading when its context is done, so that a long decode
// ends soon after shutdown begins.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// tempPrefix starts the name of a thumbnail being written.
const tempPrefix = ".tmp-"

// writeFileAtomic writes data to path durably and all at once: to a
// temporary file in the same directory, synced, renamed over path, and the
// directory synced. A reader sees the whole file or none.
func writeFileAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, tempPrefix+"*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
