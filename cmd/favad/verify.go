package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"time"

	favsync "github.com/favad/favad/sync"
	"github.com/favad/favad/sync/blob"
)

var errBroken = errors.New("the chain of custody is broken")

func blobStore(data string) *blob.FS { return &blob.FS{Dir: filepath.Join(data, "blobs")} }

// verify rechecks every blob's hash and every complaint's evidence chain,
// directly when the store is free and through the running server's admin
// socket otherwise.
func (c *cli) verify(ctx context.Context, args []string) error {
	fs := c.newFlagSet("verify", "[--data DIR]",
		"Recheck the chain of custody: rehash every evidence blob, check that every stored\n"+
			"item's bytes exist, and recompute every complaint's evidence hash chain. Works while\n"+
			"the server runs. Exits 1 and lists each break if anything was changed or removed.")
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
		rep, err = verifyOverSocket(ctx, adminSocketFile(*data))
	}
	if err != nil {
		return err
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

func verifyOverSocket(ctx context.Context, socket string) (favsync.VerifyReport, error) {
	var rep favsync.VerifyReport
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://favad/verify", nil)
	if err != nil {
		return rep, err
	}
	resp, err := adminDo(socket, req)
	if err != nil {
		return rep, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return rep, fmt.Errorf("verify over the admin socket: %s", resp.Status)
	}
	return rep, json.NewDecoder(resp.Body).Decode(&rep)
}
