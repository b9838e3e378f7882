package reports

import (
	"time"

	"github.com/favad/favad/inspector"
)

// Filter selects what a report covers. Complaints are selected by call
// time, findings by when they were observed, visits and calls by when they
// were made, all in [From, To). Empty fields match all. Codes compare
// case-insensitively, the province as normalised text.
type Filter struct {
	From, To   time.Time
	Province   string
	AgencyCode string
	OfficeCode string
	Category   inspector.Category
}

// CategoryCounts counts complaints by category.
type CategoryCounts struct {
	AbsentEmployee int `json:"absent_employee"`
	NonWork        int `json:"non_work_activity"`
	ClientCrowding int `json:"client_crowding"`
	Other          int `json:"other"`
}

func (c *CategoryCounts) add(code uint8) {
	switch code {
	case catAbsent:
		c.AbsentEmployee++
	case catNonWork:
		c.NonWork++
	case catCrowding:
		c.ClientCrowding++
	default:
		c.Other++
	}
}

var (
	catAbsent   = categoryCode(inspector.CategoryAbsentEmployee)
	catNonWork  = categoryCode(inspector.CategoryNonWork)
	catCrowding = categoryCode(inspector.CategoryClientCrowding)
)

// ChannelCounts counts complaints by how they were first routed: to a field
// inspector, a phone inspector, or back to the workplace; unrouted ones are
// not routed yet (or were withdrawn first).
type ChannelCounts struct {
	Field    int `json:"field"`
	Phone    int `json:"phone"`
	Referral int `json:"referral"`
	Unrouted int `json:"unrouted"`
}

func (c *ChannelCounts) add(ch uint8) {
	switch ch {
	case chanField:
		c.Field++
	case chanPhone:
		c.Phone++
	case chanReferral:
		c.Referral++
	default:
		c.Unrouted++
	}
}

// OutcomeCounts counts outcomes by value.
type OutcomeCounts struct {
	Substantiated         int `json:"substantiated"`
	NotSubstantiated      int `json:"not_substantiated"`
	ResolvedOnSpot        int `json:"resolved_on_spot"`
	ReferredForDiscipline int `json:"referred_for_discipline"`
}

func (c *OutcomeCounts) add(o uint8) {
	switch o {
	case 1:
		c.Substantiated++
	case 2:
		c.NotSubstantiated++
	case 3:
		c.ResolvedOnSpot++
	case 4:
		c.ReferredForDiscipline++
	}
}

// Total is the number of outcomes.
func (c OutcomeCounts) Total() int {
	return c.Substantiated + c.NotSubstantiated + c.ResolvedOnSpot + c.ReferredForDiscipline
}

// Durations summarises times in seconds: how many, their median and 90th
// percentile (nearest rank). Median and P90 are absent when Count is 0.
type Durations struct {
	Count  int    `json:"count"`
	Median *int64 `json:"median_s,omitempty"`
	P90    *int64 `json:"p90_s,omitempty"`
}

func durations(v []int64) Durations {
	d := Durations{Count: len(v)}
	if m, p, ok := percentiles(v); ok {
		d.Median, d.P90 = &m, &p
	}
	return d
}

// SLAFigures are the complaints' service-level figures. Due counts the
// complaints that are measured: not withdrawn, and with an outcome or past
// their due time. Within counts those with an outcome at or before their due
// time; WithinShare is Within/Due, absent when Due is 0. Breaches counts the
// sla_breached entries of the log (the SLA worker's, once per due time).
type SLAFigures struct {
	Breaches    int      `json:"breaches"`
	Due         int      `json:"due"`
	Within      int      `json:"within"`
	WithinShare *float64 `json:"within_share,omitempty"`
}

// ReferralFigures count complaints referred to the workplace: their last
// referral answered by the office, or overdue (an sla_breached entry for the
// referral, or past its due time without an answer while the complaint is
// still with the office; a referral dispatch pulled back is owed no more).
type ReferralFigures struct {
	Referred int `json:"referred"`
	Answered int `json:"answered"`
	Overdue  int `json:"overdue"`
}

// AbsenteeCounts count absent staff by reason.
type AbsenteeCounts struct {
	Leave     int `json:"leave"`
	Mission   int `json:"mission"`
	Unexcused int `json:"unexcused"`
	Unknown   int `json:"unknown"`
}

