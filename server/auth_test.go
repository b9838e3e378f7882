package server_test

import (
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	stdsync "sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/favad/favad/inspector"
	"github.com/favad/favad/server"
)

// TestRoleMatrix checks the role rule of every route in the route table, for
// every role and for no token at all.
func TestRoleMatrix(t *testing.T) {
	e := newEnv(t)
	roleUser := map[inspector.Role]string{
		inspector.RoleDispatcher: "dispatcher", inspector.RoleInspector: "field",
		inspector.RoleSupervisor: "supervisor", inspector.RoleAdmin: "admin", inspector.RoleOffice: "office",
	}
	routes := e.srv.Routes()
	// Logout ends the session the matrix signs in with, so it goes last.
	slices.SortStableFunc(routes, func(a, b server.Route) int {
		return boolInt(a.Path == "/v1/auth/logout") - boolInt(b.Path == "/v1/auth/logout")
	})
	require.NotEmpty(t, routes)
	for _, role := range inspector.Roles {
		token := e.token(roleUser[role])
		for _, rt := range routes {
			path := strings.NewReplacer(":id", "0190f0aa-0000-7000-8000-000000000000", ":code", "NOPE-404").Replace(rt.Path)
			c := call{method: rt.Method, path: path, token: token, invalidRequest: true}
			if rt.Method == http.MethodPost || rt.Method == http.MethodPut {
				c.raw = "{}"
			}
			r := e.do(c)
			name := string(role) + " " + rt.Method + " " + rt.Path
			switch {
			case rt.Public:
				assert.NotEqual(t, http.StatusUnauthorized, r.status, name)
				assert.NotEqual(t, http.StatusForbidden, r.status, name)
			case slices.Contains(rt.Roles, role):
				assert.NotContains(t, []int{401, 403}, r.status, "%s must be allowed: %s", name, r.body)
			default:
				require.Equal(t, http.StatusForbidden, r.status, "%s must be refused: %s", name, r.body)
				assert.Equal(t, "forbidden", string(r.problem(t).Code), name)
			}
		}
	}
	for _, rt := range routes {
		if rt.Public {
			continue
		}
		require.NotEmpty(t, rt.Roles, "%s %s states no roles", rt.Method, rt.Path)
		path := strings.NewReplacer(":id", "x", ":code", "x").Replace(rt.Path)
		r := e.do(call{method: rt.Method, path: path, invalidRequest: true})
		require.Equal(t, http.StatusUnauthorized, r.status, "%s %s without a token", rt.Method, rt.Path)
		assert.Equal(t, "unauthorized", string(r.problem(t).Code))
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestLoginRefreshLogout(t *testing.T) {
	e := newEnv(t)
	tk := e.login("field", "android-a1b2c3d4")
	assert.Equal(t, "inspector", tk.User.Role)

	r := e.do(newCall("GET", "/v1/me", tk.AccessToken, nil))
	require.Equal(t, http.StatusOK, r.status)

	// Wrong password and unknown user look the same.
	for _, u := range []string{"field", "nobody"} {
		r = e.do(call{method: "POST", path: "/v1/auth/login", body: map[string]string{"username": u, "password": "wrong-password!", "device_id": "android-a1b2c3d4"}})
		require.Equal(t, http.StatusUnauthorized, r.status)
		assert.Equal(t, "wrong username or password", r.problem(t).Detail)
	}

	// Refresh rotates: the new pair works, the old refresh token is spent.
	r = e.do(call{method: "POST", path: "/v1/auth/refresh", body: map[string]string{"refresh_token": tk.RefreshToken}})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	var next tokens
	r.json(t, &next)
	assert.NotEqual(t, tk.RefreshToken, next.RefreshToken)
	require.Equal(t, http.StatusOK, e.do(newCall("GET", "/v1/me", next.AccessToken, nil)).status)

	// Reusing the spent token after the grace for lost answers is theft: the
	// whole family is revoked at once.
	e.clock.Advance(2 * time.Minute)
	r = e.do(call{method: "POST", path: "/v1/auth/refresh", body: map[string]string{"refresh_token": tk.RefreshToken}})
	require.Equal(t, http.StatusUnauthorized, r.status)
	assert.Equal(t, "refresh_reused", string(r.problem(t).Code))
	r = e.do(newCall("GET", "/v1/me", next.AccessToken, nil))
	require.Equal(t, http.StatusUnauthorized, r.status)
	assert.Equal(t, "session_revoked", string(r.problem(t).Code))
	r = e.do(call{method: "POST", path: "/v1/auth/refresh", body: map[string]string{"refresh_token": next.RefreshToken}})
	require.Equal(t, http.StatusUnauthorized, r.status, "the successor token dies with its family")

	// Logout ends a session; its access token is refused at once.
	tk = e.login("field", "android-a1b2c3d4")
	require.Equal(t, http.StatusNoContent, e.do(newCall("POST", "/v1/auth/logout", tk.AccessToken, nil)).status)
	r = e.do(newCall("GET", "/v1/me", tk.AccessToken, nil))
	require.Equal(t, http.StatusUnauthorized, r.status)
	p := r.problem(t)
	assert.Equal(t, "signed_out", string(p.Code))
	assert.Equal(t, "wipe", p.Action, "a signed-out device drops what it pulled")
}

// TestSignOutAfterSigningInTwice: a device that signed in twice and then
// signs out keeps no working token of either sign-in, and another account
// can sign in on it.
func TestSignOutAfterSigningInTwice(t *testing.T) {
	e := newEnv(t)
	first := e.login("field", "android-twice")
	second := e.login("field", "android-twice")
	require.Equal(t, http.StatusNoContent, e.do(newCall("POST", "/v1/auth/logout", second.AccessToken, nil)).status)
	for name, tk := range map[string]tokens{"first": first, "second": second} {
		r := e.do(newCall("GET", "/v1/me", tk.AccessToken, nil))
		require.Equal(t, http.StatusUnauthorized, r.status, name)
		assert.Equal(t, "signed_out", string(r.problem(t).Code), name)
		r = e.do(call{method: "POST", path: "/v1/auth/refresh", body: map[string]string{"refresh_token": tk.RefreshToken}})
		assert.Equal(t, http.StatusUnauthorized, r.status, "%s refresh token: %s", name, r.body)
	}
	e.login("phone", "android-twice") // handed over
}

// TestBearerSchemeIsCaseInsensitive: the scheme's name is
// case-insensitive (RFC 9110, 11.1); another scheme or no token is 401.
func TestBearerSchemeIsCaseInsensitive(t *testing.T) {
	e := newEnv(t)
	tk := e.login("dispatcher", "browser-bearer").AccessToken
	for _, h := range []string{"bearer " + tk, "BEARER " + tk, "Bearer  " + tk} {
		r := e.do(call{method: "GET", path: "/v1/me", header: http.Header{"Authorization": {h}}})
		assert.Equal(t, http.StatusOK, r.status, "%.12s…: %s", h, r.body)
	}
	for _, h := range []string{"Basic " + tk, "Bearer", "Bearer ", tk} {
		r := e.do(call{method: "GET", path: "/v1/me", header: http.Header{"Authorization": {h}}})
		require.Equal(t, http.StatusUnauthorized, r.status, "%.12s…", h)
		assert.Equal(t, "unauthorized", string(r.problem(t).Code))
	}
}

func TestAccessTokenExpires(t *testing.T) {
	e := newEnv(t)
	tk := e.login("dispatcher", "browser-0001")
	e.clock.Advance(16 * time.Minute)
	r := e.do(newCall("GET", "/v1/me", tk.AccessToken, nil))
	require.Equal(t, http.StatusUnauthorized, r.status)
	assert.Equal(t, "token_expired", string(r.problem(t).Code))
	assert.Contains(t, r.header.Get("WWW-Authenticate"), "Bearer")
	// The refresh token still works: an expired access token costs nothing.
	r = e.do(call{method: "POST", path: "/v1/auth/refresh", body: map[string]string{"refresh_token": tk.RefreshToken}})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)

	for _, bad := range []string{"not-a-jwt", tk.AccessToken + "x", "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJ4In0."} {
		r = e.do(newCall("GET", "/v1/me", bad, nil))
		require.Equal(t, http.StatusUnauthorized, r.status)
		assert.Equal(t, "unauthorized", string(r.problem(t).Code))
	}
}

func TestRevokedDeviceIsRefusedAtOnce(t *testing.T) {
	e := newEnv(t)
	phone := e.login("field", "android-lost-phone")
	adminToken := e.token("admin")

	r := e.do(newCall("GET", "/v1/devices", adminToken, nil))
	require.Equal(t, http.StatusOK, r.status)
	assert.Contains(t, string(r.body), "android-lost-phone")

	r = e.do(newCall("POST", "/v1/devices/android-lost-phone/revoke", adminToken, nil))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)

	r = e.do(newCall("GET", "/v1/me", phone.AccessToken, nil))
	require.Equal(t, http.StatusUnauthorized, r.status)
	assert.Equal(t, "device_revoked", string(r.problem(t).Code))
	r = e.do(call{method: "POST", path: "/v1/auth/refresh", body: map[string]string{"refresh_token": phone.RefreshToken}})
	require.Equal(t, http.StatusUnauthorized, r.status)
	assert.Equal(t, "device_revoked", string(r.problem(t).Code))
	r = e.do(call{method: "POST", path: "/v1/auth/login", body: map[string]string{"username": "field", "password": testPassword, "device_id": "android-lost-phone"}})
	require.Equal(t, http.StatusUnauthorized, r.status)
	assert.Equal(t, "device_revoked", string(r.problem(t).Code))
	// The inspector's other devices are untouched.
	e.login("field", "android-new-phone")
}

