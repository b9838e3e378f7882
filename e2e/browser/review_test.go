package browser

import (
	"github.com/chromedp/chromedp/kb"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/favad/favad/inspector"
	"github.com/favad/favad/internal/testseed"
	"github.com/favad/favad/sync/client"
)

// TestReviewOverrule: dispatch reassigns a complaint while the first
// inspector, offline, records an outcome; the outcome arrives and the
// complaint waits in #/review with both values side by side; the
// dispatcher overrules (applies the inspector's outcome).
func TestReviewOverrule(t *testing.T) {
	e := newEnv(t)
	c := e.complaint("QZ-SSO-02", inspector.CategoryAbsentEmployee, inspector.PriorityHigh, "دو کارمند باجه از صبح نیامده‌اند")
	e.assign(c.ID, "field")
	dev := e.device("field")
	e.sync(dev)
	// Offline, the inspector concludes; meanwhile dispatch moves the complaint.
	_, _, err := dev.RecordOutcome(c.ID, "substantiated", "دو کارمند بدون مرخصی غایب بودند")
	require.NoError(t, err)
	e.assign(c.ID, "field2")
	rep, err := dev.Sync(t.Context())
	require.NoError(t, err)
	t.Logf("sync: %+v", rep)
	require.Equal(t, "needs_review", e.getComplaint(c.ID).Status)

	b := newTab(t, e.ts.URL)
	b.login("dispatcher", testseed.Password)
	b.goTo("#/review")
	b.waitText("دو کارمند بدون مرخصی غایب بودند") // the inspector's value
	sides := eval[[]string](b, `return $all("#main .sides > *").map((el) => el.innerText);`)
	require.Len(t, sides, 2, "both values side by side")
	assert.Contains(t, sides[0], b.label("status.assigned"), "dispatch's value, in words")
	assert.Contains(t, sides[1], b.label("outcome.substantiated"), "the inspector's outcome, in words")
	assert.NotContains(t, sides[0]+sides[1], `{"`, "no JSON")
	assert.NotContains(t, sides[0]+sides[1], e.users["field"].ID, "the inspector by name, not id")
	card := eval[string](b, `return document.querySelector("#main article.conflict").innerText;`)
	assert.Contains(t, card, b.label("review.holder"), "who holds the complaint now")
	assert.Contains(t, card, e.users["field2"].DisplayName)
	assert.NotRegexp(t, `[0-9a-f]{8}-[0-9a-f]{4}-`, card, "people and devices by name, not their ids")
	assert.NotContains(t, eval[string](b, `return document.getElementById("main").innerText;`), "it is kept for review", "no English server text in the Persian console")
	b.checkA11y("review")
	b.screenshot("review")

	b.click("the note", `return $control(`+jsq(b.label("review.note"))+`);`)
	b.keys("بازرس پیش از ارجاع دوباره در محل بوده است")
	b.clickButton(b.label("review.overrule"))
	require.Eventually(t, func() bool { return e.getComplaint(c.ID).Status == "resolved" }, 10*time.Second, 50*time.Millisecond,
		"overruled: the inspector's outcome applies")
	b.mu.Lock()
	asked := append([]string(nil), b.dialogs...)
	b.mu.Unlock()
	assert.Equal(t, []string{b.label("review.overruleOne")}, asked, "asked before a complaint is closed")
	b.wait("the review queue emptied", `return !document.getElementById("main").innerText.includes("دو کارمند بدون مرخصی غایب بودند");`)
}

// TestReviewSettleSelected: issue 11, point 13. An inspector's device sent
// several edits dispatch owns, and the complaint's two held outcomes wait
// for review; the dispatcher selects them all in #/review and accepts them
// in one go (POST /v1/conflicts/settle): the queue empties and the
// complaint is back with its assignee.
func TestReviewSettleSelected(t *testing.T) {
	e := newEnv(t)
	c := heldOutcomesAndEdits(t, e)

	b := newTab(t, e.ts.URL)
	b.login("dispatcher", testseed.Password)
	b.goTo("#/review")
	b.waitText("همه کارکنان حاضر بودند")
	b.wait("four open conflicts to select", `return $all("#main input[data-select]").length === 4;`)
	b.click("select all", `return document.getElementById("review-select-all");`)
	b.checkA11y("review-bulk")
	b.clickButton(b.label("review.acceptSelected"))
	b.wait("the review queue emptied", `return $all("#main input[data-select]").length === 0 && !document.getElementById("main").innerText.includes("همه کارکنان حاضر بودند");`)
	b.wait("the focus on what the emptied list says", `return $active()?.textContent === `+jsq(b.label("review.empty"))+`;`)
	got := e.getComplaint(c.ID)
	assert.Equal(t, "assigned", got.Status, "every held outcome accepted: dispatch's routing stands")
}

