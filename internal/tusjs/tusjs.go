// Package tusjs runs server/testdata/tusclient/upload.mjs — the stock
// tus-js-client under Node.js, sending a file as a phone's app sends
// evidence — for the server's upload tests and the flaky-network tests.
package tusjs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Client is how to run upload.mjs.
type Client struct {
	node, script string
}

// Find looks for node on PATH and tus-js-client installed in dir (the
// folder of upload.mjs). Its error says what is missing, and how to
// install it.
func Find(dir string) (*Client, error) {
	missing := func(what string) error {
		return fmt.Errorf("%s; install Node.js and run `npm ci` in server/testdata/tusclient", what)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, missing("node is not on PATH")
	}
	dir, err = filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "tus-js-client", "package.json")); err != nil {
		return nil, missing("tus-js-client is not installed (server/testdata/tusclient/node_modules)")
	}
	return &Client{node: node, script: filepath.Join(dir, "upload.mjs")}, nil
}

// Run is one upload's configuration (see upload.mjs).
type Run struct {
	Endpoint    string            `json:"endpoint,omitempty"`
	UploadURL   string            `json:"uploadUrl,omitempty"`
	File        string            `json:"file"`
	Token       string            `json:"token,omitempty"`
	Metadata    map[string]string `json:"metadata"`
	ChunkSize   int64             `json:"chunkSize,omitempty"`
	RetryDelays []int             `json:"retryDelays,omitempty"`
	// UploadDataDuringCreation sends the first chunk with the POST (creation-with-upload).
	UploadDataDuringCreation bool `json:"uploadDataDuringCreation,omitempty"`
}

// Outcome is what upload.mjs prints at its end.
type Outcome struct {
	OK             bool   `json:"ok"`
	URL            string `json:"url"`
	Error          string `json:"error"`
	Status         int    `json:"status"`
	Body           string `json:"body"`
	EvidenceStatus string `json:"evidenceStatus"`
	BytesSent      int64  `json:"bytesSent"`
	// ExitOK tells whether node exited with status 0.
	ExitOK bool `json:"-"`
}

// Upload runs one upload to its end (success or the client giving up),
// failing the test if it takes longer than timeout or prints no outcome.
func (c *Client) Upload(t testing.TB, timeout time.Duration, run Run) Outcome {
	t.Helper()
	cfg, err := json.Marshal(run)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
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
	var out Outcome
	require.NoError(t, json.Unmarshal([]byte(lines[len(lines)-1]), &out), "stdout: %s\nstderr: %s", stdout.String(), stderr.String())
	out.ExitOK = err == nil
	return out
}
