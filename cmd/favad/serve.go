package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	stdsync "sync"
	"syscall"
	"text/tabwriter"
	"time"

	apispec "github.com/favad/favad/api-spec"
	"github.com/favad/favad/demo"
	"github.com/favad/favad/feed"
	"github.com/favad/favad/inspector"
	"github.com/favad/favad/media"
	"github.com/favad/favad/push"
	"github.com/favad/favad/reports"
	"github.com/favad/favad/server"
	"github.com/favad/favad/server/auth"
	favsync "github.com/favad/favad/sync"
	"github.com/favad/favad/sync/s3backup"
)

// shutdownTimeout bounds how long requests in flight may take to finish.
const shutdownTimeout = 20 * time.Second

// serve runs the API until SIGINT or SIGTERM, then shuts down in order: the
// server drains (/readyz fails), HTTP requests in flight finish (at most
// shutdownTimeout), the admin socket closes, and the store closes last. A
// second signal exits at once.
func (c *cli) serve(ctx context.Context, args []string) error {
	var cfg serveConfig
	fs := c.newFlagSet("serve", "[flags]", "Run the FAVAD API server until SIGINT or SIGTERM.")
	cfg.register(fs)
	if err := c.parseFlags(fs, args); err != nil {
		return err
	}
	if err := cfg.validate(); err != nil {
		return err
	}
	if cfg.FCMCredentials == "" {
		cfg.FCMCredentials = c.getenv("GOOGLE_APPLICATION_CREDENTIALS")
	}
	logger := slog.New(slog.NewJSONHandler(c.stderr, &slog.HandlerOptions{Level: cfg.level}))
	slog.SetDefault(logger)

	if err := refuseStandbyDir(cfg.Data, "to serve it as it is instead, remove "+standbyStateFile(cfg.Data)+" first"); err != nil {
		return err
	}

	ctx, stopSignals := c.notifySignals(ctx)
	defer stopSignals()
	return c.runServer(ctx, &cfg, logger)
}

