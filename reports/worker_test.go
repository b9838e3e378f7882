package reports

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func snapshotConfig(t *testing.T, store Store, path string) Config {
	t.Helper()
	return Config{Store: store, SnapshotPath: path, Now: func() time.Time { return scenarioNow }, Logger: quiet}
}

func TestSnapshotRoundTrip(t *testing.T) {
	f := scenario()
	store := newMemStore(f.views)
	path := filepath.Join(t.TempDir(), "reports.snapshot")
	a, err := New(snapshotConfig(t, store, path))
	require.NoError(t, err)
	require.NoError(t, a.CatchUp())
	require.NoError(t, a.Snapshot())

	b, err := New(snapshotConfig(t, store, path))
	require.NoError(t, err)
	applied, head := b.Behind()
	assert.Equal(t, head, applied, "loaded, not rebuilt")
	assert.Equal(t, uint64(len(f.views)), applied)
	store.mu.Lock()
	reads := store.reads
	store.mu.Unlock()
	require.NoError(t, b.CatchUp())
	assert.Equal(t, reads, store.reads, "nothing to read after loading an up-to-date snapshot")
	assert.Equal(t, a.ByAgency(scenarioFilter), b.ByAgency(scenarioFilter))
	assert.Equal(t, a.ByOffice(scenarioFilter), b.ByOffice(scenarioFilter))
	assert.Equal(t, a.ByInspector(scenarioFilter), b.ByInspector(scenarioFilter))
	assert.Equal(t, a.RepeatOffenders(Filter{}, 1, 0), b.RepeatOffenders(Filter{}, 1, 0))
	pa, _ := a.TimeSeries(scenarioFilter, ByDay)
	pb, _ := b.TimeSeries(scenarioFilter, ByDay)
	assert.Equal(t, pa, pb)
	// The snapshot holds no caller data.
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.False(t, bytes.Contains(raw, []byte("09120000000")))
	assert.False(t, bytes.Contains(raw, []byte("CALL-")))
	assert.False(t, bytes.Contains(raw, []byte("شهروند")))
}

// After a restart the aggregator reads only what came after its snapshot.
func TestRestartCatchesUp(t *testing.T) {
	f := scenario()
	half := len(f.views) / 2
	store := newMemStore(f.views[:half])
	path := filepath.Join(t.TempDir(), "reports.snapshot")
	a, err := New(snapshotConfig(t, store, path))
	require.NoError(t, err)
	require.NoError(t, a.CatchUp())
	require.NoError(t, a.Snapshot())

	store.append(f.views[half:]...)
	b, err := New(snapshotConfig(t, store, path))
	require.NoError(t, err)
	applied, head := b.Behind()
	assert.Equal(t, uint64(half), applied)
	assert.Equal(t, uint64(len(f.views)), head, "catching up")
	require.NoError(t, b.CatchUp())
	assert.Equal(t, newAgg(t, f.views, scenarioNow).ByOffice(scenarioFilter), b.ByOffice(scenarioFilter))
}

