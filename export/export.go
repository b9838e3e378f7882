package export

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"time"
)

// Errors the writers return, wrapped with the column, row or sheet at fault.
// Each is a programming error in the caller (the columns, rows and sheet
// names are the server's own), so none of them is worth showing to a user.
var (
	// ErrLang is returned for a header language other than "fa" or "en".
	ErrLang = errors.New("export: header language must be fa or en")
	// ErrRow is returned for a row whose width differs from the columns',
	// or a value whose type does not fit its column's type.
	ErrRow = errors.New("export: row does not fit the columns")
	// ErrSheet is returned for an invalid or repeated sheet name, or a
	// workbook with no sheet.
	ErrSheet = errors.New("export: invalid sheet")
)

// Header languages.
const (
	Persian = "fa"
	English = "en"
)

// ColumnType says how a column's values are written, and which Go values it
// takes. A nil value, a nil pointer, a zero time or a NaN is an empty cell in
// every type; a non-nil pointer is read through.
type ColumnType int

// Column types.
const (
	// Text takes a string, any type whose underlying type is string (such
	// as a status code) or a fmt.Stringer. Formula-like text is neutralised.
	Text ColumnType = iota
	// Int takes any integer type.
	Int
	// Float takes any float or integer type.
	Float
	// Percent takes a fraction (0.25 is 25%) of any float or integer type.
	// CSV writes it as "25%", which Excel reads back as the number 0.25;
	// .xlsx stores 0.25 with a percent number format.
	Percent
	// Bool takes a bool: "true"/"false" in CSV, a boolean cell in .xlsx.
	Bool
	// Time takes a time.Time: RFC 3339 in CSV, a date-time cell in .xlsx.
	// Excel has no time zones, so a sheet shows the time's wall clock in its
	// own Location: convert to the readers' zone before yielding it.
	Time
	// Date takes a time.Time and keeps only its date (in its Location):
	// YYYY-MM-DD in CSV, a date cell in .xlsx.
	Date
)

var typeNames = [...]string{Text: "text", Int: "int", Float: "float", Percent: "percent", Bool: "bool", Time: "time", Date: "date"}

// String names t, for error messages.
func (t ColumnType) String() string {
	if t >= 0 && int(t) < len(typeNames) {
		return typeNames[t]
	}
	return fmt.Sprintf("ColumnType(%d)", int(t))
}

// Column is one column of a table: a stable key (for callers, not written),
// its header in Persian and English, and the type of its values.
type Column struct {
	Key  string
	Fa   string
	En   string
	Type ColumnType
}

// header is c's header in lang, falling back to the other language and then
// the key, so that a column never has an empty header.
func (c Column) header(lang string) string {
	first, second := c.En, c.Fa
	if lang == Persian {
		first, second = c.Fa, c.En
	}
	for _, h := range []string{first, second, c.Key} {
		if h != "" {
			return neutralise(h)
		}
	}
	return ""
}

// Rows is a table's row source. It calls yield once per row, in order, and
// stops at the first error yield returns, returning it. A writer does not
// keep the row slice after yield returns, so a source may reuse one slice
// for every row.
type Rows func(yield func(row []any) error) error

// RowsOf is a Rows source over rows already in memory, for small tables and
// tests.
func RowsOf(rows ...[]any) Rows {
	return func(yield func([]any) error) error {
		for _, r := range rows {
			if err := yield(r); err != nil {
				return err
			}
		}
		return nil
	}
}

func checkLang(lang string) error {
	if lang != Persian && lang != English {
		return fmt.Errorf("%w, not %q", ErrLang, lang)
	}
	return nil
}

// neutralise makes text that a spreadsheet could evaluate as a formula
// inert, by prefixing a single quote (OWASP's advice on CSV injection): a
// complaint's description or a caller's name is typed in by the public, and
// "=HYPERLINK(...)" in it must not become a live link on a supervisor's
// screen. Tab and carriage return are included because some spreadsheets
// skip them before looking for a formula.
func neutralise(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + s
	}
	return s
}

