package flaky_test

import (
	"bytes"
	"fmt"
	"net"
	"strings"
	stdsync "sync"
	"sync/atomic"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/Shopify/toxiproxy/v2/stream"
	"github.com/Shopify/toxiproxy/v2/toxics"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"
)

// A network profile is the toxics on each direction of a link; up is from
// the device to the server.
type profile struct {
	name string
	// latencyMs and jitterMs delay each direction; rateKBs bounds each
	// direction's bandwidth (0: unbounded).
	latencyMs, jitterMs, rateKBs int64
	// cutUp and cutDown, when set, reset an upload connection once it has
	// carried that many bytes from the device (up) or to it (down), as
	// toxiproxy's limit_data does, so a connection lives for a few seconds
	// of traffic. syncCutUp and syncCutDown are the same for sync
	// connections.
	cutUp, cutDown, syncCutUp, syncCutDown int64
	// loseAnswers is how many push answers are lost: their connection is
	// cut just before the answer reaches the device, after the server
	// applied the push.
	loseAnswers int64
	// cutEvery, when set, resets every open connection at that interval,
	// as a handover between cells does, whatever it carries.
	cutEvery time.Duration
	// visits in the shift; shortVisits under -short.
	visits, shortVisits int
}

var (
	// baseline is the same shift through the same proxies without toxics:
	// the bytes a perfect network would carry.
	baseline = profile{name: "baseline", visits: 2, shortVisits: 2}
	// edge is a 2G/EDGE link: 200±100 ms each way (round trips of
	// 200–600 ms, 400 on average) and 30 KB/s.
	edge = profile{name: "EDGE", latencyMs: 200, jitterMs: 100, rateKBs: 30, visits: 2, shortVisits: 1}
	// threeG is a 3G link: 50 ms each way and 200 KB/s.
	threeG = profile{name: "3G", latencyMs: 50, jitterMs: 10, rateKBs: 200, visits: 2, shortVisits: 2}
	// cuts is a 3G link at half its bandwidth whose connections are all
	// reset every 2 s, and each after 96 KB sent or 48 KB received while
	// uploading (about once a second while a photo goes up), or 8 KB either
	// way while syncing (every few requests, mid-request or mid-answer).
	cuts = profile{name: "cuts", latencyMs: 50, jitterMs: 10, rateKBs: 100, cutUp: 96 << 10, cutDown: 48 << 10,
		syncCutUp: 8 << 10, syncCutDown: 8 << 10, cutEvery: 2 * time.Second, loseAnswers: 2, visits: 2, shortVisits: 2}
)

// meter counts the bytes that enter one direction of a proxy, and the
// connections the profile cut on it.
type meter struct {
	bytes atomic.Int64
	cuts  atomic.Int64
	drops atomic.Int64 // chunks dropped with their connection (DropOn)
}

var (
	metersMu stdsync.Mutex
	meters   = map[string]*meter{}
)

func meterNamed(name string) *meter {
	metersMu.Lock()
	defer metersMu.Unlock()
	m, ok := meters[name]
	if !ok {
		m = &meter{}
		meters[name] = m
	}
	return m
}

// cutter resets connections when the test fires it.
type cutter struct {
	mu stdsync.Mutex
	ch chan struct{}
}

var (
	cuttersMu stdsync.Mutex
	cutters   = map[string]*cutter{}
)

func cutterNamed(name string) *cutter {
	cuttersMu.Lock()
	defer cuttersMu.Unlock()
	c, ok := cutters[name]
	if !ok {
		c = &cutter{ch: make(chan struct{})}
		cutters[name] = c
	}
	return c
}

// next is closed at the next cut.
func (c *cutter) next() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ch
}

func (c *cutter) fire() {
	c.mu.Lock()
	defer c.mu.Unlock()
	close(c.ch)
	c.ch = make(chan struct{})
}

// meterToxic is a toxic of this package: it passes data on unchanged,
// counting it into the meter it names. Put first on a direction, it counts
// what the sender put on the wire. CutAt, when set, closes the connection
// once that many bytes went through, as toxiproxy's limit_data does (which
// cannot be used here: it reads a chunk after handing it to the next toxic,
// a data race with the bandwidth toxic under -race); that is one cut.
// Cutter, when set, names a cutter at whose firing the toxic closes the
// connection; that is one cut if the connection carried data in the last
// second. DropOn, when set, drops the first DropTimes chunks that contain
// it and closes their connections (cuts too): an answer lost on the way.
type meterToxic struct {
	Meter     string `json:"meter"`
	CutAt     int64  `json:"cut_at"`
	Cutter    string `json:"cutter"`
	DropOn    string `json:"drop_on"`
	DropTimes int64  `json:"drop_times"`
}

type meterState struct {
	n    int64
	last time.Time
}

