package server_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var syncHeaders = http.Header{"Favad-Protocol": {"1"}, "Favad-App-Version": {"1.0.0"}}

type pullJSON struct {
	Changes []struct {
		Kind    string          `json:"kind"`
		ID      string          `json:"id"`
		Op      string          `json:"op"`
		Version uint64          `json:"version"`
		Reason  string          `json:"reason"`
		Record  json.RawMessage `json:"record"`
	} `json:"changes"`
	Cursor  string `json:"cursor"`
	HasMore bool   `json:"has_more"`
	Reset   bool   `json:"reset"`
}

type pushJSON struct {
	Results []struct {
		MutationID  string   `json:"mutation_id"`
		DeviceSeq   uint64   `json:"device_seq"`
		Status      string   `json:"status"`
		Code        string   `json:"code"`
		Rule        string   `json:"rule"`
		Version     uint64   `json:"version"`
		ConflictIDs []string `json:"conflict_ids"`
		Replayed    bool     `json:"replayed"`
	} `json:"results"`
	LastDeviceSeq uint64 `json:"last_device_seq"`
}

func v7() string { return uuid.Must(uuid.NewV7()).String() }

func mutation(seq uint64, kind, record string, base uint64, payload any, now time.Time) map[string]any {
	return map[string]any{
		"mutation_id": v7(), "device_seq": seq, "kind": kind, "record_id": record, "base_version": base,
		"device_time": now.Format(time.RFC3339), "hlc": map[string]any{"wall_ms": now.UnixMilli(), "logical": 0},
		"payload": payload,
	}
}

func (e *env) pull(token, cursor string) pullJSON {
	e.t.Helper()
	r := e.do(call{method: "GET", path: "/v1/sync/pull?limit=100&cursor=" + url.QueryEscape(cursor), token: token, header: syncHeaders})
	require.Equal(e.t, http.StatusOK, r.status, "%s", r.body)
	var p pullJSON
	r.json(e.t, &p)
	return p
}

func (e *env) push(token string, muts ...map[string]any) pushJSON {
	e.t.Helper()
	r := e.do(call{method: "POST", path: "/v1/sync/push", token: token, header: syncHeaders, body: map[string]any{"mutations": muts}})
	require.Equal(e.t, http.StatusOK, r.status, "%s", r.body)
	var p pushJSON
	r.json(e.t, &p)
	return p
}

