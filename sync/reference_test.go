package sync

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/favad/favad/inspector"
)

func TestPutAgency(t *testing.T) {
	clock := newFakeClock()
	s := mustOpenStore(t, Options{Now: clock.Now})

	a, created, err := s.PutAgency(admin, inspector.Agency{Code: " sso ", NameFa: " سازمان تامین اجتماعی ", NameEn: "SSO"})
	require.NoError(t, err)
	assert.True(t, created)
	assert.Equal(t, inspector.Agency{Code: "SSO", NameFa: "سازمان تامین اجتماعی", NameEn: "SSO", Version: 1, Updated: t0}, a)
	assert.Equal(t, uint64(1), lastSeq(t, s))

	t.Run("unchanged put writes nothing", func(t *testing.T) {
		clock.Advance(time.Minute)
		again, created, err := s.PutAgency(admin, inspector.Agency{Code: "SSO", NameFa: "سازمان تامین اجتماعی", NameEn: "SSO", Version: 99})
		require.NoError(t, err)
		assert.False(t, created)
		assert.Equal(t, a, again, "the stored agency, version and time unchanged")
		assert.Equal(t, uint64(1), lastSeq(t, s), "no change-log entry, so devices pull nothing")
	})
	t.Run("changed put is an update", func(t *testing.T) {
		clock.Advance(time.Minute)
		b, created, err := s.PutAgency(admin, inspector.Agency{Code: "sso", NameFa: "سازمان تامین اجتماعی", NameEn: "Social Security"})
		require.NoError(t, err)
		assert.False(t, created)
		assert.Equal(t, "Social Security", b.NameEn)
		assert.Equal(t, uint64(2), b.Version)
		assert.Equal(t, t0.Add(2*time.Minute), b.Updated)
		ch := allChanges(t, s)
		require.Len(t, ch, 2)
		assert.Equal(t, Change{Seq: 2, Kind: KindAgency, ID: "SSO", Action: ActionUpdated, Actor: admin.UserID, At: b.Updated}, ch[1])

		got, err := s.Agency("sso")
		require.NoError(t, err)
		assert.Equal(t, b, got, "lookup is case-insensitive")
	})
	t.Run("invalid", func(t *testing.T) {
		_, _, err := s.PutAgency(admin, inspector.Agency{Code: "S S O", NameFa: ""})
		requireField(t, err, inspector.CodeInvalid, "code", "invalid")
		requireField(t, err, inspector.CodeInvalid, "name_fa", "required")
		assert.Equal(t, uint64(2), lastSeq(t, s))
	})
	t.Run("not found", func(t *testing.T) {
		_, err := s.Agency("NOPE")
		requireCode(t, err, inspector.CodeNotFound)
	})
}

func TestPutOffice(t *testing.T) {
	clock := newFakeClock()
	s := mustOpenStore(t, Options{Now: clock.Now})
	_, _, err := s.PutAgency(admin, agencySSO)
	require.NoError(t, err)

	t.Run("unknown agency", func(t *testing.T) {
		o := officeSSO1
		o.AgencyCode = "NOPE"
		_, _, err := s.PutOffice(admin, o)
		requireField(t, err, inspector.CodeInvalid, "agency_code", "unknown")
		assert.Equal(t, uint64(1), lastSeq(t, s))
	})
	t.Run("invalid", func(t *testing.T) {
		o := officeSSO1
		o.Hours.Closes = "06:00"
		o.Phone = "none"
		_, _, err := s.PutOffice(admin, o)
		requireField(t, err, inspector.CodeInvalid, "hours.closes", "before_opens")
		requireField(t, err, inspector.CodeInvalid, "phone", "invalid")
	})

	in := officeSSO1
	in.Code, in.AgencyCode, in.Phone = " qz-sso-01", "sso", "۰۲۸-۳۳۰۰۰۱۰۱"
	in.Hours.Days = []string{"Sat", "SUN", "mon", "tue", "wed"}
	o, created, err := s.PutOffice(admin, in)
	require.NoError(t, err)
	assert.True(t, created)
	assert.Equal(t, "QZ-SSO-01", o.Code)
	assert.Equal(t, "SSO", o.AgencyCode)
	assert.Equal(t, "028-33000101", o.Phone)
	assert.Equal(t, []string{"sat", "sun", "mon", "tue", "wed"}, o.Hours.Days)
	assert.Equal(t, uint64(2), o.Version)
	assert.Equal(t, t0, o.Updated)
	got, err := s.Office("qz-sso-01")
	require.NoError(t, err)
	assert.Equal(t, o, got)

	t.Run("unchanged put writes nothing", func(t *testing.T) {
		clock.Advance(time.Minute)
		again, created, err := s.PutOffice(admin, officeSSO1)
		require.NoError(t, err)
		assert.False(t, created)
		assert.Equal(t, o, again)
		assert.Equal(t, uint64(2), lastSeq(t, s))
	})
	t.Run("changed put is an update", func(t *testing.T) {
		clock.Advance(time.Minute)
		changed := officeSSO1
		changed.Location = &inspector.Location{Lat: 36.28, Lng: 50.01}
		u, created, err := s.PutOffice(admin, changed)
		require.NoError(t, err)
		assert.False(t, created)
		assert.Equal(t, uint64(3), u.Version)
		assert.Equal(t, &inspector.Location{Lat: 36.28, Lng: 50.01}, u.Location)
		ch := allChanges(t, s)
		require.Len(t, ch, 3)
		assert.Equal(t, Change{Seq: 3, Kind: KindOffice, ID: "QZ-SSO-01", Action: ActionUpdated, Actor: admin.UserID,
			At: t0.Add(2 * time.Minute), Data: map[string]string{"agency": "SSO", "province": "قزوین"}}, ch[2])
	})
	t.Run("not found", func(t *testing.T) {
		_, err := s.Office("NOPE")
		requireCode(t, err, inspector.CodeNotFound)
	})
}

