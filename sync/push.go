package sync

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	stdsync "sync"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	bolt "go.etcd.io/bbolt"

	"github.com/favad/favad/inspector"
	"github.com/favad/favad/internal/strictjson"
)

// Mutation kinds a device may push.
const (
	MutVisitUpsert      = "visit.upsert"
	MutFindingCreate    = "finding.create"
	MutCallCreate       = "call.create"
	MutNoteCreate       = "note.create"
	MutComplaintStart   = "complaint.start"
	MutComplaintOutcome = "complaint.outcome"
	MutComplaintEdit    = "complaint.edit"
	// MutComplaintEscalate is a phone inspector handing a complaint back to
	// dispatch because it needs a field visit.
	MutComplaintEscalate = "complaint.escalate"
)

// MutationKinds lists every kind, for validation and documentation.
var MutationKinds = []string{MutVisitUpsert, MutFindingCreate, MutCallCreate, MutNoteCreate,
	MutComplaintStart, MutComplaintOutcome, MutComplaintEdit, MutEvidenceCreate, MutComplaintEscalate}

// errOrphaned marks work that belongs to a record dispatch deleted.
var errOrphaned = errors.New("sync: belongs to a deleted record")

// MaxPushBatch bounds the mutations in one push.
const MaxPushBatch = 500

// MaxDeviceSeq is the largest device sequence accepted: 2^53, the largest
// integer every JSON client holds exactly. A larger one is refused, and never
// becomes the device's last sequence (the next expected one would wrap).
const MaxDeviceSeq = 1 << 53

// SkewThreshold is how far a device's clock may be from the server's before
// the result flags it.
const SkewThreshold = 10 * time.Minute

// Mutation is one change a device made, perhaps offline. Its ID and
// (device, DeviceSeq) are both idempotency keys.
type Mutation struct {
	ID          string
	DeviceSeq   uint64
	Kind        string
	RecordID    string
	BaseVersion uint64
	DeviceTime  time.Time
	HLC         inspector.Stamp
	Payload     json.RawMessage
	// Malformed names the envelope fields the transport could not read (a
	// time that is not RFC 3339, a number that is a string). Such a
	// mutation is refused and kept, and the rest of its push goes on.
	Malformed []inspector.FieldError

	pre *prepared // set by PushAcked before the commit; see prepare
}

// prepared is the work on a mutation that needs no transaction: its content
// hash and, for the append-only kinds, its payload decoded. The pushing
// goroutine does it before it joins the group commit, so that the commit's
// one goroutine only checks and writes (and the second core helps).
type prepared struct {
	of       preparedOf // what it was worked out from
	envelope error      // checkEnvelope's answer
	hash     string
	payload  reflect.Value // a pointer to the decoded payload; invalid when not decoded
	err      error         // the payload's decoding error
}

// preparedOf is what prepare read of a mutation: its envelope, and its
// payload by identity (the same bytes, not a copy). A mutation given new
// fields or a new payload after PrepareEach handed it out is prepared
// again, never answered from another content's hash; a payload's bytes
// must not be changed in place.
type preparedOf struct {
	id, kind, record string
	seq, base        uint64
	deviceTime       time.Time
	hlc              inspector.Stamp
	malformed        int
	payload          *byte
	payloadLen       int
}

func preparedOfMutation(m *Mutation) preparedOf {
	return preparedOf{id: m.ID, kind: m.Kind, record: m.RecordID, seq: m.DeviceSeq, base: m.BaseVersion,
		deviceTime: m.DeviceTime, hlc: m.HLC, malformed: len(m.Malformed), payload: firstByte(m.Payload), payloadLen: len(m.Payload)}
}

// firstByte is where b's bytes are: the same slice has the same first byte.
func firstByte(b []byte) *byte {
	if len(b) == 0 {
		return nil
	}
	return &b[0]
}

// appendOnlyPayloads are the payload types prepare decodes ahead.
var appendOnlyPayloads = map[string]reflect.Type{
	MutNoteCreate:    reflect.TypeFor[inspector.Note](),
	MutFindingCreate: reflect.TypeFor[inspector.Finding](),
	MutCallCreate:    reflect.TypeFor[inspector.CallRecord](),
}

// prepare does m's work that needs no transaction, unless it is done.
func (m *Mutation) prepare() {
	of := preparedOfMutation(m)
	if m.pre != nil && m.pre.of == of {
		return
	}
	hash, payloadRead := hashContent(*m)
	m.pre = &prepared{of: of, envelope: checkEnvelopeOf(*m, payloadRead), hash: hash}
	if t, ok := appendOnlyPayloads[m.Kind]; ok {
		v := reflect.New(t)
		m.pre.payload, m.pre.err = v, decodeStrict(m.Payload, v.Interface())
	}
}

// PrepareEach builds a push's n mutations with build(i) and does each
// one's work that needs no transaction (the content hash, the payload's
// decoding), all on every core for a large push: a server hands its
// decoding of a push's body to the same workers. PushAcked prepares what
// it is given anyway; a mutation changed after PrepareEach is prepared
// again. A panic in build or in the work is raised again in the caller's
// goroutine.
func PrepareEach(n int, build func(i int) Mutation) []Mutation {
	muts := make([]Mutation, n)
	eachOnCores(n, func(i int) {
		muts[i] = build(i)
		muts[i].prepare()
	})
	return muts
}

// prepareAll prepares muts, a large push on every core: one device sending
// its queue after a day offline waits for nobody else's work.
func prepareAll(muts []Mutation) {
	eachOnCores(len(muts), func(i int) { muts[i].prepare() })
}

// eachOnCores runs work(i) for i in [0, n), on every core when n is large
// enough to be worth the goroutines (16 items a worker), and raises a
// worker's panic again in the caller's goroutine (where the server answers
// it with a 500).
func eachOnCores(n int, work func(i int)) {
	workers := min(runtime.GOMAXPROCS(0), n/16)
	if workers < 2 {
		for i := range n {
			work(i)
		}
		return
	}
	var (
		wg     stdsync.WaitGroup
		panics = make(chan any, workers)
	)
	for w := range workers {
		wg.Go(func() {
			defer func() {
				if p := recover(); p != nil {
					panics <- p
				}
			}()
			for i := w; i < n; i += workers {
				work(i)
			}
		})
	}
	wg.Wait()
	select {
	case p := <-panics:
		panic(p)
	default:
	}
}

// envelopeErr is checkEnvelope(m), prepared or not.
func (m Mutation) envelopeErr() error {
	if m.pre != nil {
		return m.pre.envelope
	}
	return checkEnvelope(m)
}

// contentHash is mutationHash(m), prepared or not.
func (m Mutation) contentHash() string {
	if m.pre != nil {
		return m.pre.hash
	}
	return mutationHash(m)
}

// decodePayload decodes m's payload into v (a pointer), with the strict
// decoder; a copy of the prepared value when there is one of v's type, so
// that a batch function run twice starts from the same value.
func (m Mutation) decodePayload(v any) error {
	if m.pre != nil && m.pre.payload.IsValid() && m.pre.payload.Type() == reflect.TypeOf(v) {
		if m.pre.err != nil {
			return m.pre.err
		}
		reflect.ValueOf(v).Elem().Set(m.pre.payload.Elem())
		return nil
	}
	return decodeStrict(m.Payload, v)
}

// Result statuses.
const (
	StatusApplied        = "applied"
	StatusMerged         = "merged"
	StatusResolvedByRule = "resolved_by_rule"
	StatusRejected       = "rejected"
	// StatusDeferred: neither applied nor kept, because the device has
	// MaxOpenConflictsPerDevice open conflict records and the mutation would
	// open another (code too_many_conflicts). Its id and sequence stay
	// free: the device keeps it queued and sends it again later.
	StatusDeferred = "deferred"
)

