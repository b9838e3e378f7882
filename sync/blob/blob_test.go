package blob

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func write(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
	return p
}

func TestAdoptIsContentAddressedAndDeduplicates(t *testing.T) {
	s := &FS{Dir: filepath.Join(t.TempDir(), "blobs")}
	up := t.TempDir()
	p := write(t, up, "a", "photo bytes")
	sum, err := HashFile(p)
	require.NoError(t, err)
	require.NoError(t, s.Adopt(sum, p))
	assert.True(t, s.Exists(sum))
	_, err = os.Stat(p)
	assert.True(t, errors.Is(err, os.ErrNotExist), "the upload was moved")

	// The same bytes again: one blob, and the second upload is removed.
	p2 := write(t, up, "b", "photo bytes")
	require.NoError(t, s.Adopt(sum, p2))
	_, err = os.Stat(p2)
	assert.True(t, errors.Is(err, os.ErrNotExist))

	f, size, _, err := s.Open(sum)
	require.NoError(t, err)
	defer f.Close()
	b, _ := io.ReadAll(f)
	assert.Equal(t, "photo bytes", string(b))
	assert.Equal(t, int64(11), size)

	_, _, _, err = s.Open("0000000000000000000000000000000000000000000000000000000000000000")
	assert.ErrorIs(t, err, ErrNotFound)
	_, _, _, err = s.Open("../../etc/passwd")
	assert.ErrorIs(t, err, ErrNotFound, "a name that is not a hash reaches no file")
	assert.Error(t, s.Adopt("not-a-hash", p2))
}

func TestVerifyFindsAlteredBlobs(t *testing.T) {
	s := &FS{Dir: filepath.Join(t.TempDir(), "blobs")}
	up := t.TempDir()
	var sums []string
	for _, c := range []string{"one", "two"} {
		p := write(t, up, c, c)
		sum, err := HashFile(p)
		require.NoError(t, err)
		require.NoError(t, s.Adopt(sum, p))
		sums = append(sums, sum)
	}
	var bad []string
	n, err := s.Verify(func(h string, _ error) { bad = append(bad, h) })
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	assert.Empty(t, bad)

	victim := filepath.Join(s.Dir, sums[1][:2], sums[1])
	require.NoError(t, os.Chmod(victim, 0o600))
	require.NoError(t, os.WriteFile(victim, []byte("tampered"), 0o600))
	_, err = s.Verify(func(h string, _ error) { bad = append(bad, h) })
	require.NoError(t, err)
	assert.Equal(t, []string{sums[1]}, bad)

	empty := &FS{Dir: filepath.Join(t.TempDir(), "none")}
	n, err = empty.Verify(func(string, error) {})
	require.NoError(t, err)
	assert.Zero(t, n, "a store that never held a blob verifies as empty")
}

func TestListNamesEveryBlob(t *testing.T) {
	s := &FS{Dir: filepath.Join(t.TempDir(), "blobs")}
	none := 0
	require.NoError(t, s.List(func(string, time.Time) error { none++; return nil }), "no directory yet: nothing to list")
	assert.Zero(t, none)

	up := t.TempDir()
	want := map[string]bool{}
	for _, content := range []string{"one", "two", "three"} {
		p := write(t, up, content, content)
		sum, err := HashFile(p)
		require.NoError(t, err)
		require.NoError(t, s.Adopt(sum, p))
		want[sum] = true
	}
	write(t, s.Dir, "not-a-blob", "x") // stray files are not blobs
	got := map[string]bool{}
	require.NoError(t, s.List(func(hash string, written time.Time) error {
		got[hash] = true
		assert.WithinDuration(t, time.Now(), written, time.Minute)
		return nil
	}))
	assert.Equal(t, want, got)
}
