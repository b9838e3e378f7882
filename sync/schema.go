package sync

import (
	"encoding/binary"
	"errors"
)

// SchemaVersion is the layout of the store this build writes. A file with a
// newer version is refused; an older one is migrated on open.
const SchemaVersion = 1

// Every bucket, and the layout of its keys and values, is declared here and
// nowhere else. Sequences are 8-byte big-endian so that keys sort in order.
var (
	// meta: string keys → small values (schema version).
	bucketMeta = []byte("meta")
	// log: seq → Change (JSON). The change log; append-only.
	bucketLog = []byte("log")
	// record_log: kind 0x00 id 0x00 seq → empty. Index of a record's changes, for history.
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

	allBuckets = [][]byte{
		bucketMeta, bucketLog, bucketRecordLog, bucketComplaints, bucketCallIDs,
		bucketAgencies, bucketOffices, bucketUsers, bucketUsernames,
		bucketDevices, bucketSessions, bucketRefresh,
	}

	keySchemaVersion = []byte("schema_version")
)

// Record kinds, as written in the change log.
const (
	KindComplaint = "complaint"
	KindAgency    = "agency"
	KindOffice    = "office"
	KindUser      = "user"
	KindDevice    = "device"
	KindSession   = "session"
)

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
