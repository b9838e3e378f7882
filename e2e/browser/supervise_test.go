package browser

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/favad/favad/inspector"
	"github.com/favad/favad/internal/testseed"
	"github.com/favad/favad/sync/client"
)

const callerName = "فاطمه ذوالفقاری"

// TestOfficeAnswersReferral: the office liaison sees the complaint referred
// to its office (never the caller) and answers it.
func TestOfficeAnswersReferral(t *testing.T) {
	e := newEnv(t)
	c := e.complaint("QZ-SSO-01", inspector.CategoryClientCrowding, inspector.PriorityNormal, "صف طولانی و تنها یک باجه باز است")
	e.api("POST", "/v1/complaints/"+c.ID+"/refer", e.token("dispatcher"), map[string]string{"note": "لطفا باجه‌های بیشتری باز کنید"}, nil)

	b := newTab(t, e.ts.URL)
	b.login("office", testseed.Password)
	if h := b.hash(); h != "#/office" {
		b.fatalf("the office liaison starts on %s, want #/office", h)
	}
	b.waitText("صف طولانی و تنها یک باجه باز است")
	assert.NotContains(t, eval[string](b, `return document.body.innerText;`), callerName, "the office never sees the caller")
	b.checkA11y("office")
	b.screenshot("office")

	// Acknowledge, then answer: the action taken and a text.
	b.clickButton(b.label("office.ack"))
	b.waitText(strings.SplitN(b.label("office.acked"), "{", 2)[0])
	b.click("the action "+b.label("office.action.corrected"), `return $all("input[type=radio]").find((r) => $name(r).includes(`+jsq(b.label("office.action.corrected"))+`));`)
	b.click("the answer's text", `return $control(`+jsq(b.label("office.text"))+`);`)
	b.keys("دو باجه دیگر باز شد و مدیر شعبه پیگیری می‌کند")
	b.clickButton(b.label("office.send"))
	require.Eventually(t, func() bool { return e.getComplaint(c.ID).Status == "referral_answered" }, 10*time.Second, 50*time.Millisecond)
	b.waitText(b.label("status.referral_answered"))
}

