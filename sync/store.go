package sync

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	stdsync "sync"
	"time"

	"github.com/google/uuid"
	bolt "go.etcd.io/bbolt"

	"github.com/favad/favad/inspector"
)

// Sentinel errors of the store.
var (
	// ErrSchemaTooNew is returned by Open for a file written by a newer FAVAD.
	ErrSchemaTooNew = errors.New("sync: the store was written by a newer version of FAVAD; upgrade FAVAD or restore an older backup")
	// ErrLocked is returned by Open when another process holds the store.
	ErrLocked = errors.New("sync: the store is in use by another process (is the server running?)")
)

// Options configure a Store. The zero value is usable.
type Options struct {
	// SLA gives due times by priority; nil means inspector.DefaultSLA().
	SLA inspector.SLA
	// Now returns the current time; nil means time.Now. Tests inject a clock.
	Now func() time.Time
	// NewID returns a new record id; nil means a UUIDv7 string.
	NewID func() string
	// ReadOnly opens the file shared, for backups and inspection.
	ReadOnly bool
	// LockTimeout is how long Open waits for another process's lock; 0 means 1s.
	LockTimeout time.Duration
	// EvidenceMaxSize bounds one evidence file; 0 means DefaultEvidenceMaxSize.
	EvidenceMaxSize int64
	// EvidenceLimits are the thresholds for flagging evidence; zero means the defaults.
	EvidenceLimits inspector.EvidenceLimits
	// Rand is where tracking codes come from; nil means crypto/rand. Tests
	// that compare two runs inject a seeded source.
	Rand io.Reader
	// ReferralSLA is how long an office has to answer a referred complaint;
	// 0 means DefaultReferralSLA.
	ReferralSLA time.Duration
	// WriteFault, if set, runs at the end of every write transaction, and an
	// error it returns fails the commit as a failing disk would (the
	// transaction is rolled back). It is the seam through which tests make
	// the disk full (return syscall.ENOSPC) or read-only (syscall.EROFS);
	// nil in production.
	WriteFault func() error
}

// DefaultReferralSLA is the time an office has to answer a referral.
const DefaultReferralSLA = 72 * time.Hour

// DefaultEvidenceMaxSize is the largest evidence file accepted by default.
const DefaultEvidenceMaxSize = 25 << 20

// Actor is who makes a change, recorded on every change-log entry.
type Actor struct {
	UserID   string
	DeviceID string
}

// System is the actor for changes the server makes on its own (demo load, imports from the command line).
var System = Actor{UserID: "system"}

// Change is one entry in the change log. A record's version is the Seq of its
// last change.
type Change struct {
	Seq    uint64            `json:"seq"`
	Kind   string            `json:"kind"`
	ID     string            `json:"id"`
	Action string            `json:"action"`
	Actor  string            `json:"actor"`
	Device string            `json:"device,omitempty"`
	At     time.Time         `json:"at"`
	Data   map[string]string `json:"data,omitempty"`
}

// Store is FAVAD's durable record store. It is safe for concurrent use.
type Store struct {
	db          *bolt.DB
	group       *groupCommit // device pushes and upload claims
	sla         inspector.SLA
	now         func() time.Time
	newID       func() string
	evidenceMax int64
	evidenceLim inspector.EvidenceLimits
	referralSLA time.Duration
	rand        io.Reader
	changed     changeSignal
	fault       func() error // Options.WriteFault
	// behindFlushAt is how many index entries written behind make a
	// commit move them to their places (settleBehind); behindKeep, for
	// tests, keeps them waiting when the server is idle too.
	behindFlushAt int
	behindKeep    bool
}

