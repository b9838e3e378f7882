package sync

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/favad/favad/inspector"
)

// A scope is the set of records one device population holds: an
// inspector's own work and assignments, a province's offices, the agencies.
// Every change to a record in a scope appends an entry to that scope's log,
// in the transaction that made the change; a pull reads only its scopes'
// logs, so its cost follows the inspector's changes, not the database.

// Scope operations.
const (
	OpUpsert = "upsert"
	OpRemove = "remove"
)

// Removal reasons a device can show.
const (
	ReasonReassigned  = "reassigned"
	ReasonWithdrawn   = "withdrawn"
	ReasonClosed      = "closed"
	ReasonDeleted     = "deleted"
	ReasonOutOfRegion = "out_of_region"
)

type scopeEntry struct {
	Kind   string    `json:"k"`
	ID     string    `json:"i"`
	Op     string    `json:"o"`
	Reason string    `json:"r,omitempty"`
	Tx     uint64    `json:"t"` // first seq of the transaction, so pages end on transaction boundaries
	At     time.Time `json:"a"`
}

const scopeAgencies = "agencies"

func inspectorScope(id string) string { return "i:" + id }

func provinceScope(province string) string { return "p:" + inspector.NormalizeText(province) }

// scoped records that record (kind, id), changed at seq, is upserted into or
// removed from scope.
func (t *tx) scoped(scope string, seq uint64, kind, id, op, reason string) error {
	if t.firstSeq == 0 {
		t.firstSeq = seq
	}
	e := scopeEntry{Kind: kind, ID: id, Op: op, Reason: reason, Tx: t.firstSeq, At: t.now}
	if err := t.putIndex(bucketScopeLog, seqKey(scope, seq), encodeScopeEntry(e)); err != nil {
		return err
	}
	member := joinKey(scope, kind, id)
	if op == OpRemove {
		return t.deleteIndex(bucketScopeMembers, member)
	}
	return t.putIndex(bucketScopeMembers, member, nil)
}

// complaintScopes records a complaint's change at seq in the scopes of its
// assignee before and after (an upsert while it is theirs to work, a removal
// when it leaves them), and keeps the due index in step.
func (t *tx) complaintScopes(before *inspector.Complaint, after inspector.Complaint, seq uint64) error {
	if err := t.indexDue(before, &after); err != nil {
		return err
	}
	return t.complaintScopesOnly(before, after, seq)
}

// complaintScopesOnly is complaintScopes without the due index.
func (t *tx) complaintScopesOnly(before *inspector.Complaint, after inspector.Complaint, seq uint64) error {
	var was string
	if before != nil && before.Assignment != nil && inspector.InScope(*before, before.Assignment.InspectorID) {
		was = before.Assignment.InspectorID
	}
	now := ""
	if after.Assignment != nil && inspector.InScope(after, after.Assignment.InspectorID) {
		now = after.Assignment.InspectorID
	}
	if was != "" && was != now {
		reason := ReasonClosed
		switch {
		case after.Status == inspector.StatusWithdrawn:
			reason = ReasonWithdrawn
		case after.Assignment != nil && after.Assignment.InspectorID != was,
			after.Assignment == nil && after.Status == inspector.StatusReceived: // escalated back to dispatch, to go to someone else
			reason = ReasonReassigned
		}
		if err := t.scoped(inspectorScope(was), seq, KindComplaint, after.ID, OpRemove, reason); err != nil {
			return err
		}
	}
	if now != "" {
		return t.scoped(inspectorScope(now), seq, KindComplaint, after.ID, OpUpsert, "")
	}
	return nil
}

// PullRecord is one record in a pull: its current state, or its removal.
type PullRecord struct {
	Kind    string
	ID      string
	Op      string
	Reason  string
	Version uint64
	Record  any // *inspector.Complaint (not yet redacted), Office, Agency, Visit, Finding, CallRecord, Note, *Conflict
}

