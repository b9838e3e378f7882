package server

import (
	"fmt"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/favad/favad/export"
	"github.com/favad/favad/inspector"
	"github.com/favad/favad/reports"
	favsync "github.com/favad/favad/sync"
)

// A report is exported (format=csv or xlsx) with the same figures as its
// JSON, one column per figure, and the names of agencies, offices and
// inspectors beside their codes, for the people who open the file.

// reportColumn is one column of a report export and how to read it from a row.
type reportColumn[T any] struct {
	export.Column
	value func(*T) any
}

func col[T any](key, fa, en string, typ export.ColumnType, value func(*T) any) reportColumn[T] {
	return reportColumn[T]{Column: export.Column{Key: key, Fa: fa, En: en, Type: typ}, value: value}
}

// figureColumns are the columns of an agency's or an office's figures.
func figureColumns[T any](fig func(*T) *reports.Figures) []reportColumn[T] {
	i := func(key, fa, en string, v func(*reports.Figures) any) reportColumn[T] {
		return col(key, fa, en, export.Int, func(r *T) any { return v(fig(r)) })
	}
	dur := func(key, fa, en string, d func(*reports.Figures) reports.Durations) []reportColumn[T] {
		return []reportColumn[T]{
			i(key+"_median_s", fa+" (میانه، ثانیه)", en+" (median, s)", func(f *reports.Figures) any { return d(f).Median }),
			i(key+"_p90_s", fa+" (صدک ۹۰، ثانیه)", en+" (p90, s)", func(f *reports.Figures) any { return d(f).P90 }),
		}
	}
	cols := []reportColumn[T]{
		i("complaints", "شکایات", "Complaints", func(f *reports.Figures) any { return f.Complaints }),
		i("absent_employee", "غیبت کارمند", "Absent employee", func(f *reports.Figures) any { return f.ByCategory.AbsentEmployee }),
		i("non_work_activity", "کار غیراداری", "Non-work activity", func(f *reports.Figures) any { return f.ByCategory.NonWork }),
		i("client_crowding", "ازدحام مراجعان", "Client crowding", func(f *reports.Figures) any { return f.ByCategory.ClientCrowding }),
		i("other", "سایر", "Other", func(f *reports.Figures) any { return f.ByCategory.Other }),
		i("channel_field", "نخستین ارجاع: بازرسی حضوری", "Field inspection", func(f *reports.Figures) any { return f.ByChannel.Field }),
		i("channel_phone", "نخستین ارجاع: بازرسی تلفنی", "Phone inspection", func(f *reports.Figures) any { return f.ByChannel.Phone }),
		i("channel_referral", "نخستین ارجاع: به دستگاه", "Referred to the office", func(f *reports.Figures) any { return f.ByChannel.Referral }),
		i("unrouted", "ارجاع‌نشده", "Not routed", func(f *reports.Figures) any { return f.ByChannel.Unrouted }),
		i("substantiated", "تأییدشده", "Substantiated", func(f *reports.Figures) any { return f.Outcomes.Substantiated }),
		i("not_substantiated", "تأییدنشده", "Not substantiated", func(f *reports.Figures) any { return f.Outcomes.NotSubstantiated }),
		i("resolved_on_spot", "رفع در محل", "Resolved on the spot", func(f *reports.Figures) any { return f.Outcomes.ResolvedOnSpot }),
		i("referred_for_discipline", "ارجاع انضباطی", "Referred for discipline", func(f *reports.Figures) any { return f.Outcomes.ReferredForDiscipline }),
		col("substantiated_rate", "نرخ تأیید", "Substantiated rate", export.Percent, func(r *T) any { return fig(r).SubstantiatedRate }),
	}
	cols = append(cols, dur("to_first_routing", "تا اولین ارجاع", "To first routing", func(f *reports.Figures) reports.Durations { return f.ToFirstRouting })...)
	cols = append(cols, dur("to_first_action", "تا اولین اقدام", "To first action", func(f *reports.Figures) reports.Durations { return f.ToFirstAction })...)
	cols = append(cols, dur("to_outcome", "تا نتیجه", "To outcome", func(f *reports.Figures) reports.Durations { return f.ToOutcome })...)
	cols = append(cols,
		i("sla_breaches", "نقض مهلت", "SLA breaches", func(f *reports.Figures) any { return f.SLA.Breaches }),
		i("sla_due", "سررسیدشده", "Due", func(f *reports.Figures) any { return f.SLA.Due }),
		i("sla_within", "در مهلت", "Within SLA", func(f *reports.Figures) any { return f.SLA.Within }),
		col("sla_within_share", "سهم در مهلت", "Share within SLA", export.Percent, func(r *T) any { return fig(r).SLA.WithinShare }),
		i("referrals", "ارجاع‌ها به دستگاه (همه)", "Referrals", func(f *reports.Figures) any { return f.Referrals.Referred }),
		i("referrals_answered", "پاسخ‌داده", "Referrals answered", func(f *reports.Figures) any { return f.Referrals.Answered }),
		i("referrals_overdue", "پاسخ معوق", "Referrals overdue", func(f *reports.Figures) any { return f.Referrals.Overdue }),
		i("findings", "گزارش‌های حضور", "Findings", func(f *reports.Figures) any { return f.Attendance.Findings }),
		i("staff_expected", "کارکنان موظف", "Staff expected", func(f *reports.Figures) any { return f.Attendance.StaffExpected }),
		i("staff_present", "کارکنان حاضر", "Staff present", func(f *reports.Figures) any { return f.Attendance.StaffPresent }),
		col("absence_rate", "نرخ غیبت", "Absence rate", export.Percent, func(r *T) any { return fig(r).Attendance.AbsenceRate }),
		i("absent_leave", "غایب: مرخصی", "Absent: leave", func(f *reports.Figures) any { return f.Attendance.Absentees.Leave }),
		i("absent_mission", "غایب: مأموریت", "Absent: mission", func(f *reports.Figures) any { return f.Attendance.Absentees.Mission }),
		i("absent_unexcused", "غایب: بدون مجوز", "Absent: unexcused", func(f *reports.Figures) any { return f.Attendance.Absentees.Unexcused }),
		i("absent_unknown", "غایب: نامشخص", "Absent: unknown", func(f *reports.Figures) any { return f.Attendance.Absentees.Unknown }),
		i("non_work_activities", "کار غیراداری دیده‌شده", "Non-work activities seen", func(f *reports.Figures) any { return f.Attendance.NonWorkActivities }),
		i("clients_waiting_median", "مراجعان منتظر (میانه)", "Clients waiting (median)", func(f *reports.Figures) any { return f.Attendance.ClientsWaitingMedian }),
		i("clients_waiting_max", "مراجعان منتظر (بیشینه)", "Clients waiting (max)", func(f *reports.Figures) any { return f.Attendance.ClientsWaitingMax }),
	)
	return cols
}

