package s3blob

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awscreds "github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/minio/minio-go/v7"
	tusd "github.com/tus/tusd/v2/pkg/handler"
	"github.com/tus/tusd/v2/pkg/s3store"

	"github.com/favad/favad/sync/blob"
)

// Uploads in progress live in the same bucket as the blobs, under
// <prefix>/uploads/ (never under sha256/): tusd's s3store keeps there, for
// an upload <id>, the object <id> (a multipart upload until the last byte,
// then the whole file), <id>.info (tus's metadata) and <id>.part (the bytes
// of a chunk too small to be a part yet); the server adds small objects of
// its own beside them (PutUploadObject). Nothing of the file is kept on the
// server's disk but s3store's temporary part files (at most a few parts of
// uploadPartSize while they are sent). A finished, verified upload becomes
// a blob by a server-side copy (AdoptObject), never through the server.
const uploadsDir = "uploads/"

// uploadPartSize is the size of the parts of an upload's multipart upload:
// S3's smallest part, so that a chunk cut off mid-part loses little and the
// server's temporary part files stay small.
const uploadPartSize = 5 << 20

// maxCopySize is the largest object one CopyObject copies (S3's limit);
// above it AdoptObject composes the copy from ranged part copies.
const maxCopySize = 5 << 30

var (
	_ blob.ObjectAdopter = (*Store)(nil)
)

// newAWSClient is the AWS SDK client tusd's s3store talks through, for the
// same endpoint, region, addressing and credentials as the minio client.
func newAWSClient(cfg Config, region string) *s3.Client {
	scheme := "https://"
	if cfg.Insecure {
		scheme = "http://"
	}
	if region == "" {
		region = "us-east-1" // replaced by the bucket's own at Check
	}
	opts := s3.Options{
		BaseEndpoint: aws.String(scheme + cfg.Endpoint),
		Region:       region,
		UsePathStyle: cfg.PathStyle,
		// Checksums only where S3 requires them: S3-compatible servers do
		// not all take the SDK's newer trailing checksums.
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
		Credentials:                aws.AnonymousCredentials{},
		RetryMaxAttempts:           cfg.MaxAttempts,
	}
	if cfg.AccessKey != "" || cfg.SecretKey != "" {
		opts.Credentials = awscreds.NewStaticCredentialsProvider(cfg.AccessKey, cfg.SecretKey, "")
	}
	return s3.New(opts)
}

// awsState holds the AWS client, rebuilt once Check has learnt the bucket's
// region when the configuration did not give it.
type awsState struct {
	mu     sync.Mutex
	cfg    Config
	client *s3.Client
	known  bool // the region is the configured or the bucket's own
}

func (a *awsState) get() *s3.Client {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.client
}

// learnRegion asks the bucket's region once, if the configuration did not
// say. A server that does not tell keeps us-east-1 (S3-compatible servers
// mostly take any region), and the next Check asks again.
func (s *Store) learnRegion(ctx context.Context) {
	a := s.aws
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.known {
		return
	}
	region, err := s.client.GetBucketLocation(ctx, s.bucket)
	if err != nil || region == "" {
		return
	}
	a.client, a.known = newAWSClient(a.cfg, region), true
}

// uploadKey is the key of name in the uploads area.
func (s *Store) uploadKey(name string) string { return s.prefix + uploadsDir + name }

// uploadIDPattern is the form of s3store's object ids: tus upload ids as the
// clients see them.
var uploadIDPattern = regexp.MustCompile(`^[0-9a-f]{32}$`)

// UploadStore returns the tus data store of uploads in progress in the
// bucket (call it after Check, which learns the bucket's region when Config
// does not give it): tusd's s3store under <prefix>/uploads/, with 5 MiB parts whose
// temporary files are made in tempDir. Its upload ids are s3store's object
// ids (32 hex digits); the multipart upload's id, which s3store joins to
// them, is read from the upload's .info (then remembered) and never shown
// to clients.
//
// An upload whose bytes are all in the bucket (its last part stored, or its
// multipart upload completed) when it is loaded, but whose .info is still
// there, was cut off before the server verified it: it is reported one byte
// short, and the resume's last byte finishes it (the server then hashes the
// object as it stands). A verified upload has no .info any more.
func (s *Store) UploadStore(tempDir string) tusd.DataStore {
	st := s3store.New(s.bucket, s.aws.get())
	st.ObjectPrefix = s.prefix + uploadsDir
	st.MinPartSize, st.PreferredPartSize = uploadPartSize, uploadPartSize
	st.MaxBufferedParts = 2
	st.TemporaryDirectory = tempDir
	return &uploadStore{s: s, inner: st, fullIDs: map[string]string{}}
}

