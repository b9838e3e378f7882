// Package s3blob keeps evidence blobs in S3-compatible object storage (AWS
// S3, MinIO, SeaweedFS, Ceph RGW, ...), through minio-go. A blob is the
// object <prefix>/sha256/<hash>: content-addressed, so the same bytes are
// one object, and a changed object is detectable by rehashing it.
//
// Uploads in progress (tus) are kept in the same bucket, under
// <prefix>/uploads/, through tusd's s3store (UploadStore): a multipart
// upload per file, so nothing of it but a few temporary parts touches the
// server's disk, and a verified upload becomes a blob by a server-side copy
// (AdoptObject). Adopt, for a file on the local disk, uploads it.
package s3blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/favad/favad/sync/blob"
)

// Config says where the blobs are and how to reach them.
type Config struct {
	// Endpoint is the S3 server's host[:port], without a scheme (for AWS,
	// s3.<region>.amazonaws.com). Required.
	Endpoint string
	// Insecure talks plain HTTP to the endpoint (a server on loopback or a
	// private network); the default is HTTPS.
	Insecure bool
	// Region is the bucket's region; empty asks the server.
	Region string
	// PathStyle addresses the bucket in the path (http://host/bucket/key),
	// as MinIO and SeaweedFS need; otherwise the client chooses (virtual
	// hosts for AWS).
	PathStyle bool
	// Bucket holds the blobs. Required; it must exist.
	Bucket string
	// Prefix is prepended to every object name ("favad" gives
	// favad/sha256/<hash>); empty puts sha256/ at the bucket's root.
	Prefix string
	// AccessKey and SecretKey sign the requests. Both empty means anonymous.
	AccessKey, SecretKey string
	// Timeout bounds each metadata request (stat, list page, delete) and
	// is the floor of an upload's; 0 means 30 seconds. Reads of a blob's
	// bytes are bounded by their reader's Close instead.
	Timeout time.Duration
	// MaxAttempts bounds the tries of one request before its error is
	// returned (a failing server is retried with a growing pause); 0 leaves
	// the clients' own (10 for minio's, 3 for the AWS SDK's uploads).
	MaxAttempts int
}

// ParseURL reads s3://bucket/prefix into the bucket and prefix of a Config.
func ParseURL(raw string) (bucket, prefix string, err error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "s3" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", "", fmt.Errorf("%q is not s3://bucket[/prefix]", raw)
	}
	return u.Host, strings.Trim(u.Path, "/"), nil
}

// Store is a blob.Store in a bucket.
type Store struct {
	client  *minio.Client
	bucket  string
	prefix  string // "" or ends with "/"
	timeout time.Duration
	aws     *awsState // tusd's s3store talks through the AWS SDK
}

var (
	_ blob.Store    = (*Store)(nil)
	_ blob.Remover  = (*Store)(nil)
	_ blob.Verifier = (*Store)(nil)
	_ blob.Lister   = (*Store)(nil)
	_ blob.Checker  = (*Store)(nil)
)

// New returns the Store for cfg. It makes no request: Check does.
func New(cfg Config) (*Store, error) {
	client, err := NewClient(cfg)
	if err != nil {
		return nil, err
	}
	prefix := strings.Trim(cfg.Prefix, "/")
	if prefix != "" {
		prefix += "/"
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	aws := &awsState{cfg: cfg, client: newAWSClient(cfg, cfg.Region), known: cfg.Region != ""}
	return &Store{client: client, bucket: cfg.Bucket, prefix: prefix, timeout: timeout, aws: aws}, nil
}

// NewClient returns a minio client for cfg's endpoint and credentials, for
// other users of the same bucket (backups).
func NewClient(cfg Config) (*minio.Client, error) {
	if cfg.Endpoint == "" || strings.Contains(cfg.Endpoint, "://") {
		return nil, fmt.Errorf("s3blob: endpoint %q: give host[:port], without a scheme", cfg.Endpoint)
	}
	if cfg.Bucket == "" {
		return nil, errors.New("s3blob: no bucket")
	}
	opts := &minio.Options{Secure: !cfg.Insecure, Region: cfg.Region, MaxRetries: cfg.MaxAttempts}
	if cfg.AccessKey != "" || cfg.SecretKey != "" {
		opts.Creds = credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, "")
	} else {
		opts.Creds = credentials.New(&credentials.Static{}) // anonymous
	}
	if cfg.PathStyle {
		opts.BucketLookup = minio.BucketLookupPath
	}
	client, err := minio.New(cfg.Endpoint, opts)
	if err != nil {
		return nil, fmt.Errorf("s3blob: %w", err)
	}
	return client, nil
}

