package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	favsync "github.com/favad/favad/sync"
	"github.com/favad/favad/sync/blob"
	"github.com/favad/favad/sync/s3backup"
)

// The store's file is locked by the process that has it open for writing, so
// while `favad serve` runs, `favad backup` cannot read it. The server therefore
// also listens on a unix socket in the data directory, reachable only by the
// data directory's owner, that answers one request: GET /backup streams a
// consistent copy of the store (store.Backup), with the number of bytes in a
// trailer so that the client can tell a complete copy from a cut one.

// backupTrailer carries the size of a complete backup stream.
const backupTrailer = "Favad-Backup-Bytes"

// adminSocket is the server side of the admin socket.
type adminSocket struct {
	path string
	srv  *http.Server
	done chan struct{}
}

// listenAdmin serves GET /backup, GET /verify and the account routes of
// `favad users` (serveAccounts) on the unix socket at path (mode 0600). The
// caller holds the store open for writing, so no other server owns the data
// directory and a socket file left there is stale: it is removed.
func listenAdmin(path string, store *favsync.Store, blobs blob.Store, logger *slog.Logger) (*adminSocket, error) {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("admin socket: remove stale %s: %w", path, err)
	}
	// Snapshots of hot backups are removed when their backup ends; one still
	// here was left by a server killed during a backup (this process holds
	// the store, so no backup of another is running). Each is store-sized.
	for _, stray := range strayBackupSnapshots(filepath.Dir(path)) {
		if err := os.Remove(stray); err != nil {
			logger.Warn("cannot remove a backup snapshot a killed server left", "file", stray, "error", err)
			continue
		}
		logger.Info("removed a backup snapshot a killed server left", "file", stray)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("admin socket %s: %w (a unix socket path is limited to about 100 bytes; use a shorter --data)", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("admin socket: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /backup", func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		// Snapshot to a local file first, so that the store's read transaction
		// ends at disk speed: a client that stops reading must not hold it open
		// (and with it every write that needs the file to grow).
		snap, err := os.CreateTemp(filepath.Dir(path), backupSnapshotPattern)
		if err != nil {
			logger.Error("backup over the admin socket: snapshot file", "error", err)
			http.Error(w, "cannot write the snapshot", http.StatusInternalServerError)
			return
		}
		defer os.Remove(snap.Name())
		defer snap.Close()
		n, seq, err := store.Snapshot(snap)
		if err == nil {
			_, err = snap.Seek(0, io.SeekStart)
		}
		if err != nil {
			logger.Error("backup over the admin socket failed", "error", err, "bytes", n)
			http.Error(w, "the snapshot failed", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set(backupSeqHeader, strconv.FormatUint(seq, 10))
		w.Header().Set("Trailer", backupTrailer)
		rc := http.NewResponseController(w)
		buf := make([]byte, 1<<20)
		for {
			k, rerr := snap.Read(buf)
			if k > 0 {
				_ = rc.SetWriteDeadline(time.Now().Add(time.Minute)) // a stalled client is cut off, not waited for
				if _, werr := w.Write(buf[:k]); werr != nil {
					logger.Error("backup over the admin socket: client stopped reading", "error", werr)
					panic(http.ErrAbortHandler) // no trailer: the client sees the failure
				}
			}
			if rerr == io.EOF {
				break
			}
			if rerr != nil {
				logger.Error("backup over the admin socket: read snapshot", "error", rerr)
				panic(http.ErrAbortHandler)
			}
		}
		w.Header().Set(backupTrailer, strconv.FormatInt(n, 10))
		logger.Info("backup streamed over the admin socket", "bytes", n, "duration", time.Since(start))
	})
	mux.HandleFunc("GET /verify", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(headerBlobStore, fmt.Sprint(blobs))
		rep, err := store.Verify(blobs)
		if err != nil {
			logger.Error("verify over the admin socket failed", "error", err)
			http.Error(w, err.Error(), http.StatusInternalServerError) // the operator's own socket: the cause is theirs to read
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(rep)
	})
	serveAccounts(mux, store)
	a := &adminSocket{
		path: path,
		srv: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second,
			ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)},
		done: make(chan struct{}),
	}
	go func() {
		defer close(a.done)
		if err := a.srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			logger.Error("admin socket stopped", "error", err)
		}
	}()
	return a, nil
}

