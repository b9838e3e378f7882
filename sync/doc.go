// Package sync is FAVAD's record store and replication layer: one bbolt file
// holding every record and one append-only change log, written in the same
// transaction. Everything that reacts to change (device pulls, the push
// notifier, the dispatch live feed, history) reads that log from a cursor.
//
// The package name shadows the standard library's sync; across FAVAD the
// standard package is always imported as stdsync.
//
// It knows nothing of HTTP: the server package calls it with an Actor and
// domain types from package inspector, and maps its *inspector.Error values
// to responses.
package sync
