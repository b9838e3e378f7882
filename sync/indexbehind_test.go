package sync

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
	"pgregory.net/rapid"

	"github.com/favad/favad/sync/blob"
)

// waitingCount is how many index entries wait in index_behind.
func waitingCount(tb testing.TB, s *Store) int {
	tb.Helper()
	n := 0
	require.NoError(tb, s.db.View(func(btx *bolt.Tx) error {
		n = btx.Bucket(bucketIndexBehind).Stats().KeyN
		return nil
	}))
	return n
}

// An index read through indexCursor is the index with what waits put in
// place: the same keys, in order, with the last value put, from any Seek.
// After flushBehind the index in place is that same set.
func TestIndexCursorMergesWhatWaits(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		s := mustOpenStore(t)
		s.behindKeep, s.behindFlushAt = true, math.MaxInt // what waits stays waiting until a delete moves it
		key := rapid.SampledFrom([]string{"a", "b", "b\x00", "c", "d", "e", "f", "g", "h"})
		want := map[string]string{}
		put := func(behind bool, k, v string) {
			require.NoError(rt, s.update(System, func(t *tx) error {
				t.behind = behind
				return t.putIndex(bucketScopeMembers, []byte(k), []byte(v))
			}))
			want[k] = v
		}
		// Up to 40 steps: above 12 waiting entries Go's sort is no longer
		// stable by accident, so a lost put order shows.
		for i, n := 0, rapid.IntRange(0, 40).Draw(rt, "steps"); i < n; i++ {
			k, v := key.Draw(rt, "key"), rapid.StringMatching(`[xyz]{0,2}`).Draw(rt, "value")
			switch rapid.IntRange(0, 2).Draw(rt, "how") {
			case 0:
				put(false, k, v) // in place
			case 1:
				put(true, k, v) // waiting
			case 2:
				require.NoError(rt, s.update(System, func(t *tx) error { return t.deleteIndex(bucketScopeMembers, []byte(k)) }))
				delete(want, k)
			}
		}
		keys := make([]string, 0, len(want))
		for k := range want {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		walk := func(from string) (got []string) {
			require.NoError(rt, s.db.View(func(btx *bolt.Tx) error {
				c, err := newIndexCursor(btx, bucketScopeMembers)
				if err != nil {
					return err
				}
				for k, v := c.Seek([]byte(from)); k != nil; k, v = c.Next() {
					got = append(got, string(k)+"="+string(v))
				}
				return nil
			}))
			return got
		}
		for _, from := range []string{"", "b", "b\x00", "c\x01", "z"} {
			var exp []string
			for _, k := range keys {
				if k >= from {
					exp = append(exp, k+"="+want[k])
				}
			}
			require.Equal(rt, exp, walk(from), "from %q", from)
		}
		require.NoError(rt, s.update(System, func(t *tx) error { return flushBehind(t.Tx) }))
		var inPlace []string
		require.NoError(rt, s.db.View(func(btx *bolt.Tx) error {
			require.Zero(rt, btx.Bucket(bucketIndexBehind).Stats().KeyN)
			return btx.Bucket(bucketScopeMembers).ForEach(func(k, v []byte) error {
				inPlace = append(inPlace, string(k)+"="+string(v))
				return nil
			})
		}))
		var exp []string
		for _, k := range keys {
			exp = append(exp, k+"="+want[k])
		}
		require.Equal(rt, exp, inPlace)
	})
}

