package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	stdsync "sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/stretchr/testify/require"

	apispec "github.com/favad/favad/api-spec"
	"github.com/favad/favad/inspector"
	"github.com/favad/favad/internal/testkit"
	"github.com/favad/favad/internal/testseed"
	"github.com/favad/favad/server"
	"github.com/favad/favad/server/auth"
	favsync "github.com/favad/favad/sync"
	"github.com/favad/favad/sync/blob"
)

const testPassword = testseed.Password

// env is one real FAVAD server on a real bbolt file, reached over loopback
// HTTP, with every request and response checked against the OpenAPI spec.
type env struct {
	t      *testing.T
	clock  *testkit.Clock
	store  *favsync.Store
	srv    *server.Server
	ts     *httptest.Server
	router routers.Router
	users  map[string]inspector.User // by username
}

type envOption func(*server.Config)

func newEnv(t *testing.T, opts ...envOption) *env {
	t.Helper()
	return newEnvIn(t, t.TempDir(), favsync.Options{}, opts...)
}

// newEnvIn is newEnv with the store, the blobs and the uploads in dir, and
// the store opened with storeOpts (its clock is the env's).
func newEnvIn(t *testing.T, dir string, storeOpts favsync.Options, opts ...envOption) *env {
	t.Helper()
	clock := testkit.NewClock(time.Now().UTC().Truncate(time.Second))
	storeOpts.Now = clock.Now
	store, err := favsync.Open(filepath.Join(dir, "favad.db"), storeOpts)
	require.NoError(t, err)
	cfg := server.Config{Store: store, Keys: auth.NewKeySet(), Spec: apispec.YAML, Now: clock.Now,
		Blobs: &blob.FS{Dir: filepath.Join(dir, "blobs")}, UploadDir: filepath.Join(dir, "uploads"),
		Logger:          slog.New(slog.NewJSONHandler(io.Discard, nil)),
		LoginPerAccount: 1000, LoginPerAddress: 1000}
	for _, o := range opts {
		o(&cfg)
	}
	srv, err := server.New(cfg)
	require.NoError(t, err)
	// The server's own HTTP configuration and listener, as favad serve runs it.
	ts := httptest.NewUnstartedServer(srv)
	ts.Config = srv.HTTPServer()
	ts.Listener = srv.LimitListener(ts.Listener)
	ts.Start()
	t.Cleanup(func() {
		ts.Close()
		checkHistoryActions(t, store)
		store.Close()
	})
	e := &env{t: t, clock: clock, store: store, srv: srv, ts: ts, users: map[string]inspector.User{}}
	e.router = specRouter(t, ts.URL)
	e.seed()
	return e
}

var (
	specOnce stdsync.Once
	specDoc  *openapi3.T
	specErr  error
)

func specRouter(t *testing.T, url string) routers.Router {
	t.Helper()
	specOnce.Do(func() {
		loader := openapi3.NewLoader()
		specDoc, specErr = loader.LoadFromData(apispec.YAML)
		if specErr == nil {
			specErr = specDoc.Validate(context.Background())
		}
	})
	require.NoError(t, specErr, "api-spec/openapi.yaml must load and validate")
	doc := *specDoc
	doc.Servers = openapi3.Servers{{URL: url}}
	r, err := gorillamux.NewRouter(&doc)
	require.NoError(t, err)
	return r
}

// seed creates one user of each role, an agency and two offices.
func (e *env) seed() {
	t := e.t
	_, _, err := e.store.PutAgency(favsync.System, inspector.Agency{Code: "SSO", NameFa: "سازمان تامین اجتماعی", NameEn: "Social Security Organization"})
	require.NoError(t, err)
	for _, o := range []inspector.Office{
		{Code: "QZ-SSO-01", AgencyCode: "SSO", NameFa: "شعبه یک تامین اجتماعی قزوین", Province: "قزوین", City: "قزوین",
			Phone: "028-33000101", Location: &inspector.Location{Lat: 36.279, Lng: 50.004},
			Hours: inspector.WorkingHours{Opens: "07:30", Closes: "14:30", Days: []string{"sat", "sun", "mon", "tue", "wed"}}},
		{Code: "TK-SSO-01", AgencyCode: "SSO", NameFa: "شعبه تامین اجتماعی تاکستان", Province: "قزوین", City: "تاکستان",
			Hours: inspector.WorkingHours{Opens: "07:30", Closes: "14:30", Days: []string{"sat", "sun", "mon", "tue", "wed"}}},
	} {
		_, _, err := e.store.PutOffice(favsync.System, o)
		require.NoError(t, err)
	}
	e.users = testseed.Users(t, e.store) // after the offices: the office account is bound to one
}

