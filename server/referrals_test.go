package server_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/favad/favad/server"
)

type referralJSON struct {
	ID           string `json:"id"`
	Number       uint64 `json:"number"`
	Status       string `json:"status"`
	TrackingCode string `json:"tracking_code"`
	CallID       string `json:"call_id"`
	Version      uint64 `json:"version"`
	Caller       *struct {
		Name, Phone string
	} `json:"caller"`
	Referral *struct {
		DueAt          time.Time  `json:"due_at"`
		AcknowledgedAt *time.Time `json:"acknowledged_at"`
		Answer         *struct {
			Action, Text string
		} `json:"answer"`
	} `json:"referral"`
	Outcome *struct {
		Value    string `json:"value"`
		ClosedBy string `json:"closed_by"`
	} `json:"outcome"`
}

// TestReferralLoopOverHTTP walks the workplace loop as each of its users
// would: dispatch refers, the office (which never sees the caller) finds it,
// acknowledges and answers, dispatch closes it, and the caller asks after it
// with the tracking code.
func TestReferralLoopOverHTTP(t *testing.T) {
	e := newEnv(t)
	disp, office, sup := e.token("dispatcher"), e.token("office"), e.token("supervisor")

	r := e.do(newCall("POST", "/v1/complaints", disp, intake("CALL-REF-1", e.clock.Now().Add(-5*time.Minute))))
	require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
	var c referralJSON
	r.json(t, &c)
	require.Len(t, c.TrackingCode, 12, "dispatch reads the tracking code to the caller")
	other := intake("CALL-REF-2", e.clock.Now().Add(-5*time.Minute))
	other["office_code"] = "TK-SSO-01"
	r = e.do(newCall("POST", "/v1/complaints", disp, other))
	require.Equal(t, http.StatusCreated, r.status)
	var elsewhere referralJSON
	r.json(t, &elsewhere)

	// Not referred yet: the office sees nothing.
	r = e.do(newCall("GET", "/v1/complaints/"+c.ID, office, nil))
	assert.Equal(t, http.StatusNotFound, r.status)
	r = e.do(newCall("GET", "/v1/referrals", office, nil))
	require.Equal(t, http.StatusOK, r.status)
	assert.NotContains(t, string(r.body), c.ID)

	for _, id := range []string{c.ID, elsewhere.ID} {
		r = e.do(newCall("POST", "/v1/complaints/"+id+"/refer", disp, map[string]string{"note": "لطفا پاسخ دهید"}))
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	}
	r.json(t, &elsewhere)
	require.NotNil(t, elsewhere.Referral)
	assert.Equal(t, e.clock.Now().Add(72*time.Hour).UTC(), elsewhere.Referral.DueAt.UTC(), "the default referral SLA")

	// The office's list: its own office only, never the caller.
	r = e.do(newCall("GET", "/v1/referrals", office, nil))
	require.Equal(t, http.StatusOK, r.status)
	var page struct{ Items []referralJSON }
	r.json(t, &page)
	require.Len(t, page.Items, 1, "only the complaint about the office's own branch")
	got := page.Items[0]
	assert.Equal(t, c.ID, got.ID)
	assert.Nil(t, got.Caller)
	assert.Empty(t, got.CallID)
	assert.Empty(t, got.TrackingCode)
	for _, secret := range []string{"شهروند نمونه", "09121234567", "CALL-REF-1", c.TrackingCode} {
		assert.NotContains(t, string(r.body), secret)
	}
	r = e.do(newCall("GET", "/v1/complaints/"+elsewhere.ID, office, nil))
	assert.Equal(t, http.StatusNotFound, r.status, "another office's complaint")
	r = e.do(newCall("POST", "/v1/complaints/"+elsewhere.ID+"/referral/answer", office, map[string]string{"action": "corrected", "text": "x"}))
	assert.Equal(t, http.StatusNotFound, r.status)

	// Dispatch sees every referral.
	r = e.do(newCall("GET", "/v1/referrals?status=referred_to_workplace", sup, nil))
	require.Equal(t, http.StatusOK, r.status)
	r.json(t, &page)
	assert.Len(t, page.Items, 2)

	r = e.do(newCall("POST", "/v1/complaints/"+c.ID+"/referral/acknowledge", office, nil))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	r = e.do(call{method: "POST", path: "/v1/complaints/" + c.ID + "/referral/answer", token: office, body: map[string]string{"action": "fixed"}, invalidRequest: true})
	require.Equal(t, http.StatusUnprocessableEntity, r.status)
	fields := []string{}
	for _, f := range r.problem(t).Errors {
		fields = append(fields, f.Field)
	}
	assert.ElementsMatch(t, []string{"action", "text"}, fields)
	r = e.do(newCall("POST", "/v1/complaints/"+c.ID+"/referral/answer", office, map[string]string{"action": "corrected", "text": "کارمند به باجه برگشت"}))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	r.json(t, &got)
	assert.Equal(t, "referral_answered", got.Status)
	assert.Nil(t, got.Caller)

	r = e.do(newCall("POST", "/v1/complaints/"+c.ID+"/close", disp, map[string]string{"outcome": "substantiated", "statement": "پاسخ پذیرفته شد"}))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	r.json(t, &got)
	assert.Equal(t, "resolved", got.Status)
	require.NotNil(t, got.Outcome)
	assert.Equal(t, e.users["dispatcher"].ID, got.Outcome.ClosedBy)
	r = e.do(newCall("POST", "/v1/complaints/"+c.ID+"/close", disp, map[string]string{"outcome": "substantiated"}))
	assert.Equal(t, http.StatusConflict, r.status, "closed once")

	r = e.do(newCall("GET", "/v1/complaints/"+c.ID, disp, nil))
	var withHistory struct {
		History []struct{ Action string }
	}
	r.json(t, &withHistory)
	var actions []string
	for _, h := range withHistory.History {
		actions = append(actions, h.Action)
	}
	assert.Equal(t, []string{"created", "referred", "referral_acknowledged", "referral_answered", "closed"}, actions)

	// The caller asks, typing the code in Persian digits with dashes.
	code := toPersianDigits(c.TrackingCode[:4] + "-" + c.TrackingCode[4:8] + "-" + c.TrackingCode[8:])
	r = e.do(call{method: "GET", path: "/v1/track/" + code})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	var tr struct {
		Status, StatusFa, Outcome, OutcomeFa string
		OfficeNameFa                         string `json:"office_name_fa"`
	}
	r.json(t, &tr)
	assert.Equal(t, "resolved", tr.Status)
	assert.Equal(t, "substantiated", tr.Outcome)
	assert.Equal(t, "شعبه یک تامین اجتماعی قزوین", tr.OfficeNameFa)
	body := string(r.body)
	for _, secret := range []string{"شهروند نمونه", "09121234567", "CALL-REF-1", e.users["dispatcher"].DisplayName,
		e.users["office"].DisplayName, "کارمند به باجه برگشت", "پاسخ پذیرفته شد", e.users["dispatcher"].ID} {
		assert.NotContains(t, body, secret, "the tracking answer names no one")
	}
	assert.Equal(t, "no-store", r.header.Get("Cache-Control"))
	r = e.do(call{method: "GET", path: "/v1/track/000000000000"})
	assert.Equal(t, http.StatusNotFound, r.status)
}

