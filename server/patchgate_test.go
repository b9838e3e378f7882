package server

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// A request for an upload waits while a PATCH of it has not started reading
// its body, and goes on once it has, or has ended, or its own context ends;
// requests for other uploads never wait.
func TestPatchGateOrdersRequestsAfterAPatchStartsReading(t *testing.T) {
	var g patchGate
	entered := func(id string) <-chan struct{} {
		ch := make(chan struct{})
		go func() {
			_, done := g.enter(context.Background(), id, false)
			done()
			close(ch)
		}()
		return ch
	}
	waiting := func(ch <-chan struct{}) bool {
		select {
		case <-ch:
			return false
		case <-time.After(50 * time.Millisecond):
			return true
		}
	}

	started, done := g.enter(context.Background(), "u1", true)
	head := entered("u1")
	assert.True(t, waiting(head), "a HEAD waits for the PATCH to read")
	assert.False(t, waiting(entered("u2")), "another upload's request does not")
	started()
	assert.False(t, waiting(head), "the PATCH reads: the HEAD goes on")
	done()

	_, done = g.enter(context.Background(), "u1", true)
	head = entered("u1")
	assert.True(t, waiting(head))
	done()
	assert.False(t, waiting(head), "a PATCH that ends without reading lets it go too")
	assert.Empty(t, g.pending, "nothing kept once the PATCHes end")

	_, done = g.enter(context.Background(), "u1", true)
	defer done()
	ctx, cancel := context.WithCancel(context.Background())
	left := make(chan struct{})
	go func() { g.enter(ctx, "u1", false); close(left) }()
	assert.True(t, waiting(left))
	cancel()
	assert.False(t, waiting(left), "a request whose client left stops waiting")
}