// Open opens or creates the store at path. Every committed write is fsynced
// before the call that made it returns.
func Open(path string, opts Options) (*Store, error) {
	if !opts.ReadOnly {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("open store: %w", err)
		}
	}
	timeout := opts.LockTimeout
	if timeout == 0 {
		timeout = time.Second
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout:      timeout,
		ReadOnly:     opts.ReadOnly,
		FreelistType: bolt.FreelistMapType,
	})
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, ErrLocked
	}
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	s := &Store{db: db, sla: opts.SLA, now: opts.Now, newID: opts.NewID, evidenceMax: opts.EvidenceMaxSize, evidenceLim: opts.EvidenceLimits}
	if s.evidenceMax <= 0 {
		s.evidenceMax = DefaultEvidenceMaxSize
	}
	if s.evidenceLim == (inspector.EvidenceLimits{}) {
		s.evidenceLim = inspector.DefaultEvidenceLimits()
	}
	if s.sla == nil {
		s.sla = inspector.DefaultSLA()
	}
	s.referralSLA = opts.ReferralSLA
	if s.referralSLA <= 0 {
		s.referralSLA = DefaultReferralSLA
	}
	s.fault = opts.WriteFault
	s.group = newGroupCommit(db, s.writeFault)
	s.group.settle = s.settleBehind
	s.behindFlushAt = defaultBehindFlushAt
	s.changed.ch = make(chan struct{})
	s.rand = opts.Rand
	if s.rand == nil {
		s.rand = rand.Reader
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.newID == nil {
		s.newID = func() string { return uuid.Must(uuid.NewV7()).String() }
	}
	if err := s.init(opts.ReadOnly); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// init creates the buckets and checks the schema version.
func (s *Store) init(readOnly bool) error {
	check := func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta == nil {
			if readOnly {
				return errors.New("open store: not a FAVAD store (no meta bucket)")
			}
			return nil
		}
		v := meta.Get(keySchemaVersion)
		if v == nil {
			return nil
		}
		n, err := btoi(v)
		if err != nil {
			return fmt.Errorf("open store: schema version: %w", err)
		}
		if n > SchemaVersion {
			return fmt.Errorf("%w (file has schema %d, this build knows %d)", ErrSchemaTooNew, n, SchemaVersion)
		}
		return nil
	}
	if readOnly {
		return s.db.View(check)
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		if err := check(tx); err != nil {
			return err
		}
		var from uint64
		if meta := tx.Bucket(bucketMeta); meta != nil {
			if v := meta.Get(keySchemaVersion); v != nil {
				from, _ = btoi(v)
			}
		}
		indexOpen := from >= 1 && tx.Bucket(bucketOpenConflicts) == nil
		// Built when missing, and rebuilt once with schema 8: a schema-7
		// build older than the index may have written the file since.
		indexInspectors := from >= 1 && (tx.Bucket(bucketComplaintInspectors) == nil || from < 8)
		for _, b := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return fmt.Errorf("open store: create bucket %s: %w", b, err)
			}
		}
		if from == 1 {
			if err := migrateScopes(tx); err != nil {
				return fmt.Errorf("open store: migrate to schema 2: %w", err)
			}
		}
		if from >= 1 && from < 4 {
			if err := migrateUserDevices(tx); err != nil {
				return fmt.Errorf("open store: migrate to schema 4: %w", err)
			}
		}
		if from >= 1 && from < 5 {
			if err := migrateTrackingAndDue(tx); err != nil {
				return fmt.Errorf("open store: migrate to schema 5: %w", err)
			}
		}
		if from >= 1 && from < 6 {
			if err := migrateSequenceSpaces(tx); err != nil {
				return fmt.Errorf("open store: migrate to schema 6: %w", err)
			}
			if err := migrateFieldWorkIndex(tx); err != nil {
				return fmt.Errorf("open store: migrate to schema 6: %w", err)
			}
		}
		if from >= 1 && from < 7 {
			if err := migrateStoredResults(tx); err != nil {
				return fmt.Errorf("open store: migrate to schema 7: %w", err)
			}
		}
		if from >= 1 && from < 8 {
			if err := migrateIdempotencyByID(tx); err != nil {
				return fmt.Errorf("open store: migrate to schema 8: %w", err)
			}
		}
		if indexOpen {
			if err := indexOpenConflicts(tx); err != nil {
				return fmt.Errorf("open store: index open conflicts: %w", err)
			}
		}
		if indexInspectors {
			if err := tx.DeleteBucket(bucketComplaintInspectors); err != nil {
				return fmt.Errorf("open store: index complaint inspectors: %w", err)
			}
			if _, err := tx.CreateBucket(bucketComplaintInspectors); err != nil {
				return fmt.Errorf("open store: index complaint inspectors: %w", err)
			}
			if err := indexComplaintInspectors(tx); err != nil {
				return fmt.Errorf("open store: index complaint inspectors: %w", err)
			}
		}
		// What waited behind when the server stopped goes to its place.
		if err := flushBehind(tx); err != nil {
			return fmt.Errorf("open store: index entries written behind: %w", err)
		}
		meta := tx.Bucket(bucketMeta)
		if meta.Get(keyHistory) == nil {
			if err := putNewHistory(meta, s.rand); err != nil {
				return fmt.Errorf("open store: %w", err)
			}
		}
		return meta.Put(keySchemaVersion, itob(SchemaVersion))
	})
}

