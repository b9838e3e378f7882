package sync

// The field-work test kit: deterministic ids, inspector devices that number
// and stamp their mutations, device replicas that apply pulls, an
// independent computation of an inspector's scope from the stored records,
// and the "nothing lost" check of the conflict policy.

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	mathrand "math/rand/v2"
	"reflect"
	"slices"
	stdsync "sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/favad/favad/inspector"
)

// kitT is what the kit's helpers need: *testing.T and *rapid.T both fit.
type kitT interface {
	require.TestingT
	Helper()
}

// idGen makes deterministic ids shaped like UUIDv7 (version nibble 7, RFC
// 4122 variant) from a counter, for Options.NewID and for ids made on
// devices. Ids from one generator sort in the order they were made; ns keeps
// generators apart.
type idGen struct {
	mu stdsync.Mutex
	ns byte
	n  uint64
}

func newIDGen(ns byte) *idGen { return &idGen{ns: ns} }

func (g *idGen) Next() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.n++
	var u uuid.UUID
	var ms [8]byte
	binary.BigEndian.PutUint64(ms[:], uint64(t0.UnixMilli())+g.n)
	copy(u[0:6], ms[2:8])
	u[6] = 0x70
	u[7] = g.ns
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], g.n)
	copy(u[8:16], n[:])
	u[8] = 0x80 | (u[8] & 0x3f)
	return u.String()
}

// fieldFixture is a store with reference data, two field inspectors of
// Qazvin province (ali and reza) and deterministic clock and ids.
type fieldFixture struct {
	s         *Store
	clock     *fakeClock
	ids       *idGen // the store's ids
	devIDs    *idGen // ids made on devices: mutations, visits, findings, notes
	ali, reza inspector.User
}

func newFieldFixture(tb testing.TB) *fieldFixture {
	tb.Helper()
	f := &fieldFixture{clock: newFakeClock(), ids: newIDGen(1), devIDs: newIDGen(2)}
	f.s = mustOpenStore(tb, Options{Now: f.clock.Now, NewID: f.ids.Next})
	f.setUp(tb)
	return f
}

// newFieldFixtureAt is newFieldFixture on a store at path, which the test
// closes itself (to reopen it, or to change the file between).
func newFieldFixtureAt(tb testing.TB, path string) *fieldFixture {
	tb.Helper()
	f := &fieldFixture{clock: newFakeClock(), ids: newIDGen(1), devIDs: newIDGen(2)}
	s, err := Open(path, Options{Now: f.clock.Now, NewID: f.ids.Next})
	require.NoError(tb, err)
	keepIndexBehind(s)
	f.s = s
	f.setUp(tb)
	return f
}

// openFieldFixture is newFieldFixture for a *rapid.T: it opens a store at
// path and closes it when cleanup runs its function.
func openFieldFixture(tb kitT, path string, cleanup func(func())) *fieldFixture {
	tb.Helper()
	f := &fieldFixture{clock: newFakeClock(), ids: newIDGen(1), devIDs: newIDGen(2)}
	// Tracking codes from a seeded source: two runs of one plan must give the same store.
	s, err := Open(path, Options{Now: f.clock.Now, NewID: f.ids.Next, Rand: mathrand.NewChaCha8([32]byte{1})})
	if err == nil {
		keepIndexBehind(s)
	}
	require.NoError(tb, err)
	cleanup(func() { _ = s.Close() })
	f.s = s
	f.setUp(tb)
	return f
}

// setUp stores the reference data (as seedReference does) and the two
// field inspectors.
func (f *fieldFixture) setUp(tb kitT) {
	tb.Helper()
	for _, a := range []inspector.Agency{agencySSO, agencyTAX} {
		_, _, err := f.s.PutAgency(admin, a)
		require.NoError(tb, err)
	}
	for _, o := range []inspector.Office{officeSSO1, officeSSO2, officeTAX1, officeTAX2} {
		_, _, err := f.s.PutOffice(admin, o)
		require.NoError(tb, err)
	}
	for _, x := range []struct {
		name string
		u    *inspector.User
	}{{"ali", &f.ali}, {"reza", &f.reza}} {
		var err error
		*x.u, err = f.s.CreateUser(admin, NewUser{Username: x.name, DisplayName: "کاربر " + x.name, Role: inspector.RoleInspector,
			Mode: inspector.ModeField, Region: &inspector.Region{Province: "قزوین"}, PasswordHash: "$argon2id$v=19$fake"})
		require.NoError(tb, err)
	}
}

