// Package e2ekit starts FAVAD as `favad serve` runs it — a real server on a
// bbolt file of the test's own, with the live feed's broker, the reports'
// aggregates and the thumbnail worker running — and talks to it over
// loopback HTTP as its users do, for the end-to-end and browser tests.
package e2ekit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	stdsync "sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	apispec "github.com/favad/favad/api-spec"
	"github.com/favad/favad/feed"
	"github.com/favad/favad/inspector"
	"github.com/favad/favad/internal/testseed"
	"github.com/favad/favad/media"
	"github.com/favad/favad/reports"
	"github.com/favad/favad/server"
	"github.com/favad/favad/server/auth"
	favsync "github.com/favad/favad/sync"
	"github.com/favad/favad/sync/blob"
	"github.com/favad/favad/sync/client"
)

// Options shape a Server. The zero value runs on the real clock.
type Options struct {
	// Now is the server's clock; nil means the real one.
	Now func() time.Time
	// AccessTTL is the access token lifetime; 0 means the server's default.
	AccessTTL time.Duration
}

// Server is one running FAVAD.
type Server struct {
	TB      testing.TB
	Store   *favsync.Store
	Reports *reports.Aggregator
	TS      *httptest.Server
	Users   map[string]inspector.User // set by SeedUsers
	now     func() time.Time
	tokens  map[string]string
}

// Start runs a server until the test ends.
func Start(tb testing.TB, opts Options) *Server {
	tb.Helper()
	dir := tb.TempDir()
	store, err := favsync.Open(filepath.Join(dir, "favad.db"), favsync.Options{Now: opts.Now})
	require.NoError(tb, err)
	agg, err := reports.New(reports.Config{Store: store, Now: opts.Now, Settle: time.Millisecond, Poll: 20 * time.Millisecond})
	require.NoError(tb, err)
	logger := slog.New(slog.DiscardHandler)
	broker := feed.NewBroker(store, feed.Options{Logger: logger, Poll: 20 * time.Millisecond})
	blobs := &blob.FS{Dir: filepath.Join(dir, "blobs")}
	thumbs := &media.Thumbnailer{Store: store, Blobs: blobs, Dir: filepath.Join(dir, "thumbs"), Logger: logger}
	require.NoError(tb, thumbs.Validate())
	srv, err := server.New(server.Config{Store: store, Keys: auth.NewKeySet(), Spec: apispec.YAML, Logger: logger, Now: opts.Now,
		Blobs: blobs, UploadDir: filepath.Join(dir, "uploads"), ReadPhotoMeta: media.ReadPhotoMetaAt, Thumbnails: thumbs,
		LoginPerAccount: 1000, LoginPerAddress: 1000, Feed: broker, Reports: agg, FeedHeartbeat: 300 * time.Millisecond,
		AccessTTL: opts.AccessTTL, RefreshTTL: max(opts.AccessTTL*2, 0)})
	require.NoError(tb, err)
	ctx, cancel := context.WithCancel(context.Background())
	var workers stdsync.WaitGroup
	workers.Go(func() { _ = agg.Run(ctx) })
	workers.Go(func() { broker.Run(ctx) })
	workers.Go(func() { thumbs.Run(ctx, 50*time.Millisecond) })
	ts := httptest.NewServer(srv)
	tb.Cleanup(func() {
		srv.Drain()
		ts.CloseClientConnections()
		ts.Close()
		cancel()
		workers.Wait()
		store.Close()
	})
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	return &Server{TB: tb, Store: store, Reports: agg, TS: ts, now: now, tokens: map[string]string{}}
}

// Seed stores agencies and offices (with working hours), then the testseed
// accounts, whose office account answers for testseed.OfficeCode.
func (s *Server) Seed(agencies []inspector.Agency, offices []inspector.Office) {
	s.TB.Helper()
	for _, a := range agencies {
		_, _, err := s.Store.PutAgency(favsync.System, a)
		require.NoError(s.TB, err)
	}
	hours := inspector.WorkingHours{Opens: "07:30", Closes: "14:30", Days: []string{"sat", "sun", "mon", "tue", "wed"}}
	for _, o := range offices {
		if len(o.Hours.Days) == 0 {
			o.Hours = hours
		}
		_, _, err := s.Store.PutOffice(favsync.System, o)
		require.NoError(s.TB, err)
	}
	s.Users = testseed.Users(s.TB, s.Store)
}

