// Package reports answers supervisors' questions — which agencies and
// offices draw complaints, how fast they are handled, who repeats, how
// inspectors work, how the months compare — from aggregates kept
// incrementally by a reader of the change log, never by scanning the store
// per request.
//
// An Aggregator tails the store's change log from its own cursor
// (favsync.Store.ReadChanges) and keeps compact facts in memory: one per
// complaint (office, agency, province, category, call time, first routing and
// its channel, first action, outcome, SLA breaches, referral), one per
// finding (attendance at an office), one per visit or call record. Facts are
// bucketed by Iran-local day (of the call, the observation, the visit), with
// per-agency and per-province lists inside each day, so that a query reads
// only the days and agencies it asks for.
//
// The facts are derived data. The aggregator saves them with its cursor in a
// snapshot file now and then and at shutdown, and on start loads it and
// reads the changes since; a missing, corrupt or other-format snapshot, or
// one ahead of the store (a restore from an older backup), is rebuilt from
// the start of the log. Losing it loses nothing.
//
// Times: a complaint's clock starts at its call time. Routing, referral and
// dispatch's closing are timed by the server (the change's time). Work done
// on a device (a check-in, a call, an outcome) is timed by the device's
// clock, bounded by the moment the server received it: an inspector who
// worked offline is not penalised for the sync delay, and a device clock
// ahead of the server cannot make work look later than it arrived.
//
// Percentiles are exact, nearest-rank: the p-th percentile of n values is
// the ceil(p/100·n)-th smallest, so the median of an even count is the lower
// of the two middle values.
//
// The caller (name, phone), the call id and the tracking code never enter a
// fact, so no report can show them.
package reports