// PullPage is one page of a device's pull.
type PullPage struct {
	Records []PullRecord
	Cursor  string // resume here; opaque to clients
	HasMore bool
	Reset   bool // the device must drop what it holds before applying this page (full resync)
	// OverCap is set on the first page of a full sync whose scope holds more
	// records than ScopeCap: the device gets them all, but the scope should be
	// narrowed (fewer open assignments, a smaller region).
	OverCap bool
	Held    int // records in scope, counted on the first page of a full sync
	// Omitted counts the records a delta page left out because the pulling
	// device created them itself (PullOptions.OwnDevice).
	Omitted int
}

// PullOptions changes what a pull sends.
type PullOptions struct {
	// OwnDevice is the pulling device, which keeps its own copy of each
	// append-only record it created (a note, finding or call record) as the
	// server stores it: its payload with the id, the inspector and the
	// version the push answer gave (a call's number with ASCII digits, as
	// the push stored it). A delta page leaves such a record out when the
	// change in the page's range is its creation by that device under the
	// same account; the cursor still moves past it. A full sync sends
	// everything. "" (old apps) sends every record.
	OwnDevice string
}

// ownKinds are the records a device builds itself from its push answers:
// append-only, written once by the push (appendOnly), the payload plus
// server fields the answer gives. Evidence (status, chain) and everything
// the server merges or changes are always sent.
var ownKinds = map[string]bool{KindNote: true, KindFinding: true, KindCall: true}

// maxOmittedFactor bounds the records a delta page may leave out to this
// many times its limit, so that one page never walks a long run of a
// device's own writes.
const maxOmittedFactor = 10

// ScopeCap is the documented bound on what one inspector's device holds:
// open assignments, own field work, conflicts, the region's offices and the
// agencies together.
const ScopeCap = 20000

// Pull limits.
const (
	DefaultPullLimit = 500
	MaxPullLimit     = 2000
)

// pullCursor is the decoded form of an opaque pull cursor.
type pullCursor struct {
	V    int    `json:"v"`
	Seq  uint64 `json:"s"`           // delta position: everything up to Seq was delivered
	At   uint64 `json:"t,omitempty"` // a fingerprint of change Seq, so that a store restored from a backup (another history) is noticed
	Base uint64 `json:"b,omitempty"` // during a full sync: the head when it began
	Snap string `json:"n,omitempty"` // during a full sync: the last member key delivered (base64)
	Full bool   `json:"f,omitempty"` // a full sync is under way
}

func (c pullCursor) encode() string {
	raw, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(raw)
}

func decodePullCursor(s string) (pullCursor, error) {
	var c pullCursor
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		err = json.Unmarshal(raw, &c)
	}
	if err != nil || c.V != 1 {
		return c, &inspector.Error{Code: inspector.CodeInvalid, Message: "the request has invalid fields",
			Fields: []inspector.FieldError{{Field: "cursor", Code: "invalid", Message: "use the cursor of a previous pull, or none for a full sync"}}}
	}
	return c, nil
}

// scopesOf returns the scopes an inspector's devices hold.
func scopesOf(u inspector.User) []string {
	scopes := []string{inspectorScope(u.ID), scopeAgencies}
	if u.Region != nil && u.Region.Province != "" {
		scopes = append(scopes, provinceScope(u.Region.Province))
	}
	slices.Sort(scopes) // a full sync walks them in key order
	return scopes
}

// Pull returns the next page of changes in inspector u's scope after cursor
// ("" for a full sync). A page shows the state as of one change-log sequence,
// never half of a transaction.
func (s *Store) Pull(u inspector.User, cursor string, limit int) (PullPage, error) {
	return s.PullWith(u, cursor, limit, PullOptions{})
}

