package s3backup_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/favad/favad/internal/s3test"
	"github.com/favad/favad/sync/blob/s3blob"
	"github.com/favad/favad/sync/s3backup"
)

func TestMain(m *testing.M) { os.Exit(s3test.Main(m)) }

// TestBackupsWithoutManifestAreNotOffered: a backup whose copy failed half
// way, or whose manifest was never written, is not the latest; the complete
// ones are listed oldest first and download checked.
func TestBackupsWithoutManifestAreNotOffered(t *testing.T) {
	tg := s3test.New(t)
	b, err := s3backup.New(s3blob.Config{Endpoint: tg.Endpoint, Insecure: true, Region: tg.Region, PathStyle: true,
		Bucket: tg.Bucket, Prefix: tg.Prefix, AccessKey: tg.AccessKey, SecretKey: tg.SecretKey})
	require.NoError(t, err)
	ctx := context.Background()
	_, err = b.Latest(ctx)
	assert.ErrorIs(t, err, s3backup.ErrNoBackup)

	t0 := time.Date(2026, 12, 4, 17, 0, 0, 0, time.UTC)
	body := bytes.Repeat([]byte("store page "), 100_000) // about 1 MB
	first, err := b.Put(ctx, t0, func(w io.Writer) (uint64, error) { _, err := w.Write(body); return 41, err })
	require.NoError(t, err)
	assert.Equal(t, s3backup.Manifest{Name: "favad-20261204T170000.000Z", Taken: t0, Seq: 41, Bytes: int64(len(body)), SHA256: first.SHA256}, first)

	// A copy that fails half way: an error, and no backup offered.
	broken := errors.New("disk read error")
	_, err = b.Put(ctx, t0.Add(time.Hour), func(w io.Writer) (uint64, error) { w.Write(body[:1000]); return 0, broken })
	assert.ErrorIs(t, err, broken)
	// Bytes with no manifest (an upload killed before it): not offered either.
	_, err = tg.Client(t).PutObject(ctx, tg.Bucket, tg.Prefix+"/backups/favad-20261204T190000.000Z.db", strings.NewReader("x"), 1, minio.PutObjectOptions{})
	require.NoError(t, err)
	latest, err := b.Latest(ctx)
	require.NoError(t, err)
	assert.Equal(t, first, latest)

	second, err := b.Put(ctx, t0.Add(3*time.Hour), func(w io.Writer) (uint64, error) { _, err := w.Write(body[:10]); return 42, err })
	require.NoError(t, err)
	all, err := b.List(ctx)
	require.NoError(t, err)
	assert.Equal(t, []s3backup.Manifest{first, second}, all)

	dst := filepath.Join(t.TempDir(), "restore.db")
	require.NoError(t, b.Download(ctx, first, dst))
	got, err := os.ReadFile(dst)
	require.NoError(t, err)
	assert.Equal(t, body, got)
	got1, err := b.Get(ctx, first.Name)
	require.NoError(t, err)
	assert.Equal(t, first, got1)
	_, err = b.Get(ctx, "favad-20200101T000000.000Z")
	assert.ErrorIs(t, err, s3backup.ErrNoBackup)
	_, err = b.Get(ctx, "../../etc/passwd")
	assert.ErrorIs(t, err, s3backup.ErrNoBackup)
}
