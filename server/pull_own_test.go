package server_test

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pullOwn pulls with own_writes set to own ("" leaves it out).
func (e *env) pullOwn(token, cursor, own string) pullJSON {
	e.t.Helper()
	q := url.Values{"limit": {"500"}, "cursor": {cursor}}
	if own != "" {
		q.Set("own_writes", own)
	}
	r := e.do(call{method: "GET", path: "/v1/sync/pull?" + q.Encode(), token: token, header: syncHeaders})
	require.Equal(e.t, http.StatusOK, r.status, "%s", r.body)
	var p pullJSON
	r.json(e.t, &p)
	return p
}

// pullKinds counts a page's changes by kind.
func pullKinds(p pullJSON) map[string]int {
	out := map[string]int{}
	for _, ch := range p.Changes {
		out[ch.Kind]++
	}
	return out
}

// Regression (issue 12, item 5): a delta pull sent the device the 100 notes
// it had just pushed, in full. With own_writes=omit it sends none of them
// and moves the cursor on; the same account's other device, and a pull
// without the parameter, get them all.
func TestBugDeltaPullSendsTheDeviceItsOwnNotes(t *testing.T) {
	e := newEnv(t)
	disp := e.token("dispatcher")
	var c complaintJSON
	e.do(newCall("POST", "/v1/complaints", disp, intake("CALL-OWN-1", e.clock.Now()))).json(t, &c)
	e.do(newCall("POST", "/v1/complaints/"+c.ID+"/assign", disp, map[string]string{"inspector_id": e.users["field"].ID, "mode": "field"}))
	phone := e.login("field", "android-field-01").AccessToken
	tablet := e.login("field", "android-field-02").AccessToken
	start := e.pullOwn(phone, "", "omit")
	require.True(t, start.Reset)
	require.NotEmpty(t, start.Changes, "a full sync sends everything")

	now := e.clock.Now()
	var muts []map[string]any
	for i := range 100 {
		muts = append(muts, mutation(uint64(i+1), "note.create", v7(), 0, map[string]any{"complaint_id": c.ID, "text": fmt.Sprint("یادداشت ", i), "written_at": now}, now))
	}
	muts = append(muts, mutation(101, "complaint.start", c.ID, c.Version, map[string]any{}, now))
	res := e.push(phone, muts...)
	for _, r := range res.Results {
		require.Equal(t, "applied", r.Status, "%+v", r)
	}

	mine := e.pullOwn(phone, start.Cursor, "omit")
	require.Equal(t, map[string]int{"complaint": 1}, pullKinds(mine), "only the complaint the server changed")
	assert.Equal(t, "complaint", mine.Changes[0].Kind)
	assert.Equal(t, res.Results[100].Version, mine.Changes[0].Version)
	assert.NotEqual(t, start.Cursor, mine.Cursor)
	assert.False(t, mine.HasMore)
	assert.Empty(t, e.pullOwn(phone, mine.Cursor, "omit").Changes)

	for name, p := range map[string]pullJSON{
		"old app":      e.pullOwn(phone, start.Cursor, ""),
		"send":         e.pullOwn(phone, start.Cursor, "send"),
		"other device": e.pullOwn(tablet, start.Cursor, "omit"),
	} {
		assert.Equal(t, map[string]int{"note": 100, "complaint": 1}, pullKinds(p), name)
		assert.Equal(t, mine.Cursor, p.Cursor, name)
	}

	r := e.do(call{method: "GET", path: "/v1/sync/pull?own_writes=skip", token: phone, header: syncHeaders, invalidRequest: true})
	require.Equal(t, http.StatusUnprocessableEntity, r.status, "%s", r.body)
	p := r.problem(t)
	require.Len(t, p.Errors, 1)
	assert.Equal(t, "own_writes", p.Errors[0].Field)
	assert.Equal(t, "invalid", p.Errors[0].Code)
}
