package inspector_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/favad/favad/inspector"
)

const csvHeader = "office_code,agency_code,agency_name_fa,agency_name_en,office_name_fa,city_fa,city_en,latitude,longitude,phone,opens,closes,workdays\n"

// csvRow is a valid demo row; tests replace one column at a time.
var csvRow = map[string]string{
	"office_code": "QZ-SSO-01", "agency_code": "SSO", "agency_name_fa": "سازمان تامین اجتماعی",
	"agency_name_en": "Social Security Organization", "office_name_fa": "شعبه یک تامین اجتماعی قزوین",
	"city_fa": "قزوین", "city_en": "Qazvin", "latitude": "36.2790", "longitude": "50.0040",
	"phone": "028-33000101", "opens": "07:30", "closes": "14:30", "workdays": "Sat-Wed",
}

// csvLine renders csvRow with the given columns replaced.
func csvLine(with map[string]string) string {
	cells := make([]string, len(inspector.OfficeCSVColumns))
	for i, c := range inspector.OfficeCSVColumns {
		v, ok := with[c]
		if !ok {
			v = csvRow[c]
		}
		cells[i] = v
	}
	return strings.Join(cells, ",") + "\n"
}

func TestParseOfficeCSV(t *testing.T) {
	in := csvHeader + csvLine(nil) +
		csvLine(map[string]string{"office_code": "tk-sso-01", "city_fa": "تاكستان", "phone": "۰۲۸-۳۵۰۰۰۱۰۱", "latitude": "۳۶.۰۷۱", "workdays": `"sat,sun,mon"`}) +
		csvLine(map[string]string{"office_code": "QZ-TAX-01", "agency_code": "tax", "agency_name_fa": "امور مالیاتی", "agency_name_en": "", "latitude": "", "longitude": ""})
	rows, err := inspector.ParseOfficeCSV(strings.NewReader(in), " قزوین ")
	require.NoError(t, err)
	require.Len(t, rows, 3)

	assert.Equal(t, inspector.OfficeRow{
		Line:   2,
		Agency: inspector.Agency{Code: "SSO", NameFa: "سازمان تامین اجتماعی", NameEn: "Social Security Organization"},
		Office: inspector.Office{
			Code: "QZ-SSO-01", AgencyCode: "SSO", NameFa: "شعبه یک تامین اجتماعی قزوین", Province: "قزوین", City: "قزوین",
			Phone: "028-33000101", Location: &inspector.Location{Lat: 36.279, Lng: 50.004},
			Hours: inspector.WorkingHours{Opens: "07:30", Closes: "14:30", Days: []string{"sat", "sun", "mon", "tue", "wed"}},
		},
	}, rows[0])

	assert.Equal(t, 3, rows[1].Line)
	assert.Equal(t, "TK-SSO-01", rows[1].Office.Code, "codes are upper-cased")
	assert.Equal(t, "028-35000101", rows[1].Office.Phone, "Persian digits folded")
	assert.Equal(t, &inspector.Location{Lat: 36.071, Lng: 50.004}, rows[1].Office.Location)
	assert.Equal(t, []string{"sat", "sun", "mon"}, rows[1].Office.Hours.Days)

	assert.Equal(t, 4, rows[2].Line)
	assert.Equal(t, "TAX", rows[2].Agency.Code)
	assert.Equal(t, "TAX", rows[2].Office.AgencyCode)
	assert.Nil(t, rows[2].Office.Location, "no coordinates, no location")
}