// HistoryID names the history of changes this store holds. A store restored
// from a backup gets a new one (ForkHistory): its change-log sequences go on
// from the backup's, while the store the backup was taken from had gone on
// with other changes under the same numbers. A client that resumes from a
// sequence (the live feed's Last-Event-ID) and names another history starts
// over. It is "" for a store opened read-only that was never opened for
// writing by a FAVAD that names histories.
func (s *Store) HistoryID() string {
	var id string
	_ = s.db.View(func(tx *bolt.Tx) error {
		if meta := tx.Bucket(bucketMeta); meta != nil {
			id = string(meta.Get(keyHistory))
		}
		return nil
	})
	return id
}

// ForkHistory gives the store file at path, a backup about to be restored,
// a history id of its own, durably. The file must not be open.
func ForkHistory(path string) error {
	s, err := Open(path, Options{})
	if err != nil {
		return fmt.Errorf("fork history: %w", err)
	}
	err = s.db.Update(func(tx *bolt.Tx) error { return putNewHistory(tx.Bucket(bucketMeta), s.rand) })
	if cerr := s.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("fork history: %w", err)
	}
	return nil
}

func putNewHistory(meta *bolt.Bucket, random io.Reader) error {
	b := make([]byte, 12)
	if _, err := io.ReadFull(random, b); err != nil {
		return fmt.Errorf("history id: %w", err)
	}
	return meta.Put(keyHistory, []byte(base64.RawURLEncoding.EncodeToString(b)))
}

// Close closes the store. Pending writes have already been committed.
func (s *Store) Close() error { return s.db.Close() }

// Now returns the store's clock reading.
func (s *Store) Now() time.Time { return s.now() }

// EvidenceMaxSize is the largest evidence file the store accepts.
func (s *Store) EvidenceMaxSize() int64 { return s.evidenceMax }

// Path returns the file the store lives in.
func (s *Store) Path() string { return s.db.Path() }

// Stats are figures for metrics.
type Stats struct {
	Seq       uint64 // last change-log sequence
	SizeBytes int64  // size of the data file
	// IndexBehind is how many index entries wait to be moved to their
	// places (indexbehind.go): at most about 2,048 plus one commit's, and
	// 0 on a quiet server.
	IndexBehind int
}

// Stats reads the last sequence, the file size and the index entries
// waiting.
func (s *Store) Stats() (Stats, error) {
	var st Stats
	err := s.db.View(func(tx *bolt.Tx) error {
		st.Seq = tx.Bucket(bucketLog).Sequence()
		st.SizeBytes = tx.Size()
		if b := tx.Bucket(bucketIndexBehind); b != nil {
			st.IndexBehind = int(b.Sequence()) // puts since the bucket was emptied, one key each
		}
		return nil
	})
	return st, err
}

