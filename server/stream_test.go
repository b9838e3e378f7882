package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/favad/favad/push"
	"github.com/favad/favad/server"
)

// sseEvent is one server-sent event block (or comment).
type sseEvent struct {
	ID, Event, Data, Retry, Comment string
}

// sse is an open live stream, read by a goroutine as it arrives.
type sse struct {
	t      *testing.T
	resp   *http.Response
	events chan sseEvent
	cancel context.CancelFunc
}

// openStream opens GET /v1/sync/stream with token; lastEventID is sent if set.
func (e *env) openStream(token, lastEventID string) *sse {
	e.t.Helper()
	s, err := e.tryStream(token, lastEventID, 10*time.Second)
	require.NoError(e.t, err)
	return s
}

// tryStream is openStream that gives up if the response headers take longer than wait.
func (e *env) tryStream(token, lastEventID string, wait time.Duration) (*sse, error) {
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.ts.URL+"/v1/sync/stream", nil)
	if err != nil {
		cancel()
		return nil, err
	}
	for k, v := range syncHeaders {
		req.Header[k] = v
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "text/event-stream")
	if lastEventID != "" {
		req.Header.Set("Last-Event-ID", lastEventID)
	}
	e.t.Cleanup(cancel) // before the kit closes the server
	type answer struct {
		resp *http.Response
		err  error
	}
	got := make(chan answer, 1)
	go func() {
		resp, err := e.ts.Client().Do(req)
		got <- answer{resp, err}
	}()
	var a answer
	select {
	case a = <-got:
	case <-time.After(wait):
		cancel()
		return nil, fmt.Errorf("no response headers in %v", wait)
	}
	if a.err != nil {
		cancel()
		return nil, a.err
	}
	s := &sse{t: e.t, resp: a.resp, events: make(chan sseEvent, 256), cancel: cancel}
	e.t.Cleanup(func() { a.resp.Body.Close() })
	if a.resp.StatusCode == http.StatusOK {
		go s.read()
	} else {
		close(s.events)
	}
	return s, nil
}

func (s *sse) read() {
	defer close(s.events)
	sc := bufio.NewScanner(s.resp.Body)
	var ev sseEvent
	blank := true
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			if !blank {
				s.events <- ev
			}
			ev, blank = sseEvent{}, true
			continue
		}
		blank = false
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "":
			ev.Comment = value
		case "id":
			ev.ID = value
		case "event":
			ev.Event = value
		case "data":
			ev.Data = value
		case "retry":
			ev.Retry = value
		}
	}
}

func (s *sse) close() {
	s.cancel()
	s.resp.Body.Close()
}

// next returns the next event that is not a comment, or fails after timeout.
func (s *sse) next(timeout time.Duration) sseEvent {
	s.t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case ev, ok := <-s.events:
			if !ok {
				s.t.Fatalf("the stream ended")
			}
			if ev.Comment != "" || ev.Retry != "" {
				continue
			}
			return ev
		case <-deadline:
			s.t.Fatalf("no event within %v", timeout)
		}
	}
}

// none asserts that no event (other than comments) arrives within d.
func (s *sse) none(d time.Duration) {
	s.t.Helper()
	deadline := time.After(d)
	for {
		select {
		case ev, ok := <-s.events:
			if !ok {
				return
			}
			if ev.Comment != "" || ev.Retry != "" {
				continue
			}
			s.t.Fatalf("unexpected event %+v", ev)
		case <-deadline:
			return
		}
	}
}

// requireSync checks a "sync" event for seq.
func requireSync(t *testing.T, ev sseEvent, seq uint64) {
	t.Helper()
	assert.Equal(t, "sync", ev.Event)
	assert.Equal(t, strconv.FormatUint(seq, 10), ev.ID)
	var data struct {
		Seq uint64 `json:"seq"`
	}
	require.NoError(t, json.Unmarshal([]byte(ev.Data), &data), "data: %q", ev.Data)
	assert.Equal(t, seq, data.Seq)
}

