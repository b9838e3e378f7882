package server_test

import (
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/favad/favad/server"
	"github.com/favad/favad/sync/blob/s3blob"
)

func TestHealthMetricsAndSpec(t *testing.T) {
	e := newEnv(t)
	require.Equal(t, http.StatusOK, e.do(call{method: "GET", path: "/healthz"}).status)
	require.Equal(t, http.StatusOK, e.do(call{method: "GET", path: "/readyz"}).status)

	r := e.do(call{method: "GET", path: "/openapi.yaml"})
	require.Equal(t, http.StatusOK, r.status)
	assert.True(t, strings.HasPrefix(string(r.body), "openapi: 3.1"))

	e.do(newCall("GET", "/v1/me", e.token("dispatcher"), nil))
	r = e.do(call{method: "GET", path: "/metrics"})
	require.Equal(t, http.StatusOK, r.status)
	for _, want := range []string{
		`favad_http_requests_total{method="GET",route="/v1/me",status="200"} 1`,
		"favad_http_request_duration_seconds_bucket",
		"favad_store_size_bytes",
		"favad_changelog_sequence",
		"favad_store_index_entries_behind 0",
	} {
		assert.Contains(t, string(r.body), want)
	}

	e.srv.Drain()
	assert.Equal(t, http.StatusServiceUnavailable, e.do(call{method: "GET", path: "/readyz"}).status)
}

// TestStorageFailureRevealsNothing forces the store to fail and checks that
// the client gets a generic 500 with no storage detail or file path.
func TestStorageFailureRevealsNothing(t *testing.T) {
	e := newEnv(t)
	token := e.token("dispatcher")
	require.NoError(t, e.store.Close())
	r := e.do(newCall("GET", "/v1/complaints", token, nil))
	require.Equal(t, http.StatusInternalServerError, r.status, "%s", r.body)
	p := r.problem(t)
	assert.Equal(t, "internal", string(p.Code))
	body := strings.ToLower(string(r.body))
	for _, leak := range []string{"bolt", "database", ".db", "/tmp", "goroutine", "panic"} {
		assert.NotContains(t, body, leak)
	}
	assert.NotEmpty(t, p.RequestID, "the id lets an operator find the logged cause")
}

// TestReadinessChecksTheBucket: with evidence in object storage, a node that
// cannot reach the bucket answers /readyz 503, so that a load balancer sends
// requests to a node that can store and serve evidence. The store is the
// real S3 client against an address where nothing listens.
func TestReadinessChecksTheBucket(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	deadAddr := l.Addr().String()
	require.NoError(t, l.Close())
	unreachable, err := s3blob.New(s3blob.Config{Endpoint: deadAddr, Insecure: true, PathStyle: true, Bucket: "favad", Region: "us-east-1"})
	require.NoError(t, err)
	e := newEnv(t, func(c *server.Config) { c.Blobs = unreachable })
	r := e.do(call{method: "GET", path: "/readyz"})
	assert.Equal(t, http.StatusServiceUnavailable, r.status)
	assert.JSONEq(t, `{"status":"blob store unavailable"}`, string(r.body))
	assert.Equal(t, http.StatusOK, e.do(call{method: "GET", path: "/healthz"}).status, "alive all the same")
}