// TestFieldInspectorOfflineRoundTrip: dispatch assigns; the inspector's
// device pulls the complaint without the caller, works offline, pushes; the
// dispatcher sees the field report; a replayed push changes nothing.
func TestFieldInspectorOfflineRoundTrip(t *testing.T) {
	e := newEnv(t)
	disp := e.token("dispatcher")
	var c complaintJSON
	e.do(newCall("POST", "/v1/complaints", disp, intake("CALL-S1", e.clock.Now()))).json(t, &c)
	e.do(newCall("POST", "/v1/complaints/"+c.ID+"/assign", disp, map[string]string{"inspector_id": e.users["field"].ID, "mode": "field"}))

	field := e.login("field", "android-field-01").AccessToken
	first := e.pull(field, "")
	assert.True(t, first.Reset, "a first pull is a full sync")
	kinds := map[string]int{}
	for _, ch := range first.Changes {
		kinds[ch.Kind]++
		if ch.Kind == "complaint" {
			assert.NotContains(t, string(ch.Record), "caller", "inspectors never see the caller")
			assert.NotContains(t, string(ch.Record), "09121234567")
		}
	}
	assert.Equal(t, 1, kinds["complaint"])
	assert.Equal(t, 2, kinds["office"])
	assert.Equal(t, 1, kinds["agency"])

	now := e.clock.Now()
	visit, finding, note := v7(), v7(), v7()
	batch := []map[string]any{
		mutation(1, "visit.upsert", visit, 0, map[string]any{"office_code": "QZ-SSO-01", "complaint_ids": []string{c.ID},
			"check_in": map[string]any{"device_time": now.Format(time.RFC3339), "lat": 36.279, "lng": 50.004, "accuracy_m": 12}}, now),
		mutation(2, "finding.create", finding, 0, map[string]any{"visit_id": visit, "complaint_id": c.ID, "staff_expected": 6, "staff_present": 4,
			"absentees":         []map[string]string{{"name": "کارمند باجه ۳", "reason": "unexcused"}, {"name": "کارمند باجه ۵", "reason": "leave"}},
			"non_work_activity": []string{"استفاده از تلفن همراه"}, "clients_waiting": 14, "desks_open": 2, "observed_at": now.Format(time.RFC3339)}, now),
		mutation(3, "note.create", note, 0, map[string]any{"complaint_id": c.ID, "visit_id": visit, "text": "مدیر شعبه در جلسه بود", "written_at": now.Format(time.RFC3339)}, now),
		mutation(4, "complaint.outcome", c.ID, c.Version, map[string]any{"outcome": "substantiated", "statement": "غیبت بدون مجوز تایید شد"}, now),
	}
	res := e.push(field, batch...)
	require.Len(t, res.Results, 4)
	for _, r := range res.Results {
		assert.Equal(t, "applied", r.Status, "%+v", r)
	}
	assert.Equal(t, uint64(4), res.LastDeviceSeq)

	// The lost-response retry: the same batch again changes nothing.
	before, err := e.store.Stats()
	require.NoError(t, err)
	again := e.push(field, batch...)
	for i, r := range again.Results {
		assert.True(t, r.Replayed)
		assert.Equal(t, res.Results[i].Version, r.Version)
	}
	after, err := e.store.Stats()
	require.NoError(t, err)
	assert.Equal(t, before.Seq, after.Seq, "a replay writes nothing")

	// Dispatch sees the field report and the outcome.
	r := e.do(newCall("GET", "/v1/complaints/"+c.ID+"/fieldwork", disp, nil))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	var fw struct {
		Visits   []map[string]any `json:"visits"`
		Findings []map[string]any `json:"findings"`
		Notes    []map[string]any `json:"notes"`
	}
	r.json(t, &fw)
	assert.Len(t, fw.Visits, 1)
	assert.Len(t, fw.Findings, 1)
	assert.Len(t, fw.Notes, 1)
	e.do(newCall("GET", "/v1/complaints/"+c.ID, disp, nil)).json(t, &c)
	assert.Equal(t, "resolved", c.Status)

	// Dispatch strikes a visit recorded in error: it leaves the field report.
	r = e.do(newCall("DELETE", "/v1/visits/"+visit, disp, nil))
	require.Equal(t, http.StatusNoContent, r.status, "%s", r.body)
	r = e.do(newCall("GET", "/v1/complaints/"+c.ID+"/fieldwork", disp, nil))
	require.Equal(t, http.StatusOK, r.status)
	fw.Visits = nil
	r.json(t, &fw)
	assert.Empty(t, fw.Visits, "a struck visit leaves the report (its history stays in the change log)")
	r = e.do(newCall("DELETE", "/v1/visits/"+v7(), disp, nil))
	require.Equal(t, http.StatusNotFound, r.status)

	// The closed complaint leaves the device on its next pull.
	next := e.pull(field, first.Cursor)
	removed := false
	for _, ch := range next.Changes {
		if ch.Kind == "complaint" && ch.ID == c.ID {
			removed = ch.Op == "remove" && ch.Reason == "closed"
		}
	}
	assert.True(t, removed, "%+v", next.Changes)
}

