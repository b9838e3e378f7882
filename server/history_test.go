package server_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestHistoryNamesTheRecordOfEachChange: a complaint's history holds the
// changes of its visits and findings too; each entry says which record it
// was, so that a timeline can tell a visit's "created" from the complaint's.
func TestHistoryNamesTheRecordOfEachChange(t *testing.T) {
	e := newEnv(t)
	disp := e.token("dispatcher")
	now := e.clock.Now()
	var c complaintJSON
	e.do(newCall("POST", "/v1/complaints", disp, intake("CALL-HIST-1", now.Add(-time.Minute)))).json(t, &c)
	r := e.do(newCall("POST", "/v1/complaints/"+c.ID+"/assign", disp, map[string]string{"inspector_id": e.users["field"].ID, "mode": "field"}))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	field := e.login("field", "android-field-hist").AccessToken
	e.pull(field, "")
	visit, finding := v7(), v7()
	res := e.push(field,
		mutation(1, "visit.upsert", visit, 0, map[string]any{"office_code": "QZ-SSO-01", "complaint_ids": []string{c.ID},
			"check_in": map[string]any{"device_time": now.Format(time.RFC3339), "lat": 36.279, "lng": 50.004, "accuracy_m": 9}}, now),
		mutation(2, "finding.create", finding, 0, map[string]any{"visit_id": visit, "complaint_id": c.ID, "staff_expected": 3, "staff_present": 3,
			"clients_waiting": 0, "desks_open": 3, "observed_at": now.Format(time.RFC3339)}, now))
	for _, x := range res.Results {
		require.Equal(t, "applied", x.Status, "%+v", x)
	}

	var got struct {
		History []struct {
			Kind     string `json:"kind"`
			RecordID string `json:"record_id"`
			Action   string `json:"action"`
		} `json:"history"`
	}
	e.do(newCall("GET", "/v1/complaints/"+c.ID, disp, nil)).json(t, &got)
	type entry struct{ kind, id, action string }
	var entries []entry
	for _, h := range got.History {
		entries = append(entries, entry{h.Kind, h.RecordID, h.Action})
	}
	assert.Equal(t, []entry{{"complaint", c.ID, "created"}, {"complaint", c.ID, "assigned"}, {"visit", visit, "created"}, {"finding", finding, "created"}}, entries)
}