// complaint creates a complaint about office and, if to is not nil, assigns
// it to that field inspector.
func (f *fieldFixture) complaint(tb testing.TB, callID, office string, to *inspector.User) inspector.Complaint {
	tb.Helper()
	c := mustCreateComplaint(tb, f.s, intake(callID, office))
	if to != nil {
		var err error
		c, err = f.s.Assign(dispatcher, c.ID, inspector.Routing{InspectorID: to.ID, Mode: inspector.ModeField})
		require.NoError(tb, err)
	}
	return c
}

func (f *fieldFixture) device(name string, u inspector.User) *fieldDevice {
	return &fieldDevice{id: name, user: u, clock: f.clock, ids: f.devIDs}
}

// fieldDevice is an inspector's phone: it numbers its mutations from 1 and
// stamps them with a hybrid logical clock read from the shared fake clock
// plus its own skew.
type fieldDevice struct {
	id      string
	user    inspector.User
	clock   *fakeClock
	ids     *idGen
	skew    time.Duration
	seq     uint64
	wall    int64
	logical uint32
}

func (d *fieldDevice) stamp() inspector.Stamp {
	w := d.clock.Now().Add(d.skew).UnixMilli()
	if w > d.wall {
		d.wall, d.logical = w, 0
	} else {
		d.logical++
	}
	return inspector.Stamp{WallMs: d.wall, Logical: d.logical}
}

// mut makes the device's next mutation.
func (d *fieldDevice) mut(kind, recordID string, base uint64, payload any) Mutation {
	d.seq++
	return Mutation{ID: d.ids.Next(), DeviceSeq: d.seq, Kind: kind, RecordID: recordID, BaseVersion: base,
		DeviceTime: d.clock.Now().Add(d.skew), HLC: d.stamp(), Payload: mustJSON(payload)}
}

// again makes a new mutation (new id, next sequence) with m's content.
func (d *fieldDevice) again(m Mutation) Mutation {
	d.seq++
	m.ID, m.DeviceSeq, m.HLC = d.ids.Next(), d.seq, d.stamp()
	return m
}

