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
	"os"
	"strings"

	tusd "github.com/tus/tusd/v2/pkg/handler"
)

// uploadStore is the tus data store the server uses: the upload area's
// (tusd's file store through largeReadStore, or tusd's s3store in the blob
// store's bucket) with two additions.
//
//   - It hashes the bytes as they arrive, so that finishing an upload does
//     not read the bytes back: the chunk that completes the file hands its
//     sum to the finish hook, which runs in the same request (tusRequest).
//     Between chunks each upload's SHA-256 state is saved in <id>.sha256,
//     next to tusd's <id>.info (a file in the upload directory, or an object
//     in the bucket, where another node can carry on from it), with the
//     offset it covers, so a PATCH after a restart carries on from it. A
//     state that is missing, unreadable, for another offset or (on the
//     local disk only) from another boot of the machine (the page cache
//     holding the file may have been lost with it) is dropped, and the
//     finish hook hashes the bytes instead (streaming the object, in a
//     bucket).
//   - It keeps finished uploads visible. When the finish hook has moved the
//     bytes into the blob store it leaves <id>.done, the upload's info with
//     Upload-Offset equal to Upload-Length, so that a phone whose answer to
//     the final PATCH was lost learns from HEAD that the file is complete.
//     The janitor removes it after the same idle time as an unfinished
//     upload. A POST for evidence whose bytes are already held creates such
//     a finished upload directly (newHeld).
type uploadStore struct {
	tusd.DataStore
	area uploadArea
	boot string // this boot of the machine; see readBootID
	// partial says the data store may keep fewer bytes of a chunk than it
	// read (s3store drops a part cut off mid-way), so the hash keeps its
	// state at every read's end.
	partial bool
}

const (
	hashStateSuffix = ".sha256"
	heldSuffix      = ".done"
	// storageHeld marks, in a new upload's Storage, bytes the server already
	// holds: the upload is created finished.
	storageHeld = "FavadHeld"
	heldType    = "favad-held"
)

func newUploadStore(area uploadArea) *uploadStore {
	s := &uploadStore{DataStore: area.store(), area: area}
	if area.bootBound() {
		s.boot = readBootID()
	}
	_, s.partial = area.(*bucketArea)
	return s
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
		return s.newHeld(ctx, info)
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
		return s.getHeld(ctx, id)
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
	return &hashingUpload{Upload: up, area: s.area, state: info.ID + hashStateSuffix, boot: s.boot, partial: s.partial}, nil
}

// peekInfo returns the upload's info as created (its metadata, and
// whether it is finished), read from its .info alone: not its offset, and
// without loading the upload (for an upload in a bucket, that takes a
// listing of its parts).
func (s *uploadStore) peekInfo(ctx context.Context, id string) (tusd.FileInfo, error) {
	if !uploadIDPattern.MatchString(id) {
		return tusd.FileInfo{}, tusd.ErrNotFound
	}
	b, err := s.area.read(ctx, id+".info")
	if errors.Is(err, errNoObject) {
		up, err := s.getHeld(ctx, id)
		if err != nil {
			return tusd.FileInfo{}, err
		}
		return up.GetInfo(ctx)
	}
	if err != nil {
		return tusd.FileInfo{}, err
	}
	var info tusd.FileInfo
	if err := json.Unmarshal(b, &info); err != nil { // unreadable for good: gone, not unavailable
		return tusd.FileInfo{}, fmt.Errorf("upload %s: %v: %w", id, err, tusd.ErrNotFound)
	}
	return info, nil
}

// newHeld creates a finished upload for bytes the server already holds.
func (s *uploadStore) newHeld(ctx context.Context, info tusd.FileInfo) (tusd.Upload, error) {
	id := make([]byte, 16)
	if _, err := rand.Read(id); err != nil {
		return nil, err
	}
	info.ID = hex.EncodeToString(id)
	b, err := heldInfo(info)
	if err != nil {
		return nil, err
	}
	if err := s.area.write(ctx, info.ID+heldSuffix, b); err != nil {
		return nil, err
	}
	return s.getHeld(ctx, info.ID)
}

// heldInfo is what a finished upload's <id>.done holds: its info.
func heldInfo(info tusd.FileInfo) ([]byte, error) {
	info.Storage = nil
	return json.Marshal(info)
}

