package feed

import (
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/favad/favad/inspector"
	favsync "github.com/favad/favad/sync"
)

// memLog is an in-memory change log. Every third change is a user's, which
// is no feed event, so that positions and event ids differ.
type memLog struct {
	mu       sync.Mutex
	views    []favsync.ChangeView
	changed  chan struct{}
	silent   bool  // never wake the reader: only its poll finds changes
	failNext error // the next ReadChanges fails with it
	reads    int   // ReadChanges calls so far
}

func newMemLog() *memLog { return &memLog{changed: make(chan struct{})} }

// add appends n changes in one commit and returns the ids of the events among them.
func (l *memLog) add(n int) []uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	var ids []uint64
	for range n {
		seq := uint64(len(l.views) + 1)
		v := favsync.ChangeView{Change: favsync.Change{Seq: seq, Kind: favsync.KindComplaint, ID: "c1", Action: "started", At: time.Now()},
			ComplaintID: "c1", Complaint: &inspector.Complaint{ID: "c1", Number: 1, OfficeCode: "QZ-SSO-01", AgencyCode: "SSO"}}
		if seq%3 == 0 {
			v = favsync.ChangeView{Change: favsync.Change{Seq: seq, Kind: favsync.KindUser, ID: "u1", Action: "created"}}
		} else {
			ids = append(ids, seq)
		}
		if seq%2 == 0 { // a second office, for filters
			if v.Complaint != nil {
				v.Complaint.OfficeCode = "TK-SSO-01"
			}
		}
		l.views = append(l.views, v)
	}
	if !l.silent {
		close(l.changed)
		l.changed = make(chan struct{})
	}
	return ids
}

func (l *memLog) ReadChanges(after uint64, limit int) ([]favsync.ChangeView, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.reads++
	if err := l.failNext; err != nil {
		l.failNext = nil
		return nil, err
	}
	if after >= uint64(len(l.views)) {
		return nil, nil
	}
	end := min(uint64(len(l.views)), after+uint64(limit))
	return append([]favsync.ChangeView(nil), l.views[after:end]...), nil
}

func (l *memLog) Changed() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.changed
}

