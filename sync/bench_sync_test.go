package sync

// Benchmarks of the offline-first sync path: device pushes through the
// store's group commit, measured against bare one-key writes through bbolt's
// DB.Batch and through the same group commit in the same run, and pulls from
// a small and a large store. Every store is a real bbolt file
// with fsync on. docs/benchmarks.md has the figures and how to read them.
//
//	go test -run '^$' -bench 'RawBatch|Push|Pull' -benchmem ./sync/

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	stdsync "sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	bolt "go.etcd.io/bbolt"

	"github.com/favad/favad/inspector"
)

// benchDevices are the numbers of devices pushing at once.
var benchDevices = []int{1, 64, 512}

// benchRawWindow is how long the push benchmarks measure the raw baseline.
const benchRawWindow = 2 * time.Second

// benchValue is the raw baseline's value: 300 bytes, about one note record.
var benchValue = []byte(strings.Repeat("x", 300))

// benchNoteText is a note's text: at most 300 bytes, cut on a rune boundary.
var benchNoteText = strings.ToValidUTF8(strings.Repeat("مدیر شعبه حاضر نبود؛ ", 14)[:300], "")

// benchOpenRawDB opens a bare bbolt file with the store's options (and
// bbolt's default MaxBatchDelay and MaxBatchSize) and one bucket.
func benchOpenRawDB(b *testing.B) *bolt.DB {
	b.Helper()
	db, err := bolt.Open(filepath.Join(b.TempDir(), "raw.db"), 0o600,
		&bolt.Options{Timeout: time.Second, FreelistType: bolt.FreelistMapType})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucket([]byte("raw"))
		return err
	}); err != nil {
		b.Fatal(err)
	}
	return db
}

// benchRawWriter makes one device's durable raw write: one 300-byte value
// under the next key, in its own call.
type benchRawWriter func(next *atomic.Uint64) error

// The two raw baselines. rawBatch is the issue's: bbolt's DB.Batch as it
// comes. rawGroup writes through the store's own group commit, which commits
// without waiting for company; it is the stricter of the two.
var benchRawWriters = []struct {
	name string
	open func(b *testing.B) (benchRawWriter, *bolt.DB)
}{
	{"batch", func(b *testing.B) (benchRawWriter, *bolt.DB) {
		db := benchOpenRawDB(b)
		return func(next *atomic.Uint64) error {
			key := itob(next.Add(1))
			return db.Batch(func(tx *bolt.Tx) error { return tx.Bucket([]byte("raw")).Put(key, benchValue) })
		}, db
	}},
	{"group", func(b *testing.B) (benchRawWriter, *bolt.DB) {
		db := benchOpenRawDB(b)
		g := newGroupCommit(db, nil)
		return func(next *atomic.Uint64) error {
			key := itob(next.Add(1))
			return g.do(func(tx *bolt.Tx) error { return tx.Bucket([]byte("raw")).Put(key, benchValue) })
		}, db
	}},
}

