package sync

import (
	"errors"
	"fmt"
	"path/filepath"
	stdsync "sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
)

func openGroupDB(t *testing.T) *groupCommit {
	t.Helper()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "group.db"), 0o600, &bolt.Options{Timeout: time.Second})
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	require.NoError(t, db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucket([]byte("b"))
		return err
	}))
	return newGroupCommit(db, nil)
}

func putKey(key string) func(*bolt.Tx) error {
	return func(tx *bolt.Tx) error { return tx.Bucket([]byte("b")).Put([]byte(key), []byte("v")) }
}

func keys(t *testing.T, db *bolt.DB) []string {
	t.Helper()
	var got []string
	require.NoError(t, db.View(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("b")).ForEach(func(k, _ []byte) error { got = append(got, string(k)); return nil })
	}))
	return got
}

func txID(t *testing.T, db *bolt.DB) int {
	t.Helper()
	var id int
	require.NoError(t, db.View(func(tx *bolt.Tx) error { id = tx.ID(); return nil }))
	return id
}

// holdWriteLock starts a write transaction that lasts until the returned
// function is called, so that writers arriving meanwhile queue up.
func holdWriteLock(t *testing.T, db *bolt.DB) (release func()) {
	t.Helper()
	held, done := make(chan struct{}), make(chan struct{})
	finished := make(chan error, 1)
	go func() {
		finished <- db.Update(func(*bolt.Tx) error {
			close(held)
			<-done
			return nil
		})
	}()
	<-held
	return func() {
		close(done)
		require.NoError(t, <-finished)
	}
}

// waitQueued waits until n writers wait behind the leader.
func waitQueued(t *testing.T, g *groupCommit, n int) {
	t.Helper()
	require.Eventually(t, func() bool {
		g.mu.Lock()
		defer g.mu.Unlock()
		return len(g.queue) == n
	}, 5*time.Second, time.Millisecond)
}

// run starts fn through g and returns where its result will arrive.
func run(g *groupCommit, fn func(*bolt.Tx) error) <-chan error {
	res := make(chan error, 1)
	go func() { res <- g.do(fn) }()
	return res
}

func TestGroupCommitALoneWriterCommitsAtOnce(t *testing.T) {
	g := openGroupDB(t)
	before := txID(t, g.db)
	require.NoError(t, g.do(putKey("a")))
	assert.Equal(t, before+1, txID(t, g.db))
	assert.Equal(t, []string{"a"}, keys(t, g.db))
	assert.False(t, g.leading, "nobody leads once the queue is empty")
}

// A writer alone in its transaction is told so (it then puts its index
// entries in place); writers that queued together are not.
func TestGroupCommitTellsAWriterItIsAlone(t *testing.T) {
	g := openGroupDB(t)
	noting := func(alone *bool) func(*bolt.Tx) error {
		return func(tx *bolt.Tx) error { *alone = g.alone(tx); return nil }
	}
	var lone bool
	require.NoError(t, g.do(noting(&lone)))
	assert.True(t, lone)

	release := holdWriteLock(t, g.db)
	first := run(g, putKey("first"))
	waitLeading(t, g)
	together := make([]bool, 3)
	var rest []<-chan error
	for i := range together {
		together[i] = true
		rest = append(rest, run(g, noting(&together[i])))
	}
	waitQueued(t, g, len(together))
	release()
	require.NoError(t, <-first)
	for _, r := range rest {
		require.NoError(t, <-r)
	}
	assert.Equal(t, []bool{false, false, false}, together)
	assert.False(t, g.alone(nil))
}

func TestGroupCommitWritersThatQueueShareOneTransaction(t *testing.T) {
	g := openGroupDB(t)
	release := holdWriteLock(t, g.db)
	before := txID(t, g.db)

	first := run(g, putKey("first")) // leads, and waits for the lock alone
	waitLeading(t, g)
	var rest []<-chan error
	for i := range 20 {
		rest = append(rest, run(g, putKey(fmt.Sprintf("k%02d", i))))
	}
	waitQueued(t, g, 20)
	release()

	require.NoError(t, <-first)
	for _, r := range rest {
		require.NoError(t, <-r)
	}
	// The held transaction, the leader's, then one for the twenty.
	assert.Equal(t, before+3, txID(t, g.db))
	assert.Len(t, keys(t, g.db), 21)
}

func waitLeading(t *testing.T, g *groupCommit) {
	t.Helper()
	require.Eventually(t, func() bool {
		g.mu.Lock()
		defer g.mu.Unlock()
		return g.leading && len(g.queue) == 0
	}, 5*time.Second, time.Millisecond)
}

