package server

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/favad/favad/inspector"
	"github.com/favad/favad/reports"
)

// Reports is what the report routes read: the aggregates package reports
// keeps from the change log (*reports.Aggregator). Its answers never fail;
// they reflect the changes applied so far (Behind).
type Reports interface {
	ByAgency(f reports.Filter) []reports.AgencyRow
	ByOffice(f reports.Filter) []reports.OfficeRow
	RepeatOffenders(f reports.Filter, minSubstantiated int, window time.Duration) reports.RepeatOffenders
	ByInspector(f reports.Filter) []reports.InspectorRow
	// TimeSeries returns an error only for a by other than day or month,
	// or a period outside the years 1800 to 2800.
	TimeSeries(f reports.Filter, by string) ([]reports.Point, error)
	// Behind returns the last change applied and the head of the log.
	Behind() (applied, head uint64)
}

var _ Reports = (*reports.Aggregator)(nil)

// Limits of the report routes.
const (
	// DefaultReportPeriod is the period of a report without from and to.
	DefaultReportPeriod = 30 * 24 * time.Hour
	// MaxReportPeriod is the longest period a report covers: two years.
	MaxReportPeriod = 731 * 24 * time.Hour
	// minReportYear and maxReportYear bound the times a report takes,
	// well inside what the Solar Hijri conversion supports.
	minReportYear, maxReportYear = 1900, 2300
)

// reportAnswer is the envelope of the agency, office and inspector
// reports. AsOfSeq is the change-log sequence the figures include at least;
// CatchingUp says the aggregates are still behind the log's head (after a
// start, or a burst of writes).
type reportAnswer[T any] struct {
	From       time.Time `json:"from"`
	To         time.Time `json:"to"`
	AsOfSeq    uint64    `json:"as_of_seq"`
	CatchingUp bool      `json:"catching_up"`
	Items      []T       `json:"items"`
}

type repeatOffendersAnswer struct {
	From             time.Time                `json:"from"`
	To               time.Time                `json:"to"`
	PreviousFrom     time.Time                `json:"previous_from"`
	MinSubstantiated int                      `json:"min_substantiated"`
	WindowSeconds    int64                    `json:"window_s"`
	AsOfSeq          uint64                   `json:"as_of_seq"`
	CatchingUp       bool                     `json:"catching_up"`
	Items            []reports.RepeatOffender `json:"items"`
}

type timeSeriesAnswer struct {
	From       time.Time       `json:"from"`
	To         time.Time       `json:"to"`
	By         string          `json:"by"`
	AsOfSeq    uint64          `json:"as_of_seq"`
	CatchingUp bool            `json:"catching_up"`
	Points     []reports.Point `json:"points"`
}

// reportSource returns the configured reports, or a 503 unavailable.
func (s *Server) reportSource() (Reports, uint64, bool, error) {
	if s.cfg.Reports == nil {
		return nil, 0, false, inspector.Errorf(codeUnavailable, "reports are not available on this server")
	}
	applied, head := s.cfg.Reports.Behind()
	return s.cfg.Reports, applied, applied < head, nil
}

func (s *Server) reportAgencies(c echo.Context) error {
	return serveRows(s, c, "agencies", Reports.ByAgency, agencyColumns)
}

func (s *Server) reportOffices(c echo.Context) error {
	return serveRows(s, c, "offices", Reports.ByOffice, officeColumns)
}

func (s *Server) reportInspectors(c echo.Context) error {
	return serveRows(s, c, "inspectors", Reports.ByInspector, inspectorColumns)
}

