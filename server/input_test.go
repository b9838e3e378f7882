package server_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/favad/favad/inspector"
	"github.com/favad/favad/server"
)

// rawBody marshals body and then replaces each old with its new in the
// JSON text: the way to send what encoding/json would never write (a key
// twice, bytes that are not UTF-8).
func rawBody(t *testing.T, body any, oldnew ...string) string {
	t.Helper()
	b, err := json.Marshal(body)
	require.NoError(t, err)
	s := string(b)
	for i := 0; i < len(oldnew); i += 2 {
		require.Contains(t, s, oldnew[i])
		s = strings.Replace(s, oldnew[i], oldnew[i+1], 1)
	}
	return s
}

// wantFieldProblem checks a refusal: status, code, and the one field named.
func wantFieldProblem(t *testing.T, r reply, status int, code inspector.Code, field, fieldCode string) server.Problem {
	t.Helper()
	require.Equal(t, status, r.status, "%s", r.body)
	p := r.problem(t)
	assert.Equal(t, code, p.Code)
	require.Len(t, p.Errors, 1, "%s", r.body)
	assert.Equal(t, field, p.Errors[0].Field)
	assert.Equal(t, fieldCode, p.Errors[0].Code)
	return p
}

// TestStrictJSONRefusesDuplicateAndMiscasedKeys: encoding/json alone keeps
// the last of two equal keys and matches "USERNAME" to "username"; the
// server refuses both, naming the key, like any field the route does not take.
func TestStrictJSONRefusesDuplicateAndMiscasedKeys(t *testing.T) {
	e := newEnv(t)
	login := map[string]string{"username": "dispatcher", "password": testPassword, "device_id": "web-strict-01"}

	r := e.do(call{method: "POST", path: "/v1/auth/login", raw: rawBody(t, login, `"username":"dispatcher"`, `"USERNAME":"dispatcher"`), invalidRequest: true})
	p := wantFieldProblem(t, r, http.StatusBadRequest, "malformed", "USERNAME", "unknown_field")
	assert.Contains(t, p.Errors[0].Message, `"username"`, "the message names the field meant")

	r = e.do(call{method: "POST", path: "/v1/auth/login", raw: rawBody(t, login, `"username":"dispatcher"`, `"username":"nobody","username":"dispatcher"`), invalidRequest: true})
	wantFieldProblem(t, r, http.StatusBadRequest, "malformed", "username", "duplicate_key")

	disp := e.token("dispatcher")
	body := intake("CALL-STRICT-1", e.clock.Now())
	r = e.do(call{method: "POST", path: "/v1/complaints", token: disp, invalidRequest: true,
		raw: rawBody(t, body, `"phone":`, `"phone":"02833000101","phone":`)})
	wantFieldProblem(t, r, http.StatusBadRequest, "malformed", "caller.phone", "duplicate_key")
	r = e.do(call{method: "POST", path: "/v1/complaints", token: disp, invalidRequest: true,
		raw: rawBody(t, body, `"name":`, `"Name":`)})
	wantFieldProblem(t, r, http.StatusBadRequest, "malformed", "caller.Name", "unknown_field")

	r = e.do(newCall("POST", "/v1/complaints", disp, body))
	require.Equal(t, http.StatusCreated, r.status, "the same complaint, sent cleanly, is taken: %s", r.body)
}

// TestTextHygieneRefusesBadText: invalid UTF-8 (replaced by U+FFFD and
// stored, before), a NUL or another control character (stored), and a
// description made only of invisible characters (taken as not blank) are
// refused with 422 naming the field. Persian text with its zero-width
// non-joiner, tabs and line breaks are stored as sent.
func TestTextHygieneRefusesBadText(t *testing.T) {
	e := newEnv(t)
	disp := e.token("dispatcher")
	body := intake("CALL-TEXT-1", e.clock.Now())
	body["description"] = "@DESC@"
	for _, tc := range []struct {
		name, desc, fieldCode string
	}{
		{"invalid UTF-8", "\"broken \xff\xfe text\"", "invalid_utf8"},
		{"lone surrogate", `"broken \ud800 text"`, "invalid_utf8"},
		{"NUL", `"a\u0000b"`, "control_character"},
		{"escape", `"\u001b[2J cleared"`, "control_character"},
		{"invisible only", `"\u200c\u200d\u200e\u200f\u202b\u2067\ufeff \t"`, "required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(call{method: "POST", path: "/v1/complaints", token: disp, invalidRequest: true,
				raw: rawBody(t, body, `"@DESC@"`, tc.desc)})
			wantFieldProblem(t, r, http.StatusUnprocessableEntity, "invalid", "description", tc.fieldCode)
		})
	}

	body["call_id"] = "CALL-TEXT-2"
	body["description"] = "کارمند باجه نمی‌خواهد\tپاسخ بدهد\nو مراجعان\r\nمنتظرند"
	r := e.do(newCall("POST", "/v1/complaints", disp, body))
	require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
	var c complaintJSON
	r.json(t, &c)
	var got struct {
		Description string `json:"description"`
	}
	e.do(newCall("GET", "/v1/complaints/"+c.ID, disp, nil)).json(t, &got)
	assert.Equal(t, body["description"], got.Description, "the zero-width non-joiner, tab and line breaks are kept")
}

