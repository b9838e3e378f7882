package sync

import (
	"encoding/json"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/favad/favad/inspector"
)

// A push answer kept for replays holds only what a replay cannot take
// from the mutation it answers: a note's answer was about 340 bytes of
// JSON in schema 6 (the answer whole, the mutation id twice, the hash in
// hex), most of a push's idempotency bytes.
func TestPushAnswerIsStoredCompactly(t *testing.T) {
	f := newFieldFixture(t)
	c := f.complaint(t, "CALL-1", "QZ-SSO-01", &f.ali)
	ali := f.device("ali-phone", f.ali)
	m := ali.mut(MutNoteCreate, f.devIDs.Next(), 0, notePayload(c.ID, "", "یادداشت", t0))
	r := mustPush(t, f.s, ali, m)[0]
	require.Equal(t, StatusApplied, r.Status)
	var raw []byte
	require.NoError(t, f.s.db.View(func(btx *bolt.Tx) error {
		raw = append(raw, btx.Bucket(bucketMutations).Get([]byte(m.ID))...)
		return nil
	}))
	assert.Less(t, len(raw), 200, "stored answer: %s", raw)
	assert.NotContains(t, string(raw), m.ID+`"`+`,"hash"`, "schema 6's form")

	again := mustPush(t, f.s, ali, m)[0]
	r.Replayed = true
	assert.Equal(t, r, again, "a replay gets the answer as given")
}

// Every field of an answer but the mutation's own id, sequence and replay
// flag survives the stored form, so that a field added to Result later is
// not silently dropped from replays.
func TestStoredResultKeepsEveryAnswerField(t *testing.T) {
	full := Result{MutationID: "m", Status: StatusResolvedByRule, RecordKind: "visit", RecordID: "r", Version: 7,
		Rule: inspector.RuleOrphaned, WinningValue: json.RawMessage(`{"a":1}`), Code: inspector.CodeInvalid, Message: "msg",
		Fields: []inspector.FieldError{{Field: "f", Code: "c", Message: "m"}}, ConflictIDs: []string{"c1"}, ClockSkewS: -3,
		GapBefore: []uint64{2}}
	v := reflect.ValueOf(full)
	for i := range v.NumField() {
		switch name := v.Type().Field(i).Name; name {
		case "DeviceSeq", "Replayed":
		default:
			assert.False(t, v.Field(i).IsZero(), "set %s in this test", name)
		}
	}
	raw, err := json.Marshal(storedResult{MutationID: "m", Hash: mutationHash(Mutation{Kind: "x"}), Result: full})
	require.NoError(t, err)
	var back storedResult
	require.NoError(t, json.Unmarshal(raw, &back))
	assert.Equal(t, full, back.Result)
	assert.Equal(t, mutationHash(Mutation{Kind: "x"}), back.Hash)
}

// A schema-6 store keeps its push answers whole; opening it rewrites them
// in the compact form, and replays (an applied note, a sequence a replay
// held, a refused clash) get the answers they got before.
func TestSchema6PushAnswersMigrateToCompactForm(t *testing.T) {
	path := filepath.Join(t.TempDir(), "favad.db")
	f := newFieldFixtureAt(t, path)
	s := f.s
	c := f.complaint(t, "CALL-1", "QZ-SSO-01", &f.ali)
	ali := f.device("ali-phone", f.ali)
	sent, clash := notesAndAClash(f, ali, c.ID)
	first := mustPush(t, s, ali, append(sent, clash)...)
	held := sent[1]
	held.DeviceSeq = 9 // a replay under a new sequence holds it too
	heldAnswer := mustPush(t, s, ali, held)[0]
	require.True(t, heldAnswer.Replayed)
	require.NoError(t, s.Close())
	downgradeToSchema6(t, path)

	s = mustOpenStoreAt(t, path, Options{Now: f.clock.Now, NewID: f.ids.Next})
	require.NoError(t, s.db.View(func(btx *bolt.Tx) error {
		return btx.Bucket(bucketDeviceMutations).ForEach(func(k, v []byte) error {
			assert.NotContains(t, string(v), `"result":`, "rewritten")
			assert.Contains(t, string(v), `"r":`)
			return nil
		})
	}))
	again := mustPush(t, s, ali, append(sent, clash)...)
	for i := range first {
		want := first[i]
		want.Replayed = true
		assert.Equal(t, want, again[i], "mutation %d", i)
	}
	assert.Equal(t, heldAnswer, mustPush(t, s, ali, held)[0])
	next := ali.mut(MutNoteCreate, f.devIDs.Next(), 0, notePayload(c.ID, "", "بعدی", t0))
	next.DeviceSeq = 10
	r := mustPush(t, s, ali, next)[0]
	assert.Equal(t, StatusApplied, r.Status, "%s", r.Message)
	assert.Empty(t, r.GapBefore)
}

