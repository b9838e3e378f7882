package server

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// readSizes records the size of every buffer it is asked to fill.
type readSizes struct {
	r     io.Reader
	sizes []int
}

func (s *readSizes) Read(p []byte) (int, error) {
	s.sizes = append(s.sizes, len(p))
	return s.r.Read(p)
}

// onlyWriter hides *os.File-like ReadFrom, as the file store's file would not.
type onlyWriter struct{ io.Writer }

func TestLargeReaderReadsInLargePieces(t *testing.T) {
	body := bytes.Repeat([]byte("0123456789abcdef"), 100_000) // 1.6 MB
	src := &readSizes{r: bytes.NewReader(body)}
	var got bytes.Buffer
	n, err := io.Copy(onlyWriter{&got}, largeReader{src})
	require.NoError(t, err)
	assert.Equal(t, int64(len(body)), n)
	assert.Equal(t, body, got.Bytes())
	for _, size := range src.sizes {
		assert.Equal(t, uploadCopyBuffer, size, "every read offers the whole buffer, not io.Copy's 32 KiB")
	}
}

func TestLargeReaderPassesErrorsOn(t *testing.T) {
	cut := errors.New("connection cut")
	body := bytes.Repeat([]byte("x"), 300_000)
	src := io.MultiReader(bytes.NewReader(body), iotest.ErrReader(cut))
	var got bytes.Buffer
	n, err := io.Copy(onlyWriter{&got}, largeReader{src})
	assert.ErrorIs(t, err, cut)
	assert.Equal(t, int64(len(body)), n, "what was read before the error is written and counted")

	full := errors.New("disk full")
	n, err = io.Copy(failAfter{full}, largeReader{bytes.NewReader(body)})
	assert.ErrorIs(t, err, full)
	assert.Zero(t, n)
}

type failAfter struct{ err error }

func (f failAfter) Write([]byte) (int, error) { return 0, f.err }

func TestLargeReaderFallsBackWhenEveryBufferIsTaken(t *testing.T) {
	for range maxUploadCopyBuffers {
		uploadCopySlots <- struct{}{}
	}
	t.Cleanup(func() {
		for range maxUploadCopyBuffers {
			<-uploadCopySlots
		}
	})
	body := bytes.Repeat([]byte("z"), 200_000)
	src := &readSizes{r: bytes.NewReader(body)}
	var got bytes.Buffer
	n, err := io.Copy(onlyWriter{&got}, largeReader{src})
	require.NoError(t, err)
	assert.Equal(t, int64(len(body)), n)
	assert.Equal(t, body, got.Bytes())
	for _, size := range src.sizes {
		assert.Equal(t, 32<<10, size, "no large buffer is free: io.Copy's own")
	}
}