// runServer serves cfg until ctx ends (serve's and a promoted standby's
// common path): cfg is validated, the logger and the signals are set up.
func (c *cli) runServer(ctx context.Context, cfg *serveConfig, logger *slog.Logger) error {
	var tlsConfig *tls.Config
	if cfg.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			return fmt.Errorf("TLS: %w", err)
		}
		tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}

	// The store is opened first and closed last.
	store, err := openStore(cfg.Data, favsync.Options{SLA: cfg.sla, ReferralSLA: cfg.SLAReferral, EvidenceMaxSize: cfg.EvidenceMax,
		EvidenceLimits: inspector.EvidenceLimits{CaptureSlack: cfg.CaptureSlack, MaxDistanceM: cfg.MaxDistanceM}})
	if err != nil {
		return err
	}
	storeOpen := true
	defer func() {
		if storeOpen {
			store.Close()
		}
	}()

	var loaded demo.Result
	if cfg.Demo {
		if loaded, err = demo.Load(store, demo.Province); err != nil {
			return err
		}
	}
	if err := warnWithoutAdmin(store, cfg.Data, c.stdout, logger); err != nil {
		return err
	}
	blobs, err := cfg.Blob.open(ctx, cfg.Data, c.getenv)
	if err != nil {
		return err
	}
	logger.Info("evidence blob store", "store", fmt.Sprint(blobs))
	var (
		backups       *s3backup.Bucket
		lastBackup    s3backup.Manifest
		backupMetrics = newBackupMetrics()
	)
	if cfg.BackupTo != "" {
		if backups, err = s3Backups(cfg.BackupTo, "--backup-to", &cfg.Blob, c.getenv); err != nil {
			return err
		}
		if lastBackup, err = checkBackupPlace(ctx, backups, logger); err != nil {
			return err
		}
		logger.Info("scheduled backups", "to", backups.String(), "every", cfg.BackupEvery, "keep", cfg.BackupKeep,
			"newest", lastBackup.Name, "newest_taken", lastBackup.Taken)
	}
	sender, err := pushSender(ctx, cfg.FCMCredentials, push.TTLs{Sync: cfg.SyncTTL, Assignment: cfg.AssignmentTTL}, logger)
	if err != nil {
		return err
	}
	thumbs := &media.Thumbnailer{Store: store, Blobs: blobs, Dir: filepath.Join(cfg.Data, "thumbs"), Logger: logger.With("component", "thumbnailer")}
	if err := thumbs.Validate(); err != nil {
		return err
	}
	hub := server.NewHub()
	notifier := &push.Notifier{Store: store, Sender: sender, Poker: hub, Logger: logger.With("component", "notifier"),
		Window: cfg.PushWindow, StaleAfter: cfg.TokenStale}
	notifier.Metrics = push.NewMetrics()
	// Settle where notifications start before any request is served, so that
	// no change of this run is older than the notifier's first position.
	seq, err := store.NotifierCursor()
	if err == nil {
		err = store.SaveNotifierCursor(seq)
	}
	if err != nil {
		return fmt.Errorf("notifier: cannot settle its cursor: %w", err)
	}
	callerNotices := &push.CallerNotices{Store: store, Notifier: push.LogCallerNotifier{Logger: logger.With("component", "caller_notices")},
		Logger: logger.With("component", "caller_notices")}
	if err := callerNotices.Settle(); err != nil {
		return fmt.Errorf("caller notices: cannot settle the cursor: %w", err)
	}
	feedBroker := feed.NewBroker(store, feed.Options{Logger: logger})
	// The reports' aggregates: loaded from their snapshot (or rebuilt from
	// the log) before serving; Run catches up in the background, and the
	// answers say so meanwhile.
	aggregates, err := reports.New(reports.Config{Store: store, SnapshotPath: reportsSnapshotFile(cfg.Data),
		Logger: logger.With("component", "reports")})
	if err != nil {
		return err
	}
	keys, err := auth.LoadOrCreateKeys(cfg.JWTKeyFile, time.Now())
	if err != nil {
		return err
	}
	srv, err := server.New(server.Config{
		Store:          store,
		Keys:           keys,
		Logger:         logger,
		Spec:           apispec.YAML,
		AccessTTL:      cfg.AccessTTL,
		RefreshTTL:     cfg.RefreshTTL,
		CORSOrigins:    cfg.origins,
		TrustedProxies: cfg.proxies,

		BodyIdleTimeout: cfg.BodyIdle,
		MaxConnsPerAddr: cfg.conns,
		PushInFlight:    cfg.PushInFlight,
		PushQueueWait:   cfg.PushQueueWait,

		Blobs:                    blobs,
		UploadDir:                filepath.Join(cfg.Data, "uploads"),
		MediaMissingAfter:        cfg.MediaMissing,
		UnclaimedUploadRetention: cfg.Unclaimed,
		Hub:                      hub,
		Feed:                     feedBroker,
		ReadPhotoMeta:            media.ReadPhotoMetaAt,
		Thumbnails:               thumbs,
		Collectors:               append(notifier.Metrics.Collectors(), backupMetrics.collectors(backups != nil)...),
		Reports:                  aggregates,
	})
	if err != nil {
		return err
	}

	admin, err := listenAdmin(adminSocketFile(cfg.Data), store, blobs, logger)
	if err != nil {
		return err
	}
	adminOpen := true
	defer func() {
		if adminOpen {
			admin.close()
		}
	}()

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	ln = srv.LimitListener(ln) // at most --max-conns-per-addr connections per client address
	hs := srv.HTTPServer()     // header and body timeouts
	hs.TLSConfig = tlsConfig
	serveErr := make(chan error, 1)
	go func() {
		if tlsConfig != nil {
			serveErr <- hs.ServeTLS(ln, "", "")
		} else {
			serveErr <- hs.Serve(ln)
		}
	}()

	scheme := "http"
	if tlsConfig != nil {
		scheme = "https"
	}
	url := scheme + "://" + displayAddr(ln.Addr())
	logger.Info("listening", "url", url, "data", cfg.Data, "version", version)
	fmt.Fprintf(c.stdout, "FAVAD listening on %s\n", url)
	fmt.Fprintf(c.stdout, "Web console: open %s/ in a browser and sign in\n", url)
	if cfg.Demo {
		c.printDemo(loaded)
	}

	workers, stopWorkers := context.WithCancel(context.Background())
	var background stdsync.WaitGroup
	background.Go(func() { store.RunCompaction(workers, cfg.Retention, time.Hour, logger) })
	background.Go(func() { srv.RunUploadJanitor(workers, cfg.UploadMaxAge, 10*time.Minute) })
	background.Go(func() { notifier.Run(workers) })
	background.Go(func() { thumbs.Run(workers, media.DefaultThumbnailInterval) })
	background.Go(func() { store.RunSLAWatch(workers, cfg.SLAWatchEvery, logger.With("component", "sla_watch")) })
	background.Go(func() { callerNotices.Run(workers) })
	if backups != nil {
		background.Go(func() {
			runScheduledBackups(workers, store, cfg.Data, backups, cfg.BackupEvery, cfg.BackupKeep, lastBackup, backupMetrics, logger.With("component", "backups"))
		})
	}
	// The feed broker ends the feeds left after the drain and waits for its reader.
	background.Go(func() { feedBroker.Run(workers) })
	background.Go(func() { // saves its snapshot when it stops, before the store closes
		if err := aggregates.Run(workers); err != nil {
			logger.Error("reports: the snapshot was not saved at shutdown; it is rebuilt at the next start", "error", err)
		}
	})

	var failed error
	select {
	case <-ctx.Done():
		logger.Info("shutting down", "reason", context.Cause(ctx).Error())
	case err := <-serveErr:
		failed = fmt.Errorf("serve: %w", err)
		logger.Error("server stopped", "error", err)
	}

	srv.Drain()
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		logger.Warn("requests still running at the shutdown deadline were cut off", "error", err)
		hs.Close()
	}
	stopWorkers()
	background.Wait()
	adminOpen = false
	if err := admin.shutdown(sctx); err != nil {
		logger.Warn("admin socket: a backup in progress was cut off", "error", err)
	}
	storeOpen = false
	if err := store.Close(); err != nil {
		return fmt.Errorf("close store: %w", err)
	}
	logger.Info("stopped")
	return failed
}

