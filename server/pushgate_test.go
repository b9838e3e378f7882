package server_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/favad/favad/server"
	favsync "github.com/favad/favad/sync"
)

// TestPushWaitsForRoomThenAnswersBusy: with the push gate full (thousands
// of phones reconnecting at once), a push waits PushQueueWait and is
// answered 503 busy with Retry-After, nothing applied, instead of waiting
// longer than the phone's HTTP timeout; the same push sent again once
// there is room is applied once. A push larger than the whole gate is
// still taken when the gate is free.
func TestPushWaitsForRoomThenAnswersBusy(t *testing.T) {
	e := newEnv(t, func(c *server.Config) { c.PushInFlight = 2; c.PushQueueWait = 300 * time.Millisecond })
	disp := e.token("dispatcher")
	var c complaintJSON
	e.do(newCall("POST", "/v1/complaints", disp, intake("CALL-BUSY", e.clock.Now()))).json(t, &c)
	e.do(newCall("POST", "/v1/complaints/"+c.ID+"/assign", disp, map[string]string{"inspector_id": e.users["field"].ID, "mode": "field"}))
	field := e.login("field", "android-field-busy").AccessToken
	now := e.clock.Now()
	note := mutation(1, "note.create", v7(), 0, map[string]any{"complaint_id": c.ID, "text": "صف شلوغ", "written_at": now.Format(time.RFC3339)}, now)
	send := func(muts ...map[string]any) reply {
		return e.do(call{method: "POST", path: "/v1/sync/push", token: field, header: syncHeaders, body: map[string]any{"mutations": muts}})
	}

	release := server.HoldPushes(e.srv)
	r := send(note)
	require.Equal(t, http.StatusServiceUnavailable, r.status, "%s", r.body)
	assert.Equal(t, "busy", string(r.problem(t).Code))
	assert.Equal(t, "1", r.header.Get("Retry-After"))
	assert.Contains(t, string(e.do(call{method: "GET", path: "/metrics"}).body), "favad_sync_push_busy_total 1")

	// Room freed while a push waits lets it in.
	done := make(chan reply, 1)
	go func() { done <- send(note) }()
	time.Sleep(50 * time.Millisecond)
	release()
	r = <-done
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	var res pushJSON
	r.json(t, &res)
	require.Len(t, res.Results, 1)
	assert.Equal(t, "applied", res.Results[0].Status)
	assert.False(t, res.Results[0].Replayed, "the busy answer applied nothing")

	var three []map[string]any
	for seq := uint64(2); seq <= 4; seq++ {
		three = append(three, mutation(seq, "note.create", v7(), 0, map[string]any{"complaint_id": c.ID, "text": "بیش از جای دروازه", "written_at": now.Format(time.RFC3339)}, now))
	}
	assert.Len(t, e.push(field, three...).Results, 3, "a push larger than the gate")
	assert.Contains(t, string(e.do(call{method: "GET", path: "/metrics"}).body), "favad_sync_push_mutations_in_flight 0")
}

// TestOversizePushIsRefusedBeforeTheGate: a push of more than 500
// mutations, which the store refuses without work, is answered 422
// too_many at once, even with the gate full: it never waits for room, nor
// holds up the pushes behind it (the gate admits in arrival order).
func TestOversizePushIsRefusedBeforeTheGate(t *testing.T) {
	e := newEnv(t, func(c *server.Config) { c.PushQueueWait = 5 * time.Second })
	field := e.login("field", "android-field-oversize").AccessToken
	now := e.clock.Now()
	muts := make([]map[string]any, favsync.MaxPushBatch+1)
	for i := range muts {
		muts[i] = mutation(uint64(i+1), "note.create", v7(), 0, map[string]any{"complaint_id": v7(), "text": "x", "written_at": now.Format(time.RFC3339)}, now)
	}
	release := server.HoldPushes(e.srv)
	defer release()
	r := e.do(call{method: "POST", path: "/v1/sync/push", token: field, header: syncHeaders, body: map[string]any{"mutations": muts}, invalidRequest: true})
	require.Equal(t, http.StatusUnprocessableEntity, r.status, "%s", r.body)
	p := r.problem(t)
	require.NotEmpty(t, p.Errors)
	assert.Equal(t, "too_many", p.Errors[0].Code)
}