// MaxOpenConflictsPerDevice bounds the open conflict records one device's
// mutations may leave for dispatch. Past it, a mutation that would open
// another is deferred (StatusDeferred) until dispatch settles some. The
// cap is checked before each mutation, so a mutation begun below it that
// opens a sequence_gap record and one of its own may take it one over.
const MaxOpenConflictsPerDevice = 100

// Result is the server's answer to one mutation. A replay gets the stored
// result again, with Replayed set.
type Result struct {
	MutationID   string                 `json:"mutation_id"`
	DeviceSeq    uint64                 `json:"device_seq"`
	Status       string                 `json:"status"`
	RecordKind   string                 `json:"record_kind,omitempty"`
	RecordID     string                 `json:"record_id,omitempty"`
	Version      uint64                 `json:"version,omitempty"`
	Rule         inspector.Rule         `json:"rule,omitempty"`
	WinningValue json.RawMessage        `json:"winning_value,omitempty"`
	Code         inspector.Code         `json:"code,omitempty"`
	Message      string                 `json:"message,omitempty"`
	Fields       []inspector.FieldError `json:"fields,omitempty"`
	ConflictIDs  []string               `json:"conflict_ids,omitempty"`
	ClockSkewS   int64                  `json:"clock_skew_s,omitempty"`
	GapBefore    []uint64               `json:"gap_before,omitempty"` // device seqs missing before this one
	Replayed     bool                   `json:"replayed,omitempty"`
}

// storedResult is what a replay of a mutation must be answered with: the
// answer, and the mutation's id and content hash to tell a replay from a
// clash. Since schema 8 it is kept in mutations, by the mutation's id; since
// schema 9 a usual answer is stored in a binary form (encodeAnswer), and one
// with a rule, a code, a message, fields, conflicts or a winning value as
// JSON (storedForm); seq_mutations holds only clash answers. The forms of
// earlier schemas are still read.
type storedResult struct {
	MutationID string
	Hash       string // hex SHA-256 (mutationHash)
	Result     Result // its DeviceSeq is not kept: a replay answers for the sequence it was sent under
	// Account is the user whose mutation it is, in mutations (schema 8):
	// another account's id is a clash, not a replay.
	Account string
	// Device and Seq are the device and sequence the answer was first
	// given under (Seq 0 when unknown), and Also the sequences of that
	// device a replay of it held since (the first maxAlsoHeld), so that a
	// resend with an envelope the server cannot read is a replay only under
	// one of them, whatever else holds the sequence it comes with.
	Device string
	Seq    uint64
	Also   []uint64
}

// maxAlsoHeld bounds storedResult.Also: a device replaying one mutation
// under ever new sequences does not grow its answer without end (past it,
// an unreadable resend under such a sequence is a new refusal, kept).
const maxAlsoHeld = 16

// storedForm is a storedResult's JSON form (since schema 9, for an answer
// the binary form cannot hold; see storedResult): the hash as its
// 32 bytes, and of the answer only what a replay cannot take from the
// mutation it answers (its id and device sequence are the replay's own);
// in mutations (schema 8) without the id, which is its key, and with the
// account, device and sequences it belongs to.
type storedForm struct {
	MutationID string       `json:"m,omitempty"` // not kept in mutations, whose key it is
	Hash       []byte       `json:"h"`
	Result     storedAnswer `json:"r"`
	Account    string       `json:"a,omitempty"`
	Device     string       `json:"d,omitempty"`
	Seq        uint64       `json:"q,omitempty"`
	Also       []uint64     `json:"qs,omitempty"`
	// Schema 6 and before: the answer whole, the hash in hex.
	OldMutationID string  `json:"mutation_id,omitempty"`
	OldHash       string  `json:"hash,omitempty"`
	OldResult     *Result `json:"result,omitempty"`
}

// storedAnswer is a Result without its mutation id, device sequence and
// replay flag, under short names.
type storedAnswer struct {
	Status       string                 `json:"s"`
	RecordKind   string                 `json:"k,omitempty"`
	RecordID     string                 `json:"i,omitempty"`
	Version      uint64                 `json:"v,omitempty"`
	Rule         inspector.Rule         `json:"rule,omitempty"`
	WinningValue json.RawMessage        `json:"win,omitempty"`
	Code         inspector.Code         `json:"code,omitempty"`
	Message      string                 `json:"msg,omitempty"`
	Fields       []inspector.FieldError `json:"fields,omitempty"`
	ConflictIDs  []string               `json:"conflicts,omitempty"`
	ClockSkewS   int64                  `json:"skew,omitempty"`
	GapBefore    []uint64               `json:"gap,omitempty"`
}

// MarshalJSON writes the compact form of schema 7.
func (r storedResult) MarshalJSON() ([]byte, error) {
	hash, err := hex.DecodeString(r.Hash)
	if err != nil {
		return nil, fmt.Errorf("stored result: hash: %w", err)
	}
	a := r.Result
	return json.Marshal(storedForm{MutationID: r.MutationID, Hash: hash, Account: r.Account, Device: r.Device, Seq: r.Seq, Also: r.Also, Result: storedAnswer{
		Status: a.Status, RecordKind: a.RecordKind, RecordID: a.RecordID, Version: a.Version, Rule: a.Rule,
		WinningValue: a.WinningValue, Code: a.Code, Message: a.Message, Fields: a.Fields,
		ConflictIDs: a.ConflictIDs, ClockSkewS: a.ClockSkewS, GapBefore: a.GapBefore}})
}

// UnmarshalJSON reads the compact form, or the form of schema 6 and before.
func (r *storedResult) UnmarshalJSON(raw []byte) error {
	var f storedForm
	if err := json.Unmarshal(raw, &f); err != nil {
		return err
	}
	if f.OldResult != nil {
		*r = storedResult{MutationID: f.OldMutationID, Hash: f.OldHash, Result: *f.OldResult}
		return nil
	}
	a := f.Result
	*r = storedResult{MutationID: f.MutationID, Hash: hex.EncodeToString(f.Hash), Account: f.Account, Device: f.Device, Seq: f.Seq, Also: f.Also, Result: Result{
		MutationID: f.MutationID, Status: a.Status, RecordKind: a.RecordKind, RecordID: a.RecordID, Version: a.Version,
		Rule: a.Rule, WinningValue: a.WinningValue, Code: a.Code, Message: a.Message, Fields: a.Fields,
		ConflictIDs: a.ConflictIDs, ClockSkewS: a.ClockSkewS, GapBefore: a.GapBefore}}
	return nil
}

// getAnswer reads the stored answer to the mutation with id from
// mutations, which keeps it without the id its key gives.
func getAnswer(b *bolt.Bucket, id string) (storedResult, bool, error) {
	v := b.Get([]byte(id))
	if v == nil {
		return storedResult{}, false, nil
	}
	r, err := decodeAnswer(id, v)
	return r, err == nil, err
}

// decodeAnswer reads the answer v stored under id in mutations.
func decodeAnswer(id string, v []byte) (storedResult, error) {
	var r storedResult
	var err error
	if isJSONValue(v) {
		err = json.Unmarshal(v, &r)
	} else {
		r, err = decodeBinaryAnswer(v)
	}
	if err != nil {
		return r, fmt.Errorf("push answer of %s: %w", id, err)
	}
	r.MutationID, r.Result.MutationID = id, id
	return r, nil
}

