// Package simulate drives a running FAVAD server with simulated inspectors'
// phones (package sync/client) that go offline and online at random, do field
// work, crash and restart, while a simulated dispatcher enters, reassigns and
// withdraws complaints. At the end every device syncs, and every mutation any
// device queued is checked against the server: applied (its mutation id is
// in the complaint's history) or kept on a conflict record. Anything else is
// lost, and the count of lost work must be zero.
//
// Storm (favad storm) is the load program of a reconnect storm: thousands of
// devices that queued work while their server was down reconnect at once to
// a fresh server, a child process whose RSS and sockets it samples, and it
// states what it measures against raw baselines of the same run.
package simulate
