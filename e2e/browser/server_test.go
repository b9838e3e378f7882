package browser

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
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

// env is one real server as `favad serve` runs it (the feed broker, the
// report aggregates and the thumbnail worker running), on a bbolt file of
// the test's own, on the real clock, seeded with offices and the testseed
// accounts (whose password is testseed.Password).
type env struct {
	t      *testing.T
	store  *favsync.Store
	agg    *reports.Aggregator
	ts     *httptest.Server
	users  map[string]inspector.User
	tokens map[string]string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	needBrowser(t)
	dir := t.TempDir()
	store, err := favsync.Open(filepath.Join(dir, "favad.db"), favsync.Options{})
	require.NoError(t, err)
	agg, err := reports.New(reports.Config{Store: store, Settle: time.Millisecond, Poll: 20 * time.Millisecond})
	require.NoError(t, err)
	logger := slog.New(slog.DiscardHandler)
	broker := feed.NewBroker(store, feed.Options{Logger: logger, Poll: 20 * time.Millisecond})
	blobs := &blob.FS{Dir: filepath.Join(dir, "blobs")}
	thumbs := &media.Thumbnailer{Store: store, Blobs: blobs, Dir: filepath.Join(dir, "thumbs"), Logger: logger}
	require.NoError(t, thumbs.Validate())
	srv, err := server.New(server.Config{Store: store, Keys: auth.NewKeySet(), Spec: apispec.YAML, Logger: logger,
		Blobs: blobs, UploadDir: filepath.Join(dir, "uploads"), ReadPhotoMeta: media.ReadPhotoMeta, Thumbnails: thumbs,
		LoginPerAccount: 1000, LoginPerAddress: 1000, Feed: broker, Reports: agg, FeedHeartbeat: 500 * time.Millisecond})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	var workers stdsync.WaitGroup
	workers.Go(func() { _ = agg.Run(ctx) })
	workers.Go(func() { broker.Run(ctx) })
	workers.Go(func() { thumbs.Run(ctx, 50*time.Millisecond) })
	ts := httptest.NewServer(srv)
	t.Cleanup(func() {
		srv.Drain()
		ts.CloseClientConnections()
		ts.Close()
		cancel()
		workers.Wait()
		store.Close()
	})
	e := &env{t: t, store: store, agg: agg, ts: ts, tokens: map[string]string{}}
	e.seed()
	return e
}

// The offices of the tests: Qazvin's, with places so that distances show.
var offices = []inspector.Office{
	{Code: "QZ-SSO-01", AgencyCode: "SSO", NameFa: "شعبه یک تامین اجتماعی قزوین", Province: "قزوین", City: "قزوین",
		Address: "خیابان فردوسی", Phone: "028-33350101", Location: &inspector.Location{Lat: 36.2790, Lng: 50.0040}},
	{Code: "QZ-SSO-02", AgencyCode: "SSO", NameFa: "شعبه دو تامین اجتماعی قزوین", Province: "قزوین", City: "قزوین",
		Phone: "028-33350202", Location: &inspector.Location{Lat: 36.2650, Lng: 49.9880}},
	{Code: "QZ-TAX-01", AgencyCode: "TAX", NameFa: "اداره کل امور مالیاتی قزوین", Province: "قزوین", City: "قزوین",
		Phone: "028-33220000", Location: &inspector.Location{Lat: 36.2700, Lng: 50.0100}},
	{Code: "QZ-MUN-03", AgencyCode: "MUN", NameFa: "شهرداری منطقه سه قزوین", Province: "قزوین", City: "قزوین",
		Phone: "028-33660303", Location: &inspector.Location{Lat: 36.2920, Lng: 50.0230}},
	{Code: "QZ-REG-01", AgencyCode: "REG", NameFa: "اداره ثبت احوال تاکستان", Province: "قزوین", City: "تاکستان",
		Phone: "028-35220011", Location: &inspector.Location{Lat: 36.0700, Lng: 49.6960}},
}

func (e *env) seed() {
	t := e.t
	for _, a := range []inspector.Agency{
		{Code: "SSO", NameFa: "سازمان تامین اجتماعی"},
		{Code: "TAX", NameFa: "سازمان امور مالیاتی"},
		{Code: "MUN", NameFa: "شهرداری قزوین"},
		{Code: "REG", NameFa: "سازمان ثبت احوال"},
	} {
		_, _, err := e.store.PutAgency(favsync.System, a)
		require.NoError(t, err)
	}
	hours := inspector.WorkingHours{Opens: "07:30", Closes: "14:30", Days: []string{"sat", "sun", "mon", "tue", "wed"}}
	for _, o := range offices {
		o.Hours = hours
		_, _, err := e.store.PutOffice(favsync.System, o)
		require.NoError(t, err)
	}
	e.users = testseed.Users(t, e.store)
}

func (e *env) token(username string) string {
	e.t.Helper()
	if tk, ok := e.tokens[username]; ok {
		return tk
	}
	var tk struct {
		AccessToken string `json:"access_token"`
	}
	e.api("POST", "/v1/auth/login", "", map[string]string{"username": username, "password": testseed.Password, "device_id": "e2e-" + username}, &tk)
	e.tokens[username] = tk.AccessToken
	return tk.AccessToken
}

type reply struct {
	status int
	header http.Header
	body   []byte
}