// names are the display names of codes and ids, read once per export.
type names struct{ agencies, offices, users map[string]string }

// reportNames reads the names in lang: an agency's English name in English
// where it has one.
func (s *Server) reportNames(lang string) (names, error) {
	n := names{agencies: map[string]string{}, offices: map[string]string{}, users: map[string]string{}}
	agencies, err := s.store.Agencies(true)
	if err != nil {
		return n, err
	}
	for _, a := range agencies {
		n.agencies[a.Code] = a.NameFa
		if lang == export.English && a.NameEn != "" {
			n.agencies[a.Code] = a.NameEn
		}
	}
	offices, err := s.store.Offices(favsync.OfficeFilter{IncludeDeleted: true})
	if err != nil {
		return n, err
	}
	for _, o := range offices {
		n.offices[o.Code] = o.NameFa
	}
	users, err := s.store.Users(inspector.RoleInspector)
	if err != nil {
		return n, err
	}
	for _, u := range users {
		n.users[u.ID] = u.DisplayName
	}
	return n, nil
}

// sendReport streams rows as a file of the report named name when format
// is csv or xlsx; done is false for json.
func sendReport[T any](s *Server, c echo.Context, name, format, lang string, rows []T, columns func(names) []reportColumn[T]) (done bool, err error) {
	if format == "json" {
		return false, nil
	}
	n, err := s.reportNames(lang)
	if err != nil {
		return false, err
	}
	cols := columns(n)
	headers := make([]export.Column, len(cols))
	for i, c := range cols {
		headers[i] = c.Column
	}
	table := export.Rows(func(yield func([]any) error) error {
		row := make([]any, len(cols))
		for i := range rows {
			for j, c := range cols {
				row[j] = c.value(&rows[i])
			}
			if err := yield(row); err != nil {
				return err
			}
		}
		return nil
	})
	now := s.cfg.Now().In(inspector.IranTime)
	file := fmt.Sprintf("%s-%s.%s", name, now.Format(time.DateOnly), format)
	return true, s.sendTable(c, format, file, export.Sheet{Name: export.SheetName(name), Columns: headers, Lang: lang, Rows: table})
}