// benchRawRate has devices goroutines write with write for window on a new
// raw file, db, and returns the writes per second and the pages each commit
// wrote.
func benchRawRate(b *testing.B, devices int, window time.Duration, write benchRawWriter, db *bolt.DB) (rate, pagesPerCommit float64) {
	b.Helper()
	mark := benchMarkCommits(b, db)
	var (
		next   atomic.Uint64
		failed atomic.Value
		wg     stdsync.WaitGroup
	)
	start := time.Now()
	deadline := start.Add(window)
	for range devices {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				if err := write(&next); err != nil {
					failed.Store(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
	rate = float64(next.Load()) / time.Since(start).Seconds()
	_, pagesPerCommit = mark.since(b, db)
	return rate, pagesPerCommit
}

// BenchmarkRawBatch is the baseline: devices goroutines each writing one
// 300-byte value per call, b.N writes in all, through bbolt's DB.Batch
// (kind=batch) and through the store's group commit (kind=group).
func BenchmarkRawBatch(b *testing.B) {
	for _, raw := range benchRawWriters {
		for _, devices := range benchDevices {
			b.Run(fmt.Sprintf("kind=%s/devices=%d", raw.name, devices), func(b *testing.B) {
				write, db := raw.open(b)
				var next atomic.Uint64
				mark := benchMarkCommits(b, db)
				b.ResetTimer()
				start := time.Now()
				benchRunSplit(b, devices, b.N, func(_, n int) error {
					for range n {
						if err := write(&next); err != nil {
							return err
						}
					}
					return nil
				})
				elapsed := time.Since(start)
				b.StopTimer()
				b.ReportMetric(float64(b.N)/elapsed.Seconds(), "writes/s")
				mark.report(b, db, b.N, "writes/commit")
			})
		}
	}
}

// benchRunSplit shares total units of work among devices goroutines and waits
// for them; work gets the goroutine's index and its share.
func benchRunSplit(b *testing.B, devices, total int, work func(dev, n int) error) {
	b.Helper()
	var wg stdsync.WaitGroup
	for d, n := range benchSplit(total, devices) {
		if n == 0 {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := work(d, n); err != nil {
				b.Error(err) // safe from any goroutine; Fatal is not
			}
		}()
	}
	wg.Wait()
	if b.Failed() {
		b.FailNow()
	}
}

// benchDevice is one inspector's phone: a device id, the user, the complaint
// it writes notes on and its mutation counter.
type benchDevice struct {
	user      inspector.User
	id        string
	complaint string
	seq       uint64
}

// noteMutation is the device's next note.create, as the app would build it.
func (d *benchDevice) noteMutation() Mutation {
	d.seq++
	payload, err := json.Marshal(map[string]any{"complaint_id": d.complaint, "text": benchNoteText, "written_at": t0.Format(time.RFC3339)})
	if err != nil {
		panic(err)
	}
	return Mutation{
		ID: uuid.Must(uuid.NewV7()).String(), DeviceSeq: d.seq, Kind: MutNoteCreate,
		RecordID: uuid.Must(uuid.NewV7()).String(), DeviceTime: t0,
		HLC: inspector.Stamp{WallMs: t0.UnixMilli(), Logical: uint32(d.seq)}, Payload: payload,
	}
}

// benchNotes builds counts[d] note.create mutations on each device d, in
// turns (one on each device, then the next round), as devices writing at
// the same time make them: their UUIDv7 ids interleave in time.
func benchNotes(devs []*benchDevice, counts []int) [][]Mutation {
	out := make([][]Mutation, len(devs))
	for more := true; more; {
		more = false
		for d, dev := range devs {
			if len(out[d]) < counts[d] {
				out[d] = append(out[d], dev.noteMutation())
				more = true
			}
		}
	}
	return out
}

// benchPushStore opens a store with a field inspector for each device, up
// to 64 inspectors (512 devices are 8 phones each), each inspector with one
// assigned complaint, and returns the devices. Setup skips fsync; the store
// is durable again when it returns.
func benchPushStore(b *testing.B, devices int) (*Store, []*benchDevice) {
	b.Helper()
	s := mustOpenStore(b)
	var devs []*benchDevice
	benchWithoutSync(b, s, func() {
		seedReference(b, s)
		inspectors := min(devices, 64)
		complaints := make([]string, inspectors)
		users := make([]inspector.User, inspectors)
		for i := range inspectors {
			users[i] = mustCreateUser(b, s, fmt.Sprintf("insp-%03d", i), inspector.RoleInspector, inspector.ModeField)
			c := mustCreateComplaint(b, s, intake(fmt.Sprintf("PUSH-%d", i), "QZ-SSO-01"))
			if _, err := s.Assign(dispatcher, c.ID, inspector.Routing{InspectorID: users[i].ID, Mode: inspector.ModeField}); err != nil {
				b.Fatal(err)
			}
			complaints[i] = c.ID
		}
		out := make([]*benchDevice, devices)
		for d := range devices {
			i := d % inspectors
			out[d] = &benchDevice{user: users[i], id: fmt.Sprintf("device-%03d-%d", i, d/inspectors), complaint: complaints[i]}
		}
		devs = out
	})
	return s, devs
}

// benchWithoutSync runs setup with fsync off, then syncs the file and turns
// fsync back on.
func benchWithoutSync(b *testing.B, s *Store, setup func()) {
	b.Helper()
	s.db.NoSync = true
	setup()
	s.db.NoSync = false
	if err := s.db.Sync(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkPush has devices inspector devices push note.create mutations,
// b.N in all, perPush to a Push call, and reports mutations/s beside the raw
// write rates at the same concurrency, measured first in the same run. ratio
// is mutations/s ÷ raw DB.Batch writes/s (the goal is ≥ 0.25 at 64 devices
// with one mutation a push); group_ratio is mutations/s ÷ raw writes/s
// through the store's own group commit.
func BenchmarkPush(b *testing.B) {
	raw, rawGroup, rawGroupPages := map[int]float64{}, map[int]float64{}, map[int]float64{}
	for _, devices := range benchDevices {
		for _, perPush := range []int{1, 10} {
			b.Run(fmt.Sprintf("devices=%d/per_push=%d", devices, perPush), func(b *testing.B) {
				if _, ok := raw[devices]; !ok {
					write, db := benchRawWriters[0].open(b)
					raw[devices], _ = benchRawRate(b, devices, benchRawWindow, write, db)
					write, db = benchRawWriters[1].open(b)
					rawGroup[devices], rawGroupPages[devices] = benchRawRate(b, devices, benchRawWindow, write, db)
				}
				s, devs := benchPushStore(b, devices)
				// The mutations are built on the devices, before the clock starts.
				pushes := make([][][]Mutation, devices)
				for d, muts := range benchNotes(devs, benchSplit(b.N, devices)) {
					for len(muts) > 0 {
						n := min(len(muts), perPush)
						pushes[d] = append(pushes[d], muts[:n])
						muts = muts[n:]
					}
				}
				mark := benchMarkCommits(b, s.db)
				b.ResetTimer()
				start := time.Now()
				benchRunSplit(b, devices, b.N, func(d, _ int) error {
					dev := devs[d]
					for _, muts := range pushes[d] {
						results, _, err := s.Push(dev.user, dev.id, muts)
						if err != nil {
							return err
						}
						for _, r := range results {
							if r.Status != StatusApplied || r.Replayed {
								return fmt.Errorf("mutation %s: %s %s %s", r.MutationID, r.Status, r.Code, r.Message)
							}
						}
					}
					return nil
				})
				elapsed := time.Since(start)
				b.StopTimer()
				rate := float64(b.N) / elapsed.Seconds()
				b.ReportMetric(rate, "mutations/s")
				b.ReportMetric(raw[devices], "raw_writes/s")
				b.ReportMetric(rate/raw[devices], "ratio")
				b.ReportMetric(rawGroup[devices], "raw_group_writes/s")
				b.ReportMetric(rate/rawGroup[devices], "group_ratio")
				b.ReportMetric(rawGroupPages[devices], "raw_group_pages/commit")
				mark.report(b, s.db, b.N, "muts/commit")
			})
		}
	}
}

// benchCommitMark is where a file's write history stood: the last committed
// transaction and the pages written so far.
type benchCommitMark struct {
	txid  int
	pages int64
}

func benchMarkCommits(b *testing.B, db *bolt.DB) benchCommitMark {
	b.Helper()
	var m benchCommitMark
	if err := db.View(func(tx *bolt.Tx) error { m.txid = tx.ID(); return nil }); err != nil {
		b.Fatal(err)
	}
	st := db.Stats()
	m.pages = st.TxStats.GetWrite()
	return m
}

// report reports what one group commit carried since m: units of work
// (as unit) and pages written, which is what the fsyncs wait for.
func (m benchCommitMark) report(b *testing.B, db *bolt.DB, units int, unit string) {
	b.Helper()
	commits, pages := m.since(b, db)
	if commits == 0 {
		return
	}
	b.ReportMetric(float64(units)/commits, unit)
	b.ReportMetric(pages, "pages/commit")
}

// since returns the commits made since m and the pages each wrote.
func (m benchCommitMark) since(b *testing.B, db *bolt.DB) (commits, pagesPerCommit float64) {
	b.Helper()
	now := benchMarkCommits(b, db)
	commits = float64(now.txid - m.txid)
	if commits == 0 {
		return 0, 0
	}
	return commits, float64(now.pages-m.pages) / commits
}

// benchSplit shares total among n as evenly as it goes, the first ones
// taking the remainder.
func benchSplit(total, n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = total / n
		if i < total%n {
			out[i]++
		}
	}
	return out
}

// benchPullStore is a store built for the pull benchmarks and the inspector
// whose devices pull from it.
type benchPullStore struct {
	s       *Store
	user    inspector.User
	records int    // records in the inspector's full sync
	head    string // the cursor a finished full sync ends with
}

// Scale of the pull stores: the measured inspector's assignments, the
// offices in their province and in one other, the agencies, and the other
// inspectors who share the rest of the complaints.
const (
	benchPullAssigned       = 500
	benchPullReassignedAway = 50
	benchPullOffices        = 1000
	benchPullOtherOffices   = 1000
	benchPullAgencies       = 20
	benchPullInspectors     = 200
)

// benchBuildPullStore builds a store of complaints complaints through the
// store's own methods, with fsync off while it is built. The measured
// inspector gets benchPullAssigned complaints spread over the whole history,
// and benchPullReassignedAway more that dispatch later gave to someone else; of
// the rest, three in five are assigned to other inspectors and the others
// wait for dispatch.
func benchBuildPullStore(b *testing.B, complaints int) *benchPullStore {
	b.Helper()
	s := mustOpenStore(b)
	ps := &benchPullStore{s: s}
	benchWithoutSync(b, s, func() {
		var rows []inspector.OfficeRow
		for i := range benchPullOffices + benchPullOtherOffices {
			o := office(fmt.Sprintf("OF-%05d", i), fmt.Sprintf("AG-%02d", i%benchPullAgencies), fmt.Sprintf("اداره شماره %d", i), "قزوین")
			if i >= benchPullOffices {
				o.Province, o.City = "تهران", "تهران"
			}
			rows = append(rows, inspector.OfficeRow{Line: i + 2, Agency: inspector.Agency{Code: o.AgencyCode, NameFa: "دستگاه " + o.AgencyCode}, Office: o})
		}
		if _, err := s.ImportOffices(admin, rows); err != nil {
			b.Fatal(err)
		}
		ps.user = mustCreateUser(b, s, "measured", inspector.RoleInspector, inspector.ModeField)
		others := make([]inspector.User, benchPullInspectors)
		for i := range others {
			others[i] = mustCreateUser(b, s, fmt.Sprintf("other-%03d", i), inspector.RoleInspector, inspector.ModeField)
		}
		assign := func(id string, u inspector.User) {
			b.Helper()
			if _, err := s.Assign(dispatcher, id, inspector.Routing{InspectorID: u.ID, Mode: inspector.ModeField}); err != nil {
				b.Fatal(err)
			}
		}
		every := complaints / (benchPullAssigned + benchPullReassignedAway)
		mine := 0
		for i := range complaints {
			c := mustCreateComplaint(b, s, intake(fmt.Sprintf("PULL-%d", i), fmt.Sprintf("OF-%05d", i%(benchPullOffices+benchPullOtherOffices))))
			switch {
			case i%every == 0 && mine < benchPullAssigned+benchPullReassignedAway:
				assign(c.ID, ps.user)
				if mine >= benchPullAssigned {
					assign(c.ID, others[i%benchPullInspectors])
				}
				mine++
			case i%5 < 3:
				assign(c.ID, others[i%benchPullInspectors])
			}
		}
	})
	return ps
}

// benchFullSync pulls u's scope from nothing until the server has no more, and
// returns the records and pages it took and the cursor it ends with.
func benchFullSync(s *Store, u inspector.User, limit int) (records, pages int, cursor string, err error) {
	for {
		p, err := s.Pull(u, cursor, limit)
		if err != nil {
			return records, pages, cursor, err
		}
		records, pages, cursor = records+len(p.Records), pages+1, p.Cursor
		if !p.HasMore {
			return records, pages, cursor, nil
		}
	}
}

// benchOpenPullStore builds a pull store and checks that a full sync
// delivers the inspector's whole scope.
func benchOpenPullStore(b *testing.B, complaints int) *benchPullStore {
	b.Helper()
	start := time.Now()
	ps := benchBuildPullStore(b, complaints)
	st, err := ps.s.Stats()
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("store of %d complaints: %d changes, %.0f MB, built in %v",
		complaints, st.Seq, float64(st.SizeBytes)/(1<<20), time.Since(start).Round(time.Second))
	if ps.records, _, ps.head, err = benchFullSync(ps.s, ps.user, MaxPullLimit); err != nil {
		b.Fatal(err)
	}
	if want := benchPullAssigned + benchPullOffices + benchPullAgencies; ps.records != want {
		b.Fatalf("a full sync has %d records, want %d", ps.records, want)
	}
	return ps
}

// benchPullCase is one kind of pull; run does it once and returns the
// pages it took.
type benchPullCase struct {
	name string
	run  func(ps *benchPullStore) (pages int, err error)
}

var benchPullCases = []benchPullCase{
	{"full/limit=500", func(ps *benchPullStore) (int, error) { return benchCheckedFullSync(ps, DefaultPullLimit) }},
	{"full/limit=2000", func(ps *benchPullStore) (int, error) { return benchCheckedFullSync(ps, MaxPullLimit) }},
	{"delta_empty", func(ps *benchPullStore) (int, error) {
		p, err := ps.s.Pull(ps.user, ps.head, DefaultPullLimit)
		if err == nil && (len(p.Records) != 0 || p.HasMore || p.Reset) {
			err = fmt.Errorf("an empty delta has %d records, has_more %v, reset %v", len(p.Records), p.HasMore, p.Reset)
		}
		return 1, err
	}},
}

func benchCheckedFullSync(ps *benchPullStore, limit int) (int, error) {
	n, pages, _, err := benchFullSync(ps.s, ps.user, limit)
	if err == nil && n != ps.records {
		err = fmt.Errorf("a full sync has %d records, want %d", n, ps.records)
	}
	return pages, err
}

// BenchmarkPull measures one inspector's pulls from a store of 1,000 and
// one of 100,000 complaints, each built once. The inspector's scope is the
// same in both: 500 assigned complaints, the 1,000 offices of the province
// and the agencies. full is a first sync (cursor "") paged at limit until
// has_more is false; delta_empty is a pull from the head with nothing new.
// The large store's cases also report x_1000: their time over the same
// case's on a 1,000-complaint store, timed in alternation (benchVersus).
// The goal is x_1000 ≤ 1.5.
func BenchmarkPull(b *testing.B) {
	const small = 1000
	for _, complaints := range []int{small, 100000} {
		b.Run(fmt.Sprintf("complaints=%d", complaints), func(b *testing.B) {
			ps := benchOpenPullStore(b, complaints)
			var ref *benchPullStore
			if complaints != small {
				ref = benchOpenPullStore(b, small)
			}
			for _, c := range benchPullCases {
				b.Run(c.name, func(b *testing.B) {
					b.ReportAllocs()
					pages := 0
					for b.Loop() {
						var err error
						if pages, err = c.run(ps); err != nil {
							b.Fatal(err)
						}
					}
					if strings.HasPrefix(c.name, "full/") {
						b.ReportMetric(float64(ps.records), "records/op")
						b.ReportMetric(float64(pages), "pages/op")
					}
					if ref != nil {
						b.ReportMetric(benchVersus(b, ref, ps, c.run), "x_1000")
					}
				})
			}
		})
	}
}

// benchVersus times run on ref and on ps in alternation, 41 rounds of about
// a millisecond a side, and returns the median time on ps over the median
// on ref. Load from other processes comes and goes; alternating makes it
// fall on both sides alike, where two separate benchmarks would each catch
// a different part of it.
func benchVersus(b *testing.B, ref, ps *benchPullStore, run func(*benchPullStore) (int, error)) float64 {
	b.Helper()
	timeOf := func(on *benchPullStore, n int) time.Duration {
		start := time.Now()
		for range n {
			if _, err := run(on); err != nil {
				b.Fatal(err)
			}
		}
		return time.Since(start)
	}
	n := max(1, int(10*time.Millisecond/timeOf(ref, 10)))
	const rounds = 41
	onRef, onPS := make([]time.Duration, rounds), make([]time.Duration, rounds)
	for i := range rounds {
		if i%2 == 0 {
			onRef[i], onPS[i] = timeOf(ref, n), timeOf(ps, n)
		} else {
			onPS[i], onRef[i] = timeOf(ps, n), timeOf(ref, n)
		}
	}
	slices.Sort(onRef)
	slices.Sort(onPS)
	return float64(onPS[rounds/2]) / float64(onRef[rounds/2])
}
