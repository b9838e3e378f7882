package server

import (
	"context"
	stdsync "sync"
	"time"
)

// patchGate holds a request for an upload back while a PATCH of that upload
// is between taking tusd's lock and reading its body.
//
// Why: a request for an upload that another request holds makes tusd
// (v2.9.1) interrupt the holder, and the holder's context goroutine then
// reads the holder's body reader (handler/context.go:65) with nothing
// ordering that read after the write that set it when the PATCH began its
// chunk (unrouted_handler.go:911; the class of tus/tusd#1192). A phone that
// resumes right after its link dropped does exactly that, and the race
// detector reported it in the resume tests under load. Waiting here until
// the PATCH has read its first body bytes (or ended) orders the two: its
// first read happens after the write, and the interruption after that read.
// The wait is short (a PATCH reads its body at once) and bounded by
// patchGateWait.
type patchGate struct {
	mu      stdsync.Mutex
	pending map[string][]*patchMark // upload id → its PATCHes not yet reading
}

// patchGateWait bounds how long a request waits for a PATCH of its upload
// to start reading; past it, the request goes on as tusd would have it.
const patchGateWait = 2 * time.Second

// patchMark is one PATCH's progress: closed once it reads its body or ends.
type patchMark struct {
	once stdsync.Once
	ch   chan struct{}
}

func (m *patchMark) reached() { m.once.Do(func() { close(m.ch) }) }

// enter waits until every PATCH of upload id in progress has started
// reading its body or ended (at most patchGateWait, or until ctx ends).
// For a PATCH it then registers this one: started is to be called when its
// body is first read, and done when the request ends; both are no-ops for
// other methods.
func (g *patchGate) enter(ctx context.Context, id string, patch bool) (started, done func()) {
	g.mu.Lock()
	ahead := append([]*patchMark(nil), g.pending[id]...)
	g.mu.Unlock()
	if len(ahead) > 0 {
		timer := time.NewTimer(patchGateWait)
		defer timer.Stop()
	wait:
		for _, m := range ahead {
			select {
			case <-m.ch:
			case <-timer.C:
				break wait
			case <-ctx.Done():
				break wait
			}
		}
	}
	if !patch {
		return func() {}, func() {}
	}
	m := &patchMark{ch: make(chan struct{})}
	g.mu.Lock()
	if g.pending == nil {
		g.pending = map[string][]*patchMark{}
	}
	g.pending[id] = append(g.pending[id], m)
	g.mu.Unlock()
	return m.reached, func() {
		m.reached()
		g.mu.Lock()
		defer g.mu.Unlock()
		list := g.pending[id]
		for i, x := range list {
			if x == m {
				list = append(list[:i], list[i+1:]...)
				break
			}
		}
		if len(list) == 0 {
			delete(g.pending, id)
		} else {
			g.pending[id] = list
		}
	}
}
