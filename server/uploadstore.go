package server

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	tusd "github.com/tus/tusd/v2/pkg/handler"
)

// uploadStore is the tus data store the server uses: tusd's file store
// (through largeReadStore) with two additions.
//
//   - It hashes the bytes as they arrive, so that finishing an upload does
//     not read the file back: the chunk that completes the file hands its
//     sum to the finish hook, which runs in the same request (tusRequest).
//     Between chunks each upload's SHA-256 state is saved in <id>.sha256,
//     next to tusd's <id>.info, with the offset it covers, so a PATCH after
//     a restart carries on from it. A state that is missing, unreadable,
//     from another boot of the machine (the page cache holding the file may
//     have been lost with it) or for another offset is dropped, and the
//     finish hook hashes the file instead.
//   - It keeps finished uploads visible. When the finish hook has moved the
//     bytes into the blob store it leaves <id>.done, the upload's info with
//     Upload-Offset equal to Upload-Length, so that a phone whose answer to
//     the final PATCH was lost learns from HEAD that the file is complete.
//     The janitor removes it after the same idle time as an unfinished
//     upload. A POST for evidence whose bytes are already held creates such
//     a finished upload directly (newHeld).
type uploadStore struct {
	tusd.DataStore
	dir  string
	boot string // this boot of the machine; see readBootID
}

const (
	hashStateSuffix = ".sha256"
	heldSuffix      = ".done"
	// storageHeld marks, in a new upload's Storage, bytes the server already
	// holds: the upload is created finished.
	storageHeld = "FavadHeld"
	heldType    = "favad-held"
)

func newUploadStore(inner tusd.DataStore, dir string) *uploadStore {
	return &uploadStore{DataStore: inner, dir: dir, boot: readBootID()}
}

// readBootID names this boot of the machine (Linux), or "" where unknown.
func readBootID() string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func (s *uploadStore) NewUpload(ctx context.Context, info tusd.FileInfo) (tusd.Upload, error) {
	if info.Storage[storageHeld] != "" {
		return s.newHeld(info)
	}
	up, err := s.DataStore.NewUpload(ctx, info)
	if err != nil {
		return nil, err
	}
	return s.hashing(ctx, up)
}

func (s *uploadStore) GetUpload(ctx context.Context, id string) (tusd.Upload, error) {
	up, err := s.DataStore.GetUpload(ctx, id)
	if errors.Is(err, tusd.ErrNotFound) {
		return s.getHeld(id)
	}
	if err != nil {
		return nil, err
	}
	return s.hashing(ctx, up)
}

func (s *uploadStore) hashing(ctx context.Context, up tusd.Upload) (tusd.Upload, error) {
	info, err := up.GetInfo(ctx)
	if err != nil {
		return nil, err
	}
	return &hashingUpload{Upload: up, statePath: info.Storage["Path"] + hashStateSuffix, boot: s.boot}, nil
}

// newHeld creates a finished upload for bytes the server already holds.
func (s *uploadStore) newHeld(info tusd.FileInfo) (tusd.Upload, error) {
	id := make([]byte, 16)
	if _, err := rand.Read(id); err != nil {
		return nil, err
	}
	info.ID = hex.EncodeToString(id)
	info.Storage = nil
	b, err := json.Marshal(info)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(s.dir, info.ID+heldSuffix), b, 0o600); err != nil {
		return nil, err
	}
	return s.getHeld(info.ID)
}

// getHeld opens a finished upload: its info as created, complete.
func (s *uploadStore) getHeld(id string) (tusd.Upload, error) {
	if !uploadIDPattern.MatchString(id) {
		return nil, tusd.ErrNotFound
	}
	b, err := os.ReadFile(filepath.Join(s.dir, id+heldSuffix))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, tusd.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	var info tusd.FileInfo
	if err := json.Unmarshal(b, &info); err != nil {
		return nil, fmt.Errorf("finished upload %s: %w", id, err)
	}
	info.Offset, info.SizeIsDeferred = info.Size, false
	info.Storage = map[string]string{"Type": heldType, "Path": filepath.Join(s.dir, id)}
	return heldUpload{info}, nil
}