// Check makes sure the bucket exists and the credentials reach it. The
// first that succeeds learns the bucket's region if Config did not give it.
func (s *Store) Check(ctx context.Context) error {
	ok, err := s.client.BucketExists(ctx, s.bucket)
	if err != nil {
		return fmt.Errorf("s3blob: bucket %s: %w", s.bucket, err)
	}
	if !ok {
		return fmt.Errorf("s3blob: bucket %s does not exist", s.bucket)
	}
	s.learnRegion(ctx)
	return nil
}

// String names the store in logs: s3://bucket/prefix at the endpoint.
func (s *Store) String() string {
	return fmt.Sprintf("s3://%s/%s at %s", s.bucket, strings.TrimSuffix(s.prefix, "/"), s.client.EndpointURL().Host)
}

var hashPattern = regexp.MustCompile(`^[0-9a-f]{64}$`)

func (s *Store) key(hash string) (string, error) {
	if !hashPattern.MatchString(hash) {
		return "", fmt.Errorf("s3blob: %q is not a SHA-256", hash)
	}
	return s.prefix + "sha256/" + hash, nil
}

func (s *Store) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), s.timeout)
}

// stat returns the object's metadata, blob.ErrNotFound if there is none.
func (s *Store) stat(key string) (minio.ObjectInfo, error) {
	ctx, cancel := s.ctx()
	defer cancel()
	info, err := s.client.StatObject(ctx, s.bucket, key, minio.StatObjectOptions{})
	if err != nil {
		if notFound(err) {
			return info, blob.ErrNotFound
		}
		return info, fmt.Errorf("s3blob: stat %s: %w", key, err)
	}
	return info, nil
}

func notFound(err error) bool {
	r := minio.ToErrorResponse(err)
	return r.StatusCode == http.StatusNotFound || r.Code == minio.NoSuchKey
}

// Adopt uploads the file at path, which the caller has verified to hash to
// hash, to <prefix>/sha256/<hash>, then removes the local file. If the
// object exists already, nothing is uploaded (same bytes, one blob). The
// upload carries the file's SHA-256 in the object's metadata and is
// checksummed in transit.
func (s *Store) Adopt(hash, path string) error {
	key, err := s.key(hash)
	if err != nil {
		return err
	}
	_, err = s.stat(key)
	switch {
	case err == nil:
		return os.Remove(path)
	case !errors.Is(err, blob.ErrNotFound):
		return err
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("s3blob: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("s3blob: %w", err)
	}
	// An upload gets the metadata timeout plus a second per MiB: a 1 GiB
	// file on a slow link still completes, a stuck one does not hold forever.
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout+time.Duration(st.Size()>>20)*time.Second)
	defer cancel()
	_, err = s.client.PutObject(ctx, s.bucket, key, f, st.Size(), minio.PutObjectOptions{
		ContentType:  "application/octet-stream",
		UserMetadata: map[string]string{"Favad-Sha256": hash},
	})
	if err != nil {
		return fmt.Errorf("s3blob: put %s: %w", key, err)
	}
	f.Close()
	return os.Remove(path)
}

// Open returns the blob's bytes as a seekable reader, its size and when it
// was written, or blob.ErrNotFound. Each Read after a Seek elsewhere is one
// ranged GET from there to the end, so http.ServeContent's range requests
// fetch only what they send.
func (s *Store) Open(hash string) (blob.File, int64, time.Time, error) {
	key, err := s.key(hash)
	if err != nil {
		return nil, 0, time.Time{}, blob.ErrNotFound
	}
	info, err := s.stat(key)
	if err != nil {
		return nil, 0, time.Time{}, err
	}
	return &object{s: s, key: key, etag: info.ETag, size: info.Size}, info.Size, info.LastModified, nil
}

