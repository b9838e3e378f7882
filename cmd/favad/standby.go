package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	favsync "github.com/favad/favad/sync"
	"github.com/favad/favad/sync/blob/s3blob"
	"github.com/favad/favad/sync/s3backup"
)

// A warm standby keeps restoring the newest backup from object storage into
// its data directory until it is promoted, then serves like `favad serve`.
//
// Promotion is a file: `favad standby --promote --data DIR` writes
// DIR/promote, which the running standby looks for every second (a file
// works across users, containers and hosts sharing the directory, and needs
// no process id). Once promoted, DIR/standby.json says so and a standby
// restarted on DIR serves at once: it never restores over a store that has
// taken writes of its own.

const (
	standbyDownloadPattern = ".standby-download-*.tmp"
	promoteCheckEvery      = time.Second
	finalPollTimeout       = 30 * time.Second
)

// promoteFile is the file that asks the standby on dataDir to serve.
func promoteFile(dataDir string) string { return filepath.Join(dataDir, "promote") }

// standbyLockName is the file in a standby's directory that its standby
// holds locked, so that a second one on it stops at once.
const standbyLockName = "standby.lock"

// errDirLocked: lockDir found the lock held by another process.
var errDirLocked = errors.New("the directory is locked by another process")

// standbyStateFile records which backup the standby's store holds.
func standbyStateFile(dataDir string) string { return filepath.Join(dataDir, "standby.json") }

// standbyState is the content of standby.json.
type standbyState struct {
	Backup   string    `json:"backup,omitempty"` // the backup's name; names sort by age
	Seq      uint64    `json:"seq"`              // the change-log sequence it holds
	Taken    time.Time `json:"taken,omitzero"`
	Restored time.Time `json:"restored,omitzero"`
	Promoted time.Time `json:"promoted,omitzero"` // set once the standby serves
	// Restoring is the backup being put in place, recorded before the
	// rename: a standby stopped between the rename and the record finds
	// this one in its directory, and takes it as its own.
	Restoring *standbyState `json:"restoring,omitempty"`
}

func readStandbyState(dataDir string) (standbyState, error) {
	var st standbyState
	raw, err := os.ReadFile(standbyStateFile(dataDir))
	if errors.Is(err, os.ErrNotExist) {
		return st, nil
	}
	if err == nil {
		err = json.Unmarshal(raw, &st)
	}
	if err != nil {
		return st, fmt.Errorf("standby: read %s: %w", standbyStateFile(dataDir), err)
	}
	return st, nil
}

func writeStandbyState(dataDir string, st standbyState) error {
	raw, _ := json.MarshalIndent(st, "", "  ")
	return writeFileAtomic(standbyStateFile(dataDir), func(w io.Writer) error {
		_, err := w.Write(append(raw, '\n'))
		return err
	})
}