func (l *memLog) Stats() (favsync.Stats, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return favsync.Stats{Seq: uint64(len(l.views))}, nil
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newBroker(t *testing.T, l Log, opts Options) *Broker {
	t.Helper()
	opts.Logger = quiet()
	b := NewBroker(l, opts)
	t.Cleanup(b.Close)
	return b
}

func subscribe(t *testing.T, b *Broker, user string, f Filter) *Subscription {
	t.Helper()
	s, err := b.Subscribe(user, f)
	require.NoError(t, err)
	t.Cleanup(s.Close)
	return s
}

// receive takes n events from s, failing after a few seconds.
func receive(t *testing.T, s *Subscription, n int) []uint64 {
	t.Helper()
	var ids []uint64
	deadline := time.After(5 * time.Second)
	for len(ids) < n {
		select {
		case e := <-s.Events():
			ids = append(ids, e.ID)
		case <-deadline:
			t.Fatalf("got %d of %d events: %v", len(ids), n, ids)
		}
	}
	return ids
}

func TestBrokerFansOutInOrder(t *testing.T) {
	l := newMemLog()
	l.add(10) // before anyone subscribed: not live
	b := newBroker(t, l, Options{})
	a, c := subscribe(t, b, "u1", Filter{}), subscribe(t, b, "u2", Filter{})
	assert.Equal(t, uint64(10), a.Start())
	var want []uint64
	for range 5 {
		want = append(want, l.add(4)...)
	}
	assert.Equal(t, want, receive(t, a, len(want)))
	assert.Equal(t, want, receive(t, c, len(want)))
}

func TestBrokerFilters(t *testing.T) {
	l := newMemLog()
	b := newBroker(t, l, Options{})
	s := subscribe(t, b, "u1", Filter{Offices: []string{"QZ-SSO-01"}})
	all := subscribe(t, b, "u1", Filter{})
	ids := l.add(12)
	var odd []uint64
	for _, id := range ids {
		if id%2 == 1 {
			odd = append(odd, id)
		}
	}
	assert.Equal(t, ids, receive(t, all, len(ids)))
	assert.Equal(t, odd, receive(t, s, len(odd)))
}

// TestBrokerDropsSlowSubscriber: a subscriber that never reads is dropped
// once its buffer is full, while another that keeps up gets everything.
func TestBrokerDropsSlowSubscriber(t *testing.T) {
	l := newMemLog()
	b := newBroker(t, l, Options{Buffer: 8})
	slow, fast := subscribe(t, b, "u1", Filter{}), subscribe(t, b, "u2", Filter{})
	var want, got []uint64
	for range 6 {
		ids := l.add(7) // four or five events: less than a buffer, so the fast one never overflows
		want = append(want, ids...)
		got = append(got, receive(t, fast, len(ids))...)
	}
	assert.Equal(t, want, got)
	select {
	case <-slow.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the slow subscriber was not dropped")
	}
	assert.True(t, slow.Dropped())
	assert.Len(t, slow.Events(), 8, "it keeps what it was given before the drop")
	select {
	case <-fast.Done():
		t.Fatal("the fast subscriber was dropped")
	default:
	}
	assert.Equal(t, Stats{Open: 2, Dropped: 1}, b.Stats(), "a dropped feed holds its place until closed")
	slow.Close()
	assert.Equal(t, 1, b.Stats().Open)
}

func TestBrokerBoundPerUser(t *testing.T) {
	b := newBroker(t, newMemLog(), Options{PerUser: 2})
	first := subscribe(t, b, "u1", Filter{})
	subscribe(t, b, "u1", Filter{})
	_, err := b.Subscribe("u1", Filter{})
	assert.ErrorIs(t, err, ErrTooMany)
	subscribe(t, b, "u2", Filter{}) // another user is not bound by u1's feeds
	first.Close()
	first.Close() // twice is harmless
	subscribe(t, b, "u1", Filter{})
	assert.Equal(t, 2, b.PerUser())
}

// TestBrokerReplayHandover is what a resuming client does while writes go
// on: subscribe, replay from the log up to Start, then take live events
// above what was replayed. Every event comes exactly once, in order.
func TestBrokerReplayHandover(t *testing.T) {
	l := newMemLog()
	b := newBroker(t, l, Options{})
	var all []uint64
	var mu sync.Mutex
	written := make(chan struct{})
	half := make(chan struct{})
	go func() {
		defer close(written)
		for i := range 300 {
			ids := l.add(1)
			mu.Lock()
			all = append(all, ids...)
			mu.Unlock()
			if i == 100 {
				close(half)
			}
		}
	}()
	<-half
	s := subscribe(t, b, "u1", Filter{})
	var got []uint64
	through := uint64(0)
	for through < s.Start() {
		events, next, err := b.Read(through, s.Start(), 7, Filter{})
		require.NoError(t, err)
		for _, e := range events {
			got = append(got, e.ID)
		}
		require.Greater(t, next, through)
		through = next
	}
	<-written
	mu.Lock()
	want := append([]uint64(nil), all...)
	mu.Unlock()
	deadline := time.After(5 * time.Second)
	for len(got) < len(want) {
		select {
		case e := <-s.Events():
			if e.ID > through {
				got = append(got, e.ID)
			}
		case <-deadline:
			t.Fatalf("got %d of %d events", len(got), len(want))
		}
	}
	assert.Equal(t, want, got)
}

func TestBrokerReaderRunsOnlyWhileSubscribed(t *testing.T) {
	l := newMemLog()
	b := newBroker(t, l, Options{})
	a, c := subscribe(t, b, "u1", Filter{}), subscribe(t, b, "u1", Filter{})
	b.mu.Lock()
	assert.NotNil(t, b.r)
	b.mu.Unlock()
	a.Close()
	c.Close() // waits for the reader
	b.mu.Lock()
	assert.Nil(t, b.r, "the last feed stops the reader")
	b.mu.Unlock()

	l.add(6)
	s := subscribe(t, b, "u1", Filter{})
	assert.Equal(t, uint64(6), s.Start(), "a new reader starts at the head")
	ids := l.add(3)
	assert.Equal(t, ids, receive(t, s, len(ids)))
}

func TestBrokerClose(t *testing.T) {
	l := newMemLog()
	b := NewBroker(l, Options{Logger: quiet()})
	s, err := b.Subscribe("u1", Filter{})
	require.NoError(t, err)
	b.Close()
	select {
	case <-s.Done():
	default:
		t.Fatal("closing the broker ends its feeds")
	}
	assert.False(t, s.Dropped())
	s.Close()
	_, err = b.Subscribe("u1", Filter{})
	assert.ErrorIs(t, err, ErrClosed)
}

// TestBrokerPollsWithoutWakeup: a missed wake-up costs at most the poll.
func TestBrokerPollsWithoutWakeup(t *testing.T) {
	l := newMemLog()
	l.silent = true
	b := newBroker(t, l, Options{Poll: 10 * time.Millisecond})
	s := subscribe(t, b, "u1", Filter{})
	// Let the reader find the log empty first, so that only its poll can
	// see what comes next.
	require.Eventually(t, func() bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		return l.reads > 0
	}, 5*time.Second, time.Millisecond)
	ids := l.add(4)
	assert.Equal(t, ids, receive(t, s, len(ids)))
}

