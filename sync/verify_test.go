package sync

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/favad/favad/inspector"
	"github.com/favad/favad/sync/blob"
)

// verifyFixture is a store with two stored photos of one complaint, their
// bytes in a blob directory.
type verifyFixture struct {
	*fieldFixture
	blobs blob.Store
	ids   []string // the evidence ids, oldest first
	shas  []string
}

func newVerifyFixture(t *testing.T) *verifyFixture {
	t.Helper()
	return newVerifyFixtureOn(t, &blob.FS{Dir: filepath.Join(t.TempDir(), "blobs")})
}

// newVerifyFixtureOn is newVerifyFixture with the bytes in blobs.
func newVerifyFixtureOn(t *testing.T, blobs blob.Store) *verifyFixture {
	t.Helper()
	f := &verifyFixture{fieldFixture: newFieldFixture(t), blobs: blobs}
	cmp := f.complaint(t, "CALL-VERIFY-1", "QZ-SSO-01", &f.ali)
	d := f.device("ali-phone", f.ali)
	for i := range 2 {
		data := []byte("photo bytes " + strings.Repeat("x", i+1))
		sum := sha256.Sum256(data)
		sha := hex.EncodeToString(sum[:])
		id := f.devIDs.Next()
		r := mustPush(t, f.s, d, d.mut(MutEvidenceCreate, id, 0, map[string]any{"complaint_id": cmp.ID, "kind": "photo",
			"content_type": "image/jpeg", "size": len(data), "sha256": sha, "captured_at": f.clock.Now().Format(time.RFC3339)}))[0]
		require.Equal(t, StatusApplied, r.Status, "%s: %s", r.Code, r.Message)
		path := filepath.Join(t.TempDir(), "upload")
		require.NoError(t, os.WriteFile(path, data, 0o600))
		require.NoError(t, f.blobs.Adopt(sha, path))
		_, err := f.s.AttachUpload(f.ali, d.id, Upload{EvidenceID: id, SHA256: sha, Size: int64(len(data)), SniffedType: "image/jpeg"})
		require.NoError(t, err)
		f.ids, f.shas = append(f.ids, id), append(f.shas, sha)
	}
	return f
}

func (f *verifyFixture) verify(t *testing.T) VerifyReport {
	t.Helper()
	r, err := f.s.Verify(f.blobs)
	require.NoError(t, err)
	return r
}

// tamper changes the store's file directly, as someone with the file would.
func (f *verifyFixture) tamper(t *testing.T, fn func(tx *bolt.Tx) error) {
	t.Helper()
	require.NoError(t, f.s.db.Update(fn))
}

func (f *verifyFixture) age(t *testing.T, sha string, by time.Duration) {
	t.Helper()
	p := filepath.Join(f.blobs.(*blob.FS).Dir, sha[:2], sha)
	old := time.Now().Add(-by)
	require.NoError(t, os.Chtimes(p, old, old))
}

func TestVerifyIntactStore(t *testing.T) {
	f := newVerifyFixture(t)
	r := f.verify(t)
	assert.Empty(t, r.Problems)
	assert.Equal(t, 2, r.ChainEntries)
	assert.Equal(t, 2, r.Blobs)
}

// TestVerifyFindsTheNewestItemRemoved: removing the last entry of a chain
// (record and chain key) leaves the chain itself whole; the change log
// still names the item, and its bytes are left without a record.
func TestVerifyFindsTheNewestItemRemoved(t *testing.T) {
	f := newVerifyFixture(t)
	newest := f.ids[1]
	f.tamper(t, func(tx *bolt.Tx) error {
		var e inspector.Evidence
		if _, err := getJSON(tx.Bucket(bucketEvidence), []byte(newest), &e); err != nil {
			return err
		}
		if err := tx.Bucket(bucketEvidenceChain).Delete(seqKey(e.ComplaintID, e.ChainSeq)); err != nil {
			return err
		}
		return tx.Bucket(bucketEvidence).Delete([]byte(newest))
	})
	f.age(t, f.shas[1], 2*time.Hour)
	r := f.verify(t)
	assert.Contains(t, r.Problems, "evidence "+newest+": the change log records it, but its record is gone")
	assert.Contains(t, r.Problems, "blob "+f.shas[1]+": no evidence record refers to it (was its record removed?)")
}

