package reports

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	stdsync "sync"
	"sync/atomic"
	"time"

	favsync "github.com/favad/favad/sync"
)

// Store is what the aggregator reads: the change log with the records each
// change concerns, a signal of new changes, and the log's head.
type Store interface {
	// ReadChanges returns up to limit changes after seq, oldest first, each
	// with the current state of the records it concerns.
	ReadChanges(after uint64, limit int) ([]favsync.ChangeView, error)
	// Changed returns a channel closed at the next commit that appends to the log.
	Changed() <-chan struct{}
	// Stats returns the log's head (Seq).
	Stats() (favsync.Stats, error)
}

var _ Store = (*favsync.Store)(nil)

// Config configures an Aggregator. Store is required; the rest has defaults.
type Config struct {
	Store Store
	// SnapshotPath is the file the facts are saved to, for example
	// <data>/reports.snapshot; "" keeps them in memory only (rebuilt from the
	// log at every start).
	SnapshotPath string
	// SnapshotEvery is how often Run saves the snapshot while it has
	// applied something new; default 5 minutes. Run also saves at shutdown.
	SnapshotEvery time.Duration
	// Poll is how long Run waits for the store's signal before reading
	// anyway; default 1s.
	Poll time.Duration
	// Settle is how long Run lets changes gather after the store's signal
	// before it reads them, so that a burst of commits is read in one batch
	// rather than one read per commit; default 100ms. Reports need no
	// fresher figures, and writers share the CPU with fewer reads.
	Settle time.Duration
	// BatchSize is how many changes are read at once; default 1000.
	BatchSize int
	// Now is the clock (for "past its due time"); default time.Now.
	Now func() time.Time
	// Logger; default slog.Default().
	Logger *slog.Logger
}

