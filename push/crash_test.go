package push

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/favad/favad/inspector"
	favsync "github.com/favad/favad/sync"
)

// A notifier killed after a change committed but before its window flushed:
// the restarted notifier sends the message.
func TestCrashBeforeFlush(t *testing.T) {
	fx := newFixture(t, "", false)
	fcm := newFakeFCM(t)
	ali := fx.inspector("ali", inspector.ModeField)
	fx.device(ali, "ali-a", "android", "tok-a")
	fx.device(ali, "ali-b", "ios", "tok-b")
	c := fx.complaint(officeQZ, inspector.PriorityNormal)
	require.NoError(t, fx.store.SaveNotifierCursor(fx.head()))
	poker := &pokes{}
	r := start(t, fx.store, fcm.sender(t), func(n *Notifier) { n.Window, n.Poker = time.Hour, poker })

	fx.assign(c, ali)
	seq := fx.head()
	require.Eventually(t, func() bool { return len(poker.of(ali.ID)) > 0 }, 5*time.Second, time.Millisecond, "the notifier read the change")
	r.stop(t) // killed: the window never flushed
	require.Empty(t, fcm.requests())
	cur, err := fx.store.NotifierCursor()
	require.NoError(t, err)
	require.Less(t, cur, seq, "the cursor must not pass an unsent change")

	fx.reopen()
	start(t, fx.store, fcm.sender(t), nil)
	reqs := fcm.waitTokens(1, 5*time.Second, "tok-a", "tok-b")
	settle(t, fx.store, 5*time.Second)
	reqs = fcm.requests()
	require.Len(t, reqs, 2, summary(reqs))
	for _, req := range reqs {
		requireAssignment(t, req, "ماموریت جدید بازرسی", officeQZFa)
		assert.Equal(t, seq, seqOf(req))
	}
}

// crashingStore loses the cursor saves made after the crash, as a process
// that died between a send and saving its cursor would.
type crashingStore struct {
	*favsync.Store
	crashed atomic.Bool
}

func (s *crashingStore) SaveNotifierCursor(seq uint64) error {
	if s.crashed.Load() {
		return errors.New("crashed")
	}
	return s.Store.SaveNotifierCursor(seq)
}

// crashAfterSend cancels the notifier's context after a successful send, and
// marks the store crashed so that the cursor after it is not saved.
type crashAfterSend struct {
	Sender
	cancel func()
	store  *crashingStore
	sent   atomic.Int64
}

func (s *crashAfterSend) Send(ctx context.Context, msgs []Message) ([]Result, error) {
	res, err := s.Sender.Send(ctx, msgs)
	if err == nil {
		s.sent.Add(int64(len(msgs)))
		if s.store != nil {
			s.store.crashed.Store(true)
		}
		s.cancel()
	}
	return res, err
}

// A notifier that dies after sending but before saving its cursor repeats at
// most one message per device after a restart.
func TestCrashAfterSendRepeatsAtMostOnePerDevice(t *testing.T) {
	for _, c := range []struct {
		name       string
		loseCursor bool // the cursor save after the send is lost too
	}{
		{"context cancelled after the send", false},
		{"process died before saving the cursor", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			fx := newFixture(t, "", false)
			fcm := newFakeFCM(t)
			ali := fx.inspector("ali", inspector.ModeField)
			fx.device(ali, "ali-a", "android", "tok-a")
			fx.device(ali, "ali-b", "ios", "tok-b")
			hasan := fx.inspector("hasan", inspector.ModeField)
			fx.device(hasan, "hasan-a", "android", "tok-h")
			c1, c2 := fx.complaint(officeQZ, inspector.PriorityNormal), fx.complaint(officeTK, inspector.PriorityNormal)
			require.NoError(t, fx.store.SaveNotifierCursor(fx.head()))
			// A burst that makes three changes concerning ali and one concerning hasan.
			fx.assign(c1, ali)
			fx.assign(c2, ali)
			_, err := fx.store.Withdraw(fx.disp, c1.ID, "تماس تکراری")
			require.NoError(t, err)
			fx.assign(c2, hasan) // a reassignment: ali is told too

			cs := &crashingStore{Store: fx.store}
			ctx, cancel := context.WithCancel(context.Background())
			sender := &crashAfterSend{Sender: fcm.sender(t), cancel: cancel}
			if c.loseCursor {
				sender.store = cs
			}
			n := &Notifier{Store: cs, Sender: sender, Logger: discard(), Window: 20 * time.Millisecond, Poll: 5 * time.Millisecond, Backoff: 10 * time.Millisecond}
			done := make(chan struct{})
			go func() { defer close(done); n.Run(ctx) }()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("the notifier did not stop")
			}
			first := len(fcm.requests())
			require.Equal(t, 3, first, "one message per device before the crash: %s", summary(fcm.requests()))

			fx.reopen()
			start(t, fx.store, fcm.sender(t), nil)
			settle(t, fx.store, 5*time.Second)
			time.Sleep(100 * time.Millisecond) // a repeat would have been sent by now
			reqs := fcm.requests()
			perToken := map[string]int{}
			for _, r := range reqs {
				perToken[r.Token]++
			}
			for _, tk := range []string{"tok-a", "tok-b", "tok-h"} {
				assert.GreaterOrEqual(t, perToken[tk], 1, tk)
				assert.LessOrEqual(t, perToken[tk], 2, "%s: at most one repeat per device", tk)
			}
			t.Logf("repeats after the restart: %d", len(reqs)-first)
		})
	}
}

// A notifier stopped (SIGTERM) while a send is in flight must not save its
// cursor past the messages that did not go: the restarted one sends them.
func TestShutdownDuringSendLosesNothing(t *testing.T) {
	fx := newFixture(t, "", false)
	fcm := newFakeFCM(t)
	ali := fx.inspector("ali", inspector.ModeField)
	fx.device(ali, "ali-a", "android", "tok-a")
	require.NoError(t, fx.store.SaveNotifierCursor(fx.head()))

	ctx, cancel := context.WithCancel(context.Background())
	blocking := SenderFunc(func(sctx context.Context, msgs []Message) ([]Result, error) {
		cancel() // the shutdown arrives while the request is in flight
		<-sctx.Done()
		return fcm.sender(t).Send(sctx, msgs)
	})
	n := &Notifier{Store: fx.store, Sender: blocking, Logger: discard(), Window: 20 * time.Millisecond, Poll: 5 * time.Millisecond, Backoff: 10 * time.Millisecond}
	fx.assign(fx.complaint(officeQZ, inspector.PriorityNormal), ali)
	seq := fx.head()
	done := make(chan struct{})
	go func() { defer close(done); n.Run(ctx) }()
	<-done

	start(t, fx.store, fcm.sender(t), nil)
	reqs := fcm.waitTokens(1, 5*time.Second, "tok-a")
	assert.Equal(t, seq, seqOf(reqs[0]), "the restarted notifier sends what the shutdown cut short")
}

// SenderFunc adapts a function to Sender.
type SenderFunc func(context.Context, []Message) ([]Result, error)

func (f SenderFunc) Send(ctx context.Context, msgs []Message) ([]Result, error) { return f(ctx, msgs) }
