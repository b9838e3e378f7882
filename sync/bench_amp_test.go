package sync

// Write amplification of a push: bytes on disk per note and what each
// bucket holds per note, after benchDiskNotes note.create mutations pushed
// by 64 devices one at a time. docs/benchmarks.md ("Push write
// amplification") has the figures.
//
//	go test -run '^$' -bench 'PushDisk' -benchtime=1x -v ./sync/

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// benchDiskNotes is how many notes BenchmarkPushDisk pushes.
const benchDiskNotes = 10000

// benchBucketSizes is the per-bucket stats of a store, by bucket name.
func benchBucketSizes(b *testing.B, db *bolt.DB) (sizes map[string]bolt.BucketStats, used int64) {
	b.Helper()
	sizes = map[string]bolt.BucketStats{}
	if err := db.View(func(tx *bolt.Tx) error {
		used = tx.Size()
		return tx.ForEach(func(name []byte, bk *bolt.Bucket) error {
			sizes[string(name)] = bk.Stats()
			return nil
		})
	}); err != nil {
		b.Fatal(err)
	}
	return sizes, used
}

// BenchmarkPushDisk pushes benchDiskNotes notes of about 300 bytes from 64
// devices, one mutation a push, and reports the store's size per note:
// disk_B/note is the file's used size (bbolt's high-water mark, pages in
// use and free) over the notes, file_B/note the file's size (which bbolt
// grows in steps), and for each bucket the keys, the bytes in use and the
// bytes of pages it holds, per note (logged). b.N is ignored: run it with
// -benchtime=1x.
func BenchmarkPushDisk(b *testing.B) {
	const devices = 64
	s, devs := benchPushStore(b, devices)
	before, usedBefore := benchBucketSizes(b, s.db)
	fiBefore, err := os.Stat(s.Path())
	if err != nil {
		b.Fatal(err)
	}
	pushes := benchNotes(devs, benchSplit(benchDiskNotes, devices))
	mark := benchMarkCommits(b, s.db)
	b.ResetTimer()
	for range b.N {
		b.StopTimer() // the push is measured by BenchmarkPush; this is about bytes
	}
	benchRunSplit(b, devices, benchDiskNotes, func(d, _ int) error {
		dev := devs[d]
		for _, m := range pushes[d] {
			results, _, err := s.Push(dev.user, dev.id, []Mutation{m})
			if err != nil {
				return err
			}
			if r := results[0]; r.Status != StatusApplied {
				return fmt.Errorf("mutation %s: %s %s %s", r.MutationID, r.Status, r.Code, r.Message)
			}
		}
		return nil
	})
	mark.report(b, s.db, benchDiskNotes, "muts/commit")
	after, usedAfter := benchBucketSizes(b, s.db)
	fiAfter, err := os.Stat(s.Path())
	if err != nil {
		b.Fatal(err)
	}
	st := s.db.Stats()
	b.ReportMetric(float64(usedAfter-usedBefore)/benchDiskNotes, "disk_B/note")
	b.ReportMetric(float64(fiAfter.Size()-fiBefore.Size())/benchDiskNotes, "file_B/note")
	b.ReportMetric(float64(st.FreePageN+st.PendingPageN)*float64(s.db.Info().PageSize)/benchDiskNotes, "free_B/note")
	names := make([]string, 0, len(after))
	for n := range after {
		names = append(names, n)
	}
	slices.Sort(names)
	var inuse, alloc float64
	b.Logf("%-18s %8s %10s %10s %8s", "bucket", "keys", "inuse_B", "alloc_B", "fill")
	for _, n := range names {
		a, p := after[n], before[n]
		keys := float64(a.KeyN-p.KeyN) / benchDiskNotes
		in := float64((a.LeafInuse+a.BranchInuse)-(p.LeafInuse+p.BranchInuse)) / benchDiskNotes
		al := float64((a.LeafAlloc+a.BranchAlloc)-(p.LeafAlloc+p.BranchAlloc)) / benchDiskNotes
		if keys == 0 && al == 0 {
			continue
		}
		inuse, alloc = inuse+in, alloc+al
		fill := 0.0
		if a.LeafAlloc+a.BranchAlloc > 0 {
			fill = float64(a.LeafInuse+a.BranchInuse) / float64(a.LeafAlloc+a.BranchAlloc)
		}
		b.Logf("%-18s %8.2f %10.1f %10.1f %8.2f", n, keys, in, al, fill)
	}
	b.Logf("%-18s %8s %10.1f %10.1f", "all buckets", "", inuse, alloc)
	b.ReportMetric(inuse, "inuse_B/note")
	b.ReportMetric(alloc, "alloc_B/note")
}

