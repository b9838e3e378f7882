package inspector_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/favad/favad/inspector"
)

// fieldCodes returns err's field errors as "field=code", in order, and fails
// unless err is a CodeInvalid *inspector.Error.
func fieldCodes(t *testing.T, err error) []string {
	t.Helper()
	var e *inspector.Error
	require.True(t, errors.As(err, &e), "want *inspector.Error, got %T %v", err, err)
	require.Equal(t, inspector.CodeInvalid, e.Code)
	out := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		assert.NotEmpty(t, f.Message, "field %s has no message", f.Field)
		out[i] = f.Field + "=" + f.Code
	}
	return out
}

// persian returns n Persian letters: multi-byte runes, so that length limits
// are seen to count characters, not bytes.
func persian(n int) string { return strings.Repeat("ک", n) }

func validComplaint() inspector.NewComplaint {
	return inspector.NewComplaint{
		CallID:      "CC-1403-0001",
		Category:    inspector.CategoryAbsentEmployee,
		Description: "کارمند باجه ۳ در محل کار نیست",
		CallTime:    t0.Add(-10 * time.Minute),
		Caller:      inspector.Caller{Name: "مریم", Phone: "09121234567"},
		OfficeCode:  "QZ-SSO-01",
		Priority:    inspector.PriorityUrgent,
	}
}

func TestNewComplaintValidate(t *testing.T) {
	now := t0
	tests := []struct {
		name   string
		mutate func(*inspector.NewComplaint)
		want   []string // nil: valid
	}{
		{"valid", func(*inspector.NewComplaint) {}, nil},
		{"no caller at all", func(n *inspector.NewComplaint) { n.Caller = inspector.Caller{} }, nil},
		{"call id missing", func(n *inspector.NewComplaint) { n.CallID = "" }, []string{"call_id=required"}},
		{"call id blank", func(n *inspector.NewComplaint) { n.CallID = "  \t" }, []string{"call_id=required"}},
		{"call id at limit", func(n *inspector.NewComplaint) { n.CallID = persian(inspector.MaxCallID) }, nil},
		{"call id too long", func(n *inspector.NewComplaint) { n.CallID = persian(inspector.MaxCallID + 1) }, []string{"call_id=too_long"}},
		{"category missing", func(n *inspector.NewComplaint) { n.Category = "" }, []string{"category=invalid"}},
		{"category unknown", func(n *inspector.NewComplaint) { n.Category = "rudeness" }, []string{"category=invalid"}},
		{"description missing", func(n *inspector.NewComplaint) { n.Description = "" }, []string{"description=required"}},
		{"description blank", func(n *inspector.NewComplaint) { n.Description = " \n " }, []string{"description=required"}},
		{"description at limit", func(n *inspector.NewComplaint) { n.Description = persian(inspector.MaxDescription) }, nil},
		{"description too long", func(n *inspector.NewComplaint) { n.Description = persian(inspector.MaxDescription + 1) }, []string{"description=too_long"}},
		{"call time missing", func(n *inspector.NewComplaint) { n.CallTime = time.Time{} }, []string{"call_time=required"}},
		{"call time slightly ahead (clock skew)", func(n *inspector.NewComplaint) { n.CallTime = now.Add(4 * time.Minute) }, nil},
		{"call time in the future", func(n *inspector.NewComplaint) { n.CallTime = now.Add(6 * time.Minute) }, []string{"call_time=in_future"}},
		{"call time last year", func(n *inspector.NewComplaint) { n.CallTime = now.AddDate(-1, 0, 0) }, nil},
		{"caller name at limit", func(n *inspector.NewComplaint) { n.Caller.Name = persian(inspector.MaxName) }, nil},
		{"caller name too long", func(n *inspector.NewComplaint) { n.Caller.Name = persian(inspector.MaxName + 1) }, []string{"caller.name=too_long"}},
		{"caller phone letters", func(n *inspector.NewComplaint) { n.Caller.Phone = "call me" }, []string{"caller.phone=invalid"}},
		{"caller phone too short", func(n *inspector.NewComplaint) { n.Caller.Phone = "123" }, []string{"caller.phone=invalid"}},
		{"caller phone of separators", func(n *inspector.NewComplaint) { n.Caller.Phone = "1---" }, []string{"caller.phone=invalid"}},
		{"caller phone international", func(n *inspector.NewComplaint) { n.Caller.Phone = "+98 912-123-4567" }, nil},
		{"caller phone in Persian digits", func(n *inspector.NewComplaint) { n.Caller.Phone = "۰۹۱۲۱۲۳۴۵۶۷" }, nil},
		{"caller phone in Arabic-Indic digits", func(n *inspector.NewComplaint) { n.Caller.Phone = "٠٩١٢١٢٣٤٥٦٧" }, nil},
		{"office missing", func(n *inspector.NewComplaint) { n.OfficeCode = " " }, []string{"office_code=required"}},
		{"priority defaults to normal", func(n *inspector.NewComplaint) { n.Priority = "" }, nil},
		{"priority unknown", func(n *inspector.NewComplaint) { n.Priority = "critical" }, []string{"priority=invalid"}},
		{"everything wrong at once", func(n *inspector.NewComplaint) {
			*n = inspector.NewComplaint{Priority: "x", Caller: inspector.Caller{Phone: "x"}}
		},
			[]string{"call_id=required", "category=invalid", "description=required", "call_time=required", "caller.phone=invalid", "office_code=required", "priority=invalid"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := validComplaint()
			tt.mutate(&n)
			n.Normalize()
			err := n.Validate(now)
			if tt.want == nil {
				require.NoError(t, err)
				return
			}
			assert.Equal(t, tt.want, fieldCodes(t, err))
		})
	}
}

