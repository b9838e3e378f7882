package server_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type complaintJSON struct {
	ID         string `json:"id"`
	Number     uint64 `json:"number"`
	CallID     string `json:"call_id"`
	Status     string `json:"status"`
	Priority   string `json:"priority"`
	DueAt      time.Time
	Overdue    bool   `json:"overdue"`
	OfficeCode string `json:"office_code"`
	AgencyCode string `json:"agency_code"`
	Version    uint64 `json:"version"`
	Caller     *struct {
		Name  string `json:"name"`
		Phone string `json:"phone"`
	} `json:"caller"`
	Assignment *struct {
		InspectorID string `json:"inspector_id"`
		Mode        string `json:"mode"`
		AssignedBy  string `json:"assigned_by"`
	} `json:"assignment"`
	History []struct {
		Seq    uint64            `json:"seq"`
		Action string            `json:"action"`
		Actor  string            `json:"actor"`
		Data   map[string]string `json:"data"`
	} `json:"history"`
}

type pageJSON struct {
	Items      []complaintJSON `json:"items"`
	NextCursor string          `json:"next_cursor"`
}

func intake(callID string, callTime time.Time) map[string]any {
	return map[string]any{
		"call_id":     callID,
		"category":    "absent_employee",
		"description": "کارمند باجه ۳ از ساعت ۹ در محل کار حاضر نیست و مراجعان در صف هستند",
		"call_time":   callTime.Format(time.RFC3339),
		"caller":      map[string]string{"name": "شهروند نمونه", "phone": "۰۹۱۲۱۲۳۴۵۶۷"},
		"office_code": "QZ-SSO-01",
		"priority":    "urgent",
	}
}

// TestDispatchFlow is the end-to-end scenario: the dispatcher signs
// in, enters a complaint, routes it to the field inspector, and finds it in
// the list with its history.
func TestDispatchFlow(t *testing.T) {
	e := newEnv(t)
	disp := e.token("dispatcher")

	r := e.do(newCall("POST", "/v1/complaints", disp, intake("CALL-1001", e.clock.Now().Add(-10*time.Minute))))
	require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
	var c complaintJSON
	r.json(t, &c)
	assert.Equal(t, "received", c.Status)
	assert.Equal(t, "SSO", c.AgencyCode)
	assert.Equal(t, "/v1/complaints/"+c.ID, r.header.Get("Location"))
	require.NotNil(t, c.Caller)
	assert.Equal(t, "09121234567", c.Caller.Phone, "Persian digits are folded to ASCII")

	// A retried intake (lost response) returns the same complaint, not a duplicate.
	r = e.do(newCall("POST", "/v1/complaints", disp, intake("CALL-1001", e.clock.Now().Add(-10*time.Minute))))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	var again complaintJSON
	r.json(t, &again)
	assert.Equal(t, c.ID, again.ID)
	assert.Equal(t, c.Version, again.Version)

	// Route it to the field inspector.
	field := e.users["field"]
	r = e.do(newCall("POST", "/v1/complaints/"+c.ID+"/assign", disp, map[string]string{"inspector_id": field.ID, "mode": "field", "note": "فوری بررسی شود"}))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	r.json(t, &c)
	assert.Equal(t, "assigned", c.Status)
	require.NotNil(t, c.Assignment)
	assert.Equal(t, field.ID, c.Assignment.InspectorID)

	// It is in the list, filtered by status and by the inspector.
	r = e.do(newCall("GET", "/v1/complaints?status=assigned&inspector="+field.ID, disp, nil))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	var page pageJSON
	r.json(t, &page)
	require.Len(t, page.Items, 1)
	assert.Equal(t, c.ID, page.Items[0].ID)

	// With its history: who did what, and when.
	r = e.do(newCall("GET", "/v1/complaints/"+c.ID, disp, nil))
	require.Equal(t, http.StatusOK, r.status)
	r.json(t, &c)
	require.Len(t, c.History, 2)
	assert.Equal(t, "created", c.History[0].Action)
	assert.Equal(t, e.users["dispatcher"].ID, c.History[0].Actor)
	assert.Equal(t, "assigned", c.History[1].Action)
	assert.Equal(t, field.ID, c.History[1].Data["inspector"])
	assert.Equal(t, c.Version, c.History[1].Seq, "a record's version is the sequence of its last change")

	// Reassign to another field inspector, then withdraw.
	r = e.do(newCall("POST", "/v1/complaints/"+c.ID+"/assign", disp, map[string]string{"inspector_id": e.users["field2"].ID, "mode": "field"}))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	r = e.do(newCall("POST", "/v1/complaints/"+c.ID+"/withdraw", disp, map[string]string{"reason": "تماس تکراری"}))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	r = e.do(newCall("GET", "/v1/complaints/"+c.ID, disp, nil))
	r.json(t, &c)
	assert.Equal(t, "withdrawn", c.Status)
	actions := []string{}
	for _, h := range c.History {
		actions = append(actions, h.Action)
	}
	assert.Equal(t, []string{"created", "assigned", "reassigned", "withdrawn"}, actions)
}