// putAnswer stores r under its mutation id in mutations: in the binary
// form when it has one (encodeAnswer), else as JSON.
func putAnswer(b *bolt.Bucket, r storedResult) error {
	id := r.MutationID
	r.MutationID, r.Result.MutationID = "", ""
	if v, ok := encodeAnswer(r); ok {
		return b.Put([]byte(id), v)
	}
	return putJSON(b, []byte(id), r)
}

// Push applies a device's mutations in device order, in one durable group
// commit shared with concurrent pushes, and returns one result per mutation
// and the highest device sequence the server holds for the device. Replays
// change nothing and get their original results; one bad mutation is
// answered with its error and the rest go on. It is PushAcked from a device
// that does not say what was acknowledged to it.
func (s *Store) Push(u inspector.User, deviceID string, muts []Mutation) ([]Result, uint64, error) {
	ans, err := s.PushAcked(u, deviceID, 0, muts)
	return ans.Results, ans.LastDeviceSeq, err
}

// PushAnswer is the answer to a push as a whole.
type PushAnswer struct {
	Results []Result
	// LastDeviceSeq is the highest device sequence the store holds for the
	// device under the account, after the push.
	LastDeviceSeq uint64
	// ServerBehind is set when the store held fewer of the device's
	// sequences than the device says were acknowledged (the store was
	// restored from a backup since).
	ServerBehind bool
}

// ServerBehindError refuses a push of new work only, from a device that was
// acknowledged sequences the store no longer holds (it was restored from a
// backup since): the device re-sends what it still holds above
// LastDeviceSeq first, so that its work is applied in its order. It wraps an
// *inspector.Error with CodeServerBehind.
type ServerBehindError struct {
	LastDeviceSeq uint64 // the highest sequence the store holds
	AckedThrough  uint64 // the highest the device says was acknowledged
}

func (e *ServerBehindError) Error() string { return e.Unwrap().Error() }

// Unwrap returns the application error the server answers with.
func (e *ServerBehindError) Unwrap() error {
	return &inspector.Error{Code: inspector.CodeServerBehind,
		Message: fmt.Sprintf("the server holds this device's work up to sequence %d but acknowledged up to %d (it was restored from a backup): re-send what the device still holds above %d first",
			e.LastDeviceSeq, e.AckedThrough, e.LastDeviceSeq),
		Fields: []inspector.FieldError{{Field: "acked_through", Code: "server_behind", Message: fmt.Sprintf("the server holds up to %d", e.LastDeviceSeq)}}}
}

// PushAcked is Push from a device that says the highest sequence the server
// acknowledged to it (ackedThrough; 0 when it does not say). When the store
// holds less (it was restored from a backup since), the answer says so
// (ServerBehind); a push without any mutation at or below ackedThrough is
// refused with *ServerBehindError and nothing is applied, so that the device
// re-sends its acknowledged work before new work; and sequences missing at
// or below ackedThrough are the server's loss, kept on a server_behind
// conflict record, never a sequence_gap blamed on the device.
func (s *Store) PushAcked(u inspector.User, deviceID string, ackedThrough uint64, muts []Mutation) (PushAnswer, error) {
	if u.Role != inspector.RoleInspector {
		return PushAnswer{}, inspector.Errorf(inspector.CodeForbidden, "only inspectors push field work")
	}
	if len(muts) > MaxPushBatch {
		return PushAnswer{}, (&inspector.Problems{{Field: "mutations", Code: "too_many", Message: fmt.Sprintf("at most %d mutations in one push", MaxPushBatch)}}).Err()
	}
	if ackedThrough > MaxDeviceSeq {
		return PushAnswer{}, (&inspector.Problems{{Field: "acked_through", Code: "out_of_range", Message: "at most 2^53 (9007199254740992)"}}).Err()
	}
	if ackedThrough > 0 && !resendsAcked(muts, ackedThrough) {
		held, err := s.LastDeviceSeq(u.ID, deviceID)
		if err != nil {
			return PushAnswer{}, fmt.Errorf("push: %w", err)
		}
		if ackedThrough > held {
			return PushAnswer{}, &ServerBehindError{LastDeviceSeq: held, AckedThrough: ackedThrough}
		}
	}
	ordered := slices.Clone(muts)
	prepareAll(ordered)
	slices.SortStableFunc(ordered, func(a, b Mutation) int {
		switch {
		case a.DeviceSeq < b.DeviceSeq:
			return -1
		case a.DeviceSeq > b.DeviceSeq:
			return 1
		}
		return 0
	})
	var (
		results []Result
		lastSeq uint64
		behind  bool
	)
	actor := Actor{UserID: u.ID, DeviceID: deviceID}
	space := seqSpace(u.ID, deviceID)
	err := s.batch(actor, func(t *tx) error {
		results = make([]Result, 0, len(ordered)) // Batch may run this twice
		seqs, err := readSeqState(t.Tx, space)
		if err != nil {
			return err
		}
		behind = ackedThrough > seqs.last
		for _, m := range ordered {
			r, err := s.pushOne(t, u, deviceID, m, ackedThrough, &seqs)
			if err != nil {
				return err
			}
			results = append(results, r)
		}
		lastSeq = seqs.last
		if !seqs.changed {
			return nil // a replay: an unchanged page is not written again
		}
		return t.Bucket(bucketSeqHeld).Put([]byte(space), seqs.encode())
	})
	if err != nil {
		return PushAnswer{}, fmt.Errorf("push: %w", err)
	}
	// Answer in the order the device sent.
	byKey := make(map[string][]Result, len(results))
	for _, r := range results {
		k := fmt.Sprint(r.DeviceSeq, "/", r.MutationID)
		byKey[k] = append(byKey[k], r)
	}
	out := make([]Result, len(muts))
	for i, m := range muts {
		k := fmt.Sprint(m.DeviceSeq, "/", m.ID)
		out[i], byKey[k] = byKey[k][0], byKey[k][1:]
	}
	return PushAnswer{Results: out, LastDeviceSeq: lastSeq, ServerBehind: behind}, nil
}

// resendsAcked reports whether a push holds a mutation the device says was
// acknowledged (a sequence from 1 to ackedThrough): a re-send.
func resendsAcked(muts []Mutation, ackedThrough uint64) bool {
	for _, m := range muts {
		if m.DeviceSeq >= 1 && m.DeviceSeq <= ackedThrough {
			return true
		}
	}
	return false
}

// pushOne settles one mutation inside the batch transaction. Its error is
// for failures of the store only; a bad mutation is a rejected Result, and
// one that would open a conflict record past the device's cap is deferred:
// nothing of it is written, and its id and sequence stay free for its retry.
func (s *Store) pushOne(t *tx, u inspector.User, deviceID string, m Mutation, ackedThrough uint64, seqs *seqState) (Result, error) {
	defer t.capConflicts(deviceID)()
	res, err := s.settleOne(t, u, deviceID, m, ackedThrough, seqs)
	if !errors.Is(err, errConflictCap) {
		return res, err
	}
	if m.DeviceSeq > 0 && m.DeviceSeq <= MaxDeviceSeq {
		seqs.see(m.DeviceSeq) // seen, so that the work after it is no gap
	}
	return Result{MutationID: m.ID, DeviceSeq: m.DeviceSeq, Status: StatusDeferred, Code: inspector.CodeTooManyConflicts,
		Message: fmt.Sprintf("this device has %d conflict records waiting for dispatch; nothing was applied: keep the change and send it again later", MaxOpenConflictsPerDevice)}, nil
}

