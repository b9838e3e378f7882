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

// signInGuard bounds password guessing without letting a stranger lock an
// account's owner out. It keeps three budgets, each a leaky bucket that
// drains at its size a minute:
//
//   - per address, every attempt (perAddress): one address cannot try many
//     accounts;
//   - per account and address, failed attempts (perAccount): past it, that
//     address is refused for that account, even with the right password;
//   - per account, failed attempts from all addresses together (perAccount):
//     past it the account is under attack, and only addresses without a
//     failure on it in the last quietFor get through — the owner signing in
//     from her own desk does, a guesser that has already failed does not.
//
// A sign-in holds one failure of its account's budgets while its password is
// checked, so that guesses sent at once cannot slip past a budget; a right
// password gives it back and clears its address's failures on the account.
type signInGuard struct {
	perAccount, perAddress float64
	quietFor               time.Duration
	now                    func() time.Time

	mu        stdsync.Mutex
	addresses map[string]*leakyBucket
	accounts  map[string]*leakyBucket
	pairs     map[accountAddress]*pairFailures
	swept     time.Time
}

// signInQuietFor is how long an address must have had no failure on an
// account under attack before it may try that account again.
const signInQuietFor = 15 * time.Minute

type accountAddress struct{ account, address string }

type pairFailures struct {
	leakyBucket
	lastFailure time.Time
}

func newSignInGuard(perAccount, perAddress int, now func() time.Time) *signInGuard {
	return &signInGuard{perAccount: float64(perAccount), perAddress: float64(perAddress), quietFor: signInQuietFor, now: now,
		addresses: map[string]*leakyBucket{}, accounts: map[string]*leakyBucket{}, pairs: map[accountAddress]*pairFailures{}}
}

// begin takes a sign-in attempt on account from address. If refused, it
// returns how long to wait. If allowed, the caller checks the password and
// then calls done with the outcome: done(true) for the right password,
// done(false) for a wrong one; an attempt whose check did not run (the
// server was busy) calls done(true) too, as it guessed nothing.
func (g *signInGuard) begin(account, address string) (done func(right bool), wait time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	g.sweep(now)
	addr := bucketIn(g.addresses, address, now, g.perAddress)
	acct := bucketIn(g.accounts, account, now, g.perAccount)
	key := accountAddress{account, address}
	pair := g.pairs[key]
	if pair == nil {
		pair = &pairFailures{leakyBucket: leakyBucket{at: now}}
		g.pairs[key] = pair
	}
	pair.drain(now, g.perAccount)

	wait = max(addr.waitFor(g.perAddress), pair.waitFor(g.perAccount))
	if recent := pair.lastFailure.Add(g.quietFor); acct.waitFor(g.perAccount) > 0 && now.Before(recent) {
		wait = max(wait, min(acct.waitFor(g.perAccount), recent.Sub(now)))
	}
	if wait > 0 {
		return nil, wait
	}
	addr.level++
	acct.level++
	pair.level++
	var once stdsync.Once
	return func(right bool) {
		once.Do(func() {
			g.mu.Lock()
			defer g.mu.Unlock()
			if !right {
				pair.lastFailure = g.now()
				return
			}
			acct.level = max(0, acct.level-1)
			pair.level, pair.lastFailure = 0, time.Time{}
		})
	}, 0
}

// sweep drops, every 10 minutes, the state that no longer holds anything back.
func (g *signInGuard) sweep(now time.Time) {
	if now.Sub(g.swept) < 10*time.Minute {
		return
	}
	g.swept = now
	for k, b := range g.addresses {
		if b.drain(now, g.perAddress); b.level == 0 {
			delete(g.addresses, k)
		}
	}
	for k, b := range g.accounts {
		if b.drain(now, g.perAccount); b.level == 0 {
			delete(g.accounts, k)
		}
	}
	for k, p := range g.pairs {
		if p.drain(now, g.perAccount); p.level == 0 && now.Sub(p.lastFailure) >= g.quietFor {
			delete(g.pairs, k)
		}
	}
}

// leakyBucket counts events that leak away at a steady rate: level is what
// is left at time at.
type leakyBucket struct {
	level float64
	at    time.Time
}

// drain lets the level leak until now, at size a minute.
func (b *leakyBucket) drain(now time.Time, size float64) {
	if now.After(b.at) {
		b.level = max(0, b.level-now.Sub(b.at).Minutes()*size)
		b.at = now
	}
}

// waitFor is how long until one more event fits under size; 0 if it does now.
func (b *leakyBucket) waitFor(size float64) time.Duration {
	over := b.level + 1 - size
	if over <= 0 {
		return 0
	}
	return time.Duration(over / size * float64(time.Minute))
}

// bucketIn returns the bucket of key in m, drained until now.
func bucketIn(m map[string]*leakyBucket, key string, now time.Time, size float64) *leakyBucket {
	b := m[key]
	if b == nil {
		b = &leakyBucket{at: now}
		m[key] = b
	}
	b.drain(now, size)
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
	return nil, &retryAfterError{err: inspector.Errorf(codeBusy, "the server is busy signing others in; try again in a moment"), retryAfterSeconds: 1}
}

func (g *passwordGate) leave() { <-g.slots }
