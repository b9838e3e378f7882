package s3blob_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	tusd "github.com/tus/tusd/v2/pkg/handler"

	"github.com/favad/favad/internal/s3test"
	"github.com/favad/favad/sync/blob"
	"github.com/favad/favad/sync/blob/s3blob"
)

func TestMain(m *testing.M) { os.Exit(s3test.Main(m)) }

// newStore returns a Store over a fresh prefix of the test server's bucket.
func newStore(t *testing.T) (*s3blob.Store, s3test.Target) {
	t.Helper()
	tg := s3test.New(t)
	s, err := s3blob.New(s3blob.Config{Endpoint: tg.Endpoint, Insecure: true, Region: tg.Region, PathStyle: true,
		Bucket: tg.Bucket, Prefix: tg.Prefix, AccessKey: tg.AccessKey, SecretKey: tg.SecretKey})
	require.NoError(t, err)
	require.NoError(t, s.Check(context.Background()))
	return s, tg
}

// upload writes content to a file and returns its path and hash.
func upload(t *testing.T, content []byte) (string, string) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "upload")
	require.NoError(t, os.WriteFile(p, content, 0o600))
	sum, err := blob.HashFile(p)
	require.NoError(t, err)
	return p, sum
}

func TestS3AdoptIsContentAddressedAndDeduplicates(t *testing.T) {
	s, tg := newStore(t)
	p, sum := upload(t, []byte("photo bytes"))
	require.NoError(t, s.Adopt(sum, p))
	assert.True(t, s.Exists(sum))
	_, err := os.Stat(p)
	assert.ErrorIs(t, err, os.ErrNotExist, "the local file is removed once the object is stored")

	// The object is where the layout says.
	info, err := tg.Client(t).StatObject(context.Background(), tg.Bucket, tg.Prefix+"/sha256/"+sum, minio.StatObjectOptions{})
	require.NoError(t, err)
	assert.Equal(t, int64(11), info.Size)

	// The same bytes again: one object, and the second upload is removed.
	p2, _ := upload(t, []byte("photo bytes"))
	require.NoError(t, s.Adopt(sum, p2))
	_, err = os.Stat(p2)
	assert.ErrorIs(t, err, os.ErrNotExist)
	n := 0
	require.NoError(t, s.List(func(string, time.Time) error { n++; return nil }))
	assert.Equal(t, 1, n)

	f, size, mod, err := s.Open(sum)
	require.NoError(t, err)
	b, err := io.ReadAll(f)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	assert.Equal(t, "photo bytes", string(b))
	assert.Equal(t, int64(11), size)
	assert.WithinDuration(t, time.Now(), mod, time.Hour)

	_, _, _, err = s.Open("0000000000000000000000000000000000000000000000000000000000000000")
	assert.ErrorIs(t, err, blob.ErrNotFound)
	assert.False(t, s.Exists("0000000000000000000000000000000000000000000000000000000000000000"))
	_, _, _, err = s.Open("../../etc/passwd")
	assert.ErrorIs(t, err, blob.ErrNotFound, "a name that is not a hash reaches no object")
	assert.Error(t, s.Adopt("not-a-hash", p2))
}