// settleOne is pushOne without the deferral.
func (s *Store) settleOne(t *tx, u inspector.User, deviceID string, m Mutation, ackedThrough uint64, seqs *seqState) (Result, error) {
	res := Result{MutationID: m.ID, DeviceSeq: m.DeviceSeq}
	if err := m.envelopeErr(); err != nil {
		return s.refuseEnvelope(t, u, deviceID, m, res, err, seqs)
	}
	hash := m.contentHash()
	// A known mutation id is a replay, whatever sequence or device of the
	// account it comes under now (a re-queued item, a restored backup): the
	// stored answer. Another account's id is taken, not theirs to replay.
	if prior, ok, err := getAnswer(t.Bucket(bucketMutations), m.ID); err != nil {
		return res, err
	} else if ok {
		if prior.Hash != hash || prior.Account != u.ID {
			return s.refuseClash(t, u, deviceID, m, res, &inspector.Error{Code: inspector.CodeIdempotencyClash,
				Message: "this mutation id was already used with different content",
				Fields:  []inspector.FieldError{{Field: "mutation_id", Code: "reused", Message: "a new change needs a new id"}}}, seqs)
		}
		out := prior.Result
		out.DeviceSeq, out.Replayed = m.DeviceSeq, true
		// Hold the sequence it comes under now too, so that it is neither a
		// gap nor free for reuse.
		return out, t.holdReplay(seqs, prior, deviceID, m.DeviceSeq)
	}
	if seqs.has(m.DeviceSeq) {
		return s.refuseClash(t, u, deviceID, m, res, &inspector.Error{Code: inspector.CodeIdempotencyClash,
			Message: fmt.Sprintf("device sequence %d was already used by another mutation", m.DeviceSeq),
			Fields:  []inspector.FieldError{{Field: "device_seq", Code: "reused", Message: "each mutation needs its own sequence number"}}}, seqs)
	}

	// Sequences missing before this one: those the device was acknowledged
	// are the server's loss (a restore), the others the device's gap.
	var gapIDs []string
	if m.DeviceSeq > seqs.last+1 {
		var lost, skipped []uint64
		for seq := seqs.last + 1; seq < m.DeviceSeq && len(res.GapBefore) < 100; seq++ {
			if !seqs.has(seq) {
				res.GapBefore = append(res.GapBefore, seq)
				if seq <= ackedThrough {
					lost = append(lost, seq)
				} else {
					skipped = append(skipped, seq)
				}
			}
		}
		if len(lost) > 0 {
			gap := &Conflict{Label: inspector.LabelRejected, Rule: inspector.RuleServerBehind, RecordKind: "device", RecordID: deviceID,
				Winner: "none", Code: string(inspector.CodeServerBehind), InspectorID: u.ID, DeviceID: deviceID, MutationID: m.ID, DeviceSeq: m.DeviceSeq,
				DeviceValue: rawJSON(lost),
				Message:     fmt.Sprintf("the server lost work it had acknowledged to the device before sequence %d (it was restored from a backup), and the device no longer holds it", m.DeviceSeq)}
			if err := t.recordConflict(gap, s.newID); err != nil {
				return res, err
			}
			gapIDs = append(gapIDs, gap.ID)
		}
		if len(skipped) > 0 {
			gap := &Conflict{Label: inspector.LabelRejected, Rule: inspector.RuleSequenceGap, RecordKind: "device", RecordID: deviceID,
				Winner: "none", Code: "sequence_gap", InspectorID: u.ID, DeviceID: deviceID, MutationID: m.ID, DeviceSeq: m.DeviceSeq,
				DeviceValue: rawJSON(skipped),
				Message:     fmt.Sprintf("the device skipped sequence numbers before %d; work may be missing from the device", m.DeviceSeq)}
			if err := t.recordConflict(gap, s.newID); err != nil {
				return res, err
			}
			gapIDs = append(gapIDs, gap.ID)
		}
	}
	seqs.see(m.DeviceSeq)

	m.HLC.Device, m.HLC.DeviceSeq = deviceID, m.DeviceSeq
	m.HLC = m.HLC.Bound(t.now)
	if skew := m.DeviceTime.Sub(t.now); !m.DeviceTime.IsZero() && (skew > SkewThreshold || skew < -SkewThreshold) {
		res.ClockSkewS = int64(math.Round(skew.Seconds()))
	}
	p := &pushCtx{s: s, t: t, u: u, device: deviceID, m: m, res: res}
	applied, err := p.apply()
	if err != nil {
		var appErr *inspector.Error
		if !errors.As(err, &appErr) {
			return res, err
		}
		applied = reject(p.res, appErr)
		kept := &Conflict{Label: inspector.LabelRejected, Rule: inspector.RuleInvalid, RecordKind: recordKindOf(m.Kind), RecordID: m.RecordID,
			ComplaintID: p.complaintID, Winner: "none", Code: string(appErr.Code), Message: appErr.Error(),
			InspectorID: u.ID, DeviceID: deviceID, MutationID: m.ID, DeviceSeq: m.DeviceSeq, DeviceValue: keptPayload(m.Payload)}
		if appErr.Code == inspector.CodeIdempotencyClash {
			kept.Rule = inspector.RuleAppendOnly
		}
		if err := t.recordConflict(kept, s.newID); err != nil {
			return res, err
		}
		applied.ConflictIDs = append(applied.ConflictIDs, kept.ID)
	}
	if len(gapIDs) > 0 {
		applied.ConflictIDs = append(gapIDs, applied.ConflictIDs...)
	}
	seqs.hold(m.DeviceSeq)
	return applied, putAnswer(t.Bucket(bucketMutations), storedResult{MutationID: m.ID, Hash: hash, Result: applied,
		Account: u.ID, Device: deviceID, Seq: m.DeviceSeq})
}

// holdReplay holds seq for a replay of the mutation answered by prior (as
// kept under its id in mutations), and notes it in the answer (Also).
func (t *tx) holdReplay(seqs *seqState, prior storedResult, deviceID string, seq uint64) error {
	if seqs.has(seq) {
		return nil
	}
	seqs.hold(seq)
	if prior.Device != deviceID || prior.Seq == seq || len(prior.Also) >= maxAlsoHeld {
		return nil // answered on another device (Also is of one device's sequences), or nothing to note
	}
	prior.Also = append(prior.Also, seq)
	return putAnswer(t.Bucket(bucketMutations), prior)
}

// refuseEnvelope answers a mutation whose envelope is malformed: a replay of
// one already answered gets its stored answer; otherwise it is kept.
func (s *Store) refuseEnvelope(t *tx, u inspector.User, deviceID string, m Mutation, res Result, cause error, seqs *seqState) (Result, error) {
	if m.DeviceSeq > 0 && m.DeviceSeq <= MaxDeviceSeq && m.ID != "" {
		prior, ok, err := getAnswer(t.Bucket(bucketMutations), m.ID)
		if err != nil {
			return res, err
		}
		if ok && prior.Account == u.ID && prior.Device == deviceID && prior.Hash == m.contentHash() &&
			(prior.Seq == m.DeviceSeq || slices.Contains(prior.Also, m.DeviceSeq)) {
			// The same mutation, resent under the sequence it was
			// answered under: its answer.
			prior.Result.DeviceSeq, prior.Result.Replayed = m.DeviceSeq, true
			return prior.Result, nil
		}
	}
	return s.keepRefusal(t, u, deviceID, m, reject(res, cause), inspector.RuleInvalid, seqs)
}

// refuseClash answers a mutation whose idempotency key is taken by other
// content: nothing is applied, and the mutation is kept.
func (s *Store) refuseClash(t *tx, u inspector.User, deviceID string, m Mutation, res Result, e *inspector.Error, seqs *seqState) (Result, error) {
	return s.keepRefusal(t, u, deviceID, m, reject(res, e), inspector.RuleAppendOnly, seqs)
}