func toPersianDigits(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return '۰' + (r - '0')
		}
		return r
	}, s)
}

func TestTrackingIsRateLimitedPerAddress(t *testing.T) {
	e := newEnv(t, func(c *server.Config) { c.TrackPerAddress = 3 })
	for i := range 3 {
		r := e.do(call{method: "GET", path: "/v1/track/123412341234"})
		require.Equal(t, http.StatusNotFound, r.status, "lookup %d", i)
	}
	r := e.do(call{method: "GET", path: "/v1/track/123412341234"})
	require.Equal(t, http.StatusTooManyRequests, r.status)
	assert.NotEmpty(t, r.header.Get("Retry-After"))
	assert.Equal(t, "rate_limited", string(r.problem(t).Code))
}

func TestOfficeAccountsAreCreatedBoundToAnOffice(t *testing.T) {
	e := newEnv(t)
	adm := e.token("admin")
	r := e.do(newCall("POST", "/v1/users", adm, map[string]any{"username": "liaison.tk", "display_name": "رابط تاکستان", "role": "office",
		"office_code": "TK-SSO-01", "password": "a-long-enough-password"}))
	require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
	assert.Contains(t, string(r.body), `"office_code":"TK-SSO-01"`)
	r = e.do(newCall("POST", "/v1/users", adm, map[string]any{"username": "liaison.x", "display_name": "x", "role": "office", "password": "a-long-enough-password"}))
	require.Equal(t, http.StatusUnprocessableEntity, r.status)
	assert.Equal(t, "office_code", r.problem(t).Errors[0].Field)
}

