package server_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/favad/favad/server"
)

// rawConn is a TCP connection to the env's server from the local address
// from (Linux routes all of 127/8 to the loopback).
func (e *env) rawConn(from string) net.Conn {
	e.t.Helper()
	local, err := net.ResolveTCPAddr("tcp", net.JoinHostPort(from, "0"))
	require.NoError(e.t, err)
	conn, err := (&net.Dialer{LocalAddr: local, Timeout: 5 * time.Second}).Dial("tcp", e.ts.Listener.Addr().String())
	require.NoError(e.t, err)
	e.t.Cleanup(func() { conn.Close() })
	return conn
}

// closedWithin reads conn until the server closes it and returns what it
// sent; it fails if the connection is still open after wait. wait is a
// safety net far above the deadline under test, not a measure of it.
func closedWithin(t *testing.T, conn net.Conn, wait time.Duration) string {
	t.Helper()
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(wait)))
	got, err := io.ReadAll(conn)
	if err != nil {
		require.False(t, errors.Is(err, os.ErrDeadlineExceeded), "the server still holds the connection after %s; it sent %q", wait, got)
	}
	return string(got)
}

// TestStalledBodyIsCutOff: a client that sends a request's headers and then
// stalls its body, without signing in, used to hold the connection for as
// long as it liked. The connection is now closed once no byte has come for
// BodyIdleTimeout.
func TestStalledBodyIsCutOff(t *testing.T) {
	e := newEnv(t, func(c *server.Config) { c.BodyIdleTimeout = 300 * time.Millisecond })
	for name, tc := range map[string]struct{ method, path, sent string }{
		"no byte of the body":     {"POST", "/v1/auth/login", ""},
		"part of the body":        {"POST", "/v1/auth/login", `{"username":"dispatcher","pass`},
		"a route that refuses it": {"POST", "/v1/complaints", `{"call_id":`}, // 401 before reading: the rest is still waited for
		"an upload, signed out":   {"PATCH", "/v1/uploads/0123456789abcdef", "\xff\xd8"},
		"no such route":           {"POST", "/v1/nowhere", "{"},
	} {
		t.Run(name, func(t *testing.T) {
			conn := e.rawConn("127.0.0.1")
			_, err := fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: favad\r\nContent-Type: application/json\r\nContent-Length: 400\r\n\r\n%s", tc.method, tc.path, tc.sent)
			require.NoError(t, err)
			got := closedWithin(t, conn, 20*time.Second)
			if got != "" {
				assert.NotContains(t, got, "HTTP/1.1 500", "a stalled client is no server error")
			}
		})
	}
}

// slowReader hands out its bytes a few at a time with a pause before each
// piece, as a phone on a poor network sends them.
type slowReader struct {
	data  []byte
	piece int
	pause time.Duration
}

func (r *slowReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	time.Sleep(r.pause)
	n := copy(p[:min(len(p), r.piece)], r.data)
	r.data = r.data[n:]
	return n, nil
}

