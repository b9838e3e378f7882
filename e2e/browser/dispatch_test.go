package browser

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/favad/favad/inspector"
	"github.com/favad/favad/internal/testseed"
	"github.com/favad/favad/sync/client"
)

// chooseOption moves a focused <select> with the arrow keys until its
// value is want, as a keyboard user does. When the select's list is open
// (Chromium opens it on the Enter that moved the focus there), the arrows
// move in the list and Enter takes the option.
func (b *tab) chooseOption(want string) {
	b.t.Helper()
	for range 12 {
		v := eval[string](b, `return $active().value;`)
		if v == want {
			return
		}
		key := kb.ArrowDown
		if eval[bool](b, `const s = $active(); return [...s.options].findIndex((o) => o.value === `+jsq(want)+`) < s.selectedIndex;`) {
			key = kb.ArrowUp
		}
		b.keys(key)
		if eval[string](b, `return $active().value;`) == v {
			b.keys(kb.Enter)
		}
	}
	b.fatalf("the arrow keys never chose %q in %s", want, b.focused())
}

// TestIntakeByKeyboard: a dispatcher records a call with the keyboard
// alone (the office found by a name typed with Arabic letters, picked with
// the arrow keys and Enter; Tab from field to field; Enter submits) in
// under 30 seconds, and reads the tracking code to the caller. A second
// call about the same office and category warns of the open complaint.
func TestIntakeByKeyboard(t *testing.T) {
	e, b := dispatcherAtIntake(t)

	start := time.Now()
	b.fillCall("absent_employee", "urgent")
	b.keys(kb.Enter) // from the phone field: Enter submits
	b.wait("the tracking code", `return !!document.getElementById("intake-tracking");`)
	took := time.Since(start)
	t.Logf("a call recorded by keyboard in %v", took)
	assert.Less(t, took, 30*time.Second, "intake in under 30 seconds")
	b.screenshot("intake-done")

	var list struct {
		Items []complaintJSON `json:"items"`
	}
	e.api("GET", "/v1/complaints", e.token("dispatcher"), nil, &list)
	require.Len(t, list.Items, 1)
	c := list.Items[0]
	assert.Equal(t, "QZ-SSO-01", c.OfficeCode)
	shown := asciiDigits(regexp.MustCompile(`[\s-]`).ReplaceAllString(b.mainText(), ""))
	assert.Contains(t, shown, c.TrackingCode, "the tracking code to read to the caller")

	// The same office and category again: a warning names the open
	// complaint; Enter once more records the call all the same.
	b.tabTo(b.label("intake.newCall"), 3)
	b.keys(kb.Enter)
	b.wait("a new form", `return !!document.getElementById("intake-office");`)
	b.fillCall("absent_employee", "normal")
	b.wait("the duplicate warning", `return $all(".warning").some((el) => el.textContent.includes(`+jsq(strings.SplitN(b.label("intake.dupTitle"), "{", 2)[0])+`));`)
	b.keys(kb.Enter)
	b.wait("the question whether it is the same call", `return document.querySelector(".warning")?.textContent.includes(`+jsq(b.label("intake.dupAsk"))+`);`)
	b.checkA11y("intake")
	b.screenshot("intake")
	b.tabTo(b.label("intake.submitAnyway"), 20)
	b.keys(kb.Enter)
	b.wait("the second tracking code", `return !!document.getElementById("intake-tracking");`)
	e.api("GET", "/v1/complaints", e.token("dispatcher"), nil, &list)
	assert.Len(t, list.Items, 2)
}

// dispatcherAtIntake signs the dispatcher in and opens the intake form.
func dispatcherAtIntake(t *testing.T) (*env, *tab) {
	t.Helper()
	e := newEnv(t)
	b := newTab(t, e.ts.URL)
	b.login("dispatcher", testseed.Password)
	b.goTo("#/intake")
	return e, b
}

// loseNextAnswer makes the page's next request of method to a path ending in
// suffix reach the server, and its answer be lost on the way back, as on a
// dropped mobile connection.
func (b *tab) loseNextAnswer(method, suffix string) {
	b.t.Helper()
	eval[bool](b, `const real = window.fetch; let lost = false;
		window.fetch = async (url, opts) => {
			const r = await real(url, opts);
			if (!lost && String(url).endsWith(`+jsq(suffix)+`) && (opts?.method || "GET") === `+jsq(method)+`) { lost = true; throw new TypeError("Failed to fetch"); }
			return r;
		}; return true;`)
}