func TestDeleteAgency(t *testing.T) {
	s := mustOpenStore(t)
	seedReference(t, s)
	seq := lastSeq(t, s)

	err := s.DeleteAgency(admin, "sso")
	e := requireCode(t, err, inspector.CodeConflict)
	assert.Contains(t, e.Message, "2 offices")
	assert.Equal(t, seq, lastSeq(t, s))

	require.NoError(t, s.DeleteOffice(admin, "QZ-SSO-01"))
	requireCode(t, s.DeleteAgency(admin, "SSO"), inspector.CodeConflict) // one office left
	require.NoError(t, s.DeleteOffice(admin, "tk-sso-01"))
	require.NoError(t, s.DeleteAgency(admin, "sso"), "deleted offices do not hold the agency")

	ch := allChanges(t, s)
	last := ch[len(ch)-1]
	assert.Equal(t, KindAgency, last.Kind)
	assert.Equal(t, ActionDeleted, last.Action)
	assert.Equal(t, "SSO", last.ID)

	a, err := s.Agency("SSO")
	require.NoError(t, err, "a deleted agency can still be read")
	assert.True(t, a.Deleted)
	assert.Equal(t, last.Seq, a.Version)

	live, err := s.Agencies(false)
	require.NoError(t, err)
	require.Len(t, live, 1)
	assert.Equal(t, "TAX", live[0].Code)
	all, err := s.Agencies(true)
	require.NoError(t, err)
	assert.Len(t, all, 2)
	assert.Equal(t, "SSO", all[0].Code, "by code")

	requireCode(t, s.DeleteAgency(admin, "SSO"), inspector.CodeNotFound)
	requireCode(t, s.DeleteAgency(admin, "NOPE"), inspector.CodeNotFound)

	// Offices cannot be put under a deleted agency.
	_, _, err = s.PutOffice(admin, officeSSO1)
	requireField(t, err, inspector.CodeInvalid, "agency_code", "unknown")

	// Putting it again revives it as a creation.
	a, created, err := s.PutAgency(admin, agencySSO)
	require.NoError(t, err)
	assert.True(t, created)
	assert.False(t, a.Deleted)
	assert.Equal(t, ActionCreated, allChanges(t, s)[len(allChanges(t, s))-1].Action)
}

func TestDeleteOffice(t *testing.T) {
	s := mustOpenStore(t)
	seedReference(t, s)
	require.NoError(t, s.DeleteOffice(admin, "QZ-TAX-01"))
	requireCode(t, s.DeleteOffice(admin, "QZ-TAX-01"), inspector.CodeNotFound)
	requireCode(t, s.DeleteOffice(admin, "NOPE"), inspector.CodeNotFound)

	ch := allChanges(t, s)
	assert.Equal(t, Change{Seq: ch[len(ch)-1].Seq, Kind: KindOffice, ID: "QZ-TAX-01", Action: ActionDeleted, Actor: admin.UserID,
		At: t0, Data: map[string]string{"agency": "TAX", "province": "قزوین"}}, ch[len(ch)-1])

	o, err := s.Office("QZ-TAX-01")
	require.NoError(t, err)
	assert.True(t, o.Deleted)

	_, _, err = s.CreateComplaint(dispatcher, intake("CALL-1", "QZ-TAX-01"))
	requireField(t, err, inspector.CodeInvalid, "office_code", "unknown")

	live, err := s.Offices(OfficeFilter{})
	require.NoError(t, err)
	assert.Equal(t, []string{"AB-TAX-01", "QZ-SSO-01", "TK-SSO-01"}, officeCodes(live))
	all, err := s.Offices(OfficeFilter{IncludeDeleted: true})
	require.NoError(t, err)
	assert.Equal(t, []string{"AB-TAX-01", "QZ-SSO-01", "QZ-TAX-01", "TK-SSO-01"}, officeCodes(all))
}

