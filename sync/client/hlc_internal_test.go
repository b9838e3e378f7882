package client

import (
	"net/http"
	"testing"
	"time"
)

func TestHLCTick(t *testing.T) {
	for _, tc := range []struct {
		name string
		h    HLC
		now  int64
		want HLC
	}{
		{"physical clock ahead", HLC{100, 7}, 150, HLC{150, 0}},
		{"same millisecond", HLC{100, 7}, 100, HLC{100, 8}},
		{"clock went back", HLC{100, 7}, 40, HLC{100, 8}},
		{"first event", HLC{}, 5, HLC{5, 0}},
	} {
		if got := tc.h.tick(tc.now); got != tc.want {
			t.Errorf("%s: %+v.tick(%d) = %+v, want %+v", tc.name, tc.h, tc.now, got, tc.want)
		}
		if got := tc.h.tick(tc.now); !tc.h.Less(got) {
			t.Errorf("%s: tick must move the clock forward", tc.name)
		}
	}
}

func TestHLCObserve(t *testing.T) {
	for _, tc := range []struct {
		name        string
		h           HLC
		remote, now int64
		want        HLC
	}{
		{"local physical clock leads", HLC{100, 3}, 120, 130, HLC{130, 0}},
		{"server leads", HLC{100, 3}, 200, 130, HLC{200, 1}},
		{"stored clock leads", HLC{300, 3}, 200, 130, HLC{300, 4}},
		{"all equal", HLC{200, 3}, 200, 200, HLC{200, 4}},
	} {
		if got := tc.h.observe(tc.remote, tc.now); got != tc.want {
			t.Errorf("%s: %+v.observe(%d, %d) = %+v, want %+v", tc.name, tc.h, tc.remote, tc.now, got, tc.want)
		}
	}
}

func TestBackoffIsCappedFullJitter(t *testing.T) {
	c := &Client{cfg: Config{BackoffBase: 10 * time.Millisecond, BackoffCap: 80 * time.Millisecond}}
	for n := 1; n < 100; n++ {
		limit := min(80*time.Millisecond, 10*time.Millisecond<<min(n-1, 30))
		for range 20 {
			if w := c.backoff(n, nil); w < 0 || w > limit {
				t.Fatalf("backoff(%d) = %v, want 0..%v", n, w, limit)
			}
		}
	}
	spread := map[time.Duration]bool{}
	for range 20 {
		w := c.backoff(1, &APIError{Status: http.StatusServiceUnavailable, RetryAfter: 3 * time.Second})
		if w < 3*time.Second || w > 3*time.Second+10*time.Millisecond {
			t.Fatalf("Retry-After is a floor, the jitter on top: got %v, want 3s..3.01s", w)
		}
		spread[w] = true
	}
	if len(spread) < 2 {
		t.Errorf("a crowd told the same Retry-After comes back at one instant: %v", spread)
	}
}

func FuzzProblemOf(f *testing.F) {
	f.Add(401, "application/problem+json", `{"status":401,"code":"token_expired","action":"refresh","detail":"x"}`, "")
	f.Add(426, "application/problem+json", `{"code":"upgrade_required","action":"upgrade"}`, "")
	f.Add(503, "text/html", `<html>bad gateway</html>`, "120")
	f.Add(429, "application/json", `{"code":7}`, "Wed, 21 Oct 2015 07:28:00 GMT")
	f.Fuzz(func(t *testing.T, status int, ctype, body, retryAfter string) {
		resp := &http.Response{StatusCode: status, Header: http.Header{}}
		resp.Header.Set("Content-Type", ctype)
		resp.Header.Set("Retry-After", retryAfter)
		e := problemOf(resp, []byte(body))
		if e.Status != status {
			t.Fatalf("status %d became %d", status, e.Status)
		}
		if e.RetryAfter < 0 {
			t.Fatalf("negative Retry-After %v", e.RetryAfter)
		}
		_ = e.Error()
	})
}
