package server

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"slices"
	stdsync "sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// HTTPServer returns an http.Server that serves s as favad serve runs it: a
// client has ReadHeaderTimeout to send a request's headers, a request body
// may go BodyIdleTimeout without a byte (see bodyDeadline), and an idle
// keep-alive connection is closed after 2 minutes. Serve it on
// LimitListener.
func (s *Server) HTTPServer() *http.Server {
	return &http.Server{
		Handler:           s,
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.cfg.Logger.Handler(), slog.LevelWarn),
	}
}

// LimitListener wraps ln so that one client address holds at most
// Config.MaxConnsPerAddr connections at once: a connection past that is
// closed as soon as it is accepted, before a byte of it is read, and counted
// in favad_connections_refused_total. An IPv6 client is counted by its /64,
// which one subscriber usually holds whole. Connections from TrustedProxies
// are not counted: a proxy carries many clients, and bounds them itself.
func (s *Server) LimitListener(ln net.Listener) net.Listener {
	if s.cfg.MaxConnsPerAddr < 0 {
		return ln
	}
	return &connLimiter{Listener: ln, max: s.cfg.MaxConnsPerAddr, trusted: s.cfg.TrustedProxies,
		open: map[netip.Prefix]int{}, refused: s.metrics.connsRefused, logger: s.cfg.Logger}
}

type connLimiter struct {
	net.Listener
	max     int
	trusted []netip.Prefix
	refused prometheus.Counter
	logger  *slog.Logger
	logged  atomic.Int64 // unix seconds of the last refusal logged

	mu   stdsync.Mutex
	open map[netip.Prefix]int
}

// Accept returns the next connection within its address's bound.
func (l *connLimiter) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		key, counted := l.key(c.RemoteAddr())
		if !counted {
			return c, nil
		}
		l.mu.Lock()
		full := l.open[key] >= l.max
		if !full {
			l.open[key]++
		}
		l.mu.Unlock()
		if full {
			c.Close()
			l.refused.Inc()
			l.logRefusal(key)
			continue
		}
		return &countedConn{Conn: c, release: func() { l.release(key) }}, nil
	}
}

func (l *connLimiter) release(key netip.Prefix) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[key]--; l.open[key] <= 0 {
		delete(l.open, key)
	}
}

// key is the address a connection counts against: the client's IPv4
// address or IPv6 /64; counted is false for a trusted proxy or an address
// that is not IP.
func (l *connLimiter) key(a net.Addr) (key netip.Prefix, counted bool) {
	tcp, ok := a.(*net.TCPAddr)
	if !ok {
		return netip.Prefix{}, false
	}
	ip := tcp.AddrPort().Addr().Unmap()
	if slices.ContainsFunc(l.trusted, func(p netip.Prefix) bool { return p.Contains(ip) }) {
		return netip.Prefix{}, false
	}
	bits := 32
	if ip.Is6() {
		bits = 64
	}
	key, err := ip.Prefix(bits)
	return key, err == nil
}

// logRefusal logs a refused connection, at most once a minute, so that a
// flood does not flood the log too; the metric counts every one.
func (l *connLimiter) logRefusal(key netip.Prefix) {
	now := time.Now().Unix()
	if last := l.logged.Load(); now-last >= 60 && l.logged.CompareAndSwap(last, now) {
		l.logger.Warn("connection refused: the address holds the most connections allowed (more refusals within a minute are only counted in favad_connections_refused_total)",
			"address", key.String(), "max_conns_per_addr", l.max)
	}
}

// countedConn gives its place back when it is closed, once.
type countedConn struct {
	net.Conn
	once    stdsync.Once
	release func()
}

func (c *countedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// ReadFrom keeps the connection's own ReadFrom (sendfile for evidence
// downloads), which the wrapper would otherwise hide.
func (c *countedConn) ReadFrom(r io.Reader) (int64, error) { return io.Copy(c.Conn, r) }