// markHeld turns the upload whose bytes were at path (and are now in the
// blob store) into a finished one: its .info becomes its .done.
func markHeld(path string) error {
	if err := os.Rename(path+".info", path+heldSuffix); err != nil {
		return err
	}
	now := time.Now() // its idle time, for the janitor, starts now
	return os.Chtimes(path+heldSuffix, now, now)
}

// isHeld reports whether info is a finished upload whose bytes are in the
// blob store.
func isHeld(info tusd.FileInfo) bool { return info.Storage["Type"] == heldType }

// heldUpload is a finished upload: its offset is its length, and it takes no
// more bytes (tusd answers a PATCH at its offset without writing).
type heldUpload struct{ info tusd.FileInfo }

func (u heldUpload) GetInfo(context.Context) (tusd.FileInfo, error) { return u.info, nil }

func (u heldUpload) WriteChunk(context.Context, int64, io.Reader) (int64, error) {
	return 0, tusd.ErrSizeExceeded
}

func (u heldUpload) GetReader(context.Context) (io.ReadCloser, error) { return nil, tusd.ErrNotFound }

func (u heldUpload) FinishUpload(context.Context) error { return nil }

// hashingUpload feeds the bytes of every chunk to the upload's SHA-256 state
// as they are written, and saves the state after the chunk.
type hashingUpload struct {
	tusd.Upload
	statePath string
	boot      string
}

// hashState is what <id>.sha256 holds.
type hashState struct {
	Offset int64  `json:"offset"` // the bytes the state covers
	Boot   string `json:"boot"`
	State  []byte `json:"state"` // crypto/sha256's MarshalBinary
}

func (u *hashingUpload) WriteChunk(ctx context.Context, offset int64, src io.Reader) (int64, error) {
	h := u.resume(offset)
	if h == nil {
		// No state to extend: drop any stale one, and let the finish hook
		// hash the file.
		_ = os.Remove(u.statePath)
		return u.Upload.WriteChunk(ctx, offset, src)
	}
	r := &hashingReader{r: src, h: h}
	n, err := u.Upload.WriteChunk(ctx, offset, r)
	if r.n != n {
		// The state and the file disagree (a write failed part-way): the
		// state is of no use any more.
		_ = os.Remove(u.statePath)
		return n, err
	}
	if info, ierr := u.Upload.GetInfo(ctx); ierr == nil && !info.SizeIsDeferred && offset+n == info.Size {
		// The file is complete: the finish hook, in this same request,
		// takes the sum from here; no state needs saving.
		if rq := requestOf(ctx); rq != nil {
			rq.sum, rq.size = hex.EncodeToString(h.Sum(nil)), info.Size
			if offset > 0 {
				_ = os.Remove(u.statePath)
			}
			return n, err
		}
	}
	if u.save(offset+n, h) != nil {
		_ = os.Remove(u.statePath)
	}
	return n, err
}

// resume returns the hash state for bytes up to offset, or nil.
func (u *hashingUpload) resume(offset int64) hash.Hash {
	h := sha256.New()
	if offset == 0 {
		return h
	}
	st, ok := loadHashState(u.statePath, u.boot)
	if !ok || st.Offset != offset {
		return nil
	}
	if err := h.(encoding.BinaryUnmarshaler).UnmarshalBinary(st.State); err != nil {
		return nil
	}
	return h
}

func (u *hashingUpload) save(offset int64, h hash.Hash) error {
	state, err := h.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		return err
	}
	b, err := json.Marshal(hashState{Offset: offset, Boot: u.boot, State: state})
	if err != nil {
		return err
	}
	return os.WriteFile(u.statePath, b, 0o600)
}

func loadHashState(path, boot string) (hashState, bool) {
	var st hashState
	b, err := os.ReadFile(path)
	if err != nil || json.Unmarshal(b, &st) != nil || st.Boot != boot {
		return hashState{}, false
	}
	return st, true
}

// hashingReader hashes what it reads.
type hashingReader struct {
	r io.Reader
	h hash.Hash
	n int64
}

func (r *hashingReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	r.h.Write(p[:n])
	r.n += int64(n)
	return n, err
}
