package sync

import (
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/favad/favad/inspector"
)

// schema8File copies testdata/schema8-simulated.db.gz into a new file: a
// store written by the schema-8 build (a97eeea: `favad serve --demo`, then
// `favad simulate --inspectors 3 --duration 8s --seed 7`: field work from
// phones going offline, crashing and losing answers, a dispatcher routing
// and withdrawing), its change log, scope entries, push answers and notes
// all JSON.
func schema8File(t *testing.T) string {
	t.Helper()
	in, err := os.Open(filepath.Join("testdata", "schema8-simulated.db.gz"))
	require.NoError(t, err)
	defer in.Close()
	zr, err := gzip.NewReader(in)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "favad.db")
	out, err := os.Create(path)
	require.NoError(t, err)
	_, err = io.Copy(out, zr)
	require.NoError(t, err)
	require.NoError(t, out.Close())
	return path
}

// storeReading is what the readers of a store return: every inspector's
// full sync, every complaint's history, the change log with its records,
// and the integrity checks.
type storeReading struct {
	Pulls     map[string][]PullRecord
	Histories map[string][]Change
	Changes   []ChangeView
	Problems  []string
}

func readStore(t *testing.T, s *Store) storeReading {
	t.Helper()
	r := storeReading{Pulls: map[string][]PullRecord{}, Histories: map[string][]Change{}}
	inspectors, err := s.Users(inspector.RoleInspector)
	require.NoError(t, err)
	require.NotEmpty(t, inspectors)
	for _, u := range inspectors {
		cursor := ""
		for page := 0; ; page++ {
			require.Less(t, page, 1000)
			p, err := s.Pull(u, cursor, 7) // small pages: paging through the scopes
			require.NoError(t, err)
			r.Pulls[u.ID] = append(r.Pulls[u.ID], p.Records...)
			cursor = p.Cursor
			if !p.HasMore {
				break
			}
		}
	}
	require.NoError(t, s.view(func(btx *bolt.Tx) error {
		return btx.Bucket(bucketComplaints).ForEach(func(k, _ []byte) error {
			h, err := history(btx, KindComplaint, string(k))
			r.Histories[string(k)] = h
			return err
		})
	}))
	r.Changes, err = s.ReadChanges(0, 1<<20)
	require.NoError(t, err)
	log, err := s.verifyChangeLog()
	require.NoError(t, err)
	idx, err := s.verifyIndexes()
	require.NoError(t, err)
	r.Problems = append(log, idx...)
	return r
}

// A schema-8 file reads the same under schema 9: read-only (as favad verify
// opens it, without index_behind), then opened to write (migrated), and
// after more work written in the binary forms beside the JSON ones.
func TestSchema8FileReadsTheSameUnderSchema9(t *testing.T) {
	path := schema8File(t)
	ro, err := Open(path, Options{ReadOnly: true})
	require.NoError(t, err)
	before := readStore(t, ro)
	require.NoError(t, ro.Close())
	assert.Empty(t, before.Problems)
	assert.Greater(t, len(before.Changes), 100, "the fixture holds field work")
	var notes int
	for _, ch := range before.Changes {
		if ch.Kind == KindNote {
			notes++
		}
	}
	assert.NotZero(t, notes)

	s, err := Open(path, Options{})
	require.NoError(t, err)
	defer s.Close()
	after := readStore(t, s)
	assert.Equal(t, before, after, "the same records, histories and changes once migrated")
	var v uint64
	require.NoError(t, s.view(func(btx *bolt.Tx) error {
		v, _ = btoi(btx.Bucket(bucketMeta).Get(keySchemaVersion))
		return nil
	}))
	assert.Equal(t, uint64(SchemaVersion), v)
	t.Logf("%d changes, %d notes, %d complaints, %d inspectors", len(after.Changes), notes, len(after.Histories), len(after.Pulls))

	// New work beside the old: a note from a new phone of an inspector
	// with an open assignment, stored in the binary forms.
	var u inspector.User
	var complaint string
	items, _, err := s.ListComplaints(ComplaintFilter{Status: []inspector.Status{inspector.StatusAssigned, inspector.StatusInProgress}, Limit: 100})
	require.NoError(t, err)
	for _, c := range items {
		if c.Assignment != nil && c.Assignment.Mode == inspector.ModeField {
			if u, err = s.User(c.Assignment.InspectorID); err == nil && u.Role == inspector.RoleInspector {
				complaint = c.ID
				break
			}
		}
	}
	require.NotEmpty(t, complaint, "the fixture has a field assignment")
	m := Mutation{ID: "0193a0c0-0000-7000-8000-000000000001", DeviceSeq: 1, Kind: MutNoteCreate, RecordID: "0193a0c0-0000-7000-8000-000000000002",
		DeviceTime: t0, Payload: []byte(`{"complaint_id":"` + complaint + `","text":"یادداشت پس از ارتقا","written_at":"2026-12-04T10:00:00+03:30"}`)}
	res, _, err := s.Push(u, "phone-after-upgrade", []Mutation{m})
	require.NoError(t, err)
	require.Equal(t, StatusApplied, res[0].Status, "%+v", res[0])
	again, _, err := s.Push(u, "phone-after-upgrade", []Mutation{m})
	require.NoError(t, err)
	assert.True(t, again[0].Replayed)

	later := readStore(t, s)
	assert.Empty(t, later.Problems)
	assert.Equal(t, m.RecordID, later.Histories[complaint][len(later.Histories[complaint])-1].ID)
	var pulled *inspector.Note
	for _, r := range later.Pulls[u.ID] {
		if r.ID == m.RecordID {
			pulled = r.Record.(*inspector.Note)
		}
	}
	require.NotNil(t, pulled, "the inspector's full sync has the new note")
	assert.Equal(t, "2026-12-04T10:00:00+03:30", pulled.WrittenAt.Format("2006-01-02T15:04:05Z07:00"), "the device's offset comes back")
	for id, h := range before.Histories {
		assert.Equal(t, h, later.Histories[id][:len(h)], "complaint %s: its old history unchanged", id)
	}
}
