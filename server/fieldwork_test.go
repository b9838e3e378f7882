package server_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fieldWorkJSON is GET /v1/complaints/{id}/fieldwork as the tests read it.
type fieldWorkJSON struct {
	Visits []struct {
		ID           string   `json:"id"`
		ComplaintIDs []string `json:"complaint_ids"`
		CheckIn      struct {
			DeviceTime string `json:"device_time"`
		} `json:"check_in"`
		CheckOut struct {
			DeviceTime string `json:"device_time"`
		} `json:"check_out"`
	} `json:"visits"`
	Findings []struct {
		ID         string `json:"id"`
		ObservedAt string `json:"observed_at"`
	} `json:"findings"`
	Calls []struct {
		ID        string `json:"id"`
		StartedAt string `json:"started_at"`
	} `json:"calls"`
	Notes []struct {
		ID        string `json:"id"`
		WrittenAt string `json:"written_at"`
	} `json:"notes"`
}

func (e *env) fieldWork(token, complaintID string) fieldWorkJSON {
	e.t.Helper()
	r := e.do(newCall("GET", "/v1/complaints/"+complaintID+"/fieldwork", token, nil))
	require.Equal(e.t, http.StatusOK, r.status, "%s", r.body)
	var fw fieldWorkJSON
	r.json(e.t, &fw)
	return fw
}

// TestFieldWorkShowsAVisitUnderEveryComplaintItNames pins issue 11 item 19:
// a visit naming two complaints showed only in the first complaint's field
// work. The spec says "the visits that name it", with their findings.
func TestFieldWorkShowsAVisitUnderEveryComplaintItNames(t *testing.T) {
	e := newEnv(t)
	disp := e.token("dispatcher")
	now := e.clock.Now()
	a := e.createComplaint(disp, intake("CALL-FW-A", now))
	b := e.createComplaint(disp, intake("CALL-FW-B", now))
	for _, c := range []complaintJSON{a, b} {
		r := e.do(newCall("POST", "/v1/complaints/"+c.ID+"/assign", disp, map[string]string{"inspector_id": e.users["field"].ID, "mode": "field"}))
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	}
	field := e.login("field", "android-fw-01").AccessToken
	visit, onVisit, onB, note, later := v7(), v7(), v7(), v7(), v7()
	stamp := map[string]any{"device_time": now.Format(time.RFC3339), "lat": 36.279, "lng": 50.004, "accuracy_m": 12}
	res := e.push(field,
		mutation(1, "visit.upsert", visit, 0, map[string]any{"office_code": "QZ-SSO-01", "complaint_ids": []string{a.ID, b.ID}, "check_in": stamp}, now),
		// A finding on the visit that names no complaint belongs to every complaint the visit names.
		mutation(2, "finding.create", onVisit, 0, map[string]any{"visit_id": visit, "staff_expected": 6, "staff_present": 4,
			"absentees": []map[string]string{}, "non_work_activity": []string{}, "clients_waiting": 3, "desks_open": 2, "observed_at": now.Format(time.RFC3339)}, now),
		mutation(3, "finding.create", onB, 0, map[string]any{"visit_id": visit, "complaint_id": b.ID, "staff_expected": 6, "staff_present": 6,
			"absentees": []map[string]string{}, "non_work_activity": []string{}, "clients_waiting": 0, "desks_open": 3, "observed_at": now.Format(time.RFC3339)}, now),
		mutation(4, "note.create", note, 0, map[string]any{"visit_id": visit, "text": "مدیر شعبه در جلسه بود", "written_at": now.Format(time.RFC3339)}, now),
	)
	for _, r := range res.Results {
		require.Equal(t, "applied", r.Status, "%+v", r)
	}

	fa, fb := e.fieldWork(disp, a.ID), e.fieldWork(disp, b.ID)
	require.Len(t, fa.Visits, 1)
	require.Len(t, fb.Visits, 1, "the visit names the second complaint too")
	assert.Equal(t, visit, fb.Visits[0].ID)
	findingIDs := func(fw fieldWorkJSON) (ids []string) {
		for _, f := range fw.Findings {
			ids = append(ids, f.ID)
		}
		return ids
	}
	assert.ElementsMatch(t, []string{onVisit}, findingIDs(fa), "the finding about B is not A's")
	assert.ElementsMatch(t, []string{onVisit, onB}, findingIDs(fb))
	require.Len(t, fb.Notes, 1, "a note on the visit belongs to every complaint it names")
	assert.Equal(t, note, fb.Notes[0].ID)

	// The visit stops naming A: it leaves A's field work, stays in B's, and A's
	// history shows the change that took it away.
	res = e.push(field, mutation(5, "visit.upsert", visit, res.Results[0].Version,
		map[string]any{"complaint_ids": []string{b.ID}}, now.Add(time.Minute)))
	require.Equal(t, "applied", res.Results[0].Status, "%+v", res.Results[0])
	assert.Empty(t, e.fieldWork(disp, a.ID).Visits, "the visit no longer names A")
	assert.Len(t, e.fieldWork(disp, b.ID).Visits, 1)

	// A visit that names B only later (a second edit adds it) shows under B too.
	res = e.push(field, mutation(6, "visit.upsert", later, 0, map[string]any{"office_code": "QZ-SSO-01", "complaint_ids": []string{a.ID}}, now),
		mutation(7, "visit.upsert", later, 0, map[string]any{"complaint_ids": []string{a.ID, b.ID}}, now.Add(time.Minute)))
	for _, r := range res.Results {
		require.Equal(t, "applied", r.Status, "%+v", r)
	}
	assert.Len(t, e.fieldWork(disp, b.ID).Visits, 2)
	assert.Len(t, e.fieldWork(disp, a.ID).Visits, 1)
}

