// Package client is a FAVAD device: the sync client of an inspector's phone,
// written in Go for tests, the simulator (favad simulate) and benchmarks.
//
// A Client keeps everything a phone keeps in one local bbolt file (see
// schema.go): its device id, the durable queue of mutations made offline,
// the next device sequence, its hybrid logical clock, the pull cursor, the
// records it pulled, its refresh token, and a ledger of the results the
// server acknowledged (bounded per account: the newest Config.LedgerKeep,
// 10,000 by default, acknowledged within Config.LedgerMaxAge, 30 days; the
// newest acknowledged one always stays). Every Enqueue is committed and fsynced before it
// returns, so a process that dies at any moment loses nothing: reopening the
// file resumes where it stopped.
//
// Sync speaks the protocol of server/handlers_sync.go (GET /v1/sync/pull,
// POST /v1/sync/push, headers Favad-Protocol and Favad-App-Version):
//
//   - Push sends the queue in device-sequence order, in batches. A queued
//     mutation is removed only when the server answered it — applied, merged,
//     resolved_by_rule or rejected (a rejection is final; the server keeps the
//     rejected work for dispatch) — and the answer is written to the ledger in
//     the same local transaction. A transport error, a 5xx, a 401 or a 426
//     keeps the whole queue. Resending after a lost answer is safe: the server
//     recognises the mutation by (account, device, device_seq) and by its id
//     and answers with the original result, marked replayed. Every push says
//     acked_through, the highest sequence the server acknowledged to the
//     device. A server restored from a backup since holds less: it refuses
//     new work with server_behind and its last_device_seq (or a pull shows
//     last_device_seq below acked_through), and the client re-sends what its
//     ledger holds above that, with the same ids and sequences, before its
//     new work (Report.ServerBehind, Report.Resent).
//   - Pull then fetches pages until has_more is false. A page with reset set
//     drops the local records first; an upsert is kept when its version is at
//     least the local one; a remove deletes the local copy. The cursor is
//     stored in the same local transaction as the page's records.
//   - The device's own notes, findings and call records are not pulled back
//     (own_writes=omit): an applied answer to note.create, finding.create or
//     call.create stores the record as the server does, in the transaction
//     that takes the answer — the payload with id, inspector_id (the
//     account, from the sign-in answer) and version, a call's number with
//     ASCII digits. A file found restored from an older copy (the server
//     holds later sequences of the device, or refuses one as reused) no
//     longer holds what the device wrote since: its cursor is dropped, and
//     the next pull is a full sync. Config.PullOwnWrites pulls them back
//     as before.
//
// Authentication follows the action of the server's problem documents: the
// client signs in on first use; "refresh" rotates the refresh token and
// retries once; "sign_in" (or a refused refresh) signs in again with the
// configured credentials and retries; "upgrade" returns ErrUpgradeRequired
// with the queue kept. "wipe" drops the pulled records, the cursor and the
// tokens and returns ErrWiped. The queue survives a wipe — it is the
// inspector's unsent work, and a signed-out user who signs in again still
// owns it — except when the code is device_revoked: a revoked device is
// presumed lost or stolen, so its queue is dropped too (the ledger, a record
// of what the server already holds, is kept).
//
// A file belongs to the user who first opened it. Another user may open it
// only once its queue is empty (Open returns ErrOtherUser otherwise), so that
// no one's work is sent under someone else's name; the new user starts from
// an empty scope, on the same device id, in their own sequence space
// (sequences belong to account and device): from 1 for an account new to the
// device, or where that account stopped on it.
//
// Run repeats Sync at an interval, backing off exponentially with full
// jitter after failures, until its context ends.
//
// A Client is safe for concurrent use: Enqueue may be called while Sync or
// Run is working; concurrent Syncs are serialised.
package client
