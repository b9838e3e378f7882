package client_test

import (
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/favad/favad/sync/client"
)

// BenchmarkEnqueue measures one durable (fsynced) enqueue.
func BenchmarkEnqueue(b *testing.B) {
	d, err := client.Open(filepath.Join(b.TempDir(), "phone.db"), client.Config{BaseURL: "http://127.0.0.1:1", Username: "field"})
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	n := client.Note{ComplaintID: client.NewID(), Text: "یادداشت", WrittenAt: time.Now()}
	for b.Loop() {
		if _, _, err := d.AddNote(client.NewID(), n); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSyncPush100 measures a Sync that pushes 100 notes of about 300
// bytes to a real server and pulls: as an app that pulls its own writes back
// (old: Config.PullOwnWrites) and as one that builds them from the push
// answers (new: own_writes=omit), alternately in the same run, on two
// devices of the same inspector. pull_B_old/sync and pull_B_new/sync are
// the bytes of the pull answers after the push; pull_ns_old/sync and
// pull_ns_new/sync time that pull (ns/op counts both devices' pushes and
// pulls); B_ratio and ns_ratio are new ÷ old.
func BenchmarkSyncPush100(b *testing.B) {
	e := newEnv(b)
	c := e.complaint("field")
	text := strings.Repeat("کارمند باجه حاضر نبود. ", 8) // 328 bytes
	var devs [2]*client.Client
	var meters [2]*pullMeter
	for i := range devs {
		meters[i] = &pullMeter{base: e.ts.Client().Transport}
		devs[i] = e.device("field", func(cfg *client.Config) {
			cfg.HTTPClient = &http.Client{Transport: meters[i], Timeout: time.Minute}
			cfg.PullOwnWrites = i == 0
		})
		if _, err := devs[i].Sync(ctx); err != nil {
			b.Fatal(err)
		}
	}
	var bytes [2]int64
	var took [2]time.Duration
	for b.Loop() {
		for i, d := range devs {
			b.StopTimer()
			for range 100 {
				if _, _, err := d.AddNote(client.NewID(), client.Note{ComplaintID: c.ID, Text: text, WrittenAt: time.Now()}); err != nil {
					b.Fatal(err)
				}
			}
			// The other device's notes are pulled too: let it catch up
			// first, so that each Sync pulls only what it pushed.
			if _, err := d.Pull(ctx); err != nil {
				b.Fatal(err)
			}
			before := meters[i].read.Load()
			b.StartTimer()
			if rep, err := d.Push(ctx); err != nil || rep.Applied != 100 {
				b.Fatalf("%+v %v", rep, err)
			}
			start := time.Now()
			if _, err := d.Pull(ctx); err != nil {
				b.Fatal(err)
			}
			took[i] += time.Since(start)
			bytes[i] += meters[i].read.Load() - before
		}
	}
	n := float64(b.N)
	b.ReportMetric(float64(bytes[0])/n, "pull_B_old/sync")
	b.ReportMetric(float64(bytes[1])/n, "pull_B_new/sync")
	b.ReportMetric(float64(bytes[1])/float64(max(bytes[0], 1)), "B_ratio")
	b.ReportMetric(float64(took[0].Nanoseconds())/n, "pull_ns_old/sync")
	b.ReportMetric(float64(took[1].Nanoseconds())/n, "pull_ns_new/sync")
	b.ReportMetric(float64(took[1])/float64(max(took[0], 1)), "ns_ratio")
}

// pullMeter is a transport that counts the bytes of pull answers it reads.
type pullMeter struct {
	base http.RoundTripper
	read atomic.Int64
}

func (m *pullMeter) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := m.base.RoundTrip(req)
	if err == nil && req.URL.Path == "/v1/sync/pull" {
		resp.Body = &meteredBody{ReadCloser: resp.Body, n: &m.read}
	}
	return resp, err
}

type meteredBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (b *meteredBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}