// A busy group commit leaves a push's index entries waiting until enough
// wait; a commit with nobody behind it moves them.
func TestIndexEntriesMoveWhenEnoughWaitOrNobodyWaits(t *testing.T) {
	f := newFieldFixture(t)
	f.s.behindKeep = false
	f.s.behindFlushAt = 10
	c := f.complaint(t, "CALL-1", "QZ-SSO-01", &f.ali)
	ali := f.device("ali-phone", f.ali)
	note := func() Mutation {
		return ali.mut(MutNoteCreate, f.devIDs.Next(), 0, notePayload(c.ID, "", "یادداشت", t0))
	}
	settle := func(busy bool) {
		require.NoError(t, f.s.db.Update(func(btx *bolt.Tx) error { return f.s.settleBehind(btx, busy) }))
	}

	// A push through the group commit, alone: moved at once.
	mustPush(t, f.s, ali, note())
	assert.Zero(t, waitingCount(t, f.s), "a quiet server keeps nothing waiting")

	// Entries written behind in transactions that settle as a busy group
	// commit does: others wait for the next commit.
	putBehind := func(seqs ...uint64) {
		require.NoError(t, f.s.db.Update(func(btx *bolt.Tx) error {
			w := f.s.newTx(btx, System)
			w.behind = true
			for _, seq := range seqs {
				if err := w.putIndex(bucketRecordLog, recordLogKey(KindComplaint, c.ID, seq), nil); err != nil {
					return err
				}
			}
			return f.s.settleBehind(btx, true)
		}))
	}
	putBehind(1<<41, 1<<41+1, 1<<41+2, 1<<41+3, 1<<41+4, 1<<41+5, 1<<41+6, 1<<41+7, 1<<41+8)
	assert.Equal(t, 9, waitingCount(t, f.s), "fewer than behindFlushAt wait while the server is busy")
	st, err := f.s.Stats()
	require.NoError(t, err)
	assert.Equal(t, 9, st.IndexBehind, "Stats (and /metrics) count them")
	putBehind(1 << 42)
	assert.Zero(t, waitingCount(t, f.s), "behindFlushAt entries move even while busy")

	putBehind(1 << 43)
	assert.Equal(t, 1, waitingCount(t, f.s))
	settle(false)
	assert.Zero(t, waitingCount(t, f.s), "nobody waits: moved")
}

// Everything a device, dispatch and verify read sees a note whose index
// entries still wait, and reopening the file puts them in place.
func TestWaitingIndexEntriesAreReadAndSurviveAReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "favad.db")
	f := newFieldFixtureAt(t, path)
	f.s.behindKeep, f.s.behindFlushAt = true, 1<<30
	c := f.complaint(t, "CALL-1", "QZ-SSO-01", &f.ali)
	phone := f.device("ali-phone", f.ali)
	held := newReplica()
	held.sync(t, f.s, f.ali, 50)
	n := phone.mut(MutNoteCreate, f.devIDs.Next(), 0, notePayload(c.ID, "", "یادداشت", t0))
	require.Equal(t, StatusApplied, mustPush(t, f.s, phone, n)[0].Status)
	require.NotZero(t, waitingCount(t, f.s), "the note's index entries wait")

	h, err := f.s.ComplaintHistory(c.ID)
	require.NoError(t, err)
	assert.Equal(t, n.RecordID, h[len(h)-1].ID, "the complaint's history has the note")

	held.sync(t, f.s, f.ali, 50) // a delta pull on another device
	assert.Contains(t, held.recs, recKey{KindNote, n.RecordID})
	fresh := newReplica()
	fresh.sync(t, f.s, f.ali, 2) // a full sync, in pages
	assert.Contains(t, fresh.recs, recKey{KindNote, n.RecordID})
	latest, changed, err := f.s.ScopeChangedSince(f.ali, 0)
	require.NoError(t, err)
	assert.True(t, changed)
	assert.Equal(t, h[len(h)-1].Seq, latest, "the scope's latest change is the waiting note")

	require.NoError(t, f.s.Close())
	s, err := Open(path, Options{})
	require.NoError(t, err)
	defer s.Close()
	assert.Zero(t, waitingCount(t, s), "opening the file moves what waited")
	var inPlace bool
	require.NoError(t, s.db.View(func(btx *bolt.Tx) error {
		prefix := recordLogPrefix(KindComplaint, c.ID)
		cur := btx.Bucket(bucketRecordLog).Cursor()
		for k, _ := cur.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = cur.Next() {
			ch, err := decodeChange(btx.Bucket(bucketLog).Get(k[len(prefix):]))
			if err != nil {
				return err
			}
			inPlace = inPlace || ch.ID == n.RecordID
		}
		return nil
	}))
	assert.True(t, inPlace, "the note is in the complaint's history in place")
	after, err := s.ComplaintHistory(c.ID)
	require.NoError(t, err)
	assert.Equal(t, h, after)
}

// A mutation changed after PrepareEach is prepared again: its answer never
// comes from another content's hash.
func TestPreparedMutationChangedIsPreparedAgain(t *testing.T) {
	m := PrepareEach(1, func(int) Mutation {
		return Mutation{ID: "m1", DeviceSeq: 1, Kind: MutNoteCreate, RecordID: "r1", Payload: []byte(`{"text":"a"}`)}
	})[0]
	first := m.contentHash()
	assert.Equal(t, mutationHash(m), first)
	m.Payload = []byte(`{"text":"b"}`)
	m.prepare()
	assert.NotEqual(t, first, m.contentHash())
	assert.Equal(t, mutationHash(m), m.contentHash())
	m.RecordID = "r2"
	m.prepare()
	assert.Equal(t, mutationHash(m), m.contentHash())
}

