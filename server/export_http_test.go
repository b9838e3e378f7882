package server_test

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/xuri/excelize/v2"

	"github.com/favad/favad/inspector"
)

const (
	csvType  = "text/csv; charset=utf-8"
	xlsxType = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
)

var exportHeaderEn = []string{"Number", "Status", "Category", "Priority", "Office code", "Agency code", "Call time",
	"Due at", "Overdue", "Inspector id", "Mode", "Outcome", "Caller name", "Caller phone"}

// exportEnv is an env with three complaints: an urgent one assigned to the
// field inspector, an urgent one about the Takestan office whose caller
// typed a formula as their name, and a low-priority one still received.
type exportEnv struct {
	*env
	disp                      string
	assigned, takestan, quiet complaintJSON
	callTime                  time.Time
}

func newExportEnv(t *testing.T) *exportEnv {
	e := &exportEnv{env: newEnv(t)}
	e.disp = e.token("dispatcher")
	e.callTime = e.clock.Now().Add(-10 * time.Minute)
	create := func(callID string, edit func(m map[string]any)) complaintJSON {
		m := intake(callID, e.callTime)
		edit(m)
		r := e.do(newCall("POST", "/v1/complaints", e.disp, m))
		require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
		var c complaintJSON
		r.json(t, &c)
		return c
	}
	e.assigned = create("CALL-EXP-1", func(map[string]any) {})
	e.takestan = create("CALL-EXP-2", func(m map[string]any) {
		m["office_code"] = "TK-SSO-01"
		m["caller"] = map[string]string{"name": `=HYPERLINK("http://evil.example","click")`, "phone": "+98 912 123 4567"}
	})
	e.quiet = create("CALL-EXP-3", func(m map[string]any) { m["priority"] = "low" })
	r := e.do(newCall("POST", "/v1/complaints/"+e.assigned.ID+"/assign", e.disp,
		map[string]string{"inspector_id": e.users["field"].ID, "mode": "field"}))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	return e
}

// exportCSV downloads a CSV export and returns its records (header first).
func (e *exportEnv) exportCSV(token, query string) [][]string {
	e.t.Helper()
	r := e.do(newCall("GET", "/v1/complaints/export?"+query, token, nil))
	require.Equal(e.t, http.StatusOK, r.status, "%s", r.body)
	require.Equal(e.t, csvType, r.header.Get("Content-Type"))
	require.True(e.t, bytes.HasPrefix(r.body, []byte("\uFEFF")), "a CSV export starts with the UTF-8 byte-order mark")
	records, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(r.body, []byte("\uFEFF")))).ReadAll()
	require.NoError(e.t, err)
	return records
}

func column(records [][]string, name string) []string {
	var out []string
	i := indexOf(records[0], name)
	for _, rec := range records[1:] {
		out = append(out, rec[i])
	}
	return out
}

func indexOf(xs []string, x string) int {
	for i, v := range xs {
		if v == x {
			return i
		}
	}
	return -1
}

func num(c complaintJSON) string { return strconv.FormatUint(c.Number, 10) }

func TestExportComplaintsCSV(t *testing.T) {
	e := newExportEnv(t)
	r := e.do(newCall("GET", "/v1/complaints/export?format=csv&lang=en", e.disp, nil))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	today := e.clock.Now().In(time.FixedZone("+0330", 3*3600+30*60)).Format(time.DateOnly)
	assert.Equal(t, `attachment; filename="complaints-`+today+`.csv"`, r.header.Get("Content-Disposition"))
	assert.Equal(t, "no-store", r.header.Get("Cache-Control"))

	records := e.exportCSV(e.disp, "format=csv&lang=en")
	require.Len(t, records, 4, "a header and the three complaints")
	assert.Equal(t, exportHeaderEn, records[0])
	assert.Equal(t, []string{num(e.quiet), num(e.takestan), num(e.assigned)}, column(records, "Number"), "newest first, like the list")

	iran := time.FixedZone("+0330", 3*3600+30*60)
	assert.Equal(t, []string{
		num(e.assigned), "assigned", "absent_employee", "urgent", "QZ-SSO-01", "SSO",
		e.callTime.In(iran).Format(time.RFC3339), e.callTime.Add(time.Hour).In(iran).Format(time.RFC3339), "false",
		e.users["field"].ID, "field", "", "شهروند نمونه", "09121234567",
	}, records[3], "every column of the assigned complaint; times in Iran time")
	assert.Equal(t, `'=HYPERLINK("http://evil.example","click")`, records[2][indexOf(records[0], "Caller name")],
		"a caller's formula is neutralised")
	assert.Equal(t, "'+989121234567", records[2][indexOf(records[0], "Caller phone")])

	// Persian by default: Persian headers, and times in the Solar Hijri calendar.
	fa := e.exportCSV(e.disp, "")
	assert.Equal(t, "شماره", fa[0][0])
	assert.Contains(t, fa[0], "نام تماس‌گیرنده")
	y, m, d := inspector.ToJalali(e.callTime)
	assert.Equal(t, fmt.Sprintf("%04d/%02d/%02d %s", y, m, d, e.callTime.In(iran).Format("15:04")), fa[3][indexOf(fa[0], "زمان تماس")])
	assert.Equal(t, "خیر", fa[3][indexOf(fa[0], "معوق")])
	assert.Equal(t, records[3][:6], fa[3][:6], "numbers and codes are the same in both")
}

