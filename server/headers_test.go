package server_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestResponsesCarrySecurityHeaders: JSON about the caller (the signed-in
// user, a complaint with its caller) and every other /v1 answer, errors
// included, went out without Cache-Control, so a shared or browser cache
// could keep it; and only a few routes said nosniff. Now every response says
// nosniff and every /v1 response no-store, while the console keeps its CSP.
func TestResponsesCarrySecurityHeaders(t *testing.T) {
	e := newEnv(t)
	disp := e.token("dispatcher")
	c := e.createComplaint(disp, intake("CALL-HDR-1", e.clock.Now()))
	for _, tc := range []struct {
		name    string
		call    call
		status  int
		noStore bool
	}{
		{"me", newCall("GET", "/v1/me", disp, nil), http.StatusOK, true},
		{"complaint with its caller", newCall("GET", "/v1/complaints/"+c.ID, disp, nil), http.StatusOK, true},
		{"complaint list", newCall("GET", "/v1/complaints", disp, nil), http.StatusOK, true},
		{"refusal", newCall("GET", "/v1/complaints", "", nil), http.StatusUnauthorized, true},
		{"unknown route", call{method: "GET", path: "/v1/nothing-here", invalidRequest: true}, http.StatusNotFound, true},
		{"malformed body", call{method: "POST", path: "/v1/auth/login", raw: `{"username":`, invalidRequest: true}, http.StatusBadRequest, true},
		{"health", newCall("GET", "/healthz", "", nil), http.StatusOK, false},
		{"spec", newCall("GET", "/openapi.yaml", "", nil), http.StatusOK, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(tc.call)
			require.Equal(t, tc.status, r.status, "%s", r.body)
			assert.Equal(t, "nosniff", r.header.Get("X-Content-Type-Options"))
			if tc.noStore {
				assert.Equal(t, "no-store", r.header.Get("Cache-Control"))
			}
		})
	}

	resp, err := e.ts.Client().Get(e.ts.URL + "/")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Contains(t, resp.Header.Get("Content-Security-Policy"), "default-src 'none'", "the console keeps its own policy")
	assert.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))
}

// TestEvidenceDownloadIsSandboxed: evidence bytes are the device's, so they
// are served under Content-Security-Policy: sandbox (a PDF's script or an
// HTML-ish file runs in no origin), and a PDF (anything not an image) as an
// attachment, never shown inline at the API's origin.
func TestEvidenceDownloadIsSandboxed(t *testing.T) {
	e := newEvidenceEnv(t)
	complaint := e.assignedComplaint("CALL-HDR-2")
	field := e.login("field", "android-field-hdr").AccessToken
	disp := e.token("dispatcher")

	photo := noiseJPEG(t, 40, 30, 7)
	photoSum, photoID := hexSHA256(photo), v7()
	e.pushEvidence(field, 1, photoID, complaint, int64(len(photo)), photoSum, "image/jpeg")
	require.Equal(t, http.StatusNoContent, e.tusUpload(field, photo, evidenceMeta(photoID, photoSum, "image/jpeg")).status)

	pdf := []byte("%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n<< /JS (app.alert(1)) >>\n%%EOF\n")
	pdfSum, pdfID := hexSHA256(pdf), v7()
	now := e.clock.Now()
	res := e.push(field, mutation(2, "evidence.create", pdfID, 0, map[string]any{
		"complaint_id": complaint, "kind": "document", "content_type": "application/pdf", "size": len(pdf), "sha256": pdfSum,
		"captured_at": now.Add(-time.Minute).Format(time.RFC3339)}, now))
	require.Equal(t, "applied", res.Results[0].Status, "%+v", res.Results[0])
	require.Equal(t, http.StatusNoContent, e.tusUpload(field, pdf, evidenceMeta(pdfID, pdfSum, "application/pdf")).status)

	for _, tc := range []struct {
		id, contentType, disposition string
	}{
		{photoID, "image/jpeg", "inline"},
		{pdfID, "application/pdf", `attachment; filename="evidence-` + pdfID + `.pdf"`},
	} {
		for _, h := range []http.Header{nil, {"Range": {"bytes=0-3"}}} {
			r := e.api(call{method: "GET", path: "/v1/evidence/" + tc.id + "/content", token: disp, header: h})
			require.Contains(t, []int{http.StatusOK, http.StatusPartialContent}, r.status, "%s", r.body)
			assert.Equal(t, tc.contentType, r.header.Get("Content-Type"))
			assert.Equal(t, "sandbox", r.header.Get("Content-Security-Policy"), tc.contentType)
			assert.Equal(t, tc.disposition, r.header.Get("Content-Disposition"))
			assert.Equal(t, "nosniff", r.header.Get("X-Content-Type-Options"))
			assert.Equal(t, "private, max-age=31536000, immutable", r.header.Get("Cache-Control"), "the bytes never change")
		}
	}
	r := e.api(call{method: "GET", path: "/v1/evidence/" + v7() + "/content", token: disp})
	require.Equal(t, http.StatusNotFound, r.status)
	assert.Equal(t, "no-store", r.header.Get("Cache-Control"), "a refusal is not cached for a year")
}

// TestOptionsAnswersWithAllow: OPTIONS on a known API path answers 204 with
// the methods in Allow, without a token, as the spec now says (it said
// 405); on /v1/uploads it is tus discovery; on an unknown path, 404.
func TestOptionsAnswersWithAllow(t *testing.T) {
	e := newEnv(t)
	for path, allow := range map[string][]string{
		"/v1/complaints":              {"GET", "POST"},
		"/v1/complaints/abc/assign":   {"POST"},
		"/v1/me":                      {"GET"},
		"/v1/evidence/abc/content":    {"GET"},
		"/v1/complaints/abc/evidence": {"GET"},
	} {
		r := e.do(call{method: "OPTIONS", path: path, invalidRequest: true})
		require.Equal(t, http.StatusNoContent, r.status, "%s: %s", path, r.body)
		got := strings.Split(r.header.Get("Allow"), ", ")
		for _, m := range allow {
			assert.Contains(t, got, m, path)
		}
		assert.Contains(t, got, "OPTIONS", path)
		assert.Equal(t, "nosniff", r.header.Get("X-Content-Type-Options"))
		assert.Equal(t, "no-store", r.header.Get("Cache-Control"))
		assert.Empty(t, r.body)
	}
	r := e.do(call{method: "OPTIONS", path: "/v1/uploads"})
	require.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, "1.0.0", r.header.Get("Tus-Resumable"), "tus discovery")
	r = e.do(call{method: "OPTIONS", path: "/v1/no-such-thing", invalidRequest: true})
	assert.Equal(t, http.StatusNotFound, r.status)
}