func TestNewComplaintNormalize(t *testing.T) {
	n := inspector.NewComplaint{
		CallID:      "  CC-7 ",
		Description: "\n کارمند نیست \t",
		Caller:      inspector.Caller{Name: " مریم ", Phone: " ۰۹۱۲ ١٢٣ ۴۵۶۷ "},
		OfficeCode:  " qz-sso-01 ",
	}
	n.Normalize()
	assert.Equal(t, "CC-7", n.CallID)
	assert.Equal(t, "کارمند نیست", n.Description)
	assert.Equal(t, "مریم", n.Caller.Name)
	assert.Equal(t, "09121234567", n.Caller.Phone, "stored as digits: spaces and dashes dropped")
	assert.Equal(t, "QZ-SSO-01", n.OfficeCode)
	assert.Equal(t, inspector.PriorityNormal, n.Priority)

	n.Priority = inspector.PriorityLow
	n.Normalize()
	assert.Equal(t, inspector.PriorityLow, n.Priority, "an explicit priority is kept")
}

// Regression: NewComplaint.Normalize promises that "the same call typed two
// ways is recognised as the same call", and the call id is the intake
// idempotency key, but Normalize only trims the call id: typed with Persian
// digits it is a different key from the same id typed with ASCII digits, so
// one 128 call becomes two complaints.
func TestNewComplaintNormalizeFoldsCallIDDigits(t *testing.T) {
	a, b := validComplaint(), validComplaint()
	a.CallID, b.CallID = "CC-1403-0001", "CC-۱۴۰۳-۰۰۰۱"
	a.Normalize()
	b.Normalize()
	assert.Equal(t, a.CallID, b.CallID)
}

func validAgency() inspector.Agency {
	return inspector.Agency{Code: "SSO", NameFa: "سازمان تامین اجتماعی", NameEn: "Social Security Organization"}
}

func TestAgencyValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*inspector.Agency)
		want   []string
	}{
		{"valid", func(*inspector.Agency) {}, nil},
		{"lower-case code is upper-cased", func(a *inspector.Agency) { a.Code = " sso " }, nil},
		{"code with digits and dashes", func(a *inspector.Agency) { a.Code = "9-TAX-2" }, nil},
		{"code at 40", func(a *inspector.Agency) { a.Code = strings.Repeat("A", 40) }, nil},
		{"code too long", func(a *inspector.Agency) { a.Code = strings.Repeat("A", 41) }, []string{"code=invalid"}},
		{"code missing", func(a *inspector.Agency) { a.Code = "" }, []string{"code=invalid"}},
		{"code starts with a dash", func(a *inspector.Agency) { a.Code = "-SSO" }, []string{"code=invalid"}},
		{"code with a space", func(a *inspector.Agency) { a.Code = "S SO" }, []string{"code=invalid"}},
		{"code with an underscore", func(a *inspector.Agency) { a.Code = "S_SO" }, []string{"code=invalid"}},
		{"code in Persian", func(a *inspector.Agency) { a.Code = "تامین" }, []string{"code=invalid"}},
		{"Persian name missing", func(a *inspector.Agency) { a.NameFa = "  " }, []string{"name_fa=required"}},
		{"Persian name at limit", func(a *inspector.Agency) { a.NameFa = persian(inspector.MaxName) }, nil},
		{"Persian name too long", func(a *inspector.Agency) { a.NameFa = persian(inspector.MaxName + 1) }, []string{"name_fa=too_long"}},
		{"English name optional", func(a *inspector.Agency) { a.NameEn = "" }, nil},
		{"English name too long", func(a *inspector.Agency) { a.NameEn = strings.Repeat("x", inspector.MaxName+1) }, []string{"name_en=too_long"}},
		{"all wrong", func(a *inspector.Agency) { *a = inspector.Agency{NameEn: strings.Repeat("x", 201)} }, []string{"code=invalid", "name_fa=required", "name_en=too_long"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := validAgency()
			tt.mutate(&a)
			a.Normalize()
			err := a.Validate()
			if tt.want == nil {
				require.NoError(t, err)
				return
			}
			assert.Equal(t, tt.want, fieldCodes(t, err))
		})
	}
}

func validOffice() inspector.Office {
	return inspector.Office{
		Code: "QZ-SSO-01", AgencyCode: "SSO", NameFa: "شعبه یک تامین اجتماعی قزوین",
		Province: "قزوین", City: "قزوین", Address: "خیابان فردوسی", Phone: "028-33000101",
		Location: &inspector.Location{Lat: 36.279, Lng: 50.004},
		Hours:    inspector.WorkingHours{Opens: "07:30", Closes: "14:30", Days: []string{"sat", "sun", "mon", "tue", "wed"}},
	}
}

func TestOfficeValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*inspector.Office)
		want   []string
	}{
		{"valid", func(*inspector.Office) {}, nil},
		{"no location", func(o *inspector.Office) { o.Location = nil }, nil},
		{"no phone", func(o *inspector.Office) { o.Phone = "" }, nil},
		{"lower-case codes", func(o *inspector.Office) { o.Code, o.AgencyCode = "qz-sso-01", "sso" }, nil},
		{"code invalid", func(o *inspector.Office) { o.Code = "QZ SSO" }, []string{"code=invalid"}},
		{"code missing", func(o *inspector.Office) { o.Code = "" }, []string{"code=invalid"}},
		{"agency missing", func(o *inspector.Office) { o.AgencyCode = " " }, []string{"agency_code=required"}},
		{"name missing", func(o *inspector.Office) { o.NameFa = "" }, []string{"name_fa=required"}},
		{"name too long", func(o *inspector.Office) { o.NameFa = persian(inspector.MaxName + 1) }, []string{"name_fa=too_long"}},
		{"province missing", func(o *inspector.Office) { o.Province = " " }, []string{"province=required"}},
		{"city missing", func(o *inspector.Office) { o.City = "" }, []string{"city=required"}},
		{"address at the limit", func(o *inspector.Office) { o.Address = persian(inspector.MaxAddress) }, nil},
		{"address too long", func(o *inspector.Office) { o.Address = persian(inspector.MaxAddress + 1) }, []string{"address=too_long"}},
		{"phone invalid", func(o *inspector.Office) { o.Phone = "tel:028" }, []string{"phone=invalid"}},
		{"phone in Persian digits", func(o *inspector.Office) { o.Phone = "۰۲۸-۳۳۰۰۰۱۰۱" }, nil},
		{"latitude too high", func(o *inspector.Office) { o.Location.Lat = 90.01 }, []string{"location.lat=out_of_range"}},
		{"latitude too low", func(o *inspector.Office) { o.Location.Lat = -91 }, []string{"location.lat=out_of_range"}},
		{"longitude too high", func(o *inspector.Office) { o.Location.Lng = 180.5 }, []string{"location.lng=out_of_range"}},
		{"longitude too low", func(o *inspector.Office) { o.Location.Lng = -181 }, []string{"location.lng=out_of_range"}},
		{"poles and antimeridian", func(o *inspector.Office) { o.Location = &inspector.Location{Lat: -90, Lng: 180} }, nil},
		{"opens not HH:MM", func(o *inspector.Office) { o.Hours.Opens = "7:30" }, []string{"hours.opens=invalid"}},
		{"opens 24:00", func(o *inspector.Office) { o.Hours.Opens = "24:00" }, []string{"hours.opens=invalid"}},
		{"opens in Persian digits", func(o *inspector.Office) { o.Hours.Opens = "۰۷:۳۰" }, nil},
		{"closes missing", func(o *inspector.Office) { o.Hours.Closes = "" }, []string{"hours.closes=invalid"}},
		{"closes 14:60", func(o *inspector.Office) { o.Hours.Closes = "14:60" }, []string{"hours.closes=invalid"}},
		{"closes before opens", func(o *inspector.Office) { o.Hours.Opens, o.Hours.Closes = "14:30", "07:30" }, []string{"hours.closes=before_opens"}},
		{"closes when it opens", func(o *inspector.Office) { o.Hours.Closes = o.Hours.Opens }, []string{"hours.closes=before_opens"}},
		{"both times bad", func(o *inspector.Office) { o.Hours.Opens, o.Hours.Closes = "x", "y" }, []string{"hours.opens=invalid", "hours.closes=invalid"}},
		{"no days", func(o *inspector.Office) { o.Hours.Days = nil }, []string{"hours.days=required"}},
		{"upper-case days", func(o *inspector.Office) { o.Hours.Days = []string{" SAT", "Sun "} }, nil},
		{"unknown day, reported once", func(o *inspector.Office) { o.Hours.Days = []string{"sat", "monday", "xyz"} }, []string{"hours.days=invalid"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := validOffice()
			tt.mutate(&o)
			o.Normalize()
			err := o.Validate()
			if tt.want == nil {
				require.NoError(t, err)
				return
			}
			assert.Equal(t, tt.want, fieldCodes(t, err))
		})
	}
}

func TestOfficeNormalize(t *testing.T) {
	o := inspector.Office{
		Code: " qz-sso-01 ", AgencyCode: " sso", NameFa: " شعبه ", Province: " قزوین ", City: " قزوین ",
		Address: " خیابان ", Phone: " ۰۲۸-۳۳۰۰۰۱۰۱ ",
		Hours: inspector.WorkingHours{Opens: " ۰۷:۳۰", Closes: "١٤:٣٠ ", Days: []string{" SAT ", "Sun"}},
	}
	o.Normalize()
	assert.Equal(t, inspector.Office{
		Code: "QZ-SSO-01", AgencyCode: "SSO", NameFa: "شعبه", Province: "قزوین", City: "قزوین",
		Address: "خیابان", Phone: "028-33000101",
		Hours: inspector.WorkingHours{Opens: "07:30", Closes: "14:30", Days: []string{"sat", "sun"}},
	}, o)
}

