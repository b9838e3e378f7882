package inspector

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// OfficeRow is one office and its agency, as read from an import file.
type OfficeRow struct {
	Line   int
	Agency Agency
	Office Office
}

// OfficeCSVColumns are the columns of the office import format (the demo
// file's). province and address are optional; without a province column every
// row takes defaultProvince.
var OfficeCSVColumns = []string{
	"office_code", "agency_code", "agency_name_fa", "agency_name_en", "office_name_fa",
	"city_fa", "city_en", "latitude", "longitude", "phone", "opens", "closes", "workdays",
}

// MaxImportRows bounds one import.
const MaxImportRows = 10000

// ParseOfficeCSV reads offices in the import format. Problems name the line
// and column ("line 7: latitude"); a file with any problem yields no rows, so
// that an import is all or nothing.
func ParseOfficeCSV(r io.Reader, defaultProvince string) ([]OfficeRow, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, (&Problems{{Field: "line 1", Code: "required", Message: "the file is empty; it needs a header row"}}).Err()
	}
	if err != nil {
		return nil, (&Problems{{Field: "line 1", Code: "malformed", Message: err.Error()}}).Err()
	}
	var p Problems
	names := make([]string, len(header)) // each column's name, for problems
	col := map[string]int{}
	for i, h := range header {
		names[i] = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		col[names[i]] = i
		if code, msg, bad := badText(h); bad {
			p.Add(fmt.Sprintf("line 1: column %d", i+1), code, msg)
			names[i] = fmt.Sprintf("column %d", i+1)
		}
	}
	if err := p.Err(); err != nil {
		return nil, err
	}
	for _, name := range OfficeCSVColumns {
		if _, ok := col[name]; !ok {
			p.Add("line 1: "+name, "missing_column", "the header lacks this column")
		}
	}
	_, hasProvince := col["province"]
	if !hasProvince && strings.TrimSpace(defaultProvince) == "" {
		p.Add("province", "required", "the file has no province column; name the province")
	}
	if err := p.Err(); err != nil {
		return nil, err
	}
	var rows []OfficeRow
	officeLine := map[string]int{} // an office's code → the line that named it first
	agencyRow := map[string]OfficeRow{}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			line := 0
			if pe := (*csv.ParseError)(nil); errors.As(err, &pe) {
				line = pe.StartLine
			}
			p.Add(fmt.Sprintf("line %d", line), "malformed", err.Error())
			break
		}
		line, _ := cr.FieldPos(0) // the line the row starts on: a quoted cell may span lines
		if checkCells(&p, line, rec, names) {
			continue // the rest of the row is not worth reading
		}
		if len(rows) == MaxImportRows {
			p.Add(fmt.Sprintf("line %d", line), "too_many_rows", fmt.Sprintf("at most %d offices in one import", MaxImportRows))
			break
		}
		get := func(name string) string {
			if i, ok := col[name]; ok && i < len(rec) {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		at := func(name string) string { return fmt.Sprintf("line %d: %s", line, name) }
		row := OfficeRow{Line: line,
			Agency: Agency{Code: get("agency_code"), NameFa: get("agency_name_fa"), NameEn: get("agency_name_en")},
			Office: Office{Code: get("office_code"), AgencyCode: get("agency_code"), NameFa: get("office_name_fa"),
				Province: get("province"), City: get("city_fa"), Address: get("address"), Phone: get("phone"),
				Hours: WorkingHours{Opens: get("opens"), Closes: get("closes")}},
		}
		if row.Office.Province == "" {
			row.Office.Province = strings.TrimSpace(defaultProvince)
		}
		if lat, lng := get("latitude"), get("longitude"); lat != "" || lng != "" {
			la, err1 := strconv.ParseFloat(NormalizeDigits(lat), 64)
			lo, err2 := strconv.ParseFloat(NormalizeDigits(lng), 64)
			if err1 != nil {
				p.Add(at("latitude"), "invalid", "a decimal number")
			}
			if err2 != nil {
				p.Add(at("longitude"), "invalid", "a decimal number")
			}
			row.Office.Location = &Location{Lat: la, Lng: lo}
		}
		days, ok := ParseWeekdays(get("workdays"))
		if !ok {
			p.Add(at("workdays"), "invalid", "a range like Sat-Wed or a list like sat,sun,mon")
		}
		row.Office.Hours.Days = days
		row.Agency.Normalize()
		row.Office.Normalize()
		for _, check := range []struct {
			err    error
			column func(string) string
		}{{row.Agency.Validate(), agencyColumn}, {row.Office.Validate(), officeColumn}} {
			var e *Error
			if errors.As(check.err, &e) {
				for _, f := range e.Fields {
					if f.Field == "hours.days" && !ok {
						continue // already reported as workdays
					}
					p.Add(at(check.column(f.Field)), f.Code, f.Message)
				}
			}
		}
		// A file names each office once, and each agency one way: else one
		// row would silently overwrite another.
		if first, ok := officeLine[row.Office.Code]; ok && row.Office.Code != "" {
			p.Add(at("office_code"), "duplicate", fmt.Sprintf("office %s is on line %d too", row.Office.Code, first))
		} else {
			officeLine[row.Office.Code] = line
		}
		if a, ok := agencyRow[row.Agency.Code]; ok {
			if NormalizeText(a.Agency.NameFa) != NormalizeText(row.Agency.NameFa) {
				p.Add(at("agency_name_fa"), "mismatch", fmt.Sprintf("agency %s is named %q on line %d", row.Agency.Code, a.Agency.NameFa, a.Line))
			}
			if NormalizeText(a.Agency.NameEn) != NormalizeText(row.Agency.NameEn) {
				p.Add(at("agency_name_en"), "mismatch", fmt.Sprintf("agency %s is named %q on line %d", row.Agency.Code, a.Agency.NameEn, a.Line))
			}
		} else {
			agencyRow[row.Agency.Code] = row
		}
		rows = append(rows, row)
	}
	if err := p.Err(); err != nil {
		return nil, err
	}
	return rows, nil
}