// PullWith is Pull with options.
func (s *Store) PullWith(u inspector.User, cursor string, limit int, opts PullOptions) (PullPage, error) {
	if limit <= 0 || limit > MaxPullLimit {
		limit = DefaultPullLimit
	}
	cur := pullCursor{V: 1, Full: true}
	if cursor != "" {
		var err error
		if cur, err = decodePullCursor(cursor); err != nil {
			return PullPage{}, err
		}
	}
	var page PullPage
	err := s.view(func(btx *bolt.Tx) error {
		scopes := scopesOf(u)
		if !cur.Full && !sameHistory(btx, cur.Seq, cur.At) {
			// The cursor is from a history this store does not have (it was
			// restored from a backup, or the cursor is forged): resync.
			cur = pullCursor{V: 1, Full: true}
		}
		if !cur.Full {
			for _, sc := range scopes {
				if floor := btx.Bucket(bucketScopeFloor).Get([]byte(sc)); floor != nil {
					if f, _ := btoi(floor); cur.Seq < f {
						cur = pullCursor{V: 1, Full: true} // older than the tombstones we keep: resync
						break
					}
				}
			}
		}
		if cur.Full {
			return s.pullFull(btx, u, scopes, cur, limit, &page)
		}
		return s.pullDelta(btx, u, scopes, cur, limit, opts, &page)
	})
	return page, err
}

// pullFull pages through the current members of every scope. The head at the
// start is kept in the cursor; the delta pulls that follow deliver whatever
// changed during the full sync.
func (s *Store) pullFull(btx *bolt.Tx, u inspector.User, scopes []string, cur pullCursor, limit int, page *PullPage) error {
	members, err := newIndexView(btx, bucketScopeMembers)
	if err != nil {
		return err
	}
	if cur.Base != 0 && (cur.Base > btx.Bucket(bucketLog).Sequence() || changeMark(btx, cur.Base) != cur.At) {
		cur = pullCursor{V: 1, Full: true} // a full sync begun in another history starts over
	}
	if cur.Snap == "" && cur.Base == 0 {
		cur.At = 0
		cur.Base = btx.Bucket(bucketLog).Sequence()
		cur.At = changeMark(btx, cur.Base)
		page.Reset = true
		c := members.cursor()
		for _, sc := range scopes {
			prefix := append([]byte(sc), 0)
			for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
				page.Held++
			}
		}
		page.OverCap = page.Held > ScopeCap
	}
	after, _ := base64.RawURLEncoding.DecodeString(cur.Snap)
	walk := members.cursor()
	for _, sc := range scopes {
		prefix := append([]byte(sc), 0)
		if len(after) > 0 && bytes.Compare(prefix, after) < 0 && !bytes.HasPrefix(after, prefix) {
			continue // this scope was finished on an earlier page
		}
		k, _ := walk.Seek(prefix)
		if bytes.HasPrefix(after, prefix) {
			k, _ = walk.Seek(after)
			if bytes.Equal(k, after) {
				k, _ = walk.Next()
			}
		}
		for ; k != nil && bytes.HasPrefix(k, prefix); k, _ = walk.Next() {
			if len(page.Records) == limit {
				cur.Snap = base64.RawURLEncoding.EncodeToString(after)
				page.Cursor, page.HasMore = cur.encode(), true
				return nil
			}
			parts := bytes.SplitN(k[len(prefix):], []byte{0}, 2)
			if len(parts) != 2 {
				continue
			}
			rec, ok, err := loadRecord(btx, u, string(parts[0]), string(parts[1]))
			if err != nil {
				return err
			}
			// A record changed since the full sync began is left to the delta
			// pulls that follow (its change is in the scope log after Base), so
			// that every page shows the scope as of Base.
			if ok && rec.Op == OpUpsert && rec.Version <= cur.Base {
				page.Records = append(page.Records, rec)
			}
			after = append(after[:0], k...)
		}
	}
	page.Cursor = pullCursor{V: 1, Seq: cur.Base, At: changeMark(btx, cur.Base)}.encode()
	logView, err := newIndexView(btx, bucketScopeLog)
	if err != nil {
		return err
	}
	page.HasMore = hasScopeEntriesAfter(logView, scopes, cur.Base)
	return nil
}

