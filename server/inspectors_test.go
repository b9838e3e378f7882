package server_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type inspectorJSON struct {
	ID           string `json:"id"`
	Username     string `json:"username"`
	Mode         string `json:"mode"`
	Open         int    `json:"open"`
	LastPosition *struct {
		Lat float64   `json:"lat"`
		Lng float64   `json:"lng"`
		At  time.Time `json:"at"`
	} `json:"last_position"`
}

func (e *env) inspectors(token, query string) map[string]inspectorJSON {
	e.t.Helper()
	r := e.do(newCall("GET", "/v1/inspectors"+query, token, nil))
	require.Equal(e.t, http.StatusOK, r.status, "%s", r.body)
	var page struct {
		Items []inspectorJSON `json:"items"`
	}
	r.json(e.t, &page)
	out := map[string]inspectorJSON{}
	for _, i := range page.Items {
		out[i.Username] = i
	}
	return out
}

// TestInspectorsShowWorkloadAndLastCheckIn: dispatch chooses an inspector by
// what they hold open (assigned or in progress, nothing closed, withdrawn or
// reassigned away) and by where they last checked in (the latest by the
// device's clock, deleted visits left out).
func TestInspectorsShowWorkloadAndLastCheckIn(t *testing.T) {
	e := newEnv(t)
	disp := e.token("dispatcher")
	now := e.clock.Now()

	before := e.inspectors(disp, "")
	require.Len(t, before, 3)
	for name, i := range before {
		assert.Zero(t, i.Open, name)
		assert.Nil(t, i.LastPosition, name)
	}

	var cs [5]complaintJSON
	for i := range cs {
		e.do(newCall("POST", "/v1/complaints", disp, intake("CALL-LOAD-"+string(rune('A'+i)), now.Add(-time.Minute)))).json(t, &cs[i])
	}
	assign := func(c complaintJSON, user, mode string) {
		r := e.do(newCall("POST", "/v1/complaints/"+c.ID+"/assign", disp, map[string]string{"inspector_id": e.users[user].ID, "mode": mode}))
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	}
	assign(cs[0], "field", "field")
	assign(cs[1], "field", "field")
	assign(cs[2], "field", "field")
	assign(cs[3], "phone", "phone")
	assign(cs[4], "field", "field")
	assign(cs[4], "field2", "field") // reassigned away from field
	r := e.do(newCall("POST", "/v1/complaints/"+cs[2].ID+"/withdraw", disp, map[string]string{"reason": "تکراری"}))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)

	// The field inspector starts one and checks in twice, the later
	// check-in sent first; a third visit, dispatch deletes.
	field := e.login("field", "android-field-load").AccessToken
	e.pull(field, "")
	early, late, struck := v7(), v7(), v7()
	checkIn := func(at time.Time, lat, lng float64) map[string]any {
		return map[string]any{"device_time": at.Format(time.RFC3339), "lat": lat, "lng": lng, "accuracy_m": 8}
	}
	res := e.push(field,
		mutation(1, "complaint.start", cs[0].ID, 0, map[string]any{}, now),
		mutation(2, "visit.upsert", late, 0, map[string]any{"office_code": "QZ-SSO-01", "complaint_ids": []string{cs[0].ID},
			"check_in": checkIn(now.Add(20*time.Minute), 36.2791, 50.0041)}, now),
		mutation(3, "visit.upsert", early, 0, map[string]any{"office_code": "QZ-SSO-01", "complaint_ids": []string{cs[1].ID},
			"check_in": checkIn(now.Add(5*time.Minute), 36.1, 50.1)}, now),
		mutation(4, "visit.upsert", struck, 0, map[string]any{"office_code": "QZ-SSO-01", "complaint_ids": []string{cs[1].ID},
			"check_in": checkIn(now.Add(40*time.Minute), 35.0, 51.0)}, now),
	)
	for _, x := range res.Results {
		require.Equal(t, "applied", x.Status, "%+v", x)
	}
	r = e.do(newCall("DELETE", "/v1/visits/"+struck, disp, nil))
	require.Equal(t, http.StatusNoContent, r.status, "%s", r.body)

	got := e.inspectors(disp, "")
	assert.Equal(t, 2, got["field"].Open, "one in progress and one assigned; the withdrawn and the reassigned ones are not theirs")
	assert.Equal(t, 1, got["field2"].Open)
	assert.Equal(t, 1, got["phone"].Open)
	require.NotNil(t, got["field"].LastPosition)
	assert.Equal(t, 36.2791, got["field"].LastPosition.Lat, "the latest check-in by the device's clock, not the last pushed, and not a deleted visit's")
	assert.Equal(t, 50.0041, got["field"].LastPosition.Lng)
	assert.True(t, got["field"].LastPosition.At.Equal(now.Add(20*time.Minute)))
	assert.Nil(t, got["field2"].LastPosition)

	// The mode filter keeps the figures; a supervisor reads them too.
	phones := e.inspectors(e.token("supervisor"), "?mode=phone")
	require.Len(t, phones, 1)
	assert.Equal(t, 1, phones["phone"].Open)
}

// TestPeopleNamesEveryAccountForTheOverseers: dispatch, supervisors and
// admins can name whoever appears on a complaint (a colleague, an office
// liaison, an inspector whose account is disabled since), by display name
// and role only; inspectors and offices cannot list the staff.
func TestPeopleNamesEveryAccountForTheOverseers(t *testing.T) {
	e := newEnv(t)
	r := e.do(newCall("POST", "/v1/users/"+e.users["field2"].ID+"/disable", e.token("admin"), nil))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)

	for _, role := range []string{"dispatcher", "supervisor", "admin"} {
		r := e.do(newCall("GET", "/v1/people", e.token(role), nil))
		require.Equal(t, http.StatusOK, r.status, "%s: %s", role, r.body)
		var page struct {
			Items []map[string]any `json:"items"`
		}
		r.json(t, &page)
		byID := map[string]map[string]any{}
		for _, p := range page.Items {
			byID[p["id"].(string)] = p
			assert.NotContains(t, p, "username", role)
			assert.NotContains(t, p, "office_code", role)
		}
		for name, u := range e.users {
			require.Contains(t, byID, u.ID, "%s sees %s", role, name)
			assert.Equal(t, u.DisplayName, byID[u.ID]["display_name"], name)
			assert.Equal(t, string(u.Role), byID[u.ID]["role"], name)
		}
		assert.Equal(t, true, byID[e.users["field2"].ID]["disabled"], "a disabled inspector is still named")
	}
	for _, role := range []string{"field", "office"} {
		r := e.do(newCall("GET", "/v1/people", e.token(role), nil))
		assert.Equal(t, http.StatusForbidden, r.status, "%s: %s", role, r.body)
	}
}