// checkCells adds a problem for each cell of the row at line that has no
// column in the header or holds bad text (see badText); it reports whether
// there was any.
func checkCells(p *Problems, line int, rec, names []string) bool {
	bad := false
	for i, cell := range rec {
		if i >= len(names) {
			p.Add(fmt.Sprintf("line %d: column %d", line, i+1), "extra_column",
				fmt.Sprintf("the header has %d columns; this row has %d", len(names), len(rec)))
			return true
		}
		if code, msg, ok := badText(cell); ok {
			p.Add(fmt.Sprintf("line %d: %s", line, names[i]), code, msg)
			bad = true
		}
	}
	return bad
}

// badText says what is wrong with text that is not valid UTF-8 or holds a
// control character other than tab and line breaks.
func badText(s string) (code, message string, bad bool) {
	if !utf8.ValidString(s) {
		return "invalid_utf8", "the text is not valid UTF-8; save the file as UTF-8", true
	}
	if r, ok := ControlRune(s); ok {
		return "control_character", fmt.Sprintf("the text holds the control character %U; only tab and line breaks are allowed", r), true
	}
	return "", "", false
}

// agencyColumn names the import column behind an agency validation field.
func agencyColumn(field string) string {
	switch field {
	case "code":
		return "agency_code"
	case "name_fa":
		return "agency_name_fa"
	case "name_en":
		return "agency_name_en"
	}
	return field
}

// officeColumn names the import column behind an office validation field.
func officeColumn(field string) string {
	switch field {
	case "code":
		return "office_code"
	case "name_fa":
		return "office_name_fa"
	case "city":
		return "city_fa"
	case "hours.opens":
		return "opens"
	case "hours.closes":
		return "closes"
	case "hours.days":
		return "workdays"
	case "location.lat":
		return "latitude"
	case "location.lng":
		return "longitude"
	}
	return field
}
