package server_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	stdsync "sync"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/stretchr/testify/require"

	"github.com/favad/favad/internal/s3test"
	"github.com/favad/favad/sync/blob"
	"github.com/favad/favad/sync/blob/s3blob"
)

// TestMain stops the S3 server (SeaweedFS) the S3 entries of the evidence
// suite start.
func TestMain(m *testing.M) { os.Exit(s3test.Main(m)) }

// blobStores are the evidence stores the evidence suite runs against: the
// local directory favad serve uses by default, and an S3 bucket on a real
// SeaweedFS that internal/s3test starts (skipped when weed is not installed,
// failed then in CI).
var blobStores = []struct {
	name string
	open func(t *testing.T) blob.Store
}{
	{"file", func(t *testing.T) blob.Store { return &blob.FS{Dir: filepath.Join(t.TempDir(), "blobs")} }},
	{"s3", func(t *testing.T) blob.Store { return newS3Blobs(t) }},
}

// newS3Blobs is a blob store over a fresh prefix of the test S3 server.
func newS3Blobs(t *testing.T) *s3blob.Store {
	t.Helper()
	return newS3BlobsAt(t, s3test.New(t))
}

// newS3BlobsAt is a blob store over the target's prefix (another server's
// view of the same bucket, given the same target).
func newS3BlobsAt(t *testing.T, tg s3test.Target, opts ...func(*s3blob.Config)) *s3blob.Store {
	t.Helper()
	cfg := s3blob.Config{Endpoint: tg.Endpoint, Insecure: true, Region: tg.Region, PathStyle: true,
		Bucket: tg.Bucket, Prefix: tg.Prefix, AccessKey: tg.AccessKey, SecretKey: tg.SecretKey}
	for _, o := range opts {
		o(&cfg)
	}
	s, err := s3blob.New(cfg)
	require.NoError(t, err)
	require.NoError(t, s.Check(context.Background()))
	s3Targets.Store(s, tg)
	return s
}

// s3Targets maps each S3 blob store of the tests to its target, so that a
// test can look at the bucket itself.
var s3Targets stdsync.Map

// s3TargetOf is the target of blobs, if it is a test S3 store.
func s3TargetOf(blobs blob.Store) (s3test.Target, bool) {
	tg, ok := s3Targets.Load(blobs)
	if !ok {
		return s3test.Target{}, false
	}
	return tg.(s3test.Target), true
}

// bucketUploads lists the objects of the uploads area of tg's prefix (names
// relative to it) and its multipart uploads not yet completed or aborted.
func bucketUploads(t *testing.T, tg s3test.Target) (objects, multipart []string) {
	t.Helper()
	c, dir := tg.Client(t), tg.Prefix+"/uploads/"
	for obj := range c.ListObjects(context.Background(), tg.Bucket, minio.ListObjectsOptions{Prefix: dir, Recursive: true}) {
		require.NoError(t, obj.Err)
		objects = append(objects, strings.TrimPrefix(obj.Key, dir))
	}
	for mu := range c.ListIncompleteUploads(context.Background(), tg.Bucket, dir, true) {
		require.NoError(t, mu.Err)
		multipart = append(multipart, strings.TrimPrefix(mu.Key, dir))
	}
	return objects, multipart
}

// forEachBlobStore runs test once per blob store, as subtests named after
// the store ("file", "s3").
func forEachBlobStore(t *testing.T, test func(t *testing.T, blobs blob.Store)) {
	t.Parallel()
	for _, bs := range blobStores {
		t.Run(bs.name, func(t *testing.T) { test(t, bs.open(t)) })
	}
}
