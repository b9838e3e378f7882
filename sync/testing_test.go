package sync

// The test kit of package sync: a fake clock, a real bbolt store in a
// temporary directory, reference-data fixtures and error assertions.

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/favad/favad/inspector"
	"github.com/favad/favad/internal/testkit"
)

// t0 is the fake clock's start: a Saturday morning in Qazvin (UTC+3:30).
var t0 = time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)

// fakeClock is a settable clock for Options.Now, starting at t0.
type fakeClock = testkit.Clock

func newFakeClock() *fakeClock { return testkit.NewClock(t0) }

// mustOpenStore opens a store on a new file in tb's temporary directory. With
// no options it uses a fresh fake clock. The store is closed, and the file's
// consistency checked, when the test ends.
// keepIndexBehind makes s keep every index entry written behind waiting
// (never moved by a commit, only by a delete, a compaction or an open)
// when FAVAD_TEST_INDEX_BEHIND=keep, and move what waits every n entries
// when it is a number n, even on a quiet server: `make test` runs this
// package so twice more, and every read then goes through the merge of
// what waits (indexCursor), with entries placed, waiting and moved in
// batches mixed at every point.
func keepIndexBehind(s *Store) {
	switch v := os.Getenv("FAVAD_TEST_INDEX_BEHIND"); {
	case v == "keep":
		s.behindFlushAt, s.behindKeep = math.MaxInt, true
	case v != "":
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			panic(fmt.Sprintf("FAVAD_TEST_INDEX_BEHIND=%q: keep, or a count of entries ≥ 1", v))
		}
		s.behindFlushAt, s.behindKeep = n, true
	}
}

// storedJSON returns the record at key in b as JSON, whatever its stored
// form (a note is binary since schema 9); nil if absent.
func storedJSON(b *bolt.Bucket, key []byte) ([]byte, error) {
	raw := b.Get(key)
	if raw == nil || isJSONValue(raw) {
		return raw, nil
	}
	n, err := decodeNote(string(key), raw)
	if err != nil {
		return nil, err
	}
	return json.Marshal(n)
}

func mustOpenStore(tb testing.TB, opts ...Options) *Store {
	tb.Helper()
	return mustOpenStoreAt(tb, filepath.Join(tb.TempDir(), "favad.db"), opts...)
}

// mustOpenStoreAt is mustOpenStore on a given path, for reopening a file.
func mustOpenStoreAt(tb testing.TB, path string, opts ...Options) *Store {
	tb.Helper()
	require.LessOrEqual(tb, len(opts), 1, "mustOpenStore takes at most one Options")
	var o Options
	if len(opts) == 1 {
		o = opts[0]
	}
	if o.Now == nil {
		o.Now = newFakeClock().Now
	}
	s, err := Open(path, o)
	require.NoError(tb, err)
	keepIndexBehind(s)
	tb.Cleanup(func() {
		require.NoError(tb, s.Close()) // a second Close is a no-op
		if !o.ReadOnly {
			checkConsistency(tb, path)
		}
	})
	return s
}

// checkConsistency runs bbolt's own consistency check over the file, as
// bbolt's internal/btesting does after every test.
func checkConsistency(tb testing.TB, path string) {
	tb.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if errors.Is(err, bolt.ErrTimeout) {
		return // the test reopened the file and that store is still open
	}
	require.NoError(tb, err)
	defer db.Close()
	require.NoError(tb, db.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			return err
		}
		return nil
	}))
}

// Actors used across the tests.
var (
	dispatcher = Actor{UserID: "dispatcher-1"}
	admin      = Actor{UserID: "admin-1"}
)

// Reference data: two agencies and four offices in Qazvin province.
var (
	agencySSO = inspector.Agency{Code: "SSO", NameFa: "سازمان تامین اجتماعی", NameEn: "Social Security Organization"}
	agencyTAX = inspector.Agency{Code: "TAX", NameFa: "اداره کل امور مالیاتی", NameEn: "National Tax Administration"}
)

func office(code, agency, name, city string) inspector.Office {
	return inspector.Office{
		Code: code, AgencyCode: agency, NameFa: name, Province: "قزوین", City: city,
		Phone: "028-33000101", Location: &inspector.Location{Lat: 36.279, Lng: 50.004},
		Hours: inspector.WorkingHours{Opens: "07:30", Closes: "14:30", Days: []string{"sat", "sun", "mon", "tue", "wed"}},
	}
}

