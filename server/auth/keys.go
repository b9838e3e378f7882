package auth

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// KeySet holds the Ed25519 keys that sign access tokens. The newest signs;
// all verify, so rotating a key does not sign everyone out.
type KeySet struct {
	current string
	keys    map[string]ed25519.PrivateKey
}

type keyFile struct {
	Keys []struct {
		Kid     string    `json:"kid"`
		Seed    string    `json:"seed"` // base64 of the 32-byte Ed25519 seed
		Created time.Time `json:"created"`
	} `json:"keys"`
}

// LoadOrCreateKeys reads the key file at path, or creates it with one new key
// (mode 0600) if it does not exist. The last key in the file signs.
func LoadOrCreateKeys(path string, now time.Time) (*KeySet, error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return createKeys(path, now)
	}
	if err == nil {
		if fi, serr := os.Stat(path); serr == nil && fi.Mode().Perm()&0o077 != 0 {
			return nil, fmt.Errorf("key file %s is readable by others (mode %v): anyone who reads it can sign tokens; run chmod 600 on it", path, fi.Mode().Perm())
		}
	}
	if err != nil {
		return nil, fmt.Errorf("read key file: %w", err)
	}
	var f keyFile
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	if len(f.Keys) == 0 {
		return nil, fmt.Errorf("key file %s holds no keys", path)
	}
	ks := &KeySet{keys: map[string]ed25519.PrivateKey{}}
	for _, k := range f.Keys {
		seed, err := base64.StdEncoding.DecodeString(k.Seed)
		if err != nil || len(seed) != ed25519.SeedSize || k.Kid == "" {
			return nil, fmt.Errorf("key file %s: key %q is malformed", path, k.Kid)
		}
		ks.keys[k.Kid] = ed25519.NewKeyFromSeed(seed)
		ks.current = k.Kid
	}
	return ks, nil
}

func createKeys(path string, now time.Time) (*KeySet, error) {
	seed := make([]byte, ed25519.SeedSize)
	if _, err := rand.Read(seed); err != nil {
		return nil, err
	}
	kid := "k" + now.UTC().Format("20060102T150405")
	var f keyFile
	f.Keys = append(f.Keys, struct {
		Kid     string    `json:"kid"`
		Seed    string    `json:"seed"`
		Created time.Time `json:"created"`
	}{kid, base64.StdEncoding.EncodeToString(seed), now.UTC()})
	raw, _ := json.MarshalIndent(f, "", "  ")
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create key file: %w", err)
	}
	// Write a temporary file in full, then link it into place: a crash never
	// leaves an empty key file, and of two processes starting at once only
	// one key wins (link fails if the name exists).
	fd, err := os.CreateTemp(filepath.Dir(path), ".jwt-keys-*.tmp")
	if err != nil {
		return nil, fmt.Errorf("create key file: %w", err)
	}
	tmp := fd.Name()
	defer os.Remove(tmp)
	_, err = fd.Write(raw)
	if err == nil {
		err = fd.Sync()
	}
	if cerr := fd.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("write key file: %w", err)
	}
	if err := os.Link(tmp, path); errors.Is(err, os.ErrExist) {
		return LoadOrCreateKeys(path, now)
	} else if err != nil {
		return nil, fmt.Errorf("create key file: %w", err)
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return &KeySet{current: kid, keys: map[string]ed25519.PrivateKey{kid: ed25519.NewKeyFromSeed(seed)}}, nil
}

// NewKeySet returns a key set with one fresh key, held in memory only. Tests use it.
func NewKeySet() *KeySet {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	return &KeySet{current: "test", keys: map[string]ed25519.PrivateKey{"test": priv}}
}