// pullDelta merges the scopes' logs after the cursor in sequence order.
func (s *Store) pullDelta(btx *bolt.Tx, u inspector.User, scopes []string, cur pullCursor, limit int, opts PullOptions, page *PullPage) error {
	type stream struct {
		c      *indexCursor
		prefix []byte
		k, v   []byte
	}
	logView, err := newIndexView(btx, bucketScopeLog)
	if err != nil {
		return err
	}
	streams := make([]*stream, 0, len(scopes))
	for _, sc := range scopes {
		st := &stream{c: logView.cursor(), prefix: append([]byte(sc), 0)}
		st.k, st.v = st.c.Seek(seqKey(sc, cur.Seq+1))
		streams = append(streams, st)
	}
	next := func() (*stream, uint64) {
		var best *stream
		var bestSeq uint64
		for _, st := range streams {
			if st.k == nil || !bytes.HasPrefix(st.k, st.prefix) {
				continue
			}
			seq, _ := btoi(st.k[len(st.prefix):])
			if best == nil || seq < bestSeq {
				best, bestSeq = st, seq
			}
		}
		return best, bestSeq
	}
	type key struct{ kind, id string }
	latest := map[key]scopeEntry{}
	var order []key
	end, lastTx := cur.Seq, uint64(0)
	// consume takes entries while more reports true, always finishing the
	// transaction of the last entry taken.
	consume := func(more func(seq uint64) bool) error {
		for {
			st, seq := next()
			if st == nil {
				return nil
			}
			e, err := decodeScopeEntry(st.v)
			if err != nil {
				return fmt.Errorf("decode scope entry: %w", err)
			}
			if e.Tx != lastTx && !more(seq) {
				return nil
			}
			own, err := ownCreation(btx, u, opts.OwnDevice, e, seq)
			if err != nil {
				return err
			}
			if own {
				page.Omitted++
				end, lastTx = seq, e.Tx
				st.k, st.v = st.c.Next()
				continue
			}
			k := key{e.Kind, e.ID}
			if _, seen := latest[k]; !seen {
				order = append(order, k)
			}
			latest[k] = e
			end, lastTx = seq, e.Tx
			st.k, st.v = st.c.Next()
		}
	}
	if err := consume(func(uint64) bool { return len(order) < limit && page.Omitted < maxOmittedFactor*limit }); err != nil {
		return err
	}
	// A page shows its records as of its end. A record changed since is
	// shown as it is now, so the page extends to that change, which is in
	// this scope's log too; repeat until every record is as of the end.
	var records []PullRecord
	for {
		records = records[:0]
		need := end
		for _, k := range order {
			e := latest[k]
			if e.Op == OpRemove {
				records = append(records, PullRecord{Kind: k.kind, ID: k.id, Op: OpRemove, Reason: e.Reason})
				continue
			}
			rec, ok, err := loadRecord(btx, u, k.kind, k.id)
			if err != nil {
				return err
			}
			if ok {
				records = append(records, rec)
				need = max(need, rec.Version)
			}
		}
		if need == end {
			break
		}
		before := end
		if err := consume(func(seq uint64) bool { return seq <= need }); err != nil {
			return err
		}
		if end == before {
			end = need // the later change left no entry here; nothing between is missed
		}
	}
	page.Records = records
	page.Cursor = pullCursor{V: 1, Seq: end, At: changeMark(btx, end)}.encode()
	page.HasMore = hasScopeEntriesAfter(logView, scopes, end)
	return nil
}

// ownCreation reports whether scope entry e, at seq, is the creation of an
// append-only record by device under u's account (see PullOptions).
func ownCreation(btx *bolt.Tx, u inspector.User, device string, e scopeEntry, seq uint64) (bool, error) {
	if device == "" || e.Op != OpUpsert || !ownKinds[e.Kind] {
		return false, nil
	}
	ch, ok, err := changeAt(btx, seq)
	if err != nil || !ok {
		return false, err
	}
	return ch.Actor == u.ID && ch.Device == device && ch.Kind == e.Kind && ch.ID == e.ID && ch.Action == ActionCreated, nil
}

// changeAt reads change seq of the log; ok is false if the log does not hold it.
func changeAt(btx *bolt.Tx, seq uint64) (ch Change, ok bool, err error) {
	raw := btx.Bucket(bucketLog).Get(itob(seq))
	if raw == nil {
		return ch, false, nil
	}
	ch, err = decodeChange(raw)
	return ch, err == nil, err
}