func serveRows[T any](s *Server, c echo.Context, name string, query func(Reports, reports.Filter) []T, cols func(names) []reportColumn[T]) error {
	f, err := reportFilter(c, s.cfg.Now(), true)
	if err != nil {
		return err
	}
	var p inspector.Problems
	format, lang := exportParams(c, &p, true)
	if err := p.Err(); err != nil {
		return err
	}
	src, asOf, behind, err := s.reportSource()
	if err != nil {
		return err
	}
	rows := query(src, f)
	if done, err := sendReport(s, c, name, format, lang, rows, cols); done || err != nil {
		return err
	}
	return c.JSON(http.StatusOK, reportAnswer[T]{From: f.From.UTC(), To: f.To.UTC(), AsOfSeq: asOf, CatchingUp: behind, Items: rows})
}

func (s *Server) reportRepeatOffenders(c echo.Context) error {
	f, err := reportFilter(c, s.cfg.Now(), false)
	if err != nil {
		return err
	}
	var p inspector.Problems
	minimum, err := queryInt(c, "min", reports.DefaultMinSubstantiated, 1, 10000)
	if err != nil {
		return err
	}
	window := reports.DefaultWindow
	if raw := c.QueryParam("window"); raw != "" {
		if window, err = parseWindow(raw); err != nil {
			p.Add("window", "invalid", "a number of days such as 90d, or a duration such as 720h, up to two years")
		}
	}
	format, lang := exportParams(c, &p, true)
	if err := p.Err(); err != nil {
		return err
	}
	src, asOf, behind, err := s.reportSource()
	if err != nil {
		return err
	}
	r := src.RepeatOffenders(f, minimum, window)
	if done, err := sendReport(s, c, "repeat-offenders", format, lang, r.Items, offenderColumns); done || err != nil {
		return err
	}
	return c.JSON(http.StatusOK, repeatOffendersAnswer{From: r.From, To: r.To, PreviousFrom: r.PreviousFrom, MinSubstantiated: r.MinSubstantiated,
		WindowSeconds: int64(window / time.Second), AsOfSeq: asOf, CatchingUp: behind, Items: r.Items})
}

func (s *Server) reportTimeSeries(c echo.Context) error {
	f, err := reportFilter(c, s.cfg.Now(), true)
	if err != nil {
		return err
	}
	by := c.QueryParam("by")
	if by == "" {
		by = reports.ByDay
	}
	if by != reports.ByDay && by != reports.ByMonth {
		return (&inspector.Problems{{Field: "by", Code: "invalid", Message: "day or month (Solar Hijri)"}}).Err()
	}
	var p inspector.Problems
	format, lang := exportParams(c, &p, true)
	if err := p.Err(); err != nil {
		return err
	}
	src, asOf, behind, err := s.reportSource()
	if err != nil {
		return err
	}
	points, err := src.TimeSeries(f, by)
	if err != nil {
		return err
	}
	if done, err := sendReport(s, c, "timeseries-"+by, format, lang, points, func(names) []reportColumn[reports.Point] { return pointColumns() }); done || err != nil {
		return err
	}
	return c.JSON(http.StatusOK, timeSeriesAnswer{From: f.From.UTC(), To: f.To.UTC(), By: by, AsOfSeq: asOf, CatchingUp: behind, Points: points})
}