// fillCall types a call about the Social Security branch into the intake
// form by keyboard, up to the caller's phone, which keeps the focus.
func (b *tab) fillCall(category, priority string) {
	b.t.Helper()
	b.tabTo(b.label("intake.office"), 12)
	// "شعبه يك" with the Arabic ي and ك: the search folds them.
	b.keys("شعبه يك تامين")
	b.wait("the office suggestions", `return $all("[role=option]").some((o) => o.textContent.includes("شعبه یک تامین اجتماعی قزوین"));`)
	b.keys(kb.ArrowDown)
	b.keys(kb.Enter)
	b.wait("the chosen office", `return $all("input").some((i) => i.value === "شعبه یک تامین اجتماعی قزوین");`)
	b.tabTo(b.label("intake.category"), 4)
	b.chooseOption(category)
	b.tabTo(b.label("intake.priority"), 4)
	b.chooseOption(priority)
	b.tabTo(b.label("intake.description"), 4)
	b.keys("کارمند باجه سه از ساعت نه در محل نیست و مراجعان در صف هستند")
	b.tabTo(b.label("intake.callerName"), 4)
	b.keys("فاطمه ذوالفقاری")
	b.tabTo(b.label("intake.callerPhone"), 3)
	b.keys("09127654321")
}

// TestIntakeSolarHijriCallTime: a call taken down on paper is recorded
// later with its Solar Hijri date typed in Persian digits and its Iran time
// of day; a date the console cannot read, or a time not yet come, is said
// beside its field, in Persian, with the focus there, before anything is sent.
func TestIntakeSolarHijriCallTime(t *testing.T) {
	e, b := dispatcherAtIntake(t)
	b.fillCall("absent_employee", "normal")

	typeInto := func(id, text string) {
		b.click("the field "+id, `return document.getElementById(`+jsq(id)+`);`)
		eval[bool](b, `$active().select(); return true;`)
		b.keys(text)
	}
	persian := func(s string) string {
		return strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' {
				return '۰' + r - '0'
			}
			return r
		}, s)
	}
	jalali := func(d time.Time) string {
		y, m, dd := inspector.ToJalali(d)
		return persian(fmt.Sprintf("%04d/%02d/%02d", y, m, dd))
	}
	fieldError := func(id string) string {
		return eval[string](b, `const el = document.getElementById(`+jsq(id)+`); return el.getAttribute("aria-invalid") === "true" ? el.closest(".field").querySelector(".field-error")?.textContent || "" : "";`)
	}

	// A month 13: refused beside the date, which takes the focus.
	typeInto("intake-call-date", "۱۴۰۵/۱۳/۰۱")
	b.keys(kb.Enter)
	b.wait("the date's error", `return document.getElementById("intake-call-date").getAttribute("aria-invalid") === "true";`)
	assert.Equal(t, b.label("routing.err.call_time.bad_date"), fieldError("intake-call-date"))
	assert.Equal(t, "intake-call-date", eval[string](b, `return $active().id;`), "the focus on the wrong field")

	// Tomorrow: a call not yet made, said beside the time.
	now := time.Now().In(inspector.IranTime)
	typeInto("intake-call-date", jalali(now.AddDate(0, 0, 1)))
	b.keys(kb.Enter)
	b.wait("the time's error", `return document.getElementById("intake-call-clock").getAttribute("aria-invalid") === "true";`)
	assert.Equal(t, b.label("routing.err.call_clock.in_future"), fieldError("intake-call-clock"))
	assert.Empty(t, fieldError("intake-call-date"), "the date's old error is gone")
	// Mended, the time's error goes at once.
	typeInto("intake-call-clock", "۰۹:۱۵")
	assert.Empty(t, fieldError("intake-call-clock"), "the time's error gone once it is typed again")

	// Yesterday at ۰۹:۱۵, Iran time: recorded as that instant.
	yesterday := now.AddDate(0, 0, -1)
	typeInto("intake-call-date", jalali(yesterday))
	typeInto("intake-call-clock", "۰۹:۱۵")
	y, m, d := inspector.ToJalali(yesterday)
	b.wait("the date read back with its weekday", `return document.getElementById("intake-call-date-hint").textContent.includes(`+jsq(persian(fmt.Sprint(d)))+`);`)
	b.keys(kb.Enter)
	b.wait("the tracking code", `return !!document.getElementById("intake-tracking");`)
	var list struct {
		Items []complaintJSON `json:"items"`
	}
	e.api("GET", "/v1/complaints", e.token("dispatcher"), nil, &list)
	require.Len(t, list.Items, 1)
	want := time.Date(yesterday.Year(), yesterday.Month(), yesterday.Day(), 9, 15, 0, 0, inspector.IranTime)
	assert.True(t, want.Equal(list.Items[0].CallTime), "call time %v, want %v (%d/%d/%d 09:15 Iran time)", list.Items[0].CallTime, want, y, m, d)
}

