package export

import (
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"
)

// Sheet is one worksheet of a workbook: its name, its columns with headers
// in Lang, and its rows. RightToLeft lays the sheet out right to left, as a
// Persian reader expects (column A on the right).
type Sheet struct {
	Name        string
	Columns     []Column
	Lang        string
	Rows        Rows
	RightToLeft bool
}

// Excel's limit on a sheet name, in UTF-16 code units.
const maxSheetName = 31

// CheckSheetName returns an error wrapping ErrSheet unless name is a sheet
// name Excel accepts: 1 to 31 characters, none of []:*?/\ and no single
// quote at either end.
func CheckSheetName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: empty name", ErrSheet)
	case len(utf16.Encode([]rune(name))) > maxSheetName:
		return fmt.Errorf("%w: %q is longer than %d characters", ErrSheet, name, maxSheetName)
	case strings.ContainsAny(name, `[]:*?/\`):
		return fmt.Errorf("%w: %q contains one of []:*?/\\", ErrSheet, name)
	case strings.HasPrefix(name, "'") || strings.HasSuffix(name, "'"):
		return fmt.Errorf("%w: %q begins or ends with a quote", ErrSheet, name)
	}
	return nil
}

// SheetName makes a valid sheet name of s, for names that come from data
// (an office's name): the forbidden characters become "-", quotes at the
// ends are dropped, and the name is cut to 31 characters. An empty result
// is "Sheet".
func SheetName(s string) string {
	s = strings.Map(func(r rune) rune {
		if strings.ContainsRune(`[]:*?/\`, r) || r < ' ' {
			return '-'
		}
		return r
	}, s)
	s = strings.Trim(s, "'")
	n, out := 0, []rune{}
	for _, r := range s {
		if n += utf16.RuneLen(r); n > maxSheetName {
			break
		}
		out = append(out, r)
	}
	if s = strings.Trim(strings.TrimSpace(string(out)), "'"); s == "" {
		return "Sheet"
	}
	return s
}

// Number formats. Times and dates are ISO-like, the same as the CSV, so
// that a sheet reads the same whatever the reader's locale.
const (
	timeFormat = "yyyy-mm-dd hh:mm"
	dateFormat = "yyyy-mm-dd"
	pctFormat  = 10 // Excel's built-in "0.00%"
)

// xlsxStyles are a workbook's cell styles, made once per file.
type xlsxStyles struct {
	header, percent, time, date int
}

func newStyles(f *excelize.File) (st xlsxStyles, err error) {
	tf, df := timeFormat, dateFormat
	for _, s := range []struct {
		id    *int
		style excelize.Style
	}{
		{&st.header, excelize.Style{Font: &excelize.Font{Bold: true}}},
		{&st.percent, excelize.Style{NumFmt: pctFormat}},
		{&st.time, excelize.Style{CustomNumFmt: &tf}},
		{&st.date, excelize.Style{CustomNumFmt: &df}},
	} {
		if *s.id, err = f.NewStyle(&s.style); err != nil {
			return st, err
		}
	}
	return st, nil
}

// WriteXLSX writes the sheets to w as one .xlsx workbook, in order. Each
// sheet has a bold, frozen header row; numbers are numeric cells, percents
// numbers with a percent format, times and dates date-time cells with a
// yyyy-mm-dd format; text is neutralised against formulas as in WriteCSV.
//
// excelize's stream writer stores every string as an inline string
// (t="inlineStr"), which Excel never evaluates, so "=1+1" is safe as long as
// the file is only opened. The quote is added all the same: a reader who
// edits the cell (F2, Enter) or saves the sheet as CSV would otherwise turn
// it into a live formula. (Excel's quotePrefix style would hide the quote,
// but excelize does not expose it.)
//
// An .xlsx is a zip whose sheets must be complete before it is written, so
// every row is read before the first byte reaches w: an error from Rows
// leaves w untouched. Memory stays flat: each sheet keeps at most 16 MiB of
// XML in memory and the rest in a temporary file (os.TempDir), removed
// before WriteXLSX returns.
func WriteXLSX(w io.Writer, sheets ...Sheet) (err error) {
	if len(sheets) == 0 {
		return fmt.Errorf("%w: a workbook needs a sheet", ErrSheet)
	}
	seen := map[string]bool{}
	for _, sh := range sheets {
		if err := CheckSheetName(sh.Name); err != nil {
			return err
		}
		key := strings.ToLower(sh.Name) // Excel compares names case-insensitively
		if seen[key] {
			return fmt.Errorf("%w: %q twice", ErrSheet, sh.Name)
		}
		seen[key] = true
		if err := checkLang(sh.Lang); err != nil {
			return fmt.Errorf("sheet %q: %w", sh.Name, err)
		}
	}
	f := excelize.NewFile()
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("export: clean up xlsx: %w", cerr)
		}
	}()
	st, err := newStyles(f)
	if err != nil {
		return fmt.Errorf("export: xlsx styles: %w", err)
	}
	for i, sh := range sheets {
		if i == 0 {
			err = f.SetSheetName(f.GetSheetName(0), sh.Name) // a new file has "Sheet1"
		} else {
			_, err = f.NewSheet(sh.Name)
		}
		if err != nil {
			return fmt.Errorf("export: sheet %q: %w", sh.Name, err)
		}
		if err := writeSheet(f, sh, st); err != nil {
			return fmt.Errorf("export: sheet %q: %w", sh.Name, err)
		}
	}
	f.SetActiveSheet(0)
	if err := f.Write(w); err != nil {
		return fmt.Errorf("export: write xlsx: %w", err)
	}
	return nil
}

func writeSheet(f *excelize.File, sh Sheet, st xlsxStyles) error {
	// The view must be set before the stream writer starts: it writes the
	// sheet's <sheetViews> with its first row.
	rtl := sh.RightToLeft
	if err := f.SetSheetView(sh.Name, 0, &excelize.ViewOptions{RightToLeft: &rtl}); err != nil {
		return err
	}
	sw, err := f.NewStreamWriter(sh.Name)
	if err != nil {
		return err
	}
	if err := sw.SetPanes(&excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"}); err != nil {
		return err
	}
	header := make([]any, len(sh.Columns))
	for i, c := range sh.Columns {
		h := c.header(sh.Lang)
		if err := sw.SetColWidth(i+1, i+1, columnWidth(c.Type, h)); err != nil {
			return err
		}
		header[i] = excelize.Cell{StyleID: st.header, Value: h}
	}
	if err := sw.SetRow("A1", header); err != nil {
		return err
	}
	values := make([]any, len(sh.Columns))
	err = eachRow(sh.Columns, sh.Rows, func(n int, cells []any) error {
		for i, c := range cells {
			values[i] = xlsxCell(c, st)
		}
		ref, err := excelize.CoordinatesToCellName(1, n+1) // row 1 is the header
		if err != nil {
			return fmt.Errorf("row %d: %w", n, err) // past Excel's 1,048,576 rows
		}
		return sw.SetRow(ref, values)
	})
	if err != nil {
		return err
	}
	return sw.Flush()
}

// xlsxCell turns a resolved cell (see cellOf) into a value for the stream
// writer: Go numbers, bools and times become numeric, boolean and date
// cells; a nil leaves the cell out.
func xlsxCell(c any, st xlsxStyles) any {
	switch x := c.(type) {
	case string:
		if x == "" {
			return nil // no empty string cell: the cell is left out
		}
	case percent:
		return excelize.Cell{StyleID: st.percent, Value: float64(x)}
	case time.Time:
		return excelize.Cell{StyleID: st.time, Value: x}
	case date:
		return excelize.Cell{StyleID: st.date, Value: time.Time(x)}
	}
	return c
}

// columnWidth is a readable width for a column, in characters: wide enough
// for its values' usual length and for its header.
func columnWidth(t ColumnType, header string) float64 {
	w := map[ColumnType]int{Text: 18, Int: 10, Float: 12, Percent: 10, Bool: 8, Time: 17, Date: 11}[t]
	return float64(max(w, utf8.RuneCountInString(header)+2))
}