func TestLoginIsRateLimited(t *testing.T) {
	e := newEnv(t, func(c *server.Config) { c.LoginPerAccount = 3 })
	bad := map[string]string{"username": "dispatcher", "password": "guess-guess-guess", "device_id": "browser-0001"}
	for range 3 {
		require.Equal(t, http.StatusUnauthorized, e.do(call{method: "POST", path: "/v1/auth/login", body: bad}).status)
	}
	r := e.do(call{method: "POST", path: "/v1/auth/login", body: bad})
	require.Equal(t, http.StatusTooManyRequests, r.status)
	assert.Equal(t, "rate_limited", string(r.problem(t).Code))
	assert.NotEmpty(t, r.header.Get("Retry-After"))
	// Another account from the same address is not blocked by this one.
	e.login("supervisor", "browser-0002")
}

// TestLoginStrangerCannotLockOwnerOut: ten wrong passwords from one address
// used to lock the account for everyone. Now they lock that address out of
// that account, even with the right password, while the owner signs in from
// hers; refresh tokens are untouched.
func TestLoginStrangerCannotLockOwnerOut(t *testing.T) {
	e := newEnv(t, func(c *server.Config) { c.LoginPerAccount = 10 })
	owner := e.login("dispatcher", "browser-owner-1")
	login := func(from, password string) reply {
		return e.do(call{method: "POST", path: "/v1/auth/login", from: from,
			body: map[string]string{"username": "dispatcher", "password": password, "device_id": "browser-" + from}})
	}
	for range 10 {
		require.Equal(t, http.StatusUnauthorized, login("127.0.0.2", "guess-guess-guess").status)
	}
	for range 3 {
		r := login("127.0.0.2", "guess-guess-guess")
		require.Equal(t, http.StatusTooManyRequests, r.status, "%s", r.body)
		assert.Equal(t, "rate_limited", string(r.problem(t).Code))
		assert.NotEmpty(t, r.header.Get("Retry-After"))
	}

	// The owner, from her own address, with the right password.
	r := login("127.0.0.1", testPassword)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)

	// The stranger's address stays refused, even with the right password.
	r = login("127.0.0.2", testPassword)
	require.Equal(t, http.StatusTooManyRequests, r.status, "%s", r.body)
	assert.NotEmpty(t, r.header.Get("Retry-After"))

	// Refresh tokens are as they were.
	r = e.do(call{method: "POST", path: "/v1/auth/refresh", from: "127.0.0.2", body: map[string]string{"refresh_token": owner.RefreshToken}})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)

	// The failures are forgotten as time passes.
	e.clock.Advance(time.Minute)
	require.Equal(t, http.StatusOK, login("127.0.0.2", testPassword).status)
}