// TestBoardRouting: the dispatcher assigns a received complaint to a field
// inspector from the board, seeing each inspector's workload and distance.
func TestBoardRouting(t *testing.T) {
	e := newEnv(t)
	c := e.complaint("QZ-SSO-01", inspector.CategoryAbsentEmployee, inspector.PriorityUrgent, "کارمند باجه سه از ساعت نه در محل نیست")
	e.complaint("QZ-TAX-01", inspector.CategoryClientCrowding, inspector.PriorityHigh, "صف طولانی و تنها یک باجه باز است")
	other := e.complaint("QZ-MUN-03", inspector.CategoryNonWork, inspector.PriorityNormal, "کارمند مشغول تماس تلفنی شخصی است")
	e.assign(other.ID, "field2")
	// The second inspector is at that office now: the routing dialog shows how far.
	dev := e.device("field2")
	e.sync(dev)
	_, _, err := dev.CheckIn(client.NewID(), "QZ-MUN-03", []string{other.ID}, near("QZ-MUN-03"))
	require.NoError(t, err)
	e.sync(dev)
	e.complaint("QZ-REG-01", inspector.CategoryOther, inspector.PriorityLow, "پاسخ‌گویی تلفنی اداره قطع است")

	b := newTab(t, e.ts.URL)
	b.login("dispatcher", testseed.Password)
	b.wait("the board's complaints", `return document.getElementById("main").innerText.includes("شعبه یک تامین اجتماعی قزوین");`)
	b.checkA11y("board")
	b.screenshot("board")
	assert.NotRegexp(t, `[۰-۹],`, b.mainText(), "Persian dates and times joined by the Persian comma")

	// Route the first complaint: its assign action opens a dialog listing
	// the inspectors with their workload and distance; pick one, assign.
	b.clickInRowOf("شعبه یک تامین اجتماعی قزوین", b.label("routing.assign"))
	b.wait("the inspectors to choose from", `return !!document.querySelector("dialog[open]") && document.querySelector("dialog[open]").textContent.includes(`+jsq(e.users["field"].DisplayName)+`);`)
	dlg := eval[string](b, `return document.querySelector("dialog[open]").innerText;`)
	assert.Contains(t, dlg, strings.SplitN(b.label("routing.open"), "{", 2)[0], "each inspector's open workload")
	b.screenshot("board-assign")
	b.click("the inspector "+e.users["field"].DisplayName, `return $all("dialog[open] input[type=radio]").find((r) => $name(r).includes(`+jsq(e.users["field"].DisplayName)+`));`)
	b.click("the assign button", `return $all("dialog[open] button[type=submit]")[0];`)
	require.Eventually(t, func() bool { return e.getComplaint(c.ID).Status == "assigned" }, 10*time.Second, 50*time.Millisecond)
	b.wait("the board shows it assigned", `const row = $text("tr", "شعبه یک تامین اجتماعی قزوین"); return row && row.textContent.includes(`+jsq(e.users["field"].DisplayName)+`);`)
	b.wait("the focus back in the complaint's row", `return $active()?.closest("tr")?.dataset.id === `+jsq(c.ID)+`;`)
}

// clickInRowOf clicks the button named name in the board's row (or card)
// that shows text.
func (b *tab) clickInRowOf(text, name string) {
	b.t.Helper()
	b.click(name+" of "+text, `const row = $text("tr, li, article, .card", `+jsq(text)+`); return row && $button(`+jsq(name)+`, row);`)
}