func TestS3OpenSeeksAndServesRanges(t *testing.T) {
	s, _ := newStore(t)
	content := make([]byte, 3<<20+17)
	rand.Read(content)
	p, sum := upload(t, content)
	require.NoError(t, s.Adopt(sum, p))

	f, size, mod, err := s.Open(sum)
	require.NoError(t, err)
	defer f.Close()
	require.Equal(t, int64(len(content)), size)
	end, err := f.Seek(0, io.SeekEnd)
	require.NoError(t, err)
	assert.Equal(t, size, end)
	_, err = f.Seek(1<<20, io.SeekStart)
	require.NoError(t, err)
	part := make([]byte, 100)
	_, err = io.ReadFull(f, part)
	require.NoError(t, err)
	assert.Equal(t, content[1<<20:1<<20+100], part)
	// Reading on continues where it stopped.
	_, err = io.ReadFull(f, part)
	require.NoError(t, err)
	assert.Equal(t, content[1<<20+100:1<<20+200], part)
	_, err = f.Seek(-10, io.SeekEnd)
	require.NoError(t, err)
	tail, err := io.ReadAll(f)
	require.NoError(t, err)
	assert.Equal(t, content[len(content)-10:], tail)

	// Through http.ServeContent, as evidence downloads are served.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, _, mod, err := s.Open(sum)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		defer f.Close()
		http.ServeContent(w, r, "", mod, f)
	}))
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	req.Header.Set("Range", "bytes=2000000-2000099")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusPartialContent, resp.StatusCode)
	assert.Equal(t, content[2000000:2000100], body)
	req.Header.Set("Range", "bytes=0-9,3000000-3000009")
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusPartialContent, resp.StatusCode)
	assert.Contains(t, resp.Header.Get("Content-Type"), "multipart/byteranges")
	assert.True(t, bytes.Contains(body, content[3000000:3000010]))
	req.Header.Del("Range")
	req.Header.Set("If-Modified-Since", mod.UTC().Format(http.TimeFormat))
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusNotModified, resp.StatusCode)
}

func TestS3VerifyFindsAlteredAndMissingBlobs(t *testing.T) {
	s, tg := newStore(t)
	var sums []string
	for _, c := range []string{"one", "two", "three"} {
		p, sum := upload(t, []byte(c))
		require.NoError(t, s.Adopt(sum, p))
		sums = append(sums, sum)
	}
	checked, err := s.Verify(func(h string, err error) { t.Errorf("%s: %v", h, err) })
	require.NoError(t, err)
	assert.Equal(t, 3, checked)

	// Tamper: overwrite one object's bytes behind the store's back; put a
	// stray object that is not a blob beside them.
	c := tg.Client(t)
	ctx := context.Background()
	_, err = c.PutObject(ctx, tg.Bucket, tg.Prefix+"/sha256/"+sums[1], bytes.NewReader([]byte("TWO")), 3, minio.PutObjectOptions{})
	require.NoError(t, err)
	_, err = c.PutObject(ctx, tg.Bucket, tg.Prefix+"/sha256/README", bytes.NewReader([]byte("x")), 1, minio.PutObjectOptions{})
	require.NoError(t, err)
	var bad []string
	checked, err = s.Verify(func(h string, err error) { bad = append(bad, h) })
	require.NoError(t, err)
	assert.Equal(t, 3, checked)
	assert.Equal(t, []string{sums[1]}, bad)

	// Remove deletes; removing again is not an error.
	require.NoError(t, s.Remove(sums[0]))
	require.NoError(t, s.Remove(sums[0]))
	assert.False(t, s.Exists(sums[0]))
	var listed []string
	require.NoError(t, s.List(func(h string, _ time.Time) error { listed = append(listed, h); return nil }))
	assert.ElementsMatch(t, sums[1:], listed)

	// List stops at fn's error.
	stop := errors.New("stop")
	assert.ErrorIs(t, s.List(func(string, time.Time) error { return stop }), stop)
}

func TestS3StoreRefusesBadConfig(t *testing.T) {
	_, err := s3blob.New(s3blob.Config{Endpoint: "http://host:9000", Bucket: "b"})
	assert.Error(t, err, "a scheme in the endpoint")
	_, err = s3blob.New(s3blob.Config{Endpoint: "host:9000"})
	assert.Error(t, err, "no bucket")
	for raw, want := range map[string][2]string{
		"s3://bucket":               {"bucket", ""},
		"s3://bucket/":              {"bucket", ""},
		"s3://bucket/a/b/":          {"bucket", "a/b"},
		"s3://favad-evidence/prod1": {"favad-evidence", "prod1"},
	} {
		b, p, err := s3blob.ParseURL(raw)
		require.NoError(t, err, raw)
		assert.Equal(t, want, [2]string{b, p}, raw)
	}
	for _, raw := range []string{"file:///x", "s3://", "s3:///p", "s3://u:p@b/x", "s3://b/x?y=1", "bucket/x"} {
		_, _, err := s3blob.ParseURL(raw)
		assert.Error(t, err, raw)
	}
}

