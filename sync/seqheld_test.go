package sync

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
	"pgregory.net/rapid"

	"github.com/favad/favad/inspector"
)

// seqState holds what it was told, as the fewest ranges, and reads back
// what it wrote.
func TestSeqStateHoldsRanges(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		var s seqState
		want := map[uint64]bool{}
		var last uint64
		for _, seq := range rapid.SliceOf(rapid.Uint64Range(1, 40)).Draw(t, "seqs") {
			s.hold(seq)
			want[seq], last = true, max(last, seq)
		}
		for seq := uint64(0); seq <= 41; seq++ {
			if s.has(seq) != want[seq] {
				t.Fatalf("has(%d) = %v, want %v (ranges %v)", seq, s.has(seq), want[seq], s.held)
			}
		}
		for i, r := range s.held {
			if r.first > r.last || (i > 0 && s.held[i-1].last+1 >= r.first) {
				t.Fatalf("ranges not ascending, disjoint and apart: %v", s.held)
			}
		}
		if s.last != last {
			t.Fatalf("last %d, want %d", s.last, last)
		}
		back, err := decodeSeqState(s.encode())
		if err != nil || back.last != s.last || len(back.held) != len(s.held) {
			t.Fatalf("decode(encode) = %+v, %v; want %+v", back, err, s)
		}
	})
	var s seqState
	for seq := uint64(1); seq <= 10_000; seq++ {
		s.hold(seq)
	}
	assert.Len(t, s.encode(), 24, "a device's sequences in order are one range")
}

// A schema-7 store kept an answer under every device sequence and an index
// of mutation ids; opening it moves the answers under their ids and the
// sequences into ranges: replays (an applied note, a refused clash, a
// sequence a replay held) get the answers they got before, the next
// sequence is no gap, and a used sequence is still a clash.
func TestSchema7IdempotencyMigratesToMutationIDs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "favad.db")
	f := newFieldFixtureAt(t, path)
	s := f.s
	c := f.complaint(t, "CALL-1", "QZ-SSO-01", &f.ali)
	ali := f.device("ali-phone", f.ali)
	sent, clash := notesAndAClash(f, ali, c.ID)
	first := mustPush(t, s, ali, append(sent, clash)...)
	require.NoError(t, s.Close())
	downgradeToSchema7(t, path)

	s = mustOpenStoreAt(t, path, Options{Now: f.clock.Now, NewID: f.ids.Next})
	require.NoError(t, s.db.View(func(btx *bolt.Tx) error {
		assert.Nil(t, btx.Bucket(legacyMutationIDs), "seq_mutation_ids dropped")
		assert.Nil(t, btx.Bucket(legacyLastSeq), "seq_last dropped")
		require.NoError(t, btx.Bucket(bucketDeviceMutations).ForEach(func(k, _ []byte) error {
			assert.Contains(t, string(k), "clash", "only clash answers stay in seq_mutations")
			return nil
		}))
		assert.Equal(t, 4, btx.Bucket(bucketMutations).Stats().KeyN)
		st, err := readSeqState(btx, seqSpace(f.ali.ID, "ali-phone"))
		require.NoError(t, err)
		assert.Equal(t, seqState{last: 4, held: []seqRange{{1, 4}}}, st)
		return nil
	}))
	again := mustPush(t, s, ali, append(sent, clash)...)
	for i := range first {
		want := first[i]
		want.Replayed = true
		assert.Equal(t, want, again[i], "mutation %d", i)
	}
	reused := ali.mut(MutNoteCreate, f.devIDs.Next(), 0, notePayload(c.ID, "", "شماره تکراری", t0))
	reused.DeviceSeq = 2
	assert.Equal(t, "device_seq", mustPush(t, s, ali, reused)[0].Fields[0].Field, "a held sequence is a clash")
	next := ali.mut(MutNoteCreate, f.devIDs.Next(), 0, notePayload(c.ID, "", "بعدی", t0))
	next.DeviceSeq = 5
	r := mustPush(t, s, ali, next)[0]
	assert.Equal(t, StatusApplied, r.Status, "%s", r.Message)
	assert.Empty(t, r.GapBefore)
}