func officeCodes(os []inspector.Office) []string {
	out := make([]string, len(os))
	for i, o := range os {
		out[i] = o.Code
	}
	return out
}

func TestOfficesFilter(t *testing.T) {
	s := mustOpenStore(t)
	seedReference(t, s)
	zanjan := office("ZN-SSO-01", "SSO", "شعبه تامین اجتماعی زنجان", "زنجان")
	zanjan.Province = "زنجان"
	zanjan.Address = "خیابان سعدی"
	_, _, err := s.PutOffice(admin, zanjan)
	require.NoError(t, err)

	tests := []struct {
		name string
		f    OfficeFilter
		want []string
	}{
		{"all", OfficeFilter{}, []string{"AB-TAX-01", "QZ-SSO-01", "QZ-TAX-01", "TK-SSO-01", "ZN-SSO-01"}},
		{"agency", OfficeFilter{AgencyCode: "sso"}, []string{"QZ-SSO-01", "TK-SSO-01", "ZN-SSO-01"}},
		{"province with Arabic yeh", OfficeFilter{Province: "قزوين"}, []string{"AB-TAX-01", "QZ-SSO-01", "QZ-TAX-01", "TK-SSO-01"}},
		{"city with Arabic kaf", OfficeFilter{City: "تاكستان"}, []string{"TK-SSO-01"}},
		{"city with Arabic yeh and kaf", OfficeFilter{City: "آبيك"}, []string{"AB-TAX-01"}},
		{"query in name", OfficeFilter{Query: "ماليات"}, []string{"AB-TAX-01", "QZ-TAX-01"}},
		{"query on code", OfficeFilter{Query: "qz-"}, []string{"QZ-SSO-01", "QZ-TAX-01"}},
		{"query on address", OfficeFilter{Query: "سعدي"}, []string{"ZN-SSO-01"}},
		{"agency and city", OfficeFilter{AgencyCode: "TAX", City: "قزوین"}, []string{"QZ-TAX-01"}},
		{"no match", OfficeFilter{Province: "تهران"}, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Offices(tt.f)
			require.NoError(t, err)
			assert.Equal(t, tt.want, officeCodes(got))
		})
	}
}

// importRows returns three offices of two agencies, on lines 2–4.
func importRows() []inspector.OfficeRow {
	return []inspector.OfficeRow{
		{Line: 2, Agency: agencySSO, Office: officeSSO1},
		{Line: 3, Agency: agencySSO, Office: officeSSO2},
		{Line: 4, Agency: agencyTAX, Office: officeTAX1},
	}
}

func TestImportOffices(t *testing.T) {
	s := mustOpenStore(t)

	res, err := s.ImportOffices(admin, importRows())
	require.NoError(t, err)
	assert.Equal(t, ImportResult{AgenciesCreated: 2, OfficesCreated: 3}, res)
	assert.Len(t, allChanges(t, s), 5)
	requireSeqsContiguous(t, allChanges(t, s))
	offices, err := s.Offices(OfficeFilter{})
	require.NoError(t, err)
	assert.Equal(t, []string{"QZ-SSO-01", "QZ-TAX-01", "TK-SSO-01"}, officeCodes(offices))

	t.Run("re-import of the same file changes nothing", func(t *testing.T) {
		seq := lastSeq(t, s)
		res, err := s.ImportOffices(admin, importRows())
		require.NoError(t, err)
		assert.Equal(t, ImportResult{Unchanged: 3}, res)
		assert.Equal(t, seq, lastSeq(t, s), "no change-log entries")
	})
	t.Run("re-import with changes", func(t *testing.T) {
		rows := importRows()
		rows[0].Office.Phone = "028-33009999"             // office updated
		rows[2].Agency.NameEn = "Iran Tax Administration" // agency updated
		rows = append(rows, inspector.OfficeRow{Line: 5, Agency: agencyTAX, Office: officeTAX2})
		rows[3].Agency.NameEn = rows[2].Agency.NameEn // same agency, same name: counted once
		seq := lastSeq(t, s)
		res, err := s.ImportOffices(admin, rows)
		require.NoError(t, err)
		assert.Equal(t, ImportResult{AgenciesUpdated: 1, OfficesCreated: 1, OfficesUpdated: 1, Unchanged: 2}, res)
		assert.Equal(t, seq+3, lastSeq(t, s))
		o, err := s.Office("QZ-SSO-01")
		require.NoError(t, err)
		assert.Equal(t, "028-33009999", o.Phone)
		a, err := s.Agency("TAX")
		require.NoError(t, err)
		assert.Equal(t, "Iran Tax Administration", a.NameEn)
	})
}

