package inspector

import (
	"fmt"
	"time"
)

// IranTime is Iran Standard Time, a fixed UTC+03:30. Iran abolished daylight
// saving time in 2022 (the law of 1401), so a fixed zone is exact for every
// date FAVAD holds, and it does not depend on the host's tz database. Dates
// before 2022 would be off by an hour in summer; FAVAD has none.
var IranTime = time.FixedZone("IRST", 3*3600+30*60)

// PersianMonths are the names of the twelve Solar Hijri months, Farvardin first.
var PersianMonths = [12]string{
	"فروردین", "اردیبهشت", "خرداد", "تیر", "مرداد", "شهریور",
	"مهر", "آبان", "آذر", "دی", "بهمن", "اسفند",
}

// PersianMonthName returns the Persian name of Solar Hijri month m (1–12),
// or "" for any other m.
func PersianMonthName(m int) string {
	if m < 1 || m > 12 {
		return ""
	}
	return PersianMonths[m-1]
}

// jalaliBreaks are the years (Solar Hijri) at which the 33-year leap cycle
// shifts, from Borkowski's arithmetic ("The Persian calendar for 3000
// years", 1996), as used by jalaali-js and most Iranian software. Between
// them the calendar follows the astronomical rule (Nowruz is the day of the
// vernal equinox if it falls before noon in Tehran, else the next day) for
// every year FAVAD can meet.
var jalaliBreaks = [...]int{-61, 9, 38, 199, 426, 686, 756, 818, 1111, 1181, 1210,
	1635, 2060, 2097, 2192, 2262, 2324, 2394, 2456, 3178}

// JalaliMinYear and JalaliMaxYear bound the Solar Hijri years the conversion supports.
const (
	JalaliMinYear = 1
	JalaliMaxYear = 3177
)

// nowruzMarch returns the Gregorian year and the day of March on which
// Solar Hijri year jy begins, and whether jy is a leap year (Esfand has 30 days).
func nowruzMarch(jy int) (gy, march int, leap bool) {
	gy = jy + 621
	leapJ, jp := -14, jalaliBreaks[0]
	var jump int
	for i := 1; i < len(jalaliBreaks); i++ {
		jm := jalaliBreaks[i]
		jump = jm - jp
		if jy < jm {
			break
		}
		leapJ += jump/33*8 + jump%33/4
		jp = jm
	}
	n := jy - jp
	leapJ += n/33*8 + (n%33+3)/4
	if jump%33 == 4 && jump-n == 4 {
		leapJ++
	}
	leapG := gy/4 - (gy/100+1)*3/4 - 150
	march = 20 + leapJ - leapG
	if jump-n < 6 {
		n = n - jump + (jump+4)/33*33
	}
	l := ((n+1)%33 - 1) % 4
	if l == -1 {
		l = 4
	}
	return gy, march, l == 0
}

// nowruz returns the start of Solar Hijri year jy: midnight, Iran time, on 1 Farvardin.
func nowruz(jy int) time.Time {
	gy, march, _ := nowruzMarch(jy)
	return time.Date(gy, time.March, march, 0, 0, 0, 0, IranTime)
}

// JalaliLeap reports whether Solar Hijri year jy has 366 days.
func JalaliLeap(jy int) bool {
	_, _, leap := nowruzMarch(jy)
	return leap
}

// JalaliMonthDays returns the number of days of month m (1–12) of year jy:
// 31 for the first six months, 30 for the next five, and 29 for Esfand (30
// in a leap year).
func JalaliMonthDays(jy, m int) int {
	switch {
	case m >= 1 && m <= 6:
		return 31
	case m >= 7 && m <= 11:
		return 30
	case m == 12 && JalaliLeap(jy):
		return 30
	case m == 12:
		return 29
	}
	return 0
}

// ToJalali returns the Solar Hijri date of t in Iran time. It panics for a
// time outside years JalaliMinYear–JalaliMaxYear (the 7th to the 38th
// century), which no complaint has.
func ToJalali(t time.Time) (year, month, day int) {
	local := t.In(IranTime)
	date := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, IranTime)
	jy := local.Year() - 621
	if jy < JalaliMinYear || jy > JalaliMaxYear+1 {
		panic(fmt.Sprintf("inspector: %s is outside the supported Solar Hijri years", t.Format(time.DateOnly)))
	}
	start := nowruz(jy)
	if date.Before(start) {
		jy--
		start = nowruz(jy)
	}
	if jy < JalaliMinYear || jy > JalaliMaxYear {
		panic(fmt.Sprintf("inspector: %s is outside the supported Solar Hijri years", t.Format(time.DateOnly)))
	}
	doy := daysBetween(start, date) // 0-based day of the year
	if doy < 186 {
		return jy, doy/31 + 1, doy%31 + 1
	}
	doy -= 186
	return jy, doy/30 + 7, doy%30 + 1
}

// daysBetween counts the calendar days from a to b, both midnights in IranTime.
// IranTime has no daylight saving, so every day is 24 hours.
func daysBetween(a, b time.Time) int {
	return int(b.Sub(a) / (24 * time.Hour))
}

// JalaliMonthStart returns midnight, Iran time, on the first day of Solar
// Hijri month m of year y. A month outside 1–12 is carried into the year
// before or after, so JalaliMonthStart(y, m+1) is always the end of month m.
func JalaliMonthStart(y, m int) time.Time {
	m--
	y += m / 12
	m %= 12
	if m < 0 {
		m += 12
		y--
	}
	offset := m * 31
	if m > 6 {
		offset = 6*31 + (m-6)*30
	}
	return nowruz(y).AddDate(0, 0, offset)
}

// FromJalali returns midnight, Iran time, of Solar Hijri date y/m/d. A day
// past the month's end carries into the next month, like time.Date.
func FromJalali(y, m, d int) time.Time {
	return JalaliMonthStart(y, m).AddDate(0, 0, d-1)
}

// JalaliLabel formats a Solar Hijri month as "1405-01", the way FAVAD's
// reports name a month.
func JalaliLabel(y, m int) string { return fmt.Sprintf("%04d-%02d", y, m) }
