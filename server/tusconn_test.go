package server_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	stdsync "sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/favad/favad/server"
	favsync "github.com/favad/favad/sync"
)

// lockedBuffer is a log sink shared by the server's goroutines.
type lockedBuffer struct {
	mu  stdsync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestUploadsReachTheConnection: tusd sets the connection's deadlines
// through http.ResponseController on every request and every read of a
// PATCH body. That works only while every wrapper of the response writer
// (Echo's, the metrics', hideInternal) unwraps to the connection; if one
// stops, tusd logs a network control error and a stalled phone holds its
// upload open for ever.
func TestUploadsReachTheConnection(t *testing.T) {
	logs := &lockedBuffer{}
	e := newEvidenceEnv(t, func(c *server.Config) { c.Logger = slog.New(slog.NewJSONHandler(logs, nil)) })
	complaint := e.assignedComplaint("CALL-CONN-1")
	field := e.login("field", "android-field-conn").AccessToken
	photo := noiseJPEG(t, 64, 48, 11)
	id, sum := v7(), hexSHA256(photo)
	e.pushEvidence(field, 1, id, complaint, int64(len(photo)), sum, "image/jpeg")
	r := e.tusUpload(field, photo, evidenceMeta(id, sum, "image/jpeg"))
	require.Equal(t, http.StatusNoContent, r.status, "%s", r.body)
	assert.NotContains(t, logs.String(), "NetworkControlError")
	assert.NotContains(t, logs.String(), "NetworkTimeoutError")
	require.NotEmpty(t, r.header.Get("X-Request-ID"))
	stored := ""
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, "evidence bytes stored") {
			stored = line
		}
	}
	require.NotEmpty(t, stored, "the hook logs the stored bytes")
	var entry map[string]any
	require.NoError(t, json.Unmarshal([]byte(stored), &entry))
	assert.Equal(t, r.header.Get("X-Request-ID"), entry["request_id"], "the hook's log line carries the PATCH's request id")
	assert.Equal(t, e.users["field"].ID, entry["user"])
}

// TestUploadDiscovery: tus discovery (OPTIONS) tells the version, what
// extensions are offered and the size limit, without a token.
func TestUploadDiscovery(t *testing.T) {
	e := newEnv(t)
	r := e.do(call{method: "OPTIONS", path: "/v1/uploads"})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	assert.Equal(t, "1.0.0", r.header.Get("Tus-Version"))
	assert.Equal(t, "1.0.0", r.header.Get("Tus-Resumable"))
	ext := strings.Split(r.header.Get("Tus-Extension"), ",")
	assert.Contains(t, ext, "creation")
	for _, off := range []string{"termination", "concatenation", "creation-defer-length"} {
		assert.NotContains(t, ext, off, "not offered, so not advertised")
	}
	assert.Equal(t, strconv.Itoa(favsync.DefaultEvidenceMaxSize), r.header.Get("Tus-Max-Size"))
}
