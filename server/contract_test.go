package server_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	favsync "github.com/favad/favad/sync"
)

// specHistoryActions reads the HistoryEntry schema's x-actions: for each
// kind of record a complaint's history can show, the actions the server may
// write for it.
func specHistoryActions(t *testing.T) map[string][]string {
	t.Helper()
	specRouter(t, "http://127.0.0.1") // loads specDoc
	s := specDoc.Components.Schemas["HistoryEntry"]
	require.NotNil(t, s, "the spec has a HistoryEntry schema")
	raw, ok := s.Value.Extensions["x-actions"]
	require.True(t, ok, "HistoryEntry lists the actions of each kind in x-actions")
	b, err := json.Marshal(raw)
	require.NoError(t, err)
	var out map[string][]string
	require.NoError(t, json.Unmarshal(b, &out), "x-actions maps a kind to its actions")
	return out
}

// checkHistoryActions fails t for every change in store whose kind can
// appear in a complaint's history and whose action the spec does not list.
// newEnv runs it when each test ends, so any code path a test takes that
// writes an action missing from the spec fails that test.
func checkHistoryActions(t *testing.T, store *favsync.Store) {
	t.Helper()
	changes, err := store.Changes(0, 1<<30)
	if err != nil {
		return // the test closed the store itself
	}
	allowed := specHistoryActions(t)
	for _, ch := range changes {
		acts, ok := allowed[ch.Kind]
		if !ok {
			continue // users, devices, sessions, offices, agencies: never in a complaint's history
		}
		if !slices.Contains(acts, ch.Action) {
			t.Errorf("change %d: the server wrote action %q for a %s, which HistoryEntry's x-actions and action enum in api-spec/openapi.yaml do not list", ch.Seq, ch.Action, ch.Kind)
		}
	}
}

// TestHistoryActionsSpecIsConsistent pins issue 11 item 20: the spec listed
// only some of the history actions written, and its example entries did not
// say which kind of record they were about. The kinds of x-actions are the
// kind enum, its actions together are the action enum, and every entry must
// name its kind and record.
func TestHistoryActionsSpecIsConsistent(t *testing.T) {
	allowed := specHistoryActions(t)
	entry := specDoc.Components.Schemas["HistoryEntry"].Value
	var kinds, union []string
	for k, acts := range allowed {
		kinds = append(kinds, k)
		for _, a := range acts {
			if !slices.Contains(union, a) {
				union = append(union, a)
			}
		}
	}
	enum := func(prop string) (out []string) {
		for _, v := range entry.Properties[prop].Value.Enum {
			out = append(out, v.(string))
		}
		return out
	}
	assert.ElementsMatch(t, enum("kind"), kinds)
	assert.ElementsMatch(t, enum("action"), union)
	assert.Subset(t, entry.Required, []string{"kind", "record_id", "action"})
	for _, a := range []string{"needs_review", "updated", "review_accept", "resolved_accept", "started", "outcome"} {
		assert.Contains(t, union, a, "issue 11 named %s as written but not listed", a)
	}
}

// TestHistoryNamesTheKindOfEveryEntry: a complaint's history mixes its own
// changes with those of the records about it; each entry says which.
func TestHistoryNamesTheKindOfEveryEntry(t *testing.T) {
	e := newEnv(t)
	disp := e.token("dispatcher")
	now := e.clock.Now()
	c := e.createComplaint(disp, intake("CALL-HIST-KIND", now))
	r := e.do(newCall("POST", "/v1/complaints/"+c.ID+"/assign", disp, map[string]string{"inspector_id": e.users["field"].ID, "mode": "field"}))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	field := e.login("field", "android-hist-01").AccessToken
	visit := v7()
	e.push(field, mutation(1, "visit.upsert", visit, 0, map[string]any{"office_code": "QZ-SSO-01", "complaint_ids": []string{c.ID}}, now),
		mutation(2, "complaint.start", c.ID, 0, map[string]any{}, now))
	var got struct {
		History []map[string]any `json:"history"`
	}
	e.do(newCall("GET", "/v1/complaints/"+c.ID, disp, nil)).json(t, &got)
	seen := map[string]bool{}
	for _, h := range got.History {
		require.NotEmpty(t, h["kind"], "%v", h)
		require.NotEmpty(t, h["record_id"], "%v", h)
		seen[h["kind"].(string)+"/"+h["action"].(string)] = true
		if h["kind"] == "visit" {
			assert.Equal(t, visit, h["record_id"])
		}
	}
	assert.True(t, seen["visit/created"], "%v", seen)
	assert.True(t, seen["complaint/started"], "%v", seen)
}

