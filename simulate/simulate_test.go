package simulate_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	apispec "github.com/favad/favad/api-spec"
	"github.com/favad/favad/demo"
	"github.com/favad/favad/server"
	"github.com/favad/favad/server/auth"
	"github.com/favad/favad/simulate"
	favsync "github.com/favad/favad/sync"
	"github.com/favad/favad/sync/blob"
)

// TestSimulationLosesNothing runs inspectors who go offline, crash and lose
// answers against a real server with the demo data, while dispatch reassigns
// and withdraws; every queued mutation must be applied or on a conflict record.
func TestSimulationLosesNothing(t *testing.T) {
	store, err := favsync.Open(filepath.Join(t.TempDir(), "favad.db"), favsync.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { store.Close() })
	_, err = demo.Load(store, demo.Province)
	require.NoError(t, err)
	srv, err := server.New(server.Config{Store: store, Keys: auth.NewKeySet(), Spec: apispec.YAML,
		Blobs: &blob.FS{Dir: filepath.Join(t.TempDir(), "blobs")}, UploadDir: filepath.Join(t.TempDir(), "uploads"),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), LoginPerAccount: 1000, LoginPerAddress: 10000})
	require.NoError(t, err)
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)

	// The run is timed: on a loaded machine (the race detector, other
	// packages' tests) 3 s may hold too little work to meet a conflict, so
	// a run without one is followed by a longer one.
	// Every run must lose nothing; the work done is counted over the runs (a
	// run of 3 s on a loaded machine may queue nothing at all).
	var sum simulate.Summary
	queued, applied := 0, 0
	for i, d := range []time.Duration{3 * time.Second, 6 * time.Second, 12 * time.Second} {
		sum, err = simulate.Run(context.Background(), simulate.Config{Server: ts.URL, Inspectors: 4, Duration: d,
			Dir: t.TempDir(), Seed: 1405 + uint64(i)})
		require.NoError(t, err)
		var out bytes.Buffer
		sum.Print(&out)
		t.Logf("run of %s:\n%s", d, out.String())
		assert.Zero(t, sum.Lost, "lost work: %v", sum.LostDetail)
		assert.Equal(t, sum.Queued, sum.Acknowledged, "every queued mutation was answered")
		assert.Contains(t, out.String(), "lost: 0\n")
		queued, applied = queued+sum.Queued, applied+sum.Applied
		if sum.ResolvedByRule > 0 && sum.Applied > 0 {
			break
		}
	}
	assert.Positive(t, queued)
	assert.Positive(t, applied)
	assert.Positive(t, sum.ResolvedByRule, "dispatch-owned edits and late outcomes are resolved by rule")
}