// call is one HTTP request in a test.
type call struct {
	method, path string
	token        string
	body         any    // encoded as JSON unless raw is set
	raw          string // sent as is
	contentType  string // default application/json when there is a body
	header       http.Header
	// invalidRequest marks a request that breaks the contract on purpose: it
	// is not validated against the spec, but its response still is.
	invalidRequest bool
	// from is the address the request comes from, such as 127.0.0.2 (Linux
	// routes all of 127/8 to the loopback); "" is 127.0.0.1.
	from string
}

type reply struct {
	status int
	header http.Header
	body   []byte
}

func (r reply) json(t *testing.T, v any) {
	t.Helper()
	require.NoError(t, json.Unmarshal(r.body, v), "body: %s", r.body)
}

func (r reply) problem(t *testing.T) server.Problem {
	t.Helper()
	require.Equal(t, "application/problem+json", r.header.Get("Content-Type"), "body: %s", r.body)
	var p server.Problem
	if len(r.body) == 0 { // a HEAD request: the status says it all
		p.Status, p.Code = r.status, inspector.Code(codeForStatus(r.status))
		return p
	}
	r.json(t, &p)
	return p
}

func (e *env) do(c call) reply {
	t := e.t
	t.Helper()
	var payload []byte
	switch {
	case c.raw != "":
		payload = []byte(c.raw)
	case c.body != nil:
		var err error
		payload, err = json.Marshal(c.body)
		require.NoError(t, err)
	}
	build := func() *http.Request {
		var body io.Reader
		if payload != nil {
			body = bytes.NewReader(payload)
		}
		req, err := http.NewRequest(c.method, e.ts.URL+c.path, body)
		require.NoError(t, err)
		for k, vs := range c.header {
			req.Header[k] = vs
		}
		if payload != nil {
			ct := c.contentType
			if ct == "" {
				ct = "application/json"
			}
			req.Header.Set("Content-Type", ct)
		}
		if c.token != "" {
			req.Header.Set("Authorization", "Bearer "+c.token)
		}
		return req
	}
	vreq := build()
	route, params, err := e.router.FindRoute(vreq)
	if !c.invalidRequest {
		require.NoError(t, err, "%s %s is not in the spec", c.method, c.path)
	}
	opts := &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, IncludeResponseStatus: true, MultiError: true}
	in := &openapi3filter.RequestValidationInput{Request: vreq, PathParams: params, Route: route, Options: opts}
	if !c.invalidRequest {
		require.NoError(t, openapi3filter.ValidateRequest(context.Background(), in), "request %s %s breaks the spec", c.method, c.path)
	}
	client := e.ts.Client()
	if c.from != "" {
		client = clientFrom(t, c.from)
	}
	resp, err := client.Do(build())
	require.NoError(t, err)
	defer resp.Body.Close()
	var body []byte
	if resp.Header.Get("Content-Type") == "text/event-stream" {
		// A live stream never ends by itself: its status and headers are
		// checked, and closing the body ends it.
		streamOpts := *opts
		streamOpts.ExcludeResponseBody = true
		opts = &streamOpts
	} else {
		body, err = io.ReadAll(resp.Body)
		require.NoError(t, err)
	}
	if route != nil { // a route the spec does not have (a deliberate 404) has no response schema to check
		out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header, Options: opts}
		out.SetBodyBytes(body)
		require.NoError(t, openapi3filter.ValidateResponse(context.Background(), out),
			"response to %s %s (%d) breaks the spec: %s", c.method, c.path, resp.StatusCode, body)
	}
	require.NotEmpty(t, resp.Header.Get("X-Request-ID"), "every response carries a request id")
	return reply{status: resp.StatusCode, header: resp.Header, body: body}
}

// clientFrom is an HTTP client whose connections come from the local
// address from.
func clientFrom(t *testing.T, from string) *http.Client {
	t.Helper()
	local, err := net.ResolveTCPAddr("tcp", net.JoinHostPort(from, "0"))
	require.NoError(t, err)
	tr := &http.Transport{DialContext: (&net.Dialer{LocalAddr: local}).DialContext}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

type tokens struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	User         struct {
		ID   string `json:"id"`
		Role string `json:"role"`
	} `json:"user"`
}

// login signs username in on a device and returns the tokens.
func (e *env) login(username, device string) tokens {
	e.t.Helper()
	r := e.do(call{method: "POST", path: "/v1/auth/login", body: map[string]string{"username": username, "password": testPassword, "device_id": device}})
	require.Equal(e.t, http.StatusOK, r.status, "login %s: %s", username, r.body)
	var tk tokens
	r.json(e.t, &tk)
	return tk
}

func (e *env) token(username string) string {
	e.t.Helper()
	return e.login(username, "device-"+username).AccessToken
}

func newCall(method, path, token string, body any) call {
	return call{method: method, path: path, token: token, body: body}
}

var systemActor = favsync.System

// codeForStatus is the code a body-less (HEAD) refusal stands for in the tests.
func codeForStatus(status int) string {
	switch status {
	case http.StatusUnauthorized:
		return "unauthorized"
	case http.StatusForbidden:
		return "forbidden"
	}
	return ""
}
