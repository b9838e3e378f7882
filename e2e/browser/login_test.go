package browser

import (
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

	b.click("the sign-out button", `return document.getElementById("sign-out");`)
	b.wait("the sign-in form after signing out", `return location.hash === "#/login" && document.getElementById("top").hidden && !!document.querySelector("input[name=username]");`)
	b.mu.Lock()
	asked := len(b.dialogs)
	b.mu.Unlock()
	if asked != 1 {
		b.fatalf("signing out asked %d questions, want 1 (this browser or everywhere)", asked)
	}
	b.open("#/board")
	b.wait("the sign-in form after a reload", `return location.hash === "#/login" && document.getElementById("top").hidden;`)

	// Everywhere: the API session of the same user on another device is gone too.
	if r := e.do("GET", "/v1/me", elsewhere, nil); r.Status != 401 {
		t.Errorf("signing out everywhere left another session working: %d %s", r.Status, r.Body)
	}
}