// TestReviewRestoresADeletedVisitAndItsFinding: dispatch deleted a visit
// that the inspector, offline, went on with: a check-out and a finding. Both
// wait in #/review, the finding labelled as a record for a deleted visit;
// the dispatcher overrules the visit's edit (the visit comes back), then the
// finding's record (the finding is recorded as the phone sent it).
func TestReviewRestoresADeletedVisitAndItsFinding(t *testing.T) {
	e := newEnv(t)
	c := e.complaint("QZ-SSO-02", inspector.CategoryAbsentEmployee, inspector.PriorityHigh, "باجه دو از صبح بسته است")
	e.assign(c.ID, "field")
	dev := e.device("field")
	e.sync(dev)
	visit := client.NewID()
	_, _, err := dev.CheckIn(visit, "QZ-SSO-02", []string{c.ID}, near("QZ-SSO-02"))
	require.NoError(t, err)
	e.sync(dev)
	r := e.do("DELETE", "/v1/visits/"+visit, e.token("dispatcher"), nil)
	require.Equal(t, 204, r.Status, "%s", r.Body)

	// Offline, the inspector goes on with the visit.
	finding := client.NewID()
	_, _, err = dev.RecordFinding(finding, client.Finding{VisitID: visit, ComplaintID: c.ID, StaffExpected: 5, StaffPresent: 3,
		ClientsWaiting: 12, DesksOpen: 1, ObservedAt: time.Now().Add(-time.Minute)})
	require.NoError(t, err)
	_, _, err = dev.CheckOut(visit, near("QZ-SSO-02"), "دو باجه بسته بود")
	require.NoError(t, err)
	e.sync(dev)

	b := newTab(t, e.ts.URL)
	b.login("dispatcher", testseed.Password)
	b.goTo("#/review")
	b.waitText(b.label("review.rule.orphaned_record"))
	b.waitText(b.label("review.rule.orphaned"))
	overrule := func(rule string) {
		t.Helper()
		b.click("overrule on the "+rule+" card", `const card = [...document.querySelectorAll("#main article")].find((a) => a.querySelector("h3")?.innerText === `+jsq(b.label("review.rule."+rule))+`);
return card && [...card.querySelectorAll("button")].find((x) => x.innerText.trim() === `+jsq(b.label("review.overrule"))+`);`)
		b.wait("the "+rule+" card settled", `return ![...document.querySelectorAll("#main article h3")].some((h) => h.innerText === `+jsq(b.label("review.rule."+rule))+`);`)
	}
	overrule("orphaned")
	overrule("orphaned_record")
	fw, err := e.store.ComplaintFieldWork(c.ID)
	require.NoError(t, err)
	require.Len(t, fw.Findings, 1, "the finding is recorded")
	assert.Equal(t, finding, fw.Findings[0].ID)
	assert.Equal(t, 3, fw.Findings[0].StaffPresent)
}

// heldOutcomesAndEdits makes four open conflicts on one complaint: two
// edits dispatch owns and two outcomes held for review (one arrived after a
// reassignment, one while the complaint was under review).
func heldOutcomesAndEdits(t *testing.T, e *env) complaintJSON {
	t.Helper()
	c := e.complaint("QZ-SSO-02", inspector.CategoryAbsentEmployee, inspector.PriorityHigh, "باجه سه از صبح بسته است")
	e.assign(c.ID, "field")
	first := e.device("field")
	e.sync(first)
	_, _, err := first.RecordOutcome(c.ID, "substantiated", "کارمند باجه سه غایب بود")
	require.NoError(t, err)
	for _, p := range []string{"low", "urgent"} {
		_, _, err = first.EditComplaint(c.ID, map[string]any{"priority": p})
		require.NoError(t, err)
	}
	e.assign(c.ID, "field2")
	second := e.device("field2")
	e.sync(second)
	e.sync(first) // the first outcome arrives after the reassignment: review
	_, _, err = second.RecordOutcome(c.ID, "not_substantiated", "همه کارکنان حاضر بودند")
	require.NoError(t, err)
	e.sync(second) // the second arrives while the complaint is under review: review too
	require.Equal(t, "needs_review", e.getComplaint(c.ID).Status)
	return c
}

// TestReviewKeepsTheFocusInTheQueue: a dispatcher working through the queue
// by keyboard settles a conflict with Enter in its note; the focus goes to
// the conflict now in its place, not to the top of the page.
func TestReviewKeepsTheFocusInTheQueue(t *testing.T) {
	e := newEnv(t)
	heldOutcomesAndEdits(t, e)
	b := newTab(t, e.ts.URL)
	b.login("dispatcher", testseed.Password)
	b.goTo("#/review")
	b.wait("four open conflicts", `return $all("#main article.conflict").length === 4;`)
	first := eval[string](b, `return $all("#main article.conflict")[0].dataset.id;`)
	b.click("the first conflict's note", `return $all("#main article.conflict")[0].querySelector("input[data-field=note]");`)
	b.keys("بررسی شد")
	b.keys(kb.Enter)
	b.wait("three left", `return $all("#main article.conflict").length === 3;`)
	b.wait("the focus in the conflict now first", `const card = $active()?.closest("article.conflict"); return !!card && card === $all("#main article.conflict")[0] && card.dataset.id !== `+jsq(first)+`;`)
}