func (c *Config) validate() error {
	if c.Store == nil {
		return errors.New("reports: config needs a Store")
	}
	if c.SnapshotEvery <= 0 {
		c.SnapshotEvery = 5 * time.Minute
	}
	if c.Poll <= 0 {
		c.Poll = time.Second
	}
	if c.Settle <= 0 {
		c.Settle = 100 * time.Millisecond
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 1000
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// Aggregator keeps the reports' facts from the change log and answers the
// reports from them. Queries are safe for concurrent use with Run and with
// each other; they answer from what has been read so far (see Behind).
type Aggregator struct {
	cfg     Config
	mu      stdsync.RWMutex
	st      *state
	applied atomic.Uint64 // st.cursor, readable without the lock
	saved   atomic.Uint64 // the cursor of the last snapshot written or loaded
	readMu  stdsync.Mutex // one reader of the log at a time (Run, CatchUp)
}

// New makes an aggregator, loading its snapshot when there is a usable one:
// otherwise (missing, unreadable, another format, or ahead of the store's
// log, as after restoring an older backup) it starts from the beginning of
// the log. It does not read the log; Run or CatchUp does.
func New(cfg Config) (*Aggregator, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	a := &Aggregator{cfg: cfg, st: newState()}
	if cfg.SnapshotPath == "" {
		return a, nil
	}
	st, err := loadSnapshot(cfg.SnapshotPath)
	if err == nil {
		var stats favsync.Stats
		if stats, err = cfg.Store.Stats(); err != nil {
			return nil, fmt.Errorf("reports: read the log's head: %w", err)
		}
		if st.cursor > stats.Seq {
			err = fmt.Errorf("%w: it has read up to %d, the log ends at %d", errSnapshotAhead, st.cursor, stats.Seq)
		}
	}
	if err != nil {
		cfg.Logger.Info("reports: rebuilding from the change log", "snapshot", cfg.SnapshotPath, "reason", err.Error())
		return a, nil
	}
	cfg.Logger.Info("reports: loaded the snapshot", "snapshot", cfg.SnapshotPath, "seq", st.cursor, "complaints", len(st.complaints))
	a.st = st
	a.saved.Store(st.cursor)
	a.applied.Store(st.cursor)
	return a, nil
}

// Behind returns the last change applied and the head of the log; applied
// < head means the aggregator is catching up. If the head cannot be read,
// head is applied.
func (a *Aggregator) Behind() (applied, head uint64) {
	applied = a.applied.Load()
	stats, err := a.cfg.Store.Stats()
	if err != nil {
		return applied, applied
	}
	return applied, max(stats.Seq, applied)
}

// step reads and applies one batch; it returns how many changes it applied.
func (a *Aggregator) step() (int, error) {
	a.readMu.Lock()
	defer a.readMu.Unlock()
	after := a.applied.Load()
	views, err := a.cfg.Store.ReadChanges(after, a.cfg.BatchSize)
	if err != nil {
		return 0, fmt.Errorf("reports: read changes after %d: %w", after, err)
	}
	if len(views) == 0 {
		return 0, nil
	}
	a.mu.Lock()
	for i := range views {
		a.st.apply(&views[i])
	}
	a.applied.Store(a.st.cursor)
	a.mu.Unlock()
	return len(views), nil
}

// CatchUp reads the log until it has applied every change committed when
// it was called.
func (a *Aggregator) CatchUp() error {
	stats, err := a.cfg.Store.Stats()
	if err != nil {
		return fmt.Errorf("reports: read the log's head: %w", err)
	}
	for a.applied.Load() < stats.Seq {
		n, err := a.step()
		if err != nil {
			return err
		}
		if n == 0 {
			return nil // the head was a sequence whose change is not readable yet
		}
	}
	return nil
}

// Run tails the change log until ctx is done: it reads in batches, waits
// for the store's signal (or Poll) when it has caught up, then Settle for
// more, saves the
// snapshot every SnapshotEvery when there is something new, and once more
// when ctx ends. A failed read is logged and retried after Poll. It returns
// the error of the last snapshot, if that failed.
func (a *Aggregator) Run(ctx context.Context) error {
	log := a.cfg.Logger
	lastSave := time.Now()
	for {
		changed := a.cfg.Store.Changed() // before reading: a commit after the read closes it
		n, err := a.step()
		if err != nil {
			log.Error("reports: reading the change log", "error", err)
		}
		if time.Since(lastSave) >= a.cfg.SnapshotEvery {
			lastSave = time.Now()
			if err := a.saveIfNew(); err != nil {
				log.Error("reports: saving the snapshot", "error", err)
			}
		}
		if err == nil && n == a.cfg.BatchSize {
			if ctx.Err() == nil {
				continue
			}
		}
		timer := time.NewTimer(a.cfg.Poll)
		select {
		case <-ctx.Done():
			timer.Stop()
			if err := a.saveIfNew(); err != nil {
				return err
			}
			return nil
		case <-changed:
			timer.Reset(a.cfg.Settle)
			select {
			case <-ctx.Done():
			case <-timer.C:
			}
		case <-timer.C:
		}
		timer.Stop()
	}
}

// saveIfNew writes the snapshot if changes were applied since the last one.
func (a *Aggregator) saveIfNew() error {
	if a.cfg.SnapshotPath == "" || a.applied.Load() == a.saved.Load() {
		return nil
	}
	return a.Snapshot()
}

// Snapshot writes the facts and the cursor to Config.SnapshotPath,
// atomically (a temporary file, fsynced, renamed over the old one, and the
// directory fsynced). Without a path it does nothing.
func (a *Aggregator) Snapshot() error {
	if a.cfg.SnapshotPath == "" {
		return nil
	}
	a.mu.RLock()
	raw, cursor, err := encodeSnapshot(a.st)
	a.mu.RUnlock()
	if err != nil {
		return err
	}
	if err := writeFileAtomic(a.cfg.SnapshotPath, raw); err != nil {
		return fmt.Errorf("reports: write snapshot: %w", err)
	}
	a.saved.Store(cursor)
	return nil
}

// now is the clock reading for queries.
func (a *Aggregator) now() time.Time { return a.cfg.Now() }

// ByAgency returns one row per agency with complaints or findings in the
// filter, most complaints first (then by code).
func (a *Aggregator) ByAgency(f Filter) []AgencyRow {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.st.byAgency(f, a.now())
}

// ByOffice returns one row per office with complaints or findings in the
// filter, most complaints first (then by code).
func (a *Aggregator) ByOffice(f Filter) []OfficeRow {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.st.byOffice(f, a.now())
}

// RepeatOffenders returns the offices with at least minSubstantiated
// substantiated complaints (by outcome) among those called in the window of
// the given length that ends at f.To (now, if f.To is zero), with the count
// in the window before it; f.From is not used. minSubstantiated ≤ 0 means
// DefaultMinSubstantiated (3), window ≤ 0 DefaultWindow (90 days).
func (a *Aggregator) RepeatOffenders(f Filter, minSubstantiated int, window time.Duration) RepeatOffenders {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.st.repeatOffenders(f, minSubstantiated, window, a.now())
}

// ByInspector returns one row per inspector with open work, visits, calls
// or outcomes in the filter (see InspectorRow), most outcomes first.
func (a *Aggregator) ByInspector(f Filter) []InspectorRow {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.st.byInspector(f)
}

// TimeSeries returns complaints per Iran-local day (by ByDay) or Solar
// Hijri month (ByMonth) of the filter's period, every period present. It
// returns an error for any other by, or a period outside the years 1800 to
// 2800.
func (a *Aggregator) TimeSeries(f Filter, by string) ([]Point, error) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.st.timeSeries(f, by)
}