func TestVerifyFindsAGapInTheChangeLog(t *testing.T) {
	f := newVerifyFixture(t)
	f.tamper(t, func(tx *bolt.Tx) error { return tx.Bucket(bucketLog).Delete(itob(3)) })
	assert.Contains(t, f.verify(t).Problems, "change log: entries 3 to 3 are missing")

	// Removing the newest entries without winding the sequence back shows too.
	var head uint64
	f.tamper(t, func(tx *bolt.Tx) error {
		head = tx.Bucket(bucketLog).Sequence()
		return tx.Bucket(bucketLog).Delete(itob(head))
	})
	assert.Contains(t, f.verify(t).Problems, fmt.Sprintf("change log: entries %d to %d are missing", head, head))
}

// TestVerifyOrphanBlobsNeedAnHour: bytes are moved into the blob store a
// moment before their record says so; only bytes an hour old without a
// record are reported.
func TestVerifyOrphanBlobsNeedAnHour(t *testing.T) {
	f := newVerifyFixture(t)
	data := []byte("bytes that a record will name in a moment")
	sum := sha256.Sum256(data)
	sha := hex.EncodeToString(sum[:])
	path := filepath.Join(t.TempDir(), "upload")
	require.NoError(t, os.WriteFile(path, data, 0o600))
	require.NoError(t, f.blobs.Adopt(sha, path))
	assert.Empty(t, f.verify(t).Problems, "a fresh blob may be an upload finishing now")
	f.age(t, sha, 2*time.Hour)
	assert.Equal(t, []string{"blob " + sha + ": no evidence record refers to it (was its record removed?)"}, f.verify(t).Problems)
}

// TestBytesARecordDoesNotClaimArePrunedNotOrphaned: bytes that came before
// their record, which then declares other bytes, are not the record's: they
// stay unclaimed (verify does not call them orphaned) and the janitor's
// pruning takes them.
func TestBytesARecordDoesNotClaimArePrunedNotOrphaned(t *testing.T) {
	f := newVerifyFixture(t)
	cmp := f.complaint(t, "CALL-VERIFY-2", "QZ-SSO-01", &f.ali)
	d := f.device("ali-phone-2", f.ali)
	data := []byte("bytes that came first")
	sum := sha256.Sum256(data)
	sha := hex.EncodeToString(sum[:])
	id := f.devIDs.Next()
	_, err := f.s.ClaimUpload(f.ali, id, sha, int64(len(data)), "image/jpeg")
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "upload")
	require.NoError(t, os.WriteFile(path, data, 0o600))
	require.NoError(t, f.blobs.Adopt(sha, path))
	_, err = f.s.AttachUpload(f.ali, d.id, Upload{EvidenceID: id, SHA256: sha, Size: int64(len(data)), SniffedType: "image/jpeg"})
	require.NoError(t, err)

	other := strings.Repeat("cd", 32)
	r := mustPush(t, f.s, d, d.mut(MutEvidenceCreate, id, 0, map[string]any{"complaint_id": cmp.ID, "kind": "photo",
		"content_type": "image/jpeg", "size": len(data), "sha256": other, "captured_at": f.clock.Now().Format(time.RFC3339)}))[0]
	require.Equal(t, StatusApplied, r.Status, "%s: %s", r.Code, r.Message)
	e, err := f.s.Evidence(id)
	require.NoError(t, err)
	assert.Equal(t, inspector.EvidenceRejected, e.Status, "the bytes are not the ones the record declares")

	f.age(t, sha, 2*time.Hour)
	for _, p := range f.verify(t).Problems {
		assert.NotContains(t, p, sha, "unclaimed bytes are not orphans")
	}
	f.clock.Advance(PendingUploadRetention + time.Hour)
	pruned, err := f.s.PrunePendingUploads(PendingUploadRetention)
	require.NoError(t, err)
	assert.Equal(t, []string{sha}, pruned, "the janitor removes them")
}

