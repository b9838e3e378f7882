package feed

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	favsync "github.com/favad/favad/sync"
)

// Log is the part of the store the broker reads.
type Log interface {
	// ReadChanges returns up to limit changes after seq, oldest first, with
	// the records they concern.
	ReadChanges(after uint64, limit int) ([]favsync.ChangeView, error)
	// Changed returns a channel closed at the next commit that appends to the log.
	Changed() <-chan struct{}
	// Stats reports the head of the log (Seq).
	Stats() (favsync.Stats, error)
}

var _ Log = (*favsync.Store)(nil)

// Sentinel errors of the broker.
var (
	// ErrTooMany is returned by Subscribe when the user already holds
	// Options.PerUser feeds.
	ErrTooMany = errors.New("feed: this user already holds the most live feeds allowed")
	// ErrClosed is returned by Subscribe once the broker is closed.
	ErrClosed = errors.New("feed: the broker is closed")
)

// Defaults of Options.
const (
	DefaultBuffer  = 1024
	DefaultPerUser = 4
	DefaultPoll    = time.Second
	// PageSize is how many changes the reader and a replay read at once.
	PageSize = 500
)

// Options configure a Broker. The zero value gives the defaults.
type Options struct {
	// Buffer is how many events may wait for one subscriber before it
	// counts as fallen behind and is dropped. Default 1024: at least two
	// of the reader's pages, so that one large commit (a push of 500
	// mutations) does not drop a subscriber that keeps up.
	Buffer int
	// PerUser bounds the feeds one user holds open; default 4.
	PerUser int
	// Poll is how often the reader looks at the log when no commit woke
	// it, a fallback for a missed wake-up; default 1s.
	Poll time.Duration
	// Logger; nil means slog.Default().
	Logger *slog.Logger
}

// Broker fans the change log out to live subscribers. One reader tails the
// log while anyone is subscribed, derives each change's event once, and
// hands it to every subscriber whose filter matches, without ever waiting
// for one: a subscriber whose buffer is full is dropped. Safe for
// concurrent use.
type Broker struct {
	log    Log
	opts   Options
	logger *slog.Logger

	mu      sync.Mutex
	closed  bool
	r       *reader                    // the running reader; nil while nobody is subscribed
	subs    map[*Subscription]struct{} // those the reader delivers to
	perUser map[string]int             // open subscriptions by user, dropped ones included until closed
	n       int                        // open subscriptions
	nDrop   int                        // subscriptions dropped so far
	nSent   atomic.Uint64

	open    prometheus.Gauge
	dropped prometheus.Counter
	sent    prometheus.Counter
}

// reader is one run of the reading goroutine.
type reader struct {
	pos  uint64 // the last sequence delivered; guarded by Broker.mu
	stop chan struct{}
	done chan struct{}
}

// NewBroker returns a broker over log. It reads nothing until the first
// subscription.
func NewBroker(log Log, opts Options) *Broker {
	if opts.Buffer <= 0 {
		opts.Buffer = DefaultBuffer
	}
	if opts.PerUser <= 0 {
		opts.PerUser = DefaultPerUser
	}
	if opts.Poll <= 0 {
		opts.Poll = DefaultPoll
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Broker{log: log, opts: opts, logger: opts.Logger.With("component", "feed"),
		subs: map[*Subscription]struct{}{}, perUser: map[string]int{},
		open:    prometheus.NewGauge(prometheus.GaugeOpts{Name: "favad_feed_open", Help: "Open live feeds (dispatch and supervisors)."}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{Name: "favad_feed_dropped_total", Help: "Live feeds dropped for falling behind."}),
		sent:    prometheus.NewCounter(prometheus.CounterOpts{Name: "favad_feed_events_sent_total", Help: "Feed events written to clients (streams and pages)."}),
	}
}

// Collectors returns the broker's Prometheus metrics.
func (b *Broker) Collectors() []prometheus.Collector {
	return []prometheus.Collector{b.open, b.dropped, b.sent}
}

// PerUser is the bound of open subscriptions per user.
func (b *Broker) PerUser() int { return b.opts.PerUser }

// Sent counts n events written to a client.
func (b *Broker) Sent(n int) {
	b.nSent.Add(uint64(n))
	b.sent.Add(float64(n))
}

// Stats are the broker's figures, as its metrics show them.
type Stats struct {
	Open    int    // open subscriptions, dropped ones included until closed
	Dropped int    // subscriptions dropped for falling behind, since the start
	Sent    uint64 // events written to clients
}

// Stats returns the broker's figures.
func (b *Broker) Stats() Stats {
	b.mu.Lock()
	defer b.mu.Unlock()
	return Stats{Open: b.n, Dropped: b.nDrop, Sent: b.nSent.Load()}
}

// Head returns the last sequence of the log.
func (b *Broker) Head() (uint64, error) {
	st, err := b.log.Stats()
	if err != nil {
		return 0, fmt.Errorf("feed: head of the log: %w", err)
	}
	return st.Seq, nil
}

// Subscription is one subscriber's live events. Every event it receives
// has an id above Start, in order, each once.
type Subscription struct {
	b      *Broker
	user   string
	filter Filter
	start  uint64
	ch     chan Event
	done   chan struct{}

	dropped bool // set under Broker.mu before done is closed
	closed  bool // guarded by Broker.mu
}

// Subscribe adds a subscriber for user's events matching f. It returns
// ErrTooMany past Options.PerUser open subscriptions, ErrClosed after
// Close. The caller must Close the subscription.
func (b *Broker) Subscribe(user string, f Filter) (*Subscription, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, ErrClosed
	}
	if b.perUser[user] >= b.opts.PerUser {
		return nil, ErrTooMany
	}
	if b.r == nil {
		// The reader starts at the head: what came before is the replay's,
		// read by each subscriber from the log at its own pace.
		head, err := b.Head()
		if err != nil {
			return nil, err
		}
		b.r = &reader{pos: head, stop: make(chan struct{}), done: make(chan struct{})}
		go b.run(b.r)
	}
	s := &Subscription{b: b, user: user, filter: f, start: b.r.pos,
		ch: make(chan Event, b.opts.Buffer), done: make(chan struct{})}
	b.subs[s] = struct{}{}
	b.perUser[user]++
	b.n++
	b.open.Inc()
	return s, nil
}