// notifySignals returns a context cancelled by the first SIGINT or SIGTERM;
// a second one exits the process at once with status 1.
func (c *cli) notifySignals(parent context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(parent)
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case sig := <-sigs:
			cancel(fmt.Errorf("received %v", sig))
		case <-done:
			return
		}
		select {
		case sig := <-sigs:
			fmt.Fprintf(c.stderr, "favad: second %v: exiting at once\n", sig)
			os.Exit(1)
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(sigs)
		close(done)
		cancel(nil)
	}
}

// displayAddr renders a listening address for a URL; a wildcard address is
// shown as localhost, where a browser on the same machine reaches it.
func displayAddr(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}

// refuseStandbyDir refuses a data directory that is a file, or a warm
// standby's directory not promoted: it is served by the standby once
// promoted; written to by hand (a server, an account changed), it would hold
// writes the standby then must not restore over, and it would stop
// following. instead says what else the operator may do.
func refuseStandbyDir(dataDir, instead string) error {
	if fi, err := os.Stat(dataDir); err == nil && !fi.IsDir() {
		return fmt.Errorf("--data %s is a file, not a directory", dataDir)
	}
	st, err := readStandbyState(dataDir)
	if err != nil {
		return err
	}
	if _, serr := os.Stat(standbyStateFile(dataDir)); serr == nil && st.Promoted.IsZero() {
		return fmt.Errorf("%s is a warm standby's directory, not promoted: promote it with 'favad standby --promote --data %s' "+
			"(a running standby then serves; a stopped one serves when started); %s", dataDir, dataDir, instead)
	}
	return nil
}

// openStore opens the store in dataDir for writing, with a clear message when
// another process holds it.
func openStore(dataDir string, opts favsync.Options) (*favsync.Store, error) {
	path := storeFile(dataDir)
	if opts.LockTimeout == 0 {
		opts.LockTimeout = 500 * time.Millisecond
	}
	s, err := favsync.Open(path, opts)
	if errors.Is(err, favsync.ErrLocked) {
		return nil, fmt.Errorf("the store %s is in use by another process: stop the server first (%w)", path, err)
	}
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	return s, nil
}

// printDemo prints the demo logins on standard output.
func (c *cli) printDemo(r demo.Result) {
	if !r.Loaded {
		fmt.Fprintf(c.stdout, "Demo data not loaded: the store already holds data. Demo accounts loaded earlier keep the password %q unless it was changed.\n", demo.Password)
		return
	}
	fmt.Fprintf(c.stdout, "\nDemo data loaded: %d agencies, %d offices in %s, %d complaints (%d assigned, %d referred to the office).\n",
		r.Agencies, r.Offices, demo.Province, r.Complaints, r.Assigned, r.Referred)
	fmt.Fprintf(c.stdout, "Demo logins (made-up data; never use these accounts for real work):\n")
	tw := tabwriter.NewWriter(c.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "  USERNAME\tPASSWORD\tROLE\n")
	for _, a := range r.Accounts {
		role := string(a.Role)
		if a.Mode != "" {
			role += " (" + string(a.Mode) + ")"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", a.Username, a.Password, role)
	}
	tw.Flush()
	fmt.Fprintln(c.stdout)
}

// warnWithoutAdmin says, on the console and in the log, how to make the
// first admin when the store has no enabled admin account: nobody could
// sign in to make one, and an empty store says nothing otherwise.
func warnWithoutAdmin(store *favsync.Store, data string, out io.Writer, logger *slog.Logger) error {
	admins, err := store.Users(inspector.RoleAdmin)
	if err != nil {
		return err
	}
	for _, a := range admins {
		if !a.Disabled {
			return nil
		}
	}
	how := fmt.Sprintf("favad users add --data %s --username NAME --role admin --password-stdin", data)
	logger.Warn("no enabled admin account: nobody can sign in to manage accounts; make one", "command", how)
	fmt.Fprintf(out, "No admin account yet. Make the first one (also while the server runs):\n  %s\n", how)
	return nil
}