var (
	officeSSO1 = office("QZ-SSO-01", "SSO", "شعبه یک تامین اجتماعی قزوین", "قزوین")
	officeSSO2 = office("TK-SSO-01", "SSO", "شعبه تامین اجتماعی تاکستان", "تاکستان")
	officeTAX1 = office("QZ-TAX-01", "TAX", "اداره امور مالیاتی شمال قزوین", "قزوین")
	officeTAX2 = office("AB-TAX-01", "TAX", "اداره امور مالیاتی آبیک", "آبیک")
)

// seedReference stores both agencies and all four offices.
func seedReference(tb testing.TB, s *Store) {
	tb.Helper()
	for _, a := range []inspector.Agency{agencySSO, agencyTAX} {
		_, _, err := s.PutAgency(admin, a)
		require.NoError(tb, err)
	}
	for _, o := range []inspector.Office{officeSSO1, officeSSO2, officeTAX1, officeTAX2} {
		_, _, err := s.PutOffice(admin, o)
		require.NoError(tb, err)
	}
}

// intake returns a valid 128 call about officeCode, taken ten minutes before t0.
func intake(callID, officeCode string) inspector.NewComplaint {
	return inspector.NewComplaint{
		CallID:      callID,
		Category:    inspector.CategoryAbsentEmployee,
		Description: "کارمند باجه در محل کار نیست و مراجعین منتظرند",
		CallTime:    t0.Add(-10 * time.Minute),
		Caller:      inspector.Caller{Name: "مریم احمدی", Phone: "09121234567"},
		OfficeCode:  officeCode,
		Priority:    inspector.PriorityNormal,
	}
}

func mustCreateComplaint(tb testing.TB, s *Store, n inspector.NewComplaint) inspector.Complaint {
	tb.Helper()
	c, created, err := s.CreateComplaint(dispatcher, n)
	require.NoError(tb, err)
	require.True(tb, created)
	return c
}

// mustCreateUser creates a user; inspectors get the given mode and the
// province of Qazvin.
func mustCreateUser(tb testing.TB, s *Store, username string, role inspector.Role, mode inspector.Mode) inspector.User {
	tb.Helper()
	n := NewUser{Username: username, DisplayName: "کاربر " + username, Role: role, PasswordHash: "$argon2id$v=19$fake"}
	if role == inspector.RoleInspector {
		n.Mode, n.Region = mode, &inspector.Region{Province: "قزوین"}
	}
	u, err := s.CreateUser(admin, n)
	require.NoError(tb, err)
	return u
}

// allChanges returns the whole change log.
func allChanges(tb testing.TB, s *Store) []Change {
	tb.Helper()
	ch, err := s.Changes(0, 1<<30)
	require.NoError(tb, err)
	return ch
}

// lastSeq is the sequence of the last change-log entry.
func lastSeq(tb testing.TB, s *Store) uint64 {
	tb.Helper()
	st, err := s.Stats()
	require.NoError(tb, err)
	return st.Seq
}

// requireCode asserts that err is an *inspector.Error with code.
func requireCode(tb testing.TB, err error, code inspector.Code) *inspector.Error {
	tb.Helper()
	require.Error(tb, err)
	var e *inspector.Error
	require.True(tb, errors.As(err, &e), "want *inspector.Error with code %s, got %T: %v", code, err, err)
	require.Equal(tb, code, e.Code, "error: %v", err)
	return e
}

// requireField asserts that err is an *inspector.Error with code that names
// field with fieldCode.
func requireField(tb testing.TB, err error, code inspector.Code, field, fieldCode string) {
	tb.Helper()
	e := requireCode(tb, err, code)
	var got []string
	for _, f := range e.Fields {
		if f.Field == field && f.Code == fieldCode {
			return
		}
		got = append(got, f.Field+"="+f.Code)
	}
	assert.Fail(tb, fmt.Sprintf("no field %s=%s in %v", field, fieldCode, got))
}

// requireSeqsContiguous asserts that the change log runs 1, 2, 3, … with no
// gap and no repeat.
func requireSeqsContiguous(tb testing.TB, changes []Change) {
	tb.Helper()
	for i, c := range changes {
		require.Equal(tb, uint64(i+1), c.Seq, "change %d", i)
	}
}
