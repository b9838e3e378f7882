package browser

import (
	"strings"
	"testing"

	"github.com/favad/favad/internal/testseed"
)

// TestLoginAndSignOut: a wrong password shows an error and keeps the user on
// the sign-in form; the right one opens the dispatcher's board; signing out
// (everywhere) returns to the sign-in form, and a reload does not sign the
// browser back in from its cookie.
func TestLoginAndSignOut(t *testing.T) {
	e := newEnv(t)
	b := newTab(t, e.ts.URL)
	elsewhere := e.token("dispatcher") // the same user on another device

	b.signIn("dispatcher", "not-the-password")
	b.wait("the error of a wrong password", `return $all("[role=alert]").some((el) => $norm(el.textContent) !== "");`)
	if h := b.hash(); h != "#/login" {
		b.fatalf("a wrong password left the sign-in form for %s", h)
	}
	b.checkA11y("login")
	b.screenshot("login")

	b.login("dispatcher", testseed.Password)
	if h := b.hash(); h != "#/board" {
		b.fatalf("the dispatcher starts on %s, want #/board", h)
	}
	b.wait("the user's name in the top bar", `return document.getElementById("who").textContent.includes(`+jsq(e.users["dispatcher"].DisplayName)+`);`)

	// A reload keeps the session: the refresh cookie signs the page in.
	b.open("#/board")
	b.wait("the console after a reload", `return !document.getElementById("top").hidden && location.hash === "#/board";`)

	// Signing out asks where — this browser, every device — and can be called off.
	b.click("the sign-out button", `return document.getElementById("sign-out");`)
	b.wait("the sign-out question", `return !!document.querySelector("dialog[open] #sign-out-everywhere");`)
	b.click("cancel", `return document.getElementById("sign-out-cancel");`)
	b.wait("still signed in, the button focused again", `return !document.querySelector("dialog[open]") && !document.getElementById("top").hidden && document.activeElement?.id === "sign-out";`)
	b.click("the sign-out button", `return document.getElementById("sign-out");`)
	b.wait("the sign-out question again", `const d = document.querySelector("dialog[open]"); return !!d && !!d.querySelector("#sign-out-everywhere") && d.getBoundingClientRect().width > 0;`)
	b.click("every device", `return document.getElementById("sign-out-everywhere");`)
	b.wait("the sign-in form after signing out", `return location.hash === "#/login" && document.getElementById("top").hidden && !!document.querySelector("input[name=username]");`)
	b.mu.Lock()
	asked := len(b.dialogs)
	b.mu.Unlock()
	if asked != 0 {
		b.fatalf("signing out raised %d browser dialogs, want none (the console asks in its own)", asked)
	}
	b.open("#/board")
	b.wait("the sign-in form after a reload", `return location.hash === "#/login" && document.getElementById("top").hidden;`)

	// Everywhere: the API session of the same user on another device is gone too.
	if r := e.do("GET", "/v1/me", elsewhere, nil); r.Status != 401 {
		t.Errorf("signing out everywhere left another session working: %d %s", r.Status, r.Body)
	}
}

// TestConsoleSaysWhatFailsInItsOwnWords: a supervisor's console, which
// holds no live feed, does not say it is "disconnected"; a refusal from the
// server (a username taken) reads in Persian, not in the server's English;
// and a server that cannot be reached says so, not the browser's "Failed to
// fetch".
func TestConsoleSaysWhatFailsInItsOwnWords(t *testing.T) {
	e := newEnv(t)
	sup := newTab(t, e.ts.URL)
	sup.login("supervisor", testseed.Password)
	sup.settle()
	if hidden := eval[bool](sup, `return document.getElementById("feed-state").hidden;`); !hidden {
		t.Errorf("a console without the live feed shows its state: %q", eval[string](sup, `return document.getElementById("feed-state").textContent;`))
	}

	b := newTab(t, e.ts.URL)
	b.login("admin", testseed.Password)
	b.goTo("#/admin")
	b.click("the new username", `return document.getElementById("na-username");`)
	b.keys("Dispatcher") // taken (names are lower-cased)
	b.click("the display name", `return document.getElementById("na-display");`)
	b.keys("مرکز پیام دوم")
	b.click("the password", `return document.getElementById("na-password");`)
	b.keys("a-long-enough-password")
	b.clickButton(b.label("admin.create"))
	b.waitText(b.label("err.field.taken"))
	if text := b.mainText(); strings.Contains(text, "is taken") || strings.Contains(text, "choose another") {
		t.Errorf("the server's English reached the Persian console:\n%s", text)
	}

	e.ts.Close()
	b.clickButton(b.label("admin.create"))
	b.waitText(b.label("err.offline"))
	if strings.Contains(b.mainText(), "Failed to fetch") {
		t.Error("the browser's own words for a server that cannot be reached")
	}
}
