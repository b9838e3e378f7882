package client

import (
	"encoding/binary"
	"encoding/json"
	"fmt"

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
	// ledger: mutation id → Entry JSON, every result the server acknowledged.
	bucketLedger = []byte("ledger")

	allBuckets = [][]byte{bucketMeta, bucketQueue, bucketRecords, bucketLedger}

	keySchema   = []byte("schema_version") // 8 bytes
	keyDeviceID = []byte("device_id")      // string, generated once
	keyLastSeq  = []byte("last_seq")       // 8 bytes: the highest device_seq ever assigned
	keyHLC      = []byte("hlc")            // HLC JSON: the clock's last reading
	keyCursor   = []byte("cursor")         // string: the pull cursor; absent before the first pull
	keyRefresh  = []byte("refresh_token")  // string: the current refresh token; absent when signed out
	keyUsername = []byte("username")       // string: the user whose queue, records and token these are
)

// schemaVersion is the layout's version, stored under keySchema.
const schemaVersion uint64 = 1

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
	}
	return nil
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
