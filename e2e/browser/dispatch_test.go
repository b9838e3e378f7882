package browser

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp/kb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/favad/favad/inspector"
	"github.com/favad/favad/internal/testseed"
	"github.com/favad/favad/sync/client"
)

// chooseOption moves a focused <select> with the arrow keys until its
// value is want, as a keyboard user does.
func (b *tab) chooseOption(want string) {
	b.t.Helper()
	for range 12 {
		if eval[string](b, `return $active().value;`) == want {
			return
		}
		b.keys(kb.ArrowDown)
	}
	b.fatalf("the arrow keys never chose %q in %s", want, b.focused())
}

// TestIntakeByKeyboard: a dispatcher records a call with the keyboard
// alone (the office found by a name typed with Arabic letters, picked with
// the arrow keys and Enter; Tab from field to field; Enter submits) in
// under 30 seconds, and reads the tracking code to the caller. A second
// call about the same office and category warns of the open complaint.
func TestIntakeByKeyboard(t *testing.T) {
	needScreen(t, "intake.js")
	e := newEnv(t)
	b := newTab(t, e.ts.URL)
	b.login("dispatcher", testseed.Password)
	b.goTo("#/intake")

	start := time.Now()
	record := func(category, priority string) {
		b.tabTo(b.label("intake.office"), 12)
		// "شعبه يك" with the Arabic ي and ك: the search folds them.
		b.keys("شعبه يك تامين")
		b.wait("the office suggestions", `return $all("[role=option]").some((o) => o.textContent.includes("شعبه یک تامین اجتماعی قزوین"));`)
		b.keys(kb.ArrowDown)
		b.keys(kb.Enter)
		b.wait("the chosen office", `return document.getElementById("main").innerText.includes("QZ-SSO-01") || $all("input").some((i) => i.value.includes("شعبه یک تامین اجتماعی قزوین"));`)
		b.tabTo(b.label("intake.category"), 4)
		b.chooseOption(category)
		b.tabTo(b.label("intake.description"), 4)
		b.keys("کارمند باجه سه از ساعت نه در محل نیست و مراجعان در صف هستند")
		b.tabTo(b.label("intake.callerName"), 4)
		b.keys("فاطمه ذوالفقاری")
		b.tabTo(b.label("intake.callerPhone"), 3)
		b.keys("09127654321")
		b.tabTo(b.label("intake.priority"), 4)
		b.chooseOption(priority)
	}
	record("absent_employee", "urgent")
	b.tabTo(b.label("intake.submit"), 8)
	b.keys(kb.Enter)
	b.wait("the tracking code", `return /[A-Z0-9]{12}/.test(document.getElementById("main").innerText.replace(/[\s-]/g, ""));`)
	took := time.Since(start)
	t.Logf("a call recorded by keyboard in %v", took)
	assert.Less(t, took, 30*time.Second, "intake in under 30 seconds")

	var list struct {
		Items []complaintJSON `json:"items"`
	}
	e.api("GET", "/v1/complaints", e.token("dispatcher"), nil, &list)
	require.Len(t, list.Items, 1)
	c := list.Items[0]
	assert.Equal(t, "QZ-SSO-01", c.OfficeCode)
	shown := regexp.MustCompile(`[\s-]`).ReplaceAllString(b.mainText(), "")
	assert.Contains(t, shown, c.TrackingCode, "the tracking code to read to the caller")

	// The same office and category again: a warning names the open complaint.
	b.goTo("#/intake")
	record("absent_employee", "normal")
	b.wait("the duplicate warning", `return $all(".warning, [role=alert], [role=status]").some((el) => el.closest("#main") && el.textContent.trim() !== "");`)
	b.checkA11y("intake")
	b.screenshot("intake")
}

// TestBoardRouting: the dispatcher assigns a received complaint to a field
// inspector from the board, seeing each inspector's workload and distance.
func TestBoardRouting(t *testing.T) {
	needScreen(t, "board.js")
	e := newEnv(t)
	c := e.complaint("QZ-SSO-01", inspector.CategoryAbsentEmployee, inspector.PriorityUrgent, "کارمند باجه سه از ساعت نه در محل نیست")
	e.complaint("QZ-TAX-01", inspector.CategoryClientCrowding, inspector.PriorityHigh, "صف طولانی و تنها یک باجه باز است")
	other := e.complaint("QZ-MUN-03", inspector.CategoryNonWork, inspector.PriorityNormal, "کارمند مشغول تماس تلفنی شخصی است")
	e.assign(other.ID, "field2")
	e.complaint("QZ-REG-01", inspector.CategoryOther, inspector.PriorityLow, "پاسخ‌گویی تلفنی اداره قطع است")

	b := newTab(t, e.ts.URL)
	b.login("dispatcher", testseed.Password)
	b.wait("the board's complaints", `return document.getElementById("main").innerText.includes("شعبه یک تامین اجتماعی قزوین");`)
	b.checkA11y("board")
	b.screenshot("board")

	// Route the first complaint: the assign action, then the inspector.
	b.clickInRowOf("شعبه یک تامین اجتماعی قزوین", b.label("board.assign"))
	b.wait("the inspectors to choose from", `return document.body.innerText.includes(`+jsq(e.users["field"].DisplayName)+`);`)
	b.screenshot("board-assign")
	b.chooseInspector(e.users["field"].DisplayName)
	require.Eventually(t, func() bool { return e.getComplaint(c.ID).Status == "assigned" }, 10*time.Second, 50*time.Millisecond)
	b.wait("the board shows it assigned", `return document.getElementById("main").innerText.includes(`+jsq(e.users["field"].DisplayName)+`);`)
}

