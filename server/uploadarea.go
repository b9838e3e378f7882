package server

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
	"time"

	"github.com/tus/tusd/v2/pkg/filestore"
	tusd "github.com/tus/tusd/v2/pkg/handler"

	"github.com/favad/favad/inspector"
	"github.com/favad/favad/sync/blob"
)

// uploadArea is where uploads in progress are kept, with the server's own
// small objects beside tusd's (<id>.sha256, the hash state between chunks;
// <id>.done, a finished upload's marker): the upload directory on the local
// disk (tusd's filestore), or, when the blob store is in object storage,
// its bucket (tusd's s3store, diskArea's directory then holding only
// s3store's temporary part files).
type uploadArea interface {
	// store is the tus data store of the uploads' bytes.
	store() tusd.DataStore
	// read returns the small object name, or errNoObject.
	read(ctx context.Context, name string) ([]byte, error)
	write(ctx context.Context, name string, b []byte) error
	remove(ctx context.Context, names ...string)
	// bootBound says whether a hash state holds only within one boot of the
	// machine (see readBootID).
	bootBound() bool
	// finished is the upload of info, whose last byte has arrived, as the
	// finish hook reads and stores it.
	finished(ctx context.Context, info tusd.FileInfo) finishedUpload
	// sweep removes uploads idle since before cutoff, finished ones too.
	sweep(ctx context.Context, cutoff time.Time, log *slog.Logger)
}

// errNoObject is uploadArea.read's answer for a missing object.
var errNoObject = errors.New("server: no such upload object")

// finishedUpload is an upload whose bytes have all arrived.
type finishedUpload interface {
	// head returns the first bytes, enough to sniff the type.
	head() ([]byte, error)
	// hash streams the bytes through SHA-256.
	hash() (string, error)
	// photo reads the image's EXIF with read.
	photo(read func(io.ReaderAt, int64) (*inspector.PhotoMeta, error)) (*inspector.PhotoMeta, error)
	// adopt moves the bytes, verified to hash to sum, into the blob store.
	adopt(sum string) error
	// markHeld keeps the upload visible as finished (<id>.done) and
	// removes the rest of it.
	markHeld() error
	// forget removes the upload's info and hash state once its bytes are
	// adopted (a refusal after adoption: nothing to resume).
	forget()
	// discard removes everything of the upload.
	discard()
}

// uploadObjects is what the server needs of a blob store in object storage
// to keep uploads in progress in its bucket (package s3blob's Store).
type uploadObjects interface {
	blob.ObjectAdopter
	// UploadStore is the tus data store of uploads in the bucket, with its
	// temporary files in tempDir.
	UploadStore(tempDir string) tusd.DataStore
	// GetUploadObject returns a small object beside the uploads, or blob.ErrNotFound.
	GetUploadObject(ctx context.Context, name string) ([]byte, error)
	PutUploadObject(ctx context.Context, name string, b []byte) error
	RemoveUploadObjects(ctx context.Context, names ...string) error
	// RemoveUpload aborts and deletes the upload id, with the objects extra.
	RemoveUpload(ctx context.Context, id string, extra ...string) error
	// OpenUpload streams a finished upload's object from off.
	OpenUpload(ctx context.Context, id string, off int64) (io.ReadCloser, error)
	// SweepUploads removes uploads idle since before cutoff.
	SweepUploads(ctx context.Context, cutoff time.Time, removed func(id string, idleSince time.Time)) error
}

// newUploadArea is the bucket's when the blob store keeps uploads, else dir's.
func newUploadArea(blobs blob.Store, dir string) uploadArea {
	if objs, ok := blobs.(uploadObjects); ok {
		return &bucketArea{objs: objs, tempDir: dir}
	}
	return &diskArea{dir: dir, blobs: blobs}
}

// --- on the local disk ------------------------------------------------------

type diskArea struct {
	dir   string
	blobs blob.Store
}

func (a *diskArea) store() tusd.DataStore {
	return largeReadStore{filestore.New(a.dir)}
}

