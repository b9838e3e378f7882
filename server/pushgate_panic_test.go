package server_test

import (
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/favad/favad/server"
	favsync "github.com/favad/favad/sync"
)

// TestPushThatPanicsGivesItsGateRoomBack: a push whose commit panics is answered
// 500 (recoverPanics), but push() calls release only after PushAcked
// returns, not deferred: the gate's room stays taken. Once panicking pushes
// have taken --push-in-flight mutations' worth (eight full pushes by
// default), every push of every device is answered 503 busy until restart.
func TestPushThatPanicsGivesItsGateRoomBack(t *testing.T) {
	var boom atomic.Bool
	e := newEnvIn(t, t.TempDir(), favsync.Options{WriteFault: func() error {
		if boom.Load() {
			panic("a bug in some apply function")
		}
		return nil
	}}, func(c *server.Config) { c.PushInFlight = 2; c.PushQueueWait = 300 * time.Millisecond })
	disp := e.token("dispatcher")
	var c complaintJSON
	e.do(newCall("POST", "/v1/complaints", disp, intake("CALL-PANIC", e.clock.Now()))).json(t, &c)
	e.do(newCall("POST", "/v1/complaints/"+c.ID+"/assign", disp, map[string]string{"inspector_id": e.users["field"].ID, "mode": "field"}))
	field := e.login("field", "android-field-panic").AccessToken
	now := e.clock.Now()
	note := func(seq uint64) map[string]any {
		return mutation(seq, "note.create", v7(), 0, map[string]any{"complaint_id": c.ID, "text": "یادداشت", "written_at": now.Format(time.RFC3339)}, now)
	}
	send := func(muts ...map[string]any) reply {
		return e.do(call{method: "POST", path: "/v1/sync/push", token: field, header: syncHeaders, body: map[string]any{"mutations": muts}})
	}

	boom.Store(true)
	r := send(note(1), note(2))
	require.Equal(t, http.StatusInternalServerError, r.status, "%s", r.body)
	boom.Store(false)

	r = send(note(1))
	require.Equal(t, http.StatusOK, r.status, "the bug is gone, the gate is idle, but: %s (Retry-After %s)", r.body, r.header.Get("Retry-After"))
}
