package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	favsync "github.com/favad/favad/sync"
	"github.com/favad/favad/sync/s3backup"
)

// backupToS3 streams a backup of the store in data to the bucket named by
// to (s3://bucket/prefix): directly when the store is free, from the running
// server through its admin socket otherwise.
func (c *cli) backupToS3(ctx context.Context, data, to string, s3 *blobConfig) error {
	bucket, err := s3Backups(to, "--to", s3, c.getenv)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	path := storeFile(data)
	via := "read directly; the server is not running"
	var write func(w io.Writer) (uint64, error)
	store, err := favsync.Open(path, favsync.Options{ReadOnly: true, LockTimeout: 300 * time.Millisecond})
	switch {
	case err == nil:
		defer store.Close()
		write = func(w io.Writer) (uint64, error) {
			_, seq, err := store.Snapshot(w)
			return seq, err
		}
	case errors.Is(err, favsync.ErrLocked):
		via = "streamed from the running server"
		write = func(w io.Writer) (uint64, error) { return fetchBackup(ctx, adminSocketFile(data), w) }
	default:
		return fmt.Errorf("open store %s: %w", path, err)
	}
	m, err := bucket.Put(ctx, time.Now(), write)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	fmt.Fprintf(c.stdout, "backup %s written to %s (%s): %d bytes, change log at sequence %d, sha256 %s\n",
		m.Name, bucket, via, m.Bytes, m.Seq, m.SHA256)
	return nil
}

// s3Backups is the backup place named by raw (s3://bucket/prefix, given as
// flag) and the --s3-* flags.
func s3Backups(raw, flag string, s3 *blobConfig, getenv func(string) string) (*s3backup.Bucket, error) {
	cfg, err := s3.s3Config(raw, flag, getenv)
	if err != nil {
		return nil, err
	}
	b, err := s3backup.New(cfg)
	if err != nil {
		return nil, usagef("%s: %v", flag, err)
	}
	return b, nil
}

// downloadBackup fetches the backup name (the newest if name is "") from the
// bucket named by from into a file in dir, checked against its manifest,
// and returns the file's path and the backup's manifest.
func downloadBackup(ctx context.Context, dir, from, name string, s3 *blobConfig, getenv func(string) string) (string, s3backup.Manifest, error) {
	bucket, err := s3Backups(from, "--from", s3, getenv)
	if err != nil {
		return "", s3backup.Manifest{}, err
	}
	var m s3backup.Manifest
	if name == "" {
		m, err = bucket.Latest(ctx)
	} else {
		m, err = bucket.Get(ctx, name)
	}
	if err != nil {
		return "", m, fmt.Errorf("restore from %s: %w", bucket, err)
	}
	tmp, err := downloadBackupFile(ctx, bucket, m, dir, ".restore-download-*.tmp")
	return tmp, m, err
}

// downloadBackupFile fetches the backup m into a new file in dir named after
// pattern (os.CreateTemp), checked against its manifest (size and SHA-256),
// and returns its path. On failure no file is left.
func downloadBackupFile(ctx context.Context, bucket *s3backup.Bucket, m s3backup.Manifest, dir, pattern string) (string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return "", err
	}
	f.Close()
	if err := bucket.Download(ctx, m, f.Name()); err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

// restoreSource names where a restore came from, for its report.
func restoreSource(in, from string, m s3backup.Manifest) string {
	if from == "" {
		return in
	}
	return fmt.Sprintf("%s/backups/%s (taken %s)", strings.TrimSuffix(from, "/"), m.Name, m.Taken.Format(time.RFC3339))
}

