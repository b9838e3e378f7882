package sync

import (
	"encoding/binary"
	"errors"
	"time"
)

// SchemaVersion is the layout of the store this build writes. A file with a
// newer version is refused; an older one is migrated on open.
//
// 1: records and the change log. 2: sync scopes (scope_log, scope_members,
// scope_floor), field work, conflicts and push idempotency. 3: evidence.
// 4: push registrations and the user_devices index. 5: tracking codes, the
// due index (SLA watch) and readers' cursors. 6: device sequences belong to
// (account, device): push idempotency is keyed by the pair (seq_*); a visit's
// changes are in the history (record_log) of every complaint it names, and
// the findings and notes recorded on a visit in the visit's history.
// 7: push answers in seq_mutations in a compact form (storedForm), about
// half the bytes. 8: push answers keyed by mutation id (mutations), each
// sequence space's held sequences as ranges (seq_held); seq_mutations keeps
// only the answers to clashes. 9: the index entries a group commit writes
// (record_log, scope_log and scope_members puts) wait in index_behind, in
// order, and go to their places in large batches (indexbehind.go).
const SchemaVersion = 9

// Every bucket, and the layout of its keys and values, is declared here and
// nowhere else. Sequences are 8-byte big-endian so that keys sort in order.
var (
	// meta: string keys → small values (schema version).
	bucketMeta = []byte("meta")
	// log: seq → Change (JSON). The change log; append-only.
	bucketLog = []byte("log")
	// record_log: kind 0x00 id 0x00 seq → empty. Index of a record's changes,
	// for history. Since schema 9 an append-only record (note, finding,
	// call) has no key of its own: its one change is its creation.
	bucketRecordLog = []byte("record_log")
	// complaints: id (UUIDv7, sorts by creation) → inspector.Complaint (JSON).
	bucketComplaints = []byte("complaints")
	// call_ids: call center call id → complaint id. Intake idempotency.
	bucketCallIDs = []byte("call_ids")
	// agencies: code → inspector.Agency (JSON).
	bucketAgencies = []byte("agencies")
	// offices: code → inspector.Office (JSON).
	bucketOffices = []byte("offices")
	// users: id → userRecord (JSON).
	bucketUsers = []byte("users")
	// usernames: lower-case username → user id.
	bucketUsernames = []byte("usernames")
	// devices: device id → Device (JSON).
	bucketDevices = []byte("devices")
	// sessions: session (refresh family) id → Session (JSON).
	bucketSessions = []byte("sessions")
	// refresh_tokens: SHA-256 of the token → refreshToken (JSON).
	bucketRefresh = []byte("refresh_tokens")

	// visits, findings, calls, notes: client id → inspector.Visit, Finding, CallRecord, Note (JSON;
	// since schema 9 a note in its binary form, encodeNote).
	bucketVisits   = []byte("visits")
	bucketFindings = []byte("findings")
	bucketCalls    = []byte("calls")
	bucketNotes    = []byte("notes")
	// conflicts: id (UUIDv7) → Conflict (JSON).
	bucketConflicts = []byte("conflicts")
	// Push idempotency. Device sequences belong to a sequence space, the
	// pair (account, device) (see seqSpace): a device id handed to another
	// account starts a new space, and the previous account's stays.
	//
	// mutations: mutation id → storedResult (JSON, storedForm, with the
	// account it belongs to). The answer a replay of the mutation gets.
	bucketMutations = []byte("mutations")
	// seq_held: user id 0x00 device id → the space's highest sequence seen
	// and the sequences it holds, as ranges (seqState.encode).
	bucketSeqHeld = []byte("seq_held")
	// seq_mutations: user id 0x00 device id 0x00 "clash" 0x00 mutation id 0x00 content hash
	// → storedResult: the answer to a mutation refused because its key was taken (see clashKey).
	// Up to schema 7 also user id 0x00 device id 0x00 device seq → storedResult, every answer.
	bucketDeviceMutations = []byte("seq_mutations")
	// Up to schema 7: seq_mutation_ids: mutation id → where its answer is in
	// seq_mutations; seq_last: user id 0x00 device id → highest device seq held
	// (8 bytes). Migrated into mutations and seq_held.
	legacyMutationIDs = []byte("seq_mutation_ids")
	legacyLastSeq     = []byte("seq_last")
	// The same three keyed by device alone, up to schema 5; migrated into the above.
	legacyDeviceMutations = []byte("device_mutations")
	legacyDeviceIDs       = []byte("mutation_ids")
	legacyDeviceSeq       = []byte("device_seq")
	// scope_log: scope 0x00 seq → scopeEntry (JSON). What changed in each scope, for pulls.
	bucketScopeLog = []byte("scope_log")
	// scope_members: scope 0x00 kind 0x00 id → empty. What each scope holds now, for full syncs.
	bucketScopeMembers = []byte("scope_members")
	// scope_floor: scope → highest seq pruned from its scope_log (8 bytes). Older cursors resync.
	bucketScopeFloor = []byte("scope_floor")

	// evidence: client id → inspector.Evidence (JSON).
	bucketEvidence = []byte("evidence")
	// evidence_chain: complaint id 0x00 chain seq → evidence id. A complaint's hash chain, in order.
	bucketEvidenceChain = []byte("evidence_chain")
	// evidence_uploads: evidence id → uploadedBlob (JSON): bytes that arrived before their record.
	bucketEvidenceUploads = []byte("evidence_uploads")
	// upload_claims: evidence id → inspector id: who may upload bytes for an id not yet recorded.
	bucketUploadClaims = []byte("upload_claims")
	// thumb_queue: evidence id → empty: images waiting for a thumbnail; survives restarts.
	bucketThumbQueue = []byte("thumb_queue")

	// user_devices: user id 0x00 device id → empty. A user's devices, for notifications.
	bucketUserDevices = []byte("user_devices")

	// tracking: tracking code → complaint id. The caller's key to /v1/track.
	bucketTracking = []byte("tracking")
	// due_index: due time (8 bytes, Unix nanoseconds, big-endian) 0x00 complaint id → empty.
	// Open complaints by the due time that applies now and has not been
	// reported as breached; the SLA watch reads it from the oldest.
	bucketDueIndex = []byte("due_index")
	// cursors: reader name → the last change-log sequence it settled (8 bytes).
	bucketCursors = []byte("cursors")
	// enrolments: hex SHA-256 of a one-time device enrolment code → enrolment (JSON).
	// Added without a schema version: init creates the empty bucket in older files.
	bucketEnrolments = []byte("enrolments")

	// open_conflicts: device id 0x00 conflict id → empty. The open conflict
	// records each device's mutations left, for the per-device cap (see
	// MaxOpenConflictsPerDevice). Added without a schema version: a file
	// without it has it built from the conflicts bucket on open.
	bucketOpenConflicts = []byte("open_conflicts")

	// complaint_inspectors: complaint id 0x00 inspector id → empty. Every
	// inspector a complaint's history routed it to (a complaint change whose
	// data names an "inspector"), so that a push checks that its complaint
	// was once theirs without reading the complaint and its history. Added
	// without a schema version: a file without it has it built from the
	// change log on open.
	bucketComplaintInspectors = []byte("complaint_inspectors")

	// index_behind: sequence (8 bytes, the bucket's own) → an index put
	// not yet at its place: one byte naming record_log, scope_log or
	// scope_members, the key's length (uvarint), the key, the value. The
	// group commit appends here instead of scattering a key per inspector
	// and complaint in every commit; readers see these entries merged with
	// the indexes (indexCursor), and they move in batches (flushBehind).
	bucketIndexBehind = []byte("index_behind")

	allBuckets = [][]byte{
		bucketMeta, bucketLog, bucketRecordLog, bucketComplaints, bucketCallIDs,
		bucketAgencies, bucketOffices, bucketUsers, bucketUsernames,
		bucketDevices, bucketSessions, bucketRefresh,
		bucketVisits, bucketFindings, bucketCalls, bucketNotes, bucketConflicts,
		bucketDeviceMutations, bucketMutations, bucketSeqHeld,
		bucketScopeLog, bucketScopeMembers, bucketScopeFloor,
		bucketEvidence, bucketEvidenceChain, bucketEvidenceUploads, bucketUploadClaims, bucketThumbQueue,
		bucketUserDevices, bucketTracking, bucketDueIndex, bucketCursors, bucketEnrolments,
		bucketOpenConflicts, bucketComplaintInspectors, bucketIndexBehind,
	}

	// appendFill is how full bbolt fills a page it splits, for the buckets
	// whose keys arrive in order: the change log by sequence (strictly
	// ascending: pages are filled whole); records and mutation ids by UUIDv7
	// (time-ordered, but devices send them late and in parallel); and the
	// per-record, per-scope and per-device logs, whose keys arrive in order
	// within their prefix (kind id, scope, sequence space) and so land at the
	// end of that prefix's range, in the middle of a page. At bbolt's default
	// (0.5) every split of such a page leaves two half-empty pages, most of
	// which are never filled again. Filling whole pages does not suit keys
	// that land mid-page (the page split off holds the few keys after the
	// insertion and stays small); 0.8 gave the smallest file for a push
	// storm (BenchmarkPushDisk; docs/benchmarks.md, "Push write amplification").
	appendFill = []struct {
		bucket []byte
		fill   float64
	}{
		{bucketLog, 1.0}, {bucketIndexBehind, 1.0}, {bucketMutations, 0.8},
		{bucketNotes, 0.8}, {bucketFindings, 0.8}, {bucketCalls, 0.8}, {bucketEvidence, 0.8},
		{bucketRecordLog, 0.8}, {bucketScopeLog, 0.8}, {bucketScopeMembers, 0.8},
		{bucketDeviceMutations, 0.8}, {bucketEvidenceChain, 0.8},
	}

	keySchemaVersion  = []byte("schema_version")
	keyNotifierCursor = []byte("notifier_cursor") // 8 bytes: the last change-log sequence the notifier settled
	keyHistory        = []byte("history")         // the store's history id (Store.HistoryID)
)

