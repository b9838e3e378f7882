package sync

import (
	"bytes"
	"context"
	"os"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/favad/favad/internal/s3test"
	"github.com/favad/favad/sync/blob/s3blob"
)

// TestMain stops the S3 server (SeaweedFS) the S3 tests start.
func TestMain(m *testing.M) { os.Exit(s3test.Main(m)) }

// TestVerifyOnS3: with the bytes in an S3 bucket, verify rehashes every
// object, and finds an object whose bytes were changed and one removed.
func TestVerifyOnS3(t *testing.T) {
	tg := s3test.New(t)
	blobs, err := s3blob.New(s3blob.Config{Endpoint: tg.Endpoint, Insecure: true, Region: tg.Region, PathStyle: true,
		Bucket: tg.Bucket, Prefix: tg.Prefix, AccessKey: tg.AccessKey, SecretKey: tg.SecretKey})
	require.NoError(t, err)
	f := newVerifyFixtureOn(t, blobs)
	r := f.verify(t)
	assert.Empty(t, r.Problems)
	assert.Equal(t, 2, r.ChainEntries)
	assert.Equal(t, 2, r.Blobs)

	c, ctx := tg.Client(t), context.Background()
	bad := []byte("not the photo")
	_, err = c.PutObject(ctx, tg.Bucket, tg.Prefix+"/sha256/"+f.shas[0], bytes.NewReader(bad), int64(len(bad)), minio.PutObjectOptions{})
	require.NoError(t, err)
	require.NoError(t, c.RemoveObject(ctx, tg.Bucket, tg.Prefix+"/sha256/"+f.shas[1], minio.RemoveObjectOptions{}))
	r = f.verify(t)
	assert.Equal(t, 1, r.Blobs)
	require.Len(t, r.Problems, 2, "%q", r.Problems)
	assert.Contains(t, r.Problems[0], "evidence "+f.ids[1]+": its bytes ("+f.shas[1]+") are missing")
	assert.Contains(t, r.Problems[1], "blob "+f.shas[0]+": bytes hash to ")
}
