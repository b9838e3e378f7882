package push

// Benchmarks of the push path against the local FCM endpoint:
//
//	go test -run '^$' -bench . -benchtime 3x ./push/
//
// BenchmarkFanout sends one office change to 10,000 registered devices
// (1,000 inspectors of one province × 10 devices) through the notifier and
// the real firebase-admin-go client; its raw-http sub-benchmark POSTs the
// same bodies to the same endpoint with SendEach's concurrency (50 workers),
// the ceiling the client could reach. BenchmarkNotifierLag runs 64 devices
// pushing note.create for 5s while the notifier tails the log.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"slices"
	stdsync "sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/favad/favad/inspector"
	favsync "github.com/favad/favad/sync"
)

const (
	fanInspectors = 1000
	fanDevices    = 10 // per inspector
	fanWorkers    = 50 // SendEach's concurrency
)

// benchDir is where benchmark stores live: FAVAD_BENCH_DIR, or a temporary
// directory on the test's disk.
func benchDir(b *testing.B) string {
	if d := os.Getenv("FAVAD_BENCH_DIR"); d != "" {
		dir, err := os.MkdirTemp(d, "favad-bench-")
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { os.RemoveAll(dir) })
		return dir
	}
	return b.TempDir()
}

// heapPeak samples the heap in use until stopped and returns the peak.
func heapPeak() (stop func() uint64) {
	var peak atomic.Uint64
	done := make(chan struct{})
	finished := make(chan struct{})
	sample := func() {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		for {
			p := peak.Load()
			if ms.HeapInuse <= p || peak.CompareAndSwap(p, ms.HeapInuse) {
				return
			}
		}
	}
	go func() {
		defer close(finished)
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				sample()
				return
			case <-t.C:
				sample()
			}
		}
	}()
	return func() uint64 { close(done); <-finished; return peak.Load() }
}

func heapInuse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

func totalAlloc() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.TotalAlloc
}

func BenchmarkFanout(b *testing.B) {
	fx := newFixture(b, benchDir(b), false)
	setup := time.Now()
	var users []string
	for i := range fanInspectors {
		u := fx.inspector(fmt.Sprintf("insp-%04d", i), inspector.ModeField)
		users = append(users, u.ID)
		for d := range fanDevices {
			platform := "android"
			if d%3 == 0 {
				platform = "ios"
			}
			id := fmt.Sprintf("dev-%04d-%d", i, d)
			fx.device(u, id, platform, "tok-"+id)
		}
	}
	b.Logf("setup: %d inspectors × %d devices in %v", fanInspectors, fanDevices, time.Since(setup).Round(time.Millisecond))
	targets, err := fx.store.PushTargets(users, favsync.DefaultTokenStaleAfter)
	if err != nil || len(targets) != fanInspectors*fanDevices {
		b.Fatalf("%d targets, %v", len(targets), err)
	}
	fcm := newFakeFCM(b)
	fcm.light = true
	office := 0
	touchOffice := func() {
		o, err := fx.store.Office(officeQZ)
		if err != nil {
			b.Fatal(err)
		}
		office++
		o.Phone = fmt.Sprintf("028-3300%04d", office)
		if _, _, err := fx.store.PutOffice(favsync.System, o); err != nil {
			b.Fatal(err)
		}
	}
	want := int64(len(targets))

	b.Run("notifier+fcm", func(b *testing.B) {
		if err := fx.store.SaveNotifierCursor(fx.head()); err != nil {
			b.Fatal(err)
		}
		r := start(b, fx.store, fcm.sender(b), func(n *Notifier) { n.Window, n.Poll = 10*time.Millisecond, 10*time.Millisecond })
		settle(b, fx.store, 10*time.Second)
		base := heapInuse()
		alloc0 := totalAlloc()
		var peak uint64
		var elapsed time.Duration
		b.ResetTimer()
		for range b.N {
			fcm.count.Store(0)
			stop := heapPeak()
			began := time.Now()
			touchOffice()
			for fcm.count.Load() < want {
				time.Sleep(time.Millisecond)
			}
			elapsed += time.Since(began)
			peak = max(peak, stop())
			b.StopTimer()
			settle(b, fx.store, 30*time.Second)
			b.StartTimer()
		}
		b.StopTimer()
		sent := counter(r.n.Metrics.Sent.WithLabelValues("sync"))
		if sent != float64(want)*float64(b.N) {
			b.Fatalf("sent %v, want %d", sent, want*int64(b.N))
		}
		b.ReportMetric(float64(want)*float64(b.N)/elapsed.Seconds(), "sends/s")
		b.ReportMetric(float64(peak-min(peak, base))/(1<<20), "peak-heap-MB")
		b.ReportMetric(float64(totalAlloc()-alloc0)/float64(b.N)/(1<<20), "alloc-MB/op")
		r.stop(b)
	})

	b.Run("raw-http", func(b *testing.B) {
		builder := &FCMSender{TTLs: DefaultTTLs()}
		bodies := make([][]byte, len(targets))
		for i, t := range targets {
			m := builder.build(Message{DeviceID: t.DeviceID, Token: t.Token, Platform: t.Platform, Kind: KindSync, Seq: fx.head()})
			body, err := json.Marshal(map[string]any{"message": m})
			if err != nil {
				b.Fatal(err)
			}
			bodies[i] = body
		}
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = 100 // as google.golang.org/api/transport does
		client := &http.Client{Transport: tr}
		url := fcm.ts.URL + sendPath
		base := heapInuse()
		alloc0 := totalAlloc()
		var peak uint64
		var elapsed time.Duration
		b.ResetTimer()
		for range b.N {
			stop := heapPeak()
			began := time.Now()
			jobs := make(chan []byte, len(bodies))
			for _, body := range bodies {
				jobs <- body
			}
			close(jobs)
			var wg stdsync.WaitGroup
			for range fanWorkers {
				wg.Go(func() {
					for body := range jobs {
						resp, err := client.Post(url, "application/json", bytes.NewReader(body))
						if err != nil {
							b.Error(err)
							return
						}
						var out struct{ Name string }
						json.NewDecoder(resp.Body).Decode(&out)
						resp.Body.Close()
					}
				})
			}
			wg.Wait()
			elapsed += time.Since(began)
			peak = max(peak, stop())
		}
		b.StopTimer()
		b.ReportMetric(float64(want)*float64(b.N)/elapsed.Seconds(), "sends/s")
		b.ReportMetric(float64(peak-min(peak, base))/(1<<20), "peak-heap-MB")
		b.ReportMetric(float64(totalAlloc()-alloc0)/float64(b.N)/(1<<20), "alloc-MB/op")
	})
}

