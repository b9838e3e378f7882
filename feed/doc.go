// Package feed turns the change log into the live feed that dispatch and
// supervisors watch: intake, routing, field work, evidence, outcomes,
// conflicts, SLA breaches and the workplace-referral loop, each as an Event
// whose id is the change-log sequence.
//
// FromChange derives an Event from one change, purely. A Broker runs one
// reader over the log and fans events out to subscribers, each with a
// bounded buffer: a subscriber that falls behind is dropped, never waited
// for, so that no subscriber slows a write or another subscriber. Replay
// for a reconnecting client reads the log itself (Broker.Read).
//
// Events are dispatch-only output, yet they never carry the caller, the call
// center's call id, the tracking code or an absentee's name: a board has no
// use for them, and the feed is easy to copy to screens and logs.
//
// The package imports sync (favsync) and inspector; it never imports server.
package feed