func TestRoutingValidate(t *testing.T) {
	tests := []struct {
		name string
		r    inspector.Routing
		want []string
	}{
		{"field", inspector.Routing{InspectorID: "u1", Mode: inspector.ModeField}, nil},
		{"phone with a note", inspector.Routing{InspectorID: "u1", Mode: inspector.ModePhone, Note: persian(inspector.MaxNote)}, nil},
		{"no inspector", inspector.Routing{Mode: inspector.ModeField}, []string{"inspector_id=required"}},
		{"blank inspector", inspector.Routing{InspectorID: " \t", Mode: inspector.ModeField}, []string{"inspector_id=required"}},
		{"no mode", inspector.Routing{InspectorID: "u1"}, []string{"mode=invalid"}},
		{"unknown mode", inspector.Routing{InspectorID: "u1", Mode: "email"}, []string{"mode=invalid"}},
		{"note too long", inspector.Routing{InspectorID: "u1", Mode: inspector.ModeField, Note: persian(inspector.MaxNote + 1)}, []string{"note=too_long"}},
		{"all wrong", inspector.Routing{Note: persian(inspector.MaxNote + 1)}, []string{"inspector_id=required", "mode=invalid", "note=too_long"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.r.Validate()
			if tt.want == nil {
				require.NoError(t, err)
				return
			}
			assert.Equal(t, tt.want, fieldCodes(t, err))
		})
	}
}

func TestParseWeekdays(t *testing.T) {
	tests := []struct {
		in   string
		want []string // nil: refused
	}{
		{"Sat-Wed", []string{"sat", "sun", "mon", "tue", "wed"}},
		{"sat-wed", []string{"sat", "sun", "mon", "tue", "wed"}},
		{" SAT - THU ", []string{"sat", "sun", "mon", "tue", "wed", "thu"}},
		{"Sat-Fri", []string{"sat", "sun", "mon", "tue", "wed", "thu", "fri"}},
		{"mon-mon", []string{"mon"}},
		{"sat,sun", []string{"sat", "sun"}},
		{"Sat, Mon ,WED", []string{"sat", "mon", "wed"}},
		{"fri", []string{"fri"}},
		{"", nil},
		{"   ", nil},
		{"Wed-Sat", nil}, // backwards: the week starts on Saturday
		{"Thu-Sat", nil},
		{"Sat-", nil},
		{"-Wed", nil},
		{"-", nil},
		{"Sat-Wed-Fri", nil},
		{"Saturday-Wednesday", nil},
		{"monday", nil},
		{"sat,,sun", nil},
		{"sat,", nil},
		{"sat;sun", nil},
		{"sat sun", nil},
		{"شنبه-چهارشنبه", nil},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, ok := inspector.ParseWeekdays(tt.in)
			if tt.want == nil {
				assert.False(t, ok)
				assert.Empty(t, got)
				return
			}
			require.True(t, ok)
			assert.Equal(t, tt.want, got)
		})
	}
}

// Whatever ParseWeekdays accepts, Office.Validate accepts as working days.
func TestParseWeekdaysRangesAreValidOfficeDays(t *testing.T) {
	days := []string{"sat", "sun", "mon", "tue", "wed", "thu", "fri"}
	rapid.Check(t, func(t *rapid.T) {
		i := rapid.IntRange(0, 6).Draw(t, "from")
		j := rapid.IntRange(i, 6).Draw(t, "to")
		got, ok := inspector.ParseWeekdays(strings.ToUpper(days[i][:1]) + days[i][1:] + "-" + days[j])
		require.True(t, ok)
		require.Equal(t, days[i:j+1], got)
		o := validOffice()
		o.Hours.Days = got
		require.NoError(t, o.Validate())
	})
}

func TestWeekdaysResultIsACopy(t *testing.T) {
	a, _ := inspector.ParseWeekdays("sat-wed")
	a[0] = "xxx"
	b, _ := inspector.ParseWeekdays("sat-wed")
	assert.Equal(t, "sat", b[0])
}