type uploadStore struct {
	s     *Store
	inner s3store.S3Store

	mu      sync.Mutex
	fullIDs map[string]string // object id → s3store's id, as read from .info
}

// maxFullIDs bounds the ids remembered; past it they are forgotten and read
// again from the uploads' .info.
const maxFullIDs = 10000

func (u *uploadStore) remember(id, fullID string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.fullIDs) >= maxFullIDs {
		clear(u.fullIDs)
	}
	u.fullIDs[id] = fullID
}

func (u *uploadStore) NewUpload(ctx context.Context, info tusd.FileInfo) (tusd.Upload, error) {
	up, err := u.inner.NewUpload(ctx, info)
	if err != nil {
		return nil, err
	}
	if full, err := up.GetInfo(ctx); err == nil {
		id, _, _ := strings.Cut(full.ID, "+")
		u.remember(id, full.ID)
	}
	return &upload{Upload: up, s: u.s}, nil
}

// fullID is s3store's id of the upload id (its object id and its multipart
// upload's), from memory or from the upload's .info.
func (u *uploadStore) fullID(ctx context.Context, id string) (string, error) {
	u.mu.Lock()
	full, ok := u.fullIDs[id]
	u.mu.Unlock()
	if ok {
		return full, nil
	}
	b, err := u.s.GetUploadObject(ctx, id+".info")
	if errors.Is(err, blob.ErrNotFound) {
		return "", tusd.ErrNotFound
	}
	if err != nil {
		return "", err
	}
	var info tusd.FileInfo
	if err := json.Unmarshal(b, &info); err != nil {
		return "", fmt.Errorf("s3blob: upload %s: %w", id, err)
	}
	obj, _, ok := strings.Cut(info.ID, "+")
	if !ok || obj != id {
		return "", fmt.Errorf("s3blob: upload %s: its info names %q", id, info.ID)
	}
	u.remember(id, info.ID)
	return info.ID, nil
}

// GetUpload opens the upload id, or returns tusd.ErrNotFound.
func (u *uploadStore) GetUpload(ctx context.Context, id string) (tusd.Upload, error) {
	if !uploadIDPattern.MatchString(id) {
		return nil, tusd.ErrNotFound
	}
	fullID, err := u.fullID(ctx, id)
	if err != nil {
		return nil, err
	}
	inner, err := u.inner.GetUpload(ctx, fullID)
	if err != nil {
		return nil, err
	}
	up := &upload{Upload: inner, s: u.s}
	full, err := inner.GetInfo(ctx)
	if err != nil {
		return nil, err
	}
	if !full.SizeIsDeferred && full.Size > 0 && full.Offset == full.Size {
		// s3store reports as complete an upload whose multipart upload is
		// gone: completed (its object is there), or aborted by the bucket
		// (a lifecycle rule, MinIO's stale uploads), which is lost.
		if lost, err := u.s.uploadLost(ctx, id, fullID); err != nil {
			return nil, err
		} else if lost {
			return nil, tusd.ErrNotFound
		}
		up.reopened = true
	}
	return up, nil
}

// uploadLost reports whether the upload id (s3store's fullID) has neither
// its object nor its multipart upload.
func (s *Store) uploadLost(ctx context.Context, id, fullID string) (bool, error) {
	switch _, err := s.stat(s.uploadKey(id)); {
	case err == nil:
		return false, nil
	case !errors.Is(err, blob.ErrNotFound):
		return false, err
	}
	_, mp, _ := strings.Cut(fullID, "+")
	_, err := minio.Core{Client: s.client}.ListObjectParts(ctx, s.bucket, s.uploadKey(id), mp, 0, 1)
	switch {
	case err == nil:
		return false, nil
	case noSuchUpload(err):
		return true, nil
	}
	return false, fmt.Errorf("s3blob: upload %s: %w", id, err)
}

// upload is one of s3store's uploads, shown under its object id.
type upload struct {
	tusd.Upload
	s        *Store
	reopened bool // complete in the bucket but never verified: see UploadStore
}

func (u *upload) GetInfo(ctx context.Context) (tusd.FileInfo, error) {
	info, err := u.Upload.GetInfo(ctx)
	if err != nil {
		return info, err
	}
	info.ID, _, _ = strings.Cut(info.ID, "+")
	if u.reopened {
		info.Offset = info.Size - 1
	}
	return info, nil
}