func TestGroupCommitAFailureIsItsWritersAlone(t *testing.T) {
	g := openGroupDB(t)
	release := holdWriteLock(t, g.db)
	first := run(g, putKey("first"))
	waitLeading(t, g)

	refused := errors.New("refused")
	calls := 0
	var mu stdsync.Mutex
	bad := run(g, func(tx *bolt.Tx) error {
		mu.Lock()
		calls++
		mu.Unlock()
		if err := putKey("bad")(tx); err != nil {
			return err
		}
		return refused
	})
	waitQueued(t, g, 1)
	good := []<-chan error{run(g, putKey("good1"))}
	waitQueued(t, g, 2)
	good = append(good, run(g, putKey("good2")))
	waitQueued(t, g, 3)
	release()

	require.NoError(t, <-first)
	assert.ErrorIs(t, <-bad, refused)
	for _, r := range good {
		require.NoError(t, <-r)
	}
	assert.Equal(t, []string{"first", "good1", "good2"}, keys(t, g.db), "the failed writer's put was rolled back")
	assert.Equal(t, 2, calls, "run once in the group, once alone")
}

func TestGroupCommitAPanicSurfacesInItsOwnWriter(t *testing.T) {
	g := openGroupDB(t)
	release := holdWriteLock(t, g.db)
	first := run(g, putKey("first"))
	waitLeading(t, g)

	panicked := make(chan any, 1)
	go func() {
		defer func() { panicked <- recover() }()
		_ = g.do(func(*bolt.Tx) error { panic("broken writer") })
	}()
	waitQueued(t, g, 1)
	good := run(g, putKey("good"))
	waitQueued(t, g, 2)
	release()

	require.NoError(t, <-first)
	require.NoError(t, <-good)
	assert.Equal(t, "broken writer", <-panicked)
	assert.Equal(t, []string{"first", "good"}, keys(t, g.db))
}

func TestGroupCommitManyWritersAllDurable(t *testing.T) {
	g := openGroupDB(t)
	var wg stdsync.WaitGroup
	errs := make(chan error, 64*20)
	for w := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				errs <- g.do(putKey(fmt.Sprintf("w%02d-%02d", w, i)))
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	assert.Len(t, keys(t, g.db), 64*20)
	// The last leader may still be between answering and stepping down.
	assert.Eventually(t, func() bool {
		g.mu.Lock()
		defer g.mu.Unlock()
		return !g.leading && len(g.queue) == 0
	}, 5*time.Second, time.Millisecond, "the queue drains and nobody is left leading")
}

// TestGroupCommitAPanicInBboltDoesNotWedgeTheQueue: a panic outside any
// writer's function (bbolt's own; here a commit handler) surfaces in the
// leader, and the writers queued behind it still commit.
func TestGroupCommitAPanicInBboltDoesNotWedgeTheQueue(t *testing.T) {
	g := openGroupDB(t)
	release := holdWriteLock(t, g.db)

	panicked := make(chan any, 1)
	go func() {
		defer func() { panicked <- recover() }()
		_ = g.do(func(tx *bolt.Tx) error {
			tx.OnCommit(func() { panic("bbolt broke") })
			return putKey("leader")(tx)
		})
	}()
	waitLeading(t, g)
	behind := run(g, putKey("behind"))
	waitQueued(t, g, 1)
	release()

	assert.Equal(t, "bbolt broke", <-panicked)
	select {
	case err := <-behind:
		require.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("the writer queued behind a panicking leader was never served")
	}
	require.NoError(t, g.do(putKey("after")))
	assert.Equal(t, []string{"after", "behind", "leader"}, keys(t, g.db))
}

// TestRawWriteRateWritesDurably checks the storm's raw baseline: it reports
// a positive rate and every write it counted is in the file.
func TestRawWriteRateWritesDurably(t *testing.T) {
	path := filepath.Join(t.TempDir(), "raw.db")
	rate, err := RawWriteRate(path, 8, 200*time.Millisecond)
	require.NoError(t, err)
	require.Positive(t, rate)
	db, err := bolt.Open(path, 0o600, nil)
	require.NoError(t, err)
	defer db.Close()
	require.NoError(t, db.View(func(tx *bolt.Tx) error {
		n := tx.Bucket([]byte("raw")).Stats().KeyN
		assert.Positive(t, n)
		return nil
	}))
	_, err = RawWriteRate(path, 0, time.Second)
	assert.Error(t, err)
}