func TestInspectorSeesOwnComplaintWithoutCaller(t *testing.T) {
	e := newEnv(t)
	disp := e.token("dispatcher")
	var c complaintJSON
	e.do(newCall("POST", "/v1/complaints", disp, intake("CALL-2001", e.clock.Now()))).json(t, &c)
	e.do(newCall("POST", "/v1/complaints/"+c.ID+"/assign", disp, map[string]string{"inspector_id": e.users["field"].ID, "mode": "field"}))

	r := e.do(newCall("GET", "/v1/complaints/"+c.ID, e.token("field"), nil))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	assert.NotContains(t, string(r.body), "caller")
	assert.NotContains(t, string(r.body), "09121234567")
	assert.NotContains(t, string(r.body), "شهروند نمونه")

	// Another inspector cannot see it, nor learn that it exists.
	r = e.do(newCall("GET", "/v1/complaints/"+c.ID, e.token("field2"), nil))
	assert.Equal(t, http.StatusNotFound, r.status)
	// The supervisor sees the caller.
	r = e.do(newCall("GET", "/v1/complaints/"+c.ID, e.token("supervisor"), nil))
	assert.Contains(t, string(r.body), "09121234567")
}

func TestListFiltersAndPagination(t *testing.T) {
	e := newEnv(t)
	disp := e.token("dispatcher")
	for i := range 7 {
		body := intake(fmt.Sprintf("CALL-%d", i), e.clock.Now().Add(-time.Duration(i)*time.Minute))
		if i%2 == 1 {
			body["office_code"] = "TK-SSO-01"
			body["category"] = "client_crowding"
			body["priority"] = "low"
			body["description"] = "صف طولانی مراجعين در تاكستان" // Arabic yeh and kaf, as typed on some keyboards
		}
		r := e.do(newCall("POST", "/v1/complaints", disp, body))
		require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
	}
	seen := map[string]bool{}
	cursor := ""
	pages := 0
	for {
		r := e.do(newCall("GET", "/v1/complaints?limit=3&cursor="+url.QueryEscape(cursor), disp, nil))
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		var p pageJSON
		r.json(t, &p)
		for _, c := range p.Items {
			assert.False(t, seen[c.ID], "an item appears on two pages")
			seen[c.ID] = true
		}
		pages++
		if p.NextCursor == "" {
			break
		}
		cursor = p.NextCursor
	}
	assert.Len(t, seen, 7)
	assert.Equal(t, 3, pages)

	count := func(query string) int {
		r := e.do(newCall("GET", "/v1/complaints?"+query, disp, nil))
		require.Equal(t, http.StatusOK, r.status, "%s: %s", query, r.body)
		var p pageJSON
		r.json(t, &p)
		return len(p.Items)
	}
	assert.Equal(t, 3, count("office=TK-SSO-01"))
	assert.Equal(t, 7, count("agency=SSO"))
	assert.Equal(t, 3, count("category=client_crowding"))
	assert.Equal(t, 3, count("q="+url.QueryEscape("مراجعین تاکستان")), "Persian search finds text typed with Arabic letters")
	assert.Equal(t, 0, count("overdue=true"))
	e.clock.Advance(2 * time.Hour) // urgent complaints (1h) are now overdue; low ones (72h) are not
	disp = e.token("dispatcher")   // the old access token expired meanwhile
	assert.Equal(t, 4, count("overdue=true"))
	assert.Equal(t, 7, count("status=received,assigned"))
}