// exportParams reads format (csv or xlsx, and json when withJSON; the
// default json when withJSON, else csv) and lang (fa or en; default fa),
// adding any problem to p.
func exportParams(c echo.Context, p *inspector.Problems, withJSON bool) (format, lang string) {
	format, allowed := c.QueryParam("format"), "csv or xlsx"
	if withJSON {
		allowed = "json, csv or xlsx"
	}
	switch {
	case format == "" && withJSON:
		format = "json"
	case format == "":
		format = "csv"
	}
	if _, ok := exportTypes[format]; !ok && !(withJSON && format == "json") {
		p.Add("format", "invalid", allowed)
	}
	lang = c.QueryParam("lang")
	if lang == "" {
		lang = export.Persian
	}
	if lang != export.Persian && lang != export.English {
		p.Add("lang", "invalid", "fa or en")
	}
	return format, lang
}

func agencyColumns(n names) []reportColumn[reports.AgencyRow] {
	return append([]reportColumn[reports.AgencyRow]{
		col("agency_code", "کد دستگاه", "Agency code", export.Text, func(r *reports.AgencyRow) any { return r.AgencyCode }),
		col("agency_name", "دستگاه", "Agency", export.Text, func(r *reports.AgencyRow) any { return n.agencies[r.AgencyCode] }),
	}, figureColumns(func(r *reports.AgencyRow) *reports.Figures { return &r.Figures })...)
}

func officeColumns(n names) []reportColumn[reports.OfficeRow] {
	return append([]reportColumn[reports.OfficeRow]{
		col("office_code", "کد اداره", "Office code", export.Text, func(r *reports.OfficeRow) any { return r.OfficeCode }),
		col("office_name", "اداره", "Office", export.Text, func(r *reports.OfficeRow) any { return n.offices[r.OfficeCode] }),
		col("agency_code", "کد دستگاه", "Agency code", export.Text, func(r *reports.OfficeRow) any { return r.AgencyCode }),
		col("agency_name", "دستگاه", "Agency", export.Text, func(r *reports.OfficeRow) any { return n.agencies[r.AgencyCode] }),
		col("province", "استان", "Province", export.Text, func(r *reports.OfficeRow) any { return r.Province }),
	}, figureColumns(func(r *reports.OfficeRow) *reports.Figures { return &r.Figures })...)
}

func inspectorColumns(n names) []reportColumn[reports.InspectorRow] {
	i := func(key, fa, en string, v func(*reports.InspectorRow) any) reportColumn[reports.InspectorRow] {
		return col(key, fa, en, export.Int, v)
	}
	return []reportColumn[reports.InspectorRow]{
		col("inspector_id", "شناسه بازرس", "Inspector id", export.Text, func(r *reports.InspectorRow) any { return r.InspectorID }),
		col("inspector_name", "بازرس", "Inspector", export.Text, func(r *reports.InspectorRow) any { return n.users[r.InspectorID] }),
		i("open", "کار باز", "Open", func(r *reports.InspectorRow) any { return r.Open }),
		i("visits", "بازدیدها", "Visits", func(r *reports.InspectorRow) any { return r.Visits }),
		i("calls", "تماس‌ها", "Calls", func(r *reports.InspectorRow) any { return r.Calls }),
		i("substantiated", "تأییدشده", "Substantiated", func(r *reports.InspectorRow) any { return r.Outcomes.Substantiated }),
		i("not_substantiated", "تأییدنشده", "Not substantiated", func(r *reports.InspectorRow) any { return r.Outcomes.NotSubstantiated }),
		i("resolved_on_spot", "رفع در محل", "Resolved on the spot", func(r *reports.InspectorRow) any { return r.Outcomes.ResolvedOnSpot }),
		i("referred_for_discipline", "ارجاع انضباطی", "Referred for discipline", func(r *reports.InspectorRow) any { return r.Outcomes.ReferredForDiscipline }),
		i("assignment_to_outcome_median_s", "ارجاع تا نتیجه (میانه، ثانیه)", "Assignment to outcome (median, s)", func(r *reports.InspectorRow) any { return r.AssignmentToOutcome.Median }),
		i("assignment_to_outcome_p90_s", "ارجاع تا نتیجه (صدک ۹۰، ثانیه)", "Assignment to outcome (p90, s)", func(r *reports.InspectorRow) any { return r.AssignmentToOutcome.P90 }),
	}
}

