package server_test

// Review tests: each one names a defect and fails while it is present.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// rawDo sends a request whose path is used exactly as written (escapes kept).
func (e *env) rawDo(method, rawPath, token string, header http.Header, body []byte) reply {
	e.t.Helper()
	u, err := url.Parse(e.ts.URL + rawPath)
	require.NoError(e.t, err)
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, u.String(), rd)
	require.NoError(e.t, err)
	req.URL = u
	for k, vs := range header {
		req.Header[k] = vs
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := e.ts.Client().Do(req)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{status: resp.StatusCode, header: resp.Header, body: b}
}

// TestUploadOwnershipBypassedByEncodedSlash: the ownership check in
// server.uploads looks the upload up by Echo's raw path parameter and lets the
// request through when that lookup fails; tusd then takes the id from the
// decoded path. "/v1/uploads/%2F<id>" therefore reaches another inspector's
// upload: its metadata leaks on HEAD and PATCH writes into it.
func TestUploadOwnershipBypassedByEncodedSlash(t *testing.T) {
	e := newEvidenceEnv(t)
	field := e.login("field", "android-field-rv1").AccessToken
	field2 := e.login("field2", "android-field2-rv1").AccessToken
	photo := noiseJPEG(t, 64, 48, 9)
	sum, id, size := hexSHA256(photo), v7(), int64(len(photo))
	r := e.tusCreate(field, size, evidenceMeta(id, sum, "image/jpeg"))
	require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
	loc, err := url.Parse(r.header.Get("Location"))
	require.NoError(t, err)
	uploadID := loc.Path[strings.LastIndex(loc.Path, "/")+1:]
	tus := http.Header{"Tus-Resumable": {"1.0.0"}}

	head := e.rawDo("HEAD", "/v1/uploads/%2F"+uploadID, field2, tus, nil)
	assert.NotEqual(t, http.StatusOK, head.status, "another inspector read the upload's state: Upload-Metadata=%q", head.header.Get("Upload-Metadata"))

	patch := e.rawDo("PATCH", "/v1/uploads/%2F"+uploadID, field2,
		http.Header{"Tus-Resumable": {"1.0.0"}, "Upload-Offset": {"0"}, "Content-Type": {"application/offset+octet-stream"}}, photo[:10])
	own := e.rawDo("HEAD", loc.Path, field, tus, nil)
	assert.Equal(t, "0", own.header.Get("Upload-Offset"),
		"another inspector wrote into the upload (PATCH answered %d); offset is now %s", patch.status, own.header.Get("Upload-Offset"))
}

// TestReassignedInspectorReadsComplaintThroughEditConflicts: once dispatch
// has taken a complaint away from an inspector, GET /v1/complaints/{id} is
// "not found" for them, yet a complaint.edit mutation (allowed because they
// were assigned once) answers with winning_value = the complaint's current
// dispatch-owned fields: the new assignee, dispatch's routing note, the
// current description and status. The conflict record with the same
// server_value lands in their pull scope too. They can poll this for ever.
func TestReassignedInspectorReadsComplaintThroughEditConflicts(t *testing.T) {
	e := newEnv(t)
	disp := e.token("dispatcher")
	var c complaintJSON
	e.do(newCall("POST", "/v1/complaints", disp, intake("CALL-RV-2", e.clock.Now()))).json(t, &c)
	r := e.do(newCall("POST", "/v1/complaints/"+c.ID+"/assign", disp, map[string]string{"inspector_id": e.users["field"].ID, "mode": "field"}))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	field := e.login("field", "android-field-rv2").AccessToken
	r = e.do(newCall("POST", "/v1/complaints/"+c.ID+"/assign", disp, map[string]string{"inspector_id": e.users["field2"].ID, "mode": "field",
		"note": "SECRET-NOTE: field is related to the branch head"}))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	require.Equal(t, http.StatusNotFound, e.do(newCall("GET", "/v1/complaints/"+c.ID, field, nil)).status, "no longer the inspector's")

	now := e.clock.Now()
	raw := e.do(call{method: "POST", path: "/v1/sync/push", token: field, header: syncHeaders, body: map[string]any{"mutations": []any{
		mutation(1, "complaint.edit", c.ID, 0, map[string]any{"assignee": "me", "description": "x", "status": "closed"}, now)}}})
	require.Equal(t, http.StatusOK, raw.status, "%s", raw.body)
	assert.NotContains(t, string(raw.body), e.users["field2"].ID, "push result names the new assignee: %s", raw.body)
	assert.NotContains(t, string(raw.body), "SECRET-NOTE", "push result carries dispatch's routing note: %s", raw.body)
}

// TestTusClientErrorsAreNotProblemJSON: hideInternal rewrites only tusd's 5xx
// answers; its 4xx answers (missing Upload-Length, wrong Content-Type, an
// unknown upload, an offset mismatch) leave as text/plain "ERR_…" bodies,
// not the problem+json with a stable code that every other error has.
func TestTusClientErrorsAreNotProblemJSON(t *testing.T) {
	e := newEvidenceEnv(t)
	field := e.login("field", "android-field-rv3").AccessToken
	tus := func(extra ...string) http.Header {
		h := http.Header{"Tus-Resumable": {"1.0.0"}}
		for i := 0; i+1 < len(extra); i += 2 {
			h.Set(extra[i], extra[i+1])
		}
		return h
	}
	for _, c := range []struct {
		name, method, path string
		header             http.Header
	}{
		{"no Upload-Length", "POST", "/v1/uploads", tus()},
		{"unknown upload", "PATCH", "/v1/uploads/0123456789abcdef0123456789abcdef", tus("Upload-Offset", "0", "Content-Type", "application/offset+octet-stream")},
		{"PATCH without its content type", "PATCH", "/v1/uploads/0123456789abcdef0123456789abcdef", tus("Upload-Offset", "0")},
	} {
		r := e.rawDo(c.method, c.path, field, c.header, []byte("x"))
		assert.True(t, r.status >= 400, c.name)
		assert.Equal(t, "application/problem+json", r.header.Get("Content-Type"), "%s: %d %s", c.name, r.status, r.body)
	}
}

