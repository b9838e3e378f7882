package export

import (
	"github.com/favad/favad/inspector"

	"bufio"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"time"
)

// bom is the UTF-8 byte-order mark. Excel reads a CSV file without it in
// the system's ANSI code page, which turns Persian into mojibake.
const bom = "\uFEFF"

// WriteCSV writes the table to w as RFC 4180 CSV in UTF-8 with a
// byte-order mark: a header row in lang ("fa" or "en"), then one line per
// row. Text cells are neutralised against formulas; numbers are plain
// (a percent as "25%"), times RFC 3339 in their own zone, dates YYYY-MM-DD.
//
// Nothing reaches w until 4 KiB are buffered, so an error from the first
// rows (a store that cannot be read) can still be answered as an error; a
// later one leaves a truncated file, and the caller must say so some other
// way (an HTTP handler aborts the response).
func WriteCSV(w io.Writer, cols []Column, lang string, rows Rows) error {
	if err := checkLang(lang); err != nil {
		return err
	}
	bw := bufio.NewWriter(w)
	if _, err := bw.WriteString(bom); err != nil {
		return err
	}
	cw := csv.NewWriter(bw) // reuses bw: it is already a large enough bufio.Writer
	cw.UseCRLF = true       // RFC 4180, and what Excel writes
	line := make([]string, len(cols))
	for i, c := range cols {
		line[i] = c.header(lang)
	}
	if err := cw.Write(line); err != nil {
		return err
	}
	err := eachRow(cols, rows, func(_ int, cells []any) error {
		for i, c := range cells {
			line[i] = csvText(c, lang)
		}
		return cw.Write(line)
	})
	if err != nil {
		return err
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("export: write csv: %w", err)
	}
	return nil
}

// csvText formats a resolved cell (see cellOf) for a file in lang: times
// and dates in Persian are Solar Hijri, in Iran time, and yes/no are words;
// numbers keep ASCII digits, so that a spreadsheet still reads them as numbers.
func csvText(c any, lang string) string {
	if lang == Persian {
		switch x := c.(type) {
		case time.Time:
			y, m, d := inspector.ToJalali(x)
			return fmt.Sprintf("%04d/%02d/%02d %s", y, m, d, x.In(inspector.IranTime).Format("15:04"))
		case date:
			y, m, d := inspector.ToJalali(time.Time(x))
			return fmt.Sprintf("%04d/%02d/%02d", y, m, d)
		case bool:
			if x {
				return "بله"
			}
			return "خیر"
		}
	}
	switch x := c.(type) {
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	case uint64:
		return strconv.FormatUint(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case percent:
		return percentText(float64(x))
	case bool:
		return strconv.FormatBool(x)
	case time.Time:
		return x.Format(time.RFC3339)
	case date:
		return time.Time(x).Format(time.DateOnly)
	}
	return ""
}