// TestLoginGuessesAtOnceStayWithinTheLimit: wrong passwords sent all at
// once from one address cannot slip past the account's limit while their
// checks run: each holds its place until its outcome is known.
func TestLoginGuessesAtOnceStayWithinTheLimit(t *testing.T) {
	e := newEnv(t, func(c *server.Config) { c.LoginPerAccount = 4 })
	bad := map[string]string{"username": "dispatcher", "password": "guess-guess-guess", "device_id": "browser-burst-1"}
	statuses := make(chan int, 16)
	var wg stdsync.WaitGroup
	for range 16 {
		wg.Go(func() { statuses <- e.do(call{method: "POST", path: "/v1/auth/login", body: bad}).status })
	}
	wg.Wait()
	close(statuses)
	count := map[int]int{}
	for s := range statuses {
		count[s]++
	}
	assert.Equal(t, map[int]int{http.StatusUnauthorized: 4, http.StatusTooManyRequests: 12}, count)
}

// TestLoginAccountUnderAttack: failures spread over many addresses still
// bound guessing: once the account has had more failures than its limit, an
// address that has failed on it recently is refused at once, while one
// without failures (the owner's) gets through.
func TestLoginAccountUnderAttack(t *testing.T) {
	e := newEnv(t, func(c *server.Config) {
		c.LoginPerAccount = 3
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	})
	login := func(client, password string) reply {
		return e.do(call{method: "POST", path: "/v1/auth/login", header: http.Header{"X-Forwarded-For": {client}},
			body: map[string]string{"username": "dispatcher", "password": password, "device_id": "browser-attack-1"}})
	}
	for i := range 5 { // each address fails once: the account's limit is passed
		require.Equal(t, http.StatusUnauthorized, login(fmt.Sprintf("203.0.113.%d", i), "guess-guess-guess").status)
	}
	// An address with a recent failure is held back at its second guess.
	r := login("203.0.113.1", "guess-guess-guess")
	require.Equal(t, http.StatusTooManyRequests, r.status, "%s", r.body)
	assert.Equal(t, "rate_limited", string(r.problem(t).Code))
	assert.NotEmpty(t, r.header.Get("Retry-After"))
	r = login("203.0.113.1", testPassword)
	require.Equal(t, http.StatusTooManyRequests, r.status, "%s", r.body)

	// The owner, at an address without failures, signs in.
	require.Equal(t, http.StatusOK, login("198.51.100.20", testPassword).status)

	// When the attack stops, the held-back address gets through again.
	e.clock.Advance(15 * time.Minute)
	require.Equal(t, http.StatusOK, login("203.0.113.1", testPassword).status)
}