// standby runs `favad standby`.
func (c *cli) standby(ctx context.Context, args []string) error {
	var cfg serveConfig
	fs := c.newFlagSet("standby", "--from s3://bucket/prefix --data DIR [--every 30s] [serve's flags] | --promote --data DIR",
		"Keep restoring the newest complete backup in object storage into DIR (a warm standby),\n"+
			"until promoted; then serve on DIR like 'favad serve' with the same flags.\n"+
			"'favad standby --promote --data DIR' promotes the standby running on DIR (it writes\n"+
			"DIR/promote, looked for every second). DIR/standby.json names the backup held.")
	cfg.register(fs)
	from := fs.String("from", "", "s3://bucket/prefix where 'favad serve --backup-to' writes its backups, with --s3-endpoint")
	every := fs.Duration("every", 30*time.Second, "how often the bucket is looked at for a newer backup")
	promote := fs.Bool("promote", false, "promote the standby running on --data: it stops restoring and serves")
	c.commandLineOnly(fs, "from", "every", "promote")
	if err := c.parseFlags(fs, args); err != nil {
		return err
	}
	if *promote {
		st, err := readStandbyState(cfg.Data)
		if err != nil {
			return err
		}
		switch {
		case !st.Promoted.IsZero():
			return fmt.Errorf("promote: the standby on %s was promoted already (%s): it serves", cfg.Data, st.Promoted.Format(time.RFC3339))
		case st.Backup == "":
			if _, err := os.Stat(standbyStateFile(cfg.Data)); err != nil {
				return fmt.Errorf("promote: %s is not a standby's directory (no %s)", cfg.Data, filepath.Base(standbyStateFile(cfg.Data)))
			}
		}
		if err := writeFileAtomic(promoteFile(cfg.Data), func(io.Writer) error { return nil }); err != nil {
			return fmt.Errorf("promote: %w", err)
		}
		fmt.Fprintf(c.stdout, "asked the standby on %s to serve: it takes a last look for a newer backup (at most %s), then serves (see its log)\n", cfg.Data, finalPollTimeout)
		return nil
	}
	if *from == "" {
		return usagef("standby needs --from s3://bucket/prefix (or --promote)")
	}
	if *every < time.Second {
		return usagef("--every %s: at least 1s", *every)
	}
	if err := cfg.validate(); err != nil {
		return err
	}
	if cfg.FCMCredentials == "" {
		cfg.FCMCredentials = c.getenv("GOOGLE_APPLICATION_CREDENTIALS")
	}
	bucket, err := s3Backups(*from, "--from", &cfg.Blob, c.getenv)
	if err != nil {
		return err
	}
	if cfg.BackupTo != "" && sameS3Place(cfg.BackupTo, *from) {
		return usagef("--backup-to %s is the prefix this standby follows: once promoted it would back up among the old primary's backups and prune them; give it a new prefix", cfg.BackupTo)
	}
	logger := slog.New(slog.NewJSONHandler(c.stderr, &slog.HandlerOptions{Level: cfg.level}))
	slog.SetDefault(logger)
	ctx, stopSignals := c.notifySignals(ctx)
	defer stopSignals()

	if err := os.MkdirAll(cfg.Data, 0o700); err != nil {
		return err
	}
	// One standby a directory: two would restore over each other's store
	// and take it for a server's writes.
	release, err := lockDir(cfg.Data, standbyLockName)
	if errors.Is(err, errDirLocked) {
		return fmt.Errorf("standby: another standby runs on %s; stop it, or give this one its own --data", cfg.Data)
	}
	if err != nil {
		return err
	}
	defer release()
	stray, _ := filepath.Glob(filepath.Join(cfg.Data, standbyDownloadPattern))
	for _, f := range stray { // downloads cut short by a crash
		os.Remove(f)
	}
	st, err := readStandbyState(cfg.Data)
	if err != nil {
		return err
	}
	sb := &standbyLoop{bucket: bucket, data: cfg.Data, held: st, logger: logger.With("component", "standby"), metrics: newStandbyMetrics()}
	if st.Promoted.IsZero() {
		if err := sb.checkHeld(); err != nil {
			return err
		}
		if err := writeStandbyState(cfg.Data, sb.held); err != nil { // marks the directory a standby's
			return err
		}
		sb.metrics.held(sb.held)
		stopHealth, err := serveStandbyHealth(&cfg, sb.metrics, sb.logger, func(line string) { fmt.Fprint(c.stdout, line) })
		if err != nil {
			return err
		}
		sb.logger.Info("standby following", "from", bucket.String(), "every", every.String(), "data", cfg.Data, "holds", st.Backup, "seq", st.Seq)
		err = sb.follow(ctx, *every)
		stopHealth() // the promoted server listens on the same address
		if err != nil {
			return err
		}
		if ctx.Err() != nil {
			sb.logger.Info("standby stopped", "reason", context.Cause(ctx).Error())
			return nil
		}
	} else {
		sb.logger.Info("this standby was promoted before: serving without restoring", "promoted", st.Promoted, "backup", st.Backup, "seq", st.Seq)
	}
	return c.runServer(ctx, &cfg, logger)
}

// sameS3Place reports whether two s3://bucket/prefix URLs name one place.
func sameS3Place(a, b string) bool {
	ab, ap, aerr := s3blob.ParseURL(a)
	bb, bp, berr := s3blob.ParseURL(b)
	clean := func(p string) string { return strings.Trim(path.Clean("/"+p), "/") }
	return aerr == nil && berr == nil && ab == bb && clean(ap) == clean(bp)
}

// standbyLoop follows the backups in bucket into the store in data.
type standbyLoop struct {
	bucket  *s3backup.Bucket
	data    string
	held    standbyState
	logger  *slog.Logger
	metrics *standbyMetrics

	warnedStale time.Time // the last warning that the newest backup is old
}

// staleBackupAge is the age of the newest backup past which the standby
// warns (every sixth of it) that the primary does not back up.
const staleBackupAge = time.Hour

// follow restores every newer backup as it appears, every interval, until
// ctx ends (it returns nil) or the standby is promoted: then it takes a last
// look for a newer backup, records the promotion and returns nil. It returns
// an error if it is promoted with no backup restored.
func (s *standbyLoop) follow(ctx context.Context, every time.Duration) error {
	check := time.NewTicker(promoteCheckEvery)
	defer check.Stop()
	next := time.Now()
	for {
		if _, err := os.Stat(promoteFile(s.data)); err == nil {
			return s.promote(ctx)
		}
		if !time.Now().Before(next) {
			if err := s.pollUnlessPromoted(ctx); err != nil {
				return err
			}
			next = time.Now().Add(every)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-check.C:
		}
	}
}

