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
