package server

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/favad/favad/inspector"
)

// FuzzLastEventID hands the feed's resume cursor reader any Last-Event-ID
// header and last_event_id query value. The header wins when it has
// anything but spaces; a cursor is taken only if it is a whole number
// (Persian or Arabic-Indic digits too) and then means that number;
// anything else is refused as invalid, naming where it came from. Seeds:
// testdata/fuzz/FuzzLastEventID.
func FuzzLastEventID(f *testing.F) {
	e := echo.New()
	f.Fuzz(func(t *testing.T, header, query string) {
		req := httptest.NewRequest(http.MethodGet, "/v1/feed?last_event_id="+url.QueryEscape(query), nil)
		req.Header["Last-Event-Id"] = []string{header}
		c := e.NewContext(req, httptest.NewRecorder())
		cursor, resume, err := lastEventID(c)
		field, raw := "Last-Event-ID", strings.TrimSpace(header)
		if raw == "" {
			field, raw = "last_event_id", strings.TrimSpace(query)
		}
		if err != nil {
			var ae *inspector.Error
			if !errors.As(err, &ae) || len(ae.Fields) != 1 || ae.Fields[0].Field != field || ae.Fields[0].Code != "invalid" {
				t.Fatalf("refused without naming %s as invalid: %v", field, err)
			}
			if resume || cursor != 0 {
				t.Fatalf("refused, yet resume=%v cursor=%d", resume, cursor)
			}
			return
		}
		if raw == "" {
			if resume || cursor != 0 {
				t.Fatalf("nothing given, yet resume=%v cursor=%d", resume, cursor)
			}
			return
		}
		want, perr := strconv.ParseUint(inspector.NormalizeDigits(raw), 10, 64)
		if !resume || perr != nil || cursor != want {
			t.Fatalf("%s %q read as %d (resume %v); its number is %d (%v)", field, raw, cursor, resume, want, perr)
		}
	})
}