// TestLiveFindingAndReconnect: the complaint detail shows an inspector's
// check-in and finding, pushed by the device, without a reload; when the
// connection drops the indicator says so, and after it comes back the
// page catches up on what happened meanwhile.
func TestLiveFindingAndReconnect(t *testing.T) {
	e := newEnv(t)
	c := e.complaint("QZ-SSO-01", inspector.CategoryAbsentEmployee, inspector.PriorityUrgent, "کارمند باجه سه از ساعت نه در محل نیست")
	e.assign(c.ID, "field")
	dev := e.device("field")
	e.sync(dev)

	b := watchComplaint(t, e, c.ID)
	// A mark that a reload would lose, and a record of the indicator's states.
	eval[bool](b, `window.__sameDocument = true; window.__feedStates = [];
const el = document.getElementById("feed-state");
new MutationObserver(() => { const s = ["live", "catching", "down"].find((c) => el.classList.contains(c)); if (s && window.__feedStates.at(-1) !== s) window.__feedStates.push(s); })
  .observe(el, {attributes: true}); return true;`)

	visit := client.NewID()
	_, _, err := dev.CheckIn(visit, "QZ-SSO-01", []string{c.ID}, near("QZ-SSO-01"))
	require.NoError(t, err)
	e.sync(dev)
	noVisits, noFindings := b.label("complaint.noVisits"), b.label("complaint.noFindings")
	b.waitText(noFindings)
	b.wait("the check-in, live", `const m = document.getElementById("main").innerText; return window.__sameDocument && !m.includes(`+jsq(noVisits)+`);`)
	// The connection drops; the finding arrives meanwhile.
	e.ts.CloseClientConnections()
	b.wait("the indicator shows the feed down", `return window.__feedStates.includes("down");`)
	if b.feedState() == "live" {
		t.Error("the indicator says live with the connection down")
	}
	_, _, err = dev.RecordFinding(client.NewID(), client.Finding{VisitID: visit, ComplaintID: c.ID, StaffExpected: 12, StaffPresent: 9,
		Absentees: []client.Absentee{{Name: "کارمند باجه سه", Reason: "unexcused"}}, ClientsWaiting: 23, DesksOpen: 3, ObservedAt: time.Now()})
	require.NoError(t, err)
	e.sync(dev)
	b.waitFor(15*time.Second, "the feed catching up, then live", `const s = window.__feedStates; const d = s.indexOf("down"); return d >= 0 && s.indexOf("catching", d) > d && s.lastIndexOf("live") > s.indexOf("catching", d);`)
	b.wait("the finding, caught up", `const m = document.getElementById("main").innerText; return window.__sameDocument && !m.includes(`+jsq(noFindings)+`) && m.includes("کارمند باجه سه");`)
	t.Logf("feed states: %v", eval[[]string](b, `return window.__feedStates;`))

	// The board, too, takes new complaints live.
	b.goTo("#/board")
	b.waitText("شعبه یک تامین اجتماعی قزوین")
	e.complaint("QZ-TAX-01", inspector.CategoryClientCrowding, inspector.PriorityHigh, "صف طولانی")
	b.wait("a new complaint on the board, live", `return window.__sameDocument && document.getElementById("main").innerText.includes("اداره کل امور مالیاتی قزوین");`)
}

// TestLiveVisitOfTwoComplaints: an inspector's one visit to an office
// covers two complaints; the dispatcher watching the second one's detail
// sees the check-in arrive live (the feed names the first complaint as the
// event's, and the visit's every complaint).
func TestLiveVisitOfTwoComplaints(t *testing.T) {
	e := newEnv(t)
	first := e.complaint("QZ-SSO-01", inspector.CategoryAbsentEmployee, inspector.PriorityUrgent, "کارمند باجه سه از ساعت نه در محل نیست")
	second := e.complaint("QZ-SSO-01", inspector.CategoryClientCrowding, inspector.PriorityHigh, "صف طولانی جلوی باجه دو")
	e.assign(first.ID, "field")
	e.assign(second.ID, "field")
	dev := e.device("field")
	e.sync(dev)

	b := watchComplaint(t, e, second.ID)
	eval[bool](b, `window.__sameDocument = true; return true;`)
	noVisits := b.label("complaint.noVisits")
	b.waitText(noVisits)

	_, _, err := dev.CheckIn(client.NewID(), "QZ-SSO-01", []string{first.ID, second.ID}, near("QZ-SSO-01"))
	require.NoError(t, err)
	e.sync(dev)
	b.wait("the check-in on the second complaint, live", `const m = document.getElementById("main").innerText; return window.__sameDocument && !m.includes(`+jsq(noVisits)+`);`)
}