// shutdown waits, until ctx ends, for a backup in progress, then closes the
// socket and removes its file.
func (a *adminSocket) shutdown(ctx context.Context) error {
	err := a.srv.Shutdown(ctx)
	if err != nil {
		a.srv.Close()
	}
	<-a.done
	os.Remove(a.path)
	return err
}

func (a *adminSocket) close() {
	a.srv.Close()
	<-a.done
	os.Remove(a.path)
}

// backup writes a copy of the store to --out: directly if the store is free,
// otherwise from the running server through the admin socket. The copy is
// written beside --out, fsynced, renamed into place, and then opened to check
// that it is a FAVAD store.
func (c *cli) backup(ctx context.Context, args []string) error {
	fs := c.newFlagSet("backup", "--out FILE [--data DIR]",
		"Write a consistent copy of the store to FILE. Works while the server runs\n(through <data>/admin.sock) and while it is stopped. The token signing keys\n(<data>/jwt-keys.json) are not in the copy: keep them safe separately.")
	data := fs.String("data", defaultData, "data directory")
	out := fs.String("out", "", "backup file to write (this or --to)")
	to := fs.String("to", "", "s3://bucket/prefix: stream the backup to <prefix>/backups/ in object storage, with --s3-endpoint (this or --out)")
	var s3 blobConfig
	s3.registerS3(fs)
	c.commandLineOnly(fs, "out", "to")
	if err := c.parseFlags(fs, args); err != nil {
		return err
	}
	if (*out == "") == (*to == "") {
		return usagef("backup needs --out FILE or --to s3://bucket/prefix")
	}
	path := storeFile(*data)
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("no store to back up: %w", err)
	}
	if *to != "" {
		return c.backupToS3(ctx, *data, *to, &s3)
	}
	if samePath(*out, path) {
		return usagef("--out is the store itself; write the backup elsewhere")
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	via := "read directly; the server is not running"
	store, err := favsync.Open(path, favsync.Options{ReadOnly: true, LockTimeout: 300 * time.Millisecond})
	switch {
	case err == nil:
		err = writeFileAtomic(*out, func(w io.Writer) error {
			_, err := store.Backup(w)
			return err
		})
		if cerr := store.Close(); err == nil {
			err = cerr
		}
	case errors.Is(err, favsync.ErrLocked):
		via = "streamed from the running server"
		err = writeFileAtomic(*out, func(w io.Writer) error {
			_, err := fetchBackup(ctx, adminSocketFile(*data), w)
			return err
		})
	default:
		return fmt.Errorf("open store %s: %w", path, err)
	}
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	st, err := verifyStoreFile(*out)
	if err != nil {
		return fmt.Errorf("backup written to %s does not open as a FAVAD store: %w", *out, err)
	}
	fmt.Fprintf(c.stdout, "backup written to %s (%s): %d bytes, change log at sequence %d\n", *out, via, st.SizeBytes, st.Seq)
	return nil
}

// adminClient speaks HTTP over the server's admin socket, a connection a
// request (a command makes one or two).
func adminClient(sock string) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DisableKeepAlives: true,
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			d := net.Dialer{Timeout: 5 * time.Second}
			return d.DialContext(ctx, "unix", sock)
		},
	}}
}

// adminDo sends req to the running server's admin socket sock; a command
// comes here when the store is locked, so a socket that does not answer
// says so.
func adminDo(sock string, req *http.Request) (*http.Response, error) {
	resp, err := adminClient(sock).Do(req)
	if err != nil {
		return nil, fmt.Errorf("the store is in use, and the server's admin socket %s does not answer (is the server running? is another favad command holding the store?): %w", sock, err)
	}
	return resp, nil
}

