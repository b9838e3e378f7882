package auth_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/favad/favad/server/auth"
)

// TestKeyFileReadableByOthersIsAccepted: LoadOrCreateKeys creates the signing
// key file 0600 but loads an existing one whatever its mode. A key file left
// group- or world-readable (copied back from a backup, unpacked from an
// archive, written by a config tool) lets any local user mint access tokens
// for any account, and the server starts without a word.
func TestKeyFileReadableByOthersIsAccepted(t *testing.T) {
	path := filepath.Join(t.TempDir(), "jwt-keys.json")
	if _, err := auth.LoadOrCreateKeys(path, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := auth.LoadOrCreateKeys(path, time.Now()); err == nil {
		t.Fatal("a world-readable signing key file was loaded without complaint")
	}
}
