package server

import (
	"fmt"
	"net/http"
	"strconv"
	stdsync "sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/favad/favad/inspector"
)

// Hub holds the open live streams (server-sent events) of inspectors' apps,
// so that a change pokes an open app at once; FCM is the fallback for apps
// that are closed. It satisfies push.Poker.
type Hub struct {
	mu        stdsync.Mutex
	byUser    map[string]map[*stream]bool
	perDevice map[string]int
	open      prometheus.Gauge
}

type stream struct {
	device string
	poke   chan uint64 // holds the latest sequence; a burst coalesces
}

// NewHub returns an empty hub.
func NewHub() *Hub {
	return &Hub{byUser: map[string]map[*stream]bool{}, perDevice: map[string]int{},
		open: prometheus.NewGauge(prometheus.GaugeOpts{Name: "favad_streams_open", Help: "Open live sync streams."})}
}

// Poke wakes every open stream of user.
func (h *Hub) Poke(user string, seq uint64) { h.PokeExcept(user, seq, "") }

// PokeExcept wakes the open streams of user but those of device except, the
// device that made the change and so knows of it.
func (h *Hub) PokeExcept(user string, seq uint64, except string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.byUser[user] {
		if except == "" || s.device != except {
			s.offer(seq)
		}
	}
}

// MaxStreamsPerDevice bounds the live streams one device may hold open, and
// MaxStreamsPerUser those of one user over all devices, so that signing in
// on more device ids does not open streams without end.
const (
	MaxStreamsPerDevice = 2
	MaxStreamsPerUser   = 4
)

// offer leaves seq as the stream's pending poke, replacing an older one, and
// never blocks: a burst becomes one event carrying its latest sequence.
func (s *stream) offer(seq uint64) {
	for {
		select {
		case s.poke <- seq:
			return
		default:
		}
		select {
		case old := <-s.poke:
			seq = max(seq, old)
		default:
		}
	}
}

// join opens a stream for user's device; it refuses one past
// MaxStreamsPerDevice or MaxStreamsPerUser, saying which bound was reached.
func (h *Hub) join(user, device string) (*stream, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.perDevice[device] >= MaxStreamsPerDevice {
		return nil, streamsRefused("this device already holds %d live streams", MaxStreamsPerDevice)
	}
	if len(h.byUser[user]) >= MaxStreamsPerUser {
		return nil, streamsRefused("this user already holds %d live streams on their devices; close one", MaxStreamsPerUser)
	}
	s := &stream{device: device, poke: make(chan uint64, 1)}
	if h.byUser[user] == nil {
		h.byUser[user] = map[*stream]bool{}
	}
	h.byUser[user][s] = true
	h.perDevice[device]++
	h.open.Inc()
	return s, nil
}

// streamsRefused is the 429 for a stream past a bound; a client retries
// after 30 seconds, by when a dropped connection has been noticed.
func streamsRefused(format string, bound int) error {
	return &retryAfterError{err: inspector.Errorf(inspector.CodeRateLimited, format, bound), retryAfterSeconds: 30}
}

func (h *Hub) leave(user string, s *stream) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.byUser[user], s)
	if len(h.byUser[user]) == 0 {
		delete(h.byUser, user)
	}
	if h.perDevice[s.device]--; h.perDevice[s.device] <= 0 {
		delete(h.perDevice, s.device)
	}
	h.open.Dec()
}

// syncStream is GET /v1/sync/stream: a server-sent event "sync" whenever the
// inspector's scope changes, with the change-log sequence as its id. A client
// that reconnects with Last-Event-ID is poked at once if it missed anything.
func (s *Server) syncStream(c echo.Context) error {
	if err := checkProtocol(c); err != nil {
		return err
	}
	p := principal(c)
	st, err := s.hub.join(p.User.ID, p.DeviceID)
	if err != nil {
		return err
	}
	defer s.hub.leave(p.User.ID, st)
	if last := c.Request().Header.Get("Last-Event-ID"); last != "" {
		after, err := strconv.ParseUint(last, 10, 64)
		if err != nil {
			return (&inspector.Problems{{Field: "Last-Event-ID", Code: "invalid", Message: "the id of the last event received"}}).Err()
		}
		if seq, missed, err := s.store.ScopeChangedSince(p.User, after); err != nil {
			return err
		} else if missed {
			st.offer(seq)
		}
	}
	w := c.Response()
	startSSE(w)
	heartbeat := time.NewTicker(s.cfg.StreamHeartbeat)
	defer heartbeat.Stop()
	ctx := c.Request().Context()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.shutdown:
			return nil
		case <-heartbeat.C:
			if !s.streamStillAllowed(c, p) {
				return nil
			}
			if _, err := fmt.Fprintf(w, ": keep-alive\n\n"); err != nil {
				return nil
			}
		case seq := <-st.poke:
			if !s.streamStillAllowed(c, p) {
				return nil
			}
			if _, err := fmt.Fprintf(w, "id: %d\nevent: sync\ndata: {\"seq\":%d}\n\n", seq, seq); err != nil {
				return nil
			}
		}
		w.Flush()
	}
}

// streamStillAllowed rechecks the session of a long-lived stream, so that a
// sign-out, a revoked device or a disabled account ends it too.
func (s *Server) streamStillAllowed(c echo.Context, p *Principal) bool {
	if _, err := s.store.CheckSession(p.SessionID); err != nil {
		s.log(c).Info("live stream ended: the session is no longer valid", "reason", inspector.ErrorCode(err))
		return false
	}
	return true
}

// startSSE sends the headers of a server-sent event stream and the
// client's reconnection delay.
func startSSE(w *echo.Response) {
	h := w.Header()
	h.Set(echo.HeaderContentType, "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	fmt.Fprintf(w, "retry: 5000\n\n")
	w.Flush()
}
