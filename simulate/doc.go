// Package simulate drives a running FAVAD server with simulated inspectors'
// phones (package sync/client) that go offline and online at random, do field
// work, crash and restart, while a simulated dispatcher enters, reassigns and
// withdraws complaints. At the end every device syncs, and every mutation any
// device queued is checked against the server: applied (its mutation id is
// in the complaint's history) or kept on a conflict record. Anything else is
// lost, and the count of lost work must be zero.
package simulate
