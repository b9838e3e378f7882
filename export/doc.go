// Package export streams tables to CSV and .xlsx for people who open them
// in Excel: the dispatch desk's complaint lists and the supervisors' reports.
//
// A table is a list of Columns and a Rows source that yields one row at a
// time, so a writer never holds the whole table: WriteCSV keeps one row in
// memory, and WriteXLSX keeps at most excelize's 16 MiB in-memory chunk per
// sheet (the rest goes to a temporary file that is removed on return).
//
// Both writers treat the file as hostile to its reader: a text cell that a
// spreadsheet could take for a formula (it begins with =, +, -, @, a tab or
// a carriage return) is prefixed with a single quote, as OWASP advises for
// CSV injection; numbers, times and dates are written as such and are
// never neutralised, so -5 stays the number -5. Headers are in Persian or
// English; a CSV file starts with a UTF-8 byte-order mark so that Excel
// reads Persian text as UTF-8, and a Persian .xlsx sheet can be laid out
// right to left.
//
// The package knows nothing of FAVAD's domain: callers choose the columns
// and convert their records to rows.
package export
