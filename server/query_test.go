package server_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/favad/favad/server"
)

// TestAQueryThatDoesNotDecodeIsRefused: a query pair with a bad percent
// escape or a semicolon was dropped without a word, so a damaged cursor
// started a full resync (reset) and a damaged limit fell back to the
// default. Now it is 422 naming the parameter; well-formed escapes still
// work.
func TestAQueryThatDoesNotDecodeIsRefused(t *testing.T) {
	e := newEnv(t)
	phone := e.token("field")
	disp := e.token("dispatcher")
	for _, c := range []struct {
		token, path, field, code string
		header                   http.Header
	}{
		{phone, "/v1/sync/pull?cursor=abc%zz", "cursor", "bad_escape", syncHeaders},
		{phone, "/v1/sync/pull?limit=5%", "limit", "bad_escape", syncHeaders},
		{disp, "/v1/complaints?cursor=%%%", "cursor", "bad_escape", nil},
		{disp, "/v1/complaints?status=received;limit=5", "status", "semicolon", nil},
		{disp, "/v1/complaints?%zz=1", "query", "bad_escape", nil},
	} {
		r := e.do(call{method: "GET", path: c.path, token: c.token, header: c.header, invalidRequest: true})
		require.Equal(t, http.StatusUnprocessableEntity, r.status, "%s: %s", c.path, r.body)
		p := r.problem(t)
		assert.Equal(t, "invalid", string(p.Code), c.path)
		require.Len(t, p.Errors, 1, c.path)
		assert.Equal(t, c.field, p.Errors[0].Field, c.path)
		assert.Equal(t, c.code, p.Errors[0].Code, c.path)
	}
	// Escapes that decode are as before.
	r := e.do(call{method: "GET", path: "/v1/complaints?q=%D8%B4%DA%A9%D8%A7%DB%8C%D8%AA&limit=5", token: disp})
	assert.Equal(t, http.StatusOK, r.status, "%s", r.body)
	r = e.do(call{method: "GET", path: "/v1/sync/pull?limit=5", token: phone, header: syncHeaders})
	assert.Equal(t, http.StatusOK, r.status, "%s", r.body)
}

// TestAQueryRefusalCarriesCORS: a console served from another allowed
// origin reads the refusal of a query that does not decode (the check runs
// after CORS), not a network error.
func TestAQueryRefusalCarriesCORS(t *testing.T) {
	const origin = "https://console.example.ir"
	e := newEnv(t, func(c *server.Config) { c.CORSOrigins = []string{origin} })
	r := e.do(call{method: "GET", path: "/v1/complaints?cursor=%zz", token: e.token("dispatcher"), invalidRequest: true,
		header: http.Header{"Origin": {origin}}})
	require.Equal(t, http.StatusUnprocessableEntity, r.status, "%s", r.body)
	assert.Equal(t, origin, r.header.Get("Access-Control-Allow-Origin"))
}