func (t *meterToxic) NewState() any { return new(meterState) }

func (t *meterToxic) Pipe(stub *toxics.ToxicStub) {
	m, st := meterNamed(t.Meter), stub.State.(*meterState)
	var cut <-chan struct{} // nil: never
	if t.Cutter != "" {
		cut = cutterNamed(t.Cutter).next()
	}
	reset := func() {
		if time.Since(st.last) < time.Second {
			m.cuts.Add(1)
		}
		stub.Close()
	}
	for {
		select {
		case <-stub.Interrupt:
			return
		case <-cut:
			reset()
			return
		case c := <-stub.Input:
			if c == nil {
				stub.Close()
				return
			}
			if t.DropOn != "" && bytes.Contains(c.Data, []byte(t.DropOn)) && m.drops.Add(1) <= t.DropTimes {
				m.bytes.Add(int64(len(c.Data)))
				m.cuts.Add(1)
				stub.Close()
				return
			}
			over := t.CutAt > 0 && st.n+int64(len(c.Data)) >= t.CutAt
			if over { // pass on what fits, then cut
				c = &stream.StreamChunk{Data: c.Data[:t.CutAt-st.n], Timestamp: c.Timestamp}
			}
			st.n += int64(len(c.Data))
			st.last = time.Now()
			m.bytes.Add(int64(len(c.Data)))
			select {
			case stub.Output <- c:
			case <-cut:
				reset()
				return
			case <-stub.Interrupt:
				return
			}
			if over {
				m.cuts.Add(1)
				stub.Close()
				return
			}
		}
	}
}

func init() { toxics.Register("favad_meter", new(meterToxic)) }

// link is one toxiproxy proxy in front of the server, with its meters.
type link struct {
	proxy    *toxiproxy.Proxy
	up, down *meter
}

// URL is the proxy's address as a base URL.
func (l *link) URL() string { return "http://" + l.proxy.Listen }

// linkCuts are a link's own cuts: its byte limits each way, and what
// answers it loses.
type linkCuts struct {
	up, down  int64
	drop      string
	dropTimes int64
}

// startLink starts a toxiproxy proxy to upstream (host:port) with profile
// p's toxics and its own cuts, until the test ends.
func startLink(t *testing.T, api *toxiproxy.ApiServer, name, upstream string, p profile, lc linkCuts) *link {
	t.Helper()
	proxy := toxiproxy.NewProxy(api, name, "127.0.0.1:0", upstream)
	id := t.Name() + "/" + name
	l := &link{proxy: proxy, up: meterNamed(id + "/up"), down: meterNamed(id + "/down")}
	add := func(stream, typ string, attrs string) {
		_, err := proxy.Toxics.AddToxicJson(strings.NewReader(
			fmt.Sprintf(`{"name":%q,"type":%q,"stream":%q,"attributes":%s}`, typ+"_"+stream, typ, stream, attrs)))
		require.NoError(t, err)
	}
	cutterName := ""
	if p.cutEvery > 0 {
		cutterName = id
		c := cutterNamed(cutterName)
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			tick := time.NewTicker(p.cutEvery)
			defer tick.Stop()
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
					c.fire()
				}
			}
		}()
		t.Cleanup(func() { close(stop); <-done })
	}
	for _, dir := range []struct {
		stream    string
		cut       int64
		m         string
		cutter    string // the upstream direction only: closing it closes the connection
		drop      string // answers: downstream
		dropTimes int64
	}{{"upstream", lc.up, id + "/up", cutterName, "", 0}, {"downstream", lc.down, id + "/down", "", lc.drop, lc.dropTimes}} {
		add(dir.stream, "favad_meter", fmt.Sprintf(`{"meter":%q,"cut_at":%d,"cutter":%q,"drop_on":%q,"drop_times":%d}`,
			dir.m, dir.cut, dir.cutter, dir.drop, dir.dropTimes))
		if p.latencyMs > 0 {
			add(dir.stream, "latency", fmt.Sprintf(`{"latency":%d,"jitter":%d}`, p.latencyMs, p.jitterMs))
		}
		if p.rateKBs > 0 {
			add(dir.stream, "bandwidth", fmt.Sprintf(`{"rate":%d}`, p.rateKBs))
		}
	}
	require.NoError(t, proxy.Start())
	t.Cleanup(proxy.Stop)
	return l
}

// newToxiproxy is an in-process toxiproxy (no HTTP API: the test adds its
// toxics directly), logging nothing.
func newToxiproxy() *toxiproxy.ApiServer {
	return toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
}

// hostPort is the host:port of a base URL.
func hostPort(t *testing.T, baseURL string) string {
	t.Helper()
	host := strings.TrimPrefix(baseURL, "http://")
	_, _, err := net.SplitHostPort(host)
	require.NoError(t, err)
	return host
}