// clickInRowOf clicks the button named name in the board's row (or card)
// that shows text.
func (b *tab) clickInRowOf(text, name string) {
	b.t.Helper()
	b.click(name+" of "+text, `const row = $text("tr, li, article, .card", `+jsq(text)+`); return row && $button(`+jsq(name)+`, row);`)
}

// chooseInspector picks the inspector named name in the routing form (a
// button, a radio or an option) and confirms.
func (b *tab) chooseInspector(name string) {
	b.t.Helper()
	kind := eval[string](b, `
const opt = [...document.querySelectorAll("option")].find((o) => o.textContent.includes(`+jsq(name)+`));
if (opt) { opt.parentElement.value = opt.value; opt.parentElement.dispatchEvent(new Event("change", {bubbles: true})); return "select"; }
const radio = $all("input[type=radio]").find((r) => $name(r).includes(`+jsq(name)+`));
if (radio) { radio.click(); return "radio"; }
return "button";`)
	if kind == "button" {
		b.click("the inspector "+name, `const row = $text("tr, li, .card, label", `+jsq(name)+`); return row && $all("button", row)[0];`)
		return
	}
	b.clickButton(b.label("board.confirmAssign"))
}

// TestLiveFindingAndReconnect: the complaint detail shows an inspector's
// check-in and finding, pushed by the device, without a reload; when the
// connection drops the indicator says so, and after it comes back the
// page catches up on what happened meanwhile.
func TestLiveFindingAndReconnect(t *testing.T) {
	needScreen(t, "complaint.js")
	e := newEnv(t)
	c := e.complaint("QZ-SSO-01", inspector.CategoryAbsentEmployee, inspector.PriorityUrgent, "کارمند باجه سه از ساعت نه در محل نیست")
	e.assign(c.ID, "field")
	dev := e.device("field")
	e.sync(dev)

	b := newTab(t, e.ts.URL)
	b.login("dispatcher", testseed.Password)
	b.goTo("#/complaint/" + c.ID)
	b.wait("the live feed", `return document.getElementById("feed-state").classList.contains("live");`)
	// A mark that a reload would lose, and a record of the indicator's states.
	eval[bool](b, `window.__sameDocument = true; window.__feedStates = [];
const el = document.getElementById("feed-state");
new MutationObserver(() => { const s = ["live", "catching", "down"].find((c) => el.classList.contains(c)); if (s && window.__feedStates.at(-1) !== s) window.__feedStates.push(s); })
  .observe(el, {attributes: true}); return true;`)

	visit := client.NewID()
	_, _, err := dev.CheckIn(visit, "QZ-SSO-01", []string{c.ID}, near("QZ-SSO-01"))
	require.NoError(t, err)
	e.sync(dev)
	b.wait("the check-in, live", `return window.__sameDocument && document.getElementById("main").innerText.includes(`+jsq(e.users["field"].DisplayName)+`) && /`+"۲۰|20"+`/.test(document.getElementById("main").innerText);`)

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
	b.wait("the finding, caught up", `return window.__sameDocument && document.getElementById("main").innerText.includes("کارمند باجه سه");`)
	t.Logf("feed states: %v", eval[[]string](b, `return window.__feedStates;`))

	// The board, too, takes new complaints live.
	b.goTo("#/board")
	n := e.complaint("QZ-TAX-01", inspector.CategoryClientCrowding, inspector.PriorityHigh, "صف طولانی")
	_ = n
	b.wait("a new complaint on the board, live", `return window.__sameDocument && document.getElementById("main").innerText.includes("اداره کل امور مالیاتی قزوین");`)
	if strings.Contains(b.mainText(), "فاطمه ذوالفقاری") {
		t.Log("the board shows the caller (dispatch may see it)")
	}
}