// TestBrokerReaderSurvivesReadError: the reader logs a failed read and
// tries again; nothing is lost.
func TestBrokerReaderSurvivesReadError(t *testing.T) {
	l := newMemLog()
	b := newBroker(t, l, Options{Poll: 10 * time.Millisecond})
	s := subscribe(t, b, "u1", Filter{})
	l.mu.Lock()
	l.failNext = errors.New("disk on fire")
	l.mu.Unlock()
	ids := l.add(4)
	assert.Equal(t, ids, receive(t, s, len(ids)))
}

func TestBrokerRead(t *testing.T) {
	l := newMemLog()
	b := newBroker(t, l, Options{})
	l.add(30)

	events, next, err := b.Read(0, 30, 100, Filter{})
	require.NoError(t, err)
	assert.Len(t, events, 20)
	assert.Equal(t, uint64(30), next)

	events, next, err = b.Read(0, 30, 4, Filter{})
	require.NoError(t, err)
	assert.Equal(t, []uint64{1, 2, 4, 5}, ids(events))
	assert.Equal(t, uint64(5), next, "the cursor stops at the last event of a full page")

	events, next, err = b.Read(5, 12, 100, Filter{Offices: []string{"QZ-SSO-01"}})
	require.NoError(t, err)
	assert.Equal(t, []uint64{7, 11}, ids(events))
	assert.Equal(t, uint64(12), next, "the cursor passes changes that are no events or do not match")

	events, next, err = b.Read(30, 30, 100, Filter{})
	require.NoError(t, err)
	assert.Empty(t, events)
	assert.Equal(t, uint64(30), next)

	l.mu.Lock()
	l.failNext = errors.New("disk on fire")
	l.mu.Unlock()
	_, _, err = b.Read(0, 30, 100, Filter{})
	assert.ErrorContains(t, err, "disk on fire")
}

// TestBrokerReadBoundsScan: a narrow filter over a long log answers after
// looking at a bounded number of changes, with a cursor to go on from.
func TestBrokerReadBoundsScan(t *testing.T) {
	l := newMemLog()
	b := newBroker(t, l, Options{})
	l.add(25 * PageSize)
	events, next, err := b.Read(0, 25*PageSize, 10, Filter{Types: []string{TypeComplaintOutcome}})
	require.NoError(t, err)
	assert.Empty(t, events)
	assert.Equal(t, uint64(20*PageSize), next)
}

func ids(events []Event) []uint64 {
	out := make([]uint64, len(events))
	for i, e := range events {
		out[i] = e.ID
	}
	return out
}