// An office attaches a file to its answer and uploads it with tus, like an
// inspector's evidence: the bytes are checked, dispatch reads it, the office
// reads its own, and no one else's.
func TestOfficeAttachesAFileToItsAnswer(t *testing.T) {
	e := newEvidenceEnv(t)
	disp, office := e.token("dispatcher"), e.token("office")
	r := e.do(newCall("POST", "/v1/complaints", disp, intake("CALL-ATT-1", e.clock.Now())))
	require.Equal(t, http.StatusCreated, r.status)
	var c referralJSON
	r.json(t, &c)
	r = e.do(newCall("POST", "/v1/complaints/"+c.ID+"/refer", disp, map[string]string{}))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)

	photo := noiseJPEG(t, 64, 48, 1)
	sum := hexSHA256(photo)
	id := "0193a000-0000-7000-8000-0000000000a1"
	// Bytes before the answer: an office declares its files first.
	r = e.tusCreate(office, int64(len(photo)), evidenceMeta(id, sum, "image/jpeg"))
	assert.Equal(t, http.StatusForbidden, r.status, "%s", r.body)

	answer := map[string]any{
		"action": "corrected", "text": "تصویر دفتر حضور و غیاب پیوست است",
		"attachments": []map[string]any{{"id": id, "kind": "document", "content_type": "image/jpeg", "size": len(photo), "sha256": sum}},
	}
	r = e.do(newCall("POST", "/v1/complaints/"+c.ID+"/referral/answer", office, answer))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	assert.Contains(t, string(r.body), id)
	r.json(t, &c)
	answered := c.Version

	// Its reply lost, the office sends the same answer again: the answer on
	// record, nothing written twice. Another answer is refused, saying when
	// the referral was answered.
	r = e.do(newCall("POST", "/v1/complaints/"+c.ID+"/referral/answer", office, answer))
	require.Equal(t, http.StatusOK, r.status, "the same answer again: %s", r.body)
	r.json(t, &c)
	assert.Equal(t, answered, c.Version, "nothing written twice")
	assert.Equal(t, "referral_answered", c.Status)
	r = e.do(newCall("POST", "/v1/complaints/"+c.ID+"/referral/answer", office, map[string]any{"action": "disciplinary", "text": "پاسخ دیگری"}))
	require.Equal(t, http.StatusConflict, r.status, "%s", r.body)
	assert.EqualValues(t, "illegal_transition", r.problem(t).Code)
	assert.Contains(t, r.problem(t).Detail, "answered already")

	ev, status := e.evidence(office, id)
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, "awaiting_upload", ev.Status)
	r = e.tusUpload(office, photo, evidenceMeta(id, sum, "image/jpeg"))
	require.Equal(t, http.StatusNoContent, r.status, "%s", r.body)
	ev, status = e.evidence(disp, id)
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, "stored", ev.Status)
	_, status = e.evidence(e.token("field"), id)
	assert.Equal(t, http.StatusNotFound, status, "an inspector reads only their own evidence")
}

