// Package blob stores evidence bytes content-addressed by SHA-256: the same
// bytes are one blob, and a blob's name is its hash, so a changed file is
// detectable. Store is the small interface the rest of FAVAD uses to keep and
// serve blobs; FS keeps them on the local disk, and package s3blob in an
// S3-compatible bucket. Uploads in progress are not blobs: they stay with
// the server's tus store until verified (in the bucket, for a store that is
// an ObjectAdopter).
package blob

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"time"
)

// ErrNotFound is returned by Open for a hash with no blob.
var ErrNotFound = errors.New("blob: not found")

// File is an open blob: readable at any offset, for HTTP range requests.
type File interface {
	io.ReadSeekCloser
}

// Store holds blobs by hash.
type Store interface {
	// Adopt moves the file at path into the store under hash, which the
	// caller has verified. If the blob exists already the file is removed
	// (same bytes, one blob).
	Adopt(hash, path string) error
	// Open returns the blob with hash, or ErrNotFound.
	Open(hash string) (File, int64, time.Time, error)
	// Exists reports whether a blob with hash is stored.
	Exists(hash string) bool
}

// ObjectAdopter is an optional capability of a store in object storage
// whose uploads in progress are kept in the same bucket: a finished upload
// becomes a blob by a server-side copy, its bytes never passing through the
// server.
type ObjectAdopter interface {
	// AdoptObject makes the object key of the store's bucket the blob hash,
	// which the caller has verified, then deletes key. If the blob exists
	// already nothing is copied (same bytes, one blob). It refuses a key
	// outside the store's uploads.
	AdoptObject(ctx context.Context, hash, key string) error
}

// Remover is an optional capability: deleting a blob no record refers to.
type Remover interface {
	// Remove deletes the blob with hash; a missing blob is not an error.
	Remove(hash string) error
}

// Verifier is an optional capability: rechecking every blob against its name.
type Verifier interface {
	// Verify calls bad for every blob whose bytes no longer hash to its name.
	Verify(bad func(hash string, err error)) (checked int, err error)
}

// Checker is an optional capability of a store behind the network (object
// storage): whether it can be reached now, for the server's readiness.
type Checker interface {
	// Check returns an error when the store cannot be reached or used.
	Check(ctx context.Context) error
}

// Lister is an optional capability: naming every blob, so that a verifier can
// find bytes no record refers to.
type Lister interface {
	// List calls fn with every blob's hash and when its bytes were last written.
	List(fn func(hash string, written time.Time) error) error
}

var hashPattern = regexp.MustCompile(`^[0-9a-f]{64}$`)

// FS is a Store in a directory: <dir>/<first two hex digits>/<hash>.
type FS struct{ Dir string }

var (
	_ Store    = (*FS)(nil)
	_ Verifier = (*FS)(nil)
	_ Remover  = (*FS)(nil)
	_ Lister   = (*FS)(nil)
)

// Remove deletes the blob with hash.
func (s *FS) Remove(hash string) error {
	p, err := s.path(hash)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("blob: %w", err)
	}
	return nil
}

func (s *FS) path(hash string) (string, error) {
	if !hashPattern.MatchString(hash) {
		return "", fmt.Errorf("blob: %q is not a SHA-256", hash)
	}
	return filepath.Join(s.Dir, hash[:2], hash), nil
}

// Adopt moves path into the store, durably: the file is synced, renamed, and
// its directory synced.
func (s *FS) Adopt(hash, path string) error {
	dst, err := s.path(hash)
	if err != nil {
		return err
	}
	if _, err := os.Stat(dst); err == nil {
		return os.Remove(path)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return fmt.Errorf("blob: %w", err)
	}
	if err := SyncFile(path); err != nil {
		return fmt.Errorf("blob: sync upload: %w", err)
	}
	if err := os.Chmod(path, 0o400); err != nil {
		return fmt.Errorf("blob: %w", err)
	}
	if err := os.Rename(path, dst); err != nil {
		return fmt.Errorf("blob: adopt: %w", err)
	}
	return syncDir(filepath.Dir(dst))
}

// Open opens the blob with hash.
func (s *FS) Open(hash string) (File, int64, time.Time, error) {
	p, err := s.path(hash)
	if err != nil {
		return nil, 0, time.Time{}, ErrNotFound
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0, time.Time{}, ErrNotFound
	}
	if err != nil {
		return nil, 0, time.Time{}, fmt.Errorf("blob: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, time.Time{}, fmt.Errorf("blob: %w", err)
	}
	return f, st.Size(), st.ModTime(), nil
}

// Exists reports whether the blob is stored.
func (s *FS) Exists(hash string) bool {
	p, err := s.path(hash)
	if err != nil {
		return false
	}
	_, err = os.Stat(p)
	return err == nil
}

// Verify rehashes every blob.
func (s *FS) Verify(bad func(hash string, err error)) (int, error) {
	checked := 0
	err := s.List(func(hash string, _ time.Time) error {
		checked++
		p, _ := s.path(hash) // List names only hashes
		got, err := HashFile(p)
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

// List names every blob in the directory.
func (s *FS) List(fn func(hash string, written time.Time) error) error {
	err := filepath.WalkDir(s.Dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && p == s.Dir {
				return filepath.SkipDir
			}
			return err
		}
		if d.IsDir() || !hashPattern.MatchString(d.Name()) {
			return nil
		}
		info, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil // removed meanwhile
		}
		if err != nil {
			return err
		}
		return fn(d.Name(), info.ModTime())
	})
	if err != nil {
		return fmt.Errorf("blob: list: %w", err)
	}
	return nil
}

// HashFile returns the SHA-256 of the file at path, reading it in a stream.
func HashFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// SyncFile flushes the file at path to disk. Flushing a file already flushed
// is cheap, so a caller may flush early, alongside other work.
func SyncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// HashReader returns the SHA-256 of everything r yields.
func HashReader(r io.Reader) (string, error) {
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// String names the store in logs: file://<dir>.
func (s *FS) String() string { return "file://" + s.Dir }