// Exists reports whether the blob is stored. An unreachable server counts
// as not stored.
func (s *Store) Exists(hash string) bool {
	key, err := s.key(hash)
	if err != nil {
		return false
	}
	_, err = s.stat(key)
	return err == nil
}

// Remove deletes the blob; a missing blob is not an error.
func (s *Store) Remove(hash string) error {
	key, err := s.key(hash)
	if err != nil {
		return err
	}
	ctx, cancel := s.ctx()
	defer cancel()
	if err := s.client.RemoveObject(ctx, s.bucket, key, minio.RemoveObjectOptions{}); err != nil && !notFound(err) {
		return fmt.Errorf("s3blob: remove %s: %w", key, err)
	}
	return nil
}

// List calls fn with every blob's hash and when it was written. Objects
// under the prefix whose names are not a SHA-256 are not blobs and are
// skipped.
func (s *Store) List(fn func(hash string, written time.Time) error) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel() // stops the listing if fn fails
	dir := s.prefix + "sha256/"
	for obj := range s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: dir, Recursive: true}) {
		if obj.Err != nil {
			return fmt.Errorf("s3blob: list: %w", obj.Err)
		}
		name := strings.TrimPrefix(obj.Key, dir)
		if !hashPattern.MatchString(name) {
			continue
		}
		if err := fn(name, obj.LastModified); err != nil {
			return err
		}
	}
	return nil
}

// Verify streams every blob through SHA-256 and calls bad for each whose
// bytes no longer hash to its name (or cannot be read).
func (s *Store) Verify(bad func(hash string, err error)) (int, error) {
	checked := 0
	err := s.List(func(hash string, _ time.Time) error {
		checked++
		f, _, _, err := s.Open(hash)
		if errors.Is(err, blob.ErrNotFound) {
			checked-- // removed meanwhile
			return nil
		}
		if err != nil {
			bad(hash, err)
			return nil
		}
		got, err := blob.HashReader(f)
		f.Close()
		switch {
		case err != nil:
			bad(hash, err)
		case got != hash:
			bad(hash, fmt.Errorf("bytes hash to %s", got))
		}
		return nil
	})
	return checked, err
}

// object reads one blob: Seek only moves the offset; the next Read opens a
// ranged GET from there, which further Reads continue.
type object struct {
	s    *Store
	key  string
	etag string
	size int64

	off    int64
	body   io.ReadCloser // open at off, or nil
	cancel context.CancelFunc
}

func (o *object) Read(p []byte) (int, error) {
	if o.off >= o.size {
		return 0, io.EOF
	}
	if o.body == nil {
		ctx, cancel := context.WithCancel(context.Background())
		opts := minio.GetObjectOptions{}
		// The same object as stat saw: content-addressed objects do not
		// change, so a different ETag means it was replaced meanwhile.
		if o.etag != "" {
			opts.SetMatchETag(o.etag) //nolint:errcheck // only an empty ETag is refused
		}
		if o.off > 0 {
			if err := opts.SetRange(o.off, 0); err != nil {
				cancel()
				return 0, fmt.Errorf("s3blob: %w", err)
			}
		}
		body, _, _, err := minio.Core{Client: o.s.client}.GetObject(ctx, o.s.bucket, o.key, opts)
		if err != nil {
			cancel()
			return 0, fmt.Errorf("s3blob: get %s: %w", o.key, err)
		}
		o.body, o.cancel = body, cancel
	}
	n, err := o.body.Read(p)
	o.off += int64(n)
	if errors.Is(err, io.EOF) && o.off < o.size {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

func (o *object) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += o.off
	case io.SeekEnd:
		offset += o.size
	default:
		return 0, errors.New("s3blob: bad whence")
	}
	if offset < 0 {
		return 0, errors.New("s3blob: negative offset")
	}
	if offset != o.off {
		o.closeBody()
		o.off = offset
	}
	return offset, nil
}

func (o *object) closeBody() {
	if o.body != nil {
		o.body.Close()
		o.cancel()
		o.body, o.cancel = nil, nil
	}
}

func (o *object) Close() error {
	o.closeBody()
	return nil
}