// pollUnlessPromoted polls, and gives the poll up if a promotion is asked
// meanwhile: a bucket that takes connections and never answers must not
// hold the promotion, which takes its own last look, bounded.
func (s *standbyLoop) pollUnlessPromoted(ctx context.Context) error {
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		check := time.NewTicker(promoteCheckEvery)
		defer check.Stop()
		for {
			select {
			case <-pctx.Done():
				return
			case <-check.C:
				if _, err := os.Stat(promoteFile(s.data)); err == nil {
					s.logger.Info("promotion asked during a look for a newer backup: giving the look up")
					cancel()
					return
				}
			}
		}
	}()
	err := s.poll(pctx)
	cancel()
	<-watched
	return err
}

func (s *standbyLoop) promote(ctx context.Context) error {
	s.logger.Info("promotion asked: a last look for a newer backup", "file", promoteFile(s.data))
	pctx, cancel := context.WithTimeout(ctx, finalPollTimeout)
	err := s.poll(pctx)
	cancel()
	if err != nil {
		return err
	}
	if s.held.Backup == "" {
		if _, err := os.Stat(storeFile(s.data)); err != nil {
			return fmt.Errorf("standby: promoted before any backup was restored into %s: nothing to serve (is there a backup in %s?)", s.data, s.bucket)
		}
	}
	// Nothing served from this directory before: a reports' snapshot here is
	// of a replaced store (its removal after a restore failed).
	if err := os.Remove(reportsSnapshotFile(s.data)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("standby: remove the reports' snapshot of a replaced store: %w", err)
	}
	s.held.Promoted = time.Now().UTC()
	if err := writeStandbyState(s.data, s.held); err != nil {
		return fmt.Errorf("standby: record the promotion: %w", err)
	}
	// Done with: a standby started later on a copy of this directory must
	// not promote itself at once.
	if err := os.Remove(promoteFile(s.data)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("standby: remove %s: %w", promoteFile(s.data), err)
	}
	s.logger.Info("standby promoted: serving", "backup", s.held.Backup, "seq", s.held.Seq, "taken", s.held.Taken)
	return nil
}

// poll restores the newest complete backup if it is newer than the one held.
// Failures are logged: the standby keeps what it holds and tries again. It
// returns an error, and the standby stops, only when the store in its
// directory is not the one it restored (errStoreNotTheStandbys).
func (s *standbyLoop) poll(ctx context.Context) error {
	if err := s.checkHeld(); errors.Is(err, errStoreNotTheStandbys) {
		return err
	} else if err != nil { // it does not open: nothing is restored over it, and the standby tries again
		s.logger.Error("the store held cannot be checked; not restoring over it", "error", err)
		return nil
	}
	lctx, cancel := context.WithTimeout(ctx, latestTimeout)
	m, err := s.bucket.Latest(lctx)
	cancel()
	switch {
	case errors.Is(err, s3backup.ErrNoBackup):
		s.logger.Warn("no complete backup yet", "from", s.bucket.String())
		s.metrics.looked()
		return nil
	case err != nil:
		s.logger.Error("looking for a newer backup failed", "from", s.bucket.String(), "error", err)
		s.metrics.failed()
		return nil
	case m.Name <= s.held.Backup:
		s.metrics.looked()
		s.logger.Debug("no newer backup", "holds", s.held.Backup)
		if age := time.Since(m.Taken); age > staleBackupAge && time.Since(s.warnedStale) > staleBackupAge/6 {
			// The primary stopped backing up (or died): say so, for an
			// operator watching the standby's log.
			s.logger.Warn("the newest backup is old: is the primary backing up?", "backup", m.Name, "age", age.Round(time.Second).String())
			s.warnedStale = time.Now()
		}
		return nil
	}
	start := time.Now()
	if err := s.restore(ctx, m); errors.Is(err, errStoreNotTheStandbys) {
		return err
	} else if err != nil {
		s.logger.Error("restoring a newer backup failed; the store held is unchanged", "backup", m.Name, "error", err)
		s.metrics.failed()
		return nil
	}
	s.metrics.looked()
	s.metrics.held(s.held)
	s.logger.Info("standby holds backup", "backup", m.Name, "seq", m.Seq, "taken", m.Taken, "bytes", m.Bytes,
		"lag", time.Since(m.Taken).Round(time.Millisecond).String(), "duration", time.Since(start).Round(time.Millisecond).String())
	return nil
}

// latestTimeout bounds one look for the newest backup (a listing), so that
// a bucket that never answers is logged and looked at again.
const latestTimeout = time.Minute

// errStoreNotTheStandbys: the store in the standby's directory is not the
// backup it restored last — a server ran on it and took writes (a promotion
// by hand, without --promote), or the directory held a store before.
// Restoring over it would lose them, so the standby stops instead.
var errStoreNotTheStandbys = errors.New("not the store this standby restored")