// Token signs username in once (on a console device of theirs) and returns the access token.
func (s *Server) Token(username string) string {
	s.TB.Helper()
	if tk, ok := s.tokens[username]; ok {
		return tk
	}
	var tk struct {
		AccessToken string `json:"access_token"`
	}
	s.API("POST", "/v1/auth/login", "", map[string]string{"username": username, "password": testseed.Password, "device_id": "console-" + username}, &tk)
	s.tokens[username] = tk.AccessToken
	return tk.AccessToken
}

// Reply is an HTTP answer, read whole.
type Reply struct {
	Status int
	Header http.Header
	Body   []byte
}

// Do sends a JSON request (body may be nil) with token, if any.
func (s *Server) Do(method, path, token string, body any) Reply {
	s.TB.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(s.TB, err)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.TS.URL+path, rd)
	require.NoError(s.TB, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := s.TS.Client().Do(req)
	require.NoError(s.TB, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(s.TB, err)
	return Reply{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// API sends a request that must succeed, decoding the answer into out.
func (s *Server) API(method, path, token string, body, out any) {
	s.TB.Helper()
	r := s.Do(method, path, token, body)
	require.Less(s.TB, r.Status, 300, "%s %s: %s", method, path, r.Body)
	if out != nil {
		require.NoError(s.TB, json.Unmarshal(r.Body, out), "%s", r.Body)
	}
}

// Device opens an inspector's phone: a sync/client on a store of its own, on the server's clock.
func (s *Server) Device(username string) *client.Client {
	s.TB.Helper()
	c, err := client.Open(filepath.Join(s.TB.TempDir(), username+".db"), client.Config{BaseURL: s.TS.URL, Username: username,
		Password: testseed.Password, AppVersion: "e2e-1.0", HTTPClient: s.TS.Client(), Now: s.now, DeviceID: "phone-" + username})
	require.NoError(s.TB, err)
	s.TB.Cleanup(func() { c.Close() })
	return c
}

// Sync runs a device's sync, which must apply everything.
func (s *Server) Sync(c *client.Client) client.Report {
	s.TB.Helper()
	rep, err := c.Sync(context.Background())
	require.NoError(s.TB, err)
	require.Zero(s.TB, rep.Rejected, "%+v", rep.Results)
	return rep
}

// TusUpload uploads b as the JPEG bytes of an evidence item, in one tus PATCH.
func (s *Server) TusUpload(token, evidenceID string, b []byte) {
	s.TB.Helper()
	meta := "evidence_id " + base64.StdEncoding.EncodeToString([]byte(evidenceID)) +
		",sha256 " + base64.StdEncoding.EncodeToString([]byte(SHA256Hex(b))) + ",filetype " + base64.StdEncoding.EncodeToString([]byte("image/jpeg"))
	req, err := http.NewRequest("POST", s.TS.URL+"/v1/uploads", nil)
	require.NoError(s.TB, err)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Tus-Resumable", "1.0.0")
	req.Header.Set("Upload-Length", strconv.Itoa(len(b)))
	req.Header.Set("Upload-Metadata", meta)
	resp, err := s.TS.Client().Do(req)
	require.NoError(s.TB, err)
	resp.Body.Close()
	require.Equal(s.TB, http.StatusCreated, resp.StatusCode)
	loc := resp.Header.Get("Location")
	if !strings.HasPrefix(loc, "http") {
		loc = s.TS.URL + loc
	}
	req, err = http.NewRequest("PATCH", loc, bytes.NewReader(b))
	require.NoError(s.TB, err)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Tus-Resumable", "1.0.0")
	req.Header.Set("Upload-Offset", "0")
	req.Header.Set("Content-Type", "application/offset+octet-stream")
	resp, err = s.TS.Client().Do(req)
	require.NoError(s.TB, err)
	resp.Body.Close()
	require.Equal(s.TB, http.StatusNoContent, resp.StatusCode)
}

// SHA256Hex is the hex SHA-256 of b.
func SHA256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