// Resolved cells of the types that need their own number format.
type (
	percent float64   // a fraction shown as a percent
	date    time.Time // midnight of the day, in the time's zone
)

// cellOf resolves v against col's type to one of: nil (an empty cell), a
// neutralised string, int64, uint64, float64, percent, bool, time.Time or
// date.
func cellOf(col Column, v any) (any, error) {
	// The common types first, without reflection.
	switch x := v.(type) {
	case nil:
		return nil, nil
	case string:
		if col.Type == Text {
			return neutralise(x), nil
		}
	case int:
		return number(col, int64(x), v)
	case int64:
		return number(col, x, v)
	case uint64:
		if col.Type == Int {
			return x, nil
		}
		return number(col, float64(x), v)
	case float64:
		return number(col, x, v)
	case bool:
		if col.Type == Bool {
			return x, nil
		}
	case time.Time:
		return timeCell(col, x, v)
	case *time.Time:
		if x == nil {
			return nil, nil
		}
		return timeCell(col, *x, v)
	case fmt.Stringer:
		if col.Type == Text {
			return neutralise(x.String()), nil
		}
	}
	rv := reflect.ValueOf(v)
	for rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return nil, nil
		}
		rv = rv.Elem()
	}
	switch rv.Kind() {
	case reflect.String:
		if col.Type == Text {
			return neutralise(rv.String()), nil
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return number(col, rv.Int(), v)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		if col.Type == Int {
			return rv.Uint(), nil
		}
		return number(col, float64(rv.Uint()), v)
	case reflect.Float32, reflect.Float64:
		return number(col, rv.Float(), v)
	case reflect.Bool:
		if col.Type == Bool {
			return rv.Bool(), nil
		}
	case reflect.Struct:
		if t, ok := rv.Interface().(time.Time); ok {
			return timeCell(col, t, v)
		}
	}
	if s, ok := rv.Interface().(fmt.Stringer); ok && col.Type == Text {
		return neutralise(s.String()), nil
	}
	return nil, misfit(col, v)
}

// number places an integer or float in an Int, Float or Percent column.
func number[N int64 | float64](col Column, n N, v any) (any, error) {
	switch col.Type {
	case Int:
		if i, ok := any(n).(int64); ok {
			return i, nil
		}
	case Float, Percent:
		f := float64(n)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, nil // no spreadsheet has a cell for them
		}
		if col.Type == Percent {
			return percent(f), nil
		}
		return f, nil
	}
	return nil, misfit(col, v)
}

func timeCell(col Column, t time.Time, v any) (any, error) {
	switch {
	case col.Type != Time && col.Type != Date:
		return nil, misfit(col, v)
	case t.IsZero():
		return nil, nil
	case col.Type == Date:
		y, m, d := t.Date()
		return date(time.Date(y, m, d, 0, 0, 0, 0, t.Location())), nil
	}
	return t, nil
}

func misfit(col Column, v any) error {
	return fmt.Errorf("%w: column %q is %s, not %T", ErrRow, col.Key, col.Type, v)
}

// eachRow runs rows, resolving each row's values against cols into cells
// (a slice reused for every row) before handing it to write.
func eachRow(cols []Column, rows Rows, write func(n int, cells []any) error) error {
	cells := make([]any, len(cols))
	n := 0
	return rows(func(row []any) error {
		n++
		if len(row) != len(cols) {
			return fmt.Errorf("%w: row %d has %d values for %d columns", ErrRow, n, len(row), len(cols))
		}
		for i, v := range row {
			c, err := cellOf(cols[i], v)
			if err != nil {
				return fmt.Errorf("row %d: %w", n, err)
			}
			cells[i] = c
		}
		return write(n, cells)
	})
}

// percentText formats a fraction as a percent without float noise: 0.07 is "7", not
// "7.000000000000001". Two decimals of a percent are kept.
func percentText(f float64) string {
	p := math.Round(f*10000) / 100
	s := fmt.Sprintf("%.2f", p)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	if s == "-0" {
		s = "0"
	}
	return s + "%"
}