// Rebuilt from the log, never misread: a snapshot of another format, a
// damaged one, one that is not a snapshot, one ahead of the log.
func TestSnapshotRebuilds(t *testing.T) {
	f := scenario()
	store := newMemStore(f.views)
	dir := t.TempDir()
	good := filepath.Join(dir, "good")
	a, err := New(snapshotConfig(t, store, good))
	require.NoError(t, err)
	require.NoError(t, a.CatchUp())
	require.NoError(t, a.Snapshot())
	raw, err := os.ReadFile(good)
	require.NoError(t, err)

	otherFormat := bytes.Clone(raw)
	binary.BigEndian.PutUint32(otherFormat[len(snapshotMagic):], snapshotFormat+1)
	flipped := bytes.Clone(raw)
	flipped[len(flipped)/2] ^= 0x40
	truncated := raw[:len(raw)-10]

	for name, content := range map[string][]byte{
		"other format": otherFormat, "flipped byte": flipped, "truncated": truncated,
		"empty": {}, "not a snapshot": []byte("hello, world, this is not it"),
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name)
			require.NoError(t, os.WriteFile(path, content, 0o600))
			b, err := New(snapshotConfig(t, store, path))
			require.NoError(t, err)
			applied, _ := b.Behind()
			assert.Zero(t, applied, "rebuilt from the start of the log")
			require.NoError(t, b.CatchUp())
			assert.Equal(t, a.ByAgency(scenarioFilter), b.ByAgency(scenarioFilter))
		})
	}

	t.Run("missing", func(t *testing.T) {
		b, err := New(snapshotConfig(t, store, filepath.Join(dir, "none")))
		require.NoError(t, err)
		applied, _ := b.Behind()
		assert.Zero(t, applied)
	})

	t.Run("ahead of the log", func(t *testing.T) {
		// The store was restored from a backup older than the snapshot.
		older := newMemStore(f.views[:len(f.views)/2])
		b, err := New(snapshotConfig(t, older, good))
		require.NoError(t, err)
		applied, head := b.Behind()
		assert.Zero(t, applied)
		require.NoError(t, b.CatchUp())
		applied, _ = b.Behind()
		assert.Equal(t, head, applied)
		assert.Equal(t, newAgg(t, f.views[:len(f.views)/2], scenarioNow).ByAgency(scenarioFilter), b.ByAgency(scenarioFilter))
	})

	t.Run("other codes", func(t *testing.T) {
		a.mu.RLock()
		st := a.st
		a.mu.RUnlock()
		saved := statuses
		t.Cleanup(func() { statuses = saved })
		statuses = append(statuses[:len(statuses):len(statuses)], "archived") // a newer build's list
		raw, _, err := encodeSnapshot(st)
		require.NoError(t, err)
		statuses = saved
		_, err = decodeSnapshot(raw)
		assert.ErrorIs(t, err, errSnapshotFormat)
	})
}

// Run tails the log: it applies what is there, wakes on the store's signal,
// and saves the snapshot when it stops.
func TestRunTailsAndSavesAtShutdown(t *testing.T) {
	f := scenario()
	half := len(f.views) / 2
	store := newMemStore(f.views[:half])
	path := filepath.Join(t.TempDir(), "reports.snapshot")
	cfg := snapshotConfig(t, store, path)
	cfg.Poll = time.Hour // only the signal can wake it
	cfg.BatchSize = 4
	a, err := New(cfg)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- a.Run(ctx) }()

	waitApplied := func(want uint64) {
		t.Helper()
		require.Eventually(t, func() bool { applied, _ := a.Behind(); return applied == want }, 5*time.Second, time.Millisecond)
	}
	waitApplied(uint64(half))
	store.append(f.views[half:]...)
	waitApplied(uint64(len(f.views)))
	_, err = os.Stat(path)
	assert.True(t, os.IsNotExist(err), "no snapshot before shutdown (every 5 minutes)")

	cancel()
	require.NoError(t, <-done)
	b, err := New(snapshotConfig(t, store, path))
	require.NoError(t, err)
	applied, _ := b.Behind()
	assert.Equal(t, uint64(len(f.views)), applied, "saved at shutdown")
	assert.Equal(t, newAgg(t, f.views, scenarioNow).ByAgency(scenarioFilter), b.ByAgency(scenarioFilter))
}

// A failing read is retried after the poll interval; queries meanwhile
// answer from what was read.
func TestRunRetriesAfterReadError(t *testing.T) {
	f := scenario()
	store := newMemStore(f.views)
	store.fail = errBroken
	a, err := New(Config{Store: store, Poll: 5 * time.Millisecond, Logger: quiet, Now: func() time.Time { return scenarioNow }})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error)
	go func() { done <- a.Run(ctx) }()
	require.Eventually(t, func() bool { store.mu.Lock(); defer store.mu.Unlock(); return store.reads >= 3 }, 5*time.Second, time.Millisecond)
	assert.Empty(t, a.ByAgency(scenarioFilter))
	applied, head := a.Behind()
	assert.Zero(t, applied)
	assert.Equal(t, uint64(len(f.views)), head)
	store.mu.Lock()
	store.fail = nil
	store.mu.Unlock()
	require.Eventually(t, func() bool { applied, _ := a.Behind(); return applied == uint64(len(f.views)) }, 5*time.Second, time.Millisecond)
	cancel()
	require.NoError(t, <-done)
}

func TestNewNeedsAStore(t *testing.T) {
	_, err := New(Config{})
	assert.Error(t, err)
}
