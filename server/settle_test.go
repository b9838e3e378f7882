package server_test

// Settling conflict records over HTTP (issue 11, points 5, 13 and 20).

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	favsync "github.com/favad/favad/sync"
)

// twoReviewsHTTP: the complaint is reassigned from field to field2, and both
// inspectors' offline outcomes go to review. It returns the complaint's id
// and the two conflict ids, field's first.
func twoReviewsHTTP(t *testing.T, e *env, callID string) (string, string, string) {
	t.Helper()
	disp := e.token("dispatcher")
	var c complaintJSON
	e.do(newCall("POST", "/v1/complaints", disp, intake(callID, e.clock.Now()))).json(t, &c)
	e.do(newCall("POST", "/v1/complaints/"+c.ID+"/assign", disp, map[string]string{"inspector_id": e.users["field"].ID, "mode": "field"})).json(t, &c)
	e.do(newCall("POST", "/v1/complaints/"+c.ID+"/assign", disp, map[string]string{"inspector_id": e.users["field2"].ID, "mode": "field"})).json(t, &c)
	field := e.login("field", "android-field-"+callID).AccessToken
	field2 := e.login("field2", "android-field2-"+callID).AccessToken
	r1 := e.push(field, mutation(1, "complaint.outcome", c.ID, c.Version, map[string]any{"outcome": "substantiated", "statement": "غایب بود"}, e.clock.Now()))
	r2 := e.push(field2, mutation(1, "complaint.outcome", c.ID, c.Version, map[string]any{"outcome": "not_substantiated", "statement": "همه حاضر بودند"}, e.clock.Now()))
	require.Equal(t, "needs_review", r1.Results[0].Rule)
	require.Equal(t, "needs_review", r2.Results[0].Rule)
	return c.ID, r1.Results[0].ConflictIDs[0], r2.Results[0].ConflictIDs[0]
}

// TestSecondOutcomeUnderReviewIsSettleable: issue 11, point 5. Accepting the
// first review used to take the complaint out of review, and overruling the
// second was then refused for ever. Now the complaint stays under review
// while a review of it is open; overruling while another is open is 409
// review_pending, and the other can be accepted first.
func TestSecondOutcomeUnderReviewIsSettleable(t *testing.T) {
	e := newEnv(t)
	disp := e.token("dispatcher")
	id, first, second := twoReviewsHTTP(t, e, "CALL-ST1")

	r := e.do(newCall("POST", "/v1/conflicts/"+second+"/resolve", disp, map[string]string{"action": "overrule"}))
	require.Equal(t, http.StatusConflict, r.status, "%s", r.body)
	assert.Equal(t, "review_pending", string(r.problem(t).Code))

	r = e.do(newCall("POST", "/v1/conflicts/"+first+"/resolve", disp, map[string]string{"action": "accept"}))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	var c complaintJSON
	e.do(newCall("GET", "/v1/complaints/"+id, disp, nil)).json(t, &c)
	assert.Equal(t, "needs_review", c.Status, "still under review: field2's outcome is open")

	r = e.do(newCall("POST", "/v1/conflicts/"+second+"/resolve", disp, map[string]string{"action": "overrule", "note": "گزارش دوم پذیرفته شد"}))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	e.do(newCall("GET", "/v1/complaints/"+id, disp, nil)).json(t, &c)
	assert.Equal(t, "not_substantiated", c.Status)
}

// TestAcceptingAReviewAfterRoutingIsANoOp: issue 11, point 20. A review
// whose complaint dispatch routed out of review is accepted with 200 (the
// record closes, the complaint is untouched); overruling it is 409 conflict.
func TestAcceptingAReviewAfterRoutingIsANoOp(t *testing.T) {
	e := newEnv(t)
	disp := e.token("dispatcher")
	id, first, second := twoReviewsHTTP(t, e, "CALL-ST2")
	r := e.do(newCall("POST", "/v1/complaints/"+id+"/withdraw", disp, map[string]string{"reason": "تماس تکراری"}))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)

	r = e.do(newCall("POST", "/v1/conflicts/"+first+"/resolve", disp, map[string]string{"action": "overrule"}))
	require.Equal(t, http.StatusConflict, r.status, "%s", r.body)
	assert.Equal(t, "conflict", string(r.problem(t).Code))
	for _, cf := range []string{first, second} {
		r = e.do(newCall("POST", "/v1/conflicts/"+cf+"/resolve", disp, map[string]string{"action": "accept"}))
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		assert.Contains(t, string(r.body), `"status":"resolved"`)
	}
	var c complaintJSON
	e.do(newCall("GET", "/v1/complaints/"+id, disp, nil)).json(t, &c)
	assert.Equal(t, "withdrawn", c.Status)
}