func mustJSON(v any) json.RawMessage {
	if r, ok := v.(json.RawMessage); ok {
		return r
	}
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// mustPush pushes muts from d and returns one result per mutation.
func mustPush(tb kitT, s *Store, d *fieldDevice, muts ...Mutation) []Result {
	tb.Helper()
	res, _, err := s.Push(d.user, d.id, muts)
	require.NoError(tb, err)
	require.Len(tb, res, len(muts))
	for i, r := range res {
		require.Equal(tb, muts[i].ID, r.MutationID, "results come in the order sent")
		require.Equal(tb, muts[i].DeviceSeq, r.DeviceSeq)
	}
	return res
}

// Payloads.

func geo(at time.Time) map[string]any {
	return map[string]any{"device_time": at, "lat": 36.2797, "lng": 50.0049, "accuracy_m": 8}
}

func findingPayload(visitID, complaintID string, present int, at time.Time) map[string]any {
	p := map[string]any{"visit_id": visitID, "staff_expected": 6, "staff_present": present,
		"absentees":         []map[string]any{{"name": "حسین کریمی", "position": "کارشناس", "reason": "unexcused"}},
		"non_work_activity": []string{"تلفن شخصی"}, "clients_waiting": 9, "desks_open": 2, "observed_at": at}
	if complaintID != "" {
		p["complaint_id"] = complaintID
	}
	return p
}

func callPayload(complaintID string, duration int, at time.Time) map[string]any {
	return map[string]any{"complaint_id": complaintID, "callee_name": "مدیر شعبه", "number": "028-33000101",
		"started_at": at, "duration_s": duration, "outcome": "reached"}
}

func notePayload(complaintID, visitID, text string, at time.Time) map[string]any {
	p := map[string]any{"text": text, "written_at": at}
	if complaintID != "" {
		p["complaint_id"] = complaintID
	}
	if visitID != "" {
		p["visit_id"] = visitID
	}
	return p
}

func outcomeOf(value inspector.OutcomeValue, statement string) map[string]any {
	return map[string]any{"outcome": value, "statement": statement}
}

// recKey names a record in a device's copy.
type recKey struct{ Kind, ID string }

func (k recKey) String() string { return k.Kind + "/" + k.ID }

// replica is a device's local copy as far as sync is concerned: which
// records it holds at which version, and its cursor.
type replica struct {
	cursor string
	recs   map[recKey]uint64
	// own, when set, is the device the replica is: it pulls without its own
	// creations (PullOptions.OwnDevice) and builds them from its push
	// answers instead, keeping what it built in built.
	own   string
	built map[recKey]json.RawMessage
}

func newReplica() *replica { return &replica{recs: map[recKey]uint64{}} }

// newOwnReplica is the replica of device, which builds its own records.
func newOwnReplica(device string) *replica {
	return &replica{recs: map[recKey]uint64{}, own: device, built: map[recKey]json.RawMessage{}}
}

// answered takes the push answers the device received: a note, finding or
// call record it created is built as the server stores it, from the
// mutation's payload and the answer (id, inspector, version).
func (r *replica) answered(tb kitT, u inspector.User, muts []Mutation, results []Result) {
	tb.Helper()
	if r.own == "" {
		return
	}
	for i, res := range results {
		m := muts[i]
		kind := map[string]string{MutNoteCreate: KindNote, MutFindingCreate: KindFinding, MutCallCreate: KindCall}[m.Kind]
		if kind == "" || res.Status != StatusApplied || res.RecordKind != kind || res.RecordID != m.RecordID {
			continue
		}
		var rec map[string]any
		require.NoError(tb, json.Unmarshal(m.Payload, &rec))
		rec["id"], rec["inspector_id"], rec["version"] = m.RecordID, u.ID, res.Version
		if n, ok := rec["number"].(string); ok {
			rec["number"] = inspector.NormalizeDigits(n) // as the push stores it
		}
		k := recKey{kind, m.RecordID}
		r.recs[k], r.built[k] = res.Version, mustJSON(rec)
	}
}

// requireBuiltAsStored checks that each record the replica built is, field
// for field, the record the store holds.
func (r *replica) requireBuiltAsStored(tb kitT, s *Store) {
	tb.Helper()
	require.NoError(tb, s.view(func(btx *bolt.Tx) error {
		for k, raw := range r.built {
			stored, _, ok, err := loaders[k.Kind](btx, k.ID)
			require.NoError(tb, err)
			require.True(tb, ok, "%s is stored", k)
			mine := reflect.New(reflect.TypeOf(stored).Elem()).Interface()
			require.NoError(tb, json.Unmarshal(raw, mine))
			require.Equal(tb, stored, mine, "%s as the device built it", k)
		}
		return nil
	}))
}

// apply applies one page as a device would: drop everything on reset, then
// upsert and remove by record.
func (r *replica) apply(tb kitT, p PullPage) {
	tb.Helper()
	if p.Reset {
		clear(r.recs)
		clear(r.built)
	}
	for _, rec := range p.Records {
		k := recKey{rec.Kind, rec.ID}
		delete(r.built, k) // the server's copy from now on
		switch rec.Op {
		case OpRemove:
			delete(r.recs, k)
		case OpUpsert:
			if old, ok := r.recs[k]; ok {
				require.GreaterOrEqual(tb, rec.Version, old, "%s went back in version", k)
			}
			require.NotNil(tb, rec.Record, "%s comes with its record", k)
			r.recs[k] = rec.Version
		default:
			require.Fail(tb, "unknown op", "%s: %q", k, rec.Op)
		}
	}
	r.cursor = p.Cursor
}

func (r *replica) pull(tb kitT, s *Store, u inspector.User, limit int) PullPage {
	tb.Helper()
	p, err := s.PullWith(u, r.cursor, limit, PullOptions{OwnDevice: r.own})
	require.NoError(tb, err)
	r.apply(tb, p)
	return p
}

// sync pulls until the server has nothing more.
func (r *replica) sync(tb kitT, s *Store, u inspector.User, limit int) {
	tb.Helper()
	for i := 0; ; i++ {
		require.Less(tb, i, 10000, "pull never ends")
		if p := r.pull(tb, s, u, limit); !p.HasMore {
			return
		}
	}
}

// expectedScope computes, from the stored records and independently of the
// scope index, what inspector u's devices must hold: complaints assigned to
// u and still being worked, u's own visits (not deleted), findings, calls
// and notes, the conflict records about u's work, the offices of u's region
// and every agency — each at its version.
func expectedScope(tb kitT, s *Store, u inspector.User) map[recKey]uint64 {
	tb.Helper()
	out := map[recKey]uint64{}
	require.NoError(tb, s.view(func(btx *bolt.Tx) error {
		each := func(bucket []byte, kind string, v any, keep func() (string, uint64, bool)) error {
			return btx.Bucket(bucket).ForEach(func(k, _ []byte) error {
				if _, err := getStored(btx.Bucket(bucket), k, v); err != nil {
					return err
				}
				if id, version, ok := keep(); ok {
					out[recKey{kind, id}] = version
				}
				return nil
			})
		}
		var c inspector.Complaint
		if err := each(bucketComplaints, KindComplaint, &c, func() (string, uint64, bool) {
			ok := c.Assignment != nil && c.Assignment.InspectorID == u.ID &&
				(c.Status == inspector.StatusAssigned || c.Status == inspector.StatusInProgress)
			id, v := c.ID, c.Version
			c = inspector.Complaint{}
			return id, v, ok
		}); err != nil {
			return err
		}
		var v inspector.Visit
		if err := each(bucketVisits, KindVisit, &v, func() (string, uint64, bool) {
			ok := v.InspectorID == u.ID && !v.Deleted
			id, ver := v.ID, v.Version
			v = inspector.Visit{}
			return id, ver, ok
		}); err != nil {
			return err
		}
		var fnd inspector.Finding
		if err := each(bucketFindings, KindFinding, &fnd, func() (string, uint64, bool) {
			return fnd.ID, fnd.Version, fnd.InspectorID == u.ID
		}); err != nil {
			return err
		}
		var call inspector.CallRecord
		if err := each(bucketCalls, KindCall, &call, func() (string, uint64, bool) {
			return call.ID, call.Version, call.InspectorID == u.ID
		}); err != nil {
			return err
		}
		var n inspector.Note
		if err := each(bucketNotes, KindNote, &n, func() (string, uint64, bool) {
			return n.ID, n.Version, n.InspectorID == u.ID
		}); err != nil {
			return err
		}
		var cf Conflict
		if err := each(bucketConflicts, KindConflict, &cf, func() (string, uint64, bool) {
			ok := cf.InspectorID == u.ID
			id, ver := cf.ID, cf.Version
			cf = Conflict{}
			return id, ver, ok
		}); err != nil {
			return err
		}
		var o inspector.Office
		if err := each(bucketOffices, KindOffice, &o, func() (string, uint64, bool) {
			ok := !o.Deleted && u.Region != nil && u.Region.Covers(o.Province, o.City)
			id, ver := o.Code, o.Version
			o = inspector.Office{}
			return id, ver, ok
		}); err != nil {
			return err
		}
		var a inspector.Agency
		return each(bucketAgencies, KindAgency, &a, func() (string, uint64, bool) {
			ok := !a.Deleted
			id, ver := a.Code, a.Version
			a = inspector.Agency{}
			return id, ver, ok
		})
	}))
	return out
}

// requireSameRecords compares a device's copy with what it should hold, by
// (kind, id, version), naming the differences.
func requireSameRecords(tb kitT, want, got map[recKey]uint64, msgAndArgs ...any) {
	tb.Helper()
	var missing, extra, stale []string
	for k, v := range want {
		g, ok := got[k]
		switch {
		case !ok:
			missing = append(missing, fmt.Sprintf("%s@%d", k, v))
		case g != v:
			stale = append(stale, fmt.Sprintf("%s@%d (holds %d)", k, v, g))
		}
	}
	for k, v := range got {
		if _, ok := want[k]; !ok {
			extra = append(extra, fmt.Sprintf("%s@%d", k, v))
		}
	}
	slices.Sort(missing)
	slices.Sort(extra)
	slices.Sort(stale)
	if len(missing)+len(extra)+len(stale) > 0 {
		require.Fail(tb, fmt.Sprintf("device copy differs from the scope\nmissing: %v\nextra: %v\nstale: %v", missing, extra, stale), msgAndArgs...)
	}
}

// allConflicts lists every conflict record, oldest first.
func allConflicts(tb kitT, s *Store) []Conflict {
	tb.Helper()
	items, _, err := s.Conflicts(ConflictFilter{Limit: 1 << 20})
	require.NoError(tb, err)
	slices.Reverse(items)
	return items
}

func conflictsOf(tb kitT, s *Store, mutationID string) []Conflict {
	tb.Helper()
	var out []Conflict
	for _, c := range allConflicts(tb, s) {
		if c.MutationID == mutationID {
			out = append(out, c)
		}
	}
	return out
}

func mustConflict(tb kitT, s *Store, id string) Conflict {
	tb.Helper()
	c, err := s.Conflict(id)
	require.NoError(tb, err)
	return c
}

// requireNothingLost checks the policy's promise for each acknowledged
// mutation: it was applied (its record exists, and the change log holds its
// change or, for a no-op, the stored record already says the same) or a
// conflict record holds it; every conflict a result names exists and names
// the mutation; a rejected mutation's payload is on its conflict record.
func requireNothingLost(tb kitT, s *Store, muts []Mutation, results []Result) {
	tb.Helper()
	require.Len(tb, results, len(muts))
	logged := map[string]bool{}
	changes, err := s.Changes(0, 1<<30)
	require.NoError(tb, err)
	for _, ch := range changes {
		if id := ch.Data["mutation"]; id != "" {
			logged[id] = true
		}
	}
	byMutation := map[string][]Conflict{}
	byID := map[string]Conflict{}
	for _, c := range allConflicts(tb, s) {
		byMutation[c.MutationID] = append(byMutation[c.MutationID], c)
		byID[c.ID] = c
	}
	for i, m := range muts {
		r := results[i]
		require.Equal(tb, m.ID, r.MutationID)
		for _, id := range r.ConflictIDs {
			c, ok := byID[id]
			require.True(tb, ok, "mutation %d (%s): result names conflict %s, which does not exist", m.DeviceSeq, m.Kind, id)
			require.Equal(tb, m.ID, c.MutationID, "conflict %s names its mutation", id)
		}
		switch r.Status {
		case StatusApplied, StatusMerged:
			stored, found := storedRecord(tb, s, m)
			require.True(tb, found, "mutation %d (%s %s) is %s but its record does not exist", m.DeviceSeq, m.Kind, m.RecordID, r.Status)
			require.True(tb, logged[m.ID] || sameAsStored(tb, s, m, r, stored),
				"mutation %d (%s %s) is %s but nothing holds its change", m.DeviceSeq, m.Kind, m.RecordID, r.Status)
		case StatusResolvedByRule:
			require.NotEmpty(tb, byMutation[m.ID], "mutation %d (%s) resolved by rule %s has no conflict record", m.DeviceSeq, m.Kind, r.Rule)
			require.NotEmpty(tb, r.ConflictIDs, "mutation %d: a resolution names its conflict records", m.DeviceSeq)
		case StatusRejected:
			kept := false
			for _, c := range byMutation[m.ID] {
				if c.Label == inspector.LabelRejected && jsonEqual(c.DeviceValue, m.Payload) {
					kept = true
				}
			}
			require.True(tb, kept, "mutation %d (%s, %s: %s) was rejected and is on no conflict record", m.DeviceSeq, m.Kind, r.Code, r.Message)
		case StatusDeferred:
			require.Empty(tb, byMutation[m.ID], "mutation %d was deferred but left a conflict record", m.DeviceSeq)
			require.False(tb, logged[m.ID], "mutation %d was deferred but changed something", m.DeviceSeq)
		default:
			require.Fail(tb, "unknown status", "mutation %d: %q", m.DeviceSeq, r.Status)
		}
	}
}

// storedRecord reads the record mutation m is about, as JSON values.
func storedRecord(tb kitT, s *Store, m Mutation) (map[string]any, bool) {
	tb.Helper()
	bucket := map[string][]byte{
		MutVisitUpsert: bucketVisits, MutFindingCreate: bucketFindings, MutCallCreate: bucketCalls, MutNoteCreate: bucketNotes,
		MutComplaintStart: bucketComplaints, MutComplaintOutcome: bucketComplaints, MutComplaintEdit: bucketComplaints,
		MutEvidenceCreate: bucketEvidence,
	}[m.Kind]
	require.NotNil(tb, bucket, "kind %s", m.Kind)
	var stored map[string]any
	var found bool
	require.NoError(tb, s.view(func(btx *bolt.Tx) error {
		raw, err := storedJSON(btx.Bucket(bucket), []byte(m.RecordID))
		if raw == nil || err != nil {
			return err
		}
		found = true
		return json.Unmarshal(raw, &stored)
	}))
	return stored, found
}

// sameAsStored reports whether an applied mutation that wrote no change was
// a no-op: an append-only record stored with the same content, or a start of
// a complaint that was in progress already (its result names that version).
func sameAsStored(tb kitT, s *Store, m Mutation, r Result, stored map[string]any) bool {
	tb.Helper()
	switch m.Kind {
	case MutFindingCreate, MutCallCreate, MutNoteCreate, MutEvidenceCreate:
		var sent map[string]any
		require.NoError(tb, json.Unmarshal(m.Payload, &sent))
		for k, v := range sent {
			if !sameJSONValue(v, stored[k]) {
				return false
			}
		}
		return true
	case MutComplaintStart:
		h, err := s.ComplaintHistory(m.RecordID)
		require.NoError(tb, err)
		status := ""
		for _, ch := range h {
			if ch.Kind == KindComplaint && ch.Seq <= r.Version && ch.Data["to"] != "" {
				status = ch.Data["to"] // the status as of the version the start was answered with
			}
		}
		return status == string(inspector.StatusInProgress)
	}
	return false
}

// sameJSONValue compares decoded JSON values, taking strings that are
// RFC 3339 times as the instants they name, whatever their offset.
func sameJSONValue(a, b any) bool {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k := range x {
			if !sameJSONValue(x[k], y[k]) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !sameJSONValue(x[i], y[i]) {
				return false
			}
		}
		return true
	case string:
		y, ok := b.(string)
		if !ok {
			return false
		}
		tx, errX := time.Parse(time.RFC3339Nano, x)
		ty, errY := time.Parse(time.RFC3339Nano, y)
		if errX == nil && errY == nil {
			return tx.Equal(ty)
		}
		return x == y
	}
	return assert.ObjectsAreEqual(a, b)
}

func jsonEqual(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return assert.ObjectsAreEqual(x, y)
}

// dumpStore is every key and value of every bucket, for comparing two stores.
func dumpStore(tb kitT, s *Store) map[string]string {
	tb.Helper()
	out := map[string]string{}
	require.NoError(tb, s.view(func(btx *bolt.Tx) error {
		return btx.ForEach(func(name []byte, b *bolt.Bucket) error {
			out[string(name)+"/#seq"] = fmt.Sprint(b.Sequence())
			return b.ForEach(func(k, v []byte) error {
				out[string(name)+"/"+hex.EncodeToString(k)] = string(v)
				return nil
			})
		})
	}))
	return out
}