func (a *diskArea) read(_ context.Context, name string) ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(a.dir, name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errNoObject
	}
	return b, err
}

func (a *diskArea) write(_ context.Context, name string, b []byte) error {
	return os.WriteFile(filepath.Join(a.dir, name), b, 0o600)
}

func (a *diskArea) remove(_ context.Context, names ...string) {
	for _, n := range names {
		os.Remove(filepath.Join(a.dir, n))
	}
}

// bootBound: a hash state saved after a chunk covers bytes that may still
// be only in the page cache; a crash of the machine can lose them.
func (a *diskArea) bootBound() bool { return true }

func (a *diskArea) finished(_ context.Context, info tusd.FileInfo) finishedUpload {
	return &diskFinished{a: a, path: info.Storage["Path"]}
}

func (a *diskArea) sweep(_ context.Context, cutoff time.Time, log *slog.Logger) {
	// Finished uploads stay visible to HEAD for as long as an unfinished one
	// would wait for its phone.
	held, _ := filepath.Glob(filepath.Join(a.dir, "*"+heldSuffix))
	for _, f := range held {
		if st, err := os.Stat(f); err == nil && st.ModTime().Before(cutoff) {
			os.Remove(f)
		}
	}
	infos, err := filepath.Glob(filepath.Join(a.dir, "*.info"))
	if err != nil {
		return
	}
	for _, info := range infos {
		bin := strings.TrimSuffix(info, ".info")
		newest := time.Time{}
		for _, f := range []string{info, bin} {
			if st, err := os.Stat(f); err == nil && st.ModTime().After(newest) {
				newest = st.ModTime()
			}
		}
		if newest.Before(cutoff) {
			os.Remove(bin)
			os.Remove(info)
			os.Remove(bin + hashStateSuffix)
			log.Info("removed a stale incomplete upload", "upload", filepath.Base(bin), "idle_since", newest)
		}
	}
}

// diskFinished is a finished upload's file.
type diskFinished struct {
	a    *diskArea
	path string
}

func (f *diskFinished) head() ([]byte, error) { return readHead(f.path) }

func (f *diskFinished) hash() (string, error) { return blob.HashFile(f.path) }

func (f *diskFinished) photo(read func(io.ReaderAt, int64) (*inspector.PhotoMeta, error)) (*inspector.PhotoMeta, error) {
	file, err := os.Open(f.path)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	st, err := file.Stat()
	if err != nil {
		return nil, err
	}
	return read(file, st.Size())
}

func (f *diskFinished) adopt(sum string) error { return f.a.blobs.Adopt(sum, f.path) }

// markHeld turns the upload's .info into its .done.
func (f *diskFinished) markHeld() error {
	os.Remove(f.path + hashStateSuffix)
	if err := os.Rename(f.path+".info", f.path+heldSuffix); err != nil {
		return err
	}
	now := time.Now() // its idle time, for the janitor, starts now
	return os.Chtimes(f.path+heldSuffix, now, now)
}

func (f *diskFinished) forget() {
	os.Remove(f.path + ".info")
	os.Remove(f.path + hashStateSuffix)
}

func (f *diskFinished) discard() {
	os.Remove(f.path)
	f.forget()
}

// --- in the bucket ----------------------------------------------------------

type bucketArea struct {
	objs    uploadObjects
	tempDir string
}

func (a *bucketArea) store() tusd.DataStore { return a.objs.UploadStore(a.tempDir) }

func (a *bucketArea) read(ctx context.Context, name string) ([]byte, error) {
	b, err := a.objs.GetUploadObject(ctx, name)
	if errors.Is(err, blob.ErrNotFound) {
		return nil, errNoObject
	}
	return b, err
}

func (a *bucketArea) write(ctx context.Context, name string, b []byte) error {
	return a.objs.PutUploadObject(ctx, name, b)
}

