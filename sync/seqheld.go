package sync

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// seqState is what a sequence space holds, as seq_held keeps it (schema 8):
// the highest sequence seen (its high-water mark, which a deferred mutation
// raises without holding its sequence), and the sequences held, as ranges.
// A device numbers its mutations 1, 2, 3, ..., so its sequences are one
// range, and the record costs 24 bytes however much the device sent; a key
// per sequence (schema 7) put one more key a mutation in a place of its own
// per device, which cost pages in every group commit.
type seqState struct {
	last    uint64     // the highest sequence seen
	held    []seqRange // ascending, disjoint, not adjacent
	changed bool
}

type seqRange struct{ first, last uint64 }

// maxHeldRanges bounds the ranges a space keeps, so that its record (read
// and rewritten by every push of the device) stays small: a device that
// leaves more holes in its numbering than this has its oldest holes counted
// as used. A mutation sent later under one of those is refused as reusing
// its sequence, and kept on a conflict record for dispatch, as any refusal;
// an app numbers its work 1, 2, 3, … and never comes back to a hole (the
// ledger it re-sends after a restore continues above what the server holds).
const maxHeldRanges = 256

// has reports whether seq is held.
func (s *seqState) has(seq uint64) bool {
	_, found := slices.BinarySearchFunc(s.held, seq, func(r seqRange, seq uint64) int {
		switch {
		case r.last < seq:
			return -1
		case r.first > seq:
			return 1
		}
		return 0
	})
	return found
}

// hold marks seq held and seen.
func (s *seqState) hold(seq uint64) {
	s.see(seq)
	if s.has(seq) {
		return
	}
	s.changed = true
	i, _ := slices.BinarySearchFunc(s.held, seq, func(r seqRange, seq uint64) int {
		if r.last < seq {
			return -1
		}
		return 1
	})
	// s.held[i] is the first range after seq (or none); s.held[i-1] the last before it.
	joinsBefore := i > 0 && s.held[i-1].last+1 == seq
	joinsAfter := i < len(s.held) && s.held[i].first == seq+1
	switch {
	case joinsBefore && joinsAfter:
		s.held[i-1].last = s.held[i].last
		s.held = slices.Delete(s.held, i, i+1)
	case joinsBefore:
		s.held[i-1].last = seq
	case joinsAfter:
		s.held[i].first = seq
	default:
		s.held = slices.Insert(s.held, i, seqRange{seq, seq})
	}
	for len(s.held) > maxHeldRanges {
		s.held[1].first = s.held[0].first // the oldest hole counts as used
		s.held = s.held[1:]
	}
}

// see raises the high-water mark to seq.
func (s *seqState) see(seq uint64) {
	if seq > s.last {
		s.last, s.changed = seq, true
	}
}

// encode is seq_held's value: the high-water mark, then each range's first
// and last, 8 bytes big-endian each.
func (s *seqState) encode() []byte {
	b := make([]byte, 0, 8+16*len(s.held))
	b = binary.BigEndian.AppendUint64(b, s.last)
	for _, r := range s.held {
		b = binary.BigEndian.AppendUint64(b, r.first)
		b = binary.BigEndian.AppendUint64(b, r.last)
	}
	return b
}

func decodeSeqState(v []byte) (seqState, error) {
	if len(v) < 8 || (len(v)-8)%16 != 0 {
		return seqState{}, fmt.Errorf("held sequences: %d bytes", len(v))
	}
	s := seqState{last: binary.BigEndian.Uint64(v)}
	for p := v[8:]; len(p) > 0; p = p[16:] {
		s.held = append(s.held, seqRange{binary.BigEndian.Uint64(p), binary.BigEndian.Uint64(p[8:])})
	}
	return s, nil
}

// noteReplayHeld keeps, in the answer under a mutation's id, a sequence
// that a replay of it held in schema 7 (a copy of its answer under another
// sequence key than the one its id pointed at): storedResult.Also.
func noteReplayHeld(oldIDs, byID *bolt.Bucket, key, value []byte, account, device string, seq uint64) error {
	if oldIDs == nil {
		return nil
	}
	var r storedResult
	if err := json.Unmarshal(value, &r); err != nil {
		return fmt.Errorf("push answer %q: %w", key, err)
	}
	if r.MutationID == "" || bytes.Equal(oldIDs.Get([]byte(r.MutationID)), key) {
		return nil // the answer's own sequence
	}
	mine, ok, err := getAnswer(byID, r.MutationID)
	if err != nil || !ok || mine.Account != account || mine.Device != device || mine.Seq == seq || slices.Contains(mine.Also, seq) || len(mine.Also) >= maxAlsoHeld {
		return err
	}
	mine.Also = append(mine.Also, seq)
	return putAnswer(byID, mine)
}

