package flaky_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// tusClient runs server/testdata/tusclient/upload.mjs: the stock
// tus-js-client under Node.js, as a phone's app sends evidence.
type tusClient struct {
	node, script string
}

// findTusClient finds node and the installed tus-js-client. Without them it
// returns nil, and the test goes on without photos, unless
// FAVAD_REQUIRE_NODE is set (as in CI), when it fails.
func findTusClient(t *testing.T) *tusClient {
	t.Helper()
	missing := func(what string) *tusClient {
		msg := what + "; install Node.js and run `npm ci` in server/testdata/tusclient"
		if os.Getenv("FAVAD_REQUIRE_NODE") != "" {
			t.Fatal("FAVAD_REQUIRE_NODE is set but " + msg)
		}
		t.Log("the shift goes on without photos: " + msg)
		return nil
	}
	node, err := exec.LookPath("node")
	if err != nil {
		return missing("node is not on PATH")
	}
	dir, err := filepath.Abs(filepath.Join("..", "..", "server", "testdata", "tusclient"))
	require.NoError(t, err)
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "tus-js-client", "package.json")); err != nil {
		return missing("tus-js-client is not installed (server/testdata/tusclient/node_modules)")
	}
	return &tusClient{node: node, script: filepath.Join(dir, "upload.mjs")}
}

type tusRun struct {
	Endpoint    string            `json:"endpoint"`
	File        string            `json:"file"`
	Token       string            `json:"token"`
	Metadata    map[string]string `json:"metadata"`
	ChunkSize   int64             `json:"chunkSize"`
	RetryDelays []int             `json:"retryDelays"`
}

type tusOutcome struct {
	OK             bool   `json:"ok"`
	URL            string `json:"url"`
	Error          string `json:"error"`
	Status         int    `json:"status"`
	Body           string `json:"body"`
	EvidenceStatus string `json:"evidenceStatus"`
}

// upload runs one upload to its end (success or the client giving up).
func (c *tusClient) upload(t *testing.T, run tusRun) tusOutcome {
	t.Helper()
	cfg, err := json.Marshal(run)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.node, c.script, string(cfg))
	cmd.Dir = filepath.Dir(c.script)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	require.NoError(t, ctx.Err(), "the tus client timed out; stderr: %s", stderr.String())
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		require.NoError(t, err, "running node; stderr: %s", stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	var out tusOutcome
	require.NoError(t, json.Unmarshal([]byte(lines[len(lines)-1]), &out), "stdout: %s\nstderr: %s", stdout.String(), stderr.String())
	return out
}
