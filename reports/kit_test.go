package reports

import (
	"errors"
	stdsync "sync"
	"time"

	"github.com/favad/favad/inspector"
	favsync "github.com/favad/favad/sync"
)

// feed builds the change log a store would write, as ChangeViews whose
// records are the CURRENT state (shared pointers, changed by later
// entries), exactly as ReadChanges shows them to a reader that is behind.
type feed struct {
	seq        uint64
	views      []favsync.ChangeView
	complaints map[string]*inspector.Complaint
	offices    map[string]*inspector.Office
	visits     map[string]*inspector.Visit
}

func newFeed() *feed {
	return &feed{complaints: map[string]*inspector.Complaint{}, offices: map[string]*inspector.Office{}, visits: map[string]*inspector.Visit{}}
}

func (f *feed) add(cv favsync.ChangeView) *favsync.ChangeView {
	f.seq++
	cv.Seq = f.seq
	cv.At = cv.At.UTC()
	if cv.Complaint != nil {
		cv.ComplaintID = cv.Complaint.ID
		if cv.Office == nil {
			cv.Office = f.offices[cv.Complaint.OfficeCode]
		}
	}
	if cv.Visit != nil && cv.Office == nil {
		cv.Office = f.offices[cv.Visit.OfficeCode]
	}
	f.views = append(f.views, cv)
	return &f.views[len(f.views)-1]
}

func (f *feed) office(code, agency, province string) {
	o := &inspector.Office{Code: code, AgencyCode: agency, Province: province, NameFa: "شعبه " + code}
	f.offices[code] = o
	f.add(favsync.ChangeView{Change: favsync.Change{Kind: favsync.KindOffice, ID: code, Action: favsync.ActionCreated, Actor: "system", At: t0}, Office: o})
}

// complaint is intake: created, with its due time by priority (default SLA).
func (f *feed) complaint(id, office string, cat inspector.Category, p inspector.Priority, call, at time.Time) {
	o := f.offices[office]
	c := &inspector.Complaint{ID: id, Number: uint64(len(f.complaints) + 1), CallID: "CALL-" + id, Category: cat, CallTime: call.UTC(),
		Caller: &inspector.Caller{Name: "شهروند نمونه", Phone: "09120000000"}, OfficeCode: office, AgencyCode: o.AgencyCode,
		Priority: p, DueAt: inspector.DefaultSLA().DueAt(p, call).UTC(), Status: inspector.StatusReceived}
	f.complaints[id] = c
	f.add(favsync.ChangeView{Change: favsync.Change{Kind: favsync.KindComplaint, ID: id, Action: favsync.ActionCreated, Actor: "disp", At: at,
		Data: map[string]string{"to": "received", "office": office, "agency": o.AgencyCode, "category": string(cat), "priority": string(p)}}, Complaint: c})
}

// route is a complaint change by dispatch (or the system): from the
// complaint's status to `to`, with data.
func (f *feed) route(id, action, actor string, to inspector.Status, at time.Time, data map[string]string) {
	c := f.complaints[id]
	d := map[string]string{}
	for k, v := range data {
		d[k] = v
	}
	if to != "" {
		d["from"], d["to"] = string(c.Status), string(to)
		c.Status = to
	}
	f.add(favsync.ChangeView{Change: favsync.Change{Kind: favsync.KindComplaint, ID: id, Action: action, Actor: actor, At: at, Data: d}, Complaint: c})
}

func (f *feed) assign(id, insp string, mode inspector.Mode, at time.Time) {
	c := f.complaints[id]
	action, data := favsync.ActionAssigned, map[string]string{"inspector": insp, "mode": string(mode)}
	if c.Assignment != nil {
		action, data["previous_inspector"] = favsync.ActionReassigned, c.Assignment.InspectorID
	}
	c.Assignment = &inspector.Assignment{InspectorID: insp, Mode: mode, AssignedAt: at}
	f.route(id, action, "disp", inspector.StatusAssigned, at, data)
}

// outcome is the device's complaint.outcome, recorded at device time dev.
func (f *feed) outcome(id, insp string, v inspector.OutcomeValue, dev, at time.Time) {
	c := f.complaints[id]
	c.Outcome = &inspector.Outcome{Value: v, InspectorID: insp, RecordedAt: dev.UTC(), Statement: "گزارش"}
	d := map[string]string{"from": string(c.Status), "to": string(v.Status()), "outcome": string(v), "device_time": dev.UTC().Format(time.RFC3339), "mutation": "m", "device_seq": "1"}
	c.Status = v.Status()
	f.add(favsync.ChangeView{Change: favsync.Change{Kind: favsync.KindComplaint, ID: id, Action: "outcome", Actor: insp, Device: "dev-" + insp, At: at, Data: d}, Complaint: c})
}

