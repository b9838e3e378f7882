package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/favad/favad/feed"
	"github.com/favad/favad/inspector"
	"github.com/favad/favad/server"
	favsync "github.com/favad/favad/sync"
)

// feedStream is an open GET /v1/feed, read as it arrives.
type feedStream struct {
	*sse
	raw *lockedBuffer
}

// openFeed opens GET /v1/feed?query with token, sending lastEventID if set.
// The request, and the response's status and headers, are checked against
// the spec; the body of a 200 is read as it comes.
func (e *env) openFeed(token, query, lastEventID string) *feedStream {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	e.t.Cleanup(cancel) // before the kit closes the server
	path := "/v1/feed"
	if query != "" {
		path += "?" + query
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.ts.URL+path, nil)
	require.NoError(e.t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "text/event-stream")
	if lastEventID != "" {
		req.Header.Set("Last-Event-ID", lastEventID)
	}
	route, params, err := e.router.FindRoute(req)
	require.NoError(e.t, err)
	opts := &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, IncludeResponseStatus: true, MultiError: true}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts}
	require.NoError(e.t, openapi3filter.ValidateRequest(context.Background(), in))

	resp, err := e.ts.Client().Do(req)
	require.NoError(e.t, err)
	e.t.Cleanup(func() { resp.Body.Close() })
	// A stream never ends by itself: its body is left out of the check.
	streamOpts := *opts
	streamOpts.ExcludeResponseBody = true
	in.Options = &streamOpts
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header, Options: &streamOpts}
	out.SetBodyBytes(nil)
	require.NoError(e.t, openapi3filter.ValidateResponse(context.Background(), out), "GET %s (%d) breaks the spec", path, resp.StatusCode)
	require.Equal(e.t, http.StatusOK, resp.StatusCode)
	assert.Equal(e.t, "text/event-stream", resp.Header.Get("Content-Type"))

	raw := &lockedBuffer{}
	body := resp.Body
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.TeeReader(body, raw), body}
	s := &sse{t: e.t, resp: resp, events: make(chan sseEvent, 4096), cancel: cancel}
	go s.read()
	return &feedStream{sse: s, raw: raw}
}

// message reads the next event, which must be a feed event (unnamed).
func (f *feedStream) message() feed.Event {
	f.t.Helper()
	ev := f.next(5 * time.Second)
	require.Empty(f.t, ev.Event, "expected a message event, got %+v", ev)
	var e feed.Event
	require.NoError(f.t, json.Unmarshal([]byte(ev.Data), &e), "data: %q", ev.Data)
	require.Equal(f.t, ev.ID, strconv.FormatUint(e.ID, 10), "the SSE id is the event's id")
	return e
}

// messages reads n feed events.
func (f *feedStream) messages(n int) []feed.Event {
	f.t.Helper()
	out := make([]feed.Event, n)
	for i := range out {
		out[i] = f.message()
	}
	return out
}

// ended waits for the stream to end, failing after a few seconds; it
// returns the events that came before the end.
func (f *feedStream) ended() []sseEvent {
	f.t.Helper()
	var got []sseEvent
	deadline := time.After(5 * time.Second)
	for {
		select {
		case ev, ok := <-f.events:
			if !ok {
				return got
			}
			if ev.Comment == "" && ev.Retry == "" {
				got = append(got, ev)
			}
		case <-deadline:
			f.t.Fatalf("the stream did not end; got %+v", got)
		}
	}
}

type feedPageJSON struct {
	Items     []feed.Event `json:"items"`
	NextAfter uint64       `json:"next_after"`
	Head      uint64       `json:"head"`
	History   string       `json:"history"`
	Reset     bool         `json:"reset"`
}

// feedPage reads GET /v1/feed/changes?query.
func (e *env) feedPage(token, query string) (feedPageJSON, []byte) {
	e.t.Helper()
	r := e.do(call{method: "GET", path: "/v1/feed/changes?" + query, token: token})
	require.Equal(e.t, http.StatusOK, r.status, "%s", r.body)
	assert.Equal(e.t, "no-store", r.header.Get("Cache-Control"))
	var p feedPageJSON
	r.json(e.t, &p)
	return p, r.body
}

