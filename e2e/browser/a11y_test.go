package browser

import (
	_ "embed"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/chromedp/chromedp/kb"
)

//go:embed testdata/a11y.js
var a11yJS string

// tabbablesJS marks the elements that Tab should visit, in DOM order
// (data-e2e-tab = their index), and returns their descriptions. A radio
// group is one stop (its checked radio, or its first).
const tabbablesJS = `
const sel = "a[href], button, input, select, textarea, summary, iframe, [tabindex], [contenteditable=true]";
const out = [];
const radios = new Set();
document.querySelectorAll("[data-e2e-tab]").forEach((el) => el.removeAttribute("data-e2e-tab"));
for (const el of document.querySelectorAll(sel)) {
  if (el.disabled || el.closest("fieldset:disabled") || el.closest("[inert]")) continue;
  if (el.tabIndex < 0) continue;
  if (el.tagName === "INPUT" && el.type === "hidden") continue;
  if (!$vis(el) && !el.matches("a.skip")) continue;
  if (el.closest("details:not([open])") && !el.matches("details > summary")) continue;
  if (el.tagName === "INPUT" && el.type === "radio" && el.name) {
    const key = (el.form ? "f" : "d") + ":" + el.name;
    if (radios.has(key)) continue;
    const group = [...(el.form || document).querySelectorAll("input[type=radio]")].filter((r) => r.name === el.name);
    const stop = group.find((r) => r.checked) || group[0];
    radios.add(key);
    if (stop !== el) { stop.setAttribute("data-e2e-tab", String(out.length)); out.push(stop.tagName.toLowerCase() + ":" + $name(stop)); continue; }
  }
  el.setAttribute("data-e2e-tab", String(out.length));
  out.push(el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + ":" + $name(el).slice(0, 40));
}
return out;
`

// checkA11y runs the accessibility script on the screen as shown, then
// Tabs through it from its first focusable element and checks that the
// focus visits every focusable element once, in DOM order (no positive
// tabindex, no traps, nothing skipped). It fails the test with every
// offending element listed.
func (b *tab) checkA11y(screen string) {
	b.t.Helper()
	// The check moves the focus: put it back where the user left it.
	eval[bool](b, `document.querySelectorAll("[data-e2e-restore]").forEach((el) => el.removeAttribute("data-e2e-restore")); document.activeElement?.setAttribute("data-e2e-restore", ""); return true;`)
	problems := b.a11yProblems()
	if len(problems) > 0 {
		b.t.Errorf("accessibility of the %s screen: %d problem(s):\n  %s", screen, len(problems), strings.Join(problems, "\n  "))
	}
	eval[bool](b, `const el = document.querySelector("[data-e2e-restore]"); if (el && el !== document.body) el.focus(); else document.activeElement?.blur(); window.scrollTo(0, 0); return true;`)
}

func (b *tab) a11yProblems() []string {
	b.t.Helper()
	b.settle()
	b.wait("fonts", `return document.fonts.status === "loaded";`)
	problems := eval[[]string](b, "return (\n"+a11yJS+"\n);")
	return append(problems, b.focusOrder()...)
}

func (b *tab) focusOrder() []string {
	b.t.Helper()
	want := eval[[]string](b, tabbablesJS)
	if len(want) == 0 {
		return []string{"nothing on the screen can take the keyboard focus"}
	}
	// Start on the first one, as a user who has just pressed Tab once.
	eval[bool](b, `document.querySelector('[data-e2e-tab="0"]').focus(); return true;`)
	got := []int{}
	var path []string
	// A date or time input takes several presses (one per part): the same
	// element focused again is the same stop.
	for presses := 0; presses < 2*len(want)+20; presses++ {
		idx := eval[int](b, `const el = document.activeElement; return el && el.hasAttribute("data-e2e-tab") ? Number(el.getAttribute("data-e2e-tab")) : -1;`)
		if idx < 0 && len(got) == len(want) { // past the last one: the focus left the page
			break
		}
		if len(got) > 0 && idx == 0 { // wrapped around
			break
		}
		if len(got) == 0 || idx != got[len(got)-1] || idx < 0 {
			if idx < 0 {
				path = append(path, b.focused())
			} else {
				path = append(path, want[idx])
			}
			got = append(got, idx)
			if len(got) > len(want)+1 {
				break
			}
		}
		b.keys(kb.Tab)
	}
	var problems []string
	for i, idx := range got {
		if idx != i {
			problems = append(problems, fmt.Sprintf("focus order: Tab number %d reached %q, want %q (DOM order); the path was:\n    %s",
				i, path[i], want[i], strings.Join(path, "\n    ")))
			break
		}
	}
	if len(problems) == 0 && len(got) < len(want) {
		problems = append(problems, fmt.Sprintf("focus order: Tab visited %d of %d elements; never reached %q", len(got), len(want), want[len(got):]))
	}
	return problems
}

// TestA11yScriptCatches: the checks find each kind of fault on a page made
// to have them, and pass its good half.
func TestA11yScriptCatches(t *testing.T) {
	needBrowser(t)
	bad := `<!doctype html><html lang="en"><body style="background:#fff">
<main id="main">
<p>no heading here</p>
<label for="ok">Named</label><input id="ok">
<input id="nameless">
<label for="ghost">For nothing</label>
<button id="b1"></button>
<button aria-label="Delete the row">Remove</button>
<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">
<p style="color:#aaa">pale grey on white</p>
<p style="color:#767676">grey that passes</p>
<div style="background:rgba(0,0,0,.1)"><span style="color:rgba(0,0,0,.3)">faint on a tint</span></div>
<div style="background:rgba(0,0,0,.5)"><span style="color:#000">black on half black passes</span></div>
<a href="#x" tabindex="2">jumps the queue</a>
</main></body></html>`
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(bad))
	}))
	t.Cleanup(ts.Close)
	b := newTab(t, ts.URL)
	b.open("")
	got := strings.Join(b.a11yProblems(), "\n")
	for _, want := range []string{
		"a form control without a label: input#nameless",
		"a label for a missing element #ghost",
		"a button or link without a name: button#b1",
		`whose name "Delete the row" does not contain its visible text`,
		"an image without alt",
		"no visible h1 or h2 heading",
		`pale grey on white`,
		`faint on a tint`,
		`focus order: Tab number 4 reached "body:", want "a:jumps the queue"`,
	} {
		assert.Contains(t, got, want)
	}
	for _, not := range []string{"without a label: input#ok", "grey that passes", "half black passes"} {
		assert.NotContains(t, got, not)
	}
	t.Log(got)
}
