package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/favad/favad/inspector"
)

// fuzzBody has a field of every kind the API's bodies use.
type fuzzBody struct {
	Name  string         `json:"name"`
	Count int            `json:"count"`
	Seq   uint64         `json:"seq"`
	At    time.Time      `json:"at"`
	Tags  []string       `json:"tags"`
	Geo   *fuzzGeo       `json:"geo"`
	Extra map[string]int `json:"extra"`
	Raw   json.RawMessage
}

type fuzzGeo struct {
	Lat float64 `json:"lat"`
	Lng float64 `json:"lng"`
}

// FuzzDecodeJSON hands the server's body decoder any body and media type,
// for three shapes (a push, a conflict resolution, and fuzzBody). A refusal
// is an application error whose code has an HTTP status; what it accepts is
// one JSON value with no unknown field, and reads the same as the standard
// library reads it. Seeds: testdata/fuzz/FuzzDecodeJSON.
func FuzzDecodeJSON(f *testing.F) {
	e := echo.New()
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		for _, fresh := range []func() any{
			func() any { return new(pushRequest) },
			func() any { return new(resolveRequest) },
			func() any { return new(fuzzBody) },
		} {
			req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
			req.Header["Content-Type"] = []string{contentType}
			got := fresh()
			err := decodeJSON(e.NewContext(req, httptest.NewRecorder()), got)
			if err != nil {
				var ae *inspector.Error
				if !errors.As(err, &ae) {
					t.Fatalf("%T: not an application error: %T %v", got, err, err)
				}
				if _, ok := statusOf[ae.Code]; !ok {
					t.Fatalf("%T: code %q has no HTTP status", got, ae.Code)
				}
				continue
			}
			if !json.Valid(body) {
				t.Fatalf("%T: accepted a body that is not JSON", got)
			}
			want := fresh()
			dec := json.NewDecoder(bytes.NewReader(body))
			dec.DisallowUnknownFields()
			if err := dec.Decode(want); err != nil {
				t.Fatalf("%T: accepted what the standard decoder refuses: %v", got, err)
			}
			a, _ := json.Marshal(got)
			b, _ := json.Marshal(want)
			if !bytes.Equal(a, b) {
				t.Fatalf("%T: read as %s, the standard decoder reads %s", got, a, b)
			}
		}
	})
}
