package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os/signal"
	"syscall"
	"time"

	"github.com/favad/favad/simulate"
)

// errLost makes simulate exit non-zero when work was lost.
var errLost = errors.New("the simulation lost acknowledged or queued work")

// simulate drives a running server with simulated inspectors and dispatch.
func (c *cli) simulate(ctx context.Context, args []string) error {
	fs := c.newFlagSet("simulate", "--server URL [--inspectors N] [--duration D]",
		"Run N simulated inspectors' phones against a running server for D: they go offline and\n"+
			"online at random, do field work, crash and lose answers, while a simulated dispatcher\n"+
			"enters, reassigns and withdraws complaints. Then every device syncs and its log is\n"+
			"compared with the server. Against 'favad serve --demo' the demo accounts are used.\n"+
			"Prints a summary ending 'lost: N'; exits 1 if anything was lost.")
	var cfg simulate.Config
	fs.StringVar(&cfg.Server, "server", "http://127.0.0.1:8128", "the server's root URL")
	fs.IntVar(&cfg.Inspectors, "inspectors", 5, "simulated inspectors, one phone each")
	fs.DurationVar(&cfg.Duration, "duration", 30*time.Second, "how long the devices work before the final sync")
	fs.StringVar(&cfg.DispatcherUser, "dispatcher-user", "dispatcher", "dispatcher account")
	fs.StringVar(&cfg.DispatcherPassword, "dispatcher-password", simulate.DemoPassword, "dispatcher password")
	fs.StringVar(&cfg.AdminUser, "admin-user", "admin", "admin account, which creates the simulated inspectors")
	fs.StringVar(&cfg.AdminPassword, "admin-password", simulate.DemoPassword, "admin password")
	fs.StringVar(&cfg.Province, "province", simulate.DemoProvince, "the inspectors' province")
	fs.Uint64Var(&cfg.Seed, "seed", 0, "random seed (0: random)")
	fs.StringVar(&cfg.Dir, "dir", "", "directory for the devices' files (default: a temporary one)")
	verbose := fs.Bool("v", false, "log the devices' and dispatcher's diagnostics to stderr")
	c.commandLineOnly(fs, "server", "inspectors", "duration", "dispatcher-user", "dispatcher-password", "admin-user", "admin-password", "province", "seed", "dir", "v")
	if err := c.parseFlags(fs, args); err != nil {
		return err
	}
	if cfg.Inspectors < 1 || cfg.Inspectors > 1000 {
		return usagef("--inspectors: 1 to 1000")
	}
	if *verbose {
		cfg.Logger = slog.New(slog.NewTextHandler(c.stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	fmt.Fprintf(c.stdout, "simulating %d inspectors against %s for %s…\n", cfg.Inspectors, cfg.Server, cfg.Duration)
	sum, err := simulate.Run(ctx, cfg)
	if err != nil {
		return err
	}
	sum.Print(c.stdout)
	if sum.Lost > 0 {
		return errLost
	}
	return nil
}