// keepRefusal keeps a refused mutation on a conflict record, once, under a
// key of its own (device, id and content) so that a retry gets the same
// answer; it also holds the mutation's device sequence, if free, so that the
// sequence is neither reported as a gap nor reused.
func (s *Store) keepRefusal(t *tx, u inspector.User, deviceID string, m Mutation, out Result, rule inspector.Rule, seqs *seqState) (Result, error) {
	hash := m.contentHash()
	muts := t.Bucket(bucketDeviceMutations)
	space := seqSpace(u.ID, deviceID)
	where := clashKey(space, m.ID, hash)
	var prior storedResult
	if ok, err := getJSON(muts, where, &prior); err != nil || ok {
		if err == nil && m.DeviceSeq > 0 && m.DeviceSeq <= MaxDeviceSeq {
			// A refusal replayed under a new sequence holds that sequence
			// too, so that it is neither a gap nor free for reuse.
			mine, ok, gerr := getAnswer(t.Bucket(bucketMutations), m.ID)
			switch {
			case gerr != nil:
				err = gerr
			case ok && slices.Equal(mine.Result.ConflictIDs, prior.Result.ConflictIDs):
				// The answer under its id is this refusal (its conflict
				// record is its own), not, say, the same content applied
				// under a readable envelope.
				err = t.holdReplay(seqs, mine, deviceID, m.DeviceSeq)
			default:
				seqs.hold(m.DeviceSeq)
			}
		}
		prior.Result.DeviceSeq, prior.Result.Replayed = m.DeviceSeq, true
		return prior.Result, err
	}
	kept := &Conflict{Label: inspector.LabelRejected, Rule: rule, RecordKind: recordKindOf(m.Kind), RecordID: m.RecordID,
		ComplaintID: t.namedComplaint(m), Winner: "none", Code: string(out.Code), Message: out.Message, InspectorID: u.ID, DeviceID: deviceID,
		MutationID: m.ID, DeviceSeq: m.DeviceSeq, DeviceValue: keptPayload(m.Payload)}
	if err := t.recordConflict(kept, s.newID); err != nil {
		return out, err
	}
	out.ConflictIDs = []string{kept.ID}
	stored := storedResult{MutationID: m.ID, Hash: hash, Result: out}
	if err := putJSON(muts, where, stored); err != nil {
		return out, err
	}
	if m.DeviceSeq > 0 && m.DeviceSeq <= MaxDeviceSeq {
		seqs.hold(m.DeviceSeq)
	}
	if m.ID != "" && t.Bucket(bucketMutations).Get([]byte(m.ID)) == nil {
		stored.Account, stored.Device = u.ID, deviceID
		if m.DeviceSeq <= MaxDeviceSeq {
			stored.Seq = m.DeviceSeq
		}
		return out, putAnswer(t.Bucket(bucketMutations), stored)
	}
	return out, nil
}

// namedComplaint is the complaint a refused mutation names, if it exists:
// the record of a complaint.* mutation, or the payload's complaint_id (or a
// visit's first complaint), so that its conflict record shows with the
// complaint. Only a stored complaint counts: a refusal names no other.
func (t *tx) namedComplaint(m Mutation) string {
	var p struct {
		ComplaintID  string   `json:"complaint_id"`
		ComplaintIDs []string `json:"complaint_ids"`
	}
	_ = json.Unmarshal(m.Payload, &p) // a payload that does not decode names nothing
	id := p.ComplaintID
	switch {
	case strings.HasPrefix(m.Kind, "complaint."):
		id = m.RecordID
	case id == "" && len(p.ComplaintIDs) > 0:
		id = p.ComplaintIDs[0]
	}
	if id == "" || t.Bucket(bucketComplaints).Get([]byte(id)) == nil {
		return ""
	}
	return id
}

// keptPayload is a refused mutation's payload as its conflict record keeps
// it: as sent, except that bytes that are not UTF-8 (the reason it may have
// been refused) become U+FFFD, so that no answer carries them. In JSON that
// parses they can only be inside strings, so the result still parses.
func keptPayload(p json.RawMessage) json.RawMessage {
	if utf8.Valid(p) {
		return p
	}
	return bytes.ToValidUTF8(p, []byte("\uFFFD"))
}

// LastDeviceSeq is the highest device sequence the store holds for a
// device under an account (sequences belong to the pair).
func (s *Store) LastDeviceSeq(userID, deviceID string) (uint64, error) {
	var st seqState
	err := s.view(func(btx *bolt.Tx) error {
		var err error
		st, err = readSeqState(btx, seqSpace(userID, deviceID))
		return err
	})
	return st.last, err
}

func reject(r Result, err error) Result {
	var e *inspector.Error
	if !errors.As(err, &e) {
		e = &inspector.Error{Code: inspector.CodeInternal, Message: "internal error"}
	}
	r.Status, r.Code, r.Message, r.Fields = StatusRejected, e.Code, e.Message, e.Fields
	return r
}

func checkEnvelope(m Mutation) error {
	return checkEnvelopeOf(m, false)
}

// checkEnvelopeOf is checkEnvelope, told whether the payload is known to
// be valid JSON already (the content hash read it whole).
func checkEnvelopeOf(m Mutation, payloadValid bool) error {
	p := inspector.Problems(slices.Clone(m.Malformed))
	// A field that could not be read is named once, for that.
	add := func(field, code, message string) {
		if !slices.ContainsFunc(m.Malformed, func(f inspector.FieldError) bool { return f.Field == field }) {
			p.Add(field, code, message)
		}
	}
	if id, err := uuid.Parse(m.ID); err != nil || id.Version() != 7 {
		add("mutation_id", "invalid", "a UUIDv7 made on the device")
	}
	if m.DeviceSeq == 0 {
		add("device_seq", "invalid", "the device's counter, from 1")
	} else if m.DeviceSeq > MaxDeviceSeq {
		add("device_seq", "out_of_range", "at most 2^53 (9007199254740992)")
	}
	if !slices.Contains(MutationKinds, m.Kind) {
		add("kind", "invalid", "one of "+strings.Join(MutationKinds, ", "))
	}
	if _, err := uuid.Parse(m.RecordID); err != nil {
		add("record_id", "invalid", "the record's UUID")
	}
	if len(m.Payload) > 0 && !payloadValid && !json.Valid(m.Payload) {
		add("payload", "invalid", "a JSON object")
	}
	return p.Err()
}

// recordKindOf names the record a mutation kind writes; "unknown" for a kind
// the server does not know.
func recordKindOf(kind string) string {
	if !slices.Contains(MutationKinds, kind) {
		return "unknown"
	}
	k, _, _ := strings.Cut(kind, ".")
	return k
}

// pushCtx carries one mutation through its apply function.
type pushCtx struct {
	s           *Store
	t           *tx
	u           inspector.User
	device      string
	m           Mutation
	res         Result
	complaintID string
	// visitID and visitComplaints are the visit a finding or note belongs
	// to and, when the record names no complaint itself, every complaint
	// that visit names: the record is in each one's field work.
	visitID         string
	visitComplaints []string
}