// lagStore records, for every change the notifier reads, how long after its
// commit it was read.
type lagStore struct {
	*favsync.Store
	mu   stdsync.Mutex
	lags []time.Duration
}

func (s *lagStore) Changes(after uint64, limit int) ([]favsync.Change, error) {
	chs, err := s.Store.Changes(after, limit)
	now := time.Now()
	s.mu.Lock()
	for _, ch := range chs {
		s.lags = append(s.lags, now.Sub(ch.At))
	}
	s.mu.Unlock()
	return chs, err
}

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, int(float64(len(s))*p))]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// BenchmarkNotifierLag: 64 devices push note.create for 5s while the notifier,
// with the production timings (Window 2s, Poll 250ms), tails the log and
// sends through the real client. Each note owes the inspector's other device
// a tickle.
func BenchmarkNotifierLag(b *testing.B) {
	const writers = 64
	storm := 5 * time.Second
	if s := os.Getenv("FAVAD_BENCH_STORM"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			b.Fatal(err)
		}
		storm = d
	}
	fx := newFixture(b, benchDir(b), true)
	type writer struct {
		user      inspector.User
		device    string
		complaint string
		seq       uint64
	}
	ws := make([]*writer, writers)
	for i := range ws {
		u := fx.inspector(fmt.Sprintf("storm-%02d", i), inspector.ModeField)
		fx.device(u, fmt.Sprintf("storm-%02d-a", i), "android", fmt.Sprintf("tok-storm-%02d-a", i))
		fx.device(u, fmt.Sprintf("storm-%02d-b", i), "ios", fmt.Sprintf("tok-storm-%02d-b", i))
		c := fx.complaint(officeQZ, inspector.PriorityNormal)
		fx.assign(c, u)
		ws[i] = &writer{user: u, device: fmt.Sprintf("storm-%02d-a", i), complaint: c.ID}
	}
	fcm := newFakeFCM(b)
	fcm.light = true
	ls := &lagStore{Store: fx.store}
	if err := fx.store.SaveNotifierCursor(fx.head()); err != nil {
		b.Fatal(err)
	}

	for range b.N {
		ls.mu.Lock()
		ls.lags = nil
		ls.mu.Unlock()
		fcm.count.Store(0)
		r := start(b, ls, fcm.sender(b), func(n *Notifier) { n.Window, n.Poll = 2*time.Second, 250*time.Millisecond })
		var gauge []time.Duration
		var behind []float64
		sampling := make(chan struct{})
		sampled := make(chan struct{})
		go func() {
			defer close(sampled)
			t := time.NewTicker(10 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-sampling:
					return
				case <-t.C:
					gauge = append(gauge, time.Duration(counter(r.n.Metrics.LagSeconds)*float64(time.Second)))
					behind = append(behind, counter(r.n.Metrics.LagSeqs))
				}
			}
		}()
		var pushes atomic.Int64
		ctx, cancel := context.WithTimeout(context.Background(), storm)
		var wg stdsync.WaitGroup
		b.ResetTimer()
		for _, w := range ws {
			wg.Go(func() {
				for ctx.Err() == nil {
					w.seq++
					if _, _, err := fx.store.Push(w.user, w.device, []favsync.Mutation{noteMutation(w.seq, w.complaint, "یادداشت بازرس")}); err != nil {
						b.Error(err)
						return
					}
					pushes.Add(1)
				}
			})
		}
		wg.Wait()
		cancel()
		settle(b, fx.store, 30*time.Second)
		b.StopTimer()
		close(sampling)
		<-sampled
		r.stop(b)

		ls.mu.Lock()
		lags := ls.lags
		ls.mu.Unlock()
		b.ReportMetric(float64(pushes.Load())/storm.Seconds(), "pushes/s")
		b.ReportMetric(ms(percentile(lags, 0.5)), "read-lag-p50-ms")
		b.ReportMetric(ms(percentile(lags, 0.99)), "read-lag-p99-ms")
		b.ReportMetric(ms(slices.Max(lags)), "read-lag-max-ms")
		b.ReportMetric(ms(percentile(gauge, 0.5)), "gauge-lag-p50-ms")
		b.ReportMetric(ms(slices.Max(gauge)), "gauge-lag-max-ms")
		b.ReportMetric(slices.Max(behind), "max-changes-behind")
		b.ReportMetric(float64(fcm.count.Load()), "fcm-sends")
		b.ReportMetric(0, "ns/op")
	}
}
