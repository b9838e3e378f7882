package sync

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// Index entries written behind.
//
// A note pushed from a phone puts a key in three places that belong to its
// inspector or its complaint: the complaint's history (record_log), the
// inspector's scope log and scope membership. A commit of 32 phones'
// notes, each phone its inspector's, dirties about a hundred pages for
// those keys alone, a page a key, where the change log and the notes
// append to a few. So the group commit appends these puts, in order, to
// index_behind, and moves them to their places in one batch once
// behindFlushAt of them wait (tens of keys to a page), or as soon as no
// writer waits for the next commit (a quiet server keeps nothing waiting).
//
// Nothing else changes for a reader: every reader of the three indexes
// merges the entries still waiting with the index, in the same transaction
// (through indexCursor; ScopeChangedSince merges waitingFor itself, and
// CompactScopes moves what waits before it reads), so what a read sees is exactly
// what it would have seen with the keys in place. Only puts wait: a
// delete first moves what waits (deleteIndex), so that a key removed is
// never put back by a later batch. A crash loses nothing: the entries
// wait in the same file, committed with the change that made them.

// behindBuckets are the indexes whose puts may wait, by the byte naming
// them in index_behind.
var behindBuckets = [...][]byte{1: bucketRecordLog, 2: bucketScopeLog, 3: bucketScopeMembers}

// defaultBehindFlushAt is how many entries waiting make a commit move
// them. At 2,048 (about 700 notes), a commit moving them writes about 20
// keys to each inspector's page, and a reader merges at most that many.
const defaultBehindFlushAt = 2048

func behindBucketID(bucket []byte) byte {
	for id, b := range behindBuckets {
		if b != nil && bytes.Equal(b, bucket) {
			return byte(id)
		}
	}
	return 0
}

// putIndex puts key in one of the behind indexes: in a group commit with
// other writers (t.behind) it waits in index_behind, elsewhere it goes to
// its place, unless entries wait already: then it waits behind them, so
// that puts of one key keep their order.
func (t *tx) putIndex(bucket, key, value []byte) error {
	// Refused now, as a put in place would be: once waiting, a key bbolt
	// cannot place would fail every later move, every write and every open.
	switch {
	case len(key) == 0:
		return bolt.ErrKeyRequired
	case len(key) > bolt.MaxKeySize:
		return bolt.ErrKeyTooLarge
	case len(value) > bolt.MaxValueSize:
		return bolt.ErrValueTooLarge
	}
	id := behindBucketID(bucket)
	pending := t.Bucket(bucketIndexBehind)
	if id == 0 || !t.behind && pending.Sequence() == 0 {
		return t.Bucket(bucket).Put(key, value)
	}
	n, err := pending.NextSequence()
	if err != nil {
		return err
	}
	entry := make([]byte, 0, 1+binary.MaxVarintLen32+len(key)+len(value))
	entry = append(entry, id)
	entry = binary.AppendUvarint(entry, uint64(len(key)))
	entry = append(entry, key...)
	entry = append(entry, value...)
	return pending.Put(itob(n), entry)
}

// deleteIndex deletes key from one of the behind indexes, after moving
// what waits, so that a put of it waiting is not applied after the delete.
func (t *tx) deleteIndex(bucket, key []byte) error {
	if err := flushBehind(t.Tx); err != nil {
		return err
	}
	return t.Bucket(bucket).Delete(key)
}

// behindEntry is an index put waiting in index_behind.
type behindEntry struct {
	bucket     byte
	key, value []byte
	order      int // its place among the entries waiting: puts of one key apply in this order
}

// compareBehind orders waiting entries by index, then key, then the order
// they were put in. The last tie-break makes an unstable sort (several
// times faster than a stable one on thousands of entries) keep the puts of
// one key in order.
func compareBehind(a, b behindEntry) int {
	if a.bucket != b.bucket {
		return int(a.bucket) - int(b.bucket)
	}
	if c := bytes.Compare(a.key, b.key); c != 0 {
		return c
	}
	return a.order - b.order
}

func decodeBehind(k, v []byte) (behindEntry, error) {
	if len(v) < 2 || int(v[0]) >= len(behindBuckets) || behindBuckets[v[0]] == nil {
		return behindEntry{}, fmt.Errorf("index_behind %x: unknown index", k)
	}
	n, w := binary.Uvarint(v[1:])
	if w <= 0 || uint64(len(v)-1-w) < n {
		return behindEntry{}, fmt.Errorf("index_behind %x: bad key length", k)
	}
	rest := v[1+w:]
	return behindEntry{bucket: v[0], key: rest[:n], value: rest[n:]}, nil
}

// allWaiting returns every entry waiting in index_behind, in the order
// they were put (nil for a file from before schema 9, opened read-only).
// They are valid for the transaction's life.
func allWaiting(btx *bolt.Tx) ([]behindEntry, error) {
	pending := btx.Bucket(bucketIndexBehind)
	if pending == nil || pending.Sequence() == 0 {
		return nil, nil
	}
	var out []behindEntry
	c := pending.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		e, err := decodeBehind(k, v)
		if err != nil {
			return nil, err
		}
		e.order = len(out)
		out = append(out, e)
	}
	return out, nil
}