// getHeld opens a finished upload: its info as created, complete.
func (s *uploadStore) getHeld(ctx context.Context, id string) (tusd.Upload, error) {
	if !uploadIDPattern.MatchString(id) {
		return nil, tusd.ErrNotFound
	}
	b, err := s.area.read(ctx, id+heldSuffix)
	if errors.Is(err, errNoObject) {
		return nil, tusd.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	var info tusd.FileInfo
	if err := json.Unmarshal(b, &info); err != nil { // unreadable for good: gone, not unavailable
		return nil, fmt.Errorf("finished upload %s: %v: %w", id, err, tusd.ErrNotFound)
	}
	info.ID, info.Offset, info.SizeIsDeferred = id, info.Size, false
	info.Storage = map[string]string{"Type": heldType}
	return heldUpload{info}, nil
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
	area    uploadArea
	state   string // the name of its hash state in the area
	boot    string
	partial bool // see uploadStore
}

// hashState is what <id>.sha256 holds.
type hashState struct {
	Offset int64  `json:"offset"`         // the bytes the state covers
	Boot   string `json:"boot,omitempty"` // the boot it holds in; "" in a bucket
	State  []byte `json:"state"`          // crypto/sha256's MarshalBinary
}

func (u *hashingUpload) WriteChunk(ctx context.Context, offset int64, src io.Reader) (int64, error) {
	h := u.resume(ctx, offset)
	if h == nil {
		// No state to extend: drop any stale one, and let the finish hook
		// hash the bytes.
		u.area.remove(ctx, u.state)
		return u.Upload.WriteChunk(ctx, offset, src)
	}
	r := &hashingReader{r: src, h: h, marks: u.partial}
	n, err := u.Upload.WriteChunk(ctx, offset, r)
	if r.n != n {
		// The store kept fewer bytes than were read (a write failed
		// part-way, or s3store dropped a part it could not finish): the
		// state at that point, if a read ended there, still holds; with
		// nothing kept, the state saved before this chunk does.
		if n == 0 {
			return n, err
		}
		if st := r.stateAt(n); st != nil && u.saveState(ctx, offset+n, st) == nil {
			return n, err
		}
		u.area.remove(ctx, u.state)
		return n, err
	}
	if info, ierr := u.Upload.GetInfo(ctx); ierr == nil && !info.SizeIsDeferred && offset+n == info.Size {
		// The file is complete: the finish hook, in this same request,
		// takes the sum from here; no state needs saving.
		if rq := requestOf(ctx); rq != nil {
			rq.sum, rq.size = hex.EncodeToString(h.Sum(nil)), info.Size
			if offset > 0 {
				u.area.remove(ctx, u.state)
			}
			return n, err
		}
	}
	state, serr := h.(encoding.BinaryMarshaler).MarshalBinary()
	if serr != nil || u.saveState(ctx, offset+n, state) != nil {
		u.area.remove(ctx, u.state)
	}
	return n, err
}

// resume returns the hash state for bytes up to offset, or nil.
func (u *hashingUpload) resume(ctx context.Context, offset int64) hash.Hash {
	h := sha256.New()
	if offset == 0 {
		return h
	}
	b, err := u.area.read(ctx, u.state)
	var st hashState
	if err != nil || json.Unmarshal(b, &st) != nil || st.Boot != u.boot || st.Offset != offset {
		return nil
	}
	if err := h.(encoding.BinaryUnmarshaler).UnmarshalBinary(st.State); err != nil {
		return nil
	}
	return h
}

func (u *hashingUpload) saveState(ctx context.Context, offset int64, state []byte) error {
	b, err := json.Marshal(hashState{Offset: offset, Boot: u.boot, State: state})
	if err != nil {
		return err
	}
	return u.area.write(ctx, u.state, b)
}

// hashingReader hashes what it reads. With marks, it keeps the hash's
// state at the end of every read, for a store that keeps only the bytes up
// to some read's end (s3store reads each part through a LimitReader, so a
// part's end is a read's end).
type hashingReader struct {
	r      io.Reader
	h      hash.Hash
	n      int64
	marks  bool
	states []markedState
}

// maxMarkedStates bounds the states one chunk keeps (about 110 bytes each):
// a state dropped only costs the finish hook a read of the object.
const maxMarkedStates = 4096

type markedState struct {
	n     int64
	state []byte
}

func (r *hashingReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	r.h.Write(p[:n])
	r.n += int64(n)
	if r.marks && n > 0 {
		if len(r.states) == maxMarkedStates {
			// The oldest are the least likely to be a kept part's end.
			r.states = append(r.states[:0], r.states[maxMarkedStates/2:]...)
		}
		if st, merr := r.h.(encoding.BinaryMarshaler).MarshalBinary(); merr == nil {
			r.states = append(r.states, markedState{r.n, st})
		}
	}
	return n, err
}

// stateAt is the hash's state after n bytes, if a read ended there.
func (r *hashingReader) stateAt(n int64) []byte {
	for i := len(r.states) - 1; i >= 0; i-- {
		if r.states[i].n == n {
			return r.states[i].state
		}
	}
	return nil
}