// TestExportComplaintsFilters: the export takes the list's filters and holds
// exactly the complaints the list does.
func TestExportComplaintsFilters(t *testing.T) {
	e := newExportEnv(t)
	e.clock.Advance(2 * time.Hour) // the two urgent complaints are now overdue
	e.disp = e.token("dispatcher") // the first token has expired
	for query, want := range map[string][]complaintJSON{
		"status=assigned":                  {e.assigned},
		"status=received,assigned":         {e.quiet, e.takestan, e.assigned},
		"office=tk-sso-01":                 {e.takestan},
		"agency=SSO":                       {e.quiet, e.takestan, e.assigned},
		"category=client_crowding":         {},
		"inspector=" + e.users["field"].ID: {e.assigned},
		"overdue=true":                     {e.takestan, e.assigned},
		"q=" + url.QueryEscape("تاکستان"):  {e.takestan},
	} {
		records := e.exportCSV(e.disp, "lang=en&"+query)
		var wantNums []string
		for _, c := range want {
			wantNums = append(wantNums, num(c))
		}
		assert.Equal(t, wantNums, column(records, "Number"), query)

		r := e.do(newCall("GET", "/v1/complaints?"+query, e.disp, nil))
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		var page pageJSON
		r.json(t, &page)
		var listed []string
		for _, c := range page.Items {
			listed = append(listed, num(c))
		}
		assert.Equal(t, listed, column(records, "Number"), "%s: the export and the list agree", query)
	}
	records := e.exportCSV(e.disp, "lang=en&overdue=true")
	assert.Equal(t, []string{"true", "true"}, column(records, "Overdue"))
}

func TestExportComplaintsXLSX(t *testing.T) {
	e := newExportEnv(t)
	r := e.do(newCall("GET", "/v1/complaints/export?format=xlsx&status=assigned", e.disp, nil))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	assert.Equal(t, xlsxType, r.header.Get("Content-Type"))
	assert.Regexp(t, `^attachment; filename="complaints-\d{4}-\d{2}-\d{2}\.xlsx"$`, r.header.Get("Content-Disposition"))
	assert.Equal(t, "no-store", r.header.Get("Cache-Control"))

	f, err := excelize.OpenReader(bytes.NewReader(r.body))
	require.NoError(t, err)
	defer f.Close()
	const sheet = "شکایات"
	assert.Equal(t, []string{sheet}, f.GetSheetList())
	view, err := f.GetSheetView(sheet, 0)
	require.NoError(t, err)
	require.NotNil(t, view.RightToLeft)
	assert.True(t, *view.RightToLeft, "a Persian export reads right to left")

	rows, err := f.GetRows(sheet)
	require.NoError(t, err)
	require.Len(t, rows, 2)
	assert.Equal(t, []string{"شماره", "وضعیت", "موضوع", "اولویت", "کد اداره", "کد دستگاه", "زمان تماس", "مهلت رسیدگی",
		"معوق", "شناسه بازرس", "شیوه رسیدگی", "نتیجه", "نام تماس‌گیرنده", "تلفن تماس‌گیرنده"}, rows[0])
	iran := time.FixedZone("+0330", 3*3600+30*60)
	assert.Equal(t, []string{num(e.assigned), "assigned", "absent_employee", "urgent", "QZ-SSO-01", "SSO",
		e.callTime.In(iran).Format("2006-01-02 15:04"), e.callTime.Add(time.Hour).In(iran).Format("2006-01-02 15:04"), "FALSE",
		e.users["field"].ID, "field", "", "شهروند نمونه", "09121234567"}, rows[1])
	for _, cell := range []string{"A2", "G2", "H2"} {
		ct, err := f.GetCellType(sheet, cell)
		require.NoError(t, err)
		assert.Contains(t, []excelize.CellType{excelize.CellTypeUnset, excelize.CellTypeNumber}, ct, "%s is numeric", cell)
	}

	r = e.do(newCall("GET", "/v1/complaints/export?format=xlsx&lang=en", e.disp, nil))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	f2, err := excelize.OpenReader(bytes.NewReader(r.body))
	require.NoError(t, err)
	defer f2.Close()
	assert.Equal(t, []string{"Complaints"}, f2.GetSheetList())
	rows, err = f2.GetRows("Complaints")
	require.NoError(t, err)
	assert.Equal(t, exportHeaderEn, rows[0])
	assert.Len(t, rows, 4)
}