// allEvents pages /v1/feed/changes from the start to the head.
func (e *env) allEvents(token, filter string) []feed.Event {
	e.t.Helper()
	var out []feed.Event
	after := uint64(0)
	for {
		p, _ := e.feedPage(token, fmt.Sprintf("after=%d&limit=1000&%s", after, filter))
		out = append(out, p.Items...)
		if p.NextAfter >= p.Head {
			return out
		}
		after = p.NextAfter
	}
}

func eventIDs(events []feed.Event) []uint64 {
	out := make([]uint64, len(events))
	for i, e := range events {
		out[i] = e.ID
	}
	return out
}

func eventTypes(events []feed.Event) []string {
	out := make([]string, len(events))
	for i, e := range events {
		out[i] = e.Type
	}
	return out
}

// Distinctive caller data that must never reach the feed.
const (
	feedCallerName  = "ZZCALLER-FEED"
	feedCallerPhone = "09127770011"
)

// intakeCaller is an intake with the distinctive caller, at office.
func intakeCaller(callID, office string, callTime time.Time) map[string]any {
	m := intake(callID, callTime)
	m["caller"] = map[string]string{"name": feedCallerName, "phone": feedCallerPhone}
	m["office_code"] = office
	return m
}

// createComplaint enters a complaint as the dispatcher and returns it.
func (e *env) createComplaint(disp string, body map[string]any) complaintJSON {
	e.t.Helper()
	r := e.do(newCall("POST", "/v1/complaints", disp, body))
	require.Equal(e.t, http.StatusCreated, r.status, "%s", r.body)
	var c complaintJSON
	r.json(e.t, &c)
	return c
}

// quickIntake enters a complaint straight into the store, for tests that
// need many.
func (e *env) quickIntake(i int, office string) {
	e.t.Helper()
	_, _, err := e.store.CreateComplaint(favsync.Actor{UserID: e.users["dispatcher"].ID},
		inspector.NewComplaint{CallID: fmt.Sprintf("Q-%d-%d", time.Now().UnixNano(), i), Category: inspector.CategoryAbsentEmployee,
			Description: "کارمند باجه در محل حاضر نیست", CallTime: e.clock.Now().Add(-time.Minute),
			Caller: inspector.Caller{Name: feedCallerName, Phone: feedCallerPhone}, OfficeCode: office, Priority: inspector.PriorityNormal})
	require.NoError(e.t, err)
}

