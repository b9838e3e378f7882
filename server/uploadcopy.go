package server

import (
	"context"
	"io"
	"os"
	stdsync "sync"

	tusd "github.com/tus/tusd/v2/pkg/handler"
)

// largeReadStore is tusd's file store with one change: a PATCH body is read
// into the file in pieces of uploadCopyBuffer bytes instead of io.Copy's
// 32 KiB.
//
// tusd extends the connection's read and write deadlines after every read
// of the body (two timer updates and two clock reads), so the size of the
// reads sets how often that happens. With 32 KiB reads it and the extra
// system calls cost about a sixth of the server's CPU during fifty
// concurrent uploads (docs/benchmarks.md, "Evidence uploads").
type largeReadStore struct{ tusd.DataStore }

// uploadCopyBuffer is the size of one read of an upload's body. At most
// maxUploadCopyBuffers PATCHes hold one at a time (16 MiB in all); the rest
// copy as io.Copy does, so memory stays bounded however many phones upload.
const (
	uploadCopyBuffer     = 256 << 10
	maxUploadCopyBuffers = 64
)

var (
	uploadCopyBuffers = stdsync.Pool{New: func() any {
		b := make([]byte, uploadCopyBuffer)
		return &b
	}}
	uploadCopySlots = make(chan struct{}, maxUploadCopyBuffers)
)

func (s largeReadStore) NewUpload(ctx context.Context, info tusd.FileInfo) (tusd.Upload, error) {
	up, err := s.DataStore.NewUpload(ctx, info)
	if err != nil {
		return nil, err
	}
	return largeReadUpload{up}, nil
}

func (s largeReadStore) GetUpload(ctx context.Context, id string) (tusd.Upload, error) {
	up, err := s.DataStore.GetUpload(ctx, id)
	if err != nil {
		return nil, err
	}
	return largeReadUpload{up}, nil
}

type largeReadUpload struct{ tusd.Upload }

func (u largeReadUpload) WriteChunk(ctx context.Context, offset int64, src io.Reader) (int64, error) {
	return u.Upload.WriteChunk(ctx, offset, largeReader{src})
}

// largeReader makes io.Copy (which the file store calls) use a pooled
// uploadCopyBuffer: io.Copy prefers the source's WriteTo.
type largeReader struct{ r io.Reader }

func (l largeReader) Read(p []byte) (int, error) { return l.r.Read(p) }

func (l largeReader) WriteTo(dst io.Writer) (int64, error) {
	if f, ok := dst.(*os.File); ok {
		dst = &writebackFile{f: f}
	}
	// Both sides wrapped so that CopyBuffer uses the buffer given: an
	// *os.File's ReadFrom would copy through its own 32 KiB one.
	dst, src := struct{ io.Writer }{dst}, struct{ io.Reader }{l.r}
	select {
	case uploadCopySlots <- struct{}{}:
		defer func() { <-uploadCopySlots }()
	default:
		return io.Copy(dst, src)
	}
	bp := uploadCopyBuffers.Get().(*[]byte)
	defer uploadCopyBuffers.Put(bp)
	return io.CopyBuffer(dst, src, *bp)
}

// writebackEvery is how many bytes written to an upload's file start their
// writeback to disk (startWriteback) while the rest still arrives.
const writebackEvery = 1 << 20

// writebackFile is an upload's file that starts writing its pages to disk
// as the bytes come, so that the fsync which ends the upload finds little
// left to write: the disk works while the network does.
type writebackFile struct {
	f       *os.File
	pending int64
}

func (w *writebackFile) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	if w.pending += int64(n); w.pending >= writebackEvery {
		startWriteback(w.f)
		w.pending = 0
	}
	return n, err
}
