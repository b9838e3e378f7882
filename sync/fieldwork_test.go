package sync

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/favad/favad/inspector"
)

// TestMigrateToSchema6IndexesVisitsUnderEveryComplaint: a store written
// before schema 6 indexed a visit's changes (and the findings and notes on
// it that name no complaint) under the visit's first complaint only, so the
// others' field work missed them (issue 11 item 19). Opening it migrates the
// index; the migration is idempotent.
func TestMigrateToSchema6IndexesVisitsUnderEveryComplaint(t *testing.T) {
	path := filepath.Join(t.TempDir(), "favad.db")
	var a, b inspector.Complaint
	var visit, finding, note string
	func() {
		f := newFieldFixtureAt(t, path)
		s := f.s
		defer s.Close()
		a = f.complaint(t, "CALL-M6-A", officeSSO1.Code, &f.ali)
		b = f.complaint(t, "CALL-M6-B", officeSSO1.Code, &f.ali)
		d := f.device("ali-phone", f.ali)
		visit, finding, note = d.ids.Next(), d.ids.Next(), d.ids.Next()
		now := f.clock.Now()
		for _, r := range mustPush(t, s, d,
			d.mut(MutVisitUpsert, visit, 0, map[string]any{"office_code": officeSSO1.Code, "complaint_ids": []string{a.ID, b.ID}, "check_in": geo(now)}),
			d.mut(MutFindingCreate, finding, 0, findingPayload(visit, "", 4, now)),
			d.mut(MutNoteCreate, note, 0, notePayload("", visit, "یادداشت", now)),
		) {
			require.Equal(t, StatusApplied, r.Status, "%+v", r)
		}
	}()

	// Make the file what schema 5 wrote: drop the index entries schema 6 adds.
	db, err := bolt.Open(path, 0o600, nil)
	require.NoError(t, err)
	require.NoError(t, db.Update(func(btx *bolt.Tx) error {
		if err := flushBehind(btx); err != nil { // schema 5 wrote every key in place
			return err
		}
		logb, rl := btx.Bucket(bucketLog), btx.Bucket(bucketRecordLog)
		var drop [][]byte
		for _, prefix := range [][]byte{recordLogPrefix(KindComplaint, b.ID), recordLogPrefix(KindVisit, visit)} {
			c := rl.Cursor()
			for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
				ch, err := decodeChange(logb.Get(k[len(prefix):]))
				require.NoError(t, err)
				if ch.Kind != KindComplaint && !(bytes.HasPrefix(prefix, []byte(KindVisit)) && ch.Kind == KindVisit) {
					drop = append(drop, bytes.Clone(k))
				}
			}
		}
		require.NotEmpty(t, drop)
		for _, k := range drop {
			if err := rl.Delete(k); err != nil {
				return err
			}
		}
		return btx.Bucket(bucketMeta).Put(keySchemaVersion, itob(5))
	}))
	require.NoError(t, db.Close())

	for range 2 { // a second open finds schema 6 and changes nothing
		s := mustOpenStoreAt(t, path)
		for _, id := range []string{a.ID, b.ID} {
			fw, err := s.ComplaintFieldWork(id)
			require.NoError(t, err)
			require.Len(t, fw.Visits, 1, "complaint %s", id)
			assert.Equal(t, visit, fw.Visits[0].ID)
			require.Len(t, fw.Findings, 1)
			assert.Equal(t, finding, fw.Findings[0].ID)
			require.Len(t, fw.Notes, 1)
			assert.Equal(t, note, fw.Notes[0].ID)
		}
		require.NoError(t, s.Close())
		_, version := readMeta(t, path)
		assert.Equal(t, be64(SchemaVersion), version)
	}
}
