package sync

import (
	"context"
	"log/slog"
	"time"
)

// DefaultTombstoneRetention is how long removals stay in the scope logs. A
// device that has not synced for longer gets a full resync, never a gap.
const DefaultTombstoneRetention = 30 * 24 * time.Hour

// RunCompaction prunes scope-log entries older than retention every interval
// until ctx ends. It returns when ctx is done; the caller waits for it before
// closing the store.
func (s *Store) RunCompaction(ctx context.Context, retention, interval time.Duration, log *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		n, err := s.CompactScopes(s.now().Add(-retention))
		switch {
		case err != nil:
			log.Error("compact scope logs", "error", err)
		case n > 0:
			log.Info("compacted scope logs", "pruned", n, "retention", retention.String())
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// RunSLAWatch reports breached due times (see BreachDue) every interval
// until ctx ends. Its timer is the store's due index, so a restart, or a
// server that was down past a due time, reports every breach it missed, each
// once.
func (s *Store) RunSLAWatch(ctx context.Context, interval time.Duration, log *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		for {
			breaches, err := s.BreachDue(s.now(), 500)
			if err != nil {
				log.Error("SLA watch", "error", err)
				break
			}
			for _, b := range breaches {
				log.Info("SLA breached", "complaint", b.ComplaintID, "due_at", b.DueAt, "sla", b.Kind, "seq", b.Seq)
			}
			if len(breaches) < 500 {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