// Record kinds, as written in the change log.
const (
	KindComplaint = "complaint"
	KindAgency    = "agency"
	KindOffice    = "office"
	KindUser      = "user"
	KindDevice    = "device"
	KindSession   = "session"
	KindVisit     = "visit"
	KindFinding   = "finding"
	KindCall      = "call"
	KindNote      = "note"
	KindConflict  = "conflict"
	KindEvidence  = "evidence"
)

// joinKey joins parts with 0x00, which no id or code contains.
func joinKey(parts ...string) []byte {
	n := len(parts)
	for _, p := range parts {
		n += len(p)
	}
	k := make([]byte, 0, n)
	for i, p := range parts {
		if i > 0 {
			k = append(k, 0)
		}
		k = append(k, p...)
	}
	return k
}

// dueKey is due (Unix nanoseconds, big-endian) 0x00 complaint id, sorting by due time.
func dueKey(due time.Time, id string) []byte {
	k := make([]byte, 0, 9+len(id))
	k = binary.BigEndian.AppendUint64(k, uint64(due.UnixNano()))
	k = append(k, 0)
	return append(k, id...)
}

// seqSpace is the sequence space of a device under an account: user id 0x00
// device id. It prefixes the keys of seq_mutations and is the key of seq_held.
func seqSpace(userID, deviceID string) string { return string(joinKey(userID, deviceID)) }

// clashKey is where the answer to a refused key clash is kept, in a
// sequence space. Its last part is not 8 bytes, so it never collides with a
// device sequence key.
func clashKey(space, mutationID, hash string) []byte {
	return joinKey(space, "clash", mutationID, hash)
}

// seqKey is prefix 0x00 seq, sorting by seq within the prefix.
func seqKey(prefix string, seq uint64) []byte {
	k := make([]byte, 0, len(prefix)+9)
	k = append(k, prefix...)
	k = append(k, 0)
	return append(k, itob(seq)...)
}

func itob(v uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, v)
	return b
}

func btoi(b []byte) (uint64, error) {
	if len(b) != 8 {
		return 0, errors.New("sync: sequence key is not 8 bytes")
	}
	return binary.BigEndian.Uint64(b), nil
}

// recordLogKey is kind 0x00 id 0x00 seq.
func recordLogKey(kind, id string, seq uint64) []byte {
	k := recordLogPrefix(kind, id)
	return append(k, itob(seq)...)
}

func recordLogPrefix(kind, id string) []byte {
	k := make([]byte, 0, len(kind)+len(id)+10)
	k = append(k, kind...)
	k = append(k, 0)
	k = append(k, id...)
	return append(k, 0)
}