func TestExportComplaintsRoles(t *testing.T) {
	e := newExportEnv(t)
	for _, user := range []string{"supervisor", "admin"} {
		records := e.exportCSV(e.token(user), "lang=en")
		assert.Equal(t, exportHeaderEn, records[0], "%s sees the caller", user)
		assert.Len(t, records, 4, user)
	}
	r := e.do(newCall("GET", "/v1/complaints/export", e.token("field"), nil))
	require.Equal(t, http.StatusForbidden, r.status, "%s", r.body)
	assert.Equal(t, "forbidden", string(r.problem(t).Code))
}

func TestExportComplaintsInvalid(t *testing.T) {
	e := newExportEnv(t)
	for query, field := range map[string]string{
		"format=pdf":        "format",
		"format=CSV":        "format",
		"lang=de":           "lang",
		"status=lost":       "status",
		"category=rudeness": "category",
		"overdue=maybe":     "overdue",
	} {
		r := e.do(call{method: "GET", path: "/v1/complaints/export?" + query, token: e.disp, invalidRequest: true})
		require.Equal(t, http.StatusUnprocessableEntity, r.status, "%s: %s", query, r.body)
		p := r.problem(t)
		assert.Equal(t, "invalid", string(p.Code), query)
		require.Len(t, p.Errors, 1, query)
		assert.Equal(t, field, p.Errors[0].Field, query)
		assert.Empty(t, r.header.Get("Content-Disposition"), "a refusal is not an attachment")
	}
}

// TestExportComplaintsIsNotAComplaintID: /v1/complaints/export is its own
// route, not /v1/complaints/{id} with id "export"; real ids still resolve.
func TestExportComplaintsIsNotAComplaintID(t *testing.T) {
	e := newExportEnv(t)
	r := e.do(newCall("GET", "/v1/complaints/export", e.disp, nil))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	assert.Equal(t, csvType, r.header.Get("Content-Type"))
	r = e.do(newCall("GET", "/v1/complaints/"+e.assigned.ID, e.disp, nil))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	r = e.do(newCall("GET", "/v1/complaints/exports", e.disp, nil))
	require.Equal(t, http.StatusNotFound, r.status, "%s", r.body)
	assert.Equal(t, "not_found", string(r.problem(t).Code), "a near miss is an id that does not exist")
}

// TestExportComplaintsPagesThroughEveryComplaint: more complaints than one
// store page (200) all reach the file, each once, newest first.
func TestExportComplaintsPagesThroughEveryComplaint(t *testing.T) {
	e := newExportEnv(t)
	const extra = 230
	for i := range extra {
		_, _, err := e.store.CreateComplaint(systemActor, inspector.NewComplaint{
			CallID: fmt.Sprintf("CALL-BULK-%03d", i), Category: inspector.Category("absent_employee"),
			Description: "کارمند حاضر نیست", CallTime: e.callTime, OfficeCode: "QZ-SSO-01", Priority: inspector.PriorityUrgent,
		})
		require.NoError(t, err)
	}
	records := e.exportCSV(e.disp, "lang=en")
	require.Len(t, records, 1+3+extra)
	nums := column(records, "Number")
	seen := map[string]bool{}
	for i, n := range nums {
		assert.False(t, seen[n], "complaint %s twice", n)
		seen[n] = true
		if i > 0 {
			prev, _ := strconv.Atoi(nums[i-1])
			cur, _ := strconv.Atoi(n)
			assert.Greater(t, prev, cur, "newest first")
		}
	}

	r := e.do(newCall("GET", "/v1/complaints/export?format=xlsx&status=received", e.disp, nil))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	f, err := excelize.OpenReader(bytes.NewReader(r.body))
	require.NoError(t, err)
	defer f.Close()
	rows, err := f.GetRows("شکایات")
	require.NoError(t, err)
	assert.Len(t, rows, 1+2+extra, "the two received complaints and the bulk ones")
}