// visit writes visit fields from a device; created the first time.
func (f *feed) visit(id, insp, office string, complaints []string, checkIn *time.Time, fields string, at time.Time) {
	v, ok := f.visits[id]
	action := favsync.ActionUpdated
	if !ok {
		v = &inspector.Visit{ID: id, InspectorID: insp, OfficeCode: office, ComplaintIDs: []string{}, CreatedAt: at}
		f.visits[id] = v
		action = favsync.ActionCreated
	}
	if complaints != nil {
		v.ComplaintIDs = complaints
	}
	if checkIn != nil {
		v.CheckIn = &inspector.GeoStamp{DeviceTime: checkIn.UTC(), Lat: 36.2, Lng: 50}
	}
	cv := favsync.ChangeView{Change: favsync.Change{Kind: favsync.KindVisit, ID: id, Action: action, Actor: insp, Device: "dev-" + insp, At: at,
		Data: map[string]string{"fields": fields}}, Visit: v}
	if len(v.ComplaintIDs) > 0 {
		cv.Complaint = f.complaints[v.ComplaintIDs[0]]
	}
	f.add(cv)
}

func (f *feed) finding(id, visit, complaint string, fd inspector.Finding, at time.Time) {
	v := f.visits[visit]
	fd.ID, fd.VisitID, fd.ComplaintID, fd.InspectorID = id, visit, complaint, v.InspectorID
	cv := favsync.ChangeView{Change: favsync.Change{Kind: favsync.KindFinding, ID: id, Action: favsync.ActionCreated, Actor: v.InspectorID, At: at,
		Data: map[string]string{"mutation": "m"}}, Visit: v, Finding: &fd}
	if complaint != "" {
		cv.Complaint = f.complaints[complaint]
	}
	f.add(cv)
}

func (f *feed) call(id, complaint, insp string, started, at time.Time) {
	c := &inspector.CallRecord{ID: id, ComplaintID: complaint, InspectorID: insp, CalleeName: "مدیر شعبه", Number: "02833000101",
		StartedAt: started.UTC(), DurationS: 120, Outcome: inspector.CallReached}
	f.add(favsync.ChangeView{Change: favsync.Change{Kind: favsync.KindCall, ID: id, Action: favsync.ActionCreated, Actor: insp, At: at}, Call: c, Complaint: f.complaints[complaint]})
}

// other is a change the reports ignore.
func (f *feed) other(kind, id, action string, at time.Time) {
	f.add(favsync.ChangeView{Change: favsync.Change{Kind: kind, ID: id, Action: action, Actor: "system", At: at, Data: map[string]string{"x": "y"}}})
}

// memStore is an in-memory Store over a feed, for the worker's tests.
type memStore struct {
	mu      stdsync.Mutex
	views   []favsync.ChangeView
	changed chan struct{}
	fail    error
	reads   int
}

func newMemStore(views []favsync.ChangeView) *memStore {
	return &memStore{views: views, changed: make(chan struct{})}
}

func (m *memStore) ReadChanges(after uint64, limit int) ([]favsync.ChangeView, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.reads++
	if m.fail != nil {
		return nil, m.fail
	}
	var out []favsync.ChangeView
	for _, v := range m.views {
		if v.Seq > after && len(out) < limit {
			out = append(out, v)
		}
	}
	return out, nil
}

func (m *memStore) Changed() <-chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.changed
}

func (m *memStore) Stats() (favsync.Stats, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var head uint64
	if n := len(m.views); n > 0 {
		head = m.views[n-1].Seq
	}
	return favsync.Stats{Seq: head}, nil
}

// append adds views and signals, like a commit.
func (m *memStore) append(views ...favsync.ChangeView) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.views = append(m.views, views...)
	close(m.changed)
	m.changed = make(chan struct{})
}

var errBroken = errors.New("broken store")

// newAgg makes an aggregator over views with the clock at now, caught up.
func newAgg(t interface {
	Helper()
	Fatal(...any)
}, views []favsync.ChangeView, now time.Time) *Aggregator {
	t.Helper()
	a, err := New(Config{Store: newMemStore(views), Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.CatchUp(); err != nil {
		t.Fatal(err)
	}
	return a
}

// t0 is 2026-05-10 09:00 in Iran (20 Ordibehesht 1405).
var t0 = time.Date(2026, 5, 10, 9, 0, 0, 0, inspector.IranTime)

func ptr[T any](v T) *T { return &v }
