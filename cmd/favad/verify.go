package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	favsync "github.com/favad/favad/sync"
	"github.com/favad/favad/sync/blob"
)

var errBroken = errors.New("the chain of custody is broken")

// exitCouldNotCheck is verify's exit status when it could not check (the
// store or the blob store did not answer): not a broken chain (1), so that
// an alert can tell the two apart.
const exitCouldNotCheck = 3

// headerBlobStore names, on the admin socket's verify answer, the blob
// store the running server checked.
const headerBlobStore = "Favad-Blob-Store"

func blobStore(data string) *blob.FS { return &blob.FS{Dir: filepath.Join(data, "blobs")} }

// verify rechecks every blob's hash and every complaint's evidence chain,
// directly when the store is free and through the running server's admin
// socket otherwise.
func (c *cli) verify(ctx context.Context, args []string) error {
	fs := c.newFlagSet("verify", "[--data DIR]",
		"Recheck the chain of custody: rehash every evidence blob, check that every stored\n"+
			"item's bytes exist, and recompute every complaint's evidence hash chain. Works while\n"+
			"the server runs. Exits 1 and lists each break if anything was changed or removed;\n"+
			"exits 3 if it could not check (the store or the blob store did not answer).")
	data := fs.String("data", defaultData, "data directory")
	var blobCfg blobConfig
	blobCfg.register(fs)
	if err := c.parseFlags(fs, args); err != nil {
		return err
	}
	var rep favsync.VerifyReport
	checked := "the running server's (through its admin socket)"
	store, err := favsync.Open(storeFile(*data), favsync.Options{ReadOnly: true, LockTimeout: 200 * time.Millisecond})
	switch {
	case err == nil:
		var blobs blob.Store
		if blobs, err = blobCfg.open(ctx, *data, c.getenv); err == nil {
			checked = fmt.Sprint(blobs)
			rep, err = store.Verify(blobs)
		}
		store.Close()
	case errors.Is(err, favsync.ErrLocked):
		var server string
		rep, server, err = verifyOverSocket(ctx, adminSocketFile(*data))
		if server != "" {
			checked = server + " (the running server's, through its admin socket)"
		}
		if blobCfg.Store != "" {
			fmt.Fprintf(c.stdout, "note: the server runs, so it checked its own blob store (named below), not --blob-store %s\n", blobCfg.Store)
		}
	}
	if err != nil {
		return &exitError{code: exitCouldNotCheck, err: fmt.Errorf("could not check: %w", err)}
	}
	// Which bytes were looked at: a server whose evidence is in object
	// storage, checked while stopped without --blob-store, has none on disk.
	fmt.Fprintf(c.stdout, "evidence blob store: %s\n", checked)
	fmt.Fprintf(c.stdout, "evidence chain entries checked: %d\nblobs rehashed: %d\n", rep.ChainEntries, rep.Blobs)
	for _, stray := range strayBackupSnapshots(*data) {
		fmt.Fprintf(c.stdout, "stray file %s: a backup snapshot a killed server left; the server removes it when it next starts (or remove it by hand while the server is stopped)\n", stray)
	}
	for _, p := range rep.Problems {
		fmt.Fprintf(c.stdout, "BROKEN %s\n", p)
	}
	if len(rep.Problems) > 0 {
		fmt.Fprintf(c.stdout, "problems: %d\n", len(rep.Problems))
		return errBroken
	}
	fmt.Fprintln(c.stdout, "problems: 0")
	return nil
}

// verifyOverSocket asks the running server to verify; it returns its report
// and the blob store it checked.
func verifyOverSocket(ctx context.Context, socket string) (favsync.VerifyReport, string, error) {
	var rep favsync.VerifyReport
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://favad/verify", nil)
	if err != nil {
		return rep, "", err
	}
	resp, err := adminDo(socket, req)
	if err != nil {
		return rep, "", err
	}
	defer resp.Body.Close()
	server := resp.Header.Get(headerBlobStore)
	if resp.StatusCode != http.StatusOK {
		cause, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		return rep, server, fmt.Errorf("verify over the admin socket: %s: %s", resp.Status, strings.TrimSpace(string(cause)))
	}
	return rep, server, json.NewDecoder(resp.Body).Decode(&rep)
}