// changeMark is a fingerprint (FNV-64a of the stored entry) of change seq, 0
// for seq 0 or a change the log does not hold.
func changeMark(btx *bolt.Tx, seq uint64) uint64 {
	if seq == 0 {
		return 0
	}
	raw := btx.Bucket(bucketLog).Get(itob(seq))
	if raw == nil {
		return 0
	}
	h := fnv.New64a()
	h.Write(raw)
	return h.Sum64()
}

// sameHistory reports whether change seq of this store happened at the time
// a cursor recorded: a cursor ahead of the log, or naming another change at
// that sequence, comes from another history.
func sameHistory(btx *bolt.Tx, seq uint64, at uint64) bool {
	if seq == 0 {
		return true
	}
	return seq <= btx.Bucket(bucketLog).Sequence() && changeMark(btx, seq) == at
}

// hasScopeEntriesAfter reports whether the scope log (logView) holds an
// entry of scopes after seq.
func hasScopeEntriesAfter(logView *indexView, scopes []string, seq uint64) bool {
	c := logView.cursor()
	for _, sc := range scopes {
		if k, _ := c.Seek(seqKey(sc, seq+1)); k != nil && bytes.HasPrefix(k, append([]byte(sc), 0)) {
			return true
		}
	}
	return false
}

// loaders read each kind of record a device holds, with its version.
var loaders = map[string]func(*bolt.Tx, string) (any, uint64, bool, error){
	KindComplaint: loader(bucketComplaints, func(c *inspector.Complaint) uint64 { return c.Version }),
	KindOffice:    loader(bucketOffices, func(o *inspector.Office) uint64 { return o.Version }),
	KindAgency:    loader(bucketAgencies, func(a *inspector.Agency) uint64 { return a.Version }),
	KindVisit:     loader(bucketVisits, func(v *inspector.Visit) uint64 { return v.Version }),
	KindFinding:   loader(bucketFindings, func(f *inspector.Finding) uint64 { return f.Version }),
	KindCall:      loader(bucketCalls, func(c *inspector.CallRecord) uint64 { return c.Version }),
	KindNote:      loader(bucketNotes, func(n *inspector.Note) uint64 { return n.Version }),
	KindConflict:  loader(bucketConflicts, func(c *Conflict) uint64 { return c.Version }),
	KindEvidence:  loader(bucketEvidence, func(e *inspector.Evidence) uint64 { return e.Version }),
}

func loader[T any](bucket []byte, version func(*T) uint64) func(*bolt.Tx, string) (any, uint64, bool, error) {
	return func(btx *bolt.Tx, id string) (any, uint64, bool, error) {
		var v T
		ok, err := getStored(btx.Bucket(bucket), []byte(id), &v)
		return &v, version(&v), ok, err
	}
}

// loadRecord reads a record for a pull; ok is false for a record that is
// gone or that the inspector's region filter excludes.
func loadRecord(btx *bolt.Tx, u inspector.User, kind, id string) (PullRecord, bool, error) {
	load, known := loaders[kind]
	if !known {
		return PullRecord{}, false, fmt.Errorf("pull: unknown record kind %q", kind)
	}
	rec, version, ok, err := load(btx, id)
	if err != nil || !ok {
		return PullRecord{}, false, err
	}
	// A removal read from the record carries its version too, so that a page
	// extends to the change that made it one.
	if v, isVisit := rec.(*inspector.Visit); isVisit && v.Deleted {
		return PullRecord{Kind: kind, ID: id, Op: OpRemove, Reason: ReasonDeleted, Version: version}, true, nil
	}
	if o, isOffice := rec.(*inspector.Office); isOffice && u.Region != nil && !u.Region.Covers(o.Province, o.City) {
		// Outside the inspector's cities: a removal, so a device that held it drops it.
		return PullRecord{Kind: kind, ID: id, Op: OpRemove, Reason: ReasonOutOfRegion, Version: version}, true, nil
	}
	return PullRecord{Kind: kind, ID: id, Op: OpUpsert, Version: version, Record: rec}, true, nil
}