// TestPushNamesTheMutationAndKeyOfABadPayload: a payload with a key twice,
// a key in another letter case, or a control character is refused for that
// mutation alone, naming the key; the rest of the push is applied.
func TestPushNamesTheMutationAndKeyOfABadPayload(t *testing.T) {
	e := newEnv(t)
	field := e.login("field", "android-strict-01").AccessToken
	now := e.clock.Now()
	visit := v7()
	note := func(seq uint64, text string) map[string]any {
		return mutation(seq, "note.create", v7(), 0, map[string]any{"visit_id": visit, "text": text, "written_at": now.Format(time.RFC3339)}, now)
	}
	batch := []map[string]any{
		mutation(1, "visit.upsert", visit, 0, map[string]any{"office_code": "QZ-SSO-01",
			"check_in": map[string]any{"device_time": now.Format(time.RFC3339), "lat": 36.279, "lng": 50.004, "accuracy_m": 12}}, now),
		note(2, "@DUP@"),
		note(3, "@CASE@"),
		note(4, "@NUL@"),
		mutation(5, "visit.upsert", visit, 0, map[string]any{"summary": "@VISIT@"}, now),
		mutation(6, "visit.upsert", visit, 0, map[string]any{"check_out": map[string]any{"device_time": now.Format(time.RFC3339), "@LAT@": 36.279, "lng": 50.004, "accuracy_m": 12}}, now),
		note(7, "یادداشت سالم"),
	}
	batch[3]["kind"] = "@ENVELOPE@"
	raw := rawBody(t, map[string]any{"mutations": batch},
		`"text":"@DUP@"`, `"text":"one","text":"two"`,
		`"text":"@CASE@"`, `"Text":"one"`,
		`"text":"@NUL@"`, `"text":"a\u0000b"`,
		`"summary":"@VISIT@"`, `"summary":"\u0007"`,
		`"@LAT@"`, `"LAT"`,
		`"kind":"@ENVELOPE@"`, `"kind":"note.create","kind":"note.create"`,
	)
	r := e.do(call{method: "POST", path: "/v1/sync/push", token: field, header: syncHeaders, raw: raw, invalidRequest: true})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	var res struct {
		Results []struct {
			DeviceSeq uint64                 `json:"device_seq"`
			Status    string                 `json:"status"`
			Code      string                 `json:"code"`
			Fields    []inspector.FieldError `json:"fields"`
		} `json:"results"`
	}
	r.json(t, &res)
	require.Len(t, res.Results, 7)
	assert.Equal(t, "applied", res.Results[0].Status)
	assert.Equal(t, "applied", res.Results[6].Status, "one bad payload does not sink the push")
	for i, want := range map[int]inspector.FieldError{
		1: {Field: "payload.text", Code: "duplicate_key"},
		2: {Field: "payload.Text", Code: "unknown_field"},
		3: {Field: "kind", Code: "duplicate_key"},
		4: {Field: "payload.summary", Code: "control_character"},
		5: {Field: "payload.check_out.LAT", Code: "unknown_field"},
	} {
		got := res.Results[i]
		assert.Equal(t, uint64(i+1), got.DeviceSeq)
		assert.Equal(t, "rejected", got.Status, "mutation %d", i+1)
		assert.Equal(t, "invalid", got.Code, "mutation %d", i+1)
		require.NotEmpty(t, got.Fields, "mutation %d", i+1)
		assert.Equal(t, want.Field, got.Fields[0].Field, "mutation %d", i+1)
		assert.Equal(t, want.Code, got.Fields[0].Code, "mutation %d", i+1)
	}
}

// TestOfficeImportRefusesBadText: a row with an extra cell, or a cell that
// is not UTF-8 or holds a NUL, refuses the whole file, naming the line and
// the column; no office of it is stored.
func TestOfficeImportRefusesBadText(t *testing.T) {
	e := newEnv(t)
	admin := e.token("admin")
	header := "office_code,agency_code,agency_name_fa,agency_name_en,office_name_fa,city_fa,city_en,latitude,longitude,phone,opens,closes,workdays\n"
	row := func(code, name string) string {
		return code + ",SSO,سازمان تامین اجتماعی,Social Security Organization," + name + ",قزوین,Qazvin,36.27,50.00,028-33000101,07:30,14:30,Sat-Wed"
	}
	for _, tc := range []struct {
		name, csv, field, code string
	}{
		{"extra column", header + row("NEW-1", "شعبه نو") + "\n" + row("NEW-2", "شعبه دو") + ",surplus\n", "line 3: column 14", "extra_column"},
		{"invalid UTF-8", header + row("NEW-1", "شعبه نو") + "\n" + row("NEW-2", "شعبه \xff") + "\n", "line 3: office_name_fa", "invalid_utf8"},
		{"NUL", header + row("NEW-1", "شعبه\x00نو") + "\n", "line 2: office_name_fa", "control_character"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(call{method: "POST", path: "/v1/offices/import?province=%D9%82%D8%B2%D9%88%DB%8C%D9%86", token: admin,
				raw: tc.csv, contentType: "text/csv", invalidRequest: true})
			wantFieldProblem(t, r, http.StatusUnprocessableEntity, "invalid", tc.field, tc.code)
			r = e.do(newCall("GET", "/v1/offices/NEW-1", admin, nil))
			assert.Equal(t, http.StatusNotFound, r.status, "all or nothing")
		})
	}
}