// BenchmarkPullOwnEcho measures what a delta pull sends a device back of
// its own writes: one device pushes 100 notes (one push), then pulls from
// the cursor it held before, as an old app (off: PullOptions without the
// device) and as an app that builds its own copies (on: OwnDevice set),
// from the same cursor in the same iteration. own_records_off/op and
// own_B_off/op are the records of that device's own mutations in the old
// page and their JSON bytes, of records_off/op and B_off/op in all;
// records_on/op and B_on/op are the page with the option. B_ratio is on ÷
// off; ns_off/pull and ns_on/pull time the two pulls.
func BenchmarkPullOwnEcho(b *testing.B) {
	s, devs := benchPushStore(b, 1)
	dev := devs[0]
	_, _, cursor, err := benchFullSync(s, dev.user, MaxPullLimit)
	if err != nil {
		b.Fatal(err)
	}
	var own, ownBytes int
	var off, on [2]int // records, bytes
	var offNs, onNs time.Duration
	pageBytes := func(page PullPage) (n int, err error) {
		for _, r := range page.Records {
			raw, err := json.Marshal(r.Record)
			if err != nil {
				return 0, err
			}
			n += len(raw)
		}
		return n, nil
	}
	for b.Loop() {
		b.StopTimer()
		muts := benchNotes(devs, []int{100})[0]
		if _, _, err := s.Push(dev.user, dev.id, muts); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		page, err := s.Pull(dev.user, cursor, MaxPullLimit)
		offNs += time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
		start = time.Now()
		mine, err := s.PullWith(dev.user, cursor, MaxPullLimit, PullOptions{OwnDevice: dev.id})
		onNs += time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if mine.Cursor != page.Cursor {
			b.Fatal("the two pulls end at different cursors")
		}
		own, ownBytes = 0, 0
		if err := s.db.View(func(btx *bolt.Tx) error {
			for _, r := range page.Records {
				raw, err := json.Marshal(r.Record)
				if err != nil {
					return err
				}
				c, ok, err := changeAt(btx, r.Version)
				if err != nil || !ok {
					return fmt.Errorf("change %d: %v", r.Version, err)
				}
				if c.Actor == dev.user.ID && c.Device == dev.id {
					own++
					ownBytes += len(raw)
				}
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		off[0], on[0] = len(page.Records), len(mine.Records)
		if off[1], err = pageBytes(page); err != nil {
			b.Fatal(err)
		}
		if on[1], err = pageBytes(mine); err != nil {
			b.Fatal(err)
		}
		cursor = page.Cursor
		b.StartTimer()
	}
	b.ReportMetric(float64(own), "own_records_off/op")
	b.ReportMetric(float64(off[0]), "records_off/op")
	b.ReportMetric(float64(ownBytes), "own_B_off/op")
	b.ReportMetric(float64(off[1]), "B_off/op")
	b.ReportMetric(float64(on[0]), "records_on/op")
	b.ReportMetric(float64(on[1]), "B_on/op")
	b.ReportMetric(float64(on[1])/float64(max(off[1], 1)), "B_ratio")
	b.ReportMetric(float64(offNs.Nanoseconds())/float64(b.N), "ns_off/pull")
	b.ReportMetric(float64(onNs.Nanoseconds())/float64(b.N), "ns_on/pull")
}
