package server_test

// Uploads are hashed as their bytes arrive, so finishing one does not read
// the file back; the hash state lives on disk beside the upload, and the
// server re-reads the file whenever that state cannot be trusted.

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/favad/favad/server"
)

// TestUploadHashedAsBytesArrive: each PATCH extends the upload's saved
// SHA-256 state; the final one stores the evidence from that state
// (hashed_from "arrival"), also across a restart between PATCHes. A state
// that is missing, for another offset, from another boot of the machine or
// unreadable is not used: the file is hashed instead (hashed_from "file"),
// and the evidence is stored all the same.
func TestUploadHashedAsBytesArrive(t *testing.T) {
	t.Parallel()
	logs := &lockedBuffer{}
	var cfg server.Config
	e := newEvidenceEnv(t, func(c *server.Config) { c.Logger = slog.New(slog.NewJSONHandler(logs, nil)) },
		func(c *server.Config) { cfg = *c })
	complaint := e.assignedComplaint("CALL-TUS-HASH-1")
	field := e.login("field", "android-field-hash1").AccessToken

	// A second server on the same store and upload directory: the first
	// one's process memory is no help to it, as after a restart.
	srv2, err := server.New(cfg)
	require.NoError(t, err)
	ts2 := httptest.NewServer(srv2)
	t.Cleanup(ts2.Close)

	type state struct {
		Offset int64  `json:"offset"`
		Boot   string `json:"boot"`
		State  []byte `json:"state"`
	}
	readState := func(t *testing.T, loc string) (state, bool) {
		b, err := os.ReadFile(filepath.Join(e.uploadDir, path.Base(loc)+".sha256"))
		if err != nil {
			return state{}, false
		}
		var st state
		require.NoError(t, json.Unmarshal(b, &st))
		return st, true
	}
	writeState := func(t *testing.T, loc string, st state) {
		b, err := json.Marshal(st)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(e.uploadDir, path.Base(loc)+".sha256"), b, 0o600))
	}

	for seq, c := range []struct {
		name     string
		tamper   func(t *testing.T, loc string) // between the first and the last PATCH
		restart  bool
		hashFrom string
	}{
		{name: "as the bytes came", hashFrom: "arrival"},
		{name: "across a restart", restart: true, hashFrom: "arrival"},
		{name: "state missing", hashFrom: "file", tamper: func(t *testing.T, loc string) {
			require.NoError(t, os.Remove(filepath.Join(e.uploadDir, path.Base(loc)+".sha256")))
		}},
		{name: "state for another offset", hashFrom: "file", tamper: func(t *testing.T, loc string) {
			st, ok := readState(t, loc)
			require.True(t, ok)
			st.Offset--
			writeState(t, loc, st)
		}},
		{name: "state from another boot", hashFrom: "file", tamper: func(t *testing.T, loc string) {
			st, ok := readState(t, loc)
			require.True(t, ok)
			st.Boot = "another boot"
			writeState(t, loc, st)
		}},
		{name: "state unreadable", hashFrom: "file", tamper: func(t *testing.T, loc string) {
			require.NoError(t, os.WriteFile(filepath.Join(e.uploadDir, path.Base(loc)+".sha256"), []byte("{\"offset\":"), 0o600))
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			photo := noiseJPEG(t, 160, 120, int64(40+seq))
			sum, size, id := hexSHA256(photo), int64(len(photo)), v7()
			e.pushEvidence(field, uint64(seq+1), id, complaint, size, sum, "image/jpeg")
			r := e.tusCreate(field, size, evidenceMeta(id, sum, "image/jpeg"))
			require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
			loc := r.header.Get("Location")
			third := size / 3
			for _, off := range []int64{0, third} {
				p := e.tusPatch(field, loc, off, photo[off:off+third])
				require.Equal(t, http.StatusNoContent, p.status, "%s", p.body)
				st, ok := readState(t, loc)
				require.True(t, ok, "a state is saved after each chunk")
				assert.Equal(t, off+third, st.Offset)
			}
			if c.tamper != nil {
				c.tamper(t, loc)
			}
			last := e.env
			if c.restart {
				last = &env{t: t, store: e.store, ts: ts2, router: e.router, users: e.users, clock: e.clock}
				loc = ts2.URL + strings.TrimPrefix(loc, e.ts.URL)
			}
			p := last.tusPatch(field, loc, 2*third, photo[2*third:])
			require.Equal(t, http.StatusNoContent, p.status, "%s", p.body)
			assert.Equal(t, "stored", p.header.Get("Favad-Evidence-Status"))

			ev, _ := e.evidence(field, id)
			assert.Equal(t, "stored", ev.Status)
			assert.Equal(t, sum, ev.SHA256)
			assert.Equal(t, c.hashFrom, storedLine(t, logs.String(), id)["hashed_from"])
			assert.Empty(t, e.unfinishedUploadFiles(), "the state goes with the upload")
		})
	}
}

// storedLine is the log line that stored evidence id.
func storedLine(t *testing.T, logs, id string) map[string]any {
	t.Helper()
	for _, l := range strings.Split(logs, "\n") {
		if strings.Contains(l, "evidence bytes stored") && strings.Contains(l, id) {
			var m map[string]any
			require.NoError(t, json.Unmarshal([]byte(l), &m))
			return m
		}
	}
	t.Fatalf("no log line stored evidence %s", id)
	return nil
}
