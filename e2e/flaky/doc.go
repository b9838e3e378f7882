// Package flaky drives an inspector's shift through simulated mobile
// networks: toxiproxy, started in process, sits between the device
// (sync/client) and the server and between the stock tus-js-client and the
// server, with EDGE, 3G and connection-cutting profiles. The tests check that
// nothing is lost or applied twice, that a cut costs less than one upload
// chunk of re-sent bytes, and report the device's data use per visit
// (docs/benchmarks.md, "Flaky networks").
package flaky