// TestFeedDispatchDay: a dispatcher's feed receives intake, routing, the
// field inspector's check-in and finding pushed from a device, and the
// outcome, in order, once each, with the summary a board needs; the JSON
// pages give the same events.
func TestFeedDispatchDay(t *testing.T) {
	e := newEnv(t)
	disp := e.token("dispatcher")
	f := e.openFeed(disp, "", "")

	c := e.createComplaint(disp, intakeCaller("CALL-F1", "QZ-SSO-01", e.clock.Now().Add(-10*time.Minute)))
	r := e.do(newCall("POST", "/v1/complaints/"+c.ID+"/assign", disp, map[string]string{"inspector_id": e.users["field"].ID, "mode": "field"}))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	r.json(t, &c)

	field := e.login("field", "android-field-01").AccessToken
	now := e.clock.Now()
	visit, finding := v7(), v7()
	res := e.push(field,
		mutation(1, "visit.upsert", visit, 0, map[string]any{"office_code": "QZ-SSO-01", "complaint_ids": []string{c.ID},
			"check_in": map[string]any{"device_time": now.Format(time.RFC3339), "lat": 36.279, "lng": 50.004, "accuracy_m": 12}}, now),
		mutation(2, "finding.create", finding, 0, map[string]any{"visit_id": visit, "complaint_id": c.ID, "staff_expected": 6, "staff_present": 3,
			"absentees":         []map[string]string{{"name": "کارمند باجه ۳", "reason": "unexcused"}, {"name": "کارمند باجه ۵", "reason": "leave"}, {"name": "کارمند باجه ۶", "reason": "unexcused"}},
			"non_work_activity": []string{"استفاده از تلفن همراه"}, "clients_waiting": 14, "desks_open": 2, "observed_at": now.Format(time.RFC3339)}, now),
		mutation(3, "note.create", v7(), 0, map[string]any{"complaint_id": c.ID, "text": "یادداشت", "written_at": now.Format(time.RFC3339)}, now),
		mutation(4, "complaint.outcome", c.ID, c.Version, map[string]any{"outcome": "substantiated", "statement": "غیبت بدون مجوز تایید شد"}, now),
	)
	for _, r := range res.Results {
		require.Equal(t, "applied", r.Status, "%+v", r)
	}

	got := f.messages(5)
	assert.Equal(t, []string{feed.TypeComplaintCreated, feed.TypeComplaintRouted, feed.TypeVisitCheckIn, feed.TypeFindingRecorded, feed.TypeComplaintOutcome},
		eventTypes(got))
	for i, ev := range got {
		if i > 0 {
			assert.Greater(t, ev.ID, got[i-1].ID, "in order, once each")
		}
		assert.Equal(t, c.ID, ev.ComplaintID)
		assert.Equal(t, c.Number, ev.ComplaintNumber)
		assert.Equal(t, "QZ-SSO-01", ev.OfficeCode)
		assert.NotEmpty(t, ev.OfficeName)
		assert.Equal(t, "SSO", ev.AgencyCode)
		assert.Equal(t, "سازمان تامین اجتماعی", ev.AgencyName)
		assert.Equal(t, "قزوین", ev.Province)
		require.NotNil(t, ev.Actor)
	}
	assert.Equal(t, inspector.RoleDispatcher, got[0].Actor.Role)
	assert.Equal(t, &feed.Routing{Action: "assigned", InspectorID: e.users["field"].ID, Mode: inspector.ModeField}, got[1].Routing)
	assert.Equal(t, inspector.RoleInspector, got[2].Actor.Role)
	assert.Equal(t, "android-field-01", got[2].Device)
	assert.Equal(t, visit, got[2].Visit.VisitID)
	assert.Equal(t, []string{c.ID}, got[2].Visit.ComplaintIDs)
	assert.Equal(t, &feed.Attendance{FindingID: finding, VisitID: visit, ComplaintIDs: []string{c.ID}, StaffExpected: 6, StaffPresent: 3,
		Absentees: feed.AbsenceCounts{Leave: 1, Unexcused: 2}, NonWork: 1, ClientsWaiting: 14, DesksOpen: 2}, got[3].Finding)
	assert.Equal(t, inspector.OutcomeSubstantiated, got[4].Outcome)
	f.none(100 * time.Millisecond)

	page := e.allEvents(disp, "")
	assert.Equal(t, eventIDs(got), eventIDs(page), "the pages carry the same events")
	assert.Equal(t, eventTypes(got), eventTypes(page))
	for _, ev := range page {
		assert.Equal(t, inspector.StatusResolved, ev.Status, "the summary is the complaint as it stands when read")
	}
	assert.NotContains(t, f.raw.String(), "کارمند باجه ۳", "absentees are counted, never named")
}

// TestFeedVisitNamesEveryComplaint: one visit to an office covers two
// complaints; dispatch's feed says so on the check-in and on a finding that
// names no complaint of its own (before, only the first was named, and the
// board re-read only its row).
func TestFeedVisitNamesEveryComplaint(t *testing.T) {
	e := newEnv(t)
	disp := e.token("dispatcher")
	f := e.openFeed(disp, "", "")
	var ids []string
	for _, call := range []string{"CALL-FV1", "CALL-FV2"} {
		c := e.createComplaint(disp, intakeCaller(call, "QZ-SSO-01", e.clock.Now().Add(-10*time.Minute)))
		r := e.do(newCall("POST", "/v1/complaints/"+c.ID+"/assign", disp, map[string]string{"inspector_id": e.users["field"].ID, "mode": "field"}))
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		ids = append(ids, c.ID)
	}
	f.messages(4) // created and routed, twice

	field := e.login("field", "android-field-01").AccessToken
	now := e.clock.Now()
	visit := v7()
	res := e.push(field,
		mutation(1, "visit.upsert", visit, 0, map[string]any{"office_code": "QZ-SSO-01", "complaint_ids": ids,
			"check_in": map[string]any{"device_time": now.Format(time.RFC3339), "lat": 36.279, "lng": 50.004, "accuracy_m": 12}}, now),
		mutation(2, "finding.create", v7(), 0, map[string]any{"visit_id": visit, "staff_expected": 6, "staff_present": 6,
			"clients_waiting": 0, "desks_open": 4, "observed_at": now.Format(time.RFC3339)}, now),
	)
	for _, r := range res.Results {
		require.Equal(t, "applied", r.Status, "%+v", r)
	}
	got := f.messages(2)
	require.Equal(t, []string{feed.TypeVisitCheckIn, feed.TypeFindingRecorded}, eventTypes(got))
	assert.Equal(t, ids[0], got[0].ComplaintID)
	assert.Equal(t, ids, got[0].Visit.ComplaintIDs)
	assert.Equal(t, ids, got[1].Finding.ComplaintIDs)
	page := e.allEvents(disp, "") // the JSON pages, checked against the spec
	require.Len(t, page, 6)
	assert.Equal(t, ids, page[4].Visit.ComplaintIDs)
}

