package server

import (
	"context"
	"errors"
	"math"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/semaphore"

	"github.com/favad/favad/inspector"
)

// pushGate bounds the mutations the server works on at once, pushes waiting
// for the group commit included. When thousands of phones reconnect at once
// (a restart, a network back in a province) every push would otherwise wait
// in one queue, and the last ones longer than a phone's HTTP timeout: the
// phone gives up, and sends the push again behind the queue it made longer.
// A push that cannot start within wait is answered 503 busy with
// Retry-After, having applied nothing, so that the phone keeps its queue and
// comes back later, while every push the server does take is answered in
// about wait plus the time to apply what is in flight. Waiting pushes are
// admitted in arrival order (semaphore.Weighted is FIFO).
type pushGate struct {
	slots    *semaphore.Weighted
	capacity int64
	wait     time.Duration
	inFlight prometheus.Gauge
	busy     prometheus.Counter
}

func newPushGate(capacity int, wait time.Duration) *pushGate {
	return &pushGate{
		slots: semaphore.NewWeighted(int64(capacity)), capacity: int64(capacity), wait: wait,
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "favad_sync_push_mutations_in_flight", Help: "Mutations of admitted pushes not yet answered.",
		}),
		busy: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "favad_sync_push_busy_total", Help: "Pushes answered 503 busy: they could not start within the push queue wait.",
		}),
	}
}

func (g *pushGate) collectors() []prometheus.Collector {
	return []prometheus.Collector{g.inFlight, g.busy}
}

// enter waits until the push's n mutations may be worked on; release gives
// their room back. A push larger than the whole gate waits for all of it.
func (g *pushGate) enter(ctx context.Context, n int) (release func(), err error) {
	w := min(int64(max(n, 1)), g.capacity)
	wctx, cancel := context.WithTimeout(ctx, g.wait)
	defer cancel()
	if err := g.slots.Acquire(wctx, w); err != nil {
		if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			g.busy.Inc()
		}
		return nil, &retryAfterError{
			err:               inspector.Errorf(codeBusy, "the server is busy with other devices' pushes; nothing of this push was applied: keep it and send it again after Retry-After"),
			retryAfterSeconds: int(math.Ceil(max(g.wait, time.Second).Seconds())),
		}
	}
	g.inFlight.Add(float64(n))
	return func() {
		g.inFlight.Sub(float64(n))
		g.slots.Release(w)
	}, nil
}