// downgradeToSchema6 rewrites a store's push answers in schema 6's form
// (the answer whole, the hash in hex) and marks the file schema 6.
func downgradeToSchema6(t *testing.T, path string) {
	t.Helper()
	downgradeToSchema7(t, path)
	db, err := bolt.Open(path, 0o600, nil)
	require.NoError(t, err)
	defer db.Close()
	type schema6 struct {
		MutationID string `json:"mutation_id"`
		Hash       string `json:"hash"`
		Result     Result `json:"result"`
	}
	require.NoError(t, db.Update(func(tx *bolt.Tx) error {
		muts := tx.Bucket(bucketDeviceMutations)
		old := map[string][]byte{}
		require.NoError(t, muts.ForEach(func(k, v []byte) error {
			var r storedResult
			require.NoError(t, json.Unmarshal(v, &r))
			raw, err := json.Marshal(schema6{MutationID: r.MutationID, Hash: r.Hash, Result: r.Result})
			old[string(k)] = raw
			return err
		}))
		require.NotEmpty(t, old)
		for k, v := range old {
			require.NoError(t, muts.Put([]byte(k), v))
		}
		return tx.Bucket(bucketMeta).Put(keySchemaVersion, itob(6))
	}))
}

// The change log and the push indexes take keys in order (by sequence, or
// at the end of their prefix's range); their pages are split fuller than
// bbolt's default, which leaves every page half empty for good.
func TestAppendOnlyBucketsFillTheirPages(t *testing.T) {
	f := newFieldFixture(t)
	c := f.complaint(t, "CALL-1", "QZ-SSO-01", &f.ali)
	ali := f.device("ali-phone", f.ali)
	text := strings.Repeat("یادداشت بازرس ", 20)
	for range 20 {
		var muts []Mutation
		for range 20 {
			muts = append(muts, ali.mut(MutNoteCreate, f.devIDs.Next(), 0, notePayload(c.ID, "", text, t0)))
		}
		for _, r := range mustPush(t, f.s, ali, muts...) {
			require.Equal(t, StatusApplied, r.Status, "%s", r.Message)
		}
	}
	// Entries still written behind go to their places first (they wait
	// when FAVAD_TEST_INDEX_BEHIND=keep).
	require.NoError(t, f.s.update(System, func(t *tx) error { return flushBehind(t.Tx) }))
	require.NoError(t, f.s.db.View(func(btx *bolt.Tx) error {
		for _, f := range []struct {
			bucket []byte
			min    float64
		}{{bucketLog, 0.9}, {bucketNotes, 0.7}, {bucketScopeLog, 0.7}, {bucketMutations, 0.7}} {
			st := btx.Bucket(f.bucket).Stats()
			require.Greater(t, st.LeafPageN, 4, "%s spans pages", f.bucket)
			fill := float64(st.LeafInuse) / float64(st.LeafAlloc)
			assert.GreaterOrEqual(t, fill, f.min, "%s: %d leaf pages %.0f%% full", f.bucket, st.LeafPageN, 100*fill)
		}
		return nil
	}))
}

// A push of replays only changes nothing, and writes no page beyond what
// an empty commit writes (it used to write the device's unchanged last
// sequence again, and with it the pages above it).
func TestReplayOnlyPushWritesNoPages(t *testing.T) {
	f := newFieldFixture(t)
	c := f.complaint(t, "CALL-1", "QZ-SSO-01", &f.ali)
	ali := f.device("ali-phone", f.ali)
	m := ali.mut(MutNoteCreate, f.devIDs.Next(), 0, notePayload(c.ID, "", "یادداشت", t0))
	mustPush(t, f.s, ali, m)
	written := func(commit func()) int64 {
		st := f.s.db.Stats()
		before := st.TxStats.GetWrite()
		commit()
		st = f.s.db.Stats()
		return st.TxStats.GetWrite() - before
	}
	empty := written(func() { require.NoError(t, f.s.group.do(func(*bolt.Tx) error { return nil })) })
	replay := written(func() { assert.True(t, mustPush(t, f.s, ali, m)[0].Replayed) })
	assert.Equal(t, empty, replay, "pages written by an empty commit and by a replay")
}

