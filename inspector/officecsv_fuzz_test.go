package inspector_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/favad/favad/inspector"
)

// FuzzParseOfficeCSV feeds the office import any bytes. It must never panic,
// and its answer is all or nothing: either rows, each of which passes the
// domain's validation and is already normalised, or an application error
// naming where the file is wrong, and no rows. Seeds: testdata/fuzz/FuzzParseOfficeCSV.
func FuzzParseOfficeCSV(f *testing.F) {
	f.Fuzz(func(t *testing.T, file, province string) {
		rows, err := inspector.ParseOfficeCSV(strings.NewReader(file), province)
		if err != nil {
			var e *inspector.Error
			if !errors.As(err, &e) {
				t.Fatalf("not an application error: %T %v", err, err)
			}
			if len(e.Fields) == 0 {
				t.Fatalf("the refusal names no line or column: %v", err)
			}
			if rows != nil {
				t.Fatalf("%d rows returned with the error %v", len(rows), err)
			}
			return
		}
		if len(rows) > inspector.MaxImportRows {
			t.Fatalf("%d rows, over MaxImportRows", len(rows))
		}
		prev := 1
		for _, r := range rows {
			if r.Line <= prev {
				t.Fatalf("line %d after line %d", r.Line, prev)
			}
			prev = r.Line
			if r.Office.AgencyCode != r.Agency.Code {
				t.Fatalf("line %d: office of agency %q under agency %q", r.Line, r.Office.AgencyCode, r.Agency.Code)
			}
			if err := r.Agency.Validate(); err != nil {
				t.Fatalf("line %d: accepted agency fails validation: %v", r.Line, err)
			}
			if err := r.Office.Validate(); err != nil {
				t.Fatalf("line %d: accepted office fails validation: %v", r.Line, err)
			}
			a, o := r.Agency, r.Office
			a.Normalize()
			o.Normalize()
			if a.Code != r.Agency.Code || a.NameFa != r.Agency.NameFa || a.NameEn != r.Agency.NameEn {
				t.Fatalf("line %d: the agency is not normalised: %+v then %+v", r.Line, r.Agency, a)
			}
			if o.Code != r.Office.Code || o.NameFa != r.Office.NameFa || o.City != r.Office.City || o.Phone != r.Office.Phone ||
				o.Province != r.Office.Province || o.Address != r.Office.Address {
				t.Fatalf("line %d: the office is not normalised: %+v then %+v", r.Line, r.Office, o)
			}
		}
	})
}
