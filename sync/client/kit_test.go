package client_test

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	stdsync "sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	apispec "github.com/favad/favad/api-spec"
	"github.com/favad/favad/inspector"
	"github.com/favad/favad/internal/testkit"
	"github.com/favad/favad/internal/testseed"
	"github.com/favad/favad/server"
	"github.com/favad/favad/server/auth"
	favsync "github.com/favad/favad/sync"
	"github.com/favad/favad/sync/blob"
	"github.com/favad/favad/sync/client"
)

const testPassword = testseed.Password

// env is one real FAVAD server on a real bbolt file, on loopback HTTP, with
// an agency, offices in two provinces, a dispatcher, two field inspectors
// and a phone inspector.
type env struct {
	t          testing.TB
	clock      *testkit.Clock
	store      *favsync.Store
	cfg        server.Config
	ts         *httptest.Server
	users      map[string]inspector.User
	calls      int
	dispatcher favsync.Actor
}

func newEnv(t testing.TB, opts ...func(*server.Config)) *env {
	t.Helper()
	clock := testkit.NewClock(time.Now().UTC().Truncate(time.Second))
	store, err := favsync.Open(filepath.Join(t.TempDir(), "favad.db"), favsync.Options{Now: clock.Now})
	require.NoError(t, err)
	cfg := server.Config{Store: store, Keys: auth.NewKeySet(), Spec: apispec.YAML, Now: clock.Now,
		Blobs: &blob.FS{Dir: filepath.Join(t.TempDir(), "blobs")}, UploadDir: filepath.Join(t.TempDir(), "uploads"),
		Logger:          slog.New(slog.DiscardHandler),
		LoginPerAccount: 10000, LoginPerAddress: 10000}
	for _, o := range opts {
		o(&cfg)
	}
	e := &env{t: t, clock: clock, store: store, cfg: cfg, users: map[string]inspector.User{}}
	e.ts = e.serve()
	t.Cleanup(func() {
		e.ts.Close()
		store.Close()
	})
	e.seed()
	return e
}

// serve starts a server on the env's store (a new address each time).
func (e *env) serve() *httptest.Server {
	e.t.Helper()
	srv, err := server.New(e.cfg)
	require.NoError(e.t, err)
	return httptest.NewServer(srv) // httptest listens on 127.0.0.1
}

func (e *env) seed() {
	t := e.t
	e.users = testseed.Users(t, e.store, "dispatcher", "field", "field2", "phone")
	e.dispatcher = favsync.Actor{UserID: e.users["dispatcher"].ID}
	_, _, err := e.store.PutAgency(favsync.System, inspector.Agency{Code: "SSO", NameFa: "سازمان تامین اجتماعی", NameEn: "Social Security Organization"})
	require.NoError(t, err)
	hours := inspector.WorkingHours{Opens: "07:30", Closes: "14:30", Days: []string{"sat", "sun", "mon", "tue", "wed"}}
	for _, o := range []inspector.Office{
		{Code: "QZ-SSO-01", AgencyCode: "SSO", NameFa: "شعبه یک تامین اجتماعی قزوین", Province: "قزوین", City: "قزوین",
			Location: &inspector.Location{Lat: 36.279, Lng: 50.004}, Hours: hours},
		{Code: "TK-SSO-01", AgencyCode: "SSO", NameFa: "شعبه تامین اجتماعی تاکستان", Province: "قزوین", City: "تاکستان", Hours: hours},
		{Code: "TH-SSO-01", AgencyCode: "SSO", NameFa: "شعبه یک تامین اجتماعی تهران", Province: "تهران", City: "تهران", Hours: hours},
	} {
		_, _, err := e.store.PutOffice(favsync.System, o)
		require.NoError(t, err)
	}
}

// complaint creates a complaint about office QZ-SSO-01 with a named caller and
// assigns it to inspector username in their mode (field visit or phone).
func (e *env) complaint(username string) inspector.Complaint {
	e.t.Helper()
	e.calls++
	c, _, err := e.store.CreateComplaint(e.dispatcher, inspector.NewComplaint{
		CallID: "CALL-" + strings.Repeat("7", e.calls), Category: inspector.CategoryAbsentEmployee,
		Description: "کارمند باجه ۳ از ساعت ۹ در محل کار نیست", CallTime: e.clock.Now().Add(-time.Hour),
		Caller:     inspector.Caller{Name: "زینب موسوی", Phone: "09121234567"},
		OfficeCode: "QZ-SSO-01", Priority: inspector.PriorityHigh,
	})
	require.NoError(e.t, err)
	c, err = e.store.Assign(e.dispatcher, c.ID, inspector.Routing{InspectorID: e.users[username].ID, Mode: e.users[username].Mode})
	require.NoError(e.t, err)
	return c
}

// device opens a client for username on a new file in t.TempDir().
func (e *env) device(username string, opts ...func(*client.Config)) *client.Client {
	e.t.Helper()
	return e.deviceAt(filepath.Join(e.t.TempDir(), "device.db"), username, opts...)
}

// deviceAt opens a client on the file at path; it is closed when the test ends.
func (e *env) deviceAt(path, username string, opts ...func(*client.Config)) *client.Client {
	e.t.Helper()
	cfg := client.Config{BaseURL: e.ts.URL, Username: username, Password: testPassword, AppVersion: "test-1.0",
		HTTPClient: e.ts.Client()}
	for _, o := range opts {
		o(&cfg)
	}
	c, err := client.Open(path, cfg)
	require.NoError(e.t, err)
	e.t.Cleanup(func() { c.Close() })
	return c
}

// tap is an http.RoundTripper between the device and the server: it counts
// requests by path, remembers the last bearer token, and can lose the
// answer to a request after the server has processed it.
type tap struct {
	base http.RoundTripper

	mu     stdsync.Mutex
	counts map[string]int
	lose   map[string][]int // path → numbers (1-based) of the requests whose answers are lost
	bearer string
}

func newTap(base http.RoundTripper) *tap {
	return &tap{base: base, counts: map[string]int{}, lose: map[string][]int{}}
}

var errLost = errors.New("tap: the connection dropped after the server answered")

func (t *tap) RoundTrip(req *http.Request) (*http.Response, error) {
	t.mu.Lock()
	t.counts[req.URL.Path]++
	if b, ok := strings.CutPrefix(req.Header.Get("Authorization"), "Bearer "); ok {
		t.bearer = b
	}
	lose := slices.Contains(t.lose[req.URL.Path], t.counts[req.URL.Path])
	t.mu.Unlock()
	resp, err := t.base.RoundTrip(req)
	if err != nil || !lose {
		return resp, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return nil, errLost
}

// loseNext makes the answer to the next request to path disappear.
func (t *tap) loseNext(path string) { t.loseAfter(path, 0) }

// loseAfter lets n more requests to path through and loses the answer to the next.
func (t *tap) loseAfter(path string, n int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lose[path] = append(t.lose[path], t.counts[path]+n+1)
}

func (t *tap) count(path string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.counts[path]
}

func (t *tap) lastBearer() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.bearer
}

// tapped routes a device's requests through tp.
func tapped(tp *tap) func(*client.Config) {
	return func(c *client.Config) { c.HTTPClient = &http.Client{Transport: tp, Timeout: 10 * time.Second} }
}