func TestImportOfficesAllOrNothing(t *testing.T) {
	s := mustOpenStore(t)
	rows := importRows()
	rows[2].Office.Phone = "not a phone"
	rows[1].Office.Hours.Days = []string{"someday"}
	_, err := s.ImportOffices(admin, rows)
	requireField(t, err, inspector.CodeInvalid, "line 4: phone", "invalid")
	requireField(t, err, inspector.CodeInvalid, "line 3: hours.days", "invalid")

	assert.Empty(t, allChanges(t, s), "nothing written")
	agencies, err := s.Agencies(true)
	require.NoError(t, err)
	assert.Empty(t, agencies)
	offices, err := s.Offices(OfficeFilter{IncludeDeleted: true})
	require.NoError(t, err)
	assert.Empty(t, offices)

	t.Run("a bad agency names its line", func(t *testing.T) {
		rows := importRows()
		rows[0].Agency.Code = ""
		rows[0].Agency.NameFa = ""
		_, err := s.ImportOffices(admin, rows)
		requireField(t, err, inspector.CodeInvalid, "line 2: code", "invalid")
		requireField(t, err, inspector.CodeInvalid, "line 2: name_fa", "required")
		requireField(t, err, inspector.CodeInvalid, "line 2: agency_code", "required")
		assert.Empty(t, allChanges(t, s))
	})
}

func TestImportOfficesTakesAgencyFromRow(t *testing.T) {
	s := mustOpenStore(t)
	rows := []inspector.OfficeRow{{Line: 2, Agency: inspector.Agency{Code: "tax", NameFa: "مالیات"}, Office: officeSSO1}}
	rows[0].Office.AgencyCode = "SSO" // the row's agency wins
	_, err := s.ImportOffices(admin, rows)
	require.NoError(t, err)
	o, err := s.Office("QZ-SSO-01")
	require.NoError(t, err)
	assert.Equal(t, "TAX", o.AgencyCode)
}

func TestImportOfficesAppliedInLineOrder(t *testing.T) {
	s := mustOpenStore(t)
	first, second := officeSSO1, officeSSO1
	first.Phone, second.Phone = "028-11111111", "028-22222222"
	rows := []inspector.OfficeRow{
		{Line: 9, Agency: agencySSO, Office: second},
		{Line: 2, Agency: agencySSO, Office: first},
	}
	res, err := s.ImportOffices(admin, rows)
	require.NoError(t, err)
	assert.Equal(t, ImportResult{AgenciesCreated: 1, OfficesCreated: 1, OfficesUpdated: 1}, res)
	o, err := s.Office("QZ-SSO-01")
	require.NoError(t, err)
	assert.Equal(t, "028-22222222", o.Phone, "the later line wins")
}

// The demo file shipped beside the project imports, and re-imports as unchanged.
func TestImportQazvinDemo(t *testing.T) {
	f, err := os.Open(filepath.Join("..", "..", "shared", "data", "qazvin-demo-offices.csv"))
	if os.IsNotExist(err) {
		t.Skip("demo file not present beside the project")
	}
	require.NoError(t, err)
	defer f.Close()
	rows, err := inspector.ParseOfficeCSV(f, "قزوین")
	require.NoError(t, err)

	s := mustOpenStore(t)
	res, err := s.ImportOffices(admin, append([]inspector.OfficeRow(nil), rows...))
	require.NoError(t, err)
	assert.Equal(t, ImportResult{AgenciesCreated: 12, OfficesCreated: 24}, res)
	res, err = s.ImportOffices(admin, rows)
	require.NoError(t, err)
	assert.Equal(t, ImportResult{Unchanged: 24}, res)

	inQazvin, err := s.Offices(OfficeFilter{Province: "قزوين", City: "قزوين"})
	require.NoError(t, err)
	assert.Len(t, inQazvin, 14)
}