// TestOutcomeAfterReassignGoesToReview covers the policy row "complaint
// status": the offline outcome is kept, the complaint goes to needs_review,
// and dispatch can overrule.
func TestOutcomeAfterReassignGoesToReview(t *testing.T) {
	e := newEnv(t)
	disp := e.token("dispatcher")
	var c complaintJSON
	e.do(newCall("POST", "/v1/complaints", disp, intake("CALL-S2", e.clock.Now()))).json(t, &c)
	e.do(newCall("POST", "/v1/complaints/"+c.ID+"/assign", disp, map[string]string{"inspector_id": e.users["field"].ID, "mode": "field"})).json(t, &c)
	field := e.login("field", "android-field-02").AccessToken
	cursor := e.pull(field, "").Cursor

	// Dispatch reassigns while the inspector is offline…
	e.do(newCall("POST", "/v1/complaints/"+c.ID+"/assign", disp, map[string]string{"inspector_id": e.users["field2"].ID, "mode": "field"}))
	// …and the inspector's outcome arrives later.
	res := e.push(field, mutation(1, "complaint.outcome", c.ID, c.Version, map[string]any{"outcome": "not_substantiated", "statement": "همه کارکنان حاضر بودند"}, e.clock.Now()))
	require.Len(t, res.Results, 1)
	assert.Equal(t, "resolved_by_rule", res.Results[0].Status)
	assert.Equal(t, "needs_review", res.Results[0].Rule)
	require.Len(t, res.Results[0].ConflictIDs, 1)

	e.do(newCall("GET", "/v1/complaints/"+c.ID, disp, nil)).json(t, &c)
	assert.Equal(t, "needs_review", c.Status)

	// The device learns of the removal and of the conflict record.
	p := e.pull(field, cursor)
	var sawRemove, sawConflict bool
	for _, ch := range p.Changes {
		sawRemove = sawRemove || (ch.Kind == "complaint" && ch.Op == "remove" && ch.Reason == "reassigned")
		sawConflict = sawConflict || ch.Kind == "conflict"
	}
	assert.True(t, sawRemove)
	assert.True(t, sawConflict)

	r := e.do(newCall("GET", "/v1/conflicts?status=open&complaint="+c.ID, disp, nil))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	var page struct {
		Items []struct {
			ID   string `json:"id"`
			Rule string `json:"rule"`
		} `json:"items"`
	}
	r.json(t, &page)
	require.Len(t, page.Items, 1)
	r = e.do(newCall("POST", "/v1/conflicts/"+page.Items[0].ID+"/resolve", disp, map[string]string{"action": "overrule", "note": "گزارش بازرس پذیرفته شد"}))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	e.do(newCall("GET", "/v1/complaints/"+c.ID, disp, nil)).json(t, &c)
	assert.Equal(t, "not_substantiated", c.Status)

	r = e.do(newCall("POST", "/v1/conflicts/"+page.Items[0].ID+"/resolve", disp, map[string]string{"action": "accept"}))
	assert.Equal(t, http.StatusConflict, r.status, "a resolved conflict stays resolved")
}

func TestPushRejectsOneAndKeepsTheRest(t *testing.T) {
	e := newEnv(t)
	field := e.login("field", "android-field-03").AccessToken
	now := e.clock.Now()
	visit := v7()
	res := e.push(field,
		mutation(1, "visit.upsert", visit, 0, map[string]any{"office_code": "QZ-SSO-01"}, now),
		mutation(2, "finding.create", v7(), 0, map[string]any{"visit_id": visit, "staff_expected": 3, "staff_present": 5, "observed_at": now.Format(time.RFC3339)}, now),
		mutation(3, "note.create", v7(), 0, map[string]any{"visit_id": visit, "text": "یادداشت", "written_at": now.Format(time.RFC3339)}, now),
	)
	require.Len(t, res.Results, 3)
	assert.Equal(t, "applied", res.Results[0].Status)
	assert.Equal(t, "rejected", res.Results[1].Status)
	assert.Equal(t, "invalid", res.Results[1].Code)
	require.Len(t, res.Results[1].ConflictIDs, 1, "the rejected item is kept where dispatch can see it")
	assert.Equal(t, "applied", res.Results[2].Status, "one bad mutation does not sink the batch")

	r := e.do(newCall("GET", "/v1/conflicts/"+res.Results[1].ConflictIDs[0], e.token("dispatcher"), nil))
	require.Equal(t, http.StatusOK, r.status)
	assert.Contains(t, string(r.body), "staff_present")
}

