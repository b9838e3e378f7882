// Package e2e holds end-to-end tests that drive FAVAD as its users do: a
// real server on a real store over loopback HTTP, inspectors' devices
// (sync/client), dispatch, an office, supervisors and the live feed, with
// everything checked against answers the tests compute themselves.
package e2e