func (p *pushCtx) apply() (Result, error) {
	if (p.m.Kind == MutVisitUpsert || p.m.Kind == MutFindingCreate) && p.u.Mode == inspector.ModePhone {
		// Visits and attendance findings are field work. A phone inspector
		// whose complaint needs someone on site escalates it (complaint.escalate).
		return p.res, inspector.Errorf(inspector.CodeForbidden, "visits and findings are field work; a phone inspector escalates the complaint for a field visit instead (complaint.escalate)")
	}
	switch p.m.Kind {
	case MutVisitUpsert:
		return p.visitUpsert()
	case MutFindingCreate:
		var f inspector.Finding
		return p.appendOnly(KindFinding, bucketFindings, &f, func(pr *inspector.Problems) {
			f.ID, f.InspectorID = p.m.RecordID, p.u.ID // device times keep the device's offset
			f.Validate(pr, "payload.")
			p.complaintID = f.ComplaintID
		}, func() error {
			if f.ComplaintID != "" {
				if err := p.requireComplaint(f.ComplaintID); err != nil {
					return err
				}
			}
			return p.requireVisit(f.VisitID)
		}, func(v uint64) { f.Version = v })
	case MutCallCreate:
		var c inspector.CallRecord
		return p.appendOnly(KindCall, bucketCalls, &c, func(pr *inspector.Problems) {
			c.ID, c.InspectorID = p.m.RecordID, p.u.ID
			c.Number = inspector.NormalizeDigits(c.Number)
			c.Validate(pr, "payload.")
			p.complaintID = c.ComplaintID
		}, func() error { return p.requireComplaint(c.ComplaintID) }, func(v uint64) { c.Version = v })
	case MutNoteCreate:
		var n inspector.Note
		return p.appendOnly(KindNote, bucketNotes, &n, func(pr *inspector.Problems) {
			n.ID, n.InspectorID = p.m.RecordID, p.u.ID
			n.Validate(pr, "payload.")
			p.complaintID = n.ComplaintID
		}, func() error {
			if n.ComplaintID != "" {
				if err := p.requireComplaint(n.ComplaintID); err != nil {
					return err
				}
			}
			if n.VisitID != "" {
				return p.requireVisit(n.VisitID)
			}
			return nil
		}, func(v uint64) { n.Version = v })
	case MutComplaintStart:
		return p.complaintStart()
	case MutComplaintOutcome:
		return p.complaintOutcome()
	case MutComplaintEdit:
		return p.complaintEdit()
	case MutComplaintEscalate:
		return p.complaintEscalate()
	case MutEvidenceCreate:
		return p.evidenceCreate()
	}
	return p.res, inspector.Errorf(inspector.CodeInvalid, "unknown mutation kind %q", p.m.Kind)
}

// decodeStrict reads the payload into v with the strict decoder (unknown
// fields, keys given twice or in another letter case, invalid UTF-8 and
// control characters are refused, naming the key under "payload.").
func decodeStrict(raw json.RawMessage, v any) error {
	if len(raw) == 0 {
		raw = json.RawMessage("{}")
	}
	return decodeField(raw, v, "payload")
}

// decodeField decodes raw, the value at path, into v with the strict decoder.
func decodeField(raw json.RawMessage, v any, path string) error {
	err := strictjson.Decode(raw, v)
	if err == nil {
		return nil
	}
	var se *strictjson.Error
	if errors.As(err, &se) {
		field := path
		if se.Path != "" {
			field += "." + se.Path
		}
		return &inspector.Error{Code: inspector.CodeInvalid, Message: "the payload does not fit this kind of mutation",
			Fields: []inspector.FieldError{{Field: field, Code: string(se.Kind), Message: se.Message()}}}
	}
	fe, ok := strictjson.FieldFault(path, err) // in the API's words, on the field
	if !ok {
		fe = inspector.FieldError{Field: path, Code: "malformed", Message: err.Error()}
	}
	return &inspector.Error{Code: inspector.CodeInvalid, Message: "the payload does not fit this kind of mutation", Fields: []inspector.FieldError{fe}}
}

// appendOnly stores an append-only record under its client id. An identical
// record already stored is a no-op; the same id with different content is
// rejected, and the device's version is kept on a conflict record.
func (p *pushCtx) appendOnly(kind string, bucket []byte, rec any, prepare func(*inspector.Problems), check func() error, setVersion func(uint64)) (Result, error) {
	res := p.res
	res.RecordKind, res.RecordID = kind, p.m.RecordID
	if err := p.m.decodePayload(rec); err != nil {
		return res, err
	}
	given := reflect.ValueOf(rec).Elem()
	for _, owned := range serverOwnedFields(given.Type()) {
		if !given.Field(owned).IsZero() {
			return res, (&inspector.Problems{{Field: "payload", Code: "server_owned", Message: "id, inspector_id and version are set by the server, not sent"}}).Err()
		}
	}
	var pr inspector.Problems
	prepare(&pr)
	if err := pr.Err(); err != nil {
		return res, err
	}
	b := p.t.Bucket(bucket)
	existing := reflect.New(reflect.TypeOf(rec).Elem()).Interface()
	ok, err := getStored(b, []byte(p.m.RecordID), existing)
	if err != nil {
		return res, err
	}
	if ok {
		stored := reflect.ValueOf(existing).Elem()
		version := stored.FieldByName("Version").Uint()
		stored.FieldByName("Version").SetUint(0)
		if reflect.DeepEqual(existing, rec) {
			res.Status, res.Version = StatusApplied, version
			return res, nil
		}
		return res, &inspector.Error{Code: inspector.CodeIdempotencyClash,
			Message: fmt.Sprintf("%s %s already exists with different content; records are append-only", kind, p.m.RecordID)}
	}
	if err := check(); errors.Is(err, errOrphaned) {
		c := &Conflict{Label: inspector.LabelConflict, Rule: inspector.RuleOrphaned, RecordKind: kind, RecordID: p.m.RecordID,
			ComplaintID: p.complaintID, DeviceValue: p.m.Payload, Winner: "server", InspectorID: p.u.ID, DeviceID: p.device,
			MutationID: p.m.ID, DeviceSeq: p.m.DeviceSeq, Message: "dispatch deleted the visit this belongs to; it is kept for dispatch to review"}
		if err := p.t.recordConflict(c, p.s.newID); err != nil {
			return res, err
		}
		res.Status, res.Rule, res.Version, res.ConflictIDs, res.Message = StatusResolvedByRule, inspector.RuleOrphaned, c.Version, []string{c.ID}, c.Message
		return res, nil
	} else if err != nil {
		return res, err
	}
	seq, err := p.t.log(kind, p.m.RecordID, ActionCreated, p.logData())
	if err != nil {
		return res, err
	}
	setVersion(seq)
	if err := p.t.indexUnder(KindComplaint, seq, []string{p.complaintID}, p.visitComplaints); err != nil {
		return res, err
	}
	// A visit's history lists what was recorded on it, so that a complaint
	// the visit names later finds the records that name no complaint.
	if err := p.t.indexUnder(KindVisit, seq, []string{p.visitID}); err != nil {
		return res, err
	}
	if err := p.t.scoped(inspectorScope(p.u.ID), seq, kind, p.m.RecordID, OpUpsert, ""); err != nil {
		return res, err
	}
	res.Status, res.Version = StatusApplied, seq
	return res, putStored(b, []byte(p.m.RecordID), rec)
}

// serverOwnedFields are the indexes of an append-only record's fields that
// the server sets (ID, InspectorID, Version), by record type.
func serverOwnedFields(t reflect.Type) []int {
	if f, ok := ownedFieldsOf.Load(t); ok {
		return f.([]int)
	}
	var out []int
	for _, name := range []string{"ID", "InspectorID", "Version"} {
		if f, ok := t.FieldByName(name); ok {
			out = append(out, f.Index[0])
		}
	}
	ownedFieldsOf.Store(t, out)
	return out
}

var ownedFieldsOf stdsync.Map // reflect.Type → []int

func (p *pushCtx) logData() map[string]string {
	d := map[string]string{"mutation": p.m.ID, "device_seq": strconv.FormatUint(p.m.DeviceSeq, 10)}
	if !p.m.DeviceTime.IsZero() {
		d["device_time"] = p.m.DeviceTime.UTC().Format(time.RFC3339)
	}
	if p.res.ClockSkewS != 0 {
		d["clock_skew_s"] = fmt.Sprint(p.res.ClockSkewS)
	}
	return d
}