func TestParseOfficeCSVHeader(t *testing.T) {
	t.Run("byte order mark, upper case and spaces", func(t *testing.T) {
		h := "\ufeff" + strings.ToUpper(strings.ReplaceAll(csvHeader, ",", ", "))
		rows, err := inspector.ParseOfficeCSV(strings.NewReader(h+csvLine(nil)), "قزوین")
		require.NoError(t, err)
		require.Len(t, rows, 1)
		assert.Equal(t, "QZ-SSO-01", rows[0].Office.Code)
	})
	t.Run("columns in another order", func(t *testing.T) {
		cols := append([]string(nil), inspector.OfficeCSVColumns...)
		for i, j := 0, len(cols)-1; i < j; i, j = i+1, j-1 {
			cols[i], cols[j] = cols[j], cols[i]
		}
		cells := make([]string, len(cols))
		for i, c := range cols {
			cells[i] = csvRow[c]
		}
		in := strings.Join(cols, ",") + "\n" + strings.Join(cells, ",") + "\n"
		rows, err := inspector.ParseOfficeCSV(strings.NewReader(in), "قزوین")
		require.NoError(t, err)
		require.Len(t, rows, 1)
		assert.Equal(t, "QZ-SSO-01", rows[0].Office.Code)
		assert.Equal(t, "SSO", rows[0].Agency.Code)
	})
	t.Run("province column wins over the default, which fills blanks", func(t *testing.T) {
		h := strings.TrimSuffix(csvHeader, "\n") + ",province,address\n"
		in := h + strings.TrimSuffix(csvLine(nil), "\n") + ",زنجان,خیابان امام\n" +
			strings.TrimSuffix(csvLine(map[string]string{"office_code": "QZ-SSO-02"}), "\n") + ",,\n"
		rows, err := inspector.ParseOfficeCSV(strings.NewReader(in), "قزوین")
		require.NoError(t, err)
		require.Len(t, rows, 2)
		assert.Equal(t, "زنجان", rows[0].Office.Province)
		assert.Equal(t, "خیابان امام", rows[0].Office.Address)
		assert.Equal(t, "قزوین", rows[1].Office.Province)
	})
	t.Run("province column makes the default optional", func(t *testing.T) {
		h := strings.TrimSuffix(csvHeader, "\n") + ",province\n"
		in := h + strings.TrimSuffix(csvLine(nil), "\n") + ",قزوین\n"
		rows, err := inspector.ParseOfficeCSV(strings.NewReader(in), "")
		require.NoError(t, err)
		assert.Len(t, rows, 1)
	})
	t.Run("header only", func(t *testing.T) {
		rows, err := inspector.ParseOfficeCSV(strings.NewReader(csvHeader), "قزوین")
		require.NoError(t, err)
		assert.Empty(t, rows)
	})
}

// TestParseOfficeCSVFoldsArabicLetters: a file typed on an Arabic keyboard
// (yeh and kaf) names the same agency, city and province as one typed on a
// Persian one, and is stored in Persian letters.
func TestParseOfficeCSVFoldsArabicLetters(t *testing.T) {
	arabic := csvLine(map[string]string{"office_code": "QZ-SSO-02", "agency_name_fa": "سازمان تامين اجتماعي", "office_name_fa": "شعبه يك",
		"city_fa": "تاكستان"})
	persian := csvLine(map[string]string{"agency_name_fa": "سازمان تامین اجتماعی", "city_fa": "تاکستان"})
	rows, err := inspector.ParseOfficeCSV(strings.NewReader(csvHeader+persian+arabic), "قزوين")
	require.NoError(t, err, "the same agency, however its letters were typed")
	require.Len(t, rows, 2)
	for _, r := range rows {
		assert.Equal(t, "سازمان تامین اجتماعی", r.Agency.NameFa)
		assert.Equal(t, "تاکستان", r.Office.City)
		assert.Equal(t, "قزوین", r.Office.Province)
	}
	assert.Equal(t, "شعبه یک", rows[1].Office.NameFa)
}

