package reports

// Review tests: each one names a defect and fails while it is present.

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/favad/favad/inspector"
	"github.com/favad/favad/internal/testkit"
	favsync "github.com/favad/favad/sync"
)

// TestBugReferralPulledBackCountsAsOverdue: dispatch refers two complaints
// and, before either office answers, routes one to an inspector and
// withdraws the other. Neither office owes an answer any more (the SLA
// watch writes no breach), yet three days on the reports counted both
// referrals as overdue against their offices.
func TestBugReferralPulledBackCountsAsOverdue(t *testing.T) {
	clock := testkit.NewClock(t0.UTC())
	s, err := favsync.Open(filepath.Join(t.TempDir(), "favad.db"), favsync.Options{Now: clock.Now})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	_, _, err = s.PutAgency(favsync.System, inspector.Agency{Code: "SSO", NameFa: "تامین اجتماعی"})
	require.NoError(t, err)
	_, _, err = s.PutOffice(favsync.System, inspector.Office{Code: "QZ-SSO-01", AgencyCode: "SSO", NameFa: "شعبه یک", Province: "قزوین", City: "قزوین",
		Hours: inspector.WorkingHours{Opens: "07:30", Closes: "14:30", Days: []string{"sat"}}})
	require.NoError(t, err)
	insp, err := s.CreateUser(favsync.System, favsync.NewUser{Username: "insp", DisplayName: "بازرس", Role: inspector.RoleInspector,
		Mode: inspector.ModeField, Region: &inspector.Region{Province: "قزوین"}, PasswordHash: "$argon2id$v=19$fake"})
	require.NoError(t, err)
	disp := favsync.Actor{UserID: "disp"}
	var ids []string
	for _, call := range []string{"CALL-PB-1", "CALL-PB-2", "CALL-PB-3"} {
		c, _, err := s.CreateComplaint(disp, inspector.NewComplaint{CallID: call, Category: inspector.CategoryAbsentEmployee,
			Description: "کارمند در محل کار نیست", CallTime: clock.Now().Add(-10 * time.Minute), OfficeCode: "QZ-SSO-01", Priority: inspector.PriorityLow})
		require.NoError(t, err)
		_, err = s.Refer(disp, c.ID, "")
		require.NoError(t, err)
		ids = append(ids, c.ID)
	}
	clock.Advance(time.Hour)
	_, err = s.Assign(disp, ids[0], inspector.Routing{InspectorID: insp.ID, Mode: inspector.ModeField})
	require.NoError(t, err)
	_, err = s.Withdraw(disp, ids[1], "تکراری")
	require.NoError(t, err)
	// ids[2] is left with its office, which never answers.
	clock.Advance(favsync.DefaultReferralSLA + time.Hour)

	a, err := New(Config{Store: s, Now: clock.Now, Logger: quiet})
	require.NoError(t, err)
	require.NoError(t, a.CatchUp())
	rows := a.ByAgency(Filter{From: t0.Add(-time.Hour), To: clock.Now()})
	require.Len(t, rows, 1)
	assert.Equal(t, ReferralFigures{Referred: 3, Overdue: 1}, rows[0].Referrals, "only the referral still owed is overdue")

	b, err := s.BreachDue(clock.Now(), 100)
	require.NoError(t, err)
	referral := 0
	for _, x := range b {
		if x.Kind == "referral" {
			referral++
		}
	}
	require.Equal(t, 1, referral, "the watch agrees: one referral breached")
	require.NoError(t, a.CatchUp())
	rows = a.ByAgency(Filter{From: t0.Add(-time.Hour), To: clock.Now()})
	assert.Equal(t, ReferralFigures{Referred: 3, Overdue: 1}, rows[0].Referrals)
}

// TestBugOfficeFilterLosesComplaintsFromBeforeAnAgencyMove: an office is
// moved to another agency (a reorganisation). Its earlier complaints stay
// counted under the agency they came in under, as documented — but a report
// filtered by the office looked only in its new agency's lists and lost them.
func TestBugOfficeFilterLosesComplaintsFromBeforeAnAgencyMove(t *testing.T) {
	clock := testkit.NewClock(t0.UTC())
	s, err := favsync.Open(filepath.Join(t.TempDir(), "favad.db"), favsync.Options{Now: clock.Now})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	for _, code := range []string{"SSO", "MCLS"} {
		_, _, err = s.PutAgency(favsync.System, inspector.Agency{Code: code, NameFa: "دستگاه " + code})
		require.NoError(t, err)
	}
	o := inspector.Office{Code: "QZ-01", AgencyCode: "SSO", NameFa: "شعبه یک", Province: "قزوین", City: "قزوین",
		Hours: inspector.WorkingHours{Opens: "07:30", Closes: "14:30", Days: []string{"sat"}}}
	_, _, err = s.PutOffice(favsync.System, o)
	require.NoError(t, err)
	intake := func(call string) {
		_, _, err := s.CreateComplaint(favsync.Actor{UserID: "disp"}, inspector.NewComplaint{CallID: call, Category: inspector.CategoryAbsentEmployee,
			Description: "کارمند در محل کار نیست", CallTime: clock.Now().Add(-10 * time.Minute), OfficeCode: "QZ-01", Priority: inspector.PriorityNormal})
		require.NoError(t, err)
	}
	intake("CALL-MOVE-1")
	clock.Advance(time.Hour)
	o.AgencyCode = "MCLS"
	_, _, err = s.PutOffice(favsync.System, o)
	require.NoError(t, err)
	intake("CALL-MOVE-2")

	a, err := New(Config{Store: s, Now: clock.Now, Logger: quiet})
	require.NoError(t, err)
	require.NoError(t, a.CatchUp())
	f := Filter{From: t0.Add(-time.Hour), To: clock.Now().Add(time.Hour), OfficeCode: "QZ-01"}
	total := 0
	for _, r := range a.ByOffice(f) {
		total += r.Complaints
	}
	assert.Equal(t, 2, total, "both of the office's complaints")
	total = 0
	for _, r := range a.ByAgency(f) {
		total += r.Complaints
	}
	assert.Equal(t, 2, total, "both, each under the agency it came in under")
	points, err := a.TimeSeries(f, ByDay)
	require.NoError(t, err)
	total = 0
	for _, p := range points {
		total += p.Complaints
	}
	assert.Equal(t, 2, total)
}