// checkHeld returns an error wrapping errStoreNotTheStandbys if the store in
// the directory is not what the standby restored last (see openHeld).
func (s *standbyLoop) checkHeld() error {
	cur, err := s.openHeld()
	if cur != nil {
		cur.Close()
	}
	return err
}

// openHeld opens the store in the directory read-only (a shared lock: no
// server can start on it while it is open) and checks it is what the
// standby restored last: its change log at the backup's sequence, and a
// backup restored at all. A store in use by another process is not: a
// server runs on it. It returns nil and no error when there is no store.
func (s *standbyLoop) openHeld() (*favsync.Store, error) {
	path := storeFile(s.data)
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	cur, err := favsync.Open(path, favsync.Options{ReadOnly: true, LockTimeout: 300 * time.Millisecond})
	if errors.Is(err, favsync.ErrLocked) {
		return nil, fmt.Errorf("standby: %s is in use by another process (a server on the standby's directory?): %w", path, errStoreNotTheStandbys)
	}
	if err != nil {
		return nil, fmt.Errorf("standby: open %s: %w", path, err)
	}
	if err := s.sameAsHeld(cur); err != nil {
		cur.Close()
		return nil, err
	}
	return cur, nil
}

// sameAsHeld checks the open store cur against the backup held, or the one
// being put in place when the standby stopped (it is then held).
func (s *standbyLoop) sameAsHeld(cur *favsync.Store) error {
	st, err := cur.Stats()
	if err != nil {
		return err
	}
	if r := s.held.Restoring; r != nil {
		if st.Seq == r.Seq {
			s.held = *r
			s.held.Restored = time.Now().UTC()
			s.logger.Info("the backup being restored when the standby stopped is in place: held", "backup", r.Backup, "seq", r.Seq)
		}
		s.held.Restoring = nil
		if err := writeStandbyState(s.data, s.held); err != nil {
			return err
		}
	}
	if s.held.Backup == "" || st.Seq != s.held.Seq {
		return fmt.Errorf("standby: %s holds change-log sequence %d, but the standby restored %q (sequence %d): a server took writes on it, or it was there before. "+
			"Restoring over it would lose them, so the standby stops. If it was promoted by hand, remove %s and serve it with 'favad serve'; "+
			"to follow the backups again, move it aside first: %w", storeFile(s.data), st.Seq, s.held.Backup, s.held.Seq, standbyStateFile(s.data), errStoreNotTheStandbys)
	}
	return nil
}

// restore puts the backup m in place of the store: downloaded beside it,
// checked against its manifest and opened as a store, then renamed over it
// in one step, so that the data directory never holds a half-written store.
func (s *standbyLoop) restore(ctx context.Context, m s3backup.Manifest) error {
	tmp, err := downloadBackupFile(ctx, s.bucket, m, s.data, standbyDownloadPattern)
	if err != nil {
		return err
	}
	defer os.Remove(tmp) // gone after the rename; removed on failure
	stats, err := verifyStoreFile(tmp)
	if err != nil {
		return fmt.Errorf("%s is not a store this FAVAD can serve: %w", m.Name, err)
	}
	// The primary's history goes on there; this copy's, once promoted, here.
	if err := favsync.ForkHistory(tmp); err != nil {
		return err
	}
	// The store held stays open (a shared lock) until the new one is in its
	// place: a server starting meanwhile finds it locked and stops, rather
	// than writing into a file about to be replaced.
	cur, err := s.openHeld()
	if err != nil {
		return err
	}
	if cur != nil {
		defer cur.Close()
	}
	next := standbyState{Backup: m.Name, Seq: stats.Seq, Taken: m.Taken}
	restoring := s.held
	restoring.Restoring = &next
	if err := writeStandbyState(s.data, restoring); err != nil {
		return err
	}
	if err := os.Rename(tmp, storeFile(s.data)); err != nil {
		return err
	}
	// In place: from here on the store is next's, whatever fails after.
	next.Restored = time.Now().UTC()
	s.held = next
	if err := syncDir(s.data); err != nil {
		s.logger.Warn("the backup is in place, but syncing the directory failed", "error", err)
	}
	if err := writeStandbyState(s.data, s.held); err != nil {
		s.logger.Error("the backup is in place, but recording it failed; it is taken as held at the next start", "error", err)
	}
	// The reports' aggregates are rebuilt from the restored log when it serves.
	if err := os.Remove(reportsSnapshotFile(s.data)); err != nil && !errors.Is(err, os.ErrNotExist) {
		s.logger.Warn("the reports' snapshot of the replaced store could not be removed; remove it before serving", "file", reportsSnapshotFile(s.data), "error", err)
	}
	return nil
}
