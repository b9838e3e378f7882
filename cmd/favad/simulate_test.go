package main

import (
	"strings"
	"testing"
)

// TestSimulateAgainstDemoServer runs `favad simulate` against a real
// `favad serve --demo` process: it must print the summary and lose nothing.
func TestSimulateAgainstDemoServer(t *testing.T) {
	srv := startServer(t, t.TempDir(), "--demo")
	out := mustRun(t, "", "simulate", "--server", srv.url, "--inspectors", "3", "--duration", "2s", "--seed", "11", "--dir", t.TempDir())
	if !strings.Contains(out, "\nlost: 0\n") {
		t.Fatalf("simulate did not end with lost: 0:\n%s", out)
	}
	if !strings.Contains(out, "acknowledged:") {
		t.Fatalf("no summary:\n%s", out)
	}
	srv.stop(t)
}
