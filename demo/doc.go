// Package demo fills an empty FAVAD store with a small, made-up pilot: the 24
// demo offices of Qazvin province (demo/qazvin-demo-offices.csv, whose codes,
// phone numbers and coordinates are invented), one account per role, and a
// handful of complaints, some already assigned, so that the web console and
// the inspector app have something to show on first start.
//
// It is used by `favad serve --demo` and `favad demo`. The demo accounts share
// one documented password, Password; never load demo data into a store that
// real people use.
package demo
