package server

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/favad/favad/export"
	"github.com/favad/favad/inspector"
	favsync "github.com/favad/favad/sync"
)

// exportTypes maps an export format to its Content-Type.
var exportTypes = map[string]string{
	"csv":  "text/csv; charset=utf-8",
	"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}

// exportPage is how many complaints an export reads from the store at once:
// each page is its own short read transaction, so a long export neither
// holds the database open nor more than one page in memory.
const exportPage = 200

// exportComplaints is GET /v1/complaints/export: the complaints the list
// would show for the same filters, every page of them, as one CSV or .xlsx
// file (format, default csv) with headers in Persian or English (lang,
// default fa). The file is streamed a page at a time.
func (s *Server) exportComplaints(c echo.Context) error {
	var p inspector.Problems
	format, lang := exportParams(c, &p, false)
	f := complaintFilter(c, &p)
	if err := p.Err(); err != nil {
		return err
	}

	role, now := principal(c).User.Role, s.cfg.Now()
	cols := complaintColumns(role)
	headers := make([]export.Column, len(cols))
	for i, col := range cols {
		headers[i] = col.Column
	}
	rows := s.complaintRows(c.Request().Context(), f, role, cols, now)
	name := fmt.Sprintf("complaints-%s.%s", now.In(inspector.IranTime).Format(time.DateOnly), format)
	sheet := map[string]string{export.Persian: "شکایات", export.English: "Complaints"}[lang]
	return s.sendTable(c, format, name, export.Sheet{Name: sheet, Columns: headers, Lang: lang, Rows: rows})
}

// sendTable streams a table as a file download named name, in format (csv
// or xlsx; a Persian sheet is laid out right to left). An error before the
// first byte is returned, for the error handler to answer; after it, the
// connection is cut.
func (s *Server) sendTable(c echo.Context, format, name string, t export.Sheet) error {
	out := &download{c: c, contentType: exportTypes[format], filename: name}
	var err error
	if format == "xlsx" {
		t.RightToLeft = t.Lang == export.Persian
		err = export.WriteXLSX(out, t)
	} else {
		err = export.WriteCSV(out, t.Columns, t.Lang, t.Rows)
	}
	if err == nil || !c.Response().Committed {
		return err // not a byte sent yet: the error handler answers with a problem
	}
	// Part of the file is out with a 200. Ending the response normally would
	// hand the client a file that looks whole; cutting the connection makes
	// the download fail instead.
	level := slog.LevelError
	if c.Request().Context().Err() != nil {
		level = slog.LevelInfo // the client went away
	}
	s.log(c).Log(c.Request().Context(), level, "export cut short", slog.String("error", err.Error()))
	panic(http.ErrAbortHandler)
}

// complaintColumn is one column of the complaints export and how to read
// its value from a complaint.
type complaintColumn struct {
	export.Column
	value func(c *inspector.Complaint, now time.Time) any
}

// complaintColumns are the export's columns for a user with role. The
// caller's name and phone are there only for a role that may see the
// caller: every role allowed to export may today, but a role added later
// must not get them by default.
func complaintColumns(role inspector.Role) []complaintColumn {
	text := func(key, fa, en string, v func(c *inspector.Complaint) string) complaintColumn {
		return complaintColumn{Column: export.Column{Key: key, Fa: fa, En: en, Type: export.Text},
			value: func(c *inspector.Complaint, _ time.Time) any { return v(c) }}
	}
	assignment := func(v func(a *inspector.Assignment) string) func(c *inspector.Complaint) string {
		return func(c *inspector.Complaint) string {
			if c.Assignment == nil {
				return ""
			}
			return v(c.Assignment)
		}
	}
	cols := []complaintColumn{
		{Column: export.Column{Key: "number", Fa: "شماره", En: "Number", Type: export.Int},
			value: func(c *inspector.Complaint, _ time.Time) any { return c.Number }},
		text("status", "وضعیت", "Status", func(c *inspector.Complaint) string { return string(c.Status) }),
		text("category", "موضوع", "Category", func(c *inspector.Complaint) string { return string(c.Category) }),
		text("priority", "اولویت", "Priority", func(c *inspector.Complaint) string { return string(c.Priority) }),
		text("office_code", "کد اداره", "Office code", func(c *inspector.Complaint) string { return c.OfficeCode }),
		text("agency_code", "کد دستگاه", "Agency code", func(c *inspector.Complaint) string { return c.AgencyCode }),
		{Column: export.Column{Key: "call_time", Fa: "زمان تماس", En: "Call time", Type: export.Time},
			value: func(c *inspector.Complaint, _ time.Time) any { return c.CallTime.In(inspector.IranTime) }},
		{Column: export.Column{Key: "due_at", Fa: "مهلت رسیدگی", En: "Due at", Type: export.Time},
			value: func(c *inspector.Complaint, _ time.Time) any { return c.DueAt.In(inspector.IranTime) }},
		{Column: export.Column{Key: "overdue", Fa: "معوق", En: "Overdue", Type: export.Bool},
			value: func(c *inspector.Complaint, now time.Time) any { return c.Overdue(now) }},
		text("inspector_id", "شناسه بازرس", "Inspector id", assignment(func(a *inspector.Assignment) string { return a.InspectorID })),
		text("mode", "شیوه رسیدگی", "Mode", assignment(func(a *inspector.Assignment) string { return string(a.Mode) })),
		text("outcome", "نتیجه", "Outcome", func(c *inspector.Complaint) string {
			if c.Outcome == nil {
				return ""
			}
			return string(c.Outcome.Value)
		}),
	}
	if role.SeesCaller() {
		caller := func(v func(*inspector.Caller) string) func(c *inspector.Complaint) string {
			return func(c *inspector.Complaint) string {
				if c.Caller == nil {
					return ""
				}
				return v(c.Caller)
			}
		}
		cols = append(cols,
			text("caller_name", "نام تماس‌گیرنده", "Caller name", caller(func(cl *inspector.Caller) string { return cl.Name })),
			text("caller_phone", "تلفن تماس‌گیرنده", "Caller phone", caller(func(cl *inspector.Caller) string { return inspector.NormalizePhone(cl.Phone) })))
	}
	return cols
}

// complaintRows reads the complaints matching f a page at a time and yields
// each as a row of cols, redacted for role (a second guard beside the
// columns). It stops between pages once the client has gone.
func (s *Server) complaintRows(ctx context.Context, f favsync.ComplaintFilter, role inspector.Role, cols []complaintColumn, now time.Time) export.Rows {
	return func(yield func([]any) error) error {
		f.Limit, f.Cursor = exportPage, ""
		row := make([]any, len(cols))
		for {
			items, next, err := s.store.ListComplaints(f)
			if err != nil {
				return err
			}
			for i := range items {
				cp := items[i].Redacted(role)
				for j, col := range cols {
					row[j] = col.value(&cp, now)
				}
				if err := yield(row); err != nil {
					return err
				}
			}
			if next == "" {
				return nil
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			f.Cursor = next
		}
	}
}

// download is the body of a file download. Its headers are set at the first
// write, so that an export that fails before writing anything is answered
// with a problem document rather than an empty attachment.
type download struct {
	c                     echo.Context
	contentType, filename string
}

func (d *download) Write(p []byte) (int, error) {
	r := d.c.Response()
	if !r.Committed {
		h := r.Header()
		h.Set(echo.HeaderContentType, d.contentType)
		h.Set(echo.HeaderContentDisposition, fmt.Sprintf("attachment; filename=%q", d.filename))
		h.Set("Cache-Control", "no-store") // caller names and phones must not sit in a shared cache
		h.Set("X-Content-Type-Options", "nosniff")
		r.WriteHeader(http.StatusOK)
	}
	return r.Write(p)
}
