package server

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
)

// FuzzUploadMetadata sends the server a tus creation request (POST
// /v1/uploads) with any Upload-Metadata and Upload-Length, as the field
// inspector, in process. The fuzz store announced one evidence item
// (fuzzEvidence, 1234 bytes, fuzzEvidenceSHA, image/jpeg) whose bytes were
// never sent. Whatever the header holds, the answer is 201 with a Location,
// or a problem document with a code and a 4xx status: never a 5xx, never a
// panic. Seeds: testdata/fuzz/FuzzUploadMetadata.
func FuzzUploadMetadata(f *testing.F) {
	_, srv, token := newFuzzServer(f)
	f.Fuzz(func(t *testing.T, metadata string, length int64) {
		req := httptest.NewRequest(http.MethodPost, "/v1/uploads", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Tus-Resumable", "1.0.0")
		req.Header.Set("Upload-Length", strconv.FormatInt(length, 10))
		req.Header["Upload-Metadata"] = []string{metadata} // as sent, not canonicalised
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		if rec.Code == http.StatusCreated {
			if rec.Header().Get("Location") == "" {
				t.Fatalf("201 without a Location")
			}
			return
		}
		requireProblem(t, rec)
	})
}