func (e *env) do(method, path, token string, body any) reply {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(e.t, err)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, e.ts.URL+path, rd)
	require.NoError(e.t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := e.ts.Client().Do(req)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(e.t, err)
	return reply{status: resp.StatusCode, header: resp.Header, body: b}
}

// api sends a request that must succeed, decoding the answer into out.
func (e *env) api(method, path, token string, body, out any) {
	e.t.Helper()
	r := e.do(method, path, token, body)
	require.Less(e.t, r.status, 300, "%s %s: %s", method, path, r.body)
	if out != nil {
		require.NoError(e.t, json.Unmarshal(r.body, out), "%s", r.body)
	}
}

type complaintJSON struct {
	ID           string `json:"id"`
	Number       uint64 `json:"number"`
	Status       string `json:"status"`
	TrackingCode string `json:"tracking_code"`
	OfficeCode   string `json:"office_code"`
	Version      uint64 `json:"version"`
}

var calls int

// complaint records a call as dispatch does, through the API.
func (e *env) complaint(office string, category inspector.Category, priority inspector.Priority, description string) complaintJSON {
	e.t.Helper()
	calls++
	var c complaintJSON
	e.api("POST", "/v1/complaints", e.token("dispatcher"), map[string]any{"call_id": fmt.Sprintf("CALL-E2E-%d-%d", time.Now().UnixNano(), calls),
		"category": category, "description": description, "call_time": time.Now().Add(-5 * time.Minute).Format(time.RFC3339),
		"caller": map[string]string{"name": "فاطمه ذوالفقاری", "phone": "09127654321"}, "office_code": office, "priority": priority}, &c)
	return c
}

func (e *env) getComplaint(id string) complaintJSON {
	e.t.Helper()
	var c complaintJSON
	e.api("GET", "/v1/complaints/"+id, e.token("dispatcher"), nil, &c)
	return c
}

func (e *env) assign(id, username string) {
	e.t.Helper()
	u := e.users[username]
	e.api("POST", "/v1/complaints/"+id+"/assign", e.token("dispatcher"), map[string]string{"inspector_id": u.ID, "mode": string(u.Mode)}, nil)
}

// device is an inspector's phone: a sync/client on a store of its own.
func (e *env) device(username string) *client.Client {
	e.t.Helper()
	c, err := client.Open(filepath.Join(e.t.TempDir(), username+".db"), client.Config{BaseURL: e.ts.URL, Username: username,
		Password: testseed.Password, AppVersion: "e2e-1.0", HTTPClient: e.ts.Client(), DeviceID: "phone-" + username})
	require.NoError(e.t, err)
	e.t.Cleanup(func() { c.Close() })
	return c
}

func (e *env) sync(c *client.Client) client.Report {
	e.t.Helper()
	rep, err := c.Sync(context.Background())
	require.NoError(e.t, err)
	require.Zero(e.t, rep.Rejected, "%+v", rep.Results)
	return rep
}

// office returns the seeded office with code.
func office(code string) inspector.Office {
	for _, o := range offices {
		if o.Code == code {
			return o
		}
	}
	panic("no office " + code)
}

// near is a device position about 20 m from the office.
func near(code string) client.Geo {
	l := office(code).Location
	return client.Geo{DeviceTime: time.Now(), Lat: l.Lat + 0.00015, Lng: l.Lng + 0.0001, AccuracyM: 6}
}

// photoEvidence has the device record a photo of the complaint and upload
// its bytes over tus, as the phone app does.
func (e *env) photoEvidence(dev *client.Client, username, complaintID, visitID string, photo []byte) string {
	e.t.Helper()
	id := client.NewID()
	_, _, err := dev.Enqueue("evidence.create", id, 0, map[string]any{"complaint_id": complaintID, "visit_id": visitID, "kind": "photo",
		"content_type": "image/jpeg", "size": len(photo), "sha256": sha256Hex(photo), "captured_at": time.Now().Add(-time.Second).Format(time.RFC3339)})
	require.NoError(e.t, err)
	e.sync(dev)
	e.tusUpload(e.token(username), id, photo)
	return id
}

func (e *env) tusUpload(token, evidenceID string, b []byte) {
	e.t.Helper()
	meta := "evidence_id " + base64.StdEncoding.EncodeToString([]byte(evidenceID)) +
		",sha256 " + base64.StdEncoding.EncodeToString([]byte(sha256Hex(b))) + ",filetype " + base64.StdEncoding.EncodeToString([]byte("image/jpeg"))
	req, err := http.NewRequest("POST", e.ts.URL+"/v1/uploads", nil)
	require.NoError(e.t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Tus-Resumable", "1.0.0")
	req.Header.Set("Upload-Length", strconv.Itoa(len(b)))
	req.Header.Set("Upload-Metadata", meta)
	resp, err := e.ts.Client().Do(req)
	require.NoError(e.t, err)
	resp.Body.Close()
	require.Equal(e.t, http.StatusCreated, resp.StatusCode)
	loc := resp.Header.Get("Location")
	if !strings.HasPrefix(loc, "http") {
		loc = e.ts.URL + loc
	}
	req, err = http.NewRequest("PATCH", loc, bytes.NewReader(b))
	require.NoError(e.t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Tus-Resumable", "1.0.0")
	req.Header.Set("Upload-Offset", "0")
	req.Header.Set("Content-Type", "application/offset+octet-stream")
	resp, err = e.ts.Client().Do(req)
	require.NoError(e.t, err)
	resp.Body.Close()
	require.Equal(e.t, http.StatusNoContent, resp.StatusCode)
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