func (u *upload) WriteChunk(ctx context.Context, offset int64, src io.Reader) (int64, error) {
	if !u.reopened {
		return u.Upload.WriteChunk(ctx, offset, src)
	}
	// The bucket holds every byte: the resume's last byte is read and
	// dropped, and the object as it stands is what the server verifies.
	n, err := io.ReadFull(src, make([]byte, 1))
	if n == 1 {
		u.reopened = false
	}
	return int64(n), err
}

// FinishUpload completes the multipart upload, unless it was completed
// before the process that received its last byte stopped.
func (u *upload) FinishUpload(ctx context.Context) error {
	info, err := u.Upload.GetInfo(ctx)
	if err != nil {
		return err
	}
	if _, err := u.s.stat(info.Storage["Key"]); err == nil {
		return nil
	}
	return u.Upload.FinishUpload(ctx)
}

// GetUploadObject returns the small object name of the uploads area, or
// blob.ErrNotFound.
func (s *Store) GetUploadObject(ctx context.Context, name string) ([]byte, error) {
	key := s.uploadKey(name)
	body, _, _, err := minio.Core{Client: s.client}.GetObject(ctx, s.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		if notFound(err) {
			return nil, blob.ErrNotFound
		}
		return nil, fmt.Errorf("s3blob: get %s: %w", key, err)
	}
	defer body.Close()
	b, err := io.ReadAll(io.LimitReader(body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("s3blob: get %s: %w", key, err)
	}
	return b, nil
}

// PutUploadObject writes the small object name of the uploads area.
func (s *Store) PutUploadObject(ctx context.Context, name string, b []byte) error {
	key := s.uploadKey(name)
	_, err := s.client.PutObject(ctx, s.bucket, key, bytes.NewReader(b), int64(len(b)), minio.PutObjectOptions{
		ContentType: "application/json", DisableMultipart: true})
	if err != nil {
		return fmt.Errorf("s3blob: put %s: %w", key, err)
	}
	return nil
}

// RemoveUploadObjects deletes the objects names of the uploads area; a
// missing one is not an error.
func (s *Store) RemoveUploadObjects(ctx context.Context, names ...string) error {
	var errs []error
	for _, name := range names {
		key := s.uploadKey(name)
		if err := s.client.RemoveObject(ctx, s.bucket, key, minio.RemoveObjectOptions{}); err != nil && !notFound(err) {
			errs = append(errs, fmt.Errorf("s3blob: remove %s: %w", key, err))
		}
	}
	return errors.Join(errs...)
}

// RemoveUpload deletes the upload id: its multipart upload is aborted, and
// its object, .info and .part are removed, with the objects extra of the
// uploads area. A missing one is not an error.
func (s *Store) RemoveUpload(ctx context.Context, id string, extra ...string) error {
	var errs []error
	if b, err := s.GetUploadObject(ctx, id+".info"); err == nil {
		var info tusd.FileInfo
		if json.Unmarshal(b, &info) == nil {
			if _, mp, ok := strings.Cut(info.ID, "+"); ok {
				err := minio.Core{Client: s.client}.AbortMultipartUpload(ctx, s.bucket, s.uploadKey(id), mp)
				if err != nil && !noSuchUpload(err) {
					errs = append(errs, fmt.Errorf("s3blob: abort upload %s: %w", id, err))
				}
			}
		}
	}
	errs = append(errs, s.RemoveUploadObjects(ctx, append([]string{id, id + ".part", id + ".info"}, extra...)...))
	return errors.Join(errs...)
}

func noSuchUpload(err error) bool {
	r := minio.ToErrorResponse(err)
	return r.Code == "NoSuchUpload" || r.StatusCode == http.StatusNotFound
}

// OpenUpload streams the finished upload id's object from offset off to its
// end (one GET, ranged when off > 0).
func (s *Store) OpenUpload(ctx context.Context, id string, off int64) (io.ReadCloser, error) {
	key := s.uploadKey(id)
	opts := minio.GetObjectOptions{}
	if off > 0 {
		if err := opts.SetRange(off, 0); err != nil {
			return nil, fmt.Errorf("s3blob: %w", err)
		}
	}
	body, _, _, err := minio.Core{Client: s.client}.GetObject(ctx, s.bucket, key, opts)
	if err != nil {
		if notFound(err) {
			return nil, blob.ErrNotFound
		}
		return nil, fmt.Errorf("s3blob: get %s: %w", key, err)
	}
	return body, nil
}

// AdoptObject makes the object key of the bucket (a finished upload, under
// <prefix>/uploads/) the blob hash, which the caller has verified, by a
// server-side copy: the bytes do not pass through this process. If the blob
// exists already nothing is copied (same bytes, one blob). Then key is
// deleted.
func (s *Store) AdoptObject(ctx context.Context, hash, key string) error {
	dst, err := s.key(hash)
	if err != nil {
		return err
	}
	if !strings.HasPrefix(key, s.prefix+uploadsDir) || path.Clean(key) != key {
		return fmt.Errorf("s3blob: adopt %q: not an upload of %s", key, s)
	}
	src, err := s.stat(key)
	if err != nil {
		return err
	}
	switch _, err := s.stat(dst); {
	case errors.Is(err, blob.ErrNotFound):
		if err := s.copyObject(ctx, hash, key, dst, src); err != nil {
			return err
		}
	case err != nil:
		return err
	}
	if err := s.client.RemoveObject(ctx, s.bucket, key, minio.RemoveObjectOptions{}); err != nil && !notFound(err) {
		return fmt.Errorf("s3blob: remove %s: %w", key, err)
	}
	return nil
}

func (s *Store) copyObject(ctx context.Context, hash, key, dst string, src minio.ObjectInfo) error {
	to := minio.CopyDestOptions{Bucket: s.bucket, Object: dst, ReplaceMetadata: true,
		UserMetadata: map[string]string{"Favad-Sha256": hash, "Content-Type": "application/octet-stream"}}
	from := minio.CopySrcOptions{Bucket: s.bucket, Object: key, MatchETag: src.ETag}
	var err error
	if src.Size <= maxCopySize {
		_, err = s.client.CopyObject(ctx, to, from)
	} else {
		// ComposeObject copies in ranged parts (UploadPartCopy) of at most 5 GiB.
		_, err = s.client.ComposeObject(ctx, to, from)
	}
	if err != nil {
		return fmt.Errorf("s3blob: copy %s to %s: %w", key, dst, err)
	}
	return nil
}

// SweepUploads removes the uploads idle since before cutoff: their
// multipart uploads are aborted and every object of theirs in the uploads
// area is deleted (finished-upload markers too). An upload's idle time is
// the newest of its objects, of its multipart upload's start and of its
// parts. It calls removed for each upload removed.
func (s *Store) SweepUploads(ctx context.Context, cutoff time.Time, removed func(id string, idleSince time.Time)) error {
	dir := s.prefix + uploadsDir
	type upload struct {
		newest  time.Time
		objects []string
		key     string // of the multipart upload
		mp      string
	}
	ups := map[string]*upload{}
	get := func(id string) *upload {
		if ups[id] == nil {
			ups[id] = &upload{}
		}
		return ups[id]
	}
	for obj := range s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: dir, Recursive: true}) {
		if obj.Err != nil {
			return fmt.Errorf("s3blob: list uploads: %w", obj.Err)
		}
		name := strings.TrimPrefix(obj.Key, dir)
		id, _, _ := strings.Cut(name, ".")
		u := get(id)
		u.objects = append(u.objects, name)
		if obj.LastModified.After(u.newest) {
			u.newest = obj.LastModified
		}
	}
	for mu := range s.client.ListIncompleteUploads(ctx, s.bucket, dir, true) {
		if mu.Err != nil {
			return fmt.Errorf("s3blob: list multipart uploads: %w", mu.Err)
		}
		u := get(strings.TrimPrefix(mu.Key, dir))
		u.key, u.mp = mu.Key, mu.UploadID
		if mu.Initiated.After(u.newest) {
			u.newest = mu.Initiated
		}
	}
	var errs []error
	for id, u := range ups {
		if !u.newest.Before(cutoff) {
			continue
		}
		if u.mp != "" {
			// Its parts may be newer than anything else of it.
			parts, err := minio.Core{Client: s.client}.ListObjectParts(ctx, s.bucket, u.key, u.mp, 0, 10000)
			if err == nil {
				for _, p := range parts.ObjectParts {
					if p.LastModified.After(u.newest) {
						u.newest = p.LastModified
					}
				}
			}
			if !u.newest.Before(cutoff) {
				continue
			}
			if err := (minio.Core{Client: s.client}).AbortMultipartUpload(ctx, s.bucket, u.key, u.mp); err != nil && !noSuchUpload(err) {
				errs = append(errs, fmt.Errorf("s3blob: abort upload %s: %w", id, err))
				continue
			}
		}
		if err := s.RemoveUploadObjects(ctx, u.objects...); err != nil {
			errs = append(errs, err)
			continue
		}
		if removed != nil {
			removed(id, u.newest)
		}
	}
	return errors.Join(errs...)
}
