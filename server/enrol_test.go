package server_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"image/png"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/favad/favad/server"
)

type enrolmentJSON struct {
	UserID    string    `json:"user_id"`
	Code      string    `json:"code"`
	ExpiresAt time.Time `json:"expires_at"`
	Server    string    `json:"server"`
	QRPayload string    `json:"qr_payload"`
	QRPNG     string    `json:"qr_png"`
}

func (e *env) enrolment(token, userID string) enrolmentJSON {
	e.t.Helper()
	r := e.do(newCall("POST", "/v1/enrolments", token, map[string]string{"user_id": userID}))
	require.Equal(e.t, http.StatusCreated, r.status, "%s", r.body)
	assert.Equal(e.t, "no-store", r.header.Get("Cache-Control"))
	var en enrolmentJSON
	r.json(e.t, &en)
	return en
}

// TestEnrolmentQRCodeSignsPhoneInOnce: an admin's enrolment code, shown as a
// QR code holding this server's address and the code, signs the inspector's
// phone in once, within 15 minutes, with the same tokens as a sign-in.
func TestEnrolmentQRCodeSignsPhoneInOnce(t *testing.T) {
	e := newEnv(t)
	adm := e.token("admin")
	en := e.enrolment(adm, e.users["field"].ID)
	assert.Equal(t, e.users["field"].ID, en.UserID)
	assert.Regexp(t, regexp.MustCompile(`^[A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4}$`), en.Code, "80 random bits in four groups")
	assert.Equal(t, e.clock.Now().Add(server.EnrolmentTTL).UTC(), en.ExpiresAt)
	assert.Equal(t, e.ts.URL, en.Server, "the server's root as the request reached it")
	var payload map[string]string
	require.NoError(t, json.Unmarshal([]byte(en.QRPayload), &payload))
	assert.Equal(t, map[string]string{"server": e.ts.URL, "code": en.Code}, payload)
	b64, ok := strings.CutPrefix(en.QRPNG, "data:image/png;base64,")
	require.True(t, ok, "a PNG data: URL")
	raw, err := base64.StdEncoding.DecodeString(b64)
	require.NoError(t, err)
	img, err := png.Decode(bytes.NewReader(raw))
	require.NoError(t, err)
	assert.Greater(t, img.Bounds().Dx(), 100)

	enrol := func(code, device string) reply {
		return e.do(call{method: "POST", path: "/v1/auth/enrol", body: map[string]string{"code": code, "device_id": device}})
	}
	// Typed by hand: lower case, spaces for dashes.
	r := enrol(strings.ToLower(strings.ReplaceAll(en.Code, "-", " ")), "android-enrolled-01")
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	assert.Equal(t, "no-store", r.header.Get("Cache-Control"))
	var tk tokens
	r.json(t, &tk)
	assert.Equal(t, e.users["field"].ID, tk.User.ID)
	assert.NotEmpty(t, tk.RefreshToken)
	var me struct {
		Username string `json:"username"`
	}
	e.do(newCall("GET", "/v1/me", tk.AccessToken, nil)).json(t, &me)
	assert.Equal(t, "field", me.Username)

	r = enrol(en.Code, "android-enrolled-02")
	assert.Equal(t, http.StatusUnauthorized, r.status, "a code is good once")
	assert.EqualValues(t, "unauthorized", r.problem(t).Code)

	late := e.enrolment(adm, e.users["phone"].ID)
	e.clock.Advance(server.EnrolmentTTL)
	r = enrol(late.Code, "android-enrolled-03")
	assert.Equal(t, http.StatusUnauthorized, r.status, "an expired code")

	r = enrol("AAAA-BBBB-CCCC-DDDD", "android-enrolled-04")
	assert.Equal(t, http.StatusUnauthorized, r.status, "an unknown code")
}

// TestEnrolmentRefusals: admins only; inspectors only; bad requests; and
// attempts are limited per address like sign-ins.
func TestEnrolmentRefusals(t *testing.T) {
	e := newEnv(t, func(c *server.Config) { c.LoginPerAddress = 3 })
	adm := e.token("admin")
	r := e.do(newCall("POST", "/v1/enrolments", e.token("dispatcher"), map[string]string{"user_id": e.users["field"].ID}))
	assert.Equal(t, http.StatusForbidden, r.status)
	r = e.do(newCall("POST", "/v1/enrolments", adm, map[string]string{"user_id": e.users["dispatcher"].ID}))
	require.Equal(t, http.StatusUnprocessableEntity, r.status, "%s", r.body)
	assert.EqualValues(t, "not_inspector", r.problem(t).Errors[0].Code)
	r = e.do(newCall("POST", "/v1/enrolments", adm, map[string]string{"user_id": "01936f40-0000-7000-8000-000000000000"}))
	assert.Equal(t, http.StatusNotFound, r.status)
	r = e.do(newCall("POST", "/v1/enrolments", adm, map[string]string{"user_id": " "}))
	assert.Equal(t, http.StatusUnprocessableEntity, r.status)

	r = e.do(call{method: "POST", path: "/v1/auth/enrol", body: map[string]string{"code": "", "device_id": "short"}, invalidRequest: true})
	require.Equal(t, http.StatusUnprocessableEntity, r.status)
	fields := map[string]string{}
	for _, f := range r.problem(t).Errors {
		fields[f.Field] = string(f.Code)
	}
	assert.Equal(t, map[string]string{"code": "required", "device_id": "invalid"}, fields)

	for i := range 3 {
		r = e.do(call{method: "POST", path: "/v1/auth/enrol", body: map[string]string{"code": "AAAA-BBBB-CCCC-DDD" + string(rune('A'+i)), "device_id": "android-guess-0001"}})
		require.Equal(t, http.StatusUnauthorized, r.status)
	}
	r = e.do(call{method: "POST", path: "/v1/auth/enrol", body: map[string]string{"code": "AAAA-BBBB-CCCC-DDDZ", "device_id": "android-guess-0001"}})
	assert.Equal(t, http.StatusTooManyRequests, r.status)
	assert.NotEmpty(t, r.header.Get("Retry-After"))
}
