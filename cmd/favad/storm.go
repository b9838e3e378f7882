package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/favad/favad/server"
	"github.com/favad/favad/simulate"
)

// storm measures a reconnect storm against this binary's own `favad serve`,
// started as a child process so that the RSS and sockets measured are the
// server's alone.
func (c *cli) storm(ctx context.Context, args []string) error {
	fs := c.newFlagSet("storm", "[--devices N] [--mutations M] [--photos P] [--photo-size BYTES]",
		"Measure a reconnect storm (docs/benchmarks.md, \"Reconnect storm\"). N devices sign in to a\n"+
			"child 'favad serve' and pull their assignment; the server stops; each device queues M field\n"+
			"records (a check-in, 4 findings, notes) and P photos' evidence records offline; a fresh\n"+
			"server starts and every device reconnects at once: it syncs, then uploads its photos over\n"+
			"tus. Prints the time to drain, push latency, the server's RSS and open sockets, the\n"+
			"notifier's lag, and the raw group-commit and loopback-copy baselines of the same run.\n"+
			"The server trusts 127.0.0.1 as a proxy and each device sends its own X-Forwarded-For,\n"+
			"so the per-address sign-in and connection limits apply per device.")
	var cfg simulate.StormConfig
	fs.IntVar(&cfg.Devices, "devices", 5000, "simulated devices")
	fs.IntVar(&cfg.DevicesPerAccount, "devices-per-account", 1, "devices signed in to one inspector account")
	fs.IntVar(&cfg.Mutations, "mutations", 50, "field records each device queues offline (at least 5)")
	fs.IntVar(&cfg.Photos, "photos", 2, "photos each device uploads")
	fs.IntVar(&cfg.PhotoSize, "photo-size", 100<<10, "bytes in a photo")
	fs.IntVar(&cfg.SetupConcurrency, "setup-concurrency", 32, "devices signing in at once before the storm")
	fs.DurationVar(&cfg.BaselineWindow, "baseline-window", 3*time.Second, "how long the raw write baseline runs")
	fs.StringVar(&cfg.Dir, "dir", "", "work directory (default: a temporary one, removed after)")
	inFlight := fs.Int("push-in-flight", server.DefaultPushInFlight, "the server's --push-in-flight (a large value turns its push gate off)")
	queueWait := fs.Duration("push-queue-wait", server.DefaultPushQueueWait, "the server's --push-queue-wait")
	verbose := fs.Bool("v", false, "log the devices' diagnostics to stderr")
	c.commandLineOnly(fs, "devices", "devices-per-account", "mutations", "photos", "photo-size", "setup-concurrency", "baseline-window", "dir",
		"push-in-flight", "push-queue-wait", "v")
	if err := c.parseFlags(fs, args); err != nil {
		return err
	}
	if cfg.Devices < 1 || cfg.Devices > 50000 {
		return usagef("--devices: 1 to 50000")
	}
	if cfg.Mutations < 5 || cfg.Mutations > 500 {
		return usagef("--mutations: 5 to 500")
	}
	if cfg.Photos < 1 || cfg.Photos > 20 || cfg.PhotoSize < 1024 || cfg.PhotoSize > 16<<20 {
		return usagef("--photos: 1 to 20; --photo-size: 1 KiB to 16 MiB")
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	cfg.Serve = []string{exe, "serve", "--push-in-flight", strconv.Itoa(*inFlight), "--push-queue-wait", queueWait.String()}
	cfg.Progress = c.stderr
	if *verbose {
		cfg.Logger = slog.New(slog.NewTextHandler(c.stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	before := loadAverage()
	rep, err := simulate.Storm(ctx, cfg)
	if err != nil {
		return err
	}
	rep.Print(c.stdout)
	fmt.Fprintf(c.stdout, "load average:          %s before, %s after\n", before, loadAverage())
	return nil
}

// loadAverage is the first three fields of /proc/loadavg, or "?".
func loadAverage() string {
	raw, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(raw)); err == nil && len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return "?"
}
