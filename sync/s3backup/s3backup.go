// Package s3backup keeps backups of the store in S3-compatible object
// storage. A backup is two objects under <prefix>/backups/: the store's
// bytes, <name>.db, streamed as they are written (a multipart upload of
// unknown size, so no local copy is needed), then its manifest <name>.json
// with the change-log sequence the copy holds, its size and SHA-256. The
// manifest is written last: a backup without one was cut short and is not
// offered for restore. Names are favad-<UTC time>, so they sort by age.
package s3backup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/favad/favad/sync/blob/s3blob"
)

// errUploadEnded is what the copy's writer gets once the upload has stopped reading.
var errUploadEnded = errors.New("s3backup: the upload stopped")

// ErrNoBackup is returned by Latest and Get when there is no such backup.
var ErrNoBackup = errors.New("s3backup: no backup")

// Manifest describes one complete backup.
type Manifest struct {
	Name   string    `json:"name"`   // favad-<UTC time>
	Taken  time.Time `json:"taken"`  // when the copy was made
	Seq    uint64    `json:"seq"`    // the last change-log sequence the copy holds
	Bytes  int64     `json:"bytes"`  // size of <name>.db
	SHA256 string    `json:"sha256"` // of <name>.db
}

// Bucket is where the backups are.
type Bucket struct {
	client *minio.Client
	bucket string
	dir    string // <prefix>/backups/
}

// New returns the Bucket for cfg (its Bucket and Prefix name where the
// backups go).
func New(cfg s3blob.Config) (*Bucket, error) {
	c, err := s3blob.NewClient(cfg)
	if err != nil {
		return nil, err
	}
	return &Bucket{client: c, bucket: cfg.Bucket, dir: path.Join(cfg.Prefix, "backups") + "/"}, nil
}

// String names the backups' place: s3://bucket/prefix/backups/.
func (b *Bucket) String() string { return "s3://" + b.bucket + "/" + b.dir }

// NameAt is the name of a backup taken at t.
func NameAt(t time.Time) string { return "favad-" + t.UTC().Format("20060102T150405.000Z") }

var namePattern = regexp.MustCompile(`^favad-\d{8}T\d{6}\.\d{3}Z$`)

// Put streams a backup: write writes the store's copy to its writer and
// returns the change-log sequence the copy holds. The bytes go up as they
// come; the manifest is written once they are all stored.
func (b *Bucket) Put(ctx context.Context, taken time.Time, write func(io.Writer) (uint64, error)) (Manifest, error) {
	m := Manifest{Name: NameAt(taken), Taken: taken.UTC()}
	pr, pw := io.Pipe()
	h := sha256.New()
	type result struct {
		seq uint64
		n   int64
		err error
	}
	done := make(chan result, 1)
	go func() {
		cw := &countingWriter{w: io.MultiWriter(pw, h)}
		seq, err := write(cw)
		pw.CloseWithError(err) // nil: EOF for the upload
		done <- result{seq, cw.n, err}
	}()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	_, err := b.client.PutObject(ctx, b.bucket, b.dir+m.Name+".db", pr, -1, minio.PutObjectOptions{
		ContentType: "application/octet-stream", PartSize: 16 << 20})
	pr.CloseWithError(errUploadEnded) // unblocks the writer if the upload failed
	r := <-done
	if r.err != nil && (err == nil || !errors.Is(r.err, errUploadEnded)) {
		return m, fmt.Errorf("s3backup: write the copy: %w", r.err)
	}
	if err != nil {
		return m, fmt.Errorf("s3backup: upload %s.db: %w", m.Name, err)
	}
	m.Seq, m.Bytes, m.SHA256 = r.seq, r.n, hex.EncodeToString(h.Sum(nil))
	raw, _ := json.MarshalIndent(m, "", "  ")
	if _, err := b.client.PutObject(ctx, b.bucket, b.dir+m.Name+".json", strings.NewReader(string(raw)), int64(len(raw)),
		minio.PutObjectOptions{ContentType: "application/json"}); err != nil {
		// Without its manifest the copy is never listed, so never pruned:
		// remove it now, as far as the server lets us.
		rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer rcancel()
		_ = b.client.RemoveObject(rctx, b.bucket, b.dir+m.Name+".db", minio.RemoveObjectOptions{})
		return m, fmt.Errorf("s3backup: upload %s.json: %w", m.Name, err)
	}
	return m, nil
}