// watchComplaint signs a dispatcher in and opens complaint id's detail,
// once its live feed is up.
func watchComplaint(t *testing.T, e *env, id string) *tab {
	t.Helper()
	b := newTab(t, e.ts.URL)
	b.login("dispatcher", testseed.Password)
	b.goTo("#/complaint/" + id)
	b.wait("the live feed", `return document.getElementById("feed-state").classList.contains("live");`)
	return b
}

// asciiDigits folds Persian and Arabic-Indic digits to ASCII.
func asciiDigits(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= '۰' && r <= '۹':
			return '0' + r - '۰'
		case r >= '٠' && r <= '٩':
			return '0' + r - '٠'
		}
		return r
	}, s)
}

// TestBoardNamesAnInspectorMadeSince: a board left open all day names an
// inspector whose account was made after it loaded, once a complaint is
// assigned to them, and never shows their id; a disabled inspector's closed
// work keeps their name.
func TestBoardNamesAnInspectorMadeSince(t *testing.T) {
	e := newEnv(t)
	c := e.complaint("QZ-SSO-01", inspector.CategoryAbsentEmployee, inspector.PriorityUrgent, "کارمند باجه سه از ساعت نه در محل نیست")
	b := newTab(t, e.ts.URL)
	b.login("dispatcher", testseed.Password)
	b.wait("the board's complaints", `return document.getElementById("main").innerText.includes("شعبه یک تامین اجتماعی قزوین");`)
	b.wait("the live feed", `return document.getElementById("feed-state").classList.contains("live");`)

	var made struct {
		ID string `json:"id"`
	}
	e.api("POST", "/v1/users", e.token("admin"), map[string]any{"username": "n.salehi", "display_name": "نرگس صالحی", "role": "inspector",
		"mode": "field", "password": "a long enough password 1", "region": map[string]any{"province": "قزوین", "cities": []string{"قزوین"}}}, &made)
	e.api("POST", "/v1/complaints/"+c.ID+"/assign", e.token("dispatcher"), map[string]string{"inspector_id": made.ID, "mode": "field"}, nil)
	b.waitFor(20*time.Second, "the new inspector named", `const row = $text("tr", "شعبه یک تامین اجتماعی قزوین"); return row && row.textContent.includes("نرگس صالحی");`)
	assert.NotContains(t, b.mainText(), made.ID)

	// The inspector leaves: a board opened afresh still names them.
	e.api("POST", "/v1/users/"+made.ID+"/disable", e.token("admin"), nil, nil)
	b.run("a reload", chromedp.Reload())
	b.wait("the board's complaints", `return document.getElementById("main").innerText.includes("شعبه یک تامین اجتماعی قزوین");`)
	b.wait("the disabled inspector named", `const row = $text("tr", "شعبه یک تامین اجتماعی قزوین"); return row && row.textContent.includes("نرگس صالحی");`)
}

// TestComplaintRoutingKeepsTheFocus: routing a complaint from its own page
// redraws the page; the focus stays among its actions, not at the page's start.
func TestComplaintRoutingKeepsTheFocus(t *testing.T) {
	e := newEnv(t)
	c := e.complaint("QZ-SSO-01", inspector.CategoryAbsentEmployee, inspector.PriorityUrgent, "کارمند باجه سه از ساعت نه در محل نیست")
	b := newTab(t, e.ts.URL)
	b.login("dispatcher", testseed.Password)
	b.goTo("#/complaint/" + c.ID)
	b.clickButton(b.label("routing.assign"))
	b.click("the inspector "+e.users["field"].DisplayName, `return $all("dialog[open] input[type=radio]").find((r) => $name(r).includes(`+jsq(e.users["field"].DisplayName)+`));`)
	b.click("the assign button", `return $all("dialog[open] button[type=submit]")[0];`)
	b.wait("the page redrawn, assigned", `return !!$button(`+jsq(b.label("routing.reassign"))+`);`)
	b.wait("the focus among the complaint's actions", `return !!$active()?.closest("#complaint-actions");`)
}

