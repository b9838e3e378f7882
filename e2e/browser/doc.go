// Package browser holds the console's tests in a real browser: Debian's
// headless Chromium, driven with chromedp, against a real server (httptest
// on a bbolt file, with the live feed broker, the report aggregates and the
// thumbnail worker running) seeded with offices and the testseed accounts.
//
// The tests do what each user does: a dispatcher signs in, records a
// complaint with the keyboard alone, routes it and watches an inspector's
// finding arrive live from a sync/client device; they open its photo,
// overrule a conflict, answer a referral as an office, open and export a
// report, and check accessibility basics (names, headings, focus order,
// contrast) with a script run in the page. Each main screen is saved as a
// PNG in the directory FAVAD_SCREENSHOTS names (default: a temporary one);
// docs/screenshots/ holds the committed ones.
//
// One Chromium process serves the whole package (each test gets its own
// browser context, so cookies and storage never leak between tests). When
// Chromium is missing the tests skip, saying so, unless
// FAVAD_REQUIRE_CHROMIUM=1, as CI sets, which makes it a failure.
// FAVAD_CHROMIUM names another binary (default: chromium on the PATH).
package browser
