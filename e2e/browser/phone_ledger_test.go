package browser

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/favad/favad/inspector"
	"github.com/favad/favad/internal/testseed"
	favsync "github.com/favad/favad/sync"
	"github.com/favad/favad/sync/client"
)

// TestPhoneScreenResendsWhatARestoredServerLost: the console's phone screen
// keeps what the server acknowledged in a ledger, and says so in every push
// (acked_through). Here the ledger holds call records the server
// acknowledged and then lost — as after a failover to a standby restored
// from an older backup: they are put in this browser's storage and never
// reached this server. Opening the screen, the pull shows the server
// behind and the console sends the lost call again at once; later, with
// the screen open, another one is lost and the inspector records a call:
// the server answers server_behind, and the console sends the lost one
// first, with its id and sequence, then the new work. Every call ends up on
// the server, and the ledger and acked_through follow.
func TestPhoneScreenResendsWhatARestoredServerLost(t *testing.T) {
	e := newEnv(t)
	c := e.complaint("QZ-TAX-01", inspector.CategoryNonWork, inspector.PriorityNormal, "کارمند با تلفن همراه مشغول است")
	e.assign(c.ID, "phone")
	u := e.users["phone"]
	b := newTab(t, e.ts.URL)
	b.login("phone", testseed.Password)
	form := fmt.Sprintf("call-%s", c.ID)
	b.wait("the call form", `return document.getElementById(`+jsq(form+"-duration")+`) !== null;`)

	// lose puts a call record in the ledger as acknowledged under seq, and
	// returns its record id.
	lose := func(seq int) string {
		t.Helper()
		m := map[string]any{"mutation_id": client.NewID(), "device_seq": seq, "kind": "call.create", "record_id": client.NewID(), "base_version": 0,
			"device_time": time.Now().UTC().Format(time.RFC3339), "hlc": map[string]any{"wall_ms": time.Now().UnixMilli(), "logical": 0},
			"payload": map[string]any{"complaint_id": c.ID, "number": "028-33220000", "duration_s": 60 * seq, "outcome": "no_answer",
				"started_at": time.Now().Add(-time.Duration(10*seq) * time.Minute).In(time.FixedZone("", 12600)).Format(time.RFC3339)}}
		raw, err := json.Marshal(m)
		require.NoError(t, err)
		eval[bool](b, fmt.Sprintf(`const k = (w) => "favad." + w + "."+%s+"." + localStorage.getItem("favad.device");
const list = JSON.parse(localStorage.getItem(k("ledger")) || "[]");
list.push({ m: %s, at: Date.now() });
localStorage.setItem(k("ledger"), JSON.stringify(list));
localStorage.setItem(k("acked"), "%d");
localStorage.setItem(k("seq"), "%d");
return true;`, jsq(u.ID), raw, seq, seq))
		return m["record_id"].(string)
	}
	onServer := func(recordID string) bool {
		changes, err := e.store.Changes(0, 100000)
		require.NoError(t, err)
		for _, ch := range changes {
			if ch.Kind == favsync.KindCall && ch.ID == recordID {
				return true
			}
		}
		return false
	}
	stored := func(what string) string {
		return eval[string](b, `return localStorage.getItem("favad.`+what+`."+`+jsq(u.ID)+`+"." + localStorage.getItem("favad.device")) || "";`)
	}

	first := lose(1)
	require.False(t, onServer(first))
	b.open("?reload#/phone") // a new page load (the same URL would only move to its fragment)
	b.wait("the call form again", `return document.getElementById(`+jsq(form+"-duration")+`) !== null;`)
	require.Eventually(t, func() bool { return onServer(first) }, 10*time.Second, 50*time.Millisecond, "the lost call, sent again on opening the screen")

	second := lose(2)
	eval[bool](b, fmt.Sprintf(`const d = document.getElementById(%s);
d.value = "3";
document.querySelector('input[name="%s-outcome"][value="reached"]').checked = true;
d.closest("form").requestSubmit();
return true;`, jsq(form+"-duration"), form))
	require.Eventually(t, func() bool { return onServer(second) }, 10*time.Second, 50*time.Millisecond, "the second lost call, sent again before the new one")
	calls := func() int {
		n := 0
		changes, err := e.store.Changes(0, 100000)
		require.NoError(t, err)
		for _, ch := range changes {
			if ch.Kind == favsync.KindCall {
				n++
			}
		}
		return n
	}
	require.Eventually(t, func() bool { return calls() == 3 }, 10*time.Second, 50*time.Millisecond, "the two lost calls and the new one")
	b.wait("the three calls on the card", `return document.querySelectorAll("article.card li").length === 3;`)
	assert.Equal(t, 3, calls(), "once each")
	assert.Equal(t, "4", stored("acked"), "acked through the new work (complaint.start 3, call 4)")
	var ledger []struct {
		M struct {
			Seq int `json:"device_seq"`
		} `json:"m"`
	}
	require.NoError(t, json.Unmarshal([]byte(stored("ledger")), &ledger))
	var seqs []int
	for _, e := range ledger {
		seqs = append(seqs, e.M.Seq)
	}
	assert.Equal(t, []int{1, 2, 3, 4}, seqs)
	assert.Empty(t, stored("outbox"))
}

