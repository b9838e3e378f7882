package sync

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/favad/favad/sync/blob"
)

// orphanGrace is how old bytes no record refers to must be before Verify
// reports them: an upload is moved into the blob store a moment before its
// record says so.
const orphanGrace = time.Hour

// VerifyReport is what Verify found.
type VerifyReport struct {
	ChainEntries int      `json:"chain_entries"` // evidence records checked in their chains
	Blobs        int      `json:"blobs"`         // blobs rehashed
	Problems     []string `json:"problems"`      // every break found; empty when all is well
}

// Verify rechecks the chain of custody: every complaint's evidence hash
// chain; that the change log has no gap and that every evidence item it
// records still exists (so removing an item, even the newest in its chain,
// shows unless the log is rewritten too); that every stored evidence item's
// bytes exist; and, when blobs can, that every blob's bytes still hash to its
// name and that no blob outlives its record.
func (s *Store) Verify(blobs blob.Store) (VerifyReport, error) {
	r := VerifyReport{Problems: []string{}}
	n, breaks, err := s.VerifyChains()
	if err != nil {
		return r, fmt.Errorf("verify chains: %w", err)
	}
	r.ChainEntries = n
	for _, b := range breaks {
		r.Problems = append(r.Problems, fmt.Sprintf("complaint %s, chain entry %d (evidence %s): %s", b.ComplaintID, b.Seq, b.EvidenceID, b.Problem))
	}
	waiting, err := s.WaitingProblems()
	if err != nil {
		return r, fmt.Errorf("verify waiting index entries: %w", err)
	}
	r.Problems = append(r.Problems, waiting...)
	if len(waiting) > 0 {
		// Every reader of the indexes reads what waits: these checks would
		// fail on the same entries.
		r.Problems = append(r.Problems, "change log and indexes: not checked, for the waiting index entries above cannot be read; "+
			"the server will not open this store: restore the newest backup (devices re-send what it lacks)")
	} else {
		logProblems, err := s.verifyChangeLog()
		if err != nil {
			return r, fmt.Errorf("verify change log: %w", err)
		}
		r.Problems = append(r.Problems, logProblems...)
		indexProblems, err := s.verifyIndexes()
		if err != nil {
			return r, fmt.Errorf("verify indexes: %w", err)
		}
		r.Problems = append(r.Problems, indexProblems...)
	}
	var unreadable error // the blob store failed: nothing more can be checked
	err = s.StoredBlobs(func(id, sha string) {
		if unreadable != nil {
			return
		}
		f, _, _, err := blobs.Open(sha)
		switch {
		case errors.Is(err, blob.ErrNotFound):
			r.Problems = append(r.Problems, fmt.Sprintf("evidence %s: its bytes (%s) are missing", id, sha))
		case err != nil:
			// Not a finding about the evidence: the store did not answer
			// (object storage down, a disk failing). Verify could not check.
			unreadable = fmt.Errorf("open the bytes of evidence %s: %w", id, err)
		default:
			f.Close()
		}
	})
	if err == nil {
		err = unreadable
	}
	if err != nil {
		return r, fmt.Errorf("verify evidence: %w", err)
	}
	if l, ok := blobs.(blob.Lister); ok {
		orphans, err := s.orphanBlobs(l, time.Now().Add(-orphanGrace)) // the file system's clock, not the store's
		if err != nil {
			return r, fmt.Errorf("verify blobs: %w", err)
		}
		for _, sha := range orphans {
			r.Problems = append(r.Problems, fmt.Sprintf("blob %s: no evidence record refers to it (was its record removed?)", sha))
		}
	}
	if v, ok := blobs.(blob.Verifier); ok {
		r.Blobs, err = v.Verify(func(hash string, err error) {
			r.Problems = append(r.Problems, fmt.Sprintf("blob %s: %v", hash, err))
		})
		if err != nil {
			return r, fmt.Errorf("verify blobs: %w", err)
		}
	}
	return r, nil
}

// WaitingProblems reports the index entries waiting in index_behind that
// could never be moved to their places: unreadable, or with a key bbolt
// cannot hold. Any one fails every later write and the store's open, so a
// restore or a standby checks a backup for them before putting it in place.
func (s *Store) WaitingProblems() ([]string, error) {
	var problems []string
	err := s.view(func(btx *bolt.Tx) error {
		pending := btx.Bucket(bucketIndexBehind)
		if pending == nil {
			return nil
		}
		return pending.ForEach(func(k, v []byte) error {
			e, err := decodeBehind(k, v)
			switch {
			case err != nil:
				problems = append(problems, err.Error())
			case len(e.key) == 0 || len(e.key) > bolt.MaxKeySize:
				problems = append(problems, fmt.Sprintf("index_behind %x: a key of %d bytes cannot be put in %s", k, len(e.key), behindBuckets[e.bucket]))
			}
			return nil
		})
	})
	return problems, err
}

