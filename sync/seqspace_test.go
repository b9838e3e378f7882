package sync

import (
	"bytes"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/favad/favad/inspector"
)

// Regression: a device id handed to another account kept the previous
// account's sequences, so the new account's device_seq 1 was an
// idempotency_clash. Sequences belong to (account, device): the new account
// starts its own sequence space, and the previous account's stays intact.
func TestHandedOverDeviceStartsANewSequenceSpace(t *testing.T) {
	f := newFieldFixture(t)
	c := f.complaint(t, "CALL-1", "QZ-SSO-01", &f.ali)
	c2 := f.complaint(t, "CALL-2", "QZ-SSO-01", &f.reza)

	ss, err := f.s.StartSession(f.ali.ID, "shared-tablet", []byte("ali-r"), time.Hour)
	require.NoError(t, err)
	ali := f.device("shared-tablet", f.ali)
	var aliMuts []Mutation
	for i := range 3 {
		aliMuts = append(aliMuts, ali.mut(MutNoteCreate, f.devIDs.Next(), 0, notePayload(c.ID, "", "یادداشت علی "+string(rune('۱'+i)), t0)))
	}
	for _, r := range mustPush(t, f.s, ali, aliMuts...) {
		require.Equal(t, StatusApplied, r.Status, "%s", r.Message)
	}
	require.NoError(t, f.s.EndSession(Actor{UserID: f.ali.ID, DeviceID: "shared-tablet"}, ss.ID, "signed_out"))

	// The tablet is handed to reza, whose app numbers its work from 1.
	_, err = f.s.StartSession(f.reza.ID, "shared-tablet", []byte("reza-r"), time.Hour)
	require.NoError(t, err)
	reza := f.device("shared-tablet", f.reza)
	m1 := reza.mut(MutNoteCreate, f.devIDs.Next(), 0, notePayload(c2.ID, "", "یادداشت رضا", t0))
	r := mustPush(t, f.s, reza, m1)[0]
	assert.Equal(t, StatusApplied, r.Status, "reza's device_seq 1 is his own: %s %s", r.Code, r.Message)
	assert.NotEqual(t, inspector.CodeIdempotencyClash, r.Code)
	assert.Empty(t, r.GapBefore)
	assert.False(t, r.Replayed)

	last, err := f.s.LastDeviceSeq(f.reza.ID, "shared-tablet")
	require.NoError(t, err)
	assert.Equal(t, uint64(1), last, "reza's sequence space")
	last, err = f.s.LastDeviceSeq(f.ali.ID, "shared-tablet")
	require.NoError(t, err)
	assert.Equal(t, uint64(3), last, "ali's sequence space is intact")

	// Ali's history stays: a replay of his seq 2 is still his stored answer.
	res, lastAli, err := f.s.Push(f.ali, "shared-tablet", []Mutation{aliMuts[1]})
	require.NoError(t, err)
	assert.True(t, res[0].Replayed)
	assert.Equal(t, StatusApplied, res[0].Status)
	assert.Equal(t, uint64(3), lastAli)

	// Another account cannot replay ali's mutation to read his answer: the
	// id is taken.
	stolen := aliMuts[0]
	stolen.DeviceSeq = 2
	r = mustPush(t, f.s, reza, stolen)[0]
	assert.Equal(t, StatusRejected, r.Status)
	assert.Equal(t, inspector.CodeIdempotencyClash, r.Code)
}

// A store from schema 5 kept sequences by device alone; opening it files
// them under the account that holds the device, so the account's next push
// continues its sequence (no gap, no clash) and replays still get their
// stored answers.
func TestSchema5SequencesMigrateToTheDevicesAccount(t *testing.T) {
	path := filepath.Join(t.TempDir(), "favad.db")
	f := newFieldFixtureAt(t, path)
	s := f.s
	c := f.complaint(t, "CALL-1", "QZ-SSO-01", &f.ali)
	_, err := s.StartSession(f.ali.ID, "ali-phone", []byte("r"), time.Hour)
	require.NoError(t, err)
	ali := f.device("ali-phone", f.ali)
	sent, clash := notesAndAClash(f, ali, c.ID)
	mustPush(t, s, ali, append(sent, clash)...)
	require.NoError(t, s.Close())
	downgradeToSchema5(t, path)

	s = mustOpenStoreAt(t, path, Options{Now: f.clock.Now, NewID: f.ids.Next})
	f.s = s
	last, err := s.LastDeviceSeq(f.ali.ID, "ali-phone")
	require.NoError(t, err)
	assert.Equal(t, uint64(4), last)
	res := mustPush(t, s, ali, sent[1], clash)
	assert.True(t, res[0].Replayed)
	assert.Equal(t, StatusApplied, res[0].Status)
	assert.True(t, res[1].Replayed, "the refusal's stored answer moved too")
	next := ali.mut(MutNoteCreate, f.devIDs.Next(), 0, notePayload(c.ID, "", "بعدی", t0))
	r := mustPush(t, s, ali, next)[0]
	assert.Equal(t, StatusApplied, r.Status, "%s", r.Message)
	assert.Empty(t, r.GapBefore)
	require.NoError(t, s.db.View(func(btx *bolt.Tx) error {
		for _, name := range [][]byte{legacyDeviceMutations, legacyDeviceIDs, legacyDeviceSeq} {
			assert.Nil(t, btx.Bucket(name), "legacy bucket %s dropped", name)
		}
		return nil
	}))
}

// notesAndAClash are three notes from d on complaintID, and a fourth
// mutation that reuses the first one's record id with other content (an
// idempotency clash), for the migration tests to push before and replay
// after.
func notesAndAClash(f *fieldFixture, d *fieldDevice, complaintID string) (sent []Mutation, clash Mutation) {
	for range 3 {
		sent = append(sent, d.mut(MutNoteCreate, f.devIDs.Next(), 0, notePayload(complaintID, "", "یادداشت", t0)))
	}
	return sent, d.mut(MutNoteCreate, sent[0].RecordID, 0, notePayload(complaintID, "", "متن دیگر", t0))
}

// downgradeToSchema5 rewrites a store's push idempotency in schema 5's
// layout (keys without the account) and marks the file schema 5.
func downgradeToSchema5(t *testing.T, path string) {
	t.Helper()
	downgradeToSchema7(t, path)
	db, err := bolt.Open(path, 0o600, nil)
	require.NoError(t, err)
	defer db.Close()
	strip := func(k []byte) []byte {
		_, rest, ok := bytes.Cut(k, []byte{0})
		require.True(t, ok)
		return bytes.Clone(rest)
	}
	require.NoError(t, db.Update(func(tx *bolt.Tx) error {
		for _, p := range [][2][]byte{{bucketDeviceMutations, legacyDeviceMutations}, {legacyMutationIDs, legacyDeviceIDs}, {legacyLastSeq, legacyDeviceSeq}} {
			from := tx.Bucket(p[0])
			to, err := tx.CreateBucket(p[1])
			require.NoError(t, err)
			require.NoError(t, from.ForEach(func(k, v []byte) error {
				if bytes.Equal(p[0], legacyMutationIDs) {
					return to.Put(k, strip(v))
				}
				return to.Put(strip(k), v)
			}))
			require.NoError(t, tx.DeleteBucket(p[0]))
		}
		return tx.Bucket(bucketMeta).Put(keySchemaVersion, itob(5))
	}))
}
