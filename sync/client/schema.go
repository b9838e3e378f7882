package client

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The local file's layout: every bucket and key encoding, in one place.
var (
	// meta: the device's single values, under the keys below.
	bucketMeta = []byte("meta")
	// queue: device_seq (8 bytes, big-endian) → Mutation JSON. Sorted by key
	// is device order.
	bucketQueue = []byte("queue")
	// records: kind 0x00 id → Record JSON, the device's copy of its scope.
	bucketRecords = []byte("records")
	// ledger: mutation id → Entry JSON, the results the server acknowledged
	// (bounded: see Config.LedgerKeep and Config.LedgerMaxAge).
	bucketLedger = []byte("ledger")
	// ledger_seq: username 0x00 device_seq (8 bytes) → acked at (8 bytes,
	// Unix nanoseconds) followed by the mutation id. The ledger in device
	// order per account, for re-sending to a server that lost it and for pruning.
	bucketLedgerSeq = []byte("ledger_seq")
	// accounts: username → accountState JSON: the sequence position of an
	// account that used this file before the current one took it over.
	bucketAccounts = []byte("accounts")

	allBuckets = [][]byte{bucketMeta, bucketQueue, bucketRecords, bucketLedger, bucketLedgerSeq, bucketAccounts}

	keySchema   = []byte("schema_version") // 8 bytes
	keyDeviceID = []byte("device_id")      // string, generated once
	keyLastSeq  = []byte("last_seq")       // 8 bytes: the highest device_seq ever assigned
	keyHLC      = []byte("hlc")            // HLC JSON: the clock's last reading
	keyCursor   = []byte("cursor")         // string: the pull cursor; absent before the first pull
	keyRefresh  = []byte("refresh_token")  // string: the current refresh token; absent when signed out
	keyUsername = []byte("username")       // string: the user whose queue, records and token these are
	keyAcked    = []byte("acked_through")  // 8 bytes: the highest device_seq the server acknowledged to the current user
)

// schemaVersion is the layout's version, stored under keySchema. 2: the
// ledger_seq index, accounts, and acked_through (sequences per account).
const schemaVersion uint64 = 2

// accountState is where an account's sequence stood when another account
// took the device over: sequences belong to (account, device).
type accountState struct {
	LastSeq      uint64 `json:"last_seq"`
	AckedThrough uint64 `json:"acked_through"`
}

// ledgerSeqKey is username 0x00 device_seq.
func ledgerSeqKey(username string, seq uint64) []byte {
	k := make([]byte, 0, len(username)+9)
	k = append(k, username...)
	k = append(k, 0)
	return append(k, itob(seq)...)
}

// ledgerSeqValue is the acked time (Unix nanoseconds) followed by the mutation id.
func ledgerSeqValue(ackedAt time.Time, mutationID string) []byte {
	return append(itob(uint64(ackedAt.UnixNano())), mutationID...)
}

// splitLedgerSeqValue reads a ledger_seq value.
func splitLedgerSeqValue(v []byte) (ackedAt time.Time, mutationID string) {
	if len(v) < 8 {
		return time.Time{}, string(v)
	}
	return time.Unix(0, int64(btoi(v[:8]))), string(v[8:])
}

// recordKey is kind 0x00 id.
func recordKey(kind, id string) []byte {
	k := make([]byte, 0, len(kind)+1+len(id))
	k = append(k, kind...)
	k = append(k, 0)
	return append(k, id...)
}

func itob(v uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, v)
	return b
}

func btoi(b []byte) uint64 {
	if len(b) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}

func putJSON(b *bolt.Bucket, key []byte, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put(key, raw)
}

// getJSON decodes the value at key into v inside the transaction; ok is false
// when the key is absent.
func getJSON(b *bolt.Bucket, key []byte, v any) (ok bool, err error) {
	raw := b.Get(key)
	if raw == nil {
		return false, nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return true, fmt.Errorf("decode %q: %w", key, err)
	}
	return true, nil
}

// getString copies a string value out of the transaction.
func getString(b *bolt.Bucket, key []byte) string { return string(b.Get(key)) }

// initSchema creates the buckets and checks the schema version.
func initSchema(tx *bolt.Tx) error {
	for _, name := range allBuckets {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return err
		}
	}
	meta := tx.Bucket(bucketMeta)
	switch v := btoi(meta.Get(keySchema)); {
	case meta.Get(keySchema) == nil:
		return meta.Put(keySchema, itob(schemaVersion))
	case v > schemaVersion:
		return ErrSchemaTooNew
	case v < 2:
		if err := migrateLedgerIndex(tx); err != nil {
			return fmt.Errorf("migrate to schema 2: %w", err)
		}
		return meta.Put(keySchema, itob(schemaVersion))
	}
	return nil
}

// migrateLedgerIndex indexes a schema 1 ledger under its owner and sets
// acked_through to the highest sequence the server answered (a too_large
// entry was answered on the device).
func migrateLedgerIndex(tx *bolt.Tx) error {
	meta, idx := tx.Bucket(bucketMeta), tx.Bucket(bucketLedgerSeq)
	owner := getString(meta, keyUsername)
	var acked uint64
	err := tx.Bucket(bucketLedger).ForEach(func(k, v []byte) error {
		var e Entry
		if err := json.Unmarshal(v, &e); err != nil {
			return fmt.Errorf("decode ledger entry: %w", err)
		}
		if e.Result.Code != CodeTooLarge {
			acked = max(acked, e.Mutation.DeviceSeq)
		}
		return idx.Put(ledgerSeqKey(owner, e.Mutation.DeviceSeq), ledgerSeqValue(e.AckedAt, e.Mutation.MutationID))
	})
	if err != nil {
		return err
	}
	return meta.Put(keyAcked, itob(acked))
}

// emptyBucket deletes every key of bucket name.
func emptyBucket(tx *bolt.Tx, name []byte) error {
	if err := tx.DeleteBucket(name); err != nil {
		return err
	}
	_, err := tx.CreateBucket(name)
	return err
}

// resetScope forgets what the device pulled and its session: the records,
// the cursor and the refresh token. The queue, the ledger, the device id, the
// sequence and the clock stay.
func resetScope(tx *bolt.Tx) error {
	if err := emptyBucket(tx, bucketRecords); err != nil {
		return err
	}
	meta := tx.Bucket(bucketMeta)
	if err := meta.Delete(keyCursor); err != nil {
		return err
	}
	return meta.Delete(keyRefresh)
}