// TestBugOfficeSeesTheInspectionDispatchSendsAfterItsAnswer: dispatch is
// not satisfied with the office's answer and routes the complaint to a field
// inspector. The office kept seeing the complaint — now "assigned", with
// the inspector, the mode and dispatch's note — and so learned of the
// unannounced visit to its own branch before it happened.
func TestBugOfficeSeesTheInspectionDispatchSendsAfterItsAnswer(t *testing.T) {
	e := newEnv(t)
	disp, office := e.token("dispatcher"), e.token("office")
	r := e.do(newCall("POST", "/v1/complaints", disp, intake("CALL-REF-INS", e.clock.Now().Add(-5*time.Minute))))
	require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
	var c referralJSON
	r.json(t, &c)
	r = e.do(newCall("POST", "/v1/complaints/"+c.ID+"/refer", disp, map[string]string{}))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	e.clock.Advance(5 * time.Minute)
	r = e.do(newCall("POST", "/v1/complaints/"+c.ID+"/referral/answer", office, map[string]string{"action": "not_confirmed", "text": "همه حاضر بودند"}))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	r = e.do(newCall("GET", "/v1/complaints/"+c.ID, office, nil))
	require.Equal(t, http.StatusOK, r.status, "the office sees its answered referral")

	e.clock.Advance(5 * time.Minute)
	r = e.do(newCall("POST", "/v1/complaints/"+c.ID+"/assign", disp, map[string]string{"inspector_id": e.users["field"].ID, "mode": "field", "note": "بازدید سرزده"}))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)

	r = e.do(newCall("GET", "/v1/complaints/"+c.ID, office, nil))
	assert.Equal(t, http.StatusNotFound, r.status, "the inspection is not the office's to see: %s", r.body)
	r = e.do(newCall("GET", "/v1/referrals", office, nil))
	require.Equal(t, http.StatusOK, r.status)
	assert.NotContains(t, string(r.body), c.ID)
	assert.NotContains(t, string(r.body), "بازدید سرزده")

	// Referred again later, it is the office's again.
	e.clock.Advance(5 * time.Minute)
	r = e.do(newCall("POST", "/v1/complaints/"+c.ID+"/refer", disp, map[string]string{}))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	r = e.do(newCall("GET", "/v1/complaints/"+c.ID, office, nil))
	assert.Equal(t, http.StatusOK, r.status)
	r = e.do(newCall("GET", "/v1/referrals", office, nil))
	assert.Contains(t, string(r.body), c.ID)
}

// TestBugFormerAssigneeReadsTheReferralAndTheOfficesAnswer: the spec says
// an inspector reads only a complaint assigned to them that is still open,
// not one referred to the workplace. Once a referral stopped ending the
// complaint's life, the inspector it was taken from could still read it —
// dispatch's referral note and then the office's answer.
func TestBugFormerAssigneeReadsTheReferralAndTheOfficesAnswer(t *testing.T) {
	e := newEnv(t)
	disp, office, field := e.token("dispatcher"), e.token("office"), e.token("field")
	c := e.createComplaint(disp, intake("CALL-REF-FORMER", e.clock.Now().Add(-5*time.Minute)))
	r := e.do(newCall("POST", "/v1/complaints/"+c.ID+"/assign", disp, map[string]string{"inspector_id": e.users["field"].ID, "mode": "field"}))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	r = e.do(newCall("GET", "/v1/complaints/"+c.ID, field, nil))
	require.Equal(t, http.StatusOK, r.status, "assigned to them")

	r = e.do(newCall("POST", "/v1/complaints/"+c.ID+"/refer", disp, map[string]string{"note": "یادداشت ارجاع"}))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	r = e.do(newCall("GET", "/v1/complaints/"+c.ID, field, nil))
	assert.Equal(t, http.StatusNotFound, r.status, "referred to the workplace: %s", r.body)

	r = e.do(newCall("POST", "/v1/complaints/"+c.ID+"/referral/answer", office, map[string]string{"action": "corrected", "text": "پاسخ اداره"}))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	r = e.do(newCall("GET", "/v1/complaints/"+c.ID, field, nil))
	assert.Equal(t, http.StatusNotFound, r.status, "the office's answer is dispatch's to read: %s", r.body)
}