// Reachable checks, cheaply, that the bucket answers and exists: a
// scheduled backup asks before it copies the store.
func (b *Bucket) Reachable(ctx context.Context) error {
	ok, err := b.client.BucketExists(ctx, b.bucket)
	if err != nil {
		return fmt.Errorf("s3backup: %w", err)
	}
	if !ok {
		return fmt.Errorf("s3backup: %w", minio.ErrorResponse{Code: minio.NoSuchBucket, Message: "no bucket " + b.bucket, BucketName: b.bucket})
	}
	return nil
}

// IsConfigError reports whether err is the object storage refusing the
// configuration itself — no such bucket, credentials it does not take —
// rather than a failure that may pass (the network, the server busy).
func IsConfigError(err error) bool {
	var resp minio.ErrorResponse
	if !errors.As(err, &resp) {
		return false
	}
	switch resp.Code {
	case minio.NoSuchBucket, "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidBucketName",
		"AuthorizationHeaderMalformed", "PermanentRedirect", "InvalidArgument":
		return true
	}
	return false
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// List returns the complete backups, oldest first.
func (b *Bucket) List(ctx context.Context) ([]Manifest, error) {
	var out []Manifest
	for obj := range b.client.ListObjects(ctx, b.bucket, minio.ListObjectsOptions{Prefix: b.dir}) {
		if obj.Err != nil {
			return nil, fmt.Errorf("s3backup: list: %w", obj.Err)
		}
		name, ok := strings.CutSuffix(strings.TrimPrefix(obj.Key, b.dir), ".json")
		if !ok || !namePattern.MatchString(name) {
			continue
		}
		m, err := b.manifest(ctx, name)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (b *Bucket) manifest(ctx context.Context, name string) (Manifest, error) {
	var m Manifest
	obj, err := b.client.GetObject(ctx, b.bucket, b.dir+name+".json", minio.GetObjectOptions{})
	if err != nil {
		return m, fmt.Errorf("s3backup: manifest %s: %w", name, err)
	}
	defer obj.Close()
	if err := json.NewDecoder(io.LimitReader(obj, 1<<16)).Decode(&m); err != nil {
		if minio.ToErrorResponse(err).Code == minio.NoSuchKey {
			return m, fmt.Errorf("%w named %s", ErrNoBackup, name)
		}
		return m, fmt.Errorf("s3backup: manifest %s: %w", name, err)
	}
	if m.Name != name {
		return m, fmt.Errorf("s3backup: manifest %s names %q", name, m.Name)
	}
	return m, nil
}

// Latest returns the newest complete backup, or ErrNoBackup.
func (b *Bucket) Latest(ctx context.Context) (Manifest, error) {
	all, err := b.List(ctx)
	if err != nil {
		return Manifest{}, err
	}
	if len(all) == 0 {
		return Manifest{}, ErrNoBackup
	}
	return all[len(all)-1], nil
}

// Get returns the manifest of the backup name, or ErrNoBackup.
func (b *Bucket) Get(ctx context.Context, name string) (Manifest, error) {
	if !namePattern.MatchString(name) {
		return Manifest{}, fmt.Errorf("%w named %q (names are like favad-20261204T175000.000Z)", ErrNoBackup, name)
	}
	return b.manifest(ctx, name)
}

// Download writes the backup's bytes to the file dst and checks them
// against the manifest (size and SHA-256).
func (b *Bucket) Download(ctx context.Context, m Manifest, dst string) error {
	obj, err := b.client.GetObject(ctx, b.bucket, b.dir+m.Name+".db", minio.GetObjectOptions{})
	if err != nil {
		return fmt.Errorf("s3backup: get %s.db: %w", m.Name, err)
	}
	defer obj.Close()
	f, err := os.OpenFile(dst, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), obj)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("s3backup: download %s.db: %w", m.Name, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); n != m.Bytes || got != m.SHA256 {
		return fmt.Errorf("s3backup: %s.db is not the backup its manifest describes: %d bytes hashing to %s, want %d bytes hashing to %s",
			m.Name, n, got, m.Bytes, m.SHA256)
	}
	return nil
}

// Prune deletes the oldest complete backups beyond the newest keep, each
// manifest first (so that a half-deleted backup is never offered), and
// returns their names.
func (b *Bucket) Prune(ctx context.Context, keep int) ([]string, error) {
	all, err := b.List(ctx)
	if err != nil {
		return nil, err
	}
	var gone []string
	for len(all) > keep {
		m := all[0]
		all = all[1:]
		for _, ext := range []string{".json", ".db"} {
			if err := b.client.RemoveObject(ctx, b.bucket, b.dir+m.Name+ext, minio.RemoveObjectOptions{}); err != nil {
				return gone, fmt.Errorf("s3backup: remove %s%s: %w", m.Name, ext, err)
			}
		}
		gone = append(gone, m.Name)
	}
	return gone, nil
}