// TestNeedsReviewConflictHoldsTheStatusOnly pins issue 11 item 20: a
// needs_review conflict's server value is the complaint's status only, on
// purpose (never the assignment, which may be another inspector's now); the
// spec's description and example said it held the assignment too.
func TestNeedsReviewConflictHoldsTheStatusOnly(t *testing.T) {
	e := newEnv(t)
	disp := e.token("dispatcher")
	c := e.createComplaint(disp, intake("CALL-NR-VALUES", e.clock.Now()))
	e.do(newCall("POST", "/v1/complaints/"+c.ID+"/assign", disp, map[string]string{"inspector_id": e.users["field"].ID, "mode": "field"})).json(t, &c)
	field := e.login("field", "android-nr-01").AccessToken
	e.do(newCall("POST", "/v1/complaints/"+c.ID+"/assign", disp, map[string]string{"inspector_id": e.users["field2"].ID, "mode": "field"}))
	r := e.do(call{method: "POST", path: "/v1/sync/push", token: field, header: syncHeaders, body: map[string]any{"mutations": []map[string]any{
		mutation(1, "complaint.outcome", c.ID, c.Version, map[string]any{"outcome": "not_substantiated", "statement": "همه حاضر بودند"}, e.clock.Now())}}})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	var res struct {
		Results []struct {
			Rule         string                     `json:"rule"`
			WinningValue map[string]json.RawMessage `json:"winning_value"`
			ConflictIDs  []string                   `json:"conflict_ids"`
		} `json:"results"`
	}
	r.json(t, &res)
	require.Len(t, res.Results, 1)
	require.Equal(t, "needs_review", res.Results[0].Rule)
	keys := func(m map[string]json.RawMessage) (out []string) {
		for k := range m {
			out = append(out, k)
		}
		sort.Strings(out)
		return out
	}
	assert.Equal(t, []string{"status"}, keys(res.Results[0].WinningValue))

	var conflict struct {
		ServerValue map[string]json.RawMessage `json:"server_value"`
	}
	r = e.do(newCall("GET", "/v1/conflicts/"+res.Results[0].ConflictIDs[0], disp, nil))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	r.json(t, &conflict)
	assert.Equal(t, []string{"status"}, keys(conflict.ServerValue))

	// The spec's example shows what the server sends.
	ex := specDoc.Components.Examples["ConflictNeedsReview"]
	require.NotNil(t, ex)
	b, err := json.Marshal(ex.Value.Value)
	require.NoError(t, err)
	var example struct {
		ServerValue map[string]json.RawMessage `json:"server_value"`
	}
	require.NoError(t, json.Unmarshal(b, &example))
	assert.Equal(t, keys(conflict.ServerValue), keys(example.ServerValue), "the ConflictNeedsReview example")
}

// TestInspectorComplaintExampleHasNoCallID pins issue 11 item 20: the
// AssignedComplaintForInspector example showed a call_id, which inspectors
// never get (it keys the call's record, which holds the caller's number).
func TestInspectorComplaintExampleHasNoCallID(t *testing.T) {
	e := newEnv(t)
	disp := e.token("dispatcher")
	c := e.createComplaint(disp, intake("CALL-INSP-EXAMPLE", e.clock.Now()))
	e.do(newCall("POST", "/v1/complaints/"+c.ID+"/assign", disp, map[string]string{"inspector_id": e.users["field"].ID, "mode": "field"}))
	var real map[string]any
	r := e.do(newCall("GET", "/v1/complaints/"+c.ID, e.token("field"), nil))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	r.json(t, &real)

	ex := specDoc.Components.Examples["AssignedComplaintForInspector"]
	require.NotNil(t, ex)
	example, ok := ex.Value.Value.(map[string]any)
	require.True(t, ok)
	for _, hidden := range []string{"caller", "tracking_code", "history"} {
		assert.NotContains(t, real, hidden)
		assert.NotContains(t, example, hidden)
	}
	assert.Equal(t, "", real["call_id"])
	assert.Equal(t, real["call_id"], example["call_id"], "the example shows what an inspector gets")
}

// TestCallerPhoneIsStoredAsDigits pins issue 11 item 20's decision: the
// caller's phone is kept as digits (with an optional leading +), as the spec
// says, whatever spaces and dashes the dispatcher typed.
func TestCallerPhoneIsStoredAsDigits(t *testing.T) {
	e := newEnv(t)
	disp := e.token("dispatcher")
	for i, tc := range []struct{ typed, stored string }{
		{"0912-123-4567", "09121234567"},
		{"+98 912 123 45 67", "+989121234567"},
		{" ۰۹۱۲-۱۲۳ ۴۵۶۷ ", "09121234567"},
	} {
		body := intake("CALL-PHONE-"+string(rune('A'+i)), e.clock.Now())
		body["caller"] = map[string]string{"name": "شهروند", "phone": tc.typed}
		c := e.createComplaint(disp, body)
		require.NotNil(t, c.Caller)
		assert.Equal(t, tc.stored, c.Caller.Phone, "as created, from %q", tc.typed)
		var got complaintJSON
		e.do(newCall("GET", "/v1/complaints/"+c.ID, disp, nil)).json(t, &got)
		require.NotNil(t, got.Caller)
		assert.Equal(t, tc.stored, got.Caller.Phone, "as read")
	}
	// Too few digits once the separators are gone.
	body := intake("CALL-PHONE-SHORT", e.clock.Now())
	body["caller"] = map[string]string{"name": "", "phone": "1---"}
	r := e.do(newCall("POST", "/v1/complaints", disp, body))
	require.Equal(t, http.StatusUnprocessableEntity, r.status, "%s", r.body)
	assert.Equal(t, "caller.phone", r.problem(t).Errors[0].Field)
}