// TestPushFaultsAreNamedInTheAPIsWords: a number outside a field's range
// or not whole is out_of_range or not_an_integer on that field (it was
// wrong_type "expected a number", or encoding/json's message naming Go
// types); a coordinate or a count out of range is named by its own field.
func TestPushFaultsAreNamedInTheAPIsWords(t *testing.T) {
	e := newEnv(t)
	field := e.login("field", "android-words-01").AccessToken
	now := e.clock.Now()
	note := mutation(1, "note.create", v7(), 0, map[string]any{"visit_id": v7(), "text": "x", "written_at": now.Format(time.RFC3339)}, now)
	for _, c := range []struct {
		acked    string
		code     string
		contains string
	}{{"-1", "out_of_range", "at least 0"}, {"1.5", "not_an_integer", "whole number"}} {
		raw := rawBody(t, map[string]any{"acked_through": 7, "mutations": []any{note}}, `"acked_through":7`, `"acked_through":`+c.acked)
		r := e.do(call{method: "POST", path: "/v1/sync/push", token: field, header: syncHeaders, raw: raw, invalidRequest: true})
		require.Equal(t, http.StatusUnprocessableEntity, r.status, "%s: %s", c.acked, r.body)
		p := r.problem(t)
		require.Len(t, p.Errors, 1)
		assert.Equal(t, inspector.FieldError{Field: "acked_through", Code: c.code, Message: p.Errors[0].Message}, p.Errors[0])
		assert.Contains(t, p.Errors[0].Message, c.contains)
	}

	visit := v7()
	hlc := mutation(2, "note.create", v7(), 0, map[string]any{"visit_id": visit, "text": "x", "written_at": now.Format(time.RFC3339)}, now)
	seq := mutation(3, "note.create", v7(), 0, map[string]any{"visit_id": visit, "text": "y", "written_at": now.Format(time.RFC3339)}, now)
	lat := mutation(4, "visit.upsert", visit, 0, map[string]any{"office_code": "QZ-SSO-01",
		"check_in": map[string]any{"device_time": now.Format(time.RFC3339), "lat": 91, "lng": 50.004, "accuracy_m": 12}}, now)
	count := mutation(5, "finding.create", v7(), 0, map[string]any{"visit_id": visit, "staff_expected": -1, "observed_at": now.Format(time.RFC3339)}, now)
	word := mutation(6, "finding.create", v7(), 0, map[string]any{"visit_id": visit, "staff_expected": "six", "observed_at": now.Format(time.RFC3339)}, now)
	huge := mutation(7, "visit.upsert", v7(), 0, map[string]any{"office_code": "QZ-SSO-01",
		"check_in": map[string]any{"device_time": now.Format(time.RFC3339), "lat": "@HUGE@", "lng": 50.004, "accuracy_m": 12}}, now)
	hlc["hlc"] = map[string]any{"wall_ms": now.UnixMilli(), "logical": "@LOGICAL@"}
	seq["device_seq"] = "@SEQ@"
	raw := rawBody(t, map[string]any{"mutations": []any{hlc, seq, lat, count, word, huge}}, `"@LOGICAL@"`, `-1`, `"@SEQ@"`, `"19"`, `"@HUGE@"`, `1e400`)
	r := e.do(call{method: "POST", path: "/v1/sync/push", token: field, header: syncHeaders, raw: raw, invalidRequest: true})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	var res struct {
		Results []struct {
			Status string                 `json:"status"`
			Fields []inspector.FieldError `json:"fields"`
		} `json:"results"`
	}
	r.json(t, &res)
	require.Len(t, res.Results, 6)
	for i, want := range [][2]string{{"hlc.logical", "out_of_range"}, {"device_seq", "wrong_type"}, {"payload.check_in.lat", "out_of_range"},
		{"payload.staff_expected", "out_of_range"}, {"payload.staff_expected", "wrong_type"}, {"payload.check_in.lat", "out_of_range"}} {
		got := res.Results[i]
		assert.Equal(t, "rejected", got.Status, want[0])
		require.Len(t, got.Fields, 1, "%s: one field, named once: %+v", want[0], got.Fields)
		assert.Equal(t, want[0], got.Fields[0].Field)
		assert.Equal(t, want[1], got.Fields[0].Code, want[0])
		assert.NotContains(t, got.Fields[0].Message, "Go ", "no Go types in an answer: %s", got.Fields[0].Message)
	}
}