func (a *bucketArea) remove(ctx context.Context, names ...string) {
	_ = a.objs.RemoveUploadObjects(ctx, names...)
}

// bootBound: no. The boot check is a concern of the local page cache only;
// a hash state in the bucket covers parts S3 acknowledged, which no crash
// of this machine loses, and another node (a promoted standby) carries on
// from it.
func (a *bucketArea) bootBound() bool { return false }

func (a *bucketArea) finished(ctx context.Context, info tusd.FileInfo) finishedUpload {
	return &bucketFinished{a: a, ctx: ctx, info: info}
}

func (a *bucketArea) sweep(ctx context.Context, cutoff time.Time, log *slog.Logger) {
	err := a.objs.SweepUploads(ctx, cutoff, func(id string, idle time.Time) {
		log.Info("removed a stale upload from the bucket", "upload", id, "idle_since", idle)
	})
	if err != nil {
		log.Error("sweep the uploads in the bucket", "error", err)
	}
}

// bucketFinished is a finished upload's object: read by ranged GETs, its
// first bucketHeadSize bytes fetched once for the type sniff and the EXIF.
type bucketFinished struct {
	a      *bucketArea
	ctx    context.Context
	info   tusd.FileInfo
	cached []byte // the object's first bytes, once read
}

// bucketHeadSize covers the EXIF a photo's reader looks at (media's
// MaxExifBytes and the segments before it) in one GET.
const bucketHeadSize = 320 << 10

func (f *bucketFinished) headBytes() ([]byte, error) {
	if f.cached != nil {
		return f.cached, nil
	}
	body, err := f.a.objs.OpenUpload(f.ctx, f.info.ID, 0)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	b, err := io.ReadAll(io.LimitReader(body, bucketHeadSize))
	if err != nil {
		return nil, err
	}
	f.cached = b
	return b, nil
}

func (f *bucketFinished) head() ([]byte, error) {
	b, err := f.headBytes()
	if err != nil {
		return nil, err
	}
	return b[:min(len(b), 512)], nil
}

func (f *bucketFinished) hash() (string, error) {
	body, err := f.a.objs.OpenUpload(f.ctx, f.info.ID, 0)
	if err != nil {
		return "", err
	}
	defer body.Close()
	return blob.HashReader(body)
}

func (f *bucketFinished) photo(read func(io.ReaderAt, int64) (*inspector.PhotoMeta, error)) (*inspector.PhotoMeta, error) {
	return read(f, f.info.Size)
}

// ReadAt serves the first bytes from the one GET of headBytes, the rest by
// a ranged GET each.
func (f *bucketFinished) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("negative offset %d", off)
	}
	head, err := f.headBytes()
	if err != nil {
		return 0, err
	}
	if off+int64(len(p)) <= int64(len(head)) {
		return copy(p, head[off:]), nil
	}
	if off >= f.info.Size {
		return 0, io.EOF
	}
	body, err := f.a.objs.OpenUpload(f.ctx, f.info.ID, off)
	if err != nil {
		return 0, err
	}
	defer body.Close()
	n, err := io.ReadFull(body, p)
	if errors.Is(err, io.ErrUnexpectedEOF) {
		err = io.EOF
	}
	return n, err
}

func (f *bucketFinished) adopt(sum string) error {
	return f.a.objs.AdoptObject(f.ctx, sum, f.info.Storage["Key"])
}

// markHeld writes the upload's .done, then removes its .info and state.
func (f *bucketFinished) markHeld() error {
	b, err := heldInfo(f.info)
	if err != nil {
		return err
	}
	if err := f.a.write(f.ctx, f.info.ID+heldSuffix, b); err != nil {
		return err
	}
	f.forget()
	return nil
}

func (f *bucketFinished) forget() {
	f.a.remove(f.ctx, f.info.ID+".info", f.info.ID+hashStateSuffix)
}

func (f *bucketFinished) discard() {
	_ = f.a.objs.RemoveUpload(f.ctx, f.info.ID, f.info.ID+hashStateSuffix)
}