func offenderColumns(n names) []reportColumn[reports.RepeatOffender] {
	i := func(key, fa, en string, v func(*reports.RepeatOffender) any) reportColumn[reports.RepeatOffender] {
		return col(key, fa, en, export.Int, v)
	}
	return []reportColumn[reports.RepeatOffender]{
		col("office_code", "کد اداره", "Office code", export.Text, func(r *reports.RepeatOffender) any { return r.OfficeCode }),
		col("office_name", "اداره", "Office", export.Text, func(r *reports.RepeatOffender) any { return n.offices[r.OfficeCode] }),
		col("agency_code", "کد دستگاه", "Agency code", export.Text, func(r *reports.RepeatOffender) any { return r.AgencyCode }),
		col("agency_name", "دستگاه", "Agency", export.Text, func(r *reports.RepeatOffender) any { return n.agencies[r.AgencyCode] }),
		col("province", "استان", "Province", export.Text, func(r *reports.RepeatOffender) any { return r.Province }),
		i("complaints", "شکایات", "Complaints", func(r *reports.RepeatOffender) any { return r.Complaints }),
		i("substantiated", "تأییدشده", "Substantiated", func(r *reports.RepeatOffender) any { return r.Substantiated }),
		i("previous", "دوره قبل", "Previous window", func(r *reports.RepeatOffender) any { return r.Previous }),
		i("change", "تغییر", "Change", func(r *reports.RepeatOffender) any { return r.Change }),
	}
}

func pointColumns() []reportColumn[reports.Point] {
	i := func(key, fa, en string, v func(*reports.Point) any) reportColumn[reports.Point] {
		return col(key, fa, en, export.Int, v)
	}
	return []reportColumn[reports.Point]{
		col("jalali", "تاریخ (شمسی)", "Solar Hijri", export.Text, func(r *reports.Point) any { return r.Jalali }),
		col("date", "تاریخ (میلادی)", "Date", export.Text, func(r *reports.Point) any { return r.Date }),
		i("complaints", "شکایات", "Complaints", func(r *reports.Point) any { return r.Complaints }),
		i("absent_employee", "غیبت کارمند", "Absent employee", func(r *reports.Point) any { return r.ByCategory.AbsentEmployee }),
		i("non_work_activity", "کار غیراداری", "Non-work activity", func(r *reports.Point) any { return r.ByCategory.NonWork }),
		i("client_crowding", "ازدحام مراجعان", "Client crowding", func(r *reports.Point) any { return r.ByCategory.ClientCrowding }),
		i("other", "سایر", "Other", func(r *reports.Point) any { return r.ByCategory.Other }),
		i("substantiated", "تأییدشده", "Substantiated", func(r *reports.Point) any { return r.Outcomes.Substantiated }),
		i("not_substantiated", "تأییدنشده", "Not substantiated", func(r *reports.Point) any { return r.Outcomes.NotSubstantiated }),
		i("resolved_on_spot", "رفع در محل", "Resolved on the spot", func(r *reports.Point) any { return r.Outcomes.ResolvedOnSpot }),
		i("referred_for_discipline", "ارجاع انضباطی", "Referred for discipline", func(r *reports.Point) any { return r.Outcomes.ReferredForDiscipline }),
	}
}