// TestS3AdoptObjectCopiesInsideTheBucket: a finished upload's object becomes
// the blob by a server-side copy and is then deleted; the same bytes again
// copy nothing; a key outside the store's uploads is refused.
func TestS3AdoptObjectCopiesInsideTheBucket(t *testing.T) {
	s, tg := newStore(t)
	ctx := context.Background()
	c := tg.Client(t)
	put := func(key string, b []byte) {
		t.Helper()
		_, err := c.PutObject(ctx, tg.Bucket, key, bytes.NewReader(b), int64(len(b)), minio.PutObjectOptions{})
		require.NoError(t, err)
	}
	exists := func(key string) bool {
		_, err := c.StatObject(ctx, tg.Bucket, key, minio.StatObjectOptions{})
		return err == nil
	}
	content := []byte("finished upload bytes")
	_, sum := upload(t, content)
	up := tg.Prefix + "/uploads/0123456789abcdef0123456789abcdef"
	put(up, content)
	require.NoError(t, s.AdoptObject(ctx, sum, up))
	assert.False(t, exists(up), "the upload's object is removed")
	f, _, _, err := s.Open(sum)
	require.NoError(t, err)
	got, err := io.ReadAll(f)
	require.NoError(t, err)
	f.Close()
	assert.Equal(t, content, got)
	info, err := c.StatObject(ctx, tg.Bucket, tg.Prefix+"/sha256/"+sum, minio.StatObjectOptions{})
	require.NoError(t, err)
	assert.Equal(t, sum, info.UserMetadata["Favad-Sha256"])

	// The same bytes again: nothing copied, the upload removed all the same.
	put(up, content)
	before := info.LastModified
	time.Sleep(1100 * time.Millisecond) // S3 times are whole seconds
	require.NoError(t, s.AdoptObject(ctx, sum, up))
	assert.False(t, exists(up))
	info, err = c.StatObject(ctx, tg.Bucket, tg.Prefix+"/sha256/"+sum, minio.StatObjectOptions{})
	require.NoError(t, err)
	assert.Equal(t, before, info.LastModified, "the blob is not written again")

	for _, key := range []string{tg.Prefix + "/sha256/" + sum, "elsewhere/uploads/x", tg.Prefix + "/uploads/../sha256/" + sum} {
		assert.Error(t, s.AdoptObject(ctx, sum, key), key)
	}
	assert.True(t, s.Exists(sum))
}

// TestS3UploadStoreWithoutARegion: with no region configured, Check learns
// the bucket's, and tusd's s3store (the AWS SDK, which needs one to sign)
// stores an upload in parts and completes it.
func TestS3UploadStoreWithoutARegion(t *testing.T) {
	tg := s3test.New(t)
	s, err := s3blob.New(s3blob.Config{Endpoint: tg.Endpoint, Insecure: true, PathStyle: true,
		Bucket: tg.Bucket, Prefix: tg.Prefix, AccessKey: tg.AccessKey, SecretKey: tg.SecretKey})
	require.NoError(t, err)
	require.NoError(t, s.Check(context.Background()))
	ctx := context.Background()
	content := make([]byte, 6<<20)
	_, err = rand.Read(content)
	require.NoError(t, err)
	store := s.UploadStore(t.TempDir())
	up, err := store.NewUpload(ctx, tusd.FileInfo{Size: int64(len(content))})
	require.NoError(t, err)
	info, err := up.GetInfo(ctx)
	require.NoError(t, err)
	assert.Regexp(t, `^[0-9a-f]{32}$`, info.ID)
	n, err := up.WriteChunk(ctx, 0, bytes.NewReader(content))
	require.NoError(t, err)
	require.Equal(t, int64(len(content)), n)
	require.NoError(t, up.FinishUpload(ctx))

	body, err := s.OpenUpload(ctx, info.ID, 5<<20)
	require.NoError(t, err)
	got, err := io.ReadAll(body)
	require.NoError(t, err)
	body.Close()
	assert.Equal(t, content[5<<20:], got, "a ranged read of the finished upload")
}