// downgradeToSchema7 rewrites a store's push idempotency in schema 7's
// layout (an answer under each device sequence it was given or
// replay-held under, seq_mutation_ids pointing at it, seq_last) and marks
// the file schema 7.
func downgradeToSchema7(t *testing.T, path string) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	require.NoError(t, err)
	defer db.Close()
	require.NoError(t, db.Update(func(tx *bolt.Tx) error {
		muts := tx.Bucket(bucketDeviceMutations)
		ids, err := tx.CreateBucket(legacyMutationIDs)
		require.NoError(t, err)
		require.NoError(t, tx.Bucket(bucketMutations).ForEach(func(id, _ []byte) error {
			r, _, err := getAnswer(tx.Bucket(bucketMutations), string(id))
			require.NoError(t, err)
			space := seqSpace(r.Account, r.Device)
			key := clashKey(space, r.MutationID, r.Hash) // a refusal without a sequence: only its clash key
			if r.Seq > 0 {
				key = seqKey(space, r.Seq)
			}
			also := r.Also
			r.Account, r.Device, r.Seq, r.Also = "", "", 0, nil
			require.NoError(t, putJSON(muts, key, r))
			for _, seq := range also { // schema 7 kept a copy under each sequence a replay held
				require.NoError(t, putJSON(muts, seqKey(space, seq), r))
			}
			return ids.Put(id, key)
		}))
		last, err := tx.CreateBucket(legacyLastSeq)
		require.NoError(t, err)
		require.NoError(t, tx.Bucket(bucketSeqHeld).ForEach(func(space, v []byte) error {
			st, err := decodeSeqState(v)
			require.NoError(t, err)
			return last.Put(space, itob(st.last))
		}))
		require.NoError(t, tx.DeleteBucket(bucketMutations))
		require.NoError(t, tx.DeleteBucket(bucketSeqHeld))
		return tx.Bucket(bucketMeta).Put(keySchemaVersion, itob(7))
	}))
}

// A schema-7 store kept a copy of an answer under each sequence a replay of
// its mutation held; after the migration a resend under such a sequence
// that the server cannot read still gets the answer, and one under a
// sequence another mutation holds is a new refusal.
func TestSchema7ReplayHeldSequencesStillAnswer(t *testing.T) {
	path := filepath.Join(t.TempDir(), "favad.db")
	f := newFieldFixtureAt(t, path)
	c := f.complaint(t, "CALL-1", "QZ-SSO-01", &f.ali)
	d := f.device("ali-phone", f.ali)
	x := d.mut(MutNoteCreate, f.devIDs.Next(), 0, notePayload(c.ID, "", "یادداشت", t0))
	y := d.mut(MutNoteCreate, f.devIDs.Next(), 0, notePayload(c.ID, "", "دیگری", t0))
	mustPush(t, f.s, d, x, y)
	again := x
	again.DeviceSeq = 3
	require.True(t, mustPush(t, f.s, d, again)[0].Replayed)
	require.NoError(t, f.s.Close())
	downgradeToSchema7(t, path)

	s := mustOpenStoreAt(t, path, Options{Now: f.clock.Now, NewID: f.ids.Next})
	unreadable := func(m Mutation) Mutation {
		m.Malformed = []inspector.FieldError{{Field: "device_time", Code: "wrong_type", Message: "not RFC 3339"}}
		return m
	}
	underY := x
	underY.DeviceSeq = 2
	res := mustPush(t, s, d, unreadable(again), unreadable(underY))
	assert.True(t, res[0].Replayed, "sequence 3 was held by x's replay")
	assert.Equal(t, uint64(3), res[0].DeviceSeq)
	assert.Equal(t, StatusApplied, res[0].Status)
	assert.False(t, res[1].Replayed, "sequence 2 is y's")
	assert.Equal(t, StatusRejected, res[1].Status)
}

// A device that leaves hole after hole in its numbering keeps at most
// maxHeldRanges ranges (its record is rewritten by every push): its oldest
// holes count as used (a mutation sent under one is refused as a reused
// sequence, and kept, as any clash); the newest holes are still free.
func TestSeqStateBoundsItsRanges(t *testing.T) {
	var s seqState
	for seq := uint64(1); seq <= 2*maxHeldRanges+101; seq += 2 {
		s.hold(seq)
	}
	assert.Len(t, s.held, maxHeldRanges)
	assert.LessOrEqual(t, len(s.encode()), 8+16*maxHeldRanges)
	assert.True(t, s.has(2), "the oldest hole counts as used")
	assert.False(t, s.has(2*maxHeldRanges+100), "the newest holes are free")
	assert.True(t, s.has(2*maxHeldRanges+101))
}