// TestLoginWithAnotherUsersDeviceIDTakesItOver: device ids are chosen by the
// client, and StartSession hands a known device to whoever signs in with its
// id. Any account can so take over another user's device record: the
// owner's FCM registration is dropped (no more assignment notifications),
// while the owner's session on that device stays valid under the new owner's
// device record, so revoking "B's device" later also signs A out.
func TestLoginWithAnotherUsersDeviceIDTakesItOver(t *testing.T) {
	e := newEnv(t)
	a := e.login("field", "android-field-victim").AccessToken
	r := e.do(newCall("POST", "/v1/devices", a, map[string]string{"token": "fcm-token-of-field", "platform": "android", "app_version": "1.0.0", "locale": "fa-IR"}))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)

	// Another account, same device id: refused while the owner is signed in there.
	r = e.do(call{method: "POST", path: "/v1/auth/login", body: map[string]string{"username": "field2", "password": testPassword, "device_id": "android-field-victim"}})
	require.Equal(t, http.StatusConflict, r.status, "%s", r.body)
	assert.Equal(t, "conflict", string(r.problem(t).Code))

	r = e.do(newCall("GET", "/v1/devices", e.token("admin"), nil))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	var devs struct {
		Items []struct {
			ID     string          `json:"id"`
			UserID string          `json:"user_id"`
			Push   json.RawMessage `json:"push"`
		} `json:"items"`
	}
	r.json(t, &devs)
	for _, d := range devs.Items {
		if d.ID == "android-field-victim" {
			assert.Equal(t, e.users["field"].ID, d.UserID, "another account took the device over while its owner is still signed in on it")
			assert.NotEmpty(t, d.Push, "the owner's push registration was dropped by someone else's sign-in")
		}
	}
}

// TestTrailingGarbageAfterJSONBodyIsAccepted: decodeJSON promises "exactly
// one value", but checks it with dec.More(), which is false before a stray
// '}' or ']': such a body is accepted instead of answered 400 malformed.
func TestTrailingGarbageAfterJSONBodyIsAccepted(t *testing.T) {
	e := newEnv(t)
	body := []byte(`{"username":"dispatcher","password":"` + testPassword + `","device_id":"console-rv-0001"}]]}`)
	r := e.rawDo("POST", "/v1/auth/login", "", http.Header{"Content-Type": {"application/json"}}, body)
	assert.Equal(t, http.StatusBadRequest, r.status, "%s", r.body)
}

// TestArbitraryMethodsGrowMetricsWithoutBound: observe labels every request's
// metrics with the raw request method. net/http accepts any token as a
// method, so an anonymous client that sends X1, X2, X3… to any path creates
// a new counter and a 13-series histogram per request: the registry (and
// /metrics) grows without bound.
func TestArbitraryMethodsGrowMetricsWithoutBound(t *testing.T) {
	e := newEnv(t)
	for i := range 300 {
		e.rawDo(fmt.Sprintf("M%06d", i), "/healthz", "", nil, nil)
	}
	r := e.rawDo("GET", "/metrics", "", nil, nil)
	require.Equal(t, http.StatusOK, r.status)
	series := strings.Count(string(r.body), `method="M0`)
	assert.Less(t, series, 50, "each made-up method became its own metric series (%d series)", series)
}

// TestCompromisedAccountCannotBeDisabledWhileServing: `favad users disable`
// and `reset-password` open the store for writing, so they refuse while the
// server runs ("manage accounts through the API"), but the API has no way to
// disable an account or reset its password: /v1/users takes only GET and
// POST. Revoking the stolen device does not help, since the thief signs in
// again from a new device id. Stopping the whole hotline is the only way to
// lock out a stolen inspector account.
func TestCompromisedAccountCannotBeDisabledWhileServing(t *testing.T) {
	e := newEnv(t)
	adm := e.token("admin")
	stolen := e.login("field", "thief-phone-0001").AccessToken
	r := e.do(newCall("POST", "/v1/devices/thief-phone-0001/revoke", adm, nil))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	e.login("field", "thief-phone-0002") // the thief is back at once
	_ = stolen

	id := e.users["field"].ID
	disabled := false
	for _, try := range []struct{ method, path string }{
		{"PATCH", "/v1/users/" + id}, {"PUT", "/v1/users/" + id}, {"POST", "/v1/users/" + id + "/disable"},
	} {
		r := e.rawDo(try.method, try.path, adm, http.Header{"Content-Type": {"application/json"}}, []byte(`{"disabled":true}`))
		if r.status < 300 {
			disabled = true
		}
	}
	assert.True(t, disabled, "an admin has no API to disable an account while the server runs")
}
