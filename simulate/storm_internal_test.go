package simulate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	apispec "github.com/favad/favad/api-spec"
	domain "github.com/favad/favad/inspector"
	"github.com/favad/favad/server"
	"github.com/favad/favad/server/auth"
	favsync "github.com/favad/favad/sync"
	"github.com/favad/favad/sync/blob"
	"github.com/favad/favad/sync/client"
)

// loseAnswers is a network that delivers requests but loses the answers of
// the first n PATCHes, as a phone does when its link drops at the end.
type loseAnswers struct {
	base http.RoundTripper
	n    int
}

func (l *loseAnswers) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := l.base.RoundTrip(r)
	if err == nil && r.Method == http.MethodPatch && l.n > 0 {
		l.n--
		drain(resp)
		return nil, errors.New("the answer was lost")
	}
	return resp, err
}

// TestStormUploadResumesAfterLostAnswer pins the storm's tus client: the
// 5,000-device run failed with "tus POST: 409 Conflict" when a photo whose
// last PATCH answer was lost was sent again from a new POST. A retry now
// resumes the upload it made and ends with the evidence stored.
func TestStormUploadResumesAfterLostAnswer(t *testing.T) {
	dir := t.TempDir()
	cfg := StormConfig{Serve: []string{"unused"}, Devices: 1, Mutations: 5, Photos: 1, PhotoSize: 20000}
	require.NoError(t, cfg.defaults())
	devs, office, password, err := stormSeed(filepath.Join(dir, "favad.db"), dir, cfg)
	require.NoError(t, err)
	store, err := favsync.Open(filepath.Join(dir, "favad.db"), favsync.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { store.Close() })
	srv, err := server.New(server.Config{Store: store, Keys: auth.NewKeySet(), Spec: apispec.YAML,
		Blobs: &blob.FS{Dir: filepath.Join(dir, "blobs")}, UploadDir: filepath.Join(dir, "uploads"),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, err)
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)

	d := devs[0]
	data := append(stormJPEG(), make([]byte, 20000)...)[:20000]
	sum := sha256.Sum256(data)
	dev, err := client.Open(d.path, client.Config{BaseURL: ts.URL, Username: d.username, Password: password, HTTPClient: ts.Client()})
	require.NoError(t, err)
	defer dev.Close()
	ctx := context.Background()
	require.NoError(t, stormQueue(dev, d, office, cfg, func() stormPhoto {
		return stormPhoto{id: client.NewID(), sum: hex.EncodeToString(sum[:])}
	}))
	_, err = dev.Sync(ctx)
	require.NoError(t, err)
	token, err := dev.AccessToken(ctx)
	require.NoError(t, err)

	up := &tusUpload{hc: &http.Client{Transport: &loseAnswers{base: ts.Client().Transport, n: 1}}, base: ts.URL, p: d.photos[0], data: data}
	require.Error(t, up.send(ctx, token), "the first answer is lost")
	require.NoError(t, up.send(ctx, token), "the retry resumes")
	e, err := store.Evidence(d.photos[0].id)
	require.NoError(t, err)
	assert.Equal(t, domain.EvidenceStored, e.Status)
	assert.Equal(t, d.photos[0].sum, e.SHA256)
}
