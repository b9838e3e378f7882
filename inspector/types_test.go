package inspector_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/favad/favad/inspector"
)

var t0 = time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)

func TestOverdue(t *testing.T) {
	due := t0.Add(time.Hour)
	tests := []struct {
		name   string
		status inspector.Status
		now    time.Time
		want   bool
	}{
		{"open before due", inspector.StatusAssigned, due.Add(-time.Minute), false},
		{"open exactly at due", inspector.StatusAssigned, due, false},
		{"open after due", inspector.StatusAssigned, due.Add(time.Nanosecond), true},
		{"received after due", inspector.StatusReceived, due.Add(time.Hour), true},
		{"in progress after due", inspector.StatusInProgress, due.Add(time.Hour), true},
		{"needs review after due", inspector.StatusNeedsReview, due.Add(time.Hour), true},
		{"resolved after due", inspector.StatusResolved, due.Add(time.Hour), false},
		{"not substantiated after due", inspector.StatusNotSubstantiated, due.Add(time.Hour), false},
		{"referred after due, answer not yet due", inspector.StatusReferredToWorkplace, due.Add(time.Hour), false},
		{"referred after the answer's due", inspector.StatusReferredToWorkplace, due.Add(3 * time.Hour), true},
		{"answered, before the referral's due", inspector.StatusReferralAnswered, due.Add(time.Hour), false},
		{"answered, after both due times", inspector.StatusReferralAnswered, due.Add(3 * time.Hour), true},
		{"withdrawn after due", inspector.StatusWithdrawn, due.Add(time.Hour), false},
		{"other time zone", inspector.StatusAssigned, due.Add(time.Minute).In(time.FixedZone("IRST", 12600)), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &inspector.Complaint{Status: tt.status, DueAt: due, Referral: &inspector.Referral{DueAt: due.Add(2 * time.Hour)}}
			assert.Equal(t, tt.want, c.Overdue(tt.now))
		})
	}
}

func TestRedacted(t *testing.T) {
	seesCaller := map[inspector.Role]bool{
		inspector.RoleDispatcher: true,
		inspector.RoleInspector:  false,
		inspector.RoleSupervisor: true,
		inspector.RoleAdmin:      true,
		inspector.RoleOffice:     false, // the office complained about: retaliation risk
		"":                       false, // unknown roles fail closed
		"citizen":                false,
	}
	for role, sees := range seesCaller {
		t.Run(string(role), func(t *testing.T) {
			orig := inspector.Complaint{
				ID: "c1", Number: 7, Description: "کارمند نیست",
				Caller: &inspector.Caller{Name: "مریم", Phone: "09121234567"}, CallID: "call-1", TrackingCode: "K7M2QX9PZD",
				Assignment: &inspector.Assignment{InspectorID: "u1", Mode: inspector.ModeField},
			}
			got := orig.Redacted(role)
			assert.Equal(t, sees, role.SeesCaller())
			if sees {
				require.NotNil(t, got.Caller)
				assert.Equal(t, inspector.Caller{Name: "مریم", Phone: "09121234567"}, *got.Caller)
				assert.Equal(t, "K7M2QX9PZD", got.TrackingCode)
			} else {
				assert.Nil(t, got.Caller)
				assert.Empty(t, got.CallID)
				assert.Empty(t, got.TrackingCode, "the tracking code goes with the caller")
			}
			// Everything else is kept, and the original is untouched.
			got.Caller, got.CallID, got.TrackingCode = orig.Caller, orig.CallID, orig.TrackingCode
			assert.Equal(t, orig, got)
			require.NotNil(t, orig.Caller, "Redacted must not mutate the original")
			assert.Equal(t, "مریم", orig.Caller.Name)
		})
	}
}

func TestRoleModeCategoryPriorityValid(t *testing.T) {
	for _, r := range inspector.Roles {
		assert.True(t, r.Valid(), "%s", r)
	}
	assert.Len(t, inspector.Roles, 5)
	for _, r := range []inspector.Role{"", "Admin", "root"} {
		assert.False(t, r.Valid(), "%q", r)
	}

	assert.True(t, inspector.ModeField.Valid())
	assert.True(t, inspector.ModePhone.Valid())
	for _, m := range []inspector.Mode{"", "Field", "email"} {
		assert.False(t, m.Valid(), "%q", m)
	}

	for _, c := range inspector.Categories {
		assert.True(t, c.Valid(), "%s", c)
	}
	for _, c := range []inspector.Category{"", "absent", "Other"} {
		assert.False(t, c.Valid(), "%q", c)
	}

	assert.Equal(t, []inspector.Priority{inspector.PriorityUrgent, inspector.PriorityHigh, inspector.PriorityNormal, inspector.PriorityLow}, inspector.Priorities)
	for _, p := range inspector.Priorities {
		assert.True(t, p.Valid(), "%s", p)
	}
	for _, p := range []inspector.Priority{"", "Urgent", "critical"} {
		assert.False(t, p.Valid(), "%q", p)
	}
}

func TestRegionCovers(t *testing.T) {
	const (
		qazvinFa     = "قزوین"   // Persian yeh
		qazvinAr     = "قزوين"   // Arabic yeh
		takestanFa   = "تاکستان" // Persian kaf
		takestanAr   = "تاكستان" // Arabic kaf
		abyekFa      = "آبیک"
		abyekAr      = "آبيك" // Arabic yeh and kaf
		buinZahraFa  = "بوئین\u200cزهرا"
		buinZahraAlt = "بوئين  زهرا" // Arabic yeh, two spaces instead of a ZWNJ
	)
	whole := inspector.Region{Province: qazvinFa}
	cities := inspector.Region{Province: qazvinAr, Cities: []string{takestanAr, abyekFa, buinZahraFa}}
	tests := []struct {
		name           string
		region         inspector.Region
		province, city string
		want           bool
	}{
		{"whole province, same spelling", whole, qazvinFa, takestanFa, true},
		{"whole province, Arabic yeh in office", whole, qazvinAr, "", true},
		{"whole province, surrounding space", whole, " " + qazvinFa + " ", takestanFa, true},
		{"other province", whole, "زنجان", takestanFa, false},
		{"empty province", whole, "", takestanFa, false},
		{"listed city, Arabic kaf in region, Persian in office", cities, qazvinFa, takestanFa, true},
		{"listed city, Persian in region, Arabic in office", cities, qazvinFa, abyekAr, true},
		{"listed city with ZWNJ against space", cities, qazvinFa, buinZahraAlt, true},
		{"city not listed", cities, qazvinFa, "الوند", false},
		{"listed city in other province", cities, "زنجان", takestanFa, false},
		{"empty city with a city list", cities, qazvinFa, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.region.Covers(tt.province, tt.city))
		})
	}
}
