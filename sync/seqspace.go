package sync

import (
	"bytes"
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// migrateSequenceSpaces moves push idempotency from a store before schema 6,
// where it was keyed by device alone, into sequence spaces keyed by
// (account, device). Each device's sequences go to the account that holds
// the device at migration: before schema 6 a handed-over device continued
// one sequence for both accounts, and its holder's app continues it. The
// legacy buckets are dropped.
func migrateSequenceSpaces(btx *bolt.Tx) error {
	oldMuts := btx.Bucket(legacyDeviceMutations)
	if oldMuts == nil {
		return nil // a store from before push idempotency (schema 1)
	}
	owners := map[string]string{}
	err := btx.Bucket(bucketDevices).ForEach(func(k, v []byte) error {
		var d Device
		if err := json.Unmarshal(v, &d); err != nil {
			return fmt.Errorf("decode device %s: %w", k, err)
		}
		owners[string(k)] = d.UserID
		return nil
	})
	if err != nil {
		return err
	}
	// A device id holds no 0x00, so the old key's device is everything
	// before its first 0x00, and the new key is the space followed by the rest.
	respace := func(oldKey []byte) []byte {
		device, rest, _ := bytes.Cut(oldKey, []byte{0})
		k := []byte(seqSpace(owners[string(device)], string(device)))
		if len(oldKey) > len(device) {
			k = append(append(k, 0), rest...)
		}
		return k
	}
	muts := btx.Bucket(bucketDeviceMutations)
	if err := oldMuts.ForEach(func(k, v []byte) error { return muts.Put(respace(k), v) }); err != nil {
		return err
	}
	// Schema 6's buckets, which the migration to schema 8 empties in turn.
	ids, err := btx.CreateBucketIfNotExists(legacyMutationIDs)
	if err != nil {
		return err
	}
	seqs, err := btx.CreateBucketIfNotExists(legacyLastSeq)
	if err != nil {
		return err
	}
	if old := btx.Bucket(legacyDeviceIDs); old != nil {
		if err := old.ForEach(func(k, v []byte) error { return ids.Put(k, respace(v)) }); err != nil {
			return err
		}
	}
	if old := btx.Bucket(legacyDeviceSeq); old != nil {
		if err := old.ForEach(func(k, v []byte) error { return seqs.Put(respace(k), v) }); err != nil {
			return err
		}
	}
	for _, name := range [][]byte{legacyDeviceMutations, legacyDeviceIDs, legacyDeviceSeq} {
		if btx.Bucket(name) != nil {
			if err := btx.DeleteBucket(name); err != nil {
				return err
			}
		}
	}
	return nil
}

// migrateStoredResults rewrites the push answers of seq_mutations in the
// compact form of schema 7, a chunk at a time (a bucket is not changed
// while a cursor walks it).
func migrateStoredResults(btx *bolt.Tx) error {
	muts := btx.Bucket(bucketDeviceMutations)
	type entry struct{ k, v []byte }
	var after []byte
	for {
		var chunk []entry
		c := muts.Cursor()
		k, v := c.First()
		if after != nil {
			if k, v = c.Seek(after); bytes.Equal(k, after) {
				k, v = c.Next()
			}
		}
		for ; k != nil && len(chunk) < 1000; k, v = c.Next() {
			var r storedResult
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("decode push answer %q: %w", k, err)
			}
			nv, err := json.Marshal(r)
			if err != nil {
				return err
			}
			chunk = append(chunk, entry{bytes.Clone(k), nv})
		}
		if len(chunk) == 0 {
			return nil
		}
		for _, e := range chunk {
			if err := muts.Put(e.k, e.v); err != nil {
				return err
			}
		}
		after = chunk[len(chunk)-1].k
	}
}