func TestComplaintErrors(t *testing.T) {
	e := newEnv(t)
	disp := e.token("dispatcher")
	var c complaintJSON
	e.do(newCall("POST", "/v1/complaints", disp, intake("CALL-E1", e.clock.Now()))).json(t, &c)

	changed := intake("CALL-E1", e.clock.Now())
	changed["description"] = "متن دیگری"
	badOffice := intake("CALL-E2", e.clock.Now())
	badOffice["office_code"] = "NOPE-01"
	future := intake("CALL-E3", e.clock.Now().Add(time.Hour))
	huge := intake("CALL-E4", e.clock.Now())
	huge["description"] = strings.Repeat("الف", 600_000)

	for _, tc := range []struct {
		name    string
		call    call
		status  int
		code    string
		field   string
		invalid bool
	}{
		{"malformed JSON", call{method: "POST", path: "/v1/complaints", raw: `{"call_id": `}, 400, "malformed", "", true},
		{"unknown field", call{method: "POST", path: "/v1/complaints", raw: `{"call_id":"X","colour":"red"}`}, 400, "malformed", "colour", true},
		{"wrong type", call{method: "POST", path: "/v1/complaints", raw: `{"call_id": 12}`}, 400, "malformed", "call_id", true},
		{"bad time", call{method: "POST", path: "/v1/complaints", raw: `{"call_id": "X", "call_time": "yesterday"}`}, 400, "malformed", "call_time", true},
		{"wrong content type", call{method: "POST", path: "/v1/complaints", raw: `call_id=1`, contentType: "application/x-www-form-urlencoded"}, 415, "unsupported_media_type", "", true},
		{"oversize body", call{method: "POST", path: "/v1/complaints", body: huge}, 413, "too_large", "", true},
		{"missing fields", call{method: "POST", path: "/v1/complaints", raw: `{}`}, 422, "invalid", "call_id", true},
		{"unknown office", newCall("POST", "/v1/complaints", "", badOffice), 422, "invalid", "office_code", false},
		{"call in the future", newCall("POST", "/v1/complaints", "", future), 422, "invalid", "call_time", false},
		{"same call id, other content", newCall("POST", "/v1/complaints", "", changed), 409, "idempotency_clash", "call_id", false},
		{"unknown complaint", newCall("GET", "/v1/complaints/0190f0aa-0000-7000-8000-000000000000", "", nil), 404, "not_found", "", false},
		{"page too large", newCall("GET", "/v1/complaints?limit=1000", "", nil), 422, "invalid", "limit", true},
		{"bad cursor", newCall("GET", "/v1/complaints?cursor=zzz", "", nil), 422, "invalid", "cursor", false},
		{"bad status filter", newCall("GET", "/v1/complaints?status=lost", "", nil), 422, "invalid", "status", true},
		{"assign to a non-inspector", newCall("POST", "/v1/complaints/"+c.ID+"/assign", "", map[string]string{"inspector_id": e.users["supervisor"].ID, "mode": "field"}), 422, "invalid", "inspector_id", false},
		{"assign in the wrong mode", newCall("POST", "/v1/complaints/"+c.ID+"/assign", "", map[string]string{"inspector_id": e.users["phone"].ID, "mode": "field"}), 422, "invalid", "mode", false},
		{"withdraw without reason", newCall("POST", "/v1/complaints/"+c.ID+"/withdraw", "", map[string]string{"reason": ""}), 422, "invalid", "reason", false},
		{"unknown route", newCall("GET", "/v1/nothing-here", "", nil), 404, "route_not_found", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.call.token = disp
			tc.call.invalidRequest = tc.invalid
			r := e.do(tc.call)
			require.Equal(t, tc.status, r.status, "%s", r.body)
			p := r.problem(t)
			assert.Equal(t, tc.code, string(p.Code))
			assert.Equal(t, tc.status, p.Status)
			assert.NotEmpty(t, p.Detail)
			assert.NotEmpty(t, p.RequestID)
			if tc.field != "" {
				require.NotEmpty(t, p.Errors, "the problem names the field at fault")
				fields := []string{}
				for _, f := range p.Errors {
					fields = append(fields, f.Field)
				}
				assert.Contains(t, fields, tc.field)
			}
		})
	}

	// Referred back to the office: the answer is the complaint, as the spec says.
	referred := e.do(newCall("POST", "/v1/complaints", disp, intake("CALL-REFER-OK", e.clock.Now())))
	require.Equal(t, http.StatusCreated, referred.status, "%s", referred.body)
	var rc struct{ ID string }
	referred.json(t, &rc)
	r0 := e.do(newCall("POST", "/v1/complaints/"+rc.ID+"/refer", disp, map[string]string{"note": "به اداره"}))
	require.Equal(t, http.StatusOK, r0.status, "%s", r0.body)
	var after struct{ Status string }
	r0.json(t, &after)
	assert.Equal(t, "referred_to_workplace", after.Status)

	// An illegal transition: a withdrawn complaint cannot be referred.
	r := e.do(newCall("POST", "/v1/complaints/"+c.ID+"/withdraw", disp, map[string]string{"reason": "تکراری"}))
	require.Equal(t, http.StatusOK, r.status)
	r = e.do(newCall("POST", "/v1/complaints/"+c.ID+"/refer", disp, map[string]string{"note": "به اداره"}))
	require.Equal(t, http.StatusConflict, r.status, "%s", r.body)
	assert.Equal(t, "illegal_transition", string(r.problem(t).Code))
}
