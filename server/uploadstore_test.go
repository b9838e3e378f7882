package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	tusd "github.com/tus/tusd/v2/pkg/handler"
)

// memArea is an upload area whose small objects are in memory.
type memArea struct{ objects map[string][]byte }

func (a *memArea) store() tusd.DataStore { return nil }
func (a *memArea) read(_ context.Context, name string) ([]byte, error) {
	b, ok := a.objects[name]
	if !ok {
		return nil, errNoObject
	}
	return b, nil
}
func (a *memArea) write(_ context.Context, name string, b []byte) error {
	a.objects[name] = b
	return nil
}
func (a *memArea) remove(_ context.Context, names ...string) {
	for _, n := range names {
		delete(a.objects, n)
	}
}
func (a *memArea) bootBound() bool                                        { return false }
func (a *memArea) finished(context.Context, tusd.FileInfo) finishedUpload { return nil }
func (a *memArea) sweep(context.Context, time.Time, *slog.Logger)         {}

// partStore keeps a chunk in parts of partSize bytes, read through a
// LimitReader as s3store does, and drops a part cut short by an error.
type partStore struct {
	partSize int64
	kept     []byte
	size     int64
}

func (u *partStore) GetInfo(context.Context) (tusd.FileInfo, error) {
	return tusd.FileInfo{ID: "u", Size: u.size, Offset: int64(len(u.kept))}, nil
}
func (u *partStore) GetReader(context.Context) (io.ReadCloser, error) { return nil, errors.New("no") }
func (u *partStore) FinishUpload(context.Context) error               { return nil }
func (u *partStore) WriteChunk(_ context.Context, _ int64, src io.Reader) (int64, error) {
	var n int64
	for {
		var part bytes.Buffer
		m, err := io.Copy(&part, io.LimitReader(src, u.partSize))
		if err != nil {
			return n, err // the part read so far is dropped
		}
		if m == 0 {
			return n, nil
		}
		u.kept = append(u.kept, part.Bytes()...)
		n += m
	}
}

// cutReader yields b, then fails.
type cutReader struct{ r io.Reader }

func (c *cutReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if err == io.EOF {
		return n, io.ErrUnexpectedEOF
	}
	return n, err
}

// TestHashStateFollowsWhatAPartStoreKept: s3store keeps a chunk's whole
// parts and drops the one a failure cut short; the saved hash state must
// cover exactly the bytes kept, so that the resume's hash is the file's.
func TestHashStateFollowsWhatAPartStoreKept(t *testing.T) {
	ctx := context.Background()
	file := bytes.Repeat([]byte("0123456789abcdef"), 64) // 1 KiB
	area := &memArea{objects: map[string][]byte{}}
	inner := &partStore{partSize: 100, size: int64(len(file))}
	up := &hashingUpload{Upload: inner, area: area, state: "u" + hashStateSuffix, partial: true}

	// 250 bytes arrive, then the link fails: two parts kept, 50 bytes dropped.
	n, err := up.WriteChunk(ctx, 0, &cutReader{bytes.NewReader(file[:250])})
	require.Error(t, err)
	require.Equal(t, int64(200), n)
	_, ok := area.objects[up.state]
	require.True(t, ok, "a state for the 200 bytes kept")

	// A chunk that keeps nothing leaves that state as it was.
	n, err = up.WriteChunk(ctx, 200, &cutReader{bytes.NewReader(file[200:250])})
	require.Error(t, err)
	require.Equal(t, int64(0), n)
	require.NotNil(t, up.resume(ctx, 200), "the state before the chunk still holds")

	// The rest completes the file; the sum is the whole file's.
	rq := &tusRequest{}
	n, err = up.WriteChunk(context.WithValue(ctx, requestKey{}, rq), 200, bytes.NewReader(file[200:]))
	require.NoError(t, err)
	require.Equal(t, int64(len(file)-200), n)
	want := sha256.Sum256(file)
	assert.Equal(t, hex.EncodeToString(want[:]), rq.sum)
	assert.Equal(t, file, inner.kept)
}