// TestBugOfficeReadsDispatchsNoteToTheInspector: dispatch assigned the
// complaint to a field inspector with a note, then referred it to the
// office instead. The office's copy carried the assignment — the
// inspector's id, the mode and dispatch's note to the inspector — though
// an office never sees dispatch's notes or the inspectors' work.
func TestBugOfficeReadsDispatchsNoteToTheInspector(t *testing.T) {
	e := newEnv(t)
	disp, office := e.token("dispatcher"), e.token("office")
	c := e.createComplaint(disp, intake("CALL-REF-NOTE", e.clock.Now().Add(-5*time.Minute)))
	r := e.do(newCall("POST", "/v1/complaints/"+c.ID+"/assign", disp, map[string]string{"inspector_id": e.users["field"].ID, "mode": "field", "note": "بازدید سرزده ساعت ده"}))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	e.clock.Advance(time.Minute)
	r = e.do(newCall("POST", "/v1/complaints/"+c.ID+"/refer", disp, map[string]string{}))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)

	for _, path := range []string{"/v1/complaints/" + c.ID, "/v1/referrals"} {
		r = e.do(newCall("GET", path, office, nil))
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		assert.Contains(t, string(r.body), c.ID)
		for _, secret := range []string{"بازدید سرزده ساعت ده", e.users["field"].ID, `"assignment"`} {
			assert.NotContains(t, string(r.body), secret, path)
		}
	}
	r = e.do(newCall("POST", "/v1/complaints/"+c.ID+"/referral/acknowledge", office, nil))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	assert.NotContains(t, string(r.body), "بازدید سرزده ساعت ده")
}

// TestOfficeSeesTheResultNotTheInspection: a complaint assigned to an
// inspector and then referred to the office; the inspector's outcome,
// recorded offline, arrives late and goes to review, and dispatch applies
// it. The office sees the complaint's result, but not who inspected it nor
// the inspector's statement; dispatch sees both.
func TestOfficeSeesTheResultNotTheInspection(t *testing.T) {
	e := newEnv(t)
	disp, office := e.token("dispatcher"), e.token("office")
	c := e.createComplaint(disp, intake("CALL-REF-LATE", e.clock.Now().Add(-5*time.Minute)))
	e.do(newCall("POST", "/v1/complaints/"+c.ID+"/assign", disp, map[string]string{"inspector_id": e.users["field"].ID, "mode": "field"})).json(t, &c)
	field := e.login("field", "android-field-late").AccessToken
	version := c.Version
	e.clock.Advance(time.Minute)
	r := e.do(newCall("POST", "/v1/complaints/"+c.ID+"/refer", disp, map[string]string{}))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)

	const statement = "آقای الف بدون مرخصی غایب بود"
	res := e.push(field, mutation(1, "complaint.outcome", c.ID, version, map[string]any{"outcome": "substantiated", "statement": statement}, e.clock.Now()))
	require.Equal(t, "needs_review", res.Results[0].Rule)
	r = e.do(newCall("POST", "/v1/conflicts/"+res.Results[0].ConflictIDs[0]+"/resolve", disp, map[string]string{"action": "overrule"}))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)

	type outcome struct {
		Value       string `json:"value"`
		Statement   string `json:"statement"`
		InspectorID string `json:"inspector_id"`
	}
	var got struct {
		Status  string   `json:"status"`
		Outcome *outcome `json:"outcome"`
	}
	r = e.do(newCall("GET", "/v1/complaints/"+c.ID, disp, nil))
	require.Equal(t, http.StatusOK, r.status)
	r.json(t, &got)
	require.NotNil(t, got.Outcome)
	assert.Equal(t, outcome{"substantiated", statement, e.users["field"].ID}, *got.Outcome, "dispatch sees the inspector's outcome")

	r = e.do(newCall("GET", "/v1/complaints/"+c.ID, office, nil))
	require.Equal(t, http.StatusOK, r.status, "the office still sees the complaint referred to it: %s", r.body)
	got.Outcome = nil
	r.json(t, &got)
	assert.Equal(t, "resolved", got.Status)
	require.NotNil(t, got.Outcome)
	assert.Equal(t, outcome{Value: "substantiated"}, *got.Outcome, "the result, not the inspection")
	assert.NotContains(t, string(r.body), statement)
	assert.NotContains(t, string(e.do(newCall("GET", "/v1/referrals", office, nil)).body), statement)
}