// reportFilter reads the common query parameters of the reports: from and
// to (RFC 3339, or a date YYYY-MM-DD in Iran time: from its midnight, to
// the end of that day), by default the 30 days to now, at most two years
// apart; province, agency, office and category. Without withFrom (the
// repeat-offenders report, whose window runs back from to), from is not read.
func reportFilter(c echo.Context, now time.Time, withFrom bool) (reports.Filter, error) {
	var p inspector.Problems
	bad := map[string]bool{} // fields whose value did not parse
	f := reports.Filter{To: now, Province: strings.TrimSpace(c.QueryParam("province")),
		AgencyCode: strings.TrimSpace(c.QueryParam("agency")), OfficeCode: strings.TrimSpace(c.QueryParam("office")),
		Category: inspector.Category(c.QueryParam("category"))}
	if raw := c.QueryParam("to"); raw != "" {
		t, err := parseReportTime(raw, true)
		if err != nil {
			p.Add("to", "invalid", "an RFC 3339 time or a date YYYY-MM-DD, Gregorian or Solar Hijri")
			bad["to"] = true
		} else {
			f.To = t
		}
	}
	f.From = f.To.Add(-DefaultReportPeriod)
	if raw := c.QueryParam("from"); withFrom && raw != "" {
		t, err := parseReportTime(raw, false)
		if err != nil {
			p.Add("from", "invalid", "an RFC 3339 time or a date YYYY-MM-DD, Gregorian or Solar Hijri")
			bad["from"] = true
		} else {
			f.From = t
		}
	}
	// Each field that parsed is checked on its own, so that every field at
	// fault is named.
	for _, b := range []struct {
		field string
		t     time.Time
	}{{"from", f.From}, {"to", f.To}} {
		if bad[b.field] || !(b.field == "to" || withFrom) {
			continue
		}
		if y := b.t.Year(); y < minReportYear || y > maxReportYear {
			msg := fmt.Sprintf("a time from the year %d to %d", minReportYear, maxReportYear)
			if y >= 1300 && y < 1500 {
				msg += fmt.Sprintf(" (%d looks like a Solar Hijri year: a Solar Hijri date is taken as a date, YYYY-MM-DD, not as a time)", y)
			}
			p.Add(b.field, "out_of_range", msg)
		}
	}
	if len(p) == 0 && withFrom {
		switch {
		case !f.From.Before(f.To):
			p.Add("to", "before_from", "to must be after from")
		case f.To.Sub(f.From) > MaxReportPeriod:
			p.Add("to", "range_too_long", "a report covers at most two years")
		}
	}
	if f.Category != "" && !f.Category.Valid() {
		p.Add("category", "invalid", "one of absent_employee, non_work_activity, client_crowding, other")
	}
	return f, p.Err()
}

// parseReportTime reads an RFC 3339 time or an Iran-local date, Gregorian
// or Solar Hijri (a year from 1300 to 1499 is Solar Hijri: no report
// reaches back to those Gregorian years), with - or / between its parts;
// a date as the end of a period stands for the end of that day.
func parseReportTime(raw string, end bool) (time.Time, error) {
	raw = inspector.NormalizeDigits(strings.TrimSpace(raw))
	if t, err := time.Parse(time.RFC3339, raw); err == nil {
		return t, nil
	}
	date := strings.ReplaceAll(raw, "/", "-")
	var d time.Time
	var y, m, day int
	if n, err := fmt.Sscanf(date, "%4d-%2d-%2d", &y, &m, &day); err == nil && n == 3 && len(date) == len("1405-09-01") && y >= 1300 && y < 1500 {
		if m < 1 || m > 12 || day < 1 || day > inspector.JalaliMonthDays(y, m) {
			return time.Time{}, fmt.Errorf("%s is not a Solar Hijri date", raw)
		}
		d = inspector.FromJalali(y, m, day)
	} else {
		var err error
		if d, err = time.ParseInLocation(time.DateOnly, date, inspector.IranTime); err != nil {
			return time.Time{}, err
		}
	}
	if end {
		d = d.AddDate(0, 0, 1)
	}
	return d, nil
}

// parseWindow reads "90d" (days) or a Go duration ("720h"), positive and at
// most two years.
func parseWindow(raw string) (time.Duration, error) {
	raw = inspector.NormalizeDigits(strings.TrimSpace(raw))
	var d time.Duration
	if days, ok := strings.CutSuffix(raw, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil {
			return 0, err
		}
		d = time.Duration(n) * 24 * time.Hour
		if n > int(MaxReportPeriod/(24*time.Hour)) {
			d = MaxReportPeriod + 1
		}
	} else {
		var err error
		if d, err = time.ParseDuration(raw); err != nil {
			return 0, err
		}
	}
	if d <= 0 || d > MaxReportPeriod {
		return 0, fmt.Errorf("window %s out of range", raw)
	}
	return d, nil
}
