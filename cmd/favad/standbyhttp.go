package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// standbyMetrics is what a standby tells monitoring before it is promoted:
// how old the backup it holds is, and whether its looks at the bucket work.
type standbyMetrics struct {
	registry    *prometheus.Registry
	heldTaken   prometheus.Gauge
	heldSeq     prometheus.Gauge
	lastLook    prometheus.Gauge
	lookFailing prometheus.Counter
}

func newStandbyMetrics() *standbyMetrics {
	m := &standbyMetrics{
		registry: prometheus.NewRegistry(),
		heldTaken: prometheus.NewGauge(prometheus.GaugeOpts{Name: "favad_standby_backup_taken_timestamp_seconds",
			Help: "When the backup the standby holds was taken (Unix seconds); alert when it is older than a few backup intervals."}),
		heldSeq: prometheus.NewGauge(prometheus.GaugeOpts{Name: "favad_standby_backup_sequence",
			Help: "The change-log sequence of the backup the standby holds."}),
		lastLook: prometheus.NewGauge(prometheus.GaugeOpts{Name: "favad_standby_last_look_timestamp_seconds",
			Help: "When the standby last looked at the bucket successfully (Unix seconds)."}),
		lookFailing: prometheus.NewCounter(prometheus.CounterOpts{Name: "favad_standby_look_failures_total",
			Help: "Looks at the bucket or restores that failed; the standby keeps what it holds and tries again."}),
	}
	m.registry.MustRegister(m.heldTaken, m.heldSeq, m.lastLook, m.lookFailing)
	return m
}

// held records the backup the standby holds.
func (m *standbyMetrics) held(st standbyState) {
	if m == nil {
		return
	}
	if !st.Taken.IsZero() {
		m.heldTaken.Set(float64(st.Taken.UnixMilli()) / 1000)
	}
	m.heldSeq.Set(float64(st.Seq))
}

func (m *standbyMetrics) looked() {
	if m != nil {
		m.lastLook.SetToCurrentTime()
	}
}

func (m *standbyMetrics) failed() {
	if m != nil {
		m.lookFailing.Inc()
	}
}

// serveStandbyHealth answers on addr while the standby follows: /healthz
// 200, /readyz 503 "standby" (a load balancer's check sends no traffic to it
// before it is promoted, and all of it after), /metrics the standby's
// figures. The returned stop closes it, so that the promoted server can
// listen on the same address.
func serveStandbyHealth(cfg *serveConfig, m *standbyMetrics, logger *slog.Logger, stdout func(string)) (stop func(), err error) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintln(w, `{"status":"ok"}`)
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, `{"status":"standby"}`)
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{}))
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("standby: listen on %s: %w", cfg.Addr, err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	scheme := "http"
	if cfg.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			ln.Close()
			return nil, fmt.Errorf("TLS: %w", err)
		}
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		ln, scheme = tls.NewListener(ln, srv.TLSConfig), "https"
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("standby health endpoint", "error", err)
		}
	}()
	url := scheme + "://" + displayAddr(ln.Addr())
	logger.Info("standby answers health checks (ready: no) and metrics until promoted", "url", url)
	stdout(fmt.Sprintf("FAVAD standby answering health checks on %s (ready once promoted)\n", url))
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	}, nil
}