// TestPushPastTheConflictCapIsDeferred: issue 11, point 13. One push of 500
// complaint.edit mutations naming seven fields each made 3,500 records for
// dispatch. Now each makes one, and past the device's cap the rest are
// deferred (too_many_conflicts), kept out of dispatch's queue.
func TestPushPastTheConflictCapIsDeferred(t *testing.T) {
	e := newEnv(t)
	disp := e.token("dispatcher")
	c := e.assigned("CALL-ST3")
	field := e.login("field", "android-field-st3").AccessToken
	edit := map[string]any{"assignee": "me", "priority": "urgent", "category": "other", "office_code": "TK-SSO-01",
		"due_at": e.clock.Now().Format(time.RFC3339), "status": "resolved", "description": "ویرایش"}
	muts := make([]map[string]any, 500)
	for i := range muts {
		muts[i] = mutation(uint64(i+1), "complaint.edit", c.ID, c.Version, edit, e.clock.Now())
	}
	res := e.push(field, muts...)
	deferred := 0
	for i, r := range res.Results {
		if i < favsync.MaxOpenConflictsPerDevice {
			require.Equal(t, "resolved_by_rule", r.Status)
			require.Len(t, r.ConflictIDs, 1, "one record per mutation")
			continue
		}
		require.Equal(t, "deferred", r.Status)
		require.Equal(t, "too_many_conflicts", r.Code)
		deferred++
	}
	assert.Equal(t, 500-favsync.MaxOpenConflictsPerDevice, deferred)

	r := e.do(newCall("GET", "/v1/conflicts?status=open&limit=200", disp, nil))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	var page struct {
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
	}
	r.json(t, &page)
	assert.Len(t, page.Items, favsync.MaxOpenConflictsPerDevice, "dispatch's queue: %d records, not 3,500", favsync.MaxOpenConflictsPerDevice)
}

// TestBulkSettleConflicts: issue 11, point 13. Dispatch settles many records
// in one request, each on its own, with one answer per id; the request is
// bounded, and only dispatchers may settle.
func TestBulkSettleConflicts(t *testing.T) {
	e := newEnv(t)
	disp := e.token("dispatcher")
	id, first, second := twoReviewsHTTP(t, e, "CALL-ST4")
	field := e.login("field2", "android-field2-st4").AccessToken
	var c complaintJSON
	e.do(newCall("GET", "/v1/complaints/"+id, disp, nil)).json(t, &c)
	var edits []string
	for i := range 3 {
		res := e.push(field, mutation(uint64(1+i), "complaint.edit", id, c.Version, map[string]any{"priority": "low", "description": "x"}, e.clock.Now()))
		require.Len(t, res.Results[0].ConflictIDs, 1)
		edits = append(edits, res.Results[0].ConflictIDs[0])
	}
	ids := []string{edits[0], first, "no-such-conflict", second, edits[1], edits[2]}

	r := e.do(newCall("POST", "/v1/conflicts/settle", e.token("supervisor"), map[string]any{"ids": ids, "action": "accept"}))
	assert.Equal(t, http.StatusForbidden, r.status, "%s", r.body)

	r = e.do(newCall("POST", "/v1/conflicts/settle", disp, map[string]any{"ids": ids, "action": "accept", "note": "یکجا"}))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	var out struct {
		Results []struct {
			ID       string `json:"id"`
			Status   int    `json:"status"`
			Conflict *struct {
				Status string `json:"status"`
			} `json:"conflict"`
			Problem *struct {
				Code string `json:"code"`
			} `json:"problem"`
		} `json:"results"`
	}
	r.json(t, &out)
	require.Len(t, out.Results, len(ids))
	for i, res := range out.Results {
		assert.Equal(t, ids[i], res.ID)
		if ids[i] == "no-such-conflict" {
			assert.Equal(t, http.StatusNotFound, res.Status)
			require.NotNil(t, res.Problem)
			assert.Equal(t, "not_found", res.Problem.Code)
			continue
		}
		assert.Equal(t, http.StatusOK, res.Status)
		require.NotNil(t, res.Conflict)
		assert.Equal(t, "resolved", res.Conflict.Status)
	}
	e.do(newCall("GET", "/v1/complaints/"+id, disp, nil)).json(t, &c)
	assert.Equal(t, "assigned", c.Status, "both reviews accepted: dispatch's state stands")

	// Settled ones are answered 409 one by one, and the request as a whole is still 200.
	r = e.do(newCall("POST", "/v1/conflicts/settle", disp, map[string]any{"ids": ids[:2], "action": "accept"}))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	out.Results = nil
	r.json(t, &out)
	for _, res := range out.Results {
		assert.Equal(t, http.StatusConflict, res.Status)
	}

	many := make([]string, favsync.MaxSettleBatch+1)
	for i := range many {
		many[i] = v7()
	}
	for _, bad := range []call{
		{method: "POST", path: "/v1/conflicts/settle", token: disp, body: map[string]any{"ids": many, "action": "accept"}, invalidRequest: true},
		{method: "POST", path: "/v1/conflicts/settle", token: disp, body: map[string]any{"ids": []string{first, first}, "action": "accept"}, invalidRequest: true},
		{method: "POST", path: "/v1/conflicts/settle", token: disp, body: map[string]any{"ids": []string{}, "action": "accept"}, invalidRequest: true},
		{method: "POST", path: "/v1/conflicts/settle", token: disp, body: map[string]any{"ids": []string{first}, "action": "maybe"}, invalidRequest: true},
	} {
		r := e.do(bad)
		require.Equal(t, http.StatusUnprocessableEntity, r.status, "%s", r.body)
		assert.Equal(t, "invalid", string(r.problem(t).Code))
	}
}
