package browser

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// The shared browser: one Chromium process for the package, started by
// TestMain. browserCtx is nil when there is none, and noBrowser says why.
var (
	browserCtx context.Context
	noBrowser  error
)

// stepTimeout bounds one step of a test (a click and what it waits for).
const stepTimeout = 20 * time.Second

// Viewport of every tab: a desktop dispatcher's screen.
const viewW, viewH = 1280, 900

func TestMain(m *testing.M) { os.Exit(runTests(m)) }

func runTests(m *testing.M) int {
	exe, err := chromiumPath()
	if err != nil {
		noBrowser = err
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "favad-chromium-*")
	if err != nil {
		noBrowser = err
		return m.Run()
	}
	defer os.RemoveAll(dir)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox, // CI runs as root
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(dir),
		chromedp.WindowSize(viewW, viewH),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-backgrounding-occluded-windows", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
		chromedp.Flag("disable-features", "Translate,MediaRouter,OptimizationHints"),
		chromedp.Flag("force-color-profile", "srgb"),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("password-store", "basic"),
		chromedp.Flag("metrics-recording-only", true),
	)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(alloc)
	defer cancel()
	start, cancelStart := context.WithTimeout(ctx, 60*time.Second)
	defer cancelStart()
	// The first run starts the browser; it must run on ctx itself (a
	// timeout there would end the browser), so the start is bounded by a
	// watchdog instead.
	done := make(chan error, 1)
	go func() { done <- chromedp.Do(ctx) }()
	select {
	case err = <-done:
	case <-start.Done():
		err = errors.New("Chromium did not start within 60s")
	}
	if err != nil {
		noBrowser = fmt.Errorf("Chromium (%s) did not start: %w", exe, err)
		return m.Run()
	}
	browserCtx = ctx
	return m.Run()
}

func chromiumPath() (string, error) {
	if p := os.Getenv("FAVAD_CHROMIUM"); p != "" {
		return exec.LookPath(p)
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", errors.New("Chromium is not installed (Debian: apt-get install chromium)")
}

// needBrowser skips the test when there is no browser, or fails it when
// FAVAD_REQUIRE_CHROMIUM=1 (as in CI).
func needBrowser(t *testing.T) {
	t.Helper()
	if browserCtx != nil {
		return
	}
	if os.Getenv("FAVAD_REQUIRE_CHROMIUM") == "1" {
		t.Fatalf("the browser tests need Chromium: %v", noBrowser)
	}
	t.Skipf("skipping the browser tests: %v (FAVAD_REQUIRE_CHROMIUM=1 makes this a failure)", noBrowser)
}

// tab is one browser tab in a browser context of its own (its own cookies
// and storage), on one server.
type tab struct {
	t    *testing.T
	ctx  context.Context
	base string // the server's URL

	mu        sync.Mutex
	thrown    []string // uncaught exceptions of the page
	dialogs   []string // the messages of the dialogs answered
	dismissOK bool     // answer confirm() with Cancel instead of OK
	responses []response
	marks     int
}

// response is one HTTP answer the page received.
type response struct {
	url    string
	status int
}

func newTab(t *testing.T, base string) *tab {
	t.Helper()
	needBrowser(t)
	ctx, cancel := chromedp.NewContext(browserCtx, chromedp.WithNewBrowserContext())
	b := &tab{t: t, ctx: ctx, base: base}
	// The first run opens the tab (no timeout on it: it would close the tab).
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(viewW, viewH)); err != nil {
		cancel()
		t.Fatalf("opening a tab: %v", err)
	}
	t.Cleanup(cancel)
	err := chromedp.Listen(ctx, func(ev any) {
		switch e := ev.(type) {
		case *runtime.EventExceptionThrown:
			b.mu.Lock()
			b.thrown = append(b.thrown, exceptionText(e.ExceptionDetails))
			b.mu.Unlock()
		case *network.EventResponseReceived:
			if e.Response != nil {
				b.mu.Lock()
				b.responses = append(b.responses, response{e.Response.URL, int(e.Response.Status)})
				b.mu.Unlock()
			}
		case *page.EventJavascriptDialogOpening:
			b.mu.Lock()
			b.dialogs = append(b.dialogs, e.Message)
			accept := !b.dismissOK || e.Type != page.DialogTypeConfirm
			b.mu.Unlock()
			go func() {
				_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: accept})
			}()
		}
	})
	if err != nil {
		t.Fatalf("listening to the tab: %v", err)
	}
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatalf("network events: %v", err)
	}
	t.Cleanup(func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		for _, e := range b.thrown {
			t.Errorf("the page threw: %s", e)
		}
	})
	return b
}