// TestPushRefusesAnUnreadableMutationAlone: a mutation the server cannot
// read (a time that is not RFC 3339, a number sent as a string) is refused
// and kept on its own; the rest of the push is applied, and a retry of the
// same push gets the same answers.
func TestPushRefusesAnUnreadableMutationAlone(t *testing.T) {
	e := newEnv(t)
	field := e.login("field", "android-field-04").AccessToken
	now := e.clock.Now()
	visit := v7()
	bad := mutation(2, "note.create", v7(), 0, map[string]any{"visit_id": visit, "text": "یادداشت", "written_at": now.Format(time.RFC3339)}, now)
	bad["device_time"] = "yesterday"
	worse := mutation(3, "note.create", v7(), 0, map[string]any{"visit_id": visit, "text": "یادداشت", "written_at": now.Format(time.RFC3339)}, now)
	worse["base_version"] = "none"
	worse["colour"] = "red"
	batch := []map[string]any{
		mutation(1, "visit.upsert", visit, 0, map[string]any{"office_code": "QZ-SSO-01"}, now),
		bad, worse,
		mutation(4, "note.create", v7(), 0, map[string]any{"visit_id": visit, "text": "یادداشت دوم", "written_at": now.Format(time.RFC3339)}, now),
	}
	send := func() (pushJSON, reply) {
		r := e.do(call{method: "POST", path: "/v1/sync/push", token: field, header: syncHeaders,
			body: map[string]any{"mutations": batch}, invalidRequest: true}) // the unreadable mutations break the spec on purpose
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		var p pushJSON
		r.json(t, &p)
		return p, r
	}
	res, raw := send()
	require.Len(t, res.Results, 4)
	assert.Equal(t, "applied", res.Results[0].Status)
	assert.Equal(t, "applied", res.Results[3].Status, "one unreadable mutation does not sink the push")
	for i, field := range map[int]string{1: "device_time", 2: "base_version"} {
		assert.Equal(t, "rejected", res.Results[i].Status)
		assert.Equal(t, "invalid", res.Results[i].Code)
		require.Len(t, res.Results[i].ConflictIDs, 1, "kept where dispatch can see it")
		assert.Contains(t, string(raw.body), `"field":"`+field+`"`)
	}
	assert.Contains(t, string(raw.body), `"field":"colour"`)
	assert.Equal(t, uint64(4), res.LastDeviceSeq)

	again, _ := send()
	for i := range again.Results {
		assert.Equal(t, res.Results[i].Status, again.Results[i].Status)
		assert.True(t, again.Results[i].Replayed, "a retry gets the stored answer")
	}
}

func TestSyncProtocolAndWipe(t *testing.T) {
	e := newEnv(t)
	tk := e.login("field", "android-field-04")
	// An app that does not state its protocol is told to update; nothing is applied.
	r := e.do(call{method: "POST", path: "/v1/sync/push", token: tk.AccessToken, body: map[string]any{"mutations": []any{}}, invalidRequest: true})
	require.Equal(t, http.StatusUpgradeRequired, r.status, "%s", r.body)
	p := r.problem(t)
	assert.Equal(t, "upgrade_required", string(p.Code))
	assert.Equal(t, "upgrade", p.Action)

	// Dispatch cannot pull; inspectors cannot list conflicts.
	r = e.do(call{method: "GET", path: "/v1/sync/pull", token: e.token("dispatcher"), header: syncHeaders})
	assert.Equal(t, http.StatusForbidden, r.status)

	// A revoked device is told to wipe.
	require.Equal(t, http.StatusOK, e.do(newCall("POST", "/v1/devices/android-field-04/revoke", e.token("admin"), nil)).status)
	r = e.do(call{method: "GET", path: "/v1/sync/pull", token: tk.AccessToken, header: syncHeaders})
	require.Equal(t, http.StatusUnauthorized, r.status)
	p = r.problem(t)
	assert.Equal(t, "device_revoked", string(p.Code))
	assert.Equal(t, "wipe", p.Action)
}
