package sync

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strconv"
	stdsync "sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/favad/favad/inspector"
)

// readMeta opens path with bbolt directly and returns the bucket names and
// the stored schema version.
func readMeta(t *testing.T, path string) (buckets []string, version []byte) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	require.NoError(t, err)
	defer db.Close()
	require.NoError(t, db.View(func(tx *bolt.Tx) error {
		if err := tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
			buckets = append(buckets, string(name))
			return nil
		}); err != nil {
			return err
		}
		if b := tx.Bucket([]byte("meta")); b != nil {
			version = bytes.Clone(b.Get([]byte("schema_version")))
		}
		return nil
	}))
	return buckets, version
}

// writeSchemaVersion creates path (if need be) with only a meta bucket
// holding version, written as FAVAD does: 8 bytes, big-endian.
func writeSchemaVersion(t *testing.T, path string, version []byte) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	require.NoError(t, err)
	require.NoError(t, db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte("meta"))
		if err != nil {
			return err
		}
		return b.Put([]byte("schema_version"), version)
	}))
	require.NoError(t, db.Close())
}

func be64(v uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, v)
	return b
}

func TestOpenCreatesBucketsAndSchemaVersion(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nested", "dir", "favad.db")
	s, err := Open(path, Options{})
	require.NoError(t, err, "Open creates missing directories")
	assert.Equal(t, path, s.Path())
	require.NoError(t, s.Close())

	fi, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "the store holds callers' identities: owner only")

	buckets, version := readMeta(t, path)
	want := []string{}
	for _, b := range allBuckets {
		want = append(want, string(b))
	}
	assert.ElementsMatch(t, want, buckets)
	assert.Equal(t, be64(SchemaVersion), version)

	// Reopening an existing store keeps it as it is.
	s = mustOpenStoreAt(t, path)
	st, err := s.Stats()
	require.NoError(t, err)
	assert.Zero(t, st.Seq)
	assert.Positive(t, st.SizeBytes)
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "favad.db")
	writeSchemaVersion(t, path, be64(SchemaVersion+1))

	s, err := Open(path, Options{})
	require.Error(t, err)
	assert.Nil(t, s)
	assert.True(t, errors.Is(err, ErrSchemaTooNew), "got %v", err)
	assert.Equal(t, inspector.CodeInternal, inspector.ErrorCode(err), "not an application error")

	// The refused file is left exactly as it was, and unlocked.
	buckets, version := readMeta(t, path)
	assert.Equal(t, []string{"meta"}, buckets)
	assert.Equal(t, be64(SchemaVersion+1), version)

	_, err = Open(path, Options{ReadOnly: true})
	assert.True(t, errors.Is(err, ErrSchemaTooNew), "read-only opens are refused too; got %v", err)
}

func TestOpenUpgradesOlderSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "favad.db")
	writeSchemaVersion(t, path, be64(0))
	s := mustOpenStoreAt(t, path)
	require.NoError(t, s.Close())
	buckets, version := readMeta(t, path)
	assert.Len(t, buckets, len(allBuckets))
	assert.Equal(t, be64(SchemaVersion), version)
}

func TestOpenRefusesCorruptSchemaVersion(t *testing.T) {
	path := filepath.Join(t.TempDir(), "favad.db")
	writeSchemaVersion(t, path, []byte{1, 2, 3})
	_, err := Open(path, Options{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "schema version")
	assert.False(t, errors.Is(err, ErrSchemaTooNew))
}

func TestOpenReadOnlyRefusesForeignFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "other.db")
	db, err := bolt.Open(path, 0o600, nil)
	require.NoError(t, err)
	require.NoError(t, db.Close())
	_, err = Open(path, Options{ReadOnly: true})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "not a FAVAD store")
}

func TestOpenLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "favad.db")
	mustOpenStoreAt(t, path)

	start := time.Now()
	s, err := Open(path, Options{LockTimeout: 50 * time.Millisecond})
	assert.Nil(t, s)
	assert.ErrorIs(t, err, ErrLocked)
	assert.Less(t, time.Since(start), 2*time.Second, "LockTimeout is honoured")
}

func TestReadOnlyStoreRefusesWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "favad.db")
	s := mustOpenStoreAt(t, path)
	seedReference(t, s)
	c := mustCreateComplaint(t, s, intake("CALL-1", "QZ-SSO-01"))
	require.NoError(t, s.Close())

	ro := mustOpenStoreAt(t, path, Options{ReadOnly: true})
	got, err := ro.Complaint(c.ID)
	require.NoError(t, err)
	assert.Equal(t, c, got)

	_, _, err = ro.CreateComplaint(dispatcher, intake("CALL-2", "QZ-SSO-01"))
	require.Error(t, err)
	assert.Equal(t, inspector.CodeInternal, inspector.ErrorCode(err))
}