// TestFeedReferralLoopAndBreaches: dispatch watches a referral acknowledged,
// answered and closed, and the SLA watch's breaches of a complaint's own due
// time and of a referral left unanswered.
func TestFeedReferralLoopAndBreaches(t *testing.T) {
	e := newEnv(t)
	disp, office := e.token("dispatcher"), e.token("office")
	f := e.openFeed(disp, "", "")
	do := func(path, token string, body any) {
		t.Helper()
		r := e.do(newCall("POST", path, token, body))
		require.Equal(t, http.StatusOK, r.status, "%s: %s", path, r.body)
	}

	answered := e.createComplaint(disp, intakeCaller("CALL-FR1", "QZ-SSO-01", e.clock.Now()))
	do("/v1/complaints/"+answered.ID+"/refer", disp, map[string]string{"note": "به شعبه ارجاع شد"})
	do("/v1/complaints/"+answered.ID+"/referral/acknowledge", office, nil)
	do("/v1/complaints/"+answered.ID+"/referral/answer", office, map[string]string{"action": "corrected", "text": "کارمند به باجه برگشت"})
	do("/v1/complaints/"+answered.ID+"/close", disp, map[string]string{"outcome": "substantiated", "statement": "پاسخ پذیرفته شد"})
	got := f.messages(5)
	assert.Equal(t, []string{feed.TypeComplaintCreated, feed.TypeComplaintRouted, feed.TypeReferralAcknowledged, feed.TypeReferralAnswered, feed.TypeComplaintClosed},
		eventTypes(got))
	assert.Equal(t, "referred", got[1].Routing.Action)
	require.NotNil(t, got[1].Routing.DueAt)
	assert.Equal(t, inspector.RoleOffice, got[2].Actor.Role)
	assert.Equal(t, "corrected", got[3].Referral.Action)
	assert.Equal(t, inspector.OutcomeSubstantiated, got[4].Outcome)

	late := e.createComplaint(disp, intakeCaller("CALL-FR2", "QZ-SSO-01", e.clock.Now())) // urgent: due in an hour
	unanswered := e.createComplaint(disp, intakeCaller("CALL-FR3", "QZ-SSO-01", e.clock.Now()))
	do("/v1/complaints/"+unanswered.ID+"/refer", disp, map[string]string{})
	f.messages(3)
	e.clock.Advance(100 * time.Hour)
	_, err := e.store.BreachDue(e.clock.Now(), 500)
	require.NoError(t, err)
	breaches := map[string]*feed.SLABreach{}
	for _, ev := range f.messages(2) {
		require.Equal(t, feed.TypeSLABreached, ev.Type)
		assert.Equal(t, &feed.Actor{ID: "system"}, ev.Actor)
		breaches[ev.ComplaintID] = ev.SLA
	}
	require.Contains(t, breaches, late.ID)
	assert.Equal(t, "complaint", breaches[late.ID].Kind)
	require.Contains(t, breaches, unanswered.ID)
	assert.Equal(t, "referral", breaches[unanswered.ID].Kind)
	f.none(50 * time.Millisecond)
}