func exceptionText(d *runtime.ExceptionDetails) string {
	if d == nil {
		return "?"
	}
	s := d.Text
	if d.Exception != nil && d.Exception.Description != "" {
		s += " " + d.Exception.Description
	}
	return s
}

// run runs the actions with the step timeout; on error it saves what the
// page showed and fails the test.
func (b *tab) run(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.fatalf("%s: %v", what, err)
	}
}

// fatalf fails the test with the page's address and text, and a
// screenshot of it in the test's output directory.
func (b *tab) fatalf(format string, args ...any) {
	b.t.Helper()
	msg := fmt.Sprintf(format, args...)
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	if png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot()); err == nil {
		dir := filepath.Join(os.TempDir(), "favad-browser-failures")
		if os.MkdirAll(dir, 0o755) == nil {
			name := filepath.Join(dir, safeName(b.t.Name())+".png")
			if os.WriteFile(name, png, 0o644) == nil {
				msg += "\nscreenshot: " + name
			}
		}
	}
	if text, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.hash + "\n" + (document.body ? document.body.innerText : "")`)); err == nil {
		if len(text) > 3000 {
			text = text[:3000] + "…"
		}
		msg += "\nthe page showed: " + text
	}
	b.t.Fatal(msg)
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

func safeName(s string) string { return unsafeChars.ReplaceAllString(s, "_") }

// helpersJS is prepended to every script the tests run in the page: small
// finders by accessible name and text.
const helpersJS = `
const $vis = (el) => {
  if (!el || !el.isConnected) return false;
  if (el.closest("[hidden]")) return false;
  const s = getComputedStyle(el);
  if (s.display === "none" || s.visibility === "hidden") return false;
  return el.getClientRects().length > 0;
};
const $norm = (s) => String(s || "").replace(/\s+/g, " ").trim();
const $name = (el) => {
  if (!el) return "";
  const by = el.getAttribute("aria-labelledby");
  if (by) return $norm(by.split(/\s+/).map((id) => document.getElementById(id)?.textContent || "").join(" "));
  if (el.getAttribute("aria-label")) return $norm(el.getAttribute("aria-label"));
  if (el.labels && el.labels.length) return $norm([...el.labels].map((l) => l.textContent).join(" "));
  if (el.tagName === "IMG") return $norm(el.getAttribute("alt"));
  if (["BUTTON", "A", "SUMMARY", "OPTION", "TH", "TD", "LEGEND", "H1", "H2", "H3", "H4"].includes(el.tagName) || el.getAttribute("role")) {
    const t = $norm(el.textContent);
    if (t) return t;
  }
  if (el.tagName === "INPUT" && ["submit", "button"].includes(el.type)) return $norm(el.value);
  return $norm(el.getAttribute("title"));
};
const $all = (sel, root) => [...(root || document).querySelectorAll(sel)].filter($vis);
// $control: the visible form control whose accessible name contains text.
const $control = (text) => $all("input, select, textarea").find((el) => $name(el).includes(text));
// $button: the visible button or link whose name contains text.
const $button = (text, root) => $all("button, a[href], [role=button], summary, input[type=submit]", root).find((el) => $name(el).includes(text));
// $text: the smallest visible element matching sel whose text contains text.
const $text = (sel, text, root) => {
  const els = $all(sel, root).filter((el) => $norm(el.textContent).includes(text));
  return els.find((el) => !els.some((o) => o !== el && el.contains(o))) || null;
};
const $active = () => document.activeElement;
`

// js wraps body (statements ending in a return) with the helpers.
func js(body string) string {
	return "(() => {" + helpersJS + "\n" + body + "\n})()"
}

// jsq quotes a Go string as a JavaScript string literal.
func jsq(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// eval runs body (with the helpers) in the page and decodes its result.
func eval[T any](b *tab, body string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js(body), chromedp.EvalAwaitPromise))
	if err != nil {
		b.fatalf("evaluating %s: %v", body, err)
	}
	return v
}

// evalAsync runs an async body (it may await) in the page.
func evalAsync[T any](b *tab, body string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T]("(async () => {"+helpersJS+"\n"+body+"\n})()", chromedp.EvalAwaitPromise))
	if err != nil {
		b.fatalf("evaluating %s: %v", body, err)
	}
	return v
}

// wait waits until body (with the helpers) returns a truthy value, and
// fails the test with what after the step timeout.
func (b *tab) wait(what, body string) {
	b.t.Helper()
	b.waitFor(stepTimeout, what, body)
}

func (b *tab) waitFor(d time.Duration, what, body string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, d+5*time.Second)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](js(body),
		chromedp.WithPollingInterval(25*time.Millisecond), chromedp.WithPollingTimeout(d)))
	if err != nil {
		b.fatalf("waiting for %s: %v", what, err)
	}
}

// mark waits for the element that body returns, tags it, and returns a
// CSS selector for it (so that chromedp's real mouse and key actions can
// reach it).
func (b *tab) mark(what, body string) chromedp.CSS {
	b.t.Helper()
	b.marks++
	id := fmt.Sprintf("m%d", b.marks)
	b.wait(what, `const el = (() => {`+body+`})(); if (!el) return false; el.setAttribute("data-e2e", `+jsq(id)+`); return true;`)
	return chromedp.CSS(`[data-e2e="` + id + `"]`)
}

// click clicks, with the mouse, the element that body returns.
func (b *tab) click(what, body string) {
	b.t.Helper()
	sel := b.mark(what, body)
	b.run("clicking "+what, chromedp.ScrollIntoView(sel), chromedp.Click(sel))
}

// clickButton clicks the visible button or link whose name contains name.
func (b *tab) clickButton(name string) {
	b.t.Helper()
	b.click("the button "+name, `return $button(`+jsq(name)+`);`)
}

// keys types on the keyboard, into whatever has the focus.
func (b *tab) keys(s string) {
	b.t.Helper()
	b.run("typing "+fmt.Sprintf("%q", s), chromedp.KeyEvent(s))
}

// focused is the accessible name and tag of the focused element.
func (b *tab) focused() string {
	b.t.Helper()
	return eval[string](b, `const el = $active(); return el ? el.tagName.toLowerCase() + ":" + $name(el) : "";`)
}

// tabTo presses Tab until the focused element's name contains name (at
// most limit times), as a keyboard user moves through a form; it presses
// nothing when the focus is there already.
func (b *tab) tabTo(name string, limit int) {
	b.t.Helper()
	var seen []string
	for i := 0; ; i++ {
		f := b.focused()
		if strings.Contains(f, name) {
			return
		}
		seen = append(seen, f)
		if i == limit {
			break
		}
		b.keys(kb.Tab)
	}
	b.fatalf("Tab did not reach %q in %d presses; it went through %q", name, limit, seen)
}

func (b *tab) open(hash string) {
	b.t.Helper()
	b.run("opening "+hash, chromedp.Navigate(b.base+"/"+hash))
}

// hash is the page's current route.
func (b *tab) hash() string {
	b.t.Helper()
	return eval[string](b, `return location.hash;`)
}

// go moves to a route inside the signed-in console (no reload).
func (b *tab) goTo(hash string) {
	b.t.Helper()
	eval[bool](b, `location.hash = `+jsq(hash)+`; return true;`)
	b.wait("the route "+hash, `return location.hash === `+jsq(hash)+` && document.getElementById("main").childElementCount > 0;`)
}

// text is the visible text of the main area.
func (b *tab) mainText() string {
	b.t.Helper()
	return eval[string](b, `return document.getElementById("main").innerText;`)
}

// waitText waits until the main area shows s.
func (b *tab) waitText(s string) {
	b.t.Helper()
	b.wait("the text "+s, `return document.getElementById("main").innerText.includes(`+jsq(s)+`);`)
}

// label is the console's own label for key, in the page's language, read
// from the console's translations (so the tests follow the screens' words).
func (b *tab) label(key string) string {
	b.t.Helper()
	s := evalAsync[string](b, `const core = await import("/assets/js/core.js"); return core.t(`+jsq(key)+`);`)
	if s == key {
		b.fatalf("the console has no label %q", key)
	}
	return s
}

// signIn signs in on the login screen by keyboard: the user name field has
// the focus; Tab to the password, Enter submits.
func (b *tab) signIn(username, password string) {
	b.t.Helper()
	b.run("a fresh page", chromedp.Navigate("about:blank"))
	b.open("#/login")
	b.wait("the login form", `return !!document.querySelector("#main input[name=username]");`)
	if !strings.HasPrefix(b.focused(), "input:"+b.label("login.username")) {
		b.t.Logf("the sign-in form opened with the focus on %q, not on the user name", b.focused())
		b.tabTo(b.label("login.username"), 3)
	}
	b.keys(username)
	b.keys(kb.Tab)
	b.keys(password)
	b.keys(kb.Enter)
}

// login signs in and waits for the user's start screen.
func (b *tab) login(username, password string) {
	b.t.Helper()
	b.signIn(username, password)
	b.wait("the signed-in console", `return !document.getElementById("top").hidden && !["#/login", "#/", ""].includes(location.hash) && document.getElementById("main").childElementCount > 0;`)
}

// feedState is the live feed indicator's state: live, catching or down.
func (b *tab) feedState() string {
	b.t.Helper()
	return eval[string](b, `const el = document.getElementById("feed-state"); return ["live", "catching", "down"].find((s) => el.classList.contains(s)) || "";`)
}

// settle waits until the main area has not changed for 300 ms (the screen
// has drawn what it loads, and live updates have quietened), at most 5 s.
func (b *tab) settle() {
	b.t.Helper()
	evalAsync[bool](b, `await new Promise((resolve) => {
  let timer = setTimeout(done, 300);
  const stop = setTimeout(done, 5000);
  const obs = new MutationObserver(() => { clearTimeout(timer); timer = setTimeout(done, 300); });
  obs.observe(document.body, {subtree: true, childList: true, characterData: true, attributes: true, attributeFilter: ["class", "hidden", "src"]});
  function done() { obs.disconnect(); clearTimeout(timer); clearTimeout(stop); resolve(true); }
});
return true;`)
}

// screenshot saves the page as <dir>/<name>.png, dir from FAVAD_SCREENSHOTS
// (relative to the repository root) or a temporary one. It waits for the
// fonts and images first, so the picture shows the finished screen.
func (b *tab) screenshot(name string) {
	b.t.Helper()
	b.shoot(name, false)
}

// screenshotTall saves the whole page (up to 2400 px high).
func (b *tab) screenshotTall(name string) {
	b.t.Helper()
	b.shoot(name, true)
}

func (b *tab) shoot(name string, tall bool) {
	b.t.Helper()
	// A screen that follows the feed is pictured live (when it gets there).
	ctx5, cancel5 := context.WithTimeout(b.ctx, 6*time.Second)
	_, _ = chromedp.Run(ctx5, chromedp.Poll[chromedp.Void](`(() => { const el = document.getElementById("feed-state"); return !el || !el.textContent || el.classList.contains("live"); })()`,
		chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(5*time.Second)))
	cancel5()
	b.settle()
	b.wait("fonts and images", `return document.fonts.status === "loaded" && [...document.images].every((i) => i.complete);`)
	// No toast covers the screen.
	eval[bool](b, `const t = document.getElementById("toast"); if (t) t.hidden = true; return true;`)
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	var png []byte
	var err error
	if tall {
		// The whole page, up to 2400 px: a long screen in one picture.
		h := eval[int](b, `return Math.min(2400, Math.max(`+fmt.Sprint(viewH)+`, document.documentElement.scrollHeight));`)
		png, err = chromedp.Run(ctx, func(ctx context.Context, t *chromedp.Target) ([]byte, error) {
			if _, err := chromedp.EmulateViewport(viewW, int64(h))(ctx, t); err != nil {
				return nil, err
			}
			defer chromedp.EmulateViewport(viewW, viewH)(ctx, t)
			if _, err := chromedp.Poll[chromedp.Void](`document.fonts.status === "loaded" && [...document.images].every((i) => i.complete)`, chromedp.WithPollingTimeout(5*time.Second))(ctx, t); err != nil {
				return nil, err
			}
			return chromedp.CaptureScreenshot()(ctx, t)
		})
	} else {
		png, err = chromedp.Run(ctx, chromedp.CaptureScreenshot())
	}
	if err != nil {
		b.fatalf("screenshot %s: %v", name, err)
	}
	dir := screenshotDir(b.t)
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot %s", filepath.Join(dir, name+".png"))
}

var (
	shotsOnce sync.Once
	shotsDir  string
	shotsErr  error
)

func screenshotDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("FAVAD_SCREENSHOTS")
	if dir == "" {
		return t.TempDir()
	}
	shotsOnce.Do(func() {
		if !filepath.IsAbs(dir) {
			// Relative to the repository root, two levels up from here.
			wd, err := os.Getwd()
			if err != nil {
				shotsErr = err
				return
			}
			dir = filepath.Join(wd, "..", "..", dir)
		}
		shotsDir, shotsErr = dir, os.MkdirAll(dir, 0o755)
	})
	if shotsErr != nil {
		t.Fatal(shotsErr)
	}
	return shotsDir
}