// TestLoginWaitsForAFreePasswordCheck: with every password check taken (a
// crowd of sign-ins), a sign-in waits LoginQueueWait and is answered 503
// busy with Retry-After, never queued without bound; once checks are free it
// signs in.
func TestLoginWaitsForAFreePasswordCheck(t *testing.T) {
	e := newEnv(t, func(c *server.Config) { c.LoginConcurrency = 2; c.LoginQueueWait = 500 * time.Millisecond })
	release := server.HoldPasswordChecks(e.srv)
	r := e.do(call{method: "POST", path: "/v1/auth/login", body: map[string]string{"username": "dispatcher", "password": testPassword, "device_id": "browser-busy-1"}})
	require.Equal(t, http.StatusServiceUnavailable, r.status, "%s", r.body)
	assert.Equal(t, "busy", string(r.problem(t).Code))
	assert.Equal(t, "1", r.header.Get("Retry-After"))

	// A check freed while the sign-in waits lets it through.
	done := make(chan reply, 1)
	go func() {
		done <- e.do(call{method: "POST", path: "/v1/auth/login", body: map[string]string{"username": "dispatcher", "password": testPassword, "device_id": "browser-busy-2"}})
	}()
	time.Sleep(20 * time.Millisecond)
	release()
	assert.Equal(t, http.StatusOK, (<-done).status)
	e.login("supervisor", "browser-busy-3")
}