// Start is the reader's position when s subscribed: s receives every
// matching event above it. Events up to it are read from the log (Read).
func (s *Subscription) Start() uint64 { return s.start }

// Events delivers the live events.
func (s *Subscription) Events() <-chan Event { return s.ch }

// Done is closed when s is dropped for falling behind, or the broker closes.
func (s *Subscription) Done() <-chan struct{} { return s.done }

// Dropped reports, once Done is closed, whether s fell behind (rather than
// the broker closing).
func (s *Subscription) Dropped() bool {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	return s.dropped
}

// Close ends s and frees its place in the user's bound. The last Close
// stops the reader and waits for it, so that no goroutine outlives the
// feeds. Close may be called more than once.
func (s *Subscription) Close() {
	b := s.b
	b.mu.Lock()
	if s.closed {
		b.mu.Unlock()
		return
	}
	s.closed = true
	delete(b.subs, s)
	if b.perUser[s.user]--; b.perUser[s.user] <= 0 {
		delete(b.perUser, s.user)
	}
	b.n--
	b.open.Dec()
	var r *reader
	if b.n == 0 && b.r != nil {
		r, b.r = b.r, nil
		close(r.stop)
	}
	b.mu.Unlock()
	if r != nil {
		<-r.done
	}
}

// Close ends every subscription (Done without Dropped), refuses new ones,
// and waits for the reader to stop.
func (b *Broker) Close() {
	b.mu.Lock()
	b.closed = true
	for s := range b.subs {
		delete(b.subs, s)
		close(s.done)
	}
	r := b.r
	b.r = nil
	if r != nil {
		close(r.stop)
	}
	b.mu.Unlock()
	if r != nil {
		<-r.done
	}
}

// Run holds the broker open until ctx ends, then closes it; a server runs
// it beside its other workers so that shutdown waits for the reader.
func (b *Broker) Run(ctx context.Context) {
	<-ctx.Done()
	b.Close()
}

// run is the reader: it tails the log from r.pos until r.stop.
func (b *Broker) run(r *reader) {
	defer close(r.done)
	b.mu.Lock()
	pos := r.pos
	b.mu.Unlock()
	poll := time.NewTimer(b.opts.Poll)
	defer poll.Stop()
	for {
		select {
		case <-r.stop:
			return
		default:
		}
		// Taken before reading, so that a commit between the read and the
		// wait still wakes the reader.
		changed := b.log.Changed()
		views, err := b.log.ReadChanges(pos, PageSize)
		if err != nil {
			b.logger.Error("read the change log", "error", err)
		} else if len(views) > 0 {
			events := make([]Event, 0, len(views))
			for _, v := range views {
				if e, ok := FromChange(v); ok {
					events = append(events, e)
				}
			}
			pos = views[len(views)-1].Seq
			if !b.deliver(r, events, pos) {
				return
			}
			if len(views) == PageSize {
				continue // more is waiting
			}
		}
		poll.Reset(b.opts.Poll)
		select {
		case <-r.stop:
			return
		case <-changed:
		case <-poll.C:
		}
	}
}

// deliver hands events to the subscribers and moves the reader's position
// to pos, in one critical section: a subscriber joining before it gets all
// of them, one joining after it none (its Start is pos). It reports false
// if r is no longer the broker's reader.
func (b *Broker) deliver(r *reader, events []Event, pos uint64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.r != r {
		return false
	}
	for _, e := range events {
		for s := range b.subs {
			if e.ID <= s.start || !s.filter.Match(e) {
				continue
			}
			select {
			case s.ch <- e:
			default:
				// Fallen behind: dropped, never waited for. The client
				// resumes from the last event it received.
				delete(b.subs, s)
				s.dropped = true
				close(s.done)
				b.dropped.Inc()
				b.nDrop++
				b.logger.Info("live feed dropped: it fell behind", "user", s.user, "buffer", b.opts.Buffer)
			}
		}
	}
	r.pos = pos
	return true
}

// Read returns up to limit events matching f after the sequence after and
// at most through, reading the log itself (a replay, or a page for clients
// that cannot hold a stream). next is the last sequence it looked at: the
// cursor to continue from, which may be past the last event when changes in
// between were not events or did not match. It looks at no more than
// maxScan changes, so that a narrow filter over a long log still answers
// soon; next < through then says there is more.
func (b *Broker) Read(after, through uint64, limit int, f Filter) (events []Event, next uint64, err error) {
	const maxScan = 20 * PageSize
	next = after
	for scanned := 0; next < through && scanned < maxScan; {
		views, err := b.log.ReadChanges(next, PageSize)
		if err != nil {
			return events, next, fmt.Errorf("feed: read the change log: %w", err)
		}
		if len(views) == 0 {
			break
		}
		for _, v := range views {
			if v.Seq > through {
				return events, next, nil
			}
			next = v.Seq
			scanned++
			if e, ok := FromChange(v); ok && f.Match(e) {
				events = append(events, e)
				if len(events) == limit {
					return events, next, nil
				}
			}
		}
		if len(views) < PageSize {
			break
		}
	}
	return events, next, nil
}
