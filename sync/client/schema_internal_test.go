package client

import (
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// A file of schema 1 has a ledger without its sequence index and no
// acked_through: opening it indexes the ledger under its owner and takes
// acked_through from the highest sequence the server answered (a too_large
// entry was answered on the device), so that a restored server is found out
// and the ledger can be re-sent.
func TestSchema1LedgerIsIndexedOnOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "phone.db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	err = db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketMeta, bucketQueue, bucketRecords, bucketLedger} {
			if _, err := tx.CreateBucket(name); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bucketMeta)
		for k, v := range map[string][]byte{"schema_version": itob(1), "device_id": []byte("dev-old-phone"), "username": []byte("field"), "last_seq": itob(3)} {
			if err := meta.Put([]byte(k), v); err != nil {
				return err
			}
		}
		for seq, code := range map[uint64]string{1: "", 2: "", 3: CodeTooLarge} {
			id := NewID()
			e := Entry{Mutation: Mutation{MutationID: id, DeviceSeq: seq, Kind: KindNoteCreate, RecordID: NewID()},
				Result: Result{MutationID: id, DeviceSeq: seq, Status: StatusApplied, Code: code}, AckedAt: at}
			if err := putJSON(tx.Bucket(bucketLedger), []byte(id), e); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()

	c, err := Open(path, Config{BaseURL: "http://127.0.0.1:1", Username: "field", Now: func() time.Time { return at }})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if acked, _ := c.AckedThrough(); acked != 2 {
		t.Errorf("acked_through %d, want 2 (seq 3 never reached the server)", acked)
	}
	batch, _, err := c.ledgerBatch(0, 2, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(batch) != 2 || batch[0].DeviceSeq != 1 || batch[1].DeviceSeq != 2 {
		t.Errorf("re-sendable ledger %+v, want seqs 1 and 2", batch)
	}
}