// TestTricklingBodyGoesOn: a body that keeps coming, however slowly, is not
// cut off: the deadline moves as bytes arrive, so the request may take many
// times BodyIdleTimeout.
func TestTricklingBodyGoesOn(t *testing.T) {
	e := newEnv(t, func(c *server.Config) { c.BodyIdleTimeout = time.Second })
	body := fmt.Sprintf(`{"username":"dispatcher","password":%q,"device_id":"browser-trickle-1"}`, testPassword)
	pieces := 30
	req, err := http.NewRequest(http.MethodPost, e.ts.URL+"/v1/auth/login",
		&slowReader{data: []byte(body), piece: (len(body) + pieces - 1) / pieces, pause: 100 * time.Millisecond})
	require.NoError(t, err)
	req.ContentLength = int64(len(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.ts.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", got)
}

// TestTusPatchWithPausesFinishes: a phone's PATCH that pauses for less than
// BodyIdleTimeout at a time finishes, however long it takes in all; one
// that stops sending is cut off after it.
func TestTusPatchWithPausesFinishes(t *testing.T) {
	e := newEvidenceEnv(t, func(c *server.Config) { c.BodyIdleTimeout = time.Second })
	complaint := e.assignedComplaint("CALL-SLOW-1")
	field := e.login("field", "android-field-slow").AccessToken
	photo := noiseJPEG(t, 64, 48, 21)

	t.Run("pauses", func(t *testing.T) {
		id, sum := v7(), hexSHA256(photo)
		e.pushEvidence(field, 1, id, complaint, int64(len(photo)), sum, "image/jpeg")
		r := e.tusCreate(field, int64(len(photo)), evidenceMeta(id, sum, "image/jpeg"))
		require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
		loc, err := url.Parse(r.header.Get("Location"))
		require.NoError(t, err)
		// Four pauses of 0.4 s: 1.6 s in all, more than the idle deadline.
		req, err := http.NewRequest(http.MethodPatch, e.ts.URL+loc.Path,
			&slowReader{data: photo, piece: (len(photo) + 3) / 4, pause: 400 * time.Millisecond})
		require.NoError(t, err)
		req.ContentLength = int64(len(photo))
		req.Header.Set("Content-Type", "application/offset+octet-stream")
		req.Header.Set("Tus-Resumable", "1.0.0")
		req.Header.Set("Upload-Offset", "0")
		req.Header.Set("Authorization", "Bearer "+field)
		resp, err := e.ts.Client().Do(req)
		require.NoError(t, err)
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusNoContent, resp.StatusCode, "%s", got)
		assert.True(t, e.blobStored(sum))
	})

	t.Run("stall", func(t *testing.T) {
		other := noiseJPEG(t, 64, 48, 22)
		id, sum := v7(), hexSHA256(other)
		e.pushEvidence(field, 2, id, complaint, int64(len(other)), sum, "image/jpeg")
		r := e.tusCreate(field, int64(len(other)), evidenceMeta(id, sum, "image/jpeg"))
		require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
		loc, err := url.Parse(r.header.Get("Location"))
		require.NoError(t, err)
		conn := e.rawConn("127.0.0.1")
		half := len(other) / 2
		_, err = fmt.Fprintf(conn, "PATCH %s HTTP/1.1\r\nHost: favad\r\nAuthorization: Bearer %s\r\nTus-Resumable: 1.0.0\r\n"+
			"Content-Type: application/offset+octet-stream\r\nUpload-Offset: 0\r\nContent-Length: %d\r\n\r\n", loc.Path, field, len(other))
		require.NoError(t, err)
		_, err = conn.Write(other[:half])
		require.NoError(t, err)
		closedWithin(t, conn, 20*time.Second)
		assert.False(t, e.blobStored(sum))
	})
}

// TestConnectionsPerAddressAreBounded: one address holds at most
// MaxConnsPerAddr connections at once; past that a new one is closed before
// it is served, while other addresses are served as usual. A closed
// connection frees its place.
func TestConnectionsPerAddressAreBounded(t *testing.T) {
	e := newEnv(t, func(c *server.Config) { c.MaxConnsPerAddr = 3 })
	healthz := func(conn net.Conn) (int, error) {
		if _, err := fmt.Fprintf(conn, "GET /healthz HTTP/1.1\r\nHost: favad\r\n\r\n"); err != nil {
			return 0, err
		}
		require.NoError(t, conn.SetReadDeadline(time.Now().Add(20*time.Second)))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	var held []net.Conn
	for range 3 {
		conn := e.rawConn("127.0.0.2")
		status, err := healthz(conn) // served, and kept open
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, status)
		held = append(held, conn)
	}
	extra := e.rawConn("127.0.0.2")
	_, err := healthz(extra)
	require.Error(t, err, "a fourth connection from the same address is not served")
	require.False(t, errors.Is(err, os.ErrDeadlineExceeded), "the fourth connection is closed, not left waiting: %v", err)

	// Another address is not held back.
	status, err := healthz(e.rawConn("127.0.0.1"))
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, status)

	// The metrics count the refusal.
	r := e.do(call{method: "GET", path: "/metrics"})
	assert.Contains(t, string(r.body), "favad_connections_refused_total 1")

	// A closed connection frees its place.
	held[0].Close()
	require.Eventually(t, func() bool {
		conn := e.rawConn("127.0.0.2")
		defer conn.Close()
		status, err := healthz(conn)
		return err == nil && status == http.StatusOK
	}, 10*time.Second, 50*time.Millisecond)
}

// TestConnectionsFromTrustedProxiesAreNotBounded: a trusted proxy carries
// many clients, so its connections are not counted.
func TestConnectionsFromTrustedProxiesAreNotBounded(t *testing.T) {
	e := newEnv(t, func(c *server.Config) {
		c.MaxConnsPerAddr = 2
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}
	})
	for i := range 4 {
		conn := e.rawConn("127.0.0.2")
		_, err := fmt.Fprintf(conn, "GET /healthz HTTP/1.1\r\nHost: favad\r\n\r\n")
		require.NoError(t, err)
		require.NoError(t, conn.SetReadDeadline(time.Now().Add(20*time.Second)))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		require.NoError(t, err, "connection %d", i+1)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
	}
}