func TestDisabledAccountIsRefused(t *testing.T) {
	e := newEnv(t)
	tk := e.login("phone", "android-phone-01")
	_, err := e.store.SetUserDisabled(systemActor, "phone", true)
	require.NoError(t, err)
	r := e.do(newCall("GET", "/v1/me", tk.AccessToken, nil))
	require.Equal(t, http.StatusForbidden, r.status, "%s", r.body)
	assert.Equal(t, "account_disabled", string(r.problem(t).Code))
}

func TestAdminCreatesAccounts(t *testing.T) {
	e := newEnv(t)
	admin := e.token("admin")
	body := map[string]any{"username": "Inspector.Takestan", "display_name": "سارا موسوی", "role": "inspector", "mode": "field",
		"region": map[string]any{"province": "قزوین", "cities": []string{"تاکستان"}}, "password": testPassword}
	r := e.do(newCall("POST", "/v1/users", admin, body))
	require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
	assert.NotContains(t, string(r.body), testPassword, "the password never comes back")
	assert.NotContains(t, string(r.body), "argon2")

	r = e.do(newCall("POST", "/v1/users", admin, body))
	require.Equal(t, http.StatusConflict, r.status, "usernames are unique, case-insensitively")

	weak := map[string]any{"username": "weak.one", "display_name": "ضعیف", "role": "dispatcher", "password": "short"}
	r = e.do(call{method: "POST", path: "/v1/users", token: admin, body: weak, invalidRequest: true})
	require.Equal(t, http.StatusUnprocessableEntity, r.status)
	assert.Equal(t, "password", r.problem(t).Errors[0].Field)

	r = e.do(newCall("GET", "/v1/users?role=inspector", admin, nil))
	require.Equal(t, http.StatusOK, r.status)
	assert.Contains(t, string(r.body), "inspector.takestan")
	assert.NotContains(t, string(r.body), "dispatcher")

	// The new inspector signs in and pulls their region.
	tk := e.login("inspector.takestan", "android-sara-01")
	p := e.pull(tk.AccessToken, "")
	offices := 0
	for _, ch := range p.Changes {
		if ch.Kind == "office" {
			offices++
			assert.Contains(t, string(ch.Record), "تاکستان", "only offices of the inspector's cities")
		}
	}
	assert.Equal(t, 1, offices)
	require.Equal(t, http.StatusForbidden, e.do(newCall("GET", "/v1/users", e.token("dispatcher"), nil)).status)
}