// runScheduledBackups takes a backup of store to bucket every interval and
// keeps the newest keep, until ctx ends. Each is snapshotted to a file in
// dataDir first, so that the store's read transaction lasts as long as the
// disk takes, not the network (a long one holds back the writes that grow
// the file), then streamed up.
//
// The schedule runs from the newest backup in the bucket (last, the zero
// Manifest if none), not from the start: a server restarted more often
// than every still backs up, and one with no backup (or one older than
// every) takes one at once — a standby just promoted, say. A failed backup
// is tried again sooner than a whole interval later: after a tenth of it
// (at least a second, at most a minute), doubling with each failure up to
// the interval; the bucket is asked first, so that an unreachable one costs
// no copy of the store. The metrics count each outcome.
func runScheduledBackups(ctx context.Context, store *favsync.Store, dataDir string, bucket *s3backup.Bucket, every time.Duration, keep int, last s3backup.Manifest, m *backupMetrics, logger *slog.Logger) {
	if !last.Taken.IsZero() {
		m.lastSuccess.Set(float64(last.Taken.Unix()))
	}
	firstRetry := min(max(every/10, time.Second), time.Minute)
	retry := firstRetry
	due := last.Taken.Add(every) // the zero time, or in the past: at once
	for {
		wait := time.NewTimer(time.Until(due))
		select {
		case <-ctx.Done():
			wait.Stop()
			return
		case <-wait.C:
		}
		start := time.Now()
		err := bucket.Reachable(ctx)
		var mf s3backup.Manifest
		if err == nil {
			mf, err = scheduledBackup(ctx, store, dataDir, bucket)
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			m.failures.Inc()
			logger.Error("scheduled backup failed; trying again", "to", bucket.String(), "error", err, "retry_in", retry)
			due = time.Now().Add(retry)
			retry = min(retry*2, max(every, firstRetry))
			continue
		}
		retry = firstRetry
		m.lastSuccess.Set(float64(mf.Taken.Unix()))
		due = start.Add(every)
		logger.Info("scheduled backup", "to", bucket.String(), "name", mf.Name, "seq", mf.Seq, "bytes", mf.Bytes, "duration", time.Since(start))
		gone, err := bucket.Prune(ctx, keep)
		if err != nil {
			logger.Error("scheduled backup: removing old backups failed", "error", err)
		}
		if len(gone) > 0 {
			logger.Info("old backups removed", "names", gone)
		}
	}
}

// backupMetrics are the scheduled backups' metrics, for alerting on a
// backup that stopped working.
type backupMetrics struct {
	lastSuccess prometheus.Gauge
	failures    prometheus.Counter
}

func newBackupMetrics() *backupMetrics {
	return &backupMetrics{
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{Name: "favad_backup_last_success_timestamp_seconds",
			Help: "When the newest backup in --backup-to was taken (Unix time); 0 until there is one."}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{Name: "favad_backup_failures_total",
			Help: "Scheduled backups that failed (each is tried again after a pause that doubles up to --backup-every)."}),
	}
}

// collectors are the metrics to serve: none when backups are not scheduled,
// so that no alert reads a backup that was never asked for as stale.
func (m *backupMetrics) collectors(scheduled bool) []prometheus.Collector {
	if !scheduled {
		return nil
	}
	return []prometheus.Collector{m.lastSuccess, m.failures}
}

// checkBackupPlace looks at the backups in bucket before the server starts,
// so that a wrong bucket or credentials stop it at once rather than an
// interval later; it returns the newest backup (the zero Manifest if there
// is none, or if the bucket cannot be asked now). Object storage that does
// not answer does not keep the 128 line down: that is logged, and the
// scheduled backups try again on their own.
func checkBackupPlace(ctx context.Context, bucket *s3backup.Bucket, logger *slog.Logger) (s3backup.Manifest, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	last, err := bucket.Latest(ctx)
	switch {
	case errors.Is(err, s3backup.ErrNoBackup):
		return s3backup.Manifest{}, nil
	case s3backup.IsConfigError(err):
		return last, fmt.Errorf("--backup-to %s: %w", bucket, err)
	case err != nil:
		logger.Error("the backups' object storage does not answer now; serving anyway, the scheduled backups will try again",
			"to", bucket.String(), "error", err)
		return s3backup.Manifest{}, nil
	}
	return last, nil
}

func scheduledBackup(ctx context.Context, store *favsync.Store, dataDir string, bucket *s3backup.Bucket) (s3backup.Manifest, error) {
	snap, err := os.CreateTemp(dataDir, backupSnapshotPattern)
	if err != nil {
		return s3backup.Manifest{}, err
	}
	defer os.Remove(snap.Name())
	defer snap.Close()
	taken := time.Now()
	_, seq, err := store.Snapshot(snap)
	if err == nil {
		_, err = snap.Seek(0, io.SeekStart)
	}
	if err != nil {
		return s3backup.Manifest{}, err
	}
	return bucket.Put(ctx, taken, func(w io.Writer) (uint64, error) {
		_, err := io.Copy(w, snap)
		return seq, err
	})
}