// TestFeedExactlyOnceAcrossReconnect cuts a stream mid-way while writes go
// on, reconnects with Last-Event-ID, and finds every event exactly once.
func TestFeedExactlyOnceAcrossReconnect(t *testing.T) {
	e := newEnv(t)
	disp := e.token("dispatcher")
	start, err := e.store.Stats()
	require.NoError(t, err)
	first := e.openFeed(disp, "", "")
	for i := range 10 {
		e.quickIntake(i, "QZ-SSO-01")
	}
	var got []uint64
	for _, ev := range first.messages(3) {
		got = append(got, ev.ID)
	}
	first.close() // mid-stream: seven more were on their way

	// Writes go on while the client is away and while it reconnects.
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 40 {
			e.quickIntake(100+i, "TK-SSO-01")
		}
	}()
	second := e.openFeed(disp, "", strconv.FormatUint(got[len(got)-1], 10))
	<-done
	for len(got) < 50 {
		got = append(got, second.message().ID)
	}
	second.none(100 * time.Millisecond)

	var want []uint64
	for _, ev := range e.allEvents(disp, "") {
		if ev.ID > start.Seq {
			want = append(want, ev.ID)
		}
	}
	assert.Len(t, want, 50)
	assert.Equal(t, want, got, "every event once, in order, across the reconnect")
}

// TestFeedLastEventIDQuery: the query parameter resumes like the header,
// for EventSource polyfills that cannot set headers.
func TestFeedLastEventIDQuery(t *testing.T) {
	e := newEnv(t)
	disp := e.token("dispatcher")
	e.quickIntake(1, "QZ-SSO-01")
	e.quickIntake(2, "QZ-SSO-01")
	events := e.allEvents(disp, "")
	require.Len(t, events, 2)
	f := e.openFeed(disp, "last_event_id="+strconv.FormatUint(events[0].ID, 10), "")
	assert.Equal(t, events[1].ID, f.message().ID)
	f.none(50 * time.Millisecond)

	r := e.do(call{method: "GET", path: "/v1/feed", token: disp, header: http.Header{"Last-Event-ID": {"soon"}}, invalidRequest: true})
	require.Equal(t, http.StatusUnprocessableEntity, r.status)
	assert.Equal(t, "Last-Event-ID", r.problem(t).Errors[0].Field)
}

// TestFeedSlowSubscriberDropped: a client that never reads is dropped
// with a resume hint once its buffer fills, while another gets every event
// and the writes go through.
func TestFeedSlowSubscriberDropped(t *testing.T) {
	var broker *feed.Broker
	e := newEnv(t, func(c *server.Config) {
		broker = feed.NewBroker(c.Store, feed.Options{Buffer: 32})
		c.Feed = broker
	})
	disp := e.token("dispatcher")
	fast := e.openFeed(disp, "", "")

	// The slow client: a raw connection with small socket buffers on both
	// ends that reads nothing, so that the server's writes block once they
	// fill, and events pile up in its feed. It reaches the same server
	// through a listener of its own, which shrinks the server's side.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	slowSrv := httptest.NewUnstartedServer(e.srv)
	slowSrv.Listener = smallBuffers{ln}
	slowSrv.Start()
	t.Cleanup(slowSrv.Close)
	conn, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	require.NoError(t, conn.(*net.TCPConn).SetReadBuffer(4096))
	fmt.Fprintf(conn, "GET /v1/feed HTTP/1.1\r\nHost: feed\r\nAuthorization: Bearer %s\r\nAccept: text/event-stream\r\n\r\n", disp)
	require.Eventually(t, func() bool { return broker.Stats().Open == 2 }, 5*time.Second, time.Millisecond)

	var fastGot []uint64
	for i := 0; broker.Stats().Dropped == 0; i++ {
		require.Less(t, i, 5000, "the slow client was never dropped")
		e.quickIntake(i, "QZ-SSO-01")
		fastGot = append(fastGot, fast.message().ID)
	}

	// Now read what the slow client was sent: events, then "dropped" with
	// the last of them, then the end.
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err, "the stream ends after the drop")
	blocks := strings.Split(strings.TrimSpace(string(body)), "\n\n")
	last := blocks[len(blocks)-1]
	lastID := uint64(0)
	for _, b := range blocks[:len(blocks)-1] {
		if id, ok := strings.CutPrefix(strings.SplitN(b, "\n", 2)[0], "id: "); ok {
			lastID, err = strconv.ParseUint(id, 10, 64)
			require.NoError(t, err)
		}
	}
	assert.Equal(t, fmt.Sprintf("id: %d\nevent: dropped\ndata: {\"resume_after\":%d}", lastID, lastID), last)
	assert.Less(t, lastID, fastGot[len(fastGot)-1], "the slow client fell behind")

	// The fast client got every event, and keeps getting them.
	all := eventIDs(e.allEvents(disp, ""))
	assert.Equal(t, all, fastGot)
	e.quickIntake(-1, "QZ-SSO-01")
	assert.Greater(t, fast.message().ID, fastGot[len(fastGot)-1])
	assert.Equal(t, 1, broker.Stats().Dropped)

	r := e.do(call{method: "GET", path: "/metrics"})
	assert.Contains(t, string(r.body), "favad_feed_dropped_total 1")
	assert.Contains(t, string(r.body), "favad_feed_open 1")
}