// TestVerifyChecksTheIndexesPushesRelyOn: complaint_inspectors (which
// decides whether an inspector's work on a complaint is taken) and
// open_conflicts (the per-device cap) are rebuilt from the change log and
// the conflict records and compared, and every push answer's sequence must
// be held: an entry missing or added shows.
func TestVerifyChecksTheIndexesPushesRelyOn(t *testing.T) {
	f := newVerifyFixture(t)
	c := f.complaint(t, "CALL-VERIFY-2", "QZ-SSO-01", &f.reza)
	d := f.device("reza-phone", f.reza)
	visit := f.devIDs.Next()
	mustPush(t, f.s, d, d.mut(MutVisitUpsert, visit, 0, map[string]any{"office_code": "QZ-SSO-01", "complaint_ids": []string{c.ID}}))
	require.NoError(t, f.s.DeleteVisit(dispatcher, visit))
	orphanMut := d.mut(MutFindingCreate, f.devIDs.Next(), 0, findingPayload(visit, c.ID, 3, t0))
	orphan := mustPush(t, f.s, d, orphanMut)[0]
	require.Len(t, orphan.ConflictIDs, 1, "an open conflict record of reza's device")
	require.Empty(t, f.verify(t).Problems)

	f.tamper(t, func(tx *bolt.Tx) error {
		idx := tx.Bucket(bucketComplaintInspectors)
		if err := idx.Delete(joinKey(c.ID, f.reza.ID)); err != nil {
			return err
		}
		if err := idx.Put(joinKey(c.ID, f.ali.ID), nil); err != nil {
			return err
		}
		if err := tx.Bucket(bucketOpenConflicts).Delete(joinKey("reza-phone", orphan.ConflictIDs[0])); err != nil {
			return err
		}
		return tx.Bucket(bucketSeqHeld).Put([]byte(seqSpace(f.reza.ID, "reza-phone")), (&seqState{last: 2, held: []seqRange{{1, 1}}}).encode())
	})
	assert.ElementsMatch(t, []string{
		"complaint_inspectors: complaint " + c.ID + ", inspector " + f.reza.ID + " is missing from the index",
		"complaint_inspectors: complaint " + c.ID + ", inspector " + f.ali.ID + " is indexed, but nothing the index is built from says so",
		"open_conflicts: device reza-phone, conflict " + orphan.ConflictIDs[0] + " is missing from the index",
		"seq_held: mutation " + orphanMut.ID + " was answered under sequence 2 of account " + f.reza.ID + " on device reza-phone, which is not held",
	}, f.verify(t).Problems)
}

// unansweringBlobs is a blob store that has stopped answering (object
// storage down): every open fails, not with ErrNotFound.
type unansweringBlobs struct{ blob.Store }

func (unansweringBlobs) Open(string) (blob.File, int64, time.Time, error) {
	return nil, 0, time.Time{}, errors.New("dial tcp 127.0.0.1:9000: connect: connection refused")
}

// TestVerifyCouldNotCheckIsNotABreak: a blob store that fails to open the
// bytes is a failure to check (an error: favad verify exits 3), not a list
// of broken evidence (problems: exit 1), and it is not asked again for
// every item.
func TestVerifyCouldNotCheckIsNotABreak(t *testing.T) {
	f := newVerifyFixture(t)
	rep, err := f.s.Verify(unansweringBlobs{f.blobs})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "connection refused")
	assert.Empty(t, rep.Problems, "no evidence is called broken")
}