// TestAdminLocksOutAStolenAccountWhileServing: a thief with the password
// signs in again on a new device after its device is revoked; disabling the
// account ends every session at once, and a reset password takes the account back.
func TestAdminLocksOutAStolenAccountWhileServing(t *testing.T) {
	e := newEnv(t)
	adm := e.token("admin")
	id := e.users["field"].ID
	thief := e.login("field", "thief-phone-0002").AccessToken

	r := e.do(newCall("POST", "/v1/users/"+id+"/disable", adm, nil))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	assert.Contains(t, string(r.body), `"disabled":true`)
	r = e.do(newCall("GET", "/v1/me", thief, nil))
	require.Equal(t, http.StatusForbidden, r.status)
	assert.Equal(t, "account_disabled", string(r.problem(t).Code))

	r = e.do(newCall("POST", "/v1/users/"+id+"/reset-password", adm, map[string]string{"password": "a-new-long-secret"}))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	r = e.do(newCall("POST", "/v1/users/"+id+"/enable", adm, nil))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	r = e.do(newCall("GET", "/v1/me", thief, nil))
	require.Equal(t, http.StatusUnauthorized, r.status, "the thief's session stays ended once the account is enabled again")
	assert.Equal(t, "session_revoked", string(r.problem(t).Code), "no longer disabled: its session ended")
	r = e.do(call{method: "POST", path: "/v1/auth/login", body: map[string]string{"username": "field", "password": testPassword, "device_id": "thief-phone-0003"}})
	assert.Equal(t, http.StatusUnauthorized, r.status, "the old password no longer works")
	r = e.do(call{method: "POST", path: "/v1/auth/login", body: map[string]string{"username": "field", "password": "a-new-long-secret", "device_id": "android-field-new"}})
	assert.Equal(t, http.StatusOK, r.status, "%s", r.body)

	r = e.do(newCall("POST", "/v1/users/"+e.users["admin"].ID+"/disable", adm, nil))
	assert.Equal(t, http.StatusConflict, r.status, "an admin cannot lock themselves out")
	r = e.do(newCall("GET", "/v1/users/"+id, adm, nil))
	require.Equal(t, http.StatusOK, r.status)
	assert.NotContains(t, string(r.body), "argon2")
}

// TestRouteRolesMatchTheSpec: the role rule of every route in the server's
// table is the one api-spec/openapi.yaml states (x-roles), and every
// operation the spec states is served. TestRoleMatrix then proves the
// server enforces its table, so together they hold the server to the spec.
func TestRouteRolesMatchTheSpec(t *testing.T) {
	e := newEnv(t)
	served := map[string]bool{}
	for _, rt := range e.srv.Routes() {
		path := rt.Path
		for _, p := range []string{"id", "code"} {
			path = strings.ReplaceAll(path, ":"+p, "{"+p+"}")
		}
		name := rt.Method + " " + path
		served[name] = true
		item := specDoc.Paths.Find(path)
		require.NotNil(t, item, "%s is not in the spec", name)
		op := item.GetOperation(rt.Method)
		require.NotNil(t, op, "%s is not in the spec", name)
		var want []string
		switch raw := op.Extensions["x-roles"].(type) {
		case []any:
			for _, r := range raw {
				want = append(want, r.(string))
			}
		case nil:
		default:
			t.Fatalf("%s: x-roles is %T", name, raw)
		}
		var got []string
		for _, r := range rt.Roles {
			got = append(got, string(r))
		}
		if rt.Public {
			assert.Empty(t, want, "%s is public in the server", name)
			continue
		}
		assert.ElementsMatch(t, want, got, "%s: the server's roles differ from the spec's x-roles", name)
	}
	for path, item := range specDoc.Paths.Map() {
		for method := range item.Operations() {
			if strings.HasPrefix(path, "/v1/") {
				assert.True(t, served[method+" "+path], "the spec states %s %s, which the server does not serve", method, path)
			}
		}
	}
}