// Backup writes a consistent copy of the whole store to w while writes go on.
func (s *Store) Backup(w io.Writer) (int64, error) {
	n, _, err := s.Snapshot(w)
	return n, err
}

// Snapshot is Backup that also returns the last change-log sequence the
// copy holds.
func (s *Store) Snapshot(w io.Writer) (n int64, seq uint64, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		seq = tx.Bucket(bucketLog).Sequence()
		var err error
		n, err = tx.WriteTo(w)
		return err
	})
	if err != nil {
		return n, seq, fmt.Errorf("backup: %w", err)
	}
	return n, seq, nil
}

// tx wraps a write transaction with change-log helpers.
type tx struct {
	*bolt.Tx
	now         time.Time
	actor       Actor
	sla         inspector.SLA
	referralSLA time.Duration
	rand        io.Reader
	firstSeq    uint64 // the first change-log sequence this transaction wrote
	// capped is set while a device's mutation is applied: the conflict
	// records it may open are held to the device's cap.
	capped *conflictCap
	// behind is set in the group commit: index puts wait in index_behind
	// (putIndex).
	behind bool
}

func (s *Store) update(actor Actor, fn func(t *tx) error) error {
	err := s.dbUpdate(func(btx *bolt.Tx) error {
		return fn(s.newTx(btx, actor))
	})
	if err == nil {
		s.changed.fire()
	}
	return err
}

// batch is update through the group commit: concurrent callers share one
// fsync. fn may run more than once, so it must not keep state between runs.
func (s *Store) batch(actor Actor, fn func(t *tx) error) error {
	err := classifyWrite(s.group.do(func(btx *bolt.Tx) error {
		t := s.newTx(btx, actor)
		// A writer alone puts its index entries in place: nobody shares
		// the pages they would dirty.
		t.behind = s.behindKeep || !s.group.alone(btx)
		return fn(t)
	}))
	if err == nil {
		s.changed.fire()
	}
	return err
}

func (s *Store) newTx(btx *bolt.Tx, actor Actor) *tx {
	if btx.Writable() {
		fillAppendBuckets(btx)
	}
	return &tx{Tx: btx, now: s.now().UTC(), actor: actor, sla: s.sla, referralSLA: s.referralSLA, rand: s.rand}
}

// fillAppendBuckets sets the fill percent of the buckets whose keys arrive
// in order (see appendFill) on this write transaction's handles, which
// bbolt keeps for the rest of the transaction.
func fillAppendBuckets(btx *bolt.Tx) {
	for _, f := range appendFill {
		if b := btx.Bucket(f.bucket); b != nil {
			b.FillPercent = f.fill
		}
	}
}

// Changed returns a channel that is closed by the next committed write, so
// that readers of the change log (the live feed, the reports) wake at once
// instead of polling. Take a new channel after each wake-up, then read the
// log: a write between the two is not missed, because the channel taken
// before reading is closed by it.
func (s *Store) Changed() <-chan struct{} { return s.changed.wait() }

// changeSignal is a broadcast: fire closes the current channel and starts a new one.
type changeSignal struct {
	mu stdsync.Mutex
	ch chan struct{}
}

func (c *changeSignal) wait() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ch
}

func (c *changeSignal) fire() {
	c.mu.Lock()
	defer c.mu.Unlock()
	close(c.ch)
	c.ch = make(chan struct{})
}

func (s *Store) view(fn func(t *bolt.Tx) error) error { return s.db.View(fn) }