// verifyChangeLog reports gaps in the change log (it is never pruned) and
// evidence items the log records whose record is gone.
func (s *Store) verifyChangeLog() ([]string, error) {
	var problems []string
	err := s.view(func(btx *bolt.Tx) error {
		log := btx.Bucket(bucketLog)
		want := uint64(1)
		c := log.Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			seq, err := btoi(k)
			if err != nil {
				return err
			}
			if seq != want {
				problems = append(problems, fmt.Sprintf("change log: entries %d to %d are missing", want, seq-1))
			}
			want = seq + 1
		}
		if head := log.Sequence(); head >= want {
			problems = append(problems, fmt.Sprintf("change log: entries %d to %d are missing", want, head))
		}

		evidence := btx.Bucket(bucketEvidence)
		if evidence == nil {
			return nil // a store from before evidence, opened read-only
		}
		prefix := append([]byte(KindEvidence), 0)
		seen := map[string]bool{}
		rc, err := newIndexCursor(btx, bucketRecordLog)
		if err != nil {
			return err
		}
		for k, _ := rc.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = rc.Next() {
			rest := k[len(prefix):]
			i := bytes.IndexByte(rest, 0)
			if i < 0 {
				continue
			}
			id := string(rest[:i])
			if seen[id] {
				continue
			}
			seen[id] = true
			if evidence.Get([]byte(id)) == nil {
				problems = append(problems, fmt.Sprintf("evidence %s: the change log records it, but its record is gone", id))
			}
		}
		return nil
	})
	return problems, err
}

// verifyIndexes rebuilds the indexes the store keeps beside its records,
// and that decide pushes, and reports where the stored ones differ:
// complaint_inspectors from the change log (a missing entry refuses an
// inspector's work on a complaint that was theirs; an extra one lets work
// in on one that never was), open_conflicts from the conflict records (the
// per-device cap counts it); and that every push answer's sequence is held
// in seq_held (a sequence not held could be reused).
func (s *Store) verifyIndexes() ([]string, error) {
	var problems []string
	compare := func(name string, stored *bolt.Bucket, want map[string]bool, describe func(key string) string) {
		if stored == nil {
			return // a file from before the index, opened read-only: it is built when opened for writing
		}
		_ = stored.ForEach(func(k, _ []byte) error {
			if !want[string(k)] {
				problems = append(problems, fmt.Sprintf("%s: %s is indexed, but nothing the index is built from says so", name, describe(string(k))))
			}
			delete(want, string(k))
			return nil
		})
		for k := range want {
			problems = append(problems, fmt.Sprintf("%s: %s is missing from the index", name, describe(k)))
		}
	}
	pair := func(what1, what2 string) func(string) string {
		return func(k string) string {
			a, b, _ := strings.Cut(k, "\x00")
			return fmt.Sprintf("%s %s, %s %s", what1, a, what2, b)
		}
	}
	err := s.view(func(btx *bolt.Tx) error {
		routed := map[string]bool{}
		err := complaintInspectorsInLog(btx, func(key []byte) error {
			routed[string(key)] = true
			return nil
		})
		if err != nil {
			return err
		}
		compare("complaint_inspectors", btx.Bucket(bucketComplaintInspectors), routed, pair("complaint", "inspector"))

		open := map[string]bool{}
		if conflicts := btx.Bucket(bucketConflicts); conflicts != nil {
			err = conflicts.ForEach(func(_, v []byte) error {
				var c Conflict
				if err := json.Unmarshal(v, &c); err != nil {
					return fmt.Errorf("conflict: %w", err)
				}
				if key, isOpen := openConflictKey(&c); isOpen {
					open[string(key)] = true
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		compare("open_conflicts", btx.Bucket(bucketOpenConflicts), open, pair("device", "conflict"))

		// Every push answer's sequence is held in its device's space: a
		// sequence not held could be taken by another mutation.
		answers, held := btx.Bucket(bucketMutations), btx.Bucket(bucketSeqHeld)
		if answers == nil || held == nil {
			return nil // a file from before schema 8, opened read-only
		}
		spaces := map[string]*seqState{}
		return answers.ForEach(func(id, v []byte) error {
			r, err := decodeAnswer(string(id), v)
			if err != nil {
				return err
			}
			if r.Device == "" || r.Seq == 0 {
				return nil // migrated from a clash key: no sequence of its own
			}
			space := seqSpace(r.Account, r.Device)
			st := spaces[space]
			if st == nil {
				v, err := readSeqState(btx, space)
				if err != nil {
					return fmt.Errorf("held sequences of %s on %s: %w", r.Account, r.Device, err)
				}
				st = &v
				spaces[space] = st
			}
			for _, seq := range append([]uint64{r.Seq}, r.Also...) {
				if !st.has(seq) {
					problems = append(problems, fmt.Sprintf("seq_held: mutation %s was answered under sequence %d of account %s on device %s, which is not held", id, seq, r.Account, r.Device))
				}
			}
			return nil
		})
	})
	return problems, err
}

// orphanBlobs returns the blobs written before cutoff that no evidence
// record (or upload waiting for its record) refers to.
func (s *Store) orphanBlobs(l blob.Lister, cutoff time.Time) ([]string, error) {
	var referenced map[string]bool
	err := s.view(func(btx *bolt.Tx) error {
		var err error
		referenced, err = referencedBlobs(btx)
		return err
	})
	if err != nil {
		return nil, err
	}
	var orphans []string
	err = l.List(func(hash string, written time.Time) error {
		if !referenced[hash] && written.Before(cutoff) {
			orphans = append(orphans, hash)
		}
		return nil
	})
	return orphans, err
}