func (p *pushCtx) requireVisit(id string) error {
	var v inspector.Visit
	ok, err := getJSON(p.t.Bucket(bucketVisits), []byte(id), &v)
	if err != nil {
		return err
	}
	if !ok || v.InspectorID != p.u.ID {
		return &inspector.Error{Code: inspector.CodeInvalid, Message: "the visit is unknown; push the visit before what belongs to it",
			Fields: []inspector.FieldError{{Field: "payload.visit_id", Code: "unknown", Message: "no visit of yours with this id"}}}
	}
	if v.Deleted {
		return errOrphaned
	}
	p.visitID = id
	if p.complaintID == "" && len(v.ComplaintIDs) > 0 {
		p.complaintID, p.visitComplaints = v.ComplaintIDs[0], v.ComplaintIDs
	}
	return nil
}

func (p *pushCtx) requireComplaint(id string) error {
	if p.t.Bucket(bucketComplaints).Get([]byte(id)) == nil {
		return &inspector.Error{Code: inspector.CodeInvalid, Message: "the complaint is unknown",
			Fields: []inspector.FieldError{{Field: "payload.complaint_id", Code: "unknown", Message: "no complaint with this id"}}}
	}
	return p.requireAssignedOnce(id)
}

// requireAssignedOnce refuses work on a complaint that was never assigned to
// the inspector: their devices could not have held it, and the id may be a guess.
func (p *pushCtx) requireAssignedOnce(complaintID string) error {
	ok, err := wasAssigned(p.t.Tx, complaintID, p.u.ID)
	if err != nil {
		return err
	}
	if !ok {
		return inspector.Errorf(inspector.CodeForbidden, "complaint %s was never assigned to you", complaintID)
	}
	return nil
}

// wasAssigned reports whether the complaint's history routes it to
// inspector: its current assignment, or a change that named them
// (complaint_inspectors).
func wasAssigned(btx *bolt.Tx, complaintID, inspectorID string) (bool, error) {
	if btx.Bucket(bucketComplaintInspectors).Get(joinKey(complaintID, inspectorID)) != nil {
		return true, nil
	}
	// Not in the index: only the complaint's assignment as stored can
	// still say yes (one made without a change naming the inspector).
	var c inspector.Complaint
	ok, err := getJSON(btx.Bucket(bucketComplaints), []byte(complaintID), &c)
	if err != nil || !ok {
		return false, err
	}
	return c.Assignment != nil && c.Assignment.InspectorID == inspectorID, nil
}

// complaintInspectorKey is c's key in complaint_inspectors, or nil: a
// complaint change that names an inspector routes the complaint to them.
func complaintInspectorKey(c Change) []byte {
	who := c.Data["inspector"]
	if c.Kind != KindComplaint || who == "" {
		return nil
	}
	return joinKey(c.ID, who)
}

// indexComplaintInspector keeps complaint_inspectors as c is logged.
func indexComplaintInspector(btx *bolt.Tx, c Change) error {
	if key := complaintInspectorKey(c); key != nil {
		return btx.Bucket(bucketComplaintInspectors).Put(key, nil)
	}
	return nil
}

// indexComplaintInspectors builds complaint_inspectors from the change log,
// for a file written before it existed.
func indexComplaintInspectors(btx *bolt.Tx) error {
	return complaintInspectorsInLog(btx, func(key []byte) error {
		return btx.Bucket(bucketComplaintInspectors).Put(key, nil)
	})
}

// complaintInspectorsInLog calls fn with the complaint_inspectors key of
// every change in the log that has one.
func complaintInspectorsInLog(btx *bolt.Tx, fn func(key []byte) error) error {
	return btx.Bucket(bucketLog).ForEach(func(_, v []byte) error {
		c, err := decodeChange(v)
		if err != nil {
			return fmt.Errorf("change log: %w", err)
		}
		if key := complaintInspectorKey(c); key != nil {
			return fn(key)
		}
		return nil
	})
}

// loadComplaint reads the complaint the mutation names.
func (p *pushCtx) loadComplaint() (inspector.Complaint, error) {
	var c inspector.Complaint
	ok, err := getJSON(p.t.Bucket(bucketComplaints), []byte(p.m.RecordID), &c)
	if err == nil && !ok {
		err = notFound("complaint", p.m.RecordID)
	}
	p.complaintID = c.ID
	return c, err
}

// saveComplaint writes c after a change made from a device.
func (p *pushCtx) saveComplaint(before, c inspector.Complaint, action string, data map[string]string) (uint64, error) {
	for k, v := range p.logData() {
		data[k] = v
	}
	if before.Assignment != nil && before.Assignment.InspectorID != p.u.ID {
		data["assignee"] = before.Assignment.InspectorID // their devices must hear of it
	}
	c.UpdatedAt = p.t.now
	seq, err := p.t.log(KindComplaint, c.ID, action, data)
	if err != nil {
		return 0, err
	}
	c.Version = seq
	if err := p.t.complaintScopes(&before, c, seq); err != nil {
		return 0, err
	}
	return seq, putJSON(p.t.Bucket(bucketComplaints), []byte(c.ID), c)
}

func (p *pushCtx) complaintStart() (Result, error) {
	res := p.res
	res.RecordKind, res.RecordID = KindComplaint, p.m.RecordID
	c, err := p.loadComplaint()
	if err != nil {
		return res, err
	}
	if err := decodeStrict(p.m.Payload, &struct{}{}); err != nil {
		return res, err
	}
	switch {
	case c.Status == inspector.StatusInProgress && c.Assignment != nil && c.Assignment.InspectorID == p.u.ID:
		res.Status, res.Version = StatusApplied, c.Version // already started, perhaps from another device
		return res, nil
	case c.Status != inspector.StatusAssigned || c.Assignment == nil || c.Assignment.InspectorID != p.u.ID:
		return res, inspector.Errorf(inspector.CodeIllegalTransition, "the complaint is no longer assigned to you for work (it is %s)", c.Status)
	}
	before := c
	c.Status = inspector.StatusInProgress
	seq, err := p.saveComplaint(before, c, "started", map[string]string{"from": string(before.Status), "to": string(c.Status)})
	res.Status, res.Version = StatusApplied, seq
	return res, err
}

type escalatePayload struct {
	Reason string `json:"reason"`
}

// complaintEscalate hands a phone-mode complaint back to dispatch for
// routing, because it needs a field visit: it returns to received without
// an assignment (the inspector's devices get a removal, as for a
// reassignment), and the history says why.
func (p *pushCtx) complaintEscalate() (Result, error) {
	res := p.res
	res.RecordKind, res.RecordID = KindComplaint, p.m.RecordID
	c, err := p.loadComplaint()
	if err != nil {
		return res, err
	}
	var in escalatePayload
	if err := decodeStrict(p.m.Payload, &in); err != nil {
		return res, err
	}
	in.Reason = strings.TrimSpace(in.Reason)
	var pr inspector.Problems
	if inspector.IsBlank(in.Reason) {
		pr.Add("payload.reason", "required", "say why the complaint needs a field visit")
	} else if utf8.RuneCountInString(in.Reason) > inspector.MaxNote {
		pr.Add("payload.reason", "too_long", "at most 2000 characters")
	}
	if err := pr.Err(); err != nil {
		return res, err
	}
	if err := inspector.Escalate(c, p.u.ID); err != nil {
		return res, err
	}
	before := c
	c.Status, c.Assignment, c.ReviewFrom = inspector.StatusReceived, nil, ""
	seq, err := p.saveComplaint(before, c, ActionEscalated, map[string]string{"from": string(before.Status), "to": string(c.Status),
		"reason": in.Reason, "previous_inspector": p.u.ID, "mode": string(before.Assignment.Mode)})
	res.Status, res.Version = StatusApplied, seq
	return res, err
}