// assignNew creates a complaint and assigns it to the field inspector; it
// returns the assignment's change-log sequence.
func (e *env) assignNew(disp, callID, username string) uint64 {
	e.t.Helper()
	var c struct {
		ID      string `json:"id"`
		Version uint64 `json:"version"`
	}
	r := e.do(newCall("POST", "/v1/complaints", disp, intake(callID, e.clock.Now().Add(-10*time.Minute))))
	require.Equal(e.t, http.StatusCreated, r.status, "%s", r.body)
	r.json(e.t, &c)
	r = e.do(newCall("POST", "/v1/complaints/"+c.ID+"/assign", disp, map[string]string{"inspector_id": e.users[username].ID, "mode": "field"}))
	require.Equal(e.t, http.StatusOK, r.status, "%s", r.body)
	r.json(e.t, &c)
	require.NotZero(e.t, c.Version)
	return c.Version
}

func TestStreamPokedOnAssignment(t *testing.T) {
	e := newEnv(t)
	field := e.login("field", "device-field")
	disp := e.token("dispatcher")
	st := e.openStream(field.AccessToken, "")
	require.Equal(t, http.StatusOK, st.resp.StatusCode)
	assert.Equal(t, "text/event-stream", st.resp.Header.Get("Content-Type"))
	assert.Equal(t, "no-store", st.resp.Header.Get("Cache-Control"))
	assert.Equal(t, "no", st.resp.Header.Get("X-Accel-Buffering"))
	select {
	case ev := <-st.events:
		assert.Equal(t, "5000", ev.Retry, "the stream opens with the reconnection delay")
	case <-time.After(5 * time.Second):
		t.Fatal("the stream sent nothing")
	}

	t.Run("poked by hand", func(t *testing.T) {
		// Nothing runs the notifier in the kit: poke as it would.
		seq := e.assignNew(disp, "CALL-S1", "field")
		st.none(100 * time.Millisecond)
		e.srv.Hub().Poke(field.User.ID, seq)
		requireSync(t, st.next(2*time.Second), seq)
		e.srv.Hub().Poke(e.users["field2"].ID, seq+1) // another inspector's poke
		st.none(100 * time.Millisecond)
	})

	t.Run("poked by the notifier", func(t *testing.T) {
		cur := e.store // a notifier as cmd/favad wires it, with the log-only sender
		st0, err := cur.Stats()
		require.NoError(t, err)
		require.NoError(t, cur.SaveNotifierCursor(st0.Seq))
		n := &push.Notifier{Store: cur, Sender: &push.LogSender{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))},
			Poker: e.srv.Hub(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Window: 50 * time.Millisecond, Poll: 10 * time.Millisecond}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); n.Run(ctx) }()
		t.Cleanup(func() { cancel(); <-done })

		began := time.Now()
		seq := e.assignNew(disp, "CALL-S2", "field")
		ev := st.next(5 * time.Second)
		requireSync(t, ev, seq)
		t.Logf("poke arrived %v after the assignment was answered", time.Since(began))
	})
}

func TestStreamLastEventID(t *testing.T) {
	e := newEnv(t)
	field := e.login("field", "device-field")
	disp := e.token("dispatcher")
	seq := e.assignNew(disp, "CALL-L1", "field")

	t.Run("older than a change: an event at once", func(t *testing.T) {
		st := e.openStream(field.AccessToken, strconv.FormatUint(seq-1, 10))
		require.Equal(t, http.StatusOK, st.resp.StatusCode)
		requireSync(t, st.next(2*time.Second), seq)
		st.close()
	})
	t.Run("up to date: nothing", func(t *testing.T) {
		st := e.openStream(field.AccessToken, strconv.FormatUint(seq, 10))
		require.Equal(t, http.StatusOK, st.resp.StatusCode)
		st.none(300 * time.Millisecond)
		st.close()
	})
	t.Run("another inspector's change: nothing", func(t *testing.T) {
		other := e.assignNew(disp, "CALL-L2", "field2")
		st := e.openStream(field.AccessToken, strconv.FormatUint(other-1, 10))
		require.Equal(t, http.StatusOK, st.resp.StatusCode)
		st.none(300 * time.Millisecond)
		st.close()
	})
	t.Run("malformed", func(t *testing.T) {
		h := http.Header{"Last-Event-ID": {"yesterday"}}
		for k, v := range syncHeaders {
			h[k] = v
		}
		r := e.do(call{method: "GET", path: "/v1/sync/stream", token: field.AccessToken, header: h, invalidRequest: true})
		require.Equal(t, http.StatusUnprocessableEntity, r.status, "%s", r.body)
		p := r.problem(t)
		require.NotEmpty(t, p.Errors)
		assert.Equal(t, "Last-Event-ID", p.Errors[0].Field)
		assert.Equal(t, "invalid", p.Errors[0].Code)
	})
}