// What waits stays bounded when the group commit that would move it
// fails: a write outside the group commit settles too. (Found in review:
// 2,401 entries waited after 1,200 assignments.)
func TestWaitingStaysBoundedAfterAFailedGroup(t *testing.T) {
	f := newFieldFixture(t)
	f.s.behindKeep, f.s.behindFlushAt = false, 64
	c := f.complaint(t, "CALL-0", "QZ-SSO-01", &f.ali)
	queued := make(chan error, 1)
	require.NoError(t, f.s.batch(System, func(w *tx) error {
		if err := w.putIndex(bucketRecordLog, recordLogKey(KindComplaint, c.ID, 1<<40), nil); err != nil {
			return err
		}
		go func() { queued <- f.s.batch(System, func(*tx) error { return errors.New("refused") }) }()
		for !f.s.group.busy() { // this commit has a writer behind it: what it leaves waits
			time.Sleep(time.Millisecond)
		}
		return nil
	}))
	require.Error(t, <-queued)
	for i := range 100 {
		f.complaint(t, fmt.Sprintf("CALL-%d", i+1), "QZ-SSO-01", &f.ali)
	}
	assert.LessOrEqual(t, waitingCount(t, f.s), 64)
}

// TestAnIndexKeyBboltCannotPlaceNeverWaits: a key too large for bbolt is
// refused when it is put, waiting or not, as a put in place is. Before, it
// waited, and every later move of the waiting entries failed: every write,
// and the store's open.
func TestAnIndexKeyBboltCannotPlaceNeverWaits(t *testing.T) {
	s := mustOpenStore(t)
	s.behindKeep, s.behindFlushAt = true, math.MaxInt
	require.NoError(t, s.update(System, func(t *tx) error {
		t.behind = true
		return t.putIndex(bucketScopeMembers, []byte("waits"), nil)
	}))
	huge := bytes.Repeat([]byte("ق"), 20000) // 40,000 bytes
	for _, behind := range []bool{true, false} {
		err := s.update(System, func(t *tx) error {
			t.behind = behind
			return t.putIndex(bucketScopeMembers, huge, nil)
		})
		assert.ErrorIs(t, err, bolt.ErrKeyTooLarge, "behind=%v", behind)
		err = s.update(System, func(t *tx) error {
			t.behind = behind
			return t.putIndex(bucketScopeMembers, nil, nil)
		})
		assert.ErrorIs(t, err, bolt.ErrKeyRequired, "behind=%v", behind)
	}
	require.NoError(t, s.update(System, func(t *tx) error { return flushBehind(t.Tx) }), "what waits still moves")
}

// TestVerifyReportsAWaitingEntryThatCannotMove: an index entry waiting in
// index_behind that is unreadable (a flipped byte) would fail every write
// and the store's open; verify reports it as a problem, with what to do,
// instead of failing itself.
func TestVerifyReportsAWaitingEntryThatCannotMove(t *testing.T) {
	s := mustOpenStore(t)
	s.behindKeep, s.behindFlushAt = true, math.MaxInt
	require.NoError(t, s.update(System, func(t *tx) error {
		t.behind = true
		if err := t.putIndex(bucketScopeMembers, []byte("fine"), nil); err != nil {
			return err
		}
		return t.putIndex(bucketScopeMembers, []byte("flipped"), nil)
	}))
	rep, err := s.Verify(&blob.FS{Dir: t.TempDir()})
	require.NoError(t, err)
	assert.Empty(t, rep.Problems, "a store whose waiting entries are sound")

	require.NoError(t, s.db.Update(func(btx *bolt.Tx) error {
		b := btx.Bucket(bucketIndexBehind)
		k, v := b.Cursor().Last()
		bad := append([]byte{9}, v[1:]...) // an index that does not exist
		return b.Put(append([]byte(nil), k...), bad)
	}))
	rep, err = s.Verify(&blob.FS{Dir: t.TempDir()})
	require.NoError(t, err, "verify reports, it does not fail")
	require.Len(t, rep.Problems, 2, "%q", rep.Problems)
	assert.Contains(t, rep.Problems[0], "unknown index")
	assert.Contains(t, rep.Problems[1], "restore the newest backup")
	waiting, err := s.WaitingProblems()
	require.NoError(t, err)
	assert.Len(t, waiting, 1)
}