type outcomePayload struct {
	Outcome   inspector.OutcomeValue `json:"outcome"`
	Statement string                 `json:"statement"`
}

// complaintOutcome applies the policy row "complaint status": the state
// machine decides; an outcome recorded after dispatch reassigned or withdrew
// the complaint is kept on a conflict record and the complaint goes to review.
func (p *pushCtx) complaintOutcome() (Result, error) {
	res := p.res
	res.RecordKind, res.RecordID = KindComplaint, p.m.RecordID
	c, err := p.loadComplaint()
	if err != nil {
		return res, err
	}
	var in outcomePayload
	if err := decodeStrict(p.m.Payload, &in); err != nil {
		return res, err
	}
	var pr inspector.Problems
	if !in.Outcome.Valid() {
		pr.Add("payload.outcome", "invalid", "substantiated, not_substantiated, resolved_on_spot or referred_for_discipline")
	}
	if inspector.IsBlank(in.Statement) {
		pr.Add("payload.statement", "required", "the inspector's statement is required")
	} else if len([]rune(in.Statement)) > inspector.MaxDescription {
		pr.Add("payload.statement", "too_long", "at most 4000 characters")
	}
	if err := pr.Err(); err != nil {
		return res, err
	}
	o := inspector.Outcome{Value: in.Outcome, Statement: strings.TrimSpace(in.Statement), InspectorID: p.u.ID, RecordedAt: p.m.DeviceTime.UTC(), MutationID: p.m.ID}
	before := c
	switch inspector.DecideOutcome(c, p.u.ID, o) {
	case inspector.OutcomeReplay:
		res.Status, res.Version = StatusApplied, c.Version
		return res, nil
	case inspector.OutcomeApply:
		if c.Status == inspector.StatusAssigned {
			c.Status = inspector.StatusInProgress // the inspector resolved it without a separate start
		}
		to := o.Value.Status()
		if err := inspector.Transition(c.Status, to); err != nil {
			return res, err
		}
		c.Status, c.Outcome = to, &o
		seq, err := p.saveComplaint(before, c, "outcome", map[string]string{"from": string(before.Status), "to": string(to), "outcome": string(o.Value)})
		res.Status, res.Version = StatusApplied, seq
		return res, err
	}
	// Review: keep the outcome, and let dispatch decide.
	if err := p.requireAssignedOnce(c.ID); err != nil {
		return res, err
	}
	if c.Status != inspector.StatusNeedsReview {
		if err := inspector.Transition(c.Status, inspector.StatusNeedsReview); err != nil {
			return res, err
		}
	}
	conflict := &Conflict{Label: inspector.LabelConflict, Rule: inspector.RuleNeedsReview, RecordKind: KindComplaint, RecordID: c.ID,
		ComplaintID: c.ID, Field: "outcome", ServerValue: rawJSON(map[string]any{"status": c.Status}), // never the assignment: it may be someone else's now
		DeviceValue: rawJSON(o), Winner: "server", InspectorID: p.u.ID, DeviceID: p.device, MutationID: p.m.ID, DeviceSeq: p.m.DeviceSeq,
		PreviousStatus: reviewFrom(c),
		Message:        fmt.Sprintf("the outcome arrived after dispatch changed the complaint (%s); it is kept for review", c.Status)}
	if err := p.t.recordConflict(conflict, p.s.newID); err != nil {
		return res, err
	}
	if c.Status != inspector.StatusNeedsReview {
		c.Status, c.ReviewFrom = inspector.StatusNeedsReview, before.Status
		if _, err := p.saveComplaint(before, c, "needs_review", map[string]string{"from": string(before.Status), "to": string(c.Status), "conflict": conflict.ID}); err != nil {
			return res, err
		}
	}
	res.Status, res.Rule, res.Version = StatusResolvedByRule, inspector.RuleNeedsReview, conflict.Version
	res.WinningValue = conflict.ServerValue
	res.ConflictIDs = []string{conflict.ID}
	res.Message = conflict.Message
	return res, nil
}

// reviewFrom is the status dispatch had before review: the complaint's own
// when it is not yet under review, or the one it had before it went there.
func reviewFrom(c inspector.Complaint) inspector.Status {
	if c.Status == inspector.StatusNeedsReview && c.ReviewFrom != "" {
		return c.ReviewFrom
	}
	return c.Status
}

// complaintEdit answers a device's edit of complaint fields: dispatch owns
// them all, so dispatch wins, and the device's values are kept for review on
// one conflict record naming every field of the edit.
func (p *pushCtx) complaintEdit() (Result, error) {
	res := p.res
	res.RecordKind, res.RecordID = KindComplaint, p.m.RecordID
	c, err := p.loadComplaint()
	if err != nil {
		return res, err
	}
	if err := p.requireAssignedOnce(c.ID); err != nil {
		return res, err
	}
	var fields map[string]json.RawMessage
	if err := decodeStrict(p.m.Payload, &fields); err != nil {
		return res, err
	}
	if len(fields) == 0 {
		return res, (&inspector.Problems{{Field: "payload", Code: "required", Message: "no fields to edit"}}).Err()
	}
	// The server's values go back to the device only while the complaint is
	// the caller's to work: an inspector it was taken from learns nothing of it.
	var current map[string]any
	if inspector.InScope(c, p.u.ID) {
		current = map[string]any{"assignee": c.Assignment.InspectorID, "priority": c.Priority, "category": c.Category,
			"office_code": c.OfficeCode, "due_at": c.DueAt, "status": c.Status, "description": c.Description}
	}
	winning := map[string]any{}
	names := make([]string, 0, len(fields))
	for f := range fields {
		names = append(names, f)
	}
	slices.Sort(names)
	for _, f := range names {
		if !inspector.DispatchOwnedFields[f] {
			return res, (&inspector.Problems{{Field: "payload." + f, Code: "unknown", Message: "not a complaint field"}}).Err()
		}
	}
	for _, f := range names {
		if current != nil {
			winning[f] = current[f]
		}
	}
	// One record for the mutation, whatever the number of fields it names.
	conflict := &Conflict{Label: inspector.LabelConflict, Rule: inspector.RuleDispatchWins, RecordKind: KindComplaint, RecordID: c.ID,
		ComplaintID: c.ID, Field: strings.Join(names, ","), Winner: "server",
		InspectorID: p.u.ID, DeviceID: p.device, MutationID: p.m.ID, DeviceSeq: p.m.DeviceSeq,
		Message: fmt.Sprintf("%s is set by dispatch; your value was kept for dispatch to review", names[0])}
	if len(names) == 1 {
		conflict.DeviceValue = fields[names[0]]
		if current != nil {
			conflict.ServerValue = rawJSON(current[names[0]])
		}
	} else {
		conflict.DeviceValue = rawJSON(fields)
		if current != nil {
			conflict.ServerValue = rawJSON(winning)
		}
		conflict.Message = fmt.Sprintf("%s are set by dispatch; your values were kept for dispatch to review", strings.Join(names, ", "))
	}
	if err := p.t.recordConflict(conflict, p.s.newID); err != nil {
		return res, err
	}
	res.ConflictIDs = []string{conflict.ID}
	res.Status, res.Rule, res.Version = StatusResolvedByRule, inspector.RuleDispatchWins, c.Version
	if current != nil {
		res.WinningValue = rawJSON(winning)
	}
	res.Message = "dispatch owns these fields; the complaint is unchanged"
	return res, nil
}