func TestStreamRefusals(t *testing.T) {
	e := newEnv(t)
	field := e.login("field", "device-field")

	t.Run("at most two streams per device", func(t *testing.T) {
		a := e.openStream(field.AccessToken, "")
		b := e.openStream(field.AccessToken, "")
		require.Equal(t, http.StatusOK, a.resp.StatusCode)
		require.Equal(t, http.StatusOK, b.resp.StatusCode)
		// The third is refused, as the contract says.
		r := e.do(call{method: "GET", path: "/v1/sync/stream", token: field.AccessToken, header: syncHeaders})
		require.Equal(t, http.StatusTooManyRequests, r.status, "%s", r.body)
		assert.Equal(t, "30", r.header.Get("Retry-After"))
		assert.Equal(t, "rate_limited", string(r.problem(t).Code))

		// Another device of the same inspector is not held back.
		other := e.login("field", "device-field-tablet")
		d := e.openStream(other.AccessToken, "")
		assert.Equal(t, http.StatusOK, d.resp.StatusCode)

		// A closed stream frees its place.
		a.close()
		require.Eventually(t, func() bool {
			s := e.openStream(field.AccessToken, "")
			defer s.close()
			return s.resp.StatusCode == http.StatusOK
		}, 5*time.Second, 20*time.Millisecond)
		b.close()
		d.close()
	})
	t.Run("at most four streams per user, whatever the devices", func(t *testing.T) {
		// A user signing in on more device ids cannot open streams without end.
		var open []*sse
		for i := range server.MaxStreamsPerUser {
			tk := e.login("field2", fmt.Sprintf("device-field2-%02d", i))
			st := e.openStream(tk.AccessToken, "")
			require.Equal(t, http.StatusOK, st.resp.StatusCode)
			open = append(open, st)
		}
		fresh := e.login("field2", "device-field2-fresh")
		r := e.do(call{method: "GET", path: "/v1/sync/stream", token: fresh.AccessToken, header: syncHeaders})
		require.Equal(t, http.StatusTooManyRequests, r.status, "%s", r.body)
		assert.Equal(t, "30", r.header.Get("Retry-After"))
		p := r.problem(t)
		assert.Equal(t, "rate_limited", string(p.Code))
		assert.Contains(t, p.Detail, "user")

		// Another inspector is not held back.
		other := e.openStream(e.login("field", "device-field-other").AccessToken, "")
		assert.Equal(t, http.StatusOK, other.resp.StatusCode)
		other.close()

		// A closed stream frees its place for the user's new device.
		open[0].close()
		require.Eventually(t, func() bool {
			s := e.openStream(fresh.AccessToken, "")
			defer s.close()
			return s.resp.StatusCode == http.StatusOK
		}, 5*time.Second, 20*time.Millisecond)
		for _, st := range open[1:] {
			st.close()
		}
	})
	t.Run("inspectors only", func(t *testing.T) {
		st := e.openStream(e.token("dispatcher"), "")
		assert.Equal(t, http.StatusForbidden, st.resp.StatusCode)
	})
	t.Run("protocol headers required", func(t *testing.T) {
		req, err := http.NewRequest(http.MethodGet, e.ts.URL+"/v1/sync/stream", nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+field.AccessToken)
		resp, err := e.ts.Client().Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusUpgradeRequired, resp.StatusCode)
	})
}

func TestStreamHeartbeat(t *testing.T) {
	e := newEnv(t, func(c *server.Config) { c.StreamHeartbeat = 50 * time.Millisecond })
	field := e.login("field", "device-field")
	st := e.openStream(field.AccessToken, "")
	require.Equal(t, http.StatusOK, st.resp.StatusCode)
	beats := 0
	deadline := time.After(3 * time.Second)
	for beats < 3 {
		select {
		case ev, ok := <-st.events:
			require.True(t, ok, "the stream ended")
			if ev.Comment == "keep-alive" {
				beats++
			}
		case <-deadline:
			t.Fatalf("%d keep-alives in 3s with a 50ms heartbeat", beats)
		}
	}
}

// Drain ends the live streams, so that a shutdown is not held up by them.
func TestStreamEndsOnDrain(t *testing.T) {
	e := newEnv(t)
	field := e.login("field", "device-field")
	st := e.openStream(field.AccessToken, "")
	require.Equal(t, http.StatusOK, st.resp.StatusCode)
	e.srv.Drain()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case _, ok := <-st.events:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatal("the stream outlived Drain")
		}
	}
}