// TestReportAndExport: a supervisor opens the reports on a day's figures and
// exports one as CSV: the download completes, with a BOM and the rows.
func TestReportAndExport(t *testing.T) {
	e := newEnv(t)
	day(t, e)

	b := newTab(t, e.ts.URL)
	// Downloads of this tab's browser context go to a directory of the test.
	dir := t.TempDir()
	bc := chromedp.FromContext(b.ctx).BrowserContextID
	_, err := chromedp.CallBrowser(b.ctx, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{
		Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllowAndName, BrowserContextID: bc, DownloadPath: dir, EventsEnabled: ptr(true)})
	require.NoError(t, err)
	done := make(chan string, 4)
	names := make(chan string, 4)
	require.NoError(t, chromedp.ListenBrowser(b.ctx, func(ev any) {
		if p, ok := ev.(*cdpbrowser.EventDownloadProgress); ok && p.State == cdpbrowser.DownloadProgressStateCompleted {
			done <- p.GUID
		}
		if w, ok := ev.(*cdpbrowser.EventDownloadWillBegin); ok {
			names <- w.SuggestedFilename
		}
	}))

	// The phone inspector, who resolved one complaint, has left.
	e.api("POST", "/v1/users/"+e.users["phone"].ID+"/disable", e.token("admin"), nil, nil)
	b.login("supervisor", testseed.Password)
	if h := b.hash(); h != "#/reports" {
		b.fatalf("the supervisor starts on %s, want #/reports", h)
	}
	b.waitText("سازمان تامین اجتماعی")
	b.wait("a chart", `return $all("#main svg").length > 0;`)
	b.checkA11y("reports")
	b.screenshot("report")
	// A count axis in whole steps; the series named in a legend that wraps.
	ticks := eval[[]string](b, `return $all("section[aria-labelledby=r-trend] svg text.chart-value").map((el) => el.textContent);`)
	require.NotEmpty(t, ticks)
	for _, v := range ticks {
		assert.Regexp(t, `^[۰-۹]+$`, v, "a whole number of complaints")
	}
	assert.Equal(t, 4, eval[int](b, `return $all("section[aria-labelledby=r-trend] .chart-legend li").length;`), "one legend entry a category")
	months := eval[[]string](b, `return $all("section[aria-labelledby=r-trend] tbody th").map((el) => el.textContent);`)
	require.NotEmpty(t, months)
	for _, m := range months {
		assert.Regexp(t, `^\p{Arabic}+ [۰-۹]{4}$`, m, "the month, then the year")
	}
	// An inspector who has left is named, and marked.
	b.waitText(strings.ReplaceAll(b.label("reports.inspectorLeft"), "{name}", e.users["phone"].DisplayName))
	assert.NotContains(t, b.mainText(), e.users["phone"].ID)
	// One office's report: the office filter lists the offices, by name.
	offices := eval[[]string](b, `return [...document.getElementById("rep-office").options].map((o) => o.value).filter(Boolean);`)
	assert.Contains(t, offices, "QZ-SSO-01")
	assert.Greater(t, len(offices), 3)

	// The agency ranking's CSV export (its name says which table; its text says CSV).
	b.click("the agencies' CSV export", `return $all("#main button").find((el) => $norm(el.textContent).includes(`+jsq(b.label("reports.csv"))+`) && $name(el).includes(`+jsq(b.label("reports.agencies"))+`));`)
	var guid string
	select {
	case guid = <-done:
	case <-time.After(15 * time.Second):
		b.fatalf("the CSV export did not download")
	}
	assert.Regexp(t, `^favad-agencies-14\d\d-\d\d-\d\d_14\d\d-\d\d-\d\d\.csv$`, <-names, "the file named by its Solar Hijri dates")
	data, err := os.ReadFile(filepath.Join(dir, guid))
	require.NoError(t, err)
	require.True(t, bytes.HasPrefix(data, []byte("\uFEFF")), "UTF-8 with a BOM: %q", data[:min(len(data), 40)])
	assert.Contains(t, string(data), "سازمان تامین اجتماعی")
	b.mu.Lock()
	var export *response
	for i, r := range b.responses {
		if strings.Contains(r.url, "format=csv") {
			export = &b.responses[i]
		}
	}
	b.mu.Unlock()
	require.NotNil(t, export, "the page asked for the export")
	assert.Equal(t, 200, export.status, "%s", export.url)
}

func ptr[T any](v T) *T { return &v }