// smallBuffers is a listener whose connections have small send buffers.
type smallBuffers struct{ net.Listener }

func (l smallBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		err = tc.SetWriteBuffer(4096)
	}
	return c, err
}

func TestFeedFilters(t *testing.T) {
	e := newEnv(t)
	disp := e.token("dispatcher")
	f := e.openFeed(disp, "office=tk-sso-01&types=complaint.created,complaint.routed", "")
	byAgency := e.openFeed(disp, "agency=SSO&province=قزوين&types=complaint.created", "") // Arabic yeh: still Qazvin
	elsewhere := e.openFeed(disp, "agency=TAMIN", "")

	qz := e.createComplaint(disp, intakeCaller("CALL-FQ", "QZ-SSO-01", e.clock.Now()))
	tk := e.createComplaint(disp, intakeCaller("CALL-FT", "TK-SSO-01", e.clock.Now()))
	for _, c := range []complaintJSON{qz, tk} {
		r := e.do(newCall("POST", "/v1/complaints/"+c.ID+"/withdraw", disp, map[string]string{"reason": "تکراری"}))
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	}

	ev := f.message()
	assert.Equal(t, tk.ID, ev.ComplaintID)
	assert.Equal(t, feed.TypeComplaintCreated, ev.Type)
	f.none(100 * time.Millisecond)

	assert.Equal(t, []string{qz.ID, tk.ID}, []string{byAgency.message().ComplaintID, byAgency.message().ComplaintID})
	byAgency.none(50 * time.Millisecond)
	elsewhere.none(50 * time.Millisecond)

	page := e.allEvents(disp, "office=TK-SSO-01")
	assert.Equal(t, []string{feed.TypeComplaintCreated, feed.TypeComplaintWithdrawn}, eventTypes(page))

	for _, path := range []string{"/v1/feed?types=complaint.created,complaint.eaten", "/v1/feed/changes?types=visit.teleported"} {
		r := e.do(call{method: "GET", path: path, token: disp, invalidRequest: true})
		require.Equal(t, http.StatusUnprocessableEntity, r.status, "%s", r.body)
		p := r.problem(t)
		require.Len(t, p.Errors, 1)
		assert.Equal(t, "types", p.Errors[0].Field)
	}
}

// TestFeedResetAboveHead: a cursor above the log's head (the store was
// restored from an older backup) gets "reset" with the head, then live
// events from there.
func TestFeedResetAboveHead(t *testing.T) {
	e := newEnv(t)
	disp := e.token("dispatcher")
	e.quickIntake(1, "QZ-SSO-01")
	st, err := e.store.Stats()
	require.NoError(t, err)
	f := e.openFeed(disp, "", strconv.FormatUint(st.Seq+1000, 10))
	ev := f.next(5 * time.Second)
	assert.Equal(t, "reset", ev.Event)
	assert.Equal(t, strconv.FormatUint(st.Seq, 10), ev.ID)
	assert.JSONEq(t, fmt.Sprintf(`{"head":%d}`, st.Seq), ev.Data)
	e.quickIntake(2, "QZ-SSO-01")
	got := f.message()
	assert.Greater(t, got.ID, st.Seq)
	assert.Equal(t, feed.TypeComplaintCreated, got.Type)

	p, _ := e.feedPage(disp, fmt.Sprintf("after=%d", st.Seq+1000))
	assert.True(t, p.Reset)
	assert.Empty(t, p.Items)
	assert.Equal(t, p.Head, p.NextAfter)
}

