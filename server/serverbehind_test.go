package server_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Regression: after a restore the server answered a device's next push with
// a sequence_gap blamed on the device. A device that sends acked_through is
// told the server is behind: new work alone is refused whole (409
// server_behind, with the server's last_device_seq), and a re-send is
// answered with server_behind set and what is still missing named as the
// server's loss.
func TestPushTellsTheDeviceTheServerIsBehind(t *testing.T) {
	e := newEnv(t)
	disp := e.token("dispatcher")
	complaint := e.assignedComplaint("CALL-SB1")
	field := e.login("field", "android-field-01").AccessToken
	now := e.clock.Now()
	note := func(seq uint64) map[string]any {
		return mutation(seq, "note.create", v7(), 0, map[string]any{"complaint_id": complaint, "text": "یادداشت", "written_at": now.Format("2006-01-02T15:04:05Z07:00")}, now)
	}
	e.push(field, note(1), note(2))

	// The device was acknowledged up to 5; the server holds 2.
	r := e.do(call{method: "POST", path: "/v1/sync/push", token: field, header: syncHeaders,
		body: map[string]any{"mutations": []map[string]any{note(6)}, "acked_through": 5}})
	require.Equal(t, http.StatusConflict, r.status, "%s", r.body)
	var p struct {
		Code          string  `json:"code"`
		LastDeviceSeq *uint64 `json:"last_device_seq"`
	}
	r.json(t, &p)
	assert.Equal(t, "server_behind", p.Code)
	require.NotNil(t, p.LastDeviceSeq)
	assert.Equal(t, uint64(2), *p.LastDeviceSeq)

	r = e.do(call{method: "POST", path: "/v1/sync/push", token: field, header: syncHeaders,
		body: map[string]any{"mutations": []map[string]any{note(4), note(5), note(6)}, "acked_through": 5}})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	var ans struct {
		pushJSON
		ServerBehind bool `json:"server_behind"`
	}
	r.json(t, &ans)
	assert.True(t, ans.ServerBehind)
	assert.Equal(t, uint64(6), ans.LastDeviceSeq)
	require.Len(t, ans.Results[0].ConflictIDs, 1, "seq 3 is lost: the server says so")
	var k struct {
		Rule string `json:"rule"`
	}
	e.do(newCall("GET", "/v1/conflicts/"+ans.Results[0].ConflictIDs[0], disp, nil)).json(t, &k)
	assert.Equal(t, "server_behind", k.Rule)
}
