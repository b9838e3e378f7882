package inspector

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
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
	col := map[string]int{}
	for i, h := range header {
		col[strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))] = i
	}
	var p Problems
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
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			p.Add(fmt.Sprintf("line %d", line), "malformed", err.Error())
			break
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
		rows = append(rows, row)
	}
	if err := p.Err(); err != nil {
		return nil, err
	}
	return rows, nil
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