// TestFeedResetInAnotherHistory: a cursor below the head but from another
// history (the store was restored from a backup and has gone on past the
// cursor with other changes) gets "reset", on the stream and on the page; a
// cursor of this history resumes.
func TestFeedResetInAnotherHistory(t *testing.T) {
	e := newEnv(t)
	disp := e.token("dispatcher")
	e.quickIntake(1, "QZ-SSO-01")
	e.quickIntake(2, "QZ-SSO-01")
	p, _ := e.feedPage(disp, "")
	require.NotEmpty(t, p.History)
	assert.Equal(t, e.store.HistoryID(), p.History)

	f := e.openFeed(disp, "history=another-history", "1")
	ev := f.next(5 * time.Second)
	assert.Equal(t, "reset", ev.Event, "a cursor of another history")
	assert.Equal(t, strconv.FormatUint(p.Head, 10), ev.ID)
	q, _ := e.feedPage(disp, "after=1&history=another-history")
	assert.True(t, q.Reset)
	assert.Equal(t, q.Head, q.NextAfter)

	require.GreaterOrEqual(t, len(p.Items), 2)
	cursor, next := p.Items[len(p.Items)-2].ID, p.Items[len(p.Items)-1].ID
	f = e.openFeed(disp, "history="+p.History, strconv.FormatUint(cursor, 10))
	got := f.message()
	assert.Equal(t, next, got.ID, "a cursor of this history resumes")
	q, _ = e.feedPage(disp, fmt.Sprintf("after=%d&history=%s", cursor, p.History))
	assert.False(t, q.Reset)
	require.Len(t, q.Items, 1)
	assert.Equal(t, next, q.Items[0].ID)
}

// TestFeedBoundPerUser: a fifth open feed of one user is refused.
func TestFeedBoundPerUser(t *testing.T) {
	e := newEnv(t)
	disp := e.token("dispatcher")
	var feeds []*feedStream
	for range feed.DefaultPerUser {
		feeds = append(feeds, e.openFeed(disp, "", ""))
	}
	r := e.do(call{method: "GET", path: "/v1/feed", token: disp})
	require.Equal(t, http.StatusTooManyRequests, r.status)
	assert.Equal(t, inspector.CodeRateLimited, r.problem(t).Code)
	assert.Equal(t, "30", r.header.Get("Retry-After"))

	sup := e.openFeed(e.token("supervisor"), "", "") // another user has their own bound
	sup.none(10 * time.Millisecond)

	feeds[0].close()
	require.Eventually(t, func() bool { return tryFeed(e, disp) }, 5*time.Second, 10*time.Millisecond, "a closed feed frees its place")
}