// readSeqState reads a space's held sequences; none for a new space.
func readSeqState(btx *bolt.Tx, space string) (seqState, error) {
	v := btx.Bucket(bucketSeqHeld).Get([]byte(space))
	if v == nil {
		return seqState{}, nil
	}
	return decodeSeqState(v)
}

// migrateIdempotencyByID moves push idempotency from the layout of schema
// 7 to schema 8: each answer from seq_mutations under its mutation id in
// mutations, with the account it belongs to; each space's sequence keys and
// seq_last into seq_held. The clash answers stay in seq_mutations; its
// sequence keys, seq_mutation_ids and seq_last go. A chunk at a time, since
// a bucket is not changed while a cursor walks it.
func migrateIdempotencyByID(btx *bolt.Tx) error {
	oldMuts, oldIDs, oldLast := btx.Bucket(bucketDeviceMutations), btx.Bucket(legacyMutationIDs), btx.Bucket(legacyLastSeq)
	if oldIDs != nil {
		byID := btx.Bucket(bucketMutations)
		err := oldIDs.ForEach(func(id, where []byte) error {
			var r storedResult
			if ok, err := getJSON(oldMuts, where, &r); err != nil || !ok {
				return fmt.Errorf("mutation %s: its answer at %q: %v", id, where, err)
			}
			account, rest, _ := bytes.Cut(where, []byte{0})
			device, tail, _ := bytes.Cut(rest, []byte{0})
			r.Account, r.Device, r.MutationID = string(account), string(device), string(id)
			if len(tail) == 8 {
				r.Seq = binary.BigEndian.Uint64(tail) // a sequence key, not a clash key
			}
			return putAnswer(byID, r)
		})
		if err != nil {
			return err
		}
	}
	spaces := map[string]*seqState{}
	state := func(space string) *seqState {
		if spaces[space] == nil {
			spaces[space] = &seqState{}
		}
		return spaces[space]
	}
	var after []byte // the last key of the previous chunk: what is before it is done
	for {
		var chunk [][]byte
		c := oldMuts.Cursor()
		k, v := c.First()
		if after != nil {
			k, v = c.Seek(after)
		}
		for ; k != nil && len(chunk) < 1000; k, v = c.Next() {
			account, rest, _ := bytes.Cut(k, []byte{0})
			device, tail, _ := bytes.Cut(rest, []byte{0})
			if len(tail) != 8 {
				continue // a clash answer (space 0x00 "clash" 0x00 ...): it stays
			}
			seq := binary.BigEndian.Uint64(tail)
			state(seqSpace(string(account), string(device))).hold(seq)
			if err := noteReplayHeld(oldIDs, btx.Bucket(bucketMutations), k, v, string(account), string(device), seq); err != nil {
				return err
			}
			chunk = append(chunk, bytes.Clone(k))
		}
		if len(chunk) == 0 {
			break
		}
		after = chunk[len(chunk)-1]
		for _, k := range chunk {
			if err := oldMuts.Delete(k); err != nil {
				return err
			}
		}
	}
	if oldLast != nil {
		err := oldLast.ForEach(func(space, v []byte) error {
			last, err := btoi(v)
			if err != nil {
				return fmt.Errorf("last sequence of %q: %w", space, err)
			}
			state(string(space)).see(last)
			return nil
		})
		if err != nil {
			return err
		}
	}
	held := btx.Bucket(bucketSeqHeld)
	for space, s := range spaces {
		if err := held.Put([]byte(space), s.encode()); err != nil {
			return err
		}
	}
	for _, name := range [][]byte{legacyMutationIDs, legacyLastSeq} {
		if btx.Bucket(name) != nil {
			if err := btx.DeleteBucket(name); err != nil {
				return err
			}
		}
	}
	return nil
}
