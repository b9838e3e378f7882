package server_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The console is served by the binary with its security headers; the page
// is never cached, and a path outside the assets is not served.
func TestConsoleIsServedWithItsSecurityHeaders(t *testing.T) {
	e := newEnv(t)
	resp, err := e.ts.Client().Get(e.ts.URL + "/")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, string(body), `<html lang="fa" dir="rtl"`)
	csp := resp.Header.Get("Content-Security-Policy")
	assert.Contains(t, csp, "script-src 'self'")
	assert.Contains(t, csp, "frame-ancestors 'none'")
	assert.NotContains(t, csp, "unsafe-inline")
	assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
	assert.NotContains(t, string(body), "<script>", "no inline script")

	for _, path := range []string{"/assets/js/core.js", "/assets/css/app.css", "/assets/fonts/Vazirmatn-Regular.woff2"} {
		resp, err := e.ts.Client().Get(e.ts.URL + path)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode, path)
		assert.NotEmpty(t, resp.Header.Get("Content-Security-Policy"), path)
	}
	for _, path := range []string{"/assets/../console.go", "/assets/nope.js", "/assets/index.html"} {
		resp, err := e.ts.Client().Get(e.ts.URL + path)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusNotFound, resp.StatusCode, path)
	}
}

// A console keeps its refresh token in an HttpOnly cookie: it never sees
// it, refresh needs the console header, and sign-out clears it.
func TestConsoleSessionUsesAnHttpOnlyCookie(t *testing.T) {
	e := newEnv(t)
	r := e.do(newCall("POST", "/v1/auth/login", "", map[string]any{"username": "dispatcher", "password": testPassword, "device_id": "console-0001", "cookie": true}))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	assert.NotContains(t, string(r.body), "refresh_token\"", "the refresh token is not in the body")
	var cookie *http.Cookie
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == "favad_refresh" {
			cookie = c
		}
	}
	require.NotNil(t, cookie)
	assert.True(t, cookie.HttpOnly)
	assert.Equal(t, http.SameSiteStrictMode, cookie.SameSite)
	assert.Equal(t, "/v1/auth", cookie.Path)

	refresh := func(withHeader bool) reply {
		c := call{method: "POST", path: "/v1/auth/refresh", raw: "{}", header: http.Header{"Cookie": {cookie.String()}}}
		if withHeader {
			c.header.Set("Favad-Console", "1")
		}
		return e.do(c)
	}
	r = refresh(false)
	assert.Equal(t, http.StatusUnprocessableEntity, r.status, "without the console header a cookie is not used (no cross-site refresh)")
	r = refresh(true)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	var tk tokens
	r.json(t, &tk)
	require.NotEmpty(t, tk.AccessToken)
	var next *http.Cookie
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == "favad_refresh" {
			next = c
		}
	}
	require.NotNil(t, next, "the cookie is rotated")
	assert.NotEqual(t, cookie.Value, next.Value)

	// Sign out everywhere: the console and a phone of the same user both end.
	other := e.login("dispatcher", "phone-00000001")
	r = e.do(newCall("POST", "/v1/auth/logout", tk.AccessToken, map[string]bool{"everywhere": true}))
	require.Equal(t, http.StatusNoContent, r.status, "%s", r.body)
	assert.True(t, strings.Contains(r.header.Get("Set-Cookie"), "favad_refresh=;") || strings.Contains(r.header.Get("Set-Cookie"), "Max-Age=0"), r.header.Get("Set-Cookie"))
	for name, token := range map[string]string{"the other device's session": other.AccessToken, "the console's own": tk.AccessToken} {
		r = e.do(newCall("GET", "/v1/me", token, nil))
		require.Equal(t, http.StatusUnauthorized, r.status, "%s ended too", name)
		p := r.problem(t)
		assert.Equal(t, "signed_out", string(p.Code), name)
		assert.Equal(t, "wipe", p.Action, "%s: a device signed out everywhere drops what it pulled", name)
	}
}