// CompactScopes prunes scope-log entries older than before. A device whose
// cursor predates what was pruned gets a full resync instead of a gap.
func (s *Store) CompactScopes(before time.Time) (pruned int, err error) {
	err = s.update(System, func(t *tx) error {
		if err := flushBehind(t.Tx); err != nil { // what waits is pruned like the rest
			return err
		}
		logb, floors := t.Bucket(bucketScopeLog), t.Bucket(bucketScopeFloor)
		c := logb.Cursor()
		var doomed [][]byte
		for k, v := c.First(); k != nil; k, v = c.Next() {
			e, err := decodeScopeEntry(v)
			if err != nil {
				return fmt.Errorf("decode scope entry: %w", err)
			}
			if !e.At.Before(before) {
				continue
			}
			doomed = append(doomed, append([]byte(nil), k...))
		}
		for _, k := range doomed {
			i := bytes.LastIndexByte(k[:len(k)-8], 0)
			scope, seq := k[:i], k[len(k)-8:]
			if old := floors.Get(scope); old == nil || bytes.Compare(seq, old) > 0 {
				if err := floors.Put(scope, seq); err != nil {
					return err
				}
			}
			if err := logb.Delete(k); err != nil {
				return err
			}
		}
		pruned = len(doomed)
		return nil
	})
	return pruned, err
}

// migrateScopes builds the scope membership of a schema-1 store from its
// records. Every scope's floor is set to the head, so that any cursor from
// before the migration gets a full sync.
func migrateScopes(btx *bolt.Tx) error {
	members, floors := btx.Bucket(bucketScopeMembers), btx.Bucket(bucketScopeFloor)
	head := itob(btx.Bucket(bucketLog).Sequence())
	add := func(scope, kind, id string) error {
		if err := floors.Put([]byte(scope), head); err != nil {
			return err
		}
		return members.Put(joinKey(scope, kind, id), nil)
	}
	err := btx.Bucket(bucketComplaints).ForEach(func(k, v []byte) error {
		var c inspector.Complaint
		if err := json.Unmarshal(v, &c); err != nil {
			return err
		}
		if c.Assignment != nil && inspector.InScope(c, c.Assignment.InspectorID) {
			return add(inspectorScope(c.Assignment.InspectorID), KindComplaint, c.ID)
		}
		return nil
	})
	if err != nil {
		return err
	}
	err = btx.Bucket(bucketOffices).ForEach(func(k, v []byte) error {
		var o inspector.Office
		if err := json.Unmarshal(v, &o); err != nil || o.Deleted {
			return err
		}
		return add(provinceScope(o.Province), KindOffice, o.Code)
	})
	if err != nil {
		return err
	}
	return btx.Bucket(bucketAgencies).ForEach(func(k, v []byte) error {
		var a inspector.Agency
		if err := json.Unmarshal(v, &a); err != nil || a.Deleted {
			return err
		}
		return add(scopeAgencies, KindAgency, a.Code)
	})
}

// ScopeChangedSince reports whether anything in u's scope changed after seq,
// and the latest such change.
func (s *Store) ScopeChangedSince(u inspector.User, seq uint64) (latest uint64, changed bool, err error) {
	err = s.view(func(btx *bolt.Tx) error {
		if head := btx.Bucket(bucketLog).Sequence(); seq > head {
			latest, changed = head, true // an id from another history (a restored store): sync
			return nil
		}
		waiting, err := waitingFor(btx, bucketScopeLog)
		if err != nil {
			return err
		}
		c := btx.Bucket(bucketScopeLog).Cursor()
		for _, sc := range scopesOf(u) {
			prefix := append([]byte(sc), 0)
			k, _ := c.Seek(seqKey(sc, math.MaxUint64))
			if k == nil {
				k, _ = c.Last()
			} else {
				k, _ = c.Prev()
			}
			// The scope's newest entry in place, and every one waiting.
			note := func(k []byte) {
				if k != nil && bytes.HasPrefix(k, prefix) {
					if last, _ := btoi(k[len(prefix):]); last > seq {
						changed, latest = true, max(latest, last)
					}
				}
			}
			note(k)
			for _, w := range waiting {
				note(w.key)
			}
		}
		return nil
	})
	return latest, changed, err
}