// backupSeqHeader carries the change-log sequence a streamed backup holds.
const backupSeqHeader = "Favad-Backup-Seq"

// fetchBackup streams GET /backup from the admin socket at sock into w, and
// returns the change-log sequence the copy holds.
func fetchBackup(ctx context.Context, sock string, w io.Writer) (uint64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://favad/backup", nil)
	if err != nil {
		return 0, err
	}
	resp, err := adminDo(sock, req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return 0, fmt.Errorf("the server refused the backup: %s %s", resp.Status, msg)
	}
	seq, err := strconv.ParseUint(resp.Header.Get(backupSeqHeader), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("the server did not say which change-log sequence the backup holds (%s: %w)", backupSeqHeader, err)
	}
	n, err := io.Copy(w, resp.Body)
	if err != nil {
		return 0, fmt.Errorf("the backup stream broke after %d bytes: %w", n, err)
	}
	if want := resp.Trailer.Get(backupTrailer); want != strconv.FormatInt(n, 10) {
		return 0, fmt.Errorf("the backup stream is incomplete: got %d bytes, the server reported %q", n, want)
	}
	return seq, nil
}

// verifyStoreFile opens path read-only as a FAVAD store and reads its figures.
// It refuses a file written by a newer FAVAD.
func verifyStoreFile(path string) (favsync.Stats, error) {
	s, err := favsync.Open(path, favsync.Options{ReadOnly: true, LockTimeout: 300 * time.Millisecond})
	if err != nil {
		return favsync.Stats{}, err
	}
	defer s.Close()
	waiting, err := s.WaitingProblems()
	if err != nil {
		return favsync.Stats{}, err
	}
	if len(waiting) > 0 {
		return favsync.Stats{}, fmt.Errorf("it would not open for serving: %s", strings.Join(waiting, "; "))
	}
	return s.Stats()
}

// freeName is name, or name-2, name-3… the first that does not exist: two
// restores within a second never keep their stores under one name.
func freeName(name string) string {
	free := name
	for i := 2; ; i++ {
		if _, err := os.Lstat(free); errors.Is(err, os.ErrNotExist) {
			return free
		}
		free = fmt.Sprintf("%s-%d", name, i)
	}
}

