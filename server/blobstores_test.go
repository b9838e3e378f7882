package server_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

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
	tg := s3test.New(t)
	s, err := s3blob.New(s3blob.Config{Endpoint: tg.Endpoint, Insecure: true, Region: tg.Region, PathStyle: true,
		Bucket: tg.Bucket, Prefix: tg.Prefix, AccessKey: tg.AccessKey, SecretKey: tg.SecretKey})
	require.NoError(t, err)
	require.NoError(t, s.Check(context.Background()))
	return s
}

// forEachBlobStore runs test once per blob store, as subtests named after
// the store ("file", "s3").
func forEachBlobStore(t *testing.T, test func(t *testing.T, blobs blob.Store)) {
	t.Parallel()
	for _, bs := range blobStores {
		t.Run(bs.name, func(t *testing.T) { test(t, bs.open(t)) })
	}
}