// tryFeed reports whether a feed opens (and closes it at once).
func tryFeed(e *env, token string) bool {
	req, err := http.NewRequest(http.MethodGet, e.ts.URL+"/v1/feed", nil)
	require.NoError(e.t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	resp, err := e.ts.Client().Do(req.WithContext(ctx))
	require.NoError(e.t, err)
	defer resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// TestFeedEndsOnSignOut: the session is checked before each write and on
// each heartbeat.
func TestFeedEndsOnSignOut(t *testing.T) {
	t.Run("before a write", func(t *testing.T) {
		e := newEnv(t, func(c *server.Config) { c.FeedHeartbeat = time.Hour })
		disp := e.token("dispatcher")
		other := e.login("dispatcher", "browser-other").AccessToken // a session on another browser, which stays
		f := e.openFeed(disp, "", "")
		r := e.do(call{method: "POST", path: "/v1/auth/logout", token: disp})
		require.Equal(t, http.StatusNoContent, r.status)
		e.createComplaint(other, intakeCaller("CALL-SO", "QZ-SSO-01", e.clock.Now()))
		assert.Empty(t, f.ended(), "nothing is written to a signed-out session")
	})
	t.Run("on a heartbeat", func(t *testing.T) {
		e := newEnv(t, func(c *server.Config) { c.FeedHeartbeat = 20 * time.Millisecond })
		disp := e.token("dispatcher")
		f := e.openFeed(disp, "", "")
		r := e.do(call{method: "POST", path: "/v1/users/" + e.users["dispatcher"].ID + "/disable", token: e.token("admin")})
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		assert.Empty(t, f.ended())
		assert.Contains(t, f.raw.String(), ": keep-alive")
	})
}

// TestFeedEndsOnDrain: a shutting-down server ends its feeds.
func TestFeedEndsOnDrain(t *testing.T) {
	e := newEnv(t)
	disp := e.token("dispatcher")
	f := e.openFeed(disp, "", "")
	e.srv.Drain()
	f.ended()
}

func TestFeedRoles(t *testing.T) {
	e := newEnv(t)
	for _, path := range []string{"/v1/feed", "/v1/feed/changes"} {
		for _, who := range []string{"field", "phone", "office"} {
			r := e.do(call{method: "GET", path: path, token: e.token(who)})
			require.Equal(t, http.StatusForbidden, r.status, "%s %s", who, path)
			assert.Equal(t, inspector.CodeForbidden, r.problem(t).Code)
		}
		r := e.do(call{method: "GET", path: path})
		require.Equal(t, http.StatusUnauthorized, r.status)
	}
	for _, who := range []string{"supervisor", "admin"} {
		e.openFeed(e.token(who), "", "").none(10 * time.Millisecond)
		e.feedPage(e.token(who), "")
	}
}

// TestFeedNoCallerData: dispatchers see the caller on complaints, never in
// the feed: neither the stream's bytes nor the pages carry the caller's
// name or phone, the call id, the tracking code or the description.
func TestFeedNoCallerData(t *testing.T) {
	e := newEnv(t)
	disp := e.token("dispatcher")
	f := e.openFeed(disp, "", "")
	c := e.createComplaint(disp, intakeCaller("CALL-ZZ-SECRET-9", "QZ-SSO-01", e.clock.Now()))
	var full map[string]any
	e.do(newCall("GET", "/v1/complaints/"+c.ID, disp, nil)).json(t, &full)
	require.Equal(t, feedCallerName, full["caller"].(map[string]any)["name"], "the dispatcher does see the caller on the complaint")
	secrets := []string{feedCallerName, feedCallerPhone, "CALL-ZZ-SECRET-9", full["description"].(string)}
	if code, ok := full["tracking_code"].(string); ok && code != "" {
		secrets = append(secrets, code)
	}
	r := e.do(newCall("POST", "/v1/complaints/"+c.ID+"/refer", disp, map[string]string{"note": "تماس گیرنده " + feedCallerName}))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	f.messages(2)
	e.quickIntake(1, "TK-SSO-01")
	f.message()

	_, page := e.feedPage(disp, "after=0")
	for _, s := range secrets {
		assert.NotContains(t, f.raw.String(), s)
		assert.NotContains(t, string(page), s)
	}
}

func TestFeedChangesPaging(t *testing.T) {
	e := newEnv(t)
	disp := e.token("dispatcher")
	for i := range 7 {
		e.quickIntake(i, "QZ-SSO-01")
	}
	all := e.allEvents(disp, "")
	require.Len(t, all, 7)

	var paged []feed.Event
	after := uint64(0)
	for range 10 {
		p, _ := e.feedPage(disp, fmt.Sprintf("after=%d&limit=3", after))
		assert.LessOrEqual(t, len(p.Items), 3)
		paged = append(paged, p.Items...)
		if len(p.Items) > 0 {
			assert.Equal(t, p.Items[len(p.Items)-1].ID, p.NextAfter, "a full page ends at its last event")
		}
		after = p.NextAfter
		if after == p.Head {
			break
		}
	}
	assert.Equal(t, all, paged)

	p, _ := e.feedPage(disp, fmt.Sprintf("after=%d", all[6].ID))
	assert.Empty(t, p.Items)
	assert.NotNil(t, p.Items, "an empty page is [], not null")
	assert.Equal(t, p.Head, p.NextAfter)

	p, _ = e.feedPage(disp, "types=complaint.outcome")
	assert.Empty(t, p.Items)
	assert.Equal(t, p.Head, p.NextAfter, "the cursor passes what does not match")

	for _, tc := range []struct{ query, field string }{
		{"after=soon", "after"}, {"after=-1", "after"}, {"limit=0", "limit"}, {"limit=1001", "limit"}, {"limit=x", "limit"},
	} {
		r := e.do(call{method: "GET", path: "/v1/feed/changes?" + tc.query, token: disp, invalidRequest: true})
		require.Equal(t, http.StatusUnprocessableEntity, r.status, "%s: %s", tc.query, r.body)
		assert.Equal(t, tc.field, r.problem(t).Errors[0].Field, tc.query)
	}
	r := e.do(call{method: "GET", path: "/v1/feed/changes?limit=۲", token: disp, invalidRequest: true})
	require.Equal(t, http.StatusOK, r.status, "Persian digits are digits: %s", r.body)
	r.json(t, &p)
	assert.Len(t, p.Items, 2)
}