// waitingFor returns the entries waiting for bucket, in key order.
func waitingFor(btx *bolt.Tx, bucket []byte) ([]behindEntry, error) {
	all, err := allWaiting(btx)
	if err != nil {
		return nil, err
	}
	id := behindBucketID(bucket)
	out := slices.DeleteFunc(all, func(e behindEntry) bool { return e.bucket != id })
	// A key put twice (a visit's membership, each time it changes) is one
	// key, with the last value put.
	slices.SortFunc(out, compareBehind)
	kept := out[:0]
	for i, e := range out {
		if i+1 < len(out) && bytes.Equal(out[i+1].key, e.key) {
			continue
		}
		kept = append(kept, e)
	}
	return kept, nil
}

// flushBehind moves every entry waiting to its place and empties
// index_behind, in btx. The puts go in key order, each index's keys
// together.
func flushBehind(btx *bolt.Tx) error {
	all, err := allWaiting(btx)
	if err != nil || all == nil {
		return err
	}
	slices.SortFunc(all, compareBehind)
	for _, e := range all {
		// The value (bbolt copies a key, not a value, until commit) points
		// into index_behind's pages, which the delete below frees: copy it.
		key := append([]byte(nil), e.key...)
		value := append([]byte(nil), e.value...)
		if err := btx.Bucket(behindBuckets[e.bucket]).Put(key, value); err != nil {
			return err
		}
	}
	// A new empty bucket is cheaper than deleting key by key, and starts
	// its sequence again.
	if err := btx.DeleteBucket(bucketIndexBehind); err != nil {
		return err
	}
	b, err := btx.CreateBucket(bucketIndexBehind)
	if err != nil {
		return err
	}
	b.FillPercent = 1.0
	return nil
}

// settleBehind ends each group commit's transaction: what waits moves
// when enough waits, or when no writer waits for the next commit.
func (s *Store) settleBehind(btx *bolt.Tx, busy bool) error {
	pending := btx.Bucket(bucketIndexBehind)
	if pending == nil {
		return nil
	}
	if n := pending.Sequence(); n == 0 || (n < uint64(s.behindFlushAt) && (busy || s.behindKeep)) {
		return nil
	}
	return flushBehind(btx)
}

// indexCursor walks one of the behind indexes with the entries waiting for
// it merged in, as if they were in place. Only Seek and Next: the readers
// walk forwards.
type indexCursor struct {
	c       *bolt.Cursor
	waiting []behindEntry
	i       int    // the next waiting entry
	k, v    []byte // the bolt cursor's position
	fromW   bool   // the position returned last came from waiting
}

// indexView is one transaction's view of an index written behind: the
// entries waiting for it, read once for every cursor a reader opens (a
// delta pull walks three scopes at once).
type indexView struct {
	b       *bolt.Bucket
	waiting []behindEntry
}

func newIndexView(btx *bolt.Tx, bucket []byte) (*indexView, error) {
	if behindBucketID(bucket) == 0 {
		return nil, errors.New("indexView: not an index written behind")
	}
	waiting, err := waitingFor(btx, bucket)
	if err != nil {
		return nil, err
	}
	return &indexView{b: btx.Bucket(bucket), waiting: waiting}, nil
}

// cursor opens a cursor of its own on the view.
func (v *indexView) cursor() *indexCursor {
	return &indexCursor{c: v.b.Cursor(), waiting: v.waiting}
}

// newIndexCursor opens an indexCursor on bucket in btx.
func newIndexCursor(btx *bolt.Tx, bucket []byte) (*indexCursor, error) {
	v, err := newIndexView(btx, bucket)
	if err != nil {
		return nil, err
	}
	return v.cursor(), nil
}

// Seek moves to the first key at or after seek.
func (ic *indexCursor) Seek(seek []byte) (k, v []byte) {
	ic.k, ic.v = ic.c.Seek(seek)
	ic.i, _ = slices.BinarySearchFunc(ic.waiting, seek, func(e behindEntry, t []byte) int { return bytes.Compare(e.key, t) })
	return ic.current()
}

// Next moves to the key after the last one returned.
func (ic *indexCursor) Next() (k, v []byte) {
	if ic.fromW {
		w := ic.waiting[ic.i]
		ic.i++
		if ic.k != nil && bytes.Equal(ic.k, w.key) { // the same key in both: one entry
			ic.k, ic.v = ic.c.Next()
		}
	} else if ic.k != nil {
		ic.k, ic.v = ic.c.Next()
	}
	return ic.current()
}

func (ic *indexCursor) current() (k, v []byte) {
	if ic.i < len(ic.waiting) {
		w := ic.waiting[ic.i]
		if ic.k == nil || bytes.Compare(w.key, ic.k) <= 0 {
			ic.fromW = true
			return w.key, w.value
		}
	}
	ic.fromW = false
	return ic.k, ic.v
}