// log appends a change for (kind, id) and returns its sequence, which is the
// record's new version.
func (t *tx) log(kind, id, action string, data map[string]string) (uint64, error) {
	b := t.Bucket(bucketLog)
	seq, err := b.NextSequence()
	if err != nil {
		return 0, err
	}
	c := Change{Seq: seq, Kind: kind, ID: id, Action: action, Actor: t.actor.UserID, Device: t.actor.DeviceID, At: t.now, Data: data}
	if err := b.Put(itob(seq), encodeChange(c)); err != nil {
		return 0, err
	}
	if t.firstSeq == 0 {
		t.firstSeq = seq
	}
	// An append-only record (a note, finding or call) changes once, when
	// it is created, at its version: nothing reads its own history, so it
	// keeps no key of its own in record_log (since schema 9). It is in the
	// history of its complaint and its visit (indexUnder).
	if !(action == ActionCreated && ownKinds[kind]) {
		if err := t.Bucket(bucketRecordLog).Put(recordLogKey(kind, id, seq), nil); err != nil {
			return 0, err
		}
	}
	if err := indexComplaintInspector(t.Tx, c); err != nil {
		return 0, err
	}
	return seq, nil
}

// getJSON decodes the value at key into v; it reports false if key is absent.
func getJSON(b *bolt.Bucket, key []byte, v any) (bool, error) {
	raw := b.Get(key)
	if raw == nil {
		return false, nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return true, fmt.Errorf("decode record %q: %w", key, err)
	}
	return true, nil
}

// getRecord decodes the record at key into v, or returns CodeNotFound naming
// what and id.
func getRecord(b *bolt.Bucket, what, id string, key []byte, v any) error {
	ok, err := getJSON(b, key, v)
	if err == nil && !ok {
		err = notFound(what, id)
	}
	return err
}

func putJSON(b *bolt.Bucket, key []byte, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put(key, raw)
}

// history returns the changes made to (kind, id), oldest first.
func history(btx *bolt.Tx, kind, id string) ([]Change, error) {
	prefix := recordLogPrefix(kind, id)
	logb := btx.Bucket(bucketLog)
	var out []Change
	c, err := newIndexCursor(btx, bucketRecordLog)
	if err != nil {
		return nil, err
	}
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		raw := logb.Get(k[len(prefix):])
		if raw == nil {
			continue // as before: an index entry whose change is not in the log reads as nothing
		}
		ch, err := decodeChange(raw)
		if err != nil {
			return nil, fmt.Errorf("decode change %x: %w", k[len(prefix):], err)
		}
		out = append(out, ch)
	}
	return out, nil
}

// Changes returns up to limit changes after seq, oldest first.
func (s *Store) Changes(after uint64, limit int) ([]Change, error) {
	var out []Change
	if after == math.MaxUint64 {
		return nil, nil
	}
	err := s.view(func(btx *bolt.Tx) error {
		c := btx.Bucket(bucketLog).Cursor()
		for k, v := c.Seek(itob(after + 1)); k != nil && len(out) < limit; k, v = c.Next() {
			ch, err := decodeChange(v)
			if err != nil {
				return fmt.Errorf("decode change: %w", err)
			}
			out = append(out, ch)
		}
		return nil
	})
	return out, err
}

func notFound(what, id string) error {
	return inspector.Errorf(inspector.CodeNotFound, "no %s with id %q", what, id)
}

// newestFirst pages through bucket b from its last key backwards, starting
// before cursor (as made by encodeCursor), keeping the values keep accepts.
// next is the cursor of the following page, "" on the last.
func newestFirst[T any](b *bolt.Bucket, cursor string, limit int, keep func(*T) bool, key func(*T) string) (items []T, next string, err error) {
	var after []byte
	if cursor != "" {
		if after, err = decodeCursor(cursor); err != nil {
			return nil, "", err
		}
	}
	c := b.Cursor()
	var k, v []byte
	if after == nil {
		k, v = c.Last()
	} else {
		c.Seek(after)
		k, v = c.Prev()
	}
	for ; k != nil; k, v = c.Prev() {
		var x T
		if err := json.Unmarshal(v, &x); err != nil {
			return nil, "", fmt.Errorf("decode %s: %w", k, err)
		}
		if !keep(&x) {
			continue
		}
		if len(items) == limit {
			return items, encodeCursor(key(&items[len(items)-1])), nil
		}
		items = append(items, x)
	}
	return items, "", nil
}