// TestOfficeAnswersWhileDispatchReviewsALateOutcome: an inspector's outcome
// recorded offline arrives after dispatch referred the complaint to the
// workplace, so dispatch reviews it. Meanwhile the office still sees the
// referral as its own (not dispatch's review), acknowledges and answers it;
// accepting dispatch's state returns the complaint to the answered referral,
// which dispatch then closes.
func TestOfficeAnswersWhileDispatchReviewsALateOutcome(t *testing.T) {
	e := newEnv(t)
	disp, office := e.token("dispatcher"), e.token("office")
	c, field, version := e.referredAfterAssignment(disp, "CALL-REF-REVIEW", "android-field-review")
	res := e.lateOutcome(field, c.ID, version)
	var r reply

	var got referralJSON
	e.do(newCall("GET", "/v1/complaints/"+c.ID, disp, nil)).json(t, &got)
	require.Equal(t, "needs_review", got.Status, "dispatch reviews the late outcome")
	r = e.do(newCall("GET", "/v1/complaints/"+c.ID, office, nil))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	r.json(t, &got)
	assert.Equal(t, "referred_to_workplace", got.Status, "the office sees its referral, not dispatch's review")
	r = e.do(newCall("GET", "/v1/referrals?status=referred_to_workplace", office, nil))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	assert.Contains(t, string(r.body), c.ID, "the office's list of referrals awaiting it")
	assert.NotContains(t, string(r.body), "needs_review")

	// Past the complaint's own due time (24 h), within the referral's (72 h):
	// the office's answer is what is due, and it is not late.
	e.clock.Advance(30 * time.Hour)
	disp, office = e.token("dispatcher"), e.token("office")
	field = e.login("field", "android-field-review").AccessToken
	var due struct {
		Overdue bool `json:"overdue"`
	}
	e.do(newCall("GET", "/v1/complaints/"+c.ID, office, nil)).json(t, &due)
	assert.False(t, due.Overdue, "the referral's due time applies during the review")

	r = e.do(newCall("POST", "/v1/complaints/"+c.ID+"/referral/acknowledge", office, nil))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	r = e.do(newCall("POST", "/v1/complaints/"+c.ID+"/referral/answer", office, map[string]any{"action": "corrected", "text": "کارمند تذکر گرفت"}))
	require.Equal(t, http.StatusOK, r.status, "the office answers during the review: %s", r.body)
	r.json(t, &got)
	assert.Equal(t, "referral_answered", got.Status)
	require.NotNil(t, got.Referral.Answer)

	e.do(newCall("GET", "/v1/complaints/"+c.ID, disp, nil)).json(t, &got)
	assert.Equal(t, "needs_review", got.Status, "the review is still dispatch's to settle")
	r = e.do(newCall("GET", "/v1/complaints/"+c.ID, field, nil))
	assert.Equal(t, http.StatusNotFound, r.status, "the office's answer is not the former assignee's to read, under review or not: %s", r.body)
	r = e.do(newCall("POST", "/v1/conflicts/"+res.Results[0].ConflictIDs[0]+"/resolve", disp, map[string]string{"action": "accept"}))
	require.Equal(t, http.StatusOK, r.status, "accepting dispatch's state: %s", r.body)
	e.do(newCall("GET", "/v1/complaints/"+c.ID, disp, nil)).json(t, &got)
	require.Equal(t, "referral_answered", got.Status, "back to the answered referral")
	require.NotNil(t, got.Referral.Answer)
	assert.Equal(t, "کارمند تذکر گرفت", got.Referral.Answer.Text)
	r = e.do(newCall("POST", "/v1/complaints/"+c.ID+"/close", disp, map[string]string{"outcome": "resolved_on_spot"}))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
}

