package server

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	favsync "github.com/favad/favad/sync"
)

// metrics is the server's own Prometheus registry, so that several servers in
// one test process do not collide.
type metrics struct {
	registry *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	// connsRefused counts connections closed by LimitListener.
	connsRefused prometheus.Counter
}

func newMetrics(store *favsync.Store) *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "favad_http_requests_total", Help: "HTTP requests by route, method and status.",
		}, []string{"route", "method", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "favad_http_request_duration_seconds", Help: "HTTP request latency by route and method.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route", "method"}),
		connsRefused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "favad_connections_refused_total", Help: "Connections closed unserved: their address held the most connections allowed.",
		}),
	}
	stat := func(f func(favsync.Stats) float64) func() float64 {
		return func() float64 {
			st, err := store.Stats()
			if err != nil {
				return -1
			}
			return f(st)
		}
	}
	m.registry.MustRegister(m.requests, m.latency, m.connsRefused,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "favad_store_size_bytes", Help: "Size of the bbolt data file."},
			stat(func(s favsync.Stats) float64 { return float64(s.SizeBytes) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "favad_changelog_sequence", Help: "Last change-log sequence number."},
			stat(func(s favsync.Stats) float64 { return float64(s.Seq) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "favad_store_index_entries_behind",
			Help: "Index entries of pushes waiting to be moved to their places (about 2,048 at most; 0 when quiet)."},
			stat(func(s favsync.Stats) float64 { return float64(s.IndexBehind) })),
	)
	return m
}

func (m *metrics) observe(method, route string, status int, d time.Duration) {
	m.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(route, method).Observe(d.Seconds())
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}
