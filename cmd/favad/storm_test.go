package main

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestStormSmall runs `favad storm` at 50 devices against its own child
// `favad serve`: every queued mutation must be applied and every photo
// stored, and the report must carry the figures docs/benchmarks.md quotes.
// It keeps the load program working; the full run is `make storm`.
func TestStormSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two servers and 50 devices")
	}
	out := mustRun(t, "", "storm", "--devices", "50", "--devices-per-account", "2", "--mutations", "10",
		"--photo-size", "20000", "--baseline-window", "300ms", "--dir", t.TempDir())
	t.Log("\n" + out)
	for _, want := range []string{
		"devices:               50 (25 accounts)\n",
		"mutations:             600 (applied 600, rejected 0)\n",
		"photos:                100 sent, 100 stored\n",
		"push latency:", "raw group commit", "raw loopback copy", "server RSS:", "open connections:", "notifier lag:", "load average:",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in the report", want)
		}
	}
	m := regexp.MustCompile(`open connections:\s+peak (\d+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatal("no open connections figure")
	}
	if n, _ := strconv.Atoi(m[1]); n < 2 {
		t.Errorf("peak open connections %d: the server's sockets were not counted", n)
	}
}