func TestParseOfficeCSVProblems(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		province string
		want     []string // field=code
	}{
		{"empty file", "", "قزوین", []string{"line 1=required"}},
		{"missing columns", "office_code,agency_code\nA,B\n", "قزوین", []string{
			"line 1: agency_name_fa=missing_column", "line 1: agency_name_en=missing_column", "line 1: office_name_fa=missing_column",
			"line 1: city_fa=missing_column", "line 1: city_en=missing_column", "line 1: latitude=missing_column",
			"line 1: longitude=missing_column", "line 1: phone=missing_column", "line 1: opens=missing_column",
			"line 1: closes=missing_column", "line 1: workdays=missing_column"}},
		{"no province anywhere", csvHeader + csvLine(nil), " ", []string{"province=required"}},
		{"bad latitude", csvHeader + csvLine(map[string]string{"latitude": "north"}), "قزوین", []string{"line 2: latitude=invalid"}},
		{"latitude without longitude", csvHeader + csvLine(map[string]string{"longitude": ""}), "قزوین", []string{"line 2: longitude=invalid"}},
		{"latitude out of range", csvHeader + csvLine(map[string]string{"latitude": "136.2"}), "قزوین", []string{"line 2: latitude=out_of_range"}},
		{"bad workdays, reported once", csvHeader + csvLine(map[string]string{"workdays": "Wed-Sat"}), "قزوین", []string{"line 2: workdays=invalid"}},
		{"no workdays", csvHeader + csvLine(map[string]string{"workdays": ""}), "قزوین", []string{"line 2: workdays=invalid"}},
		{"bad office code", csvHeader + csvLine(map[string]string{"office_code": "QZ SSO"}), "قزوین", []string{"line 2: office_code=invalid"}},
		{"no office name", csvHeader + csvLine(map[string]string{"office_name_fa": ""}), "قزوین", []string{"line 2: office_name_fa=required"}},
		{"no city", csvHeader + csvLine(map[string]string{"city_fa": ""}), "قزوین", []string{"line 2: city_fa=required"}},
		{"bad phone", csvHeader + csvLine(map[string]string{"phone": "none"}), "قزوین", []string{"line 2: phone=invalid"}},
		{"bad hours", csvHeader + csvLine(map[string]string{"opens": "7:30", "closes": "25:00"}), "قزوین", []string{"line 2: opens=invalid", "line 2: closes=invalid"}},
		{"closes before opens", csvHeader + csvLine(map[string]string{"opens": "14:30", "closes": "07:30"}), "قزوین", []string{"line 2: closes=before_opens"}},
		{"problems on two lines", csvHeader + csvLine(nil) + csvLine(map[string]string{"office_code": "QZ-SSO-02", "phone": "x"}) + csvLine(map[string]string{"office_code": "QZ-SSO-03", "city_fa": ""}), "قزوین",
			[]string{"line 3: phone=invalid", "line 4: city_fa=required"}},
		{"one office twice", csvHeader + csvLine(nil) + csvLine(map[string]string{"office_name_fa": "شعبه دو"}), "قزوین",
			[]string{"line 3: office_code=duplicate"}},
		{"one agency named two ways", csvHeader + csvLine(nil) + csvLine(map[string]string{"office_code": "QZ-SSO-02", "agency_name_fa": "سازمان دیگر"}), "قزوین",
			[]string{"line 3: agency_name_fa=mismatch"}},
		{"short row", csvHeader + "QZ-SSO-01,SSO\n", "قزوین", nil}, // many problems; checked below to name line 2
		{"malformed quoting", csvHeader + csvLine(nil) + "\"QZ,SSO\n", "قزوین", []string{"line 3=malformed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows, err := inspector.ParseOfficeCSV(strings.NewReader(tt.in), tt.province)
			assert.Nil(t, rows, "a file with a problem yields no rows")
			got := fieldCodes(t, err)
			if tt.want == nil {
				require.NotEmpty(t, got)
				for _, f := range got {
					assert.True(t, strings.HasPrefix(f, "line 2: "), f)
				}
				return
			}
			assert.Equal(t, tt.want, got)
		})
	}
}

// Regression: ParseOfficeCSV maps the agency's validation fields through the
// office's column names, so a row with an empty agency_name_fa is reported as
// "line N: office_name_fa" (the wrong column), a bad agency code as
// "office_code", and a long English agency name as "name_en", which is no
// column at all.
func TestParseOfficeCSVAgencyProblemsNameAgencyColumns(t *testing.T) {
	tests := []struct {
		name string
		with map[string]string
		want string
	}{
		{"no agency name", map[string]string{"agency_name_fa": ""}, "line 2: agency_name_fa=required"},
		{"bad agency code", map[string]string{"agency_code": "S SO"}, "line 2: agency_code=invalid"},
		{"long English agency name", map[string]string{"agency_name_en": strings.Repeat("x", 201)}, "line 2: agency_name_en=too_long"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := inspector.ParseOfficeCSV(strings.NewReader(csvHeader+csvLine(tt.with)), "قزوین")
			assert.Contains(t, fieldCodes(t, err), tt.want)
			assert.NotContains(t, fieldCodes(t, err), "line 2: office_name_fa=required")
			assert.NotContains(t, fieldCodes(t, err), "line 2: office_code=invalid")
		})
	}
}