// day fills the store with a small day of work: complaints in several
// offices, two visits with findings and outcomes, a phone resolution and a
// referral, so that every report has rows.
func day(t *testing.T, e *env) {
	t.Helper()
	field, phone := e.device("field"), e.device("phone")
	visit := func(office string, expected, present int, outcome string, absentees ...client.Absentee) {
		c := e.complaint(office, inspector.CategoryAbsentEmployee, inspector.PriorityUrgent, "کارمندان در محل نیستند")
		e.assign(c.ID, "field")
		e.sync(field)
		v := client.NewID()
		_, _, err := field.CheckIn(v, office, []string{c.ID}, near(office))
		require.NoError(t, err)
		_, _, err = field.RecordFinding(client.NewID(), client.Finding{VisitID: v, ComplaintID: c.ID, StaffExpected: expected, StaffPresent: present,
			Absentees: absentees, ClientsWaiting: 10 + expected, DesksOpen: present / 2, ObservedAt: time.Now()})
		require.NoError(t, err)
		_, _, err = field.RecordOutcome(c.ID, outcome, "بازدید انجام شد")
		require.NoError(t, err)
		_, _, err = field.CheckOut(v, near(office), "پایان بازدید")
		require.NoError(t, err)
		e.sync(field)
	}
	visit("QZ-SSO-01", 10, 7, "substantiated", client.Absentee{Name: "الف", Reason: "unexcused"}, client.Absentee{Name: "ب", Reason: "leave"}, client.Absentee{Name: "پ", Reason: "unexcused"})
	visit("QZ-SSO-01", 10, 8, "substantiated", client.Absentee{Name: "ت", Reason: "unexcused"}, client.Absentee{Name: "ث", Reason: "mission"})
	visit("QZ-SSO-02", 6, 6, "not_substantiated")
	c := e.complaint("QZ-TAX-01", inspector.CategoryNonWork, inspector.PriorityNormal, "کارمند با تلفن همراه مشغول است")
	e.assign(c.ID, "phone")
	e.sync(phone)
	_, _, err := phone.RecordCall(client.NewID(), client.Call{ComplaintID: c.ID, CalleeName: "مدیر اداره", Number: "028-33220000",
		StartedAt: time.Now(), DurationS: 120, Outcome: "reached"})
	require.NoError(t, err)
	_, _, err = phone.RecordOutcome(c.ID, "resolved_on_spot", "مدیر پیگیری کرد")
	require.NoError(t, err)
	e.sync(phone)
	r := e.complaint("QZ-MUN-03", inspector.CategoryClientCrowding, inspector.PriorityHigh, "صف طولانی")
	e.api("POST", "/v1/complaints/"+r.ID+"/refer", e.token("dispatcher"), map[string]string{}, nil)
	e.complaint("QZ-REG-01", inspector.CategoryOther, inspector.PriorityLow, "تلفن اداره پاسخ نمی‌دهد")
	head, err := e.store.Stats()
	require.NoError(t, err)
	require.Eventually(t, func() bool { applied, h := e.agg.Behind(); return applied == h && h >= head.Seq }, 10*time.Second, 10*time.Millisecond)
}

// TestAdminScreen: the admin's screen (accounts, devices, enrolment,
// offices import) lists the accounts and passes the accessibility checks.
func TestAdminScreen(t *testing.T) {
	e := newEnv(t)
	e.device("field") // a device to list
	b := newTab(t, e.ts.URL)
	b.login("admin", testseed.Password)
	if h := b.hash(); h != "#/admin" {
		b.fatalf("the admin starts on %s, want #/admin", h)
	}
	b.waitText(e.users["dispatcher"].DisplayName)
	b.checkA11y("admin")
	b.screenshot("admin")
}

// TestPhoneScreen: a phone inspector's queue shows the office's number.
func TestPhoneScreen(t *testing.T) {
	e := newEnv(t)
	c := e.complaint("QZ-TAX-01", inspector.CategoryNonWork, inspector.PriorityNormal, "کارمند با تلفن همراه مشغول است")
	e.assign(c.ID, "phone")
	b := newTab(t, e.ts.URL)
	b.login("phone", testseed.Password)
	if h := b.hash(); h != "#/phone" {
		b.fatalf("the phone inspector starts on %s, want #/phone", h)
	}
	b.wait("the office's number", `return /028-?33220000|۰۲۸-?۳۳۲۲۰۰۰۰/.test(document.getElementById("main").innerText);`)
	assert.NotContains(t, eval[string](b, `return document.body.innerText;`), callerName, "an inspector never sees the caller")
	b.checkA11y("phone")
	b.screenshot("phone")
}

// TestImportedOfficeIsOfferedAtOnce: an office the admin imports from a CSV
// file is offered at once by the new-account form on the same screen (it
// was missing until a reload).
func TestImportedOfficeIsOfferedAtOnce(t *testing.T) {
	e := newEnv(t)
	b := newTab(t, e.ts.URL)
	b.login("admin", testseed.Password)
	b.waitText(e.users["dispatcher"].DisplayName)
	csv := filepath.Join(t.TempDir(), "offices.csv")
	require.NoError(t, os.WriteFile(csv, []byte("office_code,agency_code,agency_name_fa,agency_name_en,office_name_fa,city_fa,city_en,latitude,longitude,phone,opens,closes,workdays,province\n"+
		"TK-EDU-01,EDU,آموزش و پرورش,Education,آموزش و پرورش تاکستان,تاکستان,Takestan,36.0700,49.6950,028-35200000,07:30,13:30,Sat-Wed,قزوین\n"), 0o600))
	if hasOffice := eval[bool](b, `return [...document.querySelectorAll("#na-office option")].some((o) => o.value === "TK-EDU-01");`); hasOffice {
		t.Fatal("the office is offered before it is imported")
	}
	b.run("choosing the CSV file", chromedp.SetUploadFiles(chromedp.CSS("#imp-file"), []string{csv}))
	b.clickButton(b.label("admin.doImport"))
	b.wait("the office offered to a new account", `return [...document.querySelectorAll("#na-office option")].some((o) => o.value === "TK-EDU-01");`)
}