// TestLoginLimitPerAddress: many accounts tried from one address are
// limited together; X-Forwarded-For is believed only from a trusted proxy.
func TestLoginLimitPerAddress(t *testing.T) {
	attempt := func(e *env, i int, forwardedFor string) reply {
		h := http.Header{}
		if forwardedFor != "" {
			h.Set("X-Forwarded-For", forwardedFor)
		}
		return e.do(call{method: "POST", path: "/v1/auth/login", header: h,
			body: map[string]string{"username": fmt.Sprintf("nobody-%d", i), "password": "guess-guess-guess", "device_id": "browser-addr-1"}})
	}

	t.Run("direct", func(t *testing.T) {
		e := newEnv(t, func(c *server.Config) { c.LoginPerAddress = 3 })
		for i := range 3 {
			// A forged X-Forwarded-For changes nothing without a trusted proxy.
			require.Equal(t, http.StatusUnauthorized, attempt(e, i, fmt.Sprintf("203.0.113.%d", i)).status)
		}
		r := attempt(e, 3, "203.0.113.99")
		require.Equal(t, http.StatusTooManyRequests, r.status, "%s", r.body)
		assert.Equal(t, "rate_limited", string(r.problem(t).Code))
		assert.NotEmpty(t, r.header.Get("Retry-After"))
	})

	t.Run("behind a trusted proxy", func(t *testing.T) {
		e := newEnv(t, func(c *server.Config) {
			c.LoginPerAddress = 3
			c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
		})
		for i := range 6 { // six clients behind the proxy: each its own limit
			require.Equal(t, http.StatusUnauthorized, attempt(e, i, fmt.Sprintf("203.0.113.%d", i)).status)
		}
		for i := range 3 {
			require.Equal(t, http.StatusUnauthorized, attempt(e, 10+i, "198.51.100.7").status)
		}
		r := attempt(e, 20, "198.51.100.7")
		require.Equal(t, http.StatusTooManyRequests, r.status, "one client behind the proxy is limited on its own: %s", r.body)
	})
}

// TestCORS: a browser console on an allowed origin may call the API; other
// origins get no CORS grant, and without --cors-origins nobody does.
func TestCORS(t *testing.T) {
	preflight := func(e *env, origin string) reply {
		return e.unchecked(call{method: "OPTIONS", path: "/v1/complaints", header: http.Header{
			"Origin": {origin}, "Access-Control-Request-Method": {"POST"}, "Access-Control-Request-Headers": {"authorization,content-type"}}})
	}
	e := newEnv(t, func(c *server.Config) { c.CORSOrigins = []string{"https://console.favad.example"} })
	r := preflight(e, "https://console.favad.example")
	assert.Equal(t, "https://console.favad.example", r.header.Get("Access-Control-Allow-Origin"))
	assert.Contains(t, strings.ToLower(r.header.Get("Access-Control-Allow-Headers")), "authorization")
	assert.Empty(t, preflight(e, "https://evil.example").header.Get("Access-Control-Allow-Origin"))

	r = e.do(call{method: "GET", path: "/v1/me", token: e.token("dispatcher"), header: http.Header{"Origin": {"https://console.favad.example"}}})
	require.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, "https://console.favad.example", r.header.Get("Access-Control-Allow-Origin"))
	assert.Contains(t, r.header.Get("Access-Control-Expose-Headers"), "X-Request-Id")

	same := newEnv(t)
	assert.Empty(t, preflight(same, "https://console.favad.example").header.Get("Access-Control-Allow-Origin"), "same-origin only by default")
}

// TestBugSpecRoleTextOmitsTheOfficeRole: the office role was added to the
// x-roles of a dozen routes (sign-out, /v1/me, a complaint, reference data,
// uploads, evidence, devices), but their descriptions, which a reader of the
// API documentation sees, still said "Roles: dispatcher, inspector,
// supervisor, admin." Each operation's "Roles:" line must name its x-roles.
func TestBugSpecRoleTextOmitsTheOfficeRole(t *testing.T) {
	specRouter(t, "http://favad.test") // loads specDoc
	for path, item := range specDoc.Paths.Map() {
		for method, op := range item.Operations() {
			raw, _ := op.Extensions["x-roles"].([]any)
			if len(raw) == 0 {
				continue
			}
			var want []string
			for _, r := range raw {
				want = append(want, r.(string))
			}
			var line string
			for _, l := range strings.Split(op.Description, "\n") {
				if rest, ok := strings.CutPrefix(strings.TrimSpace(l), "Roles: "); ok {
					line = strings.TrimSuffix(rest, ".")
				}
			}
			if !assert.NotEmpty(t, line, "%s %s: no Roles line", method, path) {
				continue
			}
			var got []string
			for _, r := range strings.Split(line, ",") {
				got = append(got, strings.TrimSpace(r))
			}
			assert.ElementsMatch(t, want, got, "%s %s: the description's Roles line differs from x-roles", method, path)
		}
	}
}