// TestBoardSaysAnAnsweredReferralIsDispatchs: once the office has answered,
// the board says the complaint waits for dispatch's decision, not that the
// office holds it.
func TestBoardSaysAnAnsweredReferralIsDispatchs(t *testing.T) {
	e := newEnv(t)
	c := e.complaint("QZ-SSO-01", inspector.CategoryClientCrowding, inspector.PriorityNormal, "صف طولانی و تنها یک باجه باز است")
	e.api("POST", "/v1/complaints/"+c.ID+"/refer", e.token("dispatcher"), map[string]string{}, nil)
	e.api("POST", "/v1/complaints/"+c.ID+"/referral/answer", e.token("office"), map[string]string{"action": "corrected", "text": "باجه دوم باز شد"}, nil)
	b := newTab(t, e.ts.URL)
	b.login("dispatcher", testseed.Password)
	b.wait("the answered referral's row", `const row = $text("tr", "شعبه یک تامین اجتماعی قزوین"); return row && row.textContent.includes(`+jsq(b.label("board.office.answered"))+`);`)
	assert.NotContains(t, eval[string](b, `return $text("tr", "شعبه یک تامین اجتماعی قزوین").textContent;`), b.label("board.office.referred"))
}

// TestIntakeKeepsACallThroughAReload: a call half typed survives a reload
// and a trip to another screen, and keeps its call id: sent before the
// reload (its answer lost) and again after, it is one complaint.
func TestIntakeKeepsACallThroughAReload(t *testing.T) {
	e, b := dispatcherAtIntake(t)
	b.fillCall("absent_employee", "urgent")
	// Sent, but the answer is lost on the way back.
	b.loseNextAnswer("POST", "/v1/complaints")
	b.keys(kb.Enter)
	b.wait("the network error", `return !!document.querySelector("#main .error");`)

	b.run("a reload", chromedp.Reload())
	b.wait("the call brought back", `return document.getElementById("intake-description")?.value.includes("کارمند باجه سه");`)
	assert.Equal(t, "09127654321", eval[string](b, `return document.getElementById("intake-caller-phone").value;`))
	b.waitText(b.label("intake.draft"))
	b.goTo("#/board")
	b.goTo("#/intake")
	b.wait("the call still there", `return document.getElementById("intake-description")?.value.includes("کارمند باجه سه");`)
	b.click("the submit button", `return document.getElementById("intake-submit");`)
	b.wait("the tracking code", `return !!document.getElementById("intake-tracking");`)

	var list struct {
		Items []complaintJSON `json:"items"`
	}
	e.api("GET", "/v1/complaints", e.token("dispatcher"), nil, &list)
	assert.Len(t, list.Items, 1, "one call, one complaint")
	b.clickButton(b.label("intake.newCall"))
	b.wait("an empty form", `return document.getElementById("intake-description")?.value === "";`)

	// Another user's call left in this tab (their session ended without
	// "sign out") is never shown to this one.
	eval[bool](b, `sessionStorage.setItem("favad.intake.draft", JSON.stringify({ user: "someone-else", description: "تماس کاربر دیگر", callerPhone: "09120000000" })); return true;`)
	b.goTo("#/board")
	b.goTo("#/intake")
	b.wait("the form", `return !!document.getElementById("intake-description");`)
	assert.Empty(t, eval[string](b, `return document.getElementById("intake-description").value;`), "another user's call")
	assert.Empty(t, eval[string](b, `return sessionStorage.getItem("favad.intake.draft") || "";`), "and it is dropped")
}

// TestReferSaysWhenNoOfficeAccountAnswers: referring to an office that no
// office account answers for says so in the dialog; to one that has, it
// says nothing.
func TestReferSaysWhenNoOfficeAccountAnswers(t *testing.T) {
	e := newEnv(t)
	e.complaint("QZ-TAX-01", inspector.CategoryClientCrowding, inspector.PriorityNormal, "صف طولانی در اداره مالیات")
	e.complaint("QZ-SSO-01", inspector.CategoryClientCrowding, inspector.PriorityNormal, "صف طولانی در شعبه یک")
	b := newTab(t, e.ts.URL)
	b.login("dispatcher", testseed.Password)
	b.waitText("اداره کل امور مالیاتی قزوین")
	b.clickInRowOf("اداره کل امور مالیاتی قزوین", b.label("routing.refer"))
	b.wait("the warning", `return document.querySelector("dialog[open]")?.textContent.includes(`+jsq(b.label("routing.noLiaison"))+`);`)
	b.keys(kb.Escape)
	b.wait("the dialog closed", `return !document.querySelector("dialog[open]");`)
	b.clickInRowOf("شعبه یک تامین اجتماعی قزوین", b.label("routing.refer"))
	b.wait("the dialog", `return !!document.querySelector("dialog[open] textarea");`)
	assert.False(t, eval[bool](b, `return document.querySelector("dialog[open]").textContent.includes(`+jsq(b.label("routing.noLiaison"))+`);`))
}
