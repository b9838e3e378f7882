// Package push tells inspectors' devices that there is new work, so that they
// sync. It never carries the work itself, nor the caller.
//
// The Notifier tails the change log from its own cursor, persisted in the
// store, so a restart neither loses nor repeats a burst (a crash between a
// send and saving the cursor repeats at most one message per device). It
// decides who is concerned by each change, pokes their open live streams at
// once, and coalesces a burst into one message per device per short window:
// a user-visible notification for a new assignment, a data-only "sync"
// tickle for everything else. A Sender delivers: FCMSender through
// firebase-admin-go, or LogSender when there are no Firebase credentials.
// Nothing here runs inside a store transaction: a write never waits for FCM.
package push