// TestFieldWorkKeepsTheDeviceOffset pins issue 11 item 19: device times sent
// with an offset came back in UTC, though the spec promises them "as the
// device sent them, with the device's UTC offset".
func TestFieldWorkKeepsTheDeviceOffset(t *testing.T) {
	e := newEnv(t)
	disp := e.token("dispatcher")
	now := e.clock.Now()
	tehran := time.FixedZone("IRST", 3*3600+1800)
	local := now.In(tehran).Format(time.RFC3339) // e.g. 2026-12-04T20:03:04+03:30
	require.Contains(t, local, "+03:30")
	c := e.createComplaint(disp, intake("CALL-FW-TZ", now))
	r := e.do(newCall("POST", "/v1/complaints/"+c.ID+"/assign", disp, map[string]string{"inspector_id": e.users["field"].ID, "mode": "field"}))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	field := e.login("field", "android-fw-02").AccessToken
	visit, finding, note := v7(), v7(), v7()
	stamp := map[string]any{"device_time": local, "lat": 36.279, "lng": 50.004, "accuracy_m": 12}
	res := e.push(field,
		mutation(1, "visit.upsert", visit, 0, map[string]any{"office_code": "QZ-SSO-01", "complaint_ids": []string{c.ID}, "check_in": stamp, "check_out": stamp}, now),
		mutation(2, "finding.create", finding, 0, map[string]any{"visit_id": visit, "complaint_id": c.ID, "staff_expected": 6, "staff_present": 4,
			"absentees": []map[string]string{}, "non_work_activity": []string{}, "clients_waiting": 3, "desks_open": 2, "observed_at": local}, now),
		mutation(3, "note.create", note, 0, map[string]any{"complaint_id": c.ID, "text": "یادداشت", "written_at": local}, now),
	)
	for _, r := range res.Results {
		require.Equal(t, "applied", r.Status, "%+v", r)
	}

	// A phone inspector's call, on a complaint routed to them.
	pc := e.createComplaint(disp, intake("CALL-FW-TZ2", now))
	r = e.do(newCall("POST", "/v1/complaints/"+pc.ID+"/assign", disp, map[string]string{"inspector_id": e.users["phone"].ID, "mode": "phone"}))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	phone := e.login("phone", "android-fw-03").AccessToken
	callID := v7()
	res = e.push(phone, mutation(1, "call.create", callID, 0, map[string]any{"complaint_id": pc.ID, "callee_name": "رئیس شعبه",
		"number": "02833000101", "started_at": local, "duration_s": 90, "outcome": "reached"}, now))
	require.Equal(t, "applied", res.Results[0].Status, "%+v", res.Results[0])

	fw := e.fieldWork(disp, c.ID)
	require.Len(t, fw.Visits, 1)
	assert.Equal(t, local, fw.Visits[0].CheckIn.DeviceTime)
	assert.Equal(t, local, fw.Visits[0].CheckOut.DeviceTime)
	require.Len(t, fw.Findings, 1)
	assert.Equal(t, local, fw.Findings[0].ObservedAt)
	require.Len(t, fw.Notes, 1)
	assert.Equal(t, local, fw.Notes[0].WrittenAt)
	pw := e.fieldWork(disp, pc.ID)
	require.Len(t, pw.Calls, 1)
	assert.Equal(t, local, pw.Calls[0].StartedAt)

	// A replay of the same record with the same offset is still a no-op, not a clash.
	res = e.push(field, mutation(4, "note.create", note, 0, map[string]any{"complaint_id": c.ID, "text": "یادداشت", "written_at": local}, now))
	assert.Equal(t, "applied", res.Results[0].Status, "%+v", res.Results[0])
}
