package sync

import (
	"errors"
	"fmt"
	stdsync "sync"
	"sync/atomic"

	bolt "go.etcd.io/bbolt"
)

// maxGroup bounds the calls one group commit carries, so that one
// transaction's dirty pages stay small even when hundreds of phones push at
// once (a push applies up to MaxPushBatch mutations).
const maxGroup = 256

// groupCommit shares one write transaction, and so one fsync, among the
// writers that arrive while the previous transaction commits.
//
// bbolt's DB.Batch does the same but starts each batch with a timer
// (MaxBatchDelay), which is a floor on every lone writer's latency and, under
// load, a pause in which the disk does nothing. Here nobody waits for
// company: the first writer commits at once, and the writers that queue up
// meanwhile go together in the next transaction, so a batch is as large as
// the arrivals during one commit. Like DB.Batch, a function may run more than
// once (when another in its batch fails it is run again), so it must not keep
// state between runs; a function that fails is run again alone, so its error
// is its own and never another writer's. (A failure of the settle hook, or
// of the commit itself, is every writer's in the transaction.)
type groupCommit struct {
	db *bolt.DB
	// fault runs last in every transaction (Options.WriteFault); its error
	// fails the commit for every writer in it, as a failing disk would.
	fault func() error
	// settle, when set, runs after the writers' functions in every
	// transaction; busy says that more writers wait for the next one
	// (Store.settleBehind). Its error fails the transaction for all of them.
	settle func(tx *bolt.Tx, busy bool) error

	mu      stdsync.Mutex
	queue   []groupCall
	leading bool // a goroutine is committing; when false, queue is empty

	// lone is the transaction of a group of one writer with nobody queued
	// behind it when it began (alone).
	lone atomic.Pointer[bolt.Tx]
}

type groupCall struct {
	fn   func(*bolt.Tx) error
	done chan error
}

// errTrySolo tells a writer that its function failed inside a group and
// must run again in a transaction of its own.
var errTrySolo = errors.New("group commit: run again alone")

func newGroupCommit(db *bolt.DB, fault func() error) *groupCommit {
	if fault == nil {
		fault = func() error { return nil }
	}
	return &groupCommit{db: db, fault: fault}
}

// do runs fn in a write transaction shared with concurrent callers and
// returns once that transaction is durable (or has failed).
func (g *groupCommit) do(fn func(*bolt.Tx) error) error {
	done := make(chan error, 1)
	g.mu.Lock()
	g.queue = append(g.queue, groupCall{fn: fn, done: done})
	lead := !g.leading
	g.leading = true
	g.mu.Unlock()
	if lead {
		g.lead()
	}
	err := <-done
	if err == errTrySolo {
		err = g.db.Update(func(tx *bolt.Tx) error { // a panic surfaces here, in the caller's goroutine
			if err := fn(tx); err != nil {
				return err
			}
			if err := g.runSettle(tx); err != nil {
				return err
			}
			return g.fault()
		})
	}
	return err
}

// lead commits the queue's head, which holds the leader's own call. If more
// writers queued meanwhile, a new goroutine leads them, so that this caller
// answers as soon as its own transaction is durable.
func (g *groupCommit) lead() {
	g.mu.Lock()
	n := min(len(g.queue), maxGroup)
	calls := g.queue[:n:n]
	g.queue = g.queue[n:]
	if len(g.queue) == 0 {
		g.queue = nil // let the backing array go
	}
	g.mu.Unlock()

	defer g.handOff() // also when bbolt panics, so that the writers behind are still served
	g.commit(calls)
}

// handOff ends a leader's turn: the next queued writers get a leader, or
// nobody leads.
func (g *groupCommit) handOff() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.queue) == 0 {
		g.leading = false
		return
	}
	go g.lead()
}

// commit runs calls in one transaction. A call that fails is taken out and
// told to run alone; the rest are run again without it.
func (g *groupCommit) commit(calls []groupCall) {
	defer func() {
		// A panic outside the writers' functions (in bbolt itself) leaves
		// calls unanswered: they learn of it, and the panic goes on, as it
		// would have from DB.Batch.
		if p := recover(); p != nil {
			for _, c := range calls {
				c.done <- fmt.Errorf("group commit: panic: %v", p)
			}
			panic(p)
		}
	}()
	for len(calls) > 0 {
		failed := -1
		lone := len(calls) == 1 && !g.busy()
		err := g.db.Update(func(tx *bolt.Tx) error {
			if lone {
				g.lone.Store(tx)
				defer g.lone.Store(nil)
			}
			for i, c := range calls {
				if err := callSafely(c.fn, tx); err != nil {
					failed = i
					return err
				}
			}
			if err := g.runSettle(tx); err != nil {
				return err
			}
			return g.fault()
		})
		if failed < 0 {
			for _, c := range calls {
				c.done <- err // nil, or bbolt's own failure to commit, which is everyone's
			}
			return
		}
		calls[failed].done <- errTrySolo
		calls = append(calls[:failed:failed], calls[failed+1:]...)
	}
}

func (g *groupCommit) runSettle(tx *bolt.Tx) error {
	if g.settle == nil {
		return nil
	}
	return g.settle(tx, g.busy())
}

// alone reports whether tx, a group commit's, carries one writer's function
// and nobody waited for the next commit when it began.
func (g *groupCommit) alone(tx *bolt.Tx) bool {
	return tx != nil && g.lone.Load() == tx
}

// busy reports whether writers wait for the next group transaction.
func (g *groupCommit) busy() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.queue) > 0
}

// callSafely turns a panic in fn into an error, so that one writer's panic
// does not take down the leader that runs it for the group; the writer's own
// solo run then panics in its own goroutine.
func callSafely(fn func(*bolt.Tx) error, tx *bolt.Tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return fn(tx)
}