// TestAcceptingAReviewReturnsToTheAnsweredReferral: the office had answered
// before an inspector's late outcome arrived; accepting dispatch's state
// returns the complaint to referral_answered (refused before: the state
// machine had no way back there from needs_review).
func TestAcceptingAReviewReturnsToTheAnsweredReferral(t *testing.T) {
	e := newEnv(t)
	disp, office := e.token("dispatcher"), e.token("office")
	c, field, version := e.referredAfterAssignment(disp, "CALL-REF-ANSWERED", "android-field-answered")
	r := e.do(newCall("POST", "/v1/complaints/"+c.ID+"/referral/answer", office, map[string]any{"action": "not_confirmed", "text": "کارمند در مرخصی بود"}))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	res := e.lateOutcome(field, c.ID, version)

	var got referralJSON
	e.do(newCall("GET", "/v1/complaints/"+c.ID, office, nil)).json(t, &got)
	assert.Equal(t, "referral_answered", got.Status, "the office sees its answered referral")
	r = e.do(newCall("POST", "/v1/conflicts/"+res.Results[0].ConflictIDs[0]+"/resolve", disp, map[string]string{"action": "accept"}))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	e.do(newCall("GET", "/v1/complaints/"+c.ID, disp, nil)).json(t, &got)
	assert.Equal(t, "referral_answered", got.Status)
}

// referredAfterAssignment makes a complaint dispatch assigned to the field
// inspector and then, a minute later, referred to the office; it returns the
// complaint, the inspector's token on device and the complaint's version
// the inspector's device holds (the assignment's).
func (e *env) referredAfterAssignment(disp, callID, device string) (c complaintJSON, field string, version uint64) {
	e.t.Helper()
	c = e.createComplaint(disp, intake(callID, e.clock.Now().Add(-5*time.Minute)))
	e.do(newCall("POST", "/v1/complaints/"+c.ID+"/assign", disp, map[string]string{"inspector_id": e.users["field"].ID, "mode": "field"})).json(e.t, &c)
	field = e.login("field", device).AccessToken
	version = c.Version
	e.clock.Advance(time.Minute)
	r := e.do(newCall("POST", "/v1/complaints/"+c.ID+"/refer", disp, map[string]string{}))
	require.Equal(e.t, http.StatusOK, r.status, "%s", r.body)
	return c, field, version
}

// lateOutcome pushes the inspector's outcome recorded before the referral
// reached their device: it is held for dispatch's review.
func (e *env) lateOutcome(field, complaintID string, version uint64) pushJSON {
	e.t.Helper()
	res := e.push(field, mutation(1, "complaint.outcome", complaintID, version, map[string]any{"outcome": "substantiated", "statement": "غایب بود"}, e.clock.Now()))
	require.Equal(e.t, "needs_review", res.Results[0].Rule)
	return res
}
