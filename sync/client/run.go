package client

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"
)

// Run syncs every interval until ctx ends, and returns ctx's error. After a
// failed Sync it waits with exponential backoff and full jitter (a random
// wait up to BackoffBase·2ⁿ, capped at BackoffCap, after the server's
// Retry-After if it sent one) instead of the interval. Kick wakes it early.
func (c *Client) Run(ctx context.Context, interval time.Duration) error {
	failures := 0
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		rep, err := c.Sync(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if c.cfg.OnSync != nil {
			c.cfg.OnSync(rep, err)
		}
		wait := interval
		if err != nil {
			failures++
			wait = c.backoff(failures, err)
			c.log.Info("sync failed; backing off", "error", err, "failures", failures, "wait", wait)
		} else {
			failures = 0
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-c.kick:
			timer.Stop() // since Go 1.23, a stopped timer delivers no stale tick
		case <-timer.C:
		}
	}
}

// Kick asks Run to sync now, as a push notification would.
func (c *Client) Kick() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// backoff is the wait after the n-th consecutive failure.
func (c *Client) backoff(n int, err error) time.Duration {
	ceiling := c.cfg.BackoffCap
	if n < 62 {
		if d := c.cfg.BackoffBase << (n - 1); d > 0 && d < ceiling {
			ceiling = d
		}
	}
	wait := time.Duration(rand.Int64N(int64(ceiling) + 1))
	var apiErr *APIError
	if errors.As(err, &apiErr) && apiErr.RetryAfter > 0 {
		// The server's Retry-After is a floor, and the jitter goes on top
		// of it: a crowd of phones told the same wait (a busy server) must
		// not all come back at the same instant.
		wait += apiErr.RetryAfter
	}
	return wait
}