// TestPhoneScreenKeepsItsOwnCalls: the phone screen keeps the call records
// it created from its push's answers and pulls with own_writes=omit, so a
// delta pull never sends them back; a call the same inspector recorded on
// another device still arrives, and after a full sync (a reload) the card
// reads the same as it did from the console's own copies.
func TestPhoneScreenKeepsItsOwnCalls(t *testing.T) {
	e := newEnv(t)
	c := e.complaint("QZ-TAX-01", inspector.CategoryNonWork, inspector.PriorityNormal, "کارمند با تلفن همراه مشغول است")
	e.assign(c.ID, "phone")
	b := newTab(t, e.ts.URL)
	b.login("phone", testseed.Password)
	form := fmt.Sprintf("call-%s", c.ID)
	b.wait("the call form", `return document.getElementById(`+jsq(form+"-duration")+`) !== null;`)
	// Every pull the page makes from here on, with the call records it was sent.
	eval[bool](b, `window.__pulls = [];
const real = window.fetch;
window.fetch = async (url, opts) => {
  const r = await real(url, opts);
  if (String(url).includes("/v1/sync/pull")) {
    const page = await r.clone().json();
    window.__pulls.push({ url: String(url), calls: page.changes.filter((c) => c.kind === "call").map((c) => c.id) });
  }
  return r;
};
return true;`)
	type pulled struct {
		URL   string   `json:"url"`
		Calls []string `json:"calls"`
	}
	pulls := func() []pulled { return eval[[]pulled](b, `return window.__pulls;`) }

	eval[bool](b, fmt.Sprintf(`const f = document.getElementById(%s).closest("form");
document.getElementById(%s).value = "مدیر شعبه";
document.getElementById(%s).value = "۴:۳۰";
document.querySelector('input[name="%s-outcome"][value="reached"]').checked = true;
f.requestSubmit();
return true;`, jsq(form+"-duration"), jsq(form+"-callee"), jsq(form+"-duration"), form))
	b.wait("the console's call on the card", `return document.querySelectorAll("article.card li").length === 1;`)
	var own string
	changes, err := e.store.Changes(0, 100000)
	require.NoError(t, err)
	for _, ch := range changes {
		if ch.Kind == favsync.KindCall {
			own = ch.ID
		}
	}
	require.NotEmpty(t, own, "the call is on the server")

	other, otherCall := e.device("phone"), client.NewID() // the same inspector's phone
	e.sync(other)
	_, _, err = other.RecordCall(otherCall, client.Call{ComplaintID: c.ID, CalleeName: "معاون", Number: "028-33220000",
		StartedAt: time.Now().Add(-time.Hour), DurationS: 60, Outcome: "busy"})
	require.NoError(t, err)
	e.sync(other)
	b.clickButton(b.label("phone.refresh"))
	b.wait("the other device's call too", `return document.querySelectorAll("article.card li").length === 2;`)

	var delivered []string
	for _, p := range pulls() {
		assert.Contains(t, p.URL, "own_writes=omit")
		assert.NotContains(t, p.Calls, own, "a delta pull sent the console its own call back: %s", p.URL)
		delivered = append(delivered, p.Calls...)
	}
	assert.Contains(t, delivered, otherCall, "the other device's call came with a pull")

	items := `return [...document.querySelectorAll("article.card li")].map((li) => li.innerText);`
	before := eval[[]string](b, items)
	b.open("?reload#/phone") // a full sync: every record from the server
	b.wait("the calls after a full sync", `return document.querySelectorAll("article.card li").length === 2;`)
	assert.Equal(t, before, eval[[]string](b, items), "the console's own copy reads as the server's")
}