// TestImportProblemsInPersian: a file naming one office twice is refused,
// and its problems read in Persian: the line, the column, the problem in
// words and which other line it clashes with; no English server text.
func TestImportProblemsInPersian(t *testing.T) {
	e := newEnv(t)
	b := newTab(t, e.ts.URL)
	b.login("admin", testseed.Password)
	b.waitText(e.users["dispatcher"].DisplayName)
	row := "TK-EDU-01,EDU,آموزش و پرورش,Education,آموزش و پرورش تاکستان,تاکستان,Takestan,36.0700,49.6950,028-35200000,07:30,13:30,Sat-Wed,قزوین\n"
	csv := filepath.Join(t.TempDir(), "offices.csv")
	require.NoError(t, os.WriteFile(csv, []byte("office_code,agency_code,agency_name_fa,agency_name_en,office_name_fa,city_fa,city_en,latitude,longitude,phone,opens,closes,workdays,province\n"+row+row), 0o600))
	b.run("choosing the CSV file", chromedp.SetUploadFiles(chromedp.CSS("#imp-file"), []string{csv}))
	b.clickButton(b.label("admin.doImport"))
	b.waitText(b.label("admin.importErrors"))
	table := eval[string](b, `return document.querySelector("section[aria-labelledby=a-import] table").innerText;`)
	assert.Contains(t, table, b.label("err.field.duplicate"))
	assert.Contains(t, table, strings.ReplaceAll(b.label("admin.sameAsLine"), "{n}", "۲"))
	assert.NotContains(t, table, "is on line", "no English detail in the Persian console")
	var offices struct {
		Items []struct{ Code string } `json:"items"`
	}
	e.api("GET", "/v1/offices", e.token("admin"), nil, &offices)
	for _, o := range offices.Items {
		assert.NotEqual(t, "TK-EDU-01", o.Code, "nothing imported")
	}
}

// TestEnrolmentCodeStaysWhileTheAdminWorks: a phone's enrolment code stays
// on screen while the inspector scans it, though the admin meanwhile
// filters the accounts or disables one (the section was drawn anew, empty).
func TestEnrolmentCodeStaysWhileTheAdminWorks(t *testing.T) {
	e := newEnv(t)
	b := newTab(t, e.ts.URL)
	b.login("admin", testseed.Password)
	b.waitText(e.users["dispatcher"].DisplayName)
	eval[bool](b, `const s = document.getElementById("enrol-user"); s.value = `+jsq(e.users["field"].ID)+`; return true;`)
	b.clickButton(b.label("admin.makeCode"))
	b.wait("the QR code", `return !!document.querySelector(".qr img");`)
	code := eval[string](b, `return document.querySelector(".qr .big-code").textContent;`)
	// The admin filters the accounts, which loads them again.
	eval[bool](b, `const s = document.getElementById("a-role"); s.value = "inspector"; s.dispatchEvent(new Event("change")); return true;`)
	b.wait("the accounts filtered", `return !document.getElementById("main").innerText.includes(`+jsq(e.users["dispatcher"].DisplayName)+`);`)
	assert.Equal(t, code, eval[string](b, `return document.querySelector(".qr .big-code")?.textContent || "";`), "the code still shown")
	assert.Equal(t, e.users["field"].ID, eval[string](b, `return document.getElementById("enrol-user").value;`), "the inspector still chosen")
}