func TestParseOfficeCSVTooManyRows(t *testing.T) {
	var b strings.Builder
	b.WriteString(csvHeader)
	line := csvLine(nil)
	for range inspector.MaxImportRows + 1 {
		b.WriteString(line)
	}
	rows, err := inspector.ParseOfficeCSV(strings.NewReader(b.String()), "قزوین")
	assert.Nil(t, rows)
	assert.Contains(t, fieldCodes(t, err), "line 10002=too_many_rows")
}

// The demo file shipped beside the project parses cleanly.
func TestParseOfficeCSVQazvinDemo(t *testing.T) {
	path := filepath.Join("..", "..", "shared", "data", "qazvin-demo-offices.csv")
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		t.Skip("demo file not present beside the project")
	}
	require.NoError(t, err)
	defer f.Close()
	rows, err := inspector.ParseOfficeCSV(f, "قزوین")
	require.NoError(t, err)
	assert.Len(t, rows, 24)
	agencies, codes := map[string]bool{}, map[string]bool{}
	for _, r := range rows {
		require.NoError(t, r.Agency.Validate())
		require.NoError(t, r.Office.Validate())
		agencies[r.Agency.Code] = true
		assert.False(t, codes[r.Office.Code], "duplicate office %s", r.Office.Code)
		codes[r.Office.Code] = true
		assert.True(t, inspector.Region{Province: "قزوين"}.Covers(r.Office.Province, r.Office.City))
	}
	assert.Len(t, agencies, 12)
}

// TestParseOfficeCSVRefusesBadText: a row with more cells than the header,
// bytes that are not UTF-8, a NUL or another control character was imported
// (the extra cells dropped, the bytes stored); now the file is refused,
// naming the line and the column, and nothing is imported.
func TestParseOfficeCSVRefusesBadText(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string // field=code
	}{
		{"extra column", csvHeader + csvLine(nil) + strings.TrimSuffix(csvLine(map[string]string{"office_code": "QZ-SSO-02"}), "\n") + ",surplus\n",
			[]string{"line 3: column 14=extra_column"}},
		{"invalid UTF-8", csvHeader + csvLine(map[string]string{"office_name_fa": "شعبه \xff\xfe"}), []string{"line 2: office_name_fa=invalid_utf8"}},
		{"NUL", csvHeader + csvLine(map[string]string{"city_fa": "قزو\x00ین"}), []string{"line 2: city_fa=control_character"}},
		{"escape in an unnamed column", "office_code,agency_code,agency_name_fa,agency_name_en,office_name_fa,city_fa,city_en,latitude,longitude,phone,opens,closes,workdays,remark\n" +
			strings.TrimSuffix(csvLine(nil), "\n") + ",\x1b[2J\n", []string{"line 2: remark=control_character"}},
		{"invalid UTF-8 in the header", strings.Replace(csvHeader, "city_en", "city_\xff", 1) + csvLine(nil), []string{"line 1: column 7=invalid_utf8"}},
		{"line counted across a quoted line break", csvHeader + csvLine(map[string]string{"office_name_fa": "\"شعبه\nیک\""}) + csvLine(map[string]string{"office_code": "QZ-SSO-02", "city_en": "Qaz\x00vin"}),
			[]string{"line 4: city_en=control_character"}},
		{"invisible name is blank", csvHeader + csvLine(map[string]string{"office_name_fa": "\u200c\u200f"}), []string{"line 2: office_name_fa=required"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows, err := inspector.ParseOfficeCSV(strings.NewReader(tt.in), "قزوین")
			assert.Nil(t, rows, "a file with a problem yields no rows")
			assert.Equal(t, tt.want, fieldCodes(t, err))
		})
	}
	rows, err := inspector.ParseOfficeCSV(strings.NewReader(csvHeader+csvLine(map[string]string{"office_name_fa": "شعبه\u200cی\tیک"})), "قزوین")
	require.NoError(t, err)
	assert.Equal(t, "شعبه\u200cی\tیک", rows[0].Office.NameFa, "the zero-width non-joiner and a tab are kept")
}
