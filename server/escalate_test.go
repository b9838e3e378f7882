package server_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/favad/favad/feed"
	"github.com/favad/favad/inspector"
)

// TestPhoneInspectorEscalatesToFieldVisit: the phone inspector records a
// call, then hands the complaint back (complaint.escalate): dispatch sees it
// received again, without an assignment, the history names the reason, the
// feed shows complaint.escalated (without the reason), the phone's next pull
// removes it, and a visit from the phone inspector is refused.
func TestPhoneInspectorEscalatesToFieldVisit(t *testing.T) {
	e := newEnv(t)
	disp := e.token("dispatcher")
	c := e.createComplaint(disp, intakeCaller("CALL-ESC-1", "QZ-SSO-01", e.clock.Now().Add(-10*time.Minute)))
	r := e.do(newCall("POST", "/v1/complaints/"+c.ID+"/assign", disp, map[string]string{"inspector_id": e.users["phone"].ID, "mode": "phone"}))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	r.json(t, &c)

	phone := e.login("phone", "console-phone-esc1").AccessToken
	cursor := e.pull(phone, "").Cursor
	now := e.clock.Now()
	const reason = "RZN: مسئول شعبه تلفن را پاسخ نمی‌دهد؛ بازدید حضوری لازم است"
	res := e.push(phone,
		mutation(1, "call.create", v7(), 0, map[string]any{"complaint_id": c.ID, "callee_name": "مدیر شعبه", "number": "028-33000101",
			"started_at": now.Add(-5 * time.Minute).Format(time.RFC3339), "duration_s": 0, "outcome": "no_answer"}, now),
		mutation(2, "visit.upsert", v7(), 0, map[string]any{"office_code": "QZ-SSO-01", "complaint_ids": []string{c.ID}}, now),
		mutation(3, "complaint.escalate", c.ID, c.Version, map[string]any{"reason": reason}, now))
	require.Len(t, res.Results, 3)
	assert.Equal(t, "applied", res.Results[0].Status)
	assert.Equal(t, "rejected", res.Results[1].Status, "visits are field work")
	assert.Equal(t, "forbidden", res.Results[1].Code)
	assert.Equal(t, "applied", res.Results[2].Status, "%+v", res.Results[2])

	var got complaintJSON
	r = e.do(newCall("GET", "/v1/complaints/"+c.ID, disp, nil))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	r.json(t, &got)
	assert.Equal(t, "received", got.Status)
	assert.Nil(t, got.Assignment)
	var full struct {
		History []struct {
			Action string            `json:"action"`
			Actor  string            `json:"actor"`
			Device string            `json:"device"`
			Data   map[string]string `json:"data"`
		} `json:"history"`
	}
	r.json(t, &full)
	last := full.History[len(full.History)-1]
	assert.Equal(t, "escalated", last.Action)
	assert.Equal(t, e.users["phone"].ID, last.Actor)
	assert.Equal(t, "console-phone-esc1", last.Device)
	assert.Equal(t, reason, last.Data["reason"])
	assert.Equal(t, "assigned", last.Data["from"], "a call record does not start the complaint")

	events := e.allEvents(disp, "types=complaint.escalated")
	require.Len(t, events, 1)
	ev := events[0]
	assert.Equal(t, feed.TypeComplaintEscalated, ev.Type)
	assert.Equal(t, &feed.Routing{Action: "escalated", Mode: inspector.ModePhone, PreviousInspectorID: e.users["phone"].ID}, ev.Routing)
	assert.Equal(t, inspector.StatusReceived, ev.Status)
	_, raw := e.feedPage(disp, "types=complaint.escalated")
	assert.NotContains(t, string(raw), "RZN", "the reason stays off the feed")

	p := e.pull(phone, cursor)
	removed := false
	for _, ch := range p.Changes {
		removed = removed || (ch.Kind == "complaint" && ch.ID == c.ID && ch.Op == "remove" && ch.Reason == "reassigned")
	}
	assert.True(t, removed, "the phone drops it: %+v", p.Changes)
	assert.Equal(t, http.StatusNotFound, e.do(newCall("GET", "/v1/complaints/"+c.ID, phone, nil)).status)

	// Dispatch routes it to a field inspector.
	r = e.do(newCall("POST", "/v1/complaints/"+c.ID+"/assign", disp, map[string]string{"inspector_id": e.users["field"].ID, "mode": "field"}))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
}
