package sync

import (
	"bytes"
	"errors"
	"fmt"
	stdsync "sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
)

// RawWriteRate measures the baseline load programs state their push rates
// against (favad storm, docs/benchmarks.md): writers goroutines each put one
// 300-byte value, about one note record, under the next big-endian key of
// one bucket, through the store's group commit, on a new bbolt file at path
// opened with the store's options, for window. It returns durable writes a
// second. The file is left for the caller to remove. It is the kind=group
// baseline of BenchmarkRawBatch, run for a fixed time instead of b.N writes.
func RawWriteRate(path string, writers int, window time.Duration) (float64, error) {
	if writers < 1 || window <= 0 {
		return 0, errors.New("sync: RawWriteRate needs writers ≥ 1 and a positive window")
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, FreelistType: bolt.FreelistMapType})
	if err != nil {
		return 0, fmt.Errorf("raw write rate: %w", err)
	}
	defer db.Close()
	bucket := []byte("raw")
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucket)
		return err
	}); err != nil {
		return 0, fmt.Errorf("raw write rate: %w", err)
	}
	g := newGroupCommit(db, nil)
	value := bytes.Repeat([]byte("x"), 300)
	var (
		next   atomic.Uint64
		failed atomic.Value
		wg     stdsync.WaitGroup
	)
	start := time.Now()
	deadline := start.Add(window)
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				key := itob(next.Add(1))
				if err := g.do(func(tx *bolt.Tx) error { return tx.Bucket(bucket).Put(key, value) }); err != nil {
					failed.Store(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		return 0, fmt.Errorf("raw write rate: %w", err)
	}
	return float64(next.Load()) / time.Since(start).Seconds(), nil
}
