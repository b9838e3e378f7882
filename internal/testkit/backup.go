package testkit

import (
	"io"
	"os"
	"path/filepath"
	"testing"
)

// BackupFile writes what backup writes (a store's hot copy, as
// sync.Store.Backup gives it) to a new file in a temporary folder of tb's,
// and returns the file's path.
func BackupFile(tb testing.TB, backup func(io.Writer) (int64, error)) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "backup.db")
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := backup(f); err != nil {
		f.Close()
		tb.Fatal(err)
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
	return path
}