// A push checks that its complaint was once the inspector's from the
// complaint_inspectors index instead of reading the complaint and its
// history (a quarter of a note's time in the commit before). A file
// written before the index existed has it built from the change log on
// open: work on a complaint reassigned away is still taken, and work on
// one never assigned still refused.
func TestComplaintInspectorsIndexIsBuiltForOlderFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "favad.db")
	f := newFieldFixtureAt(t, path)
	c := f.complaint(t, "CALL-1", "QZ-SSO-01", &f.ali)
	_, err := f.s.Assign(dispatcher, c.ID, inspector.Routing{InspectorID: f.reza.ID, Mode: inspector.ModeField})
	require.NoError(t, err)
	other := f.complaint(t, "CALL-2", "QZ-SSO-01", &f.reza)
	require.NoError(t, f.s.db.Update(func(btx *bolt.Tx) error {
		return btx.DeleteBucket(bucketComplaintInspectors)
	}))
	require.NoError(t, f.s.Close())

	s, err := Open(path, Options{Now: f.clock.Now, NewID: f.ids.Next})
	if err == nil {
		keepIndexBehind(s)
	}
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	var keys []string
	require.NoError(t, s.db.View(func(btx *bolt.Tx) error {
		return btx.Bucket(bucketComplaintInspectors).ForEach(func(k, _ []byte) error {
			keys = append(keys, string(k))
			return nil
		})
	}))
	assert.ElementsMatch(t, []string{string(joinKey(c.ID, f.ali.ID)), string(joinKey(c.ID, f.reza.ID)),
		string(joinKey(other.ID, f.reza.ID))}, keys)

	ali := f.device("ali-phone", f.ali)
	late := ali.mut(MutNoteCreate, f.devIDs.Next(), 0, notePayload(c.ID, "", "پیش از واگذاری", t0))
	guess := ali.mut(MutNoteCreate, f.devIDs.Next(), 0, notePayload(other.ID, "", "حدس", t0))
	res := mustPush(t, s, ali, late, guess)
	assert.Equal(t, StatusApplied, res[0].Status, "the complaint was once ali's")
	assert.Equal(t, inspector.CodeForbidden, res[1].Code, "never ali's")
}

// A schema-7 file may have been written by a build older than the
// complaint_inspectors index after a newer one made it: opening it with
// schema 8 rebuilds the index from the change log.
func TestComplaintInspectorsIndexIsRebuiltFromSchema7(t *testing.T) {
	path := filepath.Join(t.TempDir(), "favad.db")
	f := newFieldFixtureAt(t, path)
	c := f.complaint(t, "CALL-1", "QZ-SSO-01", &f.ali)
	_, err := f.s.Assign(dispatcher, c.ID, inspector.Routing{InspectorID: f.reza.ID, Mode: inspector.ModeField})
	require.NoError(t, err)
	require.NoError(t, f.s.Close())
	downgradeToSchema7(t, path)
	db, err := bolt.Open(path, 0o600, nil)
	require.NoError(t, err)
	require.NoError(t, db.Update(func(tx *bolt.Tx) error { // the older build's assignment, not indexed
		return tx.Bucket(bucketComplaintInspectors).Delete(joinKey(c.ID, f.ali.ID))
	}))
	require.NoError(t, db.Close())

	s := mustOpenStoreAt(t, path, Options{Now: f.clock.Now, NewID: f.ids.Next})
	ali := f.device("ali-phone", f.ali)
	r := mustPush(t, s, ali, ali.mut(MutNoteCreate, f.devIDs.Next(), 0, notePayload(c.ID, "", "پیش از واگذاری", t0)))[0]
	assert.Equal(t, StatusApplied, r.Status, "the complaint was once ali's: %s", r.Message)
}