// restore replaces the store with a backup. The current file is kept beside
// it as favad.db.before-restore-<UTC time>.
func (c *cli) restore(ctx context.Context, args []string) error {
	fs := c.newFlagSet("restore", "--in FILE | --from s3://bucket/prefix [--name NAME] [--data DIR]",
		"Replace the store with the backup FILE, or with a backup in object storage (the newest,\nor --name). The server must be stopped; the current store is kept as\n<data>/favad.db.before-restore-<UTC time> (-2, -3… if that name is taken).")
	data := fs.String("data", defaultData, "data directory")
	in := fs.String("in", "", "backup file to restore (this or --from)")
	from := fs.String("from", "", "s3://bucket/prefix: restore a backup `favad backup --to` wrote there, with --s3-endpoint (this or --in)")
	name := fs.String("name", "", "with --from: the backup to restore, e.g. favad-20261204T175000.000Z (default the newest)")
	var s3 blobConfig
	s3.registerS3(fs)
	c.commandLineOnly(fs, "in", "from", "name")
	if err := c.parseFlags(fs, args); err != nil {
		return err
	}
	if (*in == "") == (*from == "") {
		return usagef("restore needs --in FILE or --from s3://bucket/prefix")
	}
	if *name != "" && *from == "" {
		return usagef("--name is for --from")
	}
	var manifest s3backup.Manifest
	if *from != "" {
		// Downloaded beside the store, so that the rename below stays on one file system.
		tmp, m, err := downloadBackup(ctx, *data, *from, *name, &s3, c.getenv)
		if err != nil {
			return err
		}
		defer os.Remove(tmp)
		*in, manifest = tmp, m
	}
	st, err := verifyStoreFile(*in)
	if err != nil {
		return fmt.Errorf("%s is not a store this FAVAD can restore: %w", *in, err)
	}
	path := storeFile(*data)
	_, err = os.Stat(path)
	exists := err == nil
	if exists {
		cur, err := favsync.Open(path, favsync.Options{ReadOnly: true, LockTimeout: 300 * time.Millisecond})
		switch {
		case errors.Is(err, favsync.ErrLocked):
			return fmt.Errorf("the store %s is in use: stop the server first", path)
		case err != nil:
			fmt.Fprintf(c.stderr, "favad: the current store does not open (%v); it is kept aside and replaced\n", err)
		default:
			cur.Close()
		}
	} else if err := os.MkdirAll(*data, 0o700); err != nil {
		return fmt.Errorf("restore: %w", err)
	}

	tmp := path + ".restore"
	if err := writeFileAtomic(tmp, func(w io.Writer) error {
		f, err := os.Open(*in)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(w, f)
		return err
	}); err != nil {
		return fmt.Errorf("restore: copy %s: %w", *in, err)
	}
	// The backup's history went on where it was taken; this copy's goes on
	// here (a live feed resuming from the other's events starts over).
	if err := favsync.ForkHistory(tmp); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("restore: %w", err)
	}
	aside := ""
	if exists {
		aside = freeName(path + ".before-restore-" + time.Now().UTC().Format("20060102T150405Z"))
		// A hard link keeps the old file under its new name while the rename
		// below replaces favad.db in one step; without hard links, move it.
		if err := os.Link(path, aside); err != nil {
			if errors.Is(err, os.ErrExist) {
				os.Remove(tmp)
				return fmt.Errorf("restore: keep the current store: %s appeared meanwhile; try again", aside)
			}
			if err := os.Rename(path, aside); err != nil {
				os.Remove(tmp)
				return fmt.Errorf("restore: keep the current store: %w", err)
			}
		}
	}
	if err := os.Rename(tmp, path); err != nil {
		if aside != "" {
			return fmt.Errorf("restore: %w (the previous store is %s)", err, aside)
		}
		return fmt.Errorf("restore: %w", err)
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	// The reports' aggregates were derived from the replaced history: the
	// next start rebuilds them from the restored log.
	if err := os.Remove(reportsSnapshotFile(filepath.Dir(path))); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("restore: remove the reports' snapshot: %w", err)
	}
	if aside != "" {
		fmt.Fprintf(c.stdout, "previous store kept as %s\n", aside)
	}
	fmt.Fprintf(c.stdout, "restored %s from %s: %d bytes, change log at sequence %d\n", path, restoreSource(*in, *from, manifest), st.SizeBytes, st.Seq)
	return nil
}

// samePath reports whether a and b name the same file path.
func samePath(a, b string) bool {
	a, errA := filepath.Abs(a)
	b, errB := filepath.Abs(b)
	return errA == nil && errB == nil && a == b
}

// strayBackupSnapshots lists the hot-backup snapshot files in dataDir.
func strayBackupSnapshots(dataDir string) []string {
	files, _ := filepath.Glob(filepath.Join(dataDir, backupSnapshotPattern))
	return files
}

// backupSnapshotPattern names the snapshot files of hot backups in the data directory.
const backupSnapshotPattern = ".backup-*.tmp"

// writeFileAtomic writes path through fill: into path.tmp, fsynced, then
// renamed over path and the directory fsynced. On failure path is untouched
// and the temporary file removed.
func writeFileAtomic(path string, fill func(io.Writer) error) (err error) {
	// A fresh, unguessable temporary name beside the target: never an existing
	// file, never a symlink someone left there.
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err = fill(f); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

// syncDir fsyncs a directory, so that a rename in it survives a crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