// Attendance is what inspectors' findings say of the offices: staff expected
// and present (AbsenceRate = 1 - present/expected, absent when none were
// expected), absentees by reason, non-work activities seen, and clients
// found waiting (median by nearest rank, and maximum; absent without
// findings).
type Attendance struct {
	Findings             int            `json:"findings"`
	StaffExpected        int            `json:"staff_expected"`
	StaffPresent         int            `json:"staff_present"`
	AbsenceRate          *float64       `json:"absence_rate,omitempty"`
	Absentees            AbsenteeCounts `json:"absentees"`
	NonWorkActivities    int            `json:"non_work_activities"`
	ClientsWaitingMedian *int64         `json:"clients_waiting_median,omitempty"`
	ClientsWaitingMax    *int64         `json:"clients_waiting_max,omitempty"`
}

// Figures are one agency's or one office's figures for the filter.
// SubstantiatedRate is substantiated outcomes (substantiated,
// resolved_on_spot, referred_for_discipline) over all outcomes, absent
// without outcomes. The durations run from the call to the first routing,
// to the first action (check-in or call record), and to the outcome.
type Figures struct {
	Complaints        int             `json:"complaints"`
	ByCategory        CategoryCounts  `json:"by_category"`
	ByChannel         ChannelCounts   `json:"by_channel"`
	Outcomes          OutcomeCounts   `json:"outcomes"`
	SubstantiatedRate *float64        `json:"substantiated_rate,omitempty"`
	ToFirstRouting    Durations       `json:"to_first_routing"`
	ToFirstAction     Durations       `json:"to_first_action"`
	ToOutcome         Durations       `json:"to_outcome"`
	SLA               SLAFigures      `json:"sla"`
	Referrals         ReferralFigures `json:"referrals"`
	Attendance        Attendance      `json:"attendance"`
}

// AgencyRow is one agency's line of the agencies report.
type AgencyRow struct {
	AgencyCode string `json:"agency_code"`
	Figures
}

// OfficeRow is one office's line of the offices report.
type OfficeRow struct {
	OfficeCode string `json:"office_code"`
	AgencyCode string `json:"agency_code"`
	Province   string `json:"province"`
	Figures
}

// RepeatOffender is an office with many substantiated complaints in the
// window, with the count in the window before it of the same length.
type RepeatOffender struct {
	OfficeCode    string `json:"office_code"`
	AgencyCode    string `json:"agency_code"`
	Province      string `json:"province"`
	Complaints    int    `json:"complaints"`
	Substantiated int    `json:"substantiated"`
	Previous      int    `json:"previous"`
	Change        int    `json:"change"`
}

// RepeatOffenders is the repeat-offenders report: the window [From, To),
// the one before it [PreviousFrom, From), the threshold, and the offices at
// or above it, most substantiated complaints first.
type RepeatOffenders struct {
	From             time.Time        `json:"from"`
	To               time.Time        `json:"to"`
	PreviousFrom     time.Time        `json:"previous_from"`
	MinSubstantiated int              `json:"min_substantiated"`
	Items            []RepeatOffender `json:"items"`
}

// InspectorRow is one inspector's line of the inspectors report. Open is
// their current workload (assigned or in progress now, whatever the dates;
// the other filters apply); Visits and Calls are those they made in the
// period; Outcomes and AssignmentToOutcome concern the outcomes they
// recorded on complaints called in the period (from their assignment to
// the outcome).
type InspectorRow struct {
	InspectorID         string        `json:"inspector_id"`
	Open                int           `json:"open"`
	Visits              int           `json:"visits"`
	Calls               int           `json:"calls"`
	Outcomes            OutcomeCounts `json:"outcomes"`
	AssignmentToOutcome Durations     `json:"assignment_to_outcome"`
}

// Point is one period of a time series: a day (Label is its Iran-local
// Gregorian date, "2026-03-21") or a Solar Hijri month (Label "1405-01").
// Date is the Gregorian date of its first day, Jalali its Solar Hijri date
// ("1405-01-01", or the month "1405-01"), Start the moment it begins
// (midnight in Iran). Outcomes counts the complaints called in the period
// that have an outcome now, by value.
type Point struct {
	Label      string         `json:"label"`
	Date       string         `json:"date"`
	Jalali     string         `json:"jalali"`
	Start      time.Time      `json:"start"`
	Complaints int            `json:"complaints"`
	ByCategory CategoryCounts `json:"by_category"`
	Outcomes   OutcomeCounts  `json:"outcomes"`
}

// Series granularities for TimeSeries.
const (
	ByDay   = "day"
	ByMonth = "month"
)
