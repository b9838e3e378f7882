package inspector_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/favad/favad/inspector"
)

// Dates from published Iranian calendars (Nowruz from the equinox: before
// noon in Tehran it is the same day, after noon the next).
func TestToJalaliKnownDates(t *testing.T) {
	for _, tc := range []struct {
		gregorian string // Iran-local date
		y, m, d   int
	}{
		{"1979-02-11", 1357, 11, 22}, // 22 Bahman 1357
		{"2021-03-20", 1399, 12, 30}, // 1399 is leap
		{"2021-03-21", 1400, 1, 1},
		{"2022-03-21", 1401, 1, 1},
		{"2023-03-21", 1402, 1, 1}, // equinox 00:54 Tehran on 21 March
		{"2024-03-19", 1402, 12, 29},
		{"2024-03-20", 1403, 1, 1}, // equinox 06:36 Tehran: the same day
		{"2024-09-21", 1403, 6, 31},
		{"2024-09-22", 1403, 7, 1},
		{"2024-12-21", 1403, 10, 1},  // the day after Yalda (30 Azar)
		{"2025-03-20", 1403, 12, 30}, // 1403 is leap
		{"2025-03-21", 1404, 1, 1},   // equinox 12:31 Tehran: the next day
		{"2026-03-20", 1404, 12, 29},
		{"2026-03-21", 1405, 1, 1}, // equinox 18:16 Tehran: the next day
		{"2026-11-27", 1405, 9, 6},
	} {
		g, err := time.ParseInLocation(time.DateOnly, tc.gregorian, inspector.IranTime)
		require.NoError(t, err)
		y, m, d := inspector.ToJalali(g.Add(13 * time.Hour))
		assert.Equal(t, [3]int{tc.y, tc.m, tc.d}, [3]int{y, m, d}, tc.gregorian)
		assert.True(t, inspector.FromJalali(tc.y, tc.m, tc.d).Equal(g), "FromJalali(%d/%d/%d)", tc.y, tc.m, tc.d)
	}
}

// The day changes at midnight in Tehran, not in UTC.
func TestToJalaliUsesIranTime(t *testing.T) {
	y, m, d := inspector.ToJalali(time.Date(2026, 3, 20, 20, 29, 59, 0, time.UTC))
	assert.Equal(t, [3]int{1404, 12, 29}, [3]int{y, m, d})
	y, m, d = inspector.ToJalali(time.Date(2026, 3, 20, 20, 30, 0, 0, time.UTC))
	assert.Equal(t, [3]int{1405, 1, 1}, [3]int{y, m, d})
}

func TestJalaliMonthStart(t *testing.T) {
	assert.Equal(t, "2026-03-21T00:00:00+03:30", inspector.JalaliMonthStart(1405, 1).Format(time.RFC3339))
	assert.Equal(t, "2026-09-23T00:00:00+03:30", inspector.JalaliMonthStart(1405, 7).Format(time.RFC3339))
	assert.Equal(t, "2025-02-19T00:00:00+03:30", inspector.JalaliMonthStart(1403, 12).Format(time.RFC3339))
	// Months outside 1–12 carry into the neighbouring year.
	assert.True(t, inspector.JalaliMonthStart(1404, 13).Equal(inspector.JalaliMonthStart(1405, 1)))
	assert.True(t, inspector.JalaliMonthStart(1405, 0).Equal(inspector.JalaliMonthStart(1404, 12)))
	assert.True(t, inspector.JalaliMonthStart(1405, -11).Equal(inspector.JalaliMonthStart(1404, 1)))
	assert.Equal(t, 30, inspector.JalaliMonthDays(1403, 12))
	assert.Equal(t, 29, inspector.JalaliMonthDays(1404, 12))
	assert.Equal(t, "فروردین", inspector.PersianMonthName(1))
	assert.Equal(t, "اسفند", inspector.PersianMonthName(12))
	assert.Equal(t, "", inspector.PersianMonthName(13))
	assert.Equal(t, "1405-01", inspector.JalaliLabel(1405, 1))
}

// Every day maps to a valid date, consecutive days to consecutive dates,
// and back to the same day.
func TestJalaliRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		// 1300 to 1500 AP.
		days := rapid.IntRange(0, 200*366).Draw(t, "days")
		sec := rapid.IntRange(0, 86399).Draw(t, "sec")
		day := time.Date(1921, 3, 21, 0, 0, 0, 0, inspector.IranTime).AddDate(0, 0, days)
		y, m, d := inspector.ToJalali(day.Add(time.Duration(sec) * time.Second))
		if m < 1 || m > 12 || d < 1 || d > inspector.JalaliMonthDays(y, m) {
			t.Fatalf("%s: invalid date %d/%d/%d", day, y, m, d)
		}
		if back := inspector.FromJalali(y, m, d); !back.Equal(day) {
			t.Fatalf("%s → %d/%d/%d → %s", day, y, m, d, back)
		}
		ny, nm, nd := inspector.ToJalali(day.AddDate(0, 0, 1))
		switch {
		case d < inspector.JalaliMonthDays(y, m):
			if ny != y || nm != m || nd != d+1 {
				t.Fatalf("day after %d/%d/%d is %d/%d/%d", y, m, d, ny, nm, nd)
			}
		case m < 12:
			if ny != y || nm != m+1 || nd != 1 {
				t.Fatalf("day after %d/%d/%d is %d/%d/%d", y, m, d, ny, nm, nd)
			}
		default:
			if ny != y+1 || nm != 1 || nd != 1 {
				t.Fatalf("day after %d/%d/%d is %d/%d/%d", y, m, d, ny, nm, nd)
			}
		}
		days1 := int(inspector.JalaliMonthStart(y, 13).Sub(inspector.JalaliMonthStart(y, 1)).Hours() / 24)
		if leap := inspector.JalaliLeap(y); (leap && days1 != 366) || (!leap && days1 != 365) {
			t.Fatalf("year %d: leap %v but %d days", y, leap, days1)
		}
	})
}