// A reconnect with an old Last-Event-ID while the notifier pokes the same
// inspector must still be answered (it once hung: the missed-change poke was
// a blocking send on the stream's own one-slot channel).
func TestStreamReconnectDuringPokes(t *testing.T) {
	e := newEnv(t)
	field := e.login("field", "device-field")
	seq := e.assignNew(e.token("dispatcher"), "CALL-R1", "field")
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
				e.srv.Hub().Poke(field.User.ID, seq)
			}
		}
	}()
	defer func() { close(stop); <-done }()
	for i := range 100 {
		st, err := e.tryStream(field.AccessToken, strconv.FormatUint(seq-1, 10), 2*time.Second)
		require.NoError(t, err, "reconnect %d hung", i)
		for try := 0; st.resp.StatusCode == http.StatusTooManyRequests && try < 50; try++ {
			// The previous stream's handler has not noticed its client left yet.
			st.close()
			time.Sleep(10 * time.Millisecond)
			st, err = e.tryStream(field.AccessToken, strconv.FormatUint(seq-1, 10), 2*time.Second)
			require.NoError(t, err, "reconnect %d hung", i)
		}
		require.Equal(t, http.StatusOK, st.resp.StatusCode)
		requireSync(t, st.next(2*time.Second), seq)
		st.close()
	}
}

// A burst of pokes becomes few events, the last carrying the latest sequence.
func TestStreamBurstCarriesLatestSeq(t *testing.T) {
	e := newEnv(t)
	field := e.login("field", "device-field")
	st := e.openStream(field.AccessToken, "")
	require.Equal(t, http.StatusOK, st.resp.StatusCode)
	for seq := uint64(1); seq <= 100; seq++ {
		e.srv.Hub().Poke(field.User.ID, seq)
	}
	var got []string
	deadline := time.After(500 * time.Millisecond)
collect:
	for {
		select {
		case ev, ok := <-st.events:
			require.True(t, ok, "the stream ended")
			if ev.Event == "sync" {
				got = append(got, ev.ID)
			}
		case <-deadline:
			break collect
		}
	}
	require.NotEmpty(t, got)
	assert.Equal(t, "100", got[len(got)-1], "the last event carries the latest sequence: %v", got)
	t.Logf("100 pokes made %d events", len(got))
}

// A stream ends once its session is no longer valid: signed out, or the
// device revoked.
func TestStreamEndsWhenSessionEnds(t *testing.T) {
	e := newEnv(t, func(c *server.Config) { c.StreamHeartbeat = 50 * time.Millisecond })
	ended := func(st *sse) {
		t.Helper()
		deadline := time.After(5 * time.Second)
		for {
			select {
			case _, ok := <-st.events:
				if !ok {
					return
				}
			case <-deadline:
				t.Fatal("the stream outlived its session")
			}
		}
	}
	t.Run("device revoked", func(t *testing.T) {
		field := e.login("field", "device-field")
		st := e.openStream(field.AccessToken, "")
		require.Equal(t, http.StatusOK, st.resp.StatusCode)
		r := e.do(newCall("POST", "/v1/devices/device-field/revoke", e.token("admin"), nil))
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		ended(st)
	})
	t.Run("signed out", func(t *testing.T) {
		field := e.login("field2", "device-field2")
		st := e.openStream(field.AccessToken, "")
		require.Equal(t, http.StatusOK, st.resp.StatusCode)
		r := e.do(newCall("POST", "/v1/auth/logout", field.AccessToken, nil))
		require.Equal(t, http.StatusNoContent, r.status, "%s", r.body)
		ended(st)
	})
}

// TestStreamIsNotPokedByItsOwnDevice: the device that made a change knows of
// it; the inspector's other devices are poked.
func TestStreamIsNotPokedByItsOwnDevice(t *testing.T) {
	e := newEnv(t)
	a := e.login("field", "device-field-a").AccessToken
	b := e.login("field", "device-field-b").AccessToken
	sa, sb := e.openStream(a, ""), e.openStream(b, "")
	defer sa.close()
	defer sb.close()
	e.srv.Hub().PokeExcept(e.users["field"].ID, 42, "device-field-a")
	requireSync(t, sb.next(2*time.Second), 42)
	sa.none(200 * time.Millisecond)
}
