package server

import (
	"context"
	stdsync "sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/favad/favad/inspector"
)

// loginLimiter bounds login attempts per account and per client address, so
// that guessing passwords is slow without locking anyone out for long.
type loginLimiter struct {
	perAccount, perAddress int
	now                    func() time.Time

	mu      stdsync.Mutex
	buckets map[string]*rate.Limiter
	swept   time.Time
}

func newLoginLimiter(perAccount, perAddress int, now func() time.Time) *loginLimiter {
	return &loginLimiter{perAccount: perAccount, perAddress: perAddress, now: now, buckets: map[string]*rate.Limiter{}}
}

// allow takes one attempt for account and address; if refused it returns how
// long to wait.
func (l *loginLimiter) allow(account, address string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if now.Sub(l.swept) > 10*time.Minute {
		// Full buckets carry no state worth keeping.
		for k, b := range l.buckets {
			if b.TokensAt(now) >= float64(b.Burst()) {
				delete(l.buckets, k)
			}
		}
		l.swept = now
	}
	a := l.bucket("u:"+account, l.perAccount, now)
	b := l.bucket("a:"+address, l.perAddress, now)
	ra, rb := a.ReserveN(now, 1), b.ReserveN(now, 1)
	wait := max(ra.DelayFrom(now), rb.DelayFrom(now))
	if wait > 0 {
		ra.CancelAt(now)
		rb.CancelAt(now)
		return false, wait
	}
	return true, 0
}

func (l *loginLimiter) bucket(key string, perMinute int, now time.Time) *rate.Limiter {
	b, ok := l.buckets[key]
	if !ok {
		b = rate.NewLimiter(rate.Limit(float64(perMinute)/60), perMinute)
		l.buckets[key] = b
	}
	return b
}

// passwordGate bounds the password checks that run at once. An argon2id
// check holds 19 MiB and a core for tens of milliseconds; the per-account and
// per-address limits do not stop a crowd of addresses, each within its own
// limit, from taking the server's memory. A sign-in that cannot start its
// check within wait is answered 503 busy with Retry-After, and the attempt
// it already took from the rate limits is not given back.
type passwordGate struct {
	slots chan struct{}
	wait  time.Duration
}

func newPasswordGate(concurrency int, wait time.Duration) *passwordGate {
	return &passwordGate{slots: make(chan struct{}, concurrency), wait: wait}
}

// enter waits for a free slot; release gives it back.
func (g *passwordGate) enter(ctx context.Context) (release func(), err error) {
	select {
	case g.slots <- struct{}{}:
		return g.leave, nil
	default:
	}
	t := time.NewTimer(g.wait)
	defer t.Stop()
	select {
	case g.slots <- struct{}{}:
		return g.leave, nil
	case <-t.C:
	case <-ctx.Done(): // the client gave up: nobody reads the answer, and it is no server error
	}
	return nil, &rateLimitError{err: inspector.Errorf(codeBusy, "the server is busy signing others in; try again in a moment"), retryAfterSeconds: 1}
}

func (g *passwordGate) leave() { <-g.slots }