func TestChanges(t *testing.T) {
	s := mustOpenStore(t)
	seedReference(t, s) // 2 agencies + 4 offices = 6 changes
	for i := range 4 {
		mustCreateComplaint(t, s, intake("CALL-"+strconv.Itoa(i), "QZ-SSO-01"))
	}
	all := allChanges(t, s)
	require.Len(t, all, 10)
	requireSeqsContiguous(t, all)
	assert.Equal(t, uint64(10), lastSeq(t, s))

	page, err := s.Changes(3, 4)
	require.NoError(t, err)
	require.Len(t, page, 4)
	assert.Equal(t, uint64(4), page[0].Seq)
	assert.Equal(t, uint64(7), page[3].Seq)

	page, err = s.Changes(10, 100)
	require.NoError(t, err)
	assert.Empty(t, page, "nothing after the last change")

	page, err = s.Changes(2, 0)
	require.NoError(t, err)
	assert.Empty(t, page, "limit 0 returns nothing")

	assert.Equal(t, Change{Seq: 1, Kind: KindAgency, ID: "SSO", Action: ActionCreated, Actor: admin.UserID, At: t0}, all[0])
	assert.Equal(t, KindOffice, all[2].Kind)
	assert.Equal(t, map[string]string{"agency": "SSO", "province": "قزوین"}, all[2].Data)
	last := all[9]
	assert.Equal(t, KindComplaint, last.Kind)
	assert.Equal(t, ActionCreated, last.Action)
	assert.Equal(t, dispatcher.UserID, last.Actor)
	assert.Equal(t, map[string]string{"to": "received", "office": "QZ-SSO-01", "agency": "SSO", "category": "absent_employee", "priority": "normal"}, last.Data)
}

// Regression: Changes seeks to itob(after+1), which wraps to 0 when after is
// the largest sequence, so a client-supplied cursor (a device's pull cursor,
// an SSE Last-Event-ID) of 18446744073709551615 replays the whole log instead
// of returning nothing.
func TestChangesAfterLargestSeqIsEmpty(t *testing.T) {
	s := mustOpenStore(t)
	seedReference(t, s)
	page, err := s.Changes(math.MaxUint64, 100)
	require.NoError(t, err)
	assert.Empty(t, page)
}

func TestBackupWhileWriting(t *testing.T) {
	s := mustOpenStore(t)
	seedReference(t, s)
	before := map[string]inspector.Complaint{}
	for i := range 20 {
		c := mustCreateComplaint(t, s, intake("BEFORE-"+strconv.Itoa(i), "QZ-SSO-01"))
		before[c.ID] = c
	}

	stop := make(chan struct{})
	var wg stdsync.WaitGroup
	var written atomic.Int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if _, _, err := s.CreateComplaint(dispatcher, intake("DURING-"+strconv.Itoa(i), "QZ-TAX-01")); err != nil {
				t.Errorf("write during backup: %v", err)
				return
			}
			written.Add(1)
		}
	}()
	// Let the writer get going, so the backup really overlaps writes.
	require.Eventually(t, func() bool { return written.Load() >= 3 }, 5*time.Second, time.Millisecond)

	path := filepath.Join(t.TempDir(), "backup.db")
	f, err := os.Create(path)
	require.NoError(t, err)
	n, err := s.Backup(f)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	close(stop)
	wg.Wait()

	fi, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, fi.Size(), n, "Backup reports the bytes written")

	cp := mustOpenStoreAt(t, path, Options{ReadOnly: true})
	for id, c := range before {
		got, err := cp.Complaint(id)
		require.NoError(t, err)
		assert.Equal(t, c, got)
	}
	// The copy is one consistent snapshot: its change log has no gap, and
	// every complaint in it has its creation in the log.
	changes := allChanges(t, cp)
	requireSeqsContiguous(t, changes)
	items, _, err := cp.ListComplaints(ComplaintFilter{Limit: 10000})
	require.NoError(t, err)
	assert.GreaterOrEqual(t, len(items), 23)
	logged := map[string]bool{}
	for _, c := range changes {
		if c.Kind == KindComplaint {
			logged[c.ID] = true
		}
	}
	assert.Len(t, logged, len(items))
	for _, c := range items {
		assert.True(t, logged[c.ID], "complaint %d without its change", c.Number)
		assert.LessOrEqual(t, c.Version, lastSeq(t, cp))
	}
	checkConsistency(t, path)
}

func TestBackupToBuffer(t *testing.T) {
	s := mustOpenStore(t)
	seedReference(t, s)
	mustCreateComplaint(t, s, intake("CALL-1", "QZ-SSO-01"))
	var buf bytes.Buffer
	n, err := s.Backup(&buf)
	require.NoError(t, err)
	assert.Equal(t, int64(buf.Len()), n)

	st, err := s.Stats()
	require.NoError(t, err)
	assert.Equal(t, st.SizeBytes, n)
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestBackupWriteError(t *testing.T) {
	s := mustOpenStore(t)
	_, err := s.Backup(failingWriter{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "backup:")
	assert.Contains(t, err.Error(), "disk full")
}

// TestForkHistoryNamesARestoredStoresHistory: a store keeps its history id
// across opens; a copy given ForkHistory (a backup restored) has its own.
func TestForkHistoryNamesARestoredStoresHistory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "favad.db")
	s, err := Open(path, Options{})
	require.NoError(t, err)
	first := s.HistoryID()
	require.Len(t, first, 16)
	require.NoError(t, s.Close())
	s, err = Open(path, Options{})
	require.NoError(t, err)
	assert.Equal(t, first, s.HistoryID(), "the same store, the same history")
	require.NoError(t, s.Close())

	require.NoError(t, ForkHistory(path))
	s, err = Open(path, Options{ReadOnly: true})
	require.NoError(t, err)
	defer s.Close()
	assert.NotEqual(t, first, s.HistoryID(), "a restored copy goes on in its own history")
	assert.Len(t, s.HistoryID(), 16)
}
